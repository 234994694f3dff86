//! The outbox and its worker against a real SMTP server (aiosmtpd on
//! 127.0.0.1): delivery, retries, refusals, cancellation, rollback and
//! header injection. The worker killed mid-queue is tested from the CLI
//! (`tests/cli.rs`), where a real process can be killed.

mod common;

use chrono::Duration;
use common::smtp::{SmtpServer, free_port};
use mail_parser::MimeHeaders;
use panelkeeper::db::Location;
use panelkeeper::mail::settings::{self, PasswordChange, SmtpInput, TlsMode};
use panelkeeper::mail::{self, Attachment, MessageKind, NewMessage, Rendered, Status, worker};
use panelkeeper::participants::fields::Email;
use panelkeeper::{Error, Panel};
use std::collections::BTreeMap;

async fn smtp_on(panel: &Panel, port: u16, user: Option<(&str, &str)>) {
    settings::set(
        panel,
        SmtpInput {
            host: "127.0.0.1".into(),
            port,
            tls: TlsMode::None,
            user: user.map(|u| u.0.to_string()),
            password: match user {
                Some((_, p)) => PasswordChange::Set(p.into()),
                None => PasswordChange::Clear,
            },
            from_address: "research@panel.example.com".into(),
            from_name: "Panel Research".into(),
            reply_to: None,
            ca_certificate: None,
        },
    )
    .await
    .unwrap();
}

fn message(to: &str, subject: &str) -> NewMessage {
    NewMessage {
        also_reply_to: None,
        kind: MessageKind::Invitation,
        to: Email::parse(to).unwrap(),
        to_name: "Zoë Ålander".into(),
        reply_to: None,
        from_name: None,
        body: Rendered {
            subject: subject.into(),
            text: "Dear Zoë,\nplain body\n".into(),
            html: "<!DOCTYPE html><p>Dear Zoë, <b>html</b> body</p>".into(),
        },
        headers: BTreeMap::new(),
        attachments: Vec::new(),
        not_before: common::start(),
        topic: None,
    }
}

async fn queue(panel: &Panel, m: &NewMessage) -> mail::MessageId {
    let mut tx = panel.begin().await.unwrap();
    let id = mail::enqueue(&mut tx, panel.now(), m).await.unwrap();
    tx.commit().await.unwrap();
    id
}

/// Queues `all` in one transaction.
async fn queue_all(panel: &Panel, all: &[NewMessage]) {
    let mut tx = panel.begin().await.unwrap();
    mail::enqueue_many(&mut tx, panel.now(), all).await.unwrap();
    tx.commit().await.unwrap();
}

async fn status(panel: &Panel, id: mail::MessageId) -> mail::OutboxMessage {
    mail::get(panel, id).await.unwrap().message
}

