//! Where a CSV file can be cut so that several threads read it at once.
//!
//! A line break is taken as the start of a row when an even number of
//! quote characters comes before it: inside a quoted field quotes come in
//! pairs (`""`), so an odd count means the break is part of a field. A quote
//! in the middle of an unquoted field (`5" screen`) breaks that rule; the
//! reader of the part before a cut therefore checks that a row really
//! starts where the cut is, and when none does the later part's work is
//! thrown away and the earlier reader goes on (see `Header::parse_rows`).

/// Where a part begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cut {
    /// Byte offset of the part's first row.
    pub at: usize,
    /// Line breaks before it, which turns the part's own line numbers into
    /// the file's.
    pub lines_before: u64,
}

/// Files smaller than this are read by one thread.
const MIN_PART_BYTES: usize = 512 * 1024;

/// Up to `parts - 1` cuts after `from` (the end of the header line), at
/// likely row starts, in increasing order.
///
/// The first part is half a part longer than the others: its rows go to the
/// writer as they are read, while the later parts' rows wait for it, so the
/// less there is to write once it ends, the sooner the import is done.
pub(super) fn cuts(bytes: &[u8], from: usize, parts: usize) -> Vec<Cut> {
    let body = bytes.len().saturating_sub(from);
    let parts = parts.min(body / MIN_PART_BYTES).max(1);
    let mut out = Vec::with_capacity(parts - 1);
    // Quotes and line breaks counted up to `scanned`.
    let (mut scanned, mut quotes, mut lines) = (0usize, 0usize, 0u64);
    for i in 1..parts {
        let target = from + body * (2 * i + 1) / (2 * parts + 1);
        if target < scanned {
            continue;
        }
        let before = &bytes[scanned..target];
        quotes += count(before, b'"');
        lines += count(before, b'\n') as u64;
        let mut at = target;
        // The next line break with an even number of quotes before it.
        let found = loop {
            let Some(offset) = bytes[at..].iter().position(|&b| b == b'\n' || b == b'"') else {
                break None;
            };
            at += offset;
            if bytes[at] == b'"' {
                quotes += 1;
            } else {
                lines += 1;
                if quotes % 2 == 0 {
                    break Some(at + 1);
                }
            }
            at += 1;
        };
        let Some(mut start) = found else { break };
        // A row starts at the first line that is not blank.
        while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
            if bytes[start] == b'\n' {
                lines += 1;
            }
            start += 1;
        }
        scanned = start;
        if start >= bytes.len() {
            break;
        }
        out.push(Cut {
            at: start,
            lines_before: lines,
        });
    }
    out
}

fn count(bytes: &[u8], byte: u8) -> usize {
    bytes.iter().filter(|&&b| b == byte).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(rows: usize, row: &str) -> Vec<u8> {
        let mut f = b"Name,Email\n".to_vec();
        for _ in 0..rows {
            f.extend_from_slice(row.as_bytes());
        }
        f
    }

    #[test]
    fn small_files_are_one_part() {
        assert!(cuts(&file(10, "a,b@example.com\n"), 11, 4).is_empty());
    }

    #[test]
    fn cuts_fall_on_row_starts_with_their_line_numbers() {
        let f = file(200_000, "Anna,anna@example.com\n");
        let cs = cuts(&f, 11, 4);
        assert_eq!(cs.len(), 3);
        for c in &cs {
            assert_eq!(f[c.at - 1], b'\n');
            assert_eq!(&f[c.at..c.at + 5], b"Anna,");
            let lines = f[..c.at].iter().filter(|&&b| b == b'\n').count() as u64;
            assert_eq!(c.lines_before, lines);
        }
        assert!(cs.windows(2).all(|w| w[0].at < w[1].at));
    }

    #[test]
    fn line_breaks_inside_quotes_are_not_cuts() {
        // Every row holds a quoted line break; a cut must never land after it.
        let f = file(100_000, "\"Anna\nSmith\",anna@example.com\r\n");
        for c in cuts(&f, 11, 3) {
            assert_eq!(f[c.at], b'"', "cut at {} is inside a field", c.at);
            let lines = f[..c.at].iter().filter(|&&b| b == b'\n').count() as u64;
            assert_eq!(c.lines_before, lines);
        }
    }

    #[test]
    fn blank_lines_are_skipped_at_a_cut() {
        let f = file(100_000, "a,a@example.com\n\n\r\n");
        for c in cuts(&f, 11, 2) {
            assert_eq!(f[c.at], b'a');
            let lines = f[..c.at].iter().filter(|&&b| b == b'\n').count() as u64;
            assert_eq!(c.lines_before, lines);
        }
    }
}
