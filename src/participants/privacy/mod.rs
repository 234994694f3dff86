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

mod store;

use super::redact::{ERASED, Identity};
use super::{Participant, ParticipantId, consent, history, repo};
use crate::Panel;

use crate::db::Conn;
use crate::error::{Error, Result};
use crate::mail::OutboxMessage;
use crate::notes::NoteId;
use crate::sessions::SessionId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
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
    /// Mail from them, or filed with them, read from the panel mailbox.
    pub mail_received_deleted: u32,
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
                "{} from them or about them deleted",
                n(
                    self.mail_received_deleted,
                    "message received",
                    "messages received"
                )
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
    let mut conn = panel.conn().await?;
    let suppression_lists = store::suppression_lists(&mut conn, id).await?;
    let sessions = store::sessions_taken(&mut conn, id).await?;
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
    let issues = store::issues(&mut conn, id)
        .await?
        .into_iter()
        .map(|i| IssueHeld {
            issue: i.id,
            summary: i.summary,
            detail: i.detail,
            status: i.status.replace('_', " "),
            owner: i.owner,
            raised_at: i.raised_at,
            resolution: i.resolution,
            contacts: i
                .contacts
                .into_iter()
                .map(|(at, via, outcome)| {
                    format!("{} by {via}: {outcome}", at.format("%Y-%m-%d %H:%M UTC"))
                })
                .collect(),
        })
        .collect();
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

/// Messages sent (or to be sent) to the participant or about their
/// issues, oldest first.
pub(crate) async fn messages_of(
    panel: &Panel,
    id: ParticipantId,
    email: Option<&str>,
) -> Result<Vec<crate::mail::MessageId>> {
    messages_to(&mut panel.conn().await?, id, email).await
}

/// Messages sent (or to be sent) to the participant, oldest first.
async fn messages_to(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
    email: Option<&str>,
) -> Result<Vec<crate::mail::MessageId>> {
    let mut conn = conn.into();
    let session_mail = crate::sessions::roster::session_mail_of(id);
    store::messages_to(&mut conn, id, email, &session_mail).await
}

/// Notes attributed to the participant, or whose text names them: among
/// the notes of the sessions they were on, and those a full-text search
/// for their name or email finds anywhere.
async fn notes_about(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
    identity: &Identity,
) -> Result<Vec<NoteToErase>> {
    let mut conn = conn.into();
    Ok(
        store::notes_near(&mut conn, id, identity.fts_query(), identity.ts_query())
            .await?
            .into_iter()
            .filter_map(|n| {
                let redacted = identity.redact(&n.text);
                (n.attributed || redacted.is_some()).then(|| NoteToErase {
                    note: n.note,
                    session: n.session,
                    session_title: n.session_title,
                    at: n.at,
                    names_them: redacted.is_some(),
                    redacted: redacted.unwrap_or_else(|| n.text.clone()),
                    text: n.text,
                    attributed: n.attributed,
                })
            })
            .collect(),
    )
}

/// The participant, unerased, and what identifies them.
async fn identity_in(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
) -> Result<(Participant, Identity)> {
    let mut conn = conn.into();
    let current = repo::load(&mut conn, id).await?;
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
    id: crate::mail::MessageId,
    status: String,
    to_them: bool,
}

/// Messages to the participant or about them: their session mail, mail
/// about their issues, report mail of sessions they were on, and any
/// message whose text names them.
async fn messages_about(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
    email: Option<&str>,
    identity: &Identity,
) -> Result<Vec<Touched>> {
    let mut conn = conn.into();
    let to_them: BTreeSet<i64> = messages_to(&mut conn, id, email)
        .await?
        .into_iter()
        .map(|m| m.0)
        .collect();
    Ok(
        store::messages_near(&mut conn, id, &to_them, &identity.like_words())
            .await?
            .into_iter()
            // Mail about their issues, report mail of their sessions and mail
            // to them are theirs even when the text does not name them.
            .filter(|m| m.theirs || identity.found_in(&m.text))
            .map(|m| Touched {
                id: m.id,
                status: m.status,
                to_them: to_them.contains(&m.id.0),
            })
            .collect(),
    )
}

