//! A participant's whole story on one page, newest first: invitations,
//! answers and attendance (each naming its session), the notes attributed
//! to them, the issues they raised with their status and owner, the mail
//! sent to them and received from them, the consents they gave, and the
//! day they opted out. Each entry carries the ids the app links to.
//!
//! [`assemble`] orders what the domains hold; [`for_participant`] reads it
//! through each domain's own functions, so the page and the domains never
//! disagree about what a record says.

use super::consent::{self, Consent};
use super::history::{self, Contact, ContactKind};
use super::{Participant, ParticipantId};
use crate::inbox::{self, InboxKind, InboxMessage};
use crate::issues::{self, Issue, IssueId, IssueQuery, IssueStatus};
use crate::mail::{self, MessageId, MessageKind, OutboxMessage, Status};
use crate::notes::{self, Note, NoteId};
use crate::sessions::SessionId;
use crate::{Panel, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use ts_rs::TS;

/// One thing that happened, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub what: Happening,
}

/// What happened, with what it links to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Happening {
    /// Invited, answered, attended, missed: an entry of the contact history.
    Contact {
        contact: ContactKind,
        session: Option<SessionId>,
        session_title: Option<String>,
        detail: Option<String>,
    },
    /// A note attributed to them.
    Note {
        note: NoteId,
        session: SessionId,
        session_title: String,
        text: String,
    },
    /// An issue they raised, as it stands now.
    Issue {
        issue: IssueId,
        summary: String,
        status: IssueStatus,
        overdue: bool,
        owner_name: Option<String>,
        session: SessionId,
        session_title: String,
    },
    /// A message to them (or about their issue), as it stands in the outbox.
    MailSent {
        message: MessageId,
        subject: String,
        mail: MessageKind,
        status: Status,
    },
    /// A message read from the panel mailbox, from them or about their issue.
    MailReceived {
        message: i64,
        subject: String,
        mail: InboxKind,
        issue: Option<IssueId>,
        from_name: String,
    },
    /// A consent text they accepted.
    Consent {
        topic: String,
        version: u32,
        superseded: bool,
    },
    /// They asked not to be invited again.
    OptedOut,
}

/// What each domain holds about one participant.
#[derive(Debug, Default)]
pub struct Parts {
    pub contacts: Vec<Contact>,
    /// Titles of the sessions the contact history names.
    pub session_titles: HashMap<i64, String>,
    pub notes: Vec<Note>,
    pub issues: Vec<Issue>,
    pub sent: Vec<OutboxMessage>,
    pub received: Vec<InboxMessage>,
    pub consents: Vec<Consent>,
    pub opted_out_at: Option<DateTime<Utc>>,
}

/// The entries, newest first; at the same instant, in the order a session
/// goes (invited before confirmed, a note before the issue it raised).
pub fn assemble(parts: Parts) -> Vec<TimelineEntry> {
    let mut out: Vec<(u8, TimelineEntry)> = Vec::new();
    let mut push =
        |rank: u8, at: DateTime<Utc>, what: Happening| out.push((rank, TimelineEntry { at, what }));
    for c in parts.contacts {
        let rank = ContactKind::ALL
            .iter()
            .position(|k| *k == c.kind)
            .unwrap_or(0) as u8;
        push(
            rank,
            c.at,
            Happening::Contact {
                contact: c.kind,
                session: c.session_id.map(SessionId),
                session_title: c
                    .session_id
                    .and_then(|id| parts.session_titles.get(&id).cloned()),
                detail: c.detail,
            },
        );
    }
    for n in parts.notes {
        push(
            10,
            n.at,
            Happening::Note {
                note: n.id,
                session: n.session,
                session_title: parts
                    .session_titles
                    .get(&n.session.0)
                    .cloned()
                    .unwrap_or_default(),
                text: n.text,
            },
        );
    }
    for i in parts.issues {
        push(
            11,
            i.created_at,
            Happening::Issue {
                issue: i.id,
                summary: i.summary,
                status: i.status,
                overdue: i.overdue,
                owner_name: i.owner_name,
                session: i.session,
                session_title: i.session_title,
            },
        );
    }
    for m in parts.sent {
        push(
            12,
            m.sent_at.unwrap_or(m.created_at),
            Happening::MailSent {
                message: m.id,
                subject: m.subject,
                mail: m.kind,
                status: m.status,
            },
        );
    }
    for m in parts.received {
        push(
            13,
            m.read_at,
            Happening::MailReceived {
                message: m.id,
                subject: m.subject,
                mail: m.kind,
                issue: m.issue,
                from_name: m.from_name,
            },
        );
    }
    for c in parts.consents {
        push(
            14,
            c.accepted_at,
            Happening::Consent {
                topic: c.topic,
                version: c.version,
                superseded: c.superseded,
            },
        );
    }
    if let Some(at) = parts.opted_out_at {
        push(15, at, Happening::OptedOut);
    }
    out.sort_by(|(ra, a), (rb, b)| b.at.cmp(&a.at).then(rb.cmp(ra)));
    out.into_iter().map(|(_, e)| e).collect()
}

/// Participant `id`'s timeline, newest first.
pub async fn for_participant(panel: &Panel, id: ParticipantId) -> Result<Vec<TimelineEntry>> {
    let participant: Participant = super::get(panel, id).await?;
    let contacts = history::for_participant(panel, id).await?;
    let notes = notes::by_participant(panel, id).await?;
    let session_titles = history::session_titles(panel, id).await?;
    let issues = issues::list(
        panel,
        &IssueQuery {
            participant: Some(id),
            limit: Some(5000),
            ..Default::default()
        },
    )
    .await?;
    let mut sent = Vec::new();
    for m in super::privacy::messages_of(panel, id, participant.email.as_deref()).await? {
        sent.push(mail::get(panel, m).await?.message);
    }
    let received = inbox::for_participant(panel, id).await?;
    let consents = consent::for_participant(panel, id).await?;
    Ok(assemble(Parts {
        contacts,
        session_titles,
        notes,
        issues,
        sent,
        received,
        consents,
        opted_out_at: participant.opted_out_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, 16, h, 0, 0).unwrap()
    }

    #[test]
    fn newest_first_and_a_session_in_its_own_order_at_one_instant() {
        let contact = |kind, h| Contact {
            kind,
            at: at(h),
            session_id: Some(7),
            detail: None,
        };
        let entries = assemble(Parts {
            contacts: vec![
                contact(ContactKind::Invited, 9),
                contact(ContactKind::Confirmed, 9),
                contact(ContactKind::Attended, 14),
            ],
            session_titles: HashMap::from([(7, "Checkout".to_string())]),
            consents: vec![Consent {
                topic: "recording".into(),
                version: 2,
                accepted_at: at(8),
                superseded: false,
            }],
            opted_out_at: Some(at(20)),
            ..Default::default()
        });
        let kinds: Vec<String> = entries
            .iter()
            .map(|e| match &e.what {
                Happening::Contact {
                    contact,
                    session_title,
                    ..
                } => format!(
                    "{}:{}",
                    contact.as_str(),
                    session_title.as_deref().unwrap_or("")
                ),
                Happening::Consent { topic, .. } => format!("consent:{topic}"),
                Happening::OptedOut => "opted out".into(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "opted out",
                "attended:Checkout",
                "confirmed:Checkout",
                "invited:Checkout",
                "consent:recording"
            ]
        );
    }
}