#[tokio::test]
async fn a_message_arrives_with_its_headers_both_bodies_and_attachments() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    smtp_on(&t.panel, server.port, None).await;

    let mut m = message(
        "zoe@example.org",
        "Invitation: Checkout, Tuesday 16 March 2027",
    );
    m.reply_to = Some(Email::parse("ana.owner@example.com").unwrap());
    m.from_name = Some("Ana Owner".into());
    m.headers.insert(
        "List-Unsubscribe".into(),
        "<mailto:research@panel.example.com?subject=unsubscribe>".into(),
    );
    let ics = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n".to_vec();
    let pdf = b"%PDF-1.7 \x00\x01\x02 binary".to_vec();
    m.attachments = vec![
        Attachment {
            filename: "invite.ics".into(),
            content_type: "text/calendar; method=REQUEST; charset=UTF-8".into(),
            content: ics.clone(),
        },
        Attachment {
            filename: "report.pdf".into(),
            content_type: "application/pdf".into(),
            content: pdf.clone(),
        },
    ];
    let id = queue(&t.panel, &m).await;
    let stored = mail::get(&t.panel, id).await.unwrap();
    assert_eq!(stored.message.status, Status::Queued);
    assert_eq!(stored.message.attachments, ["invite.ics", "report.pdf"]);

    let report = worker::send_due(&t.panel).await.unwrap();
    assert_eq!(
        (report.sent, report.retrying, report.failed),
        (1, 0, 0),
        "{report:?}"
    );
    assert_eq!(report.problem, None);

    let delivered = server.delivered();
    assert_eq!(delivered.len(), 1);
    let got = delivered[0].parsed();
    let from = got.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("Ana Owner"));
    assert_eq!(from.address(), Some("research@panel.example.com"));
    let to = got.to().unwrap().first().unwrap();
    assert_eq!(to.name(), Some("Zoë Ålander"));
    assert_eq!(to.address(), Some("zoe@example.org"));
    assert_eq!(
        got.reply_to().unwrap().first().unwrap().address(),
        Some("ana.owner@example.com")
    );
    assert_eq!(
        got.subject(),
        Some("Invitation: Checkout, Tuesday 16 March 2027")
    );
    assert_eq!(
        format!("<{}>", got.message_id().unwrap()),
        stored.message.message_id
    );
    assert_eq!(
        got.header_raw("List-Unsubscribe").map(str::trim),
        Some("<mailto:research@panel.example.com?subject=unsubscribe>")
    );
    assert_eq!(
        got.body_text(0).unwrap().replace("\r\n", "\n").trim_end(),
        "Dear Zoë,\nplain body"
    );
    assert!(got.body_html(0).unwrap().contains("<b>html</b>"));
    let files: Vec<_> = got
        .attachments()
        .map(|a| {
            (
                a.attachment_name().unwrap().to_string(),
                a.contents().to_vec(),
            )
        })
        .collect();
    assert_eq!(
        files,
        vec![("invite.ics".into(), ics), ("report.pdf".into(), pdf)]
    );
    let ics_part = got.attachments().next().unwrap();
    let ct = ics_part.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("calendar")));
    assert_eq!(ct.attribute("method"), Some("REQUEST"));

    let sent = status(&t.panel, id).await;
    assert_eq!(sent.status, Status::Sent);
    assert_eq!(sent.attempts, 1);
    assert!(sent.sent_at.is_some() && sent.next_attempt_at.is_none());
    // Nothing is left to send, and nothing goes twice.
    let again = worker::send_due(&t.panel).await.unwrap();
    assert_eq!(again.sent, 0);
    assert_eq!(server.delivered().len(), 1);

    // An invitation queued without the header still carries one, to the
    // research team's address; a test message does not.
    queue(&t.panel, &message("zoe@example.org", "Second invitation")).await;
    let mut test = message("me@example.org", "Test");
    test.kind = MessageKind::Test;
    queue(&t.panel, &test).await;
    assert_eq!(worker::send_due(&t.panel).await.unwrap().sent, 2);
    for d in &server.delivered()[1..] {
        let got = d.parsed();
        let header = got.header_raw("List-Unsubscribe").map(str::trim);
        match got.subject() {
            Some("Second invitation") => assert_eq!(
                header,
                Some("<mailto:research@panel.example.com?subject=unsubscribe>")
            ),
            _ => assert_eq!(header, None),
        }
    }
}

