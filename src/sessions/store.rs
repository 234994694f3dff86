//! Where sessions are kept: every statement on the sessions and their
//! observers, each on the connection or transaction it is given. The
//! roster's own are in `roster`; the rules (a start that exists in its
//! zone, the moderator's double-booking, what may change when) in the
//! domain's module.

use super::{Checked, RosterCounts, Session, SessionId, SessionQuery, SessionStatus};
use crate::db::{instant, millis};
use crate::sessions::staff::{self, Staff, StaffId};
use crate::{Error, Result, TimeZone};
use chrono::{DateTime, Duration, Utc};
use sqlx::{Row, SqliteConnection, sqlite::SqliteRow};
use std::collections::HashMap;

/// A scheduled session of `moderator` overlapping `[from, to)`, other than `except`.
pub(crate) async fn moderator_clash(
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

/// Adds an observer to a session (once).
pub(crate) async fn add_observer(
    conn: &mut SqliteConnection,
    session: SessionId,
    observer: StaffId,
) -> Result<()> {
    sqlx::query("INSERT OR IGNORE INTO session_observers (session, staff) VALUES (?, ?)")
        .bind(session.0)
        .bind(observer.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
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
        let staff = staff::all_in(&mut *conn).await?;
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
        attendance_from: starts_at - super::model::ATTENDANCE_AHEAD,
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

/// One session, with its moderator, observers and roster counts.
pub(crate) async fn get(conn: &mut SqliteConnection, id: SessionId) -> Result<Session> {
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

/// Sessions in start order, as `query` asks.
pub(crate) async fn list(
    conn: &mut SqliteConnection,
    query: &SessionQuery,
) -> Result<Vec<Session>> {
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
    let names = Names::read(conn, None).await?;
    rows.iter().map(|row| session_from(&names, row)).collect()
}

/// Moves a session to `[starts_at, ends_at)`, one calendar sequence on.
pub(crate) async fn move_to(
    conn: &mut SqliteConnection,
    id: SessionId,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE sessions SET starts_at = ?, ends_at = ?, sequence = sequence + 1, updated_at = ? WHERE id = ?",
    )
    .bind(millis(starts_at))
    .bind(millis(ends_at))
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks a session complete at `now`, by `by`.
pub(crate) async fn mark_complete(
    conn: &mut SqliteConnection,
    id: SessionId,
    by: Option<StaffId>,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE sessions SET completed_at = ?, completed_by = ?, updated_at = ? WHERE id = ?",
    )
    .bind(millis(now))
    .bind(by.map(|b| b.0))
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks a session cancelled, for `reason`, one calendar sequence on.
pub(crate) async fn mark_cancelled(
    conn: &mut SqliteConnection,
    id: SessionId,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE sessions SET status = 'cancelled', cancel_reason = ?, sequence = sequence + 1, \
         updated_at = ? WHERE id = ?",
    )
    .bind(reason)
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Names the screener a session's invitations come through.
pub(crate) async fn set_screener(
    conn: &mut SqliteConnection,
    id: SessionId,
    screener: &str,
) -> Result<()> {
    sqlx::query("UPDATE sessions SET screener = ? WHERE id = ?")
        .bind(screener)
        .bind(id.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
