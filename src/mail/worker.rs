//! The delivery worker: sends what is due from the outbox and records
//! every outcome, so nothing is lost and nothing goes twice.
//!
//! On a panel file, one worker at a time: it holds an OS lock on a file
//! beside the database (`<database>.mail-lock`) for as long as it runs, so
//! the app and an `outbox send` in a terminal cannot both deliver, and a
//! worker that was killed leaves no stale lock behind. On a team database
//! any number of workers, on any number of machines, deliver side by side:
//! each takes a number and holds the database's advisory lock of that
//! number while it runs, due messages are leased to one worker at a time,
//! and each message is claimed once (`mail::store`).
//!
//! For each message the worker, on one connection:
//! 1. sends MAIL, RCPT and DATA (nothing is delivered yet; a refusal here
//!    is recorded and a temporary failure retried later) while, in one
//!    durable statement, it marks this message `sending` and the previous
//!    one `sent`;
//! 2. sends the content and the final dot;
//! 3. on the server's acceptance, records it `sent` (with the next claim,
//!    or on its own after the last message).
//!
//! A message still `sending` when a pass starts was being handed over when
//! its worker died (on a team database: a worker whose advisory lock is
//! free): the server may or may not have it. It is
//! never sent again by itself; it is marked failed with that reason, for a
//! person to retry or not. That window runs from the claim to the record
//! after the server's reply: one envelope, one transmission and one reply,
//! about a millisecond on a local network.
//!
//! Once the server has accepted a message, recording it `sent` is tried
//! until it sticks: a database held busy by another process is waited for
//! and tried again, and if it stays busy the acceptance is written to a
//! journal beside the database (`<database>.delivered`, synced), which the
//! next pass applies before anything else. A delivered message is never
//! left looking undelivered, so nothing invites a resend.
//!
//! Between passes the worker sleeps until something can change: the next
//! retry falls due, [`Panel::wake_mail`] is called (mail queued, settings
//! saved), or five seconds pass (to see changes made by another process).
//! A pass that could do nothing (no SMTP settings yet) never makes the next
//! one come sooner. Temporary failures (no
//! connection, no answer, a 4xx reply) are retried with exponential
//! backoff, from 30 seconds up to an hour; a 5xx reply fails the message
//! with the server's reason. A server that answers 4xx to one message for
//! three days fails it; a laptop that is offline for a week keeps its mail
//! queued.

use super::settings;
use super::transport::{self, Connection, Failure, Outgoing};
use super::{MessageId, store};
use crate::db::{instant, millis};
use crate::{Error, Panel, Result};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use ts_rs::TS;

/// The first retry waits this long; each further one twice as long.
const FIRST_RETRY: Duration = Duration::seconds(30);
/// No retry waits longer than this.
const LONGEST_RETRY: Duration = Duration::hours(1);
/// A message the server keeps deferring fails after this long.
const GIVE_UP_AFTER: Duration = Duration::days(3);
/// Messages taken per query.
const BATCH: i64 = 200;
/// Messages leased per query on a team database. Other workers share the
/// queue, and what one worker leased is sent by it alone: the last lease
/// of a drain is its tail, so it is kept short.
const TEAM_BATCH: i64 = 50;
/// How many times recording a delivery is tried (each waits for a busy
/// database as long as the connection's busy timeout) before it is
/// journaled instead.
const RECORD_TRIES: u32 = 3;
/// How often, when nothing tells it sooner, the worker looks at the outbox.
const IDLE: std::time::Duration = std::time::Duration::from_secs(5);

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
    /// Whether this pass changed anything a person sees (a message sent,
    /// retried or failed, or the problem it names) since the pass before.
    pub changed: bool,
}

impl PassReport {
    /// Whether the pass moved any message on.
    fn moved(&self) -> bool {
        self.sent + self.retrying + self.failed > 0
    }
}

/// The right to deliver a panel's mail; released when dropped or when the
/// process ends, however it ends.
#[derive(Debug)]
pub struct DeliveryLock {
    hold: Hold,
}

