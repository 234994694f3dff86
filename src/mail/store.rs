//! Where the outbox is kept: every statement on the queued, sent, failed
//! and cancelled messages and their attachments, each on the connection or
//! transaction it is given. What a message may hold, which change a
//! message allows and how delivery retries are the outbox's rules
//! (`mail`, `mail::worker`).
//!
//! On a team database several workers, on several machines, share the
//! outbox: each takes a batch of due messages under a short lease (`FOR
//! UPDATE SKIP LOCKED`, so two workers take different ones), claims each
//! message as it hands it over (a claim succeeds once), and holds an
//! advisory lock named by its worker number for as long as it runs, so a
//! message left `sending` is failed as interrupted only when the worker
//! that claimed it is gone.

use super::transport::Outgoing;
use super::{
    Attachment, MessageId, NewMessage, OutboxDetail, OutboxMessage, Rendered, Status, header_text,
};
use crate::db::bulk::{self, Value};
use crate::db::{Conn, Dialect, either, instant, millis};
use crate::participants::fields::Email;
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;
use sqlx::{Postgres, QueryBuilder};

/// The sender's address from the saved SMTP settings, if any.
pub(super) async fn sender_address(conn: impl Into<Conn<'_>>) -> Result<Option<String>> {
    let found: Option<Option<String>> = match conn.into() {
        Conn::Sqlite(c) => {
            sqlx::query_scalar(
                "SELECT json_extract(value, '$.fromAddress') FROM settings WHERE key = 'smtp'",
            )
            .fetch_optional(c)
            .await?
        }
        Conn::Postgres(c) => {
            sqlx::query_scalar(
                "SELECT value::jsonb ->> 'fromAddress' FROM settings WHERE key = 'smtp'",
            )
            .fetch_optional(c)
            .await?
        }
    };
    Ok(found.flatten())
}

/// A message as it is written: checked, with its headers as JSON and its
/// Message-ID fixed.
pub(super) struct Stored {
    pub headers: String,
    pub subject: String,
    pub message_id: String,
}

const COLUMNS: &str = "INSERT INTO outbox (kind, recipient, recipient_name, reply_to, from_name, \
     subject, body_text, body_html, headers, message_id, not_before, next_attempt_at, \
     created_at, updated_at, topic) ";

const INSERT: &str = "INSERT INTO outbox (kind, recipient, recipient_name, reply_to, from_name, \
     subject, body_text, body_html, headers, message_id, not_before, next_attempt_at, \
     created_at, updated_at, topic) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
     $13, $14, $15)";

