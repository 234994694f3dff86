//! The core's one error type.
//!
//! Every variant names what was wrong (the field, the value, the rule) so a
//! person can act on it. Errors cross to the desktop UI as tagged JSON
//! (`{"kind": "InvalidInput", "field": ..., ...}`) and the UI switches on
//! `kind`. Database details are logged, never shown as the whole message.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What went wrong in the core, precise enough to act on. A team server's
/// answers carry it as they are, and the desktop app connected to the
/// server reads it back (`crate::remote`).
#[derive(Debug, thiserror::Error, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all_fields = "camelCase")]
pub enum Error {
    /// A record the caller named does not exist.
    #[error("{what} {id} was not found")]
    NotFound { what: String, id: String },
    /// A value broke a rule; nothing was changed.
    #[error("{field} {value:?} is not valid: {reason}")]
    InvalidInput {
        field: String,
        value: String,
        reason: String,
    },
    /// The request contradicts what is already stored.
    #[error("{reason}")]
    Conflict { reason: String },
    /// A whole file could not be used (not a row of it: rows are reported one by one).
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    /// Another process (the CLI beside the app, a long import) kept the
    /// panel database busy past the wait; nothing was changed.
    #[error(
        "the panel database is busy with another change (such as an import in another window); \
         nothing was changed, try again when it has finished"
    )]
    Busy,
    /// The disk that holds the panel database is full; nothing was saved.
    #[error(
        "the disk that holds the panel database is full, so nothing was saved; \
         free some space and try again"
    )]
    DiskFull,
    /// The database file cannot be used as it is (read-only, damaged, or
    /// the disk failed), said in a person's words.
    #[error("{reason}")]
    Storage { reason: String },
    /// A team server's call came without a current sign-in (none, signed
    /// out, or expired).
    #[error("you are not signed in, or your sign-in has ended; sign in again")]
    SignedOut,
    /// The email address or the password was wrong (which one is not said).
    #[error("the email address or the password is not right")]
    SignInRefused,
    /// Too many sign-ins failed lately for this account or from this
    /// address; the next try must wait.
    #[error("too many sign-ins failed; wait {seconds} seconds and try again")]
    SlowDown { seconds: i64 },
    /// A change reached the team server without the sign-in's CSRF token:
    /// it did not come from Panelkeeper's own page.
    #[error(
        "the request did not come from Panelkeeper's own page, so nothing was done; \
         reload the page and try again"
    )]
    Csrf,
    /// The signed-in person's role does not allow this.
    #[error("this needs the {needs} role, which your account does not have")]
    Forbidden { needs: crate::sessions::staff::Role },
    /// The team server this computer is connected to could not be
    /// reached; nothing was saved.
    #[error(
        "offline: not saved. The team server {server} cannot be reached; \
         try again when the connection is back"
    )]
    Offline { server: String },
    /// A live note typed in the desktop app is kept on this computer and
    /// sent to the team server when it can be (`why` it cannot now).
    #[error("the note is kept on this computer and will be sent when it can be: {why}")]
    NoteKept { why: String },
    /// The panel mailbox could not be reached, logged in to or read; what
    /// was read before is kept, and nothing is read twice.
    #[error("the panel mailbox could not be read: {reason}")]
    Mailbox { reason: String },
    /// The database failed in a way a person cannot act on; the detail is
    /// logged for the developer, never shown.
    #[error(
        "the panel database could not complete the request, so it was not done \
         (the details are in Panelkeeper's log)"
    )]
    Database {
        #[serde(skip)]
        #[ts(skip)]
        detail: String,
    },
}

