//! Where the outbox is kept: every statement on the queued, sent, failed
//! and cancelled messages and their attachments, each on the connection or
//! transaction it is given. What a message may hold, which change a
//! message allows and how delivery retries are the outbox's rules
//! (`mail`, `mail::worker`).

use super::transport::Outgoing;
use super::{
    Attachment, MessageId, NewMessage, OutboxDetail, OutboxMessage, Rendered, Status, header_text,
};
use crate::db::bulk::{self, Value};
use crate::db::{instant, millis};
use crate::participants::fields::Email;
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection, sqlite::SqliteRow};

/// The sender's address from the saved SMTP settings, if any.
pub(super) async fn sender_address(conn: &mut SqliteConnection) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT json_extract(value, '$.fromAddress') FROM settings WHERE key = 'smtp'",
    )
    .fetch_optional(&mut *conn)
    .await?
    .flatten())
}

/// A message as it is written: checked, with its headers as JSON and its
/// Message-ID fixed.
pub(super) struct Stored {
    pub headers: String,
    pub subject: String,
    pub message_id: String,
}

const INSERT: &str = "INSERT INTO outbox (kind, recipient, recipient_name, reply_to, from_name, \
     subject, body_text, body_html, headers, message_id, not_before, next_attempt_at, \
     created_at, updated_at, topic) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// Writes one message, queued, with its attachments.
pub(super) async fn insert(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    message: &NewMessage,
    stored: &Stored,
) -> Result<MessageId> {
    let not_before = millis(message.not_before);
    let id: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("{INSERT} RETURNING id")))
        .bind(message.kind.as_str())
        .bind(message.to.as_str())
        .bind(header_text(&message.to_name))
        .bind(message.reply_to.as_ref().map(Email::as_str))
        .bind(message.from_name.as_deref().map(header_text))
        .bind(&stored.subject)
        .bind(&message.body.text)
        .bind(&message.body.html)
        .bind(&stored.headers)
        .bind(&stored.message_id)
        .bind(not_before)
        .bind(not_before.max(millis(now)))
        .bind(millis(now))
        .bind(millis(now))
        .bind(&message.topic)
        .fetch_one(&mut *conn)
        .await?;
    for a in &message.attachments {
        sqlx::query(
            "INSERT INTO outbox_attachments (message, filename, content_type, content) VALUES (?, ?, ?, ?)",
        )
        .bind(id)
        .bind(header_text(&a.filename))
        .bind(&a.content_type)
        .bind(&a.content)
        .execute(&mut *conn)
        .await?;
    }
    Ok(MessageId(id))
}

/// Writes many messages without attachments, queued, through one prepared
/// statement.
pub(super) async fn insert_many(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    messages: &[NewMessage],
    stored: &[Stored],
) -> Result<()> {
    let names: Vec<(String, Option<String>)> = messages
        .iter()
        .map(|m| {
            (
                header_text(&m.to_name),
                m.from_name.as_deref().map(header_text),
            )
        })
        .collect();
    let mut rows = bulk::Rows::prepare(conn, INSERT).await?;
    for ((m, s), (to_name, from_name)) in messages.iter().zip(stored).zip(&names) {
        let not_before = millis(m.not_before);
        rows.write(&[
            m.kind.as_str().into(),
            m.to.as_str().into(),
            to_name.as_str().into(),
            m.reply_to.as_ref().map(Email::as_str).into(),
            from_name.as_deref().into(),
            s.subject.as_str().into(),
            m.body.text.as_str().into(),
            m.body.html.as_str().into(),
            s.headers.as_str().into(),
            s.message_id.as_str().into(),
            Value::Int(not_before),
            Value::Int(not_before.max(millis(now))),
            Value::Int(millis(now)),
            Value::Int(millis(now)),
            m.topic.as_deref().into(),
        ])?;
    }
    Ok(())
}

/// Cancels, inside the caller's transaction, every queued or failed message
/// whose topic starts with `prefix` (a rescheduled session's reminders, say).
/// Returns how many were cancelled. Messages already sent are left alone.
pub async fn cancel_topic(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    prefix: &str,
) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE outbox SET status = 'cancelled', updated_at = ?1 \
         WHERE substr(topic, 1, length(?2)) = ?2 AND status IN ('queued', 'failed')",
    )
    .bind(millis(now))
    .bind(prefix)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Withdraws the messages not yet sent whose topic matches `glob` (GLOB
/// syntax: `*` for any text).
pub async fn cancel_glob(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    glob: &str,
) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE outbox SET status = 'cancelled', updated_at = ?1 \
         WHERE topic GLOB ?2 AND status IN ('queued', 'failed')",
    )
    .bind(millis(now))
    .bind(glob)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// The messages not yet sent whose topic starts with `prefix`, with their