#[tokio::test]
async fn with_the_server_down_everything_waits_then_each_message_goes_once() {
    let t = common::panel().await;
    let port = free_port();
    smtp_on(&t.panel, port, None).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            queue(
                &t.panel,
                &message(&format!("p{i}@example.org"), &format!("Message {i}")),
            )
            .await,
        );
    }
    let counts = mail::counts(&t.panel).await.unwrap();
    assert_eq!((counts.waiting, counts.due), (5, 5));

    let first = worker::send_due(&t.panel).await.unwrap();
    assert_eq!((first.sent, first.retrying), (0, 5), "{first:?}");
    let problem = first.problem.unwrap();
    assert!(
        problem.contains(&format!("could not connect to 127.0.0.1:{port}")),
        "{problem}"
    );
    for &id in &ids {
        let m = status(&t.panel, id).await;
        assert_eq!(m.status, Status::Queued);
        assert_eq!(m.attempts, 1);
        assert!(
            m.last_error
                .as_deref()
                .unwrap()
                .contains("could not connect")
        );
        assert_eq!(
            m.next_attempt_at,
            Some(common::start() + Duration::seconds(30))
        );
    }
    // Not due yet: a second pass right away does nothing.
    let early = worker::send_due(&t.panel).await.unwrap();
    assert_eq!((early.sent, early.retrying), (0, 0));
    assert_eq!(
        early.next_due,
        Some(common::start() + Duration::seconds(30))
    );
    assert_eq!(mail::counts(&t.panel).await.unwrap().waiting, 5);

    // Still down at the first retry: the wait doubles.
    t.clock.advance(Duration::seconds(30));
    worker::send_due(&t.panel).await.unwrap();
    let m = status(&t.panel, ids[0]).await;
    assert_eq!(m.attempts, 2);
    assert_eq!(
        m.next_attempt_at,
        Some(t.panel.now() + Duration::seconds(60))
    );

    let server = SmtpServer::start_on(port, t.dir.path(), &[]);
    t.clock.advance(Duration::seconds(60));
    let up = worker::send_due(&t.panel).await.unwrap();
    assert_eq!((up.sent, up.retrying, up.failed), (5, 0, 0), "{up:?}");
    worker::send_due(&t.panel).await.unwrap();
    let mut got: Vec<String> = server
        .delivered()
        .iter()
        .map(|d| d.parsed().subject().unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(
        got,
        (0..5).map(|i| format!("Message {i}")).collect::<Vec<_>>()
    );
    for &id in &ids {
        assert_eq!(status(&t.panel, id).await.status, Status::Sent);
    }
}

#[tokio::test]
async fn a_temporary_refusal_is_retried_and_a_permanent_one_fails_with_the_reason() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    smtp_on(&t.panel, server.port, None).await;
    let at_rcpt = queue(&t.panel, &message("tempfail@example.org", "Busy mailbox")).await;
    let at_data = queue(&t.panel, &message("slowdata@example.org", "Greylisted")).await;
    let refused = queue(&t.panel, &message("reject@example.org", "No such user")).await;
    let fine = queue(&t.panel, &message("fine@example.org", "Fine")).await;

    let first = worker::send_due(&t.panel).await.unwrap();
    assert_eq!(
        (first.sent, first.retrying, first.failed),
        (1, 2, 1),
        "{first:?}"
    );

    let busy = status(&t.panel, at_rcpt).await;
    assert_eq!(busy.status, Status::Queued);
    assert!(
        busy.last_error
            .as_deref()
            .unwrap()
            .contains("451 4.3.0 Mailbox busy"),
        "{busy:?}"
    );
    let grey = status(&t.panel, at_data).await;
    assert_eq!(grey.status, Status::Queued);
    assert!(
        grey.last_error
            .as_deref()
            .unwrap()
            .contains("451 4.7.1 Greylisted"),
        "{grey:?}"
    );
    let no = status(&t.panel, refused).await;
    assert_eq!(no.status, Status::Failed);
    assert_eq!(
        no.last_error.as_deref(),
        Some("the server refused it: 550 5.1.1 No such mailbox here")
    );
    assert_eq!(status(&t.panel, fine).await.status, Status::Sent);

    t.clock.advance(Duration::seconds(30));
    let second = worker::send_due(&t.panel).await.unwrap();
    assert_eq!(
        (second.sent, second.retrying, second.failed),
        (2, 0, 0),
        "{second:?}"
    );
    assert_eq!(status(&t.panel, at_data).await.attempts, 2);
    // The refused one is not retried by itself.
    t.clock.advance(Duration::hours(2));
    assert_eq!(worker::send_due(&t.panel).await.unwrap().sent, 0);
    assert_eq!(status(&t.panel, refused).await.status, Status::Failed);

    let mut subjects: Vec<String> = server
        .delivered()
        .iter()
        .map(|d| d.parsed().subject().unwrap().to_string())
        .collect();
    subjects.sort();
    assert_eq!(subjects, ["Busy mailbox", "Fine", "Greylisted"]);

    // Retried by hand, it is refused again and says so.
    mail::retry(&t.panel, refused).await.unwrap();
    let third = worker::send_due(&t.panel).await.unwrap();
    assert_eq!(third.failed, 1);
    assert_eq!(status(&t.panel, refused).await.attempts, 2);
}

