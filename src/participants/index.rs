//! The in-memory panel index: what screeners and the contact rules need to
//! know about every participant, held in memory so a screener runs over a
//! 100,000-person panel in milliseconds instead of a query per person.
//!
//! It is a snapshot taken in one read transaction and tagged with the
//! recruitment revision it saw. Every change to recruitment data raises
//! that revision in its own transaction (`repo::touch`), so [`Cache::get`]
//! rebuilds the snapshot whenever anything changed, whichever process
//! changed it. Attribute values are interned per attribute, and a
//! criterion's test is evaluated once per distinct value, with the same
//! [`Test::matches`](super::screener::Test) the one-person explanation uses.

use super::governance::Facts;
use super::repo;
use super::screener::{Criterion, Effect};
use crate::Panel;
use crate::db::scan::scan;
use crate::db::{Conn, instant};
use crate::error::Result;
use chrono::{DateTime, Utc};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// Holds the latest snapshot of one panel.
#[derive(Debug, Default)]
pub(crate) struct Cache(tokio::sync::Mutex<Option<Arc<PanelIndex>>>);

impl Cache {
    /// The snapshot for the database's current revision, rebuilt if stale.
    pub(crate) async fn get(&self, panel: &Panel) -> Result<Arc<PanelIndex>> {
        let mut guard = self.0.lock().await;
        let mut conn = panel.conn().await?;
        let revision = repo::revision(&mut conn).await?;
        if let Some(index) = guard.as_ref().filter(|i| i.revision == revision) {
            return Ok(index.clone());
        }
        let started = std::time::Instant::now();
        let index = Arc::new(PanelIndex::load(conn.conn()).await?);
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            people = index.people.len(),
            revision = index.revision,
            "panel index built"
        );
        *guard = Some(index.clone());
        Ok(index)
    }
}

/// A contact-history event the rules read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// An invitation or a session: counts for the cooldown.
    Contact,
    /// A session taken part in: counts for the cooldown and the yearly cap.
    Session,
    /// A no-show: counts for the cooldown and the ban.
    NoShow,
}

/// A range of one of the index's flat arrays.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn of<T>(self, all: &[T]) -> &[T] {
        &all[self.start as usize..(self.start + self.len) as usize]
    }
}

/// One participant as the index holds them: their flags, and where their
/// attributes, suppression lists, contact events and bookings are in the
/// index's flat arrays (one allocation for everyone's, not one per person).
/// Names and addresses are not kept: a screener's result reads them for
/// the people it lists.
#[derive(Debug)]
pub(crate) struct Person {
    pub id: i64,
    opted_out_at: Option<i64>,
    do_not_contact: bool,
    /// (attribute, value) ids, sorted by attribute.
    attributes: Span,
    /// Indexes into `PanelIndex::lists`.
    suppressed: Span,
    /// (event, at), in time order.
    events: Span,
    /// (when booked, when the session starts).
    bookings: Span,
}

/// A participant's name, email and time zone, as a screener's result
/// shows them.
pub(crate) type Named = (String, Option<String>, Option<String>);

/// A snapshot of the panel for screening.
#[derive(Debug)]
pub(crate) struct PanelIndex {
    revision: i64,
    /// The names of the people screener runs on this snapshot have listed,
    /// read once from the database and kept until the next change: a
    /// screener run again (edited, or with a page more) names its people
    /// without asking for them again, which costs most on a team database.
    pub names: std::sync::Mutex<HashMap<i64, Named>>,
    pub people: Vec<Person>,
    keys: Vec<String>,
    key_ids: HashMap<String, u32>,
    /// Per attribute, its distinct values by id.
    values: Vec<Vec<String>>,
    /// Per attribute, how many participants have it.
    key_counts: Vec<u32>,
    lists: Vec<String>,
    attributes: Vec<(u32, u32)>,
    suppressed: Vec<u16>,
    events: Vec<(Event, i64)>,
    bookings: Vec<(i64, i64)>,
}

/// A criterion compiled against the index's values.
pub(crate) struct Compiled {
    key: Option<u32>,
    /// Whether the criterion passes, per value id of its attribute.
    passes: Vec<bool>,
    /// Whether it passes for someone without a value.
    passes_missing: bool,
}

/// A participant's attributes as stored (canonical JSON), read without a
/// copy of any name or value that needs no unescaping.
struct Attributes<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Attributes<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        #[derive(serde::Deserialize)]
        struct Text<'a>(#[serde(borrow)] Cow<'a, str>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Attributes<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of text values")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> std::result::Result<Attributes<'a>, M::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((Text(k), Text(v))) = map.next_entry::<Text<'a>, Text<'a>>()? {
                    out.push((k, v));
                }
                Ok(Attributes(out))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// The names of a participant's stored attributes.
