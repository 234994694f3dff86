//! Privacy: everything the panel holds about one person (a subject access
//! export, as JSON a person can read), and erasure.
//!
//! Erasure removes the person's personal data wherever the panel holds it,
//! in one transaction, and says what it did item by item:
//! - the participant's own fields, attributes, tags and consents;
//! - every queued message to or about them is withdrawn; messages already
//!   sent stay recorded as sent, with their personal fields removed (the
//!   recipient, names in the text, the calendar file);
//! - notes attributed to them or naming them (name, email, phone): for each
//!   the researcher chose to take out the matches, take out the whole text,
//!   or keep it with a recorded reason; earlier versions of those notes and
//!   the full-text index follow;
//! - issue summaries, details and resolutions, contact-log outcomes, the
//!   audit trail, contact-history details and the erasure reason itself.
//!
//! What stays: the rows, counts, times, hand-offs and the de-identified
//! erasure record, so statistics and the follow-up report are unchanged.
//! The database overwrites what it deletes during an erasure
//! (`secure_delete`, and the full-text index's own `secure-delete`); the
//! file is then rebuilt (`VACUUM`) and the write-ahead log emptied, so no
//! earlier copy of the text is left in the file's unused space either.

use super::redact::{ERASED, Identity};
use super::{Participant, ParticipantId, consent, history, repo};
use crate::Panel;
use crate::db::{instant, millis};
use crate::error::{Error, Result};
use crate::mail::OutboxMessage;
use crate::notes::NoteId;
use crate::sessions::SessionId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Row, SqliteConnection};
use std::collections::{BTreeMap, BTreeSet};
use ts_rs::TS;

/// Everything held about one participant (a subject access export).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PersonalData {
    /// What each part of this export is, in plain words.
    pub about: BTreeMap<String, String>,
    pub exported_at: DateTime<Utc>,
    pub participant: Participant,
    pub consents: Vec<consent::Consent>,
    pub contact_history: Vec<history::Contact>,
    /// Sessions they were invited to, with their answer and attendance.
    pub sessions: Vec<SessionTaken>,
    /// Notes attributed to them, or naming them.
    pub notes: Vec<NoteHeld>,
    /// Issues they raised, with who owns each and what was done.
    pub issues: Vec<IssueHeld>,
    /// Mail sent to them, or waiting to be.
    pub mail: Vec<OutboxMessage>,
    /// Suppression lists matching their email (the lists hold only hashes).
    pub suppression_lists: Vec<String>,
    pub erasures: Vec<Erasure>,
}

/// A session on a person's record.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionTaken {
    pub session: SessionId,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub rsvp: String,
    pub attendance: Option<String>,
    #[ts(type = "number | null")]
    pub incentive_cents: Option<i64>,
}

/// A note on a person's record.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NoteHeld {
    pub note: NoteId,
    pub session: SessionId,
    pub session_title: String,
    pub at: DateTime<Utc>,
    pub text: String,
    /// Attributed to them (otherwise it names them).
    pub attributed: bool,
}

/// An issue on a person's record.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct IssueHeld {
    #[ts(type = "number")]
    pub issue: i64,
    pub summary: String,
    pub detail: String,
    pub status: String,
    pub owner: Option<String>,
    pub raised_at: DateTime<Utc>,
    pub resolution: Option<String>,
    /// Each contact the owner logged: when, how, and what came of it.
    pub contacts: Vec<String>,
}

/// The record that a participant was erased.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Erasure {
    pub participant: ParticipantId,
    pub erased_at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// A note that erasure must decide about.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NoteToErase {
    pub note: NoteId,
    pub session: SessionId,
    pub session_title: String,
    pub at: DateTime<Utc>,
    pub text: String,
    /// The note is attributed to them.
    pub attributed: bool,
    /// The text names them (name, email or phone).
    pub names_them: bool,
    /// The text as "redact the matches" would leave it.
    pub redacted: String,
}

/// What erasing a participant would touch, for the person erasing to see
/// and decide about each note before anything is changed.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ErasurePlan {
    pub participant: ParticipantId,
    pub name: String,
    pub notes: Vec<NoteToErase>,
    /// Messages to or about them waiting to be sent (they are withdrawn).
    pub queued_messages: u32,
    /// Messages to or about them already sent or failed (their personal
    /// fields are removed; the record that they went stays).
    pub other_messages: u32,
    pub issues: u32,
}

