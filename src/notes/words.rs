//! How a note and a search are read as words: one reading for the SQLite
//! full-text index (FTS5 `unicode61`, diacritics removed) and for the
//! PostgreSQL one (a `tsvector` the core writes and a `tsquery` it builds),
//! so a search finds the same notes on both stores.
//!
//! A search is bare words, each matching as a prefix (`refun` finds
//! "refund"), and "quoted phrases", all of them required. On PostgreSQL the
//! words are folded (case and accents) and split into runs of letters and
//! digits here, in Rust, for the note and the search alike; the database
//! only stores and matches what it is given.

use unicode_normalization::UnicodeNormalization;

/// One part of what a person typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Term {
    /// A bare word, matched as a prefix.
    Word(String),
    /// A quoted phrase, its words in order.
    Phrase(String),
}

/// The terms of a search as typed; an unclosed quote runs to the end.
pub(crate) fn terms(typed: &str) -> Vec<Term> {
    let mut terms = Vec::new();
    let mut rest = typed.trim();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('"') {
            let (phrase, tail) = after.split_once('"').unwrap_or((after, ""));
            let phrase = phrase.trim();
            if !phrase.is_empty() {
                terms.push(Term::Phrase(phrase.to_string()));
            }
            rest = tail.trim_start();
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"')
                .unwrap_or(rest.len());
            let word: String = rest[..end]
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '\'')
                .collect();
            if !word.is_empty() {
                terms.push(Term::Word(word));
            }
            rest = rest[end..].trim_start();
        }
    }
    terms
}

/// The longest word kept, in characters (PostgreSQL refuses very long
/// lexemes; no one searches for one).
const LONGEST_WORD: usize = 200;

/// `text` folded as SQLite's `unicode61` tokenizer folds it (lower case,
/// a final sigma as any sigma, combining marks taken off; ß, ł and ø stay
/// letters of their own).
fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ς' { 'σ' } else { c })
        .collect()
}

/// `text` folded and split into words: runs of letters and digits.
pub(crate) fn words(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(LONGEST_WORD).collect())
        .collect()
}

/// The `tsvector` literal of a note: its words (text, then tags) with their
/// positions, so phrases match words next to each other.
pub(crate) fn vector(text: &str, tags: &[String]) -> String {
    let mut out = String::new();
    let all = words(text)
        .into_iter()
        .chain(tags.iter().flat_map(|t| words(t)));
    // PostgreSQL keeps positions up to 16,383.
    for (i, word) in all.enumerate().take(16_383) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push('\'');
        out.push_str(&word);
        out.push_str(&format!("':{}", i + 1));
    }
    out
}

/// The `tsquery` literal for what a person typed: every term required,
/// a bare word's last part as a prefix, a phrase's words next to each
/// other. `None` when there is nothing to look for.
pub(crate) fn query(typed: &str) -> Option<String> {
    let mut parts = Vec::new();
    for term in terms(typed) {
        let (text, prefix) = match &term {
            Term::Word(w) => (w.as_str(), true),
            Term::Phrase(p) => (p.as_str(), false),
        };
        let words = words(text);
        let Some(last) = words.len().checked_sub(1) else {
            continue;
        };
        let lexemes: Vec<String> = words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if prefix && i == last {
                    format!("'{w}':*")
                } else {
                    format!("'{w}'")
                }
            })
            .collect();
        parts.push(format!("({})", lexemes.join(" <-> ")));
    }
    (!parts.is_empty()).then(|| parts.join(" & "))
}

/// The `tsquery` literal that finds any of `phrases` (each its words next
/// to each other); `None` when none has a word.
pub(crate) fn any_phrase(phrases: &[String]) -> Option<String> {
    let parts: Vec<String> = phrases
        .iter()
        .map(|p| words(p))
        .filter(|w| !w.is_empty())
        .map(|w| {
            let lexemes: Vec<String> = w.iter().map(|w| format!("'{w}'")).collect();
            format!("({})", lexemes.join(" <-> "))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_its_folded_words_in_order() {
        assert_eq!(
            vector("Zoë's refund — NEVER arrived", &["billing".into()]),
            "'zoe':1 's':2 'refund':3 'never':4 'arrived':5 'billing':6"
        );
        assert_eq!(vector("", &[]), "");
    }

    #[test]
    fn a_search_is_prefix_words_and_phrases_all_required() {
        assert_eq!(query("refun"), Some("('refun':*)".into()));
        assert_eq!(
            query("\"never arrived\" Zoë"),
            Some("('never' <-> 'arrived') & ('zoe':*)".into())
        );
        // Nothing typed can be read as query syntax.
        assert_eq!(
            query("a|b !c 'd' <->"),
            Some("('ab':*) & ('c':*) & ('d':*)".into())
        );
        assert_eq!(query("  \"\" *** "), None);
    }
}
