//! Several processes on one team database (a real PostgreSQL server, see
//! `common::pg`): each opens the panel on its own, as the app, a terminal's
//! `outbox send` and a team server on other machines would.
//!
//! - Two workers draining one outbox to a real SMTP server deliver every
//!   message exactly once between them.
//! - A message a live worker is handing over is left to it; one a worker
//!   that died left mid-delivery is failed as possibly delivered, never
//!   sent again by itself.

mod common;

use common::smtp::{SmtpServer, local_smtp};
use panelkeeper::mail::{self, MessageKind, NewMessage, Rendered, Status, worker};
use panelkeeper::participants::fields::Email;
use panelkeeper::{Panel, clock::ManualClock};
use sqlx::Connection;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// The same team database opened `n` times, each with its own connections,
/// on one clock.
async fn opened(n: usize) -> (Vec<Panel>, String) {
    let url = common::pg::database().await;
    let clock = Arc::new(ManualClock::new(common::start()));
    let mut panels = Vec::new();
    for _ in 0..n {
        panels.push(
            Panel::open(url.as_str())
                .await
                .unwrap()
                .with_clock(clock.clone()),
        );
    }
    (panels, url)
}

fn message(n: usize) -> NewMessage {
    NewMessage {
        kind: MessageKind::Reminder,
        to: Email::parse(&format!("p{n}@example.org")).unwrap(),
        to_name: format!("Participant {n}"),
        reply_to: None,
        from_name: None,
        body: Rendered {
            subject: format!("Reminder {n}"),
            text: format!("Message {n}\n"),
            html: format!("<p>Message {n}</p>"),
        },
        headers: BTreeMap::new(),
        attachments: Vec::new(),
        not_before: common::start(),
        topic: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_deliver_every_message_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(dir.path(), &[]);
    let (panels, _) = opened(2).await;
    mail::settings::set(&panels[0], local_smtp(server.port))
        .await
        .unwrap();
    let messages: Vec<NewMessage> = (0..500).map(message).collect();
    let mut tx = panels[0].begin().await.unwrap();
    mail::enqueue_many(&mut tx, panels[0].now(), &messages)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let drain = |panel: Panel| {
        tokio::spawn(async move {
            let mut sent = 0;
            loop {
                let report = worker::send_due(&panel).await.unwrap();
                assert_eq!(report.problem, None, "{report:?}");
                sent += report.sent;
                if report.next_due.is_none() {
                    return sent;
                }
            }
        })
    };
    let a = drain(panels[0].clone());
    let b = drain(panels[1].clone());
    let (a, b) = (a.await.unwrap(), b.await.unwrap());

    assert_eq!(
        a + b,
        500,
        "sent by the first worker {a}, by the second {b}"
    );
    assert!(a > 0 && b > 0, "one worker did it all: {a} and {b}");
    let delivered = server.delivered();
    assert_eq!(delivered.len(), 500);
    let ids: HashSet<String> = delivered.iter().map(|d| d.message_id()).collect();
    assert_eq!(ids.len(), 500, "a message was delivered twice");
    let counts = mail::counts(&panels[0]).await.unwrap();
    assert_eq!((counts.sent, counts.waiting, counts.failed), (500, 0, 0));
}

#[tokio::test]
async fn a_live_workers_delivery_is_left_to_it_and_a_dead_ones_is_failed() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(dir.path(), &[]);
    let (panels, url) = opened(1).await;
    let panel = &panels[0];
    mail::settings::set(panel, local_smtp(server.port))
        .await
        .unwrap();
    let mut tx = panel.begin().await.unwrap();
    let id = mail::enqueue(&mut tx, panel.now(), &message(1))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Another worker, alive (it holds its advisory lock), is handing the
    // message to the server.
    let mut other = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock(x'504b4d4c'::int, 77)")
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query("UPDATE outbox SET status = 'sending', worker = 77 WHERE id = $1")
        .bind(id.0)
        .execute(&mut other)
        .await
        .unwrap();
    let report = worker::send_due(panel).await.unwrap();
    assert_eq!((report.sent, report.failed), (0, 0), "{report:?}");
    let m = mail::get(panel, id).await.unwrap().message;
    assert_eq!(m.status, Status::Sending);

    // It dies (its connection closes): the message may have arrived, so it
    // is failed for a person to check, and never sent again by itself.
    other.close().await.unwrap();
    let report = worker::send_due(panel).await.unwrap();
    assert_eq!((report.sent, report.failed), (0, 1), "{report:?}");
    let m = mail::get(panel, id).await.unwrap().message;
    assert_eq!(m.status, Status::Failed);
    assert!(
        m.last_error.unwrap().contains("may have been delivered"),
        "the reason is given"
    );
    assert!(server.delivered().is_empty());
    // A bulk retry leaves it: only a person who checked retries it.
    assert_eq!(mail::retry_failed(panel).await.unwrap(), 0);
}
