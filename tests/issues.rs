//! Issues and follow-up against a real SMTP server: raised from a note,
//! assigned (the owner's mail has the note in context), handed off with a
//! reason (the participant is told), contacted, resolved with a message
//! from the owner; refused transitions; the audit trail; overdue and mine.

mod common;

use chrono::{Duration, NaiveDateTime};
use common::smtp::SmtpServer;
use panelkeeper::issues::{
    self, ContactVia, IssueInput, IssueQuery, IssueSort, IssueStatus, Severity,
};
use panelkeeper::mail::{self, settings, worker};
use panelkeeper::notes::{self, NoteInput};
use panelkeeper::participants::{self, ParticipantInput};
use panelkeeper::sessions::staff::{self, StaffInput};
use panelkeeper::sessions::{self, SessionInput};
use panelkeeper::{Error, Panel};

async fn setup(panel: &Panel, port: u16) -> sessions::SessionId {
    settings::set(panel, common::smtp::local_smtp(port))
        .await
        .unwrap();
    for (name, email, lead) in [
        ("Lea Lead", "lea@company.example.com", None),
        ("Ana Moderator", "ana@company.example.com", None),
        (
            "Sam Owner",
            "sam@company.example.com",
            Some("lea@company.example.com"),
        ),
        (
            "Kim Care",
            "kim@company.example.com",
            Some("lea@company.example.com"),
        ),
    ] {
        staff::add(
            panel,
            &StaffInput {
                name: name.into(),
                email: email.into(),
                lead: lead.map(str::to_string),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let ana = staff::by_email(panel, "ana@company.example.com")
        .await
        .unwrap();
    staff::set_current(panel, ana.id).await.unwrap();
    participants::create(
        panel,
        &ParticipantInput {
            name: "Zoë Ålander".into(),
            email: "zoe@example.org".into(),
            phone: Some("+46 70 123 45 67".into()),
            time_zone: Some("Europe/Stockholm".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    sessions::create(
        panel,
        &SessionInput {
            title: "Checkout".into(),
            start: Some(
                NaiveDateTime::parse_from_str("2026-06-01T09:00", "%Y-%m-%dT%H:%M").unwrap(),
            ),
            time_zone: "Europe/Stockholm".into(),
            minutes: 90,
            moderator: "ana@company.example.com".into(),
            seats: 8,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id
}

#[tokio::test]
async fn an_issue_from_a_note_is_owned_handed_off_contacted_and_resolved_with_everyone_told() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    let p = &t.panel;
    let s = setup(p, server.port).await;
    notes::add(
        p,
        s,
        &NoteInput {
            text: "Talks about returns".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    t.clock.advance(Duration::minutes(2));
    let said = notes::add(
        p,
        s,
        &NoteInput {
            text: "My refund never came, three weeks now".into(),
            participant: Some("zoe@example.org".into()),
            author: None,
        },
    )
    .await
    .unwrap();

    let issue = issues::raise(
        p,
        &IssueInput {
            note: Some(said.id),
            summary: "Refund not received".into(),
            severity: Some(Severity::High),
            owner: Some("sam@company.example.com".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(issue.participant_name, "Zoë Ålander");
    assert_eq!(issue.owner_name.as_deref(), Some("Sam Owner"));
    assert_eq!(issue.status, IssueStatus::Open);
    assert_eq!(issue.first_contact_due, t.panel.now() + Duration::hours(24));
    assert_eq!(issue.resolution_due, t.panel.now() + Duration::days(5));

    worker::send_due(p).await.unwrap();
    let delivered = server.delivered();
    assert_eq!(delivered.len(), 1);
    let owner_mail = delivered[0].parsed();
    assert_eq!(
        owner_mail.to().unwrap().first().unwrap().address(),
        Some("sam@company.example.com")
    );
    assert_eq!(
        owner_mail.subject(),
        Some("Yours to follow up: Refund not received (Zoë Ålander)")
    );
    let body = owner_mail.body_text(0).unwrap().replace("\r\n", "\n");
    for expected in [
        "zoe@example.org",
        "+46 70 123 45 67",
        "Europe/Stockholm",
        "Talks about returns",
        ">> My refund never came, three weeks now",
        "Severity: high",
    ] {
        assert!(
            body.contains(expected),
            "{expected:?} missing from:\n{body}"
        );
    }

    // Resolving before any contact is refused; so is a hand-off without a reason.
    let err = issues::resolve(p, issue.id, "Refunded", "Your refund is on its way")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("has not been contacted yet"),
        "{err}"
    );
    let err = issues::reassign(p, issue.id, "kim@company.example.com", "  ")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "reason"),
        "{err:?}"
    );
    let err = issues::assign(p, issue.id, "kim@company.example.com")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("already belongs to Sam Owner; reassign it"),
        "{err}"
    );

    let handed = issues::reassign(
        p,
        issue.id,
        "kim@company.example.com",
        "Kim handles refunds",
    )
    .await
    .unwrap();
    assert_eq!(
        (handed.owner_name.as_deref(), handed.handoffs),
        (Some("Kim Care"), 1)
    );
    worker::send_due(p).await.unwrap();
    let delivered = server.delivered();
    assert_eq!(delivered.len(), 3);
    let notice = delivered
        .iter()
        .map(|d| d.parsed())
        .find(|m| m.to().unwrap().first().unwrap().address() == Some("zoe@example.org"))
        .unwrap();
    assert!(
        notice
            .subject()
            .unwrap()
            .starts_with("Kim Care now looks after: Refund not received")
    );
    assert_eq!(
        notice.reply_to().unwrap().first().unwrap().address(),
        Some("kim@company.example.com")
    );
    assert_eq!(
        notice.from().unwrap().first().unwrap().name(),
        Some("Kim Care")
    );

    t.clock.advance(Duration::hours(3));
    let err = issues::preview_resolve(p, issue.id, "Refunded", "Your refund was sent.")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("log a contact first"), "{err}");
    let contacted = issues::log_contact(p, issue.id, ContactVia::Phone, "Called; refund approved")
        .await
        .unwrap();
    assert_eq!(contacted.status, IssueStatus::Contacted);
    assert_eq!(contacted.first_contact_at, Some(t.panel.now()));
    assert!(!contacted.overdue);

    let err = issues::resolve(p, issue.id, "Refunded", " ")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "message to the participant"),
        "{err:?}"
    );
    let err = issues::preview_resolve(p, issue.id, "Refunded", " ")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "message to the participant"),
        "{err:?}"
    );

    // The owner reads the message as it will go before anything is queued.
    let waiting = mail::counts(p).await.unwrap().waiting;
    let preview = issues::preview_resolve(
        p,
        issue.id,
        "Refund sent by bank transfer",
        "Your refund of 49.90 was sent today.",
    )
    .await
    .unwrap()
    .expect("Zoë has an email address");
    assert_eq!(preview.to, "zoe@example.org");
    assert_eq!(preview.from_name.as_deref(), Some("Kim Care"));
    assert_eq!(preview.reply_to.as_deref(), Some("kim@company.example.com"));
    // `[#N]` finds the issue again when a reply comes back without its headers.
    assert_eq!(
        preview.body.subject,
        format!("Resolved: Refund not received [#{}]", issue.id)
    );
    assert!(
        preview
            .body
            .text
            .contains("Your refund of 49.90 was sent today."),
        "{}",
        preview.body.text
    );
    assert_eq!(
        mail::counts(p).await.unwrap().waiting,
        waiting,
        "nothing queued"
    );
    let wont = issues::preview_wont_fix(p, issue.id, "Out of policy", "We cannot refund this.")
        .await
        .unwrap()
        .unwrap();
    assert!(wont.body.text.contains("We cannot refund this."));
    assert_eq!(
        issues::get(p, issue.id).await.unwrap().status,
        IssueStatus::Contacted,
        "a preview changes nothing"
    );

    let resolved = issues::resolve(
        p,
        issue.id,
        "Refund sent by bank transfer",
        "Your refund of 49.90 was sent today.",
    )
    .await
    .unwrap();
    assert_eq!(resolved.status, IssueStatus::Resolved);
    assert_eq!(
        resolved.resolution.as_deref(),
        Some("Refund sent by bank transfer")
    );
    let events = issues::detail(p, issue.id).await.unwrap().events;
    let queued = events.last().unwrap().detail["queued"].as_i64().unwrap();
    let sent = mail::get(p, mail::MessageId(queued)).await.unwrap();
    assert_eq!(sent.body, preview.body, "what was read is what goes");
    worker::send_due(p).await.unwrap();
    let last = server.delivered().pop().unwrap();
    let reply = last.parsed();
    assert_eq!(
        reply.subject(),
        Some(format!("Resolved: Refund not received [#{}]", issue.id).as_str())
    );
    assert!(
        reply
            .body_text(0)
            .unwrap()
            .contains("Your refund of 49.90 was sent today.")
    );
    assert_eq!(
        reply.reply_to().unwrap().first().unwrap().address(),
        Some("kim@company.example.com")
    );

    assert!(issues::reopen(p, issue.id, "").await.is_err());
    let closed = issues::close(p, issue.id).await.unwrap();
    assert_eq!(closed.status, IssueStatus::Closed);
    let err = issues::log_contact(p, issue.id, ContactVia::Email, "again")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("reopen it"), "{err}");

    let detail = issues::detail(p, issue.id).await.unwrap();
    let kinds: Vec<&str> = detail.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "raised",
            "assigned",
            "reassigned",
            "participant_told",
            "contacted",
            "resolved",
            "closed"
        ]
    );
    assert!(
        detail
            .events
            .iter()
            .all(|e| e.actor.as_deref() == Some("Ana Moderator"))
    );
    assert_eq!(detail.events[2].detail["reason"], "Kim handles refunds");
    assert_eq!(detail.contacts.len(), 1);
    assert_eq!(detail.contacts[0].via, ContactVia::Phone);
}

