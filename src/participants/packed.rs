//! Checked participants packed for writing in bulk: the text of every
//! column of many rows in one buffer, each row a handful of offsets into
//! it. An import checks each CSV row straight into this form, so a
//! 100,000-row file costs a few large allocations instead of a map, a set
//! and a dozen strings per row; the rows are bound from it in place
//! (`repo::insert_many`). A row that matches a participant already on the
//! panel is unpacked into a [`ValidParticipant`] to be merged.
//!
//! The rules are those of [`Fields::validate`], which is built on
//! [`Fields::pack_into`]; the derived columns (canonical JSON, folded
//! search text) are written by the same functions for both.

use super::fields::{self, Email};
use super::model::{Derived, Fields, ValidParticipant};
use crate::error::{Error, Result};
use std::borrow::Cow;

/// The stored columns of one participant, borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Columns<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub email_norm: &'a str,
    pub email_hash: &'a str,
    pub phone: Option<&'a str>,
    pub time_zone: Option<&'a str>,
    pub language: Option<&'a str>,
    pub source: Option<&'a str>,
    pub attributes_json: &'a str,
    pub tags_json: &'a str,
    pub search_text: &'a str,
    pub sort_name: &'a str,
}

// A row's fields, in the order their text is written.
const NAME: usize = 0;
const EMAIL: usize = 1;
const EMAIL_NORM: usize = 2;
const EMAIL_HASH: usize = 3;
const PHONE: usize = 4;
const TIME_ZONE: usize = 5;
const LANGUAGE: usize = 6;
const SOURCE: usize = 7;
const ATTRIBUTES: usize = 8;
const TAGS: usize = 9;
/// The folded name, which is both the sort key and the start of the
/// search text.
const SORT: usize = 10;
/// The rest of the search text, after the folded name.
const SEARCH_REST: usize = 11;
const FIELDS: usize = 12;

/// One packed row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PackedRow {
    /// Where the row's text starts in the buffer.
    start: usize,
    /// Where each field ends, from `start`; a field begins where the one
    /// before it ends.
    ends: [u32; FIELDS],
    /// Which optional fields (phone, time zone, language, source) are
    /// present, by bit.
    present: u8,
    /// SHA-256 of the normalised email (an exact key for "same email").
    pub hash: [u8; 32],
    /// The line of the file where the row starts.
    pub line: u64,
}

/// Packed rows and their text.
#[derive(Debug, Default)]
pub(crate) struct Packed {
    text: String,
    rows: Vec<PackedRow>,
}

impl Packed {
    pub(crate) fn with_capacity(rows: usize, bytes: usize) -> Packed {
        Packed {
            text: String::with_capacity(bytes),
            rows: Vec::with_capacity(rows),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Bytes of text held.
    pub(crate) fn text_len(&self) -> usize {
        self.text.len()
    }

    pub(crate) fn rows(&self) -> &[PackedRow] {
        &self.rows
    }

    /// Empties it, keeping its memory.
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.rows.clear();
    }

    /// Takes off the last row added.
    pub(crate) fn pop(&mut self) {
        if let Some(row) = self.rows.pop() {
            self.text.truncate(row.start);
        }
    }

    /// Keeps the rows for which `keep` is true (their text stays until the
    /// whole is dropped).
    pub(crate) fn retain(&mut self, keep: impl FnMut(&PackedRow) -> bool) {
        self.rows.retain(keep);
    }

    fn field(&self, row: &PackedRow, k: usize) -> &str {
        let from = if k == 0 { 0 } else { row.ends[k - 1] as usize };
        &self.text[row.start + from..row.start + row.ends[k] as usize]
    }

    fn optional(&self, row: &PackedRow, k: usize, bit: u8) -> Option<&str> {
        (row.present & bit != 0).then(|| self.field(row, k))
    }

    /// A row's columns.
    pub(crate) fn columns(&self, row: &PackedRow) -> Columns<'_> {
        let search_from = row.start + row.ends[SORT - 1] as usize;
        Columns {
            name: self.field(row, NAME),
            email: self.field(row, EMAIL),
            email_norm: self.field(row, EMAIL_NORM),
            email_hash: self.field(row, EMAIL_HASH),
            phone: self.optional(row, PHONE, HAS_PHONE),
            time_zone: self.optional(row, TIME_ZONE, HAS_TIME_ZONE),
            language: self.optional(row, LANGUAGE, HAS_LANGUAGE),
            source: self.optional(row, SOURCE, HAS_SOURCE),
            attributes_json: self.field(row, ATTRIBUTES),
            tags_json: self.field(row, TAGS),
            search_text: &self.text[search_from..row.start + row.ends[SEARCH_REST] as usize],
            sort_name: self.field(row, SORT),
        }
    }

