//! The outbox's types: what a caller hands in to be sent, and what the
//! outbox view and `outbox list` show back.

use crate::Error;
use crate::participants::fields::Email;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use ts_rs::TS;

/// An outbox message's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
pub struct MessageId(#[ts(type = "number")] pub i64);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a message is for; each kind has its own template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// A test message from the SMTP settings.
    Test,
    /// An invitation to a session, with its calendar invite.
    Invitation,
    /// A reminder before a session.
    Reminder,
    /// A session was cancelled.
    SessionCancelled,
    /// An issue was given to its owner.
    IssueAssigned,
    /// A due time is coming up for the owner.
    Nudge,
    /// A due time has passed: to the owner's lead and the moderator.
    Escalation,
    /// The participant is told who has their issue now.
    Handoff,
    /// The participant is told how their issue was resolved.
    Resolution,
    /// A PDF report sent to a client or manager.
    Report,
    /// A place opened in a session: offered to the next on its waitlist.
    WaitlistOffer,
    /// A staff member is invited to the team server, with a link to set
    /// their password.
    StaffInvitation,
    /// A participant answered about their issue: the owner is told.
    IssueReply,
    /// The owner writes to the participant about their issue (an answer
    /// by mail to the panel's own mail about it).
    OwnerMessage,
}

impl MessageKind {
    /// Every kind, in the order the templates are listed.
    pub const ALL: [MessageKind; 14] = [
        MessageKind::Test,
        MessageKind::Invitation,
        MessageKind::Reminder,
        MessageKind::SessionCancelled,
        MessageKind::IssueAssigned,
        MessageKind::Nudge,
        MessageKind::Escalation,
        MessageKind::Handoff,
        MessageKind::Resolution,
        MessageKind::Report,
        MessageKind::WaitlistOffer,
        MessageKind::StaffInvitation,
        MessageKind::IssueReply,
        MessageKind::OwnerMessage,
    ];

    /// The stored name (`issue_assigned`).
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Test => "test",
            MessageKind::Invitation => "invitation",
            MessageKind::Reminder => "reminder",
            MessageKind::SessionCancelled => "session_cancelled",
            MessageKind::IssueAssigned => "issue_assigned",
            MessageKind::Nudge => "nudge",
            MessageKind::Escalation => "escalation",
            MessageKind::Handoff => "handoff",
            MessageKind::Resolution => "resolution",
            MessageKind::Report => "report",
            MessageKind::WaitlistOffer => "waitlist_offer",
            MessageKind::StaffInvitation => "staff_invitation",
            MessageKind::IssueReply => "issue_reply",
            MessageKind::OwnerMessage => "owner_message",
        }
    }
}

impl FromStr for MessageKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        MessageKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::invalid("message kind", s, "is not a kind of message"))
    }
}

/// Where a message is on its way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "MessageStatus")]
pub enum Status {
    /// Waiting: for its time, for a connection, or for a retry.
    Queued,
    /// Being handed to the server now.
    Sending,
    /// The server accepted it.
    Sent,
    /// It will not be sent without someone's say: the server refused it, or
    /// the delivery was interrupted at a point where it may have arrived.
    Failed,
    /// Someone cancelled it before it was sent.
    Cancelled,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }
}

impl FromStr for Status {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        [
            Status::Queued,
            Status::Sending,
            Status::Sent,
            Status::Failed,
            Status::Cancelled,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| {
            Error::invalid(
                "status",
                s,
                "must be queued, sending, sent, failed or cancelled",
            )
        })
    }
}

/// A file sent with a message: an `.ics` invite, a PDF report.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    /// The name the recipient sees.
    pub filename: String,
    /// A MIME type, e.g. `text/calendar; method=REQUEST`.
    pub content_type: String,
    /// The bytes.
    pub content: Vec<u8>,
}

/// Subject and both bodies, as the templates rendered them.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A message as it would go out, shown to the person who wrote part of it
/// before it is queued.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MessagePreview {
    pub to: String,
    /// The sender's name shown instead of the one in the SMTP settings.
    pub from_name: Option<String>,
    pub reply_to: Option<String>,
    /// Subject and bodies; the HTML body is for a mail program, not the webview.
    pub body: Rendered,
    /// Attached files: name and size in bytes.
    pub attachments: Vec<(String, u64)>,
}

impl From<&NewMessage> for MessagePreview {
    fn from(m: &NewMessage) -> MessagePreview {
        MessagePreview {
            to: m.to.as_str().to_string(),
            from_name: m.from_name.clone(),
            reply_to: reply_to_header(m),
            body: m.body.clone(),
            attachments: m
                .attachments
                .iter()
                .map(|a| (a.filename.clone(), a.content.len() as u64))
                .collect(),
        }
    }
}

/// The Reply-To addresses of `m`, as stored and shown: one, or two joined
/// by ", ".
pub(crate) fn reply_to_header(m: &NewMessage) -> Option<String> {
    let all: Vec<&str> = [&m.reply_to, &m.also_reply_to]
        .into_iter()
        .flatten()
        .map(Email::as_str)
        .collect();
    (!all.is_empty()).then(|| all.join(", "))
}

/// A message to be stored in the outbox.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub kind: MessageKind,
    pub to: Email,
    /// The recipient's name, shown in the `To` header.
    pub to_name: String,
    /// Replies go here instead of the sender address (an owner's own
    /// address, so a reply reaches a person).
    pub reply_to: Option<Email>,
    /// A second Reply-To beside `reply_to`: the panel mailbox, so that a
    /// participant's answer to an owner also comes back into the record.
    pub also_reply_to: Option<Email>,
    /// Shown as the sender's name instead of the one in the SMTP settings
    /// (a message signed by the person who sent it).
    pub from_name: Option<String>,
    pub body: Rendered,
    /// Extra headers (`List-Unsubscribe`), by name.
    pub headers: BTreeMap<String, String>,
    pub attachments: Vec<Attachment>,
    /// Not sent before this instant (reminders and nudges).
    pub not_before: DateTime<Utc>,
    /// What the message is about (`session/12/participant/5/reminder`), so a
    /// later change can cancel what it makes obsolete ([`super::cancel_topic`]).
    pub topic: Option<String>,
}

/// One line of the outbox view.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OutboxMessage {
    pub id: MessageId,
    pub kind: MessageKind,
    pub recipient: String,
    pub recipient_name: String,
    pub subject: String,
    pub status: Status,
    pub not_before: DateTime<Utc>,
    /// When the worker next tries; `None` once nothing more will happen.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub message_id: String,
    pub attachments: Vec<String>,
}

/// One message with its bodies, for reading it before or after it goes.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OutboxDetail {
    pub message: OutboxMessage,
    pub reply_to: Option<String>,
    pub body: Rendered,
    pub headers: BTreeMap<String, String>,
}

/// Which messages a listing shows.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct OutboxQuery {
    /// Only messages in this state.
    pub status: Option<Status>,
    /// At most this many (default 100).
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// How many messages are in each state: the badge shows `waiting`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OutboxCounts {
    /// Queued or being sent: not yet gone.
    pub waiting: i64,
    /// Of those, the ones whose time has come (the rest are scheduled).
    pub due: i64,
    pub failed: i64,
    pub sent: i64,
    pub cancelled: i64,
}

/// A page of the outbox, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OutboxPage {
    pub messages: Vec<OutboxMessage>,
    pub total: i64,
    pub counts: OutboxCounts,
}