/// Writes one message, queued, with its attachments.
pub(super) async fn insert(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    message: &NewMessage,
    stored: &Stored,
) -> Result<MessageId> {
    let mut conn = conn.into();
    let not_before = millis(message.not_before);
    let id: i64 = either!(conn.reborrow(), |c| sqlx::query_scalar(
        sqlx::AssertSqlSafe(format!("{INSERT} RETURNING id"))
    )
    .bind(message.kind.as_str())
    .bind(message.to.as_str())
    .bind(header_text(&message.to_name))
    .bind(super::model::reply_to_header(message))
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
    .fetch_one(&mut *c)
    .await?);
    for a in &message.attachments {
        either!(conn.reborrow(), |c| sqlx::query(
            "INSERT INTO outbox_attachments (message, filename, content_type, content) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(header_text(&a.filename))
        .bind(&a.content_type)
        .bind(&a.content)
        .execute(&mut *c)
        .await?
        .rows_affected());
    }
    Ok(MessageId(id))
}

/// Writes many messages without attachments, queued: on SQLite through one
/// prepared statement, on PostgreSQL in statements of many rows each.
pub(super) async fn insert_many(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    messages: &[NewMessage],
    stored: &[Stored],
) -> Result<()> {
    let conn = match conn.into() {
        Conn::Sqlite(c) => c,
        Conn::Postgres(c) => return insert_many_pg(c, now, messages, stored).await,
    };
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

/// Rows per statement: 15 parameters each, under PostgreSQL's 65,535.
const PG_ROWS_PER_STATEMENT: usize = 4000;

async fn insert_many_pg(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    messages: &[NewMessage],
    stored: &[Stored],
) -> Result<()> {
    let rows: Vec<(&NewMessage, &Stored)> = messages.iter().zip(stored).collect();
    for chunk in rows.chunks(PG_ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Postgres>::new(COLUMNS);
        q.push_values(chunk, |mut b, (m, s)| {
            let not_before = millis(m.not_before);
            b.push_bind(m.kind.as_str())
                .push_bind(m.to.as_str().to_string())
                .push_bind(header_text(&m.to_name))
                .push_bind(m.reply_to.as_ref().map(|e| e.as_str().to_string()))
                .push_bind(m.from_name.as_deref().map(header_text))
                .push_bind(s.subject.clone())
                .push_bind(m.body.text.clone())
                .push_bind(m.body.html.clone())
                .push_bind(s.headers.clone())
                .push_bind(s.message_id.clone())
                .push_bind(not_before)
                .push_bind(not_before.max(millis(now)))
                .push_bind(millis(now))
                .push_bind(millis(now))
                .push_bind(m.topic.clone());
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Cancels, inside the caller's transaction, every queued or failed message
/// whose topic starts with `prefix` (a rescheduled session's reminders, say).
/// Returns how many were cancelled. Messages already sent are left alone.
pub async fn cancel_topic(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    prefix: &str,
) -> Result<u64> {
    let conn = conn.into();
    let (starts, values) = topic_starts_with(conn.dialect(), prefix, 2);
    let done = either!(conn, |c| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outbox SET status = 'cancelled', updated_at = $1 \
             WHERE {starts} AND status IN ('queued', 'failed')"
        )))
        .bind(millis(now));
        for v in &values {
            q = q.bind(v);
        }
        q.execute(&mut *c).await?.rows_affected()
    });
    Ok(done)
}

/// The condition that a message's topic starts with `prefix`, its values
/// numbered from `$first`, and those values. A panel file reads it as a
/// GLOB; a team database as a range of the topic index's order (bytes, as
/// `text_pattern_ops` keeps them), from the prefix to the first text
/// after every text that starts with it. Either finds the topics through
/// the index on `topic` (a comparison of a part of the topic would read the
/// whole outbox, as each contact logged on an issue did), and the range,
/// unlike a LIKE with its pattern bound, can be found through the index by
/// a plan kept for the statement, its values unknown. (PostgreSQL still
/// plans it afresh while it estimates such a plan to cost more than one
/// made for the values: it takes a range with unknown ends for 0.5% of
/// the outbox.)
fn topic_starts_with(dialect: Dialect, prefix: &str, first: usize) -> (String, Vec<String>) {
    match dialect {
        Dialect::Sqlite => {
            let mut pattern = String::with_capacity(prefix.len() + 4);
            for ch in prefix.chars() {
                match ch {
                    '*' | '?' | '[' => {
                        pattern.push('[');
                        pattern.push(ch);
                        pattern.push(']');
                    }
                    _ => pattern.push(ch),
                }
            }
            pattern.push('*');
            (format!("topic GLOB ${first}"), vec![pattern])
        }
        Dialect::Postgres => match after_every_start(prefix) {
            Some(end) => (
                format!("topic ~>=~ ${first} AND topic ~<~ ${}", first + 1),
                vec![prefix.to_string(), end],
            ),
            None => (format!("topic ~>=~ ${first}"), vec![prefix.to_string()]),
        },
    }
}

/// The first text, in code point order (UTF-8's byte order), after every
/// text that starts with `prefix`: its last character that has a next one,
/// made that next one, and what followed it dropped. None when every text
/// from `prefix` on starts with it (it is empty, or all U+10FFFF).
fn after_every_start(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last as u32 + 1 {
            0xD800 => Some('\u{E000}'),
            n => char::from_u32(n),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Withdraws the messages not yet sent whose topic matches `glob` (GLOB
/// syntax: `*` for any text).
pub async fn cancel_glob(conn: impl Into<Conn<'_>>, now: DateTime<Utc>, glob: &str) -> Result<u64> {
    let done = match conn.into() {
        Conn::Sqlite(c) => sqlx::query(
            "UPDATE outbox SET status = 'cancelled', updated_at = $1 \
             WHERE topic GLOB $2 AND status IN ('queued', 'failed')",
        )
        .bind(millis(now))
        .bind(glob)
        .execute(c)
        .await?
        .rows_affected(),
        Conn::Postgres(c) => sqlx::query(
            "UPDATE outbox SET status = 'cancelled', updated_at = $1 \
             WHERE topic LIKE $2 AND status IN ('queued', 'failed')",
        )
        .bind(millis(now))
        .bind(like_of_glob(glob))
        .execute(c)
        .await?
        .rows_affected(),
    };
    Ok(done)
}

/// The LIKE pattern (escaped with `\\`) matching what the GLOB pattern
/// `glob` matches, for globs made only of text and `*`.
pub(crate) fn like_of_glob(glob: &str) -> String {
    let mut like = String::with_capacity(glob.len() + 4);
    for ch in glob.chars() {
        match ch {
            '*' => like.push('%'),
            '%' | '_' | '\\' => {
                like.push('\\');
                like.push(ch);
            }
            _ => like.push(ch),
        }
    }
    like
}

/// The messages not yet sent whose topic starts with `prefix`, with their
/// topics.
pub async fn waiting_with_topic(
    conn: impl Into<Conn<'_>>,
    prefix: &str,
) -> Result<Vec<(MessageId, String)>> {
    let conn = conn.into();
    let (starts, values) = topic_starts_with(conn.dialect(), prefix, 1);
    let rows: Vec<(i64, String)> = either!(conn, |c| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, topic FROM outbox WHERE {starts} AND status IN ('queued', 'failed')"
        )));
        for v in &values {
            q = q.bind(v);
        }
        q.fetch_all(&mut *c).await?
    });
    Ok(rows.into_iter().map(|(id, t)| (MessageId(id), t)).collect())
}

/// Cancels the messages not yet sent whose topic starts with `cancel`
/// ([`cancel_topic`]), and answers those whose topic starts with `waiting`
/// ([`waiting_with_topic`]), which are other messages: on a team database,
/// in one statement (an issue's nudges are cancelled and its escalations
/// read on every change of the issue).
pub async fn cancel_topic_and_read(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    cancel: &str,
    waiting: &str,
) -> Result<Vec<(MessageId, String)>> {
    debug_assert!(!cancel.starts_with(waiting) && !waiting.starts_with(cancel));
    let mut conn = conn.into();
    let Conn::Postgres(c) = conn.reborrow() else {
        cancel_topic(conn.reborrow(), now, cancel).await?;
        return waiting_with_topic(conn, waiting).await;
    };
    let (cancelled, mut values) = topic_starts_with(Dialect::Postgres, cancel, 2);
    let (read, more) = topic_starts_with(Dialect::Postgres, waiting, 2 + values.len());
    values.extend(more);
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH cancelled AS (UPDATE outbox SET status = 'cancelled', updated_at = $1 \
           WHERE {cancelled} AND status IN ('queued', 'failed')) \
         SELECT id, topic FROM outbox WHERE {read} AND status IN ('queued', 'failed')"
    )))
    .bind(millis(now));
    for v in &values {
        q = q.bind(v);
    }
    let rows: Vec<(i64, String)> = q.fetch_all(&mut *c).await?;
    Ok(rows.into_iter().map(|(id, t)| (MessageId(id), t)).collect())
}

