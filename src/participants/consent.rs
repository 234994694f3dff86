//! Consent texts with versions, and which version each participant accepted
//! and when. A text is never changed once stored: a new wording is a new
//! version.

use super::ParticipantId;
use crate::Panel;
use crate::db::{Conn, either, instant, millis};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// One version of a consent text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ConsentText {
    #[ts(type = "number")]
    pub id: i64,
    pub topic: String,
    pub version: u32,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// A participant's acceptance of one version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    pub topic: String,
    pub version: u32,
    pub accepted_at: DateTime<Utc>,
    /// Whether a newer version of the text exists that they have not accepted.
    pub superseded: bool,
}

/// Stores a new version of the text for `topic` and returns it.
pub async fn add_text(panel: &Panel, topic: &str, body: &str) -> Result<ConsentText> {
    let topic = super::fields::parse_key("consent topic", topic)?;
    let body = super::fields::check_text("consent text", body)?;
    if body.is_empty() {
        return Err(Error::invalid("consent text", body, "is empty"));
    }
    let mut tx = panel.begin().await?;
    let version: i64 = either!(&mut tx, |c| sqlx::query_scalar(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM consent_texts WHERE topic = $1",
    )
    .bind(&topic)
    .fetch_one(&mut *c)
    .await?);
    either!(&mut tx, |c| sqlx::query(
        "INSERT INTO consent_texts (topic, version, body, created_at) VALUES ($1, $2, $3, $4)"
    )
    .bind(&topic)
    .bind(version)
    .bind(&body)
    .bind(millis(panel.now()))
    .execute(&mut *c)
    .await?
    .rows_affected());
    tx.commit().await?;
    text(panel, &topic, Some(version as u32)).await
}

/// Version `version` of a topic's text, or the latest.
pub async fn text(panel: &Panel, topic: &str, version: Option<u32>) -> Result<ConsentText> {
    let row: Option<(i64, String, i64, String, i64)> =
        either!(&mut panel.conn().await?, |c| sqlx::query_as(
            "SELECT id, topic, version, body, created_at FROM consent_texts \
         WHERE topic = $1 AND ($2 IS NULL OR version = $2) ORDER BY version DESC LIMIT 1",
        )
        .bind(topic.trim())
        .bind(version.map(i64::from))
        .fetch_optional(&mut *c)
        .await?);
    let (id, topic_, v, body, created) = row.ok_or_else(|| {
        Error::not_found(
            "consent text",
            match version {
                Some(v) => format!("{topic} version {v}"),
                None => topic.to_string(),
            },
        )
    })?;
    Ok(ConsentText {
        id,
        topic: topic_,
        version: v as u32,
        body,
        created_at: instant(created),
    })
}

/// Every version of every text.
pub async fn texts(panel: &Panel) -> Result<Vec<ConsentText>> {
    let rows: Vec<(i64, String, i64, String, i64)> = either!(&mut panel.conn().await?, |c| {
        sqlx::query_as(
        "SELECT id, topic, version, body, created_at FROM consent_texts ORDER BY topic, version",
    )
    .fetch_all(&mut *c)
.await?
    });
    Ok(rows
        .into_iter()
        .map(|(id, topic, v, body, created)| ConsentText {
            id,
            topic,
            version: v as u32,
            body,
            created_at: instant(created),
        })
        .collect())
}

/// Records that a participant accepted a version (the latest when `version`
/// is `None`) at `at` (now when `None`).
pub async fn accept(
    panel: &Panel,
    participant: ParticipantId,
    topic: &str,
    version: Option<u32>,
    at: Option<DateTime<Utc>>,
) -> Result<Consent> {
    let text = text(panel, topic, version).await?;
    let at = at.unwrap_or_else(|| panel.now());
    if at < text.created_at {
        return Err(Error::invalid(
            "accepted at",
            at.to_rfc3339(),
            format!(
                "is before version {} of {} was written",
                text.version, text.topic
            ),
        ));
    }
    let erased: Option<Option<i64>> = either!(&mut panel.conn().await?, |c| sqlx::query_scalar(
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
    either!(&mut panel.conn().await?, |c| {
        sqlx::query(
        "INSERT INTO participant_consents (participant_id, consent_text_id, accepted_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(participant.0)
    .bind(text.id)
    .bind(millis(at))
    .execute(&mut *c)
.await?
.rows_affected()
    });
    for_participant(panel, participant)
        .await?
        .into_iter()
        .find(|c| c.topic == text.topic && c.version == text.version)
        .ok_or_else(|| Error::not_found("consent", participant))
}

/// A participant's consents, by topic and version.
pub async fn for_participant(panel: &Panel, participant: ParticipantId) -> Result<Vec<Consent>> {
    let rows: Vec<(String, i64, i64, bool)> = either!(&mut panel.conn().await?, |c| {
        sqlx::query_as(
        "SELECT t.topic, t.version, c.accepted_at, \
           EXISTS (SELECT 1 FROM consent_texts n WHERE n.topic = t.topic AND n.version > t.version) \
         FROM participant_consents c JOIN consent_texts t ON t.id = c.consent_text_id \
         WHERE c.participant_id = $1 ORDER BY t.topic, t.version",
    )
    .bind(participant.0)
    .fetch_all(&mut *c)
.await?
    });
    Ok(rows
        .into_iter()
        .map(|(topic, version, at, superseded)| Consent {
            topic,
            version: version as u32,
            accepted_at: instant(at),
            superseded,
        })
        .collect())
}

/// Whether there is a consent text for `topic`.
pub(crate) async fn topic_exists(conn: impl Into<Conn<'_>>, topic: &str) -> Result<bool> {
    let mut conn = conn.into();
    Ok(either!(conn.reborrow(), |c| sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM consent_texts WHERE topic = $1)"
    )
    .bind(topic)
    .fetch_one(&mut *c)
    .await?))
}

/// The consent a session requires: the topic's current version, and who
/// accepted which version of it.
pub(crate) async fn requirement(
    conn: impl Into<Conn<'_>>,
    topic: &str,
) -> Result<super::governance::ConsentRequirement> {
    let mut conn = conn.into();
    let version: Option<i64> = either!(conn.reborrow(), |c| sqlx::query_scalar(
        "SELECT max(version) FROM consent_texts WHERE topic = $1"
    )
    .bind(topic)
    .fetch_one(&mut *c)
    .await?);
    let accepted: Vec<(i64, i64)> = either!(conn.reborrow(), |c| sqlx::query_as(
        "SELECT c.participant_id, max(t.version) FROM participant_consents c \
         JOIN consent_texts t ON t.id = c.consent_text_id WHERE t.topic = $1 \
         GROUP BY c.participant_id",
    )
    .bind(topic)
    .fetch_all(&mut *c)
    .await?);
    Ok(super::governance::ConsentRequirement {
        topic: topic.to_string(),
        version: version.unwrap_or(0) as u32,
        accepted: accepted.into_iter().map(|(p, v)| (p, v as u32)).collect(),
    })
}
