//! SQL for participants, their attributes and tags. Every query about a
//! participant's own record lives here; the rules live in the modules that
//! call it.

use super::fields;
use super::model::*;
use crate::db::{instant, millis};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::{BTreeMap, HashMap};

const COLUMNS: &str = "id, name, email, phone, time_zone, language, source, \
                       opted_out_at, do_not_contact, erased_at, created_at, updated_at";

/// SQLite allows 32,766 bound values in one statement.
const MAX_BINDS: usize = 32_000;

fn search_text(p: &ValidParticipant) -> String {
    fields::fold(&format!(
        "{} {} {}",
        p.name,
        p.email.as_str(),
        p.phone.as_deref().unwrap_or_default()
    ))
}

fn number(value: &str) -> Option<f64> {
    value.trim().parse::<f64>().ok().filter(|n| n.is_finite())
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
        attributes: BTreeMap::new(),
        tags: Vec::new(),
        opted_out_at: row.get::<Option<i64>, _>("opted_out_at").map(instant),
        do_not_contact: row.get("do_not_contact"),
        erased_at: row.get::<Option<i64>, _>("erased_at").map(instant),
        created_at: instant(row.get("created_at")),
        updated_at: instant(row.get("updated_at")),
    }
}

/// Loads one participant with attributes and tags.
pub(crate) async fn load(conn: &mut SqliteConnection, id: ParticipantId) -> Result<Participant> {
    let mut found = load_many(conn, &[id]).await?;
    found
        .pop()
        .ok_or_else(|| Error::not_found("participant", id))
}

/// Loads participants by id, in id order, skipping ids that do not exist.
pub(crate) async fn load_many(
    conn: &mut SqliteConnection,
    ids: &[ParticipantId],
) -> Result<Vec<Participant>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(MAX_BINDS) {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {COLUMNS} FROM participants WHERE id IN ("
        ));
        push_ids(&mut q, chunk);
        q.push(") ORDER BY id");
        let rows = q.build().fetch_all(&mut *conn).await?;
        let mut batch: Vec<Participant> = rows.iter().map(participant_from_row).collect();
        let mut index: HashMap<ParticipantId, usize> = HashMap::with_capacity(batch.len());
        for (i, p) in batch.iter().enumerate() {
            index.insert(p.id, i);
        }
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT participant_id, key, value FROM participant_attributes WHERE participant_id IN (",
        );
        push_ids(&mut q, chunk);
        q.push(")");
        for row in q.build().fetch_all(&mut *conn).await? {
            if let Some(&i) = index.get(&ParticipantId(row.get(0))) {
                batch[i].attributes.insert(row.get(1), row.get(2));
            }
        }
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT participant_id, tag FROM participant_tags WHERE participant_id IN (",
        );
        push_ids(&mut q, chunk);
        q.push(") ORDER BY participant_id, tag");
        for row in q.build().fetch_all(&mut *conn).await? {
            if let Some(&i) = index.get(&ParticipantId(row.get(0))) {
                batch[i].tags.push(row.get(1));
            }
        }
        out.extend(batch);
    }
    Ok(out)
}

fn push_ids(q: &mut QueryBuilder<Sqlite>, ids: &[ParticipantId]) {
    let mut sep = q.separated(", ");
    for id in ids {
        sep.push_bind(id.0);
    }
}

/// The ids of participants with these normalised emails.
pub(crate) async fn ids_by_email(
    conn: &mut SqliteConnection,
    normalised: &[&str],
) -> Result<HashMap<String, ParticipantId>> {
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
pub(crate) async fn find(conn: &mut SqliteConnection, key: &str) -> Result<ParticipantId> {
    if let Ok(id) = key.trim().parse::<i64>() {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM participants WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        return found
            .map(ParticipantId)
            .ok_or_else(|| Error::not_found("participant", id));
    }
    let email = fields::Email::parse(key)?;
    let found = ids_by_email(conn, &[email.normalised()]).await?;
    found
        .get(email.normalised())
        .copied()
        .ok_or_else(|| Error::not_found("participant with email", email.as_str()))
}

/// Refuses an email that another participant already has.
pub(crate) async fn check_email_free(
    conn: &mut SqliteConnection,
    email: &fields::Email,
    except: Option<ParticipantId>,
) -> Result<()> {
    let other: Option<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM participants WHERE email_norm = ?")
            .bind(email.normalised())
            .fetch_optional(&mut *conn)
            .await?;
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
    conn: &mut SqliteConnection,
    people: &[ValidParticipant],
    now: DateTime<Utc>,
) -> Result<Vec<ParticipantId>> {
    let first: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM participants")
        .fetch_one(&mut *conn)
        .await?;
    let ids: Vec<ParticipantId> = (0..people.len() as i64)
        .map(|i| ParticipantId(first + i))
        .collect();
    let at = millis(now);
    let rows: Vec<(ParticipantId, &ValidParticipant)> = ids.iter().copied().zip(people).collect();
    for chunk in rows.chunks(MAX_BINDS / 12) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO participants (id, name, email, email_norm, email_hash, phone, time_zone, \
             language, source, search_text, created_at, updated_at) ",
        );
        q.push_values(chunk, |mut b, (id, p)| {
            b.push_bind(id.0)
                .push_bind(p.name.clone())
                .push_bind(p.email.as_str().to_string())
                .push_bind(p.email.normalised().to_string())
                .push_bind(p.email.hash())
                .push_bind(p.phone.clone())
                .push_bind(p.time_zone.clone())
                .push_bind(p.language.clone())
                .push_bind(p.source.clone())
                .push_bind(search_text(p))
                .push_bind(at)
                .push_bind(at);
        });
        q.build().execute(&mut *conn).await?;
    }
    insert_attributes_and_tags(conn, &rows).await?;
    Ok(ids)
}

