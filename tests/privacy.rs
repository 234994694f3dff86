//! Privacy on a real panel with mail sent through a real SMTP server:
//! erasure takes a person's name, email and phone out of every table, the
//! full-text index and the database file, withdraws what was waiting to be
//! sent, keeps the statistics, and says what it did; the subject access
//! export holds everything the panel has about them.
//!
//! The search runs over every table and column the schema has, not a list
//! of known places: a table added later that holds personal data fails
//! this test until erasure covers it.

mod common;

use chrono::{Duration, NaiveDateTime};
use common::smtp::SmtpServer;
use panelkeeper::db::Location;
use panelkeeper::issues::{self, ContactVia, IssueInput, IssueQuery, Severity};
use panelkeeper::mail::{self, settings, worker};
use panelkeeper::notes::{self, NoteInput};
use panelkeeper::participants::privacy::{self, ErasureRequest, NoteChoice, NoteDecision};
use panelkeeper::participants::{self, ParticipantInput, history};
use panelkeeper::reports::{self, ReportOptions};
use panelkeeper::sessions::roster;
use panelkeeper::sessions::staff::{self, StaffInput};
use panelkeeper::sessions::{self, InviteRequest, Invitees, Rsvp, SessionInput};
use panelkeeper::{Error, Panel};
use sqlx::{Connection, Row, SqliteConnection};

const NAME: &str = "Zoë Ålander";
const EMAIL: &str = "zoe.alander@example.org";
const PHONE: &str = "+46 70 123 45 67";

/// Every way the person could be written, for the search of the file.
const FORMS: [&str; 8] = [
    "Zoë",
    "ZOË",
    "Ålander",
    "ålander",
    "zoe.alander",
    "example.org",
    "123 45 67",
    "701234567",
];

struct Story {
    session: sessions::SessionId,
    zoe: participants::ParticipantId,
    issue: issues::IssueId,
    attributed: notes::NoteId,
    mentions_phone: notes::NoteId,
    bobs: notes::NoteId,
}

