//! Helpers shared by the core's integration tests: a fresh panel, with a
//! clock the test drives, on a real SQLite file in a temporary directory,
//! or, in a run with `PANELKEEPER_TEST_STORE=postgres`, in a database of
//! its own on a real PostgreSQL server (`pg`).

#![allow(dead_code)]

pub mod cli;
pub mod http;
pub mod imap;
pub mod moved;
pub mod pg;
pub mod smtp;

use chrono::{DateTime, TimeZone, Utc};
use panelkeeper::clock::ManualClock;
use panelkeeper::db::Location;
use panelkeeper::participants::import::{self, ImportReport};
use panelkeeper::{Panel, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct TestPanel {
    pub panel: Panel,
    pub location: Location,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
}

impl TestPanel {
    /// The panel file, for a test of what only a panel file does (another
    /// process's lock on it, a file an older version wrote); `None` on a
    /// team database, where such a test has nothing to check.
    pub fn file(&self) -> Option<PathBuf> {
        match &self.location {
            Location::File(path) => Some(path.clone()),
            Location::Postgres(_) => None,
        }
    }

    /// A second handle on the same panel, on the same clock: another
    /// process (the CLI beside the open app, a second computer).
    pub async fn another(&self) -> Panel {
        Panel::open(&self.location)
            .await
            .unwrap()
            .with_clock(self.clock.clone())
    }
}

/// The rows of `sql`, read straight from the panel's database (a file or
/// a team database), as a test checks what is stored.
pub async fn rows<T>(location: &Location, sql: &str) -> Vec<T>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin,
{
    use sqlx::Connection;
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    match location {
        Location::File(path) => {
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
        }
        Location::Postgres(url) => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
        }
    }
}

pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap()
}

pub async fn panel() -> TestPanel {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(start()));
    let location = if pg::chosen() {
        Location::Postgres(pg::database().await)
    } else {
        Location::File(dir.path().join("panel.db"))
    };
    let panel = Panel::open(&location)
        .await
        .unwrap()
        .with_clock(clock.clone());
    TestPanel {
        panel,
        location,
        clock,
        dir,
    }
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

/// A certificate authority and a certificate for 127.0.0.1 signed by it:
/// (the authority's PEM, the certificate's path, its key's path).
pub fn certificates(dir: &Path) -> (String, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let (cert, key_path) = (dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (ca.pem(), cert, key_path)
}
