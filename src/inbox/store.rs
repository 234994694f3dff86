//! Every statement on the messages read from the panel mailbox.

use super::incoming::Incoming;
use super::model::{Filing, InboxMessage, InboxState};
use crate::Result;
use crate::db::{Conn, either, instant, millis};
use crate::issues::IssueId;
use crate::participants::ParticipantId;
use crate::sessions::staff::StaffId;
use chrono::{DateTime, Utc};

/// The highest message number read from `folder` while its numbers are
/// `uid_validity`'s; 0 before the first.
pub(super) async fn last_uid(
    conn: impl Into<Conn<'_>>,
    folder: &str,
    uid_validity: u32,
) -> Result<u32> {
    let last: Option<i64> = either!(conn, |c| sqlx::query_scalar(
        "SELECT MAX(uid) FROM inbox_messages WHERE folder = $1 AND uid_validity = $2"
    )
    .bind(folder)
    .bind(i64::from(uid_validity))
    .fetch_one(&mut *c)
    .await?);
    Ok(last.unwrap_or(0) as u32)
}

/// Writes the message as read, not yet filed; `None` when this folder's
/// message `uid` was read before (by this reader or another).
pub(super) async fn claim(
    conn: impl Into<Conn<'_>>,
    (folder, uid_validity, uid): (&str, u32, u32),
    m: &Incoming,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    Ok(either!(conn, |c| sqlx::query_scalar(
        "INSERT INTO inbox_messages (folder, uid_validity, uid, message_id, read_at, sent_at, \
         from_address, from_name, subject, reply, original, kind, state) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'other', 'unfiled') \
         ON CONFLICT (folder, uid_validity, uid) DO NOTHING RETURNING id"
    )
    .bind(folder)
    .bind(i64::from(uid_validity))
    .bind(i64::from(uid))
    .bind(m.message_id.as_deref())
    .bind(millis(now))
    .bind(m.sent_at.map(millis))
    .bind(&m.from_address)
    .bind(&m.from_name)
    .bind(&m.subject)
    .bind(&m.reply)
    .bind(&m.original)
    .fetch_optional(&mut *c)
    .await?))
}

/// The message read before with the same Message-ID (a copy in another
/// folder, or delivered twice), if any.
pub(super) async fn same_message(
    conn: impl Into<Conn<'_>>,
    message_id: &str,
    not: i64,
) -> Result<Option<i64>> {
    Ok(either!(conn, |c| sqlx::query_scalar(
        "SELECT id FROM inbox_messages WHERE message_id = $1 AND id <> $2 ORDER BY id LIMIT 1"
    )
    .bind(message_id)
    .bind(not)
    .fetch_optional(&mut *c)
    .await?))
}

