//! Where a person's data is found and erased: the statements a subject
//! access export and an erasure run across the panel's tables (their
//! sessions, notes, issues, mail, consents, history), each on the
//! connection or transaction it is given. What names a person, what each
//! choice leaves of a note and what an erasure keeps are the rules in
//! `privacy`.
//!
//! On a panel file, what is deleted or overwritten is overwritten in the
//! file too (`secure_delete`) and the file is rebuilt after an erasure; on
//! a team database the changed tables are vacuumed, which frees the old
//! rows' space for reuse (PostgreSQL does not overwrite it at once, and
//! its write-ahead log and backups are the database's operator's to keep).

use super::{Erasure, NoteHeld, SessionTaken};
use crate::db::{Conn, Dialect, either, instant, millis};
use crate::error::Result;
use crate::mail::MessageId;
use crate::notes::NoteId;
use crate::participants::ParticipantId;
use crate::sessions::SessionId;
use chrono::{DateTime, Utc};
use sqlx::Row;
use std::collections::BTreeSet;

/// The suppression lists the person's email is on.
pub(super) async fn suppression_lists(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
) -> Result<Vec<String>> {
    Ok(either!(conn, |cx| sqlx::query_scalar(
        "SELECT l.name FROM suppressions s JOIN suppression_lists l ON l.id = s.list_id \
         JOIN participants p ON p.email_hash = s.hash WHERE p.id = $1 ORDER BY l.name",
    )
    .bind(id.0)
    .fetch_all(&mut *cx)
    .await?))
}

/// The sessions the person was invited to, with their answer, attendance
/// and incentive, in start order.
pub(super) async fn sessions_taken(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
) -> Result<Vec<SessionTaken>> {
    type Taken = (i64, String, i64, String, Option<String>, Option<i64>);
    let rows: Vec<Taken> = either!(conn, |cx| sqlx::query_as(
        "SELECT s.id, s.title, s.starts_at, r.rsvp, r.attendance, r.incentive_cents \
         FROM session_participants r JOIN sessions s ON s.id = r.session \
         WHERE r.participant = $1 ORDER BY s.starts_at",
    )
    .bind(id.0)
    .fetch_all(&mut *cx)
    .await?);
    Ok(rows
        .into_iter()
        .map(
            |(session, title, starts_at, rsvp, attendance, incentive_cents)| SessionTaken {
                session: SessionId(session),
                title,
                starts_at: instant(starts_at),
                rsvp,
                attendance,
                incentive_cents,
            },
        )
        .collect())
}

/// An issue the person raised, as an export shows it.
pub(super) struct IssueRow {
    pub id: i64,
    pub summary: String,
    pub detail: String,
    pub status: String,
    pub owner: Option<String>,
    pub raised_at: DateTime<Utc>,
    pub resolution: Option<String>,
    /// Each logged contact: when, how, what came of it.
    pub contacts: Vec<(DateTime<Utc>, String, String)>,
}

/// The issues the person raised, with their contact logs, by id.
pub(super) async fn issues(conn: impl Into<Conn<'_>>, id: ParticipantId) -> Result<Vec<IssueRow>> {
    let mut conn = conn.into();
    type Raised = (
        i64,
        String,
        String,
        String,
        Option<String>,
        i64,
        Option<String>,
    );
    let rows: Vec<Raised> = either!(conn.reborrow(), |cx| sqlx::query_as(
        "SELECT i.id, i.summary, i.detail, i.status, s.name, i.created_at, i.resolution \
         FROM issues i LEFT JOIN staff s ON s.id = i.owner WHERE i.participant = $1 ORDER BY i.id",
    )
    .bind(id.0)
    .fetch_all(&mut *cx)
    .await?);
    let mut issues = Vec::with_capacity(rows.len());
    for (issue, summary, detail, status, owner, raised_at, resolution) in rows {
        let contacts: Vec<(i64, String, String)> = either!(conn.reborrow(), |cx| {
            sqlx::query_as(
                "SELECT at, via, outcome FROM issue_contacts WHERE issue = $1 ORDER BY at, id",
            )
            .bind(issue)
            .fetch_all(&mut *cx)
            .await?
        });
        issues.push(IssueRow {
            id: issue,
            summary,
            detail,
            status,
            owner,
            raised_at: instant(raised_at),
            resolution,
            contacts: contacts
                .into_iter()
                .map(|(at, via, outcome)| (instant(at), via, outcome))
                .collect(),
        });
    }
    Ok(issues)
}

