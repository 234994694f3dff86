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
pub(crate) mod store;
pub mod templates;
pub mod transport;
pub mod worker;

pub use store::{
    cancel_glob, cancel_topic, cancel_topic_and_read, topic_queued, waiting_with_topic, withdraw,
};

pub use model::{
    Attachment, MessageId, MessageKind, MessagePreview, NewMessage, OutboxCounts, OutboxDetail,
    OutboxMessage, OutboxPage, OutboxQuery, Rendered, Status,
};

use crate::db::Conn;
use crate::participants::fields::Email;
use crate::{Error, Panel, Result};
use chrono::{DateTime, Utc};
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

/// `message` checked and put in the form it is stored in, with its
/// Message-ID.
fn checked(message: &NewMessage, message_id: String) -> Result<store::Stored> {
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
    Ok(store::Stored {
        headers: serde_json::to_string(&headers).expect("headers serialise"),
        subject,
        message_id,
    })
}

/// The domain of this panel's Message-IDs: the sender's, once it is set.
async fn message_id_domain(conn: Conn<'_>) -> Result<String> {
    let sender = store::sender_address(conn).await?;
    Ok(sender
        .as_deref()
        .and_then(|a| a.rsplit_once('@'))
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_else(|| "panelkeeper.invalid".to_string()))
}

/// Bytes of randomness in a Message-ID.
const MESSAGE_ID_TOKEN: usize = 12;

/// `n` new Message-IDs, their randomness drawn at once.
fn message_ids(now: DateTime<Utc>, domain: &str, n: usize) -> Result<Vec<String>> {
    let mut tokens = vec![0u8; MESSAGE_ID_TOKEN * n];
    getrandom::fill(&mut tokens).map_err(|e| Error::conflict(format!("no randomness: {e}")))?;
    Ok(tokens
        .chunks(MESSAGE_ID_TOKEN)
        .map(|token| {
            format!(
                "<{}.{}@{domain}>",
                now.timestamp_millis(),
                hex::encode(token)
            )
        })
        .collect())
}

/// Stores `message` in the outbox inside the caller's transaction `conn`,
/// and returns its id. The message is sent by the worker once the
/// transaction commits and `not_before` has passed; call
/// [`Panel::wake_mail`] after the commit so a running worker looks at once.
pub async fn enqueue(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    message: &NewMessage,
) -> Result<MessageId> {
    let mut conn = conn.into();
    let domain = message_id_domain(conn.reborrow()).await?;
    let id = message_ids(now, &domain, 1)?.remove(0);
    let stored = checked(message, id)?;
    store::insert(conn, now, message, &stored).await
}

/// Stores many messages without attachments, as [`enqueue`] stores one,
/// through one prepared statement: a tick's escalations, say. Every message
/// is checked before any is written.
pub async fn enqueue_many(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    messages: &[NewMessage],
) -> Result<()> {
    let mut conn = conn.into();
    let domain = message_id_domain(conn.reborrow()).await?;
    let ids = message_ids(now, &domain, messages.len())?;
    let stored = messages
        .iter()
        .zip(ids)
        .map(|(m, id)| {
            if m.attachments.is_empty() {
                checked(m, id)
            } else {
                Err(Error::invalid(
                    "message",
                    m.body.subject.as_str(),
                    "has attachments; it is queued on its own",
                ))
            }
        })
        .collect::<Result<Vec<_>>>()?;
    store::insert_many(conn, now, messages, &stored).await
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
        also_reply_to: None,
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
    let mut tx = panel.begin().await?;
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

/// How many messages are in each state.
pub async fn counts(panel: &Panel) -> Result<OutboxCounts> {
    let mut conn = panel.conn().await?;
    let mut c = OutboxCounts::default();
    for (status, n, due) in store::counts(&mut conn, panel.now()).await? {
        match status {
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
    let mut conn = panel.conn().await?;
    let (messages, total) = store::list(&mut conn, query.status, limit, offset).await?;
    drop(conn);
    Ok(OutboxPage {
        messages,
        total,
        counts: counts(panel).await?,
    })
}

/// One message with its bodies.
pub async fn get(panel: &Panel, id: MessageId) -> Result<OutboxDetail> {
    let mut conn = panel.conn().await?;
    store::get(&mut conn, id).await
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
    let now = panel.now();
    let mut tx = panel.begin().await?;
    if let Some(why) = refusal(store::status_of(&mut tx, id).await?, action, id) {
        return Err(Error::conflict(why));
    }
    match action {
        Action::Retry => store::requeue_now(&mut tx, id, now).await?,
        Action::Cancel => store::cancel_one(&mut tx, id, now).await?,
    }
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

/// Puts every failed message back in the queue to be tried now (or at its
/// scheduled time if that is still ahead); returns how many. A message that
/// may have reached its recipient (an interrupted delivery, a lost answer)
/// stays failed, for a person to retry one by one after checking; one sent
/// or being sent is never touched: nothing is sent twice.
pub async fn retry_failed(panel: &Panel) -> Result<u32> {
    let mut tx = panel.begin().await?;
    let n = store::requeue_failed(&mut tx, panel.now()).await?;
    tx.commit().await?;
    if n > 0 {
        panel.wake_mail();
    }
    Ok(n as u32)
}

/// Cancels every failed message: none of them will be sent. Returns how
/// many.
pub async fn cancel_failed(panel: &Panel) -> Result<u32> {
    let mut tx = panel.begin().await?;
    let n = store::cancel_failed(&mut tx, panel.now()).await?;
    tx.commit().await?;
    Ok(n as u32)
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