/// What to do with a note that is attributed to or names the person.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum NoteChoice {
    /// Take their name, email and phone out of the text.
    #[default]
    RedactMatches,
    /// Take the whole text out.
    RedactWhole,
    /// Keep the note as it is, for the recorded reason.
    Keep { reason: String },
}

/// The choice for one note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NoteDecision {
    pub note: NoteId,
    pub choice: NoteChoice,
}

/// An erasure as asked for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct ErasureRequest {
    pub reason: Option<String>,
    /// For every note not named in `notes`.
    pub notes_default: NoteChoice,
    pub notes: Vec<NoteDecision>,
}

/// A note kept as it was, and why.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct KeptNote {
    pub note: NoteId,
    pub reason: String,
}

/// What an erasure did, item by item.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ErasureReport {
    pub erasure: Erasure,
    pub consents_deleted: u32,
    pub history_details_cleared: u32,
    pub messages_withdrawn: u32,
    pub messages_cleaned: u32,
    pub attachments_removed: u32,
    pub notes_matches_removed: u32,
    pub notes_removed_whole: u32,
    pub notes_kept: Vec<KeptNote>,
    pub note_versions_cleaned: u32,
    pub issues_cleaned: u32,
    pub contact_log_entries_cleaned: u32,
    pub audit_entries_cleaned: u32,
    pub sessions_cleaned: u32,
    /// The database file was rebuilt, so no earlier copy of their text is
    /// left in its unused space; `false` when another process held the
    /// panel (the next erasure, or `VACUUM`, does it).
    pub file_compacted: bool,
}

impl ErasureReport {
    /// The report as sentences, one per thing done.
    pub fn lines(&self) -> Vec<String> {
        let n = |count: u32, one: &str, many: &str| {
            format!("{count} {}", if count == 1 { one } else { many })
        };
        let mut out = vec![
            "name, email, phone, time zone, language, source, attributes and tags removed"
                .to_string(),
            format!(
                "{} deleted",
                n(self.consents_deleted, "consent", "consents")
            ),
            format!(
                "{} cleared of free text",
                n(
                    self.history_details_cleared,
                    "contact-history entry",
                    "contact-history entries"
                )
            ),
            format!(
                "{} to or about them withdrawn before sending",
                n(self.messages_withdrawn, "queued message", "queued messages")
            ),
            format!(
                "{} cleaned of their personal details ({} removed)",
                n(self.messages_cleaned, "message", "messages"),
                n(self.attachments_removed, "attachment", "attachments")
            ),
            format!(
                "{} with their name, email or phone taken out",
                n(self.notes_matches_removed, "note", "notes")
            ),
            format!(
                "{} taken out whole",
                n(self.notes_removed_whole, "note", "notes")
            ),
            format!(
                "{} of notes cleaned",
                n(
                    self.note_versions_cleaned,
                    "earlier version",
                    "earlier versions"
                )
            ),
            format!("{} cleaned", n(self.issues_cleaned, "issue", "issues")),
            format!(
                "{} cleaned",
                n(
                    self.contact_log_entries_cleaned,
                    "contact-log entry",
                    "contact-log entries"
                )
            ),
            format!(
                "{} cleaned",
                n(
                    self.audit_entries_cleaned,
                    "audit-trail entry",
                    "audit-trail entries"
                )
            ),
            format!(
                "{} cleaned",
                n(self.sessions_cleaned, "session", "sessions")
            ),
        ];
        out.push(if self.file_compacted {
            "the database file rebuilt, so no earlier copy of their details is left in it"
                .to_string()
        } else {
            "the database file could not be rebuilt now (the panel is open elsewhere); \
             earlier copies of their details may remain in its unused space until it is"
                .to_string()
        });
        for kept in &self.notes_kept {
            out.push(format!(
                "note {} kept as it was: {}",
                kept.note, kept.reason
            ));
        }
        out
    }
}