    /// A row unpacked, to merge into a stored participant.
    pub(crate) fn to_valid(&self, row: &PackedRow) -> ValidParticipant {
        let c = self.columns(row);
        ValidParticipant {
            name: c.name.to_string(),
            email: Email::from_stored(c.email, c.email_norm, c.email_hash),
            phone: c.phone.map(str::to_string),
            time_zone: c.time_zone.map(str::to_string),
            language: c.language.map(str::to_string),
            source: c.source.map(str::to_string),
            attributes: serde_json::from_str(c.attributes_json)
                .expect("packed attributes are JSON written by push_attributes_json"),
            tags: serde_json::from_str(c.tags_json)
                .expect("packed tags are JSON written by push_tags_json"),
            derived: Derived {
                attributes_json: c.attributes_json.to_string(),
                tags_json: c.tags_json.to_string(),
                search_text: c.search_text.to_string(),
                sort_name: c.sort_name.to_string(),
            },
        }
    }
}

const HAS_PHONE: u8 = 1;
const HAS_TIME_ZONE: u8 = 2;
const HAS_LANGUAGE: u8 = 4;
const HAS_SOURCE: u8 = 8;

/// An optional field's text, trimmed; `None` when it is absent or blank.
fn given(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}

impl Fields<'_> {
    /// Checks every field and appends the row to `out`; the error names the
    /// first field that is wrong, and leaves `out` as it was.
    pub(crate) fn pack_into(&self, out: &mut Packed, line: u64) -> Result<()> {
        let start = out.text.len();
        match self.pack(&mut out.text, start, line) {
            Ok(row) => {
                out.rows.push(row);
                Ok(())
            }
            Err(e) => {
                out.text.truncate(start);
                Err(e)
            }
        }
    }

    fn pack(&self, text: &mut String, start: usize, line: u64) -> Result<PackedRow> {
        let mut ends = [0u32; FIELDS];
        let mut present = 0u8;
        let end = |text: &String| {
            // "the row" has a space, so no attribute column can be named by it.
            u32::try_from(text.len() - start)
                .map_err(|_| Error::invalid("the row", "", "is too large to store"))
        };

        let name = fields::check_text_ref("name", self.name)?;
        if name.is_empty() {
            return Err(Error::invalid("name", self.name, "is empty"));
        }
        if name.len() > 200 && name.chars().count() > 200 {
            return Err(Error::invalid(
                "name",
                self.name,
                "is longer than 200 characters",
            ));
        }
        text.push_str(name);
        ends[NAME] = end(text)?;

        let (email, local, domain) = Email::split(self.email)?;
        text.push_str(email);
        ends[EMAIL] = end(text)?;
        fields::normalise_into(text, local, domain);
        ends[EMAIL_NORM] = end(text)?;
        let hash = fields::hash_bytes(&text[start + ends[EMAIL] as usize..]);
        fields::push_hex(text, &hash);
        ends[EMAIL_HASH] = end(text)?;

        let phone = match given(self.phone) {
            Some(s) => {
                let phone = fields::check_phone(s)?;
                text.push_str(phone);
                present |= HAS_PHONE;
                Some(phone)
            }
            None => None,
        };
        ends[PHONE] = end(text)?;
        if let Some(s) = given(self.time_zone) {
            text.push_str(fields::check_time_zone(s)?);
            present |= HAS_TIME_ZONE;
        }
        ends[TIME_ZONE] = end(text)?;
        if let Some(s) = given(self.language) {
            fields::push_language(text, s)?;
            present |= HAS_LANGUAGE;
        }
        ends[LANGUAGE] = end(text)?;
        if let Some(s) = given(self.source) {
            text.push_str(fields::check_text_ref("source", s)?);
            present |= HAS_SOURCE;
        }
        ends[SOURCE] = end(text)?;

        let mut attributes: Vec<(Cow<'_, str>, &str)> = Vec::with_capacity(self.attributes.len());
        for &(key, value) in &self.attributes {
            let key: Cow<'_, str> = match self.keys_checked {
                true => key.into(),
                false => fields::parse_key("attribute", key)?.into(),
            };
            let value = fields::check_text_ref(&key, value)?;
            if !value.is_empty() {
                attributes.push((key, value));
            }
        }
        // As a map would hold them: by name, and of a name given twice the
        // last value that is not empty.
        attributes.sort_by(|a, b| a.0.cmp(&b.0));
        let mut kept: Vec<(&str, &str)> = Vec::with_capacity(attributes.len());
        for (key, value) in &attributes {
            match kept.last_mut() {
                Some(last) if last.0 == key.as_ref() => last.1 = value,
                _ => kept.push((key, value)),
            }
        }
        push_attributes_json(text, kept.iter().copied());
        ends[ATTRIBUTES] = end(text)?;

        let mut tags = Vec::with_capacity(self.tags.len());
        for tag in &self.tags {
            if !tag.trim().is_empty() {
                tags.push(fields::parse_key("tag", tag)?);
            }
        }
        tags.sort_unstable();
        tags.dedup();
        push_tags_json(text, tags.iter().map(String::as_str));
        ends[TAGS] = end(text)?;

        fields::fold_into(text, name);
        ends[SORT] = end(text)?;
        push_search_rest(text, email, phone);
        ends[SEARCH_REST] = end(text)?;

        Ok(PackedRow {
            start,
            ends,
            present,
            hash,
            line,
        })
    }
}

