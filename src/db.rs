//! Opening the database: the one place that sets SQLite's pragmas and runs
//! the migrations in `migrations/`. Queries live with their domain modules,
//! not here.

use crate::error::Result;
use chrono::{DateTime, Utc};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::time::Duration;

/// Opens (creating if needed) the database at `path` and brings its schema
/// up to date.
///
/// WAL lets the app read while a write is in progress; `synchronous=FULL`
/// makes each commit durable on power loss, which live notes rely on;
/// the busy timeout lets the CLI and the app share a file.
pub async fn open(path: &Path) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        // 64 MiB of page cache per connection (the default is 2 MiB): the
        // panel's indexes on emails and names take random-order inserts,
        // which thrash a small cache on a 100,000-person import.
        .pragma("cache_size", "-65536")
        .pragma("temp_store", "memory");
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}

/// Instants are stored as Unix milliseconds (UTC): exact, and ordered the
/// same way as text and as time.
pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// The inverse of [`millis`].
pub(crate) fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
