//! The two stores a panel can live in, and what carries a statement to
//! either: a solo panel's SQLite file, or a team's PostgreSQL database.
//!
//! A domain's storage functions take a [`Conn`] (a connection or an open
//! transaction of either store) and run their statement on the store it
//! holds. A statement both stores read the same way is written once, with
//! `$1`-style parameters in order of first use (SQLite reads them as
//! numbered parameters), inside [`either!`]; where PostgreSQL has a better
//! way (`COPY`, `FOR UPDATE SKIP LOCKED`, `tsvector`), the function matches on
//! the store and says it in each one's words.

use crate::{Error, Result};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Postgres, Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Where a panel is kept: a SQLite file (a researcher alone), or a
/// PostgreSQL database a team shares, named by a `postgres://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file on this computer.
    File(PathBuf),
    /// A PostgreSQL database: `postgres://user@host:port/name`.
    Postgres(String),
}

impl Location {
    /// A `postgres://` (or `postgresql://`) URL is a team database;
    /// anything else is the path of a file.
    pub fn parse(s: &str) -> Location {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Location::Postgres(s.to_string())
        } else {
            Location::File(PathBuf::from(s))
        }
    }

    /// The location as a person reads it: the file's path, or the URL
    /// without its password.
    pub fn display(&self) -> String {
        match self {
            Location::File(path) => path.display().to_string(),
            Location::Postgres(url) => without_password(url),
        }
    }
}

impl From<&str> for Location {
    fn from(s: &str) -> Location {
        Location::parse(s)
    }
}

impl From<&Path> for Location {
    fn from(path: &Path) -> Location {
        match path.to_str() {
            Some(s) => Location::parse(s),
            None => Location::File(path.to_path_buf()),
        }
    }
}

impl From<PathBuf> for Location {
    fn from(path: PathBuf) -> Location {
        Location::from(path.as_path())
    }
}

impl From<&PathBuf> for Location {
    fn from(path: &PathBuf) -> Location {
        Location::from(path.as_path())
    }
}

impl From<&Location> for Location {
    fn from(location: &Location) -> Location {
        location.clone()
    }
}

/// `postgres://user:secret@host/db?options` as `postgres://user@host/db`:
/// the password and every option (one may be `password=`) left out. The
/// user ends at the last `@` before the host, as the driver reads it.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            format!("{scheme}://{user}@{host}{path}")
        }
        None => format!("{scheme}://{authority}{path}"),
    }
}

/// The connections one process keeps to a team database.
const TEAM_CONNECTIONS: u32 = 8;

/// How long a team database's connection may sit unused before it is
/// checked, when taken again, for a server that went away meanwhile.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Connects to the team database at `url` and brings its schema up to date.
/// Several processes on several machines share it: each keeps a few
/// connections, and waits a while for one rather than failing at once.
pub(crate) async fn open_postgres(url: &str) -> Result<PgPool> {
    let options = PgConnectOptions::from_str(url).map_err(|e| {
        Error::invalid(
            "database",
            without_password(url),
            format!("is not a PostgreSQL URL ({e}); write postgres://user@host:port/name"),
        )
    })?;
    let pool = PgPoolOptions::new()
        .max_connections(TEAM_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(30))
        // A connection taken again within moments of its last use is not
        // asked first whether it still answers (a round trip for every
        // statement of a busy worker or server); one idle longer is, and
        // is replaced if the server went away meanwhile.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await
        .map_err(|e| unreachable(url, e))?;
    sqlx::migrate!("./migrations/postgres").run(&pool).await?;
    Ok(pool)
}

/// A team database that cannot be reached, in words a person can act on.
fn unreachable(url: &str, e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut => {
            tracing::warn!(error = %e, "team database unreachable");
            Error::Storage {
                reason: format!(
                    "the team database at {} cannot be reached; check that its server is \
                     running and this computer can reach it",
                    without_password(url)
                ),
            }
        }
        e => Error::from(e),
    }
}