/// Withdraws one message, inside the caller's transaction, if it is not
/// sent yet.
pub async fn withdraw(conn: impl Into<Conn<'_>>, now: DateTime<Utc>, id: MessageId) -> Result<()> {
    either!(conn, |c| sqlx::query(
        "UPDATE outbox SET status = 'cancelled', updated_at = $1 WHERE id = $2 \
         AND status IN ('queued', 'failed')",
    )
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

/// Whether a message with exactly this topic was ever queued and not
/// withdrawn (sent, waiting or failed).
pub async fn topic_queued(conn: impl Into<Conn<'_>>, topic: &str) -> Result<bool> {
    Ok(either!(conn, |c| sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE topic = $1 AND status != 'cancelled')",
    )
    .bind(topic)
    .fetch_one(&mut *c)
    .await?))
}

const MESSAGE_COLUMNS: &str = "o.id, o.kind, o.recipient, o.recipient_name, o.subject, o.status, \
    o.not_before, o.next_attempt_at, o.attempts, o.last_error, o.created_at, o.sent_at, o.message_id";

/// A message's attachments' names as a JSON array, in each store's words.
fn attachment_names(conn: &Conn<'_>) -> &'static str {
    match conn {
        Conn::Sqlite(_) => {
            "(SELECT json_group_array(filename) FROM outbox_attachments a \
             WHERE a.message = o.id) AS attachments"
        }
        Conn::Postgres(_) => {
            "(SELECT coalesce(json_agg(filename ORDER BY a.id), '[]')::text \
             FROM outbox_attachments a WHERE a.message = o.id) AS attachments"
        }
    }
}

/// A message as the outbox's list reads it.
#[derive(sqlx::FromRow)]
struct MessageRow {
    id: i64,
    kind: String,
    recipient: String,
    recipient_name: String,
    subject: String,
    status: String,
    not_before: i64,
    next_attempt_at: i64,
    attempts: i64,
    last_error: Option<String>,
    created_at: i64,
    sent_at: Option<i64>,
    message_id: String,
    attachments: String,
}

impl MessageRow {
    fn message(self) -> Result<OutboxMessage> {
        let status: Status = self.status.parse()?;
        Ok(OutboxMessage {
            id: MessageId(self.id),
            kind: self.kind.parse()?,
            recipient: self.recipient,
            recipient_name: self.recipient_name,
            subject: self.subject,
            status,
            not_before: instant(self.not_before),
            next_attempt_at: matches!(status, Status::Queued | Status::Sending)
                .then(|| instant(self.next_attempt_at)),
            attempts: self.attempts,
            last_error: self.last_error,
            created_at: instant(self.created_at),
            sent_at: self.sent_at.map(instant),
            message_id: self.message_id,
            attachments: serde_json::from_str(&self.attachments).unwrap_or_default(),
        })
    }
}

/// A message with its bodies, as one is shown whole.
#[derive(sqlx::FromRow)]
struct DetailRow {
    #[sqlx(flatten)]
    message: MessageRow,
    reply_to: Option<String>,
    body_text: String,
    body_html: String,
    headers: String,
}

/// How many messages are in each state, and of those how many are due at
/// `now`.
pub(super) async fn counts(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
) -> Result<Vec<(Status, i64, i64)>> {
    let rows: Vec<(String, i64, i64)> = either!(conn, |c| sqlx::query_as(
        "SELECT status, count(*), \
         coalesce(sum(CASE WHEN next_attempt_at <= $1 THEN 1 ELSE 0 END), 0) \
         FROM outbox GROUP BY status",
    )
    .bind(millis(now))
    .fetch_all(&mut *c)
    .await?);
    rows.into_iter()
        .map(|(status, n, due)| Ok((status.parse::<Status>()?, n, due)))
        .collect()
}

/// The outbox's order: waiting messages first (soonest first), then the
/// rest newest first. `o` names the table, or nothing. A team database
/// walks it from an index on these very expressions (`outbox_list_order`):
/// a change here needs a migration there.
fn list_order(o: &str) -> String {
    format!(
        "{o}status IN ('queued', 'sending') DESC, \
         CASE WHEN {o}status IN ('queued', 'sending') THEN {o}next_attempt_at END, \
         {o}updated_at DESC, {o}id DESC"
    )
}

/// The statement for a page of the outbox ([`list`]).
fn list_sql(attachments: &str) -> String {
    format!(
        "SELECT {MESSAGE_COLUMNS}, {attachments} FROM outbox o WHERE o.id IN (\
         SELECT id FROM outbox WHERE (CAST($1 AS TEXT) IS NULL OR status = $1) \
         ORDER BY {} LIMIT $2 OFFSET $3) ORDER BY {}",
        list_order(""),
        list_order("o."),
    )
}

/// A page of the outbox (of one status, or all): waiting messages first
/// (soonest first), then the rest newest first; and how many there are.
/// The page is chosen from the `outbox_list` index alone and only its
/// messages are read: a message's row holds its bodies, and ordering a
/// backlog of 60,000 escalations by reading their rows took 160 ms.
pub(super) async fn list(
    conn: impl Into<Conn<'_>>,
    status: Option<Status>,
    limit: u32,
    offset: u32,
) -> Result<(Vec<OutboxMessage>, i64)> {
    let mut conn = conn.into();
    let status = status.map(Status::as_str);
    let sql = list_sql(attachment_names(&conn));
    let rows: Vec<MessageRow> = either!(conn.reborrow(), |c| sqlx::query_as(sqlx::AssertSqlSafe(
        sql
    ))
    .bind(status)
    .bind(i64::from(limit))
    .bind(i64::from(offset))
    .fetch_all(&mut *c)
    .await?);
    let total: i64 = either!(conn, |c| sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE (CAST($1 AS TEXT) IS NULL OR status = $1)"
    )
    .bind(status)
    .fetch_one(&mut *c)
    .await?);
    Ok((
        rows.into_iter()
            .map(MessageRow::message)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// One message with its bodies.
pub(super) async fn get(conn: impl Into<Conn<'_>>, id: MessageId) -> Result<OutboxDetail> {
    let conn = conn.into();
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS}, {}, o.reply_to, o.body_text, o.body_html, o.headers \
         FROM outbox o WHERE o.id = $1",
        attachment_names(&conn)
    );
    let row: DetailRow = either!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?)
    .ok_or_else(|| Error::not_found("message", id))?;
    let message = row.message.message()?;
    Ok(OutboxDetail {
        body: Rendered {
            subject: message.subject.clone(),
            text: row.body_text,
            html: row.body_html,
        },
        message,
        reply_to: row.reply_to,
        headers: serde_json::from_str(&row.headers).unwrap_or_default(),
    })
}

