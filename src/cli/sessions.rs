//! `staff` and `sessions` commands: the company's people, and sessions with
//! their invitations, RSVPs, attendance and reminders.

use super::{Error, print_json};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use clap::{Args, Subcommand};
use panelkeeper::Panel;
use panelkeeper::participants::governance;
use panelkeeper::sessions::roster::{self, AttendanceInput, ReminderPlan};
use panelkeeper::sessions::staff::{self, StaffInput};
use panelkeeper::sessions::{
    self, Attendance, InviteReport, InviteRequest, Invitees, Rsvp, Session, SessionId,
    SessionInput, SessionQuery, SessionStatus,
};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum StaffCmd {
    /// Add a staff member (moderator, observer, issue owner).
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        /// Their lead's email (escalations go there).
        #[arg(long)]
        lead: Option<String>,
        /// What they do (moderator, customer care).
        #[arg(long, default_value = "")]
        title: String,
        /// What they may do through a team server: admin, researcher or
        /// staff (their own issues only).
        #[arg(long, default_value = "staff")]
        role: String,
        /// Their IANA time zone.
        #[arg(long)]
        tz: Option<String>,
    },
    /// Change a staff member's details; what is not given stays as it is
    /// (`--lead ""` takes the lead away).
    Edit {
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// Their new email address.
        #[arg(long = "new-email")]
        new_email: Option<String>,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        lead: Option<String>,
        #[arg(long)]
        tz: Option<String>,
    },
    /// Mark a staff member as gone: refused while they own open issues or
    /// lead someone still here. What they did stays credited to them.
    Deactivate { email: String },
    /// Bring back a staff member marked as gone.
    Reactivate { email: String },
    /// Give a staff member a role on a team server: admin, researcher or staff.
    SetRole { email: String, role: String },
    /// Set the password a staff member signs in to a team server with, read
    /// from standard input (one line).
    SetPassword { email: String },
    /// Mail a staff member a link, working once for seven days, to choose
    /// their team-server password.
    Invite {
        email: String,
        /// Where staff reach the team server (as `serve --public-url`
        /// says), when it is not known yet.
        #[arg(long)]
        public_url: Option<String>,
    },
    /// Every staff member.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Say which staff member uses this computer (or show it).
    Me { email: Option<String> },
}

fn parse_local(s: &str) -> Result<NaiveDateTime, String> {
    for f in ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t);
        }
    }
    Err(format!(
        "{s:?} is not a date and time like 2027-03-16T10:00"
    ))
}

fn parse_day(s: &str) -> Result<DateTime<Utc>, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
        .map_err(|_| format!("{s:?} is not a date like 2027-03-16"))
}

fn parse_rsvp(s: &str) -> Result<Rsvp, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn parse_attendance(s: &str) -> Result<Attendance, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

