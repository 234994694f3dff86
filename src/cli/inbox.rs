//! `inbox` commands: the panel mailbox's settings, reading it, and the
//! Inbox of messages that matched nothing.

use super::{Error, print_json};
use clap::{Args, Subcommand};
use panelkeeper::Panel;
use panelkeeper::inbox::settings::{self, AfterReading, InboxInput};
use panelkeeper::inbox::{self, FetchReport, FileTo, InboxMessage, InboxState};
use panelkeeper::issues::IssueId;
use panelkeeper::mail::settings::TlsMode;
use panelkeeper::participants;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Subcommand)]
pub enum InboxCmd {
    /// Save the panel mailbox (IMAP) that replies are read from.
    Set(InboxSet),
    /// Show the mailbox settings (never the password).
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Read the mail that arrived since the last time and file it.
    Fetch {
        /// Keep reading as mail arrives (IMAP IDLE, or every minute) until Ctrl-C.
        #[arg(long)]
        watch: bool,
        #[arg(long)]
        json: bool,
    },
    /// The messages that matched nothing, waiting for a person (newest first).
    List {
        /// unfiled (default), filed or dismissed.
        #[arg(long, default_value = "unfiled", value_parser = state)]
        state: InboxState,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// One message, whole.
    Read {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// File a message with an issue (as its participant's reply) or a participant.
    File {
        id: i64,
        #[arg(
            long,
            conflicts_with = "participant",
            required_unless_present = "participant"
        )]
        issue: Option<i64>,
        /// The participant's id or email.
        #[arg(long)]
        participant: Option<String>,
    },
    /// Put a message aside: it leaves the Inbox, kept.
    Dismiss { id: i64 },
}

fn state(s: &str) -> Result<InboxState, String> {
    match s {
        "unfiled" => Ok(InboxState::Unfiled),
        "filed" => Ok(InboxState::Filed),
        "dismissed" => Ok(InboxState::Dismissed),
        _ => Err("must be unfiled, filed or dismissed".into()),
    }
}

#[derive(Args)]
pub struct InboxSet {
    #[arg(long)]
    host: String,
    #[arg(long)]
    port: u16,
    /// none, starttls or tls (implicit TLS, usually port 993).
    #[arg(long, value_parser = |s: &str| s.parse::<TlsMode>().map_err(|e| e.to_string()))]
    tls: TlsMode,
    /// Log in as this user.
    #[arg(long)]
    user: String,
    /// Read the password from standard input (it is stored sealed, never shown).
    #[arg(long)]
    password_stdin: bool,
    /// The folder read (INBOX).
    #[arg(long)]
    folder: Option<String>,
    /// Move each message read into this folder, instead of flagging it
    /// where it is. Nothing is ever deleted.
    #[arg(long)]
    move_to: Option<String>,
    /// Trust this certificate authority (a PEM file) instead of the system's.
    #[arg(long)]
    ca_file: Option<std::path::PathBuf>,
    /// The mailbox's own address: owners' messages to participants add it
    /// as a second Reply-To, so answers come back into the record.
    #[arg(long)]
    address: Option<String>,
    /// The server delivers name+tag@ to name@: replies about an issue go
    /// to a plus address that names it.
    #[arg(long, requires = "address")]
    plus_addressing: bool,
}

