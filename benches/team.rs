//! Team-database benchmarks (`cargo bench --bench team`): the core on a real
//! PostgreSQL server, side by side in one run with the same work done by
//! hand, on a throwaway cluster this benchmark starts (`scripts/pg start
//! --durable`: fsync on, as a real server runs) and stops, or on the server
//! named by `PANELKEEPER_BENCH_PG` (postgres://user@host:port, no database).
//!
//! 1. CSV import of the 100,000-row demo CSV beside `psql \copy` of the same
//!    file into a bare table; the two alternate, run by run, each into a
//!    new database. Both are whole processes, as a user waits for them: the
//!    `panelkeeper participants import` command and the `psql` command.
//! 2. Eligibility for the demo's screeners over the 100,000-person demo
//!    panel (its contact history and suppression list), warm, in-process.
//! 3. Note search over its 200,000 notes, the first 50 hits, warm,
//!    in-process, beside the bare `tsvector` query the search makes.
//!
//! PANELKEEPER_BENCH_PARTICIPANTS and PANELKEEPER_BENCH_RUNS change the size
//! and the number of runs.

use panelkeeper::notes::{self, NoteSearch};
use panelkeeper::participants::governance::{self, EligibilityOptions};
use panelkeeper::{Panel, demo};
use std::path::{Path, PathBuf};
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

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A cluster of its own, stopped when dropped.
struct Cluster {
    dir: Option<PathBuf>,
    url: String,
}

impl Cluster {
    fn start() -> Cluster {
        if let Ok(url) = std::env::var("PANELKEEPER_BENCH_PG") {
            return Cluster { dir: None, url };
        }
        let dir = tempfile::Builder::new()
            .prefix("panelkeeper-bench-pg.")
            .tempdir_in("/tmp")
            .unwrap()
            .keep();
        let out = Command::new(root().join("scripts/pg"))
            .args(["start", "--durable"])
            .arg(&dir)
            .output()
            .expect("scripts/pg (scripts/setup installs PostgreSQL)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
        Cluster {
            dir: Some(dir),
            url,
        }
    }

    /// A new empty database; its URL.
    fn database(&self, name: &str) -> String {
        let out = Command::new("psql")
            .arg(format!("{}/postgres", self.url))
            .args(["-q", "-c", &format!("CREATE DATABASE {name}")])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("{}/{name}", self.url)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = Command::new(root().join("scripts/pg"))
                .arg("stop")
                .arg(dir)
                .output();
        }
    }
}

/// The columns of the demo CSV, as a bare table of text takes them.
fn header(csv: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(csv).unwrap();
    let first = text.lines().next().unwrap();
    first
        .split(',')
        .map(|c| {
            c.trim_matches('"')
                .to_lowercase()
                .replace(|ch: char| !ch.is_ascii_alphanumeric(), "_")
        })
        .collect()
}

