//! The participants' storage on a team database (PostgreSQL): the same
//! functions as the panel file's (`super`), in PostgreSQL's terms. New
//! people go in with `COPY`, ids come from the table's identity, a
//! person's attributes and tags are jsonb (read back as the canonical JSON
//! the core writes), and search is a trigram index on the folded text, so
//! a `LIKE '%…%'` of any word of three letters or more is answered from it.

use super::super::fields;
use super::super::model::*;
use super::super::packed::Columns;
use super::{COUNT_CAP, StoredColumns, search_words};
use crate::db::{instant, millis};
use crate::error::Result;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;
use sqlx::{Postgres, QueryBuilder};
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub(super) const COLUMNS: &str = "id, name, email, phone, time_zone, language, source, \
     attributes::text AS attributes, tags::text AS tags, opted_out_at, do_not_contact, erased_at, \
     created_at, updated_at";

pub(super) async fn touch(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("UPDATE revisions SET revision = revision + 1 WHERE domain = 'recruitment'")
        .execute(conn)
        .await?;
    Ok(())
}

/// The indexes a bulk load builds once at its end rather than row by row:
/// the trigram index on the search text costs most of a large `COPY`.
/// The email index stays (it keeps two people from sharing an address).
const BULK_INDEXES: [&str; 2] = ["participants_search", "participants_sort"];

/// Starts a bulk load ([`super::BulkLoad`]) in the caller's transaction:
/// drops the indexes it rebuilds at the end (their definitions kept), and
/// gives the rebuild the memory to sort in one pass. Other connections
/// wait for the table until the load commits, as they would for its rows.
/// Only the table's owner may drop its indexes: an account that may write
/// people but does not own the table loads them with the indexes kept.
pub(super) async fn start_load(conn: &mut PgConnection) -> Result<super::BulkLoad> {
    let owner: bool = sqlx::query_scalar(
        "SELECT pg_has_role(current_user, c.relowner, 'USAGE') FROM pg_class c \
         WHERE c.oid = 'participants'::regclass",
    )
    .fetch_one(&mut *conn)
    .await?;
    let indexes: Vec<(String, String)> = if owner {
        sqlx::query("SET LOCAL maintenance_work_mem = '256MB'")
            .execute(&mut *conn)
            .await?;
        sqlx::query_as(
            "SELECT indexname::text, indexdef FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename = 'participants' \
             AND indexname = ANY($1) ORDER BY indexname",
        )
        .bind(&BULK_INDEXES[..])
        .fetch_all(&mut *conn)
        .await?
    } else {
        Vec::new()
    };
    for (name, _) in &indexes {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX \"{name}\"")))
            .execute(&mut *conn)
            .await?;
    }
    Ok(super::BulkLoad {
        indexes: indexes.into_iter().map(|(_, sql)| sql).collect(),
        triggers: Vec::new(),
        first_new: 0,
        attributes: HashMap::new(),
    })
}

/// A participant as stored.
#[derive(sqlx::FromRow)]
struct ParticipantRecord {
    id: i64,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    time_zone: Option<String>,
    language: Option<String>,
    source: Option<String>,
    attributes: String,
    tags: String,
    opted_out_at: Option<i64>,
    do_not_contact: bool,
    erased_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl From<ParticipantRecord> for Participant {
    fn from(r: ParticipantRecord) -> Participant {
        Participant {
            id: ParticipantId(r.id),
            name: r.name,
            email: r.email,
            phone: r.phone,
            time_zone: r.time_zone,
            language: r.language,
            source: r.source,
            attributes: serde_json::from_str(&r.attributes).unwrap_or_default(),
            tags: serde_json::from_str(&r.tags).unwrap_or_default(),
            opted_out_at: r.opted_out_at.map(instant),
            do_not_contact: r.do_not_contact,
            erased_at: r.erased_at.map(instant),
            created_at: instant(r.created_at),
            updated_at: instant(r.updated_at),
        }
    }
}

pub(super) async fn load_many(
    conn: &mut PgConnection,
    ids: &[ParticipantId],
) -> Result<Vec<Participant>> {
    let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
    let rows: Vec<ParticipantRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM participants WHERE id = ANY($1) ORDER BY id"
    )))
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Participant::from).collect())
}

