//! The mail the follow-up of an issue sends: the owner's assignment with
//! everything they need, their nudge before a due time, the escalation
//! after a breach, and the owner's own messages to the participant (a
//! hand-off notice, the resolution). Each is composed here from what was
//! read; queuing it is the outbox's.

use super::{Issue, IssueId};
use crate::Result;
use crate::db::Conn;
use crate::db::millis;
use crate::mail::templates::{self, NoteLine, ParticipantContact, Template};
use crate::mail::{self, MessageKind, NewMessage};
use crate::notes::{self, NoteId};
use crate::participants::{self, fields::Email};
use crate::sessions::staff::Staff;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// What a message about an issue is filed under in the outbox:
/// `issue/N/WHAT`, so that a change can find and withdraw what it made
/// obsolete.
pub(super) fn topic(issue: IssueId, what: &str) -> String {
    format!("issue/{issue}/{what}")
}

/// The address of issue `id` on the team server whose address is `base`.
fn issue_link(base: &str, id: IssueId) -> String {
    format!("{}/issues/{id}", base.trim_end_matches('/'))
}

/// The link to issue `id` for staff mail, when the team server has an address.
async fn link(conn: impl Into<Conn<'_>>, id: IssueId) -> Result<Option<String>> {
    Ok(crate::accounts::server_address_in(conn)
        .await?
        .map(|base| issue_link(&base, id)))
}

/// The owner's zone, for the times in their mail.
fn zone_of(staff: &Staff) -> String {
    staff.time_zone.clone().unwrap_or_else(|| "UTC".into())
}

/// The notes around the one an issue came from, for the owner's mail.
async fn note_context(conn: impl Into<Conn<'_>>, note: Option<NoteId>) -> Result<Vec<NoteLine>> {
    let mut conn = conn.into();
    Ok(notes_around(&mut conn, note)
        .await?
        .iter()
        .map(|n| {
            let s = n.offset_seconds.abs();
            NoteLine {
                offset: format!(
                    "{}{:02}:{:02}:{:02}",
                    if n.offset_seconds < 0 { "-" } else { "" },
                    s / 3600,
                    s % 3600 / 60,
                    s % 60
                ),
                text: n.text.clone(),
                source: Some(n.id) == note,
            }
        })
        .collect())
}

/// The note an issue came from with the two before and after it.
pub(super) async fn notes_around(
    conn: impl Into<Conn<'_>>,
    note: Option<NoteId>,
) -> Result<Vec<notes::Note>> {
    let mut conn = conn.into();
    let Some(id) = note else {
        return Ok(Vec::new());
    };
    let source = notes::get_in(&mut conn, id).await?;
    let mut all = notes::list_in(&mut conn, source.session).await?;
    let at = all.iter().position(|n| n.id == id).unwrap_or(0);
    all.truncate((at + 3).min(all.len()));
    Ok(all.split_off(at.saturating_sub(2)))
}

/// Queues the owner's mail: who, how to reach them, what they said, when due.
pub(super) async fn queue_assigned(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    issue: &Issue,
    owner: &Staff,
) -> Result<()> {
    let mut conn = conn.into();
    let participant = participants::get_in(&mut conn, issue.participant).await?;
    let body = templates::render(&Template::IssueAssigned(templates::IssueAssigned {
        owner_name: owner.name.clone(),
        session_title: issue.session_title.clone(),
        summary: issue.summary.clone(),
        detail: Some(issue.detail.clone()).filter(|d| !d.is_empty()),
        severity: issue.severity.as_str().to_string(),
        participant: ParticipantContact {
            name: participant.name.clone(),
            email: participant
                .email
                .clone()
                .unwrap_or_else(|| "(erased)".into()),
            phone: participant.phone.clone(),
            zone: participant.time_zone.clone(),
        },
        notes: note_context(&mut conn, issue.note).await?,
        first_contact_due: issue.awaiting_contact().then_some(issue.first_contact_due),
        resolution_due: Some(issue.resolution_due),
        zone: zone_of(owner),
        link: link(&mut conn, issue.id).await?,
    }))?;
    // With a panel mailbox, the owner's answer goes through it (to the
    // participant from them, logged); without one, straight to the participant.
    let record = crate::inbox::settings::record_address(&mut conn, issue.id).await?;
    mail::enqueue(
        conn,
        now,
        &NewMessage {
            also_reply_to: None,
            kind: MessageKind::IssueAssigned,
            to: Email::parse(&owner.email)?,
            to_name: owner.name.clone(),
            reply_to: record.or_else(|| {
                participant
                    .email
                    .as_deref()
                    .and_then(|e| Email::parse(e).ok())
            }),
            from_name: None,
            body,
            headers: BTreeMap::new(),
            attachments: Vec::new(),
            not_before: now,
            topic: Some(topic(issue.id, "assigned")),
        },
    )
    .await?;
    Ok(())
}

