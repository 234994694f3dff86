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
use super::model::{Fields, ParticipantId, ValidParticipant};
use super::packed::{Columns, Packed, PackedRow};
use super::repo;
use crate::Panel;
use crate::db;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sqlx::Connection;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use ts_rs::TS;

mod parts;

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
    /// Rows imported that may not be what the file meant: a cell holding
    /// line breaks and what look like further rows (a misplaced quote).
    pub warnings: Vec<RowError>,
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
    let name = path.display().to_string();
    import_owned(panel, &name, source.as_deref(), bytes, progress).await
}

/// Imports CSV text. `name` names the file in errors; `source` is recorded
/// as new participants' source when the file has no source column.
///
/// The header is checked first, so a file that cannot be used changes
/// nothing. Rows are then parsed and checked on worker threads (one per
/// core for a large file) while the previous chunk is written, and
/// everything commits in one transaction at the end (or nothing does).
pub async fn import_bytes(
    panel: &Panel,
    name: &str,
    source: Option<&str>,
    bytes: &[u8],
    progress: &(dyn Fn(ImportProgress) + Sync),
) -> Result<ImportReport> {
    import_owned(panel, name, source, bytes.to_vec(), progress).await
}

/// [`import_bytes`] on bytes the import may keep (shared with the threads
/// that read them, not copied).
pub async fn import_owned(
    panel: &Panel,
    name: &str,
    source: Option<&str>,
    bytes: Vec<u8>,
    progress: &(dyn Fn(ImportProgress) + Sync),
) -> Result<ImportReport> {
    let started = std::time::Instant::now();
    let bom = bytes.len() - strip_bom(name, &bytes)?.len();
    let file = Arc::new(bytes);
    let bytes = &file[bom..];
    let header = Header::read(name, bytes)?;
    // Data lines, near enough (quoted line breaks count too): decides a bulk
    // load and sizes the progress bar.
    let estimate = bytes.iter().filter(|&&b| b == b'\n').count().max(1) as u32;

    let (send, receive) = tokio::sync::mpsc::channel::<Parsed>(4);
    let (spent_send, spent) = std::sync::mpsc::channel::<Packed>();
    let parser = {
        let (name, source, file) = (name.to_string(), source.map(str::to_string), file.clone());
        tokio::task::spawn_blocking(move || {
            let bytes = &file[bom..];
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
            let (report, parts) =
                header.parse_rows(&name, source.as_deref(), bytes, threads, &send, &spent)?;
            tracing::debug!(parts, "file read");
            Ok(report)
        })
    };

    let reader = Reader {
        parser,
        receive,
        spent: spent_send,
        estimate,
    };
    let written = match panel.conn().await? {
        db::Pooled::Sqlite(mut conn) => {
            // A large import leaves the copy of its pages into the database
            // file for after the commit, in the background.
            let paused = match estimate >= BULK_MIN {
                true => Some(db::pause_autocheckpoint(&mut conn).await?),
                false => None,
            };
            let written = async {
                let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
                let written = write_rows(&mut tx, name, reader, panel.now(), progress).await?;
                tx.commit().await?;
                Ok::<_, Error>(written)
            }
            .await;
            if let Some(previous) = paused {
                if let Err(e) = db::restore_autocheckpoint(&mut conn, previous).await {
                    tracing::warn!(error = %e, "closing the import's connection");
                    conn.close_on_drop();
                }
                if written.is_ok() {
                    panel.upkeep(db::checkpoint_soon(panel.pool()?));
                }
            }
            written
        }
        db::Pooled::Postgres(mut conn) => {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let written = write_rows(&mut tx, name, reader, panel.now(), progress).await?;
            tx.commit().await?;
            Ok(written)
        }
    };
    let Written {
        mut report,
        counts,
        done,
        bulk,
    } = written?;
    (report.created, report.updated, report.unchanged) = counts;
    progress(ImportProgress::Writing {
        rows_done: done,
        rows_total: done,
    });
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        rows = report.rows,
        bulk,
        "import written"
    );
    Ok(report)
}

/// The parser's side of an import, as the writer sees it.
struct Reader {
    parser: tokio::task::JoinHandle<Result<ImportReport>>,
    receive: tokio::sync::mpsc::Receiver<Parsed>,
    /// Chunks written, handed back for the parser to fill again: memory
    /// the process already has is quicker to write than fresh memory.
    spent: std::sync::mpsc::Sender<Packed>,
    /// Data lines, near enough.
    estimate: u32,
}

/// What the writer did: the parser's report, (created, updated,
/// unchanged), rows received, and whether it loaded in bulk.
struct Written {
    report: ImportReport,
    counts: (u32, u32, u32),
    done: u32,
    bulk: bool,
}

