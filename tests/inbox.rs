//! Mail coming back: replies shaped as Gmail, Outlook and Apple Mail write
//! them (quoted history, HTML only, `AW:`/`SV:` prefixes, no threading
//! headers), calendar answers from the three calendars, a delivery failure
//! report, an out-of-office and an unsubscribe (`tests/corpus/mail/`), each
//! read into a panel where an issue was resolved and a session invited;
//! and the panel mailbox read from a real IMAP server (Dovecot): once per
//! message across fetches, flagged or moved, never deleted, and exactly
//! once when the reader is killed mid-way.

mod common;

use chrono::{Duration, NaiveDateTime};
use common::imap::ImapServer;
use panelkeeper::inbox::{self, FileTo, InboxKind, InboxMessage, InboxState, settings};
use panelkeeper::issues::{self, ContactVia, IssueId, IssueInput, IssueStatus};
use panelkeeper::mail::{self, MessageKind, OutboxQuery};
use panelkeeper::notes::{self, NoteInput};
use panelkeeper::participants::{self, ParticipantInput};
use panelkeeper::sessions::model::{InviteRequest, Invitees, Rsvp};
use panelkeeper::sessions::staff::{self, StaffInput};
use panelkeeper::sessions::{self, Session, SessionInput, roster};

const ZOE: &str = "zoe@example.org";
const SAM: &str = "sam@company.example.com";
const PANEL: &str = "research@panel.example.com";

/// A panel where Zoë raised an issue Sam resolved, and was invited to a
/// session: the mail she may answer is in the outbox.
struct World {
    t: common::TestPanel,
    issue: IssueId,
    session: Session,
    resolution_id: String,
    invitation_id: String,
    /// The resolution's second Reply-To: the panel mailbox for the issue.
    record: String,
}

