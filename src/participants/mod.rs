//! Recruitment: the people on the panel and the rules for contacting them.
//!
//! Owns participants (fields, attributes, tags), CSV import and export,
//! screeners and quota cells, contact governance (history, rules,
//! suppression lists), consent and privacy (export, erasure). It does not
//! own sessions or invitations; those write into the contact history here.

pub mod consent;
pub mod csv_export;
pub mod fields;
pub mod governance;
pub mod history;
pub mod import;
pub(crate) mod index;
mod model;
mod packed;
pub mod privacy;
pub mod redact;
mod repo;
pub mod screener;
pub mod suppression;
pub mod timeline;

pub use model::*;
pub use repo::COUNT_CAP;
pub(crate) use repo::{BulkLoad, contact as contact_in, count as count_in, set_marks_many};

use crate::Panel;
use crate::db::Conn;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Adds a participant. Refuses an email another participant already has.
pub async fn create(panel: &Panel, input: &ParticipantInput) -> Result<Participant> {
    let valid = input.validate()?;
    let mut tx = panel.begin().await?;
    repo::check_email_free(&mut tx, &valid.email, None).await?;
    let ids = repo::insert_many(&mut tx, &[valid.columns()], panel.now()).await?;
    let created = repo::load(&mut tx, ids[0]).await?;
    tx.commit().await?;
    Ok(created)
}

/// Replaces a participant's fields, attributes and tags with `input`.
pub async fn update(
    panel: &Panel,
    id: ParticipantId,
    input: &ParticipantInput,
) -> Result<Participant> {
    let valid = input.validate()?;
    let mut tx = panel.begin().await?;
    repo::check_email_free(&mut tx, &valid.email, Some(id)).await?;
    repo::update(&mut tx, id, &valid, panel.now()).await?;
    let updated = repo::load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(updated)
}

/// One participant.
pub async fn get(panel: &Panel, id: ParticipantId) -> Result<Participant> {
    let mut conn = panel.conn().await?;
    repo::load(&mut conn, id).await
}

/// One participant, read on the caller's connection (inside its transaction).
pub(crate) async fn get_in(
    conn: impl Into<crate::db::Conn<'_>>,
    id: ParticipantId,
) -> Result<Participant> {
    repo::load(conn, id).await
}

/// Finds a participant by id (`42`) or email (`anna@example.com`).
pub async fn find(panel: &Panel, key: &str) -> Result<ParticipantId> {
    let mut conn = panel.conn().await?;
    repo::find(&mut conn, key).await
}

/// A page of participants matching `query`.
pub async fn list(panel: &Panel, query: &ParticipantQuery) -> Result<ParticipantPage> {
    query.check()?;
    let mut conn = panel.conn().await?;
    repo::list(&mut conn, query).await
}

/// Records that the participant opted out (`true`), or withdraws a mistaken
/// opt-out (`false`).
pub async fn set_opted_out(
    panel: &Panel,
    id: ParticipantId,
    opted_out: bool,
) -> Result<Participant> {
    let now = panel.now();
    let mut tx = panel.begin().await?;
    let updated = set_opted_out_in(&mut tx, now, id, opted_out).await?;
    tx.commit().await?;
    Ok(updated)
}

/// [`set_opted_out`] inside the caller's write transaction.
pub(crate) async fn set_opted_out_in(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    id: ParticipantId,
    opted_out: bool,
) -> Result<Participant> {
    let mut conn = conn.into();
    let current = repo::load(&mut conn, id).await?;
    // Keep the original opt-out time when it is set again.
    let at = match (opted_out, current.opted_out_at) {
        (true, Some(at)) => Some(at),
        (true, None) => Some(now),
        (false, _) => None,
    };
    repo::set_opted_out(&mut conn, id, at, now).await?;
    if opted_out {
        crate::sessions::roster::withdraw_session_mail(&mut conn, now, id).await?;
    }
    repo::load(&mut conn, id).await
}

/// What a bulk action does to each participant chosen in a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum BulkAction {
    /// Adds a tag (people who have it already are left as they are).
    Tag { tag: String },
    /// Takes a tag away.
    Untag { tag: String },
    /// Opts them out: no invitation any more, queued reminders withdrawn.
    OptOut,
}

/// What a bulk action did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BulkReport {
    /// People it changed.
    pub changed: u32,
    /// People it left as they were: the change was theirs already, or they
    /// were erased.
    pub unchanged: u32,
}

/// The most people one bulk action takes (a few pages of a list).
pub const BULK_MAX: usize = 5_000;

