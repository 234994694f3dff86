//! Report benchmark (`cargo bench --bench reports`): a session report of
//! 1,000 notes and 100 issues, side by side in one run with wkhtmltopdf
//! (Debian's) rendering the same content from HTML, which is what a
//! researcher would otherwise use. Target: at most 200 ms, and at least
//! ten times faster.

use chrono::NaiveDateTime;
use panelkeeper::Panel;
use panelkeeper::files::Existing;
use panelkeeper::issues::{self, IssueInput, Severity};
use panelkeeper::notes::{self, NoteInput};
use panelkeeper::participants::{self, ParticipantInput};
use panelkeeper::reports::{self, ReportOptions};
use panelkeeper::sessions::staff::{self, StaffInput};
use panelkeeper::sessions::{self, SessionInput};
use std::fmt::Write as _;
use std::process::Command;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PEOPLE: [(&str, &str); 6] = [
    ("Zoë Ålander-Müller", "zoe@example.org"),
    ("Αλέξανδρος Παπαδόπουλος", "alexandros@example.org"),
    ("Екатерина Смирнова", "ekaterina@example.org"),
    ("王小明", "wang@example.org"),
    ("Jean-Baptiste Lefèvre", "jb@example.org"),
    ("Siobhán Ní Bhriain", "siobhan@example.org"),
];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let panel = Panel::open(dir.path().join("panel.db")).await.unwrap();
    staff::add(
        &panel,
        &StaffInput {
            name: "Ana Moderator".into(),
            email: "ana@company.example.com".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for (name, email) in PEOPLE {
        participants::create(
            &panel,
            &ParticipantInput {
                name: name.into(),
                email: email.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let s = sessions::create(
        &panel,
        &SessionInput {
            study: "Checkout 2026".into(),
            title: "Paying at the till".into(),
            start: Some(
                NaiveDateTime::parse_from_str("2026-06-01T10:00", "%Y-%m-%dT%H:%M").unwrap(),
            ),
            time_zone: "Europe/Berlin".into(),
            minutes: 90,
            moderator: "ana@company.example.com".into(),
            seats: 8,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut ids = Vec::new();
    for n in 0..1000 {
        let note = notes::add(
            &panel,
            s.id,
            &NoteInput {
                text: format!(
                    "Note {n}: the card reader failed twice and the refund took three weeks to arrive #checkout"
                ),
                participant: Some(PEOPLE[n % PEOPLE.len()].1.into()),
                author: None,
            },
        )
        .await
        .unwrap();
        ids.push(note.id);
    }
    for k in 0..100 {
        issues::raise(
            &panel,
            &IssueInput {
                note: Some(ids[k * 10]),
                summary: format!("Refund {k} never arrived"),
                severity: Some(Severity::High),
                owner: Some("ana@company.example.com".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }

    // The same content as HTML, as a researcher would lay it out.
    let detail = sessions::detail(&panel, s.id).await.unwrap();
    let all_notes = notes::list(&panel, s.id).await.unwrap();
    let all_issues = issues::list(
        &panel,
        &issues::IssueQuery {
            session: Some(s.id),
            limit: Some(1000),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><style>\
         body{font-family:'DejaVu Sans';font-size:9.5pt} table{border-collapse:collapse;width:100%}\
         thead{display:table-header-group} tr{page-break-inside:avoid}\
         th,td{text-align:left;padding:3pt;border-bottom:0.5pt solid #ccc}\
         </style></head><body>",
    );
    let session = &detail.session;
    write!(
        html,
        "<h1>{}</h1><p>{} {}</p><p>Moderator {}</p><h2>Notes</h2><table><thead><tr><th>Time</th><th>Who</th><th>Note</th></tr></thead><tbody>",
        escape(&session.title),
        session.local_start,
        session.time_zone,
        escape(&session.moderator.name)
    )
    .unwrap();
    for n in &all_notes {
        write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            n.offset_seconds,
            escape(n.participant_name.as_deref().unwrap_or("")),
            escape(&n.text)
        )
        .unwrap();
    }
    html.push_str("</tbody></table><h2>Issues</h2><table><thead><tr><th>#</th><th>Summary</th><th>Participant</th><th>Owner</th><th>Status and due</th><th>Hand-offs</th></tr></thead><tbody>");
    for i in &all_issues {
        write!(
            html,
            "<tr><td>#{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:?} {}</td><td>{}</td></tr>",
            i.id,
            escape(&i.summary),
            escape(&i.participant_name),
            escape(i.owner_name.as_deref().unwrap_or("")),
            i.status,
            i.first_contact_due,
            i.handoffs
        )
        .unwrap();
    }
    html.push_str("</tbody></table></body></html>");
    let html_path = dir.path().join("report.html");
    std::fs::write(&html_path, html).unwrap();
    // Ten rounds, each of five reports then one wkhtmltopdf run, so that
    // the machine's bursts of noise fall on both sides alike. Each round
    // gives a ratio (wkhtmltopdf's time over the median of its five
    // reports); the median round is the result.
    let out = dir.path().join("report.pdf");
    let theirs_pdf = dir.path().join("wkhtmltopdf.pdf");
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut ratios = Vec::new();
    let mut pages = 0;
    for _ in 0..10 {
        let mut round = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let report = reports::session(&panel, s.id, ReportOptions::default(), &|_| {})
                .await
                .unwrap();
            pages = report.write(&out, Existing::Replace).unwrap().pages;
            round.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let t = Instant::now();
        let status = Command::new("wkhtmltopdf")
            .env("QT_QPA_PLATFORM", "offscreen")
            .arg("-q")
            .arg(&html_path)
            .arg(&theirs_pdf)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("wkhtmltopdf is not installed; scripts/setup installs it");
        assert!(status.success() || theirs_pdf.exists());
        let theirs_ms = t.elapsed().as_secs_f64() * 1e3;
        ratios.push(theirs_ms / median(round.clone()));
        theirs.push(theirs_ms);
        ours.extend(round);
    }
    let (a, b) = (median(ours), median(theirs));
    let lowest = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    println!("# Session report: 1,000 notes, 100 issues\n");
    println!("| renderer | pages | median |");
    println!("|---|---|---|");
    println!("| `reports::session` (printpdf, written to a file) | {pages} | {a:.1} ms |");
    println!("| wkhtmltopdf from the same content as HTML | | {b:.1} ms |");
    println!(
        "\n{:.1}x faster (median of ten rounds; the lowest round {lowest:.1}x)",
        median(ratios)
    );
}
