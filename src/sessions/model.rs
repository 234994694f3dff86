//! The sessions domain's types: sessions as planned and shown, rosters,
//! RSVPs and attendance.

use super::staff::Staff;
use crate::participants::ParticipantId;
use crate::participants::governance::Excluded;
use crate::{Error, TimeZone};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use ts_rs::TS;

/// A session's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
pub struct SessionId(#[ts(type = "number")] pub i64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Whether a session is going ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Scheduled,
    Cancelled,
}

/// A participant's answer to an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Rsvp {
    Invited,
    Confirmed,
    Declined,
    Tentative,
    /// Confirmed beyond the over-recruit target: a floater on the waitlist.
    Waitlisted,
}

impl Rsvp {
    pub const ALL: [Rsvp; 5] = [
        Rsvp::Invited,
        Rsvp::Confirmed,
        Rsvp::Declined,
        Rsvp::Tentative,
        Rsvp::Waitlisted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rsvp::Invited => "invited",
            Rsvp::Confirmed => "confirmed",
            Rsvp::Declined => "declined",
            Rsvp::Tentative => "tentative",
            Rsvp::Waitlisted => "waitlisted",
        }
    }
}

impl FromStr for Rsvp {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let wanted = s.trim().to_lowercase();
        Rsvp::ALL
            .into_iter()
            .find(|r| r.as_str() == wanted)
            .ok_or_else(|| {
                Error::invalid(
                    "RSVP",
                    s,
                    "must be invited, confirmed, declined, tentative or waitlisted",
                )
            })
    }
}

/// Whether a participant came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Attendance {
    Attended,
    Late,
    NoShow,
    /// Cancelled their place.
    Cancelled,
}

impl Attendance {
    pub const ALL: [Attendance; 4] = [
        Attendance::Attended,
        Attendance::Late,
        Attendance::NoShow,
        Attendance::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Attendance::Attended => "attended",
            Attendance::Late => "late",
            Attendance::NoShow => "no_show",
            Attendance::Cancelled => "cancelled",
        }
    }
}

impl FromStr for Attendance {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let wanted = s.trim().to_lowercase().replace('-', "_");
        Attendance::ALL
            .into_iter()
            .find(|a| a.as_str() == wanted)
            .ok_or_else(|| {
                Error::invalid(
                    "attendance",
                    s,
                    "must be attended, late, no-show or cancelled",
                )
            })
    }
}

/// How full a session is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RosterCounts {
    pub invited: u32,
    pub confirmed: u32,
    pub tentative: u32,
    pub declined: u32,
    pub waitlisted: u32,
    pub attended: u32,
    pub no_shows: u32,
}

/// One quota cell of the screener a session invites through: how many on
/// the roster have this value, against the cell's limit.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct QuotaCell {
    pub attribute: String,
    pub value: String,
    pub max: u32,
    /// Invited and not declined.
    pub invited: u32,
    pub confirmed: u32,
}

/// A session as planned.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub id: SessionId,
    /// The calendar UID, the same on every update.
    pub uid: String,
    pub study: String,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// When attendance can first be taken ([`ATTENDANCE_AHEAD`] before the
    /// start).
    pub attendance_from: DateTime<Utc>,
    /// The IANA zone the session is planned in.
    pub time_zone: TimeZone,
    /// Start in the session's zone, for display ("2027-03-16T10:00:00").
    #[ts(type = "string")]
    pub local_start: NaiveDateTime,
    pub place: String,
    pub moderator: Staff,
    pub observers: Vec<Staff>,
    pub seats: u32,
    /// Confirmations wanted (at least the seats).
    pub over_recruit: u32,
    /// Places on the waitlist.
    pub floaters: u32,
    /// The calendar SEQUENCE: raised by every reschedule and the cancellation.
    pub sequence: i64,
    pub status: SessionStatus,
    pub cancel_reason: Option<String>,
    pub counts: RosterCounts,
    /// The screener last invited through, if any.
    pub screener: Option<String>,
    /// When the session was marked complete (its report is then final).
    pub completed_at: Option<DateTime<Utc>>,
    /// Issues raised in the session that nobody owns yet.
    pub unowned_issues: u32,
    /// The consent people must have accepted (its current version) to be
    /// invited.
    pub consent_topic: Option<String>,
}