/// A message's state.
pub(super) async fn status_of(conn: impl Into<Conn<'_>>, id: MessageId) -> Result<Status> {
    // On PostgreSQL the row stays locked to the caller's transaction, so a
    // change decided on this state cannot be raced by another process.
    let s: Option<String> = match conn.into() {
        Conn::Sqlite(c) => {
            sqlx::query_scalar("SELECT status FROM outbox WHERE id = $1")
                .bind(id.0)
                .fetch_optional(c)
                .await?
        }
        Conn::Postgres(c) => {
            sqlx::query_scalar("SELECT status FROM outbox WHERE id = $1 FOR UPDATE")
                .bind(id.0)
                .fetch_optional(c)
                .await?
        }
    };
    s.ok_or_else(|| Error::not_found("message", id))?.parse()
}

/// Puts a message back in the queue, due now or at its scheduled time if
/// that is still ahead, its failures forgotten.
pub(super) async fn requeue_now(
    conn: impl Into<Conn<'_>>,
    id: MessageId,
    now: DateTime<Utc>,
) -> Result<()> {
    either!(conn, |c| sqlx::query(
        "UPDATE outbox SET status = 'queued', \
         next_attempt_at = CASE WHEN not_before > $1 THEN not_before ELSE $1 END, \
         first_failure_at = NULL, maybe_delivered = false, updated_at = $1 WHERE id = $2",
    )
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

/// Cancels one message.
pub(super) async fn cancel_one(
    conn: impl Into<Conn<'_>>,
    id: MessageId,
    now: DateTime<Utc>,
) -> Result<()> {
    either!(conn, |c| sqlx::query(
        "UPDATE outbox SET status = 'cancelled', updated_at = $1 WHERE id = $2"
    )
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

/// Puts every failed message that cannot have reached its recipient back
/// in the queue, due now or at its scheduled time if that is still ahead;
/// returns how many.
pub(super) async fn requeue_failed(conn: impl Into<Conn<'_>>, now: DateTime<Utc>) -> Result<u64> {
    Ok(either!(conn, |c| sqlx::query(
        "UPDATE outbox SET status = 'queued', \
         next_attempt_at = CASE WHEN not_before > $1 THEN not_before ELSE $1 END, \
         first_failure_at = NULL, updated_at = $1 \
         WHERE status = 'failed' AND maybe_delivered = false",
    )
    .bind(millis(now))
    .execute(&mut *c)
    .await?
    .rows_affected()))
}

/// Cancels every failed message; returns how many.
pub(super) async fn cancel_failed(conn: impl Into<Conn<'_>>, now: DateTime<Utc>) -> Result<u64> {
    Ok(either!(conn, |c| sqlx::query(
        "UPDATE outbox SET status = 'cancelled', updated_at = $1 WHERE status = 'failed'",
    )
    .bind(millis(now))
    .execute(&mut *c)
    .await?
    .rows_affected()))
}

/// In one durable statement: records `sent` as accepted by the server, and
/// claims `claim` (marks it `sending` for `worker`, counting the attempt) if
/// it is still queued. Returns the ids it changed. A claim succeeds once,
/// however many workers try it.
pub(super) async fn record(
    conn: impl Into<Conn<'_>>,
    sent: Option<MessageId>,
    claim: Option<MessageId>,
    worker: Option<i32>,
    now: DateTime<Utc>,
) -> Result<Vec<MessageId>> {
    let sent = sent.map(|m| m.0);
    let claim = claim.map(|m| m.0);
    // On a team database the claim also names the worker that holds it.
    let (worker_set, worker) = match worker {
        Some(w) => (
            "worker = CASE WHEN id = $2 THEN $4 ELSE worker END,",
            Some(i64::from(w)),
        ),
        None => ("", None),
    };
    let sql = format!(
        "UPDATE outbox SET \
           status = CASE WHEN id = $1 THEN 'sent' ELSE 'sending' END, \
           sent_at = CASE WHEN id = $1 THEN $3 ELSE sent_at END, \
           last_error = CASE WHEN id = $1 THEN NULL ELSE last_error END, \
           attempts = CASE WHEN id = $2 THEN attempts + 1 ELSE attempts END, \
           {worker_set} updated_at = $3 \
         WHERE (id = $1 AND status = 'sending') OR (id = $2 AND status = 'queued') \
         RETURNING id"
    );
    let changed: Vec<i64> = match conn.into() {
        Conn::Sqlite(c) => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(sent)
                .bind(claim)
                .bind(millis(now))
                .fetch_all(c)
                .await?
        }
        Conn::Postgres(c) => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(sent)
                .bind(claim)
                .bind(millis(now))
                .bind(worker)
                .fetch_all(c)
                .await?
        }
    };
    Ok(changed.into_iter().map(MessageId).collect())
}

/// Whether any message is marked as being handed to the server.
pub(super) async fn any_sending(conn: impl Into<Conn<'_>>) -> Result<bool> {
    Ok(either!(conn, |c| sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE status = 'sending')"
    )
    .fetch_one(&mut *c)
    .await?))
}

