//! The desktop's connection to a team server (`panelkeeper::remote`), on a
//! real server on 127.0.0.1 over both stores: commands go to the server as
//! the person signed in; live notes typed while the server is down are
//! kept in the connection file, survive the app closing, and arrive once
//! each, in the order typed, when it is back; a note the server refuses
//! stays with the reason and the rest go on; anything else asked offline
//! is refused as not saved.

mod common;

use common::smtp::free_port;
use panelkeeper::notes::{self, NoteInput, Typed};
use panelkeeper::remote::{Team, server_address};
use panelkeeper::server::{self, Listening, Options};
use panelkeeper::sessions::staff::{self, Role, StaffInput};
use panelkeeper::sessions::{self, SessionId, SessionInput};
use panelkeeper::{Error, Panel, accounts};
use serde_json::json;
use std::path::{Path, PathBuf};

const PASSWORD: &str = "correct horse battery";

/// A server on 127.0.0.1:`port` over `panel`, stopped (gracefully) when dropped.
struct TestServer {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<panelkeeper::Result<()>>>,
}

impl TestServer {
    async fn start(panel: &Panel, port: u16) -> TestServer {
        let tcp = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(server::serve(
            panel.clone(),
            Listening::Plain(tcp),
            Options {
                ui: None,
                secure: false,
            },
            async move {
                let _ = stopped.await;
            },
        ));
        TestServer {
            stop: Some(stop),
            done: Some(done),
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = self.done.take().unwrap().await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Rita (researcher) with a password, and a session she moderates.
async fn team(panel: &Panel) -> SessionId {
    staff::add(
        panel,
        &StaffInput {
            name: "Rita Researcher".into(),
            email: "rita@company.example.com".into(),
            role: Role::Researcher,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    accounts::set_password(panel, "rita@company.example.com", PASSWORD)
        .await
        .unwrap();
    sessions::create(
        panel,
        &SessionInput {
            title: "Checkout".into(),
            start: Some(common::start().naive_utc()),
            time_zone: "UTC".into(),
            minutes: 90,
            moderator: "rita@company.example.com".into(),
            seats: 6,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id
}

fn note(text: &str) -> NoteInput {
    NoteInput {
        text: text.into(),
        participant: None,
        author: None,
    }
}

/// A laptop connected to a server on `t`'s panel: the server's port, the
/// connection file, the server and the connection.
async fn laptop(t: &common::TestPanel) -> (u16, PathBuf, TestServer, Team) {
    let port = free_port();
    let file = Team::file_for(&t.dir.path().join("laptop.db"));
    let server = TestServer::start(&t.panel, port).await;
    let laptop = connect(&file, port).await;
    (port, file, server, laptop)
}

async fn connect(file: &Path, port: u16) -> Team {
    Team::connect(
        file,
        &format!("http://127.0.0.1:{port}"),
        None,
        "rita@company.example.com",
        PASSWORD,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn notes_typed_while_the_server_is_down_survive_a_restart_and_arrive_once_each_in_order() {
    let t = common::panel().await;
    let session = team(&t.panel).await;
    let (port, file, server, laptop) = laptop(&t).await;
    let status = laptop.status().await.unwrap();
    assert_eq!(status.signed_in.unwrap().name, "Rita Researcher");
    // Online, a note goes straight through, credited to Rita.
    let first = laptop
        .call(
            "note_add",
            json!({ "session": session, "input": note("Online first") }),
        )
        .await
        .unwrap();
    assert_eq!(first["authorName"], "Rita Researcher");
    server.stop().await;

    let typed = ["one", "two", "three", "four", "five"];
    for text in typed {
        match laptop.add_note(session, &note(text)).await {
            Err(Error::NoteKept { why }) => assert!(why.contains("cannot be reached"), "{why}"),
            other => panic!("{text}: expected to be kept, got {other:?}"),
        }
    }
    // Anything else is refused as not saved.
    let refused = laptop.call("issues_mine", json!({})).await.unwrap_err();
    assert!(
        matches!(refused, Error::Offline { .. })
            && refused.to_string().starts_with("offline: not saved"),
        "{refused}"
    );
    let e = laptop.disconnect(false).await.unwrap_err();
    assert!(e.to_string().contains("5 live notes"), "{e}");
    drop(laptop);

    // The app is closed and opened again: the queue is still there.
    let laptop = Team::open(&file).await.unwrap().expect("still connected");
    let queued = laptop.queued(Some(session)).await.unwrap();
    assert_eq!(
        queued.iter().map(|q| q.text.as_str()).collect::<Vec<_>>(),
        typed
    );
    assert!(queued.iter().all(|q| q.refused.is_none()));
    assert_eq!(laptop.send().await.unwrap().waiting, 5);

    let _server = TestServer::start(&t.panel, port).await;
    let report = laptop.send().await.unwrap();
    assert_eq!((report.sent, report.refused, report.waiting), (5, 0, 0));
    assert!(laptop.queued(None).await.unwrap().is_empty());
    // Sending again sends nothing more.
    assert_eq!(laptop.send().await.unwrap().sent, 0);

    let on_server: Vec<String> = notes::list(&t.panel, session)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.text)
        .collect();
    assert_eq!(
        on_server,
        ["Online first", "one", "two", "three", "four", "five"]
    );
}

#[tokio::test]
async fn a_note_sent_twice_with_its_client_id_is_written_once() {
    let t = common::panel().await;
    let session = team(&t.panel).await;
    t.clock.advance(chrono::Duration::minutes(30));
    let typed = Typed {
        client_id: "6f1c2a9e-8d3b-4c7a-9e21-0b5d4f3a2c11".into(),
        at: common::start() + chrono::Duration::minutes(12),
    };
    let a = notes::add_typed(&t.panel, session, &note("Kept offline"), Some(&typed))
        .await
        .unwrap();
    let b = notes::add_typed(&t.panel, session, &note("Kept offline"), Some(&typed))
        .await
        .unwrap();
    assert_eq!(a.id, b.id);
    assert_eq!(a.offset_seconds, 12 * 60, "placed when it was typed");
    assert_eq!(notes::list(&t.panel, session).await.unwrap().len(), 1);

    // A time ahead of the server's clock is taken as now.
    let ahead = Typed {
        client_id: "0a1b2c3d-ahead".into(),
        at: common::start() + chrono::Duration::days(3),
    };
    let c = notes::add_typed(&t.panel, session, &note("From a fast clock"), Some(&ahead))
        .await
        .unwrap();
    assert_eq!(c.at, t.panel.now());

    for bad in ["short", "has spaces in it", "ünïcode-ünïcode"] {
        let e = notes::add_typed(
            &t.panel,
            session,
            &note("x"),
            Some(&Typed {
                client_id: bad.into(),
                at: common::start(),
            }),
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("client id"), "{bad}: {e}");
    }
}

#[tokio::test]
async fn a_note_the_server_refuses_stays_with_the_reason_and_the_rest_go_on() {
    let t = common::panel().await;
    let session = team(&t.panel).await;
    let (port, file, server, laptop) = laptop(&t).await;
    server.stop().await;

    // Typed offline: one for a session the server does not have.
    let _ = laptop.add_note(session, &note("before")).await;
    let _ = laptop
        .add_note(SessionId(9_999), &note("lost session"))
        .await;
    let _ = laptop.add_note(session, &note("after")).await;

    let _server = TestServer::start(&t.panel, port).await;
    let report = laptop.send().await.unwrap();
    assert_eq!((report.sent, report.refused), (2, 1));
    let left = laptop.queued(None).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].text, "lost session");
    let reason = left[0].refused.as_deref().unwrap();
    assert!(
        reason.contains("9999") && reason.contains("not found"),
        "{reason}"
    );
    assert_eq!(laptop.status().await.unwrap().refused, 1);

    // Refused at once (online), a note is not kept: the app shows why.
    let e = laptop.add_note(session, &note("   ")).await.unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    let e = laptop
        .add_note(SessionId(9_998), &note("typo'd session"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    assert_eq!(laptop.queued(None).await.unwrap().len(), 1);

    laptop.discard(&left[0].client_id).await.unwrap();
    laptop.disconnect(false).await.unwrap();
    assert!(Team::open(&file).await.unwrap().is_none());
}

#[tokio::test]
async fn an_ended_sign_in_keeps_notes_until_signed_in_again() {
    let t = common::panel().await;
    let session = team(&t.panel).await;
    let (_, file, _server, laptop) = laptop(&t).await;

    // A password change signs Rita out everywhere.
    accounts::set_password(&t.panel, "rita@company.example.com", "a new long password")
        .await
        .unwrap();
    let e = laptop.call("issues_mine", json!({})).await.unwrap_err();
    assert!(matches!(e, Error::SignedOut), "{e:?}");
    assert!(laptop.status().await.unwrap().signed_in.is_none());
    match laptop.add_note(session, &note("while signed out")).await {
        Err(Error::NoteKept { why }) => assert!(why.contains("sign in again"), "{why}"),
        other => panic!("expected to be kept, got {other:?}"),
    }
    // Reopened, the connection remembers it is signed out.
    let laptop = Team::open(&file).await.unwrap().unwrap();
    assert!(laptop.status().await.unwrap().signed_in.is_none());

    let e = laptop
        .sign_in("rita@company.example.com", PASSWORD)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::SignInRefused), "{e:?}");
    laptop
        .sign_in("rita@company.example.com", "a new long password")
        .await
        .unwrap();
    assert_eq!(laptop.send().await.unwrap().sent, 1);
    assert_eq!(
        notes::list(&t.panel, session).await.unwrap()[0].text,
        "while signed out"
    );
}

#[tokio::test]
async fn the_connection_file_is_private_and_the_server_address_is_checked() {
    use std::os::unix::fs::PermissionsExt;
    let t = common::panel().await;
    team(&t.panel).await;
    let port = free_port();
    let file = Team::file_for(&t.dir.path().join("laptop.db"));
    assert_eq!(file.file_name().unwrap(), "laptop.team.db");
    let _server = TestServer::start(&t.panel, port).await;
    connect(&file, port).await;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "it holds a sign-in");

    let e = Team::connect(
        &file,
        "http://panel.example.com",
        None,
        "rita@company.example.com",
        PASSWORD,
    )
    .await
    .err()
    .unwrap();
    assert!(e.to_string().contains("in the clear"), "{e}");
    assert_eq!(
        server_address("https://panel.example.com/").unwrap(),
        "https://panel.example.com"
    );
    // Nobody listening: the server cannot be reached, said so.
    let e = Team::connect(
        &t.dir.path().join("other.team.db"),
        &format!("http://127.0.0.1:{}", free_port()),
        None,
        "rita@company.example.com",
        PASSWORD,
    )
    .await
    .err()
    .unwrap();
    assert!(matches!(e, Error::Offline { .. }), "{e:?}");
}

#[tokio::test]
async fn a_file_is_imported_from_this_computer_and_a_report_saved_on_it_through_the_server() {
    let t = common::panel().await;
    let session = team(&t.panel).await;
    let (_, _, _server, laptop) = laptop(&t).await;

    let csv = t.dir.path().join("people.csv");
    std::fs::write(&csv, "Email,Name\nzoe@example.org,Zoë Ålander\n").unwrap();
    let heard = std::sync::Mutex::new(0);
    let report = laptop
        .import_file(&csv, &|_| *heard.lock().unwrap() += 1)
        .await
        .unwrap();
    assert_eq!(report["created"], 1, "{report}");
    assert!(
        *heard.lock().unwrap() > 0,
        "progress came as the server made it"
    );
    assert_eq!(
        panelkeeper::participants::find(&t.panel, "zoe@example.org")
            .await
            .map(|_| ())
            .ok(),
        Some(())
    );

    let pdf = t.dir.path().join("Checkout.pdf");
    let saved = laptop
        .download(
            "report_session_pdf",
            json!({ "id": session, "options": { "anonymise": false } }),
            &pdf,
            &|_| (),
        )
        .await
        .unwrap();
    assert!(saved.pages.unwrap() >= 1);
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF"));

    let export = t.dir.path().join("people-out.csv");
    laptop
        .download(
            "participants_export_csv",
            json!({ "query": {} }),
            &export,
            &|_| (),
        )
        .await
        .unwrap();
    assert!(
        std::fs::read_to_string(&export)
            .unwrap()
            .contains("Zoë Ålander")
    );
}

#[tokio::test]
async fn over_https_the_servers_certificate_is_checked_against_the_authority_given() {
    let t = common::panel().await;
    let session = team(&t.panel).await;
    let (ca, cert, key) = common::certificates(t.dir.path());
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let acceptor = server::tls::acceptor(&cert, &key).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve(
        t.panel.clone(),
        Listening::Tls(server::tls::Listener::new(tcp, acceptor).unwrap()),
        Options {
            ui: None,
            secure: true,
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let address = format!("https://127.0.0.1:{port}");
    let file = Team::file_for(&t.dir.path().join("laptop.db"));

    // Not trusted by this computer: refused, nothing sent in the clear.
    let untrusted = Team::connect(&file, &address, None, "rita@company.example.com", PASSWORD)
        .await
        .err()
        .unwrap();
    assert!(
        untrusted.to_string().contains("certificate is not trusted"),
        "{untrusted}"
    );
    let e = Team::connect(
        &file,
        &address,
        Some("not a certificate"),
        "rita@company.example.com",
        PASSWORD,
    )
    .await
    .err()
    .unwrap();
    assert!(e.to_string().contains("PEM"), "{e}");

    let laptop = Team::connect(
        &file,
        &address,
        Some(&ca),
        "rita@company.example.com",
        PASSWORD,
    )
    .await
    .unwrap();
    let note = laptop.add_note(session, &note("Over HTTPS")).await.unwrap();
    assert_eq!(note.author_name.as_deref(), Some("Rita Researcher"));
    // Opened again, the authority is remembered.
    drop(laptop);
    let laptop = Team::open(&file).await.unwrap().unwrap();
    assert!(laptop.call("issues_mine", json!({})).await.is_ok());
    let _ = stop.send(());
}
