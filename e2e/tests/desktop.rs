//! The real Panelkeeper window, driven through WebDriver: tauri-driver
//! starts the built app (with `custom-protocol`, so it serves `ui/dist`)
//! through WebKitWebDriver, on a display such as Xvfb's. `scripts/test`
//! builds the app and runs this under `xvfb-run`.
//!
//! PANELKEEPER_APP names the app binary (default: target/debug/panelkeeper-app);
//! PANELKEEPER_SCREENSHOTS, if set, is where screenshots are written.

use fantoccini::{Client, Locator};
use mail_parser::MimeHeaders;
use panelkeeper_e2e::{Driver, built};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

fn app_binary() -> PathBuf {
    built("PANELKEEPER_APP", "panelkeeper-app")
}

/// A session with the app on the panel `db`.
async fn open(driver: &Driver, db: &Path) -> Client {
    let db = db.to_str().expect("a UTF-8 path");
    driver.session(&app_binary(), &["--db", db]).await
}

fn css(s: &str) -> Locator<'_> {
    Locator::Css(s)
}

/// Polls `check` until it gives `Some`, or fails the test naming `what`.
async fn until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(started.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks the element `selector` names.
async fn click(c: &Client, selector: &str) {
    let element = c
        .wait()
        .at_most(WAIT)
        .for_element(css(selector))
        .await
        .unwrap();
    until(&format!("{selector} to take a click"), || async {
        element.click().await.ok()
    })
    .await;
}

/// A demo panel of `people` made from `seed`, in `dir`.
async fn demo_panel(dir: &Path, people: u32, seed: u64) -> PathBuf {
    let db = dir.join("panel.db");
    let panel = panelkeeper::Panel::open(&db).await.unwrap();
    panelkeeper::demo::generate(&panel, people, seed)
        .await
        .unwrap();
    panel.close().await;
    db
}

/// Waits for the app's window to show the participant list.
async fn wait_for_list(c: &Client) {
    c.wait()
        .at_most(WAIT)
        .for_element(css("[data-testid=participant-list]"))
        .await
        .unwrap();
}

async fn text(c: &Client, selector: &str) -> Option<String> {
    match c.find(css(selector)).await {
        Ok(e) => e.text().await.ok(),
        Err(_) => None,
    }
}

async fn row_names(c: &Client) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rows) = c
        .find_all(css("[data-testid=participant-row] td.name"))
        .await
    {
        for r in rows {
            out.push(r.text().await.unwrap_or_default());
        }
    }
    out
}

async fn type_search(c: &Client, words: &str) {
    let input = c
        .wait()
        .at_most(WAIT)
        .for_element(css("[data-testid=search]"))
        .await
        .unwrap();
    // A window just opened may list its elements before it takes input.
    until("the search box to take input", || async {
        input.clear().await.ok()
    })
    .await;
    // Clearing does not fire an input event; typing does.
    let keys = if words.is_empty() { " \u{E003}" } else { words };
    input.send_keys(keys).await.unwrap();
}

async fn search(c: &Client, words: &str, expect: &[&str]) {
    type_search(c, words).await;
    let expect: Vec<String> = expect.iter().map(|s| s.to_string()).collect();
    until(&format!("search {words:?} to list {expect:?}"), || async {
        let names = row_names(c).await;
        (names == expect).then_some(())
    })
    .await;
}

async fn open_participant(c: &Client, name: &str) {
    // WebKitWebDriver clicks cells, not table rows.
    let cells = c
        .find_all(css("[data-testid=participant-row] td.name"))
        .await
        .unwrap();
    let mut clicked = false;
    for cell in cells {
        if cell.text().await.unwrap() == name {
            until("the row to take a click", || async {
                cell.click().await.ok()
            })
            .await;
            clicked = true;
            break;
        }
    }
    assert!(clicked, "no row for {name}");
    until(&format!("the detail pane for {name}"), || async {
        (text(c, "[data-testid=detail-name]").await.as_deref() == Some(name)).then_some(())
    })
    .await;
}

async fn governance(c: &Client) -> String {
    text(c, "[data-testid=governance-status]")
        .await
        .unwrap_or_default()
}

