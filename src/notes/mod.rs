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

use crate::db::{instant, millis};
use crate::participants::{self, ParticipantId};
use crate::sessions::staff::{self, StaffId};
use crate::sessions::{self, SessionId};
use crate::{Error, Panel, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Row, SqliteConnection, sqlite::SqliteRow};
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
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
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
#[derive(Debug, Clone, Default, Deserialize, TS)]
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

const COLUMNS: &str = "n.id, n.session, n.participant, p.name AS participant_name, n.author, \
    s.name AS author_name, n.text, n.tags, n.at, n.offset_seconds, \
    (SELECT count(*) FROM note_edits e WHERE e.note = n.id) AS edits";
const FROM: &str = "notes n LEFT JOIN participants p ON p.id = n.participant \
    LEFT JOIN staff s ON s.id = n.author";

fn note_from(row: &SqliteRow) -> Note {
    let tags: String = row.get("tags");
    Note {
        id: NoteId(row.get("id")),
        session: SessionId(row.get("session")),
        participant: row.get::<Option<i64>, _>("participant").map(ParticipantId),
        participant_name: row.get("participant_name"),
        author: row.get::<Option<i64>, _>("author").map(StaffId),
        author_name: row.get("author_name"),
        text: row.get("text"),
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        at: instant(row.get("at")),
        offset_seconds: row.get("offset_seconds"),
        edits: row.get::<i64, _>("edits") as u32,
    }
}

async fn author(panel: &Panel, input: &NoteInput) -> Result<Option<StaffId>> {
    Ok(match input.author.as_deref().map(str::trim) {
        Some(a) if !a.is_empty() => Some(staff::by_email(panel, a).await?.id),
        _ => staff::current(panel).await?.map(|s| s.id),
    })
}

/// Adds a note to a session, stamped now, and commits it at once.
pub async fn add(panel: &Panel, session: SessionId, input: &NoteInput) -> Result<Note> {
    let text = check(&input.text)?;
    let s = sessions::get(panel, session).await?;
    let participant = match input.participant.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => Some(participants::find(panel, p).await?),
        _ => None,
    };
    let author = author(panel, input).await?;
    let now = panel.now();
    let offset = (now - s.starts_at).num_seconds();
    let tags = serde_json::to_string(&tags_of(&text)).expect("tags serialise");
    // Every row is read (there is one): SQLite commits an autocommit
    // statement when it finishes, and a commit that fails (a full disk)
    // reports its error only to the step that finishes it.
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO notes (session, participant, author, text, tags, at, offset_seconds, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6, ?6) RETURNING id",
    )
    .bind(session.0)
    .bind(participant.map(|p| p.0))
    .bind(author.map(|a| a.0))
    .bind(&text)
    .bind(&tags)
    .bind(millis(now))
    .bind(offset)
    .fetch_all(panel.pool())
    .await?;
    let id = ids
        .first()
        .copied()
        .ok_or_else(|| Error::conflict("the note was not saved"))?;
    get(panel, NoteId(id)).await
}

/// A note as it was taken, written as it is: a generated panel's (`demo`),
/// or one copied from another store. Its tags come from its text, as a
/// note added live gets them.
pub(crate) struct NoteRecord {
    pub id: NoteId,
    pub session: SessionId,
    pub participant: Option<ParticipantId>,
    pub author: Option<StaffId>,
    pub text: String,
    pub at: DateTime<Utc>,
    pub offset_seconds: i64,
}

/// Writes these notes as they are (each indexed for search as it goes in).
pub(crate) async fn insert_records(
    conn: &mut SqliteConnection,
    records: &[NoteRecord],
) -> Result<()> {
    crate::db::insert_all(
        conn,
        "INSERT INTO notes (id, session, participant, author, text, tags, at, offset_seconds, \
             created_at, updated_at) ",
        records,
        3_000,
        |b, n| {
            b.push_bind(n.id.0)
                .push_bind(n.session.0)
                .push_bind(n.participant.map(|p| p.0))
                .push_bind(n.author.map(|a| a.0))
                .push_bind(n.text.as_str())
                .push_bind(serde_json::to_string(&tags_of(&n.text)).expect("tags serialise"))
                .push_bind(millis(n.at))
                .push_bind(n.offset_seconds)
                .push_bind(millis(n.at))
                .push_bind(millis(n.at));
        },
    )
    .await
}

