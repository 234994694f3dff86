//! Many rows through one prepared statement, bound and read with SQLite's
//! own C interface.
//!
//! The driver copies every bound value into an owned argument and hands it
//! to its worker thread; for a 100,000-row import that costs more than
//! SQLite's own work. Here the caller's connection is locked out of the
//! driver's worker for the length of one batch, and each row's values are
//! bound in place (borrowed, never copied) and stepped on the caller's
//! thread. The statement runs inside whatever transaction the connection
//! has open.

use crate::error::{Error, Result};
use libsqlite3_sys as ffi;
use sqlx::SqliteConnection;
use sqlx::sqlite::LockedSqliteHandle;
use std::ffi::{CStr, c_int};
use std::ptr::{self, NonNull};

/// One value of a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Int(i64),
    Text(&'a str),
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Self {
        Value::Text(s)
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(s: Option<&'a str>) -> Self {
        s.map_or(Value::Null, Value::Text)
    }
}

impl From<i64> for Value<'_> {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

/// A statement prepared on a connection locked away from the driver; rows
/// are written one [`Rows::write`] at a time. Dropping it finalises the
/// statement and hands the connection back to the driver.
pub(crate) struct Rows<'c> {
    handle: LockedSqliteHandle<'c>,
    stmt: NonNull<ffi::sqlite3_stmt>,
    params: usize,
}

impl<'c> Rows<'c> {
    /// Prepares `sql` (one statement with `?` parameters) on `conn`.
    pub(crate) async fn prepare(conn: &'c mut SqliteConnection, sql: &str) -> Result<Rows<'c>> {
        let mut handle = conn.lock_handle().await?;
        let db = handle.as_raw_handle().as_ptr();
        let len = c_int::try_from(sql.len()).map_err(|_| Error::database("statement too long"))?;
        let mut stmt = ptr::null_mut();
        // SAFETY: `db` is a live connection that the lock keeps to this
        // thread; `sql` outlives the call, and its length is passed, so it
        // needs no terminating NUL.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(db, sql.as_ptr().cast(), len, &mut stmt, ptr::null_mut())
        };
        if rc != ffi::SQLITE_OK {
            return Err(failure(db, rc, sql));
        }
        let stmt = NonNull::new(stmt)
            .ok_or_else(|| Error::database(format!("no statement in {sql:?}")))?;
        // SAFETY: `stmt` was just prepared and is valid.
        let params = unsafe { ffi::sqlite3_bind_parameter_count(stmt.as_ptr()) } as usize;
        Ok(Rows {
            handle,
            stmt,
            params,
        })
    }