/// How many issues the person raised.
pub(super) async fn issue_count(conn: impl Into<Conn<'_>>, id: ParticipantId) -> Result<u32> {
    let n: i64 = either!(conn, |cx| sqlx::query_scalar(
        "SELECT count(*) FROM issues WHERE participant = $1"
    )
    .bind(id.0)
    .fetch_one(&mut *cx)
    .await?);
    Ok(n as u32)
}

/// How a topic is matched against a pattern of text and `*`: SQLite's
/// GLOB, or PostgreSQL's LIKE (the pattern bound through
/// [`crate::mail::store::like_of_glob`]); and the wildcard in SQL text.
fn topic_match(d: Dialect) -> (&'static str, &'static str) {
    match d {
        Dialect::Sqlite => ("GLOB", "*"),
        Dialect::Postgres => ("LIKE", "%"),
    }
}

/// Messages sent (or to be sent) to the person, oldest first: their
/// session mail (topics matching `session_mail`), mail to their address,
/// and the owner's messages about their issues.
pub(super) async fn messages_to(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
    email: Option<&str>,
    session_mail: &str,
) -> Result<Vec<MessageId>> {
    let conn = conn.into();
    let d = conn.dialect();
    let (op, any) = topic_match(d);
    let pattern = match d {
        Dialect::Sqlite => session_mail.to_string(),
        Dialect::Postgres => crate::mail::store::like_of_glob(session_mail),
    };
    let ids: Vec<i64> = either!(conn, |cx| sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT o.id FROM outbox o WHERE o.topic {op} $1 \
         OR (CAST($2 AS TEXT) IS NOT NULL AND lower(o.recipient) = lower($2)) \
         OR (o.kind IN ('handoff', 'resolution') AND EXISTS (SELECT 1 FROM issues i \
             WHERE i.participant = $3 AND o.topic {op} 'issue/' || i.id || '/{any}')) \
         ORDER BY o.id"
    )))
    .bind(&pattern)
    .bind(email)
    .bind(id.0)
    .fetch_all(&mut *cx)
    .await?);
    Ok(ids.into_iter().map(MessageId).collect())
}

/// The notes that may be about the person: attributed to them, taken in
/// sessions they were on, or found by the full-text search of their name
/// or email (`fts` on a panel file, `ts` on a team database), in the order
/// they were taken.
pub(super) async fn notes_near(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
    fts: Option<String>,
    ts: Option<String>,
) -> Result<Vec<NoteHeld>> {
    let conn = conn.into();
    let (found, words) = match conn.dialect() {
        Dialect::Sqlite => (
            "n.id IN (SELECT rowid FROM notes_fts WHERE notes_fts MATCH $2)",
            fts,
        ),
        Dialect::Postgres => ("n.search @@ CAST($2 AS TEXT)::tsquery", ts),
    };
    let rows: Vec<(i64, i64, String, i64, String, bool)> =
        either!(conn, |cx| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT n.id, n.session, s.title, n.at, n.text, \
               n.participant IS NOT DISTINCT FROM $1 FROM notes n \
             JOIN sessions s ON s.id = n.session \
             WHERE n.participant = $1 \
                OR n.session IN (SELECT session FROM session_participants WHERE participant = $1) \
                OR (CAST($2 AS TEXT) IS NOT NULL AND {found}) \
             ORDER BY n.at, n.id"
        )))
        .bind(id.0)
        .bind(&words)
        .fetch_all(&mut *cx)
        .await?);
    Ok(rows
        .into_iter()
        .map(
            |(note, session, session_title, at, text, attributed)| NoteHeld {
                note: NoteId(note),
                session: SessionId(session),
                session_title,
                at: instant(at),
                text,
                attributed,
            },
        )
        .collect())
}

