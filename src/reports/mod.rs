//! PDF reports: a session's report for clients and managers, and the
//! follow-up report that shows whether promises are being kept.
//!
//! The session report has a cover (study, title, the date and time with
//! the session's zone named, place, moderator, observers), the attendance
//! table, the notes in time order and the issues raised, with a framed box
//! of the promises still open. A session with an issue nobody owns yet
//! gives a draft, marked on every page. Exported anonymised, participants
//! appear as "Participant 1", "Participant 2", ... in roster order.
//!
//! Both are laid out by [`layout`] with the fonts of [`fonts`], and written
//! with printpdf (fonts embedded as subsets).

pub mod figures;
mod fonts;
pub mod layout;

use crate::files::{self, Existing};
use crate::issues::{self, Issue, IssueQuery, IssueStatus};
use crate::mail::templates::{self, ReportMail, Template};
use crate::mail::{self, Attachment, MessageId, MessageKind, MessagePreview, NewMessage};
use crate::notes;
use crate::participants::fields::{Email, check_text};
use crate::participants::redact::Identity;
use crate::participants::{self, ParticipantId};
use crate::sessions::staff;
use crate::sessions::{self, Attendance, SessionId, SessionStatus};
use crate::{Error, Panel, Result};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use fonts::Fonts;
use layout::{Layout, RED, Style, col};
use printpdf::{PdfDocument, PdfSaveOptions};
use std::collections::HashMap;
use std::path::Path;

/// How a session report is exported.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase", default)]
pub struct ReportOptions {
    /// Participants as "Participant 1", ... instead of their names.
    pub anonymise: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ReportFile {
    pub path: String,
    pub pages: u32,
    pub bytes: u64,
    /// Marked as a draft: an issue of the session has no owner.
    pub draft: bool,
}

/// How far an export has got, for a progress bar.
#[derive(Debug, Clone, PartialEq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct ReportProgress {
    /// What is being done, in words.
    pub step: String,
    pub done: u32,
    pub total: u32,
}

/// Reports each step of an export; `&|_| {}` ignores them.
pub type Progress<'a> = &'a (dyn Fn(ReportProgress) + Send + Sync);

fn step(progress: Progress<'_>, done: u32, step: &str) {
    progress(ReportProgress {
        step: step.to_string(),
        done,
        total: 3,
    });
}

/// A laid-out report.
pub struct Report {
    pub title: String,
    /// The topic its mail is queued under (`report/session/12`), so an
    /// erasure can find the report mail of a session someone was on.
    pub topic: String,
    pub pdf: Vec<u8>,
    pub pages: u32,
    pub draft: bool,
}

impl Report {
    /// The report's title as a file name: what a file system or a mail
    /// client could misread made `_`.
    pub fn file_stem(&self) -> String {
        let stem: String = self
            .title
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || " -_.,()".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        stem.trim().to_string()
    }

    /// Writes the report to `path` (through a temporary file beside it, so
    /// a failed export never leaves half a file; see [`crate::files`]).
    /// An existing file is replaced only with [`Existing::Replace`].
    pub fn write(&self, path: &Path, existing: Existing) -> Result<ReportFile> {
        let shown = path.display().to_string();
        files::write_bytes(path, &self.pdf, existing)?;
        Ok(ReportFile {
            path: shown,
            pages: self.pages,
            bytes: self.pdf.len() as u64,
            draft: self.draft,
        })
    }

    /// Queues the report to `to` as a PDF attachment, with `message` from
    /// the staff member using this computer, through the outbox.
    pub async fn send(&self, panel: &Panel, to: &str, message: &str) -> Result<MessageId> {
        let mail = self.mail(panel, to, message).await?;
        let mut tx = panel.begin().await?;
        let id = mail::enqueue(&mut tx, mail.not_before, &mail).await?;
        tx.commit().await?;
        panel.wake_mail();
        Ok(id)
    }

    /// The mail [`Report::send`] would queue, for its sender to read first.
    pub async fn preview(&self, panel: &Panel, to: &str, message: &str) -> Result<MessagePreview> {
        Ok(MessagePreview::from(&self.mail(panel, to, message).await?))
    }

