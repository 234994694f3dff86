//! `issues` commands: raise, assign, hand off, log contact, resolve, and
//! list what is owed to whom.

use super::{Error, print_json};
use clap::Subcommand;
use panelkeeper::Panel;
use panelkeeper::issues::{
    self, ContactVia, DayCount, Issue, IssueId, IssueInput, IssueQuery, IssueSort, IssueStatus,
    Severity,
};
use panelkeeper::mail::MessagePreview;
use panelkeeper::notes::NoteId;
use panelkeeper::sessions::SessionId;
use std::process::ExitCode;

fn parse<T: std::str::FromStr<Err = Error>>(s: &str) -> Result<T, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

#[derive(Subcommand)]
pub enum IssuesCmd {
    /// Raise an issue from a note (or for a participant of a session); prints its id.
    Raise {
        #[arg(long, required_unless_present = "session")]
        note: Option<i64>,
        #[arg(long)]
        session: Option<i64>,
        /// The participant (email or id), when the note names none.
        #[arg(long)]
        participant: Option<String>,
        #[arg(long)]
        summary: String,
        #[arg(long, default_value = "")]
        detail: String,
        #[arg(long, default_value = "")]
        category: String,
        /// low, normal, high or critical.
        #[arg(long, value_parser = parse::<Severity>)]
        severity: Option<Severity>,
        /// The owner's email.
        #[arg(long)]
        owner: Option<String>,
    },
    /// Issues, the most urgent first.
    List {
        /// The owner's email.
        #[arg(long)]
        owner: Option<String>,
        #[arg(long, value_parser = parse::<IssueStatus>)]
        status: Option<IssueStatus>,
        /// Only those past a due time.
        #[arg(long)]
        overdue: bool,
        /// urgent (open first, by the next due time), newest, oldest or handoffs.
        #[arg(long, default_value = "urgent", value_parser = parse_sort)]
        sort: IssueSort,
        #[arg(long)]
        json: bool,
    },
    /// The open issues of `staff me`.
    Mine {
        #[arg(long)]
        json: bool,
    },
    /// One issue with its contacts and audit trail.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Give an issue without an owner to EMAIL.
    Assign { id: i64, email: String },
    /// Hand an issue to EMAIL (the participant is told).
    Reassign {
        id: i64,
        email: String,
        #[arg(long)]
        reason: String,
    },
    /// Log an attempt to reach the participant.
    Contact {
        id: i64,
        #[arg(long, value_parser = parse::<ContactVia>)]
        via: ContactVia,
        #[arg(long)]
        outcome: String,
    },
    /// Resolve: a resolution note, and the message the participant gets.
    Resolve {
        id: i64,
        #[arg(long)]
        note: String,
        #[arg(long)]
        message: String,
        /// Print the message as it would go, and change nothing.
        #[arg(long)]
        preview: bool,
    },
    /// Close without a fix: the reason, and the message the participant gets.
    WontFix {
        id: i64,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        message: String,
        /// Print the message as it would go, and change nothing.
        #[arg(long)]
        preview: bool,
    },
    /// Close a resolved issue.
    Close { id: i64 },
    /// Ask the participant a question by mail and wait for the answer (the
    /// service-level clock stands still until it comes).
    Wait {
        id: i64,
        #[arg(long)]
        question: String,
    },
    /// Stop waiting on the participant (they answered another way).
    Resume { id: i64 },
    /// Open a finished issue again.
    Reopen {
        id: i64,
        #[arg(long)]
        reason: String,
    },
    /// Show the service levels, or change them (for issues raised from now on).
    Levels {
        /// The severity whose times change.
        #[arg(long, value_parser = parse::<Severity>, requires = "first_contact")]
        severity: Option<Severity>,
        /// Time to first contact, e.g. 30m, 4h or 2d.
        #[arg(long, value_parser = parse_minutes, requires = "resolution")]
        first_contact: Option<u32>,
        /// Time to resolution, e.g. 10d.
        #[arg(long, value_parser = parse_minutes, requires = "severity")]
        resolution: Option<u32>,
        /// calendar or business (Monday to Friday in the session's zone).
        #[arg(long, value_parser = parse::<DayCount>)]
        days: Option<DayCount>,
        /// How long before a due time the owner is nudged, e.g. 24h.
        #[arg(long, value_parser = parse_minutes)]
        nudge_before: Option<u32>,
        /// How often an escalation repeats until someone acts, e.g. 1d.
        #[arg(long, value_parser = parse_minutes)]
        escalate_every: Option<u32>,
        #[arg(long)]
        json: bool,
    },
}

