//! The core's one error type.
//!
//! Every variant names what was wrong (the field, the value, the rule) so a
//! person can act on it. Errors cross to the desktop UI as tagged JSON
//! (`{"kind": "InvalidInput", "field": ..., ...}`) and the UI switches on
//! `kind`. Database details are logged, never shown as the whole message.

use serde::Serialize;
use ts_rs::TS;

/// What went wrong in the core, precise enough to act on.
#[derive(Debug, thiserror::Error, Serialize, TS)]
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
    /// The database failed; the detail is logged for the developer.
    #[error("the database could not complete the request ({detail})")]
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

    pub(crate) fn file(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::File {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// SQLite's primary result codes for "another connection holds the lock".
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;

/// Another process (the CLI beside the app, a long import) kept the panel
/// busy past the busy timeout: said in the person's words, not SQLite's.
fn busy() -> Error {
    Error::conflict(
        "the panel database is busy with another change (such as an import in another window); \
         nothing was changed, try again when it has finished",
    )
}

impl Error {
    /// An error SQLite returned through its C interface (`src/db/bulk.rs`).
    pub(crate) fn sqlite(code: i32, detail: String) -> Self {
        if matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED) {
            tracing::warn!(%detail, "database busy");
            return busy();
        }
        tracing::error!(%detail, "database error");
        Error::Database { detail }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            let code = db.code().and_then(|c| c.parse::<i32>().ok());
            if code.is_some_and(|c| matches!(c & 0xff, SQLITE_BUSY | SQLITE_LOCKED)) {
                tracing::warn!(error = %e, "database busy");
                return busy();
            }
        }
        tracing::error!(error = %e, "database error");
        Error::Database {
            detail: e.to_string(),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        tracing::error!(error = %e, "migration error");
        Error::Database {
            detail: format!("migrating the database: {e}"),
        }
    }
}