async fn screenshot(c: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("PANELKEEPER_SCREENSHOTS") {
        tokio::time::sleep(Duration::from_millis(500)).await;
        std::fs::create_dir_all(&dir).unwrap();
        let png = c.screenshot().await.unwrap();
        std::fs::write(Path::new(&dir).join(name), png).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_search_open_opt_out_and_keep_it_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("panel.db");
    let csv = dir.path().join("recruits.csv");
    std::fs::write(
        &csv,
        "First name,Last name,Email,Time zone,Region,Age band\n\
         Zoë,Müller,zoe@example.com,Europe/Berlin,EU,25-34\n\
         Grace,Hopper,grace-at-example.com,America/New_York,NA,35-44\n\
         Łukasz,Kowalski,lukasz@example.pl,Europe/Warsaw,EU,35-44\n\
         \"<img src=x onerror=alert(1)>\",Smith,xss@example.com,Europe/London,UK,18-24\n",
    )
    .unwrap();

    let driver = Driver::start(dir.path());
    let c = open(&driver, &db).await;
    wait_for_list(&c).await;

    // Import a CSV with one bad row: the good rows go in, the bad line is named.
    click(&c, "[data-testid=open-import]").await;
    let path = c
        .wait()
        .at_most(WAIT)
        .for_element(css("[data-testid=import-path]"))
        .await
        .unwrap();
    path.send_keys(csv.to_str().unwrap()).await.unwrap();
    click(&c, "[data-testid=import-run]").await;
    let summary = until("the import report", || async {
        text(&c, "[data-testid=import-summary]").await
    })
    .await;
    assert!(
        summary.contains("3 added") && summary.contains("1 rejected"),
        "{summary}"
    );
    let rejected = text(&c, "[data-testid=import-rejected] tbody tr")
        .await
        .unwrap();
    assert!(
        rejected.contains('3') && rejected.contains("Email") && rejected.contains("has no @"),
        "{rejected}"
    );
    screenshot(&c, "import.png").await;

    // Search as you type, accents ignored; open the participant.
    search(&c, "zoe", &["Zoë Müller"]).await;
    open_participant(&c, "Zoë Müller").await;
    assert_eq!(governance(&c).await, "May be invited now");

    // Opt out: the detail pane says why they may not be invited.
    click(&c, "[data-testid=toggle-opted-out]").await;
    until("the opt-out to show", || async {
        (governance(&c).await == "May not be invited now").then_some(())
    })
    .await;
    let reasons = text(&c, "[data-testid=governance-reasons]").await.unwrap();
    assert!(reasons.starts_with("Opted out on"), "{reasons}");

    // A name that is markup shows as text and runs nothing.
    search(&c, "img", &["<img src=x onerror=alert(1)> Smith"]).await;
    open_participant(&c, "<img src=x onerror=alert(1)> Smith").await;
    let images = c
        .execute("return document.querySelectorAll('img').length", vec![])
        .await
        .unwrap();
    assert_eq!(images, Value::from(0));
    search(
        &c,
        "",
        &[
            "<img src=x onerror=alert(1)> Smith",
            "Łukasz Kowalski",
            "Zoë Müller",
        ],
    )
    .await;
    screenshot(&c, "participants.png").await;

    // A page made to write elsewhere is refused: the path was neither
    // chosen in the app's dialog nor confirmed by the person.
    let outside =
        std::env::temp_dir().join(format!("panelkeeper-outside-{}.csv", std::process::id()));
    let refused = c
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             const progress = window.__TAURI_INTERNALS__.transformCallback(() => {}); \
             window.__TAURI_INTERNALS__.invoke('participants_export', \
               { path: arguments[0], query: { search: null, tag: null, attributes: [], status: 'all', limit: 50, offset: 0 }, \
                 onProgress: '__CHANNEL__:' + progress }) \
             .then(() => done('written'), (e) => done(e))",
            vec![Value::from(outside.to_str().unwrap())],
        )
        .await
        .unwrap();
    assert_eq!(refused["kind"], "File", "{refused}");
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .contains("not chosen in a file dialog"),
        "{refused}"
    );
    assert!(!outside.exists());
    c.close().await.unwrap();

    // The app keeps a log in its folder.
    let logs: Vec<_> = std::fs::read_dir(dir.path().join("logs"))
        .unwrap()
        .collect();
    assert!(!logs.is_empty(), "the app wrote no log");

    // Quit and start again on the same database: the opt-out is kept.
    let c = open(&driver, &db).await;
    search(&c, "müller", &["Zoë Müller"]).await;
    open_participant(&c, "Zoë Müller").await;
    assert_eq!(governance(&c).await, "May not be invited now");
    let toggle = c.find(css("[data-testid=toggle-opted-out]")).await.unwrap();
    assert!(
        toggle.is_selected().await.unwrap(),
        "the opt-out box is ticked after a restart"
    );
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_edit_is_refused_and_erasure_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("panel.db");
    let driver = Driver::start(dir.path());
    let c = open(&driver, &db).await;
    wait_for_list(&c).await;

    click(&c, "[data-testid=new-participant]").await;
    c.find(css("[data-testid=form-name]"))
        .await
        .unwrap()
        .send_keys("Ada Lovelace")
        .await
        .unwrap();
    c.find(css("[data-testid=form-email]"))
        .await
        .unwrap()
        .send_keys("ada@example.com")
        .await
        .unwrap();
    click(&c, "[data-testid=form-save]").await;
    until("the new participant", || async {
        (text(&c, "[data-testid=detail-name]").await.as_deref() == Some("Ada Lovelace"))
            .then_some(())
    })
    .await;

    click(&c, "[data-testid=edit]").await;
    let email = c
        .wait()
        .at_most(WAIT)
        .for_element(css("[data-testid=form-email]"))
        .await
        .unwrap();
    email.clear().await.unwrap();
    email.send_keys("ada@nowhere").await.unwrap();
    click(&c, "[data-testid=form-save]").await;
    let error = until("the form error", || async {
        text(&c, "[data-testid=form-error]").await
    })
    .await;
    assert_eq!(
        error,
        "Email \"ada@nowhere\" is not valid: has a domain without a dot"
    );
    c.close().await.unwrap();

    let c = open(&driver, &db).await;
    search(&c, "ada", &["Ada Lovelace"]).await;
    open_participant(&c, "Ada Lovelace").await;
    assert_eq!(
        text(&c, "[data-testid=detail-email]").await.as_deref(),
        Some("ada@example.com")
    );

    // Erasure asks first, then removes the name from the panel for good.
    click(&c, "[data-testid=erase]").await;
    let dialog = until("the erase confirmation", || async {
        text(&c, "[data-testid=erase-dialog]").await
    })
    .await;
    assert!(dialog.contains("cannot be undone"), "{dialog}");
    click(&c, "[data-testid=erase-confirm]").await;
    until("the erased record", || async {
        text(&c, "[data-testid=detail-name]")
            .await
            .filter(|n| n.starts_with("Erased participant"))
    })
    .await;
    assert_eq!(
        text(&c, "[data-testid=detail-email]").await.as_deref(),
        Some("—")
    );
    // It says what it did, item by item.
    let done = until("what the erasure did", || async {
        text(&c, "[data-testid=erase-done]").await
    })
    .await;
    assert!(
        done.contains("Name, email, phone") && done.contains("withdrawn before sending"),
        "{done}"
    );
    search(&c, "ada", &[]).await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_panel_shows_each_excluded_persons_reasons() {
    use panelkeeper::participants::governance::{self, EligibilityOptions};

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("panel.db");
    // The person the core finds excluded for the most reasons.
    let (email, name, reasons) = {
        let panel = panelkeeper::Panel::open(&db).await.unwrap();
        panelkeeper::demo::generate(&panel, 3_000, 1).await.unwrap();
        let report = governance::eligible(
            &panel,
            "eu-25-44-non-customers",
            panel.now(),
            &EligibilityOptions::default(),
        )
        .await
        .unwrap();
        let worst = report
            .excluded
            .iter()
            .max_by_key(|e| (e.reasons.len(), std::cmp::Reverse(e.id)))
            .unwrap();
        let found = (
            worst.email.clone().unwrap(),
            worst.name.clone(),
            worst.reasons.len(),
        );
        panel.close().await;
        found
    };
    assert!(reasons >= 1, "the demo panel has someone excluded");

    let driver = Driver::start(dir.path());
    let c = open(&driver, &db).await;
    wait_for_list(&c).await;
    let total = until("the page count", || async {
        text(&c, "[data-testid=page-info]")
            .await
            .filter(|t| t.contains("of"))
    })
    .await;
    // The separator, if any, follows the machine's locale.
    let digits: String = total
        .chars()
        .filter(|c| !matches!(c, ',' | '.' | ' ' | '\u{a0}' | '\u{202f}'))
        .collect();
    assert!(digits.ends_with("of3000"), "{total}");
    search(&c, &email, &[&name]).await;
    open_participant(&c, &name).await;
    assert_eq!(governance(&c).await, "May not be invited now");
    let shown = c
        .find_all(css("[data-testid=governance-reasons] li"))
        .await
        .unwrap();
    assert_eq!(shown.len(), reasons, "every reason the core gives is shown");
    type_search(&c, "").await;
    until("the whole panel listed again", || async {
        (row_names(&c).await.len() == 50).then_some(())
    })
    .await;
    screenshot(&c, "demo-panel.png").await;
    c.close().await.unwrap();
}

#[path = "../../tests/common/smtp.rs"]
mod smtp;

/// Types into an input that may hold text: backspaces first (clearing fires
/// no input event in WebKitWebDriver; a backspace does).
async fn fill(c: &Client, selector: &str, value: &str) {
    let input = c
        .wait()
        .at_most(WAIT)
        .for_element(css(selector))
        .await
        .unwrap();
    let old = input.prop("value").await.unwrap().unwrap_or_default();
    let keys = "\u{E003}".repeat(old.chars().count()) + value;
    until(&format!("{selector} to take input"), || async {
        input.send_keys(&keys).await.ok()
    })
    .await;
}

