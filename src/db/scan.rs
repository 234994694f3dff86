//! A query's rows read one at a time, in place, on either store: what the
//! in-memory panel index is built from. On a panel file the rows are read
//! through SQLite's own interface (`bulk::Rows`); on a team database they
//! come as a stream. Neither holds the whole result.

use super::Conn;
use super::bulk;
use crate::Result;
use futures_util::TryStreamExt;
use sqlx::Row as _;
use sqlx::postgres::PgRow;

/// One row, as the callback of [`scan`] sees it.
pub(crate) enum Fields<'r> {
    Sqlite(&'r bulk::Row<'r>),
    Postgres(&'r PgRow),
}

impl Fields<'_> {
    /// Column `i` as an integer (0 for NULL).
    pub(crate) fn int(&self, i: usize) -> i64 {
        self.opt_int(i).unwrap_or(0)
    }

    /// Column `i` as an integer, `None` for NULL.
    pub(crate) fn opt_int(&self, i: usize) -> Option<i64> {
        match self {
            Fields::Sqlite(row) => row.opt_int(i),
            Fields::Postgres(row) => row.try_get::<Option<i64>, _>(i).ok().flatten(),
        }
    }

    /// Column `i` as text, `None` for NULL.
    pub(crate) fn text(&self, i: usize) -> Option<&str> {
        match self {
            Fields::Sqlite(row) => row.text(i),
            Fields::Postgres(row) => row.try_get::<Option<&str>, _>(i).ok().flatten(),
        }
    }
}

/// Runs `sql` (no parameters; written so both stores read it the same, or
/// chosen by the caller for the store) and calls `each` with every row.
pub(crate) async fn scan(
    conn: Conn<'_>,
    sql: &str,
    mut each: impl FnMut(&Fields<'_>) -> Result<()>,
) -> Result<()> {
    match conn {
        Conn::Sqlite(c) => {
            let mut rows = bulk::Rows::prepare(c, sql).await?;
            rows.read(&[], |row| each(&Fields::Sqlite(row)))?;
        }
        Conn::Postgres(c) => {
            let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).fetch(c);
            while let Some(row) = rows.try_next().await? {
                each(&Fields::Postgres(&row))?;
            }
        }
    }
    Ok(())
}