/// The workers holding messages being handed to the server (team
/// database).
pub(super) async fn sending_workers(conn: &mut PgConnection) -> Result<Vec<Option<i32>>> {
    let workers: Vec<Option<i64>> =
        sqlx::query_scalar("SELECT DISTINCT worker FROM outbox WHERE status = 'sending'")
            .fetch_all(conn)
            .await?;
    Ok(workers
        .into_iter()
        .map(|w| w.and_then(|w| i32::try_from(w).ok()))
        .collect())
}

/// The advisory lock that says a worker is alive: the first key names
/// the outbox's workers, the second is the worker's number.
const WORKERS: i32 = 0x504b_4d4c;

/// Takes the lock that says `worker` is alive, on a connection the worker
/// keeps for as long as it runs; false when another connection holds it
/// (a live worker of that number).
pub(super) async fn hold_worker(conn: &mut PgConnection, worker: i32) -> Result<bool> {
    Ok(sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
        .bind(WORKERS)
        .bind(worker)
        .fetch_one(conn)
        .await?)
}

/// Gives back a worker's lock taken with [`hold_worker`].
pub(super) async fn release_worker(conn: &mut PgConnection, worker: i32) -> Result<()> {
    sqlx::query("SELECT pg_advisory_unlock($1, $2)")
        .bind(WORKERS)
        .bind(worker)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a message being handed to the server as sent at `at`.
pub(super) async fn mark_sent(
    conn: impl Into<Conn<'_>>,
    id: MessageId,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    either!(conn, |c| sqlx::query(
        "UPDATE outbox SET status = 'sent', sent_at = $1, last_error = NULL, updated_at = $2 \
         WHERE id = $3 AND status = 'sending'",
    )
    .bind(millis(at))
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

const INTERRUPTED: &str = "UPDATE outbox SET status = 'failed', maybe_delivered = true, \
     updated_at = $1, last_error = 'delivery was interrupted while the server was taking it \
     (the program stopped); it may have been delivered: check with the recipient, then retry \
     or cancel' WHERE status = 'sending'";

/// Fails every message left being handed to the server, saying it may have
/// been delivered; returns how many.
pub(super) async fn fail_interrupted(conn: impl Into<Conn<'_>>, now: DateTime<Utc>) -> Result<u64> {
    Ok(either!(conn, |c| sqlx::query(INTERRUPTED)
        .bind(millis(now))
        .execute(&mut *c)
        .await?
        .rows_affected()))
}

/// Fails the messages a worker that is gone left being handed to the
/// server (team database); `None` for messages no worker holds.
pub(super) async fn fail_interrupted_of(
    conn: &mut PgConnection,
    worker: Option<i32>,
    now: DateTime<Utc>,
) -> Result<u64> {
    Ok(sqlx::query(sqlx::AssertSqlSafe(format!(
        "{INTERRUPTED} AND worker IS NOT DISTINCT FROM $2"
    )))
    .bind(millis(now))
    .bind(worker.map(i64::from))
    .execute(conn)
    .await?
    .rows_affected())
}

/// When the next queued message is due, if any is.
pub(super) async fn next_due(conn: impl Into<Conn<'_>>) -> Result<Option<DateTime<Utc>>> {
    let at: Option<i64> = either!(conn, |c| sqlx::query_scalar(
        "SELECT min(next_attempt_at) FROM outbox WHERE status = 'queued'"
    )
    .fetch_one(&mut *c)
    .await?);
    Ok(at.map(instant))
}

/// How long a worker on a team database keeps the due messages it took
/// before another worker may take those it has not claimed.
const LEASE_MS: i64 = 120_000;

/// A message as the worker reads it.
#[derive(sqlx::FromRow)]
struct DueRow {
    id: i64,
    kind: String,
    recipient: String,
    recipient_name: String,
    reply_to: Option<String>,
    from_name: Option<String>,
    subject: String,
    body_text: String,
    body_html: String,
    headers: String,
    message_id: String,
    next_attempt_at: i64,
}

/// At most `limit` messages whose time has come at `now`, oldest due
/// first, with their attachments. On a team database they are leased to
/// `worker` (messages another live lease holds are skipped), so two
/// workers take different messages.
pub(super) async fn load_due(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    limit: i64,
    worker: Option<i32>,
) -> Result<Vec<(MessageId, Outgoing)>> {
    let mut conn = conn.into();
    let mut rows: Vec<DueRow> = match conn.reborrow() {
        Conn::Sqlite(c) => {
            sqlx::query_as(
                "SELECT id, kind, recipient, recipient_name, reply_to, from_name, subject, \
                 body_text, body_html, headers, message_id, next_attempt_at FROM outbox \
                 WHERE status = 'queued' AND next_attempt_at <= $1 \
                 ORDER BY next_attempt_at, id LIMIT $2",
            )
            .bind(millis(now))
            .bind(limit)
            .fetch_all(c)
            .await?
        }
        Conn::Postgres(c) => {
            sqlx::query_as(
                "UPDATE outbox SET worker = $3, lease_until = $1 + $4 WHERE id IN ( \
                   SELECT id FROM outbox \
                   WHERE status = 'queued' AND next_attempt_at <= $1 \
                     AND (lease_until IS NULL OR lease_until < $1 OR worker = $3) \
                   ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) \
                 RETURNING id, kind, recipient, recipient_name, reply_to, from_name, subject, \
                 body_text, body_html, headers, message_id, next_attempt_at",
            )
            .bind(millis(now))
            .bind(limit)
            .bind(worker.map(i64::from))
            .bind(LEASE_MS)
            .fetch_all(c)
            .await?
        }
    };
    rows.sort_by_key(|r| (r.next_attempt_at, r.id));
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut attachments: std::collections::HashMap<i64, Vec<Attachment>> = Default::default();
    if !ids.is_empty() {
        let files: Vec<(i64, String, String, Vec<u8>)> = match conn {
            Conn::Sqlite(c) => {
                sqlx::query_as(
                    "SELECT message, filename, content_type, content FROM outbox_attachments \
                     WHERE message IN (SELECT value FROM json_each($1)) ORDER BY id",
                )
                .bind(serde_json::to_string(&ids).expect("ids serialise"))
                .fetch_all(c)
                .await?
            }
            Conn::Postgres(c) => {
                sqlx::query_as(
                    "SELECT message, filename, content_type, content FROM outbox_attachments \
                     WHERE message = ANY($1) ORDER BY id",
                )
                .bind(&ids)
                .fetch_all(c)
                .await?
            }
        };
        for (message, filename, content_type, content) in files {
            attachments.entry(message).or_default().push(Attachment {
                filename,
                content_type,
                content,
            });
        }
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let outgoing = Outgoing {
                kind: row.kind.parse().unwrap_or(super::MessageKind::Test),
                recipient: row.recipient,
                recipient_name: row.recipient_name,
                reply_to: row.reply_to,
                from_name: row.from_name,
                subject: row.subject,
                text: row.body_text,
                html: row.body_html,
                headers: serde_json::from_str(&row.headers).unwrap_or_default(),
                message_id: row.message_id,
                attachments: attachments.remove(&row.id).unwrap_or_default(),
            };
            (MessageId(row.id), outgoing)
        })
        .collect())
}

/// The workers other than `worker` that hold leases on queued messages.
pub(super) async fn leasing_workers(conn: &mut PgConnection, worker: i32) -> Result<Vec<i32>> {
    let workers: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT worker FROM outbox WHERE status = 'queued' \
         AND lease_until IS NOT NULL AND worker IS NOT NULL AND worker <> $1",
    )
    .bind(i64::from(worker))
    .fetch_all(conn)
    .await?;
    Ok(workers
        .into_iter()
        .filter_map(|w| i32::try_from(w).ok())
        .collect())
}

