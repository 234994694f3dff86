//! What a user waits for at the command line: the whole `panelkeeper`
//! process, started cold (no panel index in memory, a new process each
//! time), beside the same work written by hand for Debian's `sqlite3` on
//! the same database file. The two alternate, run by run, so the shared
//! machine's load falls on both; each row gives the medians, their ratio
//! (ours / by hand: below 1 is faster) and the peak memory of each process.
//!
//! `cargo bench --bench cold` builds the demo panel of
//! PANELKEEPER_BENCH_PARTICIPANTS people (100,000; 1,000,000 for the scale
//! figures) with the CLI's own `demo`, timing that too, then measures each
//! operation PANELKEEPER_BENCH_RUNS times (5). The panel is kept in
//! PANELKEEPER_BENCH_DIR (a temporary folder) and reused when it is there;
//! PANELKEEPER_BENCH_ONLY=eligible (any part of a row's name) runs only
//! the rows that name it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// One process run: how long it took, start to exit, and its peak memory
/// in MB (from GNU time's maximum resident set size).
fn run(program: &Path, args: &[String], stdin: Option<&str>) -> (Duration, f64) {
    let report = tempfile::NamedTempFile::new().unwrap();
    let mut command = Command::new("/usr/bin/time");
    command
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(report.path())
        .arg(program)
        .args(args)
        .env(
            "PANELKEEPER_LOG_DIR",
            std::env::temp_dir().join("panelkeeper-bench-logs"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if stdin.is_some() {
        command.stdin(Stdio::piped());
    }
    let started = Instant::now();
    let mut child = command
        .spawn()
        .expect("/usr/bin/time (Debian package time) is installed by scripts/setup");
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let kb: f64 = std::fs::read_to_string(report.path())
        .unwrap()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0.0);
    (took, kb / 1024.0)
}

/// Does `op` (a copy, a move) to the panel file `from` and to each of its
/// companions that exists (WAL, shared memory, key), in place of any at
/// `to`.
fn panel_files(from: &Path, to: &Path, op: impl Fn(&Path, &Path) -> std::io::Result<()>) {
    for suffix in ["", "-wal", "-shm", ".key"] {
        let from = PathBuf::from(format!("{}{suffix}", from.display()));
        let to = PathBuf::from(format!("{}{suffix}", to.display()));
        let _ = std::fs::remove_file(&to);
        if from.exists() {
            op(&from, &to).unwrap();
        }
    }
}

/// The one value `sql` gives on `db`, read by Debian's `sqlite3`.
fn sqlite3_value(db: &Path, sql: &str) -> i64 {
    let out = Command::new("/usr/bin/sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .expect("sqlite3 is installed by scripts/setup");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{sql} on {}: {:?}", db.display(), out))
}

struct Row {
    what: String,
    ours: Duration,
    by_hand: Duration,
    ours_mb: f64,
    by_hand_mb: f64,
}

fn ms(d: Duration) -> String {
    if d >= Duration::from_secs(10) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{:.0} ms", d.as_secs_f64() * 1e3)
    }
}

/// Alternates our command and the hand-written SQL `runs` times (only the
/// operations whose name holds PANELKEEPER_BENCH_ONLY, when it is set).
fn compare(
    what: &str,
    ours: &[String],
    sql: &str,
    db: &Path,
    runs: u64,
    fresh: impl Fn(u64) -> Option<(Vec<String>, PathBuf)>,
) -> Option<Row> {
    if let Ok(only) = std::env::var("PANELKEEPER_BENCH_ONLY")
        && !what.contains(&only)
    {
        return None;
    }
    let cli = PathBuf::from(env!("CARGO_BIN_EXE_panelkeeper"));
    let sqlite3 = PathBuf::from("/usr/bin/sqlite3");
    let (mut a, mut b, mut am, mut bm) = (Vec::new(), Vec::new(), 0f64, 0f64);
    for k in 0..runs {
        let (args, by_hand_db) = match fresh(k) {
            Some((args, db)) => (args, db),
            None => (ours.to_vec(), db.to_path_buf()),
        };
        let (t, m) = run(&cli, &args, None);
        a.push(t);
        am = am.max(m);
        let (t, m) = run(&sqlite3, &[by_hand_db.display().to_string()], Some(sql));
        b.push(t);
        bm = bm.max(m);
    }
    let row = Row {
        what: what.to_string(),
        ours: median(a),
        by_hand: median(b),
        ours_mb: am,
        by_hand_mb: bm,
    };
    println!(
        "| {} | {} | {} | {:.2} | {:.0} MB | {:.0} MB |",
        row.what,
        ms(row.ours),
        ms(row.by_hand),
        row.ours.as_secs_f64() / row.by_hand.as_secs_f64(),
        row.ours_mb,
        row.by_hand_mb
    );
    Some(row)
}

