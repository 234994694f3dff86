//! Finding one person's identifying words in free text (notes, issue
//! summaries, mail, the audit trail) and taking them out, for erasure and
//! for anonymised reports. What identifies a person: their full name and
//! each part of it (as whole words), their email address (and its local
//! part when it is distinctive), and their phone number however it is
//! spaced. Matching ignores case; a name part matches only as a whole word,
//! so "Ann" is found in "Ann said" but not in "Annual".

/// The text put where a person's words were taken out at erasure.
pub const ERASED: &str = "[erased]";

/// One way a person can be named in text.
#[derive(Debug, Clone, PartialEq)]
enum Term {
    /// Case-insensitive, only as a whole word (not inside a longer word).
    Word(Vec<char>),
    /// Case-insensitive, anywhere.
    Text(Vec<char>),
    /// The digits of a phone number, however the text spaces them.
    Phone(String),
}

/// What identifies one person in text.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    terms: Vec<Term>,
    /// The name parts and the email, for a full-text search that finds
    /// candidate notes (a phone number is tokenised as its spacing falls,
    /// so it is looked for in the candidates' text instead).
    words: Vec<String>,
}

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn same(a: char, b: char) -> bool {
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

impl Identity {
    /// The identity of a person by their stored name, email and phone.
    pub fn of(name: &str, email: Option<&str>, phone: Option<&str>) -> Identity {
        let mut terms = Vec::new();
        let mut words = Vec::new();
        let name = name.split_whitespace().collect::<Vec<_>>();
        if name.len() > 1 {
            terms.push(Term::Text(chars(&name.join(" "))));
        }
        for part in &name {
            let part = part.trim_matches(|c: char| !is_word_char(c));
            if part.chars().count() >= 2 {
                terms.push(Term::Word(chars(part)));
                words.push(part.to_string());
            }
        }
        if let Some(email) = email.map(str::trim).filter(|e| !e.is_empty()) {
            terms.push(Term::Text(chars(email)));
            words.push(email.to_string());
            if let Some((local, _)) = email.split_once('@')
                && local.chars().count() >= 4
            {
                terms.push(Term::Word(chars(local)));
            }
        }
        if let Some(phone) = phone {
            let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
            if digits.len() >= 7 {
                terms.push(Term::Phone(digits));
            }
        }
        // Longer terms first, so a full name is taken out as one.
        terms.sort_by_key(|t| {
            std::cmp::Reverse(match t {
                Term::Word(w) | Term::Text(w) => w.len(),
                Term::Phone(d) => d.len(),
            })
        });
        Identity { terms, words }
    }

    /// Whether this identity has anything to look for.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// `text` with every match replaced by `with`, or `None` when nothing
    /// in it identifies the person.
    pub fn replace(&self, text: &str, with: &str) -> Option<String> {
        let text: Vec<char> = text.chars().collect();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        let mut found = false;
        'scan: while i < text.len() {
            for term in &self.terms {
                if let Some(len) = self.match_at(term, &text, i) {
                    out.push_str(with);
                    i += len;
                    found = true;
                    continue 'scan;
                }
            }
            out.push(text[i]);
            i += 1;
        }
        found.then_some(out)
    }

    /// [`Identity::replace`] with [`ERASED`].
    pub fn redact(&self, text: &str) -> Option<String> {
        self.replace(text, ERASED)
    }

    /// Whether anything in `text` identifies the person.
    pub fn found_in(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        (0..text.len()).any(|i| {
            self.terms
                .iter()
                .any(|t| self.match_at(t, &text, i).is_some())
        })
    }

    /// How many characters of `text` from `i` the term matches.
    fn match_at(&self, term: &Term, text: &[char], i: usize) -> Option<usize> {
        match term {
            Term::Text(t) => starts_with(text, i, t).then_some(t.len()),
            Term::Word(w) => {
                let before = i.checked_sub(1).map(|b| text[b]);
                if before.is_some_and(is_word_char) || !starts_with(text, i, w) {
                    return None;
                }
                let after = text.get(i + w.len()).copied();
                (!after.is_some_and(is_word_char)).then_some(w.len())
            }
            Term::Phone(digits) => phone_at(text, i, digits),
        }
    }

    /// Words for a first, coarse search in SQL (`LIKE '%word%'`, which
    /// ignores the case of ASCII letters only): each name part and the
    /// email, as stored, lower-cased and upper-cased. What it finds is
    /// checked with [`Identity::found_in`].
    pub fn like_words(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for w in &self.words {
            for form in [w.clone(), w.to_lowercase(), w.to_uppercase()] {
                if !out.contains(&form) {
                    out.push(form);
                }
            }
        }
        out
    }

    /// An FTS5 expression that finds text naming the person (a superset:
    /// each hit is checked with [`Identity::found_in`]).
    pub fn fts_query(&self) -> Option<String> {
        let phrases: Vec<String> = self
            .words
            .iter()
            .map(|w| {
                let tokens: Vec<String> = w
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect();
                format!("\"{}\"", tokens.join(" ").replace('"', "\"\""))
            })
            .filter(|p| p.len() > 2)
            .collect();
        (!phrases.is_empty()).then(|| phrases.join(" OR "))
    }

    /// [`Identity::fts_query`] for a team database: a `tsquery` that finds
    /// any of the person's words as a phrase.
    pub fn ts_query(&self) -> Option<String> {
        crate::notes::any_phrase(&self.words)
    }
}

