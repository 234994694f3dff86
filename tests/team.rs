//! Several processes on one team database (a real PostgreSQL server, see
//! `common::pg`): each opens the panel on its own, as the app, a terminal's
//! `outbox send` and a team server on other machines would.
//!
//! - Two workers draining one outbox to a real SMTP server deliver every
//!   message exactly once between them.
//! - A message a live worker is handing over is left to it; one a worker
//!   that died left mid-delivery is failed as possibly delivered, never
//!   sent again by itself.
//! - Two ticks at once queue each escalation once.
//! - Two `panelkeeper serve` processes on one database deliver 300 queued
//!   messages once each, and each stops cleanly on SIGTERM.
//! - Sixteen hand-offs of one issue at once serialise: the hand-off count,
//!   the audit trail and the owner agree, each hand-off from the owner the
//!   one before left.
//! - Connections the database server ended (a restart, an administrator)
//!   are replaced when next taken, not reported to the person.
//! - A sign-in a server keeps in memory is forgotten as soon as another
//!   computer signs it out, changes its person's role or deactivates them,
//!   and everything kept is forgotten when the database's notices are cut
//!   off.
//! - So is a kept *My follow-ups* when another computer raises or hands off
//!   one of its issues, or renames its participant or owner.

mod common;

use chrono::{Duration, NaiveDateTime};
use common::smtp::{SmtpServer, local_smtp};
use panelkeeper::issues::{self, IssueInput};
use panelkeeper::mail::{self, MessageKind, NewMessage, Rendered, Status, worker};
use panelkeeper::participants::fields::Email;
use panelkeeper::participants::{self, ParticipantInput};
use panelkeeper::sessions::staff::{self, StaffInput};
use panelkeeper::sessions::{self, SessionInput};
use panelkeeper::{Panel, clock::ManualClock};
use sqlx::Connection;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// The same team database opened `n` times, each with its own connections,
/// on one clock.
async fn opened(n: usize) -> (Vec<Panel>, String) {
    let (panels, url, _) = opened_with_clock(n).await;
    (panels, url)
}

async fn opened_with_clock(n: usize) -> (Vec<Panel>, String, Arc<ManualClock>) {
    let url = common::pg::database().await;
    let clock = Arc::new(ManualClock::new(common::start()));
    let mut panels = Vec::new();
    for _ in 0..n {
        panels.push(
            Panel::open(url.as_str())
                .await
                .unwrap()
                .with_clock(clock.clone()),
        );
    }
    (panels, url, clock)
}