/// A message that may be about the person.
pub(super) struct MessageRow {
    pub id: MessageId,
    pub status: String,
    /// Its recipient's name, subject, text and last error, as one text.
    pub text: String,
    /// About their issues, report mail of their sessions, or to them.
    pub theirs: bool,
}

/// The values of the JSON array bound as parameter `n`, as a table `t`
/// with one column `value`.
fn json_values(d: Dialect, n: u32) -> String {
    match d {
        Dialect::Sqlite => format!("json_each(${n}) t"),
        Dialect::Postgres => format!("jsonb_array_elements_text(${n}::jsonb) AS t(value)"),
    }
}

/// `LIKE` as SQLite reads it (ASCII letters in any case) in each store.
fn like(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => "LIKE",
        Dialect::Postgres => "ILIKE",
    }
}

/// Messages that may be about the person: to them (`to_them`), about their
/// issues, report mail of their sessions, and any whose text holds one of
/// `words`.
pub(super) async fn messages_near(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
    to_them: &BTreeSet<i64>,
    words: &[String],
) -> Result<Vec<MessageRow>> {
    let conn = conn.into();
    let d = conn.dialect();
    let (op, any) = topic_match(d);
    let (ids, each, like) = (d.ids_of_json(2), json_values(d, 3), like(d));
    type Near = (i64, String, String, String, String, Option<String>, bool);
    let rows: Vec<Near> = either!(conn, |cx| {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, status, recipient_name, subject, body_text, last_error, theirs FROM ( \
           SELECT o.id, o.status, o.recipient_name, o.subject, o.body_text, o.last_error, \
             EXISTS (SELECT 1 FROM issues i WHERE i.participant = $1 \
                     AND o.topic {op} 'issue/' || i.id || '/{any}') \
             OR EXISTS (SELECT 1 FROM session_participants r WHERE r.participant = $1 \
                     AND o.topic = 'report/session/' || r.session) \
             OR o.id IN ({ids}) AS theirs \
           FROM outbox o) o \
         WHERE theirs OR EXISTS (SELECT 1 FROM {each} \
           WHERE o.subject {like} '%' || t.value || '%' OR o.body_text {like} '%' || t.value || '%' \
              OR o.recipient_name {like} '%' || t.value || '%' \
              OR coalesce(o.last_error, '') {like} '%' || t.value || '%') \
         ORDER BY id"
    )))
    .bind(id.0)
    .bind(serde_json::to_string(to_them).expect("ids serialise"))
    .bind(serde_json::to_string(words).expect("words serialise"))
    .fetch_all(&mut *cx)
    .await?
    });
    Ok(rows
        .into_iter()
        .map(
            |(id, status, name, subject, body, last_error, theirs)| MessageRow {
                id: MessageId(id),
                status,
                text: format!("{name} {subject} {body} {}", last_error.unwrap_or_default()),
                theirs,
            },
        )
        .collect())
}

/// Switches SQLite's secure delete on for this connection (what is deleted
/// or overwritten is overwritten in the file too), returning the setting
/// to give back to [`restore_secure_delete`]. A team database has no such
/// setting.
pub(super) async fn secure_delete(conn: impl Into<Conn<'_>>) -> Result<Option<i64>> {
    let Conn::Sqlite(conn) = conn.into() else {
        return Ok(None);
    };
    let before: i64 = sqlx::query_scalar("PRAGMA secure_delete")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query("PRAGMA secure_delete = ON")
        .execute(&mut *conn)
        .await?;
    Ok(Some(before))
}

