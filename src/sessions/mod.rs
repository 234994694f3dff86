//! Sessions and scheduling: focus groups and panel sessions with an explicit
//! time zone, their moderator and observers ([`staff`]), seats, an
//! over-recruit target and floaters; rescheduling and cancellation.
//!
//! [`roster`] invites people (through screeners and the contact rules),
//! keeps their RSVPs and attendance, and plans reminders; every message
//! goes through the outbox in the same transaction as the change, with a
//! calendar entry from [`ics`]. Invitations, confirmations and attendance
//! are written to the contact history that governance reads. This module
//! does not decide who may be contacted: governance does.

pub mod ics;
pub mod model;
pub mod roster;
pub mod staff;
mod store;

pub use model::{
    Attendance, InviteReport, InviteRequest, Invitee, Invitees, QuotaCell, RosterCounts,
    RosterEntry, Rsvp, Session, SessionDetail, SessionId, SessionInput, SessionQuery,
    SessionStatus,
};

pub(crate) use store::{complete_ended_in, insert_in};

use crate::db::{Conn, instant};
use crate::participants::fields::check_text;
use crate::sessions::staff::StaffId;
use crate::{Error, Panel, Result, TimeZone};
use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone as _, Utc};
use std::collections::HashMap;

/// The instant a wall-clock time in `zone` names, or why it names none or two.
pub fn instant_in(zone: TimeZone, local: NaiveDateTime) -> Result<DateTime<Utc>> {
    match zone.tz().from_local_datetime(&local) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Err(Error::invalid(
            "start",
            local.format("%Y-%m-%d %H:%M").to_string(),
            format!(
                "happens twice in {zone} that day (clocks go back): at {} and at {}; choose another time",
                a.format("%H:%M %Z"),
                b.format("%H:%M %Z")
            ),
        )),
        LocalResult::None => Err(Error::invalid(
            "start",
            local.format("%Y-%m-%d %H:%M").to_string(),
            format!("does not exist in {zone} (clocks go forward that night); choose another time"),
        )),
    }
}

/// The instant a session starting at `start` on the wall clock of `zone`
/// would begin, or why there is none (a zone the tz database does not
/// know, a time the clocks skip or pass twice): what a person sees before
/// a session is saved.
pub fn start_instant(start: NaiveDateTime, zone: &str) -> Result<DateTime<Utc>> {
    instant_in(TimeZone::parse(zone)?, start)
}

/// A session's fields as they are written: checked from a person's input,
/// or generated valid (`demo`).
pub(crate) struct Checked {
    pub study: String,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub time_zone: TimeZone,
    pub place: String,
    pub seats: u32,
    pub over_recruit: u32,
    pub floaters: u32,
}

fn check(input: &SessionInput) -> Result<Checked> {
    let title = check_text("title", &input.title)?;
    if title.is_empty() {
        return Err(Error::invalid("title", "", "is empty"));
    }
    let time_zone = TimeZone::parse(&input.time_zone)?;
    let start = input
        .start
        .ok_or_else(|| Error::invalid("start", "", "is missing"))?;
    if input.minutes == 0 || input.minutes > 24 * 60 {
        return Err(Error::invalid(
            "minutes",
            input.minutes.to_string(),
            "must be between 1 and 1440",
        ));
    }
    if input.seats == 0 {
        return Err(Error::invalid("seats", "0", "must be at least 1"));
    }
    let over_recruit = input.over_recruit.unwrap_or(input.seats);
    if over_recruit < input.seats {
        return Err(Error::invalid(
            "over-recruit",
            over_recruit.to_string(),
            format!("must be at least the {} seats", input.seats),
        ));
    }
    let starts_at = instant_in(time_zone, start)?;
    Ok(Checked {
        study: check_text("study", &input.study)?,
        title,
        starts_at,
        ends_at: starts_at + Duration::minutes(input.minutes as i64),
        time_zone,
        place: check_text("place", &input.place)?,
        seats: input.seats,
        over_recruit,
        floaters: input.floaters,
    })
}

fn clash_error(who: &str, clash: (i64, String, i64)) -> Error {
    let (id, title, starts) = clash;
    Error::conflict(format!(
        "{who} is already in session {id} \"{title}\" at {}, which overlaps; \
         choose another time or allow double-booking",
        instant(starts).format("%Y-%m-%d %H:%M UTC")
    ))
}