async fn insert_attributes_and_tags(
    conn: &mut SqliteConnection,
    rows: &[(ParticipantId, &ValidParticipant)],
) -> Result<()> {
    let attributes: Vec<(i64, &str, &str)> = rows
        .iter()
        .flat_map(|(id, p)| {
            p.attributes
                .iter()
                .map(move |(k, v)| (id.0, k.as_str(), v.as_str()))
        })
        .collect();
    for chunk in attributes.chunks(MAX_BINDS / 4) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO participant_attributes (participant_id, key, value, num) ",
        );
        q.push_values(chunk, |mut b, (id, k, v)| {
            b.push_bind(*id)
                .push_bind(k.to_string())
                .push_bind(v.to_string())
                .push_bind(number(v));
        });
        q.build().execute(&mut *conn).await?;
    }
    let tags: Vec<(i64, &str)> = rows
        .iter()
        .flat_map(|(id, p)| p.tags.iter().map(move |t| (id.0, t.as_str())))
        .collect();
    for chunk in tags.chunks(MAX_BINDS / 2) {
        let mut q =
            QueryBuilder::<Sqlite>::new("INSERT INTO participant_tags (participant_id, tag) ");
        q.push_values(chunk, |mut b, (id, t)| {
            b.push_bind(*id).push_bind(t.to_string());
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Replaces a participant's fields, attributes and tags.
pub(crate) async fn update(
    conn: &mut SqliteConnection,
    id: ParticipantId,
    p: &ValidParticipant,
    now: DateTime<Utc>,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE participants SET name = ?, email = ?, email_norm = ?, email_hash = ?, phone = ?, \
         time_zone = ?, language = ?, source = ?, search_text = ?, updated_at = ? \
         WHERE id = ? AND erased_at IS NULL",
    )
    .bind(&p.name)
    .bind(p.email.as_str())
    .bind(p.email.normalised())
    .bind(p.email.hash())
    .bind(&p.phone)
    .bind(&p.time_zone)
    .bind(&p.language)
    .bind(&p.source)
    .bind(search_text(p))
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found("participant (not erased)", id));
    }
    sqlx::query("DELETE FROM participant_attributes WHERE participant_id = ?")
        .bind(id.0)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM participant_tags WHERE participant_id = ?")
        .bind(id.0)
        .execute(&mut *conn)
        .await?;
    insert_attributes_and_tags(conn, &[(id, p)]).await
}

/// Sets or clears a participant's opt-out.
pub(crate) async fn set_opted_out(
    conn: &mut SqliteConnection,
    id: ParticipantId,
    at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE participants SET opted_out_at = ?, updated_at = ? WHERE id = ? AND erased_at IS NULL",
    )
    .bind(at.map(millis))
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found("participant (not erased)", id));
    }
    Ok(())
}

/// Sets or clears a participant's do-not-contact mark.
pub(crate) async fn set_do_not_contact(
    conn: &mut SqliteConnection,
    id: ParticipantId,
    on: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE participants SET do_not_contact = ?, updated_at = ? WHERE id = ? AND erased_at IS NULL",
    )
    .bind(on)
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found("participant (not erased)", id));
    }
    Ok(())
}

fn push_filters(q: &mut QueryBuilder<Sqlite>, query: &ParticipantQuery) {
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
    if let Some(search) = &query.search {
        for word in fields::fold(search).split_whitespace() {
            let escaped = word
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            q.push(" AND p.search_text LIKE ")
                .push_bind(format!("%{escaped}%"))
                .push(" ESCAPE '\\'");
        }
    }
    if let Some(tag) = query.tag.as_deref().filter(|t| !t.trim().is_empty()) {
        q.push(" AND EXISTS (SELECT 1 FROM participant_tags t WHERE t.participant_id = p.id AND t.tag = ")
            .push_bind(tag.trim().to_lowercase())
            .push(")");
    }
    for f in &query.attributes {
        q.push(" AND EXISTS (SELECT 1 FROM participant_attributes a WHERE a.participant_id = p.id AND a.key = ")
            .push_bind(f.key.trim().to_lowercase())
            .push(" AND a.value = ")
            .push_bind(f.value.trim().to_string())
            .push(")");
    }
}

/// One page of participants, in name order (accents and case folded, so
/// Łukasz sorts with the Ls), and the number that match.
pub(crate) async fn list(
    conn: &mut SqliteConnection,
    query: &ParticipantQuery,
) -> Result<ParticipantPage> {
    let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM participants p");
    push_filters(&mut count, query);
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;

    let mut q = QueryBuilder::<Sqlite>::new(
        "SELECT p.id, p.name, p.email, p.time_zone, p.language, p.opted_out_at IS NOT NULL, \
         p.do_not_contact, p.erased_at IS NOT NULL, \
         (SELECT group_concat(tag, char(31)) FROM (SELECT tag FROM participant_tags t \
          WHERE t.participant_id = p.id ORDER BY tag)) \
         FROM participants p",
    );
    push_filters(&mut q, query);
    q.push(" ORDER BY p.search_text, p.id LIMIT ")
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
            tags: row
                .get::<Option<String>, _>(8)
                .map(|t| t.split('\u{1f}').map(str::to_string).collect())
                .unwrap_or_default(),
        })
        .collect();
    Ok(ParticipantPage {
        total: total as u32,
        offset: query.offset,
        items,
    })
}

/// Every attribute name in use, with how many participants have it.
pub(crate) async fn attribute_keys(conn: &mut SqliteConnection) -> Result<Vec<(String, u32)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT key, COUNT(*) FROM participant_attributes GROUP BY key ORDER BY key",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(k, n)| (k, n as u32)).collect())
}
