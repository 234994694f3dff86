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

pub use model::{
    Attendance, InviteReport, InviteRequest, Invitee, Invitees, QuotaCell, RosterCounts,
    RosterEntry, Rsvp, Session, SessionDetail, SessionId, SessionInput, SessionQuery,
    SessionStatus,
};

use crate::db::{instant, millis};
use crate::participants::fields::check_text;
use crate::{Error, Panel, Result, TimeZone};
use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone as _, Utc};
use sqlx::{Row, SqliteConnection, sqlite::SqliteRow};
use staff::{Staff, StaffId};
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

/// A scheduled session of `moderator` overlapping `[from, to)`, other than `except`.
async fn moderator_clash(
    conn: &mut SqliteConnection,
    moderator: StaffId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    except: Option<SessionId>,
) -> Result<Option<(i64, String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT id, title, starts_at FROM sessions WHERE moderator = ? AND status = 'scheduled' \
         AND starts_at < ? AND ends_at > ? AND id IS NOT ? ORDER BY starts_at LIMIT 1",
    )
    .bind(moderator.0)
    .bind(millis(to))
    .bind(millis(from))
    .bind(except.map(|s| s.0))
    .fetch_optional(&mut *conn)
    .await?)
}

fn clash_error(who: &str, clash: (i64, String, i64)) -> Error {
    let (id, title, starts) = clash;
    Error::conflict(format!(
        "{who} is already in session {id} \"{title}\" at {}, which overlaps; \
         choose another time or allow double-booking",
        instant(starts).format("%Y-%m-%d %H:%M UTC")
    ))
}

/// Writes a session, scheduled, with its calendar `uid`.
pub(crate) async fn insert_in(
    conn: &mut SqliteConnection,
    uid: &str,
    c: &Checked,
    moderator: StaffId,
    consent: Option<&str>,
    now: DateTime<Utc>,
) -> Result<SessionId> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO sessions (uid, study, title, starts_at, ends_at, time_zone, place, moderator, \
         seats, over_recruit, floaters, created_at, updated_at, consent_topic) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(uid)
    .bind(&c.study)
    .bind(&c.title)
    .bind(millis(c.starts_at))
    .bind(millis(c.ends_at))
    .bind(c.time_zone.name())
    .bind(&c.place)
    .bind(moderator.0)
    .bind(c.seats)
    .bind(c.over_recruit)
    .bind(c.floaters)
    .bind(millis(now))
    .bind(millis(now))
    .bind(consent)
    .fetch_one(&mut *conn)
    .await?;
    Ok(SessionId(id))
}

/// Marks complete, by their moderators, the scheduled sessions that ended
/// at least `after` before `now` and have no issue without an owner: a
/// generated panel's past, wrapped up as its moderators would have.
pub(crate) async fn complete_ended_in(
    conn: &mut SqliteConnection,
    after: Duration,
    now: DateTime<Utc>,
) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE sessions SET completed_at = ends_at + ?1, completed_by = moderator \
         WHERE status = 'scheduled' AND ends_at + ?1 <= ?2 \
         AND NOT EXISTS (SELECT 1 FROM issues i WHERE i.session = sessions.id AND i.owner IS NULL)",
    )
    .bind(after.num_milliseconds())
    .bind(millis(now))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Plans a session. Returns it with its new id.
