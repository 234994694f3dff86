//! Where sessions are kept: every statement on the sessions and their
//! observers, each on the connection or transaction it is given. The
//! roster's own are in `roster`; the rules (a start that exists in its
//! zone, the moderator's double-booking, what may change when) in the
//! domain's module.

use super::{Checked, RosterCounts, Session, SessionId, SessionQuery, SessionStatus};
use crate::db::{Conn, either, instant, millis};
use crate::sessions::staff::{self, Staff, StaffId};
use crate::{Error, Result, TimeZone};
use chrono::{DateTime, Duration, Utc};

use std::collections::HashMap;

/// A scheduled session of `moderator` overlapping `[from, to)`, other than `except`.
pub(crate) async fn moderator_clash(
    conn: impl Into<Conn<'_>>,
    moderator: StaffId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    except: Option<SessionId>,
) -> Result<Option<(i64, String, i64)>> {
    let mut conn = conn.into();
    Ok(either!(conn.reborrow(), |c| sqlx::query_as(
        "SELECT id, title, starts_at FROM sessions WHERE moderator = $1 AND status = 'scheduled' \
         AND starts_at < $2 AND ends_at > $3 AND id IS DISTINCT FROM $4 ORDER BY starts_at LIMIT 1",
    )
    .bind(moderator.0)
    .bind(millis(to))
    .bind(millis(from))
    .bind(except.map(|s| s.0))
    .fetch_optional(&mut *c)
    .await?))
}