#[tokio::test]
async fn overdue_and_my_follow_ups() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    let p = &t.panel;
    let s = setup(p, server.port).await;
    let err = issues::raise(
        p,
        &IssueInput {
            session: Some(s),
            summary: "No participant".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "participant"),
        "{err:?}"
    );
    let unowned = issues::raise(
        p,
        &IssueInput {
            session: Some(s),
            participant: Some("zoe@example.org".into()),
            summary: "Loyalty points".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(unowned.owner, None);
    assert_eq!(unowned.severity, Severity::Normal);
    let ana = staff::by_email(p, "ana@company.example.com").await.unwrap();
    issues::assign(p, unowned.id, "ana@company.example.com")
        .await
        .unwrap();
    assert_eq!(
        issues::mine(p)
            .await
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect::<Vec<_>>(),
        [unowned.id]
    );
    assert!(
        issues::list(
            p,
            &IssueQuery {
                overdue: true,
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .is_empty()
    );

    t.clock.advance(Duration::days(2) + Duration::minutes(1));
    let overdue = issues::list(
        p,
        &IssueQuery {
            overdue: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(overdue.len(), 1);
    assert!(overdue[0].overdue);
    let by_owner = issues::list(
        p,
        &IssueQuery {
            owner: Some(ana.email.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(by_owner.len(), 1);
    issues::log_contact(p, unowned.id, ContactVia::Email, "Wrote to her")
        .await
        .unwrap();
    assert!(
        issues::list(
            p,
            &IssueQuery {
                overdue: true,
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .is_empty(),
        "first contact met, resolution not yet due"
    );
    let done = issues::wont_fix(
        p,
        unowned.id,
        "Points expired under the old scheme",
        "We cannot restore them, sorry.",
    )
    .await
    .unwrap();
    assert_eq!(done.status, IssueStatus::WontFix);
    assert!(issues::mine(p).await.unwrap().is_empty());
    t.clock.advance(Duration::days(2));
    let reopened = issues::reopen(p, unowned.id, "She sent the receipt")
        .await
        .unwrap();
    // The history stays: the first contact is when it was, the reopen is
    // counted, and the new round's due times run from the reopen.
    assert_eq!(reopened.status, IssueStatus::Open);
    assert_eq!(reopened.first_contact_at, done.first_contact_at);
    assert!(reopened.first_contact_at.is_some());
    assert_eq!(
        (reopened.reopens, reopened.reopened_at),
        (1, Some(t.panel.now()))
    );
    assert!(reopened.first_contact_due > t.panel.now() && !reopened.overdue);
    assert_eq!(
        reopened.next_due(),
        (reopened.first_contact_due, "first contact")
    );
    // Not contacted again in time: overdue, as a fresh issue would be.
    t.clock.advance(Duration::days(10));
    let late = issues::get(p, unowned.id).await.unwrap();
    assert!(late.overdue && late.awaiting_contact());
    let again = issues::log_contact(p, unowned.id, ContactVia::Email, "Wrote back")
        .await
        .unwrap();
    assert_eq!(again.status, IssueStatus::Contacted);
    assert_eq!(
        again.first_contact_at, done.first_contact_at,
        "the first contact stays the first"
    );
}

#[tokio::test]
async fn owners_are_nudged_before_a_due_time_and_escalations_repeat_after_it_until_someone_acts() {
    use panelkeeper::mail::{self, MessageKind, OutboxQuery, Status};
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    let p = &t.panel;
    let s = setup(p, server.port).await;
    let start = t.panel.now();
    // High: first contact within 24 h, resolution within 5 days; nudge 12 h before (half the window).
    let issue = issues::raise(
        p,
        &IssueInput {
            session: Some(s),
            participant: Some("zoe@example.org".into()),
            summary: "Refund".into(),
            severity: Some(Severity::High),
            owner: Some("sam@company.example.com".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let queued = |kind: MessageKind| async move {
        mail::list(
            p,
            &OutboxQuery {
                status: Some(Status::Queued),
                limit: Some(500),
                offset: None,
            },
        )
        .await
        .unwrap()
        .messages
        .into_iter()
        .filter(|m| m.kind == kind)
        .collect::<Vec<_>>()
    };
    // One nudge before each due time: first contact and resolution.
    let mut nudges = queued(MessageKind::Nudge).await;
    nudges.sort_by_key(|m| m.not_before);
    assert_eq!(nudges.len(), 2);
    assert!(
        nudges
            .iter()
            .all(|n| n.recipient == "sam@company.example.com")
    );
    assert_eq!(nudges[0].not_before, start + Duration::hours(12));
    assert_eq!(
        nudges[1].not_before,
        issue.resolution_due - Duration::hours(24)
    );

    // Before the due time a tick does nothing; the nudge goes at its time.
    t.clock.set(start + Duration::hours(12));
    assert_eq!(issues::tick(p, t.panel.now()).await.unwrap().escalations, 0);
    worker::send_due(p).await.unwrap();
    assert!(
        server
            .delivered()
            .iter()
            .any(|d| d.parsed().subject().unwrap().starts_with("Due "))
    );

    // Breached: the owner's lead and the moderator hear of it, once per interval.
    t.clock.set(start + Duration::hours(25));
    let first = issues::tick(p, t.panel.now()).await.unwrap();
    assert_eq!((first.overdue, first.escalations), (1, 2));
    assert_eq!(
        issues::tick(p, t.panel.now() + Duration::hours(1))
            .await
            .unwrap()
            .escalations,
        0,
        "not twice within the interval"
    );
    worker::send_due(p).await.unwrap();
    let mut escalated: Vec<String> = server
        .delivered()
        .iter()
        .map(|d| d.parsed())
        .filter(|m| m.subject().unwrap().starts_with("Overdue:"))
        .map(|m| {
            m.to()
                .unwrap()
                .first()
                .unwrap()
                .address()
                .unwrap()
                .to_string()
        })
        .collect();
    escalated.sort();
    assert_eq!(
        escalated,
        ["ana@company.example.com", "lea@company.example.com"]
    );
    t.clock.set(start + Duration::hours(49));
    assert_eq!(
        issues::tick(p, t.panel.now()).await.unwrap().escalations,
        2,
        "repeated after 24 h"
    );

    // The owner acts: escalations stop, and the nudge for the resolution is planned.
    issues::log_contact(p, issue.id, ContactVia::Phone, "Called")
        .await
        .unwrap();
    assert_eq!(
        issues::tick(p, t.panel.now() + Duration::hours(30))
            .await
            .unwrap()
            .escalations,
        0
    );
    let nudges = queued(MessageKind::Nudge).await;
    assert_eq!(nudges.len(), 1, "{nudges:?}");
    assert_eq!(
        nudges[0].not_before,
        issue.resolution_due - Duration::hours(24)
    );
    // Resolved: nothing more is planned for it.
    issues::resolve(p, issue.id, "Refunded", "Sent today.")
        .await
        .unwrap();
    assert!(queued(MessageKind::Nudge).await.is_empty());
    let events = issues::detail(p, issue.id).await.unwrap().events;
    assert_eq!(events.iter().filter(|e| e.kind == "escalated").count(), 2);
}

#[tokio::test]
async fn a_session_completes_only_when_every_issue_raised_in_it_has_an_owner() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    let p = &t.panel;
    let s = setup(p, server.port).await;
    let raise = |summary: &str, owner: Option<&str>| IssueInput {
        session: Some(s),
        participant: Some("zoe@example.org".into()),
        summary: summary.into(),
        owner: owner.map(str::to_string),
        ..Default::default()
    };
    let unowned = issues::raise(p, &raise("Parcel never came", None))
        .await
        .unwrap();
    assert_eq!(sessions::get(p, s).await.unwrap().unowned_issues, 1);
    let err = sessions::complete(p, s).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "session {s} cannot be completed: an issue is without an owner (#{} \"Parcel never came\"); assign it first",
            unowned.id
        )
    );
    assert_eq!(sessions::get(p, s).await.unwrap().completed_at, None);

    issues::assign(p, unowned.id, "sam@company.example.com")
        .await
        .unwrap();
    let done = sessions::complete(p, s).await.unwrap();
    assert_eq!(done.completed_at, Some(p.now()));
    assert_eq!(done.unowned_issues, 0);
    assert!(matches!(
        sessions::complete(p, s).await.unwrap_err(),
        Error::Conflict { .. }
    ));

    // Afterwards an issue can only be raised with its owner named.
    let err = issues::raise(p, &raise("Refund", None)).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "owner"),
        "{err:?}"
    );
    issues::raise(p, &raise("Refund", Some("kim@company.example.com")))
        .await
        .unwrap();
}

#[tokio::test]
async fn service_levels_on_business_days_skip_the_weekend() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    let p = &t.panel;
    let s = setup(p, server.port).await;
    let mut levels = issues::service_levels(p).await.unwrap();
    let mut absurd = levels;
    absurd.low.resolution_minutes = u32::MAX;
    let err = issues::set_service_levels(p, &absurd).await.unwrap_err();
    assert!(err.to_string().contains("the most is a year"), "{err}");
    // Under an hour is a level too: a critical issue answered in 30 minutes.
    let mut quick = levels;
    quick.critical.first_contact_minutes = 30;
    let saved = issues::set_service_levels(p, &quick).await.unwrap();
    assert_eq!(saved.critical.first_contact_minutes, 30);
    assert_eq!(issues::service_levels(p).await.unwrap(), saved);
    levels.days = issues::DayCount::Business;
    issues::set_service_levels(p, &levels).await.unwrap();
    // Friday 5 June 2026, 15:00 in Stockholm.
    t.clock
        .set(chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 6, 5, 13, 0, 0).unwrap());
    let i = issues::raise(
        p,
        &IssueInput {
            session: Some(s),
            participant: Some("zoe@example.org".into()),
            summary: "Card charged twice".into(),
            severity: Some(Severity::High),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        i.first_contact_due,
        chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 6, 8, 13, 0, 0).unwrap(),
        "24 business hours from Friday 15:00 end on Monday 15:00"
    );
    assert_eq!(
        i.resolution_due,
        chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 6, 12, 13, 0, 0).unwrap()
    );
}

#[tokio::test]
async fn an_erased_participant_gets_no_message_and_the_preview_says_so() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    let p = &t.panel;
    let s = setup(p, server.port).await;
    // Raised directly, without a note.
    let issue = issues::raise(
        p,
        &IssueInput {
            session: Some(s),
            participant: Some("zoe@example.org".into()),
            summary: "Parcel lost".into(),
            owner: Some("kim@company.example.com".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    issues::log_contact(p, issue.id, ContactVia::Phone, "Called")
        .await
        .unwrap();
    let zoe = participants::find(p, "zoe@example.org").await.unwrap();
    panelkeeper::participants::privacy::erase(
        p,
        zoe,
        &panelkeeper::participants::privacy::ErasureRequest {
            reason: Some("asked to be forgotten".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let preview = issues::preview_resolve(p, issue.id, "Parcel found", "It is on its way.")
        .await
        .unwrap();
    assert_eq!(preview, None, "nobody to write to");
    let resolved = issues::resolve(p, issue.id, "Parcel found", "It is on its way.")
        .await
        .unwrap();
    assert_eq!(resolved.status, IssueStatus::Resolved);
    let events = issues::detail(p, issue.id).await.unwrap().events;
    let last = events.last().unwrap();
    assert_eq!(last.kind, "resolved");
    assert!(last.detail["queued"].is_null(), "{:?}", last.detail);
}

/// Many issue actions at once on the panel's four connections: each holds
/// its write transaction and reads what it needs through it, so none waits
/// on a connection another one holds, and every action completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_concurrent_issue_actions_all_complete() {
    let t = common::panel().await;
    let p = &t.panel;
    // No SMTP server is needed: the mail is only queued.
    let s = setup(p, common::smtp::free_port()).await;
    let mut notes_said = Vec::new();
    for k in 0..8 {
        let n = notes::add(
            p,
            s,
            &NoteInput {
                text: format!("Problem number {k}"),
                participant: Some("zoe@example.org".into()),
                author: None,
            },
        )
        .await
        .unwrap();
        notes_said.push(n.id);
    }
    // Eight issues owned by Sam, eight without an owner.
    let mut owned = Vec::new();
    let mut unowned = Vec::new();
    for (k, note) in notes_said.iter().enumerate() {
        for (owner, into) in [
            (Some("sam@company.example.com"), &mut owned),
            (None, &mut unowned),
        ] {
            let i = issues::raise(
                p,
                &IssueInput {
                    note: Some(*note),
                    summary: format!("Issue {k}"),
                    owner: owner.map(str::to_string),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            into.push(i.id);
        }
    }
    let mut actions = tokio::task::JoinSet::new();
    for k in 0..8 {
        let (panel, note, o, u) = (p.clone(), notes_said[k], owned[k], unowned[k]);
        let panel2 = panel.clone();
        actions.spawn(async move {
            issues::raise(
                &panel2,
                &IssueInput {
                    note: Some(note),
                    summary: format!("Raised at once {k}"),
                    owner: Some("kim@company.example.com".into()),
                    ..Default::default()
                },
            )
            .await
            .map(|_| ())
        });
        let panel2 = panel.clone();
        actions.spawn(async move {
            issues::assign(&panel2, u, "kim@company.example.com")
                .await
                .map(|_| ())
        });
        let panel2 = panel.clone();
        actions.spawn(async move {
            issues::reassign(&panel2, o, "kim@company.example.com", "Kim handles refunds")
                .await
                .map(|_| ())
        });
        actions.spawn(async move {
            issues::log_contact(&panel, o, ContactVia::Phone, "Called, left a message")
                .await
                .map(|_| ())
        });
    }
    let mut done = 0;
    while let Some(joined) = actions.join_next().await {
        joined
            .unwrap()
            .unwrap_or_else(|e| panic!("an action failed: {e}"));
        done += 1;
    }
    assert_eq!(done, 32);
    let all = issues::list(p, &IssueQuery::default()).await.unwrap();
    assert_eq!(all.len(), 24);
    for id in &owned {
        let i = issues::get(p, *id).await.unwrap();
        assert_eq!(i.owner_name.as_deref(), Some("Kim Care"));
        assert_eq!(i.handoffs, 1);
        assert_eq!(i.status, IssueStatus::Contacted);
    }
    for id in &unowned {
        let i = issues::get(p, *id).await.unwrap();
        assert_eq!(i.owner_name.as_deref(), Some("Kim Care"));
        assert_eq!(i.handoffs, 0);
    }
}

/// Service levels saved in hours by an earlier version read as minutes.
#[test]
fn service_levels_saved_in_hours_read_back_in_minutes() {
    let old = r#"{"low":{"firstContactHours":120,"resolutionHours":480},
        "normal":{"firstContactHours":48,"resolutionHours":240},
        "high":{"firstContactHours":24,"resolutionHours":120},
        "critical":{"firstContactHours":4,"resolutionHours":48},
        "nudgeHoursBefore":12,"escalationRepeatHours":6,"days":"business"}"#;
    let levels: issues::ServiceLevels = serde_json::from_str(old).unwrap();
    assert_eq!(levels.critical.first_contact_minutes, 240);
    assert_eq!(levels.low.resolution_minutes, 480 * 60);
    assert_eq!(
        (
            levels.nudge_minutes_before,
            levels.escalation_repeat_minutes
        ),
        (720, 360)
    );
    assert_eq!(levels.days, issues::DayCount::Business);
}

#[tokio::test]
async fn a_tick_over_a_backlog_escalates_every_overdue_issue_once_to_the_people_the_rule_names() {
    use std::collections::BTreeSet;
    let t = common::panel().await;
    panelkeeper::demo::generate(&t.panel, 10_000, 3)
        .await
        .unwrap();
    let later = t.panel.now() + Duration::days(60);
    let db = &t.location;
    // Who the rule names, read straight from the tables: the owner's lead
    // and the session's moderator (not the owner), else the owner.
    let rows: Vec<(i64, Option<i64>, Option<i64>, i64)> = common::rows(
        db,
        "SELECT i.id, i.owner, o.lead, s.moderator FROM issues i \
         JOIN sessions s ON s.id = i.session LEFT JOIN staff o ON o.id = i.owner \
         WHERE i.status IN ('open', 'contacted') ORDER BY i.id",
    )
    .await;
    // More than a team database's batch of 250: the tick's batches meet.
    assert!(rows.len() > 250, "a backlog: {}", rows.len());
    let expected = |round: u32| -> BTreeSet<(i64, u32, i64)> {
        let mut out = BTreeSet::new();
        for &(issue, owner, lead, moderator) in &rows {
            let mut to: Vec<i64> = lead.into_iter().collect();
            if owner != Some(moderator) && !to.contains(&moderator) {
                to.push(moderator);
            }
            if to.is_empty() {
                to.extend(owner);
            }
            out.extend(to.into_iter().map(|s| (issue, round, s)));
        }
        out
    };
    let first = issues::tick(&t.panel, later).await.unwrap();
    assert_eq!(first.overdue as usize, rows.len());
    let staff_ids: std::collections::HashMap<String, i64> =
        common::rows::<(String, i64)>(db, "SELECT email, id FROM staff")
            .await
            .into_iter()
            .collect();
    let parse = |topics: Vec<(String, String)>| -> Vec<(i64, u32, i64)> {
        topics
            .into_iter()
            .map(|(topic, email)| {
                let parts: Vec<&str> = topic.split('/').collect();
                assert_eq!((parts[0], parts[2]), ("issue", "escalation"), "{topic}");
                let to: i64 = parts[5].parse().unwrap();
                assert_eq!(staff_ids[&email], to, "{topic} goes to {email}");
                (parts[1].parse().unwrap(), parts[4].parse().unwrap(), to)
            })
            .collect()
    };
    let sent = parse(queued(db).await);
    let once: BTreeSet<_> = sent.iter().copied().collect();
    assert_eq!(once.len(), sent.len(), "no message twice");
    assert_eq!(once, expected(1));
    assert_eq!(first.escalations as usize, sent.len());
    let (events,): (i64,) = common::rows(
        db,
        "SELECT count(*) FROM issue_events WHERE kind = 'escalated'",
    )
    .await[0];
    assert_eq!(events as usize, rows.len(), "one escalation in each trail");

    // The same minute again queues nothing; after the repeat, round two.
    assert_eq!(issues::tick(&t.panel, later).await.unwrap().escalations, 0);
    let again = issues::tick(&t.panel, later + Duration::days(2))
        .await
        .unwrap();
    let sent = parse(queued(db).await);
    let second: BTreeSet<_> = sent.iter().copied().filter(|s| s.1 == 2).collect();
    assert_eq!(second, expected(2));
    assert_eq!(again.escalations as usize, second.len());
}

/// The escalations in the outbox: each one's topic and recipient.
async fn queued(db: &panelkeeper::db::Location) -> Vec<(String, String)> {
    common::rows(
        db,
        "SELECT topic, recipient FROM outbox WHERE kind = 'escalation'",
    )
    .await
}

/// A staff member leaves only once nobody is left waiting on them: their
/// open issues handed on, the people they lead given another lead. Then
/// they are given nothing new and cannot sign in, and what they did stays
/// theirs.
#[tokio::test]
async fn a_staff_member_leaves_only_once_their_promises_are_handed_on() {
    use panelkeeper::accounts;

    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    let p = &t.panel;
    let s = setup(p, server.port).await;
    let said = notes::add(
        p,
        s,
        &NoteInput {
            text: "The refund never came".into(),
            participant: Some("zoe@example.org".into()),
            author: None,
        },
    )
    .await
    .unwrap();
    let issue = issues::raise(
        p,
        &IssueInput {
            note: Some(said.id),
            summary: "Refund not received".into(),
            owner: Some("sam@company.example.com".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let sam = staff::by_email(p, "sam@company.example.com").await.unwrap();
    let lea = staff::by_email(p, "lea@company.example.com").await.unwrap();
    accounts::set_password(p, &sam.email, "correct horse battery staple")
        .await
        .unwrap();
    let (token, _) = accounts::sign_in(p, &sam.email, "correct horse battery staple", "127.0.0.1")
        .await
        .unwrap();

    let refused = staff::deactivate(p, sam.id).await.unwrap_err();
    assert!(
        matches!(&refused, Error::Conflict { reason } if reason == &format!(
            "Sam Owner still owns 1 open issue (#{}): hand it to someone else first",
            issue.id
        )),
        "{refused:?}"
    );
    let refused = staff::deactivate(p, lea.id).await.unwrap_err();
    assert!(
        matches!(&refused, Error::Conflict { reason }
            if reason == "Lea Lead is the lead of Kim Care, Sam Owner: give each another lead first"),
        "{refused:?}"
    );
    assert!(staff::get(p, sam.id).await.unwrap().active);

    issues::reassign(p, issue.id, "kim@company.example.com", "Sam is leaving")
        .await
        .unwrap();
    let gone = staff::deactivate(p, sam.id).await.unwrap();
    assert!(!gone.active);
    assert!(staff::list(p).await.unwrap().iter().any(|s| s.id == sam.id));

    // Given nothing new.
    for refused in [
        issues::reassign(p, issue.id, &sam.email, "back to Sam")
            .await
            .unwrap_err(),
        issues::raise(
            p,
            &IssueInput {
                note: Some(said.id),
                summary: "Another".into(),
                owner: Some(sam.email.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err(),
        sessions::create(
            p,
            &SessionInput {
                title: "Later".into(),
                start: Some(
                    NaiveDateTime::parse_from_str("2026-07-01T09:00", "%Y-%m-%dT%H:%M").unwrap(),
                ),
                time_zone: "Europe/Stockholm".into(),
                minutes: 60,
                moderator: sam.email.clone(),
                seats: 4,
                ..Default::default()
            },
        )
        .await
        .unwrap_err(),
    ] {
        assert!(
            matches!(&refused, Error::Conflict { reason }
                if reason == "Sam Owner (sam@company.example.com) no longer works here: choose someone who does"),
            "{refused:?}"
        );
    }
    // Signed out, and not let back in.
    assert!(matches!(
        accounts::signed_in(p, &token).await,
        Err(Error::SignedOut)
    ));
    assert!(matches!(
        accounts::sign_in(p, &sam.email, "correct horse battery staple", "127.0.0.1").await,
        Err(Error::SignInRefused)
    ));
    // What they did stays theirs: the hand-off names them.
    let detail = issues::detail(p, issue.id).await.unwrap();
    assert!(
        detail
            .events
            .iter()
            .any(|e| format!("{e:?}").contains("Sam Owner")),
        "{:?}",
        detail.events
    );

    // Edited: a taken email refused, nobody their own lead.
    let kim = staff::by_email(p, "kim@company.example.com").await.unwrap();
    let mut input = StaffInput {
        name: "Kim Carter".into(),
        email: "lea@company.example.com".into(),
        title: "customer care".into(),
        lead: Some("lea@company.example.com".into()),
        ..Default::default()
    };
    assert!(matches!(
        staff::update(p, kim.id, &input).await,
        Err(Error::Conflict { reason }) if reason == "a staff member with the email lea@company.example.com already exists"
    ));
    input.email = "kim.carter@company.example.com".into();
    input.lead = Some("kim@company.example.com".into());
    assert!(matches!(
        staff::update(p, kim.id, &input).await,
        Err(Error::InvalidInput { .. })
    ));
    input.lead = Some("lea@company.example.com".into());
    let kim = staff::update(p, kim.id, &input).await.unwrap();
    assert_eq!(
        (kim.name.as_str(), kim.email.as_str(), kim.title.as_str()),
        (
            "Kim Carter",
            "kim.carter@company.example.com",
            "customer care"
        )
    );
    assert_eq!(
        issues::get(p, issue.id)
            .await
            .unwrap()
            .owner_name
            .as_deref(),
        Some("Kim Carter")
    );

    // Back again, and given issues again.
    staff::reactivate(p, sam.id).await.unwrap();
    issues::reassign(p, issue.id, &sam.email, "Sam is back")
        .await
        .unwrap();
}

#[tokio::test]
async fn issues_are_listed_in_the_order_asked_and_the_limit_keeps_its_first() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    let p = &t.panel;
    let s = setup(p, server.port).await;
    let mut raised = Vec::new();
    for summary in ["First", "Second", "Third"] {
        let i = issues::raise(
            p,
            &IssueInput {
                session: Some(s),
                participant: Some("zoe@example.org".into()),
                summary: summary.into(),
                owner: Some("ana@company.example.com".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        raised.push(i.id);
        t.clock.advance(Duration::hours(1));
    }
    // The second is handed off twice, the third once.
    for (issue, to) in [
        (raised[1], "sam@company.example.com"),
        (raised[1], "kim@company.example.com"),
        (raised[2], "sam@company.example.com"),
    ] {
        issues::reassign(p, issue, to, "Their area").await.unwrap();
    }
    let listed = |sort: IssueSort, limit: Option<u32>| async move {
        issues::list(
            p,
            &IssueQuery {
                sort,
                limit,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.summary)
        .collect::<Vec<_>>()
    };
    // Urgent: the earliest first contact due first, as raised.
    assert_eq!(
        listed(IssueSort::Urgent, None).await,
        ["First", "Second", "Third"]
    );
    assert_eq!(
        listed(IssueSort::Newest, None).await,
        ["Third", "Second", "First"]
    );
    assert_eq!(
        listed(IssueSort::Oldest, None).await,
        ["First", "Second", "Third"]
    );
    assert_eq!(
        listed(IssueSort::MostHandoffs, None).await,
        ["Second", "Third", "First"]
    );
    assert_eq!(listed(IssueSort::Newest, Some(1)).await, ["Third"]);
    assert_eq!(listed(IssueSort::MostHandoffs, Some(1)).await, ["Second"]);
}

/// One owner's issues (a team server's *My follow-ups*, read its own way)
/// are the same issues, field by field and in the same order, as the whole
/// list shows for that owner, in every order, open or all, and limited.
#[tokio::test]
async fn one_owners_issues_read_as_the_whole_list_shows_them() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    let p = &t.panel;
    let s = setup(p, server.port).await;
    let mut raised = Vec::new();
    for (n, owner) in ["sam", "kim", "sam", "sam", "kim", "sam"]
        .iter()
        .enumerate()
    {
        let i = issues::raise(
            p,
            &IssueInput {
                session: Some(s),
                participant: Some("zoe@example.org".into()),
                summary: format!("Issue {n}"),
                severity: Some(if n % 2 == 0 {
                    Severity::High
                } else {
                    Severity::Low
                }),
                owner: Some(format!("{owner}@company.example.com")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        raised.push(i.id);
        t.clock.advance(Duration::minutes(40));
    }
    // Contacted, resolved, handed to Sam and waiting: every way an issue
    // is listed.
    issues::log_contact(p, raised[2], ContactVia::Phone, "Reached")
        .await
        .unwrap();
    issues::log_contact(p, raised[3], ContactVia::Email, "Wrote")
        .await
        .unwrap();
    issues::resolve(p, raised[3], "Refunded", "Your refund is on its way.")
        .await
        .unwrap();
    issues::reassign(p, raised[1], "sam@company.example.com", "Their area")
        .await
        .unwrap();
    t.clock.advance(Duration::days(2));
    let sam = staff::by_email(p, "sam@company.example.com").await.unwrap();
    let as_json = |issues: Vec<issues::Issue>| {
        issues
            .into_iter()
            .map(|i| serde_json::to_value(i).unwrap())
            .collect::<Vec<_>>()
    };
    for sort in [
        IssueSort::Urgent,
        IssueSort::Newest,
        IssueSort::Oldest,
        IssueSort::MostHandoffs,
    ] {
        for open_only in [false, true] {
            let all = issues::list(
                p,
                &IssueQuery {
                    sort,
                    open_only,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            let sams: Vec<_> = all
                .into_iter()
                .filter(|i| i.owner == Some(sam.id))
                .collect();
            assert_eq!(sams.len(), if open_only { 4 } else { 5 });
            assert!(
                sams.iter()
                    .all(|i| i.owner_name.as_deref() == Some("Sam Owner"))
            );
            let sams = as_json(sams);
            for limit in [None, Some(2)] {
                let owned = issues::list(
                    p,
                    &IssueQuery {
                        owner: Some(sam.email.clone()),
                        sort,
                        open_only,
                        limit,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
                let expected = &sams[..limit.map_or(sams.len(), |l| l as usize)];
                assert_eq!(as_json(owned), expected, "{sort:?}, open only: {open_only}");
            }
        }
    }
    staff::set_current(p, sam.id).await.unwrap();
    let mine = issues::mine(p).await.unwrap();
    assert_eq!(mine.len(), 4);
}
