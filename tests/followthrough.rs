//! A quarter of a panel's follow-through on a driven clock: thirteen weeks
//! of sessions in which participants raise issues, owners who sometimes act
//! in time, sometimes late, sometimes not until escalated, and sometimes
//! hand off, with the app's hourly tick and mail delivery to a real SMTP
//! server in between.
//!
//! In week six the laptop is offline for three days: the app ticks and
//! owners act, but no mail goes until it is back.
//!
//! Checked afterwards from the outbox and the audit trail: every issue had
//! an owner before its session was completed; every due time passed without
//! action was preceded by a nudge to the owner of the moment and followed by
//! escalations, repeated while nobody acted; the participant was written to
//! at every hand-off and at the resolution; no nudge went twice, nor after
//! its due time was met; no escalation went while nothing was overdue (what
//! the offline stretch queued and an owner then made obsolete was
//! withdrawn, never sent late). The medians are printed.

mod common;

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use common::smtp::SmtpServer;
use panelkeeper::issues::{self, ContactVia, Issue, IssueId, IssueInput, Severity};
use panelkeeper::mail::{settings, worker};
use panelkeeper::notes::{self, NoteInput};
use panelkeeper::participants::{self, ParticipantInput};
use panelkeeper::sessions::staff::{self, Staff, StaffId, StaffInput};
use panelkeeper::sessions::{self, SessionId, SessionInput};
use panelkeeper::{Error, Panel};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

/// A small deterministic generator (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    /// A note is taken and an issue raised from it, owned or not yet.
    Raise {
        session: usize,
        owned: bool,
    },
    /// The moderator gives some of the session's unowned issues an owner.
    AssignSome {
        session: usize,
    },
    /// The moderator completes the session, assigning what is left if refused.
    Complete {
        session: usize,
    },
    /// The owner of stint `stint` logs a contact.
    Contact {
        issue: i64,
        stint: u32,
    },
    Resolve {
        issue: i64,
        stint: u32,
    },
    HandOff {
        issue: i64,
        stint: u32,
    },
}

struct Tracked {
    session: usize,
    /// Who held the issue from when: (since, owner).
    owners: Vec<(DateTime<Utc>, StaffId)>,
    stint: u32,
}

struct Sim {
    panel: Panel,
    rng: Rng,
    queue: BinaryHeap<Reverse<(DateTime<Utc>, u64, Action)>>,
    seq: u64,
    sessions: Vec<(SessionId, Staff, DateTime<Utc>)>,
    owners: Vec<Staff>,
    participants: Vec<String>,
    issues: BTreeMap<i64, Tracked>,
    completed: HashMap<usize, DateTime<Utc>>,
    refusals: u32,
    repeat: Duration,
}

impl Sim {
    fn at(&mut self, when: DateTime<Utc>, action: Action) {
        self.seq += 1;
        self.queue.push(Reverse((when, self.seq, action)));
    }

    async fn act_as(&self, who: &Staff) {
        staff::set_current(&self.panel, who.id).await.unwrap();
    }

    async fn issue(&self, id: i64) -> Issue {
        issues::get(&self.panel, IssueId(id)).await.unwrap()
    }

    /// The owner of the moment decides what to do with the phase in hand:
    /// act in time, late, only once escalated twice, or hand the issue on.
    async fn plan(&mut self, id: i64) {
        let now = self.panel.now();
        let issue = self.issue(id).await;
        let stint = self.issues[&id].stint;
        let contacted = issue.first_contact_at.is_some();
        let due = if contacted {
            issue.resolution_due
        } else {
            issue.first_contact_due
        };
        let act = if contacted {
            Action::Resolve { issue: id, stint }
        } else {
            Action::Contact { issue: id, stint }
        };
        if due <= now {
            let when = now + hours(self.rng.between(1.0, 12.0));
            return self.at(when, act);
        }
        let window = (due - now).num_minutes() as f64 / 60.0;
        let roll = self.rng.unit();
        let (when, action) = if roll < 0.55 {
            (now + hours(window * self.rng.between(0.1, 0.8)), act)
        } else if roll < 0.75 {
            (due + hours(self.rng.between(2.0, 60.0)), act)
        } else if roll < 0.85 {
            (due + self.repeat * 2 + Duration::hours(3), act)
        } else if issue.handoffs < 3 {
            (
                now + hours(window * self.rng.between(0.2, 1.4)),
                Action::HandOff { issue: id, stint },
            )
        } else {
            (now + hours(window * self.rng.between(0.1, 0.8)), act)
        };
        self.at(when, action);
    }