/// The id the next note will get.
pub(crate) async fn next_id(conn: &mut SqliteConnection) -> Result<NoteId> {
    Ok(NoteId(
        sqlx::query_scalar("SELECT coalesce(max(id), 0) + 1 FROM notes")
            .fetch_one(&mut *conn)
            .await?,
    ))
}

/// One note.
pub async fn get(panel: &Panel, id: NoteId) -> Result<Note> {
    let mut conn = panel.pool().acquire().await?;
    get_in(&mut conn, id).await
}

/// One note, read on the caller's connection (inside its transaction).
pub(crate) async fn get_in(conn: &mut SqliteConnection, id: NoteId) -> Result<Note> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE n.id = ?"
    )))
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::not_found("note", id))?;
    Ok(note_from(&row))
}

/// A session's notes in the order they were taken.
pub async fn list(panel: &Panel, session: SessionId) -> Result<Vec<Note>> {
    let mut conn = panel.pool().acquire().await?;
    list_in(&mut conn, session).await
}

/// [`list`] on the caller's connection (inside its transaction).
pub(crate) async fn list_in(conn: &mut SqliteConnection, session: SessionId) -> Result<Vec<Note>> {
    sessions::get_in(conn, session).await?;
    // One JSON array rather than a row per note: the driver hands rows
    // over from its thread one at a time, which for a long session cost
    // more than reading the notes.
    let json: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT json_group_array({NOTE_JSON} ORDER BY x.at, x.id) FROM notes x \
         LEFT JOIN participants xp ON xp.id = x.participant \
         LEFT JOIN staff xs ON xs.id = x.author WHERE x.session = ?"
    )))
    .bind(session.0)
    .fetch_one(&mut *conn)
    .await?;
    let notes: Vec<NoteJson> = serde_json::from_str(&json)
        .map_err(|e| Error::database(format!("the notes did not read back: {e}")))?;
    Ok(notes.into_iter().map(Note::from).collect())
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
    let now = millis(panel.now());
    let mut tx = panel.write().await?;
    let done = sqlx::query(
        "INSERT INTO note_edits (note, text, tags, participant, replaced_at, editor) \
         SELECT id, text, tags, participant, ?, ? FROM notes WHERE id = ?",
    )
    .bind(now)
    .bind(editor.map(|e| e.0))
    .bind(id.0)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found("note", id));
    }
    sqlx::query(
        "UPDATE notes SET text = ?1, tags = ?2, participant = CASE WHEN ?3 THEN ?4 ELSE participant END, \
         updated_at = ?5 WHERE id = ?6",
    )
    .bind(&text)
    .bind(serde_json::to_string(&tags_of(&text)).expect("tags serialise"))
    .bind(participant.is_some())
    .bind(participant.flatten().map(|p| p.0))
    .bind(now)
    .bind(id.0)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    get(panel, id).await
}

