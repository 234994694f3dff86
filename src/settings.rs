//! Panel settings: small JSON documents stored by key in the `settings`
//! table (governance rules, SMTP). Each domain owns its keys and its types;
//! this module only reads and writes them.

use crate::Result;
use crate::db::{Conn, either};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The setting stored under `key`, or `None` when it was never set or no
/// longer parses as `T`.
pub(crate) async fn get<T: DeserializeOwned>(
    conn: impl Into<Conn<'_>>,
    key: &str,
) -> Result<Option<T>> {
    let stored: Option<String> = either!(conn, |c| sqlx::query_scalar(
        "SELECT value FROM settings WHERE key = $1"
    )
    .bind(key)
    .fetch_optional(&mut *c)
    .await?);
    Ok(stored.and_then(|s| serde_json::from_str(&s).ok()))
}

/// Stores `value` under `key`, replacing what was there.
pub(crate) async fn put<T: Serialize>(
    conn: impl Into<Conn<'_>>,
    key: &str,
    value: &T,
) -> Result<()> {
    let json = serde_json::to_string(value).expect("settings serialise to JSON");
    either!(conn, |c| sqlx::query(
        "INSERT INTO settings (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(&json)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

/// Removes the setting under `key`.
pub(crate) async fn delete(conn: impl Into<Conn<'_>>, key: &str) -> Result<()> {
    either!(conn, |c| sqlx::query("DELETE FROM settings WHERE key = $1")
        .bind(key)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}
