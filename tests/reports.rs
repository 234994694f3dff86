//! PDF reports read back with poppler's tools (installed by scripts/setup):
//! `pdftotext` for the words (names in several scripts, every note and
//! issue, the draft mark on every page, the header row repeated),
//! `pdftotext -bbox` for where every word lies (never outside the
//! margins, even for very long notes), `pdffonts` for embedded subsets and
//! `pdftoppm` for a rendered page.

mod common;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use panelkeeper::files::Existing;
use panelkeeper::issues::{self, IssueInput, Severity};
use panelkeeper::notes::{self, NoteInput};
use panelkeeper::participants::{self, ParticipantInput};
use panelkeeper::reports::{self, ReportOptions};
use panelkeeper::sessions::roster::{self, AttendanceInput};
use panelkeeper::sessions::staff::{self, StaffInput};
use panelkeeper::sessions::{self, Attendance, InviteRequest, Invitees, Rsvp, SessionInput};
use panelkeeper::{Error, Panel};
use std::path::Path;
use std::process::Command;

/// People whose names need more than ASCII.
const PEOPLE: [(&str, &str); 6] = [
    ("Zoë Ålander-Müller", "zoe@example.org"),
    ("Αλέξανδρος Παπαδόπουλος", "alexandros@example.org"),
    ("Екатерина Смирнова", "ekaterina@example.org"),
    ("王小明", "wang@example.org"),
    ("山田花子", "yamada@example.org"),
    ("فاطمة الزهراء", "fatima@example.org"),
];

const CJK_FONT: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";

fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name).args(args).output().unwrap_or_else(|e| {
        panic!("{name} is not installed ({e}); scripts/setup installs poppler-utils")
    });
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The text of each page.
fn pages(pdf: &Path) -> Vec<String> {
    let text = tool("pdftotext", &["-layout", pdf.to_str().unwrap(), "-"]);
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_string).collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    pages
}

