//! The `panelkeeper` command line, run as a user would run it, on real
//! SQLite files: exit codes, messages and `--json` output.

mod common;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("panel.db")
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_panelkeeper"))
            .arg("--db")
            .arg(self.db())
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

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
    let mut child = Command::new(env!("CARGO_BIN_EXE_panelkeeper"))
        .arg("--db")
        .arg(cli.db())
        .args(["participants", "list", "--limit", "1000"])
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