/// What erasing participant `id` would touch; changes nothing.
pub async fn plan(panel: &Panel, id: ParticipantId) -> Result<ErasurePlan> {
    let mut conn = panel.conn().await?;
    let (current, identity) = identity_in(&mut conn, id).await?;
    let notes = notes_about(&mut conn, id, &identity).await?;
    let messages = messages_about(&mut conn, id, current.email.as_deref(), &identity).await?;
    let issues = store::issue_count(&mut conn, id).await?;
    let queued = messages.iter().filter(|m| withdrawable(&m.status)).count() as u32;
    Ok(ErasurePlan {
        participant: id,
        name: current.name,
        notes,
        queued_messages: queued,
        other_messages: messages.len() as u32 - queued,
        issues,
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
    conn: impl Into<Conn<'_>>,
    identity: &Identity,
    table: &str,
    key: &str,
    columns: &[&str],
    filter: &str,
    bind: i64,
) -> Result<u32> {
    let mut conn = conn.into();
    let rows = store::rows_naming(
        &mut conn,
        table,
        key,
        columns,
        filter,
        bind,
        &identity.like_words(),
    )
    .await?;
    let mut changed = 0;
    for (row, stored) in rows {
        let mut any = false;
        let values: Vec<Option<String>> = stored
            .into_iter()
            .map(|v| {
                let redacted = v.as_deref().and_then(|t| identity.redact(t));
                any |= redacted.is_some();
                redacted.or(v)
            })
            .collect();
        if any {
            store::set_columns(&mut conn, table, key, columns, row, values).await?;
            changed += 1;
        }
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
    let mut tx = panel.begin().await?;
    let (current, identity) = identity_in(&mut tx, id).await?;
    let default = checked(&request.notes_default, NoteId(0))?;
    let mut choices = BTreeMap::new();
    for d in &request.notes {
        choices.insert(d.note, checked(&d.choice, d.note)?);
    }
    // What is deleted or overwritten now is overwritten in the file too.
    let before = store::secure_delete(&mut tx).await?;
    let done = erase_in(
        &mut tx, now, id, &current, &identity, &default, &choices, request,
    )
    .await;
    // The connection goes back to the pool as it was (the pragma is not
    // part of the transaction).
    let restored = store::restore_secure_delete(&mut tx, before).await;
    let mut report = done?;
    restored?;
    tx.commit().await?;
    panel.wake_mail();
    // Earlier copies of the person's text can remain in the file's unused
    // space (a page that was split, a row moved by an update, freed pages)
    // and in the write-ahead log: the file is rebuilt without them, and the
    // log emptied. The erasure itself is already committed if this cannot
    // run now (another process has the panel open in a transaction).
    report.file_compacted = store::compact(&mut panel.conn().await?).await;
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
async fn erase_in(
    tx: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    id: ParticipantId,
    current: &Participant,
    identity: &Identity,
    default: &NoteChoice,
    choices: &BTreeMap<NoteId, NoteChoice>,
    request: &ErasureRequest,
) -> Result<ErasureReport> {
    let mut tx = tx.into();
    let reason = request
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| identity.redact(r).unwrap_or_else(|| r.to_string()));

    // Notes, by the person's choices, and their earlier versions.
    let notes = notes_about(&mut tx, id, identity).await?;
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
        mail_received_deleted: 0,
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
        store::set_note_text(&mut tx, note.note, &text, now).await?;
        if whole {
            report.notes_removed_whole += 1;
            report.note_versions_cleaned +=
                store::set_note_versions(&mut tx, note.note, ERASED).await?;
        } else {
            report.notes_matches_removed += 1;
        }
    }
    store::keep_notes(&mut tx, &kept).await?;
    report.note_versions_cleaned += redact_rows(
        &mut tx,
        identity,
        "note_edits",
        "id",
        &["text"],
        "note IN (SELECT id FROM notes WHERE participant = $1) \
         AND note NOT IN (SELECT note FROM erasure_kept)",
        id.0,
    )
    .await?;

    // Issues, their contact log and audit trail.
    report.issues_cleaned = redact_rows(
        &mut tx,
        identity,
        "issues",
        "id",
        &["summary", "detail", "category", "resolution"],
        "participant = $1",
        id.0,
    )
    .await?;
    report.contact_log_entries_cleaned = redact_rows(
        &mut tx,
        identity,
        "issue_contacts",
        "id",
        &["outcome"],
        "issue IN (SELECT id FROM issues WHERE participant = $1)",
        id.0,
    )
    .await?;
    report.audit_entries_cleaned = redact_rows(
        &mut tx,
        identity,
        "issue_events",
        "id",
        &["detail"],
        "issue IN (SELECT id FROM issues WHERE participant = $1)",
        id.0,
    )
    .await?;
    report.sessions_cleaned = redact_rows(
        &mut tx,
        identity,
        "sessions",
        "id",
        &["title", "study", "place", "cancel_reason"],
        "false",
        id.0,
    )
    .await?;

    // Mail: what has not gone is withdrawn; every message keeps its record
    // without the personal details.
    let messages = messages_about(&mut tx, id, current.email.as_deref(), identity).await?;
    for m in &messages {
        if withdrawable(&m.status) {
            store::withdraw_message(&mut tx, m.id, now).await?;
            report.messages_withdrawn += 1;
        }
        let found = store::message_text(&mut tx, m.id).await?;
        let clean = |v: String| identity.redact(&v).unwrap_or(v);
        let own_address = |a: &str| {
            current
                .email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(a.trim()))
        };
        let text = clean(found.text);
        let cleaned = store::MessageText {
            recipient: if m.to_them || own_address(&found.recipient) {
                ERASED.to_string()
            } else {
                found.recipient
            },
            recipient_name: if m.to_them {
                String::new()
            } else {
                clean(found.recipient_name)
            },
            reply_to: found.reply_to.filter(|r| !own_address(r)),
            subject: clean(found.subject),
            last_error: found.last_error.map(clean),
            kind: found.kind,
            text,
        };
        let html = format!("<pre>{}</pre>", html_escape(&cleaned.text));
        store::set_message_text(&mut tx, m.id, &cleaned, &html).await?;
        let kind = cleaned.kind;
        report.messages_cleaned += 1;
        // A calendar file names its attendee; a report names the people in it.
        if m.to_them || kind == "report" {
            report.attachments_removed += store::drop_attachments(&mut tx, m.id).await?;
        }
    }

    // The person's own record.
    store::erase_record(&mut tx, id, &format!("Erased participant {id}"), now).await?;
    report.consents_deleted = store::delete_consents(&mut tx, id).await?;
    report.mail_received_deleted =
        crate::inbox::forget_participant(&mut tx, id, current.email.as_deref()).await?;
    // The history stays (it is what the contact rules and reports count) but
    // free-text details may hold personal words.
    report.history_details_cleared = store::clear_history_details(&mut tx, id).await?;
    let kept: Vec<(NoteId, String)> = report
        .notes_kept
        .iter()
        .map(|k| (k.note, k.reason.clone()))
        .collect();
    store::record_erasure(&mut tx, &report.erasure, &kept).await?;
    super::touch(&mut tx).await?;
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
    store::erasures(&mut panel.conn().await?, id).await
}