impl ValidParticipant {
    /// The columns stored for this participant.
    pub(crate) fn columns(&self) -> Columns<'_> {
        Columns {
            name: &self.name,
            email: self.email.as_str(),
            email_norm: self.email.normalised(),
            email_hash: self.email.hash(),
            phone: self.phone.as_deref(),
            time_zone: self.time_zone.as_deref(),
            language: self.language.as_deref(),
            source: self.source.as_deref(),
            attributes_json: &self.derived.attributes_json,
            tags_json: &self.derived.tags_json,
            search_text: &self.derived.search_text,
            sort_name: &self.derived.sort_name,
        }
    }
}

/// Attributes as canonical JSON (`{"age_band":"25-34"}`), from pairs
/// already in key order with no key twice.
pub(crate) fn push_attributes_json<'a>(
    out: &mut String,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) {
    out.push('{');
    for (i, (key, value)) in pairs.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(out, key);
        out.push(':');
        push_json_str(out, value);
    }
    out.push('}');
}

/// Tags as canonical JSON (`["vip"]`), from tags already sorted and unique.
pub(crate) fn push_tags_json<'a>(out: &mut String, tags: impl Iterator<Item = &'a str>) {
    out.push('[');
    for (i, tag) in tags.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(out, tag);
    }
    out.push(']');
}

/// What follows the folded name in the search text: the folded email and
/// phone.
pub(crate) fn push_search_rest(out: &mut String, email: &str, phone: Option<&str>) {
    out.push(' ');
    fields::fold_into(out, email);
    if let Some(phone) = phone {
        out.push(' ');
        fields::fold_into(out, phone);
    }
}

