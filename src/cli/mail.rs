//! `smtp`, `outbox` and `mail` commands: the SMTP settings, the outbox and
//! its worker, from a terminal.

use super::{Error, print_json};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use panelkeeper::Panel;
use panelkeeper::mail::settings::{self, PasswordChange, SmtpInput, TlsMode};
use panelkeeper::mail::{self, MessageId, OutboxQuery, Status, worker};
use std::io::Read;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum SmtpCmd {
    /// Save the SMTP server and sender.
    Set(SmtpSet),
    /// Show the SMTP settings (never the password).
    Show {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct SmtpSet {
    #[arg(long)]
    host: String,
    #[arg(long)]
    port: u16,
    /// none, starttls or tls (implicit TLS, usually port 465).
    #[arg(long, value_parser = |s: &str| s.parse::<TlsMode>().map_err(|e| e.to_string()))]
    tls: TlsMode,
    /// Log in as this user.
    #[arg(long)]
    user: Option<String>,
    /// Read the password from standard input (it is stored sealed, never shown).
    #[arg(long, requires = "user")]
    password_stdin: bool,
    /// The sender address.
    #[arg(long)]
    from: String,
    /// The sender name.
    #[arg(long, default_value = "")]
    from_name: String,
    /// Where replies go, when a message does not name a person.
    #[arg(long)]
    reply_to: Option<String>,
    /// Trust this certificate authority (a PEM file) besides the system's,
    /// for a relay with a company CA.
    #[arg(long)]
    ca_file: Option<std::path::PathBuf>,
}

#[derive(Subcommand)]
pub enum OutboxCmd {
    /// Messages waiting first, then the rest, newest first.
    List {
        /// Only queued, sending, sent, failed or cancelled messages.
        #[arg(long, value_parser = |s: &str| s.parse::<Status>().map_err(|e| e.to_string()))]
        status: Option<Status>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// One message with its bodies.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Send what is due, then exit (2 if anything is left waiting or failed).
    Send {
        /// Keep running, sending each message when it is due, until Ctrl-C.
        #[arg(long)]
        watch: bool,
    },
    /// Put a failed message back in the queue, to be tried now (--failed: every failed one).
    Retry {
        #[arg(required_unless_present = "failed", conflicts_with = "failed")]
        id: Option<i64>,
        #[arg(long)]
        failed: bool,
    },
    /// Cancel a message that has not gone (--failed: every failed one).
    Cancel {
        #[arg(required_unless_present = "failed", conflicts_with = "failed")]
        id: Option<i64>,
        #[arg(long)]
        failed: bool,
    },
}

#[derive(Subcommand)]
pub enum MailCmd {
    /// Queue a test message to ADDRESS (`outbox send` delivers it).
    Test { address: String },
}

/// The password read from standard input when asked (`--password-stdin`),
/// else the saved one kept.
pub fn password_change(from_stdin: bool) -> Result<PasswordChange, Error> {
    if !from_stdin {
        return Ok(PasswordChange::Keep);
    }
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| Error::File {
            path: "standard input".into(),
            reason: e.to_string(),
        })?;
    let s = s.trim_end_matches(['\r', '\n']);
    if s.is_empty() {
        return Err(Error::InvalidInput {
            field: "password".into(),
            value: String::new(),
            reason: "standard input was empty".into(),
        });
    }
    Ok(PasswordChange::Set(s.into()))
}

/// The certificate authority a `--ca-file` names, read.
pub fn ca_file(path: Option<&std::path::Path>) -> Result<Option<String>, Error> {
    path.map(|path| {
        std::fs::read_to_string(path).map_err(|e| Error::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    })
    .transpose()
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub async fn smtp(panel: &Panel, cmd: SmtpCmd) -> Result<ExitCode, Error> {
    match cmd {
        SmtpCmd::Set(a) => {
            let password = password_change(a.password_stdin)?;
            let ca_certificate = ca_file(a.ca_file.as_deref())?;
            let saved = settings::set(
                panel,
                SmtpInput {
                    host: a.host,
                    port: a.port,
                    tls: a.tls,
                    user: a.user,
                    password,
                    from_address: a.from,
                    from_name: a.from_name,
                    reply_to: a.reply_to,
                    ca_certificate,
                },
            )
            .await?;
            print_settings(&saved);
        }
        SmtpCmd::Show { json } => match settings::get(panel).await? {
            Some(s) if json => print_json(&s),
            Some(s) => print_settings(&s),
            None if json => print_json(&serde_json::Value::Null),
            None => {
                out!("SMTP is not set up (smtp set --host ... --port ... --tls ... --from ...)")
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}

fn print_settings(s: &settings::SmtpSettings) {
    out!("server:   {}:{} (TLS: {})", s.host, s.port, s.tls);
    match &s.user {
        Some(u) => out!(
            "login:    {u} ({})",
            if s.has_password {
                "password saved"
            } else {
                "no password saved"
            }
        ),
        None => out!("login:    none"),
    }
    if s.from_name.is_empty() {
        out!("from:     {}", s.from_address);
    } else {
        out!("from:     {} <{}>", s.from_name, s.from_address);
    }
    if let Some(r) = &s.reply_to {
        out!("reply-to: {r}");
    }
    if s.ca_certificate.is_some() {
        out!("trusts:   the system's certificate authorities and the one in the settings");
    }
}

pub async fn outbox(panel: &Panel, cmd: OutboxCmd) -> Result<ExitCode, Error> {
    match cmd {
        OutboxCmd::List {
            status,
            limit,
            json,
        } => {
            let page = mail::list(
                panel,
                &OutboxQuery {
                    status,
                    limit: Some(limit),
                    offset: None,
                },
            )
            .await?;
            if json {
                print_json(&page);
                return Ok(ExitCode::SUCCESS);
            }
            let c = page.counts;
            out!(
                "{} waiting ({} due now), {} failed, {} sent, {} cancelled",
                c.waiting,
                c.due,
                c.failed,
                c.sent,
                c.cancelled
            );
            for m in &page.messages {
                let when = match (m.status, m.next_attempt_at, m.sent_at) {
                    (Status::Sent, _, Some(at)) => format!("sent {}", time(at)),
                    (_, Some(next), _) => format!("next attempt {}", time(next)),
                    _ => String::new(),
                };
                out!(
                    "{:>6}  {:<9}  {:<16}  {}  \"{}\"  {}",
                    m.id,
                    m.status.as_str(),
                    m.kind.as_str(),
                    m.recipient,
                    m.subject,
                    when
                );
                if let Some(e) = &m.last_error
                    && m.status != Status::Sent
                {
                    out!("        attempts {}: {e}", m.attempts);
                }
            }
        }
        OutboxCmd::Show { id, json } => {
            let d = mail::get(panel, MessageId(id)).await?;
            if json {
                print_json(&d);
            } else {
                let m = &d.message;
                out!(
                    "message {} ({}), {}",
                    m.id,
                    m.kind.as_str(),
                    m.status.as_str()
                );
                out!("Message-ID: {}", m.message_id);
                if m.recipient_name.is_empty() {
                    out!("To: {}", m.recipient);
                } else {
                    out!("To: {} <{}>", m.recipient_name, m.recipient);
                }
                if let Some(r) = &d.reply_to {
                    out!("Reply-To: {r}");
                }
                out!("Subject: {}", m.subject);
                for (k, v) in &d.headers {
                    out!("{k}: {v}");
                }
                for a in &m.attachments {
                    out!("Attachment: {a}");
                }
                out!("");
                out!("{}", d.body.text);
            }
        }
        OutboxCmd::Send { watch: false } => {
            let report = worker::send_due(panel).await?;
            out!(
                "sent {}, waiting to retry {}, failed {}",
                report.sent,
                report.retrying,
                report.failed
            );
            if let Some(p) = &report.problem {
                out!("not sent: {p}");
            }
            if let Some(next) = report.next_due {
                out!("next message due {}", time(next));
            }
            let clean = report.retrying == 0 && report.failed == 0 && report.problem.is_none();
            return Ok(if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            });
        }
        OutboxCmd::Send { watch: true } => {
            let stop = std::sync::Arc::new(tokio::sync::Notify::new());
            let on_ctrl_c = stop.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    on_ctrl_c.notify_one();
                }
            });
            out!("sending mail as it comes due; Ctrl-C stops");
            worker::run(panel.clone(), stop, |r| {
                if r.changed {
                    out!(
                        "{}  sent {}, waiting to retry {}, failed {}{}",
                        time(Utc::now()),
                        r.sent,
                        r.retrying,
                        r.failed,
                        r.problem
                            .as_deref()
                            .map(|p| format!(" ({p})"))
                            .unwrap_or_default()
                    );
                }
            })
            .await;
        }
        OutboxCmd::Retry { id: None, .. } => {
            let n = mail::retry_failed(panel).await?;
            out!(
                "{n} failed message{} queued again",
                if n == 1 { "" } else { "s" }
            );
            let left = mail::counts(panel).await?.failed;
            if left > 0 {
                out!(
                    "{left} may already have reached the recipient and {} left failed: check with the recipient, then retry each (outbox retry ID) or cancel it",
                    if left == 1 { "is" } else { "are" }
                );
            }
        }
        OutboxCmd::Cancel { id: None, .. } => {
            let n = mail::cancel_failed(panel).await?;
            out!(
                "{n} failed message{} cancelled; they will not be sent",
                if n == 1 { "" } else { "s" }
            );
        }
        OutboxCmd::Retry { id: Some(id), .. } => {
            let m = mail::retry(panel, MessageId(id)).await?;
            out!(
                "message {} queued again; next attempt {}",
                m.id,
                m.next_attempt_at.map(time).unwrap_or_default()
            );
        }
        OutboxCmd::Cancel { id: Some(id), .. } => {
            let m = mail::cancel(panel, MessageId(id)).await?;
            out!("message {} cancelled; it will not be sent", m.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn mail_cmd(panel: &Panel, cmd: MailCmd) -> Result<ExitCode, Error> {
    match cmd {
        MailCmd::Test { address } => {
            let id = mail::queue_test(panel, &address).await?;
            out!("test message {id} queued to {address}; `outbox send` delivers it");
        }
    }
    Ok(ExitCode::SUCCESS)
}
