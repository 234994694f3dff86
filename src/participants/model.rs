//! The participant records the rest of recruitment works on, and the input
//! shapes that create or change them. Inputs are plain strings from a form,
//! a CSV row or the command line; [`ParticipantInput::validate`] turns them
//! into a [`ValidParticipant`] or names the first field that is wrong.

use super::fields::{self, Email};
use super::packed::{self, Packed};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use ts_rs::TS;

/// A participant's id.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS, sqlx::Type,
)]
#[sqlx(transparent)]
pub struct ParticipantId(#[ts(type = "number")] pub i64);

impl std::fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// One person on the panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    pub id: ParticipantId,
    /// After erasure: "Erased participant N".
    pub name: String,
    /// `None` once erased.
    pub email: Option<String>,
    pub phone: Option<String>,
    /// IANA time zone name.
    pub time_zone: Option<String>,
    /// BCP 47 language tag.
    pub language: Option<String>,
    /// Where the person was recruited from (a file, a campaign).
    pub source: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub tags: Vec<String>,
    pub opted_out_at: Option<DateTime<Utc>>,
    pub do_not_contact: bool,
    pub erased_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a form, a CSV row or the command line says about a participant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct ParticipantInput {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub time_zone: Option<String>,
    pub language: Option<String>,
    pub source: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub tags: Vec<String>,
}

/// A participant's fields once every one has been checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidParticipant {
    pub name: String,
    pub email: Email,
    pub phone: Option<String>,
    pub time_zone: Option<String>,
    pub language: Option<String>,
    pub source: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeSet<String>,
    /// Derived once when checked, for storage and search.
    pub(crate) derived: Derived,
}

/// What is stored beside a participant's fields: their canonical JSON and
/// the folded text search and ordering use.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Derived {
    pub attributes_json: String,
    pub tags_json: String,
    pub search_text: String,
    /// The folded name: the list's order.
    pub sort_name: String,
}

impl Derived {
    fn of(
        name: &str,
        email: &Email,
        phone: Option<&str>,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeSet<String>,
    ) -> Derived {
        let sort_name = fields::fold(name);
        let mut search_text = String::with_capacity(sort_name.len() + email.as_str().len() + 24);
        search_text.push_str(&sort_name);
        packed::push_search_rest(&mut search_text, email.as_str(), phone);
        let mut attributes_json = String::new();
        packed::push_attributes_json(
            &mut attributes_json,
            attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let mut tags_json = String::new();
        packed::push_tags_json(&mut tags_json, tags.iter().map(String::as_str));
        Derived {
            attributes_json,
            tags_json,
            search_text,
            sort_name,
        }
    }
}

impl ValidParticipant {
    /// The same participant with attributes and tags replaced, derived
    /// values brought up to date.
    pub(crate) fn with(
        mut self,
        attributes: BTreeMap<String, String>,
        tags: BTreeSet<String>,
    ) -> ValidParticipant {
        self.derived = Derived::of(
            &self.name,
            &self.email,
            self.phone.as_deref(),
            &attributes,
            &tags,
        );
        self.attributes = attributes;
        self.tags = tags;
        self
    }
}

/// A participant's fields borrowed from where they were read (a CSV row),
/// checked by [`Fields::validate`] with the rules of
/// [`ParticipantInput::validate`] without copying them first.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fields<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub phone: Option<&'a str>,
    pub time_zone: Option<&'a str>,
    pub language: Option<&'a str>,
    pub source: Option<&'a str>,
    /// (name, value); the names are checked unless `keys_checked`.
    pub attributes: Vec<(&'a str, &'a str)>,
    /// Whether the attribute names already passed `fields::parse_key` (an
    /// import checks its header once, not on every row).
    pub keys_checked: bool,
    pub tags: Vec<&'a str>,
}

impl Fields<'_> {
    /// Checks every field; the error names the first one that is wrong.
    pub(crate) fn validate(&self) -> Result<ValidParticipant> {
        let mut packed = Packed::default();
        self.pack_into(&mut packed, 0)?;
        Ok(packed.to_valid(&packed.rows()[0]))
    }
}

