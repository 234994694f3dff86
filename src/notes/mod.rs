//! Live notes: what is said in a session, captured as it is said.
//!
//! A note belongs to a session and carries its text, the wall-clock instant
//! it was entered and its offset from the session's start, optionally the
//! participant it is about, its tags (`#tag` words in the text) and its
//! author. Each note is committed on its own the moment it is added, so a
//! crash loses nothing already entered; an edit keeps the earlier version.
//! Search runs over an FTS5 index (prefix words and "quoted phrases",
//! accents folded) and returns the newest hits first, each with the notes
//! around it. This
//! module does not raise issues from notes: the issues domain does.

mod store;
mod words;

pub(crate) use words::{any_phrase, vector as search_vector};

pub(crate) use store::{NoteRecord, insert_records, next_id};

use crate::db::Conn;
use crate::participants::{self, ParticipantId};
use crate::sessions::staff::{self, StaffId};
use crate::sessions::{self, SessionId};
use crate::{Error, Panel, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use ts_rs::TS;

/// A note's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
pub struct NoteId(#[ts(type = "number")] pub i64);

impl std::fmt::Display for NoteId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 20_000;

/// One note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub id: NoteId,
    pub session: SessionId,
    pub participant: Option<ParticipantId>,
    /// The participant's name, for display.
    pub participant_name: Option<String>,
    pub author: Option<StaffId>,
    pub author_name: Option<String>,
    pub text: String,
    pub tags: Vec<String>,
    pub at: DateTime<Utc>,
    /// Seconds from the session's start (negative before it).
    #[ts(type = "number")]
    pub offset_seconds: i64,
    /// How many earlier versions the note has.
    pub edits: u32,
}

/// A note as typed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct NoteInput {
    pub text: String,
    /// The participant it is about: an email or an id. In an edit, none
    /// keeps the note's participant and an empty one takes it off.
    pub participant: Option<String>,
    /// The author's email; the staff member using this computer when absent.
    pub author: Option<String>,
}

/// An earlier version of an edited note.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NoteVersion {
    pub text: String,
    pub tags: Vec<String>,
    pub participant: Option<ParticipantId>,
    /// When it was replaced.
    pub replaced_at: DateTime<Utc>,
}

/// The `#tags` in a note's text, lower-cased, without the `#`.
pub fn tags_of(text: &str) -> Vec<String> {
    let mut tags = BTreeSet::new();
    for word in text.split(|c: char| c.is_whitespace()) {
        if let Some(tag) = word.strip_prefix('#') {
            let tag: String = tag
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
                .flat_map(char::to_lowercase)
                .collect();
            if !tag.is_empty() {
                tags.insert(tag);
            }
        }
    }
    tags.into_iter().collect()
}

fn check(text: &str) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::invalid("note", "", "is empty"));
    }
    let n = text.chars().count();
    if n > MAX_NOTE_CHARS {
        return Err(Error::invalid(
            "note",
            text,
            format!("is {n} characters long; the limit is {MAX_NOTE_CHARS}"),
        ));
    }
    if let Some(c) = text
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return Err(Error::invalid(
            "note",
            text,
            format!("holds the control character {c:?}"),
        ));
    }
    Ok(text.to_string())
}

async fn author(panel: &Panel, input: &NoteInput) -> Result<Option<StaffId>> {
    Ok(match input.author.as_deref().map(str::trim) {
        Some(a) if !a.is_empty() => Some(staff::by_email(panel, a).await?.id),
        _ => staff::current(panel).await?.map(|s| s.id),
    })
}

/// A note typed on another computer and sent later (the desktop app's
/// queue while its team server could not be reached): the id that computer
/// chose for it, which makes sending it again harmless, and when it was
/// typed, which places it in the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Typed {
    pub client_id: String,
    pub at: DateTime<Utc>,
}

/// Adds a note to a session, stamped now, and commits it at once.
pub async fn add(panel: &Panel, session: SessionId, input: &NoteInput) -> Result<Note> {
    add_typed(panel, session, input, None).await
}