    async fn give(&mut self, id: i64, to: &Staff) {
        let now = self.panel.now();
        let t = self.issues.get_mut(&id).unwrap();
        t.owners.push((now, to.id));
        t.stint += 1;
        self.plan(id).await;
    }

    /// The owner of the moment acts soon on an issue that is overdue: the
    /// phase in hand is done within `by`, whatever was planned before.
    async fn hurry(&mut self, id: i64, by: f64) {
        let now = self.panel.now();
        let issue = self.issue(id).await;
        if !issue.status.is_open() || !issue.overdue || self.issues[&id].owners.is_empty() {
            return;
        }
        let t = self.issues.get_mut(&id).unwrap();
        t.stint += 1;
        let stint = t.stint;
        let act = if issue.first_contact_at.is_some() {
            Action::Resolve { issue: id, stint }
        } else {
            Action::Contact { issue: id, stint }
        };
        let when = now + hours(self.rng.between(1.0, by));
        self.at(when, act);
    }

    fn other_owner(&mut self, than: Option<StaffId>) -> Staff {
        loop {
            let o = self.owners[self.rng.below(self.owners.len())].clone();
            if Some(o.id) != than {
                return o;
            }
        }
    }

    async fn unowned(&self, session: usize) -> Vec<i64> {
        self.issues
            .iter()
            .filter(|(_, t)| t.session == session && t.owners.is_empty())
            .map(|(id, _)| *id)
            .collect()
    }

