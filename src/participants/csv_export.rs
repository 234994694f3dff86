//! CSV export of participants, safe to open in a spreadsheet: a cell that a
//! spreadsheet would run as a formula (`=HYPERLINK(...)`, `@SUM(...)`, `+cmd`)
//! is written with a leading `'`, which import takes off again.

use super::{ParticipantId, ParticipantQuery, repo};
use crate::Panel;
use crate::error::{Error, Result};
use crate::files::{Existing, NewFile};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

/// Whether a spreadsheet would treat this cell as a formula. Phone numbers
/// and signed numbers (`+49 30 1234`, `-12.5`) are left alone.
fn is_formula(cell: &str) -> bool {
    match cell.chars().next() {
        Some('=' | '@' | '\t' | '\r') => true,
        Some('+' | '-') => !cell[1..]
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.' | '/')),
        _ => false,
    }
}

/// A cell as written to the file.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    if is_formula(cell) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

const FIXED: [&str; 12] = [
    "id",
    "name",
    "email",
    "phone",
    "time_zone",
    "language",
    "source",
    "tags",
    "opted_out_at",
    "do_not_contact",
    "created_at",
    "updated_at",
];

/// How far an export has come: rows written of those it will write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ExportProgress {
    pub written: u32,
    pub total: u32,
}

/// Writes the participants matching `query` (all pages) as CSV to `out`,
/// saying how far it has come after each stretch of rows; returns how many
/// were written.
pub async fn write_csv(
    panel: &Panel,
    query: &ParticipantQuery,
    out: impl Write,
    progress: &(dyn Fn(ExportProgress) + Sync),
) -> Result<u32> {
    let mut conn = panel.conn().await?;
    let mut all = query.clone();
    all.offset = 0;
    all.limit = 1000;
    let mut ids: Vec<ParticipantId> = Vec::new();
    loop {
        let page = repo::list(&mut conn, &all).await?;
        let n = page.items.len() as u32;
        ids.extend(page.items.into_iter().map(|r| r.id));
        if n < all.limit {
            break;
        }
        all.offset += n;
    }
    drop(conn);
    write_rows(panel, &ids, out, progress).await
}

/// Writes the participants `ids` names (chosen in a list), in that order,
/// as CSV to `out`; an id that names nobody is an error.
pub async fn write_selected(
    panel: &Panel,
    ids: &[ParticipantId],
    out: impl Write,
    progress: &(dyn Fn(ExportProgress) + Sync),
) -> Result<u32> {
    let mut conn = panel.conn().await?;
    for &id in ids {
        repo::load(&mut conn, id).await?;
    }
    drop(conn);
    write_rows(panel, ids, out, progress).await
}

async fn write_rows(
    panel: &Panel,
    ids: &[ParticipantId],
    out: impl Write,
    progress: &(dyn Fn(ExportProgress) + Sync),
) -> Result<u32> {
    let mut conn = panel.conn().await?;
    let keys: BTreeSet<String> = repo::attribute_counts(&mut conn)
        .await?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let mut w = csv::Writer::from_writer(out);
    let io = |e: csv::Error| Error::file("export", e.to_string());
    let header: Vec<&str> = FIXED
        .iter()
        .copied()
        .chain(keys.iter().map(String::as_str))
        .collect();
    w.write_record(&header).map_err(io)?;
    let total = ids.len() as u32;
    let mut written = 0;
    progress(ExportProgress { written, total });
    for chunk in ids.chunks(5_000) {
        for p in repo::load_many(&mut conn, chunk).await? {
            let fmt = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map(|t| t.to_rfc3339()).unwrap_or_default()
            };
            let mut row: Vec<String> = vec![
                p.id.to_string(),
                p.name.clone(),
                p.email.clone().unwrap_or_default(),
                p.phone.clone().unwrap_or_default(),
                p.time_zone.clone().unwrap_or_default(),
                p.language.clone().unwrap_or_default(),
                p.source.clone().unwrap_or_default(),
                p.tags.join(","),
                fmt(p.opted_out_at),
                if p.do_not_contact {
                    "yes".into()
                } else {
                    String::new()
                },
                fmt(Some(p.created_at)),
                fmt(Some(p.updated_at)),
            ];
            row.extend(
                keys.iter()
                    .map(|k| p.attributes.get(k).cloned().unwrap_or_default()),
            );
            w.write_record(row.iter().map(|c| neutralise(c).into_owned()))
                .map_err(io)?;
        }
        written += chunk.len() as u32;
        progress(ExportProgress { written, total });
    }
    w.flush()
        .map_err(|e| Error::file("export", e.to_string()))?;
    Ok(ids.len() as u32)
}

/// Exports the participants matching `query` to the file at `path`. The
/// file appears only when complete, readable by its owner only, and an
/// existing file is replaced only with [`Existing::Replace`] (see
/// [`crate::files`]).
pub async fn export_file(
    panel: &Panel,
    query: &ParticipantQuery,
    path: &Path,
    existing: Existing,
    progress: &(dyn Fn(ExportProgress) + Sync),
) -> Result<u32> {
    export_to(path, existing, async |out| {
        write_csv(panel, query, out, progress).await
    })
    .await
}

/// [`export_file`] for the participants chosen in a list.
pub async fn export_selected_file(
    panel: &Panel,
    ids: &[ParticipantId],
    path: &Path,
    existing: Existing,
    progress: &(dyn Fn(ExportProgress) + Sync),
) -> Result<u32> {
    export_to(path, existing, async |out| {
        write_selected(panel, ids, out, progress).await
    })
    .await
}

async fn export_to(
    path: &Path,
    existing: Existing,
    write: impl AsyncFnOnce(&mut std::io::BufWriter<&mut std::fs::File>) -> Result<u32>,
) -> Result<u32> {
    let mut file = NewFile::create(path, existing)?;
    let mut out = std::io::BufWriter::new(file.file());
    let n = write(&mut out).await?;
    out.flush()
        .map_err(|e| Error::file(path.display().to_string(), e.to_string()))?;
    drop(out);
    file.commit()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_numbers_are_not() {
        assert_eq!(
            neutralise("=HYPERLINK(\"http://x\",\"y\")"),
            "'=HYPERLINK(\"http://x\",\"y\")"
        );
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("+cmd|' /C calc'!A0"), "'+cmd|' /C calc'!A0");
        assert_eq!(neutralise("+49 30 1234-567"), "+49 30 1234-567");
        assert_eq!(neutralise("-12.5"), "-12.5");
        assert_eq!(neutralise("Zoë"), "Zoë");
    }
}