/// Adds a note to a session and commits it at once: stamped now, or when
/// it was `typed` elsewhere (never later than now). A note already added
/// with the same client id is answered again, not added twice.
pub async fn add_typed(
    panel: &Panel,
    session: SessionId,
    input: &NoteInput,
    typed: Option<&Typed>,
) -> Result<Note> {
    let text = check(&input.text)?;
    let client_id = typed.map(|t| check_client_id(&t.client_id)).transpose()?;
    if let Some(id) = client_id {
        let mut conn = panel.conn().await?;
        if let Some(note) = store::by_client_id(&mut conn, id).await? {
            return same_session(note, session);
        }
    }
    let s = sessions::get(panel, session).await?;
    let participant = match input.participant.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => Some(participants::find(panel, p).await?),
        _ => None,
    };
    let author = author(panel, input).await?;
    let now = panel.now();
    let at = typed.map_or(now, |t| t.at.min(now));
    let offset = (at - s.starts_at).num_seconds();
    let mut conn = panel.conn().await?;
    let written = store::NewNote {
        session,
        participant,
        author,
        text: &text,
        at,
        offset_seconds: offset,
        client_id,
    };
    match store::insert(&mut conn, &written).await? {
        Some(id) => store::get(&mut conn, id).await,
        // Sent twice at once: the other sending wrote it.
        None => match store::by_client_id(&mut conn, client_id.unwrap_or_default()).await? {
            Some(note) => same_session(note, session),
            None => Err(Error::conflict("the note was not saved")),
        },
    }
}

/// A client's id for a note: letters, digits and dashes, 8 to 64 of them.
fn check_client_id(id: &str) -> Result<&str> {
    let fits =
        (8..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if fits {
        Ok(id)
    } else {
        Err(Error::invalid(
            "client id",
            id,
            "must be 8 to 64 letters, digits or dashes",
        ))
    }
}

/// A note found by its client id, if it is in the session it was sent to.
fn same_session(note: Note, session: SessionId) -> Result<Note> {
    if note.session == session {
        Ok(note)
    } else {
        Err(Error::conflict(format!(
            "a note with this client id was already added to session {}",
            note.session
        )))
    }
}

/// One note.
pub async fn get(panel: &Panel, id: NoteId) -> Result<Note> {
    let mut conn = panel.conn().await?;
    get_in(&mut conn, id).await
}

/// One note, read on the caller's connection (inside its transaction).
pub(crate) async fn get_in(conn: impl Into<Conn<'_>>, id: NoteId) -> Result<Note> {
    let mut conn = conn.into();
    store::get(&mut conn, id).await
}

/// The notes attributed to a participant, in every session, oldest first.
pub async fn by_participant(panel: &Panel, id: ParticipantId) -> Result<Vec<Note>> {
    store::by_participant(&mut panel.conn().await?, id).await
}

/// A session's notes in the order they were taken.
pub async fn list(panel: &Panel, session: SessionId) -> Result<Vec<Note>> {
    let mut conn = panel.conn().await?;
    list_in(&mut conn, session).await
}

/// [`list`] on the caller's connection (inside its transaction).
pub(crate) async fn list_in(conn: impl Into<Conn<'_>>, session: SessionId) -> Result<Vec<Note>> {
    let mut conn = conn.into();
    sessions::get_in(&mut conn, session).await?;
    store::list(&mut conn, session).await
}

/// Changes a note's text, and its participant only when `input` names
/// one (an empty participant takes the attribution off; none keeps it);
/// the earlier version is kept.
pub async fn edit(panel: &Panel, id: NoteId, input: &NoteInput) -> Result<Note> {
    let text = check(&input.text)?;
    // Some(None): take it off; None: keep what is stored.
    let participant = match input.participant.as_deref().map(str::trim) {
        Some("") => Some(None),
        Some(p) => Some(Some(participants::find(panel, p).await?)),
        None => None,
    };
    let editor = author(panel, input).await?;
    let mut tx = panel.begin().await?;
    if !store::replace(&mut tx, id, &text, participant, editor, panel.now()).await? {
        return Err(Error::not_found("note", id));
    }
    tx.commit().await?;
    get(panel, id).await
}

/// A note's earlier versions, oldest first.
pub async fn history(panel: &Panel, id: NoteId) -> Result<Vec<NoteVersion>> {
    let mut conn = panel.conn().await?;
    store::get(&mut conn, id).await?;
    store::versions(&mut conn, id).await
}

/// What to search for, and where.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct NoteSearch {
    /// Words (each matches as a prefix) and "quoted phrases"; all must match.
    pub query: String,
    pub session: Option<SessionId>,
    pub tag: Option<String>,
    /// An email or id.
    pub participant: Option<String>,
    pub limit: Option<u32>,
}

/// A note that matched, with the notes just before and after it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NoteHit {
    pub note: Note,
    pub session_title: String,
    pub before: Option<Note>,
    pub after: Option<Note>,
}