/// A panel's open database.
#[derive(Debug, Clone)]
pub(crate) enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Store {
    /// How many connections the pool keeps at most.
    pub(crate) fn connections(&self) -> u32 {
        match self {
            Store::Sqlite(pool) => pool.options().get_max_connections(),
            Store::Postgres(pool) => pool.options().get_max_connections(),
        }
    }

    /// A connection from the pool, for reads and single statements.
    pub(crate) async fn acquire(&self) -> Result<Pooled> {
        Ok(match self {
            Store::Sqlite(pool) => Pooled::Sqlite(pool.acquire().await?),
            Store::Postgres(pool) => Pooled::Postgres(pool.acquire().await?),
        })
    }

    /// A write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so reads inside it cannot be raced by another
    /// writer; on PostgreSQL rows are locked as they are written, and a
    /// rule that reads before it writes locks what it reads.
    pub(crate) async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Store::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Store::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    pub(crate) async fn close(&self) {
        match self {
            Store::Sqlite(pool) => pool.close().await,
            Store::Postgres(pool) => pool.close().await,
        }
    }

    /// On a team database, a connection of its own that hears the
    /// database's notices on `channels` (`LISTEN`), beside the pool; a
    /// panel file has none.
    pub(crate) async fn listener(
        &self,
        channels: &[&str],
    ) -> Result<Option<sqlx::postgres::PgListener>> {
        let Store::Postgres(pool) = self else {
            return Ok(None);
        };
        let own = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_with((*pool.connect_options()).clone())
            .await?;
        let mut listener = sqlx::postgres::PgListener::connect_with(&own).await?;
        listener.listen_all(channels.iter().copied()).await?;
        Ok(Some(listener))
    }
}

/// A pooled connection of either store.
#[derive(Debug)]
pub(crate) enum Pooled {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

impl Pooled {
    /// The connection, to hand to storage functions.
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            Pooled::Sqlite(c) => Conn::Sqlite(c),
            Pooled::Postgres(c) => Conn::Postgres(c),
        }
    }
}

impl<'a> From<&'a mut Pooled> for Conn<'a> {
    fn from(pooled: &'a mut Pooled) -> Conn<'a> {
        pooled.conn()
    }
}

/// A write transaction of either store. Dropped without [`Tx::commit`], it
/// rolls back.
#[derive(Debug)]
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    /// The transaction's connection, to hand to storage functions.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(tx) => Conn::Sqlite(tx),
            Tx::Postgres(tx) => Conn::Postgres(tx),
        }
    }

    /// Makes every change in the transaction durable, at once.
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Undoes every change in the transaction.
    pub async fn rollback(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await?,
            Tx::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

impl<'a> From<&'a mut Tx> for Conn<'a> {
    fn from(tx: &'a mut Tx) -> Conn<'a> {
        tx.conn()
    }
}

/// A connection (or an open transaction) of either store, lent to a
/// storage function.
#[derive(Debug)]
pub enum Conn<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

impl Conn<'_> {
    /// The SQL dialect of the store this connection is to.
    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The same connection lent again, for one more statement.
    pub fn reborrow(&mut self) -> Conn<'_> {
        match self {
            Conn::Sqlite(c) => Conn::Sqlite(c),
            Conn::Postgres(c) => Conn::Postgres(c),
        }
    }
}

impl<'a, 'b> From<&'a mut Conn<'b>> for Conn<'a> {
    fn from(conn: &'a mut Conn<'b>) -> Conn<'a> {
        conn.reborrow()
    }
}

impl<'a> From<&'a mut SqliteConnection> for Conn<'a> {
    fn from(c: &'a mut SqliteConnection) -> Conn<'a> {
        Conn::Sqlite(c)
    }
}

impl<'a, 'c> From<&'a mut Transaction<'c, Sqlite>> for Conn<'a> {
    fn from(tx: &'a mut Transaction<'c, Sqlite>) -> Conn<'a> {
        Conn::Sqlite(tx)
    }
}

impl<'a, 'c> From<&'a mut Transaction<'c, Postgres>> for Conn<'a> {
    fn from(tx: &'a mut Transaction<'c, Postgres>) -> Conn<'a> {
        Conn::Postgres(tx)
    }
}

