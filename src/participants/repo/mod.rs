//! SQL for participants: their record, attributes and tags. Every query
//! about a participant's own record lives here; the rules live in the
//! modules that call it.
//!
//! Attributes and tags are stored in the participant's row as canonical
//! JSON (sorted keys, no spaces), one row per person, which keeps bulk
//! imports close to SQLite's own CSV import. Screeners do not query them
//! with SQL; they run over the in-memory panel index (`super::index`).

mod postgres;

use super::fields;
use super::model::*;
use super::packed::Columns;
use crate::db::bulk::{self, Value};
use crate::db::{Conn, either, instant, millis};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::HashMap;

const COLUMNS: &str = "id, name, email, phone, time_zone, language, source, attributes, tags, \
                       opted_out_at, do_not_contact, erased_at, created_at, updated_at";

/// SQLite allows 32,766 bound values in one statement.
const MAX_BINDS: usize = 32_000;

/// People written per lock of the connection: the driver's worker waits
/// for its connection no longer than one batch takes.
const INSERT_BATCH: usize = 2_000;

/// Raises the recruitment revision inside the caller's transaction, so the
/// in-memory panel index rebuilds once the change commits, and brings the
/// search index up to date. Every write to a participant ends with it.
pub(crate) async fn touch(conn: impl Into<Conn<'_>>) -> Result<()> {
    let conn = match conn.into() {
        Conn::Sqlite(c) => c,
        Conn::Postgres(c) => return postgres::touch(c).await,
    };
    sqlx::query("UPDATE revisions SET revision = revision + 1 WHERE domain = 'recruitment'")
        .execute(&mut *conn)
        .await?;
    index_search_text(conn).await
}

/// Brings the search index up to date with the people this transaction
/// wrote, in one statement for all of them: the old text out, the new in.
async fn index_search_text(conn: &mut SqliteConnection) -> Result<()> {
    sqlx::query(
        "INSERT INTO participants_search (participants_search, rowid, search_text) \
             SELECT 'delete', id, indexed_text || char(1, 1) FROM participants_search_pending \
             WHERE indexed_text IS NOT NULL; \
         INSERT INTO participants_search (rowid, search_text) \
             SELECT p.id, p.search_text || char(1, 1) FROM participants_search_pending q \
             JOIN participants p ON p.id = q.id; \
         DELETE FROM participants_search_pending;",
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Folds again the stored emails that are not plain ASCII, by the rules of
/// [`Email::parse`] as they are now (compatibility forms were added), so
/// that a stored `ｆｕｌｌ@example.com` and an imported `full@example.com` are
/// one person. Runs in the caller's transaction. A stored address whose
/// new form another participant already has is left as it was (the two
/// are shown as they were; merging people is a person's decision).
pub(crate) async fn refold_emails(conn: impl Into<Conn<'_>>) -> Result<u32> {
    // A team database is made with the emails folded as they are now.
    let Conn::Sqlite(conn) = conn.into() else {
        return Ok(0);
    };
    let stored: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT id, email, email_norm FROM participants \
         WHERE email IS NOT NULL AND length(email) != length(CAST(email AS BLOB))",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut changed = 0;
    for (id, email, norm) in stored {
        let Ok(parsed) = fields::Email::parse(&email) else {
            continue;
        };
        if parsed.normalised() == norm {
            continue;
        }
        let taken: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM participants WHERE email_norm = ? AND id != ?)",
        )
        .bind(parsed.normalised())
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
        if taken {
            tracing::warn!(
                participant = id,
                "an email folds to another participant's; left as it was"
            );
            continue;
        }
        sqlx::query("UPDATE participants SET email_norm = ?, email_hash = ? WHERE id = ?")
            .bind(parsed.normalised())
            .bind(parsed.hash())
            .bind(id)
            .execute(&mut *conn)
            .await?;
        changed += 1;
    }
    if changed > 0 {
        touch(conn).await?;
    }
    Ok(changed)
}

/// The current recruitment revision.
pub(crate) async fn revision(conn: impl Into<Conn<'_>>) -> Result<i64> {
    Ok(either!(conn, |c| sqlx::query_scalar(
        "SELECT revision FROM revisions WHERE domain = 'recruitment'"
    )
    .fetch_one(&mut *c)
    .await?))
}