/// Where and what the message was filed as.
pub(super) async fn set_filing(
    conn: impl Into<Conn<'_>>,
    id: i64,
    f: &Filing,
    by: Option<StaffId>,
) -> Result<()> {
    either!(conn, |c| sqlx::query(
        "UPDATE inbox_messages SET kind = $1, issue = $2, participant = $3, staff = $4, \
         state = $5, outcome = $6, filed_by = $7 WHERE id = $8"
    )
    .bind(f.kind.as_str())
    .bind(f.issue.map(|i| i.0))
    .bind(f.participant.map(|p| p.0))
    .bind(f.staff.map(|s| s.0))
    .bind(f.state.as_str())
    .bind(&f.outcome)
    .bind(by.map(|s| s.0))
    .bind(id)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

/// The message sent from this panel with the Message-ID `id` (without the
/// angle brackets): what it was about and to whom.
pub(super) async fn sent_as(
    conn: impl Into<Conn<'_>>,
    id: &str,
) -> Result<Option<(Option<String>, String)>> {
    Ok(either!(conn, |c| sqlx::query_as(
        "SELECT topic, recipient FROM outbox WHERE message_id = $1"
    )
    .bind(format!("<{id}>"))
    .fetch_optional(&mut *c)
    .await?))
}

/// The participant and owner of issue `id`, with their addresses.
pub(super) async fn issue_people(
    conn: impl Into<Conn<'_>>,
    id: IssueId,
) -> Result<Option<(ParticipantId, Option<String>, Option<i64>)>> {
    let row: Option<(i64, Option<String>, Option<i64>)> = either!(conn, |c| sqlx::query_as(
        "SELECT i.participant, p.email_norm, i.owner FROM issues i \
         JOIN participants p ON p.id = i.participant WHERE i.id = $1"
    )
    .bind(id.0)
    .fetch_optional(&mut *c)
    .await?);
    Ok(row.map(|(p, e, o)| (ParticipantId(p), e, o)))
}

/// The staff member whose address is `email` (normalised).
pub(super) async fn staff_by_email(
    conn: impl Into<Conn<'_>>,
    email: &str,
) -> Result<Option<(StaffId, String)>> {
    let row: Option<(i64, String)> = either!(conn, |c| sqlx::query_as(
        "SELECT id, name FROM staff WHERE email_norm = $1"
    )
    .bind(email)
    .fetch_optional(&mut *c)
    .await?);
    Ok(row.map(|(id, name)| (StaffId(id), name)))
}

const COLUMNS: &str = "m.id, m.read_at, m.sent_at, m.from_address, m.from_name, m.subject, \
     m.reply, m.original, m.kind, m.issue, m.participant, p.name AS participant_name, m.staff, \
     m.state, m.outcome";
const FROM: &str = "inbox_messages m LEFT JOIN participants p ON p.id = m.participant";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    read_at: i64,
    sent_at: Option<i64>,
    from_address: String,
    from_name: String,
    subject: String,
    reply: String,
    original: String,
    kind: String,
    issue: Option<i64>,
    participant: Option<i64>,
    participant_name: Option<String>,
    staff: Option<i64>,
    state: String,
    outcome: String,
}

impl Row {
    fn message(self) -> Result<InboxMessage> {
        Ok(InboxMessage {
            id: self.id,
            read_at: instant(self.read_at),
            sent_at: self.sent_at.map(instant),
            from_address: self.from_address,
            from_name: self.from_name,
            subject: self.subject,
            reply: self.reply,
            original: self.original,
            kind: self.kind.parse()?,
            issue: self.issue.map(IssueId),
            participant: self.participant.map(ParticipantId),
            participant_name: self.participant_name,
            staff: self.staff.map(StaffId),
            state: self.state.parse()?,
            outcome: self.outcome,
        })
    }
}

/// One message.
pub(super) async fn get(conn: impl Into<Conn<'_>>, id: i64) -> Result<Option<InboxMessage>> {
    let row: Option<Row> = either!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE m.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *c)
    .await?);
    row.map(Row::message).transpose()
}

/// The message read from this folder's message `uid`.
pub(super) async fn at_place(
    conn: impl Into<Conn<'_>>,
    (folder, uid_validity, uid): (&str, u32, u32),
) -> Result<Option<InboxMessage>> {
    let row: Option<Row> = either!(conn, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE m.folder = $1 AND m.uid_validity = $2 AND m.uid = $3"
    )))
    .bind(folder)
    .bind(i64::from(uid_validity))
    .bind(i64::from(uid))
    .fetch_optional(&mut *c)
    .await?
    });
    row.map(Row::message).transpose()
}

/// The messages in `state`, newest first, at most `limit`.
pub(super) async fn in_state(
    conn: impl Into<Conn<'_>>,
    state: InboxState,
    limit: u32,
) -> Result<Vec<InboxMessage>> {
    let rows: Vec<Row> = either!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE m.state = $1 ORDER BY m.id DESC LIMIT $2"
    )))
    .bind(state.as_str())
    .bind(i64::from(limit))
    .fetch_all(&mut *c)
    .await?);
    rows.into_iter().map(Row::message).collect()
}

/// The messages filed with issue `id`, oldest first.
pub(super) async fn for_issue(conn: impl Into<Conn<'_>>, id: IssueId) -> Result<Vec<InboxMessage>> {
    let rows: Vec<Row> = either!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE m.issue = $1 ORDER BY m.id"
    )))
    .bind(id.0)
    .fetch_all(&mut *c)
    .await?);
    rows.into_iter().map(Row::message).collect()
}

/// The messages filed with participant `id` or with one of their issues,
/// oldest first.
pub(super) async fn for_participant(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
) -> Result<Vec<InboxMessage>> {
    let rows: Vec<Row> = either!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE m.participant = $1 \
         OR m.issue IN (SELECT id FROM issues WHERE participant = $1) ORDER BY m.id"
    )))
    .bind(id.0)
    .fetch_all(&mut *c)
    .await?);
    rows.into_iter().map(Row::message).collect()
}

/// Deletes every message from or filed with the participant; how many.
pub(crate) async fn forget_participant(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
    email: Option<&str>,
) -> Result<u32> {
    Ok(either!(conn, |c| sqlx::query(
        "DELETE FROM inbox_messages WHERE participant = $1 OR ($2 <> '' AND from_address = $2)"
    )
    .bind(id.0)
    .bind(email.map(str::to_lowercase).unwrap_or_default())
    .execute(&mut *c)
    .await?
    .rows_affected()) as u32)
}
