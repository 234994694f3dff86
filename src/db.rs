//! Opening the database: the one place that chooses the store from the
//! panel's location (a file is SQLite, a `postgres://` URL is PostgreSQL),
//! sets SQLite's pragmas and runs each store's migrations
//! (`migrations/sqlite/`, `migrations/postgres/`). Queries live with their
//! domain modules, not here; [`Conn`] and [`Tx`] carry them to either store.

pub(crate) mod bulk;
pub mod copy;
pub(crate) mod kept;
pub(crate) mod scan;
mod store;

pub use store::{Conn, Dialect, Location, Tx};
pub(crate) use store::{Pooled, Store, either};

use crate::error::Result;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};
use std::path::Path;
use std::time::Duration;

/// Opens (creating if needed) the database at `path` and brings its schema
/// up to date.
///
/// WAL lets the app read while a write is in progress; `synchronous=FULL`
/// makes each commit durable on power loss, which live notes rely on;
/// the busy timeout lets the CLI and the app share a file. A new panel gets
/// 16 KiB pages: a 100,000-row import writes its 47 MB in a quarter of the
/// WAL frames (about 8% faster in all), while a saved note, which writes a
/// few pages, costs about 5% more (1.2 ms instead of 1.15). An existing
/// file keeps the page size it was made with.
pub(crate) async fn open(location: &Location) -> Result<Store> {
    Ok(match location {
        Location::File(path) => Store::Sqlite(open_file(path).await?),
        Location::Postgres(url) => Store::Postgres(store::open_postgres(url).await?),
    })
}

/// Opens the SQLite file at `path` (see [`open`]).
pub(crate) async fn open_file(path: &Path) -> Result<SqlitePool> {
    make_private(path);
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .page_size(16384)
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
        // A connection to a file on this computer does not go away
        // between uses: it is not asked first whether it still answers.
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
    Ok(pool)
}

/// Personal data is private on disk: a new database file is created
/// readable by its owner only (mode 0600, whatever the umask), and an
/// existing one, with its WAL, its shared memory and its key file, is
/// restricted to its owner. SQLite gives the WAL and shared-memory files
/// the database file's own mode when it creates them.
pub(crate) fn make_private(path: &Path) {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        // SQLite says it in its own words (a missing folder, a read-only disk).
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "database file not created ahead")
        }
    }
    for suffix in ["", "-wal", "-shm", ".key"] {
        crate::files::make_private(&crate::files::beside(path, suffix));
    }
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

/// Writes `rows` as they are through `INSERT` statements of at most
/// `per_statement` rows each, on either store: `head` names the table and
/// its columns, `|b, row| …` binds one row's values in their order (the
/// binding is written once and checked for each store). Keep
/// `per_statement` times the columns under SQLite's 32,766 bound values
/// (PostgreSQL allows 65,535).
macro_rules! insert_all {
    ($conn:expr, $head:expr, $rows:expr, $per:expr, |$b:ident, $r:ident| $bind:block $(,)?) => {
        match Into::<$crate::db::Conn<'_>>::into($conn) {
            $crate::db::Conn::Sqlite(c) => {
                for chunk in $rows.chunks($per) {
                    let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new($head);
                    q.push_values(chunk, |mut $b, $r| $bind);
                    q.build().execute(&mut *c).await?;
                }
            }
            $crate::db::Conn::Postgres(c) => {
                for chunk in $rows.chunks($per) {
                    let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new($head);
                    q.push_values(chunk, |mut $b, $r| $bind);
                    q.build().execute(&mut *c).await?;
                }
            }
        }
    };
}
pub(crate) use insert_all;

/// After rows were written with their own ids (a generated panel, one
/// copied from another store), moves `table`'s identity past them on a
/// team database, so the next row written gets a free id. SQLite takes the
/// next id from the table itself.
pub(crate) async fn advance_ids(conn: impl Into<Conn<'_>>, table: &'static str) -> Result<()> {
    if let Conn::Postgres(c) = conn.into() {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
             coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
        )))
        .execute(c)
        .await?;
    }
    Ok(())
}

/// Switches off the connection's automatic WAL checkpoint for one large
/// write, returning the setting to give back to [`restore_autocheckpoint`].
///
/// The commit stays durable (the WAL is synced); what moves is the copy of
/// the written pages from the WAL into the database file, which SQLite
/// would otherwise do inside the commit. [`checkpoint_soon`] does it after.
pub(crate) async fn pause_autocheckpoint(conn: &mut SqliteConnection) -> Result<i64> {
    let previous: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query("PRAGMA wal_autocheckpoint = 0")
        .execute(&mut *conn)
        .await?;
    Ok(previous)
}