impl ParticipantInput {
    /// Checks every field; the error names the first one that is wrong.
    pub fn validate(&self) -> Result<ValidParticipant> {
        Fields {
            name: &self.name,
            email: &self.email,
            phone: self.phone.as_deref(),
            time_zone: self.time_zone.as_deref(),
            language: self.language.as_deref(),
            source: self.source.as_deref(),
            attributes: self
                .attributes
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            keys_checked: false,
            tags: self.tags.iter().map(String::as_str).collect(),
        }
        .validate()
    }
}

impl Participant {
    /// The participant's fields as an editable input.
    pub fn to_input(&self) -> ParticipantInput {
        ParticipantInput {
            name: self.name.clone(),
            email: self.email.clone().unwrap_or_default(),
            phone: self.phone.clone(),
            time_zone: self.time_zone.clone(),
            language: self.language.clone(),
            source: self.source.clone(),
            attributes: self.attributes.clone(),
            tags: self.tags.clone(),
        }
    }
}

/// Which participants a listing shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum StatusFilter {
    /// Everyone not erased.
    #[default]
    All,
    /// Not erased, not opted out, not marked do-not-contact.
    Contactable,
    OptedOut,
    DoNotContact,
    Erased,
}

/// The order a listing is in: each one an index keeps, so that a page
/// comes as quickly in any order on a large panel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum ParticipantSort {
    /// By name, A to Z.
    #[default]
    Name,
    /// By name, Z to A.
    NameDescending,
    /// The newest on the panel first.
    Newest,
    /// The first on the panel first.
    Oldest,
}

impl ParticipantSort {
    /// The ORDER BY terms, `name` being the sort key's column as the store
    /// spells it.
    pub(crate) fn order_by(self, name: &str) -> String {
        match self {
            ParticipantSort::Name => format!("{name}, p.id"),
            ParticipantSort::NameDescending => format!("{name} DESC, p.id DESC"),
            ParticipantSort::Newest => "p.id DESC".to_string(),
            ParticipantSort::Oldest => "p.id".to_string(),
        }
    }
}

/// A filter on one attribute's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AttributeFilter {
    pub key: String,
    pub value: String,
}

/// A page of the participant list: search, filters and paging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct ParticipantQuery {
    /// Words that must all appear in the name, email or phone (accents and
    /// case ignored).
    pub search: Option<String>,
    pub tag: Option<String>,
    pub attributes: Vec<AttributeFilter>,
    pub status: StatusFilter,
    pub sort: ParticipantSort,
    pub limit: u32,
    pub offset: u32,
}

/// The longest search or filter value, in characters: longer than any
/// name, email or attribute a person would type, short enough that no
/// search can make the database work without end.
pub const MAX_FILTER_CHARS: usize = 200;

impl ParticipantQuery {
    /// Refuses a search or filter too long to be one a person typed.
    pub fn check(&self) -> Result<()> {
        let values = self
            .search
            .iter()
            .map(|s| ("search", s))
            .chain(self.tag.iter().map(|t| ("tag", t)))
            .chain(
                self.attributes
                    .iter()
                    .flat_map(|f| [("attribute", &f.key), ("attribute value", &f.value)]),
            );
        for (field, value) in values {
            let n = value.chars().count();
            if n > MAX_FILTER_CHARS {
                return Err(Error::invalid(
                    field,
                    value.as_str(),
                    format!(
                        "is {n} characters long; a search or filter has at most {MAX_FILTER_CHARS}"
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Default for ParticipantQuery {
    fn default() -> Self {
        ParticipantQuery {
            search: None,
            tag: None,
            attributes: Vec::new(),
            status: StatusFilter::All,
            sort: ParticipantSort::Name,
            limit: 50,
            offset: 0,
        }
    }
}

/// One line of the participant list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantRow {
    pub id: ParticipantId,
    pub name: String,
    pub email: Option<String>,
    pub time_zone: Option<String>,
    pub language: Option<String>,
    pub tags: Vec<String>,
    pub opted_out: bool,
    pub do_not_contact: bool,
    pub erased: bool,
}

/// A page of participants and how many match in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantPage {
    pub total: u32,
    /// More than `total` match: a search or filter counts its matches up
    /// to a cap, so that no page reads the whole panel to count it.
    pub total_capped: bool,
    pub offset: u32,
    pub items: Vec<ParticipantRow>,
}