/// Gives the connection back its secure-delete setting (the pragma is not
/// part of a transaction).
pub(super) async fn restore_secure_delete(
    conn: impl Into<Conn<'_>>,
    before: Option<i64>,
) -> Result<()> {
    if let (Conn::Sqlite(conn), Some(before)) = (conn.into(), before) {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA secure_delete = {before}"
        )))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The tables an erasure changes, vacuumed after it on a team database.
const ERASED_IN: &[&str] = &[
    "participants",
    "notes",
    "note_edits",
    "issues",
    "issue_events",
    "issue_contacts",
    "outbox",
    "outbox_attachments",
    "participant_consents",
    "contact_history",
    "sessions",
];

/// On a panel file: rebuilds the file without the free space where earlier
/// copies of erased text can remain, then empties the write-ahead log. On a
/// team database: vacuums the tables the erasure changed. Says whether
/// that was done (a file cannot be rebuilt while another process holds a
/// transaction); the erasure is committed either way.
pub(super) async fn compact(conn: impl Into<Conn<'_>>) -> bool {
    match conn.into() {
        Conn::Sqlite(conn) => {
            let rebuilt = match sqlx::query("VACUUM").execute(&mut *conn).await {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "the file was not rebuilt after an erasure");
                    false
                }
            };
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut *conn)
                .await
            {
                tracing::warn!(error = %e, "the log could not be emptied after an erasure; the next checkpoint reuses it");
            }
            rebuilt
        }
        Conn::Postgres(conn) => {
            let tables = ERASED_IN.join(", ");
            match sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM {tables}")))
                .execute(&mut *conn)
                .await
            {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "the tables were not vacuumed after an erasure");
                    false
                }
            }
        }
    }
}

/// Gives a note its erased text (and the tags and, on a team database, the
/// words that text has).
pub(super) async fn set_note_text(
    conn: impl Into<Conn<'_>>,
    note: NoteId,
    text: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let tags = crate::notes::tags_of(text);
    let tags_json = serde_json::to_string(&tags).expect("tags serialise");
    match conn.into() {
        Conn::Sqlite(c) => {
            sqlx::query("UPDATE notes SET text = $1, tags = $2, updated_at = $3 WHERE id = $4")
                .bind(text)
                .bind(&tags_json)
                .bind(millis(now))
                .bind(note.0)
                .execute(c)
                .await?;
        }
        Conn::Postgres(c) => {
            sqlx::query(
                "UPDATE notes SET text = $1, tags = $2::jsonb, updated_at = $3, \
                 search = $5::tsvector WHERE id = $4",
            )
            .bind(text)
            .bind(&tags_json)
            .bind(millis(now))
            .bind(note.0)
            .bind(crate::notes::search_vector(text, &tags))
            .execute(c)
            .await?;
        }
    }
    Ok(())
}

/// Gives every earlier version of a note the text `text`; returns how many.
pub(super) async fn set_note_versions(
    conn: impl Into<Conn<'_>>,
    note: NoteId,
    text: &str,
) -> Result<u32> {
    Ok(either!(conn, |cx| sqlx::query(
        "UPDATE note_edits SET text = $1, tags = '[]' WHERE note = $2"
    )
    .bind(text)
    .bind(note.0)
    .execute(&mut *cx)
    .await?
    .rows_affected()) as u32)
}

/// Names, for the rest of the transaction, the notes kept as they are (the
/// temporary table `erasure_kept`, which a filter given to [`rows_naming`]
/// can read).
pub(super) async fn keep_notes(conn: impl Into<Conn<'_>>, kept: &BTreeSet<i64>) -> Result<()> {
    let mut conn = conn.into();
    let each = conn.dialect().ids_of_json(1);
    either!(conn.reborrow(), |cx| {
        sqlx::query("CREATE TEMP TABLE IF NOT EXISTS erasure_kept (note BIGINT PRIMARY KEY)")
            .execute(&mut *cx)
            .await?;
        sqlx::query("DELETE FROM erasure_kept")
            .execute(&mut *cx)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO erasure_kept (note) {each}"
        )))
        .bind(serde_json::to_string(kept).expect("ids serialise"))
        .execute(&mut *cx)
        .await?
        .rows_affected()
    });
    Ok(())
}