/// Result with the core's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn not_found(what: &str, id: impl ToString) -> Self {
        Error::NotFound {
            what: what.to_string(),
            id: id.to_string(),
        }
    }

    pub(crate) fn invalid(
        field: &str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        let mut value: String = value.into();
        if value.chars().count() > 80 {
            value = value.chars().take(77).collect::<String>() + "...";
        }
        Error::InvalidInput {
            field: field.to_string(),
            value,
            reason: reason.into(),
        }
    }

    pub(crate) fn conflict(reason: impl Into<String>) -> Self {
        Error::Conflict {
            reason: reason.into(),
        }
    }

    /// A failure a person cannot act on, logged with its detail (which the
    /// message leaves out).
    pub(crate) fn database(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        tracing::error!(%detail, "database error");
        Error::Database { detail }
    }

    pub(crate) fn file(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::File {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// SQLite's primary result codes that a person can act on.
mod code {
    pub const PERM: i32 = 3;
    pub const BUSY: i32 = 5;
    pub const LOCKED: i32 = 6;
    pub const READONLY: i32 = 8;
    pub const IOERR: i32 = 10;
    pub const CORRUPT: i32 = 11;
    pub const FULL: i32 = 13;
    pub const CANTOPEN: i32 = 14;
    pub const NOTADB: i32 = 26;
    /// The shared-memory file beside the database could not be grown: on a
    /// full disk, what opening a panel meets first.
    pub const IOERR_SHMSIZE: i32 = 10 | (19 << 8);
}

impl Error {
    /// The error for a SQLite result code (primary or extended), with the
    /// driver's own words logged and kept out of what a person reads.
    pub(crate) fn sqlite(code: i32, detail: String) -> Self {
        let error = match code & 0xff {
            _ if code == code::IOERR_SHMSIZE => Error::DiskFull,
            code::BUSY | code::LOCKED => {
                tracing::warn!(%detail, "database busy");
                return Error::Busy;
            }
            code::FULL => Error::DiskFull,
            code::READONLY | code::PERM => Error::Storage {
                reason: "the panel database cannot be written (the file or its folder is \
                         read-only), so nothing was saved; check their permissions"
                    .into(),
            },
            code::CORRUPT | code::NOTADB => Error::Storage {
                reason: "the panel database file is damaged or is not a Panelkeeper database; \
                         nothing was changed (restore it from a backup)"
                    .into(),
            },
            code::IOERR => Error::Storage {
                reason: "the disk failed to read or write the panel database, so the request \
                         was not done; check the disk and try again"
                    .into(),
            },
            code::CANTOPEN => Error::Storage {
                reason: "the panel database file cannot be opened; check that its folder \
                         exists and can be written"
                    .into(),
            },
            _ => Error::Database {
                detail: detail.clone(),
            },
        };
        tracing::error!(code, %detail, "database error");
        error
    }

    /// The error for a PostgreSQL SQLSTATE, with the server's own words
    /// logged and kept out of what a person reads.
    pub(crate) fn postgres(state: &str, detail: String) -> Self {
        let error = match state {
            // Another writer held the rows (a serialisation failure, a
            // deadlock broken, a lock not granted in time).
            "40001" | "40P01" | "55P03" => {
                tracing::warn!(%detail, "team database busy");
                return Error::Busy;
            }
            "53100" => Error::DiskFull,
            // Another process wrote the same value first (an email, a
            // version number) between this one's check and its write.
            "23505" => Error::Conflict {
                reason: "someone else saved the same thing at the same moment, so this was \
                         not saved; look again and try once more"
                    .into(),
            },
            "25006" | "42501" => Error::Storage {
                reason: "the team database refuses changes from this account (it is \
                         read-only or lacks the rights), so nothing was saved; ask whoever \
                         runs the database"
                    .into(),
            },
            s if s.starts_with("08") || s.starts_with("57") => Error::Storage {
                reason: "the connection to the team database was lost or refused, so the \
                         request was not done; try again"
                    .into(),
            },
            _ => Error::Database {
                detail: detail.clone(),
            },
        };
        tracing::error!(state, %detail, "database error");
        error
    }

    /// Whether another process holding the database was the whole problem
    /// (so the same request can simply be tried again).
    pub fn is_busy(&self) -> bool {
        matches!(self, Error::Busy)
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) => {
                if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                    return Error::postgres(pg.code(), e.to_string());
                }
                if let Some(code) = db.code().and_then(|c| c.parse::<i32>().ok()) {
                    return Error::sqlite(code, e.to_string());
                }
            }
            sqlx::Error::PoolTimedOut => {
                tracing::warn!(error = %e, "database busy: no connection free");
                return Error::Busy;
            }
            sqlx::Error::Io(io) if io.raw_os_error() == Some(28) => {
                tracing::error!(error = %e, "disk full");
                return Error::DiskFull;
            }
            _ => {}
        }
        tracing::error!(error = %e, "database error");
        Error::Database {
            detail: e.to_string(),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        if let sqlx::migrate::MigrateError::Execute(inner) = e {
            return Error::from(inner);
        }
        tracing::error!(error = %e, "migration error");
        Error::Database {
            detail: format!("migrating the database: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_codes_become_words_a_person_can_act_on() {
        assert!(Error::sqlite(5, "database is locked".into()).is_busy());
        assert!(Error::sqlite(517, "database is locked".into()).is_busy()); // BUSY_SNAPSHOT
        assert!(matches!(
            Error::sqlite(13, "database or disk is full".into()),
            Error::DiskFull
        ));
        let readonly = Error::sqlite(1032, "attempt to write a readonly database".into());
        assert!(readonly.to_string().contains("read-only"));
        assert!(Error::postgres("40P01", "deadlock detected".into()).is_busy());
        assert!(matches!(
            Error::postgres("53100", "could not extend file".into()),
            Error::DiskFull
        ));
        let hidden = Error::postgres("42P01", "relation \"outbox\" does not exist".into());
        assert!(!hidden.to_string().contains("relation"), "{hidden}");
        let other = Error::sqlite(1, "LIKE or GLOB pattern too complex".into());
        assert!(matches!(other, Error::Database { .. }));
        assert!(!other.to_string().contains("GLOB"), "{other}");
    }
}