/// `psql \copy` of the CSV into a bare table, as a whole process.
fn psql_copy(url: &str, csv: &Path, columns: &[String]) -> Duration {
    let create = format!(
        "CREATE TABLE people ({})",
        columns
            .iter()
            .map(|c| format!("\"{c}\" text"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let out = Command::new("psql")
        .args([url, "-q", "-c", &create])
        .output()
        .unwrap();
    assert!(out.status.success());
    let started = Instant::now();
    let out = Command::new("psql")
        .args([
            url,
            "-q",
            "-c",
            &format!(
                "\\copy people FROM '{}' WITH (FORMAT csv, HEADER true)",
                csv.display()
            ),
        ])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// `panelkeeper participants import` into a new team database, as a whole
/// process.
fn our_import(url: &str, csv: &Path, data: &Path) -> Duration {
    let bin = root().join("target/release/panelkeeper");
    let bin = if bin.exists() {
        bin
    } else {
        root().join("target/debug/panelkeeper")
    };
    // The schema is made first, as by any earlier use of the database.
    let out = Command::new(&bin)
        .args(["--db", url, "participants", "list", "--limit", "1"])
        .env("XDG_DATA_HOME", data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let started = Instant::now();
    let out = Command::new(&bin)
        .args(["--db", url, "participants", "import"])
        .arg(csv)
        .env("XDG_DATA_HOME", data)
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let participants = env_or("PANELKEEPER_BENCH_PARTICIPANTS", 100_000);
    let runs = env_or("PANELKEEPER_BENCH_RUNS", 5);
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    // This computer's own files for the team databases.
    // SAFETY: set before any thread of this program reads the environment.
    unsafe { std::env::set_var("XDG_DATA_HOME", dir.path().join("data")) };
    let csv = dir.path().join("panel.csv");
    demo::write_csv(
        participants,
        1,
        std::io::BufWriter::new(std::fs::File::create(&csv).unwrap()),
    )
    .unwrap();
    println!(
        "# Team-database benchmarks (PostgreSQL): {participants} participants, {runs} runs each\n"
    );

    // 1. The import, whole processes.
    let columns = header(&csv);
    let (mut theirs, mut ours) = (Vec::new(), Vec::new());
    for run in 0..runs {
        theirs.push(psql_copy(
            &cluster.database(&format!("copy{run}")),
            &csv,
            &columns,
        ));
        ours.push(our_import(
            &cluster.database(&format!("import{run}")),
            &csv,
            &dir.path().join("data"),
        ));
    }
    let (t, o) = (median(theirs), median(ours));
    let rate = |d: Duration| participants as f64 / d.as_secs_f64();
    println!("| import of {participants} rows (whole process) | median | rows/s |");
    println!("|---|---|---|");
    println!(
        "| `psql \\copy` into a bare table of text | {} | {:.0} |",
        ms(t),
        rate(t)
    );
    println!(
        "| `panelkeeper participants import` (checked, indexed, counted) | {} | {:.0} |",
        ms(o),
        rate(o)
    );
    println!(
        "\nratio (ours / psql rate): {:.2} (target >= 0.50)\n",
        t.as_secs_f64() / o.as_secs_f64()
    );

    // 2. Eligibility on the demo panel, warm, in-process.
    let url = cluster.database("reference");
    let panel = Panel::open(url.as_str()).await.unwrap();
    let started = Instant::now();
    let made = demo::generate(&panel, participants as u32, 1)
        .await
        .unwrap();
    println!(
        "reference panel generated in {}: {} notes, {} contact-history entries\n",
        ms(started.elapsed()),
        made.notes,
        made.contacts
    );
    let now = panel.now();
    println!("| eligibility, warm (in-process) | eligible | excluded | median | p90 |");
    println!("|---|---|---|---|---|");
    for screener in ["eu-25-44-non-customers", "budget-shoppers"] {
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..(runs * 4).max(20) {
            let started = Instant::now();
            last = Some(
                governance::eligible(&panel, screener, now, &EligibilityOptions::default())
                    .await
                    .unwrap(),
            );
            times.push(started.elapsed());
        }
        let r = last.unwrap();
        println!(
            "| {screener} | {} | {} | {} | {} |",
            r.eligible.len() as u32 + r.beyond_limit,
            r.excluded_total,
            ms(median(times.clone())),
            ms(percentile(times, 0.9))
        );
    }

    // 3. Note search, warm, in-process, beside the bare query it makes.
    println!(
        "\n| note search over {} notes, first 50 (in-process) | hits | median | bare tsvector query |",
        made.notes
    );
    println!("|---|---|---|---|");
    let mut bare = {
        use sqlx::Connection;
        sqlx::PgConnection::connect(&url).await.unwrap()
    };
    for query in ["refund", "deliv", "\"never arrived\"", "zzqx"] {
        let mut times = Vec::new();
        let mut hits = 0;
        for _ in 0..(runs * 6).max(30) {
            let started = Instant::now();
            hits = notes::search(
                &panel,
                &NoteSearch {
                    query: query.into(),
                    limit: Some(50),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .len();
            times.push(started.elapsed());
        }
        let tsquery = match query {
            "refund" => "('refund':*)",
            "deliv" => "('deliv':*)",
            "\"never arrived\"" => "('never' <-> 'arrived')",
            _ => "('zzqx':*)",
        };
        let mut bare_times = Vec::new();
        for _ in 0..(runs * 6).max(30) {
            let started = Instant::now();
            let _: Vec<(i64,)> = sqlx::query_as(
                "SELECT id FROM notes WHERE search @@ $1::tsquery ORDER BY id DESC LIMIT 50",
            )
            .bind(tsquery)
            .fetch_all(&mut bare)
            .await
            .unwrap();
            bare_times.push(started.elapsed());
        }
        println!(
            "| {query} | {hits} | {} | {} |",
            ms(median(times)),
            ms(median(bare_times))
        );
    }
    panel.close().await;
}