/// The canonical JSON the core writes for attributes, from jsonb's text.
fn canonical_attributes(stored: &str) -> String {
    let map: BTreeMap<String, String> = serde_json::from_str(stored).unwrap_or_default();
    let mut out = String::new();
    super::super::packed::push_attributes_json(
        &mut out,
        map.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    out
}

/// The canonical JSON the core writes for tags, from jsonb's text.
fn canonical_tags(stored: &str) -> String {
    let set: BTreeSet<String> = serde_json::from_str(stored).unwrap_or_default();
    let mut out = String::new();
    super::super::packed::push_tags_json(&mut out, set.iter().map(String::as_str));
    out
}

pub(super) async fn stored_columns(
    conn: &mut PgConnection,
    ids: &[ParticipantId],
) -> Result<Vec<StoredColumns>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        name: String,
        email: Option<String>,
        phone: Option<String>,
        time_zone: Option<String>,
        language: Option<String>,
        source: Option<String>,
        attributes: String,
        tags: String,
    }
    let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, name, email, phone, time_zone, language, source, attributes::text AS attributes, \
         tags::text AS tags FROM participants WHERE id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| StoredColumns {
            id: ParticipantId(r.id),
            name: r.name,
            email: r.email,
            phone: r.phone,
            time_zone: r.time_zone,
            language: r.language,
            source: r.source,
            attributes: canonical_attributes(&r.attributes),
            tags: canonical_tags(&r.tags),
        })
        .collect())
}

pub(super) async fn ids_by_email(
    conn: &mut PgConnection,
    normalised: &[&str],
) -> Result<HashMap<String, ParticipantId>> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT email_norm, id FROM participants WHERE email_norm = ANY($1)")
            .bind(normalised)
            .fetch_all(conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(e, id)| (e, ParticipantId(id)))
        .collect())
}

/// One CSV field of a `COPY … (FORMAT csv)`: quoted text, or nothing for NULL.
fn push_csv(out: &mut String, field: Option<&str>) {
    if let Some(text) = field {
        out.push('"');
        for ch in text.chars() {
            if ch == '"' {
                out.push('"');
            }
            out.push(ch);
        }
        out.push('"');
    }
}

/// People sent to the server per `COPY` message.
const COPY_CHUNK: usize = 5_000;

pub(super) async fn insert_rows(
    conn: &mut PgConnection,
    people: &[Columns<'_>],
    now: DateTime<Utc>,
) -> Result<Vec<ParticipantId>> {
    if people.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT nextval(pg_get_serial_sequence('participants', 'id')) \
         FROM generate_series(1, $1)",
    )
    .bind(people.len() as i64)
    .fetch_all(&mut *conn)
    .await?;
    let at = millis(now).to_string();
    let mut copy = conn
        .copy_in_raw(
            "COPY participants (id, name, email, email_norm, email_hash, phone, time_zone, \
             language, source, attributes, tags, search_text, sort_name, created_at, updated_at) \
             FROM STDIN WITH (FORMAT csv)",
        )
        .await?;
    let mut buffer = String::new();
    for (chunk_ids, chunk) in ids.chunks(COPY_CHUNK).zip(people.chunks(COPY_CHUNK)) {
        buffer.clear();
        for (id, p) in chunk_ids.iter().zip(chunk) {
            buffer.push_str(&id.to_string());
            for field in [
                Some(p.name),
                Some(p.email),
                Some(p.email_norm),
                Some(p.email_hash),
                p.phone,
                p.time_zone,
                p.language,
                p.source,
                Some(p.attributes_json),
                Some(p.tags_json),
                Some(p.search_text),
                Some(p.sort_name),
            ] {
                buffer.push(',');
                push_csv(&mut buffer, field);
            }
            buffer.push(',');
            buffer.push_str(&at);
            buffer.push(',');
            buffer.push_str(&at);
            buffer.push('\n');
        }
        if let Err(e) = copy.send(buffer.as_bytes()).await {
            let _ = copy.abort("the import stopped").await;
            return Err(e.into());
        }
    }
    copy.finish().await?;
    Ok(ids.into_iter().map(ParticipantId).collect())
}

pub(super) async fn update_row(
    conn: &mut PgConnection,
    id: ParticipantId,
    p: &ValidParticipant,
    now: DateTime<Utc>,
) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE participants SET name = $1, email = $2, email_norm = $3, email_hash = $4, \
         phone = $5, time_zone = $6, language = $7, source = $8, attributes = $9::jsonb, \
         tags = $10::jsonb, search_text = $11, sort_name = $12, updated_at = $13 \
         WHERE id = $14 AND erased_at IS NULL",
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
    .execute(conn)
    .await?
    .rows_affected())
}

pub(super) async fn set_marks_many(
    conn: &mut PgConnection,
    opted_out: &[(ParticipantId, DateTime<Utc>)],
    do_not_contact: &[ParticipantId],
) -> Result<()> {
    let (ids, ats): (Vec<i64>, Vec<i64>) =
        opted_out.iter().map(|(id, at)| (id.0, millis(*at))).unzip();
    sqlx::query(
        "UPDATE participants p SET opted_out_at = m.at \
         FROM unnest($1::bigint[], $2::bigint[]) AS m(id, at) WHERE p.id = m.id",
    )
    .bind(&ids)
    .bind(&ats)
    .execute(&mut *conn)
    .await?;
    let ids: Vec<i64> = do_not_contact.iter().map(|id| id.0).collect();
    sqlx::query("UPDATE participants SET do_not_contact = true WHERE id = ANY($1)")
        .bind(&ids)
        .execute(&mut *conn)
        .await?;
    touch(conn).await
}

