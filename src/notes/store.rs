//! Where notes are kept: every statement on the notes, their earlier
//! versions and their search index, each on the connection it is given.
//! What a note may say and how a search is read are the domain's rules.

use super::{Note, NoteHit, NoteId, NoteVersion, tags_of};
use crate::db::{instant, millis};
use crate::participants::ParticipantId;
use crate::sessions::SessionId;
use crate::sessions::staff::StaffId;
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::{Row, SqliteConnection, sqlite::SqliteRow};

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

/// Writes a new note, committed at once when `conn` is not in a
/// transaction, and says its id.
pub(crate) async fn insert(
    conn: &mut SqliteConnection,
    session: SessionId,
    participant: Option<ParticipantId>,
    author: Option<StaffId>,
    text: &str,
    at: DateTime<Utc>,
    offset_seconds: i64,
) -> Result<NoteId> {
    let tags = serde_json::to_string(&tags_of(text)).expect("tags serialise");
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
    .bind(text)
    .bind(&tags)
    .bind(millis(at))
    .bind(offset_seconds)
    .fetch_all(&mut *conn)
    .await?;
    ids.first()
        .copied()
        .map(NoteId)
        .ok_or_else(|| Error::conflict("the note was not saved"))
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
    crate::db::insert_all!(
        &mut *conn,
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
    );
    Ok(())
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
pub(crate) async fn get(conn: &mut SqliteConnection, id: NoteId) -> Result<Note> {
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
pub(crate) async fn list(conn: &mut SqliteConnection, session: SessionId) -> Result<Vec<Note>> {
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

/// Keeps the note's current version among its earlier ones, then gives it
/// `text` (and, when `participant` is `Some`, that participant or none).
/// `false` when there is no such note.
pub(crate) async fn replace(
    conn: &mut SqliteConnection,
    id: NoteId,
    text: &str,
    participant: Option<Option<ParticipantId>>,
    editor: Option<StaffId>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO note_edits (note, text, tags, participant, replaced_at, editor) \
         SELECT id, text, tags, participant, ?, ? FROM notes WHERE id = ?",
    )
    .bind(millis(now))
    .bind(editor.map(|e| e.0))
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE notes SET text = ?1, tags = ?2, participant = CASE WHEN ?3 THEN ?4 ELSE participant END, \
         updated_at = ?5 WHERE id = ?6",
    )
    .bind(text)
    .bind(serde_json::to_string(&tags_of(text)).expect("tags serialise"))
    .bind(participant.is_some())
    .bind(participant.flatten().map(|p| p.0))
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// A note's earlier versions, oldest first.
pub(crate) async fn versions(conn: &mut SqliteConnection, id: NoteId) -> Result<Vec<NoteVersion>> {
    let rows: Vec<(String, String, Option<i64>, i64)> = sqlx::query_as(
        "SELECT text, tags, participant, replaced_at FROM note_edits WHERE note = ? ORDER BY replaced_at, id",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
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

/// The notes matching the FTS5 expression `expr` (and the session,
/// participant and tag when given), newest first, at most `limit`, each
/// with the notes just before and after it in its session.
pub(crate) async fn search(
    conn: &mut SqliteConnection,
    expr: &str,
    session: Option<SessionId>,
    participant: Option<ParticipantId>,
    tag: Option<&str>,
    limit: u32,
) -> Result<Vec<NoteHit>> {
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
    .bind(expr)
    .bind(session.map(|s| s.0))
    .bind(participant.map(|p| p.0))
    .bind(tag)
    .bind(limit)
    .fetch_all(&mut *conn)
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