#[tokio::test]
async fn a_server_that_defers_for_three_days_fails_the_message_but_being_offline_never_does() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    smtp_on(&t.panel, server.port, None).await;
    let deferred = queue(&t.panel, &message("defer@example.org", "Deferred")).await;
    worker::send_due(&t.panel).await.unwrap();
    assert_eq!(status(&t.panel, deferred).await.status, Status::Queued);
    t.clock.advance(Duration::days(3));
    let report = worker::send_due(&t.panel).await.unwrap();
    assert_eq!(report.failed, 1, "{report:?}");
    let m = status(&t.panel, deferred).await;
    assert_eq!(m.status, Status::Failed);
    assert!(
        m.last_error
            .unwrap()
            .starts_with("the server kept deferring it for 3 days")
    );

    server.stop();
    let offline = queue(&t.panel, &message("a@example.org", "Offline")).await;
    for _ in 0..10 {
        t.clock.advance(Duration::days(1));
        assert_eq!(worker::send_due(&t.panel).await.unwrap().retrying, 1);
    }
    let m = status(&t.panel, offline).await;
    assert_eq!((m.status, m.attempts), (Status::Queued, 10));
    assert_eq!(m.next_attempt_at, Some(t.panel.now() + Duration::hours(1)));
}

#[tokio::test]
async fn a_message_waits_for_its_time() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    smtp_on(&t.panel, server.port, None).await;
    let mut m = message("later@example.org", "Reminder");
    m.not_before = common::start() + Duration::hours(22);
    let id = queue(&t.panel, &m).await;
    let counts = mail::counts(&t.panel).await.unwrap();
    assert_eq!((counts.waiting, counts.due), (1, 0));
    let report = worker::send_due(&t.panel).await.unwrap();
    assert_eq!(report.sent, 0);
    assert_eq!(report.next_due, Some(m.not_before));
    // Retry now does not pull a scheduled message forward.
    mail::retry(&t.panel, id).await.unwrap();
    assert_eq!(worker::send_due(&t.panel).await.unwrap().sent, 0);
    t.clock.advance(Duration::hours(22));
    assert_eq!(worker::send_due(&t.panel).await.unwrap().sent, 1);
    assert_eq!(server.delivered().len(), 1);
}

#[tokio::test]
async fn a_message_queued_in_a_transaction_that_rolls_back_is_never_sent() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    smtp_on(&t.panel, server.port, None).await;
    let mut tx = t.panel.begin().await.unwrap();
    let m = message("ghost@example.org", "Never");
    let mut with_file = m.clone();
    with_file.attachments.push(Attachment {
        filename: "a.ics".into(),
        content_type: "text/calendar".into(),
        content: b"x".to_vec(),
    });
    mail::enqueue(&mut tx, t.panel.now(), &with_file)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let page = mail::list(&t.panel, &Default::default()).await.unwrap();
    assert_eq!(page.total, 0);
    assert_eq!(worker::send_due(&t.panel).await.unwrap().sent, 0);
    assert!(server.delivered().is_empty());
}

