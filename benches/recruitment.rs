//! Recruitment benchmarks on the reference panel (`cargo bench --bench recruitment`).
//!
//! 1. CSV import of the 100,000-row demo CSV, side by side with the sqlite3
//!    command line's `.import` of the same file into a plain table. The two
//!    alternate, run by run, on fresh databases, so a noisy machine slows
//!    both alike; the ratio of medians is what counts (target >= 0.5).
//! 2. Eligibility for two screeners over the demo panel with its contact
//!    history and suppression list, warm (the panel index built, as in the
//!    running app): everyone listed and named, as `eligible` prints them,
//!    and a page, as the app's invitation preview asks for it (at most 30
//!    eligible, the first 200 excluded listed, all of them counted).
//!
//! PANELKEEPER_BENCH_PARTICIPANTS and PANELKEEPER_BENCH_RUNS change the size
//! and the number of runs; PANELKEEPER_BENCH_SKIP_IMPORT=1 runs only part 2;
//! PANELKEEPER_BENCH_PANEL=path runs part 2 on that panel (a copy: one
//! participant's do-not-contact mark is toggled to force index rebuilds)
//! instead of generating one, such as the 1,000,000-person panel the cold
//! benchmark keeps.

use panelkeeper::participants::governance::{self, EligibilityOptions};
use panelkeeper::participants::{self, ParticipantId, import};
use panelkeeper::{Panel, demo};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The same allocator as the CLI and the app.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn percentile(mut xs: Vec<Duration>, p: f64) -> Duration {
    xs.sort();
    xs[((xs.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn sqlite3_import(dir: &Path, csv: &Path, run: u64) -> Duration {
    let db = dir.join(format!("sqlite3-{run}.db"));
    let started = Instant::now();
    let out = Command::new("sqlite3")
        .arg(&db)
        .arg(".mode csv")
        .arg(format!(".import {} people", csv.display()))
        .output()
        .expect("sqlite3 (Debian package sqlite3) is installed by scripts/setup");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "sqlite3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_file(db);
    took
}

/// A first import, the copy of its WAL into the database file that
/// follows it in the background, and a second import of the same file.
async fn our_import(dir: &Path, csv: &Path, run: u64, rows: u64) -> (Duration, Duration, Duration) {
    let db = dir.join(format!("panel-{run}.db"));
    let panel = Panel::open(&db).await.unwrap();
    let started = Instant::now();
    let report = import::import_file(&panel, csv, &|_| {}).await.unwrap();
    let first = started.elapsed();
    assert_eq!(report.created as u64, rows);
    assert!(report.rejected.is_empty());
    panel.settle().await;
    let settled = started.elapsed() - first;
    let started = Instant::now();
    let again = import::import_file(&panel, csv, &|_| {}).await.unwrap();
    let second = started.elapsed();
    assert_eq!(again.unchanged as u64, rows);
    panel.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    (first, settled, second)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let participants = env_or("PANELKEEPER_BENCH_PARTICIPANTS", 100_000);
    let runs = env_or("PANELKEEPER_BENCH_RUNS", 9);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("panel.csv");
    demo::write_csv(
        participants,
        1,
        std::io::BufWriter::new(std::fs::File::create(&csv).unwrap()),
    )
    .unwrap();
    let bytes = std::fs::metadata(&csv).unwrap().len();
    println!("# Recruitment benchmarks: {participants} participants, {runs} runs each\n");
    println!(
        "CSV: {} rows, {:.1} MB (demo --seed 1)\n",
        participants,
        bytes as f64 / 1e6
    );

    let (mut theirs, mut ours, mut reimport) = (Vec::new(), Vec::new(), Vec::new());
    let (mut settled, mut pairs) = (Vec::new(), Vec::new());
    let skip_import = std::env::var_os("PANELKEEPER_BENCH_SKIP_IMPORT").is_some();
    for run in 0..if skip_import { 0 } else { runs } {
        let t = sqlite3_import(dir.path(), &csv, run);
        let (first, settle, second) = our_import(dir.path(), &csv, run, participants).await;
        pairs.push(t.as_secs_f64() / first.as_secs_f64());
        theirs.push(t);
        ours.push(first);
        settled.push(settle);
        reimport.push(second);
    }
    let rate = |d: Duration| participants as f64 / d.as_secs_f64();
    if !skip_import {
        pairs.sort_by(f64::total_cmp);
        let pair = pairs[pairs.len() / 2];
        let (t, o, r) = (median(theirs), median(ours), median(reimport));
        let c = median(settled);
        println!("| import of {participants} rows | median | rows/s |");
        println!("|---|---|---|");
        println!(
            "| sqlite3 `.import` into a plain table | {} | {:.0} |",
            ms(t),
            rate(t)
        );
        println!(
            "| `participants import` (checked, indexed, 1 transaction) | {} | {:.0} |",
            ms(o),
            rate(o)
        );
        println!(
            "| `participants import` of the same file again (no change) | {} | {:.0} |",
            ms(r),
            rate(r)
        );
        println!(
            "| then, in the background: the WAL copied into the database file | {} | |",
            ms(c)
        );
        println!(
            "\nratio (ours / sqlite3 rate): {:.2} of the medians, {:.2} the median of the runs' own ratios (target >= 0.50)",
            t.as_secs_f64() / o.as_secs_f64(),
            pair
        );
        println!(
            "with the background checkpoint counted in: {:.2}\n",
            t.as_secs_f64() / (o + c).as_secs_f64()
        );
    }

    let panel = match std::env::var_os("PANELKEEPER_BENCH_PANEL") {
        Some(path) => {
            let panel = Panel::open(Path::new(&path)).await.unwrap();
            println!("reference panel: {}\n", Path::new(&path).display());
            panel
        }
        None => {
            let db = dir.path().join("reference.db");
            let panel = Panel::open(&db).await.unwrap();
            let started = Instant::now();
            let made = demo::generate(&panel, participants as u32, 1)
                .await
                .unwrap();
            println!(
                "reference panel generated in {}: {} contact-history entries, {} suppressed\n",
                ms(started.elapsed()),
                made.contacts,
                made.suppressed
            );
            panel
        }
    };
    let now = panel.now();
    let mut builds = Vec::new();
    for _ in 0..5 {
        // Any change makes the next run rebuild the index.
        participants::set_do_not_contact(&panel, ParticipantId(1), builds.len() % 2 == 0)
            .await
            .unwrap();
        let started = Instant::now();
        governance::eligible(
            &panel,
            "eu-25-44-non-customers",
            now,
            &EligibilityOptions::default(),
        )
        .await
        .unwrap();
        builds.push(started.elapsed());
    }
    println!(
        "first run after a change (index rebuilt): median {}\n",
        ms(median(builds))
    );
    println!("| eligibility, warm | listed | eligible | excluded | not qualified | median | p90 |");
    println!("|---|---|---|---|---|---|---|");
    let page = EligibilityOptions {
        limit: Some(30),
        excluded_limit: Some(200),
        ..Default::default()
    };
    for screener in ["eu-25-44-non-customers", "budget-shoppers"] {
        for (listed, options) in [
            ("everyone", EligibilityOptions::default()),
            ("a page", page.clone()),
        ] {
            let mut times = Vec::new();
            let mut last = None;
            for _ in 0..(runs * 6).max(20) {
                let started = Instant::now();
                last = Some(
                    governance::eligible(&panel, screener, now, &options)
                        .await
                        .unwrap(),
                );
                times.push(started.elapsed());
            }
            let r = last.unwrap();
            println!(
                "| {screener} | {listed} | {} | {} | {} | {} | {} |",
                r.eligible.len() as u32 + r.beyond_limit,
                r.excluded_total,
                r.not_qualified,
                ms(median(times.clone())),
                ms(percentile(times, 0.9))
            );
        }
    }
    participants::set_do_not_contact(&panel, ParticipantId(1), false)
        .await
        .unwrap();
    panel.close().await;
}
