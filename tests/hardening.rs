//! The command line tried as a hostile or unlucky user would: planted
//! symlinks, device files and FIFOs where a report or an export goes, file
//! modes under a permissive umask, a full disk, a stream of notes with bad
//! lines in it, searches too long to be typed, a broken CSV, a zone the tz
//! database no longer knows, a damaged database file. Each says what was
//! wrong in a person's words and destroys nothing.

mod common;

use common::cli::{Cli, path};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// No message a person reads holds SQLite's own words.
fn no_raw_database_words(said: &str) {
    for raw in [
        "SQLITE",
        "sqlite",
        "LIKE or GLOB",
        "no such",
        "constraint failed",
        "database is locked",
        "disk I/O error",
        "file is not a database",
        "error returned from database",
    ] {
        assert!(
            !said.contains(raw),
            "a raw database message reached the user: {said}"
        );
    }
}

#[test]
fn a_report_or_an_export_never_destroys_what_is_at_the_path() {
    let cli = Cli::new();
    cli.ok(&["demo", "--participants", "200", "--seed", "4"]);
    let dir = cli.dir.path();

    // A folder and a FIFO are refused, and stay what they were.
    let folder = dir.join("a-folder.pdf");
    std::fs::create_dir(&folder).unwrap();
    let out = cli.run(&["report", "session", "1", "-o", path(&folder), "--force"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is a folder, not a file"),
        "{}",
        stderr(&out)
    );
    assert!(folder.is_dir());
    let fifo = dir.join("pipe.csv");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = cli.run(&["participants", "export", path(&fifo), "--force"]);
    assert!(
        stderr(&out).contains("is a named pipe (FIFO), not a file"),
        "{}",
        stderr(&out)
    );
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );

    // A device node (made where the test may make one) is never replaced.
    let device = dir.join("null-device.pdf");
    if is_root()
        && Command::new("mknod")
            .arg(&device)
            .args(["c", "1", "3"])
            .status()
            .unwrap()
            .success()
    {
        let out = cli.run(&["report", "session", "1", "-o", path(&device), "--force"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains("is a device, not a file"),
            "{}",
            stderr(&out)
        );
        assert!(
            std::fs::symlink_metadata(&device)
                .unwrap()
                .file_type()
                .is_char_device()
        );
    } else {
        eprintln!("not root: the device-node case is skipped (mknod needs root)");
    }

    // A file planted beside the target under the old temporary name, and a
    // symlink at the target itself, are never written through.
    let victim = dir.join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let report = dir.join("session.pdf");
    std::os::unix::fs::symlink(&victim, dir.join("session.pdf.part")).unwrap();
    cli.ok(&["report", "session", "1", "-o", path(&report)]);
    assert!(std::fs::read(&report).unwrap().starts_with(b"%PDF-"));
    let export = dir.join("export.csv");
    std::os::unix::fs::symlink(&victim, &export).unwrap();
    let out = cli.run(&["participants", "export", path(&export)]);
    assert!(
        stderr(&out).contains("already exists and was left as it is"),
        "{}",
        stderr(&out)
    );
    cli.ok(&["participants", "export", path(&export), "--force"]);
    assert!(
        !std::fs::symlink_metadata(&export)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");

    // An existing file is replaced only when asked.
    let out = cli.run(&["report", "session", "1", "-o", path(&report)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    cli.ok(&["report", "session", "1", "-o", path(&report), "--force"]);
    let privacy = dir.join("privacy.json");
    std::fs::write(&privacy, "kept").unwrap();
    let out = cli.run(&["participants", "privacy-export", "1", "-o", path(&privacy)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&privacy).unwrap(), "kept");
    cli.ok(&[
        "participants",
        "privacy-export",
        "1",
        "-o",
        path(&privacy),
        "--force",
    ]);
    assert!(std::fs::read_to_string(&privacy).unwrap().starts_with('{'));

    // No temporary file is left anywhere.
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with(".panelkeeper-"), "left behind: {name}");
    }
}

/// On a team database the panel is on the server; what this computer
/// keeps for it (the key that seals the SMTP password, who uses the
/// computer, the delivery journal) is still owner-only, whatever the umask.
#[test]
fn a_team_databases_files_on_this_computer_are_private_whatever_the_umask() {
    let cli = Cli::new();
    if cli.file().is_some() {
        return;
    }
    let data = cli.dir.path().join("data");
    let under_umask = |args: &[&str]| {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg("umask 000 && exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_panelkeeper"))
            .env("PANELKEEPER_LOG_DIR", cli.dir.path().join("logs"))
            .env("XDG_DATA_HOME", &data)
            .arg("--db")
            .arg(cli.db())
            .args(args);
        command
    };
    let ok = |command: &mut Command| {
        let out = command.output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    };
    ok(&mut under_umask(&[
        "staff",
        "add",
        "--name",
        "Ana",
        "--email",
        "ana@company.example.com",
    ]));
    ok(&mut under_umask(&[
        "staff",
        "me",
        "ana@company.example.com",
    ]));
    let mut smtp = under_umask(&[
        "smtp",
        "set",
        "--host",
        "127.0.0.1",
        "--port",
        "2525",
        "--tls",
        "none",
        "--from",
        "research@panel.example.com",
        "--user",
        "research",
        "--password-stdin",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .spawn()
    .unwrap();
    {
        use std::io::Write;
        smtp.stdin.take().unwrap().write_all(b"s3cret\n").unwrap();
    }
    assert!(smtp.wait().unwrap().success());
    let mut files = Vec::new();
    let mut folders = vec![data.join(panelkeeper::APP_IDENTIFIER)];
    while let Some(folder) = folders.pop() {
        assert_eq!(mode(&folder), 0o700, "{}", folder.display());
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.ends_with(".key")), "{names:?}");
    assert!(names.iter().any(|n| n.ends_with(".me")), "{names:?}");
    for file in &files {
        assert_eq!(mode(file), 0o600, "{} is {:o}", file.display(), mode(file));
    }
}

#[test]
fn personal_data_is_private_on_disk_whatever_the_umask() {
    let cli = Cli::new();
    // The modes of a panel file and the files beside it.
    if cli.file().is_none() {
        return;
    }
    let dir = cli.dir.path();
    // Every command run under umask 000, which would make files world-writable.
    let run = |args: &[&str]| {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg("umask 000 && exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_panelkeeper"))
            .env("PANELKEEPER_LOG_DIR", dir.join("logs"))
            .arg("--db")
            .arg(cli.db())
            .args(args);
        let out = command.output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    };
    run(&["demo", "--participants", "100", "--seed", "2"]);
    let mut smtp = Command::new("sh")
        .arg("-c")
        .arg("umask 000 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_panelkeeper"))
        .arg("--db")
        .arg(cli.db())
        .args([
            "smtp",
            "set",
            "--host",
            "127.0.0.1",
            "--port",
            "2525",
            "--tls",
            "none",
        ])
        .args([
            "--from",
            "research@panel.example.com",
            "--user",
            "research",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        smtp.stdin.take().unwrap().write_all(b"s3cret\n").unwrap();
    }
    assert!(smtp.wait().unwrap().success());
    run(&["participants", "export", path(&dir.join("all.csv"))]);
    run(&[
        "participants",
        "privacy-export",
        "1",
        "-o",
        path(&dir.join("one.json")),
    ]);
    run(&[
        "report",
        "session",
        "1",
        "-o",
        path(&dir.join("report.pdf")),
    ]);
    run(&[
        "demo",
        "--participants",
        "10",
        "--csv",
        path(&dir.join("demo.csv")),
    ]);
    for name in [
        "panel.db",
        "panel.db-wal",
        "panel.db-shm",
        "panel.db.key",
        "all.csv",
        "one.json",
        "report.pdf",
        "demo.csv",
    ] {
        let file = dir.join(name);
        if name.ends_with("-wal") || name.ends_with("-shm") {
            // Present while the panel is open; checked below with it open.
            continue;
        }
        assert_eq!(mode(&file), 0o600, "{name} is {:o}", mode(&file));
    }
    assert_eq!(mode(&dir.join("logs")), 0o700);

    // A panel made before, readable by everyone, is made private when next
    // opened, and keeps working; so are the WAL and shared memory it opens.
    for name in ["panel.db", "panel.db.key"] {
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let mut reader = cli
        .command(&["notes", "add", "1", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = reader.stdin.take().unwrap();
    {
        use std::io::{BufRead, Write};
        writeln!(input, "A note while the panel is open").unwrap();
        let mut line = String::new();
        std::io::BufReader::new(reader.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.trim().parse::<i64>().is_ok(), "{line}");
        for name in ["panel.db", "panel.db-wal", "panel.db-shm", "panel.db.key"] {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
    }
    drop(input);
    assert!(reader.wait().unwrap().success());
    cli.ok(&["smtp", "show"]);
}

#[test]
fn a_stream_of_notes_goes_on_past_a_line_that_cannot_be_saved_and_prints_it_back() {
    let cli = Cli::new();
    cli.ok(&["demo", "--participants", "50", "--seed", "5"]);
    let long = "x".repeat(20_001);
    let mut writer = cli
        .command(&["notes", "add", "1", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut input = writer.stdin.take().unwrap();
        writeln!(input, "First thing said").unwrap();
        writeln!(input, "A bell \u{7} in the transcript").unwrap();
        writeln!(input, "{long}").unwrap();
        writeln!(input, "Last thing said").unwrap();
    }
    let out = writer.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let saved: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(saved.len(), 2, "{saved:?}");
    let said = stderr(&out);
    assert!(
        said.contains("not saved (line 2: note") && said.contains("A bell \u{7} in the transcript"),
        "{said}"
    );
    assert!(
        said.contains("not saved (line 3: note") && said.contains(&long),
        "the text is printed back whole"
    );
    assert!(said.contains("2 lines were not saved"), "{said}");
    let notes = cli.json(&["notes", "list", "1", "--json"]);
    let texts: Vec<&str> = notes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"First thing said") && texts.contains(&"Last thing said"));
}

#[test]
fn a_full_disk_says_so_and_the_note_is_kept_in_the_message() {
    if !is_root() {
        eprintln!("not root: the full-disk test is skipped (mounting a small tmpfs needs root)");
        return;
    }
    let cli = Cli::new();
    let mount = cli.dir.path().join("small-disk");
    std::fs::create_dir(&mount).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=6m", "tmpfs"])
        .arg(&mount)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        eprintln!("no tmpfs could be mounted here: the full-disk test is skipped");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&mount);
    let db = mount.join("panel.db");
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_panelkeeper"));
        command
            .env("PANELKEEPER_LOG_DIR", cli.dir.path().join("logs"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        {
            use std::io::Write;
            let mut input = child.stdin.take().unwrap();
            if let Some(text) = stdin {
                input.write_all(text.as_bytes()).unwrap();
            }
        }
        child.wait_with_output().unwrap()
    };
    for args in [
        &[
            "staff",
            "add",
            "--name",
            "Ana",
            "--email",
            "ana@company.example.com",
        ][..],
        &[
            "sessions",
            "create",
            "--title",
            "Small disk",
            "--start",
            "2027-03-16T10:00",
        ],
    ] {
        let mut args = args.to_vec();
        if args[0] == "sessions" {
            args.extend([
                "--tz",
                "Europe/Berlin",
                "--seats",
                "4",
                "--moderator",
                "ana@company.example.com",
            ]);
        }
        let out = run(&args, None);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // A transcript piped in live while the disk fills up: the panel is open
    // (as in the app) when the disk runs out.
    let mut stream = Command::new(env!("CARGO_BIN_EXE_panelkeeper"))
        .env("PANELKEEPER_LOG_DIR", cli.dir.path().join("logs"))
        .arg("--db")
        .arg(&db)
        .args(["notes", "add", "1", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = stream.stdin.take().unwrap();
    let mut saved = std::io::BufReader::new(stream.stdout.take().unwrap());
    let mut next_id = || {
        use std::io::BufRead;
        let mut line = String::new();
        saved.read_line(&mut line).unwrap();
        line.trim().to_string()
    };
    use std::io::Write;
    writeln!(input, "Said before the disk filled").unwrap();
    assert!(next_id().parse::<i64>().is_ok());

    let filler = mount.join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=64k"])
        .arg(format!("of={}", filler.display()))
        .stderr(Stdio::null())
        .status();
    let big = "A long note about the checkout that goes on and on. ".repeat(300);
    writeln!(input, "{big}").unwrap();
    writeln!(input, "second line {big}").unwrap();
    input.flush().unwrap();
    // A command started now, with the disk full, says so too.
    let out = run(&["notes", "add", "1", &big], None);
    assert_eq!(out.status.code(), Some(1));
    let said = stderr(&out);
    assert!(
        said.contains("disk that holds the panel database is full"),
        "{said}"
    );
    assert!(said.contains("nothing was saved"), "{said}");
    assert!(!said.contains("was not found"), "{said}");
    no_raw_database_words(&said);

    // With space again, the stream goes on.
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::remove_file(&filler).unwrap();
    writeln!(input, "Said after the disk was freed").unwrap();
    drop(input);
    let last = next_id();
    assert!(last.parse::<i64>().is_ok(), "{last:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(stream.stderr.as_mut().unwrap(), &mut rest).unwrap();
    let status = stream.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{rest}");
    assert!(
        rest.contains("not saved (line 2: the disk that holds the panel database is full"),
        "{rest}"
    );
    assert!(
        rest.contains(&format!("second line {big}")),
        "every line typed is printed back"
    );
    no_raw_database_words(&rest);
    let out = run(&["notes", "list", "1"], None);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("Said before the disk filled")
            && listed.contains("Said after the disk was freed")
    );
}

#[test]
fn searches_too_long_to_be_typed_are_refused_in_words() {
    let cli = Cli::new();
    cli.ok(&["demo", "--participants", "50", "--seed", "6"]);
    let long = "ab%_".repeat(15_000);
    for args in [
        vec!["participants", "list", "--search", &long],
        vec!["notes", "search", &long],
    ] {
        let out = cli.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let said = stderr(&out);
        assert!(said.contains("60000 characters long"), "{said}");
        no_raw_database_words(&said);
    }
}

#[test]
fn a_broken_csv_names_the_line_where_a_quote_never_closes() {
    let cli = Cli::new();
    let out = cli.run(&[
        "participants",
        "import",
        path(&common::corpus("unclosed_quote.csv")),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let said = stderr(&out);
    assert!(
        said.contains("rejected line 3, column Name: opens a quote on line 3 that is never closed"),
        "{said}"
    );
    let out = cli.run(&[
        "participants",
        "import",
        path(&common::corpus("swallowed_rows.csv")),
    ]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("warning: line 4, column Name: holds lines 4 to 6"));
}

#[test]
fn a_zone_the_tz_database_does_not_know_is_named_never_shown_as_utc() {
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
        "sessions",
        "create",
        "--title",
        "Lost zone",
        "--start",
        "2027-03-16T10:00",
        "--tz",
        "Europe/Berlin",
        "--seats",
        "4",
        "--moderator",
        "ana@company.example.com",
    ]);
    // As a panel written by a version whose tz database had this zone.
    cli.sql("UPDATE sessions SET time_zone = 'Europe/Atlantis'");
    let report = cli.dir.path().join("lost.pdf");
    for args in [
        vec!["sessions", "show", "1"],
        vec!["report", "session", "1", "-o", path(&report)],
    ] {
        let out = cli.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let said = stderr(&out);
        assert!(
            said.contains(
                "\"Europe/Atlantis\" of session 1 is not in this version's time-zone database"
            ),
            "{said}"
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains("UTC"));
    }
}

#[test]
fn a_damaged_database_is_described_not_quoted() {
    let cli = Cli::new();
    let Some(file) = cli.file() else { return };
    std::fs::write(file, vec![0x5a; 64 * 1024]).unwrap();
    let out = cli.run(&["participants", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let said = stderr(&out);
    assert!(
        said.contains("damaged or is not a Panelkeeper database"),
        "{said}"
    );
    no_raw_database_words(&said);
    // The log, not the terminal, has the detail.
    let logs: Vec<_> = std::fs::read_dir(cli.dir.path().join("logs"))
        .unwrap()
        .collect();
    assert!(!logs.is_empty());
}
