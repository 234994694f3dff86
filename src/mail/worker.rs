//! The delivery worker: sends what is due from the outbox and records
//! every outcome, so nothing is lost and nothing goes twice.
//!
//! One worker per panel at a time: it holds an OS lock on a file beside the
//! database (`<database>.mail-lock`) for as long as it runs, so the app and
//! an `outbox send` in a terminal cannot both deliver, and a worker that
//! was killed leaves no stale lock behind.
//!
//! For each message the worker, on one connection:
//! 1. sends MAIL, RCPT and DATA (nothing is delivered yet; a refusal here
//!    is recorded and a temporary failure retried later);
//! 2. marks the message `sending` and commits;
//! 3. sends the content and the final dot;
//! 4. on the server's acceptance, marks it `sent` and commits.
//!
//! A message still `sending` when a worker starts was being handed over
//! when the last worker died: the server may or may not have it. It is
//! never sent again by itself; it is marked failed with that reason, for a
//! person to retry or not. That window is steps 2 to 4: one transmission
//! and one reply, about a millisecond on a local network. Temporary
//! failures (no connection, no answer, a 4xx reply) are retried with
//! exponential backoff, from 30 seconds up to an hour; a 5xx reply fails
//! the message with the server's reason. A server that answers 4xx to one
//! message for three days fails it; a laptop that is offline for a week
//! keeps its mail queued.

use super::settings::{self, Account};
use super::transport::{self, Connection, Failure, Outgoing};
use super::{Attachment, MessageId};
use crate::db::{instant, millis};
use crate::{Error, Panel, Result};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::Row;
use std::fs::File;
use std::path::PathBuf;
use ts_rs::TS;

/// The first retry waits this long; each further one twice as long.
const FIRST_RETRY: Duration = Duration::seconds(30);
/// No retry waits longer than this.
const LONGEST_RETRY: Duration = Duration::hours(1);
/// A message the server keeps deferring fails after this long.
const GIVE_UP_AFTER: Duration = Duration::days(3);
/// Messages taken per query.
const BATCH: i64 = 200;

/// What one pass over the outbox did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PassReport {
    /// Accepted by the server.
    pub sent: u32,
    /// Left queued for a later attempt.
    pub retrying: u32,
    /// Refused for good, or found interrupted mid-delivery.
    pub failed: u32,
    /// Why mail could not go at all (no settings, no connection), if so.
    pub problem: Option<String>,
    /// When the next queued message is due, if any is.
    pub next_due: Option<DateTime<Utc>>,
}

/// The right to deliver a panel's mail; released when dropped or when the
/// process ends, however it ends.
#[derive(Debug)]
pub struct DeliveryLock {
    _file: File,
}

fn lock_path(panel: &Panel) -> PathBuf {
    let db = panel.path();
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".mail-lock");
    db.with_file_name(name)
}

/// Takes the delivery lock, or says who has it. A lock is briefly held by
/// a child process too while it starts (the descriptor is shared until its
/// `exec` closes it), so a busy lock is tried again for up to a second.
pub async fn lock(panel: &Panel) -> Result<DeliveryLock> {
    let path = lock_path(panel);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::file(path.display().to_string(), e.to_string()))?;
    for _ in 0..50 {
        match file.try_lock() {
            Ok(()) => return Ok(DeliveryLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::file(path.display().to_string(), e.to_string()));
            }
        }
    }
    Err(Error::conflict(
        "another Panelkeeper process (the desktop app or an `outbox send --watch`) is delivering this panel's mail",
    ))
}

/// Sends every message that is due, then returns. Takes the delivery lock
/// for the pass.
pub async fn send_due(panel: &Panel) -> Result<PassReport> {
    let lock = lock(panel).await?;
    deliver(panel, &lock).await
}

