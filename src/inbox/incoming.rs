//! What an incoming message is, read from its MIME alone: who sent it, what
//! it answers (its threading headers and a `[#42]` in the subject), its
//! text with the quoted history folded away, and whether it is an
//! automatic reply, a calendar answer (iTIP `METHOD:REPLY`), a request to
//! unsubscribe or a report of a permanent delivery failure. Pure: nothing
//! here reads or writes the record.

use chrono::{DateTime, Utc};
use mail_parser::{MessageParser, MimeHeaders, PartType};

/// A calendar program's answer to an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CalendarAnswer {
    Accepted,
    Declined,
    Tentative,
}

/// An iTIP REPLY: who answered which event, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CalendarReply {
    /// The event's UID, as the invitation gave it.
    pub uid: String,
    /// The attendee's address, lower case.
    pub attendee: String,
    pub answer: CalendarAnswer,
}

/// One message as read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Incoming {
    /// Its own Message-ID, without the angle brackets.
    pub message_id: Option<String>,
    /// The sender's address, lower case.
    pub from_address: String,
    pub from_name: String,
    pub subject: String,
    pub sent_at: Option<DateTime<Utc>>,
    /// The Message-IDs it answers: `In-Reply-To` first, then `References`
    /// from the most recent.
    pub answers: Vec<String>,
    /// Every address it was sent to (To, Cc, Delivered-To), lower case.
    pub recipients: Vec<String>,
    /// The issue a `[#42]` in the subject names.
    pub issue_in_subject: Option<i64>,
    /// The whole text as sent (an HTML-only message as text).
    pub original: String,
    /// The text with quoted history and the signature folded away.
    pub reply: String,
    /// An automatic message: an out-of-office reply, a list, a bounce.
    pub automatic: bool,
    pub calendar: Option<CalendarReply>,
    /// The addresses a delivery status notification reports as failed for
    /// good (lower case); `None` when it is no such report.
    pub bounced: Option<Vec<String>>,
    /// A request to stop mail ("unsubscribe" as the subject, as the
    /// `List-Unsubscribe` link writes it).
    pub unsubscribe: bool,
}

/// Reads `raw`; `None` when it is not a mail message at all.
pub(crate) fn read(raw: &[u8]) -> Option<Incoming> {
    let message = MessageParser::default().parse(raw)?;
    let from = message.from().and_then(|a| a.first());
    let subject = message.subject().unwrap_or_default().trim().to_string();
    let mut answers: Vec<String> = Vec::new();
    for value in [message.in_reply_to(), message.references()] {
        let ids: Vec<String> = match (value.as_text(), value.as_text_list()) {
            (Some(one), _) => vec![one.to_string()],
            (_, Some(many)) => many.iter().rev().map(|s| s.to_string()).collect(),
            _ => Vec::new(),
        };
        for id in ids {
            let id = id.trim().trim_matches(['<', '>']).to_string();
            if !id.is_empty() && !answers.contains(&id) {
                answers.push(id);
            }
        }
    }
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    let report = message
        .content_type()
        .filter(|c| {
            c.ctype().eq_ignore_ascii_case("multipart")
                && c.subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
                && c.attribute("report-type")
                    .is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"))
        })
        .is_some();
    let bounced = report.then(|| failed_recipients(&String::from_utf8_lossy(raw)));
    let automatic = report
        || header("auto-submitted").is_some_and(|v| !v.starts_with("no"))
        || header("x-autoreply").is_some()
        || header("x-autorespond").is_some()
        || header("precedence")
            .is_some_and(|v| matches!(v.as_str(), "bulk" | "auto_reply" | "list" | "junk"))
        || is_out_of_office(&subject);
    let original = message
        .body_text(0)
        .map(|t| t.replace("\r\n", "\n"))
        .unwrap_or_default();
    let calendar = message.parts.iter().find_map(|part| {
        let c = part.content_type()?;
        let is_calendar = (c.ctype().eq_ignore_ascii_case("text")
            && c.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("calendar")))
            || (c.ctype().eq_ignore_ascii_case("application")
                && c.subtype().is_some_and(|s| s.eq_ignore_ascii_case("ics")));
        if !is_calendar {
            return None;
        }
        let text = match &part.body {
            PartType::Text(t) | PartType::Html(t) => t.to_string(),
            PartType::Binary(b) | PartType::InlineBinary(b) => {
                String::from_utf8_lossy(b).into_owned()
            }
            _ => return None,
        };
        calendar_reply(&text)
    });
    let mut recipients: Vec<String> = message
        .to()
        .into_iter()
        .chain(message.cc())
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address.as_deref())
        .map(str::to_lowercase)
        .collect();
    for name in ["Delivered-To", "X-Original-To"] {
        if let Some(v) = message.header_raw(name) {
            recipients.push(v.trim().trim_matches(['<', '>']).to_lowercase());
        }
    }
    Some(Incoming {
        recipients,
        message_id: message
            .message_id()
            .map(|m| m.trim_matches(['<', '>']).to_string()),
        from_address: from
            .and_then(|a| a.address.as_deref())
            .unwrap_or_default()
            .trim()
            .to_lowercase(),
        from_name: from
            .and_then(|a| a.name.as_deref())
            .unwrap_or_default()
            .trim()
            .to_string(),
        sent_at: message
            .date()
            .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0)),
        answers,
        issue_in_subject: issue_in_subject(&subject),
        unsubscribe: without_prefixes(&subject).eq_ignore_ascii_case("unsubscribe"),
        reply: fold_quoted(&original),
        original,
        automatic,
        calendar,
        bounced,
        subject,
    })
}