#[tokio::test]
async fn a_cancelled_message_is_never_sent_and_a_sent_one_cannot_be_cancelled() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    smtp_on(&t.panel, server.port, None).await;
    let gone = queue(&t.panel, &message("a@example.org", "Cancelled")).await;
    let kept = queue(&t.panel, &message("b@example.org", "Kept")).await;
    assert_eq!(
        mail::cancel(&t.panel, gone).await.unwrap().status,
        Status::Cancelled
    );
    assert_eq!(worker::send_due(&t.panel).await.unwrap().sent, 1);
    assert_eq!(server.delivered().len(), 1);
    assert!(matches!(
        mail::cancel(&t.panel, kept).await,
        Err(Error::Conflict { .. })
    ));
    let err = mail::retry(&t.panel, kept).await.unwrap_err();
    assert!(err.to_string().contains("already sent"), "{err}");
    assert!(matches!(
        mail::retry(&t.panel, gone).await,
        Err(Error::Conflict { .. })
    ));
    assert!(matches!(
        mail::cancel(&t.panel, mail::MessageId(999)).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn header_injection_in_names_and_subjects_is_neutralised() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    smtp_on(&t.panel, server.port, None).await;
    let mut m = message(
        "target@example.org",
        "Hello\r\nBcc: victim@example.net\r\nX-Evil: 1",
    );
    m.to_name = "Zoë\r\nBcc: other@example.net".into();
    m.from_name = Some("Ana\nCc: cc@example.net".into());
    m.headers.insert(
        "List-Unsubscribe".into(),
        "<mailto:x@example.com>\r\nBcc: third@example.net".into(),
    );
    let id = queue(&t.panel, &m).await;
    assert_eq!(
        worker::send_due(&t.panel).await.unwrap().sent,
        1,
        "{:?}",
        status(&t.panel, id).await
    );

    let delivered = server.delivered();
    assert_eq!(delivered.len(), 1);
    let got = delivered[0].parsed();
    assert_eq!(
        got.subject(),
        Some("Hello Bcc: victim@example.net X-Evil: 1")
    );
    assert!(
        got.header("Bcc").is_none() && got.header("Cc").is_none() && got.header("X-Evil").is_none()
    );
    let to = got.to().unwrap();
    assert_eq!(to.iter().count(), 1);
    assert_eq!(to.first().unwrap().address(), Some("target@example.org"));

    // A header name that is not a token is refused outright, and nothing is queued.
    let mut bad = message("target@example.org", "x");
    bad.headers.insert("Bcc: a@b.c\r\nX".into(), "v".into());
    let mut tx = t.panel.begin().await.unwrap();
    let err = mail::enqueue(&mut tx, t.panel.now(), &bad)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "header name"),
        "{err:?}"
    );
    // An address with a line break never parses.
    assert!(Email::parse("a@example.org\r\nBcc: b@example.org").is_err());
}

#[tokio::test]
async fn login_with_the_saved_password_and_a_wrong_password_keeps_mail_queued() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &["--auth", "mailer:s3cret-pässword"]);
    smtp_on(&t.panel, server.port, Some(("mailer", "wrong"))).await;
    let id = queue(&t.panel, &message("a@example.org", "Auth")).await;
    let report = worker::send_due(&t.panel).await.unwrap();
    assert_eq!(report.retrying, 1);
    let problem = report.problem.unwrap();
    assert!(
        problem.contains("logging in") && problem.contains("535"),
        "{problem}"
    );
    assert_eq!(status(&t.panel, id).await.status, Status::Queued);

    smtp_on(&t.panel, server.port, Some(("mailer", "s3cret-pässword"))).await;
    mail::retry(&t.panel, id).await.unwrap();
    assert_eq!(worker::send_due(&t.panel).await.unwrap().sent, 1);
    assert_eq!(server.delivered().len(), 1);

    // The password is in neither the database nor its write-ahead log.
    t.panel.close().await;
    let needle = "s3cret-pässword".as_bytes();
    match &t.location {
        Location::File(path) => {
            for name in ["panel.db", "panel.db-wal"] {
                if let Ok(bytes) = std::fs::read(path.with_file_name(name)) {
                    assert!(
                        !bytes.windows(needle.len()).any(|w| w == needle),
                        "{name} holds the password"
                    );
                }
            }
        }
        Location::Postgres(url) => {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            let stored: String = sqlx::query_scalar("SELECT string_agg(value, ' ') FROM settings")
                .fetch_one(&mut c)
                .await
                .unwrap();
            assert!(!stored.contains("s3cret"), "the settings hold the password");
        }
    }
    let shown = serde_json::to_string(
        &settings::get(&Panel::open(&t.location).await.unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        shown.contains("\"hasPassword\":true") && !shown.contains("s3cret"),
        "{shown}"
    );
}