    async fn mail(&self, panel: &Panel, to: &str, message: &str) -> Result<NewMessage> {
        let to = Email::parse(to)?;
        let message = check_text("message", message)?;
        let sender = staff::current(panel).await?;
        let body = templates::render(&Template::Report(ReportMail {
            recipient_name: String::new(),
            title: self.title.clone(),
            pages: self.pages,
            sender_name: sender
                .as_ref()
                .map_or_else(|| "Panelkeeper".into(), |s| s.name.clone()),
            message,
        }))?;
        let filename = self.file_stem();
        Ok(NewMessage {
            also_reply_to: None,
            kind: MessageKind::Report,
            to,
            to_name: String::new(),
            reply_to: sender.as_ref().and_then(|s| Email::parse(&s.email).ok()),
            from_name: sender.map(|s| s.name),
            body,
            headers: Default::default(),
            attachments: vec![Attachment {
                filename: format!("{filename}.pdf"),
                content_type: "application/pdf".into(),
                content: self.pdf.clone(),
            }],
            not_before: panel.now(),
            topic: Some(self.topic.clone()),
        })
    }
}

/// Lays out pages with the document's fonts and serialises the PDF.
fn render(
    title: &str,
    text: &str,
    footer: &str,
    draft: Option<&str>,
    build: impl FnOnce(&mut Layout<'_>),
) -> Result<(Vec<u8>, u32)> {
    let mut doc = PdfDocument::new(title);
    let fonts = Fonts::load(&mut doc, text)?;
    let mut layout = Layout::new(&fonts);
    build(&mut layout);
    let pages = layout.finish(footer, draft);
    let count = pages.len() as u32;
    Ok((serialise(doc.with_pages(pages))?, count))
}

/// Writes the document as PDF bytes: fonts as subsets, every stream
/// deflated at zlib's default level, the streams split over two threads.
/// (printpdf's own `save` deflates one stream after another at the best
/// level, which took a third of a long report's time for a file no
/// smaller.)
fn serialise(doc: &PdfDocument) -> Result<Vec<u8>> {
    use flate2::{Compression, write::ZlibEncoder};
    use std::io::Write;

    let mut warnings = Vec::new();
    let options = PdfSaveOptions {
        subset_fonts: true,
        optimize: false,
        ..Default::default()
    };
    let mut pdf = doc.to_lopdf_document(&options, &mut warnings);
    let mut streams: Vec<&mut lopdf::Stream> = pdf
        .objects
        .values_mut()
        .filter_map(|object| match object {
            lopdf::Object::Stream(s) if s.allows_compression && s.dict.get(b"Filter").is_err() => {
                Some(s)
            }
            _ => None,
        })
        .collect();
    // Largest first, each to the thread with less so far.
    streams.sort_by_key(|s| std::cmp::Reverse(s.content.len()));
    let (mut halves, mut sizes) = ([Vec::new(), Vec::new()], [0usize; 2]);
    for stream in streams {
        let half = usize::from(sizes[1] < sizes[0]);
        sizes[half] += stream.content.len();
        halves[half].push(stream);
    }
    let deflate = |streams: Vec<&mut lopdf::Stream>| {
        for stream in streams {
            let mut encoder = ZlibEncoder::new(
                Vec::with_capacity(stream.content.len() / 3),
                Compression::default(),
            );
            // Writing to memory cannot fail; a stream that somehow does is
            // kept as it is, uncompressed.
            if let Ok(deflated) = encoder
                .write_all(&stream.content)
                .and_then(|()| encoder.finish())
                && deflated.len() + 19 < stream.content.len()
            {
                stream.dict.set("Filter", "FlateDecode");
                stream.set_content(deflated);
            }
        }
    };
    let [first, second] = halves;
    std::thread::scope(|scope| {
        scope.spawn(|| deflate(second));
        deflate(first);
    });
    let mut bytes = Vec::new();
    pdf.save_to(&mut bytes)
        .map_err(|e| Error::file("the report", e.to_string()))?;
    Ok(bytes)
}

/// Opens a written report with the desktop's default program (a PDF
/// viewer). Only an existing `.pdf` file is opened.
pub fn open_in_viewer(path: &Path) -> Result<()> {
    let shown = path.display().to_string();
    if path.extension().and_then(|e| e.to_str()) != Some("pdf") || !path.is_file() {
        return Err(Error::file(shown, "is not a PDF report"));
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| Error::file(shown, format!("could not be opened ({opener}: {e})")))
}

fn local(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string()
}

fn offset(seconds: i64) -> String {
    let s = seconds.abs();
    format!(
        "{}{:02}:{:02}:{:02}",
        if seconds < 0 { "-" } else { "+" },
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

fn status_text(s: IssueStatus) -> &'static str {
    match s {
        IssueStatus::Open => "Open",
        IssueStatus::Contacted => "Contacted",
        IssueStatus::Waiting => "Waiting on participant",
        IssueStatus::Resolved => "Resolved",
        IssueStatus::WontFix => "Won't fix",
        IssueStatus::Closed => "Closed",
    }
}

fn due_text(i: &Issue, zone: Tz) -> String {
    match (i.status.is_open(), i.awaiting_contact(), i.resolved_at) {
        (true, true, _) => format!("contact by {}", local(i.first_contact_due, zone)),
        (true, false, _) => format!("resolve by {}", local(i.resolution_due, zone)),
        (false, _, Some(at)) => format!("done {}", local(at, zone)),
        (false, _, None) => String::new(),
    }
}

/// The session report.
pub async fn session(
    panel: &Panel,
    id: SessionId,
    options: ReportOptions,
    progress: Progress<'_>,
) -> Result<Report> {
    step(progress, 0, "Reading the session");
    let query = IssueQuery {
        session: Some(id),
        limit: Some(5000),
        ..Default::default()
    };
    let (detail, notes, issues) = tokio::try_join!(
        sessions::detail(panel, id),
        notes::list(panel, id),
        issues::list(panel, &query),
    )?;
    let s = &detail.session;
    let zone = s.time_zone.tz();
    let now = panel.now();

    // Who is who: names, or labels in roster order.
    let mut names: HashMap<ParticipantId, String> = HashMap::new();
    let mut next = 0;
    let mut label = |p: ParticipantId, name: &str, names: &mut HashMap<ParticipantId, String>| {
        names.entry(p).or_insert_with(|| {
            if options.anonymise {
                next += 1;
                format!("Participant {next}")
            } else {
                name.to_string()
            }
        });
    };
    for r in &detail.roster {
        label(r.participant, &r.name, &mut names);
    }
    for n in &notes {
        if let (Some(p), Some(name)) = (n.participant, &n.participant_name) {
            label(p, name, &mut names);
        }
    }
    for i in &issues {
        label(i.participant, &i.participant_name, &mut names);
    }
    let who = |p: ParticipantId| names.get(&p).cloned().unwrap_or_default();
    // Anonymised, the text names nobody either: each labelled person's
    // name, email and phone in a note or an issue becomes their label.
    let mut labels: Vec<(usize, Identity, String)> = Vec::new();
    if options.anonymise {
        for (p, label) in &names {
            let person = participants::get(panel, *p).await?;
            let identity = Identity::of(
                &person.name,
                person.email.as_deref(),
                person.phone.as_deref(),
            );
            labels.push((person.name.len(), identity, label.clone()));
        }
        // The longest names first, so one person's name is not cut into
        // by another's shorter one.
        labels.sort_by_key(|(len, _, _)| std::cmp::Reverse(*len));
    }
    let anonymous = |text: &str| -> String {
        labels
            .iter()
            .fold(text.to_string(), |t, (_, identity, label)| {
                identity.replace(&t, label).unwrap_or(t)
            })
    };
    let notes: Vec<notes::Note> = notes
        .into_iter()
        .map(|mut n| {
            n.text = anonymous(&n.text);
            n
        })
        .collect();
    let issues: Vec<Issue> = issues
        .into_iter()
        .map(|mut i| {
            i.summary = anonymous(&i.summary);
            i
        })
        .collect();

    let unowned: Vec<&Issue> = issues.iter().filter(|i| i.owner.is_none()).collect();
    let draft = (!unowned.is_empty()).then(|| {
        let list = unowned
            .iter()
            .map(|i| format!("#{}", i.id))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "DRAFT: {} without an owner ({list}); this report is not final",
            if unowned.len() == 1 {
                "an issue is"
            } else {
                "issues are"
            }
        )
    });

    let start = s.starts_at.with_timezone(&zone);
    let end = s.ends_at.with_timezone(&zone);
    let when = format!(
        "{}, {}–{} {} (UTC{})",
        start.format("%A %-d %B %Y"),
        start.format("%H:%M"),
        end.format("%H:%M"),
        s.time_zone,
        start.format("%:z")
    );
    let state = if s.status == SessionStatus::Cancelled {
        format!(
            "Cancelled{}",
            s.cancel_reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )
    } else if let Some(at) = s.completed_at {
        format!("Complete since {} (final)", local(at, zone))
    } else if draft.is_some() {
        "Draft: not every issue has an owner".to_string()
    } else {
        "Not yet marked complete".to_string()
    };
    let exported = format!("{} UTC", now.format("%Y-%m-%d %H:%M"));

    // Every text the report shows, so the fonts needed are found first.
    let mut text = format!("{} {} {} {}", s.title, s.study, s.place, s.moderator.name);
    for o in &s.observers {
        text.push_str(&o.name);
    }
    for name in names.values() {
        text.push_str(name);
    }
    for n in &notes {
        text.push_str(&n.text);
    }
    for i in &issues {
        text.push_str(&i.summary);
        text.push_str(i.owner_name.as_deref().unwrap_or(""));
    }

    let footer = format!(
        "{} · {} · exported {exported}",
        s.title,
        start.format("%Y-%m-%d")
    );
    let (pdf, pages) = render(&s.title, &text, &footer, draft.as_deref(), |l| {
        l.paragraph(&s.title, Style::TITLE, 0.0);
        l.space(6.0);
        let mut fields = vec![];
        if !s.study.is_empty() {
            fields.push(("Study", s.study.clone()));
        }
        fields.push(("When", when.clone()));
        if !s.place.is_empty() {
            fields.push(("Place", s.place.clone()));
        }
        fields.push(("Moderator", s.moderator.name.clone()));
        if !s.observers.is_empty() {
            let observers: Vec<&str> = s.observers.iter().map(|o| o.name.as_str()).collect();
            fields.push(("Observers", observers.join(", ")));
        }
        fields.push(("Status", state.clone()));
        fields.push(("Exported", exported.clone()));
        if options.anonymise {
            fields.push(("Participants", "anonymised".to_string()));
        }
        l.fields(&fields);
        l.paragraph(
            &format!("Times are in {} unless marked otherwise.", s.time_zone),
            Style::SMALL,
            0.0,
        );

        l.heading(&format!("Attendance ({})", detail.roster.len()));
        if let Some(topic) = &s.consent_topic {
            l.paragraph(
                &format!("The session requires the consent \"{topic}\"; the version each person accepted is shown."),
                Style::SMALL,
                0.0,
            );
        }
        let consent = s.consent_topic.is_some();
        let rows: Vec<Vec<String>> = detail
            .roster
            .iter()
            .map(|r| {
                let mut row = vec![
                    who(r.participant),
                    r.rsvp.as_str().replace('_', " "),
                    r.attendance.map(attendance_text).unwrap_or("-").to_string(),
                    r.incentive_cents
                        .map(|c| {
                            format!(
                                "{}.{:02}{}",
                                c / 100,
                                c % 100,
                                if r.incentive_paid { " paid" } else { "" }
                            )
                        })
                        .unwrap_or_else(|| "-".into()),
                ];
                if consent {
                    row.push(
                        r.consent_version
                            .map_or_else(|| "none".to_string(), |v| format!("version {v}")),
                    );
                }
                row
            })
            .collect();
        if rows.is_empty() {
            l.paragraph("Nobody was invited.", Style::BODY, 0.0);
        } else {
            let mut columns = vec![
                col("Participant", 4.0),
                col("RSVP", 2.0),
                col("Attendance", 2.0),
                col("Incentive", 2.0),
            ];
            if consent {
                columns.push(col("Consent", 2.0));
            }
            l.table(&columns, &rows);
        }

        l.heading(&format!("Notes ({})", notes.len()));
        let rows: Vec<Vec<String>> = notes
            .iter()
            .map(|n| {
                // Tags are written in the text (#tag), so the text shows them.
                vec![
                    offset(n.offset_seconds),
                    n.participant.map(who).unwrap_or_default(),
                    n.text.clone(),
                ]
            })
            .collect();
        if rows.is_empty() {
            l.paragraph("No notes were taken.", Style::BODY, 0.0);
        } else {
            l.table(
                &[col("Time", 1.6), col("Who", 3.2), col("Note", 7.2)],
                &rows,
            );
        }

        l.heading(&format!("Issues raised ({})", issues.len()));
        let mut by_id: Vec<&Issue> = issues.iter().collect();
        by_id.sort_by_key(|i| i.id.0);
        let rows: Vec<Vec<String>> = by_id
            .iter()
            .map(|i| {
                let due = due_text(i, zone);
                vec![
                    format!("#{}", i.id),
                    i.summary.clone(),
                    who(i.participant),
                    i.owner_name.clone().unwrap_or_else(|| "NO OWNER".into()),
                    if due.is_empty() {
                        status_text(i.status).to_string()
                    } else {
                        format!("{}, {due}", status_text(i.status))
                    },
                    i.handoffs.to_string(),
                ]
            })
            .collect();
        if rows.is_empty() {
            l.paragraph("No issues were raised.", Style::BODY, 0.0);
        } else {
            l.table(
                &[
                    col("#", 0.9),
                    col("Summary", 4.2),
                    col("Participant", 2.6),
                    col("Owner", 2.0),
                    col("Status and due", 3.6),
                    col("Hand-offs", 1.9),
                ],
                &rows,
            );
        }

        let open: Vec<&&Issue> = by_id.iter().filter(|i| i.status.is_open()).collect();
        l.begin_box(RED);
        l.paragraph(
            &format!("Open promises ({})", open.len()),
            Style::STRONG.with_colour(RED),
            0.0,
        );
        if open.is_empty() {
            l.paragraph(
                "Every issue raised here has been resolved.",
                Style::BODY,
                0.0,
            );
        }
        for i in open {
            let owner = i.owner_name.as_deref().unwrap_or("nobody yet");
            l.paragraph(
                &format!(
                    "#{} {} ({}): {owner}; {}{}",
                    i.id,
                    i.summary,
                    who(i.participant),
                    due_text(i, zone),
                    if i.overdue { ", OVERDUE" } else { "" }
                ),
                Style::BODY,
                0.0,
            );
        }
        l.end_box();
    })?;
    step(progress, 2, &format!("Writing {pages} pages"));
    Ok(Report {
        topic: format!("report/session/{id}"),
        title: s.title.clone(),
        pdf,
        pages,
        draft: draft.is_some(),
    })
}

fn attendance_text(a: Attendance) -> &'static str {
    match a {
        Attendance::Attended => "attended",
        Attendance::Late => "late",
        Attendance::NoShow => "no-show",
        Attendance::Cancelled => "cancelled",
    }
}

