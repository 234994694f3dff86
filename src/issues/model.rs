//! The issues domain's types: issues, their state machine, service levels,
//! contacts and the audit trail.

use crate::notes::NoteId;
use crate::participants::ParticipantId;
use crate::sessions::SessionId;
use crate::sessions::staff::StaffId;
use crate::{Error, TimeZone};
use chrono::offset::LocalResult;
use chrono::{DateTime, Datelike, Duration, TimeZone as _, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use ts_rs::TS;

/// An issue's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
pub struct IssueId(#[ts(type = "number")] pub i64);

impl fmt::Display for IssueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How much an issue matters; it sets the service level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Normal,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Normal,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Normal => "normal",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl FromStr for Severity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let wanted = s.trim().to_lowercase();
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == wanted)
            .ok_or_else(|| Error::invalid("severity", s, "must be low, normal, high or critical"))
    }
}

/// Where an issue is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum IssueStatus {
    Open,
    /// The owner has reached the participant.
    Contacted,
    /// The owner asked the participant a question and waits for the
    /// answer: the service-level clock stands still until it comes.
    Waiting,
    Resolved,
    /// Closed without a fix, with the reason.
    WontFix,
    Closed,
}

impl IssueStatus {
    pub const ALL: [IssueStatus; 6] = [
        IssueStatus::Open,
        IssueStatus::Contacted,
        IssueStatus::Waiting,
        IssueStatus::Resolved,
        IssueStatus::WontFix,
        IssueStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IssueStatus::Open => "open",
            IssueStatus::Contacted => "contacted",
            IssueStatus::Waiting => "waiting",
            IssueStatus::Resolved => "resolved",
            IssueStatus::WontFix => "wont_fix",
            IssueStatus::Closed => "closed",
        }
    }

    /// Whether the promise is still to be kept.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            IssueStatus::Open | IssueStatus::Contacted | IssueStatus::Waiting
        )
    }

    /// Whether its service-level clock runs (not while waiting on the
    /// participant).
    pub fn clock_runs(self) -> bool {
        matches!(self, IssueStatus::Open | IssueStatus::Contacted)
    }

    /// Whether an issue in this status with these due times is past one it
    /// has not met at `now`.
    pub(crate) fn overdue(
        self,
        first_contact_due: DateTime<Utc>,
        resolution_due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> bool {
        self.clock_runs()
            && ((self == IssueStatus::Open && now > first_contact_due) || now > resolution_due)
    }

    /// The one place the allowed transitions live: `None` when `self` may
    /// become `to`, else why not.
    pub fn refusal(self, to: IssueStatus) -> Option<String> {
        use IssueStatus::*;
        let allowed = matches!(
            (self, to),
            (Open, Contacted)
                | (Open | Contacted, Waiting)
                | (Waiting, Contacted)
                | (Contacted | Waiting, Resolved)
                | (Contacted | Waiting, WontFix)
                | (Resolved, Closed)
                | (WontFix, Closed)
                | (Resolved | WontFix | Closed, Open)
        );
        if allowed {
            return None;
        }
        Some(match (self, to) {
            (Open, Resolved | WontFix) => {
                "the participant has not been contacted yet: log a contact first".to_string()
            }
            (Open | Contacted | Waiting, Closed) => {
                "only a resolved or won't-fix issue can be closed".to_string()
            }
            (a, b) if a == b => format!("the issue is already {}", a.as_str().replace('_', " ")),
            (a, b) => format!(
                "an issue cannot go from {} to {}",
                a.as_str().replace('_', " "),
                b.as_str().replace('_', " ")
            ),
        })
    }
}

impl FromStr for IssueStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let wanted = s
            .trim()
            .to_lowercase()
            .replace(['-', ' ', '\''], "_")
            .replace("wontfix", "wont_fix");
        IssueStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == wanted)
            .ok_or_else(|| {
                Error::invalid(
                    "status",
                    s,
                    "must be open, contacted, resolved, wont_fix or closed",
                )
            })
    }
}

/// How a participant was reached (or tried).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ContactVia {
    Email,
    Phone,
    Meeting,
}

impl ContactVia {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactVia::Email => "email",
            ContactVia::Phone => "phone",
            ContactVia::Meeting => "meeting",
        }
    }
}

impl FromStr for ContactVia {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_lowercase().as_str() {
            "email" | "e-mail" => Ok(ContactVia::Email),
            "phone" | "call" => Ok(ContactVia::Phone),
            "meeting" => Ok(ContactVia::Meeting),
            _ => Err(Error::invalid(
                "contact",
                s,
                "must be email, phone or meeting",
            )),
        }
    }
}