/// "50", "50.5" or "50.00" in the panel's currency, as cents.
fn parse_amount(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not an amount like 50 or 49.90");
    let (whole, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
    if whole.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 2
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let cents = format!("{frac:0<2}");
    whole
        .parse::<i64>()
        .ok()
        .and_then(|w| w.checked_mul(100))
        .and_then(|w| w.checked_add(cents.parse::<i64>().unwrap_or(0)))
        .ok_or_else(bad)
}

#[derive(Args)]
pub struct Create {
    #[arg(long)]
    title: String,
    /// Wall-clock start in the session's zone, e.g. 2027-03-16T10:00.
    #[arg(long, value_parser = parse_local)]
    start: NaiveDateTime,
    /// The IANA zone the start is given in, e.g. America/New_York.
    #[arg(long)]
    tz: String,
    #[arg(long, default_value_t = 90)]
    minutes: u32,
    #[arg(long)]
    seats: u32,
    /// Confirmations wanted (default: the seats).
    #[arg(long)]
    over_recruit: Option<u32>,
    /// Waitlist places for confirmations beyond the target.
    #[arg(long, default_value_t = 0)]
    floaters: u32,
    /// The moderator's email.
    #[arg(long)]
    moderator: String,
    /// An observer's email (repeat for more).
    #[arg(long = "observer")]
    observers: Vec<String>,
    #[arg(long, default_value = "")]
    study: String,
    /// A room or a video link.
    #[arg(long, default_value = "")]
    place: String,
    /// Schedule even if the moderator is in another session then.
    #[arg(long)]
    allow_double_booking: bool,
    /// A consent topic people must have accepted (its current version)
    /// to be invited.
    #[arg(long)]
    consent: Option<String>,
}

#[derive(Subcommand)]
pub enum SessionsCmd {
    /// Plan a session; prints its id.
    Create(Create),
    /// Sessions in start order.
    List {
        /// Sessions ending on or after this day (default: today).
        #[arg(long, value_parser = parse_day)]
        from: Option<DateTime<Utc>>,
        /// Sessions starting before this day.
        #[arg(long, value_parser = parse_day)]
        to: Option<DateTime<Utc>>,
        /// Past sessions too, and cancelled ones.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// A session with its roster.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Move a session (everyone coming gets an updated calendar entry).
    Reschedule {
        id: i64,
        #[arg(long, value_parser = parse_local)]
        start: NaiveDateTime,
        #[arg(long)]
        minutes: Option<u32>,
        #[arg(long)]
        allow_double_booking: bool,
    },
    /// Mark a session complete (refused while an issue raised in it has no owner).
    Complete { id: i64 },
    /// Cancel a session (everyone coming gets a calendar cancellation).
    Cancel {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Invite through a screener or by email, always through the contact rules.
    Invite {
        id: i64,
        #[arg(
            long,
            conflicts_with = "participants",
            required_unless_present = "participants"
        )]
        screener: Option<String>,
        #[arg(long, requires = "screener")]
        limit: Option<u32>,
        /// A participant's email or id (repeat for more).
        #[arg(long = "participant", num_args = 1..)]
        participants: Vec<String>,
        /// Only show who would be invited and who is excluded.
        #[arg(long)]
        preview: bool,
        #[arg(long)]
        allow_double_booking: bool,
        /// Invite into a session that has already started (someone
        /// joining late).
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Record a participant's answer: invited, confirmed, declined, tentative, waitlisted.
    Rsvp {
        id: i64,
        participant: String,
        #[arg(value_parser = parse_rsvp)]
        answer: Rsvp,
    },
    /// Record attendance (attended, late, no-show, cancelled) and the incentive.
    Attendance {
        id: i64,
        participant: String,
        #[arg(value_parser = parse_attendance)]
        attendance: Attendance,
        /// The incentive, e.g. 50 or 49.90.
        #[arg(long, value_parser = parse_amount)]
        incentive: Option<i64>,
        /// The incentive has been paid.
        #[arg(long)]
        paid: bool,
    },
    /// When reminders go before a session (default 24 and 2 hours).
    Reminders {
        /// Hours before the start, e.g. 24,2.
        #[arg(long, value_delimiter = ',')]
        hours: Option<Vec<u32>>,
    },
}

pub async fn staff_cmd(panel: &Panel, cmd: StaffCmd) -> Result<ExitCode, Error> {
    match cmd {
        StaffCmd::Add {
            name,
            email,
            lead,
            title,
            role,
            tz,
        } => {
            let s = staff::add(
                panel,
                &StaffInput {
                    name,
                    email,
                    title,
                    role: staff::Role::parse(&role)?,
                    lead,
                    time_zone: tz,
                },
            )
            .await?;
            out!("{}", s.id);
        }
        StaffCmd::List { json } => {
            let all = staff::list(panel).await?;
            if json {
                print_json(&all);
            } else {
                for s in &all {
                    let lead = s
                        .lead
                        .and_then(|l| all.iter().find(|o| o.id == l))
                        .map(|l| format!(" (lead: {})", l.name))
                        .unwrap_or_default();
                    let gone = if s.active { "" } else { " (gone)" };
                    out!(
                        "{:>5}  {}  <{}>  {}  {}{lead}{gone}",
                        s.id,
                        s.name,
                        s.email,
                        s.role,
                        s.title
                    );
                }
            }
        }
        StaffCmd::Edit {
            email,
            name,
            new_email,
            title,
            role,
            lead,
            tz,
        } => {
            let all = staff::list(panel).await?;
            let s = staff::by_email(panel, &email).await?;
            let lead_now = s
                .lead
                .and_then(|l| all.iter().find(|o| o.id == l))
                .map(|l| l.email.clone());
            let input = StaffInput {
                name: name.unwrap_or(s.name),
                email: new_email.unwrap_or(s.email),
                title: title.unwrap_or(s.title),
                role: match role {
                    Some(r) => staff::Role::parse(&r)?,
                    None => s.role,
                },
                lead: lead.or(lead_now),
                time_zone: tz.or(s.time_zone),
            };
            let s = staff::update(panel, s.id, &input).await?;
            out!("{} <{}> changed", s.name, s.email);
        }
        StaffCmd::Deactivate { email } => {
            let s = staff::by_email(panel, &email).await?;
            let s = staff::deactivate(panel, s.id).await?;
            out!(
                "{} <{}> is marked as gone: given nothing new, signed out",
                s.name,
                s.email
            );
        }
        StaffCmd::Reactivate { email } => {
            let s = staff::by_email(panel, &email).await?;
            let s = staff::reactivate(panel, s.id).await?;
            out!("{} <{}> is back", s.name, s.email);
        }
        StaffCmd::SetRole { email, role } => {
            let s = staff::set_role(panel, &email, staff::Role::parse(&role)?).await?;
            out!("{} <{}> is now {}", s.name, s.email, s.role);
        }
        StaffCmd::SetPassword { email } => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| Error::File {
                    path: "standard input".into(),
                    reason: e.to_string(),
                })?;
            let password = line.trim_end_matches(['\n', '\r']);
            let s = panelkeeper::accounts::set_password(panel, &email, password).await?;
            out!("{} <{}> can sign in with the new password", s.name, s.email);
        }
        StaffCmd::Invite { email, public_url } => {
            if let Some(url) = public_url {
                panelkeeper::accounts::set_server_address(panel, &url).await?;
            }
            let person = staff::by_email(panel, &email).await?;
            let sent = panelkeeper::accounts::invite(panel, person.id).await?;
            out!(
                "invitation to {} <{}> queued (message {}); its link works once, until {}",
                sent.staff.name,
                sent.staff.email,
                sent.message,
                sent.expires_at.format("%Y-%m-%d %H:%M UTC")
            );
        }
        StaffCmd::Me { email: Some(email) } => {
            let s = staff::by_email(panel, &email).await?;
            let s = staff::set_current(panel, s.id).await?;
            out!("this computer's user is now {} <{}>", s.name, s.email);
        }
        StaffCmd::Me { email: None } => match staff::current(panel).await? {
            Some(s) => out!("{} <{}>", s.name, s.email),
            None => out!("not set (staff me EMAIL)"),
        },
    }
    Ok(ExitCode::SUCCESS)
}

