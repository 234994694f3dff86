#![allow(dead_code)]

//! A real PostgreSQL server for the team-database runs of the tests: the
//! cluster `scripts/test` starts once for the whole run (its URL in
//! `PANELKEEPER_TEST_PG`), or, when a test binary runs on its own, one it
//! starts itself with `scripts/pg` and stops when it exits. Each test gets
//! a database of its own, made empty.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The server's URL, without a database name.
pub fn server() -> &'static str {
    static SERVER: OnceLock<String> = OnceLock::new();
    SERVER.get_or_init(|| match std::env::var("PANELKEEPER_TEST_PG") {
        Ok(url) if !url.is_empty() => url,
        _ => start_own(),
    })
}

static OWN: OnceLock<PathBuf> = OnceLock::new();

fn scripts_pg() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg")
}

fn start_own() -> String {
    let dir = tempfile::Builder::new()
        .prefix("panelkeeper-pg.")
        .tempdir_in("/tmp")
        .expect("a folder for the test cluster")
        .keep();
    let out = Command::new(scripts_pg())
        .arg("start")
        .arg(&dir)
        .output()
        .expect("run scripts/pg (scripts/setup installs PostgreSQL)");
    assert!(
        out.status.success(),
        "scripts/pg start failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    OWN.set(dir).unwrap();
    extern "C" fn stop() {
        if let Some(dir) = OWN.get() {
            let _ = Command::new(scripts_pg()).arg("stop").arg(dir).output();
        }
    }
    unsafe { libc::atexit(stop) };
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A new, empty database on the test server; returns its URL.
pub async fn database() -> String {
    use sqlx::Connection;
    let mut token = [0u8; 6];
    getrandom::fill(&mut token).unwrap();
    let name = format!("t_{}", hex::encode(token));
    let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", server()))
        .await
        .expect("connect to the test PostgreSQL server");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    format!("{}/{name}", server())
}

/// [`database`] for a test that is not async (the command line's): made
/// with `psql`, as a person would.
pub fn database_now() -> String {
    let mut token = [0u8; 6];
    getrandom::fill(&mut token).unwrap();
    let name = format!("t_{}", hex::encode(token));
    let out = Command::new("psql")
        .arg(format!("{}/postgres", server()))
        .args(["-q", "-c", &format!("CREATE DATABASE {name}")])
        .output()
        .expect("run psql (scripts/setup installs PostgreSQL's client)");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("{}/{name}", server())
}

/// Whether this run keeps its panels on the team database
/// (`PANELKEEPER_TEST_STORE=postgres`), not in a panel file.
pub fn chosen() -> bool {
    std::env::var("PANELKEEPER_TEST_STORE").is_ok_and(|s| s == "postgres")
}
