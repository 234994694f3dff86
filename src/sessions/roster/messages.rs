//! The mail a roster sends each person: the invitation (or its update)
//! with a calendar entry, the reminders, the cancellation with its
//! calendar cancellation, and a waitlist place offered. Each is composed
//! here from what was read; queuing it is the roster's.

use super::super::ics::{self, Method};
use super::super::model::Session;
use crate::Result;
use crate::mail::templates::{self, Template};
use crate::mail::{Attachment, MessageKind, NewMessage, Rendered};
use crate::participants::ParticipantId;
use crate::participants::fields::Email;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::collections::{BTreeMap, HashMap};

/// A rostered person, as mail needs them.
pub(super) struct Person {
    pub id: ParticipantId,
    pub name: String,
    pub email: Option<Email>,
    pub zone: String,
}

/// What a message about a session to `p` is filed under in the outbox.
pub(super) fn topic(session: &Session, p: ParticipantId, what: &str) -> String {
    format!("session/{}/participant/{}/{what}", session.id, p)
}

/// The topics (a GLOB pattern) of every session message to `p`.
pub(crate) fn session_mail_of(p: ParticipantId) -> String {
    format!("session/*/participant/{p}/*")
}

fn calendar(
    session: &Session,
    p: &Person,
    email: &Email,
    organiser: &(String, String),
    method: Method,
    now: DateTime<Utc>,
) -> Attachment {
    let zone = session.time_zone.tz();
    let zone_text = zone_definition(zone, session.starts_at);
    let text = ics::calendar(&ics::Event {
        method,
        uid: &session.uid,
        sequence: session.sequence,
        stamp: now,
        starts_at: session.starts_at,
        ends_at: session.ends_at,
        zone,
        summary: &session.title,
        location: &session.place,
        description: &session.study,
        organizer_name: &organiser.0,
        organizer_email: &organiser.1,
        attendee_name: &p.name,
        attendee_email: email.as_str(),
        vtimezone: &zone_text,
    });
    Attachment {
        filename: match method {
            Method::Request => "invite.ics".into(),
            Method::Cancel => "cancel.ics".into(),
        },
        content_type: ics::content_type(method).into(),
        content: text.into_bytes(),
    }
}

/// The zone's `VTIMEZONE`, made once per zone and session time and then
/// reused for every invitation to it.
fn zone_definition(zone: Tz, around: DateTime<Utc>) -> std::sync::Arc<str> {
    use std::sync::{Arc, Mutex, OnceLock};
    /// Zone definitions by zone and day of the session.
    type Made = HashMap<(Tz, i64), Arc<str>>;
    static MADE: OnceLock<Mutex<Made>> = OnceLock::new();
    let made = MADE.get_or_init(Default::default);
    let key = (zone, around.timestamp() / 86_400);
    if let Some(text) = made.lock().expect("not poisoned").get(&key) {
        return text.clone();
    }
    let text: Arc<str> = ics::vtimezone(zone, around).into();
    let mut made = made.lock().expect("not poisoned");
    if made.len() > 1_000 {
        made.clear();
    }
    made.insert(key, text.clone());
    text
}

/// A message to `p` at `email`, signed by nobody in particular (the
/// organiser sends it).
#[allow(clippy::too_many_arguments)]
fn to_person(
    kind: MessageKind,
    p: &Person,
    email: &Email,
    reply_to: Option<Email>,
    body: Rendered,
    headers: BTreeMap<String, String>,
    attachments: Vec<Attachment>,
    not_before: DateTime<Utc>,
    topic: String,
) -> NewMessage {
    NewMessage {
        also_reply_to: None,
        kind,
        to: email.clone(),
        to_name: p.name.clone(),
        reply_to,
        from_name: None,
        body,
        headers,
        attachments,
        not_before,
        topic: Some(topic),
    }
}

/// The invitation (or, with `updated`, its replacement) to `p`, with its
/// calendar entry and a way to unsubscribe.
pub(super) fn invitation(
    now: DateTime<Utc>,
    session: &Session,
    p: &Person,
    email: &Email,
    organiser: &(String, String),
    updated: bool,
) -> Result<NewMessage> {
    let body = templates::render(&Template::Invitation(templates::Invitation {
        participant_name: p.name.clone(),
        session_title: session.title.clone(),
        study: Some(session.study.clone()).filter(|s| !s.is_empty()),
        starts_at: session.starts_at,
        ends_at: session.ends_at,
        zone: p.zone.clone(),
        place: session.place.clone(),
        moderator_name: Some(session.moderator.name.clone()),
        organiser_name: organiser.0.clone(),
        unsubscribe_address: organiser.1.clone(),
        updated,
    }))?;
    Ok(to_person(
        MessageKind::Invitation,
        p,
        email,
        None,
        body,
        BTreeMap::from([(
            "List-Unsubscribe".to_string(),
            format!("<mailto:{}?subject=unsubscribe>", organiser.1),
        )]),
        vec![calendar(session, p, email, organiser, Method::Request, now)],
        now,
        topic(session, p.id, "invitation"),
    ))
}

/// The reminder `minutes` before the start, to go at `at`.
pub(super) fn reminder(
    session: &Session,
    p: &Person,
    email: &Email,
    organiser: &(String, String),
    minutes: u32,
    at: DateTime<Utc>,
) -> Result<NewMessage> {
    let body = templates::render(&Template::Reminder(details(session, p, organiser)))?;
    Ok(to_person(
        MessageKind::Reminder,
        p,
        email,
        None,
        body,
        BTreeMap::new(),
        Vec::new(),
        at,
        topic(session, p.id, &format!("reminder/{minutes}")),
    ))
}

/// The place offered to `p` from the waitlist; their answer reaches the
/// organiser.
pub(super) fn waitlist_offer(
    now: DateTime<Utc>,
    session: &Session,
    p: &Person,
    email: &Email,
    organiser: &(String, String),
) -> Result<NewMessage> {
    let body = templates::render(&Template::WaitlistOffer(details(session, p, organiser)))?;
    Ok(to_person(
        MessageKind::WaitlistOffer,
        p,
        email,
        Email::parse(&organiser.1).ok(),
        body,
        BTreeMap::new(),
        Vec::new(),
        now,
        topic(session, p.id, "offer"),
    ))
}

/// The cancellation to `p`, with the calendar's cancellation.
pub(super) fn cancellation(
    now: DateTime<Utc>,
    session: &Session,
    p: &Person,
    email: &Email,
    organiser: &(String, String),
) -> Result<NewMessage> {
    let body = templates::render(&Template::SessionCancelled(templates::SessionCancelled {
        participant_name: p.name.clone(),
        session_title: session.title.clone(),
        starts_at: session.starts_at,
        zone: p.zone.clone(),
        reason: session.cancel_reason.clone(),
        organiser_name: organiser.0.clone(),
    }))?;
    Ok(to_person(
        MessageKind::SessionCancelled,
        p,
        email,
        None,
        body,
        BTreeMap::new(),
        vec![calendar(session, p, email, organiser, Method::Cancel, now)],
        now,
        topic(session, p.id, "cancellation"),
    ))
}

/// What a reminder and a waitlist offer both say.
fn details(session: &Session, p: &Person, organiser: &(String, String)) -> templates::Reminder {
    templates::Reminder {
        participant_name: p.name.clone(),
        session_title: session.title.clone(),
        starts_at: session.starts_at,
        zone: p.zone.clone(),
        place: session.place.clone(),
        organiser_name: organiser.0.clone(),
    }
}
