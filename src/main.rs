//! The `panelkeeper` command line: the core's functions for scripts,
//! servers and people who prefer a terminal. Every listing takes `--json`.
//! Nothing here decides a rule; it parses arguments, calls the core and
//! prints what comes back.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use panelkeeper::files::{self, Existing};
use panelkeeper::{Error, Panel, demo};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

/// Imports and the panel index allocate many small strings from two threads;
/// mimalloc handles that far better than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `println!` for a command whose output may be piped into `head`: when the
/// reader goes away, stop quietly instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("error: writing to standard output: {e}");
                std::process::exit(1);
            }
            std::process::exit(0);
        }
    }};
}

#[path = "cli/inbox.rs"]
mod inbox_cli;
#[path = "cli/issues.rs"]
mod issues_cli;
#[path = "cli/mail.rs"]
mod mail_cli;
#[path = "cli/notes.rs"]
mod notes_cli;
#[path = "cli/participants.rs"]
mod participants_cli;
#[path = "cli/reports.rs"]
mod reports_cli;
#[path = "cli/sessions.rs"]
mod sessions_cli;

#[derive(Parser)]
#[command(
    name = "panelkeeper",
    version,
    about = "Customer panels and focus groups where every promise gets an owner"
)]
struct Cli {
    /// The panel: a file's path (default: the desktop app's own, in the OS
    /// data directory), or a team database's postgres://user@host:port/name.
    #[arg(long, env = "PANELKEEPER_DB", global = true)]
    db: Option<PathBuf>,
    /// Run as of this time instead of now (RFC 3339, or 2027-03-16T10:00 in
    /// UTC): overdue views, reports and the contact rules as they were or
    /// will be. Accepted only where it changes nothing by itself: commands
    /// that read, `tick`, `eligible` and `demo`.
    #[arg(long, env = "PANELKEEPER_NOW", global = true, value_parser = parse_time)]
    now: Option<DateTime<Utc>>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// People on the panel.
    #[command(subcommand)]
    Participants(participants_cli::ParticipantsCmd),
    /// Suppression lists (such as current customers), stored as hashes.
    #[command(subcommand)]
    Suppress(participants_cli::SuppressCmd),
    /// Named, reusable screeners.
    #[command(subcommand)]
    Screener(participants_cli::ScreenerCmd),
    /// Who a screener and the contact rules allow to be invited, and why the others are excluded.
    Eligible {
        #[arg(long)]
        screener: String,
        /// Evaluate at this time instead of now.
        #[arg(long, value_parser = parse_time)]
        at: Option<DateTime<Utc>>,
        /// At most this many eligible people.
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// The contact rules (cooldown, yearly cap, no-show ban).
    #[command(subcommand)]
    Rules(participants_cli::RulesCmd),
    /// Consent texts and acceptances.
    #[command(subcommand)]
    Consent(participants_cli::ConsentCmd),
    /// The company's people: moderators, observers, issue owners.
    #[command(subcommand)]
    Staff(sessions_cli::StaffCmd),
    /// Sessions: scheduling, invitations, RSVPs, attendance.
    #[command(subcommand)]
    Sessions(sessions_cli::SessionsCmd),
    /// Live notes of sessions, and their full-text search.
    #[command(subcommand)]
    Notes(notes_cli::NotesCmd),
    /// Issues participants raise, and their follow-up.
    #[command(subcommand)]
    Issues(issues_cli::IssuesCmd),
    /// PDF reports: a session's, and the follow-up report.
    #[command(subcommand)]
    Report(reports_cli::ReportCmd),
    /// Queue the escalations due now, or as of --now (the app does this
    /// every minute).
    Tick,
    /// SMTP server and sender.
    #[command(subcommand)]
    Smtp(mail_cli::SmtpCmd),
    /// Messages waiting to go, sent, failed; the delivery worker.
    #[command(subcommand)]
    Outbox(mail_cli::OutboxCmd),
    /// Mail checks.
    #[command(subcommand)]
    Mail(mail_cli::MailCmd),
    /// The panel mailbox: replies, calendar answers, unsubscribes and
    /// bounces read back into the record; the Inbox of what matched nothing.
    #[command(subcommand)]
    Inbox(inbox_cli::InboxCmd),
    /// Move this panel file into team mode: copy every record (ids,
    /// history, the outbox, settings) into an empty PostgreSQL database.
    Migrate {
        /// The team database: postgres://user@host:port/name
        #[arg(long)]
        to: String,
        #[arg(long)]
        json: bool,
    },
    /// Run the team server: the web app and its API for the panel, the mail
    /// worker and the minute tick, until stopped (SIGTERM or Ctrl-C).
    Serve {
        /// Address and port to listen on. Plain HTTP only on loopback; any
        /// other address needs --tls-cert and --tls-key.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// The built web app (default: ui/dist here, if there is one).
        #[arg(long, env = "PANELKEEPER_UI")]
        ui: Option<PathBuf>,
        /// The server's certificate chain (PEM).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Where people reach this server (https://panel.example.com): the
        /// assignment, nudge and escalation mails link to each issue there.
        #[arg(long)]
        public_url: Option<String>,
    },
    /// Generate the deterministic reference panel.
    Demo {
        #[arg(long, default_value_t = 100_000)]
        participants: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write the participants as a CRM-style CSV file instead of filling the database.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Replace the --csv file if there is one.
        #[arg(long, requires = "csv")]
        force: bool,
    },
}

/// RFC 3339, `YYYY-MM-DDTHH:MM` with `Z` or an offset, or
/// `YYYY-MM-DD[THH:MM[:SS]]` read as UTC.
fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M%:z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d %H:%M%:z"] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Ok(t.with_timezone(&Utc));
        }
    }
    if let Some(naive) = s.strip_suffix(['Z', 'z']) {
        return parse_time(naive).map_err(|_| {
            format!("{s:?} is not a time such as 2027-03-16T10:00Z, 2027-03-16T10:00+01:00 or 2027-03-16 (UTC)")
        });
    }
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        .map_err(|_| {
            format!("{s:?} is not a time such as 2027-03-16T10:00Z, 2027-03-16T10:00+01:00 or 2027-03-16 (UTC)")
        })
}

