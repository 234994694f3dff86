//! Panel settings: small JSON documents stored by key in the `settings`
//! table (governance rules, SMTP). Each domain owns its keys and its types;
//! this module only reads and writes them.

use crate::Result;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::SqliteConnection;

/// The setting stored under `key`, or `None` when it was never set or no
/// longer parses as `T`.
pub(crate) async fn get<T: DeserializeOwned>(
    conn: &mut SqliteConnection,
    key: &str,
) -> Result<Option<T>> {
    let stored: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(stored.and_then(|s| serde_json::from_str(&s).ok()))
}

/// Stores `value` under `key`, replacing what was there.
pub(crate) async fn put<T: Serialize>(
    conn: &mut SqliteConnection,
    key: &str,
    value: &T,
) -> Result<()> {
    let json = serde_json::to_string(value).expect("settings serialise to JSON");
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES (?, ?) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(json)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes the setting under `key`.
pub(crate) async fn delete(conn: &mut SqliteConnection, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM settings WHERE key = ?")
        .bind(key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
