//! Mail: every message Panelkeeper sends leaves through one durable outbox.
//!
//! A message is rendered ([`templates`]) and stored ([`enqueue`]) in the
//! caller's own transaction, so it exists if and only if the change that
//! caused it commits. The [`worker`] delivers what is due over SMTP
//! ([`transport`], lettre) and records each outcome; [`settings`] holds the
//! server and sender, with the password sealed by [`secret`]. The outbox
//! can be listed, a failed message retried and a waiting one cancelled.
//! This module does not decide who is written to or when: sessions and
//! issues do, and hand their messages here.

pub mod model;
pub mod secret;
pub mod settings;
pub mod templates;
pub mod transport;
pub mod worker;

pub use model::{
    Attachment, MessageId, MessageKind, MessagePreview, NewMessage, OutboxCounts, OutboxDetail,
    OutboxMessage, OutboxPage, OutboxQuery, Rendered, Status,
};

use crate::db::bulk::{self, Value};
use crate::db::{instant, millis};
use crate::participants::fields::Email;
use crate::{Error, Panel, Result};
use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection, sqlite::SqliteRow};
use std::collections::BTreeMap;

/// A value made safe for a mail header: line breaks and other control
/// characters become single spaces, so no value can start a new header.
pub fn header_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.trim().chars() {
        if c.is_control() || c.is_whitespace() {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    out.trim().to_string()
}

fn check_header_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 76
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "header name",
            name,
            "may hold only letters, digits and hyphens",
        ))
    }
}

/// A message checked and put in the form it is stored in.
struct Stored {
    headers: String,
    subject: String,
}

fn checked(message: &NewMessage) -> Result<Stored> {
    for name in message.headers.keys() {
        check_header_name(name)?;
    }
    let headers: BTreeMap<&str, String> = message
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), header_text(v)))
        .collect();
    let subject = header_text(&message.body.subject);
    if subject.is_empty() {
        return Err(Error::invalid("subject", "", "is empty"));
    }
    for a in &message.attachments {
        if header_text(&a.filename).is_empty() {
            return Err(Error::invalid("attachment name", &a.filename, "is empty"));
        }
        a.content_type
            .parse::<lettre::message::header::ContentType>()
            .map_err(|_| {
                Error::invalid("attachment type", &a.content_type, "is not a MIME type")
            })?;
    }
    Ok(Stored {
        headers: serde_json::to_string(&headers).expect("headers serialise"),
        subject,
    })
}

/// The domain of this panel's Message-IDs: the sender's, once it is set.
async fn message_id_domain(conn: &mut SqliteConnection) -> Result<String> {
    let sender: Option<String> = sqlx::query_scalar(
        "SELECT json_extract(value, '$.fromAddress') FROM settings WHERE key = 'smtp'",
    )
    .fetch_optional(&mut *conn)
    .await?
    .flatten();
    Ok(sender
        .as_deref()
        .and_then(|a| a.rsplit_once('@'))
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_else(|| "panelkeeper.invalid".to_string()))
}

fn message_id(now: DateTime<Utc>, domain: &str) -> Result<String> {
    let mut token = [0u8; 12];
    getrandom::fill(&mut token).map_err(|e| Error::conflict(format!("no randomness: {e}")))?;
    Ok(format!(
        "<{}.{}@{domain}>",
        now.timestamp_millis(),
        hex::encode(token)
    ))
}

const INSERT: &str = "INSERT INTO outbox (kind, recipient, recipient_name, reply_to, from_name, \
     subject, body_text, body_html, headers, message_id, not_before, next_attempt_at, \
     created_at, updated_at, topic) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// Stores `message` in the outbox inside the caller's transaction `conn`,
