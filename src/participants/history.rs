//! The contact history governance reads: invitations, responses, sessions
//! taken part in, no-shows. The sessions module writes an entry whenever it
//! invites or takes attendance; researchers can log contact made outside
//! the app. Entries are never edited, only added.

use super::ParticipantId;
use crate::Panel;
use crate::db::{Conn, either, instant, millis};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use ts_rs::TS;

/// What kind of contact happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    Invited,
    Confirmed,
    Declined,
    Attended,
    Late,
    NoShow,
    Cancelled,
}

impl ContactKind {
    /// Every kind, in the order a session goes through them.
    pub const ALL: [ContactKind; 7] = [
        ContactKind::Invited,
        ContactKind::Confirmed,
        ContactKind::Declined,
        ContactKind::Attended,
        ContactKind::Late,
        ContactKind::NoShow,
        ContactKind::Cancelled,
    ];

    /// The name stored in the database and used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::Invited => "invited",
            ContactKind::Confirmed => "confirmed",
            ContactKind::Declined => "declined",
            ContactKind::Attended => "attended",
            ContactKind::Late => "late",
            ContactKind::NoShow => "no_show",
            ContactKind::Cancelled => "cancelled",
        }
    }
}

impl FromStr for ContactKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim().to_lowercase().replace('-', "_");
        ContactKind::ALL
            .into_iter()
            .find(|k| k.as_str() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = ContactKind::ALL.iter().map(|k| k.as_str()).collect();
                Error::invalid(
                    "contact kind",
                    s,
                    format!("must be one of {}", names.join(", ")),
                )
            })
    }
}

/// One entry of a participant's contact history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub kind: ContactKind,
    pub at: DateTime<Utc>,
    #[ts(type = "number | null")]
    pub session_id: Option<i64>,
    pub detail: Option<String>,
}

/// Adds an entry inside the caller's transaction, so the entry exists if and
/// only if the change that caused it commits.
pub async fn record_in(
    conn: impl Into<Conn<'_>>,
    participant: ParticipantId,
    kind: ContactKind,
    at: DateTime<Utc>,
    session_id: Option<i64>,
    detail: Option<&str>,
) -> Result<()> {
    let mut conn = conn.into();
    either!(conn.reborrow(), |c| {
        sqlx::query(
        "INSERT INTO contact_history (participant_id, kind, at, session_id, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(participant.0)
    .bind(kind.as_str())
    .bind(millis(at))
    .bind(session_id)
    .bind(detail)
    .execute(&mut *c)
.await?
.rows_affected()
    });
    super::touch(conn).await
}

/// Forgets what a person's attendance of a session recorded (attended,
/// late, no-show or cancelled), so that a correction replaces it: one
/// attendance entry per person and session.
pub(crate) async fn forget_outcome(
    conn: impl Into<Conn<'_>>,
    participant: ParticipantId,
    session_id: i64,
) -> Result<()> {
    let mut conn = conn.into();
    either!(conn.reborrow(), |c| sqlx::query(
        "DELETE FROM contact_history WHERE participant_id = $1 AND session_id = $2 \
         AND kind IN ('attended', 'late', 'no_show', 'cancelled')",
    )
    .bind(participant.0)
    .bind(session_id)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

/// A contact as it happened, written as it is: a generated panel's
/// (`demo`), or one copied from another store.
pub(crate) struct HistoryRecord {
    pub participant: ParticipantId,
    pub kind: ContactKind,
    pub at: DateTime<Utc>,
    pub session: Option<i64>,
}

/// Writes these contacts as they are, and tells the panel index.
pub(crate) async fn insert_records(
    conn: impl Into<Conn<'_>>,
    records: &[HistoryRecord],
) -> Result<()> {
    let mut conn = conn.into();
    crate::db::insert_all!(
        conn.reborrow(),
        "INSERT INTO contact_history (participant_id, kind, at, session_id) ",
        records,
        5_000,
        |b, r| {
            b.push_bind(r.participant.0)
                .push_bind(r.kind.as_str())
                .push_bind(millis(r.at))
                .push_bind(r.session);
        },
    );
    super::touch(conn).await
}

/// Logs a contact made outside the app (a phone screen, a session run
/// elsewhere), so governance counts it.
pub async fn record(
    panel: &Panel,
    participant: ParticipantId,
    kind: ContactKind,
    at: Option<DateTime<Utc>>,
    detail: Option<&str>,
) -> Result<()> {
    let now = panel.now();
    let at = at.unwrap_or(now);
    if at > now {
        return Err(Error::invalid("time", at.to_rfc3339(), "is in the future"));
    }
    let mut tx = panel.begin().await?;
    let erased: Option<Option<i64>> = either!(&mut tx, |c| sqlx::query_scalar(
        "SELECT erased_at FROM participants WHERE id = $1"
    )
    .bind(participant.0)
    .fetch_optional(&mut *c)
    .await?);
    match erased {
        None => return Err(Error::not_found("participant", participant)),
        Some(Some(_)) => {
            return Err(Error::conflict(format!(
                "participant {participant} was erased"
            )));
        }
        Some(None) => {}
    }
    record_in(&mut tx, participant, kind, at, None, detail).await?;
    tx.commit().await?;
    Ok(())
}

/// A participant's history, newest first.
pub async fn for_participant(panel: &Panel, participant: ParticipantId) -> Result<Vec<Contact>> {
    let rows: Vec<(String, i64, Option<i64>, Option<String>)> = either!(
        &mut panel.conn().await?,
        |c| {
            sqlx::query_as(
        "SELECT kind, at, session_id, detail FROM contact_history WHERE participant_id = $1 ORDER BY at DESC, id DESC",
    )
    .bind(participant.0)
    .fetch_all(&mut *c)
.await?
        }
    );
    rows.into_iter()
        .map(|(kind, at, session_id, detail)| {
            Ok(Contact {
                kind: kind.parse()?,
                at: instant(at),
                session_id,
                detail,
            })
        })
        .collect()
}

/// The titles of the sessions participant `id`'s contact history and notes
/// name, by session id.
pub async fn session_titles(
    panel: &Panel,
    participant: ParticipantId,
) -> Result<std::collections::HashMap<i64, String>> {
    let rows: Vec<(i64, String)> = either!(&mut panel.conn().await?, |c| {
        sqlx::query_as(
            "SELECT id, title FROM sessions WHERE id IN ( \
               SELECT session_id FROM contact_history WHERE participant_id = $1 \
               UNION SELECT session FROM notes WHERE participant = $1)",
        )
        .bind(participant.0)
        .fetch_all(&mut *c)
        .await?
    });
    Ok(rows.into_iter().collect())
}