fn when(s: &Session) -> String {
    format!(
        "{} {} ({} min)",
        s.local_start.format("%a %Y-%m-%d %H:%M"),
        s.time_zone,
        (s.ends_at - s.starts_at).num_minutes()
    )
}

fn print_session_line(s: &Session) {
    let c = s.counts;
    let state = match s.status {
        SessionStatus::Scheduled if s.completed_at.is_some() => "  COMPLETE".to_string(),
        SessionStatus::Scheduled => String::new(),
        SessionStatus::Cancelled => "  CANCELLED".to_string(),
    };
    out!(
        "{:>5}  {}  \"{}\"  {} confirmed of {} wanted ({} seats), {} on the roster{state}",
        s.id,
        when(s),
        s.title,
        c.confirmed,
        s.over_recruit,
        s.seats,
        c.invited + c.confirmed + c.tentative + c.waitlisted + c.declined,
    );
}

fn print_invites(r: &InviteReport) {
    let verb = if r.preview { "would invite" } else { "invited" };
    out!("{verb} {}:", r.invited.len());
    for i in &r.invited {
        out!(
            "  {:>7}  {}  <{}>  ({})",
            i.id,
            i.name,
            i.email,
            i.time_zone
        );
    }
    if r.excluded_total == 0 {
        out!("excluded 0");
    } else {
        out!(
            "excluded {} ({}):",
            r.excluded_total,
            governance::by_rule_text(&r.excluded_by_rule)
        );
    }
    for e in &r.excluded {
        let reasons: Vec<String> = e.reasons.iter().map(|r| r.to_string()).collect();
        out!("  {:>7}  {}: {}", e.id, e.name, reasons.join("; "));
    }
    if r.beyond_limit > 0 {
        out!("{} more eligible beyond the limit", r.beyond_limit);
    }
    if !r.preview {
        out!(
            "{} invitations queued (outbox send delivers them)",
            r.queued
        );
    }
}

