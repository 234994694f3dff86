//! Sessions against a real SMTP server: time zones across daylight-saving
//! changes (the delivered `.ics` read back by Python's icalendar), the
//! contact rules at invite time, double-booking, reschedule and cancel,
//! RSVPs with the over-recruit target, reminders, and attendance feeding
//! the contact rules.

mod common;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use common::smtp::SmtpServer;
use mail_parser::MimeHeaders;
use panelkeeper::mail::settings;
use panelkeeper::mail::{self, MessageKind, OutboxQuery, Status, worker};
use panelkeeper::participants::governance::{self, Exclusion};
use panelkeeper::participants::screener::{
    self, Criterion, Effect, Quota, ScreenerDefinition, Test,
};
use panelkeeper::participants::{self, ParticipantInput, history, suppression};
use panelkeeper::sessions::roster::{self, AttendanceInput};
use panelkeeper::sessions::staff::{self, StaffInput};
use panelkeeper::sessions::{
    self, Attendance, InviteRequest, Invitees, Rsvp, SessionId, SessionInput,
};
use panelkeeper::{Error, Panel};
use serde_json::Value;

fn local(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn setup(panel: &Panel, port: u16) {
    settings::set(panel, common::smtp::local_smtp(port))
        .await
        .unwrap();
    staff::add(
        panel,
        &StaffInput {
            name: "Ana Moderator".into(),
            email: "ana@company.example.com".into(),
            title: "moderator".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
}

async fn person(
    panel: &Panel,
    name: &str,
    email: &str,
    zone: &str,
    attrs: &[(&str, &str)],
) -> participants::ParticipantId {
    participants::create(
        panel,
        &ParticipantInput {
            name: name.into(),
            email: email.into(),
            time_zone: Some(zone.into()),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id
}

fn session_input(title: &str, start: &str, zone: &str) -> SessionInput {
    SessionInput {
        study: "Retail 2027".into(),
        title: title.into(),
        start: Some(local(start)),
        time_zone: zone.into(),
        minutes: 90,
        place: "Room 4, 12 Main Street".into(),
        moderator: "ana@company.example.com".into(),
        seats: 2,
        over_recruit: Some(3),
        floaters: 1,
        ..Default::default()
    }
}

fn by_emails(emails: &[&str]) -> InviteRequest {
    InviteRequest {
        invitees: Invitees::Participants {
            keys: emails.iter().map(|e| e.to_string()).collect(),
        },
        allow_double_booking: false,
        preview: false,
        allow_started: false,
        excluded_limit: None,
    }
}

/// The calendar attachment of a delivered message, read by Python's icalendar.
fn read_ics(d: &common::smtp::Delivered) -> Value {
    let got = d.parsed();
    let part = got
        .attachments()
        .find(|a| {
            a.content_type()
                .is_some_and(|c| c.subtype() == Some("calendar"))
        })
        .expect("a calendar attachment");
    let mut child = std::process::Command::new("/usr/bin/python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ics/read.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 with python3-icalendar (scripts/setup installs it)");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(part.contents())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "icalendar could not read the .ics");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn text_of(d: &common::smtp::Delivered) -> String {
    d.parsed().body_text(0).unwrap().replace("\r\n", "\n")
}

#[tokio::test]
async fn an_invitation_across_zones_in_the_week_their_clocks_differ() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    setup(&t.panel, server.port).await;
    person(
        &t.panel,
        "Jonas Weber",
        "jonas@example.de",
        "Europe/Berlin",
        &[],
    )
    .await;
    // New York moved to summer time on 14 March 2027, Berlin only on 28 March:
    // 10:00 in New York is 14:00 UTC and 15:00 in Berlin that week.
    let s = sessions::create(
        &t.panel,
        &session_input("Checkout", "2027-03-16T10:00", "America/New_York"),
    )
    .await
    .unwrap();
    assert_eq!(s.starts_at, utc("2027-03-16T14:00:00Z"));
    let report = roster::invite(&t.panel, s.id, &by_emails(&["jonas@example.de"]))
        .await
        .unwrap();
    assert_eq!((report.invited.len(), report.queued), (1, 1), "{report:?}");
    assert_eq!(worker::send_due(&t.panel).await.unwrap().sent, 1);

    let delivered = server.delivered();
    assert_eq!(delivered.len(), 1);
    let body = text_of(&delivered[0]);
    assert!(
        body.contains("Tuesday 16 March 2027, 15:00 CET (Europe/Berlin) to 16:30 CET"),
        "{body}"
    );
    let subject = delivered[0].parsed().subject().unwrap().to_string();
    assert_eq!(subject, "Invitation: Checkout, Tuesday 16 March 2027");
    assert!(
        delivered[0]
            .parsed()
            .header_raw("List-Unsubscribe")
            .is_some()
    );
    let ics = read_ics(&delivered[0]);
    assert_eq!(ics["method"], "REQUEST");
    assert_eq!(ics["timezones"][0], "America/New_York");
    let e = &ics["events"][0];
    assert_eq!(e["start"], "2027-03-16T14:00:00Z");
    assert_eq!(e["end"], "2027-03-16T15:30:00Z");
    assert_eq!(e["tzid"], "America/New_York");
    assert_eq!(e["uid"], s.uid.as_str());
    assert_eq!(e["sequence"], 0);

    // The invitation is in the contact history that governance reads.
    let pid = participants::find(&t.panel, "jonas@example.de")
        .await
        .unwrap();
    let h = history::for_participant(&t.panel, pid).await.unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].kind, history::ContactKind::Invited);
    assert_eq!(h[0].session_id, Some(s.id.0));
}

#[tokio::test]
async fn a_session_on_the_day_clocks_change() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    setup(&t.panel, server.port).await;
    person(
        &t.panel,
        "Mia Chen",
        "mia@example.com",
        "America/Los_Angeles",
        &[],
    )
    .await;
    // 14 March 2027: 02:00 does not happen in New York; 10:00 is already EDT.
    let err = sessions::create(
        &t.panel,
        &session_input("Gap", "2027-03-14T02:30", "America/New_York"),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not exist in America/New_York"),
        "{err}"
    );
    // 7 November 2027: 01:30 happens twice.
    let err = sessions::create(
        &t.panel,
        &session_input("Twice", "2027-11-07T01:30", "America/New_York"),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("happens twice"), "{err}");

    let s = sessions::create(
        &t.panel,
        &session_input("Change day", "2027-03-14T10:00", "America/New_York"),
    )
    .await
    .unwrap();
    assert_eq!(s.starts_at, utc("2027-03-14T14:00:00Z"));
    roster::invite(&t.panel, s.id, &by_emails(&["mia@example.com"]))
        .await
        .unwrap();
    worker::send_due(&t.panel).await.unwrap();
    let delivered = server.delivered();
    // Los Angeles changed the same night: 07:00 PDT.
    assert!(
        text_of(&delivered[0]).contains("Sunday 14 March 2027, 07:00 PDT (America/Los_Angeles)")
    );
    assert_eq!(
        read_ics(&delivered[0])["events"][0]["start"],
        "2027-03-14T14:00:00Z"
    );
}

#[tokio::test]
async fn the_contact_rules_exclude_each_person_with_the_reason_and_nobody_excluded_is_mailed() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    setup(&t.panel, server.port).await;
    let p = &t.panel;
    let ok = person(
        p,
        "Fine Person",
        "fine@example.com",
        "Europe/Paris",
        &[("region", "EU")],
    )
    .await;
    let opted = person(
        p,
        "Opted Out",
        "opted@example.com",
        "Europe/Paris",
        &[("region", "EU")],
    )
    .await;
    participants::set_opted_out(p, opted, true).await.unwrap();
    person(
        p,
        "Crm Customer",
        "customer@example.com",
        "Europe/Paris",
        &[("region", "EU")],
    )
    .await;
    suppression::import(p, "crm", "customer@example.com\n")
        .await
        .unwrap();
    let recent = person(
        p,
        "Recent Guest",
        "recent@example.com",
        "Europe/Paris",
        &[("region", "EU")],
    )
    .await;
    history::record(
        p,
        recent,
        history::ContactKind::Attended,
        Some(t.panel.now() - Duration::days(10)),
        None,
    )
    .await
    .unwrap();
    let busy = person(
        p,
        "Busy Guest",
        "busy@example.com",
        "Europe/Paris",
        &[("region", "EU")],
    )
    .await;
    for months in [11, 9, 7, 5] {
        history::record(
            p,
            busy,
            history::ContactKind::Attended,
            Some(t.panel.now() - Duration::days(30 * months)),
            None,
        )
        .await
        .unwrap();
    }
    let flaky = person(
        p,
        "Flaky Guest",
        "flaky@example.com",
        "Europe/Paris",
        &[("region", "EU")],
    )
    .await;
    for months in [10, 8] {
        history::record(
            p,
            flaky,
            history::ContactKind::NoShow,
            Some(t.panel.now() - Duration::days(30 * months)),
            None,
        )
        .await
        .unwrap();
    }
    screener::save(
        p,
        "eu",
        &ScreenerDefinition {
            criteria: vec![Criterion {
                attribute: "region".into(),
                test: Test::Equals { value: "EU".into() },
                effect: Effect::Qualify,
            }],
            quotas: vec![],
        },
    )
    .await
    .unwrap();
    let s = sessions::create(
        p,
        &session_input("Rules", "2027-03-16T10:00", "Europe/Paris"),
    )
    .await
    .unwrap();

    let preview = roster::invite(
        p,
        s.id,
        &InviteRequest {
            invitees: Invitees::Screener {
                name: "eu".into(),
                limit: None,
            },
            allow_double_booking: false,
            preview: true,
            allow_started: false,
            excluded_limit: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(preview.queued, 0);
    assert_eq!(
        sessions::get(p, s.id).await.unwrap().counts.invited,
        0,
        "a preview changes nothing"
    );

    let report = roster::invite(
        p,
        s.id,
        &InviteRequest {
            invitees: Invitees::Screener {
                name: "eu".into(),
                limit: None,
            },
            allow_double_booking: false,
            preview: false,
            allow_started: false,
            excluded_limit: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        report.invited.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![ok]
    );
    assert_eq!(report.invited, preview.invited);
    let reason = |name: &str| -> Vec<Exclusion> {
        report
            .excluded
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("{name} not excluded"))
            .reasons
            .clone()
    };
    assert!(matches!(
        reason("Opted Out")[..],
        [Exclusion::OptedOut { .. }]
    ));
    assert!(
        matches!(&reason("Crm Customer")[..], [Exclusion::Suppressed { lists }] if lists == &["crm"])
    );
    assert!(matches!(
        reason("Recent Guest")[..],
        [Exclusion::Cooldown { .. }]
    ));
    assert!(matches!(
        reason("Busy Guest")[..],
        [Exclusion::YearlyCap {
            sessions: 4,
            booked: 0,
            cap: 4
        }]
    ));
    assert!(matches!(
        reason("Flaky Guest")[..],
        [Exclusion::NoShowBan {
            no_shows: 2,
            limit: 2
        }]
    ));

    worker::send_due(p).await.unwrap();
    let to: Vec<String> = server
        .delivered()
        .iter()
        .map(|d| {
            d.parsed()
                .to()
                .unwrap()
                .first()
                .unwrap()
                .address()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(to, ["fine@example.com"]);

    // Named directly, an excluded person is refused the same way; an invited
    // one is not invited twice.
    let again = roster::invite(
        p,
        s.id,
        &by_emails(&["opted@example.com", "fine@example.com"]),
    )
    .await
    .unwrap();
    assert!(again.invited.is_empty());
    assert!(matches!(
        again.excluded[0].reasons[..],
        [Exclusion::OptedOut { .. }]
    ));
    assert!(matches!(
        again.excluded[1].reasons[..],
        [Exclusion::AlreadyInvited]
    ));
}

#[tokio::test]
async fn quota_cells_count_the_people_already_invited() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    setup(&t.panel, server.port).await;
    let p = &t.panel;
    for i in 0..6 {
        let band = if i < 3 { "25-34" } else { "35-44" };
        person(
            p,
            &format!("Person {i}"),
            &format!("p{i}@example.com"),
            "Europe/Paris",
            &[("age_band", band)],
        )
        .await;
    }
    screener::save(
        p,
        "bands",
        &ScreenerDefinition {
            criteria: vec![],
            quotas: vec![Quota {
                attribute: "age_band".into(),
                max: 2,
            }],
        },
    )
    .await
    .unwrap();
    let s = sessions::create(
        p,
        &session_input("Quota", "2027-03-16T10:00", "Europe/Paris"),
    )
    .await
    .unwrap();
    roster::invite(p, s.id, &by_emails(&["p0@example.com"]))
        .await
        .unwrap();
    let report = roster::invite(
        p,
        s.id,
        &InviteRequest {
            invitees: Invitees::Screener {
                name: "bands".into(),
                limit: None,
            },
            allow_double_booking: false,
            preview: false,
            allow_started: false,
            excluded_limit: None,
        },
    )
    .await
    .unwrap();
    // 25-34 had one already: one more fits; 35-44: two.
    assert_eq!(report.invited.len(), 3, "{report:?}");
    assert_eq!(sessions::get(p, s.id).await.unwrap().counts.invited, 4);
    assert!(report.excluded.iter().any(
        |e| matches!(&e.reasons[..], [Exclusion::QuotaFull { value, .. }] if value == "25-34")
    ));
}

#[tokio::test]
async fn double_booking_is_refused_unless_allowed() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    setup(&t.panel, server.port).await;
    let p = &t.panel;
    // Without a cooldown, so that only the double-booking rule speaks.
    governance::set_rules(
        p,
        &governance::GovernanceRules {
            cooldown_days: 0,
            ..governance::rules(p).await.unwrap()
        },
    )
    .await
    .unwrap();
    person(p, "Zoë", "zoe@example.com", "Europe/Paris", &[]).await;
    let first = sessions::create(
        p,
        &session_input("First", "2027-03-16T10:00", "Europe/Paris"),
    )
    .await
    .unwrap();
    roster::invite(p, first.id, &by_emails(&["zoe@example.com"]))
        .await
        .unwrap();

    // The moderator cannot be in two rooms at once.
    let err = sessions::create(
        p,
        &session_input("Overlap", "2027-03-16T11:00", "Europe/Paris"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, Error::Conflict { reason } if reason.contains("the moderator Ana Moderator is already in session") && reason.contains("\"First\"")),
        "{err:?}"
    );
    let mut input = session_input("Overlap", "2027-03-16T11:00", "Europe/Paris");
    input.allow_double_booking = true;
    let second = sessions::create(p, &input).await.unwrap();

    let refused = roster::invite(p, second.id, &by_emails(&["zoe@example.com"]))
        .await
        .unwrap();
    assert!(refused.invited.is_empty());
    assert!(
        matches!(&refused.excluded[0].reasons[..], [Exclusion::DoubleBooked { session, .. }] if *session == first.id.0)
    );
    let mut allowed = by_emails(&["zoe@example.com"]);
    allowed.allow_double_booking = true;
    assert_eq!(
        roster::invite(p, second.id, &allowed)
            .await
            .unwrap()
            .invited
            .len(),
        1
    );

    // A session that does not overlap is fine, and moving into an overlap is refused.
    let mut later = session_input("Later", "2027-03-16T14:00", "Europe/Paris");
    later.moderator = "ana@company.example.com".into();
    let third = sessions::create(p, &later).await.unwrap();
    let err = sessions::reschedule(p, third.id, local("2027-03-16T10:30"), None, false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already in session"), "{err}");
}

#[tokio::test]
async fn reschedule_sends_a_higher_sequence_and_cancel_sends_cancel() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    setup(&t.panel, server.port).await;
    let p = &t.panel;
    person(p, "Zoë", "zoe@example.com", "Asia/Tokyo", &[]).await;
    person(p, "Ola", "ola@example.com", "Europe/Oslo", &[]).await;
    let s = sessions::create(
        p,
        &session_input("Moving", "2027-03-16T10:00", "Europe/London"),
    )
    .await
    .unwrap();
    roster::invite(p, s.id, &by_emails(&["zoe@example.com", "ola@example.com"]))
        .await
        .unwrap();
    roster::rsvp(p, s.id, "ola@example.com", Rsvp::Declined)
        .await
        .unwrap();
    worker::send_due(p).await.unwrap();

    let moved = sessions::reschedule(p, s.id, local("2027-03-30T10:00"), Some(60), false)
        .await
        .unwrap();
    assert_eq!(moved.sequence, 1);
    assert_eq!(moved.starts_at, utc("2027-03-30T09:00:00Z")); // London is on BST by then
    worker::send_due(p).await.unwrap();
    let delivered = server.delivered();
    assert_eq!(delivered.len(), 3, "the one who declined is not told");
    let update = &delivered[2];
    assert!(
        update
            .parsed()
            .subject()
            .unwrap()
            .starts_with("Updated invitation: Moving")
    );
    assert!(text_of(update).contains("Tuesday 30 March 2027, 18:00 JST (Asia/Tokyo) to 19:00 JST"));
    let ics = read_ics(update);
    assert_eq!(ics["method"], "REQUEST");
    assert_eq!(ics["events"][0]["sequence"], 1);
    assert_eq!(ics["events"][0]["uid"], s.uid.as_str());
    assert_eq!(ics["events"][0]["start"], "2027-03-30T09:00:00Z");

    let cancelled = sessions::cancel(p, s.id, Some("The room flooded."))
        .await
        .unwrap();
    assert_eq!(cancelled.sequence, 2);
    worker::send_due(p).await.unwrap();
    let delivered = server.delivered();
    assert_eq!(delivered.len(), 4);
    let cancel = &delivered[3];
    assert!(
        cancel
            .parsed()
            .subject()
            .unwrap()
            .starts_with("Cancelled: Moving")
    );
    assert!(text_of(cancel).contains("The room flooded."));
    let ics = read_ics(cancel);
    assert_eq!(ics["method"], "CANCEL");
    assert_eq!(ics["events"][0]["sequence"], 2);
    assert_eq!(ics["events"][0]["status"], "CANCELLED");
    assert!(sessions::cancel(p, s.id, None).await.is_err());
    assert!(
        roster::invite(p, s.id, &by_emails(&["zoe@example.com"]))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn confirmations_fill_the_target_then_the_waitlist_and_get_reminders() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    setup(&t.panel, server.port).await;
    let p = &t.panel;
    let emails: Vec<String> = (0..6).map(|i| format!("p{i}@example.com")).collect();
    for (i, e) in emails.iter().enumerate() {
        person(p, &format!("Person {i}"), e, "Europe/Paris", &[]).await;
    }
    // 2 seats, 3 confirmations wanted, 1 waitlist place.
    let s = sessions::create(
        p,
        &session_input("Full", "2027-03-16T10:00", "Europe/Paris"),
    )
    .await
    .unwrap();
    let keys: Vec<&str> = emails.iter().map(String::as_str).collect();
    roster::invite(p, s.id, &by_emails(&keys)).await.unwrap();
    for e in &emails[..3] {
        assert_eq!(
            roster::rsvp(p, s.id, e, Rsvp::Confirmed)
                .await
                .unwrap()
                .rsvp,
            Rsvp::Confirmed
        );
    }
    assert_eq!(
        roster::rsvp(p, s.id, &emails[3], Rsvp::Confirmed)
            .await
            .unwrap()
            .rsvp,
        Rsvp::Waitlisted
    );
    let err = roster::rsvp(p, s.id, &emails[4], Rsvp::Confirmed)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("waitlist places are taken"),
        "{err}"
    );
    roster::rsvp(p, s.id, &emails[5], Rsvp::Tentative)
        .await
        .unwrap();
    let counts = sessions::get(p, s.id).await.unwrap().counts;
    assert_eq!(
        (
            counts.confirmed,
            counts.waitlisted,
            counts.tentative,
            counts.invited
        ),
        (3, 1, 1, 1)
    );

    // Each confirmed person has a reminder 24 h and 2 h before, queued for then.
    let page = mail::list(
        p,
        &OutboxQuery {
            status: Some(Status::Queued),
            limit: Some(100),
            offset: None,
        },
    )
    .await
    .unwrap();
    let reminders: Vec<_> = page
        .messages
        .iter()
        .filter(|m| m.kind == MessageKind::Reminder)
        .collect();
    assert_eq!(reminders.len(), 6);
    let start = s.starts_at;
    assert_eq!(
        reminders
            .iter()
            .filter(|m| m.not_before == start - Duration::hours(24))
            .count(),
        3
    );
    assert_eq!(
        reminders
            .iter()
            .filter(|m| m.not_before == start - Duration::hours(2))
            .count(),
        3
    );

    // A decline withdraws that person's reminders.
    roster::rsvp(p, s.id, &emails[0], Rsvp::Declined)
        .await
        .unwrap();
    let counts = mail::counts(p).await.unwrap();
    assert_eq!(counts.cancelled, 2);

    // Nothing goes early; the reminders go when due, even after the app was
    // closed. The declined place is offered to the one on the waitlist.
    assert_eq!(
        worker::send_due(p).await.unwrap().sent,
        7,
        "the six invitations and the offer of the freed place"
    );
    t.clock.set(start - Duration::hours(24));
    assert_eq!(worker::send_due(p).await.unwrap().sent, 2);
    let last = server.delivered().pop().unwrap();
    assert!(
        last.parsed()
            .subject()
            .unwrap()
            .starts_with("Reminder: Full")
    );
    assert!(text_of(&last).contains("Tuesday 16 March 2027, 10:00 CET (Europe/Paris)"));
}

#[tokio::test]
async fn attendance_feeds_the_contact_rules() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    setup(&t.panel, server.port).await;
    let p = &t.panel;
    let zoe = person(p, "Zoë", "zoe@example.com", "Europe/Paris", &[]).await;
    let mut ids: Vec<SessionId> = Vec::new();
    for (i, day) in ["2026-06-03", "2026-06-10"].iter().enumerate() {
        let s = sessions::create(
            p,
            &session_input(&format!("S{i}"), &format!("{day}T10:00"), "Europe/Paris"),
        )
        .await
        .unwrap();
        let mut allow = by_emails(&["zoe@example.com"]);
        allow.allow_double_booking = true;
        // The cooldown would refuse the second; this test is about no-shows.
        governance::set_rules(
            p,
            &governance::GovernanceRules {
                cooldown_days: 0,
                ..governance::rules(p).await.unwrap()
            },
        )
        .await
        .unwrap();
        roster::invite(p, s.id, &allow).await.unwrap();
        ids.push(s.id);
    }
    let err = roster::attendance(
        p,
        ids[0],
        "zoe@example.com",
        &AttendanceInput {
            attendance: Some(Attendance::NoShow),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("attendance is taken from an hour before the start"),
        "{err}"
    );
    t.clock.set(utc("2026-06-20T00:00:00Z"));
    for id in &ids {
        let e = roster::attendance(
            p,
            *id,
            "zoe@example.com",
            &AttendanceInput {
                attendance: Some(Attendance::NoShow),
                incentive_cents: Some(0),
                incentive_paid: None,
            },
        )
        .await
        .unwrap();
        assert_eq!(e.attendance, Some(Attendance::NoShow));
    }
    let status = governance::status(p, zoe, t.panel.now()).await.unwrap();
    assert!(
        matches!(
            status.reasons[..],
            [Exclusion::NoShowBan {
                no_shows: 2,
                limit: 2
            }]
        ),
        "{status:?}"
    );
    // A correction replaces the entry instead of adding one.
    let e = roster::attendance(
        p,
        ids[1],
        "zoe@example.com",
        &AttendanceInput {
            attendance: Some(Attendance::Attended),
            incentive_cents: Some(5000),
            incentive_paid: Some(true),
        },
    )
    .await
    .unwrap();
    assert_eq!((e.incentive_cents, e.incentive_paid), (Some(5000), true));
    let status = governance::status(p, zoe, t.panel.now()).await.unwrap();
    assert!(
        status.eligible
            || !status
                .reasons
                .iter()
                .any(|r| matches!(r, Exclusion::NoShowBan { .. })),
        "{status:?}"
    );
    assert_eq!(status.facts.no_shows, 1);
    assert_eq!(status.facts.sessions_last_year, 1);
    let detail = sessions::detail(p, ids[1]).await.unwrap();
    assert_eq!(detail.session.counts.attended, 1);
    assert_eq!(detail.roster[0].name, "Zoë");
}

#[tokio::test]
async fn bad_sessions_are_refused_naming_the_field() {
    let t = common::panel().await;
    let p = &t.panel;
    setup(p, 25).await;
    let mut bad = session_input("", "2027-03-16T10:00", "Europe/Paris");
    assert!(
        matches!(sessions::create(p, &bad).await, Err(Error::InvalidInput { ref field, .. }) if field == "title")
    );
    bad = session_input("T", "2027-03-16T10:00", "Mars/Olympus");
    assert!(
        matches!(sessions::create(p, &bad).await, Err(Error::InvalidInput { ref field, .. }) if field == "time zone")
    );
    bad = session_input("T", "2027-03-16T10:00", "Europe/Paris");
    bad.over_recruit = Some(1);
    assert!(
        matches!(sessions::create(p, &bad).await, Err(Error::InvalidInput { ref field, .. }) if field == "over-recruit")
    );
    bad = session_input("T", "2027-03-16T10:00", "Europe/Paris");
    bad.moderator = "nobody@example.com".into();
    assert!(matches!(
        sessions::create(p, &bad).await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        sessions::list(p, &Default::default())
            .await
            .unwrap()
            .is_empty()
    );
    let err = staff::add(
        p,
        &StaffInput {
            name: "Ana Again".into(),
            email: "ANA@company.example.com".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
}

/// Opting out, or being marked do-not-contact, stops every session message
/// waiting for the person at once (reminders, invitations), while what they
/// are owed about their own issue still goes.
#[tokio::test]
async fn opting_out_or_do_not_contact_withdraws_waiting_session_mail_but_not_issue_replies() {
    use panelkeeper::issues::{self, ContactVia, IssueInput};
    use panelkeeper::notes::{self, NoteInput};
    let t = common::panel().await;
    let p = &t.panel;
    // Nothing is delivered until the end: the server starts then.
    let port = common::smtp::free_port();
    setup(p, port).await;
    staff::add(
        p,
        &StaffInput {
            name: "Sam Owner".into(),
            email: "sam@company.example.com".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let zoe = person(p, "Zoë", "zoe@example.org", "Europe/Berlin", &[]).await;
    let kim = person(p, "Kim", "kim@example.org", "Europe/Berlin", &[]).await;
    let today = session_input("Today", "2026-06-01T12:00", "Europe/Berlin");
    let today = sessions::create(p, &today).await.unwrap().id;
    let later = session_input("Later", "2026-06-20T10:00", "Europe/Berlin");
    let later = sessions::create(p, &later).await.unwrap().id;
    roster::invite(p, today, &by_emails(&["zoe@example.org"]))
        .await
        .unwrap();
    // The contact rules allow one invitation at a time; the second is
    // recorded as made elsewhere so both sessions have waiting mail.
    governance::set_rules(
        p,
        &governance::GovernanceRules {
            cooldown_days: 0,
            ..governance::rules(p).await.unwrap()
        },
    )
    .await
    .unwrap();
    roster::invite(
        p,
        later,
        &by_emails(&["zoe@example.org", "kim@example.org"]),
    )
    .await
    .unwrap();
    for s in [today, later] {
        roster::rsvp(p, s, "zoe@example.org", Rsvp::Confirmed)
            .await
            .unwrap();
    }
    roster::rsvp(p, later, "kim@example.org", Rsvp::Confirmed)
        .await
        .unwrap();
    // Zoë raised an issue; its owner handed it on, so she is told who has it.
    let note = notes::add(
        p,
        today,
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
            note: Some(note.id),
            summary: "Refund".into(),
            owner: Some("ana@company.example.com".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    issues::reassign(
        p,
        issue.id,
        "sam@company.example.com",
        "Sam handles refunds",
    )
    .await
    .unwrap();
    issues::log_contact(p, issue.id, ContactVia::Phone, "Called")
        .await
        .unwrap();

    let waiting = |who: &'static str| async move {
        let page = mail::list(
            p,
            &OutboxQuery {
                status: Some(Status::Queued),
                limit: Some(500),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        page.messages
            .into_iter()
            .filter(|m| m.recipient == who)
            .map(|m| m.kind)
            .collect::<Vec<_>>()
    };
    let before = waiting("zoe@example.org").await;
    assert!(
        before.contains(&MessageKind::Reminder) && before.contains(&MessageKind::Handoff),
        "{before:?}"
    );

    participants::set_opted_out(p, zoe, true).await.unwrap();
    assert_eq!(waiting("zoe@example.org").await, vec![MessageKind::Handoff]);

    assert!(
        waiting("kim@example.org")
            .await
            .contains(&MessageKind::Reminder)
    );
    participants::set_do_not_contact(p, kim, true)
        .await
        .unwrap();
    assert!(waiting("kim@example.org").await.is_empty());

    // Read back from the server, past every session: Zoë hears only about
    // her issue, Kim nothing.
    let server = SmtpServer::start_on(port, t.dir.path(), &[]);
    t.clock.set(utc("2026-06-21T00:00:00Z"));
    worker::send_due(p).await.unwrap();
    let to = |who: &str| -> Vec<String> {
        server
            .delivered()
            .iter()
            .filter(|d| d.parsed().to().unwrap().first().unwrap().address() == Some(who))
            .map(|d| d.parsed().subject().unwrap_or_default().to_string())
            .collect()
    };
    let zoes = to("zoe@example.org");
    assert!(
        zoes.iter().all(|s| s.contains("now looks after")),
        "{zoes:?}"
    );
    assert_eq!(zoes.len(), 1, "{zoes:?}");
    assert!(to("kim@example.org").is_empty());
}

/// Someone confirmed for a session weeks ahead is not invitable again
/// until the cooldown after that session, and the booking counts towards
/// the yearly cap from the moment it is made; cancelling the session
/// gives them back.
#[tokio::test]
async fn a_future_booking_counts_for_cooldown_and_the_yearly_cap_from_when_it_is_made() {
    let t = common::panel().await;
    let p = &t.panel;
    setup(p, common::smtp::free_port()).await;
    let zoe = person(p, "Zoë", "zoe@example.org", "Europe/Berlin", &[]).await;
    governance::set_rules(
        p,
        &governance::GovernanceRules {
            cooldown_days: 90,
            max_sessions_per_year: 1,
            no_show_ban_after: 0,
        },
    )
    .await
    .unwrap();
    let later = session_input("Later", "2026-06-23T10:00", "Europe/Berlin");
    let later = sessions::create(p, &later).await.unwrap();
    roster::invite(p, later.id, &by_emails(&["zoe@example.org"]))
        .await
        .unwrap();
    roster::rsvp(p, later.id, "zoe@example.org", Rsvp::Confirmed)
        .await
        .unwrap();

    let status = governance::status(p, zoe, p.now()).await.unwrap();
    let until = later.starts_at + Duration::days(90);
    assert!(
        status.reasons.contains(&Exclusion::Booked {
            starts_at: later.starts_at,
            until
        }),
        "{:?}",
        status.reasons
    );
    assert!(status.reasons.iter().any(|r| matches!(
        r,
        Exclusion::YearlyCap {
            sessions: 0,
            booked: 1,
            cap: 1
        }
    )));
    // The screener path agrees with the one-person path.
    screener::save(p, "all", &ScreenerDefinition::default())
        .await
        .unwrap();
    let report = governance::eligible(p, "all", p.now(), &Default::default())
        .await
        .unwrap();
    let excluded = report
        .excluded
        .iter()
        .find(|e| e.id == zoe)
        .expect("excluded");
    assert_eq!(excluded.reasons, status.reasons);
    // Inviting her to another session is refused with the reason.
    let other = session_input("Other", "2026-06-10T10:00", "Europe/Berlin");
    let other = sessions::create(p, &other).await.unwrap();
    let r = roster::invite(p, other.id, &by_emails(&["zoe@example.org"]))
        .await
        .unwrap();
    assert!(r.invited.is_empty());
    assert!(
        r.excluded[0].reasons[0]
            .to_string()
            .starts_with("booked for a session on 2026-06-23")
    );
    // Once that session is cancelled, only her invitation counts.
    sessions::cancel(p, later.id, None).await.unwrap();
    let status = governance::status(p, zoe, p.now()).await.unwrap();
    assert!(
        matches!(status.reasons[..], [Exclusion::Cooldown { .. }]),
        "{:?}",
        status.reasons
    );
    let report = governance::eligible(p, "all", p.now(), &Default::default())
        .await
        .unwrap();
    let excluded = report
        .excluded
        .iter()
        .find(|e| e.id == zoe)
        .expect("excluded");
    assert_eq!(
        excluded.reasons, status.reasons,
        "the panel index saw the cancellation"
    );
}

/// A session that requires a consent invites only people who accepted its
/// current version, saying why the others are excluded; the roster and the
/// report show which version each person accepted.
#[tokio::test]
async fn a_session_that_requires_consent_invites_only_those_who_gave_it() {
    use panelkeeper::participants::consent;
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    let p = &t.panel;
    setup(p, server.port).await;
    governance::set_rules(
        p,
        &governance::GovernanceRules {
            cooldown_days: 0,
            ..governance::rules(p).await.unwrap()
        },
    )
    .await
    .unwrap();
    let given = person(p, "Given", "given@example.org", "Europe/Berlin", &[]).await;
    let older = person(p, "Older", "older@example.org", "Europe/Berlin", &[]).await;
    person(p, "Never", "never@example.org", "Europe/Berlin", &[]).await;
    consent::add_text(p, "recording", "We record the session.")
        .await
        .unwrap();
    consent::accept(p, older, "recording", None, None)
        .await
        .unwrap();
    consent::add_text(p, "recording", "We record the session and keep it a year.")
        .await
        .unwrap();
    consent::accept(p, given, "recording", None, None)
        .await
        .unwrap();

    let mut input = session_input("Recorded", "2026-06-10T10:00", "Europe/Berlin");
    input.consent = Some("nothing-like-it".into());
    assert!(matches!(
        sessions::create(p, &input).await,
        Err(Error::InvalidInput { .. })
    ));
    input.consent = Some("recording".into());
    let s = sessions::create(p, &input).await.unwrap();
    assert_eq!(s.consent_topic.as_deref(), Some("recording"));

    let r = roster::invite(
        p,
        s.id,
        &by_emails(&[
            "given@example.org",
            "older@example.org",
            "never@example.org",
        ]),
    )
    .await
    .unwrap();
    assert_eq!(r.invited.iter().map(|i| i.id).collect::<Vec<_>>(), [given]);
    let why = |email: &str| {
        r.excluded
            .iter()
            .find(|e| e.email.as_deref() == Some(email))
            .unwrap()
            .reasons[0]
            .to_string()
    };
    assert_eq!(
        why("older@example.org"),
        "has not accepted consent \"recording\" version 2, which this session requires (accepted version 1)"
    );
    assert!(why("never@example.org").ends_with("which this session requires"));
    // Through a screener, the same.
    screener::save(p, "all", &ScreenerDefinition::default())
        .await
        .unwrap();
    let r = roster::invite(
        p,
        s.id,
        &InviteRequest {
            invitees: Invitees::Screener {
                name: "all".into(),
                limit: Some(5),
            },
            allow_double_booking: false,
            preview: true,
            allow_started: false,
            excluded_limit: None,
        },
    )
    .await
    .unwrap();
    assert!(r.invited.is_empty(), "{:?}", r.invited);
    assert_eq!(
        r.excluded
            .iter()
            .filter(|e| matches!(e.reasons[..], [Exclusion::ConsentMissing { .. }]))
            .count(),
        2
    );
    // Given, on the roster already, is not news; the others are counted by
    // rule, and a preview can list only the first of them.
    assert_eq!(r.excluded_total, 2);
    assert_eq!(
        r.excluded_by_rule,
        [("consentMissing".to_string(), 2)].into_iter().collect()
    );
    let r = roster::invite(
        p,
        s.id,
        &InviteRequest {
            invitees: Invitees::Screener {
                name: "all".into(),
                limit: Some(5),
            },
            allow_double_booking: false,
            preview: true,
            allow_started: false,
            excluded_limit: Some(1),
        },
    )
    .await
    .unwrap();
    assert_eq!((r.excluded.len(), r.excluded_total), (1, 2));
    assert_eq!(r.excluded[0].email.as_deref(), Some("older@example.org"));
    let detail = sessions::detail(p, s.id).await.unwrap();
    assert_eq!(detail.roster[0].consent_version, Some(2));
}

/// When a confirmed person declines, the place is offered by mail to the
/// first on the waitlist, in the order they joined it; the next place to
/// the next. A session under way takes no invitation unless forced.
#[tokio::test]
async fn a_freed_place_is_offered_to_the_waitlist_in_order_and_a_started_session_takes_no_invitation()
 {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    let p = &t.panel;
    setup(p, server.port).await;
    governance::set_rules(
        p,
        &governance::GovernanceRules {
            cooldown_days: 0,
            ..governance::rules(p).await.unwrap()
        },
    )
    .await
    .unwrap();
    let emails = [
        "a@example.org",
        "b@example.org",
        "c@example.org",
        "d@example.org",
        "e@example.org",
    ];
    for (k, e) in emails.iter().enumerate() {
        person(p, &format!("Person {k}"), e, "Europe/Berlin", &[]).await;
    }
    let mut input = session_input("Small", "2026-06-10T10:00", "Europe/Berlin");
    input.seats = 1;
    input.over_recruit = Some(1);
    input.floaters = 3;
    let s = sessions::create(p, &input).await.unwrap();
    roster::invite(p, s.id, &by_emails(&emails)).await.unwrap();
    roster::rsvp(p, s.id, "a@example.org", Rsvp::Confirmed)
        .await
        .unwrap();
    // Two join the waitlist, D before C.
    for e in ["d@example.org", "c@example.org"] {
        t.clock.advance(Duration::minutes(5));
        let entry = roster::rsvp(p, s.id, e, Rsvp::Confirmed).await.unwrap();
        assert_eq!(entry.rsvp, Rsvp::Waitlisted);
    }
    worker::send_due(p).await.unwrap();
    let before = server.delivered().len();

    t.clock.advance(Duration::hours(1));
    roster::rsvp(p, s.id, "a@example.org", Rsvp::Declined)
        .await
        .unwrap();
    worker::send_due(p).await.unwrap();
    let offers: Vec<_> = server.delivered()[before..]
        .iter()
        .filter(|d| {
            d.parsed()
                .subject()
                .unwrap_or_default()
                .starts_with("A place for you")
        })
        .map(|d| {
            d.parsed()
                .to()
                .unwrap()
                .first()
                .unwrap()
                .address()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        offers,
        ["d@example.org"],
        "the first on the waitlist is offered the place"
    );
    let offer = &server.delivered()[server.delivered().len() - 1];
    let text = offer.parsed().body_text(0).unwrap().replace("\r\n", "\n");
    assert!(
        text.contains("next on its waiting list") && text.starts_with("Dear Person 3,\n\n"),
        "{text}"
    );
    // D takes it.
    assert_eq!(
        roster::rsvp(p, s.id, "d@example.org", Rsvp::Confirmed)
            .await
            .unwrap()
            .rsvp,
        Rsvp::Confirmed
    );
    // D cancels in the last hour: C is offered the place next.
    t.clock.set(s.starts_at - Duration::minutes(30));
    roster::attendance(
        p,
        s.id,
        "d@example.org",
        &AttendanceInput {
            attendance: Some(Attendance::Cancelled),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let detail = sessions::detail(p, s.id).await.unwrap();
    let c = detail
        .roster
        .iter()
        .find(|e| e.email.as_deref() == Some("c@example.org"))
        .unwrap();
    assert!(c.offered_at.is_some() && c.waitlisted_at.is_some());

    // Under way: no invitation unless forced.
    person(p, "Late", "late@example.org", "Europe/Berlin", &[]).await;
    t.clock.set(s.starts_at + Duration::minutes(10));
    match roster::invite(p, s.id, &by_emails(&["late@example.org"])).await {
        Err(Error::Conflict { reason }) => {
            assert!(reason.contains("started at 10:00 CEST"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    let mut late = by_emails(&["late@example.org"]);
    late.allow_started = true;
    assert_eq!(
        roster::invite(p, s.id, &late).await.unwrap().invited.len(),
        1
    );
}
