//! Issues and follow-up: when a participant raises a personal problem it
//! becomes an issue with an owner who must get back to them.
//!
//! An issue comes from a note (or is raised directly) with a summary,
//! severity and due dates from the service levels. Assigning mails the
//! owner everything they need; a reassignment needs a reason, counts a
//! hand-off and tells the participant who has their issue now; the first
//! logged contact meets "first contact"; resolving needs a resolution note
//! and a message to the participant, which its writer can read as it will
//! go before it is queued ([`preview_resolve`]). Every change is an audit
//! event, and every message goes through the outbox in the same
//! transaction. The allowed status changes are [`IssueStatus::refusal`].
//! Each change plans the owner's nudge before the next due time (queued for
//! then, withdrawn and queued again when the issue changes); [`tick`]
//! queues escalations after a breach, to the owner's lead and the session's
//! moderator, repeated until someone acts.

mod followup;
pub(crate) mod kept;
mod messages;
pub mod model;
pub(crate) mod store;

pub use followup::{TickReport, tick};
pub use model::*;

use crate::db::Conn;
use crate::mail::{self, MessageKind, MessagePreview, NewMessage};
use crate::notes;
use crate::participants::fields::check_text;
use crate::participants::{self};
use crate::sessions;
use crate::sessions::staff::{self, Staff, StaffId};
use crate::{Error, Panel, Result};
use chrono::{DateTime, Utc};
use followup::{replan, replan_after};
use serde_json::json;

/// The service levels in force.
pub async fn service_levels(panel: &Panel) -> Result<ServiceLevels> {
    let mut conn = panel.conn().await?;
    store::levels(&mut conn).await
}

/// Replaces the service levels (for issues raised from now on).
pub async fn set_service_levels(panel: &Panel, levels: &ServiceLevels) -> Result<ServiceLevels> {
    levels.check()?;
    let mut conn = panel.conn().await?;
    store::set_levels(&mut conn, levels).await?;
    Ok(*levels)
}

/// One issue.
pub async fn get(panel: &Panel, id: IssueId) -> Result<Issue> {
    let mut conn = panel.conn().await?;
    store::get(&mut conn, id, panel.now()).await
}

/// Who owns an issue (nobody yet: `None`); a team server asks before an
/// owner's every call on it.
pub async fn owner(panel: &Panel, id: IssueId) -> Result<Option<StaffId>> {
    store::owner(&mut panel.conn().await?, id).await
}

/// An issue with its contact log and audit trail.
pub async fn detail(panel: &Panel, id: IssueId) -> Result<IssueDetail> {
    let mut conn = panel.conn().await?;
    let issue = store::get(&mut conn, id, panel.now()).await?;
    let contacts = store::contacts(&mut conn, id).await?;
    let events = store::events(&mut conn, id).await?;
    let participant_phone = participants::get_in(&mut conn, issue.participant)
        .await?
        .phone;
    let notes = messages::notes_around(&mut conn, issue.note).await?;
    Ok(IssueDetail {
        issue,
        participant_phone,
        notes,
        contacts,
        events,
    })
}