pub async fn sessions_cmd(panel: &Panel, cmd: SessionsCmd) -> Result<ExitCode, Error> {
    match cmd {
        SessionsCmd::Create(c) => {
            let s = sessions::create(
                panel,
                &SessionInput {
                    study: c.study,
                    title: c.title,
                    start: Some(c.start),
                    time_zone: c.tz,
                    minutes: c.minutes,
                    place: c.place,
                    moderator: c.moderator,
                    observers: c.observers,
                    seats: c.seats,
                    over_recruit: c.over_recruit,
                    floaters: c.floaters,
                    allow_double_booking: c.allow_double_booking,
                    consent: c.consent,
                },
            )
            .await?;
            out!("{}", s.id);
        }
        SessionsCmd::List {
            from,
            to,
            all,
            json,
        } => {
            let today = panel
                .now()
                .date_naive()
                .and_hms_opt(0, 0, 0)
                .expect("midnight")
                .and_utc();
            let list = sessions::list(
                panel,
                &SessionQuery {
                    from: if all { from } else { from.or(Some(today)) },
                    to,
                    include_cancelled: all,
                    limit: None,
                },
            )
            .await?;
            if json {
                print_json(&list);
            } else {
                for s in &list {
                    print_session_line(s);
                }
            }
        }
        SessionsCmd::Show { id, json } => {
            let d = sessions::detail(panel, SessionId(id)).await?;
            if json {
                print_json(&d);
                return Ok(ExitCode::SUCCESS);
            }
            let s = &d.session;
            out!(
                "session {}: \"{}\"{}",
                s.id,
                s.title,
                if s.study.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", s.study)
                }
            );
            out!(
                "when:      {} = {} UTC",
                when(s),
                s.starts_at.format("%Y-%m-%d %H:%M")
            );
            if !s.place.is_empty() {
                out!("where:     {}", s.place);
            }
            out!("moderator: {} <{}>", s.moderator.name, s.moderator.email);
            if !s.observers.is_empty() {
                let names: Vec<&str> = s.observers.iter().map(|o| o.name.as_str()).collect();
                out!("observers: {}", names.join(", "));
            }
            let c = s.counts;
            out!(
                "seats:     {} confirmed of {} wanted for {} seats; waitlist {} of {}; {} tentative, {} invited, {} declined",
                c.confirmed,
                s.over_recruit,
                s.seats,
                c.waitlisted,
                s.floaters,
                c.tentative,
                c.invited,
                c.declined
            );
            if let Some(topic) = &s.consent_topic {
                out!("consent:   \"{topic}\" required (its current version)");
            }
            if let Some(at) = s.completed_at {
                out!("complete since {}", at.format("%Y-%m-%d %H:%M UTC"));
            } else if s.unowned_issues > 0 {
                out!(
                    "{} issue(s) without an owner: assign them before completing",
                    s.unowned_issues
                );
            }
            if let SessionStatus::Cancelled = s.status {
                out!(
                    "CANCELLED{}",
                    s.cancel_reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                );
            }
            out!("roster:");
            for e in &d.roster {
                let attendance = e
                    .attendance
                    .map(|a| format!("  {}", a.as_str()))
                    .unwrap_or_default();
                let incentive = e
                    .incentive_cents
                    .map(|c| {
                        format!(
                            "  incentive {}.{:02}{}",
                            c / 100,
                            c % 100,
                            if e.incentive_paid { " paid" } else { "" }
                        )
                    })
                    .unwrap_or_default();
                let consent = match (&s.consent_topic, e.consent_version) {
                    (Some(_), Some(v)) => format!("  consent v{v}"),
                    (Some(_), None) => "  no consent".to_string(),
                    _ => String::new(),
                };
                let offered = e
                    .offered_at
                    .filter(|_| e.rsvp == sessions::Rsvp::Waitlisted)
                    .map(|at| format!("  offered a place {}", at.format("%Y-%m-%d %H:%M UTC")))
                    .unwrap_or_default();
                out!(
                    "  {:>7}  {}  <{}>  {}{attendance}{incentive}{consent}{offered}",
                    e.participant,
                    e.name,
                    e.email.as_deref().unwrap_or("-"),
                    e.rsvp.as_str()
                );
            }
        }
        SessionsCmd::Reschedule {
            id,
            start,
            minutes,
            allow_double_booking,
        } => {
            let s =
                sessions::reschedule(panel, SessionId(id), start, minutes, allow_double_booking)
                    .await?;
            out!(
                "session {} moved to {}; updated invitations queued",
                s.id,
                when(&s)
            );
        }
        SessionsCmd::Complete { id } => {
            let s = sessions::complete(panel, SessionId(id)).await?;
            out!("session {} complete; its report is final", s.id);
        }
        SessionsCmd::Cancel { id, reason } => {
            let s = sessions::cancel(panel, SessionId(id), reason.as_deref()).await?;
            out!("session {} cancelled; cancellations queued", s.id);
        }
        SessionsCmd::Invite {
            id,
            screener,
            limit,
            participants,
            preview,
            allow_double_booking,
            force,
            json,
        } => {
            let invitees = match screener {
                Some(name) => Invitees::Screener { name, limit },
                None => Invitees::Participants { keys: participants },
            };
            let report = roster::invite(
                panel,
                SessionId(id),
                &InviteRequest {
                    invitees,
                    allow_double_booking,
                    preview,
                    allow_started: force,
                    excluded_limit: None,
                },
            )
            .await?;
            if json {
                print_json(&report);
            } else {
                print_invites(&report);
            }
        }
        SessionsCmd::Rsvp {
            id,
            participant,
            answer,
        } => {
            let e = roster::rsvp(panel, SessionId(id), &participant, answer).await?;
            if e.rsvp != answer {
                out!(
                    "{}: {} (the session has all its confirmations)",
                    e.name,
                    e.rsvp.as_str()
                );
            } else {
                out!("{}: {}", e.name, e.rsvp.as_str());
            }
        }
        SessionsCmd::Attendance {
            id,
            participant,
            attendance,
            incentive,
            paid,
        } => {
            let e = roster::attendance(
                panel,
                SessionId(id),
                &participant,
                &AttendanceInput {
                    attendance: Some(attendance),
                    incentive_cents: incentive,
                    incentive_paid: paid.then_some(true),
                },
            )
            .await?;
            out!(
                "{}: {}",
                e.name,
                e.attendance.map(|a| a.as_str()).unwrap_or("-")
            );
        }
        SessionsCmd::Reminders { hours } => {
            let plan = match hours {
                Some(h) => {
                    roster::set_reminders(
                        panel,
                        &ReminderPlan {
                            minutes_before: h.iter().map(|h| h * 60).collect(),
                        },
                    )
                    .await?
                }
                None => roster::reminders(panel).await?,
            };
            let hours: Vec<String> = plan
                .minutes_before
                .iter()
                .map(|m| {
                    if m % 60 == 0 {
                        format!("{} h", m / 60)
                    } else {
                        format!("{m} min")
                    }
                })
                .collect();
            out!("reminders {} before the start", hours.join(" and "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_become_cents() {
        assert_eq!(parse_amount("50"), Ok(5000));
        assert_eq!(parse_amount("49.9"), Ok(4990));
        assert_eq!(parse_amount("49.95"), Ok(4995));
        assert!(parse_amount("-5").is_err());
        assert!(parse_amount("4.999").is_err());
        assert!(parse_amount("ten").is_err());
    }
}