/// A JSON string, escaped exactly as serde_json escapes it.
fn push_json_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut from = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..0x20 => "",
            _ => continue,
        };
        out.push_str(&s[from..i]);
        from = i + 1;
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        } else {
            out.push_str(escape);
        }
    }
    out.push_str(&s[from..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::participants::ParticipantInput;
    use std::collections::BTreeMap;

    #[test]
    fn json_strings_are_escaped_as_serde_json_escapes_them() {
        let mut every: String = (0u8..0x80).map(char::from).collect();
        every.push_str("Zoë \u{85} 王芳 \u{2028} \"quoted\" back\\slash");
        for s in [every.as_str(), "", "plain", "\"", "a\u{1f}b"] {
            let mut ours = String::new();
            push_json_str(&mut ours, s);
            assert_eq!(ours, serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn packed_rows_hold_what_validation_makes() {
        let inputs = [
            ParticipantInput {
                name: "  Zoë Müller ".into(),
                email: " Zoe.M+panel@GoogleMail.com ".into(),
                phone: Some(" +49 30 1234567 ".into()),
                time_zone: Some("europe/berlin".into()),
                language: Some("de_at".into()),
                source: Some(" crm.csv ".into()),
                attributes: BTreeMap::from([
                    ("Region".into(), "EU".into()),
                    ("age band".into(), " 25-34 ".into()),
                    ("note".into(), "said \"hi\"\n\tthen left".into()),
                    ("empty".into(), "  ".into()),
                ]),
                tags: vec!["VIP".into(), "b2b".into(), "vip".into(), " ".into()],
            },
            ParticipantInput {
                name: "王芳".into(),
                email: "wang@example.cn".into(),
                ..Default::default()
            },
        ];
        let mut packed = Packed::default();
        for (i, input) in inputs.iter().enumerate() {
            let fields = Fields {
                name: &input.name,
                email: &input.email,
                phone: input.phone.as_deref(),
                time_zone: input.time_zone.as_deref(),
                language: input.language.as_deref(),
                source: input.source.as_deref(),
                attributes: input
                    .attributes
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect(),
                keys_checked: false,
                tags: input.tags.iter().map(String::as_str).collect(),
            };
            fields.pack_into(&mut packed, i as u64 + 2).unwrap();
        }
        for (row, input) in packed.rows().iter().zip(&inputs) {
            let valid = input.validate().unwrap();
            let unpacked = packed.to_valid(row);
            assert_eq!(unpacked, valid);
            assert_eq!(packed.columns(row), valid.columns());
            // The derived values agree with a fresh derivation.
            let again = valid
                .clone()
                .with(valid.attributes.clone(), valid.tags.clone());
            assert_eq!(again, valid);
            assert_eq!(row.hash, fields::hash_bytes(valid.email.normalised()));
        }
        let first = packed.columns(&packed.rows()[0]);
        assert_eq!(first.email_norm, "zoem@gmail.com");
        assert_eq!(first.sort_name, "zoe muller");
        assert_eq!(
            first.search_text,
            "zoe muller zoe.m+panel@googlemail.com +49 30 1234567"
        );
        assert_eq!(
            first.attributes_json,
            r#"{"age_band":"25-34","note":"said \"hi\"\n\tthen left","region":"EU"}"#
        );
        assert_eq!(first.tags_json, r#"["b2b","vip"]"#);
        assert_eq!(packed.rows()[1].line, 3);
    }

    #[test]
    fn a_name_given_twice_keeps_its_last_value_that_is_not_empty() {
        for (pairs, json) in [
            (vec![("Region", "EU"), ("region", "")], r#"{"region":"EU"}"#),
            (vec![("region", ""), ("Region", "NA")], r#"{"region":"NA"}"#),
            (
                vec![("b", "1"), ("a", "2"), ("B", "3")],
                r#"{"a":"2","b":"3"}"#,
            ),
        ] {
            let fields = Fields {
                name: "Ann",
                email: "ann@example.com",
                attributes: pairs,
                ..Default::default()
            };
            let mut packed = Packed::default();
            fields.pack_into(&mut packed, 2).unwrap();
            assert_eq!(packed.columns(&packed.rows()[0]).attributes_json, json);
            let valid = fields.validate().unwrap();
            assert_eq!(valid.columns().attributes_json, json);
        }
    }

    #[test]
    fn a_bad_row_leaves_the_packed_rows_as_they_were() {
        let mut packed = Packed::default();
        let good = Fields {
            name: "Ann",
            email: "ann@example.com",
            ..Default::default()
        };
        good.pack_into(&mut packed, 2).unwrap();
        let before = packed.text_len();
        for bad in [
            Fields {
                name: "Bo",
                email: "bo@example.com",
                phone: Some("call me"),
                ..Default::default()
            },
            Fields {
                name: "Cy",
                email: "cy@example.com",
                tags: vec!["a=b"],
                ..Default::default()
            },
        ] {
            let err = bad.pack_into(&mut packed, 3).unwrap_err();
            assert_eq!(err.to_string(), bad.validate().unwrap_err().to_string());
            assert_eq!((packed.len(), packed.text_len()), (1, before));
        }
        packed.pop();
        assert!(packed.is_empty());
        assert_eq!(packed.text_len(), 0);
    }
}