const ABOUT: [(&str, &str); 11] = [
    ("exportedAt", "When this export was made (UTC)."),
    (
        "participant",
        "What the panel holds about you: name, email, phone, time zone, language, where your details came from, the attributes used to invite people (such as age band or region), tags, and whether you opted out or asked not to be contacted.",
    ),
    (
        "consents",
        "The consent texts you accepted, which version and when.",
    ),
    (
        "contactHistory",
        "Each time the panel contacted you or you took part: invitations, answers, sessions attended or missed.",
    ),
    (
        "sessions",
        "The sessions you were invited to, your answer, whether you attended, and any incentive.",
    ),
    (
        "notes",
        "Notes the researchers took during sessions that are about you or name you.",
    ),
    (
        "issues",
        "Problems you raised, who at the company owns each, what they did and how it was resolved.",
    ),
    (
        "mail",
        "Messages the panel sent you or is about to send you.",
    ),
    (
        "suppressionLists",
        "Lists (such as current customers) your email address is on; the lists themselves hold only a one-way code of each address.",
    ),
    ("erasures", "If your data was erased: when, and why."),
    ("about", "This explanation."),
];

/// Everything held about participant `id`.
pub async fn export(panel: &Panel, id: ParticipantId) -> Result<PersonalData> {
    let participant = super::get(panel, id).await?;
    let mut conn = panel.pool().acquire().await?;
    let suppression_lists: Vec<String> = sqlx::query_scalar(
        "SELECT l.name FROM suppressions s JOIN suppression_lists l ON l.id = s.list_id \
         JOIN participants p ON p.email_hash = s.hash WHERE p.id = ? ORDER BY l.name",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?;
    let sessions = sqlx::query(
        "SELECT s.id, s.title, s.starts_at, r.rsvp, r.attendance, r.incentive_cents \
         FROM session_participants r JOIN sessions s ON s.id = r.session \
         WHERE r.participant = ? ORDER BY s.starts_at",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| SessionTaken {
        session: SessionId(r.get(0)),
        title: r.get(1),
        starts_at: instant(r.get(2)),
        rsvp: r.get(3),
        attendance: r.get(4),
        incentive_cents: r.get(5),
    })
    .collect();
    let identity = Identity::of(
        &participant.name,
        participant.email.as_deref(),
        participant.phone.as_deref(),
    );
    let notes = notes_about(&mut conn, id, &identity)
        .await?
        .into_iter()
        .map(|n| NoteHeld {
            note: n.note,
            session: n.session,
            session_title: n.session_title,
            at: n.at,
            text: n.text,
            attributed: n.attributed,
        })
        .collect();
    let mut issues = Vec::new();
    for r in sqlx::query(
        "SELECT i.id, i.summary, i.detail, i.status, s.name, i.created_at, i.resolution \
         FROM issues i LEFT JOIN staff s ON s.id = i.owner WHERE i.participant = ? ORDER BY i.id",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?
    {
        let issue: i64 = r.get(0);
        let contacts: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT at, via, outcome FROM issue_contacts WHERE issue = ? ORDER BY at, id",
        )
        .bind(issue)
        .fetch_all(&mut *conn)
        .await?;
        issues.push(IssueHeld {
            issue,
            summary: r.get(1),
            detail: r.get(2),
            status: r.get::<String, _>(3).replace('_', " "),
            owner: r.get(4),
            raised_at: instant(r.get(5)),
            resolution: r.get(6),
            contacts: contacts
                .into_iter()
                .map(|(at, via, outcome)| {
                    format!(
                        "{} by {via}: {outcome}",
                        instant(at).format("%Y-%m-%d %H:%M UTC")
                    )
                })
                .collect(),
        });
    }
    let mail_ids = messages_to(&mut conn, id, participant.email.as_deref()).await?;
    drop(conn);
    let mut mail = Vec::new();
    for m in mail_ids {
        mail.push(crate::mail::get(panel, m).await?.message);
    }
    Ok(PersonalData {
        about: ABOUT
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        exported_at: panel.now(),
        consents: consent::for_participant(panel, id).await?,
        contact_history: history::for_participant(panel, id).await?,
        sessions,
        notes,
        issues,
        mail,
        suppression_lists,
        erasures: erasures(panel, Some(id)).await?,
        participant,
    })
}

/// Messages sent (or to be sent) to the participant, oldest first.
async fn messages_to(
    conn: &mut SqliteConnection,
    id: ParticipantId,
    email: Option<&str>,
) -> Result<Vec<crate::mail::MessageId>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT o.id FROM outbox o WHERE o.topic GLOB ?1 \
         OR (?2 IS NOT NULL AND lower(o.recipient) = lower(?2)) \
         OR (o.kind IN ('handoff', 'resolution') AND EXISTS (SELECT 1 FROM issues i \
             WHERE i.participant = ?3 AND o.topic GLOB 'issue/' || i.id || '/*')) \
         ORDER BY o.id",
    )
    .bind(crate::sessions::roster::session_mail_of(id))
    .bind(email)
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?;
    Ok(ids.into_iter().map(crate::mail::MessageId).collect())
}

