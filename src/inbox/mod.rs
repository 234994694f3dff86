//! The panel mailbox: what comes back into the record. Replies are read
//! over IMAP ([`fetch`], [`watch`]), each message once, and filed where it
//! belongs: a participant's reply with their issue (reopening a resolved
//! one, telling the owner), a calendar answer as the RSVP, an unsubscribe
//! as the opt-out, a permanent delivery failure as a bounced address on
//! the suppression list. What matches nothing waits in the Inbox for a
//! person to [`file`] or [`dismiss`].
//!
//! Each message is written in the same transaction as what it did, under
//! its folder's UIDVALIDITY and UID, so a crash or a second reader never
//! acts on one twice; it stays in the mailbox (marked, or moved to a
//! folder), never deleted.

pub mod imap;
pub mod incoming;
pub mod model;
pub mod settings;
mod store;

pub use model::{FetchReport, FileTo, InboxKind, InboxMessage, InboxState};
pub(crate) use store::forget_participant;

use crate::db::Conn;
use crate::issues::{self, IssueId, OwnerMail, ReplyEffect};
use crate::participants::fields::{Email, hash_normalised};
use crate::participants::{self, ParticipantId, suppression};
use crate::sessions::model::Rsvp;
use crate::sessions::roster;
use crate::{Error, Panel, Result};
use chrono::{DateTime, Utc};
use incoming::{CalendarAnswer, Incoming};
use model::Filing;
use std::time::Duration;

/// The suppression list a bounced address is put on.
pub const BOUNCED_LIST: &str = "Bounced addresses";
/// How many messages are fetched from the server at a time.
const BATCH: usize = 50;

/// Reads the messages that arrived since the last round, files each, and
/// marks or moves them in the mailbox.
pub async fn fetch(panel: &Panel) -> Result<FetchReport> {
    let account = settings::account(panel).await?.ok_or_else(|| {
        Error::conflict("the panel mailbox is not set up: enter it in Settings (inbox set)")
    })?;
    let mut folder = imap::open(&account).await?;
    let report = read_new(panel, &mut folder, &account.settings.folder).await;
    folder.close().await;
    report
}

