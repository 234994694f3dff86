//! Parsed participant fields: an [`Email`] that is known good and carries its
//! normalised form, and checks for phone numbers, IANA time zones and
//! language tags. Parse, don't validate: once a value is in one of these
//! types it is known good.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

/// A syntactically valid email address, as entered, with its normalised
/// form for duplicate detection and suppression matching.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    display: String,
    normalised: String,
    hash: String,
}

impl Email {
    /// Parses an address. The rules are the practical subset of RFC 5321 that
    /// mail actually uses: one `@`, a local part of at most 64 characters
    /// with no spaces, quotes or control characters, and a domain of dot-
    /// separated labels with at least one dot.
    pub fn parse(raw: &str) -> Result<Email> {
        let (display, local, domain) = Email::split(raw)?;
        let mut normalised = String::with_capacity(display.len());
        normalise_into(&mut normalised, local, domain);
        let mut hash = String::with_capacity(64);
        push_hash_hex(&mut hash, &normalised);
        Ok(Email {
            display: display.to_string(),
            hash,
            normalised,
        })
    }

    /// Checks an address by the rules of [`Email::parse`]; returns it
    /// trimmed, with its local part and domain.
    pub(crate) fn split(raw: &str) -> Result<(&str, &str, &str)> {
        let s = raw.trim();
        let bad = |reason: &str| Error::invalid("email", raw, reason);
        if s.is_empty() {
            return Err(bad("is empty"));
        }
        if s.len() > 254 {
            return Err(bad("is longer than 254 characters"));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(bad("has no @"));
        };
        if local.is_empty() {
            return Err(bad("has nothing before the @"));
        }
        if local.contains('@') {
            return Err(bad("has more than one @"));
        }
        if local.len() > 64 && local.chars().count() > 64 {
            return Err(bad("has more than 64 characters before the @"));
        }
        if let Some(c) = find_char(local, |c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(
                    c,
                    '"' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '[' | ']' | '\\'
                )
        }) {
            return Err(bad(&format!("has {c:?} before the @")));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(bad("has a misplaced dot before the @"));
        }
        if domain.is_empty() {
            return Err(bad("has nothing after the @"));
        }
        if !domain.contains('.') {
            return Err(bad("has a domain without a dot"));
        }
        for label in domain.split('.') {
            if label.is_empty() {
                return Err(bad("has an empty part in the domain"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(bad("has a domain part that starts or ends with '-'"));
            }
            if let Some(c) = find_char(label, |c| !(c.is_alphanumeric() || c == '-')) {
                return Err(bad(&format!("has {c:?} in the domain")));
            }
        }
        Ok((s, local, domain))
    }

    /// An address from its three stored forms, already known good.
    pub(crate) fn from_stored(display: &str, normalised: &str, hash: &str) -> Email {
        Email {
            display: display.to_string(),
            normalised: normalised.to_string(),
            hash: hash.to_string(),
        }
    }

    /// The address as entered (trimmed).
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The form two addresses of the same mailbox share.
    pub fn normalised(&self) -> &str {
        &self.normalised
    }

    /// SHA-256 of the normalised address, lower-case hex: what suppression
    /// lists store instead of the address.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

/// The first character of `s` for which `bad` holds. ASCII text, which
/// most addresses are, is read a byte at a time instead of decoded.
fn find_char(s: &str, bad: impl Fn(char) -> bool) -> Option<char> {
    if s.is_ascii() {
        s.bytes().map(char::from).find(|&c| bad(c))
    } else {
        s.chars().find(|&c| bad(c))
    }
}

/// Lower-cases the address (mail providers treat local parts case-blind in
/// practice), folds Unicode compatibility forms (fullwidth `ｆｕｌｌ` is
/// `full`: NFKC) and Gmail's ignored dots and `+tags`, the one provider
/// whose aliasing is documented and common in panels. Appended to `out`.
pub(crate) fn normalise_into(out: &mut String, local: &str, domain: &str) {
    let domain: std::borrow::Cow<'_, str> = if domain
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        domain.into()
    } else if domain.is_ascii() {
        domain.to_ascii_lowercase().into()
    } else {
        fold_compatible(domain).into()
    };
    let gmail = matches!(&*domain, "gmail.com" | "googlemail.com");
    if gmail {
        let base = local.split('+').next().unwrap_or_default();
        let start = out.len();
        push_lower_local(out, base);
        if out[start..].contains('.') {
            let kept: String = out[start..].chars().filter(|&c| c != '.').collect();
            out.truncate(start);
            out.push_str(&kept);
        }
        out.push_str("@gmail.com");
    } else {
        push_lower_local(out, local);
        out.push('@');
        out.push_str(&domain);
    }
}

fn push_lower_local(out: &mut String, local: &str) {
    if local.is_ascii() {
        let start = out.len();
        out.push_str(local);
        out[start..].make_ascii_lowercase();
    } else {
        out.push_str(&fold_compatible(local));
    }
}

/// NFKC, lower case, NFKC again (lower-casing can undo a normal form): the
/// one spelling that compatible and differently cased forms share.
fn fold_compatible(s: &str) -> String {
    s.nfkc().flat_map(char::to_lowercase).nfkc().collect()
}

/// SHA-256 of a normalised address.
pub(crate) fn hash_bytes(normalised: &str) -> [u8; 32] {
    Sha256::digest(normalised.as_bytes()).into()
}

/// [`hash_bytes`] in lower-case hex, appended to `out`.
pub(crate) fn push_hash_hex(out: &mut String, normalised: &str) {
    push_hex(out, &hash_bytes(normalised));
}

/// Bytes in lower-case hex, appended to `out`.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
}

