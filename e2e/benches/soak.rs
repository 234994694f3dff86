//! The desktop app's memory over a long session of use: a script goes
//! through every view on a large panel again and again (a search typed and
//! a participant's timeline opened, the calendar's day, week and month and
//! a few periods on, every issue and one opened, the dashboard, a note
//! search, the inbox, the outbox, settings) and the memory of the app with
//! its WebKit processes (PSS, as `window.rs` measures it) is read after the
//! first minute and every five minutes after it.
//!
//! PANELKEEPER_BENCH_PANEL: the panel (required; `panelkeeper demo` makes
//! one). PANELKEEPER_SOAK_MINUTES: how long (default 30).
//! PANELKEEPER_SOAK_PAUSE_MS: a pause after every click and every search
//! typed, for a person's pace (default 0: as fast as the app answers).
//! PANELKEEPER_APP: the app (default target/debug/panelkeeper-app).
//! scripts/bench-soak runs it under Xvfb.

use fantoccini::{Client, Locator, key::Key};
use panelkeeper_e2e::{Driver, built, memory, memory_by_process};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(120);

/// The pause after every step (PANELKEEPER_SOAK_PAUSE_MS).
async fn pace() {
    static PAUSE: OnceLock<Duration> = OnceLock::new();
    let pause = *PAUSE.get_or_init(|| {
        Duration::from_millis(
            std::env::var("PANELKEEPER_SOAK_PAUSE_MS")
                .ok()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0),
        )
    });
    if !pause.is_zero() {
        tokio::time::sleep(pause).await;
    }
}

fn css(s: &str) -> Locator<'_> {
    Locator::Css(s)
}

async fn shown(c: &Client, selector: &str) {
    c.wait()
        .at_most(WAIT)
        .for_element(css(selector))
        .await
        .unwrap_or_else(|e| panic!("{selector} not shown: {e}"));
}

async fn click(c: &Client, selector: &str) {
    shown(c, selector).await;
    let started = Instant::now();
    while c.find(css(selector)).await.unwrap().click().await.is_err() {
        assert!(started.elapsed() < WAIT, "{selector} took no click");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pace().await;
}

/// Clicks `what` until `then` shows (a list that reloads under the pointer
/// may take the first click on a row it then replaces).
async fn open(c: &Client, what: &str, then: &str) {
    for _ in 0..5 {
        click(c, what).await;
        if c.wait()
            .at_most(Duration::from_secs(10))
            .for_element(css(then))
            .await
            .is_ok()
        {
            return;
        }
    }
    panic!("{then} not shown after clicking {what}");
}

async fn typed(c: &Client, selector: &str, words: &str) {
    shown(c, selector).await;
    let field = c.find(css(selector)).await.unwrap();
    field.clear().await.ok();
    field.send_keys(words).await.unwrap();
    pace().await;
}

/// One round through every view, as a researcher uses them.
async fn round(c: &Client, n: usize) {
    let searches = ["horvat", "ander", "kowalski", "nguyen"];
    click(c, "[data-testid=nav-participants]").await;
    typed(c, "[data-testid=search]", searches[n % searches.len()]).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    open(
        c,
        "[data-testid=participant-row] td.name",
        "[data-testid=timeline], [data-testid=timeline-empty]",
    )
    .await;
    typed(c, "[data-testid=search]", &Key::Escape.to_string()).await;

    click(c, "[data-testid=nav-sessions]").await;
    for view in ["day", "week", "month"] {
        click(c, &format!("[data-testid=mode-{view}]")).await;
        shown(c, "[data-testid=calendar]").await;
    }
    for _ in 0..3 {
        click(c, "[data-testid=next-period]").await;
    }
    click(c, "[data-testid=today]").await;
    click(c, "[data-testid=mode-list]").await;
    open(
        c,
        "[data-testid=session-row] td",
        "[data-testid=session-title]",
    )
    .await;

    click(c, "[data-testid=nav-followups]").await;
    click(c, "[data-testid=tab-all]").await;
    open(
        c,
        "[data-testid=issue-row] td",
        "[data-testid=issue-detail]",
    )
    .await;
    click(c, "[data-testid=tab-dashboard]").await;
    shown(c, "[data-testid=dashboard]").await;

    click(c, "[data-testid=nav-notes]").await;
    typed(c, "[data-testid=notes-query]", "refund").await;
    shown(c, "[data-testid=note-hit]").await;

    click(c, "[data-testid=nav-inbox]").await;
    click(c, "[data-testid=nav-outbox]").await;
    shown(c, "[data-testid=outbox-summary]").await;
    click(c, "[data-testid=nav-settings]").await;
    shown(c, "[data-testid=settings]").await;
}

#[tokio::main]
async fn main() {
    let panel = PathBuf::from(
        std::env::var_os("PANELKEEPER_BENCH_PANEL")
            .expect("PANELKEEPER_BENCH_PANEL names the panel to open"),
    );
    let minutes: u64 = std::env::var("PANELKEEPER_SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(30);
    let dir = tempfile::tempdir().unwrap();
    let driver = Driver::start(dir.path());
    let db = panel.to_str().expect("a UTF-8 path");
    let c = driver
        .session(&built("PANELKEEPER_APP", "panelkeeper-app"), &["--db", db])
        .await;
    shown(&c, "[data-testid=participant-row]").await;

    let mb = |b: u64| b / (1024 * 1024);
    let show = |when: &str| {
        let parts: Vec<String> = memory_by_process(&driver)
            .into_iter()
            .map(|(name, b)| format!("{name} {} MB", mb(b)))
            .collect();
        println!("{when}: {}", parts.join(", "));
    };
    // What the page holds that could grow with use: the IPC callbacks
    // waiting for an answer, the elements in the document, the resource
    // timings kept.
    let held = || async {
        c.execute(
            "return [window.__TAURI_INTERNALS__.callbacks.size,
                     document.getElementsByTagName('*').length,
                     performance.getEntries().length]",
            vec![],
        )
        .await
        .map(|v| v.to_string())
        .unwrap_or_else(|e| e.to_string())
    };
    let started = Instant::now();
    let mut readings: Vec<(u64, usize, u64)> = Vec::new();
    let mut next = 1;
    let mut rounds = 0;
    while started.elapsed() < Duration::from_secs(minutes * 60) {
        round(&c, rounds).await;
        rounds += 1;
        if started.elapsed() >= Duration::from_secs(next * 60) {
            show(&format!("by process at minute {next}"));
            let mb = memory(&driver) / (1024 * 1024);
            println!(
                "minute {next:>3}: {rounds:>4} rounds, {mb} MB; page holds [callbacks, elements, timings] {}",
                held().await
            );
            readings.push((next, rounds, mb));
            next = if next == 1 { 5 } else { next + 5 };
        }
    }
    let end = started.elapsed().as_secs() / 60;
    if readings.last().is_none_or(|r| r.1 != rounds) {
        readings.push((end, rounds, memory(&driver) / (1024 * 1024)));
    }
    show("by process at the end");
    let _ = c.close().await;

    let first = readings[0].2 as f64;
    println!("\n| minute | rounds through every view | app + WebKit (PSS) | ratio to minute 1 |");
    println!("|---|---|---|---|");
    for (minute, rounds, mb) in &readings {
        println!(
            "| {minute} | {rounds} | {mb} MB | {:.2} |",
            *mb as f64 / first
        );
    }
    let last = readings.last().unwrap().2 as f64;
    println!(
        "\nafter {end} minutes: {:.2}x the first minute's memory (goal: at most 1.3x)",
        last / first
    );
}