    async fn run(&mut self, action: Action) {
        let p = self.panel.clone();
        let now = p.now();
        match action {
            Action::Raise { session, owned } => {
                let (sid, moderator, _) = self.sessions[session].clone();
                self.act_as(&moderator).await;
                let who = self.participants[self.rng.below(self.participants.len())].clone();
                let note = notes::add(
                    &p,
                    sid,
                    &NoteInput {
                        text: format!(
                            "My order never arrived and nobody answers #delivery ({who})"
                        ),
                        participant: Some(who),
                        author: None,
                    },
                )
                .await
                .unwrap();
                let severity = match self.rng.unit() {
                    r if r < 0.1 => Severity::Critical,
                    r if r < 0.35 => Severity::High,
                    r if r < 0.85 => Severity::Normal,
                    _ => Severity::Low,
                };
                let owner = owned.then(|| self.other_owner(None));
                let issue = issues::raise(
                    &p,
                    &IssueInput {
                        note: Some(note.id),
                        summary: "Order never arrived".into(),
                        severity: Some(severity),
                        owner: owner.as_ref().map(|o| o.email.clone()),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
                self.issues.insert(
                    issue.id.0,
                    Tracked {
                        session,
                        owners: Vec::new(),
                        stint: 0,
                    },
                );
                if let Some(o) = owner {
                    self.give(issue.id.0, &o).await;
                }
            }
            Action::AssignSome { session } => {
                let moderator = self.sessions[session].1.clone();
                self.act_as(&moderator).await;
                for id in self.unowned(session).await {
                    if self.rng.unit() < 0.5 {
                        let o = self.other_owner(None);
                        issues::assign(&p, IssueId(id), &o.email).await.unwrap();
                        self.give(id, &o).await;
                    }
                }
            }
            Action::Complete { session } => {
                let (sid, moderator, _) = self.sessions[session].clone();
                self.act_as(&moderator).await;
                let left = self.unowned(session).await;
                match sessions::complete(&p, sid).await {
                    Ok(_) => assert!(left.is_empty(), "completed with {left:?} unowned"),
                    Err(Error::Conflict { reason }) => {
                        assert!(!left.is_empty(), "refused for nothing: {reason}");
                        for id in &left {
                            assert!(reason.contains(&format!("#{id} ")), "{reason}");
                        }
                        self.refusals += 1;
                        for id in left {
                            let o = self.other_owner(None);
                            issues::assign(&p, IssueId(id), &o.email).await.unwrap();
                            self.give(id, &o).await;
                        }
                        sessions::complete(&p, sid).await.unwrap();
                    }
                    Err(e) => panic!("{e}"),
                }
                self.completed.insert(session, now);
            }
            Action::Contact { issue, stint }
            | Action::Resolve { issue, stint }
            | Action::HandOff { issue, stint } => {
                if self.issues[&issue].stint != stint {
                    return;
                }
                let owner_id = self.issues[&issue].owners.last().unwrap().1;
                let owner = self
                    .owners
                    .iter()
                    .find(|o| o.id == owner_id)
                    .unwrap()
                    .clone();
                self.act_as(&owner).await;
                match action {
                    Action::Contact { .. } => {
                        issues::log_contact(&p, IssueId(issue), ContactVia::Phone, "Called them")
                            .await
                            .unwrap();
                        self.plan(issue).await;
                    }
                    Action::Resolve { .. } => {
                        issues::resolve(
                            &p,
                            IssueId(issue),
                            "Replacement sent",
                            "A replacement is on its way; tracking follows.",
                        )
                        .await
                        .unwrap();
                    }
                    _ => {
                        let to = self.other_owner(Some(owner_id));
                        issues::reassign(&p, IssueId(issue), &to.email, "Away next week")
                            .await
                            .unwrap();
                        self.give(issue, &to).await;
                    }
                }
            }
        }
    }
}

fn hours(h: f64) -> Duration {
    Duration::minutes((h * 60.0) as i64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

/// One message of the outbox.
struct Message {
    kind: String,
    recipient: String,
    topic: String,
    status: String,
    queued_at: DateTime<Utc>,
    not_before: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
}

async fn outbox(db: &panelkeeper::db::Location) -> Vec<Message> {
    type Row = (
        String,
        String,
        Option<String>,
        String,
        i64,
        i64,
        Option<i64>,
    );
    let rows: Vec<Row> = common::rows(
        db,
        "SELECT kind, recipient, topic, status, created_at, not_before, sent_at FROM outbox ORDER BY id",
    )
    .await;
    let at = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap();
    rows.into_iter()
        .map(
            |(kind, recipient, topic, status, queued, not_before, sent)| Message {
                kind,
                recipient,
                topic: topic.unwrap_or_default(),
                status,
                queued_at: at(queued),
                not_before: at(not_before),
                sent_at: sent.map(at),
            },
        )
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarter_of_follow_through_keeps_every_promise_visible() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    let p = t.panel.clone();
    settings::set(&p, common::smtp::local_smtp(server.port))
        .await
        .unwrap();
    let add = |name: String, lead: Option<&str>| {
        let p = p.clone();
        let lead = lead.map(str::to_string);
        async move {
            staff::add(
                &p,
                &StaffInput {
                    email: format!("{}@company.example.com", name.to_lowercase()),
                    name,
                    lead,
                    time_zone: Some("Europe/Berlin".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
        }
    };
    add("Greta".into(), None).await;
    add("Keiko".into(), None).await;
    let mut moderators = Vec::new();
    for n in ["Ana", "Ben", "Cleo"] {
        moderators.push(add(n.into(), Some("greta@company.example.com")).await);
    }
    let mut owners = Vec::new();
    for (i, n) in ["Dev", "Eli", "Fay", "Gus", "Hal", "Ivy"]
        .iter()
        .enumerate()
    {
        let lead = if i % 2 == 0 { "keiko" } else { "greta" };
        owners.push(add((*n).into(), Some(&format!("{lead}@company.example.com"))).await);
    }
    let mut people = Vec::new();
    for i in 0..120 {
        let email = format!("person{i}@example.org");
        participants::create(
            &p,
            &ParticipantInput {
                name: format!("Person {i}"),
                email: email.clone(),
                time_zone: Some("Europe/Berlin".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        people.push(email);
    }

    // Two sessions a week, Tuesday and Thursday at 10:00 in Berlin, for 13 weeks.
    let levels = issues::service_levels(&p).await.unwrap();
    let mut sim = Sim {
        panel: p.clone(),
        rng: Rng(0x5eed_f011_0700_0001),
        queue: BinaryHeap::new(),
        seq: 0,
        sessions: Vec::new(),
        owners,
        participants: people,
        issues: BTreeMap::new(),
        completed: HashMap::new(),
        refusals: 0,
        repeat: Duration::minutes(levels.escalation_repeat_minutes as i64),
    };
    let monday = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    for week in 0..13 {
        for day in [1, 3] {
            let date = monday + Duration::days(week * 7 + day);
            let moderator = moderators[sim.sessions.len() % moderators.len()].clone();
            let s = sessions::create(
                &p,
                &SessionInput {
                    study: "Delivery".into(),
                    title: format!("Delivery panel {}", date.format("%d %b")),
                    start: Some(date.and_hms_opt(10, 0, 0).unwrap()),
                    time_zone: "Europe/Berlin".into(),
                    minutes: 90,
                    moderator: moderator.email.clone(),
                    seats: 8,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            sim.sessions.push((s.id, moderator, s.starts_at));
        }
    }
    for i in 0..sim.sessions.len() {
        let start = sim.sessions[i].2;
        let n = 2 + sim.rng.below(5);
        for _ in 0..n {
            let at = start + Duration::minutes(20 + sim.rng.below(65) as i64);
            let owned = sim.rng.unit() < 0.4;
            sim.at(at, Action::Raise { session: i, owned });
        }
        sim.at(
            start + Duration::minutes(100),
            Action::AssignSome { session: i },
        );
        sim.at(start + Duration::hours(4), Action::Complete { session: i });
    }

    // The clock: every action at its moment, the app's tick on every hour,
    // and the mail worker after each, but for three days offline.
    let offline_from = (monday + Duration::days(5 * 7 + 2))
        .and_hms_opt(6, 0, 0)
        .unwrap()
        .and_utc();
    let offline_to = offline_from + Duration::days(3);
    let mut hurried = std::collections::BTreeSet::new();
    let mut now = p.now();
    loop {
        let next_hour = (now + Duration::hours(1))
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0))
            .unwrap();
        let open = sim.issues.keys().copied().collect::<Vec<_>>();
        if sim.queue.is_empty() {
            let mut any_open = false;
            for id in open {
                any_open |= sim.issue(id).await.status.is_open();
            }
            assert!(!any_open, "an issue is open with nothing planned");
            break;
        }
        let next_action = sim.queue.peek().map(|Reverse((at, ..))| *at).unwrap();
        if next_action < next_hour {
            let Reverse((at, _, action)) = sim.queue.pop().unwrap();
            now = at.max(now);
            t.clock.set(now);
            sim.run(action).await;
        } else {
            now = next_hour;
            t.clock.set(now);
            issues::tick(&p, now).await.unwrap();
        }
        if now < offline_from || now >= offline_to {
            worker::send_due(&p).await.unwrap();
        } else {
            // Offline, owners of overdue issues act within half a day (the
            // escalations the app queued meanwhile are then obsolete).
            for id in sim.issues.keys().copied().collect::<Vec<_>>() {
                if !hurried.contains(&id) && sim.issue(id).await.overdue {
                    hurried.insert(id);
                    sim.hurry(id, 12.0).await;
                }
            }
        }
    }
    // Everything queued and still wanted went, each message once.
    let every = outbox(&t.location).await;
    assert!(
        every
            .iter()
            .all(|m| m.status == "sent" || m.status == "cancelled")
    );
    let sent: Vec<&Message> = every.iter().filter(|m| m.status == "sent").collect();
    assert_eq!(server.delivered().len(), sent.len());
    let mut first_contact = Vec::new();
    let mut resolution = Vec::new();
    let mut handoffs = Vec::new();
    let mut breaches = 0;
    let mut escalated = 0;
    for (&id, tracked) in &sim.issues {
        let issue = sim.issue(id).await;
        let of_issue: Vec<&&Message> = sent
            .iter()
            .filter(|m| m.topic.starts_with(&format!("issue/{id}/")))
            .collect();
        let kind = |k: &'static str| of_issue.iter().filter(move |m| m.kind == k);
        let created = issue.created_at;
        let contacted = issue.first_contact_at.expect("every issue was contacted");
        let resolved = issue.resolved_at.expect("every issue was resolved");
        first_contact.push((contacted - created).num_minutes() as f64 / 60.0);
        resolution.push((resolved - created).num_minutes() as f64 / 24.0 / 60.0);
        handoffs.push(issue.handoffs as f64);

        // Owned before the session was completed.
        let completed = sim.completed[&tracked.session];
        let owned_at = tracked.owners.first().expect("every issue was owned").0;
        assert!(
            owned_at <= completed,
            "issue {id} owned after its session was completed"
        );

        // The participant heard at every hand-off and at the resolution.
        assert_eq!(issue.handoffs as usize, tracked.owners.len() - 1);
        assert_eq!(
            kind("handoff").count(),
            issue.handoffs as usize,
            "issue {id}"
        );
        assert_eq!(kind("resolution").count(), 1, "issue {id}");
        assert!(
            kind("handoff")
                .chain(kind("resolution"))
                .all(|m| Some(m.recipient.as_str()) == issue.participant_email.as_deref())
        );

        // No nudge twice: one per owner and due time.
        let mut nudges: Vec<&str> = kind("nudge").map(|m| m.topic.as_str()).collect();
        let all = nudges.len();
        nudges.sort();
        nudges.dedup();
        assert_eq!(nudges.len(), all, "issue {id} was nudged twice: {nudges:?}");

        // Each due time passed without action: a nudge to the owner of that
        // moment before it, escalations after it while nobody acted.
        let windows = [
            (issue.first_contact_due, contacted),
            (issue.resolution_due, resolved),
        ];
        // A nudge goes only while its due time is still to be met.
        for m in kind("nudge") {
            let due: i64 = m.topic.split('/').nth(3).unwrap().parse().unwrap();
            let met = windows
                .iter()
                .find(|(d, _)| d.timestamp_millis() == due)
                .map(|(_, done)| *done);
            if let Some(met) = met {
                assert!(
                    m.sent_at.unwrap() <= met,
                    "issue {id}: a nudge went at {:?}, after its due time was met at {met}",
                    m.sent_at
                );
            }
        }
        for (due, done) in windows {
            if done <= due {
                continue;
            }
            breaches += 1;
            let holder = tracked
                .owners
                .iter()
                .rev()
                .find(|(since, _)| *since <= due)
                .map(|(_, o)| *o);
            if let Some(holder) = holder {
                let topic = format!("issue/{id}/nudge/{}/{}", due.timestamp_millis(), holder.0);
                // Planned for before the due time (offline, it may have
                // been withdrawn unsent once the owner acted).
                assert!(
                    every.iter().any(|m| m.topic == topic && m.not_before < due),
                    "issue {id}: no nudge to its owner before {due}"
                );
            }
            // Escalations queued while it was overdue (those the offline
            // stretch held back and an owner then made obsolete included).
            let rounds: std::collections::BTreeSet<DateTime<Utc>> = every
                .iter()
                .filter(|m| m.kind == "escalation" && m.topic.starts_with(&format!("issue/{id}/")))
                .filter(|m| m.queued_at >= due && m.queued_at <= done)
                .map(|m| m.queued_at)
                .collect();
            assert!(!rounds.is_empty(), "issue {id}: no escalation after {due}");
            let handed_in_between = tracked
                .owners
                .iter()
                .any(|(since, _)| *since > due && *since < done);
            if !handed_in_between && done - due >= sim.repeat + Duration::hours(2) {
                assert!(
                    rounds.len() >= 2,
                    "issue {id}: the escalation after {due} was not repeated by {done}"
                );
            }
            escalated += 1;
        }
        // And no escalation went while nothing was overdue.
        for m in kind("escalation") {
            let at = m.sent_at.unwrap();
            assert!(
                windows.iter().any(|(due, done)| at >= *due && at <= *done),
                "issue {id} escalated at {at} with nothing overdue"
            );
        }
    }
    let withdrawn_escalations = every
        .iter()
        .filter(|m| m.kind == "escalation" && m.status == "cancelled")
        .count();
    assert!(
        withdrawn_escalations > 0,
        "the offline stretch left no escalation to withdraw"
    );

    // Then participants reply, read back from the panel mailbox: a reply to
    // a resolution reopens the issue and its owner is told once; the owner
    // asks a question, and while they wait on the answer the clock stands
    // still (no nudge, no escalation, never overdue) through hourly ticks
    // until a day past every due time; the answer starts it again, the resolution due later by
    // the wait, and the owner resolves.
    let resolutions: Vec<(String, String)> = common::rows(
        &t.location,
        "SELECT topic, message_id FROM outbox WHERE kind = 'resolution' AND status = 'sent' \
         ORDER BY id",
    )
    .await;
    let mail_in = |n: u32, from: &str, answers: &str, text: &str| {
        format!(
            "From: <{from}>\r\nTo: research@panel.example.com\r\nSubject: Re: your mail\r\n\
             Message-ID: <reply-{n}@example.org>\r\nIn-Reply-To: {answers}\r\n\
             Date: Tue, 1 Sep 2026 10:00:00 +0000\r\n\r\n{text}\r\n"
        )
    };
    let mut replied = Vec::new();
    for (n, (topic, message_id)) in resolutions.iter().step_by(9).take(6).enumerate() {
        let id: i64 = topic.split('/').nth(1).unwrap().parse().unwrap();
        let before = sim.issue(id).await;
        let from = before.participant_email.clone().unwrap();
        let read = panelkeeper::inbox::take_file(
            &p,
            "replies",
            n as u32 + 1,
            mail_in(n as u32, &from, message_id, "It never came after all.").as_bytes(),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(read.issue, Some(IssueId(id)), "{}", read.outcome);
        let after = sim.issue(id).await;
        assert_eq!(after.status, issues::IssueStatus::Open, "issue {id}");
        assert_eq!(after.reopens, before.reopens + 1);
        replied.push(id);
    }
    assert_eq!(replied.len(), 6);
    let asked_at = p.now();
    let mut waits = Vec::new();
    for &id in &replied {
        let issue = sim.issue(id).await;
        let owner = sim
            .owners
            .iter()
            .find(|o| Some(o.id) == issue.owner)
            .unwrap()
            .clone();
        sim.act_as(&owner).await;
        let waiting =
            issues::wait_for_participant(&p, IssueId(id), "Which address was it sent to?")
                .await
                .unwrap();
        assert_eq!(waiting.status, issues::IssueStatus::Waiting);
        waits.push((id, waiting.resolution_due));
    }
    worker::send_due(&p).await.unwrap();
    let mut now = asked_at;
    let past_every_due = waits.iter().map(|w| w.1).max().unwrap() + Duration::days(1);
    while now < past_every_due {
        now += Duration::hours(1);
        t.clock.set(now);
        issues::tick(&p, now).await.unwrap();
        worker::send_due(&p).await.unwrap();
    }
    let after_wait = outbox(&t.location).await;
    for &(id, due) in &waits {
        assert!(due < now, "issue {id}: the wait outlasted its due time");
        let issue = sim.issue(id).await;
        assert!(!issue.overdue && issue.status == issues::IssueStatus::Waiting);
        let chased = after_wait
            .iter()
            .filter(|m| m.topic.starts_with(&format!("issue/{id}/")))
            .filter(|m| m.queued_at > asked_at && (m.kind == "nudge" || m.kind == "escalation"))
            .count();
        assert_eq!(
            chased, 0,
            "issue {id} was chased while waiting on its participant"
        );
        // Each reply told its owner once.
        let told = after_wait
            .iter()
            .filter(|m| m.kind == "issue_reply" && m.topic.starts_with(&format!("issue/{id}/")))
            .count();
        assert_eq!(told, 1, "issue {id}");
    }
    let questions: Vec<(String, String)> = common::rows(
        &t.location,
        "SELECT topic, message_id FROM outbox WHERE kind = 'owner_message' ORDER BY id",
    )
    .await;
    for (n, (id, due)) in waits.iter().enumerate() {
        let (_, question) = questions
            .iter()
            .find(|(topic, _)| topic.starts_with(&format!("issue/{id}/")))
            .unwrap();
        let from = sim.issue(*id).await.participant_email.unwrap();
        panelkeeper::inbox::take_file(
            &p,
            "replies",
            100 + n as u32,
            mail_in(
                100 + n as u32,
                &from,
                question,
                "To my office, 12 Harbour Street.",
            )
            .as_bytes(),
        )
        .await
        .unwrap()
        .unwrap();
        let going = sim.issue(*id).await;
        assert_eq!(going.status, issues::IssueStatus::Contacted, "issue {id}");
        assert_eq!(going.resolution_due, *due + (now - asked_at), "issue {id}");
        let owner = sim
            .owners
            .iter()
            .find(|o| Some(o.id) == going.owner)
            .unwrap()
            .clone();
        sim.act_as(&owner).await;
        issues::resolve(
            &p,
            IssueId(*id),
            "Resent to the office",
            "It is on its way to your office.",
        )
        .await
        .unwrap();
    }
    worker::send_due(&p).await.unwrap();

    assert!(sim.refusals > 0, "no session was refused completion");
    assert!(breaches > 10 && escalated == breaches);
    assert!(handoffs.iter().any(|h| *h > 0.0));
    let (issues_n, sessions_n) = (sim.issues.len(), sim.sessions.len());
    println!(
        "follow-through over {} weeks: {sessions_n} sessions, {issues_n} issues, {} messages, \
         {breaches} due times missed, {} completions refused until every issue had an owner",
        13,
        sent.len(),
        sim.refusals
    );
    println!(
        "median time to first contact {:.1} h; median time to resolution {:.1} days; \
         hand-offs per issue: median {}, mean {:.2}",
        median(first_contact),
        median(resolution),
        median(handoffs.clone()),
        handoffs.iter().sum::<f64>() / handoffs.len() as f64
    );
}