/// Every issue raised in `[from, to)`, oldest first.
pub async fn raised_between(
    panel: &Panel,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Issue>> {
    let mut conn = panel.conn().await?;
    store::raised_between(&mut conn, from, to, panel.now()).await
}

/// Issues, the most urgent first (overdue, then by the next due time).
pub async fn list(panel: &Panel, query: &IssueQuery) -> Result<Vec<Issue>> {
    let owner = match query.owner.as_deref().map(str::trim) {
        Some(o) if !o.is_empty() => Some(staff::by_email(panel, o).await?.id),
        _ => None,
    };
    let mut conn = panel.conn().await?;
    store::list(&mut conn, query, owner, panel.now()).await
}

/// The open issues of the staff member using this computer.
pub async fn mine(panel: &Panel) -> Result<Vec<Issue>> {
    // A team server's caller is known by id: no need to read them first.
    let me = match panel.actor() {
        Some(id) => id,
        None => staff::current(panel).await?.map(|s| s.id).ok_or_else(|| {
            Error::conflict("say which staff member uses this computer first (staff me EMAIL)")
        })?,
    };
    let query = IssueQuery {
        open_only: true,
        ..Default::default()
    };
    // A team server keeps each owner's list while it hears of its changes.
    let now = panel.now();
    let kept = panel.kept_follow_ups();
    if let Some(issues) = kept::get(kept, me, now) {
        return Ok(issues);
    }
    let heard = kept.heard_so_far();
    let mut conn = panel.conn().await?;
    let issues = store::list(&mut conn, &query, Some(me), now).await?;
    drop(conn);
    kept::keep(kept, me, &issues, now, heard);
    Ok(issues)
}

/// Forgets what this process keeps of `owner`'s follow-ups, after a call
/// of theirs that may have changed them: their next look reads them again.
pub(crate) fn forget_kept(panel: &Panel, owner: StaffId) {
    panel.kept_follow_ups().forget(&owner);
}

async fn event(
    conn: impl Into<Conn<'_>>,
    issue: IssueId,
    now: DateTime<Utc>,
    actor: Option<StaffId>,
    kind: &str,
    detail: serde_json::Value,
) -> Result<()> {
    let mut conn = conn.into();
    store::record_event(&mut conn, issue, now, actor, kind, &detail).await
}

async fn actor(panel: &Panel) -> Result<Option<StaffId>> {
    if let Some(id) = panel.actor() {
        return Ok(Some(id));
    }
    Ok(staff::current(panel).await?.map(|s| s.id))
}

fn required(field: &str, text: &str) -> Result<String> {
    let t = check_text(field, text)?;
    if t.is_empty() {
        return Err(Error::invalid(field, "", "is required"));
    }
    Ok(t)
}

/// Raises an issue (from a note, or for a participant of a session), with
/// due dates from the service level of its severity; with an owner, they
/// are assigned at once.
pub async fn raise(panel: &Panel, input: &IssueInput) -> Result<Issue> {
    let summary = required("summary", &input.summary)?;
    let detail = check_text("detail", &input.detail)?;
    let category = check_text("category", &input.category)?;
    let severity = input.severity.unwrap_or(Severity::Normal);
    let note = match input.note {
        Some(id) => Some(notes::get(panel, id).await?),
        None => None,
    };
    let session = match (&note, input.session) {
        (Some(n), _) => n.session,
        (None, Some(s)) => s,
        (None, None) => {
            return Err(Error::invalid(
                "session",
                "",
                "name the note or the session the issue comes from",
            ));
        }
    };
    let in_session = sessions::get(panel, session).await?;
    let zone = in_session.time_zone;
    let participant = match (input.participant.as_deref().map(str::trim), &note) {
        (Some(p), _) if !p.is_empty() => participants::find(panel, p).await?,
        (_, Some(n)) if n.participant.is_some() => n.participant.expect("checked"),
        (_, Some(n)) => {
            return Err(Error::conflict(format!(
                "note {} is not attributed to anyone, and an issue is someone's: name the \
                 participant it is about (their email or id), or attribute the note to them first",
                n.id
            )));
        }
        _ => {
            return Err(Error::invalid(
                "participant",
                "",
                "an issue is someone's: name the participant it is about (their email or id)",
            ));
        }
    };
    let owner = match input.owner.as_deref().map(str::trim) {
        Some(o) if !o.is_empty() => Some(staff::active_by_email(panel, o).await?),
        _ => None,
    };
    if owner.is_none() && in_session.completed_at.is_some() {
        return Err(Error::invalid(
            "owner",
            "",
            format!("session {session} is complete: an issue raised now needs an owner"),
        ));
    }
    let levels = service_levels(panel).await?;
    let actor = actor(panel).await?;
    let now = panel.now();
    let (first_contact_due, resolution_due) = levels.dues(severity, now, zone);
    let mut tx = panel.begin().await?;
    let id = store::insert(
        &mut tx,
        &store::NewIssue {
            session,
            participant,
            note: note.as_ref().map(|n| n.id),
            summary: &summary,
            detail: &detail,
            category: &category,
            severity,
            owner: owner.as_ref().map(|o| o.id),
            first_contact_due,
            resolution_due,
            raised_by: actor,
        },
        now,
    )
    .await?;
    event(
        &mut tx,
        id,
        now,
        actor,
        "raised",
        json!({"summary": summary, "severity": severity.as_str()}),
    )
    .await?;
    if let Some(owner) = &owner {
        handed_to(&mut tx, now, actor, id, owner).await?;
    }
    // Read back in the same transaction: no second wait for a connection.
    let changed = store::get(&mut tx, id, now).await?;
    tx.commit().await?;
    panel.wake_mail();
    Ok(changed)
}

/// Records that `owner` now has the issue (its owner column is already
/// set), mails them what they need and plans their nudge.
async fn handed_to(
    tx: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    actor: Option<StaffId>,
    id: IssueId,
    owner: &Staff,
) -> Result<Issue> {
    let mut tx = tx.into();
    event(
        &mut tx,
        id,
        now,
        actor,
        "assigned",
        json!({"owner": owner.name}),
    )
    .await?;
    let issue = store::get_for_change(&mut tx, id, now).await?;
    messages::queue_assigned(&mut tx, now, &issue, owner).await?;
    replan_after(&mut tx, now, id, true).await
}

/// Gives an issue without an owner to `owner`, who is mailed what they need.
pub async fn assign(panel: &Panel, id: IssueId, owner: &str) -> Result<Issue> {
    let owner = staff::active_by_email(panel, owner).await?;
    let actor = actor(panel).await?;
    let now = panel.now();
    let mut tx = panel.begin().await?;
    let issue = store::get_for_change(&mut tx, id, now).await?;
    if let Some(current) = &issue.owner_name {
        return Err(Error::conflict(format!(
            "issue {id} already belongs to {current}; reassign it, with a reason"
        )));
    }
    store::set_owner(&mut tx, id, owner.id).await?;
    let changed = handed_to(&mut tx, now, actor, id, &owner).await?;
    tx.commit().await?;
    panel.wake_mail();
    Ok(changed)
}

/// Hands an issue to another owner. The reason is kept, the hand-off is
/// counted, the new owner is mailed, and the participant is told who has
/// their issue now.
pub async fn reassign(panel: &Panel, id: IssueId, owner: &str, reason: &str) -> Result<Issue> {
    let reason = required("reason", reason)?;
    let owner = staff::active_by_email(panel, owner).await?;
    let actor = actor(panel).await?;
    let now = panel.now();
    let mut tx = panel.begin().await?;
    let issue = store::get_for_change(&mut tx, id, now).await?;
    let Some(from) = issue.owner else {
        return Err(Error::conflict(format!(
            "issue {id} has no owner yet: assign it"
        )));
    };
    if from == owner.id {
        return Err(Error::conflict(format!(
            "issue {id} already belongs to {}",
            owner.name
        )));
    }
    if !issue.status.is_open() {
        return Err(Error::conflict(format!(
            "issue {id} is {}; reopen it before handing it on",
            issue.status.as_str().replace('_', " ")
        )));
    }
    store::hand_off(&mut tx, id, owner.id).await?;
    event(
        &mut tx,
        id,
        now,
        actor,
        "reassigned",
        json!({"from": issue.owner_name, "to": owner.name, "reason": reason}),
    )
    .await?;
    let issue = store::get_for_change(&mut tx, id, now).await?;
    messages::queue_assigned(&mut tx, now, &issue, &owner).await?;
    replan_after(&mut tx, now, id, true).await?;
    let notice = messages::handoff(&issue, &owner);
    if let Some(message) =
        messages::queue_to_participant(&mut tx, now, &issue, &owner, MessageKind::Handoff, notice)
            .await?
    {
        event(
            &mut tx,
            id,
            now,
            actor,
            "participant_told",
            json!({"message": message.0, "owner": owner.name}),
        )
        .await?;
    }
    let changed = store::get(&mut tx, id, now).await?;
    tx.commit().await?;
    panel.wake_mail();
    Ok(changed)
}

/// Logs an attempt to reach the participant; the first one moves an open
/// issue to contacted and meets the first-contact due time.
pub async fn log_contact(
    panel: &Panel,
    id: IssueId,
    via: ContactVia,
    outcome: &str,
) -> Result<Issue> {
    let outcome = required("outcome", outcome)?;
    let actor = actor(panel).await?;
    let now = panel.now();
    let mut tx = panel.begin().await?;
    let changed = log_contact_in(&mut tx, now, actor, id, via, &outcome).await?;
    tx.commit().await?;
    Ok(changed)
}

/// [`log_contact`] inside the caller's transaction, `outcome` checked.
async fn log_contact_in(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    actor: Option<StaffId>,
    id: IssueId,
    via: ContactVia,
    outcome: &str,
) -> Result<Issue> {
    let mut tx = conn.into();
    let status = store::status_for_change(&mut tx, id).await?;
    if !status.is_open() {
        return Err(Error::conflict(format!(
            "issue {id} is {}; reopen it to log more contact",
            status.as_str().replace('_', " ")
        )));
    }
    // Reaching them ends a wait for their answer.
    if status == IssueStatus::Waiting {
        change_status(&mut tx, id, status, IssueStatus::Contacted, now).await?;
    }
    let contact = store::Contact {
        record: store::ContactRecord {
            issue: id,
            at: now,
            staff: actor,
            via,
            outcome,
        },
        event: &json!({"via": via.as_str(), "outcome": outcome}),
        first: status == IssueStatus::Open,
    };
    store::log_contact(&mut tx, &contact).await?;
    replan(&mut tx, now, id).await
}

/// Moves issue `id` from status `from` to `to`, as the status machine
/// allows.
async fn change_status(
    tx: impl Into<Conn<'_>>,
    id: IssueId,
    from: IssueStatus,
    to: IssueStatus,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut tx = tx.into();
    if let Some(why) = from.refusal(to) {
        return Err(Error::conflict(format!("issue {id}: {why}")));
    }
    if from == IssueStatus::Waiting {
        // The clock goes on: the resolution is due later by the wait.
        store::end_wait(&mut tx, id, now).await?;
    }
    store::set_status(&mut tx, id, to, now).await
}

/// Resolves a contacted issue: the resolution note is kept and the
/// message to the participant is queued (from the owner, replies to them).
pub async fn resolve(panel: &Panel, id: IssueId, note: &str, message: &str) -> Result<Issue> {
    finish(panel, id, IssueStatus::Resolved, note, message).await
}

/// Closes a contacted issue without a fix: the reason is kept and the
/// participant is told.
pub async fn wont_fix(panel: &Panel, id: IssueId, reason: &str, message: &str) -> Result<Issue> {
    finish(panel, id, IssueStatus::WontFix, reason, message).await
}

/// The message [`resolve`] would send the participant, for its writer to
/// read before anything is queued; refused as [`resolve`] would refuse.
/// `None` when the participant can no longer be written to (erased).
pub async fn preview_resolve(
    panel: &Panel,
    id: IssueId,
    note: &str,
    message: &str,
) -> Result<Option<MessagePreview>> {
    preview_finish(panel, id, IssueStatus::Resolved, note, message).await
}

/// The message [`wont_fix`] would send the participant, as
/// [`preview_resolve`].
pub async fn preview_wont_fix(
    panel: &Panel,
    id: IssueId,
    reason: &str,
    message: &str,
) -> Result<Option<MessagePreview>> {
    preview_finish(panel, id, IssueStatus::WontFix, reason, message).await
}

/// A resolution or won't-fix, checked: the issue may go to that status and
/// has an owner, and the note and the message are given.
struct Finishing {
    issue: Issue,
    owner: Staff,
    note: String,
    message: String,
}

impl Finishing {
    async fn check(
        conn: impl Into<Conn<'_>>,
        now: DateTime<Utc>,
        id: IssueId,
        to: IssueStatus,
        note: &str,
        message: &str,
    ) -> Result<Finishing> {
        let mut conn = conn.into();
        let field = if to == IssueStatus::Resolved {
            "resolution note"
        } else {
            "reason"
        };
        let note = required(field, note)?;
        let message = required("message to the participant", message)?;
        let issue = store::get_for_change(&mut conn, id, now).await?;
        if let Some(why) = issue.status.refusal(to) {
            return Err(Error::conflict(format!("issue {id}: {why}")));
        }
        let owner = match issue.owner {
            Some(o) => staff::get_in(&mut conn, o).await?,
            None => return Err(Error::conflict(format!("issue {id} has no owner"))),
        };
        Ok(Finishing {
            issue,
            owner,
            note,
            message,
        })
    }

    /// The message to the participant, from the owner.
    fn reply(&self, now: DateTime<Utc>) -> Result<Option<NewMessage>> {
        let template = messages::resolution(&self.issue, &self.owner, &self.message);
        messages::to_participant(
            now,
            &self.issue,
            &self.owner,
            MessageKind::Resolution,
            template,
        )
    }
}

async fn preview_finish(
    panel: &Panel,
    id: IssueId,
    to: IssueStatus,
    note: &str,
    message: &str,
) -> Result<Option<MessagePreview>> {
    let now = panel.now();
    let mut conn = panel.conn().await?;
    let finishing = Finishing::check(&mut conn, now, id, to, note, message).await?;
    Ok(finishing.reply(now)?.as_ref().map(MessagePreview::from))
}

async fn finish(
    panel: &Panel,
    id: IssueId,
    to: IssueStatus,
    note: &str,
    message: &str,
) -> Result<Issue> {
    let actor = actor(panel).await?;
    let now = panel.now();
    let mut tx = panel.begin().await?;
    let changed = finish_in(&mut tx, now, actor, id, to, note, message).await?;
    tx.commit().await?;
    panel.wake_mail();
    Ok(changed)
}

/// [`resolve`] or [`wont_fix`] inside the caller's transaction.
async fn finish_in(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    actor: Option<StaffId>,
    id: IssueId,
    to: IssueStatus,
    note: &str,
    message: &str,
) -> Result<Issue> {
    let mut tx = conn.into();
    let finishing = Finishing::check(&mut tx, now, id, to, note, message).await?;
    change_status(&mut tx, finishing.issue.id, finishing.issue.status, to, now).await?;
    store::set_resolution(&mut tx, id, &finishing.note, now).await?;
    let sent = match finishing.reply(now)? {
        Some(mut reply) => {
            reply.also_reply_to =
                crate::inbox::settings::record_address(&mut tx, finishing.issue.id).await?;
            Some(mail::enqueue(&mut tx, now, &reply).await?)
        }
        None => None,
    };
    event(
        &mut tx,
        id,
        now,
        actor,
        to.as_str(),
        json!({"note": finishing.note, "message": finishing.message, "queued": sent.map(|m| m.0)}),
    )
    .await?;
    replan(&mut tx, now, id).await
}

/// What an owner's mail about their issue did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerMail {
    /// Sent on to the participant from the owner, logged as a contact.
    Sent,
    /// `#resolve` or `#wont-fix`: the issue was finished with the rest of
    /// the text as the message to the participant.
    Finished(IssueStatus),
    /// Nothing sent, and why: kept as an internal note.
    Kept(String),
}