/// How long before its start a session's attendance can be taken: people
/// arriving early, a cancellation that morning.
pub const ATTENDANCE_AHEAD: chrono::Duration = chrono::Duration::hours(1);

/// A session as entered: the start is a wall-clock time in `time_zone`.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionInput {
    pub study: String,
    pub title: String,
    /// Wall-clock start in `time_zone`, e.g. 2027-03-16T10:00.
    #[ts(type = "string")]
    pub start: Option<NaiveDateTime>,
    pub time_zone: String,
    pub minutes: u32,
    pub place: String,
    /// The moderator's email.
    pub moderator: String,
    /// Observers' emails.
    pub observers: Vec<String>,
    pub seats: u32,
    /// Confirmations wanted; the seats when absent.
    pub over_recruit: Option<u32>,
    pub floaters: u32,
    /// Schedule even if the moderator is in another session at that time.
    pub allow_double_booking: bool,
    /// A consent topic people must have accepted (the current version of
    /// its text) before they are invited.
    pub consent: Option<String>,
}

/// One person on a session's roster.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RosterEntry {
    pub participant: ParticipantId,
    pub name: String,
    pub email: Option<String>,
    pub time_zone: Option<String>,
    pub rsvp: Rsvp,
    pub attendance: Option<Attendance>,
    /// In cents of the panel's currency.
    pub incentive_cents: Option<i64>,
    pub incentive_paid: bool,
    pub invited_at: DateTime<Utc>,
    /// The version of the session's consent they accepted, if it needs one.
    pub consent_version: Option<u32>,
    /// When they joined the waitlist (its order).
    pub waitlisted_at: Option<DateTime<Utc>>,
    /// When a place that opened was offered to them.
    pub offered_at: Option<DateTime<Utc>>,
}

/// A session with its roster.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionDetail {
    pub session: Session,
    pub roster: Vec<RosterEntry>,
    /// The screener's quota cells, filled by the roster.
    pub quota_cells: Vec<QuotaCell>,
}

/// Who to invite.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(tag = "by", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Invitees {
    /// Everyone a screener and the contact rules allow, up to `limit`.
    Screener { name: String, limit: Option<u32> },
    /// These people (emails or ids), each checked against the contact rules.
    Participants { keys: Vec<String> },
}

/// An invitation request.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct InviteRequest {
    pub invitees: Invitees,
    /// Invite even people in another session at an overlapping time.
    #[serde(default)]
    pub allow_double_booking: bool,
    /// Only say who would be invited and who is excluded; send nothing.
    #[serde(default)]
    pub preview: bool,
    /// Invite into a session that has already started (someone joining
    /// late); refused otherwise.
    #[serde(default)]
    pub allow_started: bool,
    /// List at most this many of the people excluded (the counts cover
    /// everyone).
    #[serde(default)]
    pub excluded_limit: Option<u32>,
}

/// Someone invited (or, in a preview, who would be).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Invitee {
    pub id: ParticipantId,
    pub name: String,
    pub email: String,
    /// The zone their invitation shows the time in.
    pub time_zone: String,
}

/// What an invitation run did.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct InviteReport {
    pub session: SessionId,
    pub preview: bool,
    pub invited: Vec<Invitee>,
    /// The people excluded, in id order: all of them, or the first
    /// [`InviteRequest::excluded_limit`].
    pub excluded: Vec<Excluded>,
    /// How many people are excluded, listed or not.
    pub excluded_total: u32,
    /// How many of them each rule excludes, by the rule's name.
    pub excluded_by_rule: BTreeMap<String, u32>,
    /// Eligible people left out by the limit.
    pub beyond_limit: u32,
    /// Messages queued (invitations).
    pub queued: u32,
}

/// Which sessions a listing shows.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionQuery {
    /// Sessions ending after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Sessions starting before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Include cancelled sessions.
    pub include_cancelled: bool,
    pub limit: Option<u32>,
}