fn push_filters(q: &mut QueryBuilder<Postgres>, query: &ParticipantQuery, words: &[String]) {
    q.push(" WHERE ");
    q.push(match query.status {
        StatusFilter::All => "p.erased_at IS NULL",
        StatusFilter::Contactable => {
            "p.erased_at IS NULL AND p.opted_out_at IS NULL AND NOT p.do_not_contact"
        }
        StatusFilter::OptedOut => "p.erased_at IS NULL AND p.opted_out_at IS NOT NULL",
        StatusFilter::DoNotContact => "p.erased_at IS NULL AND p.do_not_contact",
        StatusFilter::Erased => "p.erased_at IS NOT NULL",
    });
    for word in words {
        let escaped = word
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        q.push(" AND p.search_text LIKE ")
            .push_bind(format!("%{escaped}%"));
    }
    if let Some(tag) = query.tag.as_deref().filter(|t| !t.trim().is_empty()) {
        q.push(" AND p.tags ? ")
            .push_bind(tag.trim().to_lowercase());
    }
    for f in &query.attributes {
        let key = fields::parse_key("attribute", &f.key).unwrap_or_else(|_| f.key.clone());
        q.push(" AND p.attributes @> ")
            .push_bind(serde_json::json!({ key: f.value.trim() }))
            .push("::jsonb");
    }
}

pub(super) async fn status_count(conn: &mut PgConnection, status: StatusFilter) -> Result<u32> {
    let (live, contactable, opted_out, dnc, erased): (i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT live, contactable, opted_out, do_not_contact, erased \
         FROM participant_counts WHERE id = 1",
    )
    .fetch_one(conn)
    .await?;
    let n = match status {
        StatusFilter::All => live,
        StatusFilter::Contactable => contactable,
        StatusFilter::OptedOut => opted_out,
        StatusFilter::DoNotContact => dnc,
        StatusFilter::Erased => erased,
    };
    Ok(n.max(0) as u32)
}

pub(super) async fn list(
    conn: &mut PgConnection,
    query: &ParticipantQuery,
) -> Result<ParticipantPage> {
    let words = search_words(query);
    let filtered = !words.is_empty()
        || query.tag.as_deref().is_some_and(|t| !t.trim().is_empty())
        || !query.attributes.is_empty();
    let (total, total_capped) = if filtered {
        let mut count =
            QueryBuilder::<Postgres>::new("SELECT count(*) FROM (SELECT 1 FROM participants p");
        push_filters(&mut count, query, &words);
        count
            .push(" LIMIT ")
            .push_bind(COUNT_CAP as i64 + 1)
            .push(") AS found");
        let n: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
        (n.min(COUNT_CAP as i64) as u32, n > COUNT_CAP as i64)
    } else {
        (status_count(conn, query.status).await?, false)
    };
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        name: String,
        email: Option<String>,
        time_zone: Option<String>,
        language: Option<String>,
        opted_out: bool,
        do_not_contact: bool,
        erased: bool,
        tags: String,
    }
    let mut q = QueryBuilder::<Postgres>::new(
        "SELECT p.id, p.name, p.email, p.time_zone, p.language, \
         p.opted_out_at IS NOT NULL AS opted_out, p.do_not_contact, \
         p.erased_at IS NOT NULL AS erased, p.tags::text AS tags FROM participants p",
    );
    push_filters(&mut q, query, &words);
    q.push(" ORDER BY ")
        .push(query.sort.order_by("p.sort_name COLLATE \"C\""))
        .push(" LIMIT ")
        .push_bind(query.limit.clamp(1, 1000) as i64)
        .push(" OFFSET ")
        .push_bind(query.offset as i64);
    let rows: Vec<Row> = q.build_query_as().fetch_all(&mut *conn).await?;
    Ok(ParticipantPage {
        total,
        total_capped,
        offset: query.offset,
        items: rows
            .into_iter()
            .map(|r| ParticipantRow {
                id: ParticipantId(r.id),
                name: r.name,
                email: r.email,
                time_zone: r.time_zone,
                language: r.language,
                opted_out: r.opted_out,
                do_not_contact: r.do_not_contact,
                erased: r.erased,
                tags: serde_json::from_str(&r.tags).unwrap_or_default(),
            })
            .collect(),
    })
}