pub async fn create(panel: &Panel, input: &SessionInput) -> Result<Session> {
    let c = check(input)?;
    let mut tx = panel.write().await?;
    let moderator = staff::by_email_in(&mut tx, &input.moderator).await?;
    if !input.allow_double_booking
        && let Some(clash) =
            moderator_clash(&mut tx, moderator.id, c.starts_at, c.ends_at, None).await?
    {
        return Err(clash_error(
            &format!("the moderator {}", moderator.name),
            clash,
        ));
    }
    let mut observers = Vec::new();
    for o in &input.observers {
        observers.push(staff::by_email_in(&mut tx, o).await?.id);
    }
    let consent = match input.consent.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(topic) => {
            let known: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM consent_texts WHERE topic = ?)")
                    .bind(topic)
                    .fetch_one(&mut *tx)
                    .await?;
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
    let id = insert_in(&mut tx, &uid, &c, moderator.id, consent.as_deref(), now)
        .await?
        .0;
    for o in observers {
        sqlx::query("INSERT OR IGNORE INTO session_observers (session, staff) VALUES (?, ?)")
            .bind(id)
            .bind(o.0)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    get(panel, SessionId(id)).await
}

const COLUMNS: &str = "s.id, s.uid, s.study, s.title, s.starts_at, s.ends_at, s.time_zone, s.place, \
    s.moderator, s.seats, s.over_recruit, s.floaters, s.sequence, s.status, s.cancel_reason, s.screener, s.completed_at, \
    s.consent_topic, \
    (SELECT count(*) FROM issues i WHERE i.session = s.id AND i.owner IS NULL) AS n_unowned, \
    (SELECT count(*) FROM session_participants r WHERE r.session = s.id AND r.rsvp = 'invited') AS n_invited, \
    (SELECT count(*) FROM session_participants r WHERE r.session = s.id AND r.rsvp = 'confirmed') AS n_confirmed, \
    (SELECT count(*) FROM session_participants r WHERE r.session = s.id AND r.rsvp = 'tentative') AS n_tentative, \
    (SELECT count(*) FROM session_participants r WHERE r.session = s.id AND r.rsvp = 'declined') AS n_declined, \
    (SELECT count(*) FROM session_participants r WHERE r.session = s.id AND r.rsvp = 'waitlisted') AS n_waitlisted, \
    (SELECT count(*) FROM session_participants r WHERE r.session = s.id AND r.attendance IN ('attended', 'late')) AS n_attended, \
    (SELECT count(*) FROM session_participants r WHERE r.session = s.id AND r.attendance = 'no_show') AS n_no_shows";

/// The staff a list of sessions names (moderators and observers), read
/// once for the whole list.
struct Names {
    staff: HashMap<StaffId, Staff>,
    observers: HashMap<i64, Vec<StaffId>>,
}

impl Names {
    /// Every staff member, and the observers of one session or of all.
    async fn read(conn: &mut SqliteConnection, session: Option<i64>) -> Result<Names> {
        let staff = staff::all_in(conn).await?;
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT session, staff FROM session_observers \
             WHERE ?1 IS NULL OR session = ?1 ORDER BY session, staff",
        )
        .bind(session)
        .fetch_all(&mut *conn)
        .await?;
        let mut observers: HashMap<i64, Vec<StaffId>> = HashMap::new();
        for (session, who) in rows {
            observers.entry(session).or_default().push(StaffId(who));
        }
        Ok(Names { staff, observers })
    }

    fn staff(&self, id: StaffId) -> Result<Staff> {
        self.staff
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found("staff member", id))
    }
}

fn session_from(names: &Names, row: &SqliteRow) -> Result<Session> {
    let id: i64 = row.get("id");
    let zone = TimeZone::stored(row.get("time_zone"), &format!("session {id}"))?;
    let starts_at = instant(row.get("starts_at"));
    let observers = names
        .observers
        .get(&id)
        .into_iter()
        .flatten()
        .map(|o| names.staff(*o))
        .collect::<Result<Vec<_>>>()?;
    let count = |name: &str| row.get::<i64, _>(name) as u32;
    Ok(Session {
        id: SessionId(id),
        uid: row.get("uid"),
        study: row.get("study"),
        title: row.get("title"),
        starts_at,
        ends_at: instant(row.get("ends_at")),
        local_start: starts_at.with_timezone(&zone.tz()).naive_local(),
        time_zone: zone,
        place: row.get("place"),
        moderator: names.staff(StaffId(row.get("moderator")))?,
        observers,
        seats: row.get::<i64, _>("seats") as u32,
        over_recruit: row.get::<i64, _>("over_recruit") as u32,
        floaters: row.get::<i64, _>("floaters") as u32,
        sequence: row.get("sequence"),
        status: if row.get::<String, _>("status") == "cancelled" {
            SessionStatus::Cancelled
        } else {
            SessionStatus::Scheduled
        },
        cancel_reason: row.get("cancel_reason"),
        screener: row.get("screener"),
        completed_at: row.get::<Option<i64>, _>("completed_at").map(instant),
        unowned_issues: count("n_unowned"),
        consent_topic: row.get("consent_topic"),
        counts: RosterCounts {
            invited: count("n_invited"),
            confirmed: count("n_confirmed"),
            tentative: count("n_tentative"),
            declined: count("n_declined"),
            waitlisted: count("n_waitlisted"),
            attended: count("n_attended"),
            no_shows: count("n_no_shows"),
        },
    })
}