/// The subject without the `Re:`/`Fwd:` prefixes mail programs add, in the
/// languages they add them in.
pub(crate) fn without_prefixes(subject: &str) -> &str {
    const PREFIXES: [&str; 12] = [
        "re:", "aw:", "sv:", "vs:", "antw:", "réf:", "ref:", "fwd:", "fw:", "wg:", "tr:", "rv:",
    ];
    let mut s = subject.trim();
    loop {
        let lower = s.to_lowercase();
        match PREFIXES.iter().find(|p| lower.starts_with(*p)) {
            // A letter whose lower case is longer could shift the cut.
            Some(p) if s.is_char_boundary(p.len()) => s = s[p.len()..].trim_start(),
            Some(_) => return s,
            None => return s,
        }
    }
}

/// `[#42]` anywhere in the subject.
fn issue_in_subject(subject: &str) -> Option<i64> {
    let start = subject.find("[#")? + 2;
    let rest = &subject[start..];
    let end = rest.find(']')?;
    rest[..end].parse().ok().filter(|n| *n > 0)
}

fn is_out_of_office(subject: &str) -> bool {
    const MARKS: [&str; 9] = [
        "out of office",
        "out of the office",
        "automatic reply",
        "auto reply",
        "autoreply",
        "auto:",
        "abwesenheitsnotiz",
        "réponse automatique",
        "automatisk svar",
    ];
    let lower = subject.to_lowercase();
    MARKS.iter().any(|m| lower.contains(m))
}

/// The text a person wrote, without the history their mail program quoted
/// below it or the signature: everything from the first line that opens a
/// quotation (`On … wrote:`, `-----Original Message-----`, Outlook's
/// `From:` block or rule, a `>` line) is folded away.
pub(crate) fn fold_quoted(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        let lower = t.to_lowercase();
        let opens = t.starts_with('>')
            || t == "--"
            || t == "-- "
            || lower.starts_with("-----original message-----")
            || lower.starts_with("-----ursprüngliche nachricht-----")
            || lower.starts_with("---------- forwarded message")
            || (t.starts_with("________") && t.chars().all(|c| c == '_'))
            || ((lower.starts_with("from:")
                || lower.starts_with("von:")
                || lower.starts_with("de :"))
                && lines[i + 1..].iter().take(4).any(|l| {
                    let l = l.trim().to_lowercase();
                    l.starts_with("sent:")
                        || l.starts_with("date:")
                        || l.starts_with("gesendet:")
                        || l.starts_with("subject:")
                        || l.starts_with("to:")
                }))
            || attribution(&lines, i);
        if opens {
            end = i;
            break;
        }
    }
    lines[..end].join("\n").trim().to_string()
}

/// `On Tue, 3 Dec 2026 at 10:00, Ana <ana@…> wrote:`, which mail programs
/// may wrap over two lines; and its German, French and Swedish forms.
fn attribution(lines: &[&str], i: usize) -> bool {
    let line = lines[i].trim().to_lowercase();
    let joined = match lines.get(i + 1) {
        Some(next) => format!("{line} {}", next.trim().to_lowercase()),
        None => line.clone(),
    };
    let opens = ["on ", "am ", "le ", "den ", "el "]
        .iter()
        .any(|p| line.starts_with(p));
    let closes = |s: &str| {
        [
            "wrote:",
            "schrieb:",
            "a écrit :",
            "a écrit:",
            "skrev:",
            "escribió:",
        ]
        .iter()
        .any(|w| s.ends_with(w))
    };
    opens && (closes(&line) || closes(&joined))
}

