//! `report` commands: a session's PDF report, and the follow-up report
//! over a range of days.

use super::Error;
use chrono::NaiveDate;
use clap::Subcommand;
use panelkeeper::Panel;
use panelkeeper::files::{self, Existing};
use panelkeeper::reports::{self, Report, ReportFile, ReportOptions};
use panelkeeper::sessions::SessionId;
use std::path::PathBuf;
use std::process::ExitCode;

fn parse_day(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("\"{s}\" is not a day: write it as 2027-03-16"))
}

#[derive(Subcommand)]
pub enum ReportCmd {
    /// A session's report: cover, attendance, notes, issues and open promises.
    Session {
        id: i64,
        /// Where to write the PDF.
        #[arg(short, long)]
        output: PathBuf,
        /// Replace the file at --output if there is one.
        #[arg(long)]
        force: bool,
        /// Participants as "Participant 1", ... (for a client).
        #[arg(long)]
        anonymise: bool,
        /// Also queue it to this address, attached, through the outbox.
        #[arg(long)]
        mail_to: Option<String>,
        /// A line to the recipient, with --mail-to.
        #[arg(long, default_value = "", requires = "mail_to")]
        message: String,
    },
    /// Whether promises are kept: issues by owner, medians, the oldest open ones.
    FollowUps {
        /// First day (UTC) of issues raised.
        #[arg(long, value_parser = parse_day)]
        from: NaiveDate,
        /// Last day (UTC), included.
        #[arg(long, value_parser = parse_day)]
        to: NaiveDate,
        /// Where to write the PDF.
        #[arg(short, long)]
        output: PathBuf,
        /// Replace the file at --output if there is one.
        #[arg(long)]
        force: bool,
        /// Also queue it to this address, attached, through the outbox.
        #[arg(long)]
        mail_to: Option<String>,
        /// A line to the recipient, with --mail-to.
        #[arg(long, default_value = "", requires = "mail_to")]
        message: String,
    },
}

fn written(f: &ReportFile) {
    out!(
        "wrote {} ({} page{}, {} KB){}",
        f.path,
        f.pages,
        if f.pages == 1 { "" } else { "s" },
        f.bytes.div_ceil(1024),
        if f.draft {
            "; DRAFT: an issue of the session has no owner"
        } else {
            ""
        }
    );
}

async fn mail(
    panel: &Panel,
    report: &Report,
    to: Option<String>,
    message: &str,
) -> Result<(), Error> {
    if let Some(to) = to {
        let id = report.send(panel, &to, message).await?;
        out!("queued to {to} as message {id}; `outbox send` delivers it");
    }
    Ok(())
}

pub async fn report_cmd(panel: &Panel, cmd: ReportCmd) -> Result<ExitCode, Error> {
    match cmd {
        ReportCmd::Session {
            id,
            output,
            force,
            anonymise,
            mail_to,
            message,
        } => {
            // A path that cannot be written is said before the report is made.
            let existing = Existing::replace_if(force);
            files::check_target(&output, existing)?;
            let report =
                reports::session(panel, SessionId(id), ReportOptions { anonymise }, &|_| {})
                    .await?;
            written(&report.write(&output, existing)?);
            mail(panel, &report, mail_to, &message).await?;
        }
        ReportCmd::FollowUps {
            from,
            to,
            output,
            force,
            mail_to,
            message,
        } => {
            let existing = Existing::replace_if(force);
            files::check_target(&output, existing)?;
            let report = reports::follow_ups(panel, from, to, &|_| {}).await?;
            written(&report.write(&output, existing)?);
            mail(panel, &report, mail_to, &message).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