pub(crate) fn attribute_names(json: &str) -> Vec<Cow<'_, str>> {
    match plain_attributes(json) {
        Some(pairs) => pairs.into_iter().map(|(k, _)| Cow::Borrowed(k)).collect(),
        None => serde_json::from_str::<Attributes<'_>>(json)
            .map(|a| a.0.into_iter().map(|(k, _)| k).collect())
            .unwrap_or_default(),
    }
}

/// Reads a participant's canonical attributes (`{"k":"v",...}`, as
/// stored: no spaces, text values) straight from the bytes, borrowing every
/// name and value; `None` when the text needs more than that (an escape),
/// for serde to read instead.
fn plain_attributes(json: &str) -> Option<Vec<(&str, &str)>> {
    let b = json.as_bytes();
    let mut out = Vec::with_capacity(8);
    if b.first() != Some(&b'{') {
        return None;
    }
    if b.get(1) == Some(&b'}') {
        return Some(out);
    }
    let text = |i: &mut usize| -> Option<&str> {
        if b.get(*i) != Some(&b'"') {
            return None;
        }
        let start = *i + 1;
        let len = b[start..].iter().position(|&c| c == b'"' || c == b'\\')?;
        if b[start + len] == b'\\' {
            return None;
        }
        *i = start + len + 1;
        json.get(start..start + len)
    };
    let mut i = 1;
    loop {
        let key = text(&mut i)?;
        if b.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        let value = text(&mut i)?;
        out.push((key, value));
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return Some(out),
            _ => return None,
        }
    }
}

impl PanelIndex {
    async fn load(conn: Conn<'_>) -> Result<PanelIndex> {
        let conn = match conn {
            Conn::Sqlite(c) => c,
            Conn::Postgres(c) => {
                // One snapshot, so the revision and the rows agree.
                let mut tx = sqlx::Connection::begin(&mut *c).await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                let index = Self::read(Conn::Postgres(&mut tx)).await?;
                tx.commit().await?;
                return Ok(index);
            }
        };
        // A scan reads each page once: a small page cache does as well as
        // the connection's large one, which a million-person panel would
        // otherwise fill (64 MiB) for nothing.
        let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
            .fetch_one(&mut *conn)
            .await?;
        sqlx::query("PRAGMA cache_size = -4096")
            .execute(&mut *conn)
            .await?;
        // One read transaction, so the revision and the rows agree; it
        // rolls back by itself if reading fails.
        let read = async {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let index = Self::read(Conn::Sqlite(&mut tx)).await?;
            tx.commit().await?;
            Ok::<_, crate::Error>(index)
        }
        .await;
        sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA cache_size = {cache}")))
            .execute(&mut *conn)
            .await?;
        read
    }