/// topics.
pub async fn waiting_with_topic(
    conn: &mut SqliteConnection,
    prefix: &str,
) -> Result<Vec<(MessageId, String)>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, topic FROM outbox WHERE substr(topic, 1, length(?1)) = ?1 \
         AND status IN ('queued', 'failed')",
    )
    .bind(prefix)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(id, t)| (MessageId(id), t)).collect())
}

/// Withdraws one message, inside the caller's transaction, if it is not
/// sent yet.
pub async fn withdraw(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    id: MessageId,
) -> Result<()> {
    sqlx::query(
        "UPDATE outbox SET status = 'cancelled', updated_at = ? WHERE id = ? \
         AND status IN ('queued', 'failed')",
    )
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether a message with exactly this topic was ever queued and not
/// withdrawn (sent, waiting or failed).
pub async fn topic_queued(conn: &mut SqliteConnection, topic: &str) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE topic = ? AND status != 'cancelled')",
    )
    .bind(topic)
    .fetch_one(&mut *conn)
    .await?)
}

const MESSAGE_COLUMNS: &str = "o.id, o.kind, o.recipient, o.recipient_name, o.subject, o.status, \
    o.not_before, o.next_attempt_at, o.attempts, o.last_error, o.created_at, o.sent_at, o.message_id, \
    (SELECT json_group_array(filename) FROM outbox_attachments a WHERE a.message = o.id) AS attachments";

fn message_from(row: &SqliteRow) -> Result<OutboxMessage> {
    let status: Status = row.get::<String, _>("status").parse()?;
    let attachments: String = row.get("attachments");
    Ok(OutboxMessage {
        id: MessageId(row.get("id")),
        kind: row.get::<String, _>("kind").parse()?,
        recipient: row.get("recipient"),
        recipient_name: row.get("recipient_name"),
        subject: row.get("subject"),
        status,
        not_before: instant(row.get("not_before")),
        next_attempt_at: matches!(status, Status::Queued | Status::Sending)
            .then(|| instant(row.get("next_attempt_at"))),
        attempts: row.get("attempts"),
        last_error: row.get("last_error"),
        created_at: instant(row.get("created_at")),
        sent_at: row.get::<Option<i64>, _>("sent_at").map(instant),
        message_id: row.get("message_id"),
        attachments: serde_json::from_str(&attachments).unwrap_or_default(),
    })
}

/// How many messages are in each state, and of those how many are due at
/// `now`.
pub(super) async fn counts(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
) -> Result<Vec<(Status, i64, i64)>> {
    let rows = sqlx::query(
        "SELECT status, count(*) AS n, sum(next_attempt_at <= ?) AS due FROM outbox GROUP BY status",
    )
    .bind(millis(now))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.get::<String, _>("status").parse::<Status>()?,
                row.get::<i64, _>("n"),
                row.get::<Option<i64>, _>("due").unwrap_or(0),
            ))
        })
        .collect()
}

/// A page of the outbox (of one status, or all): waiting messages first
/// (soonest first), then the rest newest first; and how many there are.
pub(super) async fn list(
    conn: &mut SqliteConnection,
    status: Option<Status>,
    limit: u32,
    offset: u32,
) -> Result<(Vec<OutboxMessage>, i64)> {
    let status = status.map(Status::as_str);
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM outbox o WHERE (?1 IS NULL OR o.status = ?1) \
         ORDER BY o.status IN ('queued', 'sending') DESC, \
         CASE WHEN o.status IN ('queued', 'sending') THEN o.next_attempt_at END, \
         o.updated_at DESC, o.id DESC LIMIT ?2 OFFSET ?3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(status)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await?;
    let total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE (?1 IS NULL OR status = ?1)")
            .bind(status)
            .fetch_one(&mut *conn)
            .await?;
    Ok((rows.iter().map(message_from).collect::<Result<_>>()?, total))
}