fn participant_from_row(row: &sqlx::sqlite::SqliteRow) -> Participant {
    Participant {
        id: ParticipantId(row.get("id")),
        name: row.get("name"),
        email: row.get("email"),
        phone: row.get("phone"),
        time_zone: row.get("time_zone"),
        language: row.get("language"),
        source: row.get("source"),
        attributes: serde_json::from_str(row.get("attributes")).unwrap_or_default(),
        tags: serde_json::from_str(row.get("tags")).unwrap_or_default(),
        opted_out_at: row.get::<Option<i64>, _>("opted_out_at").map(instant),
        do_not_contact: row.get("do_not_contact"),
        erased_at: row.get::<Option<i64>, _>("erased_at").map(instant),
        created_at: instant(row.get("created_at")),
        updated_at: instant(row.get("updated_at")),
    }
}

/// Loads one participant.
pub(crate) async fn load(conn: impl Into<Conn<'_>>, id: ParticipantId) -> Result<Participant> {
    let mut found = load_many(conn, &[id]).await?;
    found
        .pop()
        .ok_or_else(|| Error::not_found("participant", id))
}

/// Loads participants by id, in id order, skipping ids that do not exist.
pub(crate) async fn load_many(
    conn: impl Into<Conn<'_>>,
    ids: &[ParticipantId],
) -> Result<Vec<Participant>> {
    let conn = match conn.into() {
        Conn::Sqlite(c) => c,
        Conn::Postgres(c) => return postgres::load_many(c, ids).await,
    };
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(MAX_BINDS) {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {COLUMNS} FROM participants WHERE id IN ("
        ));
        let mut sep = q.separated(", ");
        for id in chunk {
            sep.push_bind(id.0);
        }
        q.push(") ORDER BY id");
        let rows = q.build().fetch_all(&mut *conn).await?;
        out.extend(rows.iter().map(participant_from_row));
    }
    Ok(out)
}

/// A stored participant's own columns, as an import compares a row with
/// them.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub(crate) struct StoredColumns {
    pub id: ParticipantId,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub time_zone: Option<String>,
    pub language: Option<String>,
    pub source: Option<String>,
    /// Canonical JSON, as stored.
    pub attributes: String,
    pub tags: String,
}

/// The stored columns of participants by id, in no particular order,
/// skipping ids that do not exist. One statement whose rows come back as one
/// JSON array: the driver hands rows over from its own thread one at a
/// time, which for thousands of rows costs more than reading them.
pub(crate) async fn stored_columns(
    conn: impl Into<Conn<'_>>,
    ids: &[ParticipantId],
) -> Result<Vec<StoredColumns>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let conn = match conn.into() {
        Conn::Sqlite(c) => c,
        Conn::Postgres(c) => return postgres::stored_columns(c, ids).await,
    };
    let ids = serde_json::to_string(&ids.iter().map(|id| id.0).collect::<Vec<_>>())
        .expect("numbers serialise");
    let rows: String = sqlx::query_scalar(
        "SELECT json_group_array(json_array(id, name, email, phone, time_zone, language, \
         source, attributes, tags)) FROM participants WHERE id IN (SELECT value FROM json_each(?))",
    )
    .bind(ids)
    .fetch_one(&mut *conn)
    .await?;
    serde_json::from_str(&rows)
        .map_err(|e| Error::database(format!("reading stored participants: {e}")))
}

/// The ids of participants with these normalised emails.
pub(crate) async fn ids_by_email(
    conn: impl Into<Conn<'_>>,
    normalised: &[&str],
) -> Result<HashMap<String, ParticipantId>> {
    let conn = match conn.into() {
        Conn::Sqlite(c) => c,
        Conn::Postgres(c) => return postgres::ids_by_email(c, normalised).await,
    };
    let mut out = HashMap::new();
    for chunk in normalised.chunks(MAX_BINDS) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT email_norm, id FROM participants WHERE email_norm IN (",
        );
        let mut sep = q.separated(", ");
        for e in chunk {
            sep.push_bind(e.to_string());
        }
        q.push(")");
        for row in q.build().fetch_all(&mut *conn).await? {
            out.insert(row.get(0), ParticipantId(row.get(1)));
        }
    }
    Ok(out)
}

