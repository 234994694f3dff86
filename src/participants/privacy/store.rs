//! Where a person's data is found and erased: the statements a subject
//! access export and an erasure run across the panel's tables (their
//! sessions, notes, issues, mail, consents, history), each on the
//! connection or transaction it is given. What names a person, what each
//! choice leaves of a note and what an erasure keeps are the rules in
//! `privacy`.

use super::{Erasure, NoteHeld, SessionTaken};
use crate::db::{instant, millis};
use crate::error::Result;
use crate::mail::MessageId;
use crate::notes::NoteId;
use crate::participants::ParticipantId;
use crate::sessions::SessionId;
use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection, SqlitePool};
use std::collections::BTreeSet;

/// The suppression lists the person's email is on.
pub(super) async fn suppression_lists(
    conn: &mut SqliteConnection,
    id: ParticipantId,
) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT l.name FROM suppressions s JOIN suppression_lists l ON l.id = s.list_id \
         JOIN participants p ON p.email_hash = s.hash WHERE p.id = ? ORDER BY l.name",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?)
}

/// The sessions the person was invited to, with their answer, attendance
/// and incentive, in start order.
pub(super) async fn sessions_taken(
    conn: &mut SqliteConnection,
    id: ParticipantId,
) -> Result<Vec<SessionTaken>> {
    Ok(sqlx::query(
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
pub(super) async fn issues(
    conn: &mut SqliteConnection,
    id: ParticipantId,
) -> Result<Vec<IssueRow>> {
    let rows = sqlx::query(
        "SELECT i.id, i.summary, i.detail, i.status, s.name, i.created_at, i.resolution \
         FROM issues i LEFT JOIN staff s ON s.id = i.owner WHERE i.participant = ? ORDER BY i.id",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?;
    let mut issues = Vec::with_capacity(rows.len());
    for r in rows {
        let issue: i64 = r.get(0);
        let contacts: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT at, via, outcome FROM issue_contacts WHERE issue = ? ORDER BY at, id",
        )
        .bind(issue)
        .fetch_all(&mut *conn)
        .await?;
        issues.push(IssueRow {
            id: issue,
            summary: r.get(1),
            detail: r.get(2),
            status: r.get(3),
            owner: r.get(4),
            raised_at: instant(r.get(5)),
            resolution: r.get(6),
            contacts: contacts
                .into_iter()
                .map(|(at, via, outcome)| (instant(at), via, outcome))
                .collect(),
        });
    }
    Ok(issues)
}

/// How many issues the person raised.
pub(super) async fn issue_count(conn: &mut SqliteConnection, id: ParticipantId) -> Result<u32> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM issues WHERE participant = ?")
        .bind(id.0)
        .fetch_one(&mut *conn)
        .await?;
    Ok(n as u32)
}

/// Messages sent (or to be sent) to the person, oldest first: their
/// session mail (topics matching `session_mail`), mail to their address,
/// and the owner's messages about their issues.
pub(super) async fn messages_to(
    conn: &mut SqliteConnection,
    id: ParticipantId,
    email: Option<&str>,
    session_mail: &str,
) -> Result<Vec<MessageId>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT o.id FROM outbox o WHERE o.topic GLOB ?1 \
         OR (?2 IS NOT NULL AND lower(o.recipient) = lower(?2)) \
         OR (o.kind IN ('handoff', 'resolution') AND EXISTS (SELECT 1 FROM issues i \
             WHERE i.participant = ?3 AND o.topic GLOB 'issue/' || i.id || '/*')) \
         ORDER BY o.id",
    )
    .bind(session_mail)
    .bind(email)
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?;
    Ok(ids.into_iter().map(MessageId).collect())
}

/// The notes that may be about the person: attributed to them, taken in
/// sessions they were on, or found by the full-text search `fts` (their
/// name or email), in the order they were taken.
pub(super) async fn notes_near(
    conn: &mut SqliteConnection,
    id: ParticipantId,
    fts: Option<String>,
) -> Result<Vec<NoteHeld>> {
    let rows = sqlx::query(
        "SELECT n.id, n.session, s.title, n.at, n.text, n.participant IS ?1 FROM notes n \
         JOIN sessions s ON s.id = n.session \
         WHERE n.participant = ?1 \
            OR n.session IN (SELECT session FROM session_participants WHERE participant = ?1) \
            OR (?2 IS NOT NULL AND n.id IN (SELECT rowid FROM notes_fts WHERE notes_fts MATCH ?2)) \
         ORDER BY n.at, n.id",
    )
    .bind(id.0)
    .bind(fts)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| NoteHeld {
            note: NoteId(r.get(0)),
            session: SessionId(r.get(1)),
            session_title: r.get(2),
            at: instant(r.get(3)),
            text: r.get(4),
            attributed: r.get(5),
        })
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