/// One message with its bodies.
pub(super) async fn get(conn: &mut SqliteConnection, id: MessageId) -> Result<OutboxDetail> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS}, o.reply_to, o.body_text, o.body_html, o.headers \
         FROM outbox o WHERE o.id = ?"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::not_found("message", id))?;
    let message = message_from(&row)?;
    let headers: String = row.get("headers");
    Ok(OutboxDetail {
        body: Rendered {
            subject: message.subject.clone(),
            text: row.get("body_text"),
            html: row.get("body_html"),
        },
        message,
        reply_to: row.get("reply_to"),
        headers: serde_json::from_str(&headers).unwrap_or_default(),
    })
}

/// A message's state.
pub(super) async fn status_of(conn: &mut SqliteConnection, id: MessageId) -> Result<Status> {
    let s: Option<String> = sqlx::query_scalar("SELECT status FROM outbox WHERE id = ?")
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?;
    s.ok_or_else(|| Error::not_found("message", id))?.parse()
}

/// Puts a message back in the queue, due now or at its scheduled time if
/// that is still ahead, its failures forgotten.
pub(super) async fn requeue_now(
    conn: &mut SqliteConnection,
    id: MessageId,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE outbox SET status = 'queued', next_attempt_at = max(not_before, ?1), \
         first_failure_at = NULL, maybe_delivered = 0, updated_at = ?1 WHERE id = ?2",
    )
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Cancels one message.
pub(super) async fn cancel_one(
    conn: &mut SqliteConnection,
    id: MessageId,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("UPDATE outbox SET status = 'cancelled', updated_at = ?1 WHERE id = ?2")
        .bind(millis(now))
        .bind(id.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Puts every failed message that cannot have reached its recipient back
/// in the queue, due now or at its scheduled time if that is still ahead;
/// returns how many.
pub(super) async fn requeue_failed(conn: &mut SqliteConnection, now: DateTime<Utc>) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE outbox SET status = 'queued', next_attempt_at = max(not_before, ?1), \
         first_failure_at = NULL, updated_at = ?1 WHERE status = 'failed' AND maybe_delivered = 0",
    )
    .bind(millis(now))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Cancels every failed message; returns how many.
pub(super) async fn cancel_failed(conn: &mut SqliteConnection, now: DateTime<Utc>) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE outbox SET status = 'cancelled', updated_at = ?1 WHERE status = 'failed'",
    )
    .bind(millis(now))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// In one durable statement: records `sent` as accepted by the server, and
/// claims `claim` (marks it `sending`, counting the attempt) if it is still
/// queued. Returns the ids it changed.
pub(super) async fn record(
    conn: &mut SqliteConnection,
    sent: Option<MessageId>,
    claim: Option<MessageId>,
    now: DateTime<Utc>,
) -> Result<Vec<MessageId>> {
    let changed: Vec<i64> = sqlx::query_scalar(
        "UPDATE outbox SET \
           status = CASE WHEN id = ?1 THEN 'sent' ELSE 'sending' END, \
           sent_at = CASE WHEN id = ?1 THEN ?3 ELSE sent_at END, \
           last_error = CASE WHEN id = ?1 THEN NULL ELSE last_error END, \
           attempts = CASE WHEN id = ?2 THEN attempts + 1 ELSE attempts END, \
           updated_at = ?3 \
         WHERE (id = ?1 AND status = 'sending') OR (id = ?2 AND status = 'queued') \
         RETURNING id",
    )
    .bind(sent.map(|m| m.0))
    .bind(claim.map(|m| m.0))
    .bind(millis(now))
    .fetch_all(&mut *conn)
    .await?;
    Ok(changed.into_iter().map(MessageId).collect())
}

/// Whether any message is marked as being handed to the server.
pub(super) async fn any_sending(conn: &mut SqliteConnection) -> Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM outbox WHERE status = 'sending')")
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// Records a message being handed to the server as sent at `at`.
pub(super) async fn mark_sent(
    conn: &mut SqliteConnection,
    id: MessageId,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE outbox SET status = 'sent', sent_at = ?1, last_error = NULL, updated_at = ?2 \
         WHERE id = ?3 AND status = 'sending'",
    )
    .bind(millis(at))
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Fails every message left being handed to the server, saying it may have
/// been delivered; returns how many.
pub(super) async fn fail_interrupted(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE outbox SET status = 'failed', maybe_delivered = 1, updated_at = ?, last_error = \
         'delivery was interrupted while the server was taking it (the program stopped); \
         it may have been delivered: check with the recipient, then retry or cancel' \
         WHERE status = 'sending'",
    )
    .bind(millis(now))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// When the next queued message is due, if any is.