    /// Reads the snapshot. Every table is read a row at a time in place
    /// (`db::bulk`), never held whole: a million people take one pass each
    /// and about 120 bytes apiece.
    async fn read(mut conn: Conn<'_>) -> Result<PanelIndex> {
        let started = std::time::Instant::now();
        let sqlite = matches!(conn, Conn::Sqlite(_));
        let revision = repo::revision(conn.reborrow()).await?;
        let mut index = PanelIndex {
            revision,
            names: Default::default(),
            people: Vec::new(),
            keys: Vec::new(),
            key_ids: HashMap::new(),
            values: Vec::new(),
            key_counts: Vec::new(),
            lists: Vec::new(),
            attributes: Vec::new(),
            suppressed: Vec::new(),
            events: Vec::new(),
            bookings: Vec::new(),
        };

        // Suppression lists, by the hash of each address on them.
        let mut list_ids: HashMap<i64, u16> = HashMap::new();
        let mut by_hash: HashMap<String, Vec<u16>> = HashMap::new();
        {
            let lists = &mut index.lists;
            scan(
                conn.reborrow(),
                "SELECT l.id, l.name, s.hash FROM suppression_lists l \
                 JOIN suppressions s ON s.list_id = l.id ORDER BY l.name",
                |row| {
                    let list = *list_ids.entry(row.int(0)).or_insert_with(|| {
                        lists.push(row.text(1).unwrap_or_default().to_string());
                        (lists.len() - 1) as u16
                    });
                    by_hash
                        .entry(row.text(2).unwrap_or_default().to_string())
                        .or_default()
                        .push(list);
                    Ok(())
                },
            )
            .await?;
        }

        let count: i64 = crate::db::either!(conn.reborrow(), |c| sqlx::query_scalar(
            "SELECT count(*) FROM participants WHERE erased_at IS NULL"
        )
        .fetch_one(&mut *c)
        .await?);
        index.people.reserve(count as usize);
        // About six attributes a person: reserved once rather than doubled
        // (a doubling holds the old array and the new one at once).
        index.attributes.reserve(count as usize * 6);
        let mut value_ids: Vec<HashMap<String, u32>> = Vec::new();
        let mut ids: Vec<(u32, u32)> = Vec::new();
        {
            let people_sql = if sqlite {
                "SELECT id, opted_out_at, do_not_contact, attributes, email_hash \
                 FROM participants WHERE erased_at IS NULL ORDER BY id"
            } else {
                "SELECT id, opted_out_at, do_not_contact::int::int8, attributes::text, email_hash \
                 FROM participants WHERE erased_at IS NULL ORDER BY id"
            };
            let PanelIndex {
                people,
                keys,
                key_ids,
                values,
                key_counts,
                attributes,
                suppressed,
                ..
            } = &mut index;
            scan(conn.reborrow(), people_sql, |row| {
                let json = row.text(3).unwrap_or("{}");
                let parsed: Vec<(Cow<'_, str>, Cow<'_, str>)> = match plain_attributes(json) {
                    Some(pairs) => pairs
                        .into_iter()
                        .map(|(k, v)| (Cow::Borrowed(k), Cow::Borrowed(v)))
                        .collect(),
                    None => serde_json::from_str::<Attributes<'_>>(json)
                        .map(|a| a.0)
                        .unwrap_or_default(),
                };
                ids.clear();
                for (key, value) in &parsed {
                    let k = match key_ids.get(key.as_ref()) {
                        Some(&k) => k,
                        None => {
                            let k = keys.len() as u32;
                            keys.push(key.to_string());
                            key_ids.insert(key.to_string(), k);
                            values.push(Vec::new());
                            key_counts.push(0);
                            value_ids.push(HashMap::new());
                            k
                        }
                    };
                    key_counts[k as usize] += 1;
                    let known = &mut value_ids[k as usize];
                    let v = match known.get(value.as_ref()) {
                        Some(&v) => v,
                        None => {
                            let v = values[k as usize].len() as u32;
                            values[k as usize].push(value.to_string());
                            known.insert(value.to_string(), v);
                            v
                        }
                    };
                    ids.push((k, v));
                }
                ids.sort_unstable();
                let attributes_at = Span {
                    start: attributes.len() as u32,
                    len: ids.len() as u32,
                };
                attributes.extend_from_slice(&ids);
                let lists = row.text(4).and_then(|h| by_hash.get(h));
                let suppressed_at = Span {
                    start: suppressed.len() as u32,
                    len: lists.map_or(0, |l| l.len() as u32),
                };
                if let Some(l) = lists {
                    suppressed.extend_from_slice(l);
                }
                people.push(Person {
                    id: row.int(0),
                    opted_out_at: row.opt_int(1),
                    do_not_contact: row.int(2) != 0,
                    attributes: attributes_at,
                    suppressed: suppressed_at,
                    events: Span::default(),
                    bookings: Span::default(),
                });
                Ok(())
            })
            .await?;
        }
        drop(value_ids);
        index.attributes.shrink_to_fit();
        let people_read = started.elapsed();

        // Contact events and bookings, each in participant order, matched
        // to the people as they come.
        {
            let PanelIndex { people, events, .. } = &mut index;
            let mut at = 0usize;
            let sql = "SELECT participant_id, kind, at FROM contact_history \
                 WHERE kind IN ('invited', 'attended', 'late', 'no_show') ORDER BY participant_id, at";
            scan(conn.reborrow(), sql, |row| {
                let id = row.int(0);
                while at < people.len() && people[at].id < id {
                    at += 1;
                }
                if let Some(person) = people.get_mut(at).filter(|p| p.id == id) {
                    if person.events.len == 0 {
                        person.events.start = events.len() as u32;
                    }
                    person.events.len += 1;
                    let event = match row.text(1) {
                        Some("invited") => Event::Contact,
                        Some("no_show") => Event::NoShow,
                        _ => Event::Session,
                    };
                    events.push((event, row.int(2)));
                }
                Ok(())
            })
            .await?;
        }
        {
            let sql = format!("{} ORDER BY r.participant", super::governance::BOOKINGS);
            let PanelIndex {
                people, bookings, ..
            } = &mut index;
            let mut at = 0usize;
            scan(conn.reborrow(), &sql, |row| {
                let id = row.int(0);
                while at < people.len() && people[at].id < id {
                    at += 1;
                }
                if let Some(person) = people.get_mut(at).filter(|p| p.id == id) {
                    if person.bookings.len == 0 {
                        person.bookings.start = bookings.len() as u32;
                    }
                    person.bookings.len += 1;
                    bookings.push((row.int(1), row.int(2)));
                }
                Ok(())
            })
            .await?;
        }
        index.events.shrink_to_fit();
        index.bookings.shrink_to_fit();
        tracing::debug!(
            people_ms = people_read.as_millis() as u64,
            history_ms = (started.elapsed() - people_read).as_millis() as u64,
            "panel index read"
        );
        Ok(index)
    }