#[tokio::test]
async fn settings_are_checked() {
    let t = common::panel().await;
    let input = |host: &str, from: &str| SmtpInput {
        host: host.into(),
        port: 25,
        tls: TlsMode::Starttls,
        user: None,
        password: PasswordChange::Keep,
        from_address: from.into(),
        from_name: "Research".into(),
        reply_to: None,
        ca_certificate: None,
    };
    let err = settings::set(&t.panel, input("smtp example com", "a@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "host"),
        "{err:?}"
    );
    let err = settings::set(&t.panel, input("smtp.example.com", "not-an-address"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "sender address"),
        "{err:?}"
    );
    assert!(settings::get(&t.panel).await.unwrap().is_none());
    let err = mail::queue_test(&t.panel, "me@example.com")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("SMTP is not set up"), "{err}");
    let saved = settings::set(&t.panel, input("smtp.example.com", "a@example.com"))
        .await
        .unwrap();
    assert_eq!(saved.tls, TlsMode::Starttls);
    assert!(!saved.has_password);
}

/// A certificate authority and a server certificate for 127.0.0.1 signed
/// by it, written as PEM files; returns (CA PEM, cert path, key path).
fn certificates(dir: &std::path::Path) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let cert_path = dir.join("server.pem");
    let key_path = dir.join("server.key");
    std::fs::write(&cert_path, leaf.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (
        ca.pem(),
        cert_path.display().to_string(),
        key_path.display().to_string(),
    )
}

