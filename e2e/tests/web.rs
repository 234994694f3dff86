//! The web app in a real browser (Debian's headless Chromium, driven
//! through chromedriver): a staff member follows the link in their
//! assignment mail, read back from the SMTP test server, signs in to the
//! team server, finds the issue in *My follow-ups*, logs a contact and
//! resolves it with a message, and the participant's mail arrives. The
//! server is the real `panelkeeper serve` process, on a team database when
//! the run has one (`PANELKEEPER_TEST_PG`), else on a panel file.

#[path = "../../tests/common/smtp.rs"]
mod smtp;

use fantoccini::{Client, ClientBuilder, Locator};
use panelkeeper::issues::{self, IssueInput};
use panelkeeper::participants::{self, ParticipantInput};
use panelkeeper::sessions::staff::{self, Role, StaffInput};
use panelkeeper::sessions::{self, SessionInput};
use panelkeeper::{Panel, accounts};
use panelkeeper_e2e::{Running, team_location, team_server, wait_for_port};
use serde_json::json;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Headless Chromium through chromedriver (its own process, in `dir`),
/// saving downloads in `dir`/downloads.
async fn chromium(dir: &std::path::Path) -> (Running, Client) {
    let port = smtp::free_port();
    let driver = Running(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .env("TMPDIR", dir)
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is not installed; scripts/setup installs chromium-driver"),
    );
    wait_for_port(port, "chromedriver");
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    (driver, browser(port, &downloads).await)
}

async fn browser(port: u16, downloads: &std::path::Path) -> Client {
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,800"],
            "prefs": {
                "download.default_directory": downloads,
                "download.prompt_for_download": false,
            }
        }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::native()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session with Chromium")
}

/// With `PANELKEEPER_SCREENSHOTS=DIR`, the page as it looks now, as
/// `DIR/NAME.png` (the README's pictures of the web app).
async fn picture(c: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("PANELKEEPER_SCREENSHOTS") {
        let png = c.screenshot().await.unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
    }
}

