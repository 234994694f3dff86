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
//! 4. The outbox drained to a local SMTP server (aiosmtpd, counting what it
//!    accepts) by two workers at once, beside the bare lettre loop the
//!    panel-file benchmark (`benches/mail.rs`) uses; alternating.
//! 5. `panelkeeper migrate --to` of the 100,000-person demo panel file into
//!    an empty team database, as a whole process; then the two are compared:
//!    every table's count, a sample of records field by field, the
//!    follow-up figures and the follow-up report's text.
//! 6. The team server under load: 200 signed-in staff at once (each their
//!    own sign-in, on the demo panel's issues shared among them) loading
//!    *My follow-ups* and, every fifth request, logging a contact on one of
//!    their issues, for 30 s (PANELKEEPER_BENCH_SECONDS), through the real
//!    HTTP server on 127.0.0.1; beside the same 200 clients asking the same
//!    server's `/healthz` (one `SELECT 1`) for as long. Twice: at a
//!    person's pace (a request about every second each,
//!    PANELKEEPER_BENCH_PAUSE_MS), and flat out (each client asks again as
//!    soon as it has its answer: the server's capacity). Latencies from the
//!    client's side, a new connection per request.
//!
//! The reference panel is vacuumed and analysed once it is generated, as
//! PostgreSQL's autovacuum does on its own within a minute or so: the
//! figures are of a settled database, not of one autovacuum is working on.
//!
//! PANELKEEPER_BENCH_PARTICIPANTS and PANELKEEPER_BENCH_RUNS change the size
//! and the number of runs; PANELKEEPER_BENCH_ONLY (a comma-separated list of
//! import, eligibility, search, outbox, migrate, server) runs some of them;
//! PANELKEEPER_BENCH_WORKERS changes the number of outbox workers (2);
//! PANELKEEPER_BENCH_TIMELINE names a file the server load appends each
//! request to (when it began, how long it took), to see where the slow
//! ones fall.

#[path = "common/mail.rs"]
mod bench_mail;
#[allow(dead_code)]
#[path = "../tests/common/http.rs"]
mod http;
#[path = "../tests/common/moved.rs"]
mod moved;
#[path = "../tests/common/smtp.rs"]
mod smtp;

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

/// The CLI: the release build when there is one.
fn release_or_debug() -> PathBuf {
    let bin = root().join("target/release/panelkeeper");
    if bin.exists() {
        bin
    } else {
        root().join("target/debug/panelkeeper")
    }
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
        let out = ran(Command::new(root().join("scripts/pg"))
            .args(["start", "--durable"])
            .arg(&dir));
        let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
        Cluster {
            dir: Some(dir),
            url,
        }
    }

    /// A new empty database; its URL.
    fn database(&self, name: &str) -> String {
        ran(Command::new("psql")
            .arg(format!("{}/postgres", self.url))
            .args(["-q", "-c", &format!("CREATE DATABASE {name}")]));
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
    ran(Command::new("psql").args([url, "-q", "-c", &create]));
    let started = Instant::now();
    ran(Command::new("psql").args([
        url,
        "-q",
        "-c",
        &format!(
            "\\copy people FROM '{}' WITH (FORMAT csv, HEADER true)",
            csv.display()
        ),
    ]));
    started.elapsed()
}

/// `panelkeeper participants import` into a new team database, as a whole
/// process.
fn our_import(url: &str, csv: &Path, data: &Path) -> Duration {
    let bin = release_or_debug();
    // The schema is made first, as by any earlier use of the database.
    ran(Command::new(&bin)
        .args(["--db", url, "participants", "list", "--limit", "1"])
        .env("XDG_DATA_HOME", data));

    let started = Instant::now();
    ran(Command::new(&bin)
        .args(["--db", url, "participants", "import"])
        .arg(csv)
        .env("XDG_DATA_HOME", data));
    started.elapsed()
}

/// Runs `command` to its end; its output, once it has succeeded.
fn ran(command: &mut Command) -> std::process::Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?} did not start ({e}): scripts/setup installs it"));
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Whether PANELKEEPER_BENCH_ONLY (when set) names `part`.
fn wanted(part: &str) -> bool {
    std::env::var("PANELKEEPER_BENCH_ONLY")
        .map(|only| only.split(',').any(|p| p.trim() == part))
        .unwrap_or(true)
}