pub async fn inbox(panel: &Panel, cmd: InboxCmd) -> Result<ExitCode, Error> {
    match cmd {
        InboxCmd::Set(a) => {
            let password = super::mail_cli::password_change(a.password_stdin)?;
            let ca_certificate = super::mail_cli::ca_file(a.ca_file.as_deref())?;
            let saved = settings::set(
                panel,
                InboxInput {
                    host: a.host,
                    port: a.port,
                    tls: a.tls,
                    user: a.user,
                    password,
                    folder: a.folder,
                    after_reading: Some(match a.move_to {
                        Some(to) => AfterReading::Move(to),
                        None => AfterReading::Flag,
                    }),
                    ca_certificate,
                    address: a.address,
                    plus_addressing: a.plus_addressing,
                },
            )
            .await?;
            print_settings(&saved);
        }
        InboxCmd::Show { json } => match settings::get(panel).await? {
            Some(s) if json => print_json(&s),
            Some(s) => print_settings(&s),
            None if json => print_json(&serde_json::Value::Null),
            None => out!(
                "the panel mailbox is not set up (inbox set --host ... --port ... --tls ... --user ...)"
            ),
        },
        InboxCmd::Fetch { watch: false, json } => {
            let report = inbox::fetch(panel).await?;
            if json {
                print_json(&report);
            } else {
                print_report(&report);
            }
        }
        InboxCmd::Fetch { watch: true, json } => {
            if settings::get(panel).await?.is_none() {
                return Err(Error::Conflict {
                    reason: "the panel mailbox is not set up (inbox set --host ... --port ... --tls ... --user ...)"
                        .into(),
                });
            }
            let stop = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            inbox::watch(panel, Duration::from_secs(60), stop, |round| match round {
                Ok(report) if json => print_json(report),
                Ok(report) if report.read > 0 => print_report(report),
                Ok(_) => {}
                Err(e) => eprintln!("error: {e}; trying again"),
            })
            .await;
        }
        InboxCmd::List { state, limit, json } => {
            let messages = inbox::list(panel, state, Some(limit)).await?;
            if json {
                print_json(&messages);
            } else if messages.is_empty() {
                out!("no {} messages", state.as_str());
            } else {
                for m in &messages {
                    print_line(m);
                }
            }
        }
        InboxCmd::Read { id, json } => {
            let m = inbox::get(panel, id).await?;
            if json {
                print_json(&m);
            } else {
                print_line(&m);
                out!("{}", m.outcome);
                out!("");
                out!("{}", m.reply);
                if m.original.trim() != m.reply.trim() {
                    out!("");
                    out!("--- as sent ---");
                    out!("{}", m.original);
                }
            }
        }
        InboxCmd::File {
            id,
            issue,
            participant,
        } => {
            let to = match (issue, participant) {
                (Some(n), _) => FileTo::Issue(IssueId(n)),
                (None, Some(key)) => FileTo::Participant(participants::find(panel, &key).await?),
                (None, None) => unreachable!("clap requires one"),
            };
            let m = inbox::file(panel, id, to).await?;
            out!("message {}: {}", m.id, m.outcome);
        }
        InboxCmd::Dismiss { id } => {
            let m = inbox::dismiss(panel, id).await?;
            out!("message {} put aside", m.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_settings(s: &settings::InboxSettings) {
    out!("server:   {}:{} (TLS: {})", s.host, s.port, s.tls);
    out!(
        "login:    {} ({})",
        s.user,
        if s.has_password {
            "password saved"
        } else {
            "no password saved"
        }
    );
    out!("folder:   {}", s.folder);
    match &s.address {
        Some(a) if s.plus_addressing => {
            out!("address:  {a} (replies about issue 42 to a +i42-… address)")
        }
        Some(a) => out!("address:  {a} (added to owners' messages as a second Reply-To)"),
        None => out!("address:  none (replies reach owners only)"),
    }
    match &s.after_reading {
        AfterReading::Flag => {
            out!("read mail: left in place, marked seen and flagged $Panelkeeper")
        }
        AfterReading::Move(to) => out!("read mail: moved to {to}"),
    }
    if s.ca_certificate.is_some() {
        out!("trusts:   the certificate authority in the settings");
    }
}

fn print_report(r: &FetchReport) {
    out!(
        "{} read: {} filed, {} waiting in the Inbox, {} with nothing to do",
        r.read,
        r.filed,
        r.unfiled,
        r.dismissed
    );
}

fn print_line(m: &InboxMessage) {
    let from = if m.from_name.is_empty() {
        m.from_address.clone()
    } else {
        format!("{} <{}>", m.from_name, m.from_address)
    };
    let filed = match (m.issue, &m.participant_name) {
        (Some(i), _) => format!("issue {i}"),
        (None, Some(p)) => p.clone(),
        (None, None) => m.state.as_str().to_string(),
    };
    out!(
        "{:>6}  {:<11}  {:<12}  {}  \"{}\"",
        m.id,
        m.kind.as_str(),
        filed,
        from,
        m.subject
    );
}