/// Writes a session, scheduled, with its calendar `uid`.
pub(crate) async fn insert_in(
    conn: impl Into<Conn<'_>>,
    uid: &str,
    c: &Checked,
    moderator: StaffId,
    consent: Option<&str>,
    now: DateTime<Utc>,
) -> Result<SessionId> {
    let mut conn = conn.into();
    let id: i64 = either!(conn.reborrow(), |cx| {
        sqlx::query_scalar(
        "INSERT INTO sessions (uid, study, title, starts_at, ends_at, time_zone, place, moderator, \
         seats, over_recruit, floaters, created_at, updated_at, consent_topic) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(uid)
    .bind(&c.study)
    .bind(&c.title)
    .bind(millis(c.starts_at))
    .bind(millis(c.ends_at))
    .bind(c.time_zone.name())
    .bind(&c.place)
    .bind(moderator.0)
    .bind(i64::from(c.seats))
    .bind(i64::from(c.over_recruit))
    .bind(i64::from(c.floaters))
    .bind(millis(now))
    .bind(millis(now))
    .bind(consent)
    .fetch_one(&mut *cx)
.await?
    });
    Ok(SessionId(id))
}

/// Marks complete, by their moderators, the scheduled sessions that ended
/// at least `after` before `now` and have no issue without an owner: a
/// generated panel's past, wrapped up as its moderators would have.
pub(crate) async fn complete_ended_in(
    conn: impl Into<Conn<'_>>,
    after: Duration,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut conn = conn.into();
    let done = either!(conn.reborrow(), |c| sqlx::query(
        "UPDATE sessions SET completed_at = ends_at + $1, completed_by = moderator \
         WHERE status = 'scheduled' AND ends_at + $1 <= $2 \
         AND NOT EXISTS (SELECT 1 FROM issues i WHERE i.session = sessions.id AND i.owner IS NULL)",
    )
    .bind(after.num_milliseconds())
    .bind(millis(now))
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(done)
}

/// Adds an observer to a session (once).
pub(crate) async fn add_observer(
    conn: impl Into<Conn<'_>>,
    session: SessionId,
    observer: StaffId,
) -> Result<()> {
    let mut conn = conn.into();
    either!(conn.reborrow(), |c| sqlx::query(
        "INSERT INTO session_observers (session, staff) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    )
    .bind(session.0)
    .bind(observer.0)
    .execute(&mut *c)
    .await?
    .rows_affected());
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
    async fn read(conn: impl Into<Conn<'_>>, session: Option<i64>) -> Result<Names> {
        let mut conn = conn.into();
        let staff = staff::all_in(conn.reborrow()).await?;
        let rows: Vec<(i64, i64)> = either!(conn.reborrow(), |c| sqlx::query_as(
            "SELECT session, staff FROM session_observers \
             WHERE $1 IS NULL OR session = $1 ORDER BY session, staff",
        )
        .bind(session)
        .fetch_all(&mut *c)
        .await?);
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

/// A session as stored, with its roster's counts.
#[derive(sqlx::FromRow)]
struct SessionRow {
    id: i64,
    uid: String,
    study: String,
    title: String,
    starts_at: i64,
    ends_at: i64,
    time_zone: String,
    place: String,
    moderator: i64,
    seats: i64,
    over_recruit: i64,
    floaters: i64,
    sequence: i64,
    status: String,
    cancel_reason: Option<String>,
    screener: Option<String>,
    completed_at: Option<i64>,
    consent_topic: Option<String>,
    n_unowned: i64,
    n_invited: i64,
    n_confirmed: i64,
    n_tentative: i64,
    n_declined: i64,
    n_waitlisted: i64,
    n_attended: i64,
    n_no_shows: i64,
}

fn session_from(names: &Names, row: SessionRow) -> Result<Session> {
    let id = row.id;
    let zone = TimeZone::stored(&row.time_zone, &format!("session {id}"))?;
    let starts_at = instant(row.starts_at);
    let observers = names
        .observers
        .get(&id)
        .into_iter()
        .flatten()
        .map(|o| names.staff(*o))
        .collect::<Result<Vec<_>>>()?;
    let count = |n: i64| n as u32;
    Ok(Session {
        id: SessionId(id),
        uid: row.uid,
        study: row.study,
        title: row.title,
        starts_at,
        attendance_from: starts_at - super::model::ATTENDANCE_AHEAD,
        ends_at: instant(row.ends_at),
        local_start: starts_at.with_timezone(&zone.tz()).naive_local(),
        time_zone: zone,
        place: row.place,
        moderator: names.staff(StaffId(row.moderator))?,
        observers,
        seats: row.seats as u32,
        over_recruit: row.over_recruit as u32,
        floaters: row.floaters as u32,
        sequence: row.sequence,
        status: if row.status == "cancelled" {
            SessionStatus::Cancelled
        } else {
            SessionStatus::Scheduled
        },
        cancel_reason: row.cancel_reason,
        screener: row.screener,
        completed_at: row.completed_at.map(instant),
        unowned_issues: count(row.n_unowned),
        consent_topic: row.consent_topic,
        counts: RosterCounts {
            invited: count(row.n_invited),
            confirmed: count(row.n_confirmed),
            tentative: count(row.n_tentative),
            declined: count(row.n_declined),
            waitlisted: count(row.n_waitlisted),
            attended: count(row.n_attended),
            no_shows: count(row.n_no_shows),
        },
    })
}

/// One session, with its moderator, observers and roster counts.
pub(crate) async fn get(conn: impl Into<Conn<'_>>, id: SessionId) -> Result<Session> {
    let mut conn = conn.into();
    let row: Option<SessionRow> = either!(conn.reborrow(), |c| sqlx::query_as(
        sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM sessions s WHERE s.id = $1"))
    )
    .bind(id.0)
    .fetch_optional(&mut *c)
    .await?);
    let row = row.ok_or_else(|| Error::not_found("session", id))?;
    let names = Names::read(conn, Some(id.0)).await?;
    session_from(&names, row)
}

/// The moderator of each of these sessions, in one statement (a session
/// that does not exist is left out).
pub(crate) async fn moderators(
    conn: impl Into<Conn<'_>>,
    ids: &[SessionId],
) -> Result<HashMap<SessionId, StaffId>> {
    let mut conn = conn.into();
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    let ids_in = conn.dialect().ids_of_json(1);
    let rows: Vec<(i64, i64)> = either!(conn.reborrow(), |c| sqlx::query_as(sqlx::AssertSqlSafe(
        format!("SELECT id, moderator FROM sessions WHERE id IN ({ids_in})")
    ))
    .bind(serde_json::to_string(&ids).expect("ids serialise"))
    .fetch_all(&mut *c)
    .await?);
    Ok(rows
        .into_iter()
        .map(|(session, moderator)| (SessionId(session), StaffId(moderator)))
        .collect())
}

/// Sessions in start order, as `query` asks.
pub(crate) async fn list(conn: impl Into<Conn<'_>>, query: &SessionQuery) -> Result<Vec<Session>> {
    let mut conn = conn.into();
    let rows: Vec<SessionRow> = either!(conn.reborrow(), |c| sqlx::query_as(sqlx::AssertSqlSafe(
        format!(
            "SELECT {COLUMNS} FROM sessions s WHERE ($1 IS NULL OR s.ends_at > $1) \
         AND ($2 IS NULL OR s.starts_at < $2) AND ($3 OR s.status = 'scheduled') \
         ORDER BY s.starts_at, s.id LIMIT $4"
        )
    ))
    .bind(query.from.map(millis))
    .bind(query.to.map(millis))
    .bind(query.include_cancelled)
    .bind(i64::from(query.limit.unwrap_or(500).clamp(1, 5000)))
    .fetch_all(&mut *c)
    .await?);
    let names = Names::read(conn, None).await?;
    rows.into_iter()
        .map(|row| session_from(&names, row))
        .collect()
}

/// Moves a session to `[starts_at, ends_at)`, one calendar sequence on.
pub(crate) async fn move_to(
    conn: impl Into<Conn<'_>>,
    id: SessionId,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut conn = conn.into();
    either!(conn.reborrow(), |c| {
        sqlx::query(
        "UPDATE sessions SET starts_at = $1, ends_at = $2, sequence = sequence + 1, updated_at = $3 WHERE id = $4",
    )
    .bind(millis(starts_at))
    .bind(millis(ends_at))
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *c)
.await?
.rows_affected()
    });
    Ok(())
}

/// Marks a session complete at `now`, by `by`.
pub(crate) async fn mark_complete(
    conn: impl Into<Conn<'_>>,
    id: SessionId,
    by: Option<StaffId>,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut conn = conn.into();
    either!(conn.reborrow(), |c| sqlx::query(
        "UPDATE sessions SET completed_at = $1, completed_by = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(millis(now))
    .bind(by.map(|b| b.0))
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

/// Marks a session cancelled, for `reason`, one calendar sequence on.
pub(crate) async fn mark_cancelled(
    conn: impl Into<Conn<'_>>,
    id: SessionId,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut conn = conn.into();
    either!(conn.reborrow(), |c| sqlx::query(
        "UPDATE sessions SET status = 'cancelled', cancel_reason = $1, sequence = sequence + 1, \
         updated_at = $2 WHERE id = $3",
    )
    .bind(reason)
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

/// Names the screener a session's invitations come through.
pub(crate) async fn set_screener(
    conn: impl Into<Conn<'_>>,
    id: SessionId,
    screener: &str,
) -> Result<()> {
    let mut conn = conn.into();
    either!(conn.reborrow(), |c| sqlx::query(
        "UPDATE sessions SET screener = $1 WHERE id = $2"
    )
    .bind(screener)
    .bind(id.0)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::COLUMNS;
    use crate::db::{new_file, query_plan};

    /// A session's counts (issues without an owner, the roster by answer
    /// and attendance) each come from a seek in an index, never a walk
    /// through the session's issues or roster: the sessions list reads them
    /// for every session at once.
    #[tokio::test]
    async fn a_sessions_counts_are_read_from_indexes_alone() {
        let (_dir, pool) = new_file().await;
        let plan = query_plan(&pool, &format!("SELECT {COLUMNS} FROM sessions s")).await;
        let counts: Vec<&String> = plan.iter().filter(|p| p.starts_with("SEARCH")).collect();
        assert_eq!(counts.len(), 8, "{plan:?}");
        assert!(
            counts
                .iter()
                .all(|p| p.contains("COVERING INDEX") && p.contains("session=? AND ")),
            "{plan:?}"
        );
    }
}
