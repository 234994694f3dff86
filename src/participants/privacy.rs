//! Privacy: everything the panel holds about one person, as JSON, and
//! erasure. Erasure empties the personal fields and deletes attributes,
//! tags and consents, keeps the row (so what other records attach to it
//! stays, de-identified) and writes an erasure record.

use super::{Participant, ParticipantId, consent, history, repo};
use crate::Panel;
use crate::db::{instant, millis};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Everything held about one participant (a subject access export).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PersonalData {
    pub exported_at: DateTime<Utc>,
    pub participant: Participant,
    pub consents: Vec<consent::Consent>,
    pub contact_history: Vec<history::Contact>,
    /// Suppression lists matching their email (the lists hold only hashes).
    pub suppression_lists: Vec<String>,
    pub erasures: Vec<Erasure>,
}

/// The record that a participant was erased.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Erasure {
    pub participant: ParticipantId,
    pub erased_at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// Everything held about participant `id`.
pub async fn export(panel: &Panel, id: ParticipantId) -> Result<PersonalData> {
    let participant = super::get(panel, id).await?;
    let suppression_lists: Vec<String> = sqlx::query_scalar(
        "SELECT l.name FROM suppressions s JOIN suppression_lists l ON l.id = s.list_id \
         JOIN participants p ON p.email_hash = s.hash WHERE p.id = ? ORDER BY l.name",
    )
    .bind(id.0)
    .fetch_all(panel.pool())
    .await?;
    Ok(PersonalData {
        exported_at: panel.now(),
        consents: consent::for_participant(panel, id).await?,
        contact_history: history::for_participant(panel, id).await?,
        suppression_lists,
        erasures: erasures(panel, Some(id)).await?,
        participant,
    })
}

/// Erases participant `id`'s personal data. Erasing twice is refused.
pub async fn erase(panel: &Panel, id: ParticipantId, reason: Option<&str>) -> Result<Erasure> {
    let now = panel.now();
    let mut tx = panel.write().await?;
    let current = repo::load(&mut tx, id).await?;
    if let Some(at) = current.erased_at {
        return Err(Error::conflict(format!(
            "participant {id} was already erased on {}",
            at.format("%Y-%m-%d")
        )));
    }
    sqlx::query(
        "UPDATE participants SET name = ?, email = NULL, email_norm = NULL, email_hash = NULL, phone = NULL, \
         time_zone = NULL, language = NULL, source = NULL, attributes = '{}', tags = '[]', search_text = '', sort_name = '', \
         opted_out_at = NULL, \
         do_not_contact = 1, erased_at = ?, updated_at = ? WHERE id = ?",
    )
    .bind(format!("Erased participant {id}"))
    .bind(millis(now))
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM participant_consents WHERE participant_id = ?")
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
    // The history stays (it is what the contact rules and reports count) but
    // free-text details may hold personal words.
    sqlx::query("UPDATE contact_history SET detail = NULL WHERE participant_id = ?")
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    sqlx::query("INSERT INTO erasures (participant_id, erased_at, reason) VALUES (?, ?, ?)")
        .bind(id.0)
        .bind(millis(now))
        .bind(reason)
        .execute(&mut *tx)
        .await?;
    super::touch(&mut tx).await?;
    tx.commit().await?;
    Ok(Erasure {
        participant: id,
        erased_at: now,
        reason: reason.map(str::to_string),
    })
}

/// Erasure records, of one participant or all.
pub async fn erasures(panel: &Panel, id: Option<ParticipantId>) -> Result<Vec<Erasure>> {
    let rows: Vec<(i64, i64, Option<String>)> = sqlx::query_as(
        "SELECT participant_id, erased_at, reason FROM erasures WHERE ? IS NULL OR participant_id = ? ORDER BY id",
    )
    .bind(id.map(|i| i.0))
    .bind(id.map(|i| i.0))
    .fetch_all(panel.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(p, at, reason)| Erasure {
            participant: ParticipantId(p),
            erased_at: instant(at),
            reason,
        })
        .collect())
}