/// Minutes from "30m", "36h" (or "36", hours) or "2d".
fn parse_minutes(s: &str) -> Result<u32, String> {
    let t = s.trim().to_lowercase();
    let (n, per) = if let Some(days) = t.strip_suffix('d') {
        (days, 24 * 60)
    } else if let Some(minutes) = t.strip_suffix('m') {
        (minutes, 1)
    } else {
        (t.strip_suffix('h').unwrap_or(&t), 60)
    };
    n.trim()
        .parse::<u32>()
        .ok()
        .and_then(|n| n.checked_mul(per))
        .ok_or_else(|| {
            format!("\"{s}\" is not a duration: write minutes, hours or days, e.g. 30m, 4h or 2d")
        })
}

fn span(minutes: u32) -> String {
    match minutes {
        m if m % (24 * 60) == 0 => format!("{}d", m / (24 * 60)),
        m if m % 60 == 0 => format!("{}h", m / 60),
        m => format!("{m}m"),
    }
}

fn line(i: &Issue) -> String {
    let (due, what) = match i.next_due() {
        (due, "first contact") => (due, "contact"),
        (due, _) => (due, "resolve"),
    };
    let late = if i.overdue { "  OVERDUE" } else { "" };
    let due = if i.status.is_open() {
        format!("  {what} by {}", due.format("%Y-%m-%d %H:%M UTC"))
    } else {
        String::new()
    };
    let reopened = match i.reopens {
        0 => String::new(),
        1 => "; reopened once".to_string(),
        n => format!("; reopened {n} times"),
    };
    format!(
        "{:>6}  {:<9}  {:<8}  {}  ({}; owner {}; {} hand-offs{reopened}){due}{late}",
        i.id,
        i.status.as_str(),
        i.severity.as_str(),
        i.summary,
        i.participant_name,
        i.owner_name.as_deref().unwrap_or("none"),
        i.handoffs
    )
}

/// The message to the participant as it would go; nothing is queued.
fn show_preview(preview: Option<MessagePreview>) {
    let Some(m) = preview else {
        out!("nobody will be written to: the participant has no email address any more (erased)");
        return;
    };
    out!("to:       {}", m.to);
    if let Some(from) = &m.from_name {
        out!("from:     {from}");
    }
    if let Some(reply_to) = &m.reply_to {
        out!("reply-to: {reply_to}");
    }
    out!("subject:  {}\n\n{}", m.body.subject, m.body.text);
}

fn parse_sort(s: &str) -> Result<IssueSort, String> {
    match s {
        "urgent" => Ok(IssueSort::Urgent),
        "newest" => Ok(IssueSort::Newest),
        "oldest" => Ok(IssueSort::Oldest),
        "handoffs" => Ok(IssueSort::MostHandoffs),
        other => Err(format!(
            "{other:?} is not an order: use urgent, newest, oldest or handoffs"
        )),
    }
}