/// The owner answered the panel's mail about issue `id` by mail, inside the
/// caller's transaction: their text goes to the participant from them
/// (queued through the outbox, logged as a contact by email, which meets
/// the first contact); a first line `#resolve` or `#wont-fix` finishes the
/// issue with the rest as the message.
pub(crate) async fn owner_wrote(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    id: IssueId,
    owner: StaffId,
    text: &str,
) -> Result<OwnerMail> {
    let mut tx = conn.into();
    let issue = store::get_for_change(&mut tx, id, now).await?;
    if !issue.status.is_open() {
        return Ok(OwnerMail::Kept(format!(
            "the issue is {}; reopen it to write to the participant",
            issue.status.as_str().replace('_', " ")
        )));
    }
    let text = text.trim();
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let finish = match first.trim().to_lowercase().as_str() {
        "#resolve" | "#resolved" => Some(IssueStatus::Resolved),
        "#wont-fix" | "#wontfix" | "#won't-fix" | "#wont_fix" => Some(IssueStatus::WontFix),
        _ => None,
    };
    let message = if finish.is_some() { rest.trim() } else { text };
    if message.is_empty() {
        return Ok(OwnerMail::Kept(
            "nothing to send: write the message to the participant below the first line".into(),
        ));
    }
    if issue.participant_email.is_none() {
        return Ok(OwnerMail::Kept(
            "the participant has no email address left; nothing was sent".into(),
        ));
    }
    let summary: String = message
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(120)
        .collect();
    let outcome = format!("wrote to them by mail: {summary}");
    match finish {
        Some(to) => {
            if issue.status == IssueStatus::Open {
                log_contact_in(&mut tx, now, Some(owner), id, ContactVia::Email, &outcome).await?;
            }
            let note = if to == IssueStatus::Resolved {
                "resolved by mail"
            } else {
                "closed by mail as won't fix"
            };
            finish_in(&mut tx, now, Some(owner), id, to, note, message).await?;
            Ok(OwnerMail::Finished(to))
        }
        None => {
            let from = staff::get_in(&mut tx, owner).await?;
            let template = messages::owner_message(&issue, &from, message);
            messages::queue_to_participant(
                &mut tx,
                now,
                &issue,
                &from,
                MessageKind::OwnerMessage,
                template,
            )
            .await?;
            log_contact_in(&mut tx, now, Some(owner), id, ContactVia::Email, &outcome).await?;
            Ok(OwnerMail::Sent)
        }
    }
}

