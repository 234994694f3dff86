//! CSV import of participants.
//!
//! Accepts what spreadsheets and CRMs write: UTF-8 with or without a BOM,
//! comma, semicolon or tab delimiters, quoted fields holding delimiters and
//! line breaks, CRLF or LF. Common header names are recognised (`Email`,
//! `E-mail`, `Email Address`, `First name` + `Last name` or `Name`, `Phone`,
//! `Time zone`, ...); other columns become attributes.
//!
//! Every bad row is reported with its line number, column and reason; the
//! good rows are written in one transaction. A row whose email matches a
//! participant updates that participant (empty cells never erase what is
//! stored), and a row that would change nothing writes nothing, so
//! importing the same file twice changes nothing the second time.

use super::fields;
use super::model::{ParticipantId, ParticipantInput, ValidParticipant};
use super::repo;
use crate::Panel;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use ts_rs::TS;

/// A row that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RowError {
    /// The line of the file where the row starts (1 is the header).
    #[ts(type = "number")]
    pub line: u64,
    /// The column's header, when one column is at fault.
    pub column: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(f, "line {}, column {c}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// Data rows read (blank lines aside).
    pub rows: u32,
    pub created: u32,
    pub updated: u32,
    pub unchanged: u32,
    pub rejected: Vec<RowError>,
    /// Columns stored as attributes, by header.
    pub attribute_columns: Vec<String>,
    /// Columns recognised but not imported (ids and times from an export).
    pub ignored_columns: Vec<String>,
}

/// How far an import has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(
    tag = "stage",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ImportProgress {
    /// Parsing and checking rows.
    Reading {
        #[ts(type = "number")]
        bytes_done: u64,
        #[ts(type = "number")]
        bytes_total: u64,
    },
    /// Writing the good rows.
    Writing { rows_done: u32, rows_total: u32 },
}

/// A column's role.
#[derive(Debug, Clone, PartialEq)]
enum Role {
    Email,
    Name,
    FirstName,
    LastName,
    Phone,
    TimeZone,
    Language,
    Tags,
    Source,
    Attribute(String),
    Ignored,
}

fn squash(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a header names the email column.
pub(crate) fn is_email_header(header: &str) -> bool {
    matches!(
        squash(header).as_str(),
        "email" | "emailaddress" | "mail" | "emailadresse" | "mailaddress"
    )
}

fn role(header: &str) -> Result<Role, String> {
    if is_email_header(header) {
        return Ok(Role::Email);
    }
    Ok(match squash(header).as_str() {
        "name" | "fullname" | "participant" | "participantname" | "displayname" | "contactname" => {
            Role::Name
        }
        "firstname" | "givenname" | "forename" | "first" | "vorname" => Role::FirstName,
        "lastname" | "surname" | "familyname" | "last" | "nachname" => Role::LastName,
        "phone" | "phonenumber" | "mobile" | "mobilephone" | "mobilenumber" | "tel"
        | "telephone" | "cell" | "cellphone" => Role::Phone,
        "timezone" | "tz" | "zone" | "ianatimezone" | "timezonename" => Role::TimeZone,
        "language" | "lang" | "locale" | "preferredlanguage" => Role::Language,
        "tags" | "tag" | "labels" => Role::Tags,
        "source" | "recruitmentsource" | "channel" => Role::Source,
        "id" | "participantid" | "createdat" | "updatedat" | "optedoutat" | "donotcontact"
        | "erasedat" => Role::Ignored,
        _ => Role::Attribute(fields::parse_key("column", header).map_err(|e| e.to_string())?),
    })
}

/// Imports the CSV file at `path`.
pub async fn import_file(
    panel: &Panel,
    path: &Path,
    progress: &(dyn Fn(ImportProgress) + Sync),
) -> Result<ImportReport> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::file(path.display().to_string(), e.to_string()))?;
    let source = path.file_name().map(|n| n.to_string_lossy().into_owned());
    import_bytes(
        panel,
        &path.display().to_string(),
        source.as_deref(),
        &bytes,
        progress,
    )
    .await
}