#[derive(Debug)]
enum Hold {
    /// The OS lock on the file beside a panel file.
    File(#[allow(dead_code)] File),
    /// A team database's worker: the connection that holds the advisory
    /// lock of its number (closing it, or the process ending, releases it).
    Worker {
        number: i32,
        #[allow(dead_code)]
        conn: sqlx::pool::PoolConnection<sqlx::Postgres>,
    },
}

impl DeliveryLock {
    /// The worker's number on a team database.
    fn worker(&self) -> Option<i32> {
        match &self.hold {
            Hold::File(_) => None,
            Hold::Worker { number, .. } => Some(*number),
        }
    }
}

fn lock_path(panel: &Panel) -> PathBuf {
    crate::files::beside(panel.path(), ".mail-lock")
}

/// Deliveries the server accepted that could not yet be recorded as sent.
fn journal_path(panel: &Panel) -> PathBuf {
    crate::files::beside(panel.path(), ".delivered")
}

/// Takes the delivery lock, or says who has it. A lock is briefly held by
/// a child process too while it starts (the descriptor is shared until its
/// `exec` closes it), so a busy lock is tried again for up to a second.
pub async fn lock(panel: &Panel) -> Result<DeliveryLock> {
    if panel.is_team() {
        return take_number(panel).await;
    }
    let path = lock_path(panel);
    let file = crate::files::open_private(&path)?;
    for _ in 0..50 {
        match file.try_lock() {
            Ok(()) => {
                return Ok(DeliveryLock {
                    hold: Hold::File(file),
                });
            }
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

/// A team database's worker number: a random one no live worker holds,
/// held by its advisory lock on a connection kept for the worker's life.
async fn take_number(panel: &Panel) -> Result<DeliveryLock> {
    let crate::db::Pooled::Postgres(mut conn) = panel.conn().await? else {
        unreachable!("a team panel's connections are PostgreSQL's");
    };
    loop {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).map_err(|e| Error::conflict(format!("no randomness: {e}")))?;
        let number = (i32::from_le_bytes(bytes) & i32::MAX).max(1);
        if store::hold_worker(&mut conn, number).await? {
            // The lock lives as long as the connection: closed with the
            // worker, never handed back to the pool still holding it.
            conn.close_on_drop();
            return Ok(DeliveryLock {
                hold: Hold::Worker { number, conn },
            });
        }
    }
}

/// Sends every message that is due, then returns. Takes the delivery lock
/// for the pass.
pub async fn send_due(panel: &Panel) -> Result<PassReport> {
    let lock = lock(panel).await?;
    deliver(panel, &lock, &AtomicBool::new(false)).await
}

/// Runs until `stop` is notified: delivers what is due, then sleeps until
/// something can change (see the module's description). `observe` is
/// called after each pass; [`PassReport::changed`] says whether a person
/// would see a difference. If another process holds the lock, waits for it.
/// Told to stop mid-pass, it stops between two messages: the one on the
/// wire is recorded, the rest stay queued.
pub async fn run(
    panel: Panel,
    stop: std::sync::Arc<tokio::sync::Notify>,
    mut observe: impl FnMut(&PassReport) + Send,
) {
    let stopping = std::sync::Arc::new(AtomicBool::new(false));
    let stopped = std::sync::Arc::new(tokio::sync::Notify::new());
    let watcher = {
        let (stopping, stopped) = (stopping.clone(), stopped.clone());
        tokio::spawn(async move {
            stop.notified().await;
            stopping.store(true, Ordering::SeqCst);
            stopped.notify_one();
        })
    };
    let _watcher = AbortOnDrop(watcher);
    let lock = loop {
        match lock(&panel).await {
            Ok(lock) => break lock,
            Err(e) => {
                tracing::info!("mail worker waiting: {e}");
                tokio::select! {
                    _ = stopped.notified() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
                }
            }
        }
    };
    let mut last_problem: Option<String> = None;
    loop {
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let mut report = match deliver(&panel, &lock, &stopping).await {
            Ok(report) => report,
            Err(e) => PassReport {
                problem: Some(e.to_string()),
                ..PassReport::default()
            },
        };
        report.changed = report.moved() || report.problem != last_problem;
        if report.problem != last_problem {
            match &report.problem {
                Some(problem) => tracing::warn!("mail cannot go: {problem}"),
                None => tracing::info!("mail can go again"),
            }
            last_problem = report.problem.clone();
        }
        observe(&report);
        let wait = wait_after(&report, panel.now());
        tokio::select! {
            _ = stopped.notified() => return,
            _ = panel.mail_woken() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// How long to sleep after a pass: until the next message is due (at most
/// [`IDLE`]), but a full [`IDLE`] when a message is already due and the
/// pass could not move anything (no settings, a failing database): trying
/// again at once would change nothing.
fn wait_after(report: &PassReport, now: DateTime<Utc>) -> std::time::Duration {
    match report.next_due {
        Some(due) if due > now => (due - now).to_std().unwrap_or(IDLE).min(IDLE),
        Some(_) if report.moved() || report.problem.is_none() => std::time::Duration::ZERO,
        _ => IDLE,
    }
}

/// Ends a task when its handle is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn deliver(panel: &Panel, lock: &DeliveryLock, stopping: &AtomicBool) -> Result<PassReport> {
    let worker = lock.worker();
    let mut report = PassReport {
        failed: recover(panel, worker).await?,
        ..PassReport::default()
    };
    // One connection to the mail server for every pass, while the
    // account it was opened with stays the same.
    let mut connection: Option<Connection> = None;
    let mut opened_for: Option<settings::Account> = None;
    'passes: loop {
        if let Some(number) = worker {
            release_dead_leases(panel, number).await?;
        }
        // Nothing is taken (on a team database, leased) or read until
        // there is a server to send it to.
        let account = match settings::account(panel).await {
            Ok(Some(account)) => account,
            Ok(None) => {
                if next_due(panel).await?.is_some_and(|due| due <= panel.now()) {
                    report.problem =
                        Some("SMTP is not set up: save the SMTP settings first".into());
                }
                break;
            }
            Err(e) => {
                report.problem = Some(e.to_string());
                break;
            }
        };
        let due = load_due(panel, worker).await?;
        if due.is_empty() {
            break;
        }
        if opened_for.as_ref() != Some(&account) {
            if let Some(c) = connection.take().filter(Connection::usable) {
                c.close().await;
            }
            opened_for = Some(account.clone());
        }
        // The last message the server accepted, not yet recorded as sent:
        // its record is written together with the next claim, while the
        // next message's envelope is on the wire.
        let mut accepted: Option<MessageId> = None;
        for (n, (id, outgoing)) in due.iter().enumerate() {
            let id = *id;
            if stopping.load(Ordering::SeqCst) {
                record_sent(panel, worker, &mut accepted).await?;
                break 'passes;
            }
            if !connection.as_ref().is_some_and(Connection::usable) {
                match Connection::open(&account).await {
                    Ok(c) => connection = Some(c),
                    Err(why) => {
                        record_sent(panel, worker, &mut accepted).await?;
                        for (rest, _) in &due[n..] {
                            defer(panel, worker, *rest, &why, false).await?;
                        }
                        report.retrying += (due.len() - n) as u32;
                        report.problem = Some(why);
                        break 'passes;
                    }
                }
            }
            let conn = connection.as_mut().expect("opened above");
            let date = std::time::SystemTime::from(panel.now());
            let (envelope, content) = match transport::build(&account, outgoing, date) {
                Ok(built) => built,
                Err(
                    Failure::Permanent(why) | Failure::Temporary(why) | Failure::Uncertain(why),
                ) => {
                    record_sent(panel, worker, &mut accepted).await?;
                    fail(panel, worker, id, &why, true).await?;
                    report.failed += 1;
                    continue;
                }
            };
            // MAIL, RCPT and DATA go out while the previous message is
            // recorded as sent and this one is claimed.
            let (prepared, claimed) = tokio::join!(
                conn.prepare(&envelope, &content),
                record(panel, worker, accepted, Some(id))
            );
            let claimed = match claimed {
                Ok(claimed) => {
                    accepted = None;
                    claimed
                }
                Err(e) => {
                    // Nothing of this message's content has gone; the server
                    // drops a transaction whose connection closes before the dot.
                    conn.abandon();
                    record_sent(panel, worker, &mut accepted).await?;
                    if !e.is_busy() {
                        return Err(e);
                    }
                    report.problem = Some(
                        "the panel database was busy with another change, so the messages \
                         after the ones sent stay queued; they go at the next try"
                            .into(),
                    );
                    break 'passes;
                }
            };
            match (prepared, claimed) {
                (Ok(()), true) => {}
                (Ok(()), false) => {
                    // Cancelled since it was loaded. The server is waiting for
                    // the content; a connection closed without the final dot
                    // makes it drop the transaction.
                    conn.abandon();
                    continue;
                }
                (Err(_), false) => continue,
                (Err(Failure::Permanent(why)), true) => {
                    fail(panel, worker, id, &why, false).await?;
                    report.failed += 1;
                    continue;
                }
                (Err(Failure::Temporary(why) | Failure::Uncertain(why)), true) => {
                    // Nothing of the content went: safe to try again.
                    count(&mut report, defer(panel, worker, id, &why, true).await?);
                    continue;
                }
            }
            match conn.transmit(&content).await {
                Ok(()) => {
                    accepted = Some(id);
                    report.sent += 1;
                }
                Err(Failure::Temporary(why)) => {
                    count(&mut report, defer(panel, worker, id, &why, true).await?)
                }
                Err(Failure::Permanent(why)) => {
                    fail(panel, worker, id, &why, false).await?;
                    report.failed += 1;
                }
                Err(Failure::Uncertain(why)) => {
                    let why = format!("{why}; check with the recipient before retrying");
                    fail_uncertain(panel, worker, id, &why).await?;
                    report.failed += 1;
                }
            }
        }
        record_sent(panel, worker, &mut accepted).await?;
    }
    if let Some(c) = connection.filter(Connection::usable) {
        c.close().await;
    }
    if let Some(number) = worker
        && let crate::db::Pooled::Postgres(mut conn) = panel.conn().await?
    {
        store::release_leases(&mut conn, number).await?;
    }
    // What was sent is what the pass reports; a database too busy to say
    // when the next message is due only leaves that unsaid.
    report.next_due = next_due(panel).await.unwrap_or_default();
    Ok(report)
}

enum Outcome {
    Retrying,
    Failed,
}

fn count(report: &mut PassReport, outcome: Outcome) {
    match outcome {
        Outcome::Retrying => report.retrying += 1,
        Outcome::Failed => report.failed += 1,
    }
}

/// In one durable statement: records `sent` as accepted by the server, and
/// claims `claim` (marks it `sending`, counting the attempt) if it is still
/// queued. Returns whether the claim was made.
async fn record(
    panel: &Panel,
    worker: Option<i32>,
    sent: Option<MessageId>,
    claim: Option<MessageId>,
) -> Result<bool> {
    if sent.is_none() && claim.is_none() {
        return Ok(false);
    }
    let mut conn = panel.conn().await?;
    let changed = store::record(&mut conn, sent, claim, worker, panel.now()).await?;
    Ok(claim.is_some_and(|c| changed.contains(&c)))
}

/// Records `accepted` (a message the server took) as sent, trying again
/// while the database is busy; if it stays busy, journals it for the next
/// pass and says so. Clears `accepted` once it is recorded or journaled.
async fn record_sent(
    panel: &Panel,
    worker: Option<i32>,
    accepted: &mut Option<MessageId>,
) -> Result<()> {
    let Some(id) = *accepted else {
        return Ok(());
    };
    let mut last = None;
    for attempt in 0..RECORD_TRIES {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        match record(panel, worker, Some(id), None).await {
            Ok(_) => {
                *accepted = None;
                return Ok(());
            }
            Err(e) if e.is_busy() => last = Some(e),
            Err(e) => {
                last = Some(e);
                break;
            }
        }
    }
    tracing::warn!(message = id.0, error = ?last, "delivery not recorded; journaling it");
    let journal = journal_path(panel);
    let journaled = crate::files::open_private(&journal).and_then(|mut f| {
        use std::io::Write as _;
        writeln!(f, "{} {}", id.0, millis(panel.now()))
            .and_then(|()| f.sync_data())
            .map_err(|e| Error::file(journal.display().to_string(), e.to_string()))
    });
    *accepted = None;
    Err(match journaled {
        Ok(()) => Error::conflict(format!(
            "the mail server accepted message {id}, but the panel database stayed busy, so it \
             is not yet recorded as sent; this was noted in {} and it will be recorded as sent \
             (never sent again) when mail is next delivered",
            journal.display()
        )),
        Err(e) => Error::conflict(format!(
            "the mail server accepted message {id}, but it could not be recorded as sent ({}) \
             nor noted beside the database ({e}); it will show as possibly delivered: the \
             recipient has it, so do not retry it",
            last.map(|e| e.to_string()).unwrap_or_default()
        )),
    })
}

/// Applies the journal of accepted deliveries (they are `sent`), then fails
/// what a dead worker left `sending`, with the reason. `worker` is this
/// worker's number on a team database (what it left `sending` in an earlier
/// pass was interrupted too).
async fn recover(panel: &Panel, worker: Option<i32>) -> Result<u32> {
    let journal = journal_path(panel);
    let journaled: Vec<(i64, i64)> = match std::fs::read_to_string(&journal) {
        Ok(text) => text
            .lines()
            .filter_map(|l| {
                let (id, at) = l.split_once(' ')?;
                Some((id.parse().ok()?, at.parse().ok()?))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::file(journal.display().to_string(), e.to_string())),
    };
    if journaled.is_empty() {
        // The common case, every pass: a read, not a write transaction.
        let interrupted = store::any_sending(&mut panel.conn().await?).await?;
        if !interrupted {
            return Ok(0);
        }
    }
    let now = panel.now();
    let mut tx = panel.begin().await?;
    for (id, at) in &journaled {
        store::mark_sent(&mut tx, MessageId(*id), instant(*at), now).await?;
    }
    let interrupted = match &mut tx {
        crate::db::Tx::Sqlite(_) => store::fail_interrupted(&mut tx, now).await?,
        crate::db::Tx::Postgres(c) => fail_abandoned(c, worker, now).await?,
    };
    tx.commit().await?;
    if !journaled.is_empty() {
        tracing::info!(
            messages = journaled.len(),
            "journaled deliveries recorded as sent"
        );
        if let Err(e) = std::fs::remove_file(&journal) {
            tracing::warn!(error = %e, "the delivery journal could not be removed; it is applied again harmlessly");
        }
    }
    if interrupted > 0 {
        tracing::warn!(
            messages = interrupted,
            "interrupted deliveries marked failed"
        );
    }
    Ok(interrupted as u32)
}

/// On a team database, fails the messages left `sending` by this worker's
/// earlier passes and by workers that are gone (their advisory lock is
/// free); a live worker's are its own to record.
async fn fail_abandoned(
    conn: &mut sqlx::PgConnection,
    worker: Option<i32>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut failed = 0;
    for holder in store::sending_workers(conn).await? {
        let gone = match holder {
            None => true,
            Some(h) if Some(h) == worker => true,
            Some(h) => {
                let free = store::hold_worker(conn, h).await?;
                if free {
                    store::release_worker(conn, h).await?;
                }
                free
            }
        };
        if gone {
            failed += store::fail_interrupted_of(conn, holder, now).await?;
        }
    }
    Ok(failed)
}

/// On a team database, gives back the leases of workers that are gone
/// (their advisory lock is free), so the messages they took and never
/// claimed go at once rather than when the lease runs out.
async fn release_dead_leases(panel: &Panel, worker: i32) -> Result<()> {
    let crate::db::Pooled::Postgres(mut conn) = panel.conn().await? else {
        return Ok(());
    };
    for holder in store::leasing_workers(&mut conn, worker).await? {
        if store::hold_worker(&mut conn, holder).await? {
            store::release_worker(&mut conn, holder).await?;
            store::release_leases(&mut conn, holder).await?;
        }
    }
    Ok(())
}

async fn next_due(panel: &Panel) -> Result<Option<DateTime<Utc>>> {
    store::next_due(&mut panel.conn().await?).await
}

/// The messages whose time has come, oldest due first, with attachments
/// (on a team database, leased to `worker`).
async fn load_due(panel: &Panel, worker: Option<i32>) -> Result<Vec<(MessageId, Outgoing)>> {
    let batch = if worker.is_some() { TEAM_BATCH } else { BATCH };
    store::load_due(&mut panel.conn().await?, panel.now(), batch, worker).await
}

/// Fails a message with `why`. `count_attempt` when the attempt was not
/// counted by a claim.
async fn fail(
    panel: &Panel,
    worker: Option<i32>,
    id: MessageId,
    why: &str,
    count_attempt: bool,
) -> Result<()> {
    let mut conn = panel.conn().await?;
    store::fail(
        &mut conn,
        id,
        why,
        count_attempt,
        false,
        worker,
        panel.now(),
    )
    .await
}

/// Fails a message the server may have taken all the same (its answer was
/// lost): never retried in bulk, only by a person who checked.
async fn fail_uncertain(
    panel: &Panel,
    worker: Option<i32>,
    id: MessageId,
    why: &str,
) -> Result<()> {
    let mut conn = panel.conn().await?;
    store::fail(&mut conn, id, why, false, true, worker, panel.now()).await
}

/// Leaves a message queued for a later attempt, with backoff; a server that
/// has deferred it for [`GIVE_UP_AFTER`] fails it. `server_said` is false
/// when no server was reached (offline): then it never gives up.
async fn defer(
    panel: &Panel,
    worker: Option<i32>,
    id: MessageId,
    why: &str,
    server_said: bool,
) -> Result<Outcome> {
    let now = panel.now();
    let (attempts, first_failure, claimed) = store::attempts(&mut panel.conn().await?, id).await?;
    let attempts = attempts + i64::from(!claimed);
    let first_failure = first_failure.unwrap_or(now);
    if server_said && now - first_failure >= GIVE_UP_AFTER {
        let why = format!("the server kept deferring it for 3 days; last: {why}");
        fail(panel, worker, id, &why, !claimed).await?;
        return Ok(Outcome::Failed);
    }
    let next = now + backoff(attempts);
    let mut conn = panel.conn().await?;
    store::defer(
        &mut conn,
        id,
        attempts,
        why,
        first_failure,
        next,
        worker,
        now,
    )
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
    use crate::mail::{MessageKind, NewMessage, Rendered, enqueue};
    use crate::participants::fields::Email;

    async fn queued(panel: &Panel, to: &str) -> MessageId {
        let mut tx = panel.write().await.unwrap();
        let id = enqueue(
            &mut tx,
            panel.now(),
            &NewMessage {
                also_reply_to: None,
                kind: MessageKind::Test,
                to: Email::parse(to).unwrap(),
                to_name: "Zoë".into(),
                reply_to: None,
                from_name: None,
                body: Rendered {
                    subject: "Hello".into(),
                    text: "Hello".into(),
                    html: "<p>Hello</p>".into(),
                },
                headers: Default::default(),
                attachments: Vec::new(),
                not_before: panel.now(),
                topic: None,
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        id
    }

    async fn status_of(panel: &Panel, id: MessageId) -> String {
        sqlx::query_scalar("SELECT status FROM outbox WHERE id = ?")
            .bind(id.0)
            .fetch_one(panel.pool().unwrap())
            .await
            .unwrap()
    }

    /// A delivery the server accepted but the database would not record is
    /// journaled; the next pass records it as sent, while a message a dead
    /// worker left mid-delivery (not journaled) is failed as "may have been
    /// delivered".
    #[tokio::test]
    async fn a_journaled_delivery_is_recorded_as_sent_by_the_next_pass() {
        let dir = tempfile::tempdir().unwrap();
        let panel = Panel::open(dir.path().join("panel.db")).await.unwrap();
        let delivered = queued(&panel, "zoe@example.org").await;
        let interrupted = queued(&panel, "ann@example.org").await;
        sqlx::query("UPDATE outbox SET status = 'sending'")
            .execute(panel.pool().unwrap())
            .await
            .unwrap();
        std::fs::write(
            journal_path(&panel),
            format!("{} 1780000000000\n", delivered.0),
        )
        .unwrap();

        assert_eq!(recover(&panel, None).await.unwrap(), 1);
        assert_eq!(status_of(&panel, delivered).await, "sent");
        assert_eq!(status_of(&panel, interrupted).await, "failed");
        assert!(!journal_path(&panel).exists());
        // Nothing left to do: the next pass writes nothing.
        assert_eq!(recover(&panel, None).await.unwrap(), 0);
    }

    /// Retrying or cancelling every failed message at once touches only the
    /// failed ones: a sent message is never queued again, and one that may
    /// have been delivered is retried only on its own.
    #[tokio::test]
    async fn every_failed_message_is_retried_or_cancelled_at_once_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let panel = Panel::open(dir.path().join("panel.db")).await.unwrap();
        let failed = [
            queued(&panel, "zoe@example.org").await,
            queued(&panel, "ann@example.org").await,
        ];
        let sent = queued(&panel, "bo@example.org").await;
        let waiting = queued(&panel, "cy@example.org").await;
        let set = |id: MessageId, status: &'static str| {
            let panel = panel.clone();
            async move {
                sqlx::query("UPDATE outbox SET status = ? WHERE id = ?")
                    .bind(status)
                    .bind(id.0)
                    .execute(panel.pool().unwrap())
                    .await
                    .unwrap();
            }
        };
        for id in failed {
            set(id, "failed").await;
        }
        set(sent, "sent").await;
        // Interrupted while the server was taking it: it may have arrived.
        let interrupted = queued(&panel, "di@example.org").await;
        set(interrupted, "sending").await;
        recover(&panel, None).await.unwrap();
        assert_eq!(status_of(&panel, interrupted).await, "failed");

        assert_eq!(crate::mail::retry_failed(&panel).await.unwrap(), 2);
        for id in failed {
            assert_eq!(status_of(&panel, id).await, "queued");
        }
        assert_eq!(status_of(&panel, sent).await, "sent");
        assert_eq!(
            status_of(&panel, interrupted).await,
            "failed",
            "a message that may have been delivered is retried only on its own"
        );
        crate::mail::retry(&panel, interrupted).await.unwrap();
        assert_eq!(status_of(&panel, interrupted).await, "queued");
        crate::mail::cancel(&panel, interrupted).await.unwrap();
        assert_eq!(status_of(&panel, waiting).await, "queued");

        for id in failed {
            set(id, "failed").await;
        }
        assert_eq!(crate::mail::cancel_failed(&panel).await.unwrap(), 2);
        for id in failed {
            assert_eq!(status_of(&panel, id).await, "cancelled");
        }
        assert_eq!(status_of(&panel, sent).await, "sent");
        assert_eq!(status_of(&panel, waiting).await, "queued");
        assert_eq!(crate::mail::retry_failed(&panel).await.unwrap(), 0);
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::seconds(30));
        assert_eq!(backoff(2), Duration::seconds(60));
        assert_eq!(backoff(3), Duration::seconds(120));
        assert_eq!(backoff(8), Duration::seconds(3840).min(Duration::hours(1)));
        assert_eq!(backoff(50), Duration::hours(1));
    }
}