/// Closes a resolved (or won't-fix) issue.
pub async fn close(panel: &Panel, id: IssueId) -> Result<Issue> {
    let actor = actor(panel).await?;
    let now = panel.now();
    let mut tx = panel.begin().await?;
    let issue = store::get_for_change(&mut tx, id, now).await?;
    change_status(&mut tx, issue.id, issue.status, IssueStatus::Closed, now).await?;
    event(&mut tx, id, now, actor, "closed", json!({})).await?;
    let changed = store::get(&mut tx, id, now).await?;
    tx.commit().await?;
    Ok(changed)
}

/// Reopens a finished issue: it is open again, due for resolution by the
/// service level from now.
pub async fn reopen(panel: &Panel, id: IssueId, reason: &str) -> Result<Issue> {
    let reason = required("reason", reason)?;
    let actor = actor(panel).await?;
    let now = panel.now();
    let mut tx = panel.begin().await?;
    let issue = store::get_for_change(&mut tx, id, now).await?;
    let changed = reopen_in(&mut tx, now, actor, &issue, json!({"reason": reason})).await?;
    tx.commit().await?;
    Ok(changed)
}

/// Reopens `issue` (read for change) inside the caller's transaction, with
/// `detail` (the reason, and the rule when no person decided) in the audit
/// trail; the due times start again from now.
async fn reopen_in(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    actor: Option<StaffId>,
    issue: &Issue,
    detail: serde_json::Value,
) -> Result<Issue> {
    let mut tx = conn.into();
    let id = issue.id;
    change_status(&mut tx, issue.id, issue.status, IssueStatus::Open, now).await?;
    let levels = store::levels(&mut tx).await?;
    let zone = sessions::get_in(&mut tx, issue.session).await?.time_zone;
    let (first_contact_due, resolution_due) = levels.dues(issue.severity, now, zone);
    store::reopen(&mut tx, id, first_contact_due, resolution_due, now).await?;
    event(&mut tx, id, now, actor, "reopened", detail).await?;
    replan(&mut tx, now, id).await
}