    /// The attribute id of `key`, if anyone has it.
    pub fn key(&self, key: &str) -> Option<u32> {
        self.key_ids.get(key).copied()
    }

    /// The id of a person's value for attribute `key`.
    pub fn value_ref(&self, person: &Person, key: Option<u32>) -> Option<u32> {
        let k = key?;
        let attributes = person.attributes.of(&self.attributes);
        let i = attributes.binary_search_by_key(&k, |(k, _)| *k).ok()?;
        Some(attributes[i].1)
    }

    /// The id of `value` among attribute `key`'s values, if anyone has it.
    pub fn value_id(&self, key: Option<u32>, value: &str) -> Option<u32> {
        let values = &self.values[key? as usize];
        values.iter().position(|v| v == value).map(|i| i as u32)
    }

    /// The text of attribute `key`'s value `id`.
    pub fn value_name(&self, key: Option<u32>, id: u32) -> &str {
        key.and_then(|k| self.values[k as usize].get(id as usize))
            .map_or("", String::as_str)
    }

    /// Compiles a criterion against the values in this snapshot.
    pub fn compile(&self, c: &Criterion) -> Compiled {
        let flip = |m: bool| match c.effect {
            Effect::Qualify => m,
            Effect::Disqualify => !m,
        };
        let key = self.key(&c.attribute);
        Compiled {
            key,
            passes: key
                .map(|k| {
                    self.values[k as usize]
                        .iter()
                        .map(|v| flip(c.test.matches(Some(v))))
                        .collect()
                })
                .unwrap_or_default(),
            passes_missing: flip(c.test.matches(None)),
        }
    }

    /// Whether `person` passes a compiled criterion.
    pub fn passes(&self, person: &Person, c: &Compiled) -> bool {
        let Some(k) = c.key else {
            return c.passes_missing;
        };
        let attributes = person.attributes.of(&self.attributes);
        match attributes.binary_search_by_key(&k, |(k, _)| *k) {
            Ok(i) => c.passes[attributes[i].1 as usize],
            Err(_) => c.passes_missing,
        }
    }

    /// The instants the contact rules compare a person's history with,
    /// worked out once for a whole run.
    pub fn moment(&self, at: DateTime<Utc>) -> Moment {
        Moment {
            now: at.timestamp_millis(),
            year_ago: super::governance::year_before(at).timestamp_millis(),
        }
    }

    /// What the contact rules know about `person` at a moment, written
    /// over `facts` (whose list of suppression lists keeps its space).
    pub fn facts_into(&self, facts: &mut Facts, person: &Person, at: &Moment) {
        let mut suppressed_by = std::mem::take(&mut facts.suppressed_by);
        let lists = person.suppressed.of(&self.suppressed);
        suppressed_by.truncate(lists.len());
        for (n, &l) in lists.iter().enumerate() {
            let name = &self.lists[l as usize];
            match suppressed_by.get_mut(n) {
                Some(held) => held.clone_from(name),
                None => suppressed_by.push(name.clone()),
            }
        }
        *facts = Facts {
            erased: false,
            opted_out_at: person.opted_out_at.map(instant),
            do_not_contact: person.do_not_contact,
            suppressed_by,
            ..Facts::default()
        };
        let mut last = None;
        for &(event, when) in person
            .events
            .of(&self.events)
            .iter()
            .take_while(|(_, when)| *when <= at.now)
        {
            last = Some(when);
            match event {
                Event::Session if when > at.year_ago => facts.sessions_last_year += 1,
                Event::NoShow => facts.no_shows += 1,
                _ => {}
            }
        }
        facts.last_contact = last.map(instant);
        for &(booked, starts) in person.bookings.of(&self.bookings) {
            if booked <= at.now && starts > at.now {
                facts.booked_ahead += 1;
                facts.latest_booking = facts.latest_booking.max(Some(instant(starts)));
            }
        }
    }
}

/// The time a run is for, in the index's milliseconds.
pub(crate) struct Moment {
    now: i64,
    year_ago: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_attributes_are_read_in_place_and_escapes_left_to_serde() {
        assert_eq!(
            plain_attributes(r#"{"age_band":"25-34","région":"EU"}"#),
            Some(vec![("age_band", "25-34"), ("région", "EU")])
        );
        assert_eq!(plain_attributes("{}"), Some(vec![]));
        assert_eq!(plain_attributes(r#"{"quote":"5\" screen"}"#), None);
        assert_eq!(plain_attributes(r#"{"n":5}"#), None);
        let escaped: Attributes<'_> = serde_json::from_str(r#"{"quote":"5\" screen"}"#).unwrap();
        assert_eq!(escaped.0[0].1, "5\" screen");
    }
}