/// Time allowed for one severity, in minutes (of calendar or business
/// days, as [`ServiceLevels::days`] says).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ServiceLevel {
    pub first_contact_minutes: u32,
    pub resolution_minutes: u32,
}

/// A service level as stored: in minutes, or in hours as panels saved it
/// before levels under an hour could be set.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredLevel {
    first_contact_minutes: Option<u32>,
    resolution_minutes: Option<u32>,
    first_contact_hours: Option<u32>,
    resolution_hours: Option<u32>,
}

fn minutes(minutes: Option<u32>, hours: Option<u32>, default: u32) -> u32 {
    minutes
        .or(hours.map(|h| h.saturating_mul(60)))
        .unwrap_or(default)
}

impl From<StoredLevel> for ServiceLevel {
    fn from(s: StoredLevel) -> Self {
        ServiceLevel {
            first_contact_minutes: minutes(s.first_contact_minutes, s.first_contact_hours, 24 * 60),
            resolution_minutes: minutes(s.resolution_minutes, s.resolution_hours, 5 * 24 * 60),
        }
    }
}

/// Service levels per severity, and how owners are reminded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ServiceLevels {
    pub low: ServiceLevel,
    pub normal: ServiceLevel,
    pub high: ServiceLevel,
    pub critical: ServiceLevel,
    /// The owner is nudged this long before a due time (or halfway through
    /// a shorter window), in minutes.
    pub nudge_minutes_before: u32,
    /// After a breach, the escalation is repeated this often (in minutes)
    /// until someone acts.
    pub escalation_repeat_minutes: u32,
    /// Whether the time runs every day or only Monday to Friday (in the
    /// session's time zone).
    pub days: DayCount,
}

/// Service levels as stored (see [`StoredLevel`]).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredLevels {
    low: ServiceLevel,
    normal: ServiceLevel,
    high: ServiceLevel,
    critical: ServiceLevel,
    nudge_minutes_before: Option<u32>,
    nudge_hours_before: Option<u32>,
    escalation_repeat_minutes: Option<u32>,
    escalation_repeat_hours: Option<u32>,
    #[serde(default)]
    days: DayCount,
}

impl<'de> Deserialize<'de> for ServiceLevel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        StoredLevel::deserialize(d).map(Into::into)
    }
}

impl<'de> Deserialize<'de> for ServiceLevels {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        StoredLevels::deserialize(d).map(Into::into)
    }
}

impl From<StoredLevels> for ServiceLevels {
    fn from(s: StoredLevels) -> Self {
        ServiceLevels {
            low: s.low,
            normal: s.normal,
            high: s.high,
            critical: s.critical,
            nudge_minutes_before: minutes(s.nudge_minutes_before, s.nudge_hours_before, 24 * 60),
            escalation_repeat_minutes: minutes(
                s.escalation_repeat_minutes,
                s.escalation_repeat_hours,
                24 * 60,
            ),
            days: s.days,
        }
    }
}

/// Which days service-level time runs on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DayCount {
    #[default]
    Calendar,
    /// Monday to Friday only: a weekend stops the clock.
    Business,
}

impl FromStr for DayCount {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_lowercase().as_str() {
            "calendar" => Ok(DayCount::Calendar),
            "business" => Ok(DayCount::Business),
            _ => Err(Error::invalid("days", s, "must be calendar or business")),
        }
    }
}

impl Default for ServiceLevels {
    fn default() -> Self {
        const DAY: u32 = 24 * 60;
        let days = |first: u32, resolve: u32| ServiceLevel {
            first_contact_minutes: first * DAY,
            resolution_minutes: resolve * DAY,
        };
        ServiceLevels {
            low: days(5, 20),
            normal: days(2, 10),
            high: days(1, 5),
            critical: ServiceLevel {
                first_contact_minutes: 4 * 60,
                resolution_minutes: 2 * DAY,
            },
            nudge_minutes_before: DAY,
            escalation_repeat_minutes: DAY,
            days: DayCount::Calendar,
        }
    }
}