/// Messages that may be about the person: to them (`to_them`), about their
/// issues, report mail of their sessions, and any whose text holds one of
/// `words`.
pub(super) async fn messages_near(
    conn: &mut SqliteConnection,
    id: ParticipantId,
    to_them: &BTreeSet<i64>,
    words: &[String],
) -> Result<Vec<MessageRow>> {
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
    .bind(serde_json::to_string(to_them).expect("ids serialise"))
    .bind(serde_json::to_string(words).expect("words serialise"))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| MessageRow {
            id: MessageId(r.get(0)),
            status: r.get(1),
            text: format!(
                "{} {} {} {}",
                r.get::<String, _>(2),
                r.get::<String, _>(3),
                r.get::<String, _>(4),
                r.get::<Option<String>, _>(5).unwrap_or_default()
            ),
            theirs: r.get(6),
        })
        .collect())
}

/// Switches SQLite's secure delete on for this connection (what is deleted
/// or overwritten is overwritten in the file too), returning the setting
/// to give back to [`restore_secure_delete`].
pub(super) async fn secure_delete(conn: &mut SqliteConnection) -> Result<i64> {
    let before: i64 = sqlx::query_scalar("PRAGMA secure_delete")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query("PRAGMA secure_delete = ON")
        .execute(&mut *conn)
        .await?;
    Ok(before)
}

/// Gives the connection back its secure-delete setting (the pragma is not
/// part of a transaction).
pub(super) async fn restore_secure_delete(conn: &mut SqliteConnection, before: i64) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA secure_delete = {before}"
    )))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Rebuilds the file without the free space where earlier copies of
/// erased text can remain, then empties the write-ahead log. Says whether
/// the file was rebuilt (it cannot be while another process holds a
/// transaction); the erasure is committed either way.
pub(super) async fn compact(pool: &SqlitePool) -> bool {
    let rebuilt = match sqlx::query("VACUUM").execute(pool).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, "the file was not rebuilt after an erasure");
            false
        }
    };
    if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(pool)
        .await
    {
        tracing::warn!(error = %e, "the log could not be emptied after an erasure; the next checkpoint reuses it");
    }
    rebuilt
}

