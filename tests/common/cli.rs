//! The `panelkeeper` command line run as a user runs it, on a panel in a
//! temporary folder (its log kept there too), or, in a run with
//! `PANELKEEPER_TEST_STORE=postgres`, on a team database of its own (this
//! computer's files for it kept in the folder).

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

pub struct Cli {
    pub dir: tempfile::TempDir,
    /// The team database, in a PostgreSQL run.
    team: Option<String>,
}

impl Cli {
    pub fn new() -> Cli {
        Cli {
            dir: tempfile::tempdir().unwrap(),
            team: super::pg::chosen().then(super::pg::database_now),
        }
    }

    /// The panel's location as `--db` takes it.
    pub fn db(&self) -> std::path::PathBuf {
        match &self.team {
            Some(url) => url.into(),
            None => self.dir.path().join("panel.db"),
        }
    }

    /// The panel file, for a test of what only a panel file does (its
    /// permissions, a damaged file); `None` on a team database.
    pub fn file(&self) -> Option<std::path::PathBuf> {
        self.team.is_none().then(|| self.db())
    }

    /// Runs one SQL statement on the panel's database as an older version
    /// or another tool would have written it (`sqlite3` on a file, `psql`
    /// on a team database).
    pub fn sql(&self, statement: &str) {
        let status = match &self.team {
            Some(url) => Command::new("psql")
                .args([url.as_str(), "-q", "-c", statement])
                .status(),
            None => Command::new("sqlite3")
                .arg(self.db())
                .arg(statement)
                .status(),
        }
        .unwrap();
        assert!(status.success(), "{statement}");
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// The command for `args` on this panel, with the log kept in the
    /// test's folder.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_panelkeeper"));
        command
            .env("PANELKEEPER_LOG_DIR", self.dir.path().join("logs"))
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .arg("--db")
            .arg(self.db())
            .args(args);
        command
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }
}

pub fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}
