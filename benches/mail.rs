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

#[path = "common/mail.rs"]
mod bench_mail;
#[path = "../tests/common/smtp.rs"]
mod smtp;

use bench_mail::bare_lettre;
use panelkeeper::Panel;
use panelkeeper::mail::settings;
use panelkeeper::mail::{self, worker};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn outbox(port: u16, n: usize, dir: &std::path::Path, run: usize) -> Duration {
    let panel = Panel::open(dir.join(format!("bench-{run}.db")))
        .await
        .unwrap();
    settings::set(&panel, smtp::local_smtp(port)).await.unwrap();
    let mut tx = panel.write().await.unwrap();
    for i in 0..n {
        mail::enqueue(&mut tx, panel.now(), &bench_mail::queued(i, panel.now()))
            .await
            .unwrap();
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