/// and returns its id. The message is sent by the worker once the
/// transaction commits and `not_before` has passed; call
/// [`Panel::wake_mail`] after the commit so a running worker looks at once.
pub async fn enqueue(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    message: &NewMessage,
) -> Result<MessageId> {
    let stored = checked(message)?;
    let domain = message_id_domain(conn).await?;
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
        .bind(message_id(now, &domain)?)
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

/// Stores many messages without attachments, as [`enqueue`] stores one,
/// through one prepared statement: a tick's escalations, say. Every message
/// is checked before any is written.
pub async fn enqueue_many(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    messages: &[NewMessage],
) -> Result<()> {
    let stored = messages
        .iter()
        .map(|m| {
            if m.attachments.is_empty() {
                checked(m)
            } else {
                Err(Error::invalid(
                    "message",
                    m.body.subject.as_str(),
                    "has attachments; it is queued on its own",
                ))
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let domain = message_id_domain(conn).await?;
    let ids = messages
        .iter()
        .map(|_| message_id(now, &domain))
        .collect::<Result<Vec<_>>>()?;
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
    for (((m, s), id), (to_name, from_name)) in messages.iter().zip(&stored).zip(&ids).zip(&names) {
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
            id.as_str().into(),
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

/// Queues a test message to `address` from the saved SMTP settings, and
/// wakes the worker. `outbox send` (or the app's worker) delivers it.
pub async fn queue_test(panel: &Panel, address: &str) -> Result<MessageId> {
    let to = Email::parse(address)?;
    let smtp = settings::get(panel).await?.ok_or_else(|| {
        Error::conflict("SMTP is not set up yet: save the SMTP settings first (smtp set)")
    })?;
    let now = panel.now();
    let body = templates::render(&templates::Template::Test(templates::TestMail {
        sender_name: smtp.from_name.clone(),
        sent_at: now,
        zone: local_zone(),
    }))?;
    let message = NewMessage {
        kind: MessageKind::Test,
        to,
        to_name: String::new(),
        reply_to: None,
        from_name: None,
        body,
        headers: BTreeMap::new(),
        attachments: Vec::new(),
        not_before: now,
        topic: None,
    };
    let mut tx = panel.write().await?;
    let id = enqueue(&mut tx, now, &message).await?;
    tx.commit().await?;
    panel.wake_mail();
    Ok(id)
}

/// This computer's IANA zone (from `TZ` or /etc/localtime). When neither
/// names a zone the tz database knows, the test message gives its time in
/// UTC, saying so (the time is right, in the zone it names).
fn local_zone() -> String {
    let from_env = std::env::var("TZ")
        .ok()
        .map(|z| z.trim_start_matches(':').to_string());
    let from_link = || {
        std::fs::read_link("/etc/localtime").ok().and_then(|p| {
            let s = p.to_string_lossy().into_owned();
            s.split_once("zoneinfo/").map(|(_, z)| z.to_string())
        })
    };
    from_env
        .or_else(from_link)
        .and_then(|z| crate::TimeZone::parse(&z).ok())
        .unwrap_or(crate::TimeZone::UTC)
        .name()
        .to_string()
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

/// How many messages are in each state.
pub async fn counts(panel: &Panel) -> Result<OutboxCounts> {
    let now = millis(panel.now());
    let rows = sqlx::query(
        "SELECT status, count(*) AS n, sum(next_attempt_at <= ?) AS due FROM outbox GROUP BY status",
    )
    .bind(now)
    .fetch_all(panel.pool())
    .await?;
    let mut c = OutboxCounts::default();
    for row in rows {
        let n: i64 = row.get("n");
        let due: i64 = row.get::<Option<i64>, _>("due").unwrap_or(0);
        match row.get::<String, _>("status").parse::<Status>()? {
            Status::Queued => {
                c.waiting += n;
                c.due += due;
            }
            Status::Sending => {
                c.waiting += n;
                c.due += n;
            }
            Status::Sent => c.sent = n,
            Status::Failed => c.failed = n,
            Status::Cancelled => c.cancelled = n,
        }
    }
    Ok(c)
}

/// A page of the outbox: waiting messages first (soonest first), then the
/// rest newest first.
pub async fn list(panel: &Panel, query: &OutboxQuery) -> Result<OutboxPage> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let offset = query.offset.unwrap_or(0);
    let status = query.status.map(Status::as_str);
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
        .fetch_all(panel.pool())
        .await?;
    let total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE (?1 IS NULL OR status = ?1)")
            .bind(status)
            .fetch_one(panel.pool())
            .await?;
    Ok(OutboxPage {
        messages: rows.iter().map(message_from).collect::<Result<_>>()?,
        total,
        counts: counts(panel).await?,
    })
}

/// One message with its bodies.
pub async fn get(panel: &Panel, id: MessageId) -> Result<OutboxDetail> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS}, o.reply_to, o.body_text, o.body_html, o.headers \
         FROM outbox o WHERE o.id = ?"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .fetch_optional(panel.pool())
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

async fn status_of(conn: &mut SqliteConnection, id: MessageId) -> Result<Status> {
    let s: Option<String> = sqlx::query_scalar("SELECT status FROM outbox WHERE id = ?")
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?;
    s.ok_or_else(|| Error::not_found("message", id))?.parse()
}

/// What a person can do to a message from the outbox view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Retry,
    Cancel,
}

/// The outbox's allowed transitions, in one place: why `action` is refused
/// for a message in `status`, or `None` when it is allowed.
fn refusal(status: Status, action: Action, id: MessageId) -> Option<String> {
    match (status, action) {
        (Status::Queued | Status::Failed, _) => None,
        (Status::Sending, Action::Retry) => Some(format!("message {id} is being sent right now")),
        (Status::Sending, Action::Cancel) => Some(format!(
            "message {id} is being handed to the server right now and can no longer be cancelled"
        )),
        (Status::Sent, Action::Retry) => Some(format!(
            "message {id} was already sent; it is not sent twice"
        )),
        (Status::Sent, Action::Cancel) => Some(format!("message {id} was already sent")),
        (Status::Cancelled, Action::Retry) => Some(format!("message {id} was cancelled")),
        (Status::Cancelled, Action::Cancel) => Some(format!("message {id} was already cancelled")),
    }
}

async fn change(panel: &Panel, id: MessageId, action: Action) -> Result<OutboxMessage> {
    let now = millis(panel.now());
    let mut tx = panel.write().await?;
    if let Some(why) = refusal(status_of(&mut tx, id).await?, action, id) {
        return Err(Error::conflict(why));
    }
    let sql = match action {
        Action::Retry => {
            "UPDATE outbox SET status = 'queued', next_attempt_at = max(not_before, ?1), \
             first_failure_at = NULL, updated_at = ?1 WHERE id = ?2"
        }
        Action::Cancel => "UPDATE outbox SET status = 'cancelled', updated_at = ?1 WHERE id = ?2",
    };
    sqlx::query(sql)
        .bind(now)
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if action == Action::Retry {
        panel.wake_mail();
    }
    Ok(get(panel, id).await?.message)
}

/// Puts a failed (or waiting) message back in the queue to be tried now, or
/// at its scheduled time if that is still ahead.
pub async fn retry(panel: &Panel, id: MessageId) -> Result<OutboxMessage> {
    change(panel, id, Action::Retry).await
}

/// Cancels a message that has not gone: it will never be sent.
pub async fn cancel(panel: &Panel, id: MessageId) -> Result<OutboxMessage> {
    change(panel, id, Action::Cancel).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_text_cannot_start_a_new_header() {
        assert_eq!(
            header_text("Hi\r\nBcc: x@example.com"),
            "Hi Bcc: x@example.com"
        );
        assert_eq!(header_text("  a\u{0}\tb\u{85}c  "), "a b c");
        assert_eq!(header_text("Zoë Ålander"), "Zoë Ålander");
    }

    #[test]
    fn header_names_are_tokens() {
        assert!(check_header_name("List-Unsubscribe").is_ok());
        assert!(check_header_name("Bcc: x\r\nX").is_err());
        assert!(check_header_name("").is_err());
    }
}