/// Writes the parser's chunks as they come, in the caller's write
/// transaction, which it commits once this returns.
async fn write_rows(
    tx: impl Into<db::Conn<'_>>,
    name: &str,
    reader: Reader,
    now: chrono::DateTime<chrono::Utc>,
    progress: &(dyn Fn(ImportProgress) + Sync),
) -> Result<Written> {
    let started = std::time::Instant::now();
    let Reader {
        parser,
        mut receive,
        spent,
        estimate,
    } = reader;
    let mut tx = tx.into();
    let existing = repo::count(tx.reborrow()).await?;
    let mut bulk = if estimate >= BULK_MIN && estimate as i64 >= existing {
        Some(Bulk {
            known: repo::all_emails(tx.reborrow()).await?,
            load: None,
        })
    } else {
        None
    };
    let mut counts = (0u32, 0u32, 0u32);
    let mut done = 0u32;
    // Time spent writing, beside the time spent waiting for rows.
    let mut busy = std::time::Duration::ZERO;
    while let Some(message) = receive.recv().await {
        match message {
            Parsed::Progress(p) => progress(p),
            Parsed::Rows(rows) => {
                done += rows.len() as u32;
                let writing = std::time::Instant::now();
                let (c, u, n) = write_chunk(tx.reborrow(), &rows, bulk.as_mut(), now).await?;
                busy += writing.elapsed();
                let _ = spent.send(rows);
                counts = (counts.0 + c, counts.1 + u, counts.2 + n);
                progress(ImportProgress::Writing {
                    rows_done: done,
                    rows_total: estimate.max(done),
                });
            }
        }
    }
    let report = parser
        .await
        .map_err(|e| Error::file(name, format!("reading stopped: {e}")))??;
    let rows_written = started.elapsed();
    let load = bulk.and_then(|b| b.load);
    let bulk = load.is_some();
    if let Some(load) = load {
        load.finish(tx.reborrow()).await?;
    }
    let indexed = started.elapsed();
    tracing::debug!(
        rows_ms = rows_written.as_millis() as u64,
        writing_ms = busy.as_millis() as u64,
        index_ms = (indexed - rows_written).as_millis() as u64,
        "import phases"
    );
    Ok(Written {
        report,
        counts,
        done,
        bulk,
    })
}

/// Imports of at least this many rows into a panel no larger than the
/// import rebuild the participant indexes once instead of row by row.
const BULK_MIN: u32 = 5_000;

/// A large import into a panel no larger than itself.
struct Bulk {
    /// Every email on the panel before the import: the email index is gone
    /// while the rows are loaded, so rows are matched here.
    known: HashMap<String, ParticipantId>,
    /// Started when the first new participant is written: an import that
    /// only updates (the same file again) keeps its indexes.
    load: Option<repo::BulkLoad>,
}

/// Rows per chunk handed from the parser to the writer.
const CHUNK: usize = 5_000;

/// The average length of the first lines of `bytes`. A packed row holds
/// about three times its CSV text (the email three ways, JSON, the folded
/// search text).
fn line_bytes(bytes: &[u8]) -> usize {
    let sample = &bytes[..bytes.len().min(64 * 1024)];
    let lines = sample.iter().filter(|&&b| b == b'\n').count().max(1);
    (sample.len() / lines).max(1)
}

/// How a repeated email is reported, before the first line that has it.
const REPEATS: &str = "is the same email as line ";

/// The same rejection pointing at another first line.
fn repeat_reason(reason: &str, first: u64) -> String {
    match reason.rfind(REPEATS) {
        Some(i) => format!("{}{first}", &reason[..i + REPEATS.len()]),
        None => reason.to_string(),
    }
}

/// Where a part's good rows go.
enum Out<'a> {
    /// To the writer as they are read (the first part).
    Stream {
        send: &'a tokio::sync::mpsc::Sender<Parsed>,
        /// Written chunks, to fill again.
        spent: &'a std::sync::mpsc::Receiver<Packed>,
        /// Bytes the later parts have read, for the progress shown.
        ahead: &'a AtomicU64,
        total: u64,
    },
    /// Kept until the parts before are done (the later parts).
    Keep { ahead: &'a AtomicU64 },
}

/// What one part of the file held.
#[derive(Default)]
struct Part {
    /// Good rows, when kept.
    kept: Vec<Packed>,
    rows: u32,
    rejected: Vec<RowError>,
    warnings: Vec<RowError>,
    /// Rejections for an email seen earlier in the part: (index into
    /// `rejected`, hash of the normalised email).
    repeats: Vec<(usize, [u8; 32])>,
    /// Hashes of the good rows' normalised emails, with their lines.
    seen: foldhash::HashMap<[u8; 32], u64>,
    /// The stop a row started exactly at, ending the part; `None` when it
    /// read to the end of the file.
    ended: Option<usize>,
}

/// What the parser thread hands the writer.
enum Parsed {
    Progress(ImportProgress),
    Rows(Packed),
}

