//! Moving a solo panel into team mode: every record of a panel file copied,
//! as it is (ids, history, the outbox, settings), into an empty team
//! database, in one transaction, then counted on both sides.
//!
//! Each table's columns are copied by what they hold (a number, text, a
//! flag, JSON, bytes), so a flag stored as 0/1 becomes a boolean and JSON
//! text becomes jsonb. What PostgreSQL keeps by itself is not copied: the
//! counts by status and attribute (its triggers count the people as they
//! arrive), the full-text index (each note's words are written with it),
//! and a team server's sign-ins and invitation links (a browser signs in
//! to the team anew; an admin invites anew).
//! The SMTP password is opened with the panel file's key and sealed again
//! with the team database's own key on this computer; it is never written
//! in the clear.

use super::{Conn, Location, Store};
use crate::mail::secret;
use crate::{Error, Panel, Result};
use serde::Serialize;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteRow;
use sqlx::{Postgres, QueryBuilder, Row};
use ts_rs::TS;

/// What a column holds, which says how it is read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
    /// 0/1 in a panel file, a boolean in a team database.
    Flag,
    /// JSON text in a panel file, jsonb in a team database.
    Json,
    Bytes,
}

use Kind::*;

/// The tables copied, parents before children, with their columns.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "staff",
        &[
            ("id", Int),
            ("name", Text),
            ("email", Text),
            ("email_norm", Text),
            ("role", Text),
            ("time_zone", Text),
            ("access", Text),
            ("password_hash", Text),
            ("created_at", Int),
            ("updated_at", Int),
            ("deactivated_at", Int),
        ],
    ),
    (
        "participants",
        &[
            ("id", Int),
            ("name", Text),
            ("email", Text),
            ("email_norm", Text),
            ("email_hash", Text),
            ("phone", Text),
            ("time_zone", Text),
            ("language", Text),
            ("source", Text),
            ("attributes", Json),
            ("tags", Json),
            ("search_text", Text),
            ("sort_name", Text),
            ("opted_out_at", Int),
            ("do_not_contact", Flag),
            ("erased_at", Int),
            ("created_at", Int),
            ("updated_at", Int),
        ],
    ),
    (
        "contact_history",
        &[
            ("id", Int),
            ("participant_id", Int),
            ("kind", Text),
            ("at", Int),
            ("session_id", Int),
            ("detail", Text),
        ],
    ),
    (
        "suppression_lists",
        &[("id", Int), ("name", Text), ("created_at", Int)],
    ),
    ("suppressions", &[("hash", Text), ("list_id", Int)]),
    (
        "screeners",
        &[
            ("id", Int),
            ("name", Text),
            ("definition", Text),
            ("created_at", Int),
            ("updated_at", Int),
        ],
    ),
    (
        "consent_texts",
        &[
            ("id", Int),
            ("topic", Text),
            ("version", Int),
            ("body", Text),
            ("created_at", Int),
        ],
    ),
    (
        "participant_consents",
        &[
            ("participant_id", Int),
            ("consent_text_id", Int),
            ("accepted_at", Int),
        ],
    ),
    (
        "erasures",
        &[
            ("id", Int),
            ("participant_id", Int),
            ("erased_at", Int),
            ("reason", Text),
        ],
    ),
    (
        "outbox",
        &[
            ("id", Int),
            ("kind", Text),
            ("recipient", Text),
            ("recipient_name", Text),
            ("reply_to", Text),
            ("from_name", Text),
            ("subject", Text),
            ("body_text", Text),
            ("body_html", Text),
            ("headers", Text),
            ("message_id", Text),
            ("status", Text),
            ("not_before", Int),
            ("next_attempt_at", Int),
            ("attempts", Int),
            ("last_error", Text),
            ("first_failure_at", Int),
            ("created_at", Int),
            ("updated_at", Int),
            ("sent_at", Int),
            ("topic", Text),
            ("maybe_delivered", Flag),
        ],
    ),
    (
        "outbox_attachments",
        &[
            ("id", Int),
            ("message", Int),
            ("filename", Text),
            ("content_type", Text),
            ("content", Bytes),
        ],
    ),
    (
        "sessions",
        &[
            ("id", Int),
            ("uid", Text),
            ("study", Text),
            ("title", Text),
            ("starts_at", Int),
            ("ends_at", Int),
            ("time_zone", Text),
            ("place", Text),
            ("moderator", Int),
            ("seats", Int),
            ("over_recruit", Int),
            ("floaters", Int),
            ("screener", Text),
            ("sequence", Int),
            ("status", Text),
            ("cancel_reason", Text),
            ("created_at", Int),
            ("updated_at", Int),
            ("completed_at", Int),
            ("completed_by", Int),
            ("consent_topic", Text),
        ],
    ),
    ("session_observers", &[("session", Int), ("staff", Int)]),
    (
        "session_participants",
        &[
            ("session", Int),
            ("participant", Int),
            ("rsvp", Text),
            ("attendance", Text),
            ("incentive_cents", Int),
            ("incentive_paid", Flag),
            ("invited_at", Int),
            ("updated_at", Int),
            ("waitlisted_at", Int),
            ("offered_at", Int),
        ],
    ),
    (
        "notes",
        &[
            ("id", Int),
            ("session", Int),
            ("participant", Int),
            ("author", Int),
            ("text", Text),
            ("tags", Json),
            ("at", Int),
            ("offset_seconds", Int),
            ("created_at", Int),
            ("updated_at", Int),
            ("client_id", Text),
        ],
    ),
    (
        "note_edits",
        &[
            ("id", Int),
            ("note", Int),
            ("text", Text),
            ("tags", Json),
            ("participant", Int),
            ("replaced_at", Int),
            ("editor", Int),
        ],
    ),
    (
        "issues",
        &[
            ("id", Int),
            ("session", Int),
            ("participant", Int),
            ("note", Int),
            ("summary", Text),
            ("detail", Text),
            ("category", Text),
            ("severity", Text),
            ("owner", Int),
            ("status", Text),
            ("first_contact_due", Int),
            ("resolution_due", Int),
            ("first_contact_at", Int),
            ("resolved_at", Int),
            ("resolution", Text),
            ("handoffs", Int),
            ("escalations", Int),
            ("last_escalated_at", Int),
            ("raised_by", Int),
            ("created_at", Int),
            ("updated_at", Int),
            ("reopens", Int),
            ("reopened_at", Int),
        ],
    ),
    (
        "issue_events",
        &[
            ("id", Int),
            ("issue", Int),
            ("at", Int),
            ("actor", Int),
            ("kind", Text),
            ("detail", Text),
        ],
    ),
    (
        "issue_contacts",
        &[
            ("id", Int),
            ("issue", Int),
            ("at", Int),
            ("staff", Int),
            ("via", Text),
            ("outcome", Text),
        ],
    ),
    (
        "erasure_kept_notes",
        &[
            ("id", Int),
            ("erasure", Int),
            ("note", Int),
            ("reason", Text),
        ],
    ),
];