/// Gives a note its erased text (and the tags that text has).
pub(super) async fn set_note_text(
    conn: &mut SqliteConnection,
    note: NoteId,
    text: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("UPDATE notes SET text = ?, tags = ?, updated_at = ? WHERE id = ?")
        .bind(text)
        .bind(serde_json::to_string(&crate::notes::tags_of(text)).expect("tags serialise"))
        .bind(millis(now))
        .bind(note.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Gives every earlier version of a note the text `text`; returns how many.
pub(super) async fn set_note_versions(
    conn: &mut SqliteConnection,
    note: NoteId,
    text: &str,
) -> Result<u32> {
    Ok(
        sqlx::query("UPDATE note_edits SET text = ?, tags = '[]' WHERE note = ?")
            .bind(text)
            .bind(note.0)
            .execute(&mut *conn)
            .await?
            .rows_affected() as u32,
    )
}

/// Names, for the rest of the transaction, the notes kept as they are
/// (`temp.erasure_kept`, which a filter given to [`rows_naming`] can read).
pub(super) async fn keep_notes(conn: &mut SqliteConnection, kept: &BTreeSet<i64>) -> Result<()> {
    sqlx::query("CREATE TEMP TABLE IF NOT EXISTS erasure_kept (note INTEGER PRIMARY KEY)")
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM temp.erasure_kept")
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO temp.erasure_kept SELECT value FROM json_each(?)")
        .bind(serde_json::to_string(kept).expect("ids serialise"))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The rows of `table` (by `key`) that `filter` selects (with `?1` bound
/// to `bind`) or whose `columns` hold one of `words`, with those columns.
pub(super) async fn rows_naming(
    conn: &mut SqliteConnection,
    table: &str,
    key: &str,
    columns: &[&str],
    filter: &str,
    bind: i64,
    words: &[String],
) -> Result<Vec<(i64, Vec<Option<String>>)>> {
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
    .bind(serde_json::to_string(words).expect("words serialise"))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let values = (0..columns.len()).map(|i| row.get(i + 1)).collect();
            (row.get::<i64, _>(0), values)
        })
        .collect())
}

/// Sets `columns` of the row `id` of `table` (by `key`) to `values`.
pub(super) async fn set_columns(
    conn: &mut SqliteConnection,
    table: &str,
    key: &str,
    columns: &[&str],
    id: i64,
    values: Vec<Option<String>>,
) -> Result<()> {
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
    q.bind(id).execute(&mut *conn).await?;
    Ok(())
}

/// Withdraws a message not yet sent because its participant was erased.
pub(super) async fn withdraw_message(
    conn: &mut SqliteConnection,
    id: MessageId,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE outbox SET status = 'cancelled', updated_at = ?, \
         last_error = 'withdrawn: the participant was erased' WHERE id = ?",
    )
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What of a message can name a person, and its kind.
pub(super) struct MessageText {
    pub recipient: String,
    pub recipient_name: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text: String,
    pub last_error: Option<String>,
    pub kind: String,
}

/// A message's text fields.
pub(super) async fn message_text(
    conn: &mut SqliteConnection,
    id: MessageId,
) -> Result<MessageText> {
    let row = sqlx::query(
        "SELECT recipient, recipient_name, reply_to, subject, body_text, last_error, kind \
         FROM outbox WHERE id = ?",
    )
    .bind(id.0)
    .fetch_one(&mut *conn)
    .await?;
    Ok(MessageText {
        recipient: row.get(0),
        recipient_name: row.get(1),
        reply_to: row.get(2),
        subject: row.get(3),
        text: row.get(4),
        last_error: row.get(5),
        kind: row.get(6),
    })
}

/// Rewrites a message's text fields (its HTML body becomes `html`).
pub(super) async fn set_message_text(
    conn: &mut SqliteConnection,
    id: MessageId,
    m: &MessageText,
    html: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE outbox SET recipient = ?, recipient_name = ?, reply_to = ?, subject = ?, \
         body_text = ?, body_html = ?, last_error = ? WHERE id = ?",
    )
    .bind(&m.recipient)
    .bind(&m.recipient_name)
    .bind(&m.reply_to)
    .bind(&m.subject)
    .bind(&m.text)
    .bind(html)
    .bind(&m.last_error)
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes a message's attachments; returns how many.
pub(super) async fn drop_attachments(conn: &mut SqliteConnection, id: MessageId) -> Result<u32> {
    Ok(
        sqlx::query("DELETE FROM outbox_attachments WHERE message = ?")
            .bind(id.0)
            .execute(&mut *conn)
            .await?
            .rows_affected() as u32,
    )
}

/// Empties the person's own record, leaving `name` and the erasure time.
pub(super) async fn erase_record(
    conn: &mut SqliteConnection,
    id: ParticipantId,
    name: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE participants SET name = ?, email = NULL, email_norm = NULL, email_hash = NULL, phone = NULL, \
         time_zone = NULL, language = NULL, source = NULL, attributes = '{}', tags = '[]', search_text = '', sort_name = '', \
         opted_out_at = NULL, \
         do_not_contact = 1, erased_at = ?, updated_at = ? WHERE id = ?",
    )
    .bind(name)
    .bind(millis(now))
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes the person's consents; returns how many.
pub(super) async fn delete_consents(conn: &mut SqliteConnection, id: ParticipantId) -> Result<u32> {
    Ok(
        sqlx::query("DELETE FROM participant_consents WHERE participant_id = ?")
            .bind(id.0)
            .execute(&mut *conn)
            .await?
            .rows_affected() as u32,
    )
}

/// Clears the free-text details of the person's contact history; returns
/// how many entries had one.
pub(super) async fn clear_history_details(
    conn: &mut SqliteConnection,
    id: ParticipantId,
) -> Result<u32> {
    Ok(sqlx::query(
        "UPDATE contact_history SET detail = NULL WHERE participant_id = ? AND detail IS NOT NULL",
    )
    .bind(id.0)
    .execute(&mut *conn)
    .await?
    .rows_affected() as u32)
}

/// Keeps the record of an erasure, with the notes kept as they were and
/// why.
pub(super) async fn record_erasure(
    conn: &mut SqliteConnection,
    erasure: &Erasure,
    kept: &[(NoteId, String)],
) -> Result<()> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO erasures (participant_id, erased_at, reason) VALUES (?, ?, ?) RETURNING id",
    )
    .bind(erasure.participant.0)
    .bind(millis(erasure.erased_at))
    .bind(&erasure.reason)
    .fetch_one(&mut *conn)
    .await?;
    for (note, reason) in kept {
        sqlx::query("INSERT INTO erasure_kept_notes (erasure, note, reason) VALUES (?, ?, ?)")
            .bind(id)
            .bind(note.0)
            .bind(reason)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Erasure records, of one participant or all, oldest first.
pub(super) async fn erasures(
    conn: &mut SqliteConnection,
    id: Option<ParticipantId>,
) -> Result<Vec<Erasure>> {
    let rows: Vec<(i64, i64, Option<String>)> = sqlx::query_as(
        "SELECT participant_id, erased_at, reason FROM erasures WHERE ? IS NULL OR participant_id = ? ORDER BY id",
    )
    .bind(id.map(|i| i.0))
    .bind(id.map(|i| i.0))
    .fetch_all(&mut *conn)
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