pub async fn issues_cmd(panel: &Panel, cmd: IssuesCmd) -> Result<ExitCode, Error> {
    let show = |i: &Issue| out!("{}", line(i));
    match cmd {
        IssuesCmd::Raise {
            note,
            session,
            participant,
            summary,
            detail,
            category,
            severity,
            owner,
        } => {
            let i = issues::raise(
                panel,
                &IssueInput {
                    note: note.map(NoteId),
                    session: session.map(SessionId),
                    participant,
                    summary,
                    detail,
                    category,
                    severity,
                    owner,
                },
            )
            .await?;
            out!("{}", i.id);
        }
        IssuesCmd::List {
            owner,
            status,
            overdue,
            sort,
            json,
        } => {
            let all = issues::list(
                panel,
                &IssueQuery {
                    owner,
                    status,
                    overdue,
                    sort,
                    ..Default::default()
                },
            )
            .await?;
            if json {
                print_json(&all);
            } else {
                all.iter().for_each(show);
            }
        }
        IssuesCmd::Mine { json } => {
            let all = issues::mine(panel).await?;
            if json {
                print_json(&all);
            } else {
                all.iter().for_each(show);
            }
        }
        IssuesCmd::Show { id, json } => {
            let d = issues::detail(panel, IssueId(id)).await?;
            if json {
                print_json(&d);
                return Ok(ExitCode::SUCCESS);
            }
            show(&d.issue);
            out!("session {} \"{}\"", d.issue.session, d.issue.session_title);
            if let Some(r) = &d.issue.resolution {
                out!("resolution: {r}");
            }
            out!("contacts:");
            for c in &d.contacts {
                out!(
                    "  {}  {} by {}: {}",
                    c.at.format("%Y-%m-%d %H:%M"),
                    c.via.as_str(),
                    c.staff.as_deref().unwrap_or("-"),
                    c.outcome
                );
            }
            out!("history:");
            for e in &d.events {
                out!(
                    "  {}  {} by {}  {}",
                    e.at.format("%Y-%m-%d %H:%M"),
                    e.kind,
                    e.actor.as_deref().unwrap_or("-"),
                    e.detail
                );
            }
        }
        IssuesCmd::Assign { id, email } => show(&issues::assign(panel, IssueId(id), &email).await?),
        IssuesCmd::Reassign { id, email, reason } => {
            show(&issues::reassign(panel, IssueId(id), &email, &reason).await?)
        }
        IssuesCmd::Contact { id, via, outcome } => {
            show(&issues::log_contact(panel, IssueId(id), via, &outcome).await?)
        }
        IssuesCmd::Resolve {
            id,
            note,
            message,
            preview: true,
        } => show_preview(issues::preview_resolve(panel, IssueId(id), &note, &message).await?),
        IssuesCmd::Resolve {
            id, note, message, ..
        } => show(&issues::resolve(panel, IssueId(id), &note, &message).await?),
        IssuesCmd::WontFix {
            id,
            reason,
            message,
            preview: true,
        } => show_preview(issues::preview_wont_fix(panel, IssueId(id), &reason, &message).await?),
        IssuesCmd::WontFix {
            id,
            reason,
            message,
            ..
        } => show(&issues::wont_fix(panel, IssueId(id), &reason, &message).await?),
        IssuesCmd::Close { id } => show(&issues::close(panel, IssueId(id)).await?),
        IssuesCmd::Wait { id, question } => {
            show(&issues::wait_for_participant(panel, IssueId(id), &question).await?)
        }
        IssuesCmd::Resume { id } => show(&issues::stop_waiting(panel, IssueId(id)).await?),
        IssuesCmd::Reopen { id, reason } => {
            show(&issues::reopen(panel, IssueId(id), &reason).await?)
        }
        IssuesCmd::Levels {
            severity,
            first_contact,
            resolution,
            days,
            nudge_before,
            escalate_every,
            json,
        } => {
            let mut levels = issues::service_levels(panel).await?;
            let before = levels;
            if let (Some(s), Some(first), Some(resolve)) = (severity, first_contact, resolution) {
                let level = match s {
                    Severity::Low => &mut levels.low,
                    Severity::Normal => &mut levels.normal,
                    Severity::High => &mut levels.high,
                    Severity::Critical => &mut levels.critical,
                };
                level.first_contact_minutes = first;
                level.resolution_minutes = resolve;
            }
            if let Some(d) = days {
                levels.days = d;
            }
            if let Some(m) = nudge_before {
                levels.nudge_minutes_before = m;
            }
            if let Some(m) = escalate_every {
                levels.escalation_repeat_minutes = m;
            }
            if levels != before {
                levels = issues::set_service_levels(panel, &levels).await?;
            }
            if json {
                print_json(&levels);
            } else {
                out!(
                    "{} days; nudge {} before a due time; escalations repeat every {}",
                    match levels.days {
                        DayCount::Calendar => "calendar",
                        DayCount::Business => "business",
                    },
                    span(levels.nudge_minutes_before),
                    span(levels.escalation_repeat_minutes)
                );
                for s in Severity::ALL {
                    let l = levels.for_severity(s);
                    out!(
                        "  {:<8}  first contact within {:>4}, resolved within {:>4}",
                        s.as_str(),
                        span(l.first_contact_minutes),
                        span(l.resolution_minutes)
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