/// Plans a session. Returns it with its new id.
pub async fn create(panel: &Panel, input: &SessionInput) -> Result<Session> {
    let c = check(input)?;
    let mut tx = panel.begin().await?;
    let moderator = staff::active_by_email_in(&mut tx, &input.moderator).await?;
    if !input.allow_double_booking
        && let Some(clash) =
            store::moderator_clash(&mut tx, moderator.id, c.starts_at, c.ends_at, None).await?
    {
        return Err(clash_error(
            &format!("the moderator {}", moderator.name),
            clash,
        ));
    }
    let mut observers = Vec::new();
    for o in &input.observers {
        observers.push(staff::active_by_email_in(&mut tx, o).await?.id);
    }
    let consent = match input.consent.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(topic) => {
            let known = crate::participants::consent::topic_exists(&mut tx, topic).await?;
            if !known {
                return Err(Error::invalid(
                    "consent",
                    topic,
                    "has no consent text yet: add one first (consent add TOPIC)",
                ));
            }
            Some(topic.to_string())
        }
    };
    let now = panel.now();
    let mut token = [0u8; 8];
    getrandom::fill(&mut token).map_err(|e| Error::conflict(format!("no randomness: {e}")))?;
    let uid = format!("{}@panelkeeper", hex::encode(token));
    let id = store::insert_in(&mut tx, &uid, &c, moderator.id, consent.as_deref(), now).await?;
    for o in observers {
        store::add_observer(&mut tx, id, o).await?;
    }
    tx.commit().await?;
    get(panel, id).await
}

/// One session, read on the caller's connection (inside its transaction).
pub(crate) async fn get_in(conn: impl Into<Conn<'_>>, id: SessionId) -> Result<Session> {
    let mut conn = conn.into();
    store::get(conn.reborrow(), id).await
}

/// The moderator of each of these sessions, in the caller's connection or
/// transaction.
pub(crate) async fn moderators_in(
    conn: impl Into<Conn<'_>>,
    ids: &[SessionId],
) -> Result<HashMap<SessionId, StaffId>> {
    store::moderators(conn, ids).await
}

/// One session about to change (or its roster), in the caller's write
/// transaction: on a team database its row is locked first, so what is
/// decided on what is read here (a free place, the session's state)
/// cannot be raced by another process; a panel file's write transaction
/// holds the whole file already.
pub(crate) async fn get_for_change(conn: impl Into<Conn<'_>>, id: SessionId) -> Result<Session> {
    let mut conn = conn.into();
    if let Conn::Postgres(c) = conn.reborrow() {
        sqlx::query("SELECT id FROM sessions WHERE id = $1 FOR UPDATE")
            .bind(id.0)
            .fetch_optional(c)
            .await?;
    }
    store::get(conn, id).await
}

/// One session.
pub async fn get(panel: &Panel, id: SessionId) -> Result<Session> {
    let mut conn = panel.conn().await?;
    get_in(&mut conn, id).await
}

/// Sessions in start order.
pub async fn list(panel: &Panel, query: &SessionQuery) -> Result<Vec<Session>> {
    let mut conn = panel.conn().await?;
    store::list(&mut conn, query).await
}

/// A session and its roster.
pub async fn detail(panel: &Panel, id: SessionId) -> Result<SessionDetail> {
    let session = get(panel, id).await?;
    let roster = roster::entries(panel, id).await?;
    let quota_cells = roster::quota_cells(panel, &session).await?;
    Ok(SessionDetail {
        session,
        roster,
        quota_cells,
    })
}

