//! The words of every message: one plain-text and one HTML template per
//! kind (`src/mail/templates/`), rendered with minijinja.
//!
//! HTML templates escape every value (minijinja's auto-escaping for `.html`
//! names), so a participant's name or a note cannot inject markup. Instants
//! are shown in the recipient's own time zone with the `local` filter:
//! `{{ starts_at|local(zone) }}` gives "Tuesday 16 March 2027, 10:00 EDT
//! (America/New_York)". Every context is a typed struct below; a missing
//! field is an error, not a blank.

use super::model::{MessageKind, Rendered};
use crate::{Error, Result};
use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use minijinja::{Environment, UndefinedBehavior, Value};
use serde::Serialize;
use std::sync::OnceLock;

/// A message to render: the kind and what its template needs.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Template {
    Test(TestMail),
    Invitation(Invitation),
    Reminder(Reminder),
    SessionCancelled(SessionCancelled),
    IssueAssigned(IssueAssigned),
    Nudge(Nudge),
    Escalation(Escalation),
    Handoff(Handoff),
    Resolution(Resolution),
    Report(ReportMail),
    WaitlistOffer(Reminder),
    StaffInvitation(StaffInvitation),
    IssueReply(IssueReply),
    /// The owner's own words to the participant, greeted as a resolution is.
    OwnerMessage(Resolution),
}

/// The message `mail test` sends.
#[derive(Debug, Clone, Serialize)]
pub struct TestMail {
    pub sender_name: String,
    pub sent_at: DateTime<Utc>,
    /// The zone the time is shown in (the sender's own).
    pub zone: String,
}

/// An invitation to a session.
#[derive(Debug, Clone, Serialize)]
pub struct Invitation {
    pub participant_name: String,
    pub session_title: String,
    pub study: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The participant's IANA zone.
    pub zone: String,
    pub place: String,
    pub moderator_name: Option<String>,
    pub organiser_name: String,
    /// Where an unsubscribe request goes (also in `List-Unsubscribe`).
    pub unsubscribe_address: String,
    /// The session moved: this replaces an earlier invitation.
    pub updated: bool,
}

/// A reminder before a session.
#[derive(Debug, Clone, Serialize)]
pub struct Reminder {
    pub participant_name: String,
    pub session_title: String,
    pub starts_at: DateTime<Utc>,
    pub zone: String,
    pub place: String,
    pub organiser_name: String,
}

/// A session was cancelled.
#[derive(Debug, Clone, Serialize)]
pub struct SessionCancelled {
    pub participant_name: String,
    pub session_title: String,
    pub starts_at: DateTime<Utc>,
    pub zone: String,
    pub reason: Option<String>,
    pub organiser_name: String,
}

/// How to reach the participant an issue is about.
#[derive(Debug, Clone, Serialize)]
pub struct ParticipantContact {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub zone: Option<String>,
}

/// A note around the one an issue came from.
#[derive(Debug, Clone, Serialize)]
pub struct NoteLine {
    /// Offset from the session's start, "00:42:10".
    pub offset: String,
    pub text: String,
    /// The note the issue was raised from.
    pub source: bool,
}

/// An issue handed to its owner.
#[derive(Debug, Clone, Serialize)]
pub struct IssueAssigned {
    pub owner_name: String,
    pub session_title: String,
    pub summary: String,
    pub detail: Option<String>,
    pub severity: String,
    pub participant: ParticipantContact,
    pub notes: Vec<NoteLine>,
    pub first_contact_due: Option<DateTime<Utc>>,
    pub resolution_due: Option<DateTime<Utc>>,
    /// The owner's zone.
    pub zone: String,
    /// The issue on the team server, when it has an address.
    pub link: Option<String>,
}

/// A due time is near.
#[derive(Debug, Clone, Serialize)]
pub struct Nudge {
    pub owner_name: String,
    pub summary: String,
    pub participant_name: String,
    /// "first contact" or "resolution".
    pub due_what: String,
    pub due_at: DateTime<Utc>,
    pub zone: String,
    /// The issue on the team server, when it has an address.
    pub link: Option<String>,
}