impl ServiceLevels {
    /// Refuses service levels no promise can keep: a first contact under a
    /// minute, a resolution sooner than the first contact, anything over a
    /// year, an escalation repeated more often than every minute.
    pub fn check(&self) -> Result<(), Error> {
        // A year is the longest any promise may take; a minute the shortest
        // (the app looks for breaches every minute).
        const YEAR: u32 = 366 * 24 * 60;
        for s in Severity::ALL {
            let l = self.for_severity(s);
            if l.first_contact_minutes == 0 || l.resolution_minutes < l.first_contact_minutes {
                return Err(Error::invalid(
                    "service level",
                    s.as_str(),
                    "needs a first contact of at least a minute, and a resolution no sooner",
                ));
            }
            if l.resolution_minutes > YEAR {
                return Err(Error::invalid(
                    "service level",
                    s.as_str(),
                    format!(
                        "allows {} days; the most is a year (366 days)",
                        l.resolution_minutes / (24 * 60)
                    ),
                ));
            }
        }
        for (field, minutes) in [
            ("nudge before", self.nudge_minutes_before),
            ("escalation repeat", self.escalation_repeat_minutes),
        ] {
            if minutes > YEAR {
                return Err(Error::invalid(
                    field,
                    format!("{minutes} minutes"),
                    "is more than a year (366 days)",
                ));
            }
        }
        if self.escalation_repeat_minutes == 0 {
            return Err(Error::invalid(
                "escalation repeat",
                "0 minutes",
                "must be at least a minute",
            ));
        }
        Ok(())
    }

    pub fn for_severity(&self, s: Severity) -> ServiceLevel {
        match s {
            Severity::Low => self.low,
            Severity::Normal => self.normal,
            Severity::High => self.high,
            Severity::Critical => self.critical,
        }
    }

    /// The first-contact and resolution due times of an issue of `severity`
    /// raised at `start` in a session held in `zone`.
    pub fn dues(
        &self,
        severity: Severity,
        start: DateTime<Utc>,
        zone: TimeZone,
    ) -> (DateTime<Utc>, DateTime<Utc>) {
        let level = self.for_severity(severity);
        let zone = zone.tz();
        (
            self.after(start, level.first_contact_minutes, zone),
            self.after(start, level.resolution_minutes, zone),
        )
    }

    /// The instant `minutes` of service time after `start`. On business
    /// days the time of Saturdays and Sundays in `zone` does not count.
    pub fn after(&self, start: DateTime<Utc>, minutes: u32, zone: Tz) -> DateTime<Utc> {
        let total = Duration::minutes(minutes as i64);
        if self.days == DayCount::Calendar {
            return start + total;
        }
        let mut local = start.with_timezone(&zone).naive_local();
        let mut remaining = total;
        loop {
            let midnight = (local.date() + Duration::days(1))
                .and_hms_opt(0, 0, 0)
                .expect("midnight exists");
            if matches!(local.weekday(), Weekday::Sat | Weekday::Sun) {
                local = midnight;
                continue;
            }
            let today = midnight - local;
            if remaining <= today {
                local += remaining;
                break;
            }
            remaining -= today;
            local = midnight;
        }
        match zone.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            // A wall-clock time the clocks skipped: the hour after it.
            LocalResult::None => zone
                .from_local_datetime(&(local + Duration::hours(1)))
                .earliest()
                .map_or(start + total, |t| t.with_timezone(&Utc)),
        }
    }
}

/// An issue as listed and shown.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    pub id: IssueId,
    pub session: SessionId,
    pub session_title: String,
    pub participant: ParticipantId,
    pub participant_name: String,
    pub participant_email: Option<String>,
    pub note: Option<NoteId>,
    pub summary: String,
    pub detail: String,
    pub category: String,
    pub severity: Severity,
    pub owner: Option<StaffId>,
    pub owner_name: Option<String>,
    pub status: IssueStatus,
    pub first_contact_due: DateTime<Utc>,
    pub resolution_due: DateTime<Utc>,
    pub first_contact_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
    pub handoffs: u32,
    /// How often it was reopened after being resolved or closed.
    pub reopens: u32,
    /// When it was last reopened: its current due times run from then.
    pub reopened_at: Option<DateTime<Utc>>,
    /// Past a due time that has not been met.
    pub overdue: bool,
    pub created_at: DateTime<Utc>,
    /// Waiting on the participant since then (the clock stands still).
    pub waiting_since: Option<DateTime<Utc>>,
}

impl Issue {
    /// Whether the owner still has to reach the participant in this round
    /// of follow-up (since it was raised, or since it was reopened).
    pub fn awaiting_contact(&self) -> bool {
        self.status == IssueStatus::Open
    }

    /// The due time the owner is working to now, and what it is for.
    pub fn next_due(&self) -> (DateTime<Utc>, &'static str) {
        if self.awaiting_contact() {
            (self.first_contact_due, "first contact")
        } else {
            (self.resolution_due, "resolution")
        }
    }
}

