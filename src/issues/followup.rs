//! Keeping the promise on time: before each due time the owner is nudged,
//! after a breach [`tick`] escalates to the owner's lead and the session's
//! moderator, again every `escalation_repeat_minutes` until someone acts.
//! Every change to an issue re-plans its mail ([`replan`]): the nudges and
//! escalations a change made obsolete are withdrawn, and the next nudge is
//! queued for its time.

use super::messages::{self, topic};
use super::{Issue, IssueId, store};
use crate::db::{Conn, millis};
use crate::mail;
use crate::sessions::staff::{self, Staff, StaffId};
use crate::sessions::{self, SessionId};
use crate::{Error, Panel, Result};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

/// The due times still to be met, and what each is for.
fn open_dues(issue: &Issue) -> Vec<(DateTime<Utc>, &'static str)> {
    let mut dues = Vec::with_capacity(2);
    if !issue.status.clock_runs() {
        return dues;
    }
    if issue.awaiting_contact() {
        dues.push((issue.first_contact_due, "first contact"));
    }
    dues.push((issue.resolution_due, "resolution"));
    dues
}

/// Whether a waiting escalation (its topic `issue/N/escalation/DUE/ROUND/STAFF`
/// after `prefix`) stays after a change: only while the owner is the same
/// and the due time it is about is still breached and the issue's own.
fn escalation_stays(topic: &str, prefix: &str, live: &[i64], owner_changed: bool) -> bool {
    let rest = &topic[prefix.len().min(topic.len())..];
    let due: Option<i64> = rest
        .split('/')
        .next()
        .and_then(|d| d.parse().ok())
        .filter(|_| rest.split('/').count() == 3);
    !owner_changed && due.is_some_and(|d| live.contains(&d))
}

/// The start of the topics of an issue's escalations.
const ESCALATIONS: &str = "escalation/";

/// Withdraws the escalations still waiting to go (`waiting`) that a change made
/// obsolete: those about a due time that is met now (or no longer the
/// issue's), and, when `owner_changed`, every one (they name the former
/// owner and go to that owner's lead; the new owner's come from the next
/// tick).
async fn withdraw_escalations(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    issue: &Issue,
    owner_changed: bool,
    waiting: Vec<(mail::MessageId, String)>,
) -> Result<()> {
    let mut conn = conn.into();
    let live: Vec<i64> = if issue.status.is_open() {
        open_dues(issue)
            .into_iter()
            .filter(|(due, _)| *due <= now)
            .map(|(due, _)| millis(due))
            .collect()
    } else {
        Vec::new()
    };
    let prefix = topic(issue.id, ESCALATIONS);
    for (message, t) in waiting {
        if !escalation_stays(&t, &prefix, &live, owner_changed) {
            mail::withdraw(&mut conn, now, message).await?;
        }
    }
    Ok(())
}

/// Withdraws the issue's waiting nudges, and the escalations the change
/// made obsolete, and, while it is open and owned, queues a nudge to the
/// owner before each due time still to be met: once per owner and due
/// time, at once if the time to nudge has already come. Answers with the
/// issue as it now is (the plan does not change it).
pub(super) async fn replan(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    id: IssueId,
) -> Result<Issue> {
    let mut conn = conn.into();
    replan_after(&mut conn, now, id, false).await
}

/// [`replan`] after a change of owner.
pub(super) async fn replan_after(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    id: IssueId,
    owner_changed: bool,
) -> Result<Issue> {
    let mut conn = conn.into();
    let nudges = topic(id, "nudge/");
    let escalations =
        mail::cancel_topic_and_read(&mut conn, now, &nudges, &topic(id, ESCALATIONS)).await?;
    let issue = store::get(&mut conn, id, now).await?;
    withdraw_escalations(&mut conn, now, &issue, owner_changed, escalations).await?;
    // Nudges go before the due times still ahead; past ones are
    // escalated by the tick.
    let ahead: Vec<_> = open_dues(&issue)
        .into_iter()
        .filter(|due| due.0 > now)
        .collect();
    let Some(owner) = issue
        .owner
        .filter(|_| issue.status.is_open() && !ahead.is_empty())
    else {
        return Ok(issue);
    };
    let owner = staff::get_in(&mut conn, owner).await?;
    let levels = store::levels(&mut conn).await?;
    // The window a nudge's lead is measured in: this round of follow-up.
    let start = issue
        .first_contact_at
        .unwrap_or(issue.created_at)
        .max(issue.reopened_at.unwrap_or(issue.created_at));
    let links = crate::accounts::server_address_in(&mut conn).await?;
    // The owner's answer to a nudge goes through the panel mailbox, if any.
    let record = crate::inbox::settings::record_address(&mut conn, id).await?;
    for due in ahead {
        let this = messages::nudge_topic(id, due.0, &owner);
        if mail::topic_queued(&mut conn, &this).await? {
            continue;
        }
        let lead = Duration::minutes(levels.nudge_minutes_before as i64).min((due.0 - start) / 2);
        let send_at = (due.0 - lead).max(now);
        let mut nudge = messages::nudge(&issue, &owner, due, send_at, this, links.as_deref())?;
        nudge.reply_to = record.clone();
        mail::enqueue(&mut conn, now, &nudge).await?;
    }
    Ok(issue)
}