/// Finds a participant by id or by email.
pub(crate) async fn find(conn: impl Into<Conn<'_>>, key: &str) -> Result<ParticipantId> {
    let mut conn = conn.into();
    if let Ok(id) = key.trim().parse::<i64>() {
        let found: Option<i64> = either!(conn, |c| sqlx::query_scalar(
            "SELECT id FROM participants WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(&mut *c)
        .await?);
        return found
            .map(ParticipantId)
            .ok_or_else(|| Error::not_found("participant", id));
    }
    let email = fields::Email::parse(key)?;
    let found = ids_by_email(conn.reborrow(), &[email.normalised()]).await?;
    found
        .get(email.normalised())
        .copied()
        .ok_or_else(|| Error::not_found("participant with email", email.as_str()))
}

/// Refuses an email that another participant already has.
pub(crate) async fn check_email_free(
    conn: impl Into<Conn<'_>>,
    email: &fields::Email,
    except: Option<ParticipantId>,
) -> Result<()> {
    let other: Option<(i64, String)> = either!(conn, |c| sqlx::query_as(
        "SELECT id, name FROM participants WHERE email_norm = $1"
    )
    .bind(email.normalised())
    .fetch_optional(&mut *c)
    .await?);
    match other {
        Some((id, name)) if Some(ParticipantId(id)) != except => Err(Error::conflict(format!(
            "the email {} already belongs to participant {id} ({name})",
            email.as_str()
        ))),
        _ => Ok(()),
    }
}

/// Inserts new participants with consecutive ids after the largest one. The
/// caller holds a write transaction (`BEGIN IMMEDIATE`), so no other writer
/// can take the same ids.
pub(crate) async fn insert_many(
    conn: impl Into<Conn<'_>>,
    people: &[Columns<'_>],
    now: DateTime<Utc>,
) -> Result<Vec<ParticipantId>> {
    let mut conn = conn.into();
    let ids = insert_rows(conn.reborrow(), people, now).await?;
    touch(conn).await?;
    Ok(ids)
}

/// [`insert_many`] for a caller that writes more before it [`touch`]es:
/// rows are bound in place through SQLite's own interface
/// (`crate::db::bulk`), a batch at a time.
pub(crate) async fn insert_rows(
    conn: impl Into<Conn<'_>>,
    people: &[Columns<'_>],
    now: DateTime<Utc>,
) -> Result<Vec<ParticipantId>> {
    let conn = match conn.into() {
        Conn::Sqlite(c) => c,
        Conn::Postgres(c) => return postgres::insert_rows(c, people, now).await,
    };
    let first: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM participants")
        .fetch_one(&mut *conn)
        .await?;
    let at = millis(now);
    for (n, chunk) in people.chunks(INSERT_BATCH).enumerate() {
        let start = first + (n * INSERT_BATCH) as i64;
        let mut rows = bulk::Rows::prepare(
            conn,
            "INSERT INTO participants (id, name, email, email_norm, email_hash, phone, time_zone, \
             language, source, attributes, tags, search_text, sort_name, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .await?;
        for (i, p) in chunk.iter().enumerate() {
            rows.write(&[
                Value::Int(start + i as i64),
                p.name.into(),
                p.email.into(),
                p.email_norm.into(),
                p.email_hash.into(),
                p.phone.into(),
                p.time_zone.into(),
                p.language.into(),
                p.source.into(),
                p.attributes_json.into(),
                p.tags_json.into(),
                p.search_text.into(),
                p.sort_name.into(),
                Value::Int(at),
                Value::Int(at),
            ])?;
        }
    }
    Ok((0..people.len() as i64)
        .map(|i| ParticipantId(first + i))
        .collect())
}

/// A person's name, email and time zone: what mail to them needs.
pub(crate) async fn contact(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
) -> Result<(String, Option<String>, Option<String>)> {
    let found: Option<(String, Option<String>, Option<String>)> =
        either!(conn, |c| sqlx::query_as(
            "SELECT name, email, time_zone FROM participants WHERE id = $1"
        )
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?);
    found.ok_or_else(|| Error::not_found("participant", id))
}

/// How many participant rows there are (erased ones too).
pub(crate) async fn count(conn: impl Into<Conn<'_>>) -> Result<i64> {
    Ok(either!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM participants"
    )
    .fetch_one(&mut *c)
    .await?))
}

/// Every normalised email on the panel with its participant.
pub(crate) async fn all_emails(
    conn: impl Into<Conn<'_>>,
) -> Result<HashMap<String, ParticipantId>> {
    let rows: Vec<(String, i64)> = either!(conn, |c| sqlx::query_as(
        "SELECT email_norm, id FROM participants WHERE email_norm IS NOT NULL"
    )
    .fetch_all(&mut *c)
    .await?);
    Ok(rows
        .into_iter()
        .map(|(e, id)| (e, ParticipantId(id)))
        .collect())
}

/// A bulk load into the participants table: its secondary indexes are
/// dropped at the start and rebuilt from their own stored definitions at
/// the end, inside the caller's transaction. Building an index once over
/// sorted keys costs a fraction of keeping it up to date row by row. Only
/// worth it when the load is at least as large as the table. The search
/// index and the counts by status take the new people in one statement
/// each at the end, rather than a trigger's work for every row. On a team
/// database the people go in with `COPY`; the search and name-order
/// indexes are dropped and built again at the end the same way (with more
/// memory for the build), while the email index stays and the counts are
/// kept by PostgreSQL's statement triggers, once per `COPY`.
pub(crate) struct BulkLoad {
    indexes: Vec<String>,
    triggers: Vec<String>,
    first_new: i64,
    /// How many of the people loaded have each attribute.
    attributes: HashMap<String, i64>,
}

/// The triggers a bulk load replaces with one statement at its end.
const BULK_TRIGGERS: [&str; 3] = [
    "participants_search_insert",
    "participant_counts_insert",
    "attribute_counts_insert",
];

impl BulkLoad {
    pub(crate) async fn start(conn: impl Into<Conn<'_>>) -> Result<BulkLoad> {
        let conn = match conn.into() {
            Conn::Sqlite(c) => c,
            Conn::Postgres(c) => return postgres::start_load(c).await,
        };
        let indexes: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, sql FROM sqlite_master \
             WHERE type = 'index' AND tbl_name = 'participants' AND sql IS NOT NULL ORDER BY name",
        )
        .fetch_all(&mut *conn)
        .await?;
        for (name, _) in &indexes {
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX \"{name}\"")))
                .execute(&mut *conn)
                .await?;
        }
        let mut triggers = Vec::new();
        for name in BULK_TRIGGERS {
            let sql: String = sqlx::query_scalar(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
            )
            .bind(name)
            .fetch_one(&mut *conn)
            .await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP TRIGGER \"{name}\"")))
                .execute(&mut *conn)
                .await?;
            triggers.push(sql);
        }
        let first_new: i64 =
            sqlx::query_scalar("SELECT coalesce(max(id), 0) + 1 FROM participants")
                .fetch_one(&mut *conn)
                .await?;
        Ok(BulkLoad {
            indexes: indexes.into_iter().map(|(_, sql)| sql).collect(),
            triggers,
            first_new,
            attributes: HashMap::new(),
        })
    }

    /// Writes new people in this load ([`insert_rows`]) and counts their
    /// attributes, for the counts the load adds at its end.
    pub(crate) async fn insert(
        &mut self,
        conn: impl Into<Conn<'_>>,
        people: &[Columns<'_>],
        now: DateTime<Utc>,
    ) -> Result<Vec<ParticipantId>> {
        let conn = match conn.into() {
            Conn::Sqlite(c) => c,
            Conn::Postgres(c) => return postgres::insert_rows(c, people, now).await,
        };
        let ids = insert_rows(&mut *conn, people, now).await?;
        for p in people {
            for name in super::index::attribute_names(p.attributes_json) {
                match self.attributes.get_mut(name.as_ref()) {
                    Some(n) => *n += 1,
                    None => {
                        self.attributes.insert(name.into_owned(), 1);
                    }
                }
            }
        }
        Ok(ids)
    }

    pub(crate) async fn finish(self, conn: impl Into<Conn<'_>>) -> Result<()> {
        let conn = match conn.into() {
            Conn::Sqlite(c) => c,
            Conn::Postgres(c) => {
                for sql in self.indexes {
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut *c)
                        .await?;
                }
                return postgres::touch(c).await;
            }
        };
        for sql in self.indexes {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *conn)
                .await?;
        }
        sqlx::query(
            "INSERT INTO participants_search (rowid, search_text) \
             SELECT id, search_text || char(1, 1) FROM participants WHERE id >= ?",
        )
        .bind(self.first_new)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "UPDATE participant_counts SET \
                 live = live + n.new_live, contactable = contactable + n.new_contactable, \
                 opted_out = opted_out + n.new_opted_out, \
                 do_not_contact = do_not_contact + n.new_do_not_contact, \
                 erased = erased + n.new_erased \
             FROM (SELECT coalesce(sum(erased_at IS NULL), 0) AS new_live, \
                     coalesce(sum(erased_at IS NULL AND opted_out_at IS NULL AND do_not_contact = 0), 0) \
                         AS new_contactable, \
                     coalesce(sum(erased_at IS NULL AND opted_out_at IS NOT NULL), 0) AS new_opted_out, \
                     coalesce(sum(erased_at IS NULL AND do_not_contact <> 0), 0) AS new_do_not_contact, \
                     coalesce(sum(erased_at IS NOT NULL), 0) AS new_erased \
                   FROM participants WHERE id >= ?) AS n \
             WHERE participant_counts.id = 1",
        )
        .bind(self.first_new)
        .execute(&mut *conn)
        .await?;
        let counts = serde_json::to_string(&self.attributes).expect("counts serialise");
        sqlx::query(
            "INSERT INTO attribute_counts (key, live) SELECT key, value FROM json_each(?) WHERE true \
             ON CONFLICT (key) DO UPDATE SET live = live + excluded.live",
        )
        .bind(counts)
        .execute(&mut *conn)
        .await?;
        for sql in self.triggers {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *conn)
                .await?;
        }
        touch(conn).await
    }
}