    /// Binds one row's values, in parameter order, and runs the statement.
    pub(crate) fn write(&mut self, values: &[Value<'_>]) -> Result<()> {
        if values.len() != self.params {
            return Err(Error::database(format!(
                "{} values for {} parameters",
                values.len(),
                self.params
            )));
        }
        let stmt = self.stmt.as_ptr();
        let db = self.handle.as_raw_handle().as_ptr();
        for (i, value) in values.iter().enumerate() {
            let at = i as c_int + 1;
            // SAFETY: `stmt` is valid and not running (reset after every
            // step). Text is bound as SQLITE_STATIC: SQLite reads it only
            // until the step below, while `values` is still borrowed, and
            // the bindings are cleared before this function returns.
            let rc = unsafe {
                match *value {
                    Value::Null => ffi::sqlite3_bind_null(stmt, at),
                    Value::Int(n) => ffi::sqlite3_bind_int64(stmt, at, n),
                    Value::Text(s) => match c_int::try_from(s.len()) {
                        Ok(len) => ffi::sqlite3_bind_text(
                            stmt,
                            at,
                            s.as_ptr().cast(),
                            len,
                            ffi::SQLITE_STATIC(),
                        ),
                        Err(_) => ffi::SQLITE_TOOBIG,
                    },
                }
            };
            if rc != ffi::SQLITE_OK {
                // SAFETY: as above.
                unsafe { ffi::sqlite3_clear_bindings(stmt) };
                return Err(failure(db, rc, "binding a value"));
            }
        }
        // SAFETY: every parameter is bound; the statement is valid.
        let rc = unsafe { ffi::sqlite3_step(stmt) };
        // SAFETY: resetting and clearing a valid statement; after this no
        // pointer into `values` remains with SQLite.
        unsafe {
            ffi::sqlite3_reset(stmt);
            ffi::sqlite3_clear_bindings(stmt);
        }
        match rc {
            ffi::SQLITE_DONE | ffi::SQLITE_ROW => Ok(()),
            _ => Err(failure(db, rc, "writing a row")),
        }
    }
}

impl Rows<'_> {
    /// Runs the statement (a query) with `values` bound and calls `each`
    /// with every row it returns, read in place: no row is copied or handed
    /// between threads. Returns how many rows there were.
    pub(crate) fn read(
        &mut self,
        values: &[Value<'_>],
        mut each: impl FnMut(&Row<'_>) -> Result<()>,
    ) -> Result<u64> {
        if values.len() != self.params {
            return Err(Error::database(format!(
                "{} values for {} parameters",
                values.len(),
                self.params
            )));
        }
        let stmt = self.stmt.as_ptr();
        let db = self.handle.as_raw_handle().as_ptr();
        for (i, value) in values.iter().enumerate() {
            let at = i as c_int + 1;
            // SAFETY: as in `write`: the bound text is borrowed until the
            // statement is reset below, while `values` is still borrowed.
            let rc = unsafe {
                match *value {
                    Value::Null => ffi::sqlite3_bind_null(stmt, at),
                    Value::Int(n) => ffi::sqlite3_bind_int64(stmt, at, n),
                    Value::Text(s) => match c_int::try_from(s.len()) {
                        Ok(len) => ffi::sqlite3_bind_text(
                            stmt,
                            at,
                            s.as_ptr().cast(),
                            len,
                            ffi::SQLITE_STATIC(),
                        ),
                        Err(_) => ffi::SQLITE_TOOBIG,
                    },
                }
            };
            if rc != ffi::SQLITE_OK {
                // SAFETY: as above.
                unsafe { ffi::sqlite3_clear_bindings(stmt) };
                return Err(failure(db, rc, "binding a value"));
            }
        }
        let mut rows = 0u64;
        let outcome = loop {
            // SAFETY: every parameter is bound; the statement is valid.
            match unsafe { ffi::sqlite3_step(stmt) } {
                ffi::SQLITE_ROW => {
                    rows += 1;
                    let row = Row {
                        stmt,
                        _step: std::marker::PhantomData,
                    };
                    if let Err(e) = each(&row) {
                        break Err(e);
                    }
                }
                ffi::SQLITE_DONE => break Ok(rows),
                rc => break Err(failure(db, rc, "reading rows")),
            }
        };
        // SAFETY: resetting and clearing a valid statement; no pointer into
        // `values` or into a row's columns outlives this.
        unsafe {
            ffi::sqlite3_reset(stmt);
            ffi::sqlite3_clear_bindings(stmt);
        }
        outcome
    }
}

/// One row of a query, valid until the statement steps again.
pub(crate) struct Row<'s> {
    stmt: *mut ffi::sqlite3_stmt,
    _step: std::marker::PhantomData<&'s ()>,
}

impl Row<'_> {
    /// Column `i` as an integer (0 for NULL).
    pub(crate) fn int(&self, i: usize) -> i64 {
        // SAFETY: the statement is on a row; a column out of range reads 0.
        unsafe { ffi::sqlite3_column_int64(self.stmt, i as c_int) }
    }

    /// Column `i` as an integer, `None` for NULL.
    pub(crate) fn opt_int(&self, i: usize) -> Option<i64> {
        // SAFETY: as above.
        let null = unsafe { ffi::sqlite3_column_type(self.stmt, i as c_int) } == ffi::SQLITE_NULL;
        (!null).then(|| self.int(i))
    }

    /// Column `i` as text, borrowed until the next row; `None` for NULL
    /// (and for bytes that are not UTF-8, which the panel never stores).
    pub(crate) fn text(&self, i: usize) -> Option<&str> {
        // SAFETY: the pointer SQLite returns stays valid until the
        // statement steps or is reset, which the borrow of `self` (a row
        // lent to the callback) outlasts; its length comes from
        // sqlite3_column_bytes, called after sqlite3_column_text as the
        // SQLite documentation asks.
        unsafe {
            let p = ffi::sqlite3_column_text(self.stmt, i as c_int);
            if p.is_null() {
                return None;
            }
            let n = ffi::sqlite3_column_bytes(self.stmt, i as c_int) as usize;
            std::str::from_utf8(std::slice::from_raw_parts(p, n)).ok()
        }
    }
}

impl Drop for Rows<'_> {
    fn drop(&mut self) {
        // SAFETY: the statement is valid and finalised exactly once.
        unsafe { ffi::sqlite3_finalize(self.stmt.as_ptr()) };
    }
}

