//! Where rosters are kept: every statement on a session's places (who is
//! invited, their answer, the waitlist, attendance and incentive), each on
//! the connection or transaction it is given. Who may be invited, when a
//! confirmation goes to the waitlist and what mail each change sends are
//! the roster's rules.

use super::super::SessionId;
use super::super::model::{Attendance, RosterEntry, Rsvp};
use crate::Result;
use crate::db::{Conn, either, instant, millis};
use crate::participants::ParticipantId;
use chrono::{DateTime, Utc};

/// Roster members still coming (not declined), with their RSVP.
pub(crate) async fn coming(
    conn: impl Into<Conn<'_>>,
    session: SessionId,
) -> Result<Vec<(ParticipantId, Rsvp)>> {
    let mut conn = conn.into();
    let rows: Vec<(i64, String)> = either!(conn.reborrow(), |cx| {
        sqlx::query_as(
        "SELECT participant, rsvp FROM session_participants WHERE session = $1 AND rsvp != 'declined' \
         ORDER BY participant",
    )
    .bind(session.0)
    .fetch_all(&mut *cx)
.await?
    });
    rows.into_iter()
        .map(|(id, rsvp)| Ok((ParticipantId(id), rsvp.parse()?)))
        .collect()
}

/// People on other scheduled sessions overlapping `[from, to)` (not
/// declined), with that session's id, title and start, earliest first.
pub(crate) async fn overlapping(
    conn: impl Into<Conn<'_>>,
    session: SessionId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(ParticipantId, SessionId, String, DateTime<Utc>)>> {
    let mut conn = conn.into();
    let rows: Vec<(i64, i64, String, i64)> = either!(conn.reborrow(), |cx| sqlx::query_as(
        "SELECT r.participant, s.id, s.title, s.starts_at FROM session_participants r \
         JOIN sessions s ON s.id = r.session \
         WHERE s.status = 'scheduled' AND s.id != $1 AND s.starts_at < $2 AND s.ends_at > $3 \
         AND r.rsvp != 'declined' ORDER BY s.starts_at",
    )
    .bind(session.0)
    .bind(millis(to))
    .bind(millis(from))
    .fetch_all(&mut *cx)
    .await?);
    Ok(rows
        .into_iter()
        .map(|(p, s, title, starts)| (ParticipantId(p), SessionId(s), title, instant(starts)))
        .collect())
}

/// Everyone on the session's roster, whatever their answer.
pub(crate) async fn members(
    conn: impl Into<Conn<'_>>,
    session: SessionId,
) -> Result<Vec<ParticipantId>> {
    let mut conn = conn.into();
    let ids: Vec<i64> = either!(conn.reborrow(), |cx| sqlx::query_scalar(
        "SELECT participant FROM session_participants WHERE session = $1"
    )
    .bind(session.0)
    .fetch_all(&mut *cx)
    .await?);
    Ok(ids.into_iter().map(ParticipantId).collect())
}

/// The value of `attribute` of each person still coming (not declined).
pub(crate) async fn attribute_values(
    conn: impl Into<Conn<'_>>,
    session: SessionId,
    attribute: &str,
) -> Result<Vec<Option<String>>> {
    let mut conn = conn.into();
    let value = conn.dialect().json_text("p.attributes", 1);
    Ok(either!(conn.reborrow(), |cx| sqlx::query_scalar(
        sqlx::AssertSqlSafe(format!(
            "SELECT {value} FROM session_participants r \
         JOIN participants p ON p.id = r.participant WHERE r.session = $2 AND r.rsvp != 'declined'"
        ))
    )
    .bind(attribute)
    .bind(session.0)
    .fetch_all(&mut *cx)
    .await?))
}

/// For each value of `attribute` on the roster: how many are invited and
/// not declined, and how many confirmed.
pub(crate) async fn quota_counts(
    conn: impl Into<Conn<'_>>,
    session: SessionId,
    attribute: &str,
) -> Result<Vec<(Option<String>, u32, u32)>> {
    let mut conn = conn.into();
    let value = conn.dialect().json_text("p.attributes", 1);
    let rows: Vec<(Option<String>, i64, i64)> = either!(conn.reborrow(), |cx| sqlx::query_as(
        sqlx::AssertSqlSafe(format!(
            "SELECT {value} AS v, \
             sum(CASE WHEN r.rsvp != 'declined' THEN 1 ELSE 0 END), \
             sum(CASE WHEN r.rsvp = 'confirmed' THEN 1 ELSE 0 END) \
             FROM session_participants r JOIN participants p ON p.id = r.participant \
             WHERE r.session = $2 GROUP BY v ORDER BY v"
        ))
    )
    .bind(attribute)
    .bind(session.0)
    .fetch_all(&mut *cx)
    .await?);
    Ok(rows
        .into_iter()
        .map(|(v, invited, confirmed)| (v, invited as u32, confirmed as u32))
        .collect())
}

/// The roster, by name.
pub(crate) async fn entries(conn: impl Into<Conn<'_>>, id: SessionId) -> Result<Vec<RosterEntry>> {
    let mut conn = conn.into();
    #[derive(sqlx::FromRow)]
    struct Row {
        participant: i64,
        name: String,
        email: Option<String>,
        time_zone: Option<String>,
        rsvp: String,
        attendance: Option<String>,
        incentive_cents: Option<i64>,
        incentive_paid: bool,
        invited_at: i64,
        waitlisted_at: Option<i64>,
        offered_at: Option<i64>,
        consent_version: Option<i64>,
    }
    let rows: Vec<Row> = either!(conn.reborrow(), |cx| {
        sqlx::query_as(
        "SELECT r.participant, p.name, p.email, p.time_zone, r.rsvp, r.attendance, r.incentive_cents, \
         r.incentive_paid, r.invited_at, r.waitlisted_at, r.offered_at, \
         (SELECT max(t.version) FROM participant_consents c JOIN consent_texts t ON t.id = c.consent_text_id \
          WHERE c.participant_id = r.participant AND t.topic = s.consent_topic) AS consent_version \
         FROM session_participants r JOIN sessions s ON s.id = r.session \
         JOIN participants p ON p.id = r.participant WHERE r.session = $1 \
         ORDER BY p.sort_name, p.id",
    )
    .bind(id.0)
    .fetch_all(&mut *cx)
    .await?
    });
    rows.into_iter()
        .map(|row| {
            Ok(RosterEntry {
                participant: ParticipantId(row.participant),
                name: row.name,
                email: row.email,
                time_zone: row.time_zone,
                rsvp: row.rsvp.parse()?,
                attendance: row.attendance.map(|a| a.parse()).transpose()?,
                incentive_cents: row.incentive_cents,
                incentive_paid: row.incentive_paid,
                invited_at: instant(row.invited_at),
                consent_version: row.consent_version.map(|v| v as u32),
                waitlisted_at: row.waitlisted_at.map(instant),
                offered_at: row.offered_at.map(instant),
            })
        })
        .collect()
}

/// A person's answer, if they are on the roster.
pub(crate) async fn rsvp_of(
    conn: impl Into<Conn<'_>>,
    id: SessionId,
    participant: ParticipantId,
) -> Result<Option<Rsvp>> {
    let mut conn = conn.into();
    let rsvp: Option<String> = either!(conn.reborrow(), |cx| sqlx::query_scalar(
        "SELECT rsvp FROM session_participants WHERE session = $1 AND participant = $2",
    )
    .bind(id.0)
    .bind(participant.0)
    .fetch_optional(&mut *cx)
    .await?);
    rsvp.map(|r| r.parse()).transpose()
}

/// Puts a person on the roster, invited at `now`; `false` when they were
/// on it already.
pub(crate) async fn add_invited(
    conn: impl Into<Conn<'_>>,
    id: SessionId,
    participant: ParticipantId,
    now: DateTime<Utc>,
) -> Result<bool> {
    let mut conn = conn.into();
    let inserted = either!(conn.reborrow(), |cx| {
        sqlx::query(
            "INSERT INTO session_participants (session, participant, rsvp, invited_at, updated_at) \
         VALUES ($1, $2, 'invited', $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(id.0)
        .bind(participant.0)
        .bind(millis(now))
        .bind(millis(now))
        .execute(&mut *cx)
        .await?
        .rows_affected()
    });
    Ok(inserted > 0)
}

/// Records a person's answer (the time they joined the waitlist kept
/// while they are on it).
pub(crate) async fn set_rsvp(
    conn: impl Into<Conn<'_>>,
    id: SessionId,
    participant: ParticipantId,
    answer: Rsvp,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut conn = conn.into();
    either!(conn.reborrow(), |cx| sqlx::query(
        "UPDATE session_participants SET rsvp = $1, updated_at = $2, \
         waitlisted_at = CASE WHEN $1 = 'waitlisted' THEN coalesce(waitlisted_at, $2) END \
         WHERE session = $3 AND participant = $4",
    )
    .bind(answer.as_str())
    .bind(millis(now))
    .bind(id.0)
    .bind(participant.0)
    .execute(&mut *cx)
    .await?
    .rows_affected());
    Ok(())
}

/// The first person on the waitlist not offered a place yet, in the order
/// they joined it.
pub(crate) async fn next_waitlisted(
    conn: impl Into<Conn<'_>>,
    id: SessionId,
) -> Result<Option<ParticipantId>> {
    let mut conn = conn.into();
    let next: Option<i64> = either!(conn.reborrow(), |cx| {
        sqlx::query_scalar(
        "SELECT participant FROM session_participants WHERE session = $1 AND rsvp = 'waitlisted' \
         AND offered_at IS NULL ORDER BY waitlisted_at, participant LIMIT 1",
    )
    .bind(id.0)
    .fetch_optional(&mut *cx)
.await?
    });
    Ok(next.map(ParticipantId))
}

/// Records that a place was offered to a person on the waitlist at `now`.
pub(crate) async fn mark_offered(
    conn: impl Into<Conn<'_>>,
    id: SessionId,
    participant: ParticipantId,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut conn = conn.into();
    either!(conn.reborrow(), |cx| sqlx::query(
        "UPDATE session_participants SET offered_at = $1 WHERE session = $2 AND participant = $3",
    )
    .bind(millis(now))
    .bind(id.0)
    .bind(participant.0)
    .execute(&mut *cx)
    .await?
    .rows_affected());
    Ok(())
}

/// Records a person's attendance.
pub(crate) async fn set_attendance(
    conn: impl Into<Conn<'_>>,
    id: SessionId,
    participant: ParticipantId,
    attendance: Attendance,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut conn = conn.into();
    either!(conn.reborrow(), |cx| sqlx::query(
        "UPDATE session_participants SET attendance = $1, updated_at = $2 \
         WHERE session = $3 AND participant = $4",
    )
    .bind(attendance.as_str())
    .bind(millis(now))
    .bind(id.0)
    .bind(participant.0)
    .execute(&mut *cx)
    .await?
    .rows_affected());
    Ok(())
}

/// Sets a person's incentive and whether it is paid, each only when given.
pub(crate) async fn set_incentive(
    conn: impl Into<Conn<'_>>,
    id: SessionId,
    participant: ParticipantId,
    cents: Option<i64>,
    paid: Option<bool>,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut conn = conn.into();
    either!(conn.reborrow(), |cx| sqlx::query(
        "UPDATE session_participants SET incentive_cents = coalesce($1, incentive_cents), \
         incentive_paid = coalesce($2, incentive_paid), updated_at = $3 \
         WHERE session = $4 AND participant = $5",
    )
    .bind(cents)
    .bind(paid)
    .bind(millis(now))
    .bind(id.0)
    .bind(participant.0)
    .execute(&mut *cx)
    .await?
    .rows_affected());
    Ok(())
}

/// A place on a session's roster as it stands, written as it is: a
/// generated panel's (`demo`), or one copied from another store.
pub(crate) struct RosterRecord {
    pub session: SessionId,
    pub participant: ParticipantId,
    pub rsvp: Rsvp,
    pub attendance: Option<Attendance>,
    pub incentive_cents: Option<i64>,
    pub incentive_paid: bool,
    pub invited_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Writes these roster places as they are.
pub(crate) async fn insert_records(
    conn: impl Into<Conn<'_>>,
    records: &[RosterRecord],
) -> Result<()> {
    let mut conn = conn.into();
    crate::db::insert_all!(
        conn.reborrow(),
        "INSERT INTO session_participants (session, participant, rsvp, attendance, \
             incentive_cents, incentive_paid, invited_at, updated_at) ",
        records,
        4_000,
        |b, r| {
            b.push_bind(r.session.0)
                .push_bind(r.participant.0)
                .push_bind(r.rsvp.as_str())
                .push_bind(r.attendance.map(Attendance::as_str))
                .push_bind(r.incentive_cents)
                .push_bind(r.incentive_paid)
                .push_bind(millis(r.invited_at))
                .push_bind(millis(r.updated_at));
        },
    );
    Ok(())
}

/// The session whose calendar UID is `uid`.
pub(crate) async fn by_uid(conn: impl Into<Conn<'_>>, uid: &str) -> Result<Option<SessionId>> {
    let mut conn = conn.into();
    let id: Option<i64> = either!(conn.reborrow(), |c| sqlx::query_scalar(
        "SELECT id FROM sessions WHERE uid = $1"
    )
    .bind(uid)
    .fetch_optional(&mut *c)
    .await?);
    Ok(id.map(SessionId))
}