/// The first message the SMTP test server received for `address`, waited for.
fn mail_to(smtp: &smtp::SmtpServer, address: &str) -> smtp::Delivered {
    let started = Instant::now();
    loop {
        let found = smtp.delivered().into_iter().find(|d| {
            d.parsed()
                .to()
                .and_then(|t| t.first())
                .and_then(|a| a.address())
                == Some(address)
        });
        if let Some(found) = found {
            return found;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no mail to {address}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
}

async fn fill(c: &Client, css: &str, text: &str) {
    find(c, css).await.send_keys(text).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    find(c, css).await.click().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_follow_the_mailed_link_sign_in_log_a_contact_and_resolve_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = smtp::SmtpServer::start(dir.path(), &[]);
    let db = team_location(dir.path(), "web");
    let port = smtp::free_port();
    let address = format!("http://127.0.0.1:{port}");

    // The team: Kim owns Zoë's issue; the server mails her its link.
    let panel = Panel::open(db.as_str()).await.unwrap();
    team(
        &panel,
        &[
            (
                "Rita Researcher",
                "rita@company.example.com",
                Role::Researcher,
            ),
            ("Kim Care", "kim@company.example.com", Role::Staff),
        ],
        &address,
        smtp.port,
    )
    .await;
    accounts::set_password(&panel, "kim@company.example.com", "kims long password")
        .await
        .unwrap();
    let zoe = participants::create(
        &panel,
        &ParticipantInput {
            name: "Zoë Ålander".into(),
            email: "zoe@example.org".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let session = sessions::create(
        &panel,
        &SessionInput {
            title: "Checkout".into(),
            start: Some(
                chrono::NaiveDateTime::parse_from_str("2026-06-01T09:00", "%Y-%m-%dT%H:%M")
                    .unwrap(),
            ),
            time_zone: "Europe/Stockholm".into(),
            minutes: 90,
            moderator: "rita@company.example.com".into(),
            seats: 8,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let issue = issues::raise(
        &panel,
        &IssueInput {
            session: Some(session.id),
            participant: Some(zoe.id.to_string()),
            summary: "Refund not received".into(),
            owner: Some("kim@company.example.com".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    let _server = team_server(&db, port, dir.path());

    // The assignment mail, sent by the server's worker, links to the issue.
    let link = format!("{address}/issues/{}", issue.id);
    let mail = mail_to(&smtp, "kim@company.example.com");
    let text = mail.parsed().body_text(0).unwrap().to_string();
    assert!(text.contains(&link), "{text}");

    let (_driver, c) = chromium(dir.path()).await;

    c.goto(&link).await.unwrap();
    find(&c, "[data-testid=sign-in-email]").await;
    picture(&c, "web-sign-in").await;
    fill(&c, "[data-testid=sign-in-email]", "kim@company.example.com").await;
    fill(&c, "[data-testid=sign-in-password]", "not her password").await;
    click(&c, "[data-testid=sign-in-submit]").await;
    let refused = find(&c, "[data-testid=sign-in-error]")
        .await
        .text()
        .await
        .unwrap();
    assert!(refused.contains("not right"), "{refused}");
    find(&c, "[data-testid=sign-in-password]")
        .await
        .clear()
        .await
        .unwrap();
    fill(&c, "[data-testid=sign-in-password]", "kims long password").await;
    click(&c, "[data-testid=sign-in-submit]").await;

    // Only her follow-ups: no participants, no settings.
    let mine = find(
        &c,
        &format!("[data-testid=my-issue][data-issue=\"{}\"]", issue.id),
    )
    .await;
    assert!(mine.text().await.unwrap().contains("Refund not received"));
    assert!(
        c.find(Locator::Css("[data-testid=nav-participants]"))
            .await
            .is_err()
    );
    assert!(c.find(Locator::Css("[data-testid=tab-all]")).await.is_err());
    let named = find(&c, "[data-testid=signed-in-as]")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(named, "Kim Care");
    find(&c, "[data-testid=issue-detail]").await;
    picture(&c, "web-my-follow-ups").await;

    click(&c, "[data-testid=quick-contact]").await;
    fill(
        &c,
        "[data-testid=quick-outcome]",
        "Called her: the refund goes out today",
    )
    .await;
    click(&c, "[data-testid=quick-contact-save]").await;
    let started = Instant::now();
    loop {
        let button = find(&c, "[data-testid=quick-resolve]").await;
        if button.attr("disabled").await.unwrap().is_none() {
            button.click().await.unwrap();
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "resolve never enabled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    fill(&c, "[data-testid=reply-note]", "Refund sent by finance").await;
    fill(
        &c,
        "[data-testid=reply-message]",
        "Your refund went out today; it shows in 2-3 days.",
    )
    .await;
    click(&c, "[data-testid=reply-preview-resolve]").await;
    let preview = find(&c, "[data-testid=reply-preview-to]")
        .await
        .text()
        .await
        .unwrap();
    picture(&c, "web-issue-reply").await;
    assert!(preview.contains("zoe@example.org"), "{preview}");
    click(&c, "[data-testid=reply-send]").await;

    // The participant's mail arrives, from the server's worker.
    let to_zoe = mail_to(&smtp, "zoe@example.org");
    let body = to_zoe.parsed().body_text(0).unwrap().to_string();
    assert!(body.contains("Your refund went out today"), "{body}");

    let detail = issues::detail(&panel, issue.id).await.unwrap();
    assert_eq!(detail.issue.status, issues::IssueStatus::Resolved);
    assert_eq!(detail.contacts[0].staff.as_deref(), Some("Kim Care"));
    c.close().await.unwrap();
}

/// The team's staff with their roles, the server's address for the links
/// in their mail, and the SMTP test server to send it.
async fn team(panel: &Panel, people: &[(&str, &str, Role)], address: &str, smtp_port: u16) {
    for (name, email, role) in people {
        staff::add(
            panel,
            &StaffInput {
                name: name.to_string(),
                email: email.to_string(),
                role: *role,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    accounts::set_server_address(panel, address).await.unwrap();
    panelkeeper::mail::settings::set(panel, smtp::local_smtp(smtp_port))
        .await
        .unwrap();
}

/// A file the browser downloaded into `dir`/downloads, waited for whole.
fn downloaded(dir: &std::path::Path, name: &str) -> Vec<u8> {
    let path = dir.join("downloads").join(name);
    let started = Instant::now();
    loop {
        // Chromium writes `name.crdownload` and renames it when complete.
        if let Ok(bytes) = std::fs::read(&path) {
            return bytes;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{name} was not downloaded"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invited_researcher_sets_a_password_imports_and_downloads_an_export_and_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = smtp::SmtpServer::start(dir.path(), &[]);
    let db = team_location(dir.path(), "web_files");
    let port = smtp::free_port();
    let address = format!("http://127.0.0.1:{port}");

    let panel = Panel::open(db.as_str()).await.unwrap();
    team(
        &panel,
        &[
            ("Ada Admin", "ada@company.example.com", Role::Admin),
            (
                "Rita Researcher",
                "rita@company.example.com",
                Role::Researcher,
            ),
        ],
        &address,
        smtp.port,
    )
    .await;
    accounts::set_password(&panel, "ada@company.example.com", "adas long password")
        .await
        .unwrap();
    sessions::create(
        &panel,
        &SessionInput {
            title: "Checkout".into(),
            // In two days: the list shows what is coming.
            start: Some(
                (chrono::Utc::now() + chrono::Duration::days(2))
                    .date_naive()
                    .and_hms_opt(9, 0, 0)
                    .unwrap(),
            ),
            time_zone: "Europe/Stockholm".into(),
            minutes: 90,
            moderator: "rita@company.example.com".into(),
            seats: 8,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let _server = team_server(&db, port, dir.path());
    let (_driver, c) = chromium(dir.path()).await;

    // Ada invites Rita from Settings.
    c.goto(&address).await.unwrap();
    fill(&c, "[data-testid=sign-in-email]", "ada@company.example.com").await;
    fill(&c, "[data-testid=sign-in-password]", "adas long password").await;
    click(&c, "[data-testid=sign-in-submit]").await;
    click(&c, "[data-testid=nav-settings]").await;
    let started = Instant::now();
    loop {
        let rows = c
            .find_all(Locator::Css("[data-testid=staff-row]"))
            .await
            .unwrap();
        let mut invited = false;
        for row in rows {
            if row.text().await.unwrap().contains("Rita Researcher") {
                row.find(Locator::Css("[data-testid=staff-invite]"))
                    .await
                    .unwrap()
                    .click()
                    .await
                    .unwrap();
                invited = true;
            }
        }
        if invited {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "Rita's row");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let notice = find(&c, "[data-testid=staff-invited]")
        .await
        .text()
        .await
        .unwrap();
    assert!(notice.contains("rita@company.example.com"), "{notice}");
    click(&c, "[data-testid=sign-out]").await;

    // Rita follows the mailed link and chooses her password.
    let mail = mail_to(&smtp, "rita@company.example.com");
    let text = mail.parsed().body_text(0).unwrap().to_string();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/set-password#"))
        .unwrap_or_else(|| panic!("no link in {text}"))
        .to_string();
    assert!(link.starts_with(&address), "{link}");
    c.goto(&link).await.unwrap();
    fill(&c, "[data-testid=set-password-new]", "ritas long password").await;
    fill(
        &c,
        "[data-testid=set-password-again]",
        "ritas long password",
    )
    .await;
    click(&c, "[data-testid=set-password-submit]").await;
    find(&c, "[data-testid=password-set]").await;
    let email = find(&c, "[data-testid=sign-in-email]")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(email.as_deref(), Some("rita@company.example.com"));
    fill(&c, "[data-testid=sign-in-password]", "ritas long password").await;
    click(&c, "[data-testid=sign-in-submit]").await;

    // A CSV picked in the browser is imported on the server.
    let csv = dir.path().join("people.csv");
    std::fs::write(
        &csv,
        "Email,Name,City\nzoe@example.org,Zoë Ålander,Malmö\nnot-an-email,Bad Row,Oslo\n",
    )
    .unwrap();
    click(&c, "[data-testid=start-import]").await;
    fill(&c, "[data-testid=import-file]", csv.to_str().unwrap()).await;
    click(&c, "[data-testid=import-run]").await;
    let summary = find(&c, "[data-testid=import-summary]")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        summary.contains("1 added") && summary.contains("1 rejected"),
        "{summary}"
    );
    assert!(
        panelkeeper::participants::find(&panel, "zoe@example.org")
            .await
            .is_ok()
    );

    // The export and the session's report are the browser's downloads.
    click(&c, "[data-testid=export]").await;
    let export = String::from_utf8(downloaded(dir.path(), "participants.csv")).unwrap();
    assert!(export.contains("Zoë Ålander"), "{export}");
    click(&c, "[data-testid=nav-sessions]").await;
    click(&c, "[data-testid=mode-list]").await;
    click(&c, "[data-testid=session-row] td").await;
    click(&c, "[data-testid=export-session]").await;
    click(&c, "[data-testid=export-download]").await;
    assert!(downloaded(dir.path(), "Checkout.pdf").starts_with(b"%PDF"));
    c.close().await.unwrap();
}