fn memchr_newline(bytes: &[u8]) -> bool {
    bytes.contains(&b'\n')
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Whether a line inside a cell reads like a CSV row of its own: it has
/// the delimiter and something shaped like an email address.
fn looks_like_a_row(line: &[u8], delimiter: u8) -> bool {
    line.contains(&delimiter)
        && line
            .split(|&b| b == delimiter || b.is_ascii_whitespace() || b == b'"')
            .any(|word| {
                word.iter().position(|&b| b == b'@').is_some_and(|at| {
                    at > 0 && word[at + 1..].contains(&b'.') && !word.ends_with(b".")
                })
            })
}

/// Where a quoted cell that never closes opens in `text` (CSV from a
/// record's start to the end of the file), with the index of its field in
/// the record: the reader's own rules (a quote opens a cell only at its
/// start; `""` inside is a quote; a quote followed by anything else closes
/// it, and what follows is plain text).
fn unclosed_quote(text: &[u8], delimiter: u8) -> Option<(usize, usize)> {
    let (mut field, mut at_start, mut open) = (0usize, true, None::<usize>);
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if open.is_some() {
            if b == b'"' {
                if text.get(i + 1) == Some(&b'"') {
                    i += 2;
                    continue;
                }
                open = None;
            }
        } else if b == b'"' && at_start {
            open = Some(i);
            at_start = false;
        } else if b == delimiter {
            field += 1;
            at_start = true;
        } else if b == b'\n' || b == b'\r' {
            // A record ended: what follows is the next one's first field.
            field = 0;
            at_start = true;
        } else {
            at_start = false;
        }
        i += 1;
    }
    open.map(|at| (at, field))
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

/// The header line: each column's title and role.
struct Header {
    delimiter: u8,
    headers: Vec<String>,
    roles: Vec<Role>,
}

impl Header {
    /// Reads and checks the header line; every problem here is the whole file's.
    fn read(name: &str, bytes: &[u8]) -> Result<Header> {
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(Error::file(name, "is empty"));
        }
        let delimiter = sniff_delimiter(bytes);
        let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(first_line);
        let header = match reader.byte_records().next() {
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
                .map_err(|_| {
                    Error::file(name, format!("header column {} is not valid UTF-8", i + 1))
                })?
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
        if !(roles.contains(&Role::Name)
            || roles.contains(&Role::FirstName)
            || roles.contains(&Role::LastName))
        {
            return Err(Error::file(
                name,
                "has no name column (expected Name, or First name and Last name)",
            ));
        }
        Ok(Header {
            delimiter,
            headers,
            roles,
        })
    }

    fn header_of(&self, r: &Role) -> Option<String> {
        self.roles
            .iter()
            .position(|x| x == r)
            .map(|i| self.headers[i].clone())
    }

    /// The column a validation error is about.
    fn column_of(&self, field: &str) -> Option<String> {
        match field {
            "email" => self.header_of(&Role::Email),
            "name" => self
                .header_of(&Role::Name)
                .or_else(|| self.header_of(&Role::FirstName)),
            "phone" => self.header_of(&Role::Phone),
            "time zone" => self.header_of(&Role::TimeZone),
            "language" => self.header_of(&Role::Language),
            "tag" => self.header_of(&Role::Tags),
            "source" => self.header_of(&Role::Source),
            key => self
                .roles
                .iter()
                .position(|r| matches!(r, Role::Attribute(k) if k == key))
                .map(|i| self.headers[i].clone()),
        }
    }

    /// Parses and checks every data row, handing good rows to the writer in
    /// chunks, in file order; returns the report of rows read and rejected.
    ///
    /// A large file is cut into parts (`parts::cuts`), one thread each. The
    /// first part streams its rows to the writer as it goes; the others keep
    /// theirs until every part before them is done, then their rows are
    /// checked against the emails of those earlier parts and sent on.
    fn parse_rows(
        &self,
        name: &str,
        source: Option<&str>,
        bytes: &[u8],
        threads: usize,
        send: &tokio::sync::mpsc::Sender<Parsed>,
        spent: &std::sync::mpsc::Receiver<Packed>,
    ) -> Result<(ImportReport, usize)> {
        let total = bytes.len() as u64;
        let mut report = ImportReport {
            attribute_columns: self
                .roles
                .iter()
                .zip(&self.headers)
                .filter(|(r, _)| matches!(r, Role::Attribute(_)))
                .map(|(_, h)| h.clone())
                .collect(),
            ignored_columns: self
                .roles
                .iter()
                .zip(&self.headers)
                .filter(|(r, h)| **r == Role::Ignored && !h.is_empty())
                .map(|(_, h)| h.clone())
                .collect(),
            ..Default::default()
        };
        // The writer stops listening only when it failed; its error is the one to report.
        let stopped = || Error::file(name, "the import stopped before the end of the file");
        let header_end = bytes
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| i + 1);
        let cuts = parts::cuts(bytes, header_end, threads);
        let stops: Vec<usize> = cuts.iter().map(|c| c.at).collect();
        let ahead = AtomicU64::new(0);
        let used = std::thread::scope(|scope| {
            let mut later: Vec<_> = cuts
                .iter()
                .enumerate()
                .map(|(i, &cut)| {
                    let (stops, ahead) = (&stops[i + 1..], &ahead);
                    Some(scope.spawn(move || {
                        self.read_part(source, bytes, cut, stops, Out::Keep { ahead })
                    }))
                })
                .collect();
            let start = parts::Cut {
                at: 0,
                lines_before: 0,
            };
            let out = Out::Stream {
                send,
                spent,
                ahead: &ahead,
                total,
            };
            let first = self
                .read_part(source, bytes, start, &stops, out)
                .ok_or_else(stopped)?;
            let mut ended = first.ended;
            let mut used = 1;
            let mut earlier = Vec::new();
            report.rows += first.rows;
            report.rejected.extend(first.rejected);
            report.warnings.extend(first.warnings);
            earlier.push(first.seen);
            while let Some(k) = ended {
                let part = later[k]
                    .take()
                    .and_then(|h| h.join().ok())
                    .flatten()
                    .ok_or_else(|| {
                        Error::file(name, "reading stopped before the end of the file")
                    })?;
                let (rows, rejected) =
                    self.after(part.kept, &part.rejected, &part.repeats, &earlier);
                report.rows += part.rows;
                report.rejected.extend(rejected);
                report.warnings.extend(part.warnings);
                for chunk in rows {
                    send.blocking_send(Parsed::Rows(chunk))
                        .map_err(|_| stopped())?;
                }
                earlier.push(part.seen);
                used += 1;
                // The part's own stops are the ones after its cut.
                ended = part.ended.map(|m| k + 1 + m);
            }
            Ok::<_, Error>(used)
        })?;
        report.rejected.sort_by_key(|e| e.line);
        report.warnings.sort_by_key(|e| e.line);
        send.blocking_send(Parsed::Progress(ImportProgress::Reading {
            bytes_done: total,
            bytes_total: total,
        }))
        .map_err(|_| stopped())?;
        if report.rows == 0 {
            return Err(Error::file(
                name,
                "has a header line but no participant rows",
            ));
        }
        Ok((report, used))
    }

    /// Reads the rows from `cut` until a row starts exactly at one of
    /// `stops` (the cuts after it) or the file ends. `None` when the writer
    /// stopped listening.
    fn read_part(
        &self,
        source: Option<&str>,
        bytes: &[u8],
        cut: parts::Cut,
        stops: &[usize],
        out: Out<'_>,
    ) -> Option<Part> {
        let started = std::time::Instant::now();
        // Sized once: growing a map or a buffer a step at a time copies it
        // and touches fresh memory each time. The part has no more rows than
        // lines, and a chunk's text is judged from the first lines (and is
        // never more than the whole part's).
        let end = stops.first().map_or(bytes.len(), |&stop| stop).max(cut.at);
        let lines = bytes[cut.at..end].iter().filter(|&&b| b == b'\n').count();
        let mut part = Part {
            seen: foldhash::HashMap::with_capacity_and_hasher(lines + 1, Default::default()),
            ..Default::default()
        };
        let text = (CHUNK * 3 * line_bytes(&bytes[cut.at..])).min(3 * (end - cut.at));
        let mut chunk = Packed::with_capacity(CHUNK, text + CHUNK * 128);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(&bytes[cut.at..]);
        // One record, read into again and again.
        let mut record = csv::ByteRecord::new();
        if cut.at == 0 {
            let _ = reader.read_byte_record(&mut record); // the header
        }
        let mut next_stop = 0;
        let mut reported = 0u64;
        // The reader's positions count from where it resumed, which can be
        // the '\n' of a CRLF or a blank line; rows and lines are counted
        // here from the bytes instead.
        let (mut counted_to, mut breaks) = (cut.at, cut.lines_before);
        let mut locate = |byte: u64| {
            let mut at = cut.at + byte as usize;
            while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
                at += 1;
            }
            let at = at.max(counted_to);
            breaks += bytes[counted_to..at]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            counted_to = at;
            (at, breaks + 1)
        };
        for n in 0.. {
            match reader.read_byte_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    let line = e.position().map_or(0, |p| locate(p.byte()).1);
                    part.rows += 1;
                    part.rejected.push(RowError {
                        line,
                        column: None,
                        reason: format!("cannot be read as CSV: {e}"),
                    });
                    continue;
                }
            }
            let (at, line) = locate(record.position().map_or(0, |p| p.byte()));
            while next_stop < stops.len() && stops[next_stop] < at {
                next_stop += 1; // a cut inside a row: not a row start after all
            }
            if stops.get(next_stop) == Some(&at) {
                part.ended = Some(next_stop);
                break;
            }
            if n % 4096 == 0 {
                let done = at as u64 - cut.at as u64;
                match &out {
                    Out::Stream {
                        send, ahead, total, ..
                    } => {
                        let bytes_done = (at as u64 + ahead.load(Ordering::Relaxed)).min(*total);
                        let progress = ImportProgress::Reading {
                            bytes_done,
                            bytes_total: *total,
                        };
                        send.blocking_send(Parsed::Progress(progress)).ok()?;
                    }
                    Out::Keep { ahead } => {
                        ahead.fetch_add(done - reported, Ordering::Relaxed);
                    }
                }
                reported = done;
            }
            if record.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
                continue;
            }
            part.rows += 1;
            // Only a record that runs to the end of the file can hold a
            // quote that never closed (the reader takes the rest of the
            // file into it without a word).
            if cut.at + reader.position().byte() as usize >= bytes.len() {
                if let Some(e) = self.unclosed(&bytes[at..], line) {
                    part.rejected.push(e);
                    continue;
                }
            }
            if memchr_newline(record.as_slice()) {
                part.warnings.extend(self.swallowed(&record, line));
            }
            if let Err(e) = self.row(&record, line, source, &mut chunk) {
                part.rejected.push(e);
                continue;
            }
            let row = chunk.rows()[chunk.len() - 1];
            if let Some(&first) = part.seen.get(&row.hash) {
                part.repeats.push((part.rejected.len(), row.hash));
                part.rejected.push(self.repeat(&chunk, &row, first));
                chunk.pop();
                continue;
            }
            part.seen.insert(row.hash, line);
            if chunk.len() == CHUNK {
                let next = match &out {
                    Out::Stream { spent, .. } => spent.try_recv().ok(),
                    Out::Keep { .. } => None,
                };
                let next = match next {
                    Some(mut used) => {
                        used.clear();
                        used
                    }
                    // The next chunk's text is likely about as long.
                    None => Packed::with_capacity(CHUNK, chunk.text_len() + chunk.text_len() / 8),
                };
                let full = std::mem::replace(&mut chunk, next);
                match &out {
                    Out::Stream { send, .. } => send.blocking_send(Parsed::Rows(full)).ok()?,
                    Out::Keep { .. } => part.kept.push(full),
                }
            }
        }
        if !chunk.is_empty() {
            match &out {
                Out::Stream { send, .. } => send.blocking_send(Parsed::Rows(chunk)).ok()?,
                Out::Keep { .. } => part.kept.push(chunk),
            }
        }
        tracing::debug!(
            from = cut.at,
            ms = started.elapsed().as_millis() as u64,
            "part read"
        );
        Some(part)
    }

    /// A later part's rows once the parts before it are read: rows whose
    /// email an earlier part already has are rejected, and the part's own
    /// repeats point at the first line in the file with that email.
    fn after(
        &self,
        kept: Vec<Packed>,
        rejected: &[RowError],
        repeats: &[(usize, [u8; 32])],
        earlier: &[foldhash::HashMap<[u8; 32], u64>],
    ) -> (Vec<Packed>, Vec<RowError>) {
        let first_line = |hash: &[u8; 32]| earlier.iter().find_map(|seen| seen.get(hash).copied());
        let mut rejected = rejected.to_vec();
        for (i, hash) in repeats {
            if let Some(first) = first_line(hash) {
                rejected[*i].reason = repeat_reason(&rejected[*i].reason, first);
            }
        }
        let mut rows = Vec::with_capacity(kept.len());
        for mut chunk in kept {
            let mut repeated = Vec::new();
            for row in chunk.rows() {
                if let Some(first) = first_line(&row.hash) {
                    repeated.push(self.repeat(&chunk, row, first));
                }
            }
            if !repeated.is_empty() {
                chunk.retain(|row| first_line(&row.hash).is_none());
                rejected.extend(repeated);
            }
            rows.push(chunk);
        }
        (rows, rejected)
    }

    /// The rejection of a record that starts at line `line` with the text
    /// `rest` (to the end of the file), if a quoted cell in it is never
    /// closed: the row, and every line the cell took in, are named.
    fn unclosed(&self, rest: &[u8], line: u64) -> Option<RowError> {
        let (opened, field) = unclosed_quote(rest, self.delimiter)?;
        let opening_line = line + count_newlines(&rest[..opened]);
        let last_line = line + count_newlines(rest.trim_ascii_end());
        let lines = if last_line > opening_line {
            format!("lines {opening_line} to {last_line}")
        } else {
            format!("line {opening_line}")
        };
        Some(RowError {
            line,
            column: self.headers.get(field).cloned(),
            reason: format!(
                "opens a quote on line {opening_line} that is never closed, so the rest of the \
                 file ({lines}) was read as this one cell and none of it was imported; close \
                 the quote (or remove it) and import the file again"
            ),
        })
    }

    /// Warnings for a row whose cells hold line breaks and, on the lines
    /// after the first, what look like rows of their own (text with the
    /// delimiter and an email address): a quote opened in the wrong place
    /// can fold several people into one cell.
    fn swallowed(&self, record: &csv::ByteRecord, line: u64) -> Vec<RowError> {
        let mut warnings = Vec::new();
        let mut lines_before = 0u64;
        for (i, cell) in record.iter().enumerate() {
            let inner: Vec<&[u8]> = cell.split(|&b| b == b'\n').collect();
            let rows = inner
                .iter()
                .skip(1)
                .filter(|l| looks_like_a_row(l, self.delimiter))
                .count();
            if rows > 0 {
                let first = line + lines_before;
                let last = first + inner.len() as u64 - 1;
                warnings.push(RowError {
                    line,
                    column: self.headers.get(i).cloned(),
                    reason: format!(
                        "holds lines {first} to {last}, and {rows} of them look like rows of \
                         their own; a quote may be misplaced: check that they belong in this cell"
                    ),
                });
            }
            lines_before += inner.len() as u64 - 1;
        }
        warnings
    }

    /// The rejection of a row whose email an earlier line already has.
    fn repeat(&self, chunk: &Packed, row: &PackedRow, first: u64) -> RowError {
        RowError {
            line: row.line,
            column: self.header_of(&Role::Email),
            reason: format!("{} {REPEATS}{first}", chunk.columns(row).email),
        }
    }

    /// Checks one data row and appends it to `out`, or says why not.
    fn row(
        &self,
        record: &csv::ByteRecord,
        line: u64,
        source: Option<&str>,
        out: &mut Packed,
    ) -> std::result::Result<(), RowError> {
        let reject = |column: Option<String>, reason: String| RowError {
            line,
            column,
            reason,
        };
        let width = self.headers.len();
        if record.len() > width && record.iter().skip(width).any(|c| !c.is_empty()) {
            return Err(reject(
                None,
                format!("has {} fields; the header has {width}", record.len()),
            ));
        }
        let mut input = Fields {
            source,
            keys_checked: true,
            ..Default::default()
        };
        let (mut first, mut last) = ("", "");
        // The whole record is checked as UTF-8 at once; a cell is checked on
        // its own only when that fails (to name it) or when a cut between
        // cells falls inside a character.
        let whole = std::str::from_utf8(record.as_slice()).ok();
        for (i, r) in self.roles.iter().enumerate() {
            let raw = record.get(i).unwrap_or_default();
            let checked = match (whole, record.range(i)) {
                (Some(whole), Some(range)) => whole.get(range).ok_or(()),
                _ => Err(()),
            };
            let cell = match checked.or_else(|()| std::str::from_utf8(raw)) {
                Ok(s) => unescape_formula(s.trim()),
                Err(e) => {
                    return Err(reject(
                        Some(self.headers[i].clone()),
                        format!(
                            "is not valid UTF-8 (bad byte at position {}); save the file as CSV UTF-8",
                            e.valid_up_to() + 1
                        ),
                    ));
                }
            };
            match r {
                Role::Email => input.email = cell,
                Role::Name => input.name = cell,
                Role::FirstName => first = cell,
                Role::LastName => last = cell,
                Role::Phone => input.phone = Some(cell),
                Role::TimeZone => input.time_zone = Some(cell),
                Role::Language => input.language = Some(cell),
                Role::Tags => input.tags = cell.split([',', ';', '|']).collect(),
                Role::Source if !cell.is_empty() => input.source = Some(cell),
                Role::Source | Role::Ignored => {}
                Role::Attribute(key) => input.attributes.push((key, cell)),
            }
        }
        let joined;
        if input.name.is_empty() {
            joined = format!("{first} {last}");
            input.name = joined.trim();
        }
        input.pack_into(out, line).map_err(|e| match e {
            Error::InvalidInput {
                field,
                value,
                reason,
            } => {
                let shown = if value.is_empty() {
                    String::new()
                } else {
                    format!("{value:?} ")
                };
                reject(self.column_of(&field), format!("{shown}{reason}"))
            }
            other => reject(None, other.to_string()),
        })
    }
}