/// A new issue, raised from a note or directly.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct IssueInput {
    /// The note it came from: its session and participant come with it.
    pub note: Option<NoteId>,
    /// Without a note: the session.
    pub session: Option<SessionId>,
    /// Without a note (or to name one the note does not): email or id.
    pub participant: Option<String>,
    pub summary: String,
    pub detail: String,
    pub category: String,
    pub severity: Option<Severity>,
    /// The owner's email.
    pub owner: Option<String>,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct IssueEvent {
    pub at: DateTime<Utc>,
    pub actor: Option<String>,
    pub kind: String,
    #[ts(type = "Record<string, unknown>")]
    pub detail: serde_json::Value,
}

/// One attempt to reach the participant.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct IssueContact {
    pub at: DateTime<Utc>,
    pub staff: Option<String>,
    pub via: ContactVia,
    pub outcome: String,
}

/// An issue with its contacts and audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct IssueDetail {
    pub issue: Issue,
    /// How to reach the participant besides email.
    pub participant_phone: Option<String>,
    /// What they said: the note the issue came from, with the notes around it.
    pub notes: Vec<crate::notes::Note>,
    pub contacts: Vec<IssueContact>,
    pub events: Vec<IssueEvent>,
}

/// Which issues a listing shows.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct IssueQuery {
    /// The owner's email.
    pub owner: Option<String>,
    pub status: Option<IssueStatus>,
    /// Only open issues past a due time.
    pub overdue: bool,
    /// Only open ones (open or contacted).
    pub open_only: bool,
    pub session: Option<SessionId>,
    /// Only the issues this participant raised.
    pub participant: Option<ParticipantId>,
    pub sort: IssueSort,
    pub limit: Option<u32>,
}

/// The order issues are listed in; the limit keeps the first of that order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum IssueSort {
    /// Open ones first, by the next due time (the most urgent first).
    #[default]
    Urgent,
    /// The most recently raised first.
    Newest,
    /// The first raised first.
    Oldest,
    /// The most handed off first, then the most urgent.
    MostHandoffs,
}

impl IssueSort {
    /// The ORDER BY terms over a row with `open`, `next_due`, `created_at`,
    /// `handoffs` and `id`.
    pub(crate) fn order_by(self) -> &'static str {
        match self {
            IssueSort::Urgent => "open DESC, next_due, id",
            IssueSort::Newest => "created_at DESC, id DESC",
            IssueSort::Oldest => "created_at, id",
            IssueSort::MostHandoffs => "handoffs DESC, open DESC, next_due, id",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions;

    #[test]
    fn only_the_next_step_is_allowed() {
        use IssueStatus::*;
        assert!(Open.refusal(Contacted).is_none());
        assert!(Contacted.refusal(Resolved).is_none());
        assert!(Contacted.refusal(WontFix).is_none());
        assert!(Resolved.refusal(Closed).is_none());
        assert!(Closed.refusal(Open).is_none());
        assert_eq!(
            Open.refusal(Resolved).as_deref(),
            Some("the participant has not been contacted yet: log a contact first")
        );
        assert_eq!(
            Open.refusal(Closed).as_deref(),
            Some("only a resolved or won't-fix issue can be closed")
        );
        assert_eq!(
            Resolved.refusal(Resolved).as_deref(),
            Some("the issue is already resolved")
        );
        assert!(Contacted.refusal(Open).is_some());
    }

    fn berlin_zone() -> crate::TimeZone {
        crate::TimeZone::parse("Europe/Berlin").unwrap()
    }

    #[test]
    fn business_days_stop_the_clock_over_the_weekend() {
        let berlin = |s: &str| {
            sessions::instant_in(berlin_zone(), s.parse().expect("a local time")).expect("exists")
        };
        let mut levels = ServiceLevels::default();
        let friday = berlin("2027-03-19T16:00:00");
        let (first, resolution) = levels.dues(Severity::High, friday, berlin_zone());
        assert_eq!(first, friday + Duration::hours(24));
        assert_eq!(resolution, friday + Duration::days(5));

        levels.days = DayCount::Business;
        let (first, resolution) = levels.dues(Severity::High, friday, berlin_zone());
        assert_eq!(
            first,
            berlin("2027-03-22T16:00:00"),
            "Friday 16:00 + 24 h is Monday 16:00"
        );
        // Five business days over a weekend that moves the clocks (28 March).
        assert_eq!(resolution, berlin("2027-03-26T16:00:00"));
        let saturday = berlin("2027-03-27T11:00:00");
        let (first, _) = levels.dues(Severity::Critical, saturday, berlin_zone());
        assert_eq!(
            first,
            berlin("2027-03-29T04:00:00"),
            "the clock starts on Monday"
        );
    }
}
