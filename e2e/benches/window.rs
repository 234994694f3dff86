//! The desktop app on a large panel beside a bare Tauri window, as a person
//! waits for it: from asking for the window to its first screen (the first
//! page of participants; the bare window's one line), and the memory of the
//! app with its WebKit processes once the first screen is up and idle.
//! Then, in the app, each view's time to show its data and a search typed
//! into the participants list.
//!
//! Both are started the same way, through tauri-driver and WebKitWebDriver
//! on the display in `DISPLAY` (scripts/bench-window runs it under Xvfb),
//! alternating run by run. Memory is the proportional set size (PSS) summed
//! over the window's process and the WebKit processes it starts, so pages
//! they share are counted once.
//!
//! PANELKEEPER_BENCH_PANEL: the panel to open (required; `panelkeeper demo`
//! makes one). PANELKEEPER_BENCH_RUNS: runs of each (default 5).
//! PANELKEEPER_APP and PANELKEEPER_BARE_WINDOW: the two binaries (default:
//! target/debug/panelkeeper-app and target/debug/examples/bare_window).
//!
//! The goal for memory is the bare window's "plus the data on screen", so
//! the bare window also runs a third time with the app's first screen of
//! data (its list's header and rows, as text in a plain table, taken from
//! the app's first start): what showing that data costs a window that does
//! nothing else.

use fantoccini::{Client, Locator, key::Key};
use panelkeeper_e2e::{Driver, built, memory_by_process};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(120);

fn css(s: &str) -> Locator<'_> {
    Locator::Css(s)
}

async fn shown(c: &Client, selector: &str) {
    c.wait()
        .at_most(WAIT)
        // fantoccini looks every 250 ms unless told: a first screen found
        // on the second look would count a quarter of a second it never took.
        .every(Duration::from_millis(5))
        .for_element(css(selector))
        .await
        .unwrap_or_else(|e| panic!("{selector} not shown: {e}"));
}