async fn not_writable(conn: Conn<'_>, id: ParticipantId) -> Error {
    let erased: Result<Option<Option<i64>>> = either!(conn, |c| sqlx::query_scalar(
        "SELECT erased_at FROM participants WHERE id = $1"
    )
    .bind(id.0)
    .fetch_optional(&mut *c)
    .await
    .map_err(Error::from));
    match erased {
        Ok(Some(Some(_))) => {
            Error::conflict(format!("participant {id} was erased and cannot be changed"))
        }
        Ok(_) => Error::not_found("participant", id),
        Err(e) => e,
    }
}

/// Replaces a participant's fields, attributes and tags.
pub(crate) async fn update(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
    p: &ValidParticipant,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut conn = conn.into();
    update_row(conn.reborrow(), id, p, now).await?;
    touch(conn).await
}

/// [`update`] for a caller that writes more before it [`touch`]es.
pub(crate) async fn update_row(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
    p: &ValidParticipant,
    now: DateTime<Utc>,
) -> Result<()> {
    let conn = match conn.into() {
        Conn::Sqlite(c) => c,
        Conn::Postgres(c) => {
            if postgres::update_row(c, id, p, now).await? == 0 {
                return Err(not_writable(Conn::Postgres(c), id).await);
            }
            return Ok(());
        }
    };
    let done = sqlx::query(
        "UPDATE participants SET name = ?, email = ?, email_norm = ?, email_hash = ?, phone = ?, \
         time_zone = ?, language = ?, source = ?, attributes = ?, tags = ?, search_text = ?, sort_name = ?, \
         updated_at = ? WHERE id = ? AND erased_at IS NULL",
    )
    .bind(&p.name)
    .bind(p.email.as_str())
    .bind(p.email.normalised())
    .bind(p.email.hash())
    .bind(&p.phone)
    .bind(&p.time_zone)
    .bind(&p.language)
    .bind(&p.source)
    .bind(&p.derived.attributes_json)
    .bind(&p.derived.tags_json)
    .bind(&p.derived.search_text)
    .bind(&p.derived.sort_name)
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(not_writable(Conn::Sqlite(conn), id).await);
    }
    Ok(())
}

