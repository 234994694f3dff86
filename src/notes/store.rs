//! Where notes are kept: every statement on the notes, their earlier
//! versions and their search index, each on the connection it is given.
//! What a note may say and how a search is read are the domain's rules.
//!
//! On a panel file an FTS5 index, kept by triggers, finds notes; on a team
//! database each note carries its words as a `tsvector` (`super::words`),
//! written with the note, under a GIN index.

use super::{Note, NoteHit, NoteId, NoteVersion, tags_of, words};
use crate::db::{Conn, Dialect, either, instant, millis};
use crate::participants::ParticipantId;
use crate::sessions::SessionId;
use crate::sessions::staff::StaffId;
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use serde::Deserialize;

const COLUMNS: &str = "n.id, n.session, n.participant, p.name AS participant_name, n.author, \
    s.name AS author_name, n.text, CAST(n.tags AS TEXT) AS tags, n.at, n.offset_seconds, \
    (SELECT count(*) FROM note_edits e WHERE e.note = n.id) AS edits";
const FROM: &str = "notes n LEFT JOIN participants p ON p.id = n.participant \
    LEFT JOIN staff s ON s.id = n.author";

/// A note as [`COLUMNS`] reads it.
#[derive(sqlx::FromRow)]
struct NoteRow {
    id: i64,
    session: i64,
    participant: Option<i64>,
    participant_name: Option<String>,
    author: Option<i64>,
    author_name: Option<String>,
    text: String,
    tags: String,
    at: i64,
    offset_seconds: i64,
    edits: i64,
}

impl From<NoteRow> for Note {
    fn from(row: NoteRow) -> Note {
        Note {
            id: NoteId(row.id),
            session: SessionId(row.session),
            participant: row.participant.map(ParticipantId),
            participant_name: row.participant_name,
            author: row.author.map(StaffId),
            author_name: row.author_name,
            text: row.text,
            tags: serde_json::from_str(&row.tags).unwrap_or_default(),
            at: instant(row.at),
            offset_seconds: row.offset_seconds,
            edits: row.edits as u32,
        }
    }
}

/// A note to write, as [`insert`] takes it.
pub(crate) struct NewNote<'a> {
    pub session: SessionId,
    pub participant: Option<ParticipantId>,
    pub author: Option<StaffId>,
    pub text: &'a str,
    pub at: DateTime<Utc>,
    pub offset_seconds: i64,
    /// The id the computer it was typed on chose, if it chose one.
    pub client_id: Option<&'a str>,
}

/// Writes a new note, committed at once when `conn` is not in a
/// transaction, and says its id; none when a note with its client id is
/// already written.
pub(crate) async fn insert(
    conn: impl Into<Conn<'_>>,
    note: &NewNote<'_>,
) -> Result<Option<NoteId>> {
    let tags = tags_of(note.text);
    let tags_json = serde_json::to_string(&tags).expect("tags serialise");
    // Every row is read (there is at most one): SQLite commits an
    // autocommit statement when it finishes, and a commit that fails (a
    // full disk) reports its error only to the step that finishes it.
    let ids: Vec<i64> = match conn.into() {
        Conn::Sqlite(c) => {
            sqlx::query_scalar(
                "INSERT INTO notes (session, participant, author, text, tags, at, offset_seconds, \
                 created_at, updated_at, client_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $6, $8) \
                 ON CONFLICT (client_id) DO NOTHING RETURNING id",
            )
            .bind(note.session.0)
            .bind(note.participant.map(|p| p.0))
            .bind(note.author.map(|a| a.0))
            .bind(note.text)
            .bind(&tags_json)
            .bind(millis(note.at))
            .bind(note.offset_seconds)
            .bind(note.client_id)
            .fetch_all(c)
            .await?
        }
        Conn::Postgres(c) => {
            sqlx::query_scalar(
                "INSERT INTO notes (session, participant, author, text, tags, at, offset_seconds, \
                 created_at, updated_at, search, client_id) \
                 VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $6, $6, $8::tsvector, $9) \
                 ON CONFLICT (client_id) DO NOTHING RETURNING id",
            )
            .bind(note.session.0)
            .bind(note.participant.map(|p| p.0))
            .bind(note.author.map(|a| a.0))
            .bind(note.text)
            .bind(&tags_json)
            .bind(millis(note.at))
            .bind(note.offset_seconds)
            .bind(words::vector(note.text, &tags))
            .bind(note.client_id)
            .fetch_all(c)
            .await?
        }
    };
    Ok(ids.first().copied().map(NoteId))
}