/// A due time has passed.
#[derive(Debug, Clone, Serialize)]
pub struct Escalation {
    pub recipient_name: String,
    /// Empty when nobody owns the issue yet.
    pub owner_name: String,
    pub summary: String,
    pub participant_name: String,
    pub due_what: String,
    pub due_at: DateTime<Utc>,
    pub zone: String,
    /// The issue on the team server, when it has an address.
    pub link: Option<String>,
}

/// The participant is told who has their issue now.
#[derive(Debug, Clone, Serialize)]
pub struct Handoff {
    pub participant_name: String,
    pub summary: String,
    pub new_owner_name: String,
    pub new_owner_email: String,
}

/// The participant is told how their issue was resolved.
#[derive(Debug, Clone, Serialize)]
pub struct Resolution {
    pub participant_name: String,
    pub summary: String,
    pub resolution: String,
    pub owner_name: String,
    /// The owner's message opens with its own greeting ("Hi Mateo,"): the
    /// mail then starts with it instead of greeting twice.
    pub greets: bool,
}

/// A PDF report, attached.
#[derive(Debug, Clone, Serialize)]
pub struct ReportMail {
    pub recipient_name: String,
    pub title: String,
    pub pages: u32,
    pub sender_name: String,
    /// A line from the sender, may be empty.
    pub message: String,
}

/// A participant's reply about their issue, for its owner.
#[derive(Debug, Clone, Serialize)]
pub struct IssueReply {
    pub owner_name: String,
    pub participant_name: String,
    pub issue_id: i64,
    pub summary: String,
    /// What they wrote, the quoted history folded away.
    pub reply: String,
    /// The reply reopened the issue (it had been resolved).
    pub reopened: bool,
    /// Only a thank-you to a resolved issue: the owner may close it.
    pub thanks: bool,
    /// The issue on the team server, when it has an address.
    pub link: Option<String>,
}

/// A staff member invited to the team server.
#[derive(Debug, Clone, Serialize)]
pub struct StaffInvitation {
    pub name: String,
    /// Who invited them.
    pub inviter_name: String,
    /// Where they set their password: once, until `expires_at`.
    pub link: String,
    pub server: String,
    pub expires_at: DateTime<Utc>,
    pub zone: String,
}

impl Template {
    /// The kind of message this renders.
    pub fn kind(&self) -> MessageKind {
        match self {
            Template::Test(_) => MessageKind::Test,
            Template::Invitation(_) => MessageKind::Invitation,
            Template::Reminder(_) => MessageKind::Reminder,
            Template::SessionCancelled(_) => MessageKind::SessionCancelled,
            Template::IssueAssigned(_) => MessageKind::IssueAssigned,
            Template::Nudge(_) => MessageKind::Nudge,
            Template::Escalation(_) => MessageKind::Escalation,
            Template::Handoff(_) => MessageKind::Handoff,
            Template::Resolution(_) => MessageKind::Resolution,
            Template::Report(_) => MessageKind::Report,
            Template::WaitlistOffer(_) => MessageKind::WaitlistOffer,
            Template::StaffInvitation(_) => MessageKind::StaffInvitation,
            Template::IssueReply(_) => MessageKind::IssueReply,
            Template::OwnerMessage(_) => MessageKind::OwnerMessage,
        }
    }
}