/// Sets or clears a participant's opt-out.
pub(crate) async fn set_opted_out(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
    at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut conn = conn.into();
    let done = either!(conn.reborrow(), |c| sqlx::query(
        "UPDATE participants SET opted_out_at = $1, updated_at = $2 \
         WHERE id = $3 AND erased_at IS NULL",
    )
    .bind(at.map(millis))
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *c)
    .await?
    .rows_affected());
    if done == 0 {
        return Err(not_writable(conn, id).await);
    }
    touch(conn).await
}

/// Sets or clears a participant's do-not-contact mark.
pub(crate) async fn set_do_not_contact(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
    on: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut conn = conn.into();
    let done = either!(conn.reborrow(), |c| sqlx::query(
        "UPDATE participants SET do_not_contact = $1, updated_at = $2 \
         WHERE id = $3 AND erased_at IS NULL",
    )
    .bind(on)
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *c)
    .await?
    .rows_affected());
    if done == 0 {
        return Err(not_writable(conn, id).await);
    }
    touch(conn).await
}

/// Marks many people at once as they stand in a generated or copied
/// panel: each of `opted_out` opted out at its time, each of
/// `do_not_contact` not to be contacted. Their counts by status follow.
pub(crate) async fn set_marks_many(
    conn: impl Into<Conn<'_>>,
    opted_out: &[(ParticipantId, DateTime<Utc>)],
    do_not_contact: &[ParticipantId],
) -> Result<()> {
    let conn = match conn.into() {
        Conn::Sqlite(c) => c,
        Conn::Postgres(c) => return postgres::set_marks_many(c, opted_out, do_not_contact).await,
    };
    for chunk in opted_out.chunks(10_000) {
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE participants SET opted_out_at = CASE id ");
        for (id, at) in chunk {
            q.push(" WHEN ")
                .push_bind(id.0)
                .push(" THEN ")
                .push_bind(millis(*at));
        }
        q.push(" END WHERE id IN (");
        let mut sep = q.separated(", ");
        for (id, _) in chunk {
            sep.push_bind(id.0);
        }
        q.push(")");
        q.build().execute(&mut *conn).await?;
    }
    for chunk in do_not_contact.chunks(10_000) {
        let mut q =
            QueryBuilder::<Sqlite>::new("UPDATE participants SET do_not_contact = 1 WHERE id IN (");
        let mut sep = q.separated(", ");
        for id in chunk {
            sep.push_bind(id.0);
        }
        q.push(")");
        q.build().execute(&mut *conn).await?;
    }
    touch(conn).await
}