/// The note written with this client id, if there is one.
pub(crate) async fn by_client_id(
    conn: impl Into<Conn<'_>>,
    client_id: &str,
) -> Result<Option<Note>> {
    let mut conn = conn.into();
    let id: Option<i64> = either!(conn.reborrow(), |c| sqlx::query_scalar(
        "SELECT id FROM notes WHERE client_id = $1"
    )
    .bind(client_id)
    .fetch_optional(&mut *c)
    .await?);
    match id {
        Some(id) => Ok(Some(get(conn, NoteId(id)).await?)),
        None => Ok(None),
    }
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
    conn: impl Into<Conn<'_>>,
    records: &[NoteRecord],
) -> Result<()> {
    let mut conn = conn.into();
    let tags: Vec<String> = records
        .iter()
        .map(|n| serde_json::to_string(&tags_of(&n.text)).expect("tags serialise"))
        .collect();
    let rows: Vec<(&NoteRecord, &String)> = records.iter().zip(&tags).collect();
    match conn.dialect() {
        Dialect::Sqlite => crate::db::insert_all!(
            conn.reborrow(),
            "INSERT INTO notes (id, session, participant, author, text, tags, at, offset_seconds, \
                 created_at, updated_at) ",
            rows,
            3_000,
            |b, row| {
                let (n, tags) = row;
                b.push_bind(n.id.0)
                    .push_bind(n.session.0)
                    .push_bind(n.participant.map(|p| p.0))
                    .push_bind(n.author.map(|a| a.0))
                    .push_bind(n.text.as_str())
                    .push_bind(tags.as_str())
                    .push_bind(millis(n.at))
                    .push_bind(n.offset_seconds)
                    .push_bind(millis(n.at))
                    .push_bind(millis(n.at));
            }
        ),
        Dialect::Postgres => {
            let vectors: Vec<String> = records
                .iter()
                .map(|n| words::vector(&n.text, &tags_of(&n.text)))
                .collect();
            let rows: Vec<((&NoteRecord, &String), &String)> =
                rows.into_iter().zip(&vectors).collect();
            crate::db::insert_all!(
                conn.reborrow(),
                "INSERT INTO notes (id, session, participant, author, text, tags, at, offset_seconds, \
                     created_at, updated_at, search) ",
                rows,
                3_000,
                |b, row| {
                    let ((n, tags), vector) = row;
                    b.push_bind(n.id.0)
                        .push_bind(n.session.0)
                        .push_bind(n.participant.map(|p| p.0))
                        .push_bind(n.author.map(|a| a.0))
                        .push_bind(n.text.as_str())
                        .push_bind(tags.as_str())
                        .push_unseparated("::jsonb")
                        .push_bind(millis(n.at))
                        .push_bind(n.offset_seconds)
                        .push_bind(millis(n.at))
                        .push_bind(millis(n.at))
                        .push_bind(vector.as_str())
                        .push_unseparated("::tsvector");
                }
            );
            crate::db::advance_ids(conn, "notes").await?;
        }
    }
    Ok(())
}

/// The id the next note will get.
pub(crate) async fn next_id(conn: impl Into<Conn<'_>>) -> Result<NoteId> {
    Ok(NoteId(either!(conn, |cx| sqlx::query_scalar(
        "SELECT coalesce(max(id), 0) + 1 FROM notes"
    )
    .fetch_one(&mut *cx)
    .await?)))
}