/// (kind, subject, text body, HTML body)
const TEMPLATES: [(MessageKind, &str, &str, &str); 14] = [
    (
        MessageKind::Test,
        "Panelkeeper test message",
        include_str!("templates/test.txt"),
        include_str!("templates/test.html"),
    ),
    (
        MessageKind::Invitation,
        "{% if updated %}Updated invitation{% else %}Invitation{% endif %}: {{ session_title }}, {{ starts_at|local(zone, \"date\") }}",
        include_str!("templates/invitation.txt"),
        include_str!("templates/invitation.html"),
    ),
    (
        MessageKind::Reminder,
        "Reminder: {{ session_title }}, {{ starts_at|local(zone, \"short\") }}",
        include_str!("templates/reminder.txt"),
        include_str!("templates/reminder.html"),
    ),
    (
        MessageKind::SessionCancelled,
        "Cancelled: {{ session_title }}, {{ starts_at|local(zone, \"date\") }}",
        include_str!("templates/session_cancelled.txt"),
        include_str!("templates/session_cancelled.html"),
    ),
    (
        MessageKind::IssueAssigned,
        "Yours to follow up: {{ summary }} ({{ participant.name }})",
        include_str!("templates/issue_assigned.txt"),
        include_str!("templates/issue_assigned.html"),
    ),
    (
        MessageKind::Nudge,
        "Due {{ due_at|local(zone, \"short\") }}: {{ summary }}",
        include_str!("templates/nudge.txt"),
        include_str!("templates/nudge.html"),
    ),
    (
        MessageKind::Escalation,
        "Overdue: {{ summary }} ({% if owner_name %}{{ owner_name }}{% else %}no owner yet{% endif %})",
        include_str!("templates/escalation.txt"),
        include_str!("templates/escalation.html"),
    ),
    (
        MessageKind::Handoff,
        "{{ new_owner_name }} now looks after: {{ summary }}",
        include_str!("templates/handoff.txt"),
        include_str!("templates/handoff.html"),
    ),
    (
        MessageKind::Resolution,
        "Resolved: {{ summary }}",
        include_str!("templates/resolution.txt"),
        include_str!("templates/resolution.html"),
    ),
    (
        MessageKind::Report,
        "Report: {{ title }}",
        include_str!("templates/report.txt"),
        include_str!("templates/report.html"),
    ),
    (
        MessageKind::WaitlistOffer,
        "A place for you: {{ session_title }}, {{ starts_at|local(zone, \"short\") }}",
        include_str!("templates/waitlist_offer.txt"),
        include_str!("templates/waitlist_offer.html"),
    ),
    (
        MessageKind::StaffInvitation,
        "{{ inviter_name }} invites you to Panelkeeper",
        include_str!("templates/staff_invitation.txt"),
        include_str!("templates/staff_invitation.html"),
    ),
    (
        MessageKind::IssueReply,
        "{{ participant_name }} replied on #{{ issue_id }}: {{ summary }} [#{{ issue_id }}]",
        include_str!("templates/issue_reply.txt"),
        include_str!("templates/issue_reply.html"),
    ),
    (
        MessageKind::OwnerMessage,
        "About {{ summary }}",
        include_str!("templates/owner_message.txt"),
        include_str!("templates/owner_message.html"),
    ),
];

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_keep_trailing_newline(true);
        env.add_filter("local", local);
        env.add_template("layout.html", include_str!("templates/layout.html"))
            .expect("layout template parses");
        for (kind, subject, text, html) in TEMPLATES {
            let k = kind.as_str();
            env.add_template_owned(format!("{k}.subject"), subject)
                .expect("subject template parses");
            env.add_template_owned(format!("{k}.txt"), text)
                .expect("text template parses");
            env.add_template_owned(format!("{k}.html"), html)
                .expect("HTML template parses");
        }
        env
    })
}

/// `instant|local(zone[, style])`: the instant in `zone`, with the zone named.
/// Styles: full (default), "date", "short" (date and time), "time".
fn local(value: Value, zone: String, style: Option<String>) -> Result<String, minijinja::Error> {
    let bad = |what: String| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, what);
    let text = value
        .as_str()
        .ok_or_else(|| bad(format!("{value} is not an instant")))?;
    let at = DateTime::parse_from_rfc3339(text).map_err(|e| bad(format!("{text}: {e}")))?;
    let tz: Tz = zone
        .parse()
        .map_err(|_| bad(format!("{zone} is not an IANA time zone")))?;
    let t = at.with_timezone(&tz);
    let [full, date, short, time] = styles();
    let shown = |items: &[Item<'static>]| t.format_with_items(items.iter()).to_string();
    Ok(match style.as_deref().unwrap_or("full") {
        "date" => shown(date),
        "short" => shown(short),
        "time" => shown(time),
        _ => format!("{} ({zone})", shown(full)),
    })
}