/// Settings copied as they are (the SMTP password is sealed again; who
/// uses this computer goes into this computer's own file for the team
/// database, `sessions::staff`, and the file's folding stays with it).
const PASSWORD_KEY: &str = "smtp_password";
const PER_COMPUTER: &[&str] = &["current_staff", "email_folding"];

/// Rows read and written per statement.
const CHUNK: usize = 2_000;

/// How many rows of one table were copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TableCopied {
    pub table: String,
    pub rows: u64,
}

/// What a move into a team database copied, table by table; each count
/// was checked on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MoveReport {
    pub to: String,
    pub tables: Vec<TableCopied>,
    /// Whether an SMTP password came along (sealed again, never in clear).
    pub smtp_password: bool,
}

/// Copies the panel file `panel` into the empty team database at `to`.
/// Refuses a team database that already holds a panel, and a source that
/// is not a panel file. Nothing is written to `to` unless everything is.
pub async fn to_team(panel: &Panel, to: &str) -> Result<MoveReport> {
    let Store::Sqlite(source) = &panel.store else {
        return Err(Error::invalid(
            "database",
            panel.path().display().to_string(),
            "is already a team database; move a panel file (--db PATH) into one",
        ));
    };
    let location = Location::parse(to);
    let Location::Postgres(url) = &location else {
        return Err(Error::invalid(
            "to",
            to,
            "is not a team database; give its URL: postgres://user@host:port/name",
        ));
    };
    let target = Panel::open(location.clone()).await?;
    let Store::Postgres(pool) = &target.store else {
        unreachable!("a postgres:// location opens a team database");
    };
    let mut tx = pool.begin().await?;
    refuse_non_empty(&mut tx, &location).await?;
    // The file's mail stays where it is while it moves (no worker of this
    // panel sends what is being copied as queued), and every table is read
    // in one read transaction: one moment of the file, whatever the app
    // writes meanwhile.
    let _mail = crate::mail::worker::lock(panel).await?;
    let mut src = source.begin().await?;
    let mut tables = Vec::new();
    for (table, columns) in TABLES {
        let rows = copy_table(&mut src, &mut tx, table, columns).await?;
        tables.push(TableCopied {
            table: table.to_string(),
            rows,
        });
    }
    // Leads point at staff copied above.
    let leads: Vec<(i64, i64)> =
        sqlx::query_as("SELECT id, lead FROM staff WHERE lead IS NOT NULL")
            .fetch_all(&mut *src)
            .await?;
    for (id, lead) in leads {
        sqlx::query("UPDATE staff SET lead = $1 WHERE id = $2")
            .bind(lead)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    let smtp_password = copy_settings(&mut src, &mut tx, panel, &target).await?;
    index_notes(&mut tx).await?;
    for (table, columns) in TABLES {
        if columns.first().is_some_and(|(c, _)| *c == "id") {
            super::advance_ids(Conn::Postgres(&mut tx), table).await?;
        }
    }
    crate::participants::touch(Conn::Postgres(&mut tx)).await?;
    for copied in &tables {
        let there: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {}",
            copied.table
        )))
        .fetch_one(&mut *tx)
        .await?;
        if there as u64 != copied.rows {
            return Err(Error::conflict(format!(
                "{} rows of {} were copied but {there} arrived; nothing was moved",
                copied.rows, copied.table
            )));
        }
    }
    tx.commit().await?;
    src.commit().await?;
    // Whoever used the file on this computer still does, now in this
    // computer's own file for the team database.
    if let Some(me) = crate::sessions::staff::current(panel).await? {
        crate::sessions::staff::set_current(&target, me.id).await?;
    }
    target.close().await;
    Ok(MoveReport {
        to: Location::Postgres(url.clone()).display(),
        tables,
        smtp_password,
    })
}