/// Imports CSV text. `name` names the file in errors; `source` is recorded
/// as new participants' source when the file has no source column.
pub async fn import_bytes(
    panel: &Panel,
    name: &str,
    source: Option<&str>,
    bytes: &[u8],
    progress: &(dyn Fn(ImportProgress) + Sync),
) -> Result<ImportReport> {
    let parsed = parse(name, source, bytes, progress)?;
    write(panel, parsed, progress).await
}

struct Parsed {
    report: ImportReport,
    rows: Vec<ValidParticipant>,
}

fn strip_bom<'a>(name: &str, bytes: &'a [u8]) -> Result<&'a [u8]> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(Error::file(name, "is UTF-16; save it as CSV UTF-8"));
    }
    Ok(bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes))
}

/// The delimiter of the header line: whichever of `,` `;` tab occurs most
/// outside quotes.
fn sniff_delimiter(bytes: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in bytes {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3)
        .max_by_key(|&i| (counts[i], std::cmp::Reverse(i)))
        .unwrap_or(0);
    [b',', b';', b'\t'][best]
}

/// A spreadsheet-safe export prefixes a formula-like cell with `'`; take it
/// off again so an export imports back unchanged.
fn unescape_formula(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => cell,
    }
}

fn parse(
    name: &str,
    source: Option<&str>,
    bytes: &[u8],
    progress: &(dyn Fn(ImportProgress) + Sync),
) -> Result<Parsed> {
    let bytes = strip_bom(name, bytes)?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::file(name, "is empty"));
    }
    let total = bytes.len() as u64;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sniff_delimiter(bytes))
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = reader.byte_records();

    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => {
            return Err(Error::file(
                name,
                format!("the header line cannot be read: {e}"),
            ));
        }
        None => return Err(Error::file(name, "is empty")),
    };
    let mut headers = Vec::new();
    let mut roles = Vec::new();
    for (i, cell) in header.iter().enumerate() {
        let h = std::str::from_utf8(cell)
            .map_err(|_| Error::file(name, format!("header column {} is not valid UTF-8", i + 1)))?
            .trim()
            .to_string();
        let r = if h.is_empty() {
            Role::Ignored
        } else {
            role(&h).map_err(|reason| Error::file(name, format!("header {h:?}: {reason}")))?
        };
        if r != Role::Ignored && roles.contains(&r) {
            return Err(Error::file(
                name,
                format!("has two columns for the same thing ({h:?})"),
            ));
        }
        headers.push(h);
        roles.push(r);
    }
    if !roles.contains(&Role::Email) {
        return Err(Error::file(
            name,
            format!(
                "has no email column (expected a header such as Email, E-mail or Email Address; found {})",
                headers
                    .iter()
                    .map(|h| format!("{h:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let has_name = roles.contains(&Role::Name)
        || roles.contains(&Role::FirstName)
        || roles.contains(&Role::LastName);
    if !has_name {
        return Err(Error::file(
            name,
            "has no name column (expected Name, or First name and Last name)",
        ));
    }
    let header_of = |r: &Role| {
        roles
            .iter()
            .position(|x| x == r)
            .map(|i| headers[i].clone())
    };
    let mut report = ImportReport {
        attribute_columns: roles
            .iter()
            .zip(&headers)
            .filter(|(r, _)| matches!(r, Role::Attribute(_)))
            .map(|(_, h)| h.clone())
            .collect(),
        ignored_columns: roles
            .iter()
            .zip(&headers)
            .filter(|(r, h)| **r == Role::Ignored && !h.is_empty())
            .map(|(_, h)| h.clone())
            .collect(),
        ..Default::default()
    };

    let mut rows = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (n, record) in records.enumerate() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                report.rejected.push(RowError {
                    line,
                    column: None,
                    reason: format!("cannot be read as CSV: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if n % 2048 == 0 {
            progress(ImportProgress::Reading {
                bytes_done: record.position().map(|p| p.byte()).unwrap_or(0),
                bytes_total: total,
            });
        }
        if record.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        report.rows += 1;
        let reject = |column: Option<&str>, reason: String| RowError {
            line,
            column: column.map(str::to_string),
            reason,
        };
        if record.len() > headers.len() && record.iter().skip(headers.len()).any(|c| !c.is_empty())
        {
            report.rejected.push(reject(
                None,
                format!(
                    "has {} fields; the header has {}",
                    record.len(),
                    headers.len()
                ),
            ));
            continue;
        }
        let mut cells = Vec::with_capacity(headers.len());
        let mut bad = None;
        for i in 0..headers.len() {
            let raw = record.get(i).unwrap_or_default();
            match std::str::from_utf8(raw) {
                Ok(s) => cells.push(unescape_formula(s.trim())),
                Err(e) => {
                    bad = Some(reject(
                        Some(&headers[i]),
                        format!(
                            "is not valid UTF-8 (bad byte at position {}); save the file as CSV UTF-8",
                            e.valid_up_to() + 1
                        ),
                    ));
                    break;
                }
            }
        }
        if let Some(e) = bad {
            report.rejected.push(e);
            continue;
        }

        let mut input = ParticipantInput {
            source: source.map(str::to_string),
            ..Default::default()
        };
        let (mut first, mut last) = (String::new(), String::new());
        for (cell, r) in cells.iter().zip(&roles) {
            let value = cell.to_string();
            match r {
                Role::Email => input.email = value,
                Role::Name => input.name = value,
                Role::FirstName => first = value,
                Role::LastName => last = value,
                Role::Phone => input.phone = Some(value),
                Role::TimeZone => input.time_zone = Some(value),
                Role::Language => input.language = Some(value),
                Role::Tags => {
                    input.tags = value.split([',', ';', '|']).map(str::to_string).collect()
                }
                Role::Source if !value.is_empty() => input.source = Some(value),
                Role::Source | Role::Ignored => {}
                Role::Attribute(key) => {
                    input.attributes.insert(key.clone(), value);
                }
            }
        }
        if input.name.is_empty() {
            input.name = format!("{first} {last}").trim().to_string();
        }
        let valid = match input.validate() {
            Ok(v) => v,
            Err(Error::InvalidInput {
                field,
                value,
                reason,
            }) => {
                let column = match field.as_str() {
                    "email" => header_of(&Role::Email),
                    "name" => header_of(&Role::Name).or_else(|| header_of(&Role::FirstName)),
                    "phone" => header_of(&Role::Phone),
                    "time zone" => header_of(&Role::TimeZone),
                    "language" => header_of(&Role::Language),
                    "tag" => header_of(&Role::Tags),
                    "source" => header_of(&Role::Source),
                    key => roles
                        .iter()
                        .position(|r| matches!(r, Role::Attribute(k) if k == key))
                        .map(|i| headers[i].clone()),
                };
                let shown = if value.is_empty() {
                    String::new()
                } else {
                    format!("{value:?} ")
                };
                report
                    .rejected
                    .push(reject(column.as_deref(), format!("{shown}{reason}")));
                continue;
            }
            Err(other) => {
                report.rejected.push(reject(None, other.to_string()));
                continue;
            }
        };
        if let Some(first_line) = seen.get(valid.email.normalised()) {
            report.rejected.push(reject(
                header_of(&Role::Email).as_deref(),
                format!(
                    "{} is the same email as line {first_line}",
                    valid.email.as_str()
                ),
            ));
            continue;
        }
        seen.insert(valid.email.normalised().to_string(), line);
        rows.push(valid);
    }
    progress(ImportProgress::Reading {
        bytes_done: total,
        bytes_total: total,
    });
    if report.rows == 0 {
        return Err(Error::file(
            name,
            "has a header line but no participant rows",
        ));
    }
    Ok(Parsed { report, rows })
}

/// A stored participant's fields in the shape an import row has.
fn as_valid(p: &super::Participant) -> Option<ValidParticipant> {
    p.to_input().validate().ok()
}

/// What a row makes of an existing participant: the row's values where it
/// has them, the stored ones where its cells are empty, tags added.
fn merge(current: &ValidParticipant, row: &ValidParticipant) -> ValidParticipant {
    let mut attributes: BTreeMap<String, String> = current.attributes.clone();
    attributes.extend(row.attributes.clone());
    let mut tags = current.tags.clone();
    tags.extend(row.tags.iter().cloned());
    ValidParticipant {
        name: row.name.clone(),
        email: row.email.clone(),
        phone: row.phone.clone().or_else(|| current.phone.clone()),
        time_zone: row.time_zone.clone().or_else(|| current.time_zone.clone()),
        language: row.language.clone().or_else(|| current.language.clone()),
        // Where someone was first recruited from stays.
        source: current.source.clone().or_else(|| row.source.clone()),
        attributes,
        tags,
    }
}

async fn write(
    panel: &Panel,
    parsed: Parsed,
    progress: &(dyn Fn(ImportProgress) + Sync),
) -> Result<ImportReport> {
    let Parsed { mut report, rows } = parsed;
    let total = rows.len() as u32;
    let now = panel.now();
    let mut tx = panel.write().await?;
    let emails: Vec<&str> = rows.iter().map(|r| r.email.normalised()).collect();
    let existing = repo::ids_by_email(&mut tx, &emails).await?;
    let (old, new): (Vec<ValidParticipant>, Vec<ValidParticipant>) = rows
        .into_iter()
        .partition(|r| existing.contains_key(r.email.normalised()));

    let mut done = 0u32;
    for chunk in new.chunks(5_000) {
        repo::insert_many(&mut tx, chunk, now).await?;
        done += chunk.len() as u32;
        report.created += chunk.len() as u32;
        progress(ImportProgress::Writing {
            rows_done: done,
            rows_total: total,
        });
    }
    for chunk in old.chunks(5_000) {
        let ids: Vec<ParticipantId> = chunk
            .iter()
            .map(|r| existing[r.email.normalised()])
            .collect();
        let stored: HashMap<ParticipantId, super::Participant> = repo::load_many(&mut tx, &ids)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        for (id, row) in ids.iter().zip(chunk) {
            let current = stored.get(id).and_then(as_valid);
            let merged = match &current {
                Some(c) => merge(c, row),
                None => row.clone(),
            };
            if current.as_ref() == Some(&merged) {
                report.unchanged += 1;
            } else {
                repo::update(&mut tx, *id, &merged, now).await?;
                report.updated += 1;
            }
        }
        done += chunk.len() as u32;
        progress(ImportProgress::Writing {
            rows_done: done,
            rows_total: total,
        });
    }
    tx.commit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_delimiter_outside_quotes() {
        assert_eq!(sniff_delimiter(b"Name;Email;\"a,b,c\"\n"), b';');
        assert_eq!(sniff_delimiter(b"Name,Email\n1;2;3;4\n"), b',');
        assert_eq!(sniff_delimiter(b"Name\tEmail\n"), b'\t');
        assert_eq!(sniff_delimiter(b"Email\n"), b',');
    }

    #[test]
    fn recognises_common_headers() {
        for h in [
            "Email",
            "E-mail",
            "Email Address",
            "EMAIL_ADDRESS",
            "e-mail-adresse",
        ] {
            assert_eq!(role(h).unwrap(), Role::Email, "{h}");
        }
        assert_eq!(role("First name").unwrap(), Role::FirstName);
        assert_eq!(role("Time zone").unwrap(), Role::TimeZone);
        assert_eq!(
            role("Age band").unwrap(),
            Role::Attribute("age_band".into())
        );
        assert!(role("Age=band").is_err());
    }

    #[test]
    fn formula_escapes_come_off() {
        assert_eq!(unescape_formula("'=1+1"), "=1+1");
        assert_eq!(unescape_formula("'hello"), "'hello");
    }
}