/// One note.
pub(crate) async fn get(conn: impl Into<Conn<'_>>, id: NoteId) -> Result<Note> {
    let row: Option<NoteRow> = either!(conn, |cx| sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE n.id = $1"
    )))
    .bind(id.0)
    .fetch_optional(&mut *cx)
    .await?);
    Ok(row.ok_or_else(|| Error::not_found("note", id))?.into())
}

/// A session's notes in the order they were taken.
pub(crate) async fn list(conn: impl Into<Conn<'_>>, session: SessionId) -> Result<Vec<Note>> {
    select(conn, "x.session", session.0).await
}

/// The notes attributed to participant `id`, in every session, oldest first.
pub(crate) async fn by_participant(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
) -> Result<Vec<Note>> {
    select(conn, "x.participant", id.0).await
}

/// The notes whose `column` is `value`, oldest first.
async fn select(conn: impl Into<Conn<'_>>, column: &str, value: i64) -> Result<Vec<Note>> {
    let conn = conn.into();
    // One JSON array rather than a row per note: the driver hands rows
    // over from its thread one at a time, which for a long session cost
    // more than reading the notes.
    let d = conn.dialect();
    let all = d.json_array_of(&note_json(d), "x.at, x.id");
    let json: String = either!(conn, |cx| sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT {all} FROM notes x \
         LEFT JOIN participants xp ON xp.id = x.participant \
         LEFT JOIN staff xs ON xs.id = x.author WHERE {column} = $1"
    )))
    .bind(value)
    .fetch_one(&mut *cx)
    .await?);
    let notes: Vec<NoteJson> = serde_json::from_str(&json)
        .map_err(|e| Error::database(format!("the notes did not read back: {e}")))?;
    Ok(notes.into_iter().map(Note::from).collect())
}

/// Keeps the note's current version among its earlier ones, then gives it
/// `text` (and, when `participant` is `Some`, that participant or none).
/// `false` when there is no such note.
pub(crate) async fn replace(
    conn: impl Into<Conn<'_>>,
    id: NoteId,
    text: &str,
    participant: Option<Option<ParticipantId>>,
    editor: Option<StaffId>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let mut conn = conn.into();
    let done = either!(conn.reborrow(), |cx| sqlx::query(
        "INSERT INTO note_edits (note, text, tags, participant, replaced_at, editor) \
         SELECT id, text, tags, participant, $1, $2 FROM notes WHERE id = $3",
    )
    .bind(millis(now))
    .bind(editor.map(|e| e.0))
    .bind(id.0)
    .execute(&mut *cx)
    .await?
    .rows_affected());
    if done == 0 {
        return Ok(false);
    }
    let tags = tags_of(text);
    let tags_json = serde_json::to_string(&tags).expect("tags serialise");
    match conn {
        Conn::Sqlite(c) => {
            sqlx::query(
                "UPDATE notes SET text = $1, tags = $2, \
                 participant = CASE WHEN $3 THEN $4 ELSE participant END, \
                 updated_at = $5 WHERE id = $6",
            )
            .bind(text)
            .bind(&tags_json)
            .bind(participant.is_some())
            .bind(participant.flatten().map(|p| p.0))
            .bind(millis(now))
            .bind(id.0)
            .execute(c)
            .await?;
        }
        Conn::Postgres(c) => {
            sqlx::query(
                "UPDATE notes SET text = $1, tags = $2::jsonb, \
                 participant = CASE WHEN $3 THEN $4 ELSE participant END, \
                 updated_at = $5, search = $7::tsvector WHERE id = $6",
            )
            .bind(text)
            .bind(&tags_json)
            .bind(participant.is_some())
            .bind(participant.flatten().map(|p| p.0))
            .bind(millis(now))
            .bind(id.0)
            .bind(words::vector(text, &tags))
            .execute(c)
            .await?;
        }
    }
    Ok(true)
}