async fn badge(c: &Client) -> Option<String> {
    text(c, "[data-testid=outbox-badge]").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_settings_a_test_email_offline_then_delivered_from_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("panel.db");
    let port = smtp::free_port();
    let driver = Driver::start(dir.path());
    let c = open(&driver, &db).await;
    wait_for_list(&c).await;

    click(&c, "[data-testid=nav-settings]").await;
    fill(&c, "input[name=host]", "127.0.0.1").await;
    fill(&c, "input[name=port]", &port.to_string()).await;
    click(&c, "select[name=tls] option[value=none]").await;
    fill(&c, "input[name=fromAddress]", "research@panel.example.com").await;
    fill(&c, "input[name=fromName]", "Panel Research").await;
    click(&c, "[data-testid=smtp-save]").await;
    until("the settings to be saved", || async {
        text(&c, "[data-testid=settings-notice]").await
    })
    .await;

    // No server yet (offline): the test message waits and says why.
    fill(&c, "input[name=testAddress]", "me@example.org").await;
    click(&c, "[data-testid=send-test]").await;
    let outcome = until("the test outcome", || async {
        text(&c, "[data-testid=test-outcome]")
            .await
            .filter(|t| t.starts_with("Not sent yet"))
    })
    .await;
    assert!(
        outcome.contains(&format!("could not connect to 127.0.0.1:{port}")),
        "{outcome}"
    );
    assert_eq!(badge(&c).await.as_deref(), Some("1"));

    // The server comes up; "Retry now" in the outbox sends it, once.
    let server = smtp::SmtpServer::start_on(port, dir.path(), &[]);
    click(&c, "[data-testid=nav-outbox]").await;
    click(&c, "[data-testid=outbox-retry]").await;
    until("the message to show as sent", || async {
        let rows = c
            .find_all(css("[data-testid=outbox-row][data-status=sent]"))
            .await
            .ok()?;
        (rows.len() == 1).then_some(())
    })
    .await;
    until("the badge to clear", || async {
        badge(&c).await.is_none().then_some(())
    })
    .await;
    screenshot(&c, "outbox.png").await;
    let delivered = server.delivered();
    assert_eq!(delivered.len(), 1);
    let got = delivered[0].parsed();
    assert_eq!(got.subject(), Some("Panelkeeper test message"));
    assert_eq!(
        got.to().unwrap().first().unwrap().address(),
        Some("me@example.org")
    );

    // With the server up, the settings view reports the real outcome.
    click(&c, "[data-testid=nav-settings]").await;
    fill(&c, "input[name=testAddress]", "second@example.org").await;
    click(&c, "[data-testid=send-test]").await;
    until("the sent outcome", || async {
        text(&c, "[data-testid=test-outcome]")
            .await
            .filter(|t| t.starts_with("Sent: the server accepted it"))
    })
    .await;
    assert_eq!(server.delivered().len(), 2);
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_in_another_zone_invited_through_a_screener_confirmed_and_attended() {
    use chrono::{Duration as Span, Timelike, Utc};
    use panelkeeper::mail::settings;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("panel.db");
    let server = smtp::SmtpServer::start(dir.path(), &[]);
    {
        let panel = panelkeeper::Panel::open(&db).await.unwrap();
        panelkeeper::demo::generate(&panel, 3_000, 1).await.unwrap();
        settings::set(&panel, smtp::local_smtp(server.port))
            .await
            .unwrap();
        panel.close().await;
    }
    // Thirty minutes from now, on Tokyo's clock (the machine runs on UTC),
    // so attendance can be taken.
    let tokyo: chrono_tz::Tz = "Asia/Tokyo".parse().unwrap();
    let start = (Utc::now() + Span::minutes(30))
        .with_timezone(&tokyo)
        .naive_local();
    let start = start.with_second(0).unwrap().with_nanosecond(0).unwrap();

    let driver = Driver::start(dir.path());
    let c = open(&driver, &db).await;
    wait_for_list(&c).await;
    click(&c, "[data-testid=nav-sessions]").await;
    click(&c, "[data-testid=new-session]").await;
    fill(
        &c,
        "form[data-testid=session-form] input[name=title]",
        "E2E focus group",
    )
    .await;
    // Typed as a person types them, the day and the time.
    fill(
        &c,
        "input[name=startDay]",
        &start.format("%d.%m.%Y").to_string(),
    )
    .await;
    fill(
        &c,
        "input[name=startTime]",
        &start.format("%H%M").to_string(),
    )
    .await;
    fill(&c, "input[name=timeZone]", "Asia/Tokyo").await;
    let utc = (start - Span::hours(9))
        .format("%Y-%m-%d %H:%M UTC")
        .to_string();
    let preview = until("the start shown in UTC before saving", || async {
        text(&c, "[data-testid=start-preview]")
            .await
            .filter(|p| p.contains(&utc))
    })
    .await;
    assert!(preview.contains("in Asia/Tokyo"), "{preview}");
    fill(&c, "input[name=seats]", "2").await;
    fill(&c, "input[name=overRecruit]", "3").await;
    click(&c, "[data-testid=session-save]").await;
    let when = until("the new session", || async {
        text(&c, "[data-testid=session-when]")
            .await
            .filter(|w| !w.is_empty())
    })
    .await;
    assert!(
        when.contains("Asia/Tokyo") && when.contains(&start.format("%H:%M").to_string()),
        "{when}"
    );
    assert_eq!(
        text(&c, "[data-testid=session-title]").await.as_deref(),
        Some("E2E focus group")
    );

    // Invite through a screener: the preview lists the excluded with reasons.
    click(&c, "[data-testid=invite]").await;
    click(
        &c,
        "[data-testid=invite-screener] option[value=eu-25-44-non-customers]",
    )
    .await;
    fill(&c, "[data-testid=invite-limit]", "5").await;
    click(&c, "[data-testid=invite-preview]").await;
    let summary = until("the preview", || async {
        text(&c, "[data-testid=invite-summary]").await
    })
    .await;
    assert!(summary.starts_with("5 to invite"), "{summary}");
    let excluded = text(&c, "[data-testid=invite-excluded]").await.unwrap();
    let reasons = [
        "Opted out on",
        "In cooldown",
        "On suppression list",
        "no-shows",
        "sessions in the last 12 months",
        "Marked do not contact",
    ];
    assert!(reasons.iter().any(|r| excluded.contains(r)), "{excluded}");
    screenshot(&c, "invite.png").await;
    click(&c, "[data-testid=invite-send]").await;
    until("five on the roster", || async {
        let rows = c.find_all(css("[data-testid=roster-row]")).await.ok()?;
        (rows.len() == 5).then_some(())
    })
    .await;

    // Two confirm; the first came.
    for n in [1, 2] {
        click(
            &c,
            &format!("[data-testid=roster-row]:nth-child({n}) select option[value=confirmed]"),
        )
        .await;
        until(&format!("row {n} confirmed"), || async {
            let seats = text(&c, "[data-testid=session-seats]").await?;
            seats
                .starts_with(&format!("{n} confirmed of 3 wanted for 2 seats"))
                .then_some(())
        })
        .await;
    }
    click(
        &c,
        "[data-testid=roster-row]:nth-child(1) [data-testid=attendance-attended]",
    )
    .await;
    until("attendance taken", || async {
        let b = c
            .find(css(
                "[data-testid=roster-row]:nth-child(1) [data-testid=attendance-attended]",
            ))
            .await
            .ok()?;
        (b.attr("aria-pressed").await.ok()?? == "true").then_some(())
    })
    .await;
    screenshot(&c, "sessions.png").await;

    // The app's mail worker delivers the five invitations, once each (the
    // demo panel's overdue issues are escalated alongside them).
    let invitations = || {
        server
            .delivered()
            .into_iter()
            .filter(|d| {
                d.parsed()
                    .subject()
                    .is_some_and(|s| s.starts_with("Invitation: E2E focus group"))
            })
            .collect::<Vec<_>>()
    };
    until("the invitations at the SMTP server", || async {
        (invitations().len() >= 5).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let delivered = invitations();
    assert_eq!(delivered.len(), 5);
    for d in &delivered {
        let got = d.parsed();
        assert!(
            got.attachments()
                .any(|a| a.attachment_name() == Some("invite.ics"))
        );
    }
    c.close().await.unwrap();
}

/// Presses keys in the element `selector` names; `\u{E00A}` is Alt and
/// `\u{E000}` releases every modifier (WebDriver's key codes).
async fn press(c: &Client, selector: &str, keys: &str) {
    let element = c
        .wait()
        .at_most(WAIT)
        .for_element(css(selector))
        .await
        .unwrap();
    until(&format!("{selector} to take keys"), || async {
        element.send_keys(keys).await.ok()
    })
    .await;
}

const ALT: &str = "\u{E00A}";
const RELEASE: &str = "\u{E000}";
const ENTER: &str = "\u{E007}";

/// Subjects of the messages delivered to `to`.
fn subjects_to(server: &smtp::SmtpServer, to: &str) -> Vec<String> {
    server
        .delivered()
        .iter()
        .map(|d| d.parsed())
        .filter(|m| m.to().and_then(|t| t.first()).and_then(|a| a.address()) == Some(to))
        .filter_map(|m| m.subject().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_notes_an_issue_raised_owned_handed_off_contacted_and_resolved_and_all_kept() {
    use chrono::{Duration as Span, Timelike, Utc};
    use panelkeeper::mail::settings;
    use panelkeeper::participants::{self, ParticipantInput};
    use panelkeeper::sessions::staff::{self, StaffInput};
    use panelkeeper::sessions::{self, Rsvp, SessionInput, roster};

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("panel.db");
    let server = smtp::SmtpServer::start(dir.path(), &[]);
    {
        let panel = panelkeeper::Panel::open(&db).await.unwrap();
        settings::set(&panel, smtp::local_smtp(server.port))
            .await
            .unwrap();
        for (name, email, lead) in [
            ("Lea Lead", "lea@company.example.com", None),
            (
                "Ana Moderator",
                "ana@company.example.com",
                Some("lea@company.example.com"),
            ),
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
                &panel,
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
        let ana = staff::by_email(&panel, "ana@company.example.com")
            .await
            .unwrap();
        staff::set_current(&panel, ana.id).await.unwrap();
        for (name, email) in [
            ("Björn Ek", "bjorn@example.org"),
            ("Zoë Ålander", "zoe@example.org"),
        ] {
            participants::create(
                &panel,
                &ParticipantInput {
                    name: name.into(),
                    email: email.into(),
                    phone: Some("+46 70 123 45 67".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        }
        // Started ten minutes ago.
        let start = (Utc::now() - Span::minutes(10)).naive_utc();
        let session = sessions::create(
            &panel,
            &SessionInput {
                title: "Delivery panel".into(),
                start: Some(start.with_second(0).unwrap().with_nanosecond(0).unwrap()),
                time_zone: "UTC".into(),
                minutes: 90,
                moderator: "ana@company.example.com".into(),
                seats: 4,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        roster::invite(
            &panel,
            session.id,
            &sessions::InviteRequest {
                invitees: sessions::Invitees::Participants {
                    keys: vec!["bjorn@example.org".into(), "zoe@example.org".into()],
                },
                preview: false,
                allow_double_booking: false,
                // The session is under way: they join it.
                allow_started: true,
                excluded_limit: None,
            },
        )
        .await
        .unwrap();
        for p in ["bjorn@example.org", "zoe@example.org"] {
            roster::rsvp(&panel, session.id, p, Rsvp::Confirmed)
                .await
                .unwrap();
        }
        panel.close().await;
    }

    let driver = Driver::start(dir.path());
    let c = open(&driver, &db).await;
    wait_for_list(&c).await;
    click(&c, "[data-testid=nav-sessions]").await;
    click(&c, "[data-testid=mode-list]").await;
    click(&c, "[data-testid=session-row] td").await;
    click(&c, "[data-testid=go-live]").await;
    let clock = until("the session clock", || async {
        text(&c, "[data-testid=session-clock]")
            .await
            .filter(|t| !t.is_empty())
    })
    .await;
    assert!(clock.starts_with("+00:1"), "ten minutes in: {clock}");
    let roster = text(&c, "[data-testid=live-roster]").await.unwrap();
    assert!(
        roster.contains("Björn Ek") && roster.contains("Zoë Ålander"),
        "{roster}"
    );

    // Type notes; Enter saves each. Alt+2 attributes the second to Zoë.
    let input = "[data-testid=note-input]";
    press(
        &c,
        input,
        &format!("Welcome and introductions #intro{ENTER}"),
    )
    .await;
    press(
        &c,
        input,
        "My parcel never arrived and nobody answers #delivery",
    )
    .await;
    press(&c, input, &format!("{ALT}2{RELEASE}")).await;
    until("the note attributed to Zoë", || async {
        text(&c, "[data-testid=attributed]")
            .await
            .filter(|t| t.contains("Zoë Ålander"))
    })
    .await;
    press(&c, input, ENTER).await;
    until("two notes saved", || async {
        let notes = c.find_all(css("[data-testid=live-note]")).await.ok()?;
        (notes.len() == 2).then_some(())
    })
    .await;
    assert_eq!(
        text(&c, "[data-testid=note-participant]").await.as_deref(),
        Some("Zoë Ålander")
    );

    // Alt+I raises an issue from the current note; no owner yet.
    press(&c, input, &format!("{ALT}i{RELEASE}")).await;
    let summary = c
        .wait()
        .at_most(WAIT)
        .for_element(css("[data-testid=issue-summary]"))
        .await
        .unwrap();
    assert_eq!(
        summary.prop("value").await.unwrap().as_deref(),
        Some("My parcel never arrived and nobody answers")
    );
    click(&c, "[data-testid=issue-severity] option[value=high]").await;
    click(&c, "[data-testid=raise]").await;
    until("the issue listed without an owner", || async {
        text(&c, "[data-testid=live-issues]")
            .await
            .filter(|t| t.contains("No owner"))
    })
    .await;

    // The session cannot be completed while the issue has no owner.
    click(&c, "[data-testid=leave-live]").await;
    click(&c, "[data-testid=session-row] td").await;
    click(&c, "[data-testid=complete-session]").await;
    let refused = until("completion refused", || async {
        text(&c, "[data-testid=session-error]").await
    })
    .await;
    assert!(refused.contains("without an owner"), "{refused}");

    // Assign Sam in the live view: Sam's mail arrives, with what Zoë said.
    click(&c, "[data-testid=go-live]").await;
    click(
        &c,
        "[data-testid=assign-owner] option[value='sam@company.example.com']",
    )
    .await;
    until("the owner shown", || async {
        text(&c, "[data-testid=live-issues]")
            .await
            .filter(|t| t.contains("Owner: Sam Owner"))
    })
    .await;
    let assigned = until("the owner's mail at the SMTP server", || async {
        server.delivered().iter().find_map(|d| {
            let m = d.parsed();
            m.subject()
                .is_some_and(|s| s.starts_with("Yours to follow up"))
                .then(|| m.body_text(0).unwrap_or_default().to_string())
        })
    })
    .await;
    screenshot(&c, "live.png").await;
    assert!(assigned.contains("My parcel never arrived"), "{assigned}");
    assert!(assigned.contains("zoe@example.org"), "{assigned}");

    // Now the session completes.
    click(&c, "[data-testid=leave-live]").await;
    click(&c, "[data-testid=session-row] td").await;
    click(&c, "[data-testid=complete-session]").await;
    until("the session complete", || async {
        text(&c, "[data-testid=session-complete]").await
    })
    .await;

    // Hand it to Kim with a reason: Zoë is told who has it now.
    click(&c, "[data-testid=nav-followups]").await;
    click(&c, "[data-testid=tab-all]").await;
    click(&c, "[data-testid=issue-row] td").await;
    click(
        &c,
        "[data-testid=new-owner] option[value='kim@company.example.com']",
    )
    .await;
    click(&c, "[data-testid=reassign]").await;
    let refused = until("a hand-off without a reason refused", || async {
        text(&c, "[data-testid=issue-error]").await
    })
    .await;
    assert_eq!(refused, "Reason is required");
    click(
        &c,
        "[data-testid=new-owner] option[value='kim@company.example.com']",
    )
    .await;
    fill(&c, "[data-testid=handoff-reason]", "Kim handles deliveries").await;
    click(&c, "[data-testid=reassign]").await;
    until("one hand-off", || async {
        text(&c, "[data-testid=issue-handoffs]")
            .await
            .filter(|t| t == "1")
    })
    .await;
    until("Zoë's hand-off notice", || async {
        subjects_to(&server, "zoe@example.org")
            .into_iter()
            .find(|s| s.starts_with("Kim Care now looks after"))
    })
    .await;

    // Kim, on this computer, sees it in "My follow-ups"; logs a contact and resolves.
    click(&c, "[data-testid=nav-settings]").await;
    let kim = until("Kim among the staff", || async {
        for o in c
            .find_all(css("[data-testid=staff-me] option"))
            .await
            .ok()?
        {
            if o.text().await.ok()? == "Kim Care" {
                return Some(o);
            }
        }
        None
    })
    .await;
    kim.click().await.unwrap();
    click(&c, "[data-testid=nav-followups]").await;
    click(&c, "[data-testid=tab-mine]").await;
    let mine = until("the issue in Kim's follow-ups", || async {
        text(&c, "[data-testid=mine-soon] [data-testid=my-issue]").await
    })
    .await;
    assert!(mine.contains("My parcel never arrived"), "{mine}");
    screenshot(&c, "followups.png").await;
    click(&c, "[data-testid=quick-contact]").await;
    fill(
        &c,
        "[data-testid=quick-outcome]",
        "Called Zoë; replacement agreed",
    )
    .await;
    click(&c, "[data-testid=quick-contact-save]").await;
    until("resolve enabled", || async {
        let b = c.find(css("[data-testid=quick-resolve]")).await.ok()?;
        b.attr("disabled").await.ok()?.is_none().then_some(())
    })
    .await;
    click(&c, "[data-testid=quick-resolve]").await;
    fill(
        &c,
        "[data-testid=my-issue] [data-testid=reply-note]",
        "Replacement shipped",
    )
    .await;
    fill(
        &c,
        "[data-testid=my-issue] [data-testid=reply-message]",
        "Your replacement left our warehouse today.",
    )
    .await;
    // Kim reads the message as Zoë will get it before it is queued.
    click(
        &c,
        "[data-testid=my-issue] [data-testid=reply-preview-resolve]",
    )
    .await;
    let preview = until("the message to Zoë, previewed", || async {
        text(&c, "[data-testid=my-issue] [data-testid=reply-preview]").await
    })
    .await;
    assert!(
        preview.contains("Your replacement left our warehouse today."),
        "{preview}"
    );
    assert!(preview.contains("kim@company.example.com"), "{preview}");
    screenshot(&c, "resolve-preview.png").await;
    assert!(
        !server.delivered().iter().any(|d| d
            .parsed()
            .subject()
            .is_some_and(|s| s.starts_with("Resolved:"))),
        "nothing goes before it is sent"
    );
    click(&c, "[data-testid=my-issue] [data-testid=reply-send]").await;
    until("nothing left in Kim's follow-ups", || async {
        c.find_all(css("[data-testid=my-issue]"))
            .await
            .ok()?
            .is_empty()
            .then_some(())
    })
    .await;
    let resolved = until("Zoë's resolution message", || async {
        server.delivered().iter().find_map(|d| {
            let m = d.parsed();
            m.subject()
                .is_some_and(|s| s.starts_with("Resolved:"))
                .then(|| m.body_text(0).unwrap_or_default().to_string())
        })
    })
    .await;
    assert!(
        resolved.contains("Your replacement left our warehouse today."),
        "{resolved}"
    );
    c.close().await.unwrap();

    // Restart: the notes, the issue and its whole story are there.
    let c = open(&driver, &db).await;
    wait_for_list(&c).await;
    click(&c, "[data-testid=nav-sessions]").await;
    click(&c, "[data-testid=mode-list]").await;
    click(&c, "[data-testid=session-row] td").await;
    until("the session still complete", || async {
        text(&c, "[data-testid=session-complete]").await
    })
    .await;
    click(&c, "[data-testid=go-live]").await;
    let notes = until("the notes after a restart", || async {
        text(&c, "[data-testid=live-notes]")
            .await
            .filter(|t| t.contains("#delivery"))
    })
    .await;
    assert!(
        notes.contains("Welcome and introductions") && notes.contains("Zoë Ålander"),
        "{notes}"
    );
    click(&c, "[data-testid=leave-live]").await;
    click(&c, "[data-testid=nav-followups]").await;
    click(&c, "[data-testid=tab-all]").await;
    click(&c, "[data-testid=issue-row] td").await;
    let status = until("the issue's status", || async {
        text(&c, "[data-testid=issue-status]").await
    })
    .await;
    assert_eq!(status, "Resolved");
    assert_eq!(
        text(&c, "[data-testid=issue-owner-name]").await.as_deref(),
        Some("Kim Care")
    );
    assert_eq!(
        text(&c, "[data-testid=issue-handoffs]").await.as_deref(),
        Some("1")
    );
    let contacts = text(&c, "[data-testid=issue-contacts]").await.unwrap();
    assert!(
        contacts.contains("Called Zoë; replacement agreed"),
        "{contacts}"
    );
    let events = text(&c, "[data-testid=issue-events]").await.unwrap();
    for e in [
        "Raised",
        "Assigned",
        "Handed off",
        "Contact logged",
        "Resolved",
    ] {
        assert!(events.contains(e), "{e} missing from {events}");
    }
    screenshot(&c, "issue.png").await;

    // The dashboard counts it: raised this month, nothing left open.
    click(&c, "[data-testid=tab-dashboard]").await;
    let raised = until("the dashboard's figures", || async {
        text(&c, "[data-testid=fig-raised]").await
    })
    .await;
    assert_eq!(raised, "1");
    assert_eq!(
        text(&c, "[data-testid=fig-open]").await.as_deref(),
        Some("0")
    );
    assert!(
        text(&c, "[data-testid=dashboard-owners]")
            .await
            .unwrap_or_default()
            .contains("Kim Care")
    );
    // Drawn as charts: each canvas has ink on it, and says in words what
    // it shows, with the same figures.
    let inked = until("the charts drawn", || async {
        let inked = c
            .execute(
                "return [...document.querySelectorAll('[data-testid^=chart-] canvas')].map((k) => {
                   const d = k.getContext('2d').getImageData(0, 0, k.width, k.height).data;
                   let n = 0;
                   for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
                   return n;
                 })",
                vec![],
            )
            .await
            .ok()?;
        let inked: Vec<u64> = serde_json::from_value(inked).ok()?;
        (inked.len() == 4 && inked.iter().all(|&n| n > 100)).then_some(inked)
    })
    .await;
    assert_eq!(inked.len(), 4);
    let words = c
        .find(css("[data-testid=chart-owners]"))
        .await
        .unwrap()
        .attr("aria-label")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        words.contains("Kim Care, 1 resolved, 0 open, 0 overdue"),
        "{words}"
    );
    screenshot(&c, "dashboard.png").await;

    // The follow-up report of the same days says the same.
    let first_contact = text(&c, "[data-testid=fig-first-contact]").await.unwrap();
    let resolution = text(&c, "[data-testid=fig-resolution]").await.unwrap();
    click(&c, "[data-testid=export-followups]").await;
    let followups = dir.path().join("follow-ups.pdf");
    fill(&c, "[data-testid=export-path]", followups.to_str().unwrap()).await;
    click(&c, "[data-testid=export-run]").await;
    until("the follow-up report", || async {
        text(&c, "[data-testid=export-done]").await
    })
    .await;
    let out = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&followups)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils, installed by scripts/setup)");
    let report = String::from_utf8(out.stdout).unwrap();
    for expected in [first_contact.as_str(), resolution.as_str(), "Kim Care"] {
        assert!(
            report.contains(expected),
            "the dashboard's {expected} is not in the follow-up report:\n{report}"
        );
    }
    assert!(
        report
            .lines()
            .any(|l| l.contains("Issues raised") && l.trim_end().ends_with('1')),
        "{report}"
    );
    click(&c, "[data-testid=export-followups]").await;

    // Export the session's report to a path, anonymised, and read it back.
    click(&c, "[data-testid=nav-sessions]").await;
    click(&c, "[data-testid=mode-list]").await;
    click(&c, "[data-testid=session-row] td").await;
    click(&c, "[data-testid=export-session]").await;
    click(&c, "[data-testid=export-anonymise]").await;
    let pdf = dir.path().join("Delivery panel.pdf");
    fill(&c, "[data-testid=export-path]", pdf.to_str().unwrap()).await;
    click(&c, "[data-testid=export-run]").await;
    let done = until("the export", || async {
        text(&c, "[data-testid=export-done]").await
    })
    .await;
    assert!(done.contains("Delivery panel.pdf"), "{done}");
    let out = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils, installed by scripts/setup)");
    let report = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "Delivery panel",
        "Welcome and introductions #intro",
        "My parcel never arrived and nobody answers",
        "Participant 2",
        "Kim Care",
        "Resolved",
    ] {
        assert!(
            report.contains(expected),
            "{expected} missing from the PDF:\n{report}"
        );
    }
    assert!(
        !report.contains("Zoë"),
        "an anonymised report names Zoë:\n{report}"
    );
    assert!(!report.contains("DRAFT"));

    // Mail the same report to a client, seen first as it will go: it
    // arrives with the PDF attached.
    fill(&c, "[data-testid=mail-to]", "client@example.org").await;
    fill(
        &c,
        "[data-testid=mail-message]",
        "Tuesday's session, anonymised.",
    )
    .await;
    click(&c, "[data-testid=mail-preview]").await;
    let preview = until("the mail's preview", || async {
        text(&c, "[data-testid=mail-preview-text]").await
    })
    .await;
    assert!(
        preview.contains("Tuesday's session, anonymised."),
        "{preview}"
    );
    click(&c, "[data-testid=mail-send]").await;
    let queued = until("the report to be queued", || async {
        text(&c, "[data-testid=mail-done]").await
    })
    .await;
    assert!(queued.contains("client@example.org"), "{queued}");
    let (name, content, body) = until("the report to be delivered", || async {
        server.delivered().iter().find_map(|d| {
            let m = d.parsed();
            if m.to()?.first()?.address()? != "client@example.org" {
                return None;
            }
            let pdf = m.attachments().next()?;
            Some((
                pdf.attachment_name()?.to_string(),
                pdf.contents().to_vec(),
                m.body_text(0)?.to_string(),
            ))
        })
    })
    .await;
    assert_eq!(name, "Delivery panel.pdf");
    assert!(content.starts_with(b"%PDF"), "the attachment is not a PDF");
    assert!(body.contains("Tuesday's session, anonymised."), "{body}");
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_panel_offers_three_starts_and_the_demo_fills_it_with_progress_shown() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("panel.db");
    let driver = Driver::start(dir.path());
    let c = open(&driver, &db).await;
    let empty = until("the empty panel's starts", || async {
        text(&c, "[data-testid=empty-panel]").await
    })
    .await;
    assert!(empty.contains("nobody on it yet"), "{empty}");
    // A first run: who uses this computer, and mail not set up yet.
    assert!(
        text(&c, "[data-testid=first-run-mail]")
            .await
            .is_some_and(|t| t.contains("Mail is not set up yet")),
        "the mail step"
    );
    assert!(c.find(css("[data-testid=who-uses-this]")).await.is_ok());
    fill(&c, "input[name=meName]", "Rosa Researcher").await;
    fill(&c, "input[name=meEmail]", "rosa@company.example.com").await;
    click(&c, "[data-testid=first-run-save]").await;
    let hello = until("the first run's greeting", || async {
        text(&c, "[data-testid=first-run-me]").await
    })
    .await;
    assert!(hello.contains("Rosa Researcher"), "{hello}");
    {
        let panel = panelkeeper::Panel::open(&db).await.unwrap();
        let me = panelkeeper::sessions::staff::current(&panel).await.unwrap();
        assert_eq!(
            me.map(|s| s.email).as_deref(),
            Some("rosa@company.example.com")
        );
        panel.close().await;
    }
    for start in ["start-import", "start-add", "start-demo"] {
        assert!(
            c.find(css(&format!("[data-testid={start}]"))).await.is_ok(),
            "no {start}"
        );
    }
    assert!(
        c.find(css("[data-testid=page-info]"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .is_ok_and(|shown| !shown),
        "no '0 of 0' pager on an empty panel"
    );
    click(&c, "[data-testid=start-demo]").await;
    let progress = until("the demo's progress", || async {
        text(&c, "[data-testid=demo-progress]").await
    })
    .await;
    assert!(progress.ends_with('…'), "{progress}");
    until("the demo panel's people in the list", || async {
        let info = text(&c, "[data-testid=page-info]").await?;
        let digits = info.replace([',', '.', ' ', '\u{a0}', '\u{202f}'], "");
        digits.ends_with("of1000").then_some(())
    })
    .await;
    assert!(c.find(css("[data-testid=empty-panel]")).await.is_err());
    until(
        "the header no longer asking who uses this computer",
        || async {
            c.find(css("[data-testid=who-uses-this]"))
                .await
                .is_err()
                .then_some(())
        },
    )
    .await;
    screenshot(&c, "demo-started.png").await;
    c.close().await.unwrap();
}

#[path = "../../tests/common/imap.rs"]
mod imap;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participants_reply_arrives_in_the_issue_pane_and_the_owner_answers_from_the_app() {
    use chrono::{Duration as Span, Timelike, Utc};
    use panelkeeper::inbox::settings as inbox;
    use panelkeeper::issues::{self, ContactVia, IssueInput};
    use panelkeeper::mail::{self, MessageKind, OutboxQuery, settings};
    use panelkeeper::notes::{self, NoteInput};
    use panelkeeper::participants::{self, ParticipantInput};
    use panelkeeper::sessions::staff::{self, StaffInput};
    use panelkeeper::sessions::{self, SessionInput};

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("panel.db");
    let server = smtp::SmtpServer::start(dir.path(), &[]);
    let mailbox = imap::ImapServer::start(dir.path());
    let issue = {
        let panel = panelkeeper::Panel::open(&db).await.unwrap();
        settings::set(&panel, smtp::local_smtp(server.port))
            .await
            .unwrap();
        inbox::set(&panel, mailbox.settings()).await.unwrap();
        for (name, email) in [
            ("Ana Moderator", "ana@company.example.com"),
            ("Sam Owner", "sam@company.example.com"),
        ] {
            staff::add(
                &panel,
                &StaffInput {
                    name: name.into(),
                    email: email.into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        }
        // The owner uses this computer.
        let sam = staff::by_email(&panel, "sam@company.example.com")
            .await
            .unwrap();
        staff::set_current(&panel, sam.id).await.unwrap();
        participants::create(
            &panel,
            &ParticipantInput {
                name: "Zoë Ålander".into(),
                email: "zoe@example.org".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let start = (Utc::now() - Span::hours(3)).naive_utc();
        let session = sessions::create(
            &panel,
            &SessionInput {
                title: "Returns panel".into(),
                start: Some(start.with_second(0).unwrap().with_nanosecond(0).unwrap()),
                time_zone: "UTC".into(),
                minutes: 60,
                moderator: "ana@company.example.com".into(),
                seats: 4,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let said = notes::add(
            &panel,
            session.id,
            &NoteInput {
                text: "My refund never came".into(),
                participant: Some("zoe@example.org".into()),
                author: None,
            },
        )
        .await
        .unwrap();
        let issue = issues::raise(
            &panel,
            &IssueInput {
                note: Some(said.id),
                summary: "Refund not received".into(),
                owner: Some("sam@company.example.com".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        issues::log_contact(&panel, issue.id, ContactVia::Phone, "Refund re-issued")
            .await
            .unwrap();
        issues::resolve(&panel, issue.id, "Re-issued", "Your refund is on its way.")
            .await
            .unwrap();
        let resolution = mail::list(
            &panel,
            &OutboxQuery {
                status: None,
                limit: Some(50),
                offset: None,
            },
        )
        .await
        .unwrap()
        .messages
        .into_iter()
        .find(|m| m.kind == MessageKind::Resolution)
        .unwrap();
        // Zoë answers the resolution from her mail program.
        mailbox.deliver(
            format!(
                "From: Zoe Alander <zoe@example.org>\r\nTo: Sam Owner <sam@company.example.com>\r\n\
                 Subject: Re: {}\r\nMessage-ID: <zoe-1@example.org>\r\nIn-Reply-To: {}\r\n\
                 Date: Tue, 2 Jun 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
                 It still hasn't arrived, sorry.\r\n\r\nOn Mon, Sam Owner wrote:\r\n> Your refund is on its way.\r\n",
                resolution.subject, resolution.message_id
            )
            .as_bytes(),
        );
        panel.close().await;
        issue.id
    };

    let driver = Driver::start(dir.path());
    let c = open(&driver, &db).await;
    wait_for_list(&c).await;
    // The app reads the mailbox as it opens: the reply reopens the issue,
    // which comes back into Sam's follow-ups.
    until("the reopened issue in My follow-ups", || async {
        click(&c, "[data-testid=nav-inbox]").await;
        click(&c, "[data-testid=nav-followups]").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.find(css(&format!(
            "[data-testid=my-issue][data-issue='{}']",
            issue.0
        )))
        .await
        .ok()
    })
    .await;
    click(&c, "[data-testid=my-issue] .issue-line").await;
    let conversation = until("the conversation in the issue pane", || async {
        text(&c, "[data-testid=issue-conversation]").await
    })
    .await;
    assert!(
        conversation.contains("It still hasn't arrived, sorry."),
        "{conversation}"
    );
    assert!(
        !conversation.contains("on its way"),
        "the quoted history is folded away: {conversation}"
    );
    let events = text(&c, "[data-testid=issue-events]").await.unwrap();
    assert!(events.contains("Reopened"), "{events}");
    // Sam was told, once.
    let told = until("Sam's notice of the reply", || async {
        let n = server
            .delivered()
            .iter()
            .filter(|d| {
                d.parsed()
                    .subject()
                    .is_some_and(|s| s.starts_with("Zoë Ålander replied on #"))
            })
            .count();
        (n > 0).then_some(n)
    })
    .await;
    assert_eq!(told, 1);

    // Sam answers from the app: a call, then the resolution with a message.
    click(&c, "[data-testid=my-issue] [data-testid=quick-contact]").await;
    fill(
        &c,
        "[data-testid=quick-outcome]",
        "Called Zoë, traced the payment",
    )
    .await;
    click(&c, "[data-testid=quick-contact-save]").await;
    until("resolve enabled", || async {
        let b = c.find(css("[data-testid=quick-resolve]")).await.ok()?;
        b.attr("disabled").await.ok()?.is_none().then_some(())
    })
    .await;
    click(&c, "[data-testid=quick-resolve]").await;
    fill(
        &c,
        "[data-testid=my-issue] [data-testid=reply-note]",
        "Bank error, fixed",
    )
    .await;
    fill(
        &c,
        "[data-testid=my-issue] [data-testid=reply-message]",
        "The bank has found it: it is back in your account today.",
    )
    .await;
    click(
        &c,
        "[data-testid=my-issue] [data-testid=reply-preview-resolve]",
    )
    .await;
    click(&c, "[data-testid=my-issue] [data-testid=reply-send]").await;
    let answer = until("Sam's answer reaching Zoë", || async {
        server.delivered().iter().find_map(|d| {
            let m = d.parsed();
            let second = m.subject().is_some_and(|s| s.starts_with("Resolved:"))
                && m.body_text(0)
                    .is_some_and(|b| b.contains("back in your account"));
            second.then(|| m.header_raw("Reply-To").unwrap_or_default().to_string())
        })
    })
    .await;
    // Her next answer reaches Sam and the record.
    assert!(
        answer.contains("sam@company.example.com") && answer.contains("research+i"),
        "{answer}"
    );

    // Her page tells the story, newest first, and each part opens its record.
    click(&c, "[data-testid=nav-participants]").await;
    wait_for_list(&c).await;
    until("her row", || async {
        row_names(&c)
            .await
            .contains(&"Zoë Ålander".to_string())
            .then_some(())
    })
    .await;
    open_participant(&c, "Zoë Ålander").await;
    let kinds = until("her timeline", || async {
        let entries = c.find_all(css("[data-testid=timeline-entry]")).await.ok()?;
        let mut kinds = Vec::new();
        for e in entries {
            kinds.push(e.attr("data-kind").await.ok()??);
        }
        kinds.contains(&"mailReceived".to_string()).then_some(kinds)
    })
    .await;
    for kind in ["mailSent", "mailReceived", "issue", "note"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    let story = text(&c, "[data-testid=timeline]").await.unwrap();
    assert!(story.contains(&format!("Raised #{}", issue.0)), "{story}");
    assert!(story.contains("Resolved"), "{story}");
    screenshot(&c, "participant-timeline.png").await;
    click(&c, "[data-testid=timeline-issue]").await;
    until("the issue opened from her page", || async {
        text(&c, "[data-testid=issue-detail] h2")
            .await
            .filter(|t| t.contains(&format!("#{}", issue.0)))
    })
    .await;
    // And her name there leads back to her page.
    click(&c, "[data-testid=issue-participant]").await;
    until("her page again", || async {
        (text(&c, "[data-testid=detail-name]").await.as_deref() == Some("Zoë Ålander"))
            .then_some(())
    })
    .await;
    c.close().await.unwrap();
}

const ARROW_LEFT: &str = "\u{E012}";
const ARROW_RIGHT: &str = "\u{E014}";
const ARROW_DOWN: &str = "\u{E015}";

/// The calendar's sessions on `day`, as (label, time, own zone) in the
/// order they are shown.
async fn calendar_day(c: &Client, day: &str) -> Vec<(String, String, String)> {
    let Ok(events) = c
        .find_all(css(&format!(
            "[data-testid=calendar-day][data-day='{day}'] [data-testid=calendar-session]"
        )))
        .await
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in events {
        let label = e.attr("aria-label").await.unwrap().unwrap_or_default();
        // The words as written, whether or not scrolled into sight.
        let time = match e.find(css("[data-testid=calendar-time]")).await {
            Ok(t) => t.prop("textContent").await.unwrap().unwrap_or_default(),
            Err(_) => String::new(),
        };
        let own = match e.find(css("[data-testid=calendar-own-zone]")).await {
            Ok(t) => t.prop("textContent").await.unwrap().unwrap_or_default(),
            Err(_) => String::new(),
        };
        out.push((label, time, own));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calendar_shows_sessions_planned_in_three_zones_in_order_on_the_viewers_clock() {
    use chrono::NaiveDate;
    use panelkeeper::sessions::{self, SessionInput, staff};

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("panel.db");
    {
        let panel = panelkeeper::Panel::open(&db).await.unwrap();
        panelkeeper::demo::generate(&panel, 200, 1).await.unwrap();
        staff::add(
            &panel,
            &staff::StaffInput {
                name: "Mika Moderator".into(),
                email: "mika@example.com".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        // One day, 14 December 2027, in Berlin's eyes: 09:00, 16:00, 17:30.
        let day = NaiveDate::from_ymd_opt(2027, 12, 14).unwrap();
        for (title, zone, hour, minute) in [
            ("Chicago group", "America/Chicago", 9, 0),
            ("Berlin group", "Europe/Berlin", 17, 30),
            ("Tokyo group", "Asia/Tokyo", 17, 0),
        ] {
            sessions::create(
                &panel,
                &SessionInput {
                    title: title.into(),
                    start: Some(day.and_hms_opt(hour, minute, 0).unwrap()),
                    time_zone: zone.into(),
                    minutes: if zone == "Asia/Tokyo" { 90 } else { 60 },
                    moderator: "mika@example.com".into(),
                    seats: 6,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        }
        panel.close().await;
    }

    let driver = Driver::start(dir.path());
    let c = open(&driver, &db).await;
    wait_for_list(&c).await;

    // The viewer works on Berlin's clock, whatever the computer's.
    click(&c, "[data-testid=nav-settings]").await;
    fill(&c, "input[name=viewerZone]", "berlin").await;
    click(&c, "[data-testid=zone-choices] button").await;
    click(&c, "[data-testid=viewer-zone-save]").await;
    until("the zone saved", || async {
        text(&c, "[data-testid=viewer-zone-form] [role=status]")
            .await
            .filter(|t| t.contains("Europe/Berlin"))
    })
    .await;

    // This week, today marked.
    click(&c, "[data-testid=nav-sessions]").await;
    assert_eq!(
        text(&c, "[data-testid=viewer-zone]").await.as_deref(),
        Some("Europe/Berlin")
    );
    let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let today = chrono::Utc::now()
        .with_timezone(&berlin)
        .format("%Y-%m-%d")
        .to_string();
    let marked = until("today marked", || async {
        c.find(css("[data-testid=calendar-day-head][data-today]"))
            .await
            .ok()?;
        let column = c.find(css("[data-testid=calendar-day].today")).await.ok()?;
        column.attr("data-day").await.ok()?
    })
    .await;
    assert_eq!(marked, today);
    screenshot(&c, "calendar-today.png").await;

    // By keyboard: a year of months on, back to the week, a week on.
    click(&c, "[data-testid=mode-month]").await;
    let months = ARROW_RIGHT.repeat(12);
    press(&c, "[data-testid=mode-month]", &months).await;
    until("December 2027", || async {
        text(&c, "[data-testid=period]")
            .await
            .filter(|p| p.contains("2027") && p.contains("December"))
    })
    .await;
    let month = until("three sessions on the 14th", || async {
        let d = calendar_day(&c, "2027-12-14").await;
        (d.len() == 3).then_some(d)
    })
    .await;
    let titles: Vec<&str> = month
        .iter()
        .map(|(label, ..)| label.split(',').next().unwrap())
        .collect();
    assert_eq!(titles, ["Tokyo group", "Chicago group", "Berlin group"]);
    screenshot(&c, "calendar-month.png").await;

    press(&c, "[data-testid=mode-month]", &format!("w{ARROW_RIGHT}")).await;
    let week = until("the week of the 14th on an hour grid", || async {
        let view = c
            .find(css("[data-testid=calendar]"))
            .await
            .ok()?
            .attr("data-view")
            .await
            .ok()??;
        let d = calendar_day(&c, "2027-12-14").await;
        (view == "week" && d.len() == 3).then_some(d)
    })
    .await;
    let shown: Vec<(&str, &str)> = week
        .iter()
        .map(|(_, t, own)| (t.as_str(), own.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            ("09:00–10:30", "17:00 Tokyo"),
            ("16:00–17:00", "09:00 Chicago"),
            ("17:30–18:30", ""),
        ]
    );
    screenshot(&c, "calendar-week.png").await;

    // At 960 pixels wide the week still fits: no sideways scrolling, and
    // each session's time stays inside its day.
    c.set_window_size(960, 800).await.unwrap();
    let narrow = until("the window at 960 pixels", || async {
        let fits = c
            .execute(
                "const cal = document.querySelector('[data-testid=calendar]');
                 const doc = document.scrollingElement;
                 const cut = [...document.querySelectorAll('[data-testid=calendar-session]')].filter((s) => {
                   const day = s.closest('[data-testid=calendar-day]').getBoundingClientRect();
                   const r = s.getBoundingClientRect();
                   return r.left < day.left - 1 || r.right > day.right + 1;
                 }).length;
                 return [window.innerWidth, cal.scrollWidth - cal.clientWidth, doc.scrollWidth - doc.clientWidth, cut];",
                vec![],
            )
            .await
            .ok()?;
        let fits: Vec<i64> = serde_json::from_value(fits).ok()?;
        (fits[0] <= 960).then_some(fits)
    })
    .await;
    assert_eq!(
        &narrow[1..],
        [0, 0, 0],
        "[width, calendar overflow, page overflow, sessions cut]: {narrow:?}"
    );
    screenshot(&c, "calendar-week-960.png").await;
    c.set_window_size(1280, 800).await.unwrap();

    // ↓ from one session to the next; Enter opens it.
    click(
        &c,
        "[data-testid=calendar-day][data-day='2027-12-14'] [data-testid=calendar-session]",
    )
    .await;
    let first = c.active_element().await.unwrap();
    first
        .send_keys(&format!("{ARROW_DOWN}{ENTER}"))
        .await
        .unwrap();
    until("the Chicago group opened", || async {
        text(&c, "[data-testid=session-title]")
            .await
            .filter(|t| t == "Chicago group")
    })
    .await;
    let when = text(&c, "[data-testid=session-when]").await.unwrap();
    assert!(when.contains("America/Chicago"), "{when}");

    // ← a week back: nothing on the 14th's column any more.
    let focused = c.active_element().await.unwrap();
    focused.send_keys(ARROW_LEFT).await.unwrap();
    until("the week before", || async {
        c.find(css("[data-testid=calendar-day][data-day='2027-12-07']"))
            .await
            .ok()
    })
    .await;
    assert!(calendar_day(&c, "2027-12-14").await.is_empty());
    c.close().await.unwrap();
}

/// The page's background colour, as the browser computed it.
async fn background(c: &Client) -> String {
    c.execute(
        "return getComputedStyle(document.documentElement).backgroundColor;",
        vec![],
    )
    .await
    .unwrap()
    .as_str()
    .unwrap_or_default()
    .to_string()
}

/// Every view on a demo panel, light and then dark as the desktop's setting
/// says (screenshots of each when PANELKEEPER_SCREENSHOTS is set).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_view_follows_the_desktops_light_or_dark_setting() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("panel.db");
    // The owner of an open issue uses this computer; its participant's
    // page is the one shown.
    let person = {
        use panelkeeper::issues::{self, IssueQuery};
        let panel = panelkeeper::Panel::open(&db).await.unwrap();
        panelkeeper::demo::generate(&panel, 300, 1).await.unwrap();
        let issue = issues::list(
            &panel,
            &IssueQuery {
                open_only: true,
                limit: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .remove(0);
        panelkeeper::sessions::staff::set_current(&panel, issue.owner.unwrap())
            .await
            .unwrap();
        panel.close().await;
        issue.participant_name
    };
    for (scheme, theme, ground) in [
        ("light", "Adwaita", "rgb(245, 246, 248)"),
        ("dark", "Adwaita:dark", "rgb(18, 21, 25)"),
    ] {
        let driver = Driver::start_with(dir.path(), &[("GTK_THEME", theme)]);
        let c = open(&driver, &db).await;
        wait_for_list(&c).await;
        assert_eq!(background(&c).await, ground, "{scheme}");
        for view in [
            "participants",
            "sessions",
            "followups",
            "dashboard",
            "notes",
            "inbox",
            "outbox",
            "settings",
        ] {
            let nav = if view == "dashboard" {
                "followups"
            } else {
                view
            };
            click(&c, &format!("[data-testid=nav-{nav}]")).await;
            match view {
                "participants" => {
                    type_search(&c, &person).await;
                    until("their row alone", || async {
                        (row_names(&c).await == [person.clone()]).then_some(())
                    })
                    .await;
                    open_participant(&c, &person).await;
                    until("their timeline", || async {
                        c.find(css("[data-testid=timeline-entry][data-kind=issue]"))
                            .await
                            .ok()
                    })
                    .await;
                }
                "sessions" => click(&c, "[data-testid=mode-week]").await,
                "followups" => click(&c, "[data-testid=my-issue] button.issue-line").await,
                "dashboard" => {
                    click(&c, "[data-testid=tab-dashboard]").await;
                    // Every chart drawn (the demo's issues are older than
                    // the last 30 days: the period starts a year back).
                    until("the period's start to take a date", || async {
                        c.execute(
                            "const from = document.querySelector('[data-testid=dashboard-from]');
                             if (!from) return false;
                             from.value = '2024-01-01';
                             from.dispatchEvent(new Event('input', { bubbles: true }));
                             return true;",
                            vec![],
                        )
                        .await
                        .ok()?
                        .as_bool()?
                        .then_some(())
                    })
                    .await;
                    until("the charts drawn", || async {
                        let drawn = c
                            .execute(
                                "return [...document.querySelectorAll('[data-testid^=chart-] canvas')]
                                   .filter((k) => k.width > 0 && k.height > 0).length",
                                vec![],
                            )
                            .await
                            .ok()?;
                        (drawn.as_u64()? == 4).then_some(())
                    })
                    .await;
                }
                _ => {}
            }
            screenshot(&c, &format!("{view}-{scheme}.png")).await;
        }
        c.close().await.unwrap();
    }
}

/// People ticked in the list, tagged and invited to a session together;
/// ticking the first moves no row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticked_people_are_tagged_and_invited_together() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_panel(dir.path(), 300, 3).await;
    let driver = Driver::start(dir.path());
    let c = open(&driver, &db).await;
    wait_for_list(&c).await;
    // People anyone may invite now: not opted out, not kept out.
    type_search(&c, "ali").await;
    let names = until("a few rows", || async {
        let names = row_names(&c).await;
        (names.len() >= 2 && names.iter().all(|n| n.starts_with("Ali"))).then_some(names)
    })
    .await;
    let first_row = c
        .find(css("[data-testid=participant-row] td.name"))
        .await
        .unwrap()
        .rectangle()
        .await
        .unwrap();
    let ticks = c.find_all(css("[data-testid=tick]")).await.unwrap();
    for t in &ticks[..2] {
        until("a tick to take a click", || async { t.click().await.ok() }).await;
    }
    assert_eq!(
        text(&c, "[data-testid=bulk-count]").await.as_deref(),
        Some("2 people ticked")
    );
    let moved = c
        .find(css("[data-testid=participant-row] td.name"))
        .await
        .unwrap()
        .rectangle()
        .await
        .unwrap();
    assert_eq!(first_row.1, moved.1, "ticking moved the rows");
    screenshot(&c, "bulk-ticked.png").await;

    fill(&c, "[data-testid=bulk-tag]", "spring-study").await;
    click(&c, "[data-testid=bulk-apply]").await;
    until("the two tagged", || async {
        let rows = c
            .find_all(css("[data-testid=participant-row]"))
            .await
            .ok()?;
        let mut tagged = 0;
        for r in rows.iter().take(2) {
            if r.text().await.ok()?.contains("spring-study") {
                tagged += 1;
            }
        }
        (tagged == 2).then_some(())
    })
    .await;

    // Invited to the first session ahead.
    click(&c, "[data-testid=bulk-action] option[value=invite]").await;
    let option = until("a session ahead", || async {
        c.find(css("[data-testid=bulk-session] option:nth-child(2)"))
            .await
            .ok()
    })
    .await;
    until("the session to take a click", || async {
        option.click().await.ok()
    })
    .await;
    click(&c, "[data-testid=bulk-apply]").await;
    let said = until("the invitation's outcome", || async {
        if let Some(refused) = text(&c, "[data-testid=list-error]").await {
            panic!("the invitation was refused: {refused}");
        }
        text(&c, "[role=status]")
            .await
            .filter(|t| t.contains("invited to"))
    })
    .await;
    assert!(
        said.starts_with("2 people invited to") || said.contains("not ("),
        "{said}"
    );
    screenshot(&c, "bulk.png").await;
    assert_eq!(names.len(), 2);
    c.close().await.unwrap();
}

const TAB: &str = "\u{E004}";

/// Every view worked from the keyboard: Tab from the view's own heading in
/// the bar goes through its controls, each one shown as focused (an
/// outline in the accent colour) and on screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_view_shows_where_the_keyboard_is() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_panel(dir.path(), 300, 1).await;
    let driver = Driver::start(dir.path());
    let c = open(&driver, &db).await;
    wait_for_list(&c).await;
    for view in [
        "participants",
        "sessions",
        "followups",
        "notes",
        "inbox",
        "outbox",
        "settings",
    ] {
        click(&c, &format!("[data-testid=nav-{view}]")).await;
        let mut seen = Vec::new();
        for _ in 0..16 {
            let focused = c.active_element().await.unwrap();
            focused.send_keys(TAB).await.unwrap();
            // On screen once the view has scrolled to it (WebKit scrolls
            // smoothly), or never.
            let look = || async {
                c.execute(
                    "const e = document.activeElement;
                     if (!e || e === document.body) return null;
                     const s = getComputedStyle(e);
                     const r = e.getBoundingClientRect();
                     const onScreen = r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0
                       && r.top < window.innerHeight && r.left < window.innerWidth;
                     const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2)
                       || s.boxShadow !== 'none';
                     const name = e.tagName.toLowerCase() + (e.type ? ':' + e.type : '') + (e.name ? '(' + e.name + ')' : '') + (e.dataset.testid ? '[' + e.dataset.testid + ']' : '')
                       + ' ' + (e.getAttribute('aria-label') || e.textContent || '').trim().slice(0, 30);
                     return [name, ring, onScreen, e.closest('header') !== null];",
                    vec![],
                )
                .await
                .unwrap()
            };
            let mut shown = look().await;
            for _ in 0..20 {
                if shown.get(2) != Some(&Value::Bool(false)) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                shown = look().await;
            }
            if let Some([name, ring, on_screen, in_bar]) =
                serde_json::from_value::<Option<[Value; 4]>>(shown).unwrap()
            {
                assert_eq!(
                    ring,
                    Value::Bool(true),
                    "{view}: {name} is focused with no outline"
                );
                assert_eq!(
                    on_screen,
                    Value::Bool(true),
                    "{view}: {name} is focused off screen: {seen:?}"
                );
                seen.push((
                    name.as_str().unwrap_or_default().to_string(),
                    in_bar == Value::Bool(true),
                ));
            }
        }
        // Past the bar's links into the view itself.
        assert!(
            seen.iter().filter(|(_, in_bar)| !in_bar).count() >= 3,
            "{view}: the keyboard never reached the view: {seen:?}"
        );
    }
    c.close().await.unwrap();
}