/// The rows of `table` (by `key`) that `filter` selects (with `$1` bound
/// to `bind`) or whose `columns` hold one of `words`, with those columns.
pub(super) async fn rows_naming(
    conn: impl Into<Conn<'_>>,
    table: &str,
    key: &str,
    columns: &[&str],
    filter: &str,
    bind: i64,
    words: &[String],
) -> Result<Vec<(i64, Vec<Option<String>>)>> {
    let conn = conn.into();
    let d = conn.dialect();
    let (each, like) = (json_values(d, 2), like(d));
    let any = columns
        .iter()
        .map(|c| format!("{c} {like} '%' || t.value || '%'"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let sql = format!(
        "SELECT {key}, {} FROM {table} WHERE ({filter}) OR \
         EXISTS (SELECT 1 FROM {each} WHERE {any})",
        columns.join(", ")
    );
    let words = serde_json::to_string(words).expect("words serialise");
    Ok(either!(conn, |cx| sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(bind)
        .bind(&words)
        .fetch_all(&mut *cx)
        .await?
        .iter()
        .map(|row| {
            let values = (0..columns.len()).map(|i| row.get(i + 1)).collect();
            (row.get::<i64, _>(0), values)
        })
        .collect()))
}

/// Sets `columns` of the row `id` of `table` (by `key`) to `values`.
pub(super) async fn set_columns(
    conn: impl Into<Conn<'_>>,
    table: &str,
    key: &str,
    columns: &[&str],
    id: i64,
    values: Vec<Option<String>>,
) -> Result<()> {
    let sets = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE {table} SET {sets} WHERE {key} = ${}",
        columns.len() + 1
    );
    either!(conn, |cx| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in values {
            q = q.bind(v);
        }
        q.bind(id).execute(&mut *cx).await?.rows_affected()
    });
    Ok(())
}

/// Withdraws a message not yet sent because its participant was erased.
pub(super) async fn withdraw_message(
    conn: impl Into<Conn<'_>>,
    id: MessageId,
    now: DateTime<Utc>,
) -> Result<()> {
    either!(conn, |cx| sqlx::query(
        "UPDATE outbox SET status = 'cancelled', updated_at = $1, \
         last_error = 'withdrawn: the participant was erased' WHERE id = $2",
    )
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *cx)
    .await?
    .rows_affected());
    Ok(())
}

/// What of a message can name a person, and its kind.
#[derive(sqlx::FromRow)]
pub(super) struct MessageText {
    pub recipient: String,
    pub recipient_name: String,
    pub reply_to: Option<String>,
    pub subject: String,
    #[sqlx(rename = "body_text")]
    pub text: String,
    pub last_error: Option<String>,
    pub kind: String,
}

/// A message's text fields.
pub(super) async fn message_text(conn: impl Into<Conn<'_>>, id: MessageId) -> Result<MessageText> {
    Ok(either!(conn, |cx| sqlx::query_as(
        "SELECT recipient, recipient_name, reply_to, subject, body_text, last_error, kind \
         FROM outbox WHERE id = $1",
    )
    .bind(id.0)
    .fetch_one(&mut *cx)
    .await?))
}

/// Rewrites a message's text fields (its HTML body becomes `html`).
pub(super) async fn set_message_text(
    conn: impl Into<Conn<'_>>,
    id: MessageId,
    m: &MessageText,
    html: &str,
) -> Result<()> {
    either!(conn, |cx| sqlx::query(
        "UPDATE outbox SET recipient = $1, recipient_name = $2, reply_to = $3, subject = $4, \
         body_text = $5, body_html = $6, last_error = $7 WHERE id = $8",
    )
    .bind(&m.recipient)
    .bind(&m.recipient_name)
    .bind(&m.reply_to)
    .bind(&m.subject)
    .bind(&m.text)
    .bind(html)
    .bind(&m.last_error)
    .bind(id.0)
    .execute(&mut *cx)
    .await?
    .rows_affected());
    Ok(())
}