/// A note's earlier versions, oldest first.
pub async fn history(panel: &Panel, id: NoteId) -> Result<Vec<NoteVersion>> {
    get(panel, id).await?;
    let rows: Vec<(String, String, Option<i64>, i64)> = sqlx::query_as(
        "SELECT text, tags, participant, replaced_at FROM note_edits WHERE note = ? ORDER BY replaced_at, id",
    )
    .bind(id.0)
    .fetch_all(panel.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(text, tags, participant, at)| NoteVersion {
            text,
            tags: serde_json::from_str(&tags).unwrap_or_default(),
            participant: participant.map(ParticipantId),
            replaced_at: instant(at),
        })
        .collect())
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
    let mut terms = Vec::new();
    let mut rest = typed.trim();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('"') {
            let (phrase, tail) = after.split_once('"').unwrap_or((after, ""));
            let phrase = phrase.trim();
            if !phrase.is_empty() {
                terms.push(format!("\"{}\"", phrase.replace('"', "\"\"")));
            }
            rest = tail.trim_start();
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"')
                .unwrap_or(rest.len());
            let word: String = rest[..end]
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '\'')
                .collect();
            if !word.is_empty() {
                terms.push(format!("\"{}\"*", word.replace('"', "\"\"")));
            }
            rest = rest[end..].trim_start();
        }
    }
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
    let Some(expr) = fts_query(&search.query) else {
        return Err(Error::invalid(
            "search",
            &search.query,
            "has no words to look for",
        ));
    };
    let participant = match search.participant.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => Some(participants::find(panel, p).await?),
        _ => None,
    };
    let tag = search
        .tag
        .as_deref()
        .map(|t| t.trim().trim_start_matches('#').to_lowercase())
        .filter(|t| !t.is_empty());
    // Newest first: FTS5 walks its index backwards and stops at the limit,
    // where ranking by relevance would score every match first. The notes
    // just before and after each hit in its session come in the same
    // statement, as JSON, so a search is one round trip of at most 50 rows.
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH hits AS (SELECT n.id, n.session, n.at FROM notes_fts f JOIN notes n ON n.id = f.rowid \
           WHERE notes_fts MATCH ?1 AND (?2 IS NULL OR n.session = ?2) \
           AND (?3 IS NULL OR n.participant = ?3) \
           AND (?4 IS NULL OR EXISTS (SELECT 1 FROM json_each(n.tags) WHERE value = ?4)) \
           ORDER BY f.rowid DESC LIMIT ?5) \
         SELECT {COLUMNS}, ss.title AS session_title, \
           (SELECT {NOTE_JSON} FROM notes x LEFT JOIN participants xp ON xp.id = x.participant \
             LEFT JOIN staff xs ON xs.id = x.author WHERE x.id = \
             (SELECT y.id FROM notes y WHERE y.session = h.session AND (y.at, y.id) < (h.at, h.id) \
              ORDER BY y.at DESC, y.id DESC LIMIT 1)) AS before, \
           (SELECT {NOTE_JSON} FROM notes x LEFT JOIN participants xp ON xp.id = x.participant \
             LEFT JOIN staff xs ON xs.id = x.author WHERE x.id = \
             (SELECT y.id FROM notes y WHERE y.session = h.session AND (y.at, y.id) > (h.at, h.id) \
              ORDER BY y.at, y.id LIMIT 1)) AS after \
         FROM hits h JOIN notes n ON n.id = h.id LEFT JOIN participants p ON p.id = n.participant \
         LEFT JOIN staff s ON s.id = n.author JOIN sessions ss ON ss.id = n.session \
         ORDER BY h.id DESC"
    )))
    .bind(&expr)
    .bind(search.session.map(|s| s.0))
    .bind(participant.map(|p| p.0))
    .bind(&tag)
    .bind(search.limit.unwrap_or(50).clamp(1, 500))
    .fetch_all(panel.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let around = |column: &str| -> Result<Option<Note>> {
                r.get::<Option<String>, _>(column)
                    .map(|json| {
                        serde_json::from_str::<NoteJson>(&json)
                            .map(Note::from)
                            .map_err(|e| {
                                Error::database(format!(
                                    "a neighbouring note did not read back: {e}"
                                ))
                            })
                    })
                    .transpose()
            };
            Ok(NoteHit {
                before: around("before")?,
                after: around("after")?,
                note: note_from(r),
                session_title: r.get("session_title"),
            })
        })
        .collect()
}

/// A note `x` (its participant `xp`, its author `xs`) as one JSON object.
const NOTE_JSON: &str = "json_object('id', x.id, 'session', x.session, 'participant', x.participant, \
    'participantName', xp.name, 'author', x.author, 'authorName', xs.name, 'text', x.text, \
    'tags', json(x.tags), 'at', x.at, 'offsetSeconds', x.offset_seconds, \
    'edits', (SELECT count(*) FROM note_edits e WHERE e.note = x.id))";

/// A note as [`NOTE_JSON`] writes it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NoteJson {
    id: i64,
    session: i64,
    participant: Option<i64>,
    participant_name: Option<String>,
    author: Option<i64>,
    author_name: Option<String>,
    text: String,
    tags: Vec<String>,
    at: i64,
    offset_seconds: i64,
    edits: u32,
}

impl From<NoteJson> for Note {
    fn from(n: NoteJson) -> Note {
        Note {
            id: NoteId(n.id),
            session: SessionId(n.session),
            participant: n.participant.map(ParticipantId),
            participant_name: n.participant_name,
            author: n.author.map(StaffId),
            author_name: n.author_name,
            text: n.text,
            tags: n.tags,
            at: instant(n.at),
            offset_seconds: n.offset_seconds,
            edits: n.edits,
        }
    }
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
        let mut held = Vec::new();
        for _ in 0..4 {
            let mut conn = panel.pool().acquire().await.unwrap();
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
            .fetch_one(panel.pool())
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