/// Runs `sql` on the database at `url` with psql.
fn psql(url: &str, sql: &str) {
    ran(Command::new("psql").arg(url).args(["-q", "-c", sql]));
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
    println!(
        "# Team-database benchmarks (PostgreSQL): {participants} participants, {runs} runs each\n"
    );
    if wanted("import") {
        import(&cluster, dir.path(), participants, runs);
    }
    if wanted("eligibility") || wanted("search") {
        reference(&cluster, participants, runs).await;
    }
    if wanted("outbox") {
        outbox(&cluster, dir.path(), runs).await;
    }
    if wanted("migrate") {
        migrate(&cluster, dir.path(), participants).await;
    }
    if wanted("server") {
        server_load(&cluster, participants).await;
    }
}

/// 6. The team server under load, beside its own health check.
async fn server_load(cluster: &Cluster, participants: u64) {
    use panelkeeper::server::{self, Listening, Options};
    let clients = env_or("PANELKEEPER_BENCH_CLIENTS", 200) as usize;
    let seconds = env_or("PANELKEEPER_BENCH_SECONDS", 30);
    let url = cluster.database("server");
    let panel = Panel::open(url.as_str()).await.unwrap();
    demo::generate(&panel, participants as u32, 1)
        .await
        .unwrap();
    let password = "a long enough password";
    for n in 0..clients {
        let email = format!("load{n}@company.example.com");
        panelkeeper::sessions::staff::add(
            &panel,
            &panelkeeper::sessions::staff::StaffInput {
                name: format!("Load {n}"),
                email: email.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        panelkeeper::accounts::set_password(&panel, &email, password)
            .await
            .unwrap();
    }
    // The demo's issues shared among the signed-in staff.
    psql(
        &url,
        &format!(
            "WITH s AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM staff \
             WHERE email LIKE 'load%') UPDATE issues i SET owner = s.id FROM s \
             WHERE i.id % {clients} = s.n"
        ),
    );
    // The demo's overdue issues escalated once, as a server that has run a
    // while has done (its first tick would do it), and the database settled.
    panelkeeper::issues::tick(&panel, panel.now())
        .await
        .unwrap();
    psql(&url, "VACUUM (ANALYZE)");
    psql(&url, "CHECKPOINT");
    let issues: i64 = count(
        &panelkeeper::db::Location::parse(&url),
        "SELECT count(*) FROM issues",
    )
    .await;

    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server::serve(
        panel.clone(),
        Listening::Plain(tcp),
        Options {
            ui: None,
            secure: false,
        },
        async move {
            let _ = stopped.await;
        },
    ));

    let mut signed = Vec::new();
    for n in 0..clients {
        let body = serde_json::json!({
            "email": format!("load{n}@company.example.com"),
            "password": password,
        })
        .to_string();
        let reply = http::request(addr, "POST", "/api/sign-in", &[], Some(&body)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let cookie = reply.header("set-cookie").unwrap();
        let cookie = cookie.split(';').next().unwrap().to_string();
        signed.push((cookie, reply.json()["csrf"].as_str().unwrap().to_string()));
    }

    // Each client is one person: at a person's pace (a request about every
    // PANELKEEPER_BENCH_PAUSE_MS, 1,000 by default, spread so that the
    // clients do not ask in step), or flat out, each asking again as soon
    // as it has its answer (the server's capacity, not people).
    let pause = Duration::from_millis(env_or("PANELKEEPER_BENCH_PAUSE_MS", 1000));
    let run = |health: bool, pause: Duration| {
        let signed = signed.clone();
        async move {
            let (began, wall) = (Instant::now(), std::time::SystemTime::now());
            let until = began + Duration::from_secs(seconds);
            let tasks: Vec<_> = signed
                .into_iter()
                .enumerate()
                .map(|(client, (cookie, csrf))| {
                    tokio::spawn(async move {
                        let (mut times, mut writes, mut errors, mut mine) =
                            (Vec::new(), Vec::new(), 0u32, Vec::<i64>::new());
                        let mut timeline = Vec::new();
                        let mut n = 0u64;
                        // Between half and one and a half pauses, varying.
                        let spread = |n: u64| {
                            pause.mul_f64(
                                0.5 + ((n * 7919 + client as u64 * 104_729) % 1000) as f64 / 1000.0,
                            )
                        };
                        tokio::time::sleep(spread(0)).await;
                        // One connection kept open, as a browser keeps one.
                        let mut connection = http::Connection::open(addr).await;
                        while Instant::now() < until {
                            n += 1;
                            let started = Instant::now();
                            let headers =
                                [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
                            // Every fifth request a contact, each client
                            // at its own point of the five: people do not
                            // all log a call at the same moment.
                            let write = !health
                                && (n + client as u64).is_multiple_of(5)
                                && !mine.is_empty();
                            let reply = if health {
                                connection.send("GET", "/healthz", &[], None).await
                            } else if write {
                                let id = mine[(n as usize / 5) % mine.len()];
                                let body = serde_json::json!({
                                    "id": id, "via": "phone", "outcome": "Called back",
                                })
                                .to_string();
                                connection
                                    .send("POST", "/api/issue_contact", &headers, Some(&body))
                                    .await
                            } else {
                                let reply = connection
                                    .send("POST", "/api/issues_mine", &headers, Some("{}"))
                                    .await;
                                // The ids of the client's issues, read now and
                                // then: parsing every answer whole would spend
                                // on the client the cores the server is measured on.
                                if reply.status == 200 && (mine.is_empty() || n % 50 == 1) {
                                    mine = reply
                                        .json()
                                        .as_array()
                                        .unwrap()
                                        .iter()
                                        .filter_map(|i| i["id"].as_i64())
                                        .collect();
                                }
                                reply
                            };
                            let took = started.elapsed();
                            if write {
                                writes.push(took);
                            }
                            times.push(took);
                            timeline.push((started - began, took, write));
                            if reply.status != 200 {
                                errors += 1;
                            }
                            if !pause.is_zero() {
                                tokio::time::sleep(spread(n)).await;
                            }
                        }
                        (times, writes, errors, timeline)
                    })
                })
                .collect();
            let (mut times, mut writes, mut errors) = (Vec::new(), Vec::new(), 0);
            let mut timeline = Vec::new();
            for task in tasks {
                let (t, w, e, l) = task.await.unwrap();
                times.extend(t);
                writes.extend(w);
                errors += e;
                timeline.extend(l);
            }
            timeline.sort();
            (times, writes, errors, (wall, timeline))
        }
    };
    let mut rows = Vec::new();
    for (pace, pause) in [
        (
            format!("a request about every {} ms each", pause.as_millis()),
            pause,
        ),
        (
            "flat out: each asks again at once".to_string(),
            Duration::ZERO,
        ),
    ] {
        eprintln!("server load, {pace}: /healthz");
        let (bare, _, bare_errors, _) = run(true, pause).await;
        eprintln!("server load, {pace}: My follow-ups");
        let (ours, writes, our_errors, timeline) = run(false, pause).await;
        if let Ok(path) = std::env::var("PANELKEEPER_BENCH_TIMELINE") {
            write_timeline(&path, &pace, timeline.0, &timeline.1);
        }
        rows.push((pace.clone(), "`/healthz` (`SELECT 1`)", bare, bare_errors));
        rows.push((
            pace.clone(),
            "*My follow-ups*, and a contact logged every fifth request",
            ours,
            our_errors,
        ));
        rows.push((
            pace,
            "of which the contacts logged (each a commit)",
            writes,
            0,
        ));
    }
    let _ = stop.send(());
    let _ = serving.await;

    println!(
        "| team server, {clients} signed-in staff at once for {seconds} s each, {issues} issues \
         (whole server, client's side) | pace | requests | errors | median | p99 |"
    );
    println!("|---|---|---|---|---|---|");
    for (pace, what, times, errors) in rows {
        println!(
            "| {what} | {pace} | {} | {errors} | {} | {} |",
            times.len(),
            ms(median(times.clone())),
            ms(percentile(times, 0.99)),
        );
    }
    println!("\n(target: p99 <= 100 ms, 0 errors)\n");
}

/// Appends each request of a run to the file at `path`, in the order they
/// began: the pace, when it began (seconds since 1970, the run's start
/// `wall` and its offset within the run), how long its
/// answer took (ms) and whether it logged a contact. Where a run's slow
/// answers fall in time, against the database's log, shows what held
/// them up.
fn write_timeline(
    path: &str,
    pace: &str,
    wall: std::time::SystemTime,
    timeline: &[(Duration, Duration, bool)],
) {
    use std::io::Write;
    let wall = wall.duration_since(std::time::UNIX_EPOCH).unwrap();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let mut out = std::io::BufWriter::new(file);
    for (began, took, write) in timeline {
        writeln!(
            out,
            "{pace}\t{:.4}\t{:.4}\t{:.2}\t{write}",
            (wall + *began).as_secs_f64(),
            began.as_secs_f64(),
            took.as_secs_f64() * 1000.0
        )
        .unwrap();
    }
}

/// 1. The import, whole processes.
fn import(cluster: &Cluster, dir: &Path, participants: u64, runs: u64) {
    let csv = dir.join("panel.csv");
    demo::write_csv(
        participants,
        1,
        std::io::BufWriter::new(std::fs::File::create(&csv).unwrap()),
    )
    .unwrap();
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
            &dir.join("data"),
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
}

/// 2 and 3. Eligibility and note search on the demo panel, warm, in-process.
async fn reference(cluster: &Cluster, participants: u64, runs: u64) {
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
    // As autovacuum would within a minute or so, and before anything is timed.
    psql(&url, "VACUUM (ANALYZE)");
    let now = panel.now();
    // The first run of each: the names of the people it lists read from
    // the database (the first of all also builds the panel index); the
    // runs after it name them from the snapshot.
    println!(
        "| eligibility, warm (in-process) | listed | eligible | excluded | median | p90 | first run |"
    );
    println!("|---|---|---|---|---|---|---|");
    // Everyone (what `eligible` prints), and a page (what the app's
    // invitation preview asks for).
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
            for _ in 0..(runs * 4).max(20) {
                let started = Instant::now();
                last = Some(
                    governance::eligible(&panel, screener, now, &options)
                        .await
                        .unwrap(),
                );
                times.push(started.elapsed());
            }
            let r = last.unwrap();
            let first = times[0];
            println!(
                "| {screener} | {listed} | {} | {} | {} | {} | {} |",
                r.eligible.len() as u32 + r.beyond_limit,
                r.excluded_total,
                ms(median(times.clone())),
                ms(percentile(times, 0.9)),
                ms(first)
            );
        }
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

/// 4. The outbox drained by two workers at once, beside the bare lettre loop.
async fn outbox(cluster: &Cluster, dir: &Path, runs: u64) {
    let n = env_or("PANELKEEPER_BENCH_MESSAGES", 1000) as usize;
    let server = smtp::SmtpServer::start(dir, &["--discard"]);
    // One warm-up of each, not counted.
    bench_mail::bare_lettre(server.port, 50).await;
    two_workers(&cluster.database("outbox0"), server.port, 50).await;
    let (mut bare, mut ours) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        bare.push(bench_mail::bare_lettre(server.port, n).await);
        ours.push(two_workers(&cluster.database(&format!("outbox{run}")), server.port, n).await);
    }
    assert_eq!(
        server.discarded(),
        50 * 2 + 2 * n * runs as usize,
        "every message arrived once"
    );
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let (b, o) = (median(bare), median(ours));
    println!("\n| delivery of {n} messages (in-process) | median | messages/s |");
    println!("|---|---|---|");
    println!(
        "| bare lettre loop, one connection, TCP_NODELAY | {} | {:.0} |",
        ms(b),
        rate(b)
    );
    println!(
        "| two outbox workers on one team database | {} | {:.0} |",
        ms(o),
        rate(o)
    );
    println!(
        "\nratio (outbox / bare rate): {:.2} (target >= 0.80)",
        rate(o) / rate(b)
    );
}

/// `n` invitations queued in a new team database, then delivered by two
/// (PANELKEEPER_BENCH_WORKERS) workers at once (each its own panel handle and connections, as two
/// machines' `outbox send` would be); the time until both are done.
async fn two_workers(url: &str, port: u16, n: usize) -> Duration {
    let mut panels = Vec::new();
    for _ in 0..env_or("PANELKEEPER_BENCH_WORKERS", 2) {
        panels.push(Panel::open(url).await.unwrap());
    }
    panelkeeper::mail::settings::set(&panels[0], smtp::local_smtp(port))
        .await
        .unwrap();
    let now = panels[0].now();
    let messages: Vec<_> = (0..n).map(|i| bench_mail::queued(i, now)).collect();
    let mut tx = panels[0].begin().await.unwrap();
    panelkeeper::mail::enqueue_many(&mut tx, now, &messages)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let started = Instant::now();
    let workers: Vec<_> = panels
        .iter()
        .cloned()
        .map(|panel| {
            tokio::spawn(async move {
                let mut sent = 0;
                loop {
                    let report = panelkeeper::mail::worker::send_due(&panel).await.unwrap();
                    assert_eq!(report.problem, None, "{report:?}");
                    sent += report.sent as usize;
                    if report.next_due.is_none() {
                        return sent;
                    }
                }
            })
        })
        .collect();
    let mut sent = 0;
    for w in workers {
        sent += w.await.unwrap();
    }
    let took = started.elapsed();
    assert_eq!(sent, n);
    for panel in panels {
        panel.close().await;
    }
    took
}

/// 5. A panel file moved into a team database: the whole `migrate --to`
/// process, then the two compared.
async fn migrate(cluster: &Cluster, dir: &Path, participants: u64) {
    use panelkeeper::clock::ManualClock;
    use std::sync::Arc;

    let file = dir.join("solo.db");
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let solo = Panel::open(file.as_path())
        .await
        .unwrap()
        .with_clock(clock.clone());
    demo::generate(&solo, participants as u32, 1).await.unwrap();
    let url = cluster.database("moved");
    let bin = release_or_debug();
    let started = Instant::now();
    ran(Command::new(&bin)
        .arg("--db")
        .arg(&file)
        .args(["migrate", "--to", &url]));
    let took = started.elapsed();
    let team = Panel::open(url.as_str())
        .await
        .unwrap()
        .with_clock(clock.clone());

    // Every table's count.
    let tables: Vec<(String,)> = {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query_as(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE' \
             AND table_name NOT LIKE '\\_sqlx%' ORDER BY 1",
        )
        .fetch_all(&mut c)
        .await
        .unwrap()
    };
    let (mut compared, mut rows) = (0, 0i64);
    for (table,) in &tables {
        let sql = format!("SELECT count(*) FROM {table}");
        let theirs = count(&panelkeeper::db::Location::File(file.clone()), &sql).await;
        let ours = count(&panelkeeper::db::Location::Postgres(url.clone()), &sql).await;
        // Per-computer settings (who uses this computer, the file's own
        // folding) stay with the file.
        if table != "settings" {
            assert_eq!(theirs, ours, "rows in {table}");
            compared += 1;
            rows += ours;
        }
    }

    // Records field by field, the follow-up figures, a note search.
    let today = clock_today(&solo);
    let sampled = moved::same(&solo, &team, 199, today).await;
    // And the follow-up report's text.
    let from = today - chrono::Duration::days(365);
    let text = |pdf: Vec<u8>| {
        let path = dir.join("follow-up.pdf");
        std::fs::write(&path, pdf).unwrap();
        String::from_utf8(ran(Command::new("pdftotext").arg(&path).arg("-")).stdout).unwrap()
    };
    let (ra, rb) = (
        panelkeeper::reports::follow_ups(&solo, from, today, &|_| {})
            .await
            .unwrap(),
        panelkeeper::reports::follow_ups(&team, from, today, &|_| {})
            .await
            .unwrap(),
    );
    assert_eq!(ra.pages, rb.pages);
    let (ta, tb) = (text(ra.pdf), text(rb.pdf));
    assert!(ta.len() > 1000);
    assert_eq!(ta, tb, "the follow-up report reads the same");

    println!(
        "\n| `migrate --to` of the {participants}-person demo panel (whole process) | time | checked |"
    );
    println!("|---|---|---|");
    println!(
        "| panel file into an empty team database | {} | {compared} tables ({rows} rows) equal in count, \
         {sampled} records and note lists equal field by field, the follow-up report ({} pages) the same |",
        ms(took),
        ra.pages
    );
    solo.close().await;
    team.close().await;
}

fn clock_today(panel: &Panel) -> chrono::NaiveDate {
    panel.now().date_naive()
}

/// `count(*)` read from either store.
async fn count(location: &panelkeeper::db::Location, sql: &str) -> i64 {
    use sqlx::Connection;
    match location {
        panelkeeper::db::Location::File(path) => {
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
        panelkeeper::db::Location::Postgres(url) => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
    }
}