async fn smtp_tls(panel: &Panel, port: u16, tls: TlsMode, ca: Option<&str>) {
    settings::set(
        panel,
        SmtpInput {
            host: "127.0.0.1".into(),
            port,
            tls,
            user: Some("mailer".into()),
            password: PasswordChange::Set("tls-pa55".into()),
            from_address: "research@panel.example.com".into(),
            from_name: "Panel Research".into(),
            reply_to: None,
            ca_certificate: ca.map(str::to_string),
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn starttls_and_implicit_tls_with_a_login_and_the_certificate_checked() {
    let t = common::panel().await;
    let (ca, cert, key) = certificates(t.dir.path());
    let auth = ["--auth", "mailer:tls-pa55", "--cert", &cert, "--key", &key];

    for mode in [TlsMode::Starttls, TlsMode::Tls] {
        let flag = if mode == TlsMode::Starttls {
            "starttls"
        } else {
            "tls"
        };
        let mut args = auth.to_vec();
        args.extend(["--tls", flag]);
        let server = SmtpServer::start(t.dir.path(), &args);

        // Without the company CA the server's certificate is not trusted,
        // and the message waits.
        smtp_tls(&t.panel, server.port, mode, None).await;
        let id = queue(&t.panel, &message("a@example.org", &format!("Over {flag}"))).await;
        let report = worker::send_due(&t.panel).await.unwrap();
        assert_eq!(report.retrying, 1, "{mode:?}: {report:?}");
        let problem = report.problem.unwrap();
        assert!(
            problem.to_lowercase().contains("certificate"),
            "{mode:?}: {problem}"
        );
        if mode == TlsMode::Starttls {
            // The server's own traceback of that handshake is in its log,
            // not in the test run's output.
            for _ in 0..50 {
                if server.log().contains("UNKNOWN_CA") {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            assert!(server.log().contains("UNKNOWN_CA"), "{}", server.log());
        }

        smtp_tls(&t.panel, server.port, mode, Some(&ca)).await;
        mail::retry(&t.panel, id).await.unwrap();
        let report = worker::send_due(&t.panel).await.unwrap();
        assert_eq!(report.sent, 1, "{mode:?}: {report:?}");
        let delivered = server.delivered();
        assert_eq!(delivered.len(), 1);
        assert_eq!(
            delivered[0].parsed().subject(),
            Some(format!("Over {flag}").as_str())
        );
    }

    // STARTTLS asked of a server that does not offer it: refused, not sent in clear.
    let plain = SmtpServer::start(t.dir.path(), &[]);
    smtp_tls(&t.panel, plain.port, TlsMode::Starttls, Some(&ca)).await;
    let id = queue(&t.panel, &message("b@example.org", "Never in clear")).await;
    let report = worker::send_due(&t.panel).await.unwrap();
    assert!(report.problem.unwrap().contains("does not offer STARTTLS"));
    assert_eq!(status(&t.panel, id).await.status, Status::Queued);
    assert!(plain.delivered().is_empty());

    let err = settings::set(
        &t.panel,
        SmtpInput {
            host: "127.0.0.1".into(),
            port: 25,
            tls: TlsMode::Tls,
            user: None,
            password: PasswordChange::Clear,
            from_address: "a@example.com".into(),
            from_name: String::new(),
            reply_to: None,
            ca_certificate: Some("not a certificate".into()),
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "CA certificate"),
        "{err:?}"
    );
}

/// With mail waiting and no SMTP settings (a new install, a demo panel),
/// the worker sleeps until something can change: a few passes over several
/// seconds, one report a person would see, and the settings, once saved,
/// wake it at once.
#[tokio::test]
async fn a_worker_without_settings_sleeps_until_they_are_saved() {
    let t = common::panel().await;
    let id = queue(&t.panel, &message("zoe@example.org", "Waiting")).await;
    let passes = std::sync::Arc::new(std::sync::Mutex::new(Vec::<worker::PassReport>::new()));
    let stop = std::sync::Arc::new(tokio::sync::Notify::new());
    let seen = passes.clone();
    let running = tokio::spawn(worker::run(t.panel.clone(), stop.clone(), move |r| {
        seen.lock().unwrap().push(r.clone())
    }));
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    {
        let passes = passes.lock().unwrap();
        assert!(
            (1..=2).contains(&passes.len()),
            "{} passes in 3 s with nothing able to change",
            passes.len()
        );
        assert!(passes[0].changed && passes[0].problem.as_deref().unwrap().contains("SMTP"));
        assert!(passes[1..].iter().all(|p| !p.changed), "{passes:?}");
    }
    let server = SmtpServer::start(t.dir.path(), &[]);
    smtp_on(&t.panel, server.port, None).await;
    for _ in 0..100 {
        if status(&t.panel, id).await.status == Status::Sent {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status(&t.panel, id).await.status, Status::Sent);
    assert_eq!(server.delivered().len(), 1);
    stop.notify_one();
    running.await.unwrap();
}

/// Told to stop in the middle of a long pass (a team server shutting
/// down), the worker stops between two messages: every message is either
/// sent, and recorded so, or still queued; none is failed or left half-sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_told_to_stop_mid_pass_stops_between_two_messages() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    smtp_on(&t.panel, server.port, None).await;
    let all: Vec<NewMessage> = (0..400)
        .map(|n| message(&format!("p{n}@example.org"), &format!("Message {n}")))
        .collect();
    queue_all(&t.panel, &all).await;

    let stop = std::sync::Arc::new(tokio::sync::Notify::new());
    let running = tokio::spawn(worker::run(t.panel.clone(), stop.clone(), |_| {}));
    while mail::counts(&t.panel).await.unwrap().sent < 10 {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    stop.notify_one();
    tokio::time::timeout(std::time::Duration::from_secs(10), running)
        .await
        .expect("the worker stopped")
        .unwrap();

    let counts = mail::counts(&t.panel).await.unwrap();
    assert!(counts.sent < 400, "the whole pass ran: {counts:?}");
    assert_eq!(counts.sent + counts.waiting, 400, "{counts:?}");
    assert_eq!(counts.failed, 0, "{counts:?}");
    assert_eq!(server.delivered().len() as i64, counts.sent as i64);
}

/// A drain longer than one batch (200 messages taken at a time from a
/// panel file, 50 leased at a time on a team database) goes over one
/// connection to the mail server, each message once.
#[tokio::test]
async fn a_drain_of_several_batches_goes_over_one_connection() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    smtp_on(&t.panel, server.port, None).await;
    let all: Vec<NewMessage> = (0..450)
        .map(|n| message(&format!("p{n}@example.org"), &format!("Message {n}")))
        .collect();
    queue_all(&t.panel, &all).await;

    let report = worker::send_due(&t.panel).await.unwrap();
    assert_eq!((report.sent, report.failed, report.retrying), (450, 0, 0));
    assert_eq!(report.next_due, None);
    let peers = server.peers();
    assert_eq!(peers.len(), 450);
    let connections: std::collections::BTreeSet<&String> = peers.iter().collect();
    assert_eq!(connections.len(), 1, "connections: {connections:?}");
    assert_eq!(server.delivered().len(), 450);
}

/// SMTP settings saved while a drain is under way take effect at its next
/// batch: the batch already taken goes on over the connection it began
/// on, the rest over a new one to the server now set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_settings_saved_mid_drain_take_effect_at_the_next_batch() {
    let t = common::panel().await;
    let batch = match t.location {
        Location::File(_) => 200,
        Location::Postgres(_) => 50,
    };
    let start = |name: &str| {
        let dir = t.dir.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        SmtpServer::start(&dir, &[])
    };
    let (first, second) = (start("first"), start("second"));
    smtp_on(&t.panel, first.port, None).await;
    // The first message is held by the server until the test lets it go.
    let all: Vec<NewMessage> = (0..batch + 10)
        .map(|n| {
            let to = if n == 0 {
                "hold@example.org".to_string()
            } else {
                format!("p{n}@example.org")
            };
            message(&to, &format!("Message {n}"))
        })
        .collect();
    queue_all(&t.panel, &all).await;
    let panel = t.panel.clone();
    let sending = tokio::spawn(async move { worker::send_due(&panel).await });

    let held = first.maildir.join("held");
    for _ in 0..500 {
        if held.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(held.exists(), "the server never got the first message");
    smtp_on(&t.panel, second.port, None).await;
    std::fs::write(first.maildir.join("release"), "").unwrap();

    let report = sending.await.unwrap().unwrap();
    assert_eq!(
        (report.sent, report.failed),
        (batch as u32 + 10, 0),
        "{report:?}"
    );
    assert_eq!(first.delivered().len(), batch);
    assert_eq!(second.delivered().len(), 10);
    let connections = |server: &SmtpServer| {
        server
            .peers()
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    assert_eq!((connections(&first), connections(&second)), (1, 1));
}

/// The server has accepted a message and the panel database is held by
/// another process when the worker goes to record it: the worker waits
/// and tries again, the message is recorded as sent (never left looking
/// undelivered, which would invite a resend), and the next message stays
/// queued until the database is free.
#[tokio::test]
async fn a_delivered_message_is_recorded_as_sent_when_the_database_was_busy() {
    use sqlx::Connection;
    let t = common::panel().await;
    let Location::File(path) = &t.location else {
        // A panel file's write lock; the team database's workers are
        // tested side by side in tests/team.rs.
        return;
    };
    let server = SmtpServer::start(t.dir.path(), &[]);
    smtp_on(&t.panel, server.port, None).await;
    let first = queue(&t.panel, &message("hold@example.org", "First")).await;
    let second = queue(&t.panel, &message("zoe@example.org", "Second")).await;
    let panel = t.panel.clone();
    let sending = tokio::spawn(async move { worker::send_due(&panel).await });

    // The server has the first message and waits to answer; another
    // process takes the write lock for longer than the busy timeout.
    let held = server.maildir.join("held");
    for _ in 0..500 {
        if held.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(held.exists(), "the server never got the first message");
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    std::fs::write(server.maildir.join("release"), "").unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(12)).await;
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();

    let report = sending.await.unwrap().unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    assert!(
        report.problem.as_deref().unwrap().contains("busy"),
        "{report:?}"
    );
    assert_eq!(status(&t.panel, first).await.status, Status::Sent);
    assert_eq!(status(&t.panel, second).await.status, Status::Queued);
    // Nothing of the second message reached the server, and it goes once now.
    assert_eq!(server.delivered().len(), 1);
    let report = worker::send_due(&t.panel).await.unwrap();
    assert_eq!((report.sent, report.failed), (1, 0), "{report:?}");
    assert_eq!(server.delivered().len(), 2);
    assert_eq!(status(&t.panel, first).await.status, Status::Sent);
}