/// Notes attributed to the participant, or whose text names them: among
/// the notes of the sessions they were on, and those a full-text search
/// for their name or email finds anywhere.
async fn notes_about(
    conn: &mut SqliteConnection,
    id: ParticipantId,
    identity: &Identity,
) -> Result<Vec<NoteToErase>> {
    let rows = sqlx::query(
        "SELECT n.id, n.session, s.title, n.at, n.text, n.participant IS ?1 FROM notes n \
         JOIN sessions s ON s.id = n.session \
         WHERE n.participant = ?1 \
            OR n.session IN (SELECT session FROM session_participants WHERE participant = ?1) \
            OR (?2 IS NOT NULL AND n.id IN (SELECT rowid FROM notes_fts WHERE notes_fts MATCH ?2)) \
         ORDER BY n.at, n.id",
    )
    .bind(id.0)
    .bind(identity.fts_query())
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let text: String = r.get(4);
            let attributed: bool = r.get(5);
            let redacted = identity.redact(&text);
            (attributed || redacted.is_some()).then(|| NoteToErase {
                note: NoteId(r.get(0)),
                session: SessionId(r.get(1)),
                session_title: r.get(2),
                at: instant(r.get(3)),
                names_them: redacted.is_some(),
                redacted: redacted.unwrap_or_else(|| text.clone()),
                text,
                attributed,
            })
        })
        .collect())
}

/// The participant, unerased, and what identifies them.
async fn identity_in(
    conn: &mut SqliteConnection,
    id: ParticipantId,
) -> Result<(Participant, Identity)> {
    let current = repo::load(conn, id).await?;
    if let Some(at) = current.erased_at {
        return Err(Error::conflict(format!(
            "participant {id} was already erased on {}",
            at.format("%Y-%m-%d")
        )));
    }
    let identity = Identity::of(
        &current.name,
        current.email.as_deref(),
        current.phone.as_deref(),
    );
    Ok((current, identity))
}

/// A message touched by an erasure.
struct Touched {
    id: i64,
    status: String,
    to_them: bool,
}

/// Messages to the participant or about them: their session mail, mail
/// about their issues, report mail of sessions they were on, and any
/// message whose text names them.
async fn messages_about(
    conn: &mut SqliteConnection,
    id: ParticipantId,
    email: Option<&str>,
    identity: &Identity,
) -> Result<Vec<Touched>> {
    let to_them: BTreeSet<i64> = messages_to(conn, id, email)
        .await?
        .into_iter()
        .map(|m| m.0)
        .collect();
    let rows = sqlx::query(
        "SELECT o.id, o.status, o.recipient_name, o.subject, o.body_text, o.last_error, \
           EXISTS (SELECT 1 FROM issues i WHERE i.participant = ?1 \
                   AND o.topic GLOB 'issue/' || i.id || '/*') \
           OR EXISTS (SELECT 1 FROM session_participants r WHERE r.participant = ?1 \
                   AND o.topic = 'report/session/' || r.session) \
           OR o.id IN (SELECT value FROM json_each(?2)) AS theirs \
         FROM outbox o WHERE theirs OR EXISTS (SELECT 1 FROM json_each(?3) t \
           WHERE o.subject LIKE '%' || t.value || '%' OR o.body_text LIKE '%' || t.value || '%' \
              OR o.recipient_name LIKE '%' || t.value || '%' \
              OR coalesce(o.last_error, '') LIKE '%' || t.value || '%') \
         ORDER BY o.id",
    )
    .bind(id.0)
    .bind(serde_json::to_string(&to_them).expect("ids serialise"))
    .bind(serde_json::to_string(&identity.like_words()).expect("words serialise"))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .iter()
        .filter(|r| {
            let text = format!(
                "{} {} {} {}",
                r.get::<String, _>(2),
                r.get::<String, _>(3),
                r.get::<String, _>(4),
                r.get::<Option<String>, _>(5).unwrap_or_default()
            );
            // Mail about their issues, report mail of their sessions and
            // mail to them are theirs even when the text does not name them.
            r.get::<bool, _>(6) || identity.found_in(&text)
        })
        .map(|r| {
            let id: i64 = r.get(0);
            Touched {
                id,
                status: r.get(1),
                to_them: to_them.contains(&id),
            }
        })
        .collect())
}