/// Every attribute in use, with how many people (not erased) have it, by
/// name.
pub(crate) async fn attribute_counts(conn: impl Into<Conn<'_>>) -> Result<Vec<(String, u32)>> {
    let rows: Vec<(String, i64)> = either!(conn, |c| sqlx::query_as(
        "SELECT key, live FROM attribute_counts WHERE live > 0 ORDER BY key"
    )
    .fetch_all(&mut *c)
    .await?);
    Ok(rows.into_iter().map(|(k, n)| (k, n as u32)).collect())
}

/// How far a list counts the people who match a search or filter before it
/// says "more than": counting further reads the whole panel, and no one
/// pages through a thousand people to find one.
pub const COUNT_CAP: u32 = 1_000;

/// The search's words, folded as the stored text is.
fn search_words(query: &ParticipantQuery) -> Vec<String> {
    query
        .search
        .as_deref()
        .map(|s| {
            fields::fold(s)
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The words the trigram index can find: three characters or more, none
/// of them a GLOB wildcard. The others are checked on the rows it finds.
fn indexed_words(words: &[String]) -> Vec<&str> {
    words
        .iter()
        .map(String::as_str)
        .filter(|w| w.chars().count() >= 3 && !w.contains(['*', '?', '[']))
        .collect()
}

/// The words of one or two characters (none of them a wildcard), which
/// the index answers through the trigrams that begin with them.
fn short_words(words: &[String]) -> Vec<&str> {
    words
        .iter()
        .map(String::as_str)
        .filter(|w| w.chars().count() < 3 && !w.contains(['*', '?', '[']))
        .collect()
}

/// A word of one or two characters that begins more trigrams than this is
/// common: the name order finds a page of it sooner than the index would.
const SHORT_TERMS_MAX: i64 = 64;

/// What the index makes of the short words of a search.
enum Short {
    /// None, or one too common for the index to help.
    Unhelpful,
    /// Nobody holds one of them.
    NoOne,
    /// The full-text query for the people who might hold them all.
    Match(String),
}

/// How the index finds the people who hold every one of `words` (one or
/// two characters each): a query for any trigram that begins with each,
/// from the index's own list of terms.
async fn short_match(conn: &mut SqliteConnection, words: &[&str]) -> Result<Short> {
    if words.is_empty() {
        return Ok(Short::Unhelpful);
    }
    let mut all = Vec::with_capacity(words.len());
    for word in words {
        let terms: Vec<String> = sqlx::query_scalar(
            "SELECT term FROM participants_search_terms \
             WHERE term >= ?1 AND term < ?1 || char(1114111) LIMIT ?2",
        )
        .bind(*word)
        .bind(SHORT_TERMS_MAX + 1)
        .fetch_all(&mut *conn)
        .await?;
        if terms.len() as i64 > SHORT_TERMS_MAX {
            return Ok(Short::Unhelpful);
        }
        if terms.is_empty() {
            return Ok(Short::NoOne);
        }
        let any: Vec<String> = terms
            .iter()
            .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
            .collect();
        all.push(format!("({})", any.join(" OR ")));
    }
    Ok(Short::Match(all.join(" AND ")))
}

/// `s.search_text` holds every one of these words (the long ones as
/// patterns, the short ones through [`short_match`]), which the trigram
/// index answers.
fn push_index(q: &mut QueryBuilder<Sqlite>, words: &[&str], matching: Option<&str>) {
    for word in words {
        q.push(" AND s.search_text GLOB ")
            .push_bind(format!("*{word}*"));
    }
    if let Some(m) = matching {
        q.push(" AND s.participants_search MATCH ")
            .push_bind(m.to_string());
    }
}

fn push_filters(q: &mut QueryBuilder<Sqlite>, query: &ParticipantQuery, words: &[String]) {
    q.push(" WHERE ");
    q.push(match query.status {
        StatusFilter::All => "p.erased_at IS NULL",
        StatusFilter::Contactable => {
            "p.erased_at IS NULL AND p.opted_out_at IS NULL AND p.do_not_contact = 0"
        }
        StatusFilter::OptedOut => "p.erased_at IS NULL AND p.opted_out_at IS NOT NULL",
        StatusFilter::DoNotContact => "p.erased_at IS NULL AND p.do_not_contact = 1",
        StatusFilter::Erased => "p.erased_at IS NOT NULL",
    });
    for word in words {
        let escaped = word
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        q.push(" AND p.search_text LIKE ")
            .push_bind(format!("%{escaped}%"))
            .push(" ESCAPE '\\'");
    }
    // Attributes and tags are canonical JSON in which every `"` inside a
    // string is escaped, so `"key":"value"` (or `"tag"`) occurs in the text
    // exactly when the participant has that value (or tag).
    if let Some(tag) = query.tag.as_deref().filter(|t| !t.trim().is_empty()) {
        let needle =
            serde_json::to_string(&tag.trim().to_lowercase()).expect("a string serialises");
        q.push(" AND instr(p.tags, ")
            .push_bind(needle)
            .push(") > 0");
    }
    for f in &query.attributes {
        let key = fields::parse_key("attribute", &f.key).unwrap_or_else(|_| f.key.clone());
        let pair = serde_json::json!({ key: f.value.trim() }).to_string();
        let needle = pair[1..pair.len() - 1].to_string();
        q.push(" AND instr(p.attributes, ")
            .push_bind(needle)
            .push(") > 0");
    }
}

/// How many people a status filter shows, from the counts every write
/// keeps current.
async fn status_count(conn: &mut SqliteConnection, status: StatusFilter) -> Result<u32> {
    let row = sqlx::query(
        "SELECT live, contactable, opted_out, do_not_contact, erased \
         FROM participant_counts WHERE id = 1",
    )
    .fetch_one(&mut *conn)
    .await?;
    let n: i64 = row.get(match status {
        StatusFilter::All => 0,
        StatusFilter::Contactable => 1,
        StatusFilter::OptedOut => 2,
        StatusFilter::DoNotContact => 3,
        StatusFilter::Erased => 4,
    });
    Ok(n.max(0) as u32)
}

/// One page of participants, in name order (accents and case folded, so
/// Łukasz sorts with the Ls), and how many match: exactly for a status
/// filter alone, and up to [`COUNT_CAP`] for a search or other filter.
///
/// A search that the trigram index narrows to a few people reads just
/// them and sorts them; one that matches many walks the name order and
/// stops at the page, which is quick because matches are close together.
pub(crate) async fn list(
    conn: impl Into<Conn<'_>>,
    query: &ParticipantQuery,
) -> Result<ParticipantPage> {
    let conn = match conn.into() {
        Conn::Sqlite(c) => c,
        Conn::Postgres(c) => return postgres::list(c, query).await,
    };
    let words = search_words(query);
    let indexed = indexed_words(&words);
    let short = short_words(&words);
    let matching = match short_match(conn, &short).await? {
        Short::NoOne => {
            return Ok(ParticipantPage {
                total: 0,
                total_capped: false,
                offset: query.offset,
                items: Vec::new(),
            });
        }
        Short::Match(m) => Some(m),
        Short::Unhelpful => None,
    };
    let uses_index = !indexed.is_empty() || matching.is_some();
    let filtered = !words.is_empty()
        || query.tag.as_deref().is_some_and(|t| !t.trim().is_empty())
        || !query.attributes.is_empty();

    let (total, total_capped, few) = if !filtered {
        (status_count(conn, query.status).await?, false, false)
    } else {
        // With words the index answers, it leads and the rows it finds are
        // checked; the count stops at the cap either way.
        let mut count = QueryBuilder::<Sqlite>::new(if uses_index {
            "SELECT count(*) FROM (SELECT 1 FROM participants_search s \
             CROSS JOIN participants p ON p.id = s.rowid"
        } else {
            "SELECT count(*) FROM (SELECT 1 FROM participants p"
        });
        push_filters(&mut count, query, &words);
        push_index(&mut count, &indexed, matching.as_deref());
        count
            .push(" LIMIT ")
            .push_bind(COUNT_CAP as i64 + 1)
            .push(")");
        let n: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
        let capped = n > COUNT_CAP as i64;
        (n.min(COUNT_CAP as i64) as u32, capped, !capped)
    };

    let mut q = QueryBuilder::<Sqlite>::new(
        "SELECT p.id, p.name, p.email, p.time_zone, p.language, p.opted_out_at IS NOT NULL, \
         p.do_not_contact, p.erased_at IS NOT NULL, p.tags FROM participants p",
    );
    push_filters(&mut q, query, &words);
    if few {
        // Read the few people who match (those the index finds, when it
        // can) and sort them, rather than walk the whole name order
        // looking for them.
        if uses_index {
            q.push(" AND p.id IN (SELECT s.rowid FROM participants_search s WHERE 1");
            push_index(&mut q, &indexed, matching.as_deref());
            q.push(")");
        }
        q.push(" ORDER BY ")
            .push(query.sort.order_by("+p.sort_name"));
    } else {
        q.push(" ORDER BY ")
            .push(query.sort.order_by("p.sort_name"));
    }
    q.push(" LIMIT ")
        .push_bind(query.limit.clamp(1, 1000) as i64)
        .push(" OFFSET ")
        .push_bind(query.offset as i64);
    let rows = q.build().fetch_all(&mut *conn).await?;
    let items = rows
        .iter()
        .map(|row| ParticipantRow {
            id: ParticipantId(row.get(0)),
            name: row.get(1),
            email: row.get(2),
            time_zone: row.get(3),
            language: row.get(4),
            opted_out: row.get(5),
            do_not_contact: row.get(6),
            erased: row.get(7),
            tags: serde_json::from_str(row.get(8)).unwrap_or_default(),
        })
        .collect();
    Ok(ParticipantPage {
        total,
        total_capped,
        offset: query.offset,
        items,
    })
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    /// Participants saved before the list had its own sort key get one from
    /// their stored search text when the panel is next opened.
    #[tokio::test]
    async fn the_sort_name_migration_fills_in_saved_participants() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let mut before = sqlx::migrate!("./migrations/sqlite");
        before.migrations = before
            .migrations
            .iter()
            .filter(|m| m.version < 20261125000001)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        before.run(&pool).await.unwrap();
        for (id, name, email, search) in [
            (
                1,
                "Zoë Müller",
                Some("Zoe.M@Example.com"),
                "zoe muller zoe.m@example.com +49 30 1",
            ),
            (
                2,
                "Ünal Öz",
                Some("ünal@exämple.de"),
                "unal oz unal@example.de",
            ),
            (3, "Erased participant 3", None, ""),
            (4, "Ann", Some("ann@example.com"), "ann ann@example.com"),
        ] {
            sqlx::query(
                "INSERT INTO participants (id, name, email, search_text, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, 0, 0)",
            )
            .bind(id)
            .bind(name)
            .bind(email)
            .bind(search)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;

        let pool = crate::db::open_file(&path).await.unwrap();
        let keys: Vec<(i64, String)> =
            sqlx::query("SELECT id, sort_name FROM participants ORDER BY sort_name, id")
                .fetch_all(&pool)
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
        assert_eq!(
            keys,
            vec![
                (3, String::new()),
                (4, "ann".to_string()),
                // A non-ASCII email: the whole search text, which still
                // begins with the folded name.
                (2, "unal oz unal@example.de".to_string()),
                (1, "zoe muller".to_string()),
            ]
        );
        let plan = crate::db::query_plan(
            &pool,
            "SELECT id FROM participants ORDER BY sort_name, id LIMIT 5",
        )
        .await;
        assert!(
            plan.iter().any(|p| p.contains("participants_sort")),
            "{plan:?}"
        );
    }
}
