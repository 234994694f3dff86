//! The `panelkeeper` command line, run as a user would run it, on real
//! SQLite files: exit codes, messages and `--json` output.

mod common;

use common::cli::{Cli, path};
use serde_json::Value;

#[test]
fn import_with_a_bad_row_imports_the_rest_and_exits_non_zero_naming_the_line() {
    let cli = Cli::new();
    let file = common::corpus("one_bad_row.csv");
    let out = cli.run(&["participants", "import", path(&file)]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("3 rows: 2 created, 0 updated, 0 unchanged, 1 rejected"),
        "{stdout}"
    );
    assert!(
        stderr.contains("rejected line 3, column Email: \"grace-at-example.com\" has no @"),
        "{stderr}"
    );
    let list = cli.json(&["participants", "list", "--json"]);
    assert_eq!(list["total"], 2);

    let again = cli.run(&["participants", "import", "--json", path(&file)]);
    let report: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        (report["created"].as_u64(), report["unchanged"].as_u64()),
        (Some(0), Some(2))
    );
}

#[test]
fn a_file_error_exits_1_and_says_what_is_wrong() {
    let cli = Cli::new();
    let out = cli.run(&[
        "participants",
        "import",
        path(&common::corpus("header_only.csv")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has a header line but no participant rows")
    );
    let out = cli.run(&["participants", "import", "/nonexistent/file.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/file.csv"));
}

#[test]
fn add_edit_show_opt_out_and_erase() {
    let cli = Cli::new();
    let id = cli.ok(&[
        "participants",
        "add",
        "--name",
        "Zoë Müller",
        "--email",
        "zoe@example.com",
        "--tz",
        "Europe/Berlin",
        "--set",
        "region=EU",
        "--tag",
        "vip",
    ]);
    let id = id.trim();
    assert_eq!(id, "1");
    cli.ok(&[
        "participants",
        "edit",
        "zoe@example.com",
        "--phone",
        "+49 30 1234567",
        "--set",
        "age_band=25-34",
    ]);
    let shown = cli.json(&["participants", "show", id, "--json"]);
    assert_eq!(shown["participant"]["phone"], "+49 30 1234567");
    assert_eq!(shown["participant"]["attributes"]["age_band"], "25-34");
    assert_eq!(shown["governance"]["eligible"], true);

    let bad = cli.run(&["participants", "edit", id, "--tz", "Mars/Base"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("time zone \"Mars/Base\" is not valid"));

    cli.ok(&["participants", "opt-out", id]);
    let shown = cli.ok(&["participants", "show", id]);
    assert!(
        shown.contains("governance: excluded now") && shown.contains("opted out on"),
        "{shown}"
    );

    let refused = cli.run(&["participants", "erase", id]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    assert_eq!(
        cli.json(&["participants", "show", id, "--json"])["participant"]["name"],
        "Zoë Müller"
    );
    cli.ok(&["participants", "erase", id, "--yes", "--reason", "asked"]);
    let data = cli.ok(&["participants", "privacy-export", id]);
    assert!(
        !data.contains("Zoë") && data.contains("\"reason\": \"asked\""),
        "{data}"
    );
}

#[test]
fn screeners_eligibility_suppression_and_export() {
    let cli = Cli::new();
    cli.ok(&[
        "participants",
        "import",
        path(&common::corpus("bom_crlf_comma.csv")),
    ]);
    cli.ok(&[
        "screener",
        "create",
        "eu-adults",
        "--qualify",
        "region=EU",
        "--qualify",
        "age_band in 25-34,35-44",
        "--disqualify",
        "customer=yes",
        "--quota",
        "age_band:4",
    ]);
    let shown = cli.ok(&["screener", "show", "eu-adults"]);
    assert!(
        shown.contains("qualify: age_band in 25-34,35-44")
            && shown.contains("at most 4 per age_band"),
        "{shown}"
    );
    let bad = cli.run(&[
        "screener",
        "create",
        "x",
        "--qualify",
        "income between 9..1",
    ]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("lower bound above its upper bound"));

    let suppress = cli.dir.path().join("crm.txt");
    std::fs::write(&suppress, "Lukasz@Example.pl\nnot an email\n").unwrap();
    let out = cli.run(&["suppress", "import", path(&suppress), "--list", "crm"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));

    let r = cli.json(&["eligible", "--screener", "eu-adults", "--json"]);
    let eligible: Vec<&str> = r["eligible"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["email"].as_str().unwrap())
        .collect();
    assert_eq!(eligible, vec!["zoe.mueller@example.com"]);
    assert_eq!(r["excluded"][0]["reasons"][0]["rule"], "suppressed");
    assert_eq!(r["notQualified"], 1);
    let text = cli.ok(&["eligible", "--screener", "eu-adults"]);
    assert!(text.contains("on suppression list crm"), "{text}");

    let out = cli.dir.path().join("export.csv");
    cli.ok(&["participants", "export", path(&out), "--attr", "region=EU"]);
    let csv = std::fs::read_to_string(&out).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.starts_with("id,name,email,"));
}

#[test]
fn rules_consent_and_history() {
    let cli = Cli::new();
    cli.ok(&[
        "participants",
        "add",
        "--name",
        "Ann",
        "--email",
        "ann@example.com",
    ]);
    cli.ok(&["rules", "set", "--cooldown-days", "14"]);
    assert_eq!(cli.json(&["rules", "show", "--json"])["cooldownDays"], 14);
    cli.ok(&["participants", "log", "1", "invited", "--at", "2020-01-01"]);
    let bad = cli.run(&["participants", "log", "1", "waved"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("must be one of invited"));
    assert_eq!(
        cli.ok(&["consent", "add", "recording", "--text", "We record audio."])
            .trim(),
        "recording version 1"
    );
    cli.ok(&[
        "consent",
        "accept",
        "ann@example.com",
        "--topic",
        "recording",
    ]);
    let shown = cli.ok(&["participants", "show", "1"]);
    assert!(
        shown.contains("consent: recording version 1") && shown.contains("invited"),
        "{shown}"
    );
}

#[test]
fn demo_writes_a_panel_or_a_csv() {
    let cli = Cli::new();
    let out = cli.ok(&["demo", "--participants", "300", "--seed", "5"]);
    assert!(out.starts_with("300 participants"), "{out}");
    assert_eq!(
        cli.json(&["participants", "list", "--json", "--limit", "1"])["total"],
        300
    );
    // The counts by status, made once at the end of the load, agree with
    // the people each status lists.
    let mut listed = 0;
    for status in ["contactable", "opted-out", "do-not-contact"] {
        let page = cli.json(&[
            "participants",
            "list",
            "--json",
            "--limit",
            "1000",
            "--status",
            status,
        ]);
        let items = page["items"].as_array().unwrap().len();
        assert_eq!(page["total"], items, "{status}");
        listed += items;
    }
    assert!(listed >= 300, "{listed}");
    let screeners = cli.json(&["screener", "list", "--json"]);
    assert_eq!(screeners.as_array().unwrap().len(), 2);
    let csv = cli.dir.path().join("demo.csv");
    cli.ok(&[
        "demo",
        "--participants",
        "100",
        "--seed",
        "5",
        "--csv",
        path(&csv),
    ]);
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 101);
}

#[test]
fn output_piped_into_a_reader_that_stops_early_is_not_an_error() {
    use std::io::Read;
    let cli = Cli::new();
    cli.ok(&["demo", "--participants", "2000", "--seed", "2"]);
    let mut child = cli
        .command(&["participants", "list", "--limit", "1000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The reader is gone now, as `| head -1` would be.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{:?} {stderr}", out.status);
}

fn smtp_set(cli: &Cli, port: u16) {
    cli.ok(&[
        "smtp",
        "set",
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--tls",
        "none",
        "--from",
        "research@panel.example.com",
        "--from-name",
        "Panel Research",
    ]);
}

#[test]
fn smtp_settings_test_mail_and_the_outbox() {
    let cli = Cli::new();
    let server = common::smtp::SmtpServer::start(cli.dir.path(), &["--auth", "mailer:pa55word"]);
    let out = cli.run(&["mail", "test", "me@example.com"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SMTP is not set up"));

    let mut set = cli
        .command(&[
            "smtp",
            "set",
            "--host",
            "127.0.0.1",
            "--port",
            &server.port.to_string(),
        ])
        .args(["--tls", "none", "--user", "mailer", "--password-stdin"])
        .args([
            "--from",
            "research@panel.example.com",
            "--from-name",
            "Panel Research",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    set.stdin.take().unwrap().write_all(b"pa55word\n").unwrap();
    let done = set.wait_with_output().unwrap();
    assert!(done.status.success());
    let shown = cli.ok(&["smtp", "show"]);
    assert!(
        shown.contains("login:    mailer (password saved)"),
        "{shown}"
    );
    assert!(!shown.contains("pa55word"));
    let json = cli.json(&["smtp", "show", "--json"]);
    assert_eq!(json["hasPassword"], true);
    assert!(!json.to_string().contains("pa55word"));

    let out = cli.run(&[
        "smtp",
        "set",
        "--host",
        "smtp example",
        "--port",
        "25",
        "--tls",
        "none",
        "--from",
        "a@example.com",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("host \"smtp example\" is not valid"));
    let out = cli.run(&[
        "smtp",
        "set",
        "--host",
        "h",
        "--port",
        "25",
        "--tls",
        "ssl3",
        "--from",
        "a@example.com",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be none, starttls or tls"));

    assert!(
        cli.ok(&["mail", "test", "me@example.com"])
            .contains("test message 1 queued")
    );
    cli.ok(&["mail", "test", "reject@example.com"]);
    let listed = cli.json(&["outbox", "list", "--json"]);
    assert_eq!(listed["counts"]["waiting"], 2);
    assert_eq!(listed["messages"][0]["status"], "queued");

    let out = cli.run(&["outbox", "send"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a refused message makes the exit code 2"
    );
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        said.contains("sent 1, waiting to retry 0, failed 1"),
        "{said}"
    );
    let delivered = server.delivered();
    assert_eq!(delivered.len(), 1);
    let got = delivered[0].parsed();
    assert_eq!(got.subject(), Some("Panelkeeper test message"));
    assert!(got.body_text(0).unwrap().contains("the SMTP settings work"));

    let failed = cli.json(&["outbox", "list", "--status", "failed", "--json"]);
    assert_eq!(failed["total"], 1);
    assert_eq!(
        failed["messages"][0]["lastError"],
        "the server refused it: 550 5.1.1 No such mailbox here"
    );
    let id = failed["messages"][0]["id"].to_string();
    assert!(cli.ok(&["outbox", "retry", &id]).contains("queued again"));
    assert!(
        cli.ok(&["outbox", "cancel", &id])
            .contains("will not be sent")
    );
    assert!(
        cli.ok(&["outbox", "retry", "--failed"])
            .contains("0 failed messages queued again"),
        "nothing failed is left: it was cancelled"
    );
    let out = cli.run(&["outbox", "cancel", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("message 1 was already sent"));
    assert_eq!(cli.run(&["outbox", "send"]).status.code(), Some(0));
    assert_eq!(server.delivered().len(), 1);
}

#[test]
fn a_worker_killed_in_the_middle_of_the_queue_loses_nothing_and_sends_nothing_twice() {
    let cli = Cli::new();
    // Each message takes the server 40 ms to accept, so the kill lands mid-queue.
    let server = common::smtp::SmtpServer::start(cli.dir.path(), &["--delay-ms", "40"]);
    smtp_set(&cli, server.port);
    let total = 30;
    for i in 0..total {
        cli.ok(&["mail", "test", &format!("p{i}@example.org")]);
    }
    let mut worker = cli
        .command(&["outbox", "send"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while server.delivered().len() < 8 {
        assert!(
            started.elapsed().as_secs() < 60,
            "the worker delivered nothing"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    worker.kill().unwrap(); // SIGKILL: no chance to tidy up
    worker.wait().unwrap();
    let before_restart = server.delivered().len();
    assert!(
        before_restart < total,
        "the worker finished before it was killed"
    );

    // Restarted: the rest go out.
    cli.run(&["outbox", "send"]);
    let messages = cli.json(&["outbox", "list", "--json"])["messages"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(messages.len(), total);
    let delivered_ids = |server: &common::smtp::SmtpServer| -> Vec<String> {
        server
            .delivered()
            .iter()
            .map(|d| format!("<{}>", d.message_id()))
            .collect()
    };
    let ids = delivered_ids(&server);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "a message was delivered twice");

    // At most the one message in the server's hands at the kill is left
    // failed, saying it may have arrived; it is retried only by a person.
    let interrupted: Vec<&Value> = messages
        .iter()
        .filter(|m| m["status"] == "failed")
        .collect();
    assert!(interrupted.len() <= 1, "{interrupted:?}");
    for m in &messages {
        if m["status"] == "failed" {
            assert!(
                m["lastError"].as_str().unwrap().contains("interrupted"),
                "{m}"
            );
        } else {
            assert_eq!(m["status"], "sent", "{m}");
            assert!(
                ids.contains(&m["messageId"].as_str().unwrap().to_string()),
                "{m} was marked sent but never arrived"
            );
        }
    }
    for m in interrupted {
        if !ids.contains(&m["messageId"].as_str().unwrap().to_string()) {
            cli.ok(&["outbox", "retry", &m["id"].to_string()]);
            cli.ok(&["outbox", "send"]);
        }
    }
    // In the end every message has arrived exactly once.
    let mut ids = delivered_ids(&server);
    ids.sort();
    let mut all: Vec<String> = messages
        .iter()
        .map(|m| m["messageId"].as_str().unwrap().to_string())
        .collect();
    all.sort();
    assert_eq!(ids, all);
}

#[test]
fn a_second_worker_on_the_same_panel_is_refused_while_one_runs() {
    let cli = Cli::new();
    let server = common::smtp::SmtpServer::start(cli.dir.path(), &[]);
    smtp_set(&cli, server.port);
    let mut watcher = cli
        .command(&["outbox", "send", "--watch"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    use std::io::BufRead as _;
    std::io::BufReader::new(watcher.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("Ctrl-C stops"), "{line}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = cli.run(&["outbox", "send"]);
    if common::pg::chosen() {
        // A team database's workers deliver side by side (tests/team.rs
        // shows each message still goes once).
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    } else {
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("is delivering this panel's mail"));
    }
    // Mail queued from another process is picked up by the running worker.
    cli.ok(&["mail", "test", "late@example.org"]);
    let started = std::time::Instant::now();
    while server.delivered().is_empty() {
        assert!(
            started.elapsed().as_secs() < 90,
            "the watching worker never sent it"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    watcher.kill().unwrap();
    watcher.wait().unwrap();
}

#[test]
fn staff_sessions_invitations_rsvp_and_attendance() {
    let cli = Cli::new();
    let server = common::smtp::SmtpServer::start(cli.dir.path(), &[]);
    smtp_set(&cli, server.port);
    assert_eq!(
        cli.ok(&[
            "staff",
            "add",
            "--name",
            "Ana Moderator",
            "--email",
            "ana@company.example.com"
        ])
        .trim(),
        "1"
    );
    cli.ok(&[
        "staff",
        "add",
        "--name",
        "Sam Owner",
        "--email",
        "sam@company.example.com",
        "--lead",
        "ana@company.example.com",
    ]);
    let staff = cli.json(&["staff", "list", "--json"]);
    assert_eq!(staff[1]["lead"], 1);
    assert!(cli.ok(&["staff", "me"]).contains("not set"));
    assert!(
        cli.ok(&["staff", "me", "sam@company.example.com"])
            .contains("is now Sam Owner")
    );
    assert_eq!(
        cli.ok(&["staff", "me"]).trim(),
        "Sam Owner <sam@company.example.com>"
    );
    cli.ok(&[
        "participants",
        "add",
        "--name",
        "Jonas Weber",
        "--email",
        "jonas@example.de",
        "--tz",
        "Europe/Berlin",
        "--set",
        "region=EU",
    ]);
    cli.ok(&[
        "participants",
        "add",
        "--name",
        "Opted Out",
        "--email",
        "out@example.com",
        "--set",
        "region=EU",
    ]);
    cli.ok(&["participants", "opt-out", "out@example.com"]);
    cli.ok(&["screener", "create", "eu", "--qualify", "region=EU"]);

    let id = cli.ok(&[
        "sessions",
        "create",
        "--title",
        "Checkout",
        "--start",
        "2027-03-16T10:00",
        "--tz",
        "America/New_York",
        "--minutes",
        "90",
        "--seats",
        "8",
        "--over-recruit",
        "10",
        "--moderator",
        "ana@company.example.com",
    ]);
    let id = id.trim();
    assert_eq!(id, "1");
    let out = cli.run(&[
        "sessions",
        "create",
        "--title",
        "Clash",
        "--start",
        "2027-03-16T11:00",
        "--tz",
        "America/New_York",
        "--seats",
        "2",
        "--moderator",
        "ana@company.example.com",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is already in session 1 \"Checkout\""));
    let out = cli.run(&[
        "sessions",
        "create",
        "--title",
        "Gap",
        "--start",
        "2027-03-14T02:30",
        "--tz",
        "America/New_York",
        "--seats",
        "2",
        "--moderator",
        "ana@company.example.com",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist in America/New_York"));

    let preview = cli.json(&[
        "sessions",
        "invite",
        id,
        "--screener",
        "eu",
        "--preview",
        "--json",
    ]);
    assert_eq!(preview["invited"].as_array().unwrap().len(), 1);
    let said = cli.ok(&["sessions", "invite", id, "--screener", "eu"]);
    assert!(
        said.contains("invited 1:") && said.contains("Jonas Weber"),
        "{said}"
    );
    assert!(said.contains("Opted Out: opted out on"), "{said}");
    assert!(said.contains("1 invitations queued"), "{said}");
    let again = cli.ok(&[
        "sessions",
        "invite",
        id,
        "--participant",
        "jonas@example.de",
    ]);
    assert!(again.contains("already invited to this session"), "{again}");

    assert!(
        cli.ok(&["sessions", "rsvp", id, "jonas@example.de", "confirmed"])
            .contains("Jonas Weber: confirmed")
    );
    let out = cli.run(&["sessions", "rsvp", id, "jonas@example.de", "maybe"]);
    assert_eq!(out.status.code(), Some(2));
    let out = cli.run(&["sessions", "attendance", id, "jonas@example.de", "attended"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("attendance is taken from an hour before the start")
    );

    let shown = cli.json(&["sessions", "show", id, "--json"]);
    assert_eq!(shown["session"]["counts"]["confirmed"], 1);
    assert_eq!(shown["session"]["localStart"], "2027-03-16T10:00:00");
    assert_eq!(shown["roster"][0]["rsvp"], "confirmed");
    let listed = cli.ok(&["sessions", "list"]);
    assert!(listed.contains("Tue 2027-03-16 10:00 America/New_York (90 min)  \"Checkout\"  1 confirmed of 10 wanted (8 seats)"), "{listed}");

    // The invitation goes out; the reminders wait for their time.
    assert_eq!(cli.run(&["outbox", "send"]).status.code(), Some(0));
    let delivered = server.delivered();
    assert_eq!(delivered.len(), 1);
    assert!(
        delivered[0]
            .parsed()
            .body_text(0)
            .unwrap()
            .contains("15:00 CET (Europe/Berlin)")
    );
    let queued = cli.json(&["outbox", "list", "--status", "queued", "--json"]);
    assert_eq!(queued["total"], 2);

    assert!(
        cli.ok(&["sessions", "reschedule", id, "--start", "2027-03-17T10:00"])
            .contains("moved to Wed 2027-03-17 10:00")
    );
    assert!(
        cli.ok(&["sessions", "cancel", id, "--reason", "Room closed"])
            .contains("cancelled")
    );
    assert_eq!(cli.run(&["outbox", "send"]).status.code(), Some(0));
    let subjects: Vec<String> = server
        .delivered()
        .iter()
        .map(|d| d.parsed().subject().unwrap().to_string())
        .collect();
    // The update was still waiting when the session was cancelled: it never
    // goes; the cancellation does (and the reminders are withdrawn).
    assert_eq!(
        subjects,
        [
            "Invitation: Checkout, Tuesday 16 March 2027",
            "Cancelled: Checkout, Wednesday 17 March 2027"
        ]
    );
    let cancelled = cli.json(&["outbox", "list", "--status", "cancelled", "--json"]);
    assert_eq!(
        cancelled["total"], 5,
        "two reminders, the update, and its two reminders"
    );
    assert!(
        cli.ok(&["sessions", "reminders", "--hours", "48,3"])
            .contains("reminders 48 h and 3 h before the start")
    );
}

#[test]
fn notes_add_list_edit_and_search() {
    let cli = Cli::new();
    cli.ok(&[
        "staff",
        "add",
        "--name",
        "Ana",
        "--email",
        "ana@company.example.com",
    ]);
    cli.ok(&["staff", "me", "ana@company.example.com"]);
    cli.ok(&[
        "participants",
        "add",
        "--name",
        "Zoë",
        "--email",
        "zoe@example.com",
    ]);
    let s = cli.ok(&[
        "sessions",
        "create",
        "--title",
        "Checkout",
        "--start",
        "2027-03-16T10:00",
        "--tz",
        "UTC",
        "--seats",
        "8",
        "--moderator",
        "ana@company.example.com",
    ]);
    let s = s.trim();
    cli.ok(&["notes", "add", s, "Talks about returns"]);
    let id = cli.ok(&[
        "notes",
        "add",
        s,
        "My refund never arrived #refund",
        "--participant",
        "zoe@example.com",
    ]);
    let id = id.trim();
    cli.ok(&["notes", "add", s, "Others nod"]);
    let listed = cli.json(&["notes", "list", s, "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert_eq!(listed[1]["participantName"], "Zoë");
    assert_eq!(listed[1]["authorName"], "Ana");
    assert_eq!(listed[1]["tags"][0], "refund");

    let found = cli.ok(&["notes", "search", "refun"]);
    assert!(found.contains("session 1 \"Checkout\":"), "{found}");
    assert!(
        found.contains("> ") && found.contains("[Zoë]  My refund never arrived #refund"),
        "{found}"
    );
    assert!(
        found.contains("Talks about returns") && found.contains("Others nod"),
        "{found}"
    );
    assert!(
        cli.ok(&["notes", "search", "\"arrived never\""])
            .contains("no notes match")
    );

    cli.ok(&[
        "notes",
        "edit",
        id,
        "My refund never arrived, three weeks now #refund",
    ]);
    let history = cli.ok(&["notes", "history", id]);
    assert!(
        history.contains("My refund never arrived #refund"),
        "{history}"
    );
    // An edit changes only what it names: the note is still Zoë's.
    let list = cli.ok(&["notes", "list", s]);
    assert!(
        list.contains("[Zoë]  My refund never arrived, three weeks now #refund"),
        "{list}"
    );
    cli.ok(&[
        "notes",
        "edit",
        id,
        "Someone's refund never arrived",
        "--no-participant",
    ]);
    let list = cli.ok(&["notes", "list", s]);
    assert!(!list.contains("[Zoë]  Someone's"), "{list}");
    // The listing says when each note was taken and who wrote it.
    let first = list.lines().next().unwrap();
    assert!(first.contains(" UTC  Ana  Talks about returns"), "{first}");
    // An issue from a note nobody is attributed to says so, and how to name them.
    let out = cli.run(&["issues", "raise", "--note", id, "--summary", "Refund"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!("note {id} is not attributed to anyone"))
            && said.contains("email or id"),
        "{said}"
    );
    assert!(!said.contains("\"\""), "{said}");
    // A name that holds a line break stays on its line of the list.
    cli.ok(&[
        "participants",
        "add",
        "--name",
        "Line\nBreak",
        "--email",
        "lb@example.com",
    ]);
    let list = cli.ok(&["participants", "list"]);
    assert!(
        list.lines()
            .any(|l| l.contains("Line Break") && l.contains("lb@example.com")),
        "{list}"
    );
    let out = cli.run(&["notes", "add", s, "   "]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("note \"\" is not valid: is empty"));
}

#[test]
fn issues_raise_assign_hand_off_contact_and_resolve() {
    let cli = Cli::new();
    let server = common::smtp::SmtpServer::start(cli.dir.path(), &[]);
    smtp_set(&cli, server.port);
    cli.ok(&[
        "staff",
        "add",
        "--name",
        "Ana",
        "--email",
        "ana@company.example.com",
    ]);
    cli.ok(&[
        "staff",
        "add",
        "--name",
        "Sam",
        "--email",
        "sam@company.example.com",
        "--lead",
        "ana@company.example.com",
    ]);
    cli.ok(&["staff", "me", "sam@company.example.com"]);
    cli.ok(&[
        "participants",
        "add",
        "--name",
        "Zoë",
        "--email",
        "zoe@example.com",
    ]);
    let s = cli.ok(&[
        "sessions",
        "create",
        "--title",
        "Checkout",
        "--start",
        "2027-03-16T10:00",
        "--tz",
        "UTC",
        "--seats",
        "8",
        "--moderator",
        "ana@company.example.com",
    ]);
    let n = cli.ok(&[
        "notes",
        "add",
        s.trim(),
        "My refund never came",
        "--participant",
        "zoe@example.com",
    ]);
    let id = cli.ok(&[
        "issues",
        "raise",
        "--note",
        n.trim(),
        "--summary",
        "Refund missing",
        "--severity",
        "high",
        "--owner",
        "sam@company.example.com",
    ]);
    let id = id.trim();
    let mine = cli.ok(&["issues", "mine"]);
    assert!(
        mine.contains(
            "open       high      Refund missing  (Zoë; owner Sam; 0 hand-offs)  contact by"
        ),
        "{mine}"
    );

    let out = cli.run(&[
        "issues",
        "resolve",
        id,
        "--note",
        "done",
        "--message",
        "done",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has not been contacted yet"));
    let out = cli.run(&[
        "issues",
        "raise",
        "--note",
        n.trim(),
        "--summary",
        "x",
        "--severity",
        "urgent",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be low, normal, high or critical"));

    assert!(
        cli.ok(&[
            "issues",
            "reassign",
            id,
            "ana@company.example.com",
            "--reason",
            "Ana handles refunds"
        ])
        .contains("owner Ana; 1 hand-offs")
    );
    assert!(
        cli.ok(&[
            "issues",
            "contact",
            id,
            "--via",
            "phone",
            "--outcome",
            "Called her"
        ])
        .contains("contacted")
    );
    let preview = cli.ok(&[
        "issues",
        "resolve",
        id,
        "--note",
        "Refunded",
        "--message",
        "Your refund was sent today.",
        "--preview",
    ]);
    assert!(preview.contains("to:       zoe@example.com"), "{preview}");
    assert!(
        preview.contains("reply-to: ana@company.example.com"),
        "{preview}"
    );
    assert!(preview.contains("Your refund was sent today."), "{preview}");
    let still = cli.json(&["issues", "show", id, "--json"]);
    assert_eq!(
        still["issue"]["status"], "contacted",
        "a preview changes nothing"
    );
    assert!(
        cli.ok(&[
            "issues",
            "resolve",
            id,
            "--note",
            "Refunded",
            "--message",
            "Your refund was sent today."
        ])
        .contains("resolved")
    );
    let shown = cli.json(&["issues", "show", id, "--json"]);
    assert_eq!(shown["issue"]["status"], "resolved");
    assert_eq!(shown["issue"]["handoffs"], 1);
    assert_eq!(shown["events"].as_array().unwrap().len(), 6);
    assert_eq!(cli.run(&["outbox", "send"]).status.code(), Some(0));
    let mut to: Vec<String> = server
        .delivered()
        .iter()
        .map(|d| {
            d.parsed()
                .to()
                .unwrap()
                .first()
                .unwrap()
                .address()
                .unwrap()
                .to_string()
        })
        .collect();
    to.sort();
    // Each owner got the issue; the participant heard of the hand-off and the resolution.
    assert_eq!(
        to,
        [
            "ana@company.example.com",
            "sam@company.example.com",
            "zoe@example.com",
            "zoe@example.com"
        ]
    );
    assert!(cli.ok(&["issues", "close", id]).contains("closed"));
    assert_eq!(
        cli.json(&["issues", "list", "--status", "closed", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        cli.json(&["issues", "list", "--sort", "newest", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let bad = cli.run(&["issues", "list", "--sort", "loudest"]);
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("use urgent, newest, oldest or handoffs"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn every_note_whose_save_returned_survives_a_sigkill() {
    use std::io::{BufRead as _, Write as _};
    let cli = Cli::new();
    cli.ok(&[
        "staff",
        "add",
        "--name",
        "Ana",
        "--email",
        "ana@company.example.com",
    ]);
    let s = cli.ok(&[
        "sessions",
        "create",
        "--title",
        "Live",
        "--start",
        "2027-03-16T10:00",
        "--tz",
        "UTC",
        "--seats",
        "8",
        "--moderator",
        "ana@company.example.com",
    ]);
    let mut writer = cli
        .command(&["notes", "add", s.trim(), "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = writer.stdin.take().unwrap();
    let typist = std::thread::spawn(move || {
        for i in 0..100_000 {
            if writeln!(input, "note {i}: Zoë said «ça coûte 49,90 €» 🙂 #live").is_err() {
                break;
            }
        }
    });
    let mut saved = Vec::new();
    let mut lines = std::io::BufReader::new(writer.stdout.take().unwrap()).lines();
    while saved.len() < 300 {
        saved.push(
            lines
                .next()
                .unwrap()
                .unwrap()
                .trim()
                .parse::<i64>()
                .unwrap(),
        );
    }
    writer.kill().unwrap(); // SIGKILL, mid-stream
    writer.wait().unwrap();
    // Ids printed before the kill (still in the pipe) were saved too.
    saved.extend(
        lines
            .map_while(Result::ok)
            .filter_map(|l| l.trim().parse::<i64>().ok()),
    );
    typist.join().unwrap();

    let stored = cli.json(&["notes", "list", s.trim(), "--json"]);
    let stored = stored.as_array().unwrap();
    assert!(
        stored.len() >= saved.len(),
        "{} stored, {} saved",
        stored.len(),
        saved.len()
    );
    for (k, id) in saved.iter().enumerate() {
        let note = stored
            .iter()
            .find(|n| n["id"] == *id)
            .unwrap_or_else(|| panic!("note {id} was lost"));
        assert_eq!(
            note["text"],
            format!("note {k}: Zoë said «ça coûte 49,90 €» 🙂 #live")
        );
    }
    // And they are found by search, accents folded.
    let found = cli.json(&["notes", "search", "cout", "--json", "--limit", "5"]);
    assert_eq!(found.as_array().unwrap().len(), 5);
}

#[test]
fn reports_are_written_as_pdf_files_and_bad_ranges_refused() {
    let cli = Cli::new();
    cli.ok(&["demo", "--participants", "400", "--seed", "3"]);
    let out = cli.dir.path().join("session.pdf");
    let said = cli.ok(&["report", "session", "1", "-o", path(&out), "--anonymise"]);
    assert!(
        said.starts_with(&format!("wrote {} (", path(&out))),
        "{said}"
    );
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    assert!(!cli.dir.path().join("session.pdf.part").exists());

    let out = cli.dir.path().join("follow-ups.pdf");
    let said = cli.ok(&[
        "report",
        "follow-ups",
        "--from",
        "2024-01-01",
        "--to",
        "2030-12-31",
        "-o",
        path(&out),
    ]);
    assert!(said.contains("page"), "{said}");
    assert!(std::fs::read(&out).unwrap().starts_with(b"%PDF-"));

    let refused = cli.run(&[
        "report",
        "follow-ups",
        "--from",
        "2026-02-01",
        "--to",
        "2026-01-01",
        "-o",
        path(&cli.dir.path().join("refused.pdf")),
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("is before the start of the range, 2026-02-01"),
        "{stderr}"
    );
    let refused = cli.run(&["report", "session", "1", "-o", "/no/such/dir/x.pdf"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("/no/such/dir/x.pdf: could not be written"),
        "{stderr}"
    );
}

/// A driven clock for the command line: views and the tick as of another
/// time, never a change stamped with it.
#[test]
fn now_runs_reading_commands_as_of_another_time_and_is_refused_for_changes() {
    let cli = Cli::new();
    cli.ok(&[
        "staff",
        "add",
        "--name",
        "Ana",
        "--email",
        "ana@company.example.com",
    ]);
    cli.ok(&[
        "participants",
        "add",
        "--name",
        "Zoë",
        "--email",
        "zoe@example.com",
    ]);
    let s = cli.ok(&[
        "sessions",
        "create",
        "--title",
        "Checkout",
        "--start",
        "2027-03-16T10:00",
        "--tz",
        "UTC",
        "--seats",
        "8",
        "--moderator",
        "ana@company.example.com",
    ]);
    let issue = cli.ok(&[
        "issues",
        "raise",
        "--session",
        s.trim(),
        "--participant",
        "zoe@example.com",
        "--summary",
        "Refund",
        "--severity",
        "critical",
        "--owner",
        "ana@company.example.com",
    ]);
    let issue = issue.trim();
    let overdue = |now: &[&str]| {
        let mut args = vec!["issues", "list", "--overdue", "--json"];
        args.extend_from_slice(now);
        cli.json(&args).as_array().unwrap().len()
    };
    assert_eq!(overdue(&[]), 0, "a critical issue is not overdue at once");
    // Four hours for first contact: a day later it is overdue.
    let later = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%MZ")
        .to_string();
    assert_eq!(overdue(&["--now", &later]), 1);
    let with_offset = (chrono::Utc::now() + chrono::Duration::days(1))
        .with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap())
        .format("%Y-%m-%dT%H:%M%:z")
        .to_string();
    assert_eq!(overdue(&["--now", &with_offset]), 1);
    let from_env = cli
        .command(&["issues", "list", "--overdue", "--json"])
        .env("PANELKEEPER_NOW", &later)
        .output()
        .unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&from_env.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    // The tick as of then queues the escalation; the issue still shows it now.
    let ticked = cli.ok(&["tick", "--now", &later]);
    assert!(
        ticked.contains("1 overdue, 1 escalations queued"),
        "{ticked}"
    );
    assert!(cli.ok(&["issues", "show", issue]).contains("escalated"));

    // A change is never stamped with a driven time.
    let refused = cli.run(&[
        "participants",
        "add",
        "--name",
        "Kim",
        "--email",
        "kim@example.com",
        "--now",
        &later,
    ]);
    assert_eq!(refused.status.code(), Some(1));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("--now") && said.contains("accepted only for commands that read"),
        "{said}"
    );
    assert!(
        cli.run(&["participants", "show", "kim@example.com"])
            .status
            .code()
            == Some(1)
    );
    let bad = cli.run(&["issues", "list", "--now", "tomorrow"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("2027-03-16T10:00Z"));
}

/// On a team database each computer says who uses it: a researcher naming
/// herself on her laptop does not become the user of a colleague's
/// computer, and nothing of it is kept in the shared database. A panel
/// file is one computer's: there it is the file's setting.
#[test]
fn on_a_team_database_each_computer_has_its_own_user() {
    let cli = Cli::new();
    if cli.file().is_some() {
        return;
    }
    for (name, email) in [
        ("Ana Moderator", "ana@company.example.com"),
        ("Sam Owner", "sam@company.example.com"),
    ] {
        cli.ok(&["staff", "add", "--name", name, "--email", email]);
    }
    let other = tempfile::tempdir().unwrap();
    let on_other = |args: &[&str]| {
        let out = cli
            .command(args)
            .env("XDG_DATA_HOME", other.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    cli.ok(&["staff", "me", "ana@company.example.com"]);
    assert!(on_other(&["staff", "me"]).contains("not set"));
    on_other(&["staff", "me", "sam@company.example.com"]);
    assert_eq!(
        cli.ok(&["staff", "me"]).trim(),
        "Ana Moderator <ana@company.example.com>"
    );
    assert_eq!(
        on_other(&["staff", "me"]).trim(),
        "Sam Owner <sam@company.example.com>"
    );
    let Some(url) = cli.db().to_str().map(str::to_string) else {
        unreachable!()
    };
    let shared = std::process::Command::new("psql")
        .args([
            url.as_str(),
            "-At",
            "-c",
            "SELECT count(*) FROM settings WHERE key = 'current_staff'",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&shared.stdout).trim(), "0");
}

/// `staff set-password` with the password on standard input.
fn set_password(cli: &Cli, email: &str, password: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = cli
        .command(&["staff", "set-password", email])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn team_accounts_are_kept_from_the_command_line_roles_passwords_and_invitations() {
    let cli = Cli::new();
    cli.ok(&[
        "staff",
        "add",
        "--name",
        "Ada Admin",
        "--email",
        "ada@company.example.com",
        "--role",
        "admin",
    ]);
    cli.ok(&[
        "staff",
        "add",
        "--name",
        "Kim Care",
        "--email",
        "kim@company.example.com",
    ]);
    let bad_role = cli.run(&["staff", "set-role", "kim@company.example.com", "boss"]);
    assert!(!bad_role.status.success());
    assert!(
        String::from_utf8_lossy(&bad_role.stderr).contains("boss"),
        "{}",
        String::from_utf8_lossy(&bad_role.stderr)
    );
    assert!(
        cli.ok(&["staff", "set-role", "kim@company.example.com", "researcher"])
            .contains("is now researcher")
    );

    let short = set_password(&cli, "kim@company.example.com", "short");
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("at least 10"),
        "{}",
        String::from_utf8_lossy(&short.stderr)
    );
    let set = set_password(&cli, "kim@company.example.com", "kims long password");
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let staff = cli.json(&["staff", "list", "--json"]);
    let kim = staff
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["email"] == "kim@company.example.com")
        .unwrap();
    assert_eq!(
        (kim["role"].as_str(), kim["canSignIn"].as_bool()),
        (Some("researcher"), Some(true))
    );

    // An invitation needs the server's address to link to.
    let unknown = cli.run(&["staff", "invite", "kim@company.example.com"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("--public-url"));
    let invited = cli.ok(&[
        "staff",
        "invite",
        "kim@company.example.com",
        "--public-url",
        "https://panel.example.com",
    ]);
    assert!(invited.contains("invitation to Kim Care"), "{invited}");
    let outbox = cli.ok(&["outbox", "list"]);
    assert!(outbox.contains("kim@company.example.com"), "{outbox}");
}