/// The owner asks the participant a question and waits for the answer:
/// the question goes to them by mail from the owner (logged as a contact
/// by email), and the service-level clock stands still until they answer
/// (by mail, read from the panel mailbox) or the owner stops waiting.
pub async fn wait_for_participant(panel: &Panel, id: IssueId, question: &str) -> Result<Issue> {
    let question = required("question", question)?;
    let actor = actor(panel).await?;
    let now = panel.now();
    let mut tx = panel.begin().await?;
    let issue = store::get_for_change(&mut tx, id, now).await?;
    if let Some(why) = issue.status.refusal(IssueStatus::Waiting) {
        return Err(Error::conflict(format!("issue {id}: {why}")));
    }
    let Some(owner) = issue.owner else {
        return Err(Error::conflict(format!("issue {id} has no owner to ask")));
    };
    if issue.participant_email.is_none() {
        return Err(Error::conflict(format!(
            "{} has no email address: ask them another way and log the contact",
            issue.participant_name
        )));
    }
    let owner = staff::get_in(&mut tx, owner).await?;
    let template = messages::owner_message(&issue, &owner, &question);
    messages::queue_to_participant(
        &mut tx,
        now,
        &issue,
        &owner,
        MessageKind::OwnerMessage,
        template,
    )
    .await?;
    let first: String = question
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(120)
        .collect();
    let contacted = log_contact_in(
        &mut tx,
        now,
        actor,
        id,
        ContactVia::Email,
        &format!("asked: {first}"),
    )
    .await?;
    change_status(
        &mut tx,
        contacted.id,
        contacted.status,
        IssueStatus::Waiting,
        now,
    )
    .await?;
    event(
        &mut tx,
        id,
        now,
        actor,
        "waiting",
        json!({"question": question}),
    )
    .await?;
    let changed = replan(&mut tx, now, id).await?;
    tx.commit().await?;
    panel.wake_mail();
    Ok(changed)
}