/// Whether a reply is only thanks (short, thankful, asking nothing and
/// saying nothing is still wrong): such a reply to a resolved issue does
/// not open it again.
pub(crate) fn only_thanks(reply: &str) -> bool {
    const THANKS: [&str; 9] = [
        "thank", "thanks", "thx", "cheers", "danke", "merci", "gracias", "tack", "grazie",
    ];
    const BUT: [&str; 12] = [
        "?", "but", "still", "not", "n't", "again", "aber", "noch", "mais", "pero", "problem",
        "wrong",
    ];
    let lower = reply.to_lowercase();
    let words = lower.split_whitespace().count();
    words > 0
        && words <= 25
        && THANKS.iter().any(|t| lower.contains(t))
        && !BUT.iter().any(|b| {
            lower
                .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '?')
                .any(|w| w == *b || (b.starts_with(['n', '?']) && w.ends_with(b)))
        })
}

/// What a tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct TickReport {
    /// Open issues past a due time.
    pub overdue: u32,
    /// Escalation messages queued now.
    pub escalations: u32,
}

/// Queues the escalations due at `now`: for every open issue past its due
/// time, one to the owner's lead and one to the session's moderator (only
/// the moderator, while nobody owns it), then
/// again every `escalation_repeat_minutes` until the owner acts (a logged
/// contact, a resolution or a hand-off starts the count again). Nudges are
/// already queued for their time, so a tick never sends one twice.
pub async fn tick(panel: &Panel, now: DateTime<Utc>) -> Result<TickReport> {
    let started = std::time::Instant::now();
    let mut conn = panel.conn().await?;
    let levels = store::levels(&mut conn).await?;
    let repeat = Duration::minutes(levels.escalation_repeat_minutes.max(1) as i64);
    let (overdue, due) = store::overdue(&mut conn, now, now - repeat).await?;
    let mut report = TickReport {
        overdue,
        escalations: 0,
    };
    drop(conn);
    let batch = if panel.is_team() {
        TEAM_TICK_BATCH
    } else {
        TICK_BATCH
    };
    for chunk in due.chunks(batch) {
        let mut tries = 0;
        loop {
            let mut tx = panel.begin().await?;
            if let Some(queued) = escalate(&mut tx, chunk, now, now - repeat).await? {
                tx.commit().await?;
                report.escalations += queued;
                break;
            }
            // One of the batch changed between its reading and its count
            // (another tick escalated it, its owner acted): the batch is
            // undone and read again.
            tries += 1;
            if tries == MOST_TRIES {
                return Err(Error::conflict(
                    "the overdue issues kept changing while they were escalated; \
                     the next tick tries again",
                ));
            }
        }
    }
    if report.escalations > 0 {
        tracing::info!(
            overdue = report.overdue,
            escalations = report.escalations,
            ms = started.elapsed().as_millis() as u64,
            "escalations queued"
        );
        panel.wake_mail();
    }
    Ok(report)
}

/// Issues escalated per transaction by a tick: each batch is read,
/// rendered, queued and counted in a handful of statements. A batch holds the write
/// lock for about a third of a second on a 1,000,000-person panel; a note
/// typed meanwhile waits for it, then is saved.
const TICK_BATCH: usize = 5_000;

/// [`TICK_BATCH`] on a team database, where a batch's count locks its
/// issues' rows until the commit, not the whole database: a contact logged
/// on one of them meanwhile waits for it. When the count came first, a
/// batch of 5,000 held a team server's contacts up for up to 200 ms once a
/// minute, and one of 250 for 20-50 ms; counted last, a batch holds them for
/// its count and its commit alone.
const TEAM_TICK_BATCH: usize = 250;

