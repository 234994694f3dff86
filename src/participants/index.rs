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
use crate::db::instant;
use crate::error::Result;
use chrono::{DateTime, Utc};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Holds the latest snapshot of one panel.
#[derive(Debug, Default)]
pub(crate) struct Cache(tokio::sync::Mutex<Option<Arc<PanelIndex>>>);

impl Cache {
    /// The snapshot for the database's current revision, rebuilt if stale.
    pub(crate) async fn get(&self, panel: &Panel) -> Result<Arc<PanelIndex>> {
        let mut guard = self.0.lock().await;
        let mut conn = panel.pool().acquire().await?;
        let revision = repo::revision(&mut conn).await?;
        if let Some(index) = guard.as_ref().filter(|i| i.revision == revision) {
            return Ok(index.clone());
        }
        let started = std::time::Instant::now();
        let index = Arc::new(PanelIndex::load(&mut conn).await?);
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

/// One participant as the index holds them.
#[derive(Debug)]
pub(crate) struct Person {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub time_zone: Option<String>,
    opted_out_at: Option<i64>,
    do_not_contact: bool,
    /// (attribute, value) ids, sorted by attribute.
    attributes: Box<[(u32, u32)]>,
    /// Indexes into `PanelIndex::lists`.
    suppressed: Box<[u16]>,
    /// (event, at), in time order.
    events: Box<[(Event, i64)]>,
    /// Sessions booked: (when booked, when the session starts).
    bookings: Box<[(i64, i64)]>,
}

/// A snapshot of the panel for screening.
#[derive(Debug)]
pub(crate) struct PanelIndex {
    revision: i64,
    pub people: Vec<Person>,
    keys: Vec<String>,
    key_ids: HashMap<String, u32>,
    /// Per attribute, its distinct values by id.
    values: Vec<Vec<String>>,
    /// Per attribute, how many participants have it.
    key_counts: Vec<u32>,
    lists: Vec<String>,
}

/// A criterion compiled against the index's values.
pub(crate) struct Compiled {
    key: Option<u32>,
    /// Whether the criterion passes, per value id of its attribute.
    passes: Vec<bool>,
    /// Whether it passes for someone without a value.
    passes_missing: bool,
}

impl PanelIndex {
    async fn load(conn: &mut sqlx::SqliteConnection) -> Result<PanelIndex> {
        // One read transaction, so the revision and the rows agree; it
        // rolls back by itself if reading fails.
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let index = Self::read(&mut tx).await?;
        tx.commit().await?;
        Ok(index)
    }

    async fn read(conn: &mut sqlx::SqliteConnection) -> Result<PanelIndex> {
        let revision = repo::revision(conn).await?;

        let mut lists: Vec<String> = Vec::new();
        let mut list_ids: HashMap<i64, u16> = HashMap::new();
        let mut suppressed: HashMap<String, Vec<u16>> = HashMap::new();
        for row in sqlx::query("SELECT l.id, l.name, s.hash FROM suppression_lists l JOIN suppressions s ON s.list_id = l.id ORDER BY l.name")
            .fetch_all(&mut *conn)
            .await?
        {
            let list = *list_ids.entry(row.get(0)).or_insert_with(|| {
                lists.push(row.get(1));
                (lists.len() - 1) as u16
            });
            suppressed.entry(row.get(2)).or_default().push(list);
        }

        let mut index = PanelIndex {
            revision,
            people: Vec::new(),
            keys: Vec::new(),
            key_ids: HashMap::new(),
            values: Vec::new(),
            key_counts: Vec::new(),
            lists,
        };
        let mut value_ids: Vec<HashMap<String, u32>> = Vec::new();
        let rows = sqlx::query(
            "SELECT id, name, email, time_zone, opted_out_at, do_not_contact, attributes, email_hash \
             FROM participants WHERE erased_at IS NULL ORDER BY id",
        )
        .fetch_all(&mut *conn)
        .await?;
        index.people.reserve(rows.len());
        for row in &rows {
            let attributes: BTreeMap<String, String> =
                serde_json::from_str(row.get::<&str, _>(6)).unwrap_or_default();
            let mut ids = Vec::with_capacity(attributes.len());
            for (key, value) in attributes {
                let k = match index.key_ids.get(&key) {
                    Some(&k) => k,
                    None => {
                        let k = index.keys.len() as u32;
                        index.keys.push(key.clone());
                        index.key_ids.insert(key, k);
                        index.values.push(Vec::new());
                        index.key_counts.push(0);
                        value_ids.push(HashMap::new());
                        k
                    }
                };
                index.key_counts[k as usize] += 1;
                let known = &mut value_ids[k as usize];
                let v = match known.get(&value) {
                    Some(&v) => v,
                    None => {
                        let v = index.values[k as usize].len() as u32;
                        index.values[k as usize].push(value.clone());
                        known.insert(value, v);
                        v
                    }
                };
                ids.push((k, v));
            }
            ids.sort_unstable();
            let hash: Option<&str> = row.get(7);
            index.people.push(Person {
                id: row.get(0),
                name: row.get(1),
                email: row.get::<Option<String>, _>(2).unwrap_or_default(),
                time_zone: row.get(3),
                opted_out_at: row.get(4),
                do_not_contact: row.get(5),
                attributes: ids.into_boxed_slice(),
                suppressed: hash
                    .and_then(|h| suppressed.get(h))
                    .map(|l| l.clone().into_boxed_slice())
                    .unwrap_or_default(),
                events: Box::default(),
                bookings: Box::default(),
            });
        }

        let mut events: Vec<(i64, Event, i64)> = Vec::new();
        for row in sqlx::query(
            "SELECT participant_id, kind, at FROM contact_history \
             WHERE kind IN ('invited', 'attended', 'late', 'no_show') ORDER BY participant_id, at",
        )
        .fetch_all(&mut *conn)
        .await?
        {
            let event = match row.get::<&str, _>(1) {
                "invited" => Event::Contact,
                "no_show" => Event::NoShow,
                _ => Event::Session,
            };
            events.push((row.get(0), event, row.get(2)));
        }
        for group in events.chunk_by(|a, b| a.0 == b.0) {
            if let Ok(i) = index.people.binary_search_by_key(&group[0].0, |p| p.id) {
                index.people[i].events = group.iter().map(|(_, e, at)| (*e, *at)).collect();
            }
        }
        let bookings: Vec<(i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{} ORDER BY r.participant",
            super::governance::BOOKINGS
        )))
        .fetch_all(&mut *conn)
        .await?;
        for group in bookings.chunk_by(|a, b| a.0 == b.0) {
            if let Ok(i) = index.people.binary_search_by_key(&group[0].0, |p| p.id) {
                index.people[i].bookings = group.iter().map(|(_, b, s)| (*b, *s)).collect();
            }
        }
        Ok(index)
    }