/// What erasing participant `id` would touch; changes nothing.
pub async fn plan(panel: &Panel, id: ParticipantId) -> Result<ErasurePlan> {
    let mut conn = panel.pool().acquire().await?;
    let (current, identity) = identity_in(&mut conn, id).await?;
    let notes = notes_about(&mut conn, id, &identity).await?;
    let messages = messages_about(&mut conn, id, current.email.as_deref(), &identity).await?;
    let issues: i64 = sqlx::query_scalar("SELECT count(*) FROM issues WHERE participant = ?")
        .bind(id.0)
        .fetch_one(&mut *conn)
        .await?;
    let queued = messages.iter().filter(|m| withdrawable(&m.status)).count() as u32;
    Ok(ErasurePlan {
        participant: id,
        name: current.name,
        notes,
        queued_messages: queued,
        other_messages: messages.len() as u32 - queued,
        issues: issues as u32,
    })
}

/// A message that has not gone and can still be stopped.
fn withdrawable(status: &str) -> bool {
    matches!(status, "queued" | "failed")
}

/// Checks a note choice (a kept note needs its reason).
fn checked(choice: &NoteChoice, note: NoteId) -> Result<NoteChoice> {
    match choice {
        NoteChoice::Keep { reason } => {
            let reason = crate::participants::fields::check_text("reason", reason)?;
            if reason.is_empty() {
                return Err(Error::invalid(
                    "reason",
                    "",
                    format!("note {note} is kept as it is only with a reason, which is recorded"),
                ));
            }
            Ok(NoteChoice::Keep { reason })
        }
        other => Ok(other.clone()),
    }
}

/// Redacts the text columns of the rows `filter` selects in `table`
/// (identified by `key`), where they name the person. Returns how many
/// rows changed.
async fn redact_rows(
    conn: &mut SqliteConnection,
    identity: &Identity,
    table: &str,
    key: &str,
    columns: &[&str],
    filter: &str,
    bind: i64,
) -> Result<u32> {
    let words = serde_json::to_string(&identity.like_words()).expect("words serialise");
    let like = columns
        .iter()
        .map(|c| format!("{c} LIKE '%' || t.value || '%'"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {key}, {} FROM {table} WHERE ({filter}) OR \
         EXISTS (SELECT 1 FROM json_each(?2) t WHERE {like})",
        columns.join(", ")
    )))
    .bind(bind)
    .bind(words)
    .fetch_all(&mut *conn)
    .await?;
    let mut changed = 0;
    for row in rows {
        let mut values: Vec<Option<String>> = Vec::with_capacity(columns.len());
        let mut any = false;
        for i in 0..columns.len() {
            let v: Option<String> = row.get(i + 1);
            let redacted = v.as_deref().and_then(|t| identity.redact(t));
            any |= redacted.is_some();
            values.push(redacted.or(v));
        }
        if !any {
            continue;
        }
        let sets = columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ?{}", i + 1))
            .collect::<Vec<_>>()
            .join(", ");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET {sets} WHERE {key} = ?{}",
            columns.len() + 1
        )));
        for v in values {
            q = q.bind(v);
        }
        q.bind(row.get::<i64, _>(0)).execute(&mut *conn).await?;
        changed += 1;
    }
    Ok(changed)
}