/// The owner stops waiting on the participant (they answered another way):
/// the clock goes on, the resolution due later by the wait.
pub async fn stop_waiting(panel: &Panel, id: IssueId) -> Result<Issue> {
    let actor = actor(panel).await?;
    let now = panel.now();
    let mut tx = panel.begin().await?;
    let issue = store::get_for_change(&mut tx, id, now).await?;
    let changed = resume_in(&mut tx, now, actor, &issue, "the owner stopped waiting").await?;
    tx.commit().await?;
    panel.wake_mail();
    Ok(changed)
}

/// Ends a wait on the participant, saying why.
async fn resume_in(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    actor: Option<StaffId>,
    issue: &Issue,
    why: &str,
) -> Result<Issue> {
    let mut tx = conn.into();
    change_status(&mut tx, issue.id, issue.status, IssueStatus::Contacted, now).await?;
    event(
        &mut tx,
        issue.id,
        now,
        actor,
        "resumed",
        json!({"reason": why}),
    )
    .await?;
    replan(&mut tx, now, issue.id).await
}

/// What a participant's reply did to their issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplyEffect {
    /// Filed with an open issue; the owner was told.
    Filed,
    /// The answer the owner waited for: the clock goes on; the owner told.
    Resumed,
    /// The issue had been resolved and was opened again.
    Reopened,
    /// Only thanks, to a resolved issue: filed, the owner told, no reopening.
    Thanks,
}