/// Moves a session to a new wall-clock start in its zone (and length, if
/// given). Everyone still coming gets an updated calendar entry (a higher
/// SEQUENCE); reminders are planned again.
pub async fn reschedule(
    panel: &Panel,
    id: SessionId,
    start: NaiveDateTime,
    minutes: Option<u32>,
    allow_double_booking: bool,
) -> Result<Session> {
    let mut tx = panel.begin().await?;
    let session = get_for_change(&mut tx, id).await?;
    if session.status == SessionStatus::Cancelled {
        return Err(Error::conflict(format!("session {id} was cancelled")));
    }
    let minutes = minutes.unwrap_or(((session.ends_at - session.starts_at).num_minutes()) as u32);
    if minutes == 0 || minutes > 24 * 60 {
        return Err(Error::invalid(
            "minutes",
            minutes.to_string(),
            "must be between 1 and 1440",
        ));
    }
    let starts_at = instant_in(session.time_zone, start)?;
    let ends_at = starts_at + Duration::minutes(minutes as i64);
    if !allow_double_booking {
        if let Some(clash) =
            store::moderator_clash(&mut tx, session.moderator.id, starts_at, ends_at, Some(id))
                .await?
        {
            return Err(clash_error(
                &format!("the moderator {}", session.moderator.name),
                clash,
            ));
        }
        if let Some((name, clash)) =
            roster::participant_clash(&mut tx, id, starts_at, ends_at).await?
        {
            return Err(clash_error(&name, clash));
        }
    }
    store::move_to(&mut tx, id, starts_at, ends_at, panel.now()).await?;
    let moved = get_in(&mut tx, id).await?;
    roster::send_updates(&mut tx, panel.now(), &moved).await?;
    // Bookings count for the contact rules from the session's start.
    crate::participants::touch(&mut tx).await?;
    tx.commit().await?;
    panel.wake_mail();
    get(panel, id).await
}

/// Marks a session complete. Refused while any issue raised in it has no
/// owner: every promise made in the room has someone to keep it first.
pub async fn complete(panel: &Panel, id: SessionId) -> Result<Session> {
    let by = staff::current(panel).await?.map(|s| s.id);
    let now = panel.now();
    let mut tx = panel.begin().await?;
    let session = get_for_change(&mut tx, id).await?;
    if session.status == SessionStatus::Cancelled {
        return Err(Error::conflict(format!(
            "session {id} was cancelled; a cancelled session cannot be completed"
        )));
    }
    if session.completed_at.is_some() {
        return Err(Error::conflict(format!("session {id} is already complete")));
    }
    if session.starts_at > now {
        return Err(Error::conflict(format!(
            "session {id} has not started yet (it starts {})",
            session.starts_at.format("%Y-%m-%d %H:%M UTC")
        )));
    }
    let unowned = crate::issues::store::unowned_in(&mut tx, id).await?;
    if !unowned.is_empty() {
        let list = unowned
            .iter()
            .map(|(n, summary)| format!("#{n} \"{summary}\""))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Error::conflict(format!(
            "session {id} cannot be completed: {} without an owner ({list}); assign {} first",
            if unowned.len() == 1 {
                "an issue is"
            } else {
                "issues are"
            },
            if unowned.len() == 1 { "it" } else { "them" },
        )));
    }
    store::mark_complete(&mut tx, id, by, now).await?;
    let done = get_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(done)
}

/// Cancels a session: everyone still coming gets a calendar cancellation,
/// and waiting reminders are withdrawn.
pub async fn cancel(panel: &Panel, id: SessionId, reason: Option<&str>) -> Result<Session> {
    let reason = reason.map(|r| check_text("reason", r)).transpose()?;
    let mut tx = panel.begin().await?;
    let session = get_for_change(&mut tx, id).await?;
    if session.status == SessionStatus::Cancelled {
        return Err(Error::conflict(format!(
            "session {id} was already cancelled"
        )));
    }
    store::mark_cancelled(&mut tx, id, reason.as_deref(), panel.now()).await?;
    let cancelled = get_in(&mut tx, id).await?;
    roster::send_cancellations(&mut tx, panel.now(), &cancelled).await?;
    // Its bookings no longer count for the contact rules.
    crate::participants::touch(&mut tx).await?;
    tx.commit().await?;
    panel.wake_mail();
    get(panel, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
    }

    #[test]
    fn a_start_is_read_on_its_own_zones_clock_and_a_skipped_hour_is_refused() {
        assert_eq!(
            start_instant(at("2027-03-16T10:00"), "Asia/Tokyo").unwrap(),
            "2027-03-16T01:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        // Clocks go forward in Berlin at 02:00 on 28 March 2027.
        let Err(Error::InvalidInput { reason, .. }) =
            start_instant(at("2027-03-28T02:30"), "Europe/Berlin")
        else {
            panic!("a time the clocks skip was accepted")
        };
        assert!(reason.contains("does not exist"), "{reason}");
        let Err(Error::InvalidInput { field, .. }) =
            start_instant(at("2027-03-16T10:00"), "Mars/Olympus")
        else {
            panic!("an unknown zone was accepted")
        };
        assert_eq!(field, "time zone");
    }
}