/// Whether merging `row` into the stored participant would change anything,
/// decided on the stored columns as they are (the common case of a re-import
/// is "no", and re-checking every stored field to learn that is slow).
fn changes(stored: &repo::StoredColumns, row: &Columns<'_>) -> bool {
    let differs = |new: Option<&str>, old: &Option<String>| new.is_some() && new != old.as_deref();
    stored.name != row.name
        || stored.email.as_deref() != Some(row.email)
        || differs(row.phone, &stored.phone)
        || differs(row.time_zone, &stored.time_zone)
        || differs(row.language, &stored.language)
        || (stored.source.is_none() && row.source.is_some())
        || (row.attributes_json != stored.attributes
            && !attributes_within(row.attributes_json, &stored.attributes))
        || (row.tags_json != stored.tags && !tags_within(row.tags_json, &stored.tags))
}

/// Whether every attribute in the JSON object `row` has the same value in
/// `stored`.
fn attributes_within(row: &str, stored: &str) -> bool {
    type Map = BTreeMap<String, String>;
    match (
        serde_json::from_str::<Map>(row),
        serde_json::from_str::<Map>(stored),
    ) {
        (Ok(row), Ok(stored)) => row.iter().all(|(k, v)| stored.get(k) == Some(v)),
        _ => false,
    }
}

