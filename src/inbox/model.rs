//! The shapes of the panel mailbox: a message as read and filed, its kind
//! and state, and what a round of reading did.

use crate::issues::IssueId;
use crate::participants::ParticipantId;
use crate::sessions::staff::StaffId;
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use ts_rs::TS;

/// What a message read from the panel mailbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum InboxKind {
    /// A person's reply.
    Reply,
    /// A calendar program's answer to an invitation.
    Calendar,
    /// A request to stop mail.
    Unsubscribe,
    /// A report that mail could not be delivered.
    Bounce,
    /// An out-of-office or other automatic reply: filed, never acted on.
    Automatic,
    /// Anything else.
    Other,
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum InboxState {
    /// Filed with an issue or a participant (or acted on).
    Filed,
    /// Matched to nothing: waits in the Inbox for a person.
    Unfiled,
    /// Put aside by a person, or nothing to do.
    Dismissed,
}

macro_rules! named {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
        }
        impl FromStr for $t {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                match s {
                    $($s => Ok(Self::$v),)*
                    _ => Err(Error::database(format!("unknown {}: {s}", stringify!($t)))),
                }
            }
        }
    };
}

named!(InboxKind {
    Reply => "reply",
    Calendar => "calendar",
    Unsubscribe => "unsubscribe",
    Bounce => "bounce",
    Automatic => "automatic",
    Other => "other",
});

named!(InboxState {
    Filed => "filed",
    Unfiled => "unfiled",
    Dismissed => "dismissed",
});

/// A message read from the panel mailbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct InboxMessage {
    #[ts(type = "number")]
    pub id: i64,
    pub read_at: DateTime<Utc>,
    /// As its Date header says.
    pub sent_at: Option<DateTime<Utc>>,
    pub from_address: String,
    pub from_name: String,
    pub subject: String,
    /// What they wrote, the quoted history folded away.
    pub reply: String,
    /// The whole text as sent.
    pub original: String,
    pub kind: InboxKind,
    pub issue: Option<IssueId>,
    pub participant: Option<ParticipantId>,
    pub participant_name: Option<String>,
    /// The staff member who wrote it, when one did.
    pub staff: Option<StaffId>,
    pub state: InboxState,
    /// What it did, in words.
    pub outcome: String,
}

/// What one round of reading the mailbox did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FetchReport {
    /// Messages read into the record this round.
    pub read: u32,
    /// Of which filed or acted on.
    pub filed: u32,
    /// Of which waiting in the Inbox for a person.
    pub unfiled: u32,
    /// Of which nothing to do (a delay report, a copy read before).
    pub dismissed: u32,
}

/// Where a person files a message from the Inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "to", content = "id", rename_all = "camelCase")]
pub enum FileTo {
    Issue(IssueId),
    Participant(ParticipantId),
}

/// Where a message is filed and what it did.
#[derive(Debug, Clone)]
pub(crate) struct Filing {
    pub kind: InboxKind,
    pub issue: Option<IssueId>,
    pub participant: Option<ParticipantId>,
    pub staff: Option<StaffId>,
    pub state: InboxState,
    pub outcome: String,
}

impl Filing {
    pub fn unfiled(kind: InboxKind, outcome: impl Into<String>) -> Filing {
        Filing {
            kind,
            issue: None,
            participant: None,
            staff: None,
            state: InboxState::Unfiled,
            outcome: outcome.into(),
        }
    }
}