/// The ATTENDEE of a `METHOD:REPLY` calendar and what it answered.
pub(crate) fn calendar_reply(text: &str) -> Option<CalendarReply> {
    // Long lines are folded onto lines that start with a space or a tab.
    let mut lines: Vec<String> = Vec::new();
    for raw in text.lines() {
        match raw.strip_prefix([' ', '\t']) {
            Some(rest) if !lines.is_empty() => lines.last_mut()?.push_str(rest),
            _ => lines.push(raw.trim_end_matches('\r').to_string()),
        }
    }
    let value = |line: &str, name: &str| -> Option<String> {
        let upper = line.to_ascii_uppercase();
        (upper.starts_with(&format!("{name}:")) || upper.starts_with(&format!("{name};")))
            .then(|| line.split_once(':').map(|(_, v)| v.trim().to_string()))
            .flatten()
    };
    let method = lines.iter().find_map(|l| value(l, "METHOD"))?;
    if !method.eq_ignore_ascii_case("REPLY") {
        return None;
    }
    let mut in_event = false;
    let (mut uid, mut attendee) = (None, None);
    for line in &lines {
        let upper = line.to_ascii_uppercase();
        if upper == "BEGIN:VEVENT" {
            in_event = true;
        } else if upper == "END:VEVENT" {
            break;
        } else if in_event && uid.is_none() && upper.starts_with("UID") {
            uid = value(line, "UID");
        } else if in_event && attendee.is_none() && upper.starts_with("ATTENDEE") {
            // ATTENDEE;PARTSTAT=ACCEPTED;CN="Zoë":mailto:zoe@example.com
            let at = upper.find(":MAILTO:")?;
            let address = line[at + ":MAILTO:".len()..].trim().to_lowercase();
            let params = &upper[..at];
            let answer = params.split(';').find_map(|p| {
                match p.strip_prefix("PARTSTAT=")?.trim_matches('"') {
                    "ACCEPTED" => Some(CalendarAnswer::Accepted),
                    "DECLINED" => Some(CalendarAnswer::Declined),
                    "TENTATIVE" => Some(CalendarAnswer::Tentative),
                    _ => None,
                }
            });
            attendee = answer.map(|a| (address, a));
        }
    }
    let (attendee, answer) = attendee?;
    Some(CalendarReply {
        uid: uid?,
        attendee,
        answer,
    })
}

/// The recipients a delivery status report (RFC 3464) says failed for
/// good: `Action: failed` with a `5.x.x` status.
fn failed_recipients(raw: &str) -> Vec<String> {
    let mut failed = Vec::new();
    let mut current: Option<String> = None;
    let (mut action, mut status) = (String::new(), String::new());
    let mut close = |who: &mut Option<String>, action: &mut String, status: &mut String| {
        if let Some(who) = who.take()
            && action.eq_ignore_ascii_case("failed")
            && status.starts_with('5')
            && !failed.contains(&who)
        {
            failed.push(who);
        }
        action.clear();
        status.clear();
    };
    for line in raw.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "final-recipient" => {
                close(&mut current, &mut action, &mut status);
                let address = value.rsplit(';').next().unwrap_or(value);
                current = Some(address.trim().trim_matches(['<', '>']).to_lowercase());
            }
            "action" if current.is_some() => action = value.to_string(),
            "status" if current.is_some() => {
                status = value.split_whitespace().next().unwrap_or("").to_string()
            }
            _ => {}
        }
    }
    close(&mut current, &mut action, &mut status);
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_a_mail_program_quotes_is_folded_away() {
        let gmail = "It still does not work.\n\nOn Tue, 1 Dec 2026 at 10:00, Ana Lima <ana@x.example>\nwrote:\n> We fixed it.\n";
        assert_eq!(fold_quoted(gmail), "It still does not work.");
        let outlook = "Still broken.\r\n\r\n________________________________\r\nFrom: Ana\r\nSent: Tuesday\r\n";
        assert_eq!(fold_quoted(&outlook.replace("\r\n", "\n")), "Still broken.");
        let original = "Nope.\n-----Original Message-----\nFrom: Ana";
        assert_eq!(fold_quoted(original), "Nope.");
        let signed = "Thanks!\n-- \nZoë";
        assert_eq!(fold_quoted(signed), "Thanks!");
        assert_eq!(
            fold_quoted("Plain text, nothing quoted."),
            "Plain text, nothing quoted."
        );
    }

    #[test]
    fn prefixes_in_several_languages_are_taken_off() {
        assert_eq!(
            without_prefixes("Re: AW: SV: Your issue [#42]"),
            "Your issue [#42]"
        );
        assert_eq!(issue_in_subject("AW: Ihr Anliegen [#42]"), Some(42));
        assert_eq!(issue_in_subject("Ticket [#abc]"), None);
        assert_eq!(issue_in_subject("no number"), None);
    }

    #[test]
    fn a_calendar_reply_names_its_event_attendee_and_answer() {
        let ics = "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:session-7@panel\r\nATTENDEE;PARTSTAT=DECLINED;CN=\"Zo\r\n ë\":mailto:Zoe@Example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert_eq!(
            calendar_reply(ics),
            Some(CalendarReply {
                uid: "session-7@panel".into(),
                attendee: "zoe@example.com".into(),
                answer: CalendarAnswer::Declined,
            })
        );
        assert_eq!(
            calendar_reply(&ics.replace("METHOD:REPLY", "METHOD:REQUEST")),
            None
        );
    }

    #[test]
    fn only_permanent_failures_count_as_bounces() {
        let report = "Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; gone@x.example\nAction: failed\nStatus: 5.1.1\n\nFinal-Recipient: rfc822; <busy@x.example>\nAction: delayed\nStatus: 4.2.2\n";
        assert_eq!(
            failed_recipients(report),
            vec!["gone@x.example".to_string()]
        );
    }
}