/// The follow-up figures of the issues raised from `from` to `to` (both
/// days included, UTC): what [`follow_ups`] prints, for the app's dashboard.
pub async fn follow_up_figures(
    panel: &Panel,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<figures::FollowUpFigures> {
    let (start, end) = period(from, to)?;
    let all = issues::raised_between(panel, start, end).await?;
    Ok(figures::figures(&all, from, to))
}

/// The instants a period of days covers: from the start of `from` to the
/// end of `to` (UTC); refused when `to` is before `from`.
fn period(from: NaiveDate, to: NaiveDate) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    if to < from {
        return Err(Error::invalid(
            "to",
            to.to_string(),
            format!("is before the start of the range, {from}"),
        ));
    }
    let start = from.and_time(chrono::NaiveTime::MIN).and_utc();
    let end = to
        .succ_opt()
        .ok_or_else(|| Error::invalid("to", to.to_string(), "is past the last day there is"))?
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    Ok((start, end))
}

/// The follow-up report over issues raised from `from` to `to` (both days included, UTC).
pub async fn follow_ups(
    panel: &Panel,
    from: NaiveDate,
    to: NaiveDate,
    progress: Progress<'_>,
) -> Result<Report> {
    let (start, end) = period(from, to)?;
    step(progress, 0, "Reading the issues");
    let all = issues::raised_between(panel, start, end).await?;
    let now = panel.now();
    let f = figures::figures(&all, from, to);
    let oldest = &f.oldest_open;
    let open_total = f.open;

    let title = format!("Follow-up report, {from} to {to}");
    let exported = format!("{} UTC", now.format("%Y-%m-%d %H:%M"));
    let mut text = title.clone();
    for o in &f.by_owner {
        text.push_str(&o.owner);
    }
    for i in oldest {
        text.push_str(&i.summary);
        text.push_str(&i.participant_name);
    }
    let footer = format!("{title} · exported {exported}");
    step(progress, 1, &format!("Laying out {} issues", f.raised));
    let (pdf, pages) = render(&title, &text, &footer, None, |l| {
        l.paragraph(&title, Style::TITLE, 0.0);
        l.space(6.0);
        l.fields(&[
            ("Issues raised", f.raised.to_string()),
            (
                "Still open",
                format!("{open_total} ({} overdue)", f.overdue),
            ),
            (
                "Median time to first contact",
                f.median_first_contact_hours
                    .map_or("-".into(), |h| format!("{h:.1} hours")),
            ),
            (
                "Median time to resolution",
                f.median_resolution_days
                    .map_or("-".into(), |d| format!("{d:.1} days")),
            ),
            (
                "Hand-offs per issue",
                format!(
                    "median {}, mean {:.2}",
                    f.median_handoffs.map_or("-".into(), |m| format!("{m:.0}")),
                    f.mean_handoffs
                ),
            ),
            (
                "Reopened",
                format!("{} issues, {} times", f.reopened_issues, f.reopens),
            ),
            ("Exported", exported.clone()),
        ]);
        l.paragraph("Times are in UTC.", Style::SMALL, 0.0);

        l.heading("By owner");
        let rows: Vec<Vec<String>> = f
            .by_owner
            .iter()
            .map(|o| {
                vec![
                    o.owner.clone(),
                    o.open.to_string(),
                    o.overdue.to_string(),
                    o.resolved.to_string(),
                ]
            })
            .collect();
        if rows.is_empty() {
            l.paragraph("No issues were raised in this period.", Style::BODY, 0.0);
        } else {
            l.table(
                &[
                    col("Owner", 4.0),
                    col("Open", 1.5),
                    col("Overdue", 1.5),
                    col("Resolved or closed", 2.5),
                ],
                &rows,
            );
        }

        l.heading(&format!(
            "Oldest open promises ({} of {open_total})",
            oldest.len()
        ));
        let rows: Vec<Vec<String>> = oldest
            .iter()
            .map(|i| {
                vec![
                    format!("#{}", i.id),
                    i.summary.clone(),
                    i.participant_name.clone(),
                    i.owner_name.clone().unwrap_or_else(|| "NO OWNER".into()),
                    local(i.created_at, Tz::UTC),
                    format!(
                        "{}{}",
                        due_text(i, Tz::UTC),
                        if i.overdue { " (OVERDUE)" } else { "" }
                    ),
                ]
            })
            .collect();
        if rows.is_empty() {
            l.paragraph(
                "Every promise of this period has been kept.",
                Style::BODY,
                0.0,
            );
        } else {
            l.table(
                &[
                    col("#", 0.8),
                    col("Summary", 4.0),
                    col("Participant", 2.2),
                    col("Owner", 2.0),
                    col("Raised", 2.2),
                    col("Due", 2.8),
                ],
                &rows,
            );
        }
    })?;
    step(progress, 2, &format!("Writing {pages} pages"));
    Ok(Report {
        topic: format!("report/follow-ups/{from}/{to}"),
        title,
        pdf,
        pages,
        draft: false,
    })
}