/// Gives the connection back its automatic checkpoint.
pub(crate) async fn restore_autocheckpoint(
    conn: &mut SqliteConnection,
    previous: i64,
) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA wal_autocheckpoint = {previous}"
    )))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Copies the WAL into the database file in the background, without
/// blocking readers or writers (a passive checkpoint). Returns the task, to
/// await where the caller needs it done.
pub(crate) fn checkpoint_soon(pool: &SqlitePool) -> tokio::task::JoinHandle<()> {
    let pool = pool.clone();
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            Ok(_) => tracing::debug!(ms = started.elapsed().as_millis() as u64, "checkpoint"),
            // The program is ending: closing the last connection checkpoints.
            Err(sqlx::Error::PoolClosed) => {}
            Err(e) => {
                tracing::warn!(error = %e, "checkpoint failed; SQLite retries on a later commit")
            }
        }
    })
}

/// A new, migrated panel file in a folder of its own (kept while the
/// folder is), for tests of the stored shape.
#[cfg(test)]
pub(crate) async fn new_file() -> (tempfile::TempDir, SqlitePool) {
    let dir = tempfile::tempdir().unwrap();
    let pool = open_file(&dir.path().join("panel.db")).await.unwrap();
    (dir, pool)
}

/// How SQLite plans `sql` on `pool`: the lines of `EXPLAIN QUERY PLAN`, in
/// order, its parameters left unbound. Tests hold a statement to the index
/// it is written for with it.
#[cfg(test)]
pub(crate) async fn query_plan(pool: &SqlitePool, sql: &str) -> Vec<String> {
    use sqlx::Row;
    sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(3))
        .collect()
}

/// The tests' PostgreSQL server: the run's (`PANELKEEPER_TEST_PG`), or one
/// started for this test binary with `scripts/pg`, as the integration
/// tests have it.
#[cfg(test)]
#[path = "../tests/common/pg.rs"]
mod test_pg;

/// A new, empty and migrated team database on the tests' PostgreSQL server,
/// for tests of the stored shape on that store.
#[cfg(test)]
pub(crate) async fn new_team_database() -> sqlx::PgPool {
    store::open_postgres(&test_pg::database().await)
        .await
        .unwrap()
}

/// A team database's statement and its values, for [`pg_query_plan`].
#[cfg(test)]
pub(crate) type PgQuery = sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// How PostgreSQL plans `sql` with the values `bind` gives it, when it may
/// neither read a whole table nor sort unless nothing else answers: the
/// lines of `EXPLAIN`. A test holds a statement to the index written for it
/// with it, whatever the planner would choose on a table of a few rows.
#[cfg(test)]
pub(crate) async fn pg_query_plan(
    pool: &sqlx::PgPool,
    sql: &str,
    bind: impl FnOnce(PgQuery) -> PgQuery,
) -> Vec<String> {
    pg_plan_with(pool, &[], sql, bind).await
}

/// [`pg_query_plan`] for the plan PostgreSQL keeps for a prepared
/// statement, its values unknown (as after five runs, when it is no worse).
#[cfg(test)]
pub(crate) async fn pg_kept_plan(
    pool: &sqlx::PgPool,
    sql: &str,
    bind: impl FnOnce(PgQuery) -> PgQuery,
) -> Vec<String> {
    pg_plan_with(pool, &["plan_cache_mode = force_generic_plan"], sql, bind).await
}

#[cfg(test)]
async fn pg_plan_with(
    pool: &sqlx::PgPool,
    settings: &[&str],
    sql: &str,
    bind: impl FnOnce(PgQuery) -> PgQuery,
) -> Vec<String> {
    let mut conn = pool.acquire().await.unwrap();
    let off = ["enable_seqscan = off", "enable_bitmapscan = off"];
    for set in off.iter().chain(settings) {
        sqlx::query(sqlx::AssertSqlSafe(format!("SET {set}")))
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    use sqlx::Row;
    bind(sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}"))))
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn page_size(pool: &SqlitePool) -> i64 {
        sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_new_panel_gets_large_pages_and_an_old_one_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.db");
        let pool = open_file(&new).await.unwrap();
        assert_eq!(page_size(&pool).await, 16384);
        pool.close().await;

        // A panel made with SQLite's default pages, as earlier versions made them.
        let old = dir.path().join("old.db");
        let made = SqlitePoolOptions::new()
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(&old)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal),
            )
            .await
            .unwrap();
        sqlx::query("CREATE TABLE kept (x INTEGER)")
            .execute(&made)
            .await
            .unwrap();
        made.close().await;
        let pool = open_file(&old).await.unwrap();
        assert_eq!(page_size(&pool).await, 4096);
        let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM kept")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(kept, 0);
    }
}