/// The FTS5 expression for what a person typed: each bare word a quoted
/// prefix (`refun` finds "refund"), each "quoted phrase" a phrase, all of
/// them required. Quoting every term means no input can be read as FTS5
/// syntax (NEAR, OR, column filters).
pub fn fts_query(typed: &str) -> Option<String> {
    let terms: Vec<String> = words::terms(typed)
        .into_iter()
        .map(|term| match term {
            words::Term::Phrase(p) => format!("\"{}\"", p.replace('"', "\"\"")),
            words::Term::Word(w) => format!("\"{}\"*", w.replace('"', "\"\"")),
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" AND "))
}

/// The longest note search, in characters.
pub const MAX_SEARCH_CHARS: usize = 500;

/// Searches every note, newest first, each hit with its neighbours.
pub async fn search(panel: &Panel, search: &NoteSearch) -> Result<Vec<NoteHit>> {
    let n = search.query.chars().count();
    if n > MAX_SEARCH_CHARS {
        return Err(Error::invalid(
            "search",
            &search.query,
            format!("is {n} characters long; a note search has at most {MAX_SEARCH_CHARS}"),
        ));
    }

    let participant = match search.participant.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => Some(participants::find(panel, p).await?),
        _ => None,
    };
    let tag = search
        .tag
        .as_deref()
        .map(|t| t.trim().trim_start_matches('#').to_lowercase())
        .filter(|t| !t.is_empty());
    let mut conn = panel.conn().await?;
    store::search(
        &mut conn,
        &search.query,
        search.session,
        participant,
        tag.as_deref(),
        search.limit.unwrap_or(50).clamp(1, 500),
    )
    .await?
    .ok_or_else(|| Error::invalid("search", &search.query, "has no words to look for"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database that cannot grow (SQLite's `max_page_count` on every
    /// connection, the way a full disk stops it) refuses a note with "the
    /// disk is full", never "not found", and keeps nothing half-saved.
    #[tokio::test]
    async fn a_note_on_a_full_database_says_the_disk_is_full() {
        let dir = tempfile::tempdir().unwrap();
        let panel = Panel::open(dir.path().join("panel.db")).await.unwrap();
        staff::add(
            &panel,
            &staff::StaffInput {
                name: "Ana".into(),
                email: "ana@company.example.com".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let session = sessions::create(
            &panel,
            &sessions::SessionInput {
                title: "Full".into(),
                start: Some("2027-03-16T10:00:00".parse().unwrap()),
                time_zone: "Europe/Berlin".into(),
                minutes: 60,
                seats: 4,
                moderator: "ana@company.example.com".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
        // No free pages left over (a migration that drops an index leaves
        // some), so the note needs pages the file is not allowed to gain.
        sqlx::query("VACUUM")
            .execute(panel.pool().unwrap())
            .await
            .unwrap();
        let mut held = Vec::new();
        for _ in 0..4 {
            let mut conn = panel.pool().unwrap().acquire().await.unwrap();
            let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "PRAGMA max_page_count = {pages}"
            )))
            .execute(&mut *conn)
            .await
            .unwrap();
            held.push(conn);
        }
        drop(held);
        let big = "words that fill pages ".repeat(900);
        let e = add(
            &panel,
            session,
            &NoteInput {
                text: big,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(e, Error::DiskFull), "{e:?}");
        let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM notes")
            .fetch_one(panel.pool().unwrap())
            .await
            .unwrap();
        assert_eq!(kept, 0);
    }

    #[test]
    fn tags_come_from_hash_words() {
        assert_eq!(
            tags_of("Refund never came #Refund #billing, see #billing #ünï"),
            ["billing", "refund", "ünï"]
        );
        assert!(tags_of("no tags # here").is_empty());
    }

    #[test]
    fn typed_searches_become_safe_fts_expressions() {
        assert_eq!(fts_query("refun"), Some("\"refun\"*".into()));
        assert_eq!(
            fts_query("\"never arrived\" refund"),
            Some("\"never arrived\" AND \"refund\"*".into())
        );
        assert_eq!(
            fts_query("a OR b"),
            Some("\"a\"* AND \"OR\"* AND \"b\"*".into())
        );
        assert_eq!(
            fts_query("text:x NEAR(y)"),
            Some("\"textx\"* AND \"NEARy\"*".into())
        );
        assert_eq!(
            fts_query("\"unclosed phrase"),
            Some("\"unclosed phrase\"".into())
        );
        assert_eq!(fts_query("  \"\" *** "), None);
    }
}