pub(crate) async fn get_in(conn: &mut SqliteConnection, id: SessionId) -> Result<Session> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM sessions s WHERE s.id = ?"
    )))
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::not_found("session", id))?;
    let names = Names::read(conn, Some(id.0)).await?;
    session_from(&names, &row)
}

/// One session.
pub async fn get(panel: &Panel, id: SessionId) -> Result<Session> {
    let mut conn = panel.pool().acquire().await?;
    get_in(&mut conn, id).await
}

/// Sessions in start order.
pub async fn list(panel: &Panel, query: &SessionQuery) -> Result<Vec<Session>> {
    let mut conn = panel.pool().acquire().await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM sessions s WHERE (?1 IS NULL OR s.ends_at > ?1) \
         AND (?2 IS NULL OR s.starts_at < ?2) AND (?3 OR s.status = 'scheduled') \
         ORDER BY s.starts_at, s.id LIMIT ?4"
    )))
    .bind(query.from.map(millis))
    .bind(query.to.map(millis))
    .bind(query.include_cancelled)
    .bind(query.limit.unwrap_or(500).clamp(1, 5000))
    .fetch_all(&mut *conn)
    .await?;
    let names = Names::read(&mut conn, None).await?;
    rows.iter().map(|row| session_from(&names, row)).collect()
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
    let mut tx = panel.write().await?;
    let session = get_in(&mut tx, id).await?;
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
            moderator_clash(&mut tx, session.moderator.id, starts_at, ends_at, Some(id)).await?
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
    sqlx::query(
        "UPDATE sessions SET starts_at = ?, ends_at = ?, sequence = sequence + 1, updated_at = ? WHERE id = ?",
    )
    .bind(millis(starts_at))
    .bind(millis(ends_at))
    .bind(millis(panel.now()))
    .bind(id.0)
    .execute(&mut *tx)
    .await?;
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
    let by = staff::current(panel).await?.map(|s| s.id.0);
    let now = panel.now();
    let mut tx = panel.write().await?;
    let session = get_in(&mut tx, id).await?;
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
    let unowned: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, summary FROM issues WHERE session = ? AND owner IS NULL ORDER BY id",
    )
    .bind(id.0)
    .fetch_all(&mut *tx)
    .await?;
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
    sqlx::query(
        "UPDATE sessions SET completed_at = ?, completed_by = ?, updated_at = ? WHERE id = ?",
    )
    .bind(millis(now))
    .bind(by)
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *tx)
    .await?;
    let done = get_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(done)
}

/// Cancels a session: everyone still coming gets a calendar cancellation,
/// and waiting reminders are withdrawn.
pub async fn cancel(panel: &Panel, id: SessionId, reason: Option<&str>) -> Result<Session> {
    let reason = reason.map(|r| check_text("reason", r)).transpose()?;
    let mut tx = panel.write().await?;
    let session = get_in(&mut tx, id).await?;
    if session.status == SessionStatus::Cancelled {
        return Err(Error::conflict(format!(
            "session {id} was already cancelled"
        )));
    }
    sqlx::query(
        "UPDATE sessions SET status = 'cancelled', cancel_reason = ?, sequence = sequence + 1, \
         updated_at = ? WHERE id = ?",
    )
    .bind(&reason)
    .bind(millis(panel.now()))
    .bind(id.0)
    .execute(&mut *tx)
    .await?;
    let cancelled = get_in(&mut tx, id).await?;
    roster::send_cancellations(&mut tx, panel.now(), &cancelled).await?;
    // Its bookings no longer count for the contact rules.
    crate::participants::touch(&mut tx).await?;
    tx.commit().await?;
    panel.wake_mail();
    get(panel, id).await
}