async fn session_with(
    panel: &Panel,
    notes_n: usize,
    issues_n: usize,
    long: bool,
) -> sessions::SessionId {
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
    ] {
        staff::add(
            panel,
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
    for (name, email) in PEOPLE {
        participants::create(
            panel,
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
        panel,
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
            place: "Room 4, Alexanderplatz".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    roster::invite(
        panel,
        s.id,
        &InviteRequest {
            invitees: Invitees::Participants {
                keys: PEOPLE.iter().map(|(_, e)| e.to_string()).collect(),
            },
            allow_double_booking: false,
            preview: false,
            // The session is under way when the fixture fills its roster.
            allow_started: true,
            excluded_limit: None,
        },
    )
    .await
    .unwrap();
    for (_, email) in PEOPLE {
        roster::rsvp(panel, s.id, email, Rsvp::Confirmed)
            .await
            .unwrap();
        roster::attendance(
            panel,
            s.id,
            email,
            &AttendanceInput {
                attendance: Some(Attendance::Attended),
                incentive_cents: Some(5000),
                incentive_paid: Some(true),
            },
        )
        .await
        .unwrap();
    }
    let mut note_ids = Vec::new();
    for n in 0..notes_n {
        let text = if long && n % 10 == 3 {
            // A very long note, with a "word" longer than any column.
            format!(
                "N{n:04} starts a long account. {} {} ends here.",
                "The card was charged twice and the refund never came back to the account. "
                    .repeat(30),
                "x".repeat(600)
            )
        } else {
            format!("N{n:04} says the till was slow #checkout")
        };
        let note = notes::add(
            panel,
            s.id,
            &NoteInput {
                text,
                participant: Some(PEOPLE[n % PEOPLE.len()].1.to_string()),
                author: None,
            },
        )
        .await
        .unwrap();
        note_ids.push(note.id);
    }
    for k in 0..issues_n {
        issues::raise(
            panel,
            &IssueInput {
                note: Some(note_ids[k * note_ids.len() / issues_n.max(1)]),
                summary: format!("I{k:03} refund never arrived"),
                severity: Some(Severity::High),
                // The last one has no owner yet.
                owner: (k + 1 < issues_n).then(|| "sam@company.example.com".to_string()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    s.id
}

#[tokio::test]
async fn a_session_report_has_every_name_note_and_issue_and_says_it_is_a_draft_on_every_page() {
    let t = common::panel().await;
    let p = &t.panel;
    let s = session_with(p, 1000, 100, false).await;
    let report = reports::session(p, s, ReportOptions::default(), &|_| {})
        .await
        .unwrap();
    let pdf = t.dir.path().join("session.pdf");
    let written = report.write(&pdf, Existing::Replace).unwrap();
    assert!(written.draft);
    if let Some(keep) = std::env::var_os("PANELKEEPER_REPORT_SAMPLE") {
        std::fs::copy(&pdf, keep).unwrap();
    }

    let pages = pages(&pdf);
    assert_eq!(pages.len() as u32, written.pages);
    // The cover and attendance, then 1,000 one-line notes at 39 rows a
    // page (26 pages), 100 two-line issues at 19 a page (5 pages and a bit), and the
    // open promises, one line each.
    assert_eq!(pages.len(), 35, "page count");
    let all = pages.join("\n");
    let cjk = Path::new(CJK_FONT).exists();
    for (name, _) in PEOPLE {
        let needs_cjk = name.chars().any(|c| ('\u{3000}'..='\u{9fff}').contains(&c));
        if needs_cjk && !cjk {
            assert!(
                all.contains(fonts_placeholder()),
                "{name} is neither drawn nor marked"
            );
        } else if name.starts_with('ف') {
            // Drawn from DejaVu's Arabic glyphs, letter by letter.
            assert!(
                name.chars()
                    .filter(|c| !c.is_whitespace())
                    .all(|c| all.contains(c)),
                "{name}"
            );
        } else {
            assert!(all.contains(name), "{name} missing from the report");
        }
    }
    for n in 0..1000 {
        assert!(
            all.contains(&format!("N{n:04} says the till was slow")),
            "note {n} missing"
        );
    }
    for k in 0..100 {
        assert!(
            all.contains(&format!("I{k:03} refund never arrived")),
            "issue {k} missing"
        );
    }
    assert!(all.contains("Open promises (100)"));
    assert!(
        pages[0].contains("Monday 1 June 2026, 10:00–11:30 Europe/Berlin (UTC+02:00)"),
        "{}",
        pages[0]
    );
    assert!(pages[0].contains("Room 4, Alexanderplatz") && pages[0].contains("Ana Moderator"));
    for (i, page) in pages.iter().enumerate() {
        assert!(
            page.contains("DRAFT: an issue is without an owner"),
            "page {} has no draft mark",
            i + 1
        );
        assert!(
            page.contains(&format!("Page {} of 35", i + 1)),
            "page {} has no number",
            i + 1
        );
        assert!(
            page.contains("Paying at the till · 2026-06-01 · exported"),
            "page {} footer",
            i + 1
        );
    }
    // The notes table continues over many pages, each with its header row.
    let note_pages: Vec<&String> = pages
        .iter()
        .filter(|p| p.contains(" says the till was slow"))
        .collect();
    assert!(note_pages.len() >= 25);
    for page in &note_pages {
        let header = page
            .lines()
            .find(|l| l.contains("Time") && l.contains("Who") && l.contains("Note"));
        assert!(
            header.is_some(),
            "a notes page without the header row:\n{page}"
        );
    }
    // Pages with rows of the issues table (the open promises box lists
    // them too, as "#N summary (participant): owner").
    let issue_pages: Vec<&String> = pages
        .iter()
        .filter(|p| {
            p.lines()
                .any(|l| l.contains("refund never") && !l.contains("): "))
        })
        .collect();
    assert!(issue_pages.len() >= 3);
    for page in issue_pages {
        assert!(
            page.lines()
                .any(|l| l.contains("Summary") && l.contains("Owner") && l.contains("Hand-offs"))
        );
    }
    // The open promises box names the issue without an owner.
    let last = pages.last().unwrap();
    assert!(
        last.contains("I099 refund never arrived") && last.contains("nobody yet"),
        "{last}"
    );

    // Fonts are embedded, as subsets.
    let fonts = tool("pdffonts", &[pdf.to_str().unwrap()]);
    for line in fonts.lines().skip(2) {
        assert!(
            line.contains(" yes yes "),
            "a font not embedded as a subset: {line}"
        );
        assert!(
            line.split_whitespace().next().unwrap().contains('+'),
            "{line}"
        );
    }
    if cjk {
        assert!(fonts.contains("NotoSansCJK"), "{fonts}");
    }

    // A rendered first page.
    let png = t.dir.path().join("cover");
    tool(
        "pdftoppm",
        &[
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            pdf.to_str().unwrap(),
            png.to_str().unwrap(),
        ],
    );
    let image = std::fs::read_dir(t.dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with("cover"))
        .expect("pdftoppm wrote a page image");
    assert!(image.metadata().unwrap().len() > 10_000);
}

fn fonts_placeholder() -> &'static str {
    "□"
}

#[tokio::test]
async fn long_notes_wrap_inside_the_margins() {
    let t = common::panel().await;
    let p = &t.panel;
    let s = session_with(p, 60, 4, true).await;
    let pdf = t.dir.path().join("long.pdf");
    reports::session(p, s, ReportOptions::default(), &|_| {})
        .await
        .unwrap()
        .write(&pdf, Existing::Replace)
        .unwrap();
    let html = tool("pdftotext", &["-bbox", pdf.to_str().unwrap(), "-"]);
    let attr = |tag: &str, name: &str| -> f32 {
        let key = format!("{name}=\"");
        let at = tag.find(&key).unwrap_or_else(|| panic!("{name} in {tag}")) + key.len();
        tag[at..].split('"').next().unwrap().parse().unwrap()
    };
    let (mut width, mut height) = (0.0, 0.0);
    let mut words = 0;
    // The margin is 50 pt; a point of slack for rounding.
    let (left, right_margin) = (49.0, 49.0);
    for tag in html.split('<').skip(1) {
        if tag.starts_with("page ") {
            width = attr(tag, "width");
            height = attr(tag, "height");
        } else if tag.starts_with("word ") {
            words += 1;
            let (x0, y0, x1, y1) = (
                attr(tag, "xMin"),
                attr(tag, "yMin"),
                attr(tag, "xMax"),
                attr(tag, "yMax"),
            );
            let word = tag.split('>').nth(1).unwrap_or_default();
            assert!(
                x0 >= left && x1 <= width - right_margin,
                "{word:?} runs off the page sideways: {x0}..{x1} of {width}"
            );
            assert!(
                y0 >= 0.0 && y1 <= height,
                "{word:?} runs off the page: {y0}..{y1} of {height}"
            );
        }
    }
    assert!(words > 3000, "{words} words read back");
    let text = pages(&pdf).join("\n");
    // The long notes are all there, wrapped: their ends too.
    assert_eq!(text.matches("ends here.").count(), 6);
}

#[tokio::test]
async fn an_anonymised_report_names_no_participant() {
    let t = common::panel().await;
    let p = &t.panel;
    let s = session_with(p, 12, 2, false).await;
    // Notes that name people in their text, not only in the Who column.
    notes::add(
        p,
        s,
        &NoteInput {
            text: "Zoë Ålander-Müller agrees with Екатерина; write to zoe@example.org".into(),
            participant: Some("zoe@example.org".into()),
            author: None,
        },
    )
    .await
    .unwrap();
    notes::add(
        p,
        s,
        &NoteInput {
            text: "王小明 asked Zoë about the till".into(),
            participant: None,
            author: None,
        },
    )
    .await
    .unwrap();
    let pdf = t.dir.path().join("anon.pdf");
    reports::session(p, s, ReportOptions { anonymise: true }, &|_| {})
        .await
        .unwrap()
        .write(&pdf, Existing::Replace)
        .unwrap();
    let text = pages(&pdf).join("\n");
    for (name, email) in PEOPLE {
        let first = name.split_whitespace().next().unwrap();
        assert!(
            !text.contains(first) && !text.contains(email),
            "{name} appears in an anonymised report:\n{text}"
        );
    }
    assert!(text.contains("agrees with Participant"), "{text}");
    for n in 1..=6 {
        assert!(
            text.contains(&format!("Participant {n}")),
            "Participant {n}"
        );
    }
    assert!(text.contains("Sam Owner"), "staff stay named");
}

#[tokio::test]
async fn a_complete_session_gives_a_final_report_and_the_follow_up_report_counts_promises() {
    let t = common::panel().await;
    let p = &t.panel;
    let s = session_with(p, 10, 3, false).await;
    let open = issues::list(p, &Default::default()).await.unwrap();
    let unowned = open.iter().find(|i| i.owner.is_none()).unwrap();
    issues::assign(p, unowned.id, "sam@company.example.com")
        .await
        .unwrap();
    t.clock.advance(Duration::hours(3));
    sessions::complete(p, s).await.unwrap();
    let first = open.iter().find(|i| i.owner.is_some()).unwrap();
    issues::log_contact(p, first.id, issues::ContactVia::Phone, "Called")
        .await
        .unwrap();
    t.clock.advance(Duration::days(1));
    issues::resolve(p, first.id, "Refunded", "The refund is on its way.")
        .await
        .unwrap();

    let pdf = t.dir.path().join("final.pdf");
    let written = reports::session(p, s, ReportOptions::default(), &|_| {})
        .await
        .unwrap()
        .write(&pdf, Existing::Replace)
        .unwrap();
    assert!(!written.draft);
    let text = pages(&pdf).join("\n");
    assert!(!text.contains("DRAFT"));
    assert!(text.contains("(final)"));
    assert!(text.contains("Open promises (2)"));

    t.clock.advance(Duration::days(30));
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let pdf = t.dir.path().join("follow-ups.pdf");
    reports::follow_ups(p, day("2026-06-01"), day("2026-06-30"), &|_| {})
        .await
        .unwrap()
        .write(&pdf, Existing::Replace)
        .unwrap();
    let text = pages(&pdf).join("\n");
    assert!(
        text.contains("Follow-up report, 2026-06-01 to 2026-06-30"),
        "{text}"
    );
    assert!(text.contains("Issues raised") && text.contains("3"));
    assert!(
        text.contains("Still open") && text.contains("2 (2 overdue)"),
        "{text}"
    );
    assert!(text.contains("Median time to first contact"), "{text}");
    assert!(text.contains("Sam Owner"));
    assert!(text.contains("Oldest open promises (2 of 2)"), "{text}");

    // The dashboard's figures are the report's, from the same computation.
    let f = reports::follow_up_figures(p, day("2026-06-01"), day("2026-06-30"))
        .await
        .unwrap();
    assert_eq!((f.raised, f.open, f.overdue), (3, 2, 2));
    let first_contact = f.median_first_contact_hours.unwrap();
    assert!(
        text.contains(&format!("{first_contact:.1} hours")),
        "{first_contact} not in {text}"
    );
    let resolution = f.median_resolution_days.unwrap();
    assert!(text.contains(&format!("{resolution:.1} days")), "{text}");
    assert_eq!(f.oldest_open.len(), 2);
    assert_eq!(f.by_week.iter().map(|w| w.raised).sum::<u32>(), 3);
    // Every issue counted once by its hand-offs, agreeing with the mean.
    assert_eq!(f.handoff_counts.first().map(|c| c.handoffs), Some(0));
    assert_eq!(f.handoff_counts.iter().map(|c| c.issues).sum::<u32>(), 3);
    let handed = f
        .handoff_counts
        .iter()
        .map(|c| c.handoffs * c.issues)
        .sum::<u32>();
    assert!((f64::from(handed) / 3.0 - f.mean_handoffs).abs() < 1e-9);
    let sam = f.by_owner.iter().find(|o| o.owner == "Sam Owner").unwrap();
    assert!(text.contains("Sam Owner"));
    assert_eq!(
        f.by_owner.iter().map(|o| o.open + o.resolved).sum::<u32>(),
        3,
        "{sam:?}"
    );

    // A range that ends before it starts, and one ending on the last day a
    // date can hold (which has no day after it): refused, not a panic.
    for (from, to) in [
        (day("2026-06-30"), day("2026-06-01")),
        (day("2026-06-01"), chrono::NaiveDate::MAX),
    ] {
        let err = reports::follow_ups(p, from, to, &|_| {})
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, Error::InvalidInput { ref field, .. } if field == "to"),
            "{err:?}"
        );
        let err = reports::follow_up_figures(p, from, to).await.err().unwrap();
        assert!(
            matches!(err, Error::InvalidInput { ref field, .. } if field == "to"),
            "{err:?}"
        );
    }
    assert!(matches!(
        reports::session(
            p,
            sessions::SessionId(999),
            ReportOptions::default(),
            &|_| {}
        )
        .await
        .err()
        .unwrap(),
        Error::NotFound { .. }
    ));
}

#[tokio::test]
async fn a_report_is_mailed_as_a_pdf_attachment_through_the_outbox() {
    use mail_parser::MimeHeaders;
    use panelkeeper::mail::{self, settings, worker};
    let t = common::panel().await;
    let p = &t.panel;
    let server = common::smtp::SmtpServer::start(t.dir.path(), &[]);
    settings::set(p, common::smtp::local_smtp(server.port))
        .await
        .unwrap();
    let s = session_with(p, 20, 2, false).await;
    let ana = staff::by_email(p, "ana@company.example.com").await.unwrap();
    staff::set_current(p, ana.id).await.unwrap();
    let report = reports::session(p, s, ReportOptions { anonymise: true }, &|_| {})
        .await
        .unwrap();
    let err = report.send(p, "not-an-address", "").await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "email"),
        "{err:?}"
    );
    // The preview is the message as it will go, and queues nothing.
    let waiting = mail::counts(p).await.unwrap().waiting;
    let preview = report
        .preview(
            p,
            "client@example.net",
            "As promised: the anonymised report.",
        )
        .await
        .unwrap();
    assert_eq!(preview.to, "client@example.net");
    assert_eq!(preview.reply_to.as_deref(), Some("ana@company.example.com"));
    assert_eq!(preview.body.subject, "Report: Paying at the till");
    assert!(
        preview
            .body
            .text
            .contains("As promised: the anonymised report.")
    );
    assert_eq!(
        preview.attachments,
        [(
            "Paying at the till.pdf".to_string(),
            report.pdf.len() as u64
        )]
    );
    assert_eq!(mail::counts(p).await.unwrap().waiting, waiting);
    let err = report.preview(p, "client@", "").await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    report
        .send(
            p,
            "client@example.net",
            "As promised: the anonymised report.",
        )
        .await
        .unwrap();
    assert_eq!(mail::counts(p).await.unwrap().waiting, waiting + 1);
    worker::send_due(p).await.unwrap();
    let delivered = server.delivered();
    let got = delivered
        .iter()
        .map(|d| d.parsed())
        .find(|m| m.subject() == Some("Report: Paying at the till"))
        .expect("the report mail at the SMTP server");
    assert_eq!(
        got.to().unwrap().first().unwrap().address(),
        Some("client@example.net")
    );
    assert_eq!(
        got.reply_to().unwrap().first().unwrap().address(),
        Some("ana@company.example.com")
    );
    assert!(
        got.body_text(0)
            .unwrap()
            .contains("As promised: the anonymised report.")
    );
    let pdf = got.attachments().next().expect("an attachment");
    assert_eq!(pdf.attachment_name(), Some("Paying at the till.pdf"));
    assert_eq!(pdf.contents(), report.pdf.as_slice());
}