/// Does `action` to each of `ids` in one transaction: all of it, or
/// nothing when one of them fails (an unknown id, a tag that is not one).
pub async fn bulk(panel: &Panel, ids: &[ParticipantId], action: &BulkAction) -> Result<BulkReport> {
    if ids.len() > BULK_MAX {
        return Err(Error::invalid(
            "selection",
            ids.len().to_string(),
            format!("is more than {BULK_MAX} people at once: choose fewer"),
        ));
    }
    if let BulkAction::Tag { tag } | BulkAction::Untag { tag } = action {
        if fields::check_text("tag", tag)?.is_empty() {
            return Err(Error::invalid("tag", "", "is empty"));
        }
    }
    let now = panel.now();
    let mut report = BulkReport {
        changed: 0,
        unchanged: 0,
    };
    let mut tx = panel.begin().await?;
    for &id in ids {
        let p = repo::load(&mut tx, id).await?;
        if p.erased_at.is_some() {
            report.unchanged += 1;
            continue;
        }
        let changed = match action {
            BulkAction::OptOut => {
                if p.opted_out_at.is_some() {
                    false
                } else {
                    set_opted_out_in(&mut tx, now, id, true).await?;
                    true
                }
            }
            BulkAction::Tag { tag } | BulkAction::Untag { tag } => {
                let mut input = p.to_input();
                let before = input.tags.len();
                if matches!(action, BulkAction::Tag { .. }) {
                    input.tags.push(tag.clone());
                } else {
                    input.tags.retain(|t| !t.eq_ignore_ascii_case(tag.trim()));
                }
                let valid = input.validate()?;
                if valid.tags.len() == before {
                    false
                } else {
                    repo::update(&mut tx, id, &valid, now).await?;
                    true
                }
            }
        };
        if changed {
            report.changed += 1;
        } else {
            report.unchanged += 1;
        }
    }
    tx.commit().await?;
    Ok(report)
}

/// Finds a participant by id or by email, inside the caller's connection.
pub(crate) async fn find_in(conn: impl Into<Conn<'_>>, key: &str) -> Result<ParticipantId> {
    repo::find(conn, key).await
}

/// Marks or unmarks a participant as not to be contacted.
pub async fn set_do_not_contact(panel: &Panel, id: ParticipantId, on: bool) -> Result<Participant> {
    let now = panel.now();
    let mut tx = panel.begin().await?;
    repo::set_do_not_contact(&mut tx, id, on, now).await?;
    if on {
        crate::sessions::roster::withdraw_session_mail(&mut tx, now, id).await?;
    }
    let updated = repo::load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(updated)
}

/// An attribute name in use and how many participants have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AttributeKey {
    pub key: String,
    pub count: u32,
}

/// Every attribute name in use (for filters and screener editors), from
/// the counts every write keeps: a large panel answers at once, without its
/// panel index.
pub async fn attribute_keys(panel: &Panel) -> Result<Vec<AttributeKey>> {
    let mut conn = panel.conn().await?;
    Ok(repo::attribute_counts(&mut conn)
        .await?
        .into_iter()
        .map(|(key, count)| AttributeKey { key, count })
        .collect())
}

/// Everything the detail pane shows about one participant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantDetail {
    pub participant: Participant,
    pub governance: governance::GovernanceStatus,
    pub consents: Vec<consent::Consent>,
    pub history: Vec<history::Contact>,
}

/// A participant with their governance status now, consents and contact history.
pub async fn detail(panel: &Panel, id: ParticipantId) -> Result<ParticipantDetail> {
    let participant = get(panel, id).await?;
    let governance = governance::status(panel, id, panel.now()).await?;
    let consents = consent::for_participant(panel, id).await?;
    let history = history::for_participant(panel, id).await?;
    Ok(ParticipantDetail {
        participant,
        governance,
        consents,
        history,
    })
}

/// Which rules the stored normalised emails follow: 2 since compatibility
/// forms (NFKC) are folded.
const EMAIL_FOLDING: i64 = 2;

/// Brings stored normalised emails up to the current folding rules, once
/// per panel (a settings key records that it was done).
pub(crate) async fn refold_emails_once(panel: &Panel) -> Result<()> {
    let mut conn = panel.conn().await?;
    if crate::settings::get::<i64>(&mut conn, "email_folding").await? == Some(EMAIL_FOLDING) {
        return Ok(());
    }
    drop(conn);
    let mut tx = panel.begin().await?;
    let changed = repo::refold_emails(&mut tx).await?;
    crate::settings::put(&mut tx, "email_folding", &EMAIL_FOLDING).await?;
    tx.commit().await?;
    if changed > 0 {
        tracing::info!(changed, "stored emails folded by the current rules");
    }
    Ok(())
}

/// Raises the recruitment revision in the caller's transaction (for writes
/// made outside this module's own functions).
pub(crate) async fn touch(conn: impl Into<crate::db::Conn<'_>>) -> Result<()> {
    repo::touch(conn).await
}

/// Inserts already-checked participants in the caller's write transaction
/// as part of a bulk load (the demo generator's), which [`touch`]es once
/// it is finished.
pub(crate) async fn repo_insert(
    conn: impl Into<crate::db::Conn<'_>>,
    load: &mut BulkLoad,
    people: &[ValidParticipant],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<ParticipantId>> {
    let people: Vec<_> = people.iter().map(ValidParticipant::columns).collect();
    load.insert(conn, &people, now).await
}