/// Runs until `stop` is notified: delivers what is due, then sleeps until
/// the next message is due, [`Panel::wake_mail`] is called, or five
/// seconds pass (to see messages queued by another process). `observe` is called
/// after each pass. If another process holds the lock, waits for it.
pub async fn run(
    panel: Panel,
    stop: std::sync::Arc<tokio::sync::Notify>,
    mut observe: impl FnMut(&PassReport) + Send,
) {
    let idle = std::time::Duration::from_secs(5);
    let lock = loop {
        match lock(&panel).await {
            Ok(lock) => break lock,
            Err(e) => {
                tracing::info!("mail worker waiting: {e}");
                tokio::select! {
                    _ = stop.notified() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
                }
            }
        }
    };
    loop {
        let report = match deliver(&panel, &lock).await {
            Ok(report) => report,
            Err(e) => {
                tracing::warn!("mail delivery pass failed: {e}");
                PassReport {
                    problem: Some(e.to_string()),
                    ..PassReport::default()
                }
            }
        };
        observe(&report);
        let wait = report
            .next_due
            .map(|due| (due - panel.now()).to_std().unwrap_or_default().min(idle))
            .unwrap_or(idle);
        tokio::select! {
            _ = stop.notified() => return,
            _ = panel.mail_woken() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

async fn deliver(panel: &Panel, _lock: &DeliveryLock) -> Result<PassReport> {
    let mut report = PassReport {
        failed: recover(panel).await?,
        ..PassReport::default()
    };
    'passes: loop {
        let due = due_ids(panel).await?;
        if due.is_empty() {
            break;
        }
        let account = match settings::account(panel).await {
            Ok(Some(account)) => account,
            Ok(None) => {
                report.problem = Some("SMTP is not set up: save the SMTP settings first".into());
                break;
            }
            Err(e) => {
                report.problem = Some(e.to_string());
                break;
            }
        };
        let mut connection: Option<Connection> = None;
        for (n, &id) in due.iter().enumerate() {
            if !connection.as_ref().is_some_and(Connection::usable) {
                match Connection::open(&account).await {
                    Ok(c) => connection = Some(c),
                    Err(why) => {
                        for &rest in &due[n..] {
                            defer(panel, rest, &why, false).await?;
                        }
                        report.retrying += (due.len() - n) as u32;
                        report.problem = Some(why);
                        break 'passes;
                    }
                }
            }
            let conn = connection.as_mut().expect("opened above");
            match deliver_one(panel, &account, conn, id).await? {
                Outcome::Sent => report.sent += 1,
                Outcome::Retrying => report.retrying += 1,
                Outcome::Failed => report.failed += 1,
                Outcome::Skipped => {}
            }
        }
        if let Some(c) = connection.filter(Connection::usable) {
            c.close().await;
        }
    }
    report.next_due = next_due(panel).await?;
    Ok(report)
}

enum Outcome {
    Sent,
    Retrying,
    Failed,
    /// Cancelled or taken care of while the worker was on its way.
    Skipped,
}

async fn deliver_one(
    panel: &Panel,
    account: &Account,
    conn: &mut Connection,
    id: MessageId,
) -> Result<Outcome> {
    let Some(outgoing) = load(panel, id).await? else {
        return Ok(Outcome::Skipped);
    };
    let date = std::time::SystemTime::from(panel.now());
    let (envelope, content) = match transport::build(account, &outgoing, date) {
        Ok(built) => built,
        Err(Failure::Permanent(why) | Failure::Temporary(why) | Failure::Uncertain(why)) => {
            fail(panel, id, &why, true).await?;
            return Ok(Outcome::Failed);
        }
    };
    match conn.prepare(&envelope, &content).await {
        Ok(()) => {}
        Err(Failure::Permanent(why)) => {
            fail(panel, id, &why, true).await?;
            return Ok(Outcome::Failed);
        }
        Err(Failure::Temporary(why) | Failure::Uncertain(why)) => {
            return defer(panel, id, &why, true).await;
        }
    }
    if !claim(panel, id).await? {
        // Cancelled since it was loaded. The server is waiting for the
        // content; closing the connection without the final dot makes it
        // drop the transaction.
        conn.abandon();
        return Ok(Outcome::Skipped);
    }
    match conn.transmit(&content).await {
        Ok(()) => {
            mark_sent(panel, id).await?;
            Ok(Outcome::Sent)
        }
        Err(Failure::Temporary(why)) => defer(panel, id, &why, true).await,
        Err(Failure::Permanent(why)) => {
            fail(panel, id, &why, false).await?;
            Ok(Outcome::Failed)
        }
        Err(Failure::Uncertain(why)) => {
            fail(
                panel,
                id,
                &format!("{why}; check with the recipient before retrying"),
                false,
            )
            .await?;
            Ok(Outcome::Failed)
        }
    }
}

/// Messages a dead worker left `sending` are failed with the reason.
async fn recover(panel: &Panel) -> Result<u32> {
    let done = sqlx::query(
        "UPDATE outbox SET status = 'failed', updated_at = ?, last_error = \
         'delivery was interrupted while the server was taking it (the program stopped); \
         it may have been delivered: check with the recipient, then retry or cancel' \
         WHERE status = 'sending'",
    )
    .bind(millis(panel.now()))
    .execute(panel.pool())
    .await?;
    if done.rows_affected() > 0 {
        tracing::warn!(
            messages = done.rows_affected(),
            "interrupted deliveries marked failed"
        );
    }
    Ok(done.rows_affected() as u32)
}

async fn due_ids(panel: &Panel) -> Result<Vec<MessageId>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= ? \
         ORDER BY next_attempt_at, id LIMIT ?",
    )
    .bind(millis(panel.now()))
    .bind(BATCH)
    .fetch_all(panel.pool())
    .await?;
    Ok(ids.into_iter().map(MessageId).collect())
}