/// Whether every tag in the JSON array `row` is in `stored`.
fn tags_within(row: &str, stored: &str) -> bool {
    type Set = BTreeSet<String>;
    match (
        serde_json::from_str::<Set>(row),
        serde_json::from_str::<Set>(stored),
    ) {
        (Ok(row), Ok(stored)) => row.is_subset(&stored),
        _ => false,
    }
}

/// A stored participant's fields in the shape an import row has; `None`
/// when what is stored no longer passes today's checks.
fn as_valid(p: &repo::StoredColumns) -> Option<ValidParticipant> {
    super::ParticipantInput {
        name: p.name.clone(),
        email: p.email.clone().unwrap_or_default(),
        phone: p.phone.clone(),
        time_zone: p.time_zone.clone(),
        language: p.language.clone(),
        source: p.source.clone(),
        attributes: serde_json::from_str(&p.attributes).unwrap_or_default(),
        tags: serde_json::from_str(&p.tags).unwrap_or_default(),
    }
    .validate()
    .ok()
}

/// What a row makes of an existing participant: the row's values where it
/// has them, the stored ones where its cells are empty, tags added.
fn merge(current: &ValidParticipant, row: &ValidParticipant) -> ValidParticipant {
    let mut attributes: BTreeMap<String, String> = current.attributes.clone();
    attributes.extend(row.attributes.clone());
    let mut tags = current.tags.clone();
    tags.extend(row.tags.iter().cloned());
    let mut merged = row.clone();
    merged.phone = row.phone.clone().or_else(|| current.phone.clone());
    merged.time_zone = row.time_zone.clone().or_else(|| current.time_zone.clone());
    merged.language = row.language.clone().or_else(|| current.language.clone());
    // Where someone was first recruited from stays.
    merged.source = current.source.clone().or_else(|| row.source.clone());
    merged.with(attributes, tags)
}