/// How often a tick reads a batch again that changed under it.
const MOST_TRIES: u32 = 10;

/// Who hears of a breach: the owner's lead and the session's moderator
/// (once, and not the owner themselves); with neither, the owner again.
fn recipients(owner: Option<&Staff>, lead: Option<Staff>, moderator: &Staff) -> Vec<Staff> {
    let mut to: Vec<Staff> = lead.into_iter().collect();
    let owner_id: Option<StaffId> = owner.map(|o| o.id);
    if owner_id != Some(moderator.id) && !to.iter().any(|s| s.id == moderator.id) {
        to.push(moderator.clone());
    }
    if to.is_empty() {
        to.extend(owner.cloned());
    }
    to
}

/// Escalates these issues in the caller's transaction, those still due an
/// escalation (open, overdue, and not escalated since `escalated_before`):
/// says how many messages it queued, or None when one of them changed
/// between its reading and its count (another tick escalated it, on
/// another process or machine; its owner acted), and the caller's
/// transaction must be undone.
///
/// The issues are read first, locking nothing, and counted last: on a team
/// database the count locks their rows until the commit, and a contact
/// logged on one of them meanwhile waits for it (for the whole batch, when
/// the count came first). The messages are rendered on a blocking thread a
/// stretch at a time, while this one writes the audit trail and the
/// stretch rendered before: rendering and writing each take about a third
/// of a batch.
async fn escalate(
    tx: impl Into<Conn<'_>>,
    ids: &[IssueId],
    now: DateTime<Utc>,
    escalated_before: DateTime<Utc>,
) -> Result<Option<u32>> {
    let mut tx = tx.into();
    let rounds = store::due_escalations(&mut tx, ids, now, escalated_before).await?;
    if rounds.is_empty() {
        return Ok(Some(0));
    }
    let mut due: Vec<IssueId> = rounds.keys().copied().collect();
    due.sort_unstable_by_key(|id| id.0);
    let issues = store::get_many(&mut tx, &due, now).await?;
    let team = staff::all_in(&mut tx).await?;
    let links = crate::accounts::server_address_in(&mut tx).await?;
    let member = |id: StaffId| {
        team.get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found("staff member", id))
    };
    let mut of_sessions: Vec<SessionId> = issues.iter().map(|i| i.session).collect();
    of_sessions.sort_unstable_by_key(|s| s.0);
    of_sessions.dedup();
    let moderators = sessions::moderators_in(&mut tx, &of_sessions).await?;
    let mut letters = Vec::new();
    let mut events = Vec::with_capacity(issues.len());
    for (at, issue) in issues.iter().enumerate() {
        let owner = issue.owner.map(member).transpose()?;
        let moderator = moderators
            .get(&issue.session)
            .copied()
            .ok_or_else(|| Error::not_found("session", issue.session))
            .and_then(member)?;
        let lead = owner
            .as_ref()
            .and_then(|o| o.lead)
            .map(member)
            .transpose()?;
        let to = recipients(owner.as_ref(), lead, &moderator);
        let round = rounds
            .get(&issue.id)
            .copied()
            .ok_or_else(|| Error::not_found("issue", issue.id))?;
        let names: Vec<&str> = to.iter().map(|s| s.name.as_str()).collect();
        let (_, what) = issue.next_due();
        events.push((issue.id, json!({"to": names, "due": what, "count": round})));
        letters.extend(to.into_iter().map(|recipient| Letter {
            issue: at,
            owner: owner.clone(),
            recipient,
            round,
        }));
    }
    let queued = letters.len() as u32;
    let issues = std::sync::Arc::new(issues);
    let render = |letters: Vec<Letter>| {
        let (issues, links) = (issues.clone(), links.clone());
        tokio::task::spawn_blocking(move || {
            letters
                .iter()
                .map(|l| l.render(&issues, now, links.as_deref()))
                .collect::<Result<Vec<_>>>()
        })
    };
    let mut stretches = in_stretches(letters, RENDER_STRETCH).into_iter();
    let mut rendering = stretches.next().map(render);
    store::record_escalations(&mut tx, now, &events).await?;
    while let Some(stretch) = rendering.take() {
        let rendered = match stretch.await {
            Ok(rendered) => rendered?,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => return Err(Error::database(format!("rendering stopped: {e}"))),
        };
        rendering = stretches.next().map(render);
        mail::enqueue_many(&mut tx, now, &rendered).await?;
    }
    let counted = store::count_escalations(&mut tx, &due, now, escalated_before).await?;
    Ok((counted == rounds).then_some(queued))
}

