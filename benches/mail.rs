//! Mail delivery benchmark (`cargo bench --bench mail`).
//!
//! 1,000 queued messages delivered by the outbox worker to a local SMTP
//! server (aiosmtpd, `tests/smtp/server.py --discard`: it counts what it
//! accepts instead of writing files, so the server's disk work does not
//! drown both sides), side by side in one run with a
//! bare lettre loop that sends the same messages over one reused connection
//! with TCP_NODELAY set and records nothing. The worker does more per
//! message: it reads the message from SQLite, builds it, commits `sending`
//! before the content goes and `sent` after the server accepts it. Runs
//! alternate so a noisy machine slows both alike; the ratio of the median
//! rates is what counts (target: at least 0.8).
//!
//! PANELKEEPER_BENCH_MESSAGES and PANELKEEPER_BENCH_RUNS change the size and
//! the number of runs.

#[path = "../tests/common/smtp.rs"]
mod smtp;

use chrono::Utc;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use panelkeeper::Panel;
use panelkeeper::mail::settings;
use panelkeeper::mail::templates::{self, Invitation, Template};
use panelkeeper::mail::{self, MessageKind, NewMessage, worker};
use panelkeeper::participants::fields::Email;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn invitation(i: usize) -> (String, mail::Rendered) {
    let start = Utc::now() + chrono::Duration::days(14);
    let to = format!("participant{i}@example.org");
    let body = templates::render(&Template::Invitation(Invitation {
        participant_name: format!("Participant {i}"),
        session_title: "Checkout and returns".into(),
        study: Some("Retail 2027".into()),
        starts_at: start,
        ends_at: start + chrono::Duration::minutes(90),
        zone: "America/New_York".into(),
        place: "Room 4, 12 Main Street".into(),
        moderator_name: Some("Ana Moderator".into()),
        organiser_name: "Panel Research".into(),
        unsubscribe_address: "research@panel.example.com".into(),
        updated: false,
    }))
    .unwrap();
    (to, body)
}

async fn bare_lettre(port: u16, n: usize) -> Duration {
    let messages: Vec<lettre::Message> = (0..n)
        .map(|i| {
            let (to, body) = invitation(i);
            lettre::Message::builder()
                .from(
                    "Panel Research <research@panel.example.com>"
                        .parse::<Mailbox>()
                        .unwrap(),
                )
                .to(to.parse::<Mailbox>().unwrap())
                .subject(body.subject)
                .multipart(MultiPart::alternative_plain_html(body.text, body.html))
                .unwrap()
        })
        .collect();
    let started = Instant::now();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tcp.set_nodelay(true).unwrap();
    let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &ClientId::default())
        .await
        .unwrap();
    for m in &messages {
        conn.send(m.envelope(), &m.formatted()).await.unwrap();
    }
    conn.quit().await.unwrap();
    started.elapsed()
}

async fn outbox(port: u16, n: usize, dir: &std::path::Path, run: usize) -> Duration {
    let panel = Panel::open(dir.join(format!("bench-{run}.db")))
        .await
        .unwrap();
    settings::set(&panel, smtp::local_smtp(port)).await.unwrap();
    let mut tx = panel.write().await.unwrap();
    for i in 0..n {
        let (to, body) = invitation(i);
        let mut headers = BTreeMap::new();
        headers.insert(
            "List-Unsubscribe".to_string(),
            "<mailto:research@panel.example.com?subject=unsubscribe>".to_string(),
        );
        let m = NewMessage {
            kind: MessageKind::Invitation,
            to: Email::parse(&to).unwrap(),
            to_name: format!("Participant {i}"),
            reply_to: None,
            from_name: None,
            body,
            headers,
            attachments: Vec::new(),
            not_before: panel.now(),
            topic: None,
        };
        mail::enqueue(&mut tx, panel.now(), &m).await.unwrap();
    }
    tx.commit().await.unwrap();
    let started = Instant::now();
    let report = worker::send_due(&panel).await.unwrap();
    let took = started.elapsed();
    assert_eq!(report.sent as usize, n, "{report:?}");
    panel.close().await;
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env_or("PANELKEEPER_BENCH_MESSAGES", 1000);
    let runs = env_or("PANELKEEPER_BENCH_RUNS", 5);
    let dir = tempfile::tempdir().unwrap();
    let server = smtp::SmtpServer::start(dir.path(), &["--discard"]);
    println!("# Mail delivery: {n} messages to aiosmtpd on 127.0.0.1, {runs} runs each\n");

    // One warm-up of each, not counted.
    bare_lettre(server.port, 50).await;
    outbox(server.port, 50, dir.path(), 0).await;

    let (mut bare, mut ours) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        bare.push(bare_lettre(server.port, n).await);
        ours.push(outbox(server.port, n, dir.path(), run).await);
    }
    let expected = 50 * 2 + 2 * n * runs;
    assert_eq!(server.discarded(), expected, "every message arrived once");

    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let (b, o) = (median(bare), median(ours));
    println!("| delivery of {n} messages | median | messages/s |");
    println!("|---|---|---|");
    println!(
        "| bare lettre loop, one connection, TCP_NODELAY | {:.1} ms | {:.0} |",
        b.as_secs_f64() * 1e3,
        rate(b)
    );
    println!(
        "| outbox worker (`outbox send`) | {:.1} ms | {:.0} |",
        o.as_secs_f64() * 1e3,
        rate(o)
    );
    println!(
        "\nratio (outbox / bare rate): {:.2} (target >= 0.80)",
        rate(o) / rate(b)
    );
}