/// A participant's reply about issue `id`, read from the panel mailbox as
/// message `message`, inside the caller's transaction: it goes into the
/// audit trail; a resolved (or won't-fix, or closed) issue opens again
/// unless the reply is only thanks; the owner is told once.
pub(crate) async fn participant_replied(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    id: IssueId,
    reply: &str,
    message: i64,
) -> Result<ReplyEffect> {
    let mut tx = conn.into();
    let issue = store::get_for_change(&mut tx, id, now).await?;
    let effect = if issue.status == IssueStatus::Waiting {
        ReplyEffect::Resumed
    } else if issue.status.is_open() {
        ReplyEffect::Filed
    } else if followup::only_thanks(reply) {
        ReplyEffect::Thanks
    } else {
        ReplyEffect::Reopened
    };
    event(
        &mut tx,
        id,
        now,
        None,
        "replied",
        json!({"message": message, "thanks": effect == ReplyEffect::Thanks}),
    )
    .await?;
    if effect == ReplyEffect::Resumed {
        resume_in(&mut tx, now, None, &issue, "the participant replied").await?;
    }
    if effect == ReplyEffect::Reopened {
        reopen_in(
            &mut tx,
            now,
            None,
            &issue,
            json!({
                "reason": format!("{} replied after it was {}", issue.participant_name,
                    issue.status.as_str().replace('_', " ")),
                "rule": "a participant's reply reopens a resolved issue",
                "message": message,
            }),
        )
        .await?;
    }
    if let Some(owner) = issue.owner {
        let owner = staff::get_in(&mut tx, owner).await?;
        let issue = store::get(&mut tx, id, now).await?;
        messages::reply_to_owner(&mut tx, now, &issue, &owner, reply, effect, message).await?;
    }
    Ok(effect)
}