    /// Every attribute name with how many participants have it, by name.
    pub fn attribute_counts(&self) -> Vec<(String, u32)> {
        let mut out: Vec<(String, u32)> = self
            .keys
            .iter()
            .cloned()
            .zip(self.key_counts.iter().copied())
            .collect();
        out.sort();
        out
    }

    /// The attribute id of `key`, if anyone has it.
    pub fn key(&self, key: &str) -> Option<u32> {
        self.key_ids.get(key).copied()
    }

    /// A person's value for attribute `key`.
    pub fn value<'a>(&'a self, person: &Person, key: Option<u32>) -> Option<&'a str> {
        let k = key?;
        let i = person
            .attributes
            .binary_search_by_key(&k, |(k, _)| *k)
            .ok()?;
        Some(&self.values[k as usize][person.attributes[i].1 as usize])
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
        match person.attributes.binary_search_by_key(&k, |(k, _)| *k) {
            Ok(i) => c.passes[person.attributes[i].1 as usize],
            Err(_) => c.passes_missing,
        }
    }

    /// What the contact rules know about `person` at `at`.
    pub fn facts(&self, person: &Person, at: DateTime<Utc>) -> Facts {
        let now = at.timestamp_millis();
        let year_ago = super::governance::year_before(at).timestamp_millis();
        let mut facts = Facts {
            erased: false,
            opted_out_at: person.opted_out_at.map(instant),
            do_not_contact: person.do_not_contact,
            suppressed_by: person
                .suppressed
                .iter()
                .map(|&l| self.lists[l as usize].clone())
                .collect(),
            ..Facts::default()
        };
        let mut last = None;
        for &(event, when) in person.events.iter().take_while(|(_, when)| *when <= now) {
            last = Some(when);
            match event {
                Event::Session if when > year_ago => facts.sessions_last_year += 1,
                Event::NoShow => facts.no_shows += 1,
                _ => {}
            }
        }
        facts.last_contact = last.map(instant);
        for &(booked, starts) in person.bookings.iter() {
            if booked <= now && starts > now {
                facts.booked_ahead += 1;
                facts.latest_booking = facts.latest_booking.max(Some(instant(starts)));
            }
        }
        facts
    }

    /// When `person` was last contacted before `at`, in milliseconds.
    pub fn last_contact(&self, person: &Person, at: DateTime<Utc>) -> Option<i64> {
        let now = at.timestamp_millis();
        person
            .events
            .iter()
            .take_while(|(_, when)| *when <= now)
            .last()
            .map(|(_, when)| *when)
    }
}