/// Erases participant `id`'s personal data, as the module describes.
/// Erasing twice is refused.
pub async fn erase(
    panel: &Panel,
    id: ParticipantId,
    request: &ErasureRequest,
) -> Result<ErasureReport> {
    let now = panel.now();
    let mut tx = panel.write().await?;
    let (current, identity) = identity_in(&mut tx, id).await?;
    let default = checked(&request.notes_default, NoteId(0))?;
    let mut choices = BTreeMap::new();
    for d in &request.notes {
        choices.insert(d.note, checked(&d.choice, d.note)?);
    }
    // What is deleted or overwritten now is overwritten in the file too.
    let before: i64 = sqlx::query_scalar("PRAGMA secure_delete")
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query("PRAGMA secure_delete = ON")
        .execute(&mut *tx)
        .await?;
    let done = erase_in(
        &mut tx, now, id, &current, &identity, &default, &choices, request,
    )
    .await;
    // The connection goes back to the pool as it was (the pragma is not
    // part of the transaction).
    let restored = sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA secure_delete = {before}"
    )))
    .execute(&mut *tx)
    .await;
    let mut report = done?;
    restored?;
    tx.commit().await?;
    panel.wake_mail();
    // Earlier copies of the person's text can remain in the file's unused
    // space (a page that was split, a row moved by an update, freed pages)
    // and in the write-ahead log: the file is rebuilt without them, and the
    // log emptied. The erasure itself is already committed if this cannot
    // run now (another process has the panel open in a transaction).
    report.file_compacted = match sqlx::query("VACUUM").execute(panel.pool()).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, "the file was not rebuilt after an erasure");
            false
        }
    };
    if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(panel.pool())
        .await
    {
        tracing::warn!(error = %e, "the log could not be emptied after an erasure; the next checkpoint reuses it");
    }
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
async fn erase_in(
    tx: &mut SqliteConnection,
    now: DateTime<Utc>,
    id: ParticipantId,
    current: &Participant,
    identity: &Identity,
    default: &NoteChoice,
    choices: &BTreeMap<NoteId, NoteChoice>,
    request: &ErasureRequest,
) -> Result<ErasureReport> {
    let reason = request
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| identity.redact(r).unwrap_or_else(|| r.to_string()));

    // Notes, by the person's choices, and their earlier versions.
    let notes = notes_about(tx, id, identity).await?;
    for note in choices.keys() {
        if !notes.iter().any(|n| n.note == *note) {
            return Err(Error::invalid(
                "note",
                note.to_string(),
                format!("is neither attributed to participant {id} nor names them"),
            ));
        }
    }
    let mut report = ErasureReport {
        erasure: Erasure {
            participant: id,
            erased_at: now,
            reason: reason.clone(),
        },
        consents_deleted: 0,
        history_details_cleared: 0,
        messages_withdrawn: 0,
        messages_cleaned: 0,
        attachments_removed: 0,
        notes_matches_removed: 0,
        notes_removed_whole: 0,
        notes_kept: Vec::new(),
        note_versions_cleaned: 0,
        issues_cleaned: 0,
        contact_log_entries_cleaned: 0,
        audit_entries_cleaned: 0,
        sessions_cleaned: 0,
        file_compacted: false,
    };
    let mut kept = BTreeSet::new();
    for note in &notes {
        let (text, whole) = match choices.get(&note.note).unwrap_or(default) {
            NoteChoice::Keep { reason } => {
                kept.insert(note.note.0);
                report.notes_kept.push(KeptNote {
                    note: note.note,
                    reason: reason.clone(),
                });
                continue;
            }
            NoteChoice::RedactWhole => (ERASED.to_string(), true),
            NoteChoice::RedactMatches if note.names_them => (note.redacted.clone(), false),
            NoteChoice::RedactMatches => continue,
        };
        sqlx::query("UPDATE notes SET text = ?, tags = ?, updated_at = ? WHERE id = ?")
            .bind(&text)
            .bind(serde_json::to_string(&crate::notes::tags_of(&text)).expect("tags serialise"))
            .bind(millis(now))
            .bind(note.note.0)
            .execute(&mut *tx)
            .await?;
        if whole {
            report.notes_removed_whole += 1;
            report.note_versions_cleaned +=
                sqlx::query("UPDATE note_edits SET text = ?, tags = '[]' WHERE note = ?")
                    .bind(ERASED)
                    .bind(note.note.0)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected() as u32;
        } else {
            report.notes_matches_removed += 1;
        }
    }
    let kept_json = serde_json::to_string(&kept).expect("ids serialise");
    sqlx::query("CREATE TEMP TABLE IF NOT EXISTS erasure_kept (note INTEGER PRIMARY KEY)")
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM temp.erasure_kept")
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO temp.erasure_kept SELECT value FROM json_each(?)")
        .bind(&kept_json)
        .execute(&mut *tx)
        .await?;
    report.note_versions_cleaned += redact_rows(
        tx,
        identity,
        "note_edits",
        "id",
        &["text"],
        "note IN (SELECT id FROM notes WHERE participant = ?1) \
         AND note NOT IN (SELECT note FROM temp.erasure_kept)",
        id.0,
    )
    .await?;

    // Issues, their contact log and audit trail.
    report.issues_cleaned = redact_rows(
        tx,
        identity,
        "issues",
        "id",
        &["summary", "detail", "category", "resolution"],
        "participant = ?1",
        id.0,
    )
    .await?;
    report.contact_log_entries_cleaned = redact_rows(
        tx,
        identity,
        "issue_contacts",
        "id",
        &["outcome"],
        "issue IN (SELECT id FROM issues WHERE participant = ?1)",
        id.0,
    )
    .await?;
    report.audit_entries_cleaned = redact_rows(
        tx,
        identity,
        "issue_events",
        "id",
        &["detail"],
        "issue IN (SELECT id FROM issues WHERE participant = ?1)",
        id.0,
    )
    .await?;
    report.sessions_cleaned = redact_rows(
        tx,
        identity,
        "sessions",
        "id",
        &["title", "study", "place", "cancel_reason"],
        "0",
        id.0,
    )
    .await?;

    // Mail: what has not gone is withdrawn; every message keeps its record
    // without the personal details.
    let messages = messages_about(tx, id, current.email.as_deref(), identity).await?;
    for m in &messages {
        if withdrawable(&m.status) {
            sqlx::query(
                "UPDATE outbox SET status = 'cancelled', updated_at = ?, \
                 last_error = 'withdrawn: the participant was erased' WHERE id = ?",
            )
            .bind(millis(now))
            .bind(m.id)
            .execute(&mut *tx)
            .await?;
            report.messages_withdrawn += 1;
        }
        let row = sqlx::query(
            "SELECT recipient, recipient_name, reply_to, subject, body_text, last_error, kind \
             FROM outbox WHERE id = ?",
        )
        .bind(m.id)
        .fetch_one(&mut *tx)
        .await?;
        let clean = |v: String| identity.redact(&v).unwrap_or(v);
        let recipient: String = row.get(0);
        let reply_to: Option<String> = row.get(2);
        let text = clean(row.get(4));
        let kind: String = row.get(6);
        let own_address = |a: &str| {
            current
                .email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(a.trim()))
        };
        sqlx::query(
            "UPDATE outbox SET recipient = ?, recipient_name = ?, reply_to = ?, subject = ?, \
             body_text = ?, body_html = ?, last_error = ? WHERE id = ?",
        )
        .bind(if m.to_them || own_address(&recipient) {
            ERASED.to_string()
        } else {
            recipient
        })
        .bind(if m.to_them {
            String::new()
        } else {
            clean(row.get(1))
        })
        .bind(reply_to.filter(|r| !own_address(r)))
        .bind(clean(row.get(3)))
        .bind(&text)
        .bind(format!("<pre>{}</pre>", html_escape(&text)))
        .bind(row.get::<Option<String>, _>(5).map(clean))
        .bind(m.id)
        .execute(&mut *tx)
        .await?;
        report.messages_cleaned += 1;
        // A calendar file names its attendee; a report names the people in it.
        if m.to_them || kind == "report" {
            report.attachments_removed +=
                sqlx::query("DELETE FROM outbox_attachments WHERE message = ?")
                    .bind(m.id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected() as u32;
        }
    }

    // The person's own record.
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
    report.consents_deleted =
        sqlx::query("DELETE FROM participant_consents WHERE participant_id = ?")
            .bind(id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected() as u32;
    // The history stays (it is what the contact rules and reports count) but
    // free-text details may hold personal words.
    report.history_details_cleared = sqlx::query(
        "UPDATE contact_history SET detail = NULL WHERE participant_id = ? AND detail IS NOT NULL",
    )
    .bind(id.0)
    .execute(&mut *tx)
    .await?
    .rows_affected() as u32;
    let erasure: i64 = sqlx::query_scalar(
        "INSERT INTO erasures (participant_id, erased_at, reason) VALUES (?, ?, ?) RETURNING id",
    )
    .bind(id.0)
    .bind(millis(now))
    .bind(&reason)
    .fetch_one(&mut *tx)
    .await?;
    for k in &report.notes_kept {
        sqlx::query("INSERT INTO erasure_kept_notes (erasure, note, reason) VALUES (?, ?, ?)")
            .bind(erasure)
            .bind(k.note.0)
            .bind(&k.reason)
            .execute(&mut *tx)
            .await?;
    }
    super::touch(tx).await?;
    Ok(report)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
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