async fn world() -> World {
    let t = common::panel().await;
    let p = &t.panel;
    mail::settings::set(p, common::smtp::local_smtp(common::smtp::free_port()))
        .await
        .unwrap();
    for (name, email) in [
        ("Ana Moderator", "ana@company.example.com"),
        ("Sam Owner", SAM),
    ] {
        staff::add(
            p,
            &StaffInput {
                name: name.into(),
                email: email.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let ana = staff::by_email(p, "ana@company.example.com").await.unwrap();
    staff::set_current(p, ana.id).await.unwrap();
    // The panel mailbox, so that owners' messages carry it (no server needed yet).
    let mut mailbox = ImapServer::unstarted_settings();
    mailbox.plus_addressing = true;
    settings::set(p, mailbox).await.unwrap();
    participants::create(
        p,
        &ParticipantInput {
            name: "Zoë Ålander".into(),
            email: ZOE.into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap();
    let today = sessions::create(
        p,
        &SessionInput {
            title: "Returns".into(),
            start: Some(at("2026-06-01T09:00")),
            time_zone: "Europe/Stockholm".into(),
            minutes: 60,
            moderator: "ana@company.example.com".into(),
            seats: 8,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let said = notes::add(
        p,
        today.id,
        &NoteInput {
            text: "My refund never came".into(),
            participant: Some(ZOE.into()),
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
            owner: Some(SAM.into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    t.clock.advance(Duration::hours(2));
    issues::log_contact(p, issue.id, ContactVia::Phone, "Called, refund re-issued")
        .await
        .unwrap();
    issues::resolve(
        p,
        issue.id,
        "Refund re-issued",
        "Your refund is on its way.",
    )
    .await
    .unwrap();
    let session = sessions::create(
        p,
        &SessionInput {
            title: "Checkout".into(),
            start: Some(at("2026-06-10T09:00")),
            time_zone: "Europe/Stockholm".into(),
            minutes: 90,
            moderator: "ana@company.example.com".into(),
            seats: 8,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    roster::invite(
        p,
        session.id,
        &InviteRequest {
            invitees: Invitees::Participants {
                keys: vec![ZOE.into()],
            },
            allow_double_booking: false,
            preview: false,
            allow_started: false,
            excluded_limit: None,
        },
    )
    .await
    .unwrap();
    let sent = mail::list(
        p,
        &OutboxQuery {
            status: None,
            limit: Some(100),
            offset: None,
        },
    )
    .await
    .unwrap()
    .messages;
    let id_of = |kind| {
        sent.iter()
            .find(|m| m.kind == kind)
            .unwrap_or_else(|| panic!("a {kind:?} in the outbox"))
            .message_id
            .trim_matches(['<', '>'])
            .to_string()
    };
    let resolution = sent
        .iter()
        .find(|m| m.kind == MessageKind::Resolution)
        .unwrap();
    let detail = mail::get(p, resolution.id).await.unwrap();
    let reply_to = detail.reply_to.unwrap();
    let (owner, record) = reply_to.split_once(", ").unwrap();
    assert_eq!(owner, SAM);
    assert!(
        record.starts_with(&format!("research+i{}-", issue.id.0)),
        "{record}"
    );
    assert!(resolution.subject.ends_with(&format!("[#{}]", issue.id.0)));
    // The owner's own mail about it answers through the panel mailbox too.
    let assigned = sent
        .iter()
        .find(|m| m.kind == MessageKind::IssueAssigned)
        .unwrap();
    let assigned = mail::get(p, assigned.id).await.unwrap();
    assert_eq!(assigned.reply_to.as_deref(), Some(record));
    World {
        record: record.to_string(),
        resolution_id: id_of(MessageKind::Resolution),
        invitation_id: id_of(MessageKind::Invitation),
        issue: issue.id,
        session,
        t,
    }
}

impl World {
    /// A corpus message with this panel's ids and addresses filled in.
    fn message(&self, name: &str) -> Vec<u8> {
        std::fs::read_to_string(common::corpus(&format!("mail/{name}")))
            .unwrap()
            .replace("{resolution_id}", &self.resolution_id)
            .replace("{invitation_id}", &self.invitation_id)
            .replace("{issue}", &self.issue.0.to_string())
            .replace("{session_uid}", &self.session.uid)
            .replace("{zoe}", ZOE)
            .replace("{sam}", SAM)
            .replace("{panel}", PANEL)
            .replace("{record}", &self.record)
            .replace('\n', "\r\n")
            .replace("\r\r\n", "\r\n")
            .into_bytes()
    }

    async fn read(&self, name: &str) -> InboxMessage {
        inbox::take_file(&self.t.panel, "corpus", 1, &self.message(name))
            .await
            .unwrap()
            .expect("read for the first time")
    }

    async fn mail_to_owner(&self) -> Vec<mail::OutboxMessage> {
        mail::list(
            &self.t.panel,
            &OutboxQuery {
                status: None,
                limit: Some(100),
                offset: None,
            },
        )
        .await
        .unwrap()
        .messages
        .into_iter()
        .filter(|m| m.kind == MessageKind::IssueReply)
        .collect()
    }

    async fn status(&self) -> (IssueStatus, u32) {
        let issue = issues::get(&self.t.panel, self.issue).await.unwrap();
        (issue.status, issue.reopens)
    }

    async fn rsvp(&self) -> Rsvp {
        let entries = roster::entries(&self.t.panel, self.session.id)
            .await
            .unwrap();
        entries[0].rsvp
    }
}

#[tokio::test]
async fn a_reply_to_a_resolved_issue_reopens_it_and_its_owner_is_told_once() {
    for name in [
        "gmail_reply_to_resolution.eml",
        "outlook_no_threading_headers.eml",
        "html_only_reply.eml",
        "reply_all_to_plus_address.eml",
    ] {
        let w = world().await;
        let m = w.read(name).await;
        assert_eq!(
            (m.kind, m.state, m.issue),
            (InboxKind::Reply, InboxState::Filed, Some(w.issue)),
            "{name}: {}",
            m.outcome
        );
        assert_eq!(w.status().await, (IssueStatus::Open, 1), "{name}");
        // The quoted history is folded away, the original kept.
        assert!(
            !m.reply.is_empty() && !m.reply.contains("on its way") && !m.reply.contains("Sent:"),
            "{name}: {:?}",
            m.reply
        );
        assert!(
            m.original.contains("on its way") || !name.contains("resolution"),
            "{name}"
        );
        let told = w.mail_to_owner().await;
        assert_eq!(told.len(), 1, "{name}");
        assert_eq!(told[0].recipient, SAM);
        assert_eq!(
            told[0].subject,
            format!(
                "Zoë Ålander replied on #{0}: Refund not received [#{0}]",
                w.issue.0
            )
        );
        // The audit trail says which rule reopened it.
        let detail = issues::detail(&w.t.panel, w.issue).await.unwrap();
        let reopened = detail.events.iter().find(|e| e.kind == "reopened").unwrap();
        assert_eq!(
            reopened.detail["rule"],
            "a participant's reply reopens a resolved issue"
        );
        assert_eq!(reopened.actor, None);
        // The same message read again does nothing.
        let again = inbox::take_file(&w.t.panel, "corpus", 1, &w.message(name))
            .await
            .unwrap();
        assert!(again.is_none(), "{name}");
        assert_eq!(w.mail_to_owner().await.len(), 1, "{name}");
    }
}

#[tokio::test]
async fn a_plus_address_with_a_wrong_signature_files_nothing() {
    let w = world().await;
    let forged = w.record.replace("-", "-0");
    let raw = String::from_utf8(w.message("reply_all_to_plus_address.eml"))
        .unwrap()
        .replace(&w.record, &forged);
    let m = inbox::take_file(&w.t.panel, "corpus", 1, raw.as_bytes())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.state, InboxState::Unfiled, "{}", m.outcome);
    assert_eq!(w.status().await, (IssueStatus::Resolved, 0));
}

/// A mail from `from` answering the message with Message-ID `answers`.
fn answer(from: &str, answers: &str, n: u32, text: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {PANEL}\r\nSubject: Re: something\r\n\
         Message-ID: <owner-{n}@company.example.com>\r\nIn-Reply-To: <{answers}>\r\n\
         Date: Tue, 2 Jun 2026 15:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}",
        text.replace('\n', "\r\n")
    )
    .into_bytes()
}

#[tokio::test]
async fn the_owner_answers_by_mail_and_the_participant_hears_from_them() {
    let w = world().await;
    let p = &w.t.panel;
    w.read("gmail_reply_to_resolution.eml").await;
    assert_eq!(w.status().await, (IssueStatus::Open, 1));
    let told = w.mail_to_owner().await;
    let told_id = told[0].message_id.trim_matches(['<', '>']).to_string();

    // Someone else's answer is kept as a note, never sent on.
    let ana = inbox::take_file(
        p,
        "corpus",
        10,
        &answer(
            "ana@company.example.com",
            &told_id,
            1,
            "I can take this if Sam is away.",
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(ana.outcome.contains("internal note"), "{}", ana.outcome);

    // The owner's answer goes to Zoë from Sam, as a contact by email.
    let sam = inbox::take_file(
        p,
        "corpus",
        11,
        &answer(
            SAM,
            &told_id,
            2,
            "Hi Zoë,\n\nI have asked the bank to trace it.\n\n-- \nSam Owner\n\n> The refund still hasn't arrived.",
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        sam.outcome.contains("sent to the participant"),
        "{}",
        sam.outcome
    );
    let list = mail::list(
        p,
        &OutboxQuery {
            status: None,
            limit: Some(100),
            offset: None,
        },
    )
    .await
    .unwrap()
    .messages;
    let to_zoe: Vec<_> = list
        .iter()
        .filter(|m| m.kind == MessageKind::OwnerMessage)
        .collect();
    assert_eq!(to_zoe.len(), 1, "only the owner's answer went on");
    assert_eq!(to_zoe[0].recipient, ZOE);
    let sent = mail::get(p, to_zoe[0].id).await.unwrap();
    assert!(
        sent.body
            .text
            .contains("I have asked the bank to trace it.")
    );
    assert!(
        !sent.body.text.contains("hasn't arrived"),
        "{}",
        sent.body.text
    );
    assert!(
        !sent.body.text.contains("Dear"),
        "Sam greets, so the mail does not greet again"
    );
    assert_eq!(
        sent.reply_to.as_deref(),
        Some(format!("{SAM}, {}", w.record).as_str())
    );
    let issue = issues::get(p, w.issue).await.unwrap();
    assert_eq!(
        issue.status,
        IssueStatus::Contacted,
        "the first contact is met"
    );

    // #resolve finishes it with the rest as the message.
    let done = inbox::take_file(
        p,
        "corpus",
        12,
        &answer(
            SAM,
            &told_id,
            3,
            "#resolve\nThe bank found it: it is back in your account.",
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(done.outcome.contains("resolved"), "{}", done.outcome);
    let issue = issues::get(p, w.issue).await.unwrap();
    assert_eq!(issue.status, IssueStatus::Resolved);
    assert_eq!(issue.resolution.as_deref(), Some("resolved by mail"));
}

#[tokio::test]
async fn waiting_on_the_participant_stops_the_clock_until_they_answer() {
    let w = world().await;
    let p = &w.t.panel;
    w.read("gmail_reply_to_resolution.eml").await;
    issues::log_contact(p, w.issue, ContactVia::Phone, "Called back")
        .await
        .unwrap();
    let asked = issues::wait_for_participant(p, w.issue, "Could you send me the bank's reference?")
        .await
        .unwrap();
    assert_eq!(asked.status, IssueStatus::Waiting);
    let due = asked.resolution_due;
    let question = mail::list(
        p,
        &OutboxQuery {
            status: None,
            limit: Some(100),
            offset: None,
        },
    )
    .await
    .unwrap()
    .messages
    .into_iter()
    .find(|m| m.kind == MessageKind::OwnerMessage)
    .expect("the question went to Zoë");
    assert_eq!(question.recipient, ZOE);

    // Ten days pass: past the due time, yet nothing is overdue or escalated.
    w.t.clock.advance(Duration::days(10));
    let report = issues::tick(p, p.now()).await.unwrap();
    assert_eq!((report.overdue, report.escalations), (0, 0), "{report:?}");
    let waiting = issues::get(p, w.issue).await.unwrap();
    assert!(!waiting.overdue && waiting.status == IssueStatus::Waiting);
    // Asking again while waiting is refused.
    assert!(
        issues::wait_for_participant(p, w.issue, "Again?")
            .await
            .is_err()
    );

    // Her answer starts the clock again, the due time moved on by the wait.
    let answered = inbox::take_file(
        p,
        "corpus",
        20,
        format!(
            "From: Zoe <{ZOE}>\r\nTo: {PANEL}\r\nSubject: Re: question\r\n\
             Message-ID: <answer-1@example.org>\r\nIn-Reply-To: {}\r\n\
             Date: Tue, 2 Jun 2026 15:00:00 +0000\r\n\r\nIt is REF-4411.\r\n",
            question.message_id
        )
        .as_bytes(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        answered.outcome.contains("clock goes on"),
        "{}",
        answered.outcome
    );
    let going = issues::get(p, w.issue).await.unwrap();
    assert_eq!(going.status, IssueStatus::Contacted);
    assert_eq!(going.resolution_due, due + Duration::days(10));
    assert_eq!(w.mail_to_owner().await.len(), 2, "told of each reply once");
    let detail = issues::detail(p, w.issue).await.unwrap();
    assert!(detail.events.iter().any(|e| e.kind == "waiting"));
    assert!(
        detail
            .events
            .iter()
            .any(|e| e.kind == "resumed" && e.detail["reason"] == "the participant replied")
    );
}

#[tokio::test]
async fn thanks_or_an_out_of_office_leave_a_resolved_issue_resolved() {
    let w = world().await;
    let thanks = w.read("apple_mail_references_only.eml").await;
    assert_eq!(
        (thanks.kind, thanks.issue),
        (InboxKind::Reply, Some(w.issue))
    );
    assert_eq!(thanks.reply, "Thank you so much, it arrived this morning!");
    assert_eq!(w.status().await, (IssueStatus::Resolved, 0));
    assert_eq!(w.mail_to_owner().await.len(), 1, "the owner may close it");

    let w = world().await;
    let away = w.read("out_of_office.eml").await;
    assert_eq!(
        (away.kind, away.state, away.issue),
        (InboxKind::Automatic, InboxState::Filed, Some(w.issue))
    );
    assert_eq!(w.status().await, (IssueStatus::Resolved, 0));
    assert!(
        w.mail_to_owner().await.is_empty(),
        "never answered, nobody told"
    );
}

#[tokio::test]
async fn calendar_answers_from_three_calendars_are_recorded_as_rsvps() {
    for (name, rsvp) in [
        ("itip_google_accepted.eml", Rsvp::Confirmed),
        ("itip_outlook_tentative.eml", Rsvp::Tentative),
        ("itip_apple_declined.eml", Rsvp::Declined),
    ] {
        let w = world().await;
        assert_eq!(w.rsvp().await, Rsvp::Invited);
        let m = w.read(name).await;
        assert_eq!(
            (m.kind, m.state),
            (InboxKind::Calendar, InboxState::Filed),
            "{name}: {}",
            m.outcome
        );
        assert_eq!(w.rsvp().await, rsvp, "{name}");
    }
}

#[tokio::test]
async fn an_unsubscribe_opts_out_and_a_bounce_keeps_the_address_from_invitations() {
    let w = world().await;
    let zoe = participants::find(&w.t.panel, ZOE).await.unwrap();
    let m = w.read("unsubscribe.eml").await;
    assert_eq!((m.kind, m.participant), (InboxKind::Unsubscribe, Some(zoe)));
    let shown = participants::get(&w.t.panel, zoe).await.unwrap();
    assert_eq!(shown.opted_out_at, Some(w.t.panel.now()));

    let w = world().await;
    let m = w.read("dsn_permanent_failure.eml").await;
    assert_eq!(
        (m.kind, m.state, m.participant),
        (InboxKind::Bounce, InboxState::Filed, Some(zoe))
    );
    let later = sessions::create(
        &w.t.panel,
        &SessionInput {
            title: "Later".into(),
            start: Some(
                NaiveDateTime::parse_from_str("2026-07-01T09:00", "%Y-%m-%dT%H:%M").unwrap(),
            ),
            time_zone: "Europe/Stockholm".into(),
            minutes: 60,
            moderator: "ana@company.example.com".into(),
            seats: 8,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let preview = || async {
        roster::invite(
            &w.t.panel,
            later.id,
            &InviteRequest {
                invitees: Invitees::Participants {
                    keys: vec![zoe.0.to_string()],
                },
                allow_double_booking: true,
                preview: true,
                allow_started: false,
                excluded_limit: None,
            },
        )
        .await
        .unwrap()
    };
    let why = format!("{:?}", preview().await.excluded);
    assert!(why.contains(inbox::BOUNCED_LIST), "{why}");
    // A new address is no longer the one that bounced.
    participants::update(
        &w.t.panel,
        zoe,
        &ParticipantInput {
            name: "Zoë Ålander".into(),
            email: "zoe.new@example.org".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // (Still kept by the contact rules from a second session so soon, but
    // no longer as a bounced address.)
    let why = format!("{:?}", preview().await.excluded);
    assert!(
        !why.contains(inbox::BOUNCED_LIST) && why.contains("Booked"),
        "{why}"
    );
}

#[tokio::test]
async fn a_message_matched_to_nothing_waits_in_the_inbox_for_a_person() {
    let w = world().await;
    let p = &w.t.panel;
    let m = w.read("forwarded_without_headers.eml").await;
    assert_eq!(m.state, InboxState::Unfiled, "{}", m.outcome);
    let waiting = inbox::list(p, InboxState::Unfiled, None).await.unwrap();
    assert_eq!(waiting.iter().map(|m| m.id).collect::<Vec<_>>(), vec![m.id]);

    // Filed with the issue by a person: from someone else, an internal note.
    let filed = inbox::file(p, m.id, FileTo::Issue(w.issue)).await.unwrap();
    assert_eq!(
        (filed.state, filed.issue),
        (InboxState::Filed, Some(w.issue))
    );
    assert!(filed.outcome.contains("internal note"), "{}", filed.outcome);
    assert_eq!(w.status().await, (IssueStatus::Resolved, 0));
    assert!(
        inbox::list(p, InboxState::Unfiled, None)
            .await
            .unwrap()
            .is_empty()
    );
    let conversation = inbox::conversation(p, w.issue).await.unwrap();
    assert_eq!(conversation.len(), 1);
    // Filing again, or dismissing what is filed, is refused.
    assert!(inbox::file(p, m.id, FileTo::Issue(w.issue)).await.is_err());
    assert!(inbox::dismiss(p, m.id).await.is_err());

    // Another is put aside.
    let other = inbox::take_file(p, "corpus", 2, &w.message("forwarded_without_headers.eml"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        other.state,
        InboxState::Dismissed,
        "the same message twice: {}",
        other.outcome
    );
}

#[tokio::test]
async fn erasing_a_participant_deletes_the_mail_they_sent() {
    let w = world().await;
    w.read("gmail_reply_to_resolution.eml").await;
    let zoe = participants::find(&w.t.panel, ZOE).await.unwrap();
    let report = participants::privacy::erase(
        &w.t.panel,
        zoe,
        &participants::privacy::ErasureRequest {
            reason: Some("asked to be forgotten".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(report.mail_received_deleted, 1);
    let left: Vec<(i64,)> = common::rows(&w.t.location, "SELECT id FROM inbox_messages").await;
    assert!(left.is_empty());
}

/// The panel mailbox on a real IMAP server, read with the command line.
#[tokio::test]
async fn the_mailbox_is_read_once_marked_and_never_emptied() {
    let w = world().await;
    let server = ImapServer::start(w.t.dir.path());
    settings::set(&w.t.panel, server.settings()).await.unwrap();
    for name in [
        "gmail_reply_to_resolution.eml",
        "forwarded_without_headers.eml",
        "itip_google_accepted.eml",
    ] {
        server.deliver(&w.message(name));
    }
    let report = inbox::fetch(&w.t.panel).await.unwrap();
    assert_eq!((report.read, report.filed, report.unfiled), (3, 2, 1));
    assert_eq!(w.status().await, (IssueStatus::Open, 1));
    assert_eq!(w.rsvp().await, Rsvp::Confirmed);
    // Still there, seen and flagged; a second round reads nothing.
    let flags = server.flags("INBOX");
    assert_eq!(flags.len(), 3, "{flags:?}");
    assert!(flags.iter().all(|f| f.contains('S')), "{flags:?}");
    let again = inbox::fetch(&w.t.panel).await.unwrap();
    assert_eq!(again.read, 0);
    assert_eq!(w.mail_to_owner().await.len(), 1);

    // Moved to a folder instead, when asked; new mail only.
    let mut moving = server.settings();
    moving.password = panelkeeper::mail::settings::PasswordChange::Keep;
    moving.after_reading = Some(settings::AfterReading::Move("Panelkeeper".into()));
    settings::set(&w.t.panel, moving).await.unwrap();
    server.deliver(&w.message("unsubscribe.eml"));
    let report = inbox::fetch(&w.t.panel).await.unwrap();
    assert_eq!(report.read, 1);
    assert_eq!(server.flags("Panelkeeper").len(), 1);
    assert_eq!(server.flags("INBOX").len(), 3);

    // A wrong password is said as such, and nothing changes.
    let mut wrong = server.settings();
    wrong.password = panelkeeper::mail::settings::PasswordChange::Set("nope".into());
    settings::set(&w.t.panel, wrong).await.unwrap();
    let err = inbox::fetch(&w.t.panel).await.unwrap_err();
    assert!(
        matches!(err, panelkeeper::Error::Mailbox { .. }) && err.to_string().contains("logging in"),
        "{err}"
    );
}

/// Over TLS and over STARTTLS, the server's certificate is checked against
/// the authority given; a certificate nobody vouches for is refused.
#[tokio::test]
async fn the_mailbox_is_read_over_tls_and_starttls_with_the_certificate_checked() {
    use panelkeeper::mail::settings::{PasswordChange, TlsMode};
    let w = world().await;
    let (ca, cert, key) = common::certificates(w.t.dir.path());
    let server = ImapServer::start_with(w.t.dir.path(), Some((&cert, &key)));
    server.deliver(&w.message("gmail_reply_to_resolution.eml"));
    server.deliver(&w.message("unsubscribe.eml"));
    for (n, (tls, port)) in [
        (TlsMode::Tls, server.tls_port.unwrap()),
        (TlsMode::Starttls, server.port),
    ]
    .into_iter()
    .enumerate()
    {
        let mut input = server.settings();
        input.tls = tls;
        input.port = port;
        input.ca_certificate = Some(ca.clone());
        if n > 0 {
            input.password = PasswordChange::Keep;
        }
        settings::set(&w.t.panel, input).await.unwrap();
        let report = inbox::fetch(&w.t.panel).await.unwrap();
        assert_eq!(report.read, if n == 0 { 2 } else { 0 }, "{tls:?}");
    }
    // Another authority: refused, and said so.
    let elsewhere = w.t.dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let (other, _, _) = common::certificates(&elsewhere);
    let mut input = server.settings();
    input.tls = TlsMode::Tls;
    input.port = server.tls_port.unwrap();
    input.ca_certificate = Some(other);
    settings::set(&w.t.panel, input).await.unwrap();
    let err = inbox::fetch(&w.t.panel).await.unwrap_err();
    assert!(
        matches!(err, panelkeeper::Error::Mailbox { .. }) && err.to_string().contains("TLS"),
        "{err}"
    );
}

/// Two readers of one mailbox at once: each message acted on once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_readers_at_once_act_on_each_message_once() {
    let w = world().await;
    let server = ImapServer::start(w.t.dir.path());
    settings::set(&w.t.panel, server.settings()).await.unwrap();
    for name in [
        "gmail_reply_to_resolution.eml",
        "itip_google_accepted.eml",
        "forwarded_without_headers.eml",
    ] {
        server.deliver(&w.message(name));
    }
    for n in 0..40 {
        server.deliver(
            format!(
                "From: <someone{n}@example.net>\r\nTo: {PANEL}\r\nSubject: Hello {n}\r\n\
                 Message-ID: <hello{n}@example.net>\r\n\r\nHello.\r\n"
            )
            .as_bytes(),
        );
    }
    let (a, b) = tokio::join!(inbox::fetch(&w.t.panel), inbox::fetch(&w.t.panel));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.read + b.read, 43, "{a:?} {b:?}");
    assert_eq!(w.mail_to_owner().await.len(), 1, "the owner told once");
    assert_eq!(w.status().await, (IssueStatus::Open, 1), "reopened once");
    let rows: Vec<(i64,)> =
        common::rows(&w.t.location, "SELECT count(*) FROM inbox_messages").await;
    assert_eq!(rows[0].0, 43);
}

/// The team server reads the panel mailbox on its own, as mail arrives
/// (IMAP IDLE: no waiting for the next minute's look), takes up settings
/// saved meanwhile, and stops reading when it stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_team_server_reads_the_mailbox_as_mail_arrives() {
    use panelkeeper::server::{self, Listening, Options};
    let w = world().await;
    let server = ImapServer::start(w.t.dir.path());
    settings::set(&w.t.panel, server.settings()).await.unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server::serve(
        w.t.panel.clone(),
        Listening::Plain(tcp),
        Options {
            ui: None,
            secure: false,
        },
        async move {
            let _ = stopped.await;
        },
    ));
    // The first look finds nothing; the reply arrives while it waits.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    server.deliver(&w.message("gmail_reply_to_resolution.eml"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while w.status().await != (IssueStatus::Open, 1) {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not read the reply: {}",
            server.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Settings saved while it reads are taken up: read mail is moved now.
    let mut moving = server.settings();
    moving.password = panelkeeper::mail::settings::PasswordChange::Keep;
    moving.after_reading = Some(settings::AfterReading::Move("Read".into()));
    settings::set(&w.t.panel, moving).await.unwrap();
    server.deliver(&w.message("unsubscribe.eml"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while server.flags("Read").len() != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the new settings were not taken up: {}",
            server.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    tokio::time::timeout(std::time::Duration::from_secs(20), serving)
        .await
        .expect("the server stops, its reader with it")
        .unwrap()
        .unwrap();
}

/// `inbox fetch` killed with SIGKILL while it reads 500 messages, then run
/// again: each message read once, none lost, none left the mailbox.
#[tokio::test]
async fn a_reader_killed_mid_way_loses_nothing_and_reads_nothing_twice() {
    let cli = common::cli::Cli::new();
    cli.ok(&["staff", "add", "--name", "Sam Owner", "--email", SAM]);
    let server = ImapServer::start(cli.dir.path());
    let mut input = cli.command(&[
        "inbox",
        "set",
        "--host",
        "127.0.0.1",
        "--port",
        &server.port.to_string(),
        "--tls",
        "none",
        "--user",
        common::imap::USER,
        "--password-stdin",
    ]);
    let mut child = input
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(common::imap::PASSWORD.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    const N: usize = 500;
    for n in 0..N {
        server.deliver(
            format!(
                "From: Person {n} <person{n}@example.net>\r\nTo: {PANEL}\r\n\
                 Subject: Question {n}\r\nMessage-ID: <q{n}@example.net>\r\n\
                 Date: Tue, 2 Jun 2026 09:00:00 +0000\r\n\r\nHello, this is message {n}.\r\n"
            )
            .as_bytes(),
        );
    }
    let count = || -> i64 {
        let out = match cli.file() {
            Some(db) => std::process::Command::new("sqlite3")
                .arg(db)
                .arg("SELECT count(*) FROM inbox_messages")
                .output()
                .unwrap(),
            None => std::process::Command::new("psql")
                .args([
                    cli.db().to_str().unwrap(),
                    "-tAc",
                    "SELECT count(*) FROM inbox_messages",
                ])
                .output()
                .unwrap(),
        };
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    };
    let mut reader = cli.command(&["inbox", "fetch"]).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while count() < 60 {
        assert!(
            std::time::Instant::now() < deadline,
            "the reader read nothing"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    reader.kill().unwrap();
    reader.wait().unwrap();
    let read_before = count();
    assert!(
        read_before < N as i64,
        "killed before it finished ({read_before})"
    );

    let report = cli.json(&["inbox", "fetch", "--json"]);
    assert_eq!(report["read"].as_i64().unwrap() + read_before, N as i64);
    assert_eq!(count(), N as i64);
    let unfiled = cli.json(&["inbox", "list", "--limit", "1000", "--json"]);
    let mut ids: Vec<String> = unfiled
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["fromAddress"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N, "each message once");
    // Every message is still in the mailbox.
    assert_eq!(server.flags("INBOX").len(), N);
}