/// SQLite's error for `rc`, with its message for the connection.
fn failure(db: *mut ffi::sqlite3, rc: c_int, doing: &str) -> Error {
    // SAFETY: `db` is a live connection; the message is copied out at once.
    let message = unsafe {
        let m = ffi::sqlite3_errmsg(db);
        if m.is_null() {
            String::new()
        } else {
            CStr::from_ptr(m).to_string_lossy().into_owned()
        }
    };
    Error::sqlite(rc, format!("{doing}: {message} (code {rc})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn panel() -> (tempfile::TempDir, sqlx::SqlitePool) {
        let dir = tempfile::tempdir().unwrap();
        let pool = crate::db::open_file(&dir.path().join("p.db"))
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (a INTEGER, b TEXT, c TEXT UNIQUE)")
            .execute(&pool)
            .await
            .unwrap();
        (dir, pool)
    }

    #[tokio::test]
    async fn writes_borrowed_values_inside_the_transaction() {
        let (_dir, pool) = panel().await;
        let mut tx = pool.begin().await.unwrap();
        {
            let mut rows = Rows::prepare(&mut tx, "INSERT INTO t (a, b, c) VALUES (?, ?, ?)")
                .await
                .unwrap();
            for n in 0..3 {
                let text = format!("row {n} — ünïcode");
                rows.write(&[Value::Int(n), Value::Text(&text), Value::Null])
                    .unwrap();
            }
        }
        // The driver has its connection back, inside the same transaction.
        let seen: Vec<(i64, String)> = sqlx::query_as("SELECT a, b FROM t ORDER BY a")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        assert_eq!(seen[2], (2, "row 2 — ünïcode".to_string()));
        tx.rollback().await.unwrap();
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(left, 0, "the rows were part of the rolled-back transaction");
    }

    #[tokio::test]
    async fn a_broken_rule_is_an_error_and_the_statement_goes_on() {
        let (_dir, pool) = panel().await;
        let mut conn = pool.acquire().await.unwrap();
        let mut rows = Rows::prepare(&mut conn, "INSERT INTO t (a, b, c) VALUES (?, ?, ?)")
            .await
            .unwrap();
        rows.write(&[1.into(), "x".into(), "same".into()]).unwrap();
        let err = rows
            .write(&[2.into(), "y".into(), "same".into()])
            .unwrap_err();
        // The driver's words are logged and kept in the error, never shown.
        assert!(format!("{err:?}").contains("UNIQUE"), "{err:?}");
        assert!(!err.to_string().contains("UNIQUE"), "{err}");
        assert!(format!("{:?}", rows.write(&[3.into()]).unwrap_err()).contains("1 values for 3"));
        rows.write(&[4.into(), "z".into(), "other".into()]).unwrap();
        drop(rows);
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(n, 2);
    }

    #[tokio::test]
    async fn rows_are_read_in_place_with_their_nulls() {
        let (_dir, pool) = panel().await;
        let mut conn = pool.acquire().await.unwrap();
        {
            let mut rows = Rows::prepare(&mut conn, "INSERT INTO t (a, b, c) VALUES (?, ?, ?)")
                .await
                .unwrap();
            rows.write(&[1.into(), "Zoë".into(), Value::Null]).unwrap();
            rows.write(&[Value::Null, Value::Null, "x".into()]).unwrap();
        }
        let mut rows = Rows::prepare(
            &mut conn,
            "SELECT a, b, c FROM t WHERE rowid >= ? ORDER BY rowid",
        )
        .await
        .unwrap();
        let mut seen = Vec::new();
        let n = rows
            .read(&[1.into()], |row| {
                seen.push((
                    row.opt_int(0),
                    row.text(1).map(str::to_string),
                    row.text(2).map(str::to_string),
                ));
                Ok(())
            })
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            seen,
            [
                (Some(1), Some("Zoë".to_string()), None),
                (None, None, Some("x".to_string()))
            ]
        );
        // An error from the row's reader stops the reading and is returned.
        let stopped = rows.read(&[1.into()], |_| Err(Error::conflict("enough")));
        assert!(matches!(stopped, Err(Error::Conflict { .. })));
    }

    #[tokio::test]
    async fn a_bad_statement_is_refused() {
        let (_dir, pool) = panel().await;
        let mut conn = pool.acquire().await.unwrap();
        let err = Rows::prepare(&mut conn, "INSERT INTO nowhere VALUES (?)")
            .await
            .err()
            .unwrap();
        assert!(format!("{err:?}").contains("no such table"), "{err:?}");
    }
}
