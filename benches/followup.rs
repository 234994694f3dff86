//! Notes and follow-up benchmarks (`cargo bench --bench followup`).
//!
//! On the reference panel (`demo --participants 100000 --seed 1`: 200,000
//! notes, 20,000 issues): note search, first 50 hits with the notes around
//! each (target: median at most 5 ms); saving a note (median and 99th
//! percentile); and `tick` over the 20,000 issues (the first queues an
//! escalation for every overdue one; the next finds nothing new due).

use panelkeeper::notes::{self, NoteInput, NoteSearch};
use panelkeeper::sessions::SessionId;
use panelkeeper::{Panel, demo, issues};
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let panel = Panel::open(dir.path().join("panel.db")).await.unwrap();
    let started = Instant::now();
    let report = demo::generate(&panel, 100_000, 1).await.unwrap();
    println!(
        "# Notes and follow-up: {} notes, {} issues (reference panel generated in {:.1} s)\n",
        report.notes,
        report.issues,
        started.elapsed().as_secs_f64()
    );

    println!("| search, first 50 hits with neighbours | hits | median | p90 |");
    println!("|---|---|---|---|");
    for query in [
        "refund",
        "\"never arrived\"",
        "deliv",
        "refund crashed",
        "loyalty card confusing",
    ] {
        let search = NoteSearch {
            query: query.into(),
            limit: Some(50),
            ..Default::default()
        };
        let mut times = Vec::new();
        let mut hits = 0;
        for _ in 0..30 {
            let t = Instant::now();
            hits = notes::search(&panel, &search).await.unwrap().len();
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        println!(
            "| `{query}` | {hits} | {:.2} ms | {:.2} ms |",
            percentile(times.clone(), 0.5),
            percentile(times, 0.9)
        );
    }

    let session = SessionId(1_800);
    let mut saves = Vec::new();
    for i in 0..500 {
        let input = NoteInput {
            text: format!("Benchmark note {i} about the refund #bench"),
            ..Default::default()
        };
        let t = Instant::now();
        notes::add(&panel, session, &input).await.unwrap();
        saves.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("\n| saving a note (committed, synchronous=FULL), 500 saves | median | p99 |");
    println!("|---|---|---|");
    println!(
        "| `notes::add` | {:.2} ms | {:.2} ms |",
        percentile(saves.clone(), 0.5),
        percentile(saves, 0.99)
    );

    let now = panel.now();
    let t = Instant::now();
    let first = issues::tick(&panel, now).await.unwrap();
    let first_ms = t.elapsed().as_secs_f64() * 1e3;
    let mut again = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let r = issues::tick(&panel, now).await.unwrap();
        again.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(r.escalations, 0);
    }
    println!(
        "\n| tick over {} issues | overdue | escalations queued | time |",
        report.issues
    );
    println!("|---|---|---|---|");
    println!(
        "| first tick | {} | {} | {first_ms:.0} ms |",
        first.overdue, first.escalations
    );
    println!(
        "| next ticks (nothing new due), median | {} | 0 | {:.1} ms |",
        first.overdue,
        percentile(again, 0.5)
    );
}