/// Reads the mailbox until `stop` resolves: at once, then whenever the
/// server says mail arrived (IMAP IDLE) or every `every` where it cannot;
/// after a failure, again after a pause that grows to five minutes.
/// `on_round` hears each round's report or error.
pub async fn watch(
    panel: &Panel,
    every: Duration,
    stop: impl Future<Output = ()>,
    on_round: impl Fn(&Result<FetchReport>),
) {
    tokio::pin!(stop);
    let mut pause = Duration::from_secs(5);
    loop {
        let round = async {
            let Some(account) = settings::account(panel).await? else {
                return Ok(None);
            };
            let mut folder = imap::open(&account).await?;
            loop {
                let report = read_new(panel, &mut folder, &account.settings.folder).await?;
                on_round(&Ok(report));
                if folder.can_idle {
                    folder = folder.wait(every.max(Duration::from_secs(60))).await?;
                } else {
                    tokio::time::sleep(every).await;
                }
                // Settings saved meanwhile (another folder, server or
                // address): connect again with them.
                let now = settings::account(panel).await?.map(|a| a.settings);
                if now.as_ref() != Some(&account.settings) {
                    folder.close().await;
                    return Ok(Some(()));
                }
            }
        };
        let outcome: Result<Option<()>> = tokio::select! {
            _ = &mut stop => return,
            outcome = round => outcome,
        };
        let wait = match outcome {
            // The settings changed: at once.
            Ok(Some(())) => {
                pause = Duration::from_secs(5);
                Duration::ZERO
            }
            // Not set up: look again later.
            Ok(None) => every,
            Err(e) => {
                on_round(&Err(e));
                pause = (pause * 2).min(Duration::from_secs(300));
                pause
            }
        };
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

async fn read_new(panel: &Panel, folder: &mut imap::Folder, name: &str) -> Result<FetchReport> {
    let after = store::last_uid(&mut panel.conn().await?, name, folder.uid_validity).await?;
    let uids = folder.waiting(after).await?;
    let mut report = FetchReport::default();
    for batch in uids.chunks(BATCH) {
        let mut done = Vec::new();
        for (uid, raw) in folder.fetch(batch).await? {
            match take(panel, (name, folder.uid_validity, uid), &raw).await {
                Ok(Some(filing)) => {
                    report.read += 1;
                    match filing.state {
                        InboxState::Filed => report.filed += 1,
                        InboxState::Unfiled => report.unfiled += 1,
                        InboxState::Dismissed => report.dismissed += 1,
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    // What was recorded is marked as such; this one and the
                    // rest are read again next time.
                    let _ = folder.done(&done).await;
                    return Err(e);
                }
            }
            done.push(uid);
        }
        folder.done(&done).await?;
    }
    Ok(report)
}

/// Reads one message into the record and does what it asks, in one
/// transaction; `None` when it was read before.
async fn take(panel: &Panel, at: (&str, u32, u32), raw: &[u8]) -> Result<Option<Filing>> {
    let now = panel.now();
    let message = incoming::read(raw).unwrap_or_else(|| Incoming {
        original: String::from_utf8_lossy(raw).into_owned(),
        ..Default::default()
    });
    let mut tx = panel.begin().await?;
    let Some(id) = store::claim(&mut tx, at, &message, now).await? else {
        return Ok(None);
    };
    let filing = match message.message_id.as_deref() {
        Some(mid) => match store::same_message(&mut tx, mid, id).await? {
            Some(first) => Filing {
                state: InboxState::Dismissed,
                ..Filing::unfiled(
                    InboxKind::Other,
                    format!("the same message as {first}, read before"),
                )
            },
            None => file_new(&mut tx, now, id, &message).await?,
        },
        None => file_new(&mut tx, now, id, &message).await?,
    };
    store::set_filing(&mut tx, id, &filing, None).await?;
    tx.commit().await?;
    panel.wake_mail();
    Ok(Some(filing))
}

/// Decides where a new message belongs and does what it asks.
async fn file_new(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    id: i64,
    m: &Incoming,
) -> Result<Filing> {
    let mut tx = conn.into();
    if let Some(failed) = &m.bounced {
        return bounced(&mut tx, now, failed).await;
    }
    if let Some(answer) = &m.calendar {
        return calendar(&mut tx, now, m, answer).await;
    }
    let sender = participant_by_email(&mut tx, &m.from_address).await?;
    if m.unsubscribe && !m.automatic {
        let Some(participant) = sender else {
            return Ok(Filing::unfiled(
                InboxKind::Unsubscribe,
                format!(
                    "asks to unsubscribe, but no participant has the address {}",
                    m.from_address
                ),
            ));
        };
        participants::set_opted_out_in(&mut tx, now, participant, true).await?;
        return Ok(Filing {
            participant: Some(participant),
            state: InboxState::Filed,
            ..Filing::unfiled(
                InboxKind::Unsubscribe,
                "opted out: asked by mail to unsubscribe; planned invitations and reminders withdrawn",
            )
        });
    }
    let kind = if m.automatic {
        InboxKind::Automatic
    } else {
        InboxKind::Reply
    };
    match thread(&mut tx, m).await? {
        Some(Thread::Issue(issue)) => about_issue(&mut tx, now, id, m, kind, issue).await,
        Some(Thread::Participant(participant)) => Ok(Filing {
            participant: Some(participant),
            state: InboxState::Filed,
            ..Filing::unfiled(
                kind,
                if m.automatic {
                    "an automatic reply, filed with the participant"
                } else {
                    "filed with the participant"
                },
            )
        }),
        None => Ok(Filing::unfiled(
            kind,
            "matched to no message, issue or participant: waits in the Inbox",
        )),
    }
}

/// What a message answers.
enum Thread {
    Issue(IssueId),
    Participant(ParticipantId),
}

/// The issue or participant a message answers: by the Message-IDs it names
/// (mail this panel sent), else by the signed plus address it was sent to,
/// else by a `[#42]` in its subject when its sender is that issue's
/// participant or a staff member.
async fn thread(conn: impl Into<Conn<'_>>, m: &Incoming) -> Result<Option<Thread>> {
    let mut conn = conn.into();
    for answered in &m.answers {
        let Some((topic, recipient)) = store::sent_as(&mut conn, answered).await? else {
            continue;
        };
        let topic = topic.unwrap_or_default();
        let mut parts = topic.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("issue"), Some(n), _, _) => {
                if let Ok(n) = n.parse() {
                    return Ok(Some(Thread::Issue(IssueId(n))));
                }
            }
            (Some("session"), Some(_), Some("participant"), Some(p)) => {
                if let Ok(p) = p.parse() {
                    return Ok(Some(Thread::Participant(ParticipantId(p))));
                }
            }
            _ => {}
        }
        if let Some(p) = participant_by_email(&mut conn, &recipient).await? {
            return Ok(Some(Thread::Participant(p)));
        }
    }
    for to in &m.recipients {
        if let Some(issue) = settings::issue_in_address(&mut conn, to).await? {
            return Ok(Some(Thread::Issue(issue)));
        }
    }
    if let Some(n) = m.issue_in_subject {
        let issue = IssueId(n);
        if let Some((_, email, _)) = store::issue_people(&mut conn, issue).await? {
            let from = normalised(&m.from_address);
            let by_staff = match &from {
                Some(f) => store::staff_by_email(&mut conn, f).await?.is_some(),
                None => false,
            };
            if by_staff || (from.is_some() && from == email) {
                return Ok(Some(Thread::Issue(issue)));
            }
        }
    }
    Ok(None)
}

/// A message about issue `issue`: the participant's reply goes into its
/// conversation (and may reopen it); its owner's goes on to the
/// participant from them (or finishes the issue: `#resolve`); anyone
/// else's is kept as an internal note, never sent on; an automatic one is
/// filed and nothing else.
async fn about_issue(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    id: i64,
    m: &Incoming,
    kind: InboxKind,
    issue: IssueId,
) -> Result<Filing> {
    let mut tx = conn.into();
    let Some((participant, email, owner)) = store::issue_people(&mut tx, issue).await? else {
        return Ok(Filing::unfiled(
            kind,
            format!("about issue {issue}, which is gone"),
        ));
    };
    let from = normalised(&m.from_address);
    let filed = |outcome: String, staff| Filing {
        issue: Some(issue),
        participant: Some(participant),
        staff,
        state: InboxState::Filed,
        ..Filing::unfiled(kind, outcome)
    };
    if from.is_some() && from == email {
        if m.automatic {
            return Ok(filed(
                "an automatic reply: filed with the issue; nothing reopened, nobody told".into(),
                None,
            ));
        }
        let effect = issues::participant_replied(&mut tx, now, issue, &m.reply, id).await?;
        return Ok(filed(
            match effect {
                ReplyEffect::Filed => "the participant's reply: the owner was told",
                ReplyEffect::Resumed => {
                    "the answer the owner waited for: the service-level clock goes on, the owner was told"
                }
                ReplyEffect::Reopened => {
                    "the participant replied to a resolved issue: it was reopened and the owner told"
                }
                ReplyEffect::Thanks => {
                    "the participant's thanks: the owner was told and may close the issue"
                }
            }
            .into(),
            None,
        ));
    }
    if let Some(f) = &from
        && let Some((staff, name)) = store::staff_by_email(&mut tx, f).await?
    {
        if owner == Some(staff.0) && !m.automatic {
            let outcome = match issues::owner_wrote(&mut tx, now, issue, staff, &m.reply).await? {
                OwnerMail::Sent => {
                    format!(
                        "{name} answered by mail: sent to the participant from them, logged as a contact"
                    )
                }
                OwnerMail::Finished(to) => format!(
                    "{name} answered by mail: the issue is {} and the participant was written to",
                    to.as_str().replace('_', " ")
                ),
                OwnerMail::Kept(why) => format!("{name}'s mail, kept as an internal note: {why}"),
            };
            return Ok(filed(outcome, Some(staff)));
        }
        return Ok(filed(
            format!("{name}'s mail about the issue, kept as an internal note; nothing was sent"),
            Some(staff),
        ));
    }
    Ok(filed(
        format!(
            "from {} about the issue, kept as an internal note; nothing was sent",
            m.from_address
        ),
        None,
    ))
}

/// A calendar program's answer: recorded as the RSVP, with the same rules
/// as a typed one.
async fn calendar(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    m: &Incoming,
    answer: &incoming::CalendarReply,
) -> Result<Filing> {
    let mut tx = conn.into();
    let Some(session) = roster::by_uid(&mut tx, &answer.uid).await? else {
        return Ok(Filing::unfiled(
            InboxKind::Calendar,
            format!(
                "a calendar answer for an event this panel does not know ({})",
                answer.uid
            ),
        ));
    };
    let participant = match participant_by_email(&mut tx, &answer.attendee).await? {
        Some(p) => Some(p),
        None => participant_by_email(&mut tx, &m.from_address).await?,
    };
    let Some(participant) = participant else {
        return Ok(Filing::unfiled(
            InboxKind::Calendar,
            format!(
                "a calendar answer from {}, who is not a participant",
                answer.attendee
            ),
        ));
    };
    let rsvp = match answer.answer {
        CalendarAnswer::Accepted => Rsvp::Confirmed,
        CalendarAnswer::Declined => Rsvp::Declined,
        CalendarAnswer::Tentative => Rsvp::Tentative,
    };
    let filing = |state, outcome: String| Filing {
        participant: Some(participant),
        state,
        ..Filing::unfiled(InboxKind::Calendar, outcome)
    };
    match roster::rsvp_in(&mut tx, now, session, participant, rsvp).await {
        Ok(recorded) => Ok(filing(
            InboxState::Filed,
            format!(
                "the calendar answer recorded as the RSVP to session {session}: {}",
                recorded.as_str()
            ),
        )),
        // Refused by the rules (a full or cancelled session, not invited):
        // a person decides.
        Err(Error::Conflict { reason }) => Ok(filing(
            InboxState::Unfiled,
            format!("a calendar answer that could not be recorded: {reason}"),
        )),
        Err(e) => Err(e),
    }
}

/// A permanent delivery failure: each address goes on the bounced list,
/// which keeps it from invitations until the participant's address changes.
async fn bounced(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    failed: &[String],
) -> Result<Filing> {
    let mut tx = conn.into();
    let addresses: Vec<Email> = failed.iter().filter_map(|a| Email::parse(a).ok()).collect();
    if addresses.is_empty() {
        return Ok(Filing {
            state: InboxState::Dismissed,
            ..Filing::unfiled(
                InboxKind::Bounce,
                "a delivery report with no permanent failure (a delay): nothing to do",
            )
        });
    }
    let hashes: Vec<String> = addresses
        .iter()
        .map(|e| hash_normalised(e.normalised()))
        .collect();
    suppression::add_in(&mut tx, BOUNCED_LIST, &hashes, now).await?;
    let mut participant = None;
    for e in &addresses {
        if let Some(p) = participant_by_email(&mut tx, e.as_str()).await? {
            participant.get_or_insert(p);
        }
    }
    let list: Vec<&str> = addresses.iter().map(Email::as_str).collect();
    Ok(Filing {
        participant,
        state: InboxState::Filed,
        ..Filing::unfiled(
            InboxKind::Bounce,
            format!(
                "mail to {} failed for good: on the suppression list \"{BOUNCED_LIST}\", \
                 so not invited until the address changes",
                list.join(", ")
            ),
        )
    })
}

fn normalised(address: &str) -> Option<String> {
    Email::parse(address)
        .ok()
        .map(|e| e.normalised().to_string())
}

async fn participant_by_email(
    conn: impl Into<Conn<'_>>,
    address: &str,
) -> Result<Option<ParticipantId>> {
    if normalised(address).is_none() {
        return Ok(None);
    }
    match participants::find_in(conn, address).await {
        Ok(p) => Ok(Some(p)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The messages waiting in the Inbox (or in `state`), newest first.
pub async fn list(
    panel: &Panel,
    state: InboxState,
    limit: Option<u32>,
) -> Result<Vec<InboxMessage>> {
    store::in_state(
        &mut panel.conn().await?,
        state,
        limit.unwrap_or(200).clamp(1, 5000),
    )
    .await
}

/// One message read from the mailbox.
pub async fn get(panel: &Panel, id: i64) -> Result<InboxMessage> {
    store::get(&mut panel.conn().await?, id)
        .await?
        .ok_or_else(|| Error::not_found("inbox message", id))
}

/// The messages filed with a participant or their issues, oldest first.
pub async fn for_participant(panel: &Panel, id: ParticipantId) -> Result<Vec<InboxMessage>> {
    store::for_participant(&mut panel.conn().await?, id).await
}

/// The messages filed with an issue: its conversation, oldest first.
pub async fn conversation(panel: &Panel, issue: IssueId) -> Result<Vec<InboxMessage>> {
    store::for_issue(&mut panel.conn().await?, issue).await
}

/// A person files a message from the Inbox with an issue or a participant.
/// Filed with an issue by its participant, it counts as their reply (it
/// may reopen the issue, and the owner is told), unless it is automatic.
pub async fn file(panel: &Panel, id: i64, to: FileTo) -> Result<InboxMessage> {
    let now = panel.now();
    let by = panel.actor();
    let mut tx = panel.begin().await?;
    let message = store::get(&mut tx, id)
        .await?
        .ok_or_else(|| Error::not_found("inbox message", id))?;
    if message.state == InboxState::Filed {
        return Err(Error::conflict(format!(
            "message {id} is filed already ({})",
            message.outcome
        )));
    }
    let m = Incoming {
        from_address: message.from_address.clone(),
        reply: message.reply.clone(),
        automatic: message.kind == InboxKind::Automatic,
        ..Default::default()
    };
    let kind = match message.kind {
        InboxKind::Other => InboxKind::Reply,
        k => k,
    };
    let filing = match to {
        FileTo::Issue(issue) => about_issue(&mut tx, now, id, &m, kind, issue).await?,
        FileTo::Participant(participant) => {
            crate::participants::find_in(&mut tx, &participant.0.to_string()).await?;
            Filing {
                participant: Some(participant),
                state: InboxState::Filed,
                ..Filing::unfiled(kind, "filed with the participant by hand")
            }
        }
    };
    store::set_filing(&mut tx, id, &filing, by).await?;
    let filed = store::get(&mut tx, id)
        .await?
        .ok_or_else(|| Error::not_found("inbox message", id))?;
    tx.commit().await?;
    panel.wake_mail();
    Ok(filed)
}

/// A person puts a message aside: it leaves the Inbox, kept.
pub async fn dismiss(panel: &Panel, id: i64) -> Result<InboxMessage> {
    let by = panel.actor();
    let mut tx = panel.begin().await?;
    let message = store::get(&mut tx, id)
        .await?
        .ok_or_else(|| Error::not_found("inbox message", id))?;
    if message.state != InboxState::Unfiled {
        return Err(Error::conflict(format!(
            "message {id} is not waiting in the Inbox ({})",
            message.state.as_str()
        )));
    }
    let filing = Filing {
        kind: message.kind,
        issue: None,
        participant: None,
        staff: None,
        state: InboxState::Dismissed,
        outcome: "put aside by a person".into(),
    };
    store::set_filing(&mut tx, id, &filing, by).await?;
    let dismissed = store::get(&mut tx, id)
        .await?
        .ok_or_else(|| Error::not_found("inbox message", id))?;
    tx.commit().await?;
    Ok(dismissed)
}

/// Reads one message, as a file holds it, into the record, as [`fetch`]
/// does for one from the server: for a mailbox exported to files, and for
/// the tests of the rules. `name` and `number` stand for the folder and
/// the message's number in it.
pub async fn take_file(
    panel: &Panel,
    name: &str,
    number: u32,
    raw: &[u8],
) -> Result<Option<InboxMessage>> {
    let Some(_) = take(panel, (name, 0, number), raw).await? else {
        return Ok(None);
    };
    let mut conn = panel.conn().await?;
    store::at_place(&mut conn, (name, 0, number)).await
}