pub(crate) fn hash_normalised(normalised: &str) -> String {
    let mut out = String::with_capacity(64);
    push_hash_hex(&mut out, normalised);
    out
}

/// Checks a phone number: digits with the usual separators, an optional
/// leading `+`, and between 5 and 20 digits. It is kept as written.
pub fn parse_phone(raw: &str) -> Result<String> {
    check_phone(raw).map(str::to_string)
}

/// [`parse_phone`] without a copy: the number trimmed.
pub(crate) fn check_phone(raw: &str) -> Result<&str> {
    let s = raw.trim();
    let bad = |reason: &str| Error::invalid("phone", raw, reason);
    if let Some(c) = s
        .chars()
        .enumerate()
        .find(|(i, c)| {
            !(c.is_ascii_digit()
                || matches!(c, ' ' | '-' | '(' | ')' | '.' | '/')
                || (*c == '+' && *i == 0))
        })
        .map(|(_, c)| c)
    {
        return Err(bad(&format!(
            "has {c:?}; use digits, spaces, - ( ) . / and a leading +"
        )));
    }
    let digits = s.chars().filter(|c| c.is_ascii_digit()).count();
    if !(5..=20).contains(&digits) {
        return Err(bad(&format!(
            "has {digits} digits; a phone number has 5 to 20"
        )));
    }
    Ok(s)
}

/// Checks an IANA time zone name (`Europe/Berlin`) and returns its canonical
/// spelling.
pub fn parse_time_zone(raw: &str) -> Result<String> {
    check_time_zone(raw).map(str::to_string)
}

/// [`parse_time_zone`] without a copy.
pub(crate) fn check_time_zone(raw: &str) -> Result<&'static str> {
    crate::TimeZone::parse(raw).map(crate::TimeZone::name)
}

/// Checks a BCP 47 language tag (`en`, `de-AT`, `zh-Hans-CN`) and returns it
/// with conventional casing.
pub fn parse_language(raw: &str) -> Result<String> {
    let mut out = String::new();
    push_language(&mut out, raw)?;
    Ok(out)
}

