//! Invitation benchmark (`cargo bench --bench sessions`).
//!
//! On the reference panel (`demo --participants 100000 --seed 1`: 2,000
//! sessions, their rosters and contact history), each run plans a new
//! session and invites 500 people through the `eu-25-44-non-customers`
//! screener: eligibility over 100,000 people with the contact rules, the
//! double-booking check, then, in one transaction, 500 roster rows, 500
//! contact-history entries and 500 invitations with their `.ics` queued in
//! the outbox (not sent). Target: under 1 s end to end.
//!
//! Each run first previews (as the app's invite dialog does), which
//! rebuilds the in-memory panel index after the previous run's writes; the
//! invitation itself then finds the index current. Both are reported.
//! PANELKEEPER_BENCH_RUNS changes the number of runs.

use chrono::Duration;
use panelkeeper::sessions::roster;
use panelkeeper::sessions::{self, InviteRequest, Invitees, SessionInput};
use panelkeeper::{Panel, demo};
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::var("PANELKEEPER_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let dir = tempfile::tempdir().unwrap();
    let panel = Panel::open(dir.path().join("panel.db")).await.unwrap();
    let started = Instant::now();
    let report = demo::generate(&panel, 100_000, 1).await.unwrap();
    println!(
        "# Invitations: 500 from the reference panel ({} participants, {} sessions, {} invitations), {runs} runs\n",
        report.participants, report.sessions, report.roster
    );
    println!(
        "reference panel generated in {:.1} s\n",
        started.elapsed().as_secs_f64()
    );

    let moderator = "ana.lindqvist@company.example.com";
    let (mut previews, mut invites) = (Vec::new(), Vec::new());
    let mut queued = 0;
    for run in 0..runs {
        // Far enough ahead that no demo session overlaps it.
        let start = (panel.now() + Duration::days(200 + run as i64))
            .date_naive()
            .and_hms_opt(10, 0, 0)
            .unwrap();
        let s = sessions::create(
            &panel,
            &SessionInput {
                title: format!("Benchmark {run}"),
                start: Some(start),
                time_zone: "Europe/Paris".into(),
                minutes: 90,
                moderator: moderator.into(),
                seats: 400,
                over_recruit: Some(500),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let request = |preview| InviteRequest {
            invitees: Invitees::Screener {
                name: "eu-25-44-non-customers".into(),
                limit: Some(500),
            },
            allow_double_booking: false,
            preview,
            allow_started: false,
            excluded_limit: Some(200),
        };
        let t = Instant::now();
        let preview = roster::invite(&panel, s.id, &request(true)).await.unwrap();
        previews.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let done = roster::invite(&panel, s.id, &request(false)).await.unwrap();
        invites.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(done.invited.len(), 500);
        assert_eq!(done.invited, preview.invited);
        queued += done.queued;
    }
    assert_eq!(queued as usize, 500 * runs);
    println!("| step | median | max |");
    println!("|---|---|---|");
    let max = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
    println!(
        "| preview (rebuilds the panel index after the last run's writes) | {:.0} ms | {:.0} ms |",
        median(previews.clone()),
        max(&previews)
    );
    println!(
        "| invite 500: eligibility, roster, history, 500 messages with .ics queued | {:.0} ms | {:.0} ms |",
        median(invites.clone()),
        max(&invites)
    );
}