fn starts_with(text: &[char], i: usize, term: &[char]) -> bool {
    text.len() >= i + term.len()
        && text[i..i + term.len()]
            .iter()
            .zip(term)
            .all(|(a, b)| same(*a, *b))
}

/// The length of a phone number written at `i` with the same digits as
/// `digits`, or all of it but a country code (perhaps with a leading trunk
/// 0 instead), spaced with blanks, dashes, dots, slashes or brackets.
fn phone_at(text: &[char], i: usize, digits: &str) -> Option<usize> {
    let first = text[i];
    if !(first.is_ascii_digit() || first == '+' || first == '(') {
        return None;
    }
    if i > 0 && (text[i - 1].is_ascii_digit() || text[i - 1] == '+') {
        return None;
    }
    let mut seen = String::new();
    let mut end = i;
    for (k, &c) in text.iter().enumerate().skip(i) {
        if c.is_ascii_digit() {
            seen.push(c);
            end = k + 1;
        } else if !matches!(c, ' ' | '-' | '.' | '/' | '(' | ')' | '+') {
            break;
        }
        if seen.len() > digits.len() {
            return None;
        }
    }
    // All but a country code of up to three digits must be there.
    let national = seen.trim_start_matches('0');
    let enough = national.len() >= 7 && national.len() + 3 >= digits.len();
    (enough && digits.ends_with(national)).then_some(end - i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_emails_and_phones_are_found_however_written() {
        let zoe = Identity::of(
            "Zoë Ålander",
            Some("zoe.alander@example.org"),
            Some("+46 70 123 45 67"),
        );
        assert_eq!(
            zoe.redact(
                "ZOË ÅLANDER said her number is 070-123 45 67, mail zoe.alander@example.org"
            )
            .as_deref(),
            Some("[erased] said her number is [erased], mail [erased]")
        );
        assert_eq!(zoe.redact("zoë called").as_deref(), Some("[erased] called"));
        assert_eq!(zoe.redact("Zoëlle and Ålanders"), None, "only whole words");
        assert_eq!(
            zoe.redact("ask zoe.alander about it").as_deref(),
            Some("ask [erased] about it")
        );
        assert_eq!(
            zoe.redact("order 1234567 shipped"),
            None,
            "other digits are not her phone"
        );
        assert!(zoe.found_in("+46701234567"));
        assert_eq!(
            zoe.fts_query().unwrap(),
            "\"Zoë\" OR \"Ålander\" OR \"zoe alander example org\""
        );
    }
}