async fn story(panel: &Panel, port: u16) -> Story {
    settings::set(panel, common::smtp::local_smtp(port))
        .await
        .unwrap();
    for (name, email) in [
        ("Ana Moderator", "ana@company.example.com"),
        ("Sam Owner", "sam@company.example.com"),
        ("Kim Care", "kim@company.example.com"),
    ] {
        staff::add(
            panel,
            &StaffInput {
                name: name.into(),
                email: email.into(),
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
    let zoe = participants::create(
        panel,
        &ParticipantInput {
            name: NAME.into(),
            email: EMAIL.into(),
            phone: Some(PHONE.into()),
            time_zone: Some("Europe/Stockholm".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id;
    participants::create(
        panel,
        &ParticipantInput {
            name: "Bob Berg".into(),
            email: "bob@example.net".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    history::record(
        panel,
        zoe,
        history::ContactKind::Declined,
        None,
        Some("Zoë Ålander declined the spring study by phone"),
    )
    .await
    .unwrap();
    let session = sessions::create(
        panel,
        &SessionInput {
            title: "Checkout".into(),
            start: Some(
                NaiveDateTime::parse_from_str("2026-06-20T09:00", "%Y-%m-%dT%H:%M").unwrap(),
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
    .id;
    roster::invite(
        panel,
        session,
        &InviteRequest {
            invitees: Invitees::Participants {
                keys: vec![EMAIL.into(), "bob@example.net".into()],
            },
            allow_double_booking: false,
            preview: false,
            allow_started: false,
            excluded_limit: None,
        },
    )
    .await
    .unwrap();
    // The invitations go; the confirmation's reminders wait for their time.
    worker::send_due(panel).await.unwrap();
    roster::rsvp(panel, session, EMAIL, Rsvp::Confirmed)
        .await
        .unwrap();

    let note = |text: &str, who: Option<&str>| NoteInput {
        text: text.into(),
        participant: who.map(str::to_string),
        author: None,
    };
    let attributed = notes::add(
        panel,
        session,
        &note(
            "My refund never came, call me on 070 123 45 67",
            Some(EMAIL),
        ),
    )
    .await
    .unwrap()
    .id;
    notes::edit(
        panel,
        attributed,
        &note(
            "My refund never came; write to zoe.alander@example.org",
            Some(EMAIL),
        ),
    )
    .await
    .unwrap();
    let mentions_phone = notes::add(
        panel,
        session,
        &note("Call her back on 070-123 45 67 after lunch", None),
    )
    .await
    .unwrap()
    .id;
    let bobs = notes::add(
        panel,
        session,
        &note(
            "Bob agrees with Zoë about the checkout",
            Some("bob@example.net"),
        ),
    )
    .await
    .unwrap()
    .id;

    let issue = issues::raise(
        panel,
        &IssueInput {
            note: Some(attributed),
            summary: "Zoë Ålander's refund is missing".into(),
            detail: format!("Reach her at {PHONE} or {EMAIL}"),
            severity: Some(Severity::High),
            owner: Some("sam@company.example.com".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id;
    issues::reassign(
        panel,
        issue,
        "kim@company.example.com",
        "Kim handles refunds for Zoë",
    )
    .await
    .unwrap();
    issues::log_contact(
        panel,
        issue,
        ContactVia::Phone,
        "Called Zoë on +46 70 123 45 67",
    )
    .await
    .unwrap();
    // Some of it goes; the rest (the report to a client, nudges) waits.
    worker::send_due(panel).await.unwrap();
    reports::session(panel, session, ReportOptions::default(), &|_| {})
        .await
        .unwrap()
        .send(panel, "client@example.com", "The notes from Tuesday")
        .await
        .unwrap();
    Story {
        session,
        zoe,
        issue,
        attributed,
        mentions_phone,
        bobs,
    }
}

/// Every table and column of the database (the full-text index's own
/// tables included), where any form of the person's name, email or phone
/// is found.
async fn found_anywhere(location: &Location) -> Vec<String> {
    match location {
        Location::File(file) => {
            let mut raw = SqliteConnection::connect(&format!("sqlite://{}", file.display()))
                .await
                .unwrap();
            let found = found_in_file(&mut raw).await;
            raw.close().await.unwrap();
            found
        }
        Location::Postgres(url) => found_in_team_database(url).await,
    }
}

/// [`found_anywhere`] in a team database: every column of every table (as
/// text, or as bytes where it holds bytes), and the notes' search words.
async fn found_in_team_database(url: &str) -> Vec<String> {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text \
         FROM information_schema.columns WHERE table_schema = 'public' \
         AND table_name NOT LIKE '\\_sqlx%'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut found = Vec::new();
    for (table, column, kind) in columns {
        for form in FORMS {
            let test = if kind == "bytea" {
                format!("position(convert_to($1, 'UTF8') IN \"{column}\") > 0")
            } else {
                format!("strpos(lower(\"{column}\"::text), lower($1)) > 0")
            };
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM \"{table}\" WHERE {test}"
            )))
            .bind(form)
            .fetch_one(&mut conn)
            .await
            .unwrap();
            if n > 0 {
                found.push(format!("{table}.{column} holds {form:?} ({n} rows)"));
            }
        }
    }
    for query in [
        "'zoe':*",
        "'alander':*",
        "'zoe' <-> 'alander' <-> 'example' <-> 'org'",
        "'123' <-> '45' <-> '67'",
    ] {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM notes WHERE search @@ $1::tsquery")
            .bind(query)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        if n > 0 {
            found.push(format!("the notes' search words find {query} ({n} notes)"));
        }
    }
    found
}

async fn found_in_file(conn: &mut SqliteConnection) -> Vec<String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name != 'notes_fts' AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let mut found = Vec::new();
    for table in tables {
        let columns: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM pragma_table_info('{table}')"
        )))
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
        for column in columns {
            for form in FORMS {
                let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT count(*) FROM \"{table}\" WHERE instr(lower(CAST(\"{column}\" AS BLOB)), lower(CAST(? AS BLOB))) > 0"
                )))
                .bind(form)
                .fetch_one(&mut *conn)
                .await
                .unwrap();
                if n > 0 {
                    found.push(format!("{table}.{column} holds {form:?} ({n} rows)"));
                }
            }
        }
    }
    for query in [
        "zoe",
        "alander",
        "\"zoe alander example org\"",
        "\"123 45 67\"",
    ] {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM notes_fts WHERE notes_fts MATCH ?")
            .bind(query)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        if n > 0 {
            found.push(format!("the full-text index finds {query} ({n} notes)"));
        }
    }
    found
}

#[tokio::test]
async fn erasure_takes_the_person_out_of_every_table_the_index_and_the_file() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    let p = &t.panel;
    let s = story(p, server.port).await;
    assert!(
        !found_anywhere(&t.location).await.is_empty(),
        "the story names her"
    );
    let sent_before = mail::counts(p).await.unwrap();
    let issues_before = issues::list(p, &IssueQuery::default()).await.unwrap();

    // What erasure would touch, before anything changes.
    let plan = privacy::plan(p, s.zoe).await.unwrap();
    let planned: Vec<_> = plan.notes.iter().map(|n| n.note).collect();
    assert!(
        planned.contains(&s.attributed)
            && planned.contains(&s.mentions_phone)
            && planned.contains(&s.bobs),
        "{planned:?}"
    );
    assert!(plan.queued_messages >= 3, "{plan:?}");
    let phone_note = plan
        .notes
        .iter()
        .find(|n| n.note == s.mentions_phone)
        .unwrap();
    assert!(!phone_note.attributed && phone_note.names_them);
    assert_eq!(phone_note.redacted, "Call her back on [erased] after lunch");

    // A kept note needs its reason.
    let refused = privacy::erase(
        p,
        s.zoe,
        &ErasureRequest {
            notes: vec![NoteDecision {
                note: s.bobs,
                choice: NoteChoice::Keep { reason: " ".into() },
            }],
            ..Default::default()
        },
    )
    .await;
    assert!(
        matches!(refused, Err(Error::InvalidInput { .. })),
        "{refused:?}"
    );

    let report = privacy::erase(
        p,
        s.zoe,
        &ErasureRequest {
            reason: Some("Zoë Ålander asked by email".into()),
            notes_default: NoteChoice::RedactMatches,
            notes: vec![NoteDecision {
                note: s.mentions_phone,
                choice: NoteChoice::RedactWhole,
            }],
        },
    )
    .await
    .unwrap();
    assert_eq!(report.notes_matches_removed, 2, "{report:?}");
    assert_eq!(report.notes_removed_whole, 1, "{report:?}");
    assert!(report.messages_withdrawn >= 3 && report.messages_cleaned > report.messages_withdrawn);
    assert!(report.note_versions_cleaned >= 1 && report.issues_cleaned == 1);
    assert!(report.contact_log_entries_cleaned == 1 && report.audit_entries_cleaned >= 1);
    assert_eq!(report.history_details_cleared, 1);
    let said = report.lines().join("\n");
    assert!(
        said.contains("withdrawn before sending") && said.contains("taken out whole"),
        "{said}"
    );
    assert_eq!(
        report.erasure.reason.as_deref(),
        Some("[erased] asked by email")
    );
    assert!(report.file_compacted);

    // Nothing names her anywhere: not a table, not the index.
    let left = found_anywhere(&t.location).await;
    assert!(left.is_empty(), "{}", left.join("\n"));

    // Nothing to or about her goes out any more; what went stays counted.
    let after = mail::counts(p).await.unwrap();
    assert_eq!(after.sent, sent_before.sent);
    let delivered_before = server.delivered().len();
    t.clock.advance(Duration::days(30));
    worker::send_due(p).await.unwrap();
    for m in &server.delivered()[delivered_before..] {
        let text = String::from_utf8_lossy(&m.raw);
        assert!(
            !text.contains("Ålander") && !text.contains("alander"),
            "{text}"
        );
    }

    // The statistics are what they were: the issue, its hand-off, its contact.
    let issue = issues::get(p, s.issue).await.unwrap();
    assert_eq!(issue.handoffs, 1);
    assert!(issue.first_contact_at.is_some());
    assert_eq!(
        issues::list(p, &IssueQuery::default()).await.unwrap().len(),
        issues_before.len()
    );
    let note = notes::get(p, s.attributed).await.unwrap();
    assert_eq!(note.text, "My refund never came; write to [erased]");
    assert_eq!(
        note.participant,
        Some(s.zoe),
        "still counted as hers, de-identified"
    );
    assert_eq!(
        notes::get(p, s.bobs).await.unwrap().text,
        "Bob agrees with [erased] about the checkout"
    );
    assert!(sessions::get(p, s.session).await.is_ok());

    // Nor in the file: the pages and the log hold no trace of her. (A
    // team database frees the space of the rows it vacuumed for reuse;
    // its files are the database operator's.)
    t.panel.close().await;
    for name in ["panel.db", "panel.db-wal"]
        .iter()
        .filter(|_| t.file().is_some())
    {
        let bytes = std::fs::read(t.dir.path().join(name)).unwrap_or_default();
        for form in ["Ålander", "zoe.alander@example.org", "123 45 67"] {
            assert!(
                !bytes.windows(form.len()).any(|w| w == form.as_bytes()),
                "{name} still holds {form:?}"
            );
        }
    }
    // A second erasure is refused, saying when the first was.
    let again = Panel::open(&t.location).await.unwrap();
    assert!(matches!(
        privacy::erase(&again, s.zoe, &ErasureRequest::default()).await,
        Err(Error::Conflict { .. })
    ));
}

#[tokio::test]
async fn a_kept_note_stays_as_it_was_with_its_reason_recorded() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    let p = &t.panel;
    let s = story(p, server.port).await;
    let report = privacy::erase(
        p,
        s.zoe,
        &ErasureRequest {
            notes: vec![NoteDecision {
                note: s.bobs,
                choice: NoteChoice::Keep {
                    reason: "Evidence in the complaint Bob filed".into(),
                },
            }],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(report.notes_kept.len(), 1);
    assert_eq!(
        notes::get(p, s.bobs).await.unwrap().text,
        "Bob agrees with Zoë about the checkout"
    );
    assert!(
        report
            .lines()
            .iter()
            .any(|l| l.contains("Evidence in the complaint"))
    );
}

#[tokio::test]
async fn the_privacy_export_holds_everything_about_the_person_and_says_what_each_part_is() {
    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    let p = &t.panel;
    let s = story(p, server.port).await;
    let data = privacy::export(p, s.zoe).await.unwrap();
    assert_eq!(data.participant.name, NAME);
    assert_eq!(data.sessions.len(), 1);
    assert_eq!(data.sessions[0].rsvp, "confirmed");
    let notes: Vec<_> = data.notes.iter().map(|n| n.note).collect();
    assert!(
        notes.contains(&s.attributed)
            && notes.contains(&s.mentions_phone)
            && notes.contains(&s.bobs)
    );
    assert!(!notes.contains(&notes::NoteId(0)));
    assert_eq!(data.issues.len(), 1);
    assert_eq!(data.issues[0].owner.as_deref(), Some("Kim Care"));
    assert_eq!(data.issues[0].contacts.len(), 1);
    // Her invitation, the reminders waiting for her, the hand-off notice.
    let kinds: Vec<_> = data.mail.iter().map(|m| m.kind).collect();
    assert!(kinds.contains(&mail::MessageKind::Invitation), "{kinds:?}");
    assert!(kinds.contains(&mail::MessageKind::Reminder), "{kinds:?}");
    assert!(kinds.contains(&mail::MessageKind::Handoff), "{kinds:?}");
    assert!(data.mail.iter().all(|m| m.recipient == EMAIL));
    // Every part of the export is explained in words.
    let json = serde_json::to_value(&data).unwrap();
    for key in json.as_object().unwrap().keys() {
        assert!(
            data.about.contains_key(key),
            "the export does not explain {key}"
        );
    }
}

/// A participant's page tells their story newest first, each entry naming
/// the session, note, issue or message it links to, and nothing of anyone
/// else's.
#[tokio::test]
async fn the_timeline_tells_a_participants_story_newest_first_each_entry_naming_its_record() {
    use panelkeeper::participants::timeline::{self, Happening};

    let t = common::panel().await;
    let server = SmtpServer::start(t.dir.path(), &[]);
    let p = &t.panel;
    let s = story(p, server.port).await;
    t.clock.advance(Duration::hours(2));
    participants::set_opted_out(p, s.zoe, true).await.unwrap();

    let entries = timeline::for_participant(p, s.zoe).await.unwrap();
    assert!(
        entries.windows(2).all(|w| w[0].at >= w[1].at),
        "newest first"
    );
    assert_eq!(entries[0].what, Happening::OptedOut);

    let contacts: Vec<_> = entries
        .iter()
        .filter_map(|e| match &e.what {
            Happening::Contact {
                contact,
                session,
                session_title,
                ..
            } => Some((contact.as_str(), *session, session_title.as_deref())),
            _ => None,
        })
        .collect();
    assert!(contacts.contains(&("invited", Some(s.session), Some("Checkout"))));
    assert!(contacts.contains(&("confirmed", Some(s.session), Some("Checkout"))));
    assert!(contacts.contains(&("declined", None, None)));

    let notes: Vec<_> = entries
        .iter()
        .filter_map(|e| match &e.what {
            Happening::Note {
                note,
                session,
                session_title,
                text,
            } => Some((*note, *session, session_title.clone(), text.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        notes,
        [(
            s.attributed,
            s.session,
            "Checkout".to_string(),
            "My refund never came; write to zoe.alander@example.org".to_string()
        )],
        "her own note as it reads now; Bob's and the unattributed ones are not hers"
    );

    let issues: Vec<_> = entries
        .iter()
        .filter_map(|e| match &e.what {
            Happening::Issue {
                issue,
                status,
                owner_name,
                session,
                ..
            } => Some((*issue, *status, owner_name.clone(), *session)),
            _ => None,
        })
        .collect();
    assert_eq!(
        issues,
        [(
            s.issue,
            issues::IssueStatus::Contacted,
            Some("Kim Care".to_string()),
            s.session
        )]
    );

    let sent: Vec<_> = entries
        .iter()
        .filter_map(|e| match &e.what {
            Happening::MailSent { mail, status, .. } => Some((*mail, *status)),
            _ => None,
        })
        .collect();
    assert!(
        sent.contains(&(mail::MessageKind::Invitation, mail::Status::Sent)),
        "{sent:?}"
    );
    // The report to a client is not mail to her.
    assert!(
        !sent.iter().any(|(k, _)| *k == mail::MessageKind::Report),
        "{sent:?}"
    );

    assert!(matches!(
        timeline::for_participant(p, participants::ParticipantId(999_999)).await,
        Err(Error::NotFound { .. })
    ));
}