/// A note's earlier versions, oldest first.
pub(crate) async fn versions(conn: impl Into<Conn<'_>>, id: NoteId) -> Result<Vec<NoteVersion>> {
    let rows: Vec<(String, String, Option<i64>, i64)> = either!(conn, |cx| sqlx::query_as(
        "SELECT text, CAST(tags AS TEXT), participant, replaced_at FROM note_edits \
         WHERE note = $1 ORDER BY replaced_at, id",
    )
    .bind(id.0)
    .fetch_all(&mut *cx)
    .await?);
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

/// A hit as [`search`] reads it.
#[derive(sqlx::FromRow)]
struct HitRow {
    #[sqlx(flatten)]
    note: NoteRow,
    session_title: String,
    before: Option<String>,
    after: Option<String>,
}

/// The notes matching what a person typed (and the session, participant
/// and tag when given), newest first, at most `limit`, each with the notes
/// just before and after it in its session. `None` when the search has no
/// words to look for.
pub(crate) async fn search(
    conn: impl Into<Conn<'_>>,
    typed: &str,
    session: Option<SessionId>,
    participant: Option<ParticipantId>,
    tag: Option<&str>,
    limit: u32,
) -> Result<Option<Vec<NoteHit>>> {
    let mut conn = conn.into();
    let d = conn.dialect();
    // Newest first: FTS5 walks its index backwards and stops at the limit,
    // where ranking by relevance would score every match first. The notes
    // just before and after each hit in its session come in the same
    // statement as the hits, as JSON: on a panel file a search is one round
    // trip of at most 50 rows; on a team database the hits' ids are found
    // first ([`newest_matches`]), then read with their neighbours.
    let note = note_json(d);
    let page = |hits: &str| {
        format!(
            "WITH hits AS ({hits}) \
             SELECT {COLUMNS}, ss.title AS session_title, \
               CAST((SELECT {note} FROM notes x LEFT JOIN participants xp ON xp.id = x.participant \
                 LEFT JOIN staff xs ON xs.id = x.author WHERE x.id = \
                 (SELECT y.id FROM notes y WHERE y.session = h.session AND (y.at, y.id) < (h.at, h.id) \
                  ORDER BY y.at DESC, y.id DESC LIMIT 1)) AS TEXT) AS before, \
               CAST((SELECT {note} FROM notes x LEFT JOIN participants xp ON xp.id = x.participant \
                 LEFT JOIN staff xs ON xs.id = x.author WHERE x.id = \
                 (SELECT y.id FROM notes y WHERE y.session = h.session AND (y.at, y.id) > (h.at, h.id) \
                  ORDER BY y.at, y.id LIMIT 1)) AS TEXT) AS after \
             FROM hits h JOIN notes n ON n.id = h.id LEFT JOIN participants p ON p.id = n.participant \
             LEFT JOIN staff s ON s.id = n.author JOIN sessions ss ON ss.id = n.session \
             ORDER BY h.id DESC"
        )
    };
    let rows: Vec<HitRow> = match conn.reborrow() {
        Conn::Sqlite(cx) => {
            let Some(expr) = super::fts_query(typed) else {
                return Ok(None);
            };
            sqlx::query_as(sqlx::AssertSqlSafe(page(
                "SELECT n.id, n.session, n.at FROM notes_fts f JOIN notes n ON n.id = f.rowid \
                 WHERE notes_fts MATCH $1 AND ($2 IS NULL OR n.session = $2) \
                 AND ($3 IS NULL OR n.participant = $3) \
                 AND ($4 IS NULL OR EXISTS (SELECT 1 FROM json_each(n.tags) WHERE value = $4)) \
                 ORDER BY f.rowid DESC LIMIT $5",
            )))
            .bind(&expr)
            .bind(session.map(|s| s.0))
            .bind(participant.map(|p| p.0))
            .bind(tag)
            .bind(i64::from(limit))
            .fetch_all(&mut *cx)
            .await?
        }
        Conn::Postgres(cx) => {
            let Some(expr) = words::query(typed) else {
                return Ok(None);
            };
            let ids = newest_matches(cx, &expr, session, participant, tag, limit).await?;
            sqlx::query_as(sqlx::AssertSqlSafe(page(
                "SELECT n.id, n.session, n.at FROM notes n WHERE n.id = ANY($1)",
            )))
            .bind(ids)
            .fetch_all(&mut *cx)
            .await?
        }
    };
    let around = |json: Option<String>| -> Result<Option<Note>> {
        json.map(|json| {
            serde_json::from_str::<NoteJson>(&json)
                .map(Note::from)
                .map_err(|e| Error::database(format!("a neighbouring note did not read back: {e}")))
        })
        .transpose()
    };
    rows.into_iter()
        .map(|r| {
            Ok(NoteHit {
                before: around(r.before)?,
                after: around(r.after)?,
                note: r.note.into(),
                session_title: r.session_title,
            })
        })
        .collect::<Result<_>>()
        .map(Some)
}

/// The newest `limit` notes on a team database matching the tsquery
/// `expr` (and the session, participant and tag when given), newest first.
///
/// A GIN index finds every match but in no order, and walking the notes
/// newest first stops at the limit but reads every note when few match;
/// PostgreSQL cannot tell the two cases apart from its statistics for a
/// word prefix. So the newest notes are tried first, a bounded number of
/// them: a common word fills the page there. Otherwise the index gives
/// every match, which are then few, and the newest are kept. Either way a
/// search reads a bounded part of the table.
async fn newest_matches(
    cx: &mut sqlx::PgConnection,
    expr: &str,
    session: Option<SessionId>,
    participant: Option<ParticipantId>,
    tag: Option<&str>,
    limit: u32,
) -> Result<Vec<i64>> {
    const RECENT: i64 = 4_000;
    const FILTERS: &str = "($2::bigint IS NULL OR n.session = $2) \
         AND ($3::bigint IS NULL OR n.participant = $3) AND ($4::text IS NULL OR n.tags ? $4)";
    let recent: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT n.id FROM (SELECT id, session, participant, tags, search FROM notes \
           ORDER BY id DESC LIMIT $6) n \
         WHERE n.search @@ $1::tsquery AND {FILTERS} ORDER BY n.id DESC LIMIT $5"
    )))
    .bind(expr)
    .bind(session.map(|s| s.0))
    .bind(participant.map(|p| p.0))
    .bind(tag)
    .bind(i64::from(limit))
    .bind(RECENT)
    .fetch_all(&mut *cx)
    .await?;
    if recent.len() as u32 == limit {
        return Ok(recent);
    }
    // `id + 0`: ordered after the index has found the matches, never by
    // walking the primary key.
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT n.id FROM notes n WHERE n.search @@ $1::tsquery AND {FILTERS} \
         ORDER BY n.id + 0 DESC LIMIT $5"
    )))
    .bind(expr)
    .bind(session.map(|s| s.0))
    .bind(participant.map(|p| p.0))
    .bind(tag)
    .bind(i64::from(limit))
    .fetch_all(&mut *cx)
    .await?)
}

/// A note `x` (its participant `xp`, its author `xs`) as one JSON object.
fn note_json(d: Dialect) -> String {
    format!(
        "{}('id', x.id, 'session', x.session, 'participant', x.participant, \
         'participantName', xp.name, 'author', x.author, 'authorName', xs.name, 'text', x.text, \
         'tags', {}, 'at', x.at, 'offsetSeconds', x.offset_seconds, \
         'edits', (SELECT count(*) FROM note_edits e WHERE e.note = x.id))",
        d.json_object(),
        d.json("x.tags")
    )
}

/// A note as [`note_json`] writes it.
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