/// Writes one chunk of good rows: new people inserted, known people updated
/// where the row changes them. Returns (created, updated, unchanged).
async fn write_chunk(
    mut conn: db::Conn<'_>,
    rows: &Packed,
    bulk: Option<&mut Bulk>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(u32, u32, u32)> {
    let existing = match bulk.as_ref().map(|b| &b.known) {
        Some(map) => rows
            .rows()
            .iter()
            .filter_map(|r| {
                let email = rows.columns(r).email_norm;
                map.get(email).map(|id| (email.to_string(), *id))
            })
            .collect(),
        None => {
            let emails: Vec<&str> = rows
                .rows()
                .iter()
                .map(|r| rows.columns(r).email_norm)
                .collect();
            repo::ids_by_email(conn.reborrow(), &emails).await?
        }
    };
    let mut new = Vec::with_capacity(rows.len().saturating_sub(existing.len()));
    let mut old = Vec::with_capacity(existing.len());
    for row in rows.rows() {
        let columns = rows.columns(row);
        match existing.get(columns.email_norm) {
            Some(id) => old.push((*id, row)),
            None => new.push(columns),
        }
    }
    let mut bulk = bulk;
    if !new.is_empty() {
        if let Some(bulk) = bulk.as_deref_mut().filter(|b| b.load.is_none()) {
            bulk.load = Some(repo::BulkLoad::start(conn.reborrow()).await?);
        }
        match bulk.as_deref_mut().and_then(|b| b.load.as_mut()) {
            Some(load) => load.insert(conn.reborrow(), &new, now).await?,
            None => repo::insert_rows(conn.reborrow(), &new, now).await?,
        };
    }
    let loading = bulk.is_some_and(|b| b.load.is_some());
    let (mut updated, mut unchanged) = (0, 0);
    let ids: Vec<ParticipantId> = old.iter().map(|(id, _)| *id).collect();
    let stored: HashMap<ParticipantId, repo::StoredColumns> =
        repo::stored_columns(conn.reborrow(), &ids)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
    for (id, row) in old {
        if stored
            .get(&id)
            .is_some_and(|p| !changes(p, &rows.columns(row)))
        {
            unchanged += 1;
            continue;
        }
        let row = rows.to_valid(row);
        let current = stored.get(&id).and_then(as_valid);
        let merged = match &current {
            Some(c) => merge(c, &row),
            None => row,
        };
        if current.as_ref() == Some(&merged) {
            unchanged += 1;
        } else {
            repo::update_row(conn.reborrow(), id, &merged, now).await?;
            updated += 1;
        }
    }
    // A load into an empty panel indexes everyone once, at its end.
    if !loading && (updated > 0 || !new.is_empty()) {
        repo::touch(conn).await?;
    }
    Ok((new.len() as u32, updated, unchanged))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::participants::ParticipantInput;

    /// Every row the parser hands on (line order), its report and the
    /// parts it read in parallel, read by `threads` threads.
    fn read_all(bytes: &[u8], threads: usize) -> (Vec<String>, ImportReport, usize) {
        let header = Header::read("t.csv", bytes).unwrap();
        let (send, mut receive) = tokio::sync::mpsc::channel(1 << 16);
        let (_spent_send, spent) = std::sync::mpsc::channel();
        let (report, parts) = header
            .parse_rows("t.csv", None, bytes, threads, &send, &spent)
            .unwrap();
        drop(send);
        let mut rows = Vec::new();
        while let Ok(message) = receive.try_recv() {
            if let Parsed::Rows(chunk) = message {
                rows.extend(chunk.rows().iter().map(|r| {
                    let c = chunk.columns(r);
                    format!("{}|{}|{}|{}", r.line, c.name, c.email, c.attributes_json)
                }));
            }
        }
        (rows, report, parts)
    }

    #[test]
    fn parts_read_in_parallel_match_one_reader() {
        let mut f = String::from("Name,Email,Note\r\n");
        for i in 0..60_000 {
            match i % 1000 {
                // A quoted line break in a field, CRLF and blank lines.
                7 => f.push_str(&format!(
                    "\"Anna\r\nQuoted {i}\",q{i}@example.com,\"a, \"\"b\"\"\"\r\n\r\n"
                )),
                // Repeats of an email from much earlier in the file.
                11 => f.push_str(&format!("Again {i},p{}@example.com,x\r\n", i % 997)),
                // A bad email, and stray quotes inside unquoted fields (two,
                // so that the count of quotes stays even after them).
                13 => f.push_str(&format!("Bad {i},not-an-email,5\" screen\r\n")),
                14 => f.push_str(&format!("Size {i},s{i}@example.com,7\" screen\r\n")),
                _ => f.push_str(&format!("Person {i},p{i}@example.com,n{}\r\n", i % 7)),
            }
        }
        let one = read_all(f.as_bytes(), 1);
        assert!(one.1.rejected.len() > 100, "{}", one.1.rejected.len());
        assert!(
            one.1
                .rejected
                .iter()
                .any(|e| e.reason.contains("same email as line"))
        );
        for threads in [2, 3, 8] {
            let many = read_all(f.as_bytes(), threads);
            assert!(many.2 > 1, "{threads} threads: read as one part");
            assert!(many.0 == one.0, "{threads} threads: rows differ");
            assert_eq!(many.1, one.1, "{threads} threads: reports differ");
        }
    }

    #[test]
    fn a_character_split_across_two_cells_is_invalid_in_both() {
        // Without its separators the record reads "Annéann@example.com",
        // which is valid UTF-8; its cells are not.
        let bytes = b"Name,Email\nAnn\xC3,\xA9ann@example.com\nBo,bo@example.com\n";
        let (rows, report, _) = read_all(bytes, 1);
        assert_eq!(rows.len(), 1);
        assert_eq!(report.rejected.len(), 1);
        let e = &report.rejected[0];
        assert_eq!((e.line, e.column.as_deref()), (2, Some("Name")));
        assert!(e.reason.contains("not valid UTF-8"), "{}", e.reason);
    }

    #[test]
    fn a_cut_inside_an_odd_quote_falls_back_to_one_reader() {
        // Every row has a stray quote, so every cut lands inside what the
        // quote count takes for a field; the result must still be right.
        let mut f = String::from("Name,Email,Size\n");
        for i in 0..40_000 {
            f.push_str(&format!("Person {i},p{i}@example.com,5\" screen\n"));
        }
        let one = read_all(f.as_bytes(), 1);
        assert_eq!(one.0.len(), 40_000);
        let many = read_all(f.as_bytes(), 4);
        assert_eq!((many.0, many.1), (one.0, one.1));
    }

    #[tokio::test]
    async fn a_large_import_is_copied_into_the_database_file_after_its_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let panel = crate::Panel::open(&path).await.unwrap();
        let mut csv = String::from("Name,Email\n");
        for i in 0..6_000 {
            csv.push_str(&format!("Person {i},p{i}@example.com\n"));
        }
        let r = import_bytes(&panel, "big.csv", None, csv.as_bytes(), &|_| {})
            .await
            .unwrap();
        assert_eq!(r.created, 6_000);
        panel.settle().await;
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(
            size > 500_000,
            "the rows are in the database file ({size} bytes)"
        );
        // Every connection checkpoints on its own again.
        let mut conns = Vec::new();
        for _ in 0..4 {
            let mut conn = panel.pool().unwrap().acquire().await.unwrap();
            let every: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(every, 1000);
            conns.push(conn);
        }
    }

    #[tokio::test]
    async fn a_large_import_into_a_smaller_panel_adds_updates_and_keeps_its_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let panel = crate::Panel::open(&dir.path().join("p.db")).await.unwrap();
        let row = |i: usize, region: &str| format!("Person {i},p{i}@example.com,{region}\n");
        let mut first = String::from("Name,Email,Region\n");
        (0..6_000).for_each(|i| first.push_str(&row(i, "EU")));
        let r = import_bytes(&panel, "first.csv", None, first.as_bytes(), &|_| {})
            .await
            .unwrap();
        assert_eq!(r.created, 6_000);
        // A file larger than the panel: 3,000 people as they are, 1,000
        // who moved, and 4,000 new.
        let mut second = String::from("Name,Email,Region\n");
        (0..3_000).for_each(|i| second.push_str(&row(i, "EU")));
        (3_000..4_000).for_each(|i| second.push_str(&row(i, "NA")));
        (6_000..10_000).for_each(|i| second.push_str(&row(i, "APAC")));
        let r = import_bytes(&panel, "second.csv", None, second.as_bytes(), &|_| {})
            .await
            .unwrap();
        assert_eq!((r.created, r.updated, r.unchanged), (4_000, 1_000, 3_000));
        let indexes: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'participants' \
             AND sql IS NOT NULL ORDER BY name",
        )
        .fetch_all(panel.pool().unwrap())
        .await
        .unwrap();
        assert_eq!(indexes, ["participants_email", "participants_sort"]);
        let regions: Vec<(String, i64)> = sqlx::query_as(
            "SELECT json_extract(attributes, '$.region') AS r, COUNT(*) FROM participants \
             GROUP BY r ORDER BY r",
        )
        .fetch_all(panel.pool().unwrap())
        .await
        .unwrap();
        let regions: Vec<(&str, i64)> = regions.iter().map(|(r, n)| (r.as_str(), *n)).collect();
        assert_eq!(regions, [("APAC", 4_000), ("EU", 5_000), ("NA", 1_000)]);
        let new_ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM participants WHERE email_norm IN ('p6000@example.com', 'p9999@example.com') \
             ORDER BY id",
        )
        .fetch_all(panel.pool().unwrap())
        .await
        .unwrap();
        assert_eq!(new_ids, [6_001, 10_000], "new people follow the file");
        // A new person with an imported email is still refused.
        let again = crate::participants::create(
            &panel,
            &crate::participants::ParticipantInput {
                name: "Copy".into(),
                email: "P9999@example.com".into(),
                ..Default::default()
            },
        )
        .await;
        assert!(matches!(again, Err(Error::Conflict { .. })), "{again:?}");
        let r = import_bytes(&panel, "second.csv", None, second.as_bytes(), &|_| {})
            .await
            .unwrap();
        assert_eq!((r.created, r.updated, r.unchanged), (0, 0, 8_000));
        panel.close().await;
    }

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
    fn the_change_check_agrees_with_the_merge() {
        use crate::participants::{Participant, ParticipantId};
        let base = ParticipantInput {
            name: "Zoë Müller".into(),
            email: "zoe@example.com".into(),
            phone: Some("+49 30 1234567".into()),
            time_zone: Some("Europe/Berlin".into()),
            language: None,
            source: Some("crm.csv".into()),
            attributes: [("region".to_string(), "EU".to_string())].into(),
            tags: vec!["vip".into()],
        };
        let stored = Participant {
            id: ParticipantId(1),
            name: base.name.clone(),
            email: Some(base.email.clone()),
            phone: base.phone.clone(),
            time_zone: base.time_zone.clone(),
            language: None,
            source: base.source.clone(),
            attributes: base.attributes.clone(),
            tags: base.tags.clone(),
            opted_out_at: None,
            do_not_contact: false,
            erased_at: None,
            created_at: chrono::DateTime::default(),
            updated_at: chrono::DateTime::default(),
        };
        let variants: Vec<Box<dyn Fn(&mut ParticipantInput)>> = vec![
            Box::new(|_| {}),
            Box::new(|r| r.phone = None),
            Box::new(|r| r.attributes.clear()),
            Box::new(|r| r.tags.clear()),
            Box::new(|r| r.source = Some("other.csv".into())),
            Box::new(|r| r.name = "Zoë Weiss".into()),
            Box::new(|r| r.email = "ZOE@example.com".into()),
            Box::new(|r| r.phone = Some("+49 30 7654321".into())),
            Box::new(|r| r.language = Some("de".into())),
            Box::new(|r| drop(r.attributes.insert("region".into(), "NA".into()))),
            Box::new(|r| drop(r.attributes.insert("age_band".into(), "25-34".into()))),
            Box::new(|r| r.tags.push("b2b".into())),
        ];
        let columns = |p: &Participant| repo::StoredColumns {
            id: p.id,
            name: p.name.clone(),
            email: p.email.clone(),
            phone: p.phone.clone(),
            time_zone: p.time_zone.clone(),
            language: p.language.clone(),
            source: p.source.clone(),
            attributes: serde_json::to_string(&p.attributes).unwrap(),
            tags: serde_json::to_string(&p.tags).unwrap(),
        };
        // Stored with more attributes and tags than a row brings: a row
        // with fewer changes nothing.
        let mut fuller = stored.clone();
        fuller.attributes.insert("device".into(), "tablet".into());
        fuller.tags.push("b2b".into());
        for (who, stored) in [("as imported", &stored), ("with more", &fuller)] {
            let stored = columns(stored);
            let current = as_valid(&stored).unwrap();
            for (i, change) in variants.iter().enumerate() {
                let mut input = base.clone();
                change(&mut input);
                let row = input.validate().unwrap();
                assert_eq!(
                    changes(&stored, &row.columns()),
                    merge(&current, &row) != current,
                    "{who}, variant {i}"
                );
            }
        }
    }

    #[test]
    fn formula_escapes_come_off() {
        assert_eq!(unescape_formula("'=1+1"), "=1+1");
        assert_eq!(unescape_formula("'hello"), "'hello");
    }
}