impl<'a> From<&'a mut PoolConnection<Sqlite>> for Conn<'a> {
    fn from(c: &'a mut PoolConnection<Sqlite>) -> Conn<'a> {
        Conn::Sqlite(c)
    }
}

impl<'a> From<&'a mut PgConnection> for Conn<'a> {
    fn from(c: &'a mut PgConnection) -> Conn<'a> {
        Conn::Postgres(c)
    }
}

/// The few pieces of SQL the two stores spell differently, for a statement
/// written once around them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The function that builds a JSON object from key, value pairs.
    pub fn json_object(self) -> &'static str {
        match self {
            Dialect::Sqlite => "json_object",
            Dialect::Postgres => "json_build_object",
        }
    }

    /// The JSON array (as text) of `expr` over the rows, in `order`: `[]`
    /// for none.
    pub fn json_array_of(self, expr: &str, order: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_group_array({expr} ORDER BY {order})"),
            Dialect::Postgres => {
                format!("coalesce(json_agg({expr} ORDER BY {order}), '[]')::text")
            }
        }
    }

    /// `expr` read as JSON, where a subquery gave it as text (SQLite) or
    /// already as JSON (PostgreSQL).
    pub fn json(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json({expr})"),
            Dialect::Postgres => expr.to_string(),
        }
    }

    /// The text of key `$n` (a parameter) of the JSON object `expr`.
    pub fn json_text(self, expr: &str, n: u32) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({expr}, '$.' || ${n})"),
            Dialect::Postgres => format!("({expr} ->> ${n})"),
        }
    }

    /// The ids in the JSON array bound as parameter `n` (`[1, 2, 3]`), for
    /// `id IN (…)`.
    pub fn ids_of_json(self, n: u32) -> String {
        match self {
            Dialect::Sqlite => format!("SELECT value FROM json_each(${n})"),
            Dialect::Postgres => format!("SELECT jsonb_array_elements_text(${n}::jsonb)::bigint"),
        }
    }
}

/// Runs `$body` on whichever store `$conn` holds, with `$c` bound to that
/// store's connection: for a statement both stores read the same way.
macro_rules! either {
    ($conn:expr, |$c:ident| $body:expr) => {
        match Into::<$crate::db::Conn<'_>>::into($conn) {
            $crate::db::Conn::Sqlite($c) => $body,
            $crate::db::Conn::Postgres($c) => $body,
        }
    };
}
pub(crate) use either;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_url_is_a_team_database_and_anything_else_a_file() {
        assert_eq!(
            Location::parse("postgres://pk@db.example.com/panel"),
            Location::Postgres("postgres://pk@db.example.com/panel".into())
        );
        assert!(matches!(
            Location::parse("postgresql://localhost/p"),
            Location::Postgres(_)
        ));
        assert_eq!(
            Location::from(PathBuf::from("/home/r/panel.db")),
            Location::File("/home/r/panel.db".into())
        );
        assert!(matches!(Location::parse("postgres.db"), Location::File(_)));
    }

    #[test]
    fn a_url_is_shown_without_its_password() {
        assert_eq!(
            Location::parse("postgres://pk:s3cret@db:5432/panel").display(),
            "postgres://pk@db:5432/panel"
        );
        assert_eq!(
            without_password("postgres://db/panel"),
            "postgres://db/panel"
        );
        assert_eq!(
            without_password("postgres://pk:p@ss@db/panel?password=s3cret&sslmode=require"),
            "postgres://pk@db/panel"
        );
    }

    /// SQLite reads `$1`-style parameters as numbered ones, so one text
    /// serves both stores, a parameter used twice included.
    #[tokio::test]
    async fn sqlite_reads_numbered_dollar_parameters() {
        use sqlx::Connection;
        let mut c = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        let (a, b, again): (i64, String, i64) =
            either!(&mut c, |c| sqlx::query_as("SELECT $1 + 1, $2, $1 * 10")
                .bind(4_i64)
                .bind("two")
                .fetch_one(&mut *c)
                .await
                .unwrap());
        assert_eq!((a, b.as_str(), again), (5, "two", 40));
    }
}
