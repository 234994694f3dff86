//! Suppression lists: people who must not be invited, such as current
//! customers from a CRM export. Only SHA-256 hashes of normalised emails are
//! stored, so a list can be kept without keeping the addresses; a file may
//! hold addresses or hashes already made the same way.

use super::fields::{Email, hash_normalised};
use super::import::RowError;
use crate::Panel;
use crate::db::either;
use crate::db::{instant, millis};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;
use std::collections::BTreeSet;
use ts_rs::TS;

/// A stored list and how many entries it has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SuppressionList {
    pub name: String,
    pub entries: u32,
    /// How many participants on the panel it matches.
    pub matching_participants: u32,
    pub created_at: DateTime<Utc>,
}

/// What a suppression import did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SuppressionImport {
    pub list: String,
    pub added: u32,
    pub already_listed: u32,
    pub rejected: Vec<RowError>,
}

fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// Adds the addresses (or hashes) in `text` to list `list`, one per line or
/// in the email column of a CSV with a header. Bad lines are reported and
/// the good ones added in one transaction.
pub async fn import(panel: &Panel, list: &str, text: &str) -> Result<SuppressionImport> {
    let name = list.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid(
            "list name",
            list,
            "must have 1 to 100 characters",
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate().peekable();
    // A CSV export: find the email column from the header.
    let mut column = None;
    let mut delimiter = ',';
    if let Some((_, header)) = lines.peek() {
        delimiter = if header.matches(';').count() > header.matches(',').count() {
            ';'
        } else {
            ','
        };
        let cells: Vec<String> = header
            .split(delimiter)
            .map(|c| c.trim().trim_matches('"').to_lowercase())
            .collect();
        if let Some(i) = cells.iter().position(|c| super::import::is_email_header(c)) {
            column = Some(i);
            lines.next();
        }
    }
    let mut hashes = BTreeSet::new();
    let mut rejected = Vec::new();
    for (i, line) in lines {
        let cell = match column {
            Some(c) => line.split(delimiter).nth(c).unwrap_or_default(),
            None => line,
        };
        let cell = cell.trim().trim_matches('"').trim();
        if cell.is_empty() {
            continue;
        }
        if is_hash(cell) {
            hashes.insert(cell.to_ascii_lowercase());
            continue;
        }
        match Email::parse(cell) {
            Ok(e) => {
                hashes.insert(hash_normalised(e.normalised()));
            }
            Err(e) => rejected.push(RowError {
                line: i as u64 + 1,
                column: Some("email".into()),
                reason: match e {
                    Error::InvalidInput { value, reason, .. } => format!("{value:?} {reason}"),
                    other => other.to_string(),
                },
            }),
        }
    }
    let hashes: Vec<String> = hashes.into_iter().collect();
    let mut tx = panel.begin().await?;
    let added = add_in(&mut tx, name, &hashes, panel.now()).await?;
    tx.commit().await?;
    Ok(SuppressionImport {
        list: name.to_string(),
        added,
        already_listed: hashes.len() as u32 - added,
        rejected,
    })
}

/// Adds `hashes` (of normalised emails) to the list `name`, made when
/// missing, inside the caller's write transaction; how many were new.
pub(crate) async fn add_in(
    conn: impl Into<crate::db::Conn<'_>>,
    name: &str,
    hashes: &[String],
    now: DateTime<Utc>,
) -> Result<u32> {
    let mut conn = conn.into();
    either!(conn.reborrow(), |c| {
        sqlx::query(
            "INSERT INTO suppression_lists (name, created_at) VALUES ($1, $2) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(millis(now))
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    let list_id: i64 = either!(conn.reborrow(), |c| sqlx::query_scalar(
        "SELECT id FROM suppression_lists WHERE name = $1"
    )
    .bind(name)
    .fetch_one(&mut *c)
    .await?);
    let mut added = 0;
    for chunk in hashes.chunks(10_000) {
        added += either!(conn.reborrow(), |c| {
            let mut q = QueryBuilder::new("INSERT INTO suppressions (hash, list_id) ");
            q.push_values(chunk, |mut b, h| {
                b.push_bind(h.clone()).push_bind(list_id);
            });
            q.push(" ON CONFLICT DO NOTHING");
            q.build().execute(&mut *c).await?.rows_affected()
        }) as u32;
    }
    super::touch(&mut conn).await?;
    Ok(added)
}

/// Every list, with its size and how many participants it matches.
pub async fn lists(panel: &Panel) -> Result<Vec<SuppressionList>> {
    let rows: Vec<(String, i64, i64, i64)> = either!(&mut panel.conn().await?, |c| sqlx::query_as(
        "SELECT l.name, l.created_at, \
           (SELECT COUNT(*) FROM suppressions s WHERE s.list_id = l.id), \
           (SELECT COUNT(*) FROM suppressions s JOIN participants p ON p.email_hash = s.hash \
             WHERE s.list_id = l.id AND p.erased_at IS NULL) \
         FROM suppression_lists l ORDER BY l.name",
    )
    .fetch_all(&mut *c)
    .await?);
    Ok(rows
        .into_iter()
        .map(|(name, created, entries, matching)| SuppressionList {
            name,
            entries: entries as u32,
            matching_participants: matching as u32,
            created_at: instant(created),
        })
        .collect())
}

/// Deletes a whole list.
pub async fn delete(panel: &Panel, list: &str) -> Result<()> {
    let mut tx = panel.begin().await?;
    let done = either!(&mut tx, |c| sqlx::query(
        "DELETE FROM suppression_lists WHERE name = $1"
    )
    .bind(list.trim())
    .execute(&mut *c)
    .await?
    .rows_affected());
    if done == 0 {
        return Err(Error::not_found("suppression list", list));
    }
    super::touch(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}