/// A team database that holds anything of a panel is not written to.
async fn refuse_non_empty(tx: &mut PgConnection, location: &Location) -> Result<()> {
    for table in TABLES.iter().map(|(t, _)| *t).chain(["settings"]) {
        let any: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT EXISTS (SELECT 1 FROM {table})"
        )))
        .fetch_one(&mut *tx)
        .await?;
        if any {
            return Err(Error::conflict(format!(
                "the team database at {} already holds a panel ({table} has rows); a panel \
                 file moves only into an empty one, so nothing was copied",
                location.display()
            )));
        }
    }
    Ok(())
}

/// Copies one table, a chunk of rows at a time, in id order where it has
/// ids; says how many rows there were.
async fn copy_table(
    src: &mut sqlx::SqliteConnection,
    tx: &mut PgConnection,
    table: &str,
    columns: &[(&str, Kind)],
) -> Result<u64> {
    let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
    let list = names.join(", ");
    let order = if names[0] == "id" { " ORDER BY id" } else { "" };
    let mut copied = 0u64;
    let mut offset = 0i64;
    loop {
        let rows: Vec<SqliteRow> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {list} FROM {table}{order} LIMIT {CHUNK} OFFSET {offset}"
        )))
        .fetch_all(&mut *src)
        .await?;
        if rows.is_empty() {
            break;
        }
        let mut q = QueryBuilder::<Postgres>::new(format!("INSERT INTO {table} ({list}) "));
        q.push_values(&rows, |mut b, row| {
            for (i, (_, kind)) in columns.iter().enumerate() {
                match kind {
                    Int => {
                        b.push_bind(row.get::<Option<i64>, _>(i));
                    }
                    Text => {
                        b.push_bind(row.get::<Option<String>, _>(i));
                    }
                    Flag => {
                        b.push_bind(row.get::<Option<i64>, _>(i).map(|n| n != 0));
                    }
                    Json => {
                        b.push_bind(row.get::<Option<String>, _>(i))
                            .push_unseparated("::jsonb");
                    }
                    Bytes => {
                        b.push_bind(row.get::<Option<Vec<u8>>, _>(i));
                    }
                }
            }
        });
        q.build().execute(&mut *tx).await?;
        copied += rows.len() as u64;
        offset += rows.len() as i64;
    }
    Ok(copied)
}

/// Copies the settings; the SMTP password is opened with the panel file's
/// key and sealed with the team database's key on this computer. Says
/// whether there was one.
async fn copy_settings(
    src: &mut sqlx::SqliteConnection,
    tx: &mut PgConnection,
    from: &Panel,
    to: &Panel,
) -> Result<bool> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM settings")
        .fetch_all(&mut *src)
        .await?;
    let mut password = false;
    for (key, value) in rows {
        if PER_COMPUTER.contains(&key.as_str()) {
            continue;
        }
        let value = if key == PASSWORD_KEY {
            let sealed: String = serde_json::from_str(&value)
                .map_err(|e| Error::database(format!("the stored SMTP password: {e}")))?;
            let opened = secret::open(from.path(), &sealed)?;
            password = true;
            serde_json::to_string(&secret::seal(to.path(), &opened)?).expect("a string serialises")
        } else {
            value
        };
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2)")
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await?;
    }
    Ok(password)
}

/// Writes each copied note's words for search (`notes::words`).
async fn index_notes(tx: &mut PgConnection) -> Result<()> {
    let mut after = 0i64;
    loop {
        let notes: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, text, tags::text FROM notes WHERE id > $1 ORDER BY id LIMIT 5000",
        )
        .bind(after)
        .fetch_all(&mut *tx)
        .await?;
        let Some(last) = notes.last().map(|n| n.0) else {
            return Ok(());
        };
        let (ids, vectors): (Vec<i64>, Vec<String>) = notes
            .into_iter()
            .map(|(id, text, tags)| {
                let tags: Vec<String> = serde_json::from_str(&tags).unwrap_or_default();
                (id, crate::notes::search_vector(&text, &tags))
            })
            .unzip();
        sqlx::query(
            "UPDATE notes n SET search = v.search::tsvector \
             FROM unnest($1::bigint[], $2::text[]) AS v(id, search) WHERE n.id = v.id",
        )
        .bind(&ids)
        .bind(&vectors)
        .execute(&mut *tx)
        .await?;
        after = last;
    }
}
