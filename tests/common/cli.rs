//! The `panelkeeper` command line run as a user runs it, on a panel in a
//! temporary folder (its log kept there too).

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

pub struct Cli {
    pub dir: tempfile::TempDir,
}

impl Cli {
    pub fn new() -> Cli {
        Cli {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("panel.db")
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