pub(super) async fn next_due(conn: &mut SqliteConnection) -> Result<Option<DateTime<Utc>>> {
    let at: Option<i64> =
        sqlx::query_scalar("SELECT min(next_attempt_at) FROM outbox WHERE status = 'queued'")
            .fetch_one(&mut *conn)
            .await?;
    Ok(at.map(instant))
}

/// At most `limit` messages whose time has come at `now`, oldest due
/// first, with their attachments.
pub(super) async fn load_due(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(MessageId, Outgoing)>> {
    let rows = sqlx::query(
        "SELECT id, kind, recipient, recipient_name, reply_to, from_name, subject, body_text, \
         body_html, headers, message_id FROM outbox \
         WHERE status = 'queued' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
    )
    .bind(millis(now))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.get("id")).collect();
    let mut attachments: std::collections::HashMap<i64, Vec<Attachment>> = Default::default();
    if !ids.is_empty() {
        let files = sqlx::query(
            "SELECT message, filename, content_type, content FROM outbox_attachments \
             WHERE message IN (SELECT value FROM json_each(?)) ORDER BY id",
        )
        .bind(serde_json::to_string(&ids).expect("ids serialise"))
        .fetch_all(&mut *conn)
        .await?;
        for a in files {
            attachments
                .entry(a.get("message"))
                .or_default()
                .push(Attachment {
                    filename: a.get("filename"),
                    content_type: a.get("content_type"),
                    content: a.get("content"),
                });
        }
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let id: i64 = row.get("id");
            let headers: String = row.get("headers");
            let kind: String = row.get("kind");
            let outgoing = Outgoing {
                kind: kind.parse().unwrap_or(super::MessageKind::Test),
                recipient: row.get("recipient"),
                recipient_name: row.get("recipient_name"),
                reply_to: row.get("reply_to"),
                from_name: row.get("from_name"),
                subject: row.get("subject"),
                text: row.get("body_text"),
                html: row.get("body_html"),
                headers: serde_json::from_str(&headers).unwrap_or_default(),
                message_id: row.get("message_id"),
                attachments: attachments.remove(&id).unwrap_or_default(),
            };
            (MessageId(id), outgoing)
        })
        .collect())
}

/// Fails a message with `why`; `count_attempt` when the attempt was not
/// counted by a claim; `maybe_delivered` when it may have reached its
/// recipient all the same.
pub(super) async fn fail(
    conn: &mut SqliteConnection,
    id: MessageId,
    why: &str,
    count_attempt: bool,
    maybe_delivered: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE outbox SET status = 'failed', last_error = ?1, updated_at = ?2, \
         attempts = attempts + ?3, maybe_delivered = ?4 WHERE id = ?5",
    )
    .bind(why)
    .bind(millis(now))
    .bind(i64::from(count_attempt))
    .bind(maybe_delivered)
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A message's attempts so far, its first temporary failure, and whether
/// it is claimed (being handed to the server).
pub(super) async fn attempts(
    conn: &mut SqliteConnection,
    id: MessageId,
) -> Result<(i64, Option<DateTime<Utc>>, bool)> {
    let row = sqlx::query("SELECT attempts, first_failure_at, status FROM outbox WHERE id = ?")
        .bind(id.0)
        .fetch_one(&mut *conn)
        .await?;
    Ok((
        row.get("attempts"),
        row.get::<Option<i64>, _>("first_failure_at").map(instant),
        row.get::<String, _>("status") == "sending",
    ))
}

/// Leaves a message queued for another attempt at `next`, with `why`.
pub(super) async fn defer(
    conn: &mut SqliteConnection,
    id: MessageId,
    attempts: i64,
    why: &str,
    first_failure: DateTime<Utc>,
    next: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE outbox SET status = 'queued', attempts = ?1, last_error = ?2, \
         first_failure_at = ?3, next_attempt_at = ?4, updated_at = ?5 WHERE id = ?6",
    )
    .bind(attempts)
    .bind(why)
    .bind(millis(first_failure))
    .bind(millis(next))
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