/// [`parse_language`], appended to `out` (which is left as it was on an
/// error).
pub(crate) fn push_language(out: &mut String, raw: &str) -> Result<()> {
    let start = out.len();
    let result = language_into(out, raw);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn language_into(out: &mut String, raw: &str) -> Result<()> {
    let s = raw.trim();
    let bad = || {
        Error::invalid(
            "language",
            raw,
            "is not a language tag such as en, de-AT or pt-BR",
        )
    };
    let mut parts = s.split(['-', '_']);
    let primary = parts.next().unwrap_or_default();
    if !(2..=3).contains(&primary.len()) || !primary.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(bad());
    }
    let start = out.len();
    out.push_str(primary);
    out[start..].make_ascii_lowercase();
    for part in parts {
        if part.is_empty() || part.len() > 8 || !part.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad());
        }
        out.push('-');
        let at = out.len();
        out.push_str(part);
        match part.len() {
            2 => out[at..].make_ascii_uppercase(),
            4 => {
                out[at..].make_ascii_lowercase();
                out[at..at + 1].make_ascii_uppercase();
            }
            _ => out[at..].make_ascii_lowercase(),
        }
    }
    Ok(())
}

/// Lower-cases and strips accents so `zoe` finds `Zoë` and `lukasz` finds
/// `Łukasz`.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold_into(&mut out, s);
    out
}

/// [`fold`], appended to `out`.
pub fn fold_into(out: &mut String, s: &str) {
    if s.is_ascii() {
        let start = out.len();
        out.push_str(s);
        out[start..].make_ascii_lowercase();
        return;
    }
    for c in s.nfd() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        match c {
            'ł' | 'Ł' => out.push('l'),
            'ø' | 'Ø' => out.push('o'),
            'đ' | 'Đ' => out.push('d'),
            'ß' => out.push_str("ss"),
            c => out.extend(c.to_lowercase()),
        }
    }
}

/// Checks an attribute or tag name: 1 to 64 characters, letters, digits,
/// `_`, `-` and `.`. Names are lower-cased and spaces become `_`, so the CSV
/// header `Age band` is the attribute `age_band`.
pub fn parse_key(field: &str, raw: &str) -> Result<String> {
    let key: String = raw
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect();
    if key.is_empty() || key.chars().count() > 64 {
        return Err(Error::invalid(field, raw, "must have 1 to 64 characters"));
    }
    if let Some(c) = key
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(Error::invalid(
            field,
            raw,
            format!("has {c:?}; use letters, digits, _ - and ."),
        ));
    }
    Ok(key)
}

/// The longest text any one field may hold.
pub const MAX_FIELD_CHARS: usize = 10_000;

/// Checks a free-text field's length and that it holds no control
/// characters other than line breaks and tabs.
pub fn check_text(field: &str, raw: &str) -> Result<String> {
    check_text_ref(field, raw).map(str::to_string)
}

/// [`check_text`] without a copy: the text trimmed.
pub(crate) fn check_text_ref<'a>(field: &str, raw: &'a str) -> Result<&'a str> {
    // A text of at most MAX_FIELD_CHARS bytes has at most that many
    // characters, and one with no control byte has no control character
    // (C1 controls are the two bytes C2 80..C2 9F): the common case is
    // decided without decoding.
    let plain = raw.len() <= MAX_FIELD_CHARS && !has_control_byte(raw.as_bytes());
    if plain {
        return Ok(raw.trim());
    }
    let n = raw.chars().count();
    if n > MAX_FIELD_CHARS {
        return Err(Error::invalid(
            field,
            raw,
            format!("is {n} characters long; the limit is {MAX_FIELD_CHARS}"),
        ));
    }
    if let Some(c) = raw
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::invalid(
            field,
            raw,
            format!("holds the control character {c:?}"),
        ));
    }
    Ok(raw.trim())
}

