//! The lists of follow-ups (*My follow-ups*) a team server keeps in memory
//! between calls: under load, reading one owner's open issues with their
//! sessions and participants was most of what the team database did, and
//! an owner's list changes far less often than it is read.
//!
//! A list is kept only while the server hears the team database's notices
//! (`db::kept`). The migration `follow_up_notices` announces on
//! [`CHANNEL`], as each change commits and whichever computer makes it,
//! the owners (before and after) of every issue a statement writes, and
//! "everything" when a session's title, a participant's name or email (an
//! erasure among them) or a staff member's name changes, or one of them is
//! deleted. A caller's own change through this server forgets their list
//! before its answer goes out (`api::call`), so they see it at once;
//! another person's change is heard within moments. Whether an issue is
//! overdue is worked out again on each use, and a list is read again
//! after [`READ_AGAIN_AFTER`] in any case.

use super::Issue;
use crate::db::kept::Kept;
use crate::sessions::staff::StaffId;
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

/// The channel the team database announces changed follow-ups on: the
/// payload is an owner's id, or empty when every list may have changed.
pub(crate) const CHANNEL: &str = "panelkeeper_follow_ups";

/// How long a kept list is used before it is read again, heard changes or
/// not.
pub(crate) const READ_AGAIN_AFTER: Duration = Duration::minutes(5);

/// One owner's open issues, as read at `read_at`.
#[derive(Clone)]
pub(crate) struct List {
    read_at: DateTime<Utc>,
    issues: Arc<Vec<Issue>>,
}

/// The lists one process keeps, by their owner.
pub(crate) type FollowUps = Kept<StaffId, List>;

/// `owner`'s kept list as of `now` (each issue overdue or not by then),
/// when one is kept and young enough.
pub(crate) fn get(kept: &FollowUps, owner: StaffId, now: DateTime<Utc>) -> Option<Vec<Issue>> {
    let list = kept.get(&owner, |l| {
        now >= l.read_at && now - l.read_at < READ_AGAIN_AFTER
    })?;
    Some(
        list.issues
            .iter()
            .map(|i| Issue {
                overdue: i.status.overdue(i.first_contact_due, i.resolution_due, now),
                ..i.clone()
            })
            .collect(),
    )
}

/// Keeps `issues`, `owner`'s list read at `read_at`, begun when
/// [`Kept::heard_so_far`] said `heard`.
pub(crate) fn keep(
    kept: &FollowUps,
    owner: StaffId,
    issues: &[Issue],
    read_at: DateTime<Utc>,
    heard: u64,
) {
    if kept.is_hearing() {
        let list = List {
            read_at,
            issues: Arc::new(issues.to_vec()),
        };
        kept.keep(owner, list, heard);
    }
}

/// Acts on one notice's payload: an owner's list is forgotten, or every
/// list (an empty payload, or one not understood).
pub(crate) fn heard(kept: &FollowUps, payload: &str) {
    match payload.parse() {
        Ok(owner) => kept.forget(&StaffId(owner)),
        Err(_) => kept.forget_all(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issues::{IssueId, IssueStatus, Severity};
    use crate::participants::ParticipantId;
    use crate::sessions::SessionId;
    use chrono::TimeZone;

    fn issue(owner: i64, first_contact_due: DateTime<Utc>) -> Issue {
        Issue {
            id: IssueId(1),
            session: SessionId(1),
            session_title: "Checkout study".into(),
            participant: ParticipantId(1),
            participant_name: "Zoë Ålander".into(),
            participant_email: None,
            note: None,
            summary: "Refund not received".into(),
            detail: String::new(),
            category: "billing".into(),
            severity: Severity::High,
            owner: Some(StaffId(owner)),
            owner_name: Some("Kim".into()),
            status: IssueStatus::Open,
            first_contact_due,
            resolution_due: first_contact_due + Duration::days(5),
            first_contact_at: None,
            resolved_at: None,
            resolution: None,
            handoffs: 0,
            reopens: 0,
            reopened_at: None,
            overdue: false,
            created_at: first_contact_due - Duration::days(1),
            waiting_since: None,
        }
    }

    #[test]
    fn a_kept_list_says_what_is_overdue_when_it_is_used() {
        let kept = FollowUps::default();
        kept.hearing(true);
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap();
        let due = now + Duration::minutes(1);
        keep(
            &kept,
            StaffId(7),
            &[issue(7, due)],
            now,
            kept.heard_so_far(),
        );
        assert!(!get(&kept, StaffId(7), now).unwrap()[0].overdue);
        let later = now + Duration::minutes(2);
        assert!(get(&kept, StaffId(7), later).unwrap()[0].overdue);
        assert!(get(&kept, StaffId(7), now + READ_AGAIN_AFTER).is_none());
        assert!(get(&kept, StaffId(8), now).is_none());
    }

    #[test]
    fn a_notice_forgets_its_owners_list_or_every_one() {
        let kept = FollowUps::default();
        kept.hearing(true);
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap();
        for owner in [7, 8] {
            keep(
                &kept,
                StaffId(owner),
                &[issue(owner, now)],
                now,
                kept.heard_so_far(),
            );
        }
        heard(&kept, "7");
        assert!(get(&kept, StaffId(7), now).is_none());
        assert!(get(&kept, StaffId(8), now).is_some());
        heard(&kept, "");
        assert!(get(&kept, StaffId(8), now).is_none());
    }
}