/// Messages rendered in one go while the ones before are written.
const RENDER_STRETCH: usize = 500;

/// `items` in order, in stretches of `size` (the last may be shorter; none
/// is empty).
fn in_stretches<T>(mut items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut stretches = Vec::with_capacity(items.len().div_ceil(size.max(1)));
    while !items.is_empty() {
        let rest = items.split_off(size.max(1).min(items.len()));
        stretches.push(std::mem::replace(&mut items, rest));
    }
    stretches
}

/// One escalation message still to render: to `recipient`, about the
/// batch's issue at `issue`.
struct Letter {
    issue: usize,
    owner: Option<Staff>,
    recipient: Staff,
    round: u32,
}

impl Letter {
    fn render(
        &self,
        issues: &[Issue],
        now: DateTime<Utc>,
        links: Option<&str>,
    ) -> Result<mail::NewMessage> {
        messages::escalation(
            now,
            &issues[self.issue],
            self.owner.as_ref(),
            &self.recipient,
            self.round,
            links,
        )
    }
}

#[cfg(test)]
mod thanks {
    use super::only_thanks;

    #[test]
    fn thanks_alone_is_thanks_and_a_complaint_with_thanks_is_not() {
        for yes in [
            "Thanks!",
            "Thank you so much, that's great.",
            "Danke schön",
            "Merci beaucoup !",
        ] {
            assert!(only_thanks(yes), "{yes}");
        }
        for no in [
            "Thanks, but it still does not work.",
            "Thank you. Can you check again?",
            "It doesn't work, thanks",
            "The parcel never arrived.",
            "",
        ] {
            assert!(!only_thanks(no), "{no}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: i64, lead: Option<i64>) -> Staff {
        Staff {
            id: StaffId(id),
            name: format!("Staff {id}"),
            email: format!("s{id}@company.example.com"),
            title: "support".into(),
            role: crate::sessions::staff::Role::Staff,
            lead: lead.map(StaffId),
            time_zone: None,
            can_sign_in: false,
            active: true,
        }
    }

    #[test]
    fn a_breach_goes_to_the_lead_and_the_moderator_once_and_never_only_nowhere() {
        let ids = |v: Vec<Staff>| v.iter().map(|s| s.id.0).collect::<Vec<_>>();
        let (owner, lead, moderator) = (person(1, Some(2)), person(2, None), person(3, None));
        assert_eq!(
            ids(recipients(Some(&owner), Some(lead.clone()), &moderator)),
            [2, 3]
        );
        // The lead moderates: told once.
        assert_eq!(
            ids(recipients(Some(&owner), Some(lead.clone()), &lead)),
            [2]
        );
        // Nobody owns it: the moderator.
        assert_eq!(ids(recipients(None, None, &moderator)), [3]);
        // The owner moderates and has no lead: the owner hears of it again.
        assert_eq!(ids(recipients(Some(&owner), None, &owner)), [1]);
    }

    #[test]
    fn stretches_keep_every_item_in_order_and_none_is_empty() {
        assert!(in_stretches(Vec::<u32>::new(), 3).is_empty());
        assert_eq!(in_stretches(vec![1, 2, 3], 3), [vec![1, 2, 3]]);
        assert_eq!(
            in_stretches((1..=7).collect(), 3),
            [vec![1, 2, 3], vec![4, 5, 6], vec![7]]
        );
        assert_eq!(in_stretches(vec![1, 2], 0), [vec![1], vec![2]]);
    }

    #[test]
    fn an_escalation_stays_only_for_a_breach_still_live_under_the_same_owner() {
        let prefix = "issue/7/escalation/";
        let t = "issue/7/escalation/1000/2/5";
        assert!(escalation_stays(t, prefix, &[1000], false));
        assert!(!escalation_stays(t, prefix, &[1000], true));
        assert!(!escalation_stays(t, prefix, &[2000], false));
        assert!(!escalation_stays(
            "issue/7/escalation/junk",
            prefix,
            &[1000],
            false
        ));
    }
}