/// Tells the owner that the participant replied about their issue.
pub(super) async fn reply_to_owner(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    issue: &Issue,
    owner: &Staff,
    reply: &str,
    effect: super::ReplyEffect,
    message: i64,
) -> Result<()> {
    let mut conn = conn.into();
    let body = templates::render(&Template::IssueReply(templates::IssueReply {
        owner_name: owner.name.clone(),
        participant_name: issue.participant_name.clone(),
        issue_id: issue.id.0,
        summary: issue.summary.clone(),
        reply: reply.to_string(),
        reopened: effect == super::ReplyEffect::Reopened,
        thanks: effect == super::ReplyEffect::Thanks,
        link: link(&mut conn, issue.id).await?,
    }))?;
    let record = crate::inbox::settings::record_address(&mut conn, issue.id).await?;
    mail::enqueue(
        conn,
        now,
        &NewMessage {
            also_reply_to: None,
            kind: MessageKind::IssueReply,
            to: Email::parse(&owner.email)?,
            to_name: owner.name.clone(),
            reply_to: record.or_else(|| {
                issue
                    .participant_email
                    .as_deref()
                    .and_then(|e| Email::parse(e).ok())
            }),
            from_name: None,
            body,
            headers: BTreeMap::new(),
            attachments: Vec::new(),
            not_before: now,
            topic: Some(topic(issue.id, &format!("reply/{message}"))),
        },
    )
    .await?;
    Ok(())
}

/// The owner's reminder of a due time (`what`: "first contact" or
/// "resolution"), to go at `send_at`, filed under `this`.
pub(super) fn nudge(
    issue: &Issue,
    owner: &Staff,
    (due, what): (DateTime<Utc>, &str),
    send_at: DateTime<Utc>,
    this: String,
    links: Option<&str>,
) -> Result<NewMessage> {
    let body = templates::render(&Template::Nudge(templates::Nudge {
        owner_name: owner.name.clone(),
        summary: issue.summary.clone(),
        participant_name: issue.participant_name.clone(),
        due_what: what.to_string(),
        due_at: due,
        zone: zone_of(owner),
        link: links.map(|base| issue_link(base, issue.id)),
    }))?;
    Ok(NewMessage {
        also_reply_to: None,
        kind: MessageKind::Nudge,
        to: Email::parse(&owner.email)?,
        to_name: owner.name.clone(),
        reply_to: None,
        from_name: None,
        body,
        headers: BTreeMap::new(),
        attachments: Vec::new(),
        not_before: send_at,
        topic: Some(this),
    })
}

/// The topic of a nudge to `owner` before the due time `due`.
pub(super) fn nudge_topic(issue: IssueId, due: DateTime<Utc>, owner: &Staff) -> String {
    topic(issue, &format!("nudge/{}/{}", millis(due), owner.id))
}

/// Round `round` of the escalation of a breached due time to `recipient`,
/// replying to the owner.
pub(super) fn escalation(
    now: DateTime<Utc>,
    issue: &Issue,
    owner: Option<&Staff>,
    recipient: &Staff,
    round: u32,
    links: Option<&str>,
) -> Result<NewMessage> {
    let (due, what) = issue.next_due();
    let body = templates::render(&Template::Escalation(templates::Escalation {
        recipient_name: recipient.name.clone(),
        owner_name: owner.map(|o| o.name.clone()).unwrap_or_default(),
        summary: issue.summary.clone(),
        participant_name: issue.participant_name.clone(),
        due_what: what.to_string(),
        due_at: due,
        zone: zone_of(recipient),
        link: links.map(|base| issue_link(base, issue.id)),
    }))?;
    Ok(NewMessage {
        also_reply_to: None,
        kind: MessageKind::Escalation,
        to: Email::parse(&recipient.email)?,
        to_name: recipient.name.clone(),
        reply_to: owner.and_then(|o| Email::parse(&o.email).ok()),
        from_name: None,
        body,
        headers: BTreeMap::new(),
        attachments: Vec::new(),
        not_before: now,
        topic: Some(topic(
            issue.id,
            &format!("escalation/{}/{round}/{}", millis(due), recipient.id),
        )),
    })
}

/// The notice that tells the participant who has their issue now.
pub(super) fn handoff(issue: &Issue, new_owner: &Staff) -> Template {
    Template::Handoff(templates::Handoff {
        participant_name: issue.participant_name.clone(),
        summary: issue.summary.clone(),
        new_owner_name: new_owner.name.clone(),
        new_owner_email: new_owner.email.clone(),
    })
}