fn main() {
    let n = env_or("PANELKEEPER_BENCH_PARTICIPANTS", 100_000);
    let runs = env_or("PANELKEEPER_BENCH_RUNS", 5);
    let dir = std::env::var_os("PANELKEEPER_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("panelkeeper-bench-cold"));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join(format!("demo-{n}.db"));
    let csv = dir.join(format!("demo-{n}.csv"));
    let cli = PathBuf::from(env!("CARGO_BIN_EXE_panelkeeper"));
    let s = |v: &[&str]| -> Vec<String> { v.iter().map(|x| x.to_string()).collect() };
    let with_db = |db: &Path, v: &[&str]| -> Vec<String> {
        let mut args = vec!["--db".to_string(), db.display().to_string()];
        args.extend(s(v));
        args
    };

    println!(
        "# The whole CLI process, cold, beside sqlite3 by hand: {n} participants, {runs} runs each\n"
    );
    if !db.exists() {
        let (took, mb) = run(
            &cli,
            &with_db(
                &db,
                &["demo", "--participants", &n.to_string(), "--seed", "1"],
            ),
            None,
        );
        println!(
            "demo panel generated (the CLI's `demo`, whole process): {} , peak {mb:.0} MB\n",
            ms(took)
        );
    } else {
        println!("demo panel reused from {}\n", db.display());
    }
    if !csv.exists() {
        run(
            &cli,
            &s(&[
                "demo",
                "--participants",
                &n.to_string(),
                "--seed",
                "1",
                "--csv",
                &csv.display().to_string(),
            ]),
            None,
        );
    }
    // A panel made by an older build is brought up to date (its migrations
    // run) before anything is timed.
    run(
        &cli,
        &with_db(&db, &["participants", "list", "--limit", "1"]),
        None,
    );
    let now: i64 = chrono::Utc::now().timestamp_millis();
    let year_ago = now - 365 * 86_400_000;
    let cooldown = now - 90 * 86_400_000;

    println!("| operation | ours | by hand in sqlite3 | ratio | ours, peak | sqlite3, peak |");
    println!("|---|---|---|---|---|---|");
    // Eligibility with the contact rules, every qualified person with the
    // reasons they are excluded (as `eligible` prints them).
    let eligibility = format!(
        "WITH q AS (SELECT id, name, email, opted_out_at, do_not_contact, email_hash FROM participants \
           WHERE erased_at IS NULL AND json_extract(attributes, '$.region') = 'EU' \
           AND json_extract(attributes, '$.age_band') IN ('25-34', '35-44') \
           AND coalesce(json_extract(attributes, '$.customer'), '') != 'yes'), \
         h AS (SELECT participant_id AS id, \
             max(CASE WHEN kind IN ('invited', 'attended', 'late', 'no_show') THEN at END) AS last, \
             sum(kind IN ('attended', 'late') AND at > {year_ago}) AS sessions, \
             sum(kind = 'no_show') AS no_shows \
           FROM contact_history WHERE at <= {now} GROUP BY participant_id), \
         b AS (SELECT r.participant AS id, count(*) AS n, max(s.starts_at) AS latest \
           FROM session_participants r JOIN sessions s ON s.id = r.session \
           WHERE s.status = 'scheduled' AND r.attendance IS NULL \
           AND r.rsvp IN ('invited', 'confirmed', 'tentative', 'waitlisted') \
           AND r.invited_at <= {now} AND s.starts_at > {now} GROUP BY r.participant) \
         SELECT q.id, q.name, q.email, \
           (q.opted_out_at IS NOT NULL) || (q.do_not_contact = 1) || \
           (EXISTS (SELECT 1 FROM suppressions x WHERE x.hash = q.email_hash)) || \
           (b.n IS NOT NULL OR coalesce(h.last, 0) > {cooldown}) || \
           (coalesce(h.sessions, 0) + coalesce(b.n, 0) >= 4) || (coalesce(h.no_shows, 0) >= 2) \
         FROM q LEFT JOIN h ON h.id = q.id LEFT JOIN b ON b.id = q.id \
         ORDER BY coalesce(h.last, -9e18), q.id;"
    );
    compare(
        "`eligible --screener eu-25-44-non-customers`",
        &with_db(&db, &["eligible", "--screener", "eu-25-44-non-customers"]),
        &eligibility,
        &db,
        runs,
        |_| None,
    );
    compare(
        "`participants list --search zzqx` (no match)",
        &with_db(&db, &["participants", "list", "--search", "zzqx"]),
        "SELECT id, name, email FROM participants WHERE erased_at IS NULL AND search_text LIKE '%zzqx%' \
         ORDER BY sort_name, id LIMIT 50; \
         SELECT count(*) FROM participants WHERE erased_at IS NULL AND search_text LIKE '%zzqx%';",
        &db,
        runs,
        |_| None,
    );
    compare(
        "`participants list --search ander` (middle of names)",
        &with_db(&db, &["participants", "list", "--search", "ander"]),
        "SELECT id, name, email FROM participants WHERE erased_at IS NULL AND search_text LIKE '%ander%' \
         ORDER BY sort_name, id LIMIT 50; \
         SELECT count(*) FROM participants WHERE erased_at IS NULL AND search_text LIKE '%ander%';",
        &db,
        runs,
        |_| None,
    );
    compare(
        "`participants list --search horvat.12` (a few)",
        &with_db(&db, &["participants", "list", "--search", "horvat.12"]),
        "SELECT id, name, email FROM participants WHERE erased_at IS NULL AND search_text LIKE '%horvat.12%' \
         ORDER BY sort_name, id LIMIT 50; \
         SELECT count(*) FROM participants WHERE erased_at IS NULL AND search_text LIKE '%horvat.12%';",
        &db,
        runs,
        |_| None,
    );
    compare(
        "`participants list --search zq` (two letters, no match)",
        &with_db(&db, &["participants", "list", "--search", "zq"]),
        "SELECT id, name, email FROM participants WHERE erased_at IS NULL AND search_text LIKE '%zq%' \
         ORDER BY sort_name, id LIMIT 50; \
         SELECT count(*) FROM participants WHERE erased_at IS NULL AND search_text LIKE '%zq%';",
        &db,
        runs,
        |_| None,
    );
    compare(
        "`participants list --search z` (one letter, first found far down the names)",
        &with_db(&db, &["participants", "list", "--search", "z"]),
        "SELECT id, name, email FROM participants WHERE erased_at IS NULL AND search_text LIKE '%z%' \
         ORDER BY sort_name, id LIMIT 50; \
         SELECT count(*) FROM (SELECT 1 FROM participants WHERE erased_at IS NULL AND search_text LIKE '%z%' LIMIT 1001);",
        &db,
        runs,
        |_| None,
    );
    compare(
        "`participants list --limit 20` (first page)",
        &with_db(&db, &["participants", "list", "--limit", "20"]),
        "SELECT id, name, email FROM participants WHERE erased_at IS NULL ORDER BY sort_name, id LIMIT 20; \
         SELECT count(*) FROM participants WHERE erased_at IS NULL;",
        &db,
        runs,
        |_| None,
    );
    compare(
        "`sessions list --all`",
        &with_db(&db, &["sessions", "list", "--all"]),
        "SELECT s.id, s.title, s.starts_at, \
           (SELECT count(*) FROM session_participants r WHERE r.session = s.id AND r.rsvp = 'confirmed'), \
           (SELECT count(*) FROM session_participants r WHERE r.session = s.id) \
         FROM sessions s ORDER BY s.starts_at;",
        &db,
        runs,
        |_| None,
    );
    compare(
        "`issues list --overdue`",
        &with_db(&db, &["issues", "list", "--overdue"]),
        &format!(
            "SELECT i.id, i.summary, p.name, o.name FROM issues i JOIN participants p ON p.id = i.participant \
             LEFT JOIN staff o ON o.id = i.owner WHERE i.status IN ('open', 'contacted') \
             AND ((i.status = 'open' AND i.first_contact_due < {now}) OR i.resolution_due < {now}) \
             ORDER BY CASE WHEN i.status = 'open' THEN i.first_contact_due ELSE i.resolution_due END, i.id \
             LIMIT 200;"
        ),
        &db,
        runs,
        |_| None,
    );
    compare(
        "`outbox list`",
        &with_db(&db, &["outbox", "list"]),
        "SELECT id, kind, recipient, subject, status FROM outbox \
         ORDER BY status != 'queued', next_attempt_at, id LIMIT 100;",
        &db,
        runs,
        |_| None,
    );
    compare(
        "`notes search refund`",
        &with_db(&db, &["notes", "search", "refund"]),
        "SELECT n.id, n.text FROM notes_fts f JOIN notes n ON n.id = f.rowid \
         WHERE notes_fts MATCH '\"refund\"*' ORDER BY f.rowid DESC LIMIT 50;",
        &db,
        runs,
        |_| None,
    );
    // The first tick over a backlog: sixty days on, every open issue is
    // overdue. Each run starts from its own copy of the panel; by hand, the
    // same rows are written with the messages' text made in SQL.
    let later = chrono::Utc::now() + chrono::Duration::days(60);
    let at = later.timestamp_millis();
    let copy_of = |db: &Path, name: String| {
        let to = dir.join(name);
        panel_files(db, &to, |a, b| std::fs::copy(a, b).map(drop));
        to
    };
    let by_hand_tick = format!(
        "BEGIN; \
             CREATE TEMP TABLE due AS SELECT i.id, o.lead, s.moderator, i.summary, p.name AS who, \
               CASE WHEN i.status = 'open' THEN i.first_contact_due ELSE i.resolution_due END AS due \
             FROM issues i JOIN sessions s ON s.id = i.session JOIN participants p ON p.id = i.participant \
             LEFT JOIN staff o ON o.id = i.owner WHERE i.status IN ('open', 'contacted') \
             AND ((i.status = 'open' AND i.first_contact_due <= {at}) OR i.resolution_due <= {at}) \
             AND (i.last_escalated_at IS NULL OR i.last_escalated_at <= {at} - 86400000); \
             UPDATE issues SET escalations = escalations + 1, last_escalated_at = {at}, updated_at = {at} \
               WHERE id IN (SELECT id FROM due); \
             INSERT INTO outbox (kind, recipient, recipient_name, subject, body_text, body_html, \
               message_id, not_before, next_attempt_at, created_at, updated_at, topic) \
             SELECT 'escalation', st.email, st.name, 'Overdue: ' || d.summary, \
               'Hello ' || st.name || ',' || char(10) || d.who || ' is still waiting: ' || d.summary, \
               '<p>Hello ' || st.name || ',</p><p>' || d.who || ' is still waiting: ' || d.summary || '</p>', \
               '<' || d.id || '.' || st.id || '.' || hex(randomblob(12)) || '@bench.invalid>', \
               {at}, {at}, {at}, {at}, 'issue/' || d.id || '/escalation/' || d.due || '/1/' || st.id \
             FROM due d JOIN staff st ON st.id IN (d.lead, d.moderator); \
             INSERT INTO issue_events (issue, at, kind, detail) \
               SELECT id, {at}, 'escalated', '{{}}' FROM due; \
             COMMIT;"
    );
    let tick_on = |base: PathBuf, name: &'static str| {
        let later = later.to_rfc3339();
        move |k: u64| {
            let ours = copy_of(&base, format!("{name}-{k}.db"));
            let theirs = copy_of(&base, format!("{name}-sqlite3-{k}.db"));
            // The copies reach the disk before either process is timed.
            Command::new("sync").status().expect("sync runs");
            Some((
                vec![
                    "--db".to_string(),
                    ours.display().to_string(),
                    "--now".into(),
                    later.clone(),
                    "tick".into(),
                ],
                theirs,
            ))
        }
    };
    compare(
        "`tick` over a backlog (every open issue overdue)",
        &[],
        &by_hand_tick,
        &db,
        runs,
        tick_on(db.clone(), "tick"),
    );
    // The goal's own size: 60,000 issues overdue at once. The demo panel
    // has about 30,000 open at 1M; on a copy, closed issues are opened
    // again (their contact, resolution and escalations cleared), oldest
    // first, until 60,000 are open. Smaller panels have too few issues.
    let could_be_open: i64 = sqlite3_value(
        &db,
        "SELECT count(*) FROM issues WHERE status IN ('open', 'contacted', 'closed');",
    );
    if could_be_open >= 60_000 {
        let sixty = dir.join(format!("tick-60000-{n}.db"));
        let older = |a: &Path, b: &Path| {
            let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
            modified(a) < modified(b)
        };
        if !sixty.exists() || older(&sixty, &db) {
            let made = copy_of(&db, format!("tick-60000-{n}-making.db"));
            run(
                &PathBuf::from("/usr/bin/sqlite3"),
                &[made.display().to_string()],
                Some(
                    "UPDATE issues SET status = 'open', first_contact_at = NULL, resolved_at = NULL, \
                       resolution = NULL, waiting_since = NULL, escalations = 0, last_escalated_at = NULL \
                     WHERE id IN (SELECT id FROM issues WHERE status = 'closed' ORDER BY id \
                       LIMIT 60000 - (SELECT count(*) FROM issues WHERE status IN ('open', 'contacted'))); \
                     PRAGMA wal_checkpoint(TRUNCATE);",
                ),
            );
            panel_files(&made, &sixty, |a, b| std::fs::rename(a, b));
        }
        let overdue: i64 = sqlite3_value(
            &sixty,
            &format!(
                "SELECT count(*) FROM issues WHERE status IN ('open', 'contacted') \
                 AND waiting_since IS NULL \
                 AND ((status = 'open' AND first_contact_due <= {at}) OR resolution_due <= {at});"
            ),
        );
        assert_eq!(overdue, 60_000, "overdue issues on {}", sixty.display());
        compare(
            "`tick` over 60,000 overdue issues",
            &[],
            &by_hand_tick,
            &sixty,
            runs,
            tick_on(sixty.clone(), "tick-60000"),
        );
    }
    // The import of the demo CSV into a fresh database each run, the WAL
    // copied into the database file included (the process ends after it).
    let fresh = |k: u64| {
        let ours = dir.join(format!("import-{k}.db"));
        let theirs = dir.join(format!("import-sqlite3-{k}.db"));
        for f in [&ours, &theirs] {
            for suffix in ["", "-wal", "-shm", ".key"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", f.display()));
            }
        }
        Some((
            vec![
                "--db".to_string(),
                ours.display().to_string(),
                "participants".into(),
                "import".into(),
                csv.display().to_string(),
            ],
            theirs,
        ))
    };
    compare(
        "`participants import` of the demo CSV (a new panel; `.import` into a plain table)",
        &[],
        &format!(".mode csv\n.import {} people\n", csv.display()),
        &db,
        runs,
        fresh,
    );
    // The same file by hand into what the panel keeps for a search: the
    // people, their folded text, the unique email, the name order and the
    // trigram index, in one transaction (no checks, no attributes).
    compare(
        "`participants import` of the demo CSV (by hand: the same table, indexes and search index)",
        &[],
        &format!(
            ".mode csv\n.import {} people\n\
             BEGIN;\n\
             CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, email_norm TEXT, \
               phone TEXT, time_zone TEXT, search_text TEXT NOT NULL, sort_name TEXT NOT NULL);\n\
             INSERT INTO p (name, email, email_norm, phone, time_zone, search_text, sort_name) \
               SELECT \"First name\" || ' ' || \"Last name\", Email, lower(Email), Phone, \"Time zone\", \
                 lower(\"First name\" || ' ' || \"Last name\" || ' ' || Email || ' ' || Phone), \
                 lower(\"First name\" || ' ' || \"Last name\") FROM people;\n\
             CREATE UNIQUE INDEX p_email ON p (email_norm);\n\
             CREATE INDEX p_sort ON p (sort_name, id, search_text);\n\
             CREATE VIRTUAL TABLE s USING fts5(search_text, content = 'p', content_rowid = 'id', \
               tokenize = 'trigram case_sensitive 1', detail = 'none', columnsize = 0);\n\
             INSERT INTO s (rowid, search_text) SELECT id, search_text FROM p;\n\
             COMMIT;\n",
            csv.display()
        ),
        &db,
        runs,
        fresh,
    );
}