/// The `local` filter's styles (full, date, short, time), parsed once: a
/// tick renders two dates in each of its messages.
fn styles() -> &'static [Vec<Item<'static>>; 4] {
    static STYLES: OnceLock<[Vec<Item<'static>>; 4]> = OnceLock::new();
    STYLES.get_or_init(|| {
        [
            "%A %-d %B %Y, %H:%M %Z",
            "%A %-d %B %Y",
            "%a %-d %b, %H:%M %Z",
            "%H:%M %Z",
        ]
        .map(|f| {
            StrftimeItems::new(f)
                .parse_to_owned()
                .expect("date formats parse")
        })
    })
}

/// Renders the subject and both bodies of `template`.
pub fn render(template: &Template) -> Result<Rendered> {
    let env = environment();
    let kind = template.kind().as_str();
    let failed = |e: minijinja::Error| {
        Error::invalid(
            "message template",
            kind,
            format!("could not be rendered: {e:#}"),
        )
    };
    // The template's values, made once for the subject and both bodies.
    let values = Value::from_serialize(template);
    let render = |name: String| -> Result<String> {
        env.get_template(&name)
            .and_then(|t| t.render(&values))
            .map_err(failed)
    };
    Ok(Rendered {
        subject: super::header_text(&render(format!("{kind}.subject"))?),
        text: render(format!("{kind}.txt"))?,
        html: render(format!("{kind}.html"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn every_kind() -> Vec<Template> {
        let start = at("2027-03-16T14:00:00Z");
        let contact = ParticipantContact {
            name: "Zoë <b>Ålander</b>".into(),
            email: "zoe@example.org".into(),
            phone: Some("+1 212 555 0100".into()),
            zone: Some("America/New_York".into()),
        };
        vec![
            Template::Test(TestMail {
                sender_name: "Research team".into(),
                sent_at: start,
                zone: "Europe/Paris".into(),
            }),
            Template::Invitation(Invitation {
                participant_name: "Zoë <b>Ålander</b>".into(),
                session_title: "Checkout & returns".into(),
                study: Some("Retail 2027".into()),
                starts_at: start,
                ends_at: start + chrono::Duration::minutes(90),
                zone: "America/New_York".into(),
                place: "Room 4".into(),
                moderator_name: Some("Ana".into()),
                organiser_name: "Research team".into(),
                unsubscribe_address: "research@example.com".into(),
                updated: false,
            }),
            Template::Reminder(Reminder {
                participant_name: "Zoë".into(),
                session_title: "Checkout".into(),
                starts_at: start,
                zone: "Asia/Tokyo".into(),
                place: "Video".into(),
                organiser_name: "Research team".into(),
            }),
            Template::SessionCancelled(SessionCancelled {
                participant_name: "Zoë".into(),
                session_title: "Checkout".into(),
                starts_at: start,
                zone: "Europe/London".into(),
                reason: None,
                organiser_name: "Research team".into(),
            }),
            Template::IssueAssigned(IssueAssigned {
                owner_name: "Sam".into(),
                session_title: "Checkout".into(),
                summary: "Refund <script>alert(1)</script> never arrived".into(),
                detail: None,
                severity: "high".into(),
                participant: contact,
                notes: vec![
                    NoteLine {
                        offset: "00:41:02".into(),
                        text: "Talks about returns".into(),
                        source: false,
                    },
                    NoteLine {
                        offset: "00:42:10".into(),
                        text: "My refund never came".into(),
                        source: true,
                    },
                ],
                first_contact_due: Some(start),
                resolution_due: None,
                zone: "Europe/Berlin".into(),
                link: Some("https://panel.example.com/issues/42?a=1&b=<2>".into()),
            }),
            Template::Nudge(Nudge {
                owner_name: "Sam".into(),
                summary: "Refund".into(),
                participant_name: "Zoë".into(),
                due_what: "first contact".into(),
                due_at: start,
                zone: "Europe/Berlin".into(),
                link: None,
            }),
            Template::Escalation(Escalation {
                recipient_name: "Lee".into(),
                owner_name: "Sam".into(),
                summary: "Refund".into(),
                participant_name: "Zoë".into(),
                due_what: "resolution".into(),
                due_at: start,
                zone: "Europe/Berlin".into(),
                link: None,
            }),
            Template::Handoff(Handoff {
                participant_name: "Zoë".into(),
                summary: "Refund".into(),
                new_owner_name: "Kim".into(),
                new_owner_email: "kim@example.com".into(),
            }),
            Template::Resolution(Resolution {
                participant_name: "Zoë".into(),
                summary: "Refund".into(),
                resolution: "The refund was sent today.".into(),
                owner_name: "Kim".into(),
                greets: false,
            }),
            Template::Report(ReportMail {
                recipient_name: "Dana".into(),
                title: "Paying at the till".into(),
                pages: 3,
                sender_name: "Ana".into(),
                message: "As promised.".into(),
            }),
            Template::WaitlistOffer(Reminder {
                participant_name: "Zoë".into(),
                session_title: "Checkout".into(),
                starts_at: start,
                zone: "Europe/Berlin".into(),
                place: "Room 4".into(),
                organiser_name: "Research team".into(),
            }),
            Template::StaffInvitation(StaffInvitation {
                name: "Kim".into(),
                inviter_name: "Ada".into(),
                link: "https://panel.example.com/set-password#abc".into(),
                server: "https://panel.example.com".into(),
                expires_at: start,
                zone: "Europe/Berlin".into(),
            }),
            Template::OwnerMessage(Resolution {
                participant_name: "Zoë".into(),
                summary: "Parcel lost".into(),
                resolution: "Could you send me the tracking number?".into(),
                owner_name: "Ada".into(),
                greets: false,
            }),
            Template::IssueReply(IssueReply {
                owner_name: "Ada".into(),
                participant_name: "Zoë".into(),
                issue_id: 42,
                summary: "Parcel lost".into(),
                reply: "It still has not arrived.".into(),
                reopened: true,
                thanks: false,
                link: None,
            }),
        ]
    }

    #[test]
    fn a_resolution_that_greets_is_not_greeted_twice() {
        let mail = |resolution: &str, greets| {
            render(&Template::Resolution(Resolution {
                participant_name: "Mateo Kowalski".into(),
                summary: "Parcel lost".into(),
                resolution: resolution.into(),
                owner_name: "Kim".into(),
                greets,
            }))
            .unwrap()
        };
        let own = mail("Hi Mateo,\n\nThe parcel is on its way.", true);
        assert!(own.text.starts_with("Hi Mateo,"), "{}", own.text);
        assert!(!own.text.contains("Dear") && !own.html.contains("Dear"));
        // It still says which issue it answers.
        assert!(
            own.text.contains("This is about \"Parcel lost\""),
            "{}",
            own.text
        );
        assert!(own.html.contains("This is about &ldquo;Parcel lost&rdquo;"));
        assert!(own.text.ends_with("Kim\n"), "{:?}", own.text);
        let plain = mail("The parcel is on its way.", false);
        assert!(
            plain
                .text
                .starts_with("Dear Mateo Kowalski,\n\nAbout \"Parcel lost\"")
        );
        assert!(plain.html.contains("<p>Dear Mateo Kowalski,</p>"));
    }

    #[test]
    fn an_escalation_for_an_issue_nobody_owns_says_so() {
        let r = render(&Template::Escalation(Escalation {
            recipient_name: "Ana".into(),
            owner_name: String::new(),
            summary: "Refund".into(),
            participant_name: "Zoë".into(),
            due_what: "first contact".into(),
            due_at: Utc::now(),
            zone: "UTC".into(),
            link: None,
        }))
        .unwrap();
        assert_eq!(r.subject, "Overdue: Refund (no owner yet)");
        assert!(r.text.contains("nobody owns it yet"), "{}", r.text);
    }

    #[test]
    fn every_kind_renders_both_bodies() {
        let all = every_kind();
        assert_eq!(all.len(), MessageKind::ALL.len());
        for t in &all {
            let r = render(t).unwrap_or_else(|e| panic!("{:?}: {e}", t.kind()));
            assert!(
                !r.subject.is_empty() && !r.text.is_empty(),
                "{:?}",
                t.kind()
            );
            assert!(r.html.starts_with("<!DOCTYPE html>"), "{:?}", t.kind());
            assert!(
                !r.html.contains("{{") && !r.text.contains("{{"),
                "{:?}",
                t.kind()
            );
        }
    }

    #[test]
    fn every_greeting_is_followed_by_a_blank_line() {
        for (k, t) in every_kind().iter().enumerate() {
            let text = render(t).unwrap().text;
            let first = text.lines().next().unwrap();
            assert!(first.ends_with(','), "kind {k}: {first:?}");
            assert!(
                text[first.len()..].starts_with("\n\n")
                    && !text[first.len()..].starts_with("\n\n\n"),
                "kind {k}: no single blank line after the greeting:\n{text}"
            );
        }
        if let Template::Invitation(mut i) = every_kind().remove(1) {
            i.updated = true;
            let text = render(&Template::Invitation(i)).unwrap().text;
            assert!(
                text.contains(",\n\nThe time or place")
                    && text.contains("earlier one.\n\nYou are invited"),
                "{text}"
            );
        }
    }

    #[test]
    fn times_are_shown_in_the_recipients_zone_with_the_zone_named() {
        let all = every_kind();
        let invite = render(&all[1]).unwrap();
        // 14:00 UTC on 16 March 2027 is 10:00 EDT (New York is on summer time from 14 March).
        assert!(
            invite
                .text
                .contains("Tuesday 16 March 2027, 10:00 EDT (America/New_York) to 11:30 EDT"),
            "{}",
            invite.text
        );
        assert_eq!(
            invite.subject,
            "Invitation: Checkout & returns, Tuesday 16 March 2027"
        );
        let reminder = render(&all[2]).unwrap();
        assert!(
            reminder
                .text
                .contains("Tuesday 16 March 2027, 23:00 JST (Asia/Tokyo)"),
            "{}",
            reminder.text
        );
        let winter = Template::Reminder(Reminder {
            starts_at: Utc.with_ymd_and_hms(2027, 1, 12, 14, 0, 0).unwrap(),
            zone: "America/New_York".into(),
            ..match &all[2] {
                Template::Reminder(r) => r.clone(),
                _ => unreachable!(),
            }
        });
        assert!(
            render(&winter)
                .unwrap()
                .text
                .contains("09:00 EST (America/New_York)")
        );
    }

    #[test]
    fn user_text_is_escaped_in_html_and_kept_in_text() {
        let all = every_kind();
        let invite = render(&all[1]).unwrap();
        assert!(
            invite.html.contains("Zoë &lt;b&gt;Ålander&lt;&#x2f;b&gt;"),
            "{}",
            invite.html
        );
        assert!(invite.html.contains("Checkout &amp; returns"));
        assert!(invite.text.contains("Dear Zoë <b>Ålander</b>,"));
        let assigned = render(&all[4]).unwrap();
        assert!(!assigned.html.contains("<script>"));
        assert!(assigned.text.contains("My refund never came"));
    }

    #[test]
    fn a_subject_is_one_line_whatever_the_values_hold() {
        let t = Template::Handoff(Handoff {
            participant_name: "Zoë".into(),
            summary: "Refund\r\nBcc: everyone@example.com".into(),
            new_owner_name: "Kim".into(),
            new_owner_email: "kim@example.com".into(),
        });
        let r = render(&t).unwrap();
        assert!(
            !r.subject.contains('\n') && !r.subject.contains('\r'),
            "{:?}",
            r.subject
        );
    }
}