/// Deletes a message's attachments; returns how many.
pub(super) async fn drop_attachments(conn: impl Into<Conn<'_>>, id: MessageId) -> Result<u32> {
    Ok(either!(conn, |cx| sqlx::query(
        "DELETE FROM outbox_attachments WHERE message = $1"
    )
    .bind(id.0)
    .execute(&mut *cx)
    .await?
    .rows_affected()) as u32)
}

/// Empties the person's own record, leaving `name` and the erasure time.
pub(super) async fn erase_record(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
    name: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    either!(conn, |cx| sqlx::query(
        "UPDATE participants SET name = $1, email = NULL, email_norm = NULL, email_hash = NULL, \
         phone = NULL, time_zone = NULL, language = NULL, source = NULL, attributes = '{}', \
         tags = '[]', search_text = '', sort_name = '', opted_out_at = NULL, \
         do_not_contact = true, erased_at = $2, updated_at = $2 WHERE id = $3",
    )
    .bind(name)
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *cx)
    .await?
    .rows_affected());
    Ok(())
}

/// Deletes the person's consents; returns how many.
pub(super) async fn delete_consents(conn: impl Into<Conn<'_>>, id: ParticipantId) -> Result<u32> {
    Ok(either!(conn, |cx| sqlx::query(
        "DELETE FROM participant_consents WHERE participant_id = $1"
    )
    .bind(id.0)
    .execute(&mut *cx)
    .await?
    .rows_affected()) as u32)
}

/// Clears the free-text details of the person's contact history; returns
/// how many entries had one.
pub(super) async fn clear_history_details(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
) -> Result<u32> {
    Ok(either!(conn, |cx| sqlx::query(
        "UPDATE contact_history SET detail = NULL WHERE participant_id = $1 AND detail IS NOT NULL",
    )
    .bind(id.0)
    .execute(&mut *cx)
    .await?
    .rows_affected()) as u32)
}

/// Keeps the record of an erasure, with the notes kept as they were and
/// why.
pub(super) async fn record_erasure(
    conn: impl Into<Conn<'_>>,
    erasure: &Erasure,
    kept: &[(NoteId, String)],
) -> Result<()> {
    let mut conn = conn.into();
    let id: i64 = either!(conn.reborrow(), |cx| {
        sqlx::query_scalar(
        "INSERT INTO erasures (participant_id, erased_at, reason) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(erasure.participant.0)
    .bind(millis(erasure.erased_at))
    .bind(&erasure.reason)
    .fetch_one(&mut *cx)
    .await?
    });
    for (note, reason) in kept {
        either!(conn.reborrow(), |cx| sqlx::query(
            "INSERT INTO erasure_kept_notes (erasure, note, reason) VALUES ($1, $2, $3)"
        )
        .bind(id)
        .bind(note.0)
        .bind(reason)
        .execute(&mut *cx)
        .await?
        .rows_affected());
    }
    Ok(())
}

/// Erasure records, of one participant or all, oldest first.
pub(super) async fn erasures(
    conn: impl Into<Conn<'_>>,
    id: Option<ParticipantId>,
) -> Result<Vec<Erasure>> {
    let rows: Vec<(i64, i64, Option<String>)> = either!(conn, |cx| sqlx::query_as(
        "SELECT participant_id, erased_at, reason FROM erasures \
         WHERE $1 IS NULL OR participant_id = $1 ORDER BY id",
    )
    .bind(id.map(|i| i.0))
    .fetch_all(&mut *cx)
    .await?);
    Ok(rows
        .into_iter()
        .map(|(p, at, reason)| Erasure {
            participant: ParticipantId(p),
            erased_at: instant(at),
            reason,
        })
        .collect())
}