/// Gives back the leases `worker` holds on messages it leaves queued, so
/// the next pass, of any worker, may take them at once.
pub(super) async fn release_leases(conn: &mut PgConnection, worker: i32) -> Result<()> {
    sqlx::query(
        "UPDATE outbox SET lease_until = NULL WHERE worker = $1 AND status = 'queued' \
         AND lease_until IS NOT NULL",
    )
    .bind(i64::from(worker))
    .execute(conn)
    .await?;
    Ok(())
}

/// Fails a message with `why`; `count_attempt` when the attempt was not
/// counted by a claim; `maybe_delivered` when it may have reached its
/// recipient all the same.
pub(super) async fn fail(
    conn: impl Into<Conn<'_>>,
    id: MessageId,
    why: &str,
    count_attempt: bool,
    maybe_delivered: bool,
    worker: Option<i32>,
    now: DateTime<Utc>,
) -> Result<()> {
    let conn = conn.into();
    let sql = format!(
        "UPDATE outbox SET status = 'failed', last_error = $1, updated_at = $2, \
         attempts = attempts + $3, maybe_delivered = $4 WHERE id = $5 {}",
        still_ours(conn.dialect(), 6)
    );
    either!(conn, |c| {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(why)
            .bind(millis(now))
            .bind(i64::from(count_attempt))
            .bind(maybe_delivered)
            .bind(id.0)
            .bind(worker.map(i64::from))
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(())
}

/// The condition under which a worker may still change a message: it is
/// queued, or it is being sent by that worker (`$n`: its number on a team
/// database; a panel file has one worker at a time, under its mail lock,
/// and no numbers). A message another worker has claimed since is that
/// worker's to record: putting it back would send it twice.
fn still_ours(d: Dialect, n: u32) -> String {
    match d {
        Dialect::Sqlite => {
            format!("AND (status = 'queued' OR (status = 'sending' AND ${n} IS NULL))")
        }
        Dialect::Postgres => format!(
            "AND (status = 'queued' OR (status = 'sending' AND worker IS NOT DISTINCT FROM ${n}::bigint))"
        ),
    }
}

/// A message's attempts so far, its first temporary failure, and whether
/// it is claimed (being handed to the server).
pub(super) async fn attempts(
    conn: impl Into<Conn<'_>>,
    id: MessageId,
) -> Result<(i64, Option<DateTime<Utc>>, bool)> {
    let (attempts, first_failure, status): (i64, Option<i64>, String) =
        either!(conn, |c| sqlx::query_as(
            "SELECT attempts, first_failure_at, status FROM outbox WHERE id = $1"
        )
        .bind(id.0)
        .fetch_one(&mut *c)
        .await?);
    Ok((attempts, first_failure.map(instant), status == "sending"))
}

/// Leaves a message queued for another attempt at `next`, with `why`.
pub(super) async fn defer(
    conn: impl Into<Conn<'_>>,
    id: MessageId,
    attempts: i64,
    why: &str,
    first_failure: DateTime<Utc>,
    next: DateTime<Utc>,
    worker: Option<i32>,
    now: DateTime<Utc>,
) -> Result<()> {
    let conn = conn.into();
    let sql = format!(
        "UPDATE outbox SET status = 'queued', attempts = $1, last_error = $2, \
         first_failure_at = $3, next_attempt_at = $4, updated_at = $5 WHERE id = $6 {}",
        still_ours(conn.dialect(), 7)
    );
    either!(conn, |c| sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(attempts)
        .bind(why)
        .bind(millis(first_failure))
        .bind(millis(next))
        .bind(millis(now))
        .bind(id.0)
        .bind(worker.map(i64::from))
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Dialect, after_every_start, like_of_glob, list_sql, topic_starts_with};
    use crate::db::{new_file, new_team_database, pg_kept_plan, pg_query_plan, query_plan};

    /// Which messages make a page of the outbox is decided from the
    /// `outbox_list` index, never from the messages' rows (which hold their
    /// bodies), with or without a status asked for (the status is a
    /// parameter: one plan serves both).
    #[tokio::test]
    async fn a_page_of_the_outbox_is_chosen_from_an_index_alone() {
        let (_dir, pool) = new_file().await;
        let plan = query_plan(&pool, &list_sql("'[]' AS attachments")).await;
        assert!(
            plan.iter()
                .any(|p| p.contains("COVERING INDEX outbox_list")),
            "{plan:?}"
        );
        assert!(
            !plan
                .iter()
                .any(|p| p.starts_with("SCAN") && !p.contains("COVERING INDEX")),
            "{plan:?}"
        );
    }

    /// A team database walks the whole outbox in the page's own order from
    /// `outbox_list_order`, an index on the ordering's expressions, and
    /// stops after the page; it sorted every message before (10 ms for a
    /// tick's 5,800 escalations, 0.75 ms from the index). The index holds
    /// only while the statement's expressions are its own.
    #[tokio::test]
    async fn on_a_team_database_a_page_of_the_whole_outbox_walks_its_order_from_an_index() {
        let pool = new_team_database().await;
        let plan = pg_query_plan(&pool, &list_sql("'[]' AS attachments"), |q| {
            q.bind(None::<&str>).bind(100_i64).bind(0_i64)
        })
        .await;
        // Under the page's limit: the index in order, and no sort. The only
        // sort left is of the page's hundred rows, after the limit.
        let limit = plan.iter().position(|p| p.contains("Limit")).unwrap();
        let page = &plan[limit..];
        assert!(
            page.iter()
                .any(|p| p.contains("Index Scan using outbox_list_order")),
            "{plan:#?}"
        );
        assert!(!page.iter().any(|p| p.contains("Sort")), "{plan:#?}");
    }

    #[test]
    fn a_topics_start_is_matched_with_its_own_wildcards_taken_literally() {
        let glob = |p| topic_starts_with(Dialect::Sqlite, p, 2);
        assert_eq!(
            glob("issue/4/nudge/"),
            ("topic GLOB $2".into(), vec!["issue/4/nudge/*".to_string()])
        );
        assert_eq!(glob("a*b?c[d").1, vec!["a[*]b[?]c[[]d*".to_string()]);
        assert_eq!(
            topic_starts_with(Dialect::Postgres, "issue/4/nudge/", 1),
            (
                "topic ~>=~ $1 AND topic ~<~ $2".into(),
                vec!["issue/4/nudge/".to_string(), "issue/4/nudge0".to_string()]
            )
        );
    }

    /// On a team database the messages of a topic's start are found
    /// through `outbox_topic` by the plan PostgreSQL keeps for the
    /// statement, its values unknown: a LIKE with its pattern bound could
    /// not use the index so.
    #[tokio::test]
    async fn on_a_team_database_a_topics_start_is_found_through_its_index_by_a_kept_plan() {
        let pool = new_team_database().await;
        let (starts, values) = topic_starts_with(Dialect::Postgres, "issue/4/nudge/", 1);
        let sql = format!(
            "SELECT id, topic FROM outbox WHERE {starts} AND status IN ('queued', 'failed')"
        );
        let plan = pg_kept_plan(&pool, &sql, |mut q| {
            for v in values {
                q = q.bind(v);
            }
            q
        })
        .await;
        assert!(plan.iter().any(|p| p.contains("outbox_topic")), "{plan:#?}");
        assert!(!plan.iter().any(|p| p.contains("Seq Scan")), "{plan:#?}");
    }

    #[test]
    fn the_end_of_a_topic_range_is_the_first_text_after_every_text_that_starts_so() {
        assert_eq!(after_every_start("a_b%"), Some("a_b&".into()));
        assert_eq!(after_every_start("zoë"), Some("zoì".into()));
        assert_eq!(after_every_start("a\u{D7FF}"), Some("a\u{E000}".into()));
        assert_eq!(after_every_start("ab\u{10FFFF}"), Some("ac".into()));
        assert_eq!(after_every_start("\u{10FFFF}"), None);
        assert_eq!(after_every_start(""), None);
        // Every text that starts with the prefix sorts before the end, as
        // bytes; the end itself does not start with it.
        for prefix in ["issue/4/nudge/", "zoë", "a\u{D7FF}", "ab\u{10FFFF}"] {
            let end = after_every_start(prefix).unwrap();
            for rest in ["", "\u{10FFFF}\u{10FFFF}", "~", "\u{0}"] {
                let text = format!("{prefix}{rest}");
                assert!(text.as_bytes() < end.as_bytes(), "{text:?} < {end:?}");
                assert!(prefix.as_bytes() <= text.as_bytes());
            }
            assert!(!end.starts_with(prefix));
        }
    }

    #[test]
    fn a_glob_of_text_and_stars_reads_as_like() {
        assert_eq!(
            like_of_glob("session/*/participant/7/*"),
            "session/%/participant/7/%"
        );
        assert_eq!(like_of_glob("a_b%c\\d"), "a\\_b\\%c\\\\d");
    }
}