async fn next_due(panel: &Panel) -> Result<Option<DateTime<Utc>>> {
    let at: Option<i64> =
        sqlx::query_scalar("SELECT min(next_attempt_at) FROM outbox WHERE status = 'queued'")
            .fetch_one(panel.pool())
            .await?;
    Ok(at.map(instant))
}

async fn load(panel: &Panel, id: MessageId) -> Result<Option<Outgoing>> {
    let Some(row) = sqlx::query(
        "SELECT recipient, recipient_name, reply_to, from_name, subject, body_text, body_html, \
         headers, message_id FROM outbox WHERE id = ? AND status = 'queued'",
    )
    .bind(id.0)
    .fetch_optional(panel.pool())
    .await?
    else {
        return Ok(None);
    };
    let attachments = sqlx::query(
        "SELECT filename, content_type, content FROM outbox_attachments WHERE message = ? ORDER BY id",
    )
    .bind(id.0)
    .fetch_all(panel.pool())
    .await?
    .into_iter()
    .map(|a| Attachment {
        filename: a.get("filename"),
        content_type: a.get("content_type"),
        content: a.get("content"),
    })
    .collect();
    let headers: String = row.get("headers");
    Ok(Some(Outgoing {
        recipient: row.get("recipient"),
        recipient_name: row.get("recipient_name"),
        reply_to: row.get("reply_to"),
        from_name: row.get("from_name"),
        subject: row.get("subject"),
        text: row.get("body_text"),
        html: row.get("body_html"),
        headers: serde_json::from_str(&headers).unwrap_or_default(),
        message_id: row.get("message_id"),
        attachments,
    }))
}

/// Marks the message `sending`, durably, if it is still queued.
async fn claim(panel: &Panel, id: MessageId) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated_at = ? \
         WHERE id = ? AND status = 'queued'",
    )
    .bind(millis(panel.now()))
    .bind(id.0)
    .execute(panel.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

async fn mark_sent(panel: &Panel, id: MessageId) -> Result<()> {
    let now = millis(panel.now());
    sqlx::query(
        "UPDATE outbox SET status = 'sent', sent_at = ?1, updated_at = ?1, last_error = NULL \
         WHERE id = ?2",
    )
    .bind(now)
    .bind(id.0)
    .execute(panel.pool())
    .await?;
    Ok(())
}

/// Fails a message with `why`. `count_attempt` when the attempt was not
/// counted by a claim.
async fn fail(panel: &Panel, id: MessageId, why: &str, count_attempt: bool) -> Result<()> {
    sqlx::query(
        "UPDATE outbox SET status = 'failed', last_error = ?1, updated_at = ?2, \
         attempts = attempts + ?3 WHERE id = ?4",
    )
    .bind(why)
    .bind(millis(panel.now()))
    .bind(i64::from(count_attempt))
    .bind(id.0)
    .execute(panel.pool())
    .await?;
    Ok(())
}

/// Leaves a message queued for a later attempt, with backoff; a server that
/// has deferred it for [`GIVE_UP_AFTER`] fails it. `server_said` is false
/// when no server was reached (offline): then it never gives up.
async fn defer(panel: &Panel, id: MessageId, why: &str, server_said: bool) -> Result<Outcome> {
    let now = panel.now();
    let row = sqlx::query("SELECT attempts, first_failure_at, status FROM outbox WHERE id = ?")
        .bind(id.0)
        .fetch_one(panel.pool())
        .await?;
    let claimed = row.get::<String, _>("status") == "sending";
    let attempts: i64 = row.get::<i64, _>("attempts") + i64::from(!claimed);
    let first_failure = row
        .get::<Option<i64>, _>("first_failure_at")
        .map(instant)
        .unwrap_or(now);
    if server_said && now - first_failure >= GIVE_UP_AFTER {
        let why = format!("the server kept deferring it for 3 days; last: {why}");
        fail(panel, id, &why, !claimed).await?;
        return Ok(Outcome::Failed);
    }
    let next = now + backoff(attempts);
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
    .execute(panel.pool())
    .await?;
    Ok(Outcome::Retrying)
}

/// The wait before the next attempt after `attempts` tries.
pub fn backoff(attempts: i64) -> Duration {
    let doublings = (attempts - 1).clamp(0, 20) as u32;
    (FIRST_RETRY * 2i32.pow(doublings.min(16))).min(LONGEST_RETRY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::seconds(30));
        assert_eq!(backoff(2), Duration::seconds(60));
        assert_eq!(backoff(3), Duration::seconds(120));
        assert_eq!(backoff(8), Duration::seconds(3840).min(Duration::hours(1)));
        assert_eq!(backoff(50), Duration::hours(1));
    }
}