/// Whether the text may hold a control character other than a line break
/// or a tab.
fn has_control_byte(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(i, &b)| match b {
        b'\n' | b'\r' | b'\t' => false,
        0..0x20 | 0x7f => true,
        0xc2 => matches!(bytes.get(i + 1), Some(0x80..=0x9f)),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_parse_and_normalise() {
        let e = Email::parse("  Anna.Schmidt@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "Anna.Schmidt@Example.COM");
        assert_eq!(e.normalised(), "anna.schmidt@example.com");
        assert_eq!(
            Email::parse("J.Doe+panel@googlemail.com")
                .unwrap()
                .normalised(),
            "jdoe@gmail.com"
        );
        assert_eq!(
            Email::parse("zoë@exämple.de").unwrap().normalised(),
            "zoë@exämple.de"
        );
        for (raw, normalised) in [
            ("Zoë@ExÄmple.DE", "zoë@exämple.de"),
            ("J.Doe+Panel@GMAIL.com", "jdoe@gmail.com"),
            ("Zo\u{65}\u{308}.B@gmail.com", "zo\u{eb}b@gmail.com"),
            ("a.b+c@example.com", "a.b+c@example.com"),
        ] {
            let e = Email::parse(raw).unwrap();
            assert_eq!(e.normalised(), normalised, "{raw}");
            assert_eq!(e.hash(), hash_normalised(normalised));
        }
        assert_eq!(e.hash().len(), 64);
    }

    #[test]
    fn bad_emails_say_why() {
        for (raw, why) in [
            ("", "is empty"),
            ("anna.example.com", "has no @"),
            ("@example.com", "nothing before"),
            ("anna@", "nothing after"),
            ("anna@localhost", "without a dot"),
            ("an na@example.com", "' '"),
            ("anna@exa_mple.com", "'_'"),
            ("anna@example..com", "empty part"),
            ("anna\r\nBcc:evil@example.com", "'\\r' before the @"),
        ] {
            let err = Email::parse(raw).unwrap_err().to_string();
            assert!(err.contains(why), "{raw:?}: {err}");
        }
    }

    #[test]
    fn phones_zones_languages() {
        assert_eq!(parse_phone(" +49 30 1234-567 ").unwrap(), "+49 30 1234-567");
        assert!(parse_phone("call me").is_err());
        assert!(parse_phone("12").is_err());
        assert_eq!(parse_time_zone("europe/berlin").unwrap(), "Europe/Berlin");
        assert!(parse_time_zone("Mars/Olympus").is_err());
        assert_eq!(parse_language("pt_br").unwrap(), "pt-BR");
        assert_eq!(parse_language("zh-hans-cn").unwrap(), "zh-Hans-CN");
        assert!(parse_language("english").is_err());
    }

    #[test]
    fn folding_finds_accented_names() {
        assert_eq!(fold("Zoë Łukasz JOSÉ"), "zoe lukasz jose");
        assert_eq!(
            fold("ДМИТРИЙ"),
            fold("Дмитрий"),
            "the query and the name fold alike"
        );
    }

    #[test]
    fn control_characters_are_found_with_or_without_decoding() {
        for (text, control) in [
            ("tab\tand\r\nbreaks", None),
            ("Zoë Łukasz 王芳 \u{a0}", None),
            ("bell\u{7}", Some('\u{7}')),
            ("del\u{7f}", Some('\u{7f}')),
            ("next line \u{85}", Some('\u{85}')),
            ("csi \u{9b}", Some('\u{9b}')),
        ] {
            let found = check_text_ref("note", text).err().map(|e| e.to_string());
            match control {
                None => assert_eq!(found, None, "{text:?}"),
                Some(c) => assert!(found.unwrap().contains(&format!("{c:?}")), "{text:?}"),
            }
        }
        let long = "x".repeat(MAX_FIELD_CHARS + 1);
        assert!(check_text_ref("note", &long).is_err());
        let wide = "ë".repeat(MAX_FIELD_CHARS);
        assert_eq!(check_text_ref("note", &wide).unwrap(), wide);
    }

    #[test]
    fn keys_are_snake_case() {
        assert_eq!(parse_key("attribute", " Age band ").unwrap(), "age_band");
        assert!(parse_key("attribute", "a=b").is_err());
    }
}