/// The owner's message that ends an issue (resolved or won't fix).
pub(super) fn resolution(issue: &Issue, owner: &Staff, message: &str) -> Template {
    Template::Resolution(templates::Resolution {
        participant_name: issue.participant_name.clone(),
        summary: issue.summary.clone(),
        resolution: message.to_string(),
        owner_name: owner.name.clone(),
        greets: opens_with_greeting(message, &issue.participant_name),
    })
}

/// The owner's own message to the participant about their issue.
pub(super) fn owner_message(issue: &Issue, owner: &Staff, message: &str) -> Template {
    Template::OwnerMessage(templates::Resolution {
        participant_name: issue.participant_name.clone(),
        summary: issue.summary.clone(),
        resolution: message.to_string(),
        owner_name: owner.name.clone(),
        greets: opens_with_greeting(message, &issue.participant_name),
    })
}

/// Words a message opens with when it greets its reader, in the languages
/// a panel's staff write in most.
const GREETINGS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "dear",
    "good morning",
    "good afternoon",
    "good evening",
    "hallo",
    "liebe",
    "lieber",
    "guten tag",
    "moin",
    "hej",
    "bonjour",
    "salut",
    "chère",
    "cher",
    "hola",
    "buenos días",
    "buenas tardes",
    "estimada",
    "estimado",
    "ciao",
    "buongiorno",
    "gentile",
    "olá",
    "bom dia",
    "beste",
    "dag",
];

/// Whether a message's first line greets its reader: it opens with a
/// greeting word, or is the reader's first name and a comma ("Mateo,").
pub(super) fn opens_with_greeting(message: &str, reader: &str) -> bool {
    let Some(first) = message.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return false;
    };
    let first = first.to_lowercase();
    let opens = |word: &str| {
        first.strip_prefix(word).is_some_and(|rest| {
            rest.chars()
                .next()
                .is_none_or(|c| c.is_whitespace() || c.is_ascii_punctuation())
        })
    };
    let given = reader
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_lowercase();
    GREETINGS.iter().any(|g| opens(g)) || (!given.is_empty() && first == format!("{given},"))
}

/// Queues a message to the participant, signed by and replying to `from`.
pub(super) async fn queue_to_participant(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    issue: &Issue,
    from: &Staff,
    kind: MessageKind,
    template: Template,
) -> Result<Option<mail::MessageId>> {
    let mut conn = conn.into();
    match to_participant(now, issue, from, kind, template)? {
        Some(mut message) => {
            message.also_reply_to =
                crate::inbox::settings::record_address(&mut conn, issue.id).await?;
            Ok(Some(mail::enqueue(&mut conn, now, &message).await?))
        }
        None => Ok(None),
    }
}

/// A message to the participant about their issue, signed by and replying
/// to `from`; `None` when they have no email address left (erased).
pub(super) fn to_participant(
    now: DateTime<Utc>,
    issue: &Issue,
    from: &Staff,
    kind: MessageKind,
    template: Template,
) -> Result<Option<NewMessage>> {
    let Some(email) = issue
        .participant_email
        .as_deref()
        .and_then(|e| Email::parse(e).ok())
    else {
        return Ok(None);
    };
    Ok(Some(NewMessage {
        also_reply_to: None,
        kind,
        to: email,
        to_name: issue.participant_name.clone(),
        reply_to: Some(Email::parse(&from.email)?),
        from_name: Some(from.name.clone()),
        body: {
            // `[#42]` finds the issue again when a reply loses its threading.
            let mut body = templates::render(&template)?;
            body.subject = format!("{} [#{}]", body.subject, issue.id);
            body
        },
        headers: BTreeMap::new(),
        attachments: Vec::new(),
        not_before: now,
        topic: Some(topic(issue.id, kind.as_str())),
    }))
}

#[cfg(test)]
mod tests {
    use super::opens_with_greeting;

    #[test]
    fn an_owner_who_greets_is_not_greeted_over() {
        for greeting in [
            "Hi Mateo,",
            "hello!",
            "Dear Mr Kowalski,",
            "Hallo Mateo,",
            "Mateo,",
            "  Bonjour Mateo",
        ] {
            assert!(
                opens_with_greeting(
                    &format!("{greeting}\n\nThe parcel is on its way."),
                    "Mateo Kowalski"
                ),
                "{greeting}"
            );
        }
        for plain in [
            "The parcel is on its way.",
            "History of the order: sent.",
            "Hint: check the app",
            "Mateo's parcel left today.",
            "",
        ] {
            assert!(!opens_with_greeting(plain, "Mateo Kowalski"), "{plain}");
        }
    }
}
