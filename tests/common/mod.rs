//! Helpers shared by the core's integration tests: a fresh panel on a real
//! SQLite file in a temporary directory, with a clock the test drives.

#![allow(dead_code)]

pub mod cli;
pub mod smtp;

use chrono::{DateTime, TimeZone, Utc};
use panelkeeper::clock::ManualClock;
use panelkeeper::participants::import::{self, ImportReport};
use panelkeeper::{Panel, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct TestPanel {
    pub panel: Panel,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
}

pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap()
}

pub async fn panel() -> TestPanel {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(start()));
    let panel = Panel::open(dir.path().join("panel.db"))
        .await
        .unwrap()
        .with_clock(clock.clone());
    TestPanel { panel, clock, dir }
}

pub fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name)
}

pub async fn import(panel: &Panel, name: &str) -> Result<ImportReport> {
    import::import_file(panel, &corpus(name), &|_| {}).await
}

pub async fn import_text(panel: &Panel, text: &str) -> Result<ImportReport> {
    import::import_bytes(
        panel,
        "test.csv",
        Some("test.csv"),
        text.as_bytes(),
        &|_| {},
    )
    .await
}