/// Text on one line of a listing: line breaks and other control
/// characters shown as spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn print_json(value: &impl Serialize) {
    out!(
        "{}",
        serde_json::to_string_pretty(value).expect("values serialise")
    );
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>8} [{bar:40}] {pos}/{len} {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let log = panelkeeper::logging::init("panelkeeper", &panelkeeper::logging::default_dir());
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            if let (Error::Database { .. }, Some(dir)) = (&e, log) {
                eprintln!("Panelkeeper's log is in {}", dir.display());
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, Error> {
    if let Command::Demo {
        participants,
        seed,
        csv: Some(path),
        force,
    } = &cli.command
    {
        files::write_with(path, Existing::replace_if(*force), |out| {
            demo::write_csv(*participants as u64, *seed, out)
        })?;
        out!(
            "wrote {participants} demo participants to {}",
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(now) = cli.now
        && !cli.command.reads_only()
    {
        return Err(Error::InvalidInput {
            field: "--now".into(),
            value: now.to_rfc3339(),
            reason: "is accepted only for commands that read, tick, eligible and demo: this \
                     command changes the panel, and a change is stamped with the real time"
                .into(),
        });
    }
    let db = cli.db.clone().unwrap_or_else(panelkeeper::default_db_path);
    let mut panel = Panel::open(&db).await?;
    if let Some(now) = cli.now {
        panel = panel.with_clock(std::sync::Arc::new(panelkeeper::clock::ManualClock::new(
            now,
        )));
    }
    let code = dispatch(&panel, cli.command).await;
    panel.close().await;
    code
}

fn file_error(path: &std::path::Path, e: std::io::Error) -> Error {
    Error::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

async fn dispatch(panel: &Panel, command: Command) -> Result<ExitCode, Error> {
    match command {
        Command::Participants(cmd) => participants_cli::participants_cmd(panel, cmd).await,
        Command::Suppress(cmd) => participants_cli::suppress_cmd(panel, cmd).await,
        Command::Screener(cmd) => participants_cli::screener_cmd(panel, cmd).await,
        Command::Eligible {
            screener,
            at,
            limit,
            json,
        } => participants_cli::eligible(panel, &screener, at, limit, json).await,
        Command::Rules(cmd) => participants_cli::rules_cmd(panel, cmd).await,
        Command::Consent(cmd) => participants_cli::consent_cmd(panel, cmd).await,
        Command::Staff(cmd) => sessions_cli::staff_cmd(panel, cmd).await,
        Command::Sessions(cmd) => sessions_cli::sessions_cmd(panel, cmd).await,
        Command::Notes(cmd) => notes_cli::notes_cmd(panel, cmd).await,
        Command::Issues(cmd) => issues_cli::issues_cmd(panel, cmd).await,
        Command::Report(cmd) => reports_cli::report_cmd(panel, cmd).await,
        Command::Tick => {
            let r = panelkeeper::issues::tick(panel, panel.now()).await?;
            out!(
                "{} overdue, {} escalations queued",
                r.overdue,
                r.escalations
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            listen,
            ui,
            tls_cert,
            tls_key,
            public_url,
        } => {
            if let Some(url) = public_url {
                panelkeeper::accounts::set_server_address(panel, &url).await?;
            }
            serve(panel, listen, ui, tls_cert.zip(tls_key)).await
        }
        Command::Migrate { to, json } => {
            let report = panelkeeper::db::copy::to_team(panel, &to).await?;
            if json {
                print_json(&report);
            } else {
                let rows: u64 = report.tables.iter().map(|t| t.rows).sum();
                out!(
                    "copied {rows} records in {} tables into {}, every count checked{}",
                    report.tables.len(),
                    report.to,
                    if report.smtp_password {
                        "; the SMTP password is sealed with this computer's key for the team database"
                    } else {
                        ""
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Smtp(cmd) => mail_cli::smtp(panel, cmd).await,
        Command::Outbox(cmd) => mail_cli::outbox(panel, cmd).await,
        Command::Mail(cmd) => mail_cli::mail_cmd(panel, cmd).await,
        Command::Inbox(cmd) => inbox_cli::inbox(panel, cmd).await,
        Command::Demo {
            participants,
            seed,
            csv: _,
            force: _,
        } => {
            let report = demo::generate(panel, participants, seed).await?;
            out!(
                "{} participants ({} opted out, {} do-not-contact), {} staff, {} sessions with {} invitations, {} notes, {} issues, {} contact-history entries, {} on the crm-customers suppression list; screeners: {}",
                report.participants,
                report.opted_out,
                report.do_not_contact,
                report.staff,
                report.sessions,
                report.roster,
                report.notes,
                report.issues,
                report.contacts,
                report.suppressed,
                report.screeners.join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `panelkeeper serve`: listens, then serves until SIGTERM or Ctrl-C.
async fn serve(
    panel: &Panel,
    listen: std::net::SocketAddr,
    ui: Option<PathBuf>,
    tls: Option<(PathBuf, PathBuf)>,
) -> Result<ExitCode, Error> {
    use panelkeeper::server::{self, Listening, Options};
    if tls.is_none() && !listen.ip().is_loopback() {
        return Err(Error::InvalidInput {
            field: "--listen".into(),
            value: listen.to_string(),
            reason: "is reachable from other computers, so it needs HTTPS: give --tls-cert and \
                     --tls-key, or listen on 127.0.0.1 behind a proxy that adds HTTPS"
                .into(),
        });
    }
    let ui =
        ui.or_else(|| Some(PathBuf::from("ui/dist")).filter(|d| d.join("index.html").is_file()));
    if let Some(dir) = &ui
        && !dir.join("index.html").is_file()
    {
        return Err(Error::File {
            path: dir.display().to_string(),
            reason: "holds no built web app (index.html); build it with scripts/build-ui".into(),
        });
    }
    let tcp = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Error::InvalidInput {
            field: "--listen".into(),
            value: listen.to_string(),
            reason: format!("cannot be listened on: {e}"),
        })?;
    let secure = tls.is_some();
    let listening = match tls {
        Some((cert, key)) => Listening::Tls(
            server::tls::Listener::new(tcp, server::tls::acceptor(&cert, &key)?)
                .map_err(|e| file_error(&cert, e))?,
        ),
        None => Listening::Plain(tcp),
    };
    let scheme = if secure { "https" } else { "http" };
    out!(
        "serving {} at {scheme}://{listen}{}",
        if panel.is_team() {
            "the team database"
        } else {
            "the panel file"
        },
        if ui.is_some() {
            ""
        } else {
            " (API only: no web app found)"
        }
    );
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM can be watched");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("stopping: finishing the requests in flight");
    };
    server::serve(panel.clone(), listening, Options { ui, secure }, shutdown).await?;
    out!("stopped");
    Ok(ExitCode::SUCCESS)
}

impl Command {
    /// Whether the command changes nothing by itself (so it may run as of
    /// another time with --now), counting tick, eligible and demo in.
    fn reads_only(&self) -> bool {
        use issues_cli::IssuesCmd as I;
        use mail_cli::{OutboxCmd as O, SmtpCmd as M};
        use notes_cli::NotesCmd as N;
        use participants_cli::{ConsentCmd, ParticipantsCmd, RulesCmd, ScreenerCmd, SuppressCmd};
        use reports_cli::ReportCmd as R;
        use sessions_cli::{SessionsCmd as S, StaffCmd as T};
        match self {
            Command::Tick | Command::Eligible { .. } | Command::Demo { .. } => true,
            Command::Migrate { .. } | Command::Serve { .. } => false,
            Command::Participants(c) => matches!(
                c,
                ParticipantsCmd::List { .. }
                    | ParticipantsCmd::Show { .. }
                    | ParticipantsCmd::Export { .. }
                    | ParticipantsCmd::PrivacyExport { .. }
                    | ParticipantsCmd::Erase { yes: false, .. }
            ),
            Command::Suppress(c) => matches!(c, SuppressCmd::List { .. }),
            Command::Screener(c) => {
                matches!(c, ScreenerCmd::List { .. } | ScreenerCmd::Show { .. })
            }
            Command::Rules(c) => matches!(c, RulesCmd::Show { .. }),
            Command::Consent(c) => matches!(c, ConsentCmd::List { .. }),
            Command::Staff(c) => matches!(c, T::List { .. } | T::Me { email: None }),
            Command::Sessions(c) => matches!(
                c,
                S::List { .. } | S::Show { .. } | S::Invite { preview: true, .. }
            ),
            Command::Notes(c) => matches!(c, N::List { .. } | N::History { .. } | N::Search { .. }),
            Command::Issues(c) => match c {
                I::List { .. } | I::Mine { .. } | I::Show { .. } => true,
                I::Levels {
                    severity,
                    days,
                    nudge_before,
                    escalate_every,
                    ..
                } => {
                    severity.is_none()
                        && days.is_none()
                        && nudge_before.is_none()
                        && escalate_every.is_none()
                }
                I::Resolve { preview, .. } | I::WontFix { preview, .. } => *preview,
                _ => false,
            },
            Command::Report(c) => match c {
                R::Session { mail_to, .. } | R::FollowUps { mail_to, .. } => mail_to.is_none(),
            },
            Command::Smtp(c) => matches!(c, M::Show { .. }),
            Command::Outbox(c) => matches!(c, O::List { .. } | O::Show { .. }),
            Command::Mail(_) => false,
            Command::Inbox(c) => matches!(
                c,
                inbox_cli::InboxCmd::Show { .. }
                    | inbox_cli::InboxCmd::List { .. }
                    | inbox_cli::InboxCmd::Read { .. }
            ),
        }
    }
}