/// Staff (a lead, a moderator and `owners` owners who answer to the lead),
/// a participant and a session; returns the session.
async fn company(panel: &Panel, owners: usize) -> sessions::SessionId {
    let mut people = vec![
        (
            "Lea Lead".to_string(),
            "lea@company.example.com".to_string(),
            None,
        ),
        (
            "Ana Moderator".to_string(),
            "ana@company.example.com".to_string(),
            None,
        ),
    ];
    for n in 0..owners {
        people.push((
            format!("Owner {n}"),
            format!("owner{n}@company.example.com"),
            Some("lea@company.example.com".to_string()),
        ));
    }
    for (name, email, lead) in people {
        staff::add(
            panel,
            &StaffInput {
                name,
                email,
                lead,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    participants::create(
        panel,
        &ParticipantInput {
            name: "Zoë Ålander".into(),
            email: "zoe@example.org".into(),
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

async fn raise(panel: &Panel, session: sessions::SessionId, n: usize) -> issues::IssueId {
    issues::raise(
        panel,
        &IssueInput {
            session: Some(session),
            participant: Some("zoe@example.org".into()),
            summary: format!("Problem {n}"),
            owner: Some("owner0@company.example.com".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id
}

fn message(n: usize) -> NewMessage {
    NewMessage {
        also_reply_to: None,
        kind: MessageKind::Reminder,
        to: Email::parse(&format!("p{n}@example.org")).unwrap(),
        to_name: format!("Participant {n}"),
        reply_to: None,
        from_name: None,
        body: Rendered {
            subject: format!("Reminder {n}"),
            text: format!("Message {n}\n"),
            html: format!("<p>Message {n}</p>"),
        },
        headers: BTreeMap::new(),
        attachments: Vec::new(),
        not_before: common::start(),
        topic: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_deliver_every_message_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(dir.path(), &[]);
    let (panels, _) = opened(2).await;
    mail::settings::set(&panels[0], local_smtp(server.port))
        .await
        .unwrap();
    let messages: Vec<NewMessage> = (0..500).map(message).collect();
    let mut tx = panels[0].begin().await.unwrap();
    mail::enqueue_many(&mut tx, panels[0].now(), &messages)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let drain = |panel: Panel| {
        tokio::spawn(async move {
            let mut sent = 0;
            loop {
                let report = worker::send_due(&panel).await.unwrap();
                assert_eq!(report.problem, None, "{report:?}");
                sent += report.sent;
                if report.next_due.is_none() {
                    return sent;
                }
            }
        })
    };
    let a = drain(panels[0].clone());
    let b = drain(panels[1].clone());
    let (a, b) = (a.await.unwrap(), b.await.unwrap());

    assert_eq!(
        a + b,
        500,
        "sent by the first worker {a}, by the second {b}"
    );
    assert!(a > 0 && b > 0, "one worker did it all: {a} and {b}");
    let delivered = server.delivered();
    assert_eq!(delivered.len(), 500);
    let ids: HashSet<String> = delivered.iter().map(|d| d.message_id()).collect();
    assert_eq!(ids.len(), 500, "a message was delivered twice");
    let counts = mail::counts(&panels[0]).await.unwrap();
    assert_eq!((counts.sent, counts.waiting, counts.failed), (500, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_server_ended_are_replaced_not_reported() {
    let (panels, url) = opened(1).await;
    let panel = &panels[0];
    company(panel, 3).await;
    // Several connections in the pool, each used and put back.
    let reads: Vec<_> = (0..4)
        .map(|_| {
            let panel = panel.clone();
            tokio::spawn(async move { staff::list(&panel).await.unwrap() })
        })
        .collect();
    for read in reads {
        assert_eq!(read.await.unwrap().len(), 5);
    }

    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let (ended,): (i64,) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(ended >= 1, "no connection of the panel's was ended");
    admin.close().await.unwrap();

    // A moment later (a connection taken again within it is not checked
    // first), every read and write finds a working connection.
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    for _ in 0..4 {
        assert_eq!(staff::list(panel).await.unwrap().len(), 5);
    }
    staff::add(
        panel,
        &StaffInput {
            name: "Nina New".into(),
            email: "nina@company.example.com".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(staff::list(panel).await.unwrap().len(), 6);
}

#[tokio::test]
async fn a_live_workers_delivery_is_left_to_it_and_a_dead_ones_is_failed() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(dir.path(), &[]);
    let (panels, url) = opened(1).await;
    let panel = &panels[0];
    mail::settings::set(panel, local_smtp(server.port))
        .await
        .unwrap();
    let mut tx = panel.begin().await.unwrap();
    let id = mail::enqueue(&mut tx, panel.now(), &message(1))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Another worker, alive (it holds its advisory lock), is handing the
    // message to the server.
    let mut other = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock(x'504b4d4c'::int, 77)")
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query("UPDATE outbox SET status = 'sending', worker = 77 WHERE id = $1")
        .bind(id.0)
        .execute(&mut other)
        .await
        .unwrap();
    let report = worker::send_due(panel).await.unwrap();
    assert_eq!((report.sent, report.failed), (0, 0), "{report:?}");
    let m = mail::get(panel, id).await.unwrap().message;
    assert_eq!(m.status, Status::Sending);

    // It dies (its connection closes): the message may have arrived, so it
    // is failed for a person to check, and never sent again by itself.
    other.close().await.unwrap();
    // The server ends the connection's backend, and with it the lock, a
    // moment after the client has gone.
    let mut watcher = sqlx::PgConnection::connect(&url).await.unwrap();
    for _ in 0..500 {
        let held: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
             AND classid = x'504b4d4c'::int::oid AND objid = 77)",
        )
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        if !held {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let report = worker::send_due(panel).await.unwrap();
    assert_eq!((report.sent, report.failed), (0, 1), "{report:?}");
    let m = mail::get(panel, id).await.unwrap().message;
    assert_eq!(m.status, Status::Failed);
    assert!(
        m.last_error.unwrap().contains("may have been delivered"),
        "the reason is given"
    );
    assert!(server.delivered().is_empty());
    // A bulk retry leaves it: only a person who checked retries it.
    assert_eq!(mail::retry_failed(panel).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ticks_at_once_queue_each_escalation_once() {
    let (panels, url, clock) = opened_with_clock(2).await;
    let session = company(&panels[0], 1).await;
    let mut raised = Vec::new();
    for n in 0..40 {
        raised.push(raise(&panels[0], session, n).await);
    }
    // Every issue is past its first-contact time.
    clock.advance(Duration::days(5));
    let now = panels[0].now();
    let (a, b) = tokio::join!(issues::tick(&panels[0], now), issues::tick(&panels[1], now));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((a.overdue, b.overdue), (40, 40));
    // The lead and the moderator hear of each issue once, whichever tick
    // got there first.
    assert_eq!(a.escalations + b.escalations, 80, "{a:?} {b:?}");
    let location = panelkeeper::db::Location::Postgres(url);
    let rounds: Vec<(i64, i64)> = common::rows(
        &location,
        "SELECT issue, count(*) FROM issue_events WHERE kind = 'escalated' GROUP BY issue",
    )
    .await;
    assert_eq!(rounds.len(), 40);
    assert!(rounds.iter().all(|(_, n)| *n == 1), "{rounds:?}");
    let queued: Vec<(i64,)> = common::rows(
        &location,
        "SELECT count(*) FROM outbox WHERE kind = 'escalation'",
    )
    .await;
    assert_eq!(queued[0].0, 80);
    // A tick again at once finds nothing new to say.
    let again = issues::tick(&panels[1], now).await.unwrap();
    assert_eq!(again.escalations, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_hand_offs_at_once_keep_the_count_and_the_trail_in_step() {
    let (panels, _) = opened(4).await;
    let session = company(&panels[0], 4).await;
    let id = raise(&panels[0], session, 0).await;
    let tasks: Vec<_> = (0..16)
        .map(|n| {
            let panel = panels[n % panels.len()].clone();
            // Each to another owner than the one before it in the list; at
            // the moment it runs the issue may already be theirs.
            let to = format!("owner{}@company.example.com", 1 + n % 3);
            tokio::spawn(async move {
                issues::reassign(&panel, id, &to, &format!("hand-off {n}")).await
            })
        })
        .collect();
    let mut done = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => done += 1,
            Err(e) => assert!(
                e.to_string().contains("already belongs to"),
                "a hand-off failed for another reason: {e}"
            ),
        }
    }
    assert!(done >= 2, "only {done} hand-offs went through");
    let detail = issues::detail(&panels[0], id).await.unwrap();
    let trail: Vec<&issues::IssueEvent> = detail
        .events
        .iter()
        .filter(|e| e.kind == "reassigned")
        .collect();
    assert_eq!(detail.issue.handoffs as usize, done);
    assert_eq!(trail.len(), done);
    // Each hand-off is from the owner the one before it left.
    let mut owner = "Owner 0".to_string();
    for e in &trail {
        assert_eq!(e.detail["from"], owner.as_str(), "{trail:?}");
        owner = e.detail["to"].as_str().unwrap().to_string();
    }
    assert_eq!(detail.issue.owner_name.as_deref(), Some(owner.as_str()));
}

/// A researcher who started alone moves into team mode and keeps
/// everything: every count equal, records equal field by field, the
/// follow-up figures the same, the SMTP password still opening (sealed
/// again, never in the clear), and a second move refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panel_file_moves_into_an_empty_team_database_whole() {
    use panelkeeper::mail::settings::{PasswordChange, SmtpInput, TlsMode};
    use panelkeeper::participants::ParticipantQuery;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(common::start()));
    let solo = Panel::open(dir.path().join("solo.db"))
        .await
        .unwrap()
        .with_clock(clock.clone());
    panelkeeper::demo::generate(&solo, 2_000, 7).await.unwrap();
    staff::set_current(&solo, staff::StaffId(2)).await.unwrap();
    let server = SmtpServer::start(dir.path(), &["--auth", "mailer:s3cret-pässword"]);
    mail::settings::set(
        &solo,
        SmtpInput {
            host: "127.0.0.1".into(),
            port: server.port,
            tls: TlsMode::None,
            user: Some("mailer".into()),
            password: PasswordChange::Set("s3cret-pässword".into()),
            from_address: "research@panel.example.com".into(),
            from_name: "Panel Research".into(),
            reply_to: None,
            ca_certificate: None,
        },
    )
    .await
    .unwrap();

    let url = common::pg::database().await;
    let report = panelkeeper::db::copy::to_team(&solo, &url).await.unwrap();
    assert!(report.smtp_password);
    assert!(
        report
            .tables
            .iter()
            .any(|t| t.table == "notes" && t.rows == 4_000)
    );
    let team = Panel::open(url.as_str())
        .await
        .unwrap()
        .with_clock(clock.clone());

    // Records equal field by field (people, sessions with their rosters'
    // counts, every issue, sessions' notes), the follow-up figures and a
    // note search.
    let compared = common::moved::same(&solo, &team, 50, common::start().date_naive()).await;
    assert!(compared > 100, "{compared}");

    // Whoever used the file on this computer still does.
    let me = staff::current(&solo).await.unwrap();
    assert!(me.is_some());
    assert_eq!(staff::current(&team).await.unwrap(), me);

    // The password came along: mail from the team database logs in.
    mail::queue_test(&team, "zoe@example.org").await.unwrap();
    let sent = worker::send_due(&team).await.unwrap();
    assert_eq!((sent.sent, sent.problem.as_deref()), (1, None), "{sent:?}");
    let stored: Vec<(String,)> = common::rows(
        &panelkeeper::db::Location::Postgres(url.clone()),
        "SELECT value FROM settings",
    )
    .await;
    assert!(stored.iter().all(|(v,)| !v.contains("s3cret")));

    // A second move into the same database is refused and changes nothing.
    let again = panelkeeper::db::copy::to_team(&solo, &url)
        .await
        .unwrap_err();
    assert!(
        again.to_string().contains("already holds a panel"),
        "{again}"
    );
    let everyone = ParticipantQuery::default();
    assert_eq!(
        participants::list(&team, &everyone).await.unwrap().total,
        participants::list(&solo, &everyone).await.unwrap().total
    );
}

/// A large import by an account that may write people but does not own
/// the tables (a database set up by its administrator) still goes in: the
/// indexes only the owner may drop and rebuild are kept and kept current.
#[tokio::test]
async fn a_large_import_by_an_account_that_does_not_own_the_tables_goes_in() {
    let url = common::pg::database().await;
    Panel::open(url.as_str()).await.unwrap().close().await;
    let name = url.rsplit('/').next().unwrap().to_string();
    let role = format!("{name}_writer");
    let mut owner = sqlx::PgConnection::connect(&url).await.unwrap();
    for sql in [
        format!("CREATE ROLE {role} LOGIN"),
        format!("GRANT CONNECT, TEMPORARY ON DATABASE {name} TO {role}"),
        // Opening a panel checks its schema's migrations, which sqlx
        // starts with a CREATE TABLE IF NOT EXISTS of its own table.
        format!("GRANT CREATE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut owner)
            .await
            .unwrap();
    }
    let as_writer = url.replacen("postgres@", &format!("{role}@"), 1);
    assert_ne!(as_writer, url);
    let panel = Panel::open(as_writer.as_str()).await.unwrap();
    let mut csv = Vec::new();
    panelkeeper::demo::write_csv(6_000, 3, &mut csv).unwrap();
    let report = participants::import::import_bytes(&panel, "demo.csv", None, &csv, &|_| {})
        .await
        .unwrap();
    assert_eq!(report.created, 6_000);
    let found = participants::list(
        &panel,
        &participants::ParticipantQuery {
            search: Some("horvat".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(found.total > 0);
    let indexes: Vec<(String,)> = sqlx::query_as(
        "SELECT indexname::text FROM pg_indexes WHERE tablename = 'participants' ORDER BY 1",
    )
    .fetch_all(&mut owner)
    .await
    .unwrap();
    assert_eq!(indexes.len(), 4, "{indexes:?}");
    panel.close().await;
}

/// A free port on 127.0.0.1, for a server started as a process.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_database_deliver_each_queued_message_once_and_stop_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(dir.path(), &[]);
    let url = common::pg::database().await;
    let panel = Panel::open(url.as_str()).await.unwrap();
    mail::settings::set(&panel, local_smtp(smtp.port))
        .await
        .unwrap();
    let messages: Vec<NewMessage> = (0..300).map(message).collect();
    let mut tx = panel.begin().await.unwrap();
    mail::enqueue_many(&mut tx, panel.now(), &messages)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let ports = [free_port(), free_port()];
    let mut servers: Vec<std::process::Child> = ports
        .iter()
        .map(|port| {
            std::process::Command::new(env!("CARGO_BIN_EXE_panelkeeper"))
                .args([
                    "--db",
                    &url,
                    "serve",
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                ])
                .env("XDG_DATA_HOME", dir.path())
                .env("PANELKEEPER_LOG_DIR", dir.path())
                .env_remove("PANELKEEPER_UI")
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();

    let started = std::time::Instant::now();
    loop {
        let counts = mail::counts(&panel).await.unwrap();
        if counts.sent == 300 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "only {} of 300 sent: {counts:?}",
            counts.sent
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    for port in ports {
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let health = common::http::request(addr, "GET", "/healthz", &[], None).await;
        assert_eq!(health.status, 200, "the server on {port}: {}", health.body);
    }
    for server in &servers {
        // SAFETY: the child's pid, signalled while it is still ours to wait for.
        unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    }
    for server in &mut servers {
        let waited = std::time::Instant::now();
        let status = loop {
            if let Some(status) = server.try_wait().unwrap() {
                break status;
            }
            assert!(
                waited.elapsed() < std::time::Duration::from_secs(20),
                "a server did not stop on SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert!(status.success(), "{status:?}");
    }

    let delivered = smtp.delivered();
    assert_eq!(delivered.len(), 300);
    let ids: HashSet<String> = delivered.iter().map(|d| d.message_id()).collect();
    assert_eq!(ids.len(), 300, "a message was delivered twice");
}

/// Waits up to five seconds for `done`, asking every 10 ms.
async fn within_five_seconds<F, Fut>(mut done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..500 {
        if done().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}

/// Whether `token`'s sign-in ends on `panel` within five seconds.
async fn signed_out_soon(panel: &Panel, token: &panelkeeper::accounts::Token) -> bool {
    within_five_seconds(|| async {
        matches!(
            panelkeeper::accounts::signed_in(panel, token).await,
            Err(panelkeeper::Error::SignedOut)
        )
    })
    .await
}

/// Runs `sql` with the database's triggers off, as no change the product
/// makes could: what a server keeps then shows it is answered from memory.
async fn unannounced(url: &str, sql: &str) {
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut c)
        .await
        .unwrap();
}

/// `server` hearing the team database's notices, until `stop` is told.
async fn hear(server: &Panel) -> (Arc<tokio::sync::Notify>, tokio::task::JoinHandle<()>) {
    let stop = Arc::new(tokio::sync::Notify::new());
    let told = stop.clone();
    let hearing_panel = server.clone();
    let hearing = tokio::spawn(async move {
        panelkeeper::server::hear_changes(&hearing_panel, async move { told.notified().await })
            .await
    });
    assert!(within_five_seconds(|| async { panelkeeper::server::keeps(server) }).await);
    (stop, hearing)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_sign_in_is_forgotten_when_another_computer_changes_it() {
    use panelkeeper::accounts;
    use panelkeeper::sessions::staff::Role;
    let (panels, url) = opened(2).await;
    let (server, other) = (&panels[0], &panels[1]);
    for (name, email) in [
        ("Kim", "kim@company.example.com"),
        ("Sam", "sam@company.example.com"),
    ] {
        staff::add(
            other,
            &StaffInput {
                name: name.into(),
                email: email.into(),
                role: Role::Researcher,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        accounts::set_password(other, email, "a long enough password")
            .await
            .unwrap();
    }
    let (stop, hearing) = hear(server).await;
    let sign_in = |email: &'static str| async move {
        accounts::sign_in(server, email, "a long enough password", "127.0.0.1")
            .await
            .unwrap()
            .0
    };
    let signed = |token: accounts::Token| async move { accounts::signed_in(server, &token).await };

    // Kept: answered without the database.
    let kim = sign_in("kim@company.example.com").await;
    assert_eq!(
        signed(kim.clone()).await.unwrap().staff.role,
        Role::Researcher
    );
    unannounced(&url, "DELETE FROM sign_ins").await;
    assert!(signed(kim.clone()).await.is_ok());

    // A role changed on another computer is heard: the sign-in is read
    // again (and, deleted meanwhile, ends).
    staff::set_role(other, "sam@company.example.com", Role::Staff)
        .await
        .unwrap();
    assert!(signed_out_soon(server, &kim).await);

    // The new role is what a kept sign-in says.
    let sam = sign_in("sam@company.example.com").await;
    assert_eq!(signed(sam.clone()).await.unwrap().staff.role, Role::Staff);
    staff::set_role(other, "sam@company.example.com", Role::Admin)
        .await
        .unwrap();
    assert!(
        within_five_seconds(|| async {
            signed(sam.clone()).await.unwrap().staff.role == Role::Admin
        })
        .await
    );

    // A sign-out on another computer ends the kept sign-in here.
    assert!(signed(sam.clone()).await.is_ok());
    accounts::sign_out(other, &sam).await.unwrap();
    assert!(signed_out_soon(server, &sam).await);

    // A person deactivated on another computer is signed out here.
    let kim = sign_in("kim@company.example.com").await;
    assert!(signed(kim.clone()).await.is_ok());
    let kim_id = staff::by_email(other, "kim@company.example.com")
        .await
        .unwrap()
        .id;
    staff::deactivate(other, kim_id).await.unwrap();
    assert!(signed_out_soon(server, &kim).await);

    // The notices' connection cut: everything kept is forgotten, and
    // sign-ins are kept again once it is back.
    staff::reactivate(other, kim_id).await.unwrap();
    let kim = sign_in("kim@company.example.com").await;
    assert!(signed(kim.clone()).await.is_ok());
    unannounced(&url, "DELETE FROM sign_ins").await;
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    assert!(signed_out_soon(server, &kim).await);
    assert!(within_five_seconds(|| async { panelkeeper::server::keeps(server) }).await);
    let kim = sign_in("kim@company.example.com").await;
    assert!(signed(kim.clone()).await.is_ok());
    unannounced(&url, "DELETE FROM sign_ins").await;
    assert!(signed(kim.clone()).await.is_ok());

    stop.notify_one();
    hearing.await.unwrap();
    assert!(!panelkeeper::server::keeps(server));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_list_of_follow_ups_is_read_again_when_another_computer_changes_it() {
    let (panels, url) = opened(2).await;
    let (server, other) = (&panels[0], &panels[1]);
    let session = company(other, 2).await;
    let first = raise(other, session, 1).await;
    let person = |email: &'static str| async move { staff::by_email(other, email).await.unwrap() };
    let (owner0, owner1) = (
        person("owner0@company.example.com").await,
        person("owner1@company.example.com").await,
    );
    let (stop, hearing) = hear(server).await;
    // Each issue as *My follow-ups* on the server shows it.
    let mine = |who: staff::StaffId| async move {
        issues::mine(&server.acting_as(who))
            .await
            .unwrap()
            .into_iter()
            .map(|i| {
                format!(
                    "{}, {}, {}",
                    i.summary,
                    i.participant_name,
                    i.owner_name.unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
    };
    let soon = |who: staff::StaffId, wanted: &'static [&'static str]| async move {
        within_five_seconds(|| async { mine(who).await == wanted }).await
    };

    // Kept: answered without the database.
    assert_eq!(mine(owner0.id).await, ["Problem 1, Zoë Ålander, Owner 0"]);
    assert!(mine(owner1.id).await.is_empty());
    unannounced(&url, "UPDATE issues SET summary = 'Unannounced'").await;
    assert_eq!(mine(owner0.id).await, ["Problem 1, Zoë Ålander, Owner 0"]);

    // An issue raised on another computer is heard, and read again whole.
    raise(other, session, 2).await;
    assert!(
        soon(
            owner0.id,
            &[
                "Unannounced, Zoë Ålander, Owner 0",
                "Problem 2, Zoë Ålander, Owner 0"
            ]
        )
        .await
    );
    // A hand-off there: both owners' lists.
    issues::reassign(other, first, &owner1.email, "Owner 1 handles refunds")
        .await
        .unwrap();
    assert!(soon(owner0.id, &["Problem 2, Zoë Ålander, Owner 0"]).await);
    assert!(soon(owner1.id, &["Unannounced, Zoë Ålander, Owner 1"]).await);
    // What every list shows beside its issues: a participant's name, an
    // owner's name.
    let zoe = issues::detail(other, first)
        .await
        .unwrap()
        .issue
        .participant;
    participants::update(
        other,
        zoe,
        &ParticipantInput {
            name: "Zoë Å. Berg".into(),
            email: "zoe@example.org".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(soon(owner0.id, &["Problem 2, Zoë Å. Berg, Owner 0"]).await);
    staff::update(
        other,
        owner1.id,
        &StaffInput {
            name: "Owner One".into(),
            email: owner1.email.clone(),
            lead: Some("lea@company.example.com".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(soon(owner1.id, &["Unannounced, Zoë Å. Berg, Owner One"]).await);

    // The notices' connection cut: everything kept is forgotten.
    assert_eq!(mine(owner0.id).await, ["Problem 2, Zoë Å. Berg, Owner 0"]);
    unannounced(&url, "UPDATE issues SET summary = 'Cut off'").await;
    assert_eq!(mine(owner0.id).await, ["Problem 2, Zoë Å. Berg, Owner 0"]);
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    assert!(soon(owner0.id, &["Cut off, Zoë Å. Berg, Owner 0"]).await);

    stop.notify_one();
    hearing.await.unwrap();
}
