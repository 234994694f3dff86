//! The desktop app connected to a team server (the real `panelkeeper
//! serve` process, on a team database when the run has one), driven through
//! WebDriver: a researcher connects in Settings and opens a session live;
//! the server stops; five live notes are typed and shown as not yet sent;
//! the app is closed and opened again, still knowing of them; the server
//! starts; the five notes arrive once each, in the order typed, and the
//! app shows them as sent notes.

use chrono::Timelike;
use fantoccini::{Client, Locator};
use panelkeeper::sessions::staff::{self, Role, StaffInput};
use panelkeeper::sessions::{self, SessionInput};
use panelkeeper::{Panel, accounts, notes};
use panelkeeper_e2e::{Driver, LogsOnFailure, built, team_location, team_server};
use std::path::Path;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);
const ENTER: &str = "\u{E007}";
const PASSWORD: &str = "ritas long password";

async fn open(driver: &Driver, db: &Path) -> Client {
    let app = built("PANELKEEPER_APP", "panelkeeper-app");
    driver
        .session(&app, &["--db", db.to_str().expect("a UTF-8 path")])
        .await
}

async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
}

/// Clicks `css` once it takes a click (a view may still be settling).
async fn click(c: &Client, css: &str) {
    let element = find(c, css).await;
    let started = Instant::now();
    while element.click().await.is_err() {
        assert!(started.elapsed() < WAIT, "{css} did not take a click");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn texts(c: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in c.find_all(Locator::Css(css)).await.unwrap_or_default() {
        out.push(e.text().await.unwrap_or_default());
    }
    out
}

/// Waits until the texts of `css` satisfy `done`; they, when they do.
async fn until_texts(
    c: &Client,
    css: &str,
    what: &str,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let started = Instant::now();
    loop {
        let now = texts(c, css).await;
        if done(&now) {
            return now;
        }
        assert!(
            started.elapsed() < WAIT,
            "timed out waiting for {what}: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn go_live(c: &Client) {
    click(c, "[data-testid=nav-sessions]").await;
    click(c, "[data-testid=mode-list]").await;
    // In the whole suite the list has twice stayed without its session for
    // 30 s after connecting (the cause is not found yet; the logs showed no
    // error): the list is asked for again, and what it showed is printed
    // with a failure, until the session shows or the wait is over. A call
    // to the team server that runs 5 s or more is in both logs, printed
    // with a failure too.
    let started = Instant::now();
    while c
        .wait()
        .at_most(Duration::from_secs(8))
        .for_element(Locator::Css("[data-testid=session-row] td"))
        .await
        .is_err()
    {
        let shown = texts(c, "[data-testid=sessions]").await;
        eprintln!("no session in the list yet; the view shows {shown:?}");
        assert!(started.elapsed() < WAIT, "the session never showed");
        click(c, "[data-testid=mode-week]").await;
        click(c, "[data-testid=mode-list]").await;
    }
    click(c, "[data-testid=session-row] td").await;
    click(c, "[data-testid=go-live]").await;
    find(c, "[data-testid=note-input]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_notes_typed_while_the_server_is_down_arrive_once_each_in_order_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let _logs = LogsOnFailure(dir.path().to_path_buf());
    let db = team_location(dir.path(), "desktop_team");
    let port = panelkeeper_e2e::free_port();
    let address = format!("http://127.0.0.1:{port}");

    // The team's panel: Rita, a researcher, moderates a session under way.
    let panel = Panel::open(db.as_str()).await.unwrap();
    staff::add(
        &panel,
        &StaffInput {
            name: "Rita Researcher".into(),
            email: "rita@company.example.com".into(),
            role: Role::Researcher,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    accounts::set_password(&panel, "rita@company.example.com", PASSWORD)
        .await
        .unwrap();
    let start = chrono::Utc::now() - chrono::Duration::minutes(5);
    let session = sessions::create(
        &panel,
        &SessionInput {
            title: "Checkout panel".into(),
            start: Some(
                start
                    .naive_utc()
                    .with_second(0)
                    .unwrap()
                    .with_nanosecond(0)
                    .unwrap(),
            ),
            time_zone: "UTC".into(),
            minutes: 90,
            moderator: "rita@company.example.com".into(),
            seats: 6,
            ..Default::default()
        },
    )
    .await
    .unwrap();

    let server = team_server(&db, port, dir.path());
    let laptop = dir.path().join("laptop.db");
    let driver = Driver::start(dir.path());
    let c = open(&driver, &laptop).await;

    // Settings: connect to the team server, signed in as Rita.
    click(&c, "[data-testid=nav-settings]").await;
    click(&c, "[data-testid=team-mode-team]").await;
    find(&c, "[data-testid=team-server]")
        .await
        .send_keys(&address)
        .await
        .unwrap();
    find(&c, "[data-testid=team-email]")
        .await
        .send_keys("rita@company.example.com")
        .await
        .unwrap();
    find(&c, "[data-testid=team-password]")
        .await
        .send_keys(PASSWORD)
        .await
        .unwrap();
    click(&c, "[data-testid=team-connect]").await;
    until_texts(&c, "[data-testid=team-connected]", "the connection", |t| {
        t.first().is_some_and(|t| t.contains("Rita Researcher"))
    })
    .await;

    go_live(&c).await;
    drop(server);

    let typed = [
        "First, offline",
        "Second #checkout",
        "Third",
        "Fourth",
        "Fifth and last",
    ];
    for text in typed {
        find(&c, "[data-testid=note-input]")
            .await
            .send_keys(&format!("{text}{ENTER}"))
            .await
            .unwrap();
    }
    let queued = until_texts(&c, "[data-testid=queued-note]", "five notes kept", |t| {
        t.len() == 5
    })
    .await;
    for (shown, text) in queued.iter().zip(typed) {
        assert!(
            shown.contains(text) && shown.contains("not yet sent"),
            "{shown}"
        );
    }
    assert!(texts(&c, "[data-testid=live-note]").await.is_empty());
    c.close().await.unwrap();

    // Opened again, with the server still down: the notes are still kept.
    let c = open(&driver, &laptop).await;
    click(&c, "[data-testid=nav-settings]").await;
    until_texts(
        &c,
        "[data-testid=team-queued]",
        "the kept notes named",
        |t| t.first().is_some_and(|t| t.contains("5 live notes")),
    )
    .await;

    // The server is back: the notes are sent, and the session shows them.
    let _server = team_server(&db, port, dir.path());
    go_live(&c).await;
    let shown = until_texts(&c, "[data-testid=live-note]", "five notes sent", |t| {
        t.len() == 5
    })
    .await;
    for (shown, text) in shown.iter().zip(typed) {
        assert!(shown.contains(text), "{shown} should be {text}");
    }
    until_texts(
        &c,
        "[data-testid=queued-note]",
        "no note left unsent",
        |t| t.is_empty(),
    )
    .await;

    let on_server: Vec<String> = notes::list(&panel, session.id)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.text)
        .collect();
    assert_eq!(on_server, typed, "once each, in the order typed");
    let authors: Vec<Option<String>> = notes::list(&panel, session.id)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.author_name)
        .collect();
    assert!(
        authors
            .iter()
            .all(|a| a.as_deref() == Some("Rita Researcher")),
        "{authors:?}"
    );
    c.close().await.unwrap();
}