async fn text(c: &Client, selector: &str) -> String {
    match c.find(css(selector)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits until `selector`'s text satisfies `ok`.
async fn until_text(c: &Client, selector: &str, ok: impl Fn(&str) -> bool) {
    let started = Instant::now();
    loop {
        if ok(&text(c, selector).await) {
            return;
        }
        assert!(started.elapsed() < WAIT, "{selector} never changed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn click(c: &Client, selector: &str) {
    shown(c, selector).await;
    c.find(css(selector)).await.unwrap().click().await.unwrap();
}

/// One window's start: time to its first screen, and its memory once idle.
struct Start {
    first_screen: Duration,
    /// Of which in the page: from its navigation start to the first screen.
    in_page: Duration,
    memory: u64,
    /// The same by process (the window's, WebKit's web and network ones).
    by_process: Vec<(String, u64)>,
}

/// `name 123 MB, …` for a run's line.
fn shares(by_process: &[(String, u64)]) -> String {
    by_process
        .iter()
        .map(|(name, bytes)| format!("{name} {:.0}", *bytes as f64 / 1e6))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The page's own clock: milliseconds since its navigation started.
async fn page_clock(c: &Client) -> Duration {
    let ms = c
        .execute("return performance.now()", vec![])
        .await
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    Duration::from_secs_f64(ms / 1e3)
}

/// Time to each view's data, and to a typed search's answer.
#[derive(Default)]
struct Views {
    timings: Vec<(&'static str, Duration)>,
}

/// The bare window; with `page`, showing that HTML file instead of its
/// one line.
async fn bare(dir: &Path, page: Option<&Path>) -> Start {
    let driver = Driver::start(dir);
    let started = Instant::now();
    let args = match page {
        Some(page) => vec!["--page", page.to_str().expect("a UTF-8 path")],
        None => vec![],
    };
    let c = driver
        .session(
            &built("PANELKEEPER_BARE_WINDOW", "examples/bare_window"),
            &args,
        )
        .await;
    shown(&c, "#bare").await;
    let first_screen = started.elapsed();
    let in_page = page_clock(&c).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let by_process = memory_by_process(&driver);
    let memory = by_process.iter().map(|(_, b)| b).sum();
    let _ = c.close().await;
    Start {
        first_screen,
        in_page,
        memory,
        by_process,
    }
}

/// The data on the app's first screen (the list's header and its rows) as
/// a plain HTML page, the text escaped, no style and no script.
async fn data_on_screen(c: &Client) -> String {
    let rows = c
        .execute(
            "return Array.from(document.querySelectorAll(
                 'table:has([data-testid=participant-row]) tr'))
               .map(r => Array.from(r.cells).map(c => c.textContent.trim()))",
            vec![],
        )
        .await
        .expect("the list's rows");
    let rows = rows.as_array().cloned().unwrap_or_default();
    assert!(rows.len() > 1, "the app's first screen shows no list");
    println!(
        "the app's first screen of data: a header and {} rows",
        rows.len() - 1
    );
    let escape = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut html = String::from(
        "<!doctype html><html><head><title>bare</title></head><body>\
         <p id=\"bare\">A bare window</p><table>",
    );
    for row in &rows {
        html.push_str("<tr>");
        for cell in row.as_array().into_iter().flatten() {
            html.push_str("<td>");
            html.push_str(&escape(cell.as_str().unwrap_or_default()));
            html.push_str("</td>");
        }
        html.push_str("</tr>");
    }
    html.push_str("</table></body></html>");
    html
}

/// The app's start; with `data_to`, its first screen's data is written
/// there as a page for the bare window.
async fn app(dir: &Path, panel: &Path, views: &mut Views, data_to: Option<&Path>) -> Start {
    let driver = Driver::start(dir);
    let started = Instant::now();
    let db = panel.to_str().expect("a UTF-8 path");
    let c = driver
        .session(&built("PANELKEEPER_APP", "panelkeeper-app"), &["--db", db])
        .await;
    shown(&c, "[data-testid=participant-row]").await;
    let first_screen = started.elapsed();
    let in_page = page_clock(&c).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let by_process = memory_by_process(&driver);
    let memory = by_process.iter().map(|(_, b)| b).sum();
    if let Some(to) = data_to {
        std::fs::write(to, data_on_screen(&c).await).unwrap();
    }

    let mut time = |what, since: Instant| views.timings.push((what, since.elapsed()));
    let search = c.find(css("[data-testid=search]")).await.unwrap();
    let first = text(&c, "[data-testid=participant-row]").await;
    let t = Instant::now();
    search.send_keys("horvat").await.unwrap();
    until_text(&c, "[data-testid=participant-row]", |row| {
        row != first && row.to_lowercase().contains("horvat")
    })
    .await;
    time("search typed: horvat (120 ms pause after the last key)", t);
    let t = Instant::now();
    search.send_keys("zzqx").await.unwrap();
    shown(&c, "[data-testid=no-match]").await;
    time("search typed on: horvatzzqx, no match", t);
    search.send_keys(&Key::Escape.to_string()).await.ok();

    let t = Instant::now();
    click(&c, "[data-testid=nav-sessions]").await;
    click(&c, "[data-testid=mode-list]").await;
    shown(&c, "[data-testid=session-row]").await;
    time("sessions, upcoming list", t);
    let t = Instant::now();
    click(&c, "[data-testid=nav-followups]").await;
    click(&c, "[data-testid=tab-all]").await;
    shown(&c, "[data-testid=issue-row]").await;
    time("follow-ups, all issues", t);
    let t = Instant::now();
    click(&c, "[data-testid=nav-notes]").await;
    c.find(css("[data-testid=notes-query]"))
        .await
        .unwrap()
        .send_keys("refund")
        .await
        .unwrap();
    shown(&c, "[data-testid=note-hit]").await;
    time("notes, search typed: refund", t);
    let t = Instant::now();
    click(&c, "[data-testid=nav-outbox]").await;
    shown(&c, "[data-testid=outbox-summary]").await;
    time("outbox", t);
    let t = Instant::now();
    click(&c, "[data-testid=nav-participants]").await;
    shown(&c, "[data-testid=participant-row]").await;
    time("participants again", t);
    let _ = c.close().await;
    Start {
        first_screen,
        in_page,
        memory,
        by_process,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let panel = PathBuf::from(
        std::env::var_os("PANELKEEPER_BENCH_PANEL")
            .expect("PANELKEEPER_BENCH_PANEL names the panel to open"),
    );
    let runs: usize = std::env::var("PANELKEEPER_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let mut bare_runs = Vec::new();
    let mut data_runs = Vec::new();
    let mut app_runs = Vec::new();
    let mut views = Views::default();
    let data = dir.path().join("data-on-screen.html");
    // A first start of each, not counted, brings both into the page cache
    // and takes the app's first screen of data.
    bare(dir.path(), None).await;
    app(dir.path(), &panel, &mut Views::default(), Some(&data)).await;
    for run in 0..runs {
        let b = bare(dir.path(), None).await;
        let d = bare(dir.path(), Some(&data)).await;
        let a = app(dir.path(), &panel, &mut views, None).await;
        println!(
            "run {}: bare {:.0} ms (in the page {:.0}) {:.0} MB, with the data {:.0} MB, app {:.0} ms (in the page {:.0}) {:.0} MB",
            run + 1,
            b.first_screen.as_secs_f64() * 1e3,
            b.in_page.as_secs_f64() * 1e3,
            b.memory as f64 / 1e6,
            d.memory as f64 / 1e6,
            a.first_screen.as_secs_f64() * 1e3,
            a.in_page.as_secs_f64() * 1e3,
            a.memory as f64 / 1e6
        );
        println!(
            "  by process (MB): bare {}; with the data {}; app {}",
            shares(&b.by_process),
            shares(&d.by_process),
            shares(&a.by_process)
        );
        bare_runs.push(b);
        data_runs.push(d);
        app_runs.push(a);
    }
    let ms = |v: &[Start]| {
        median(
            v.iter()
                .map(|s| s.first_screen.as_secs_f64() * 1e3)
                .collect(),
        )
    };
    let page_ms = |v: &[Start]| median(v.iter().map(|s| s.in_page.as_secs_f64() * 1e3).collect());
    let mb = |v: &[Start]| median(v.iter().map(|s| s.memory as f64 / 1e6).collect());
    let ratios = |f: &dyn Fn(&Start) -> f64| {
        median(
            app_runs
                .iter()
                .zip(&bare_runs)
                .map(|(a, b)| f(a) / f(b))
                .collect(),
        )
    };
    println!("\nmedians of {runs} runs, the app on {}", panel.display());
    println!(
        "start to first screen: bare window {:.0} ms, app {:.0} ms, ratio {:.2} (median of the runs' ratios {:.2})",
        ms(&bare_runs),
        ms(&app_runs),
        ms(&app_runs) / ms(&bare_runs),
        ratios(&|s| s.first_screen.as_secs_f64())
    );
    println!(
        "  of which in the page (from its navigation start): bare window {:.0} ms, app {:.0} ms",
        page_ms(&bare_runs),
        page_ms(&app_runs)
    );
    println!(
        "memory once idle (PSS, window and WebKit processes): bare window {:.0} MB, app {:.0} MB, ratio {:.2}",
        mb(&bare_runs),
        mb(&app_runs),
        mb(&app_runs) / mb(&bare_runs)
    );
    println!(
        "  the bare window with the app's first screen of data: {:.0} MB; the app against it: ratio {:.2}",
        mb(&data_runs),
        mb(&app_runs) / mb(&data_runs)
    );
    let mut names: Vec<&str> = views.timings.iter().map(|(n, _)| *n).collect();
    names.dedup();
    names.truncate(views.timings.len() / runs.max(1));
    println!(
        "in the app (time from the click or the first key to the data on screen, WebDriver's round trips included):"
    );
    for name in names {
        let times: Vec<f64> = views
            .timings
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, d)| d.as_secs_f64() * 1e3)
            .collect();
        println!("  {name}: {:.0} ms", median(times));
    }
}
