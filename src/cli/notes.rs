//! `notes` commands: add, list, edit and search a session's live notes.

use super::{Error, print_json};
use clap::Subcommand;
use panelkeeper::Panel;
use panelkeeper::notes::{self, Note, NoteId, NoteInput, NoteSearch};
use panelkeeper::sessions::SessionId;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum NotesCmd {
    /// Add a note to a session, stamped now; prints its id. With TEXT `-`,
    /// each line of standard input is a note, saved and its id printed as
    /// it arrives (a transcript piped in live).
    Add {
        session: i64,
        text: String,
        /// The participant it is about (email or id).
        #[arg(long)]
        participant: Option<String>,
        /// The author's email (default: `staff me`).
        #[arg(long)]
        author: Option<String>,
    },
    /// A session's notes in the order they were taken.
    List {
        session: i64,
        #[arg(long)]
        json: bool,
    },
    /// Change a note's text (its participant stays unless named); the
    /// earlier version is kept.
    Edit {
        id: i64,
        text: String,
        /// Attribute it to this participant (email or id) instead.
        #[arg(long, conflicts_with = "no_participant")]
        participant: Option<String>,
        /// Take the attribution off.
        #[arg(long)]
        no_participant: bool,
    },
    /// A note's earlier versions.
    History { id: i64 },
    /// Search every note: words match as prefixes, "quoted phrases" as phrases.
    Search {
        query: String,
        #[arg(long)]
        session: Option<i64>,
        #[arg(long)]
        tag: Option<String>,
        /// Only notes about this participant (email or id).
        #[arg(long)]
        participant: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
}

fn offset(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let s = seconds.abs();
    format!("{sign}{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

/// A note on one line: id, offset from the start, the time it was taken,
/// its author, whom it is about, and its text.
fn line(n: &Note) -> String {
    let who = n
        .participant_name
        .as_deref()
        .map(|p| format!(" [{p}]"))
        .unwrap_or_default();
    let edited = if n.edits > 0 { " (edited)" } else { "" };
    format!(
        "{:>6}  {}  {}  {}{who}  {}{edited}",
        n.id,
        offset(n.offset_seconds),
        n.at.format("%Y-%m-%d %H:%M UTC"),
        n.author_name.as_deref().unwrap_or("-"),
        n.text.replace('\n', " / ")
    )
}

pub async fn notes_cmd(panel: &Panel, cmd: NotesCmd) -> Result<ExitCode, Error> {
    match cmd {
        NotesCmd::Add {
            session,
            text,
            participant,
            author,
        } if text == "-" => {
            // A line that cannot be saved is printed back, with the reason,
            // so nothing typed is lost, and the lines after it are still saved.
            use std::io::BufRead as _;
            let mut unsaved = 0u32;
            for (n, line) in std::io::stdin().lock().lines().enumerate() {
                let line = line.map_err(|e| Error::File {
                    path: "standard input".into(),
                    reason: format!("line {} could not be read: {e}", n + 1),
                })?;
                if line.trim().is_empty() {
                    continue;
                }
                let input = NoteInput {
                    text: line,
                    participant: participant.clone(),
                    author: author.clone(),
                };
                match notes::add(panel, SessionId(session), &input).await {
                    Ok(note) => out!("{}", note.id),
                    Err(e) => {
                        unsaved += 1;
                        eprintln!("not saved (line {}: {e}): {}", n + 1, input.text);
                    }
                }
            }
            if unsaved > 0 {
                eprintln!(
                    "error: {unsaved} line{} not saved; {} printed above with the reason",
                    if unsaved == 1 { " was" } else { "s were" },
                    if unsaved == 1 { "it is" } else { "they are" }
                );
                return Ok(ExitCode::FAILURE);
            }
        }
        NotesCmd::Add {
            session,
            text,
            participant,
            author,
        } => {
            let n = notes::add(
                panel,
                SessionId(session),
                &NoteInput {
                    text,
                    participant,
                    author,
                },
            )
            .await?;
            out!("{}", n.id);
        }
        NotesCmd::List { session, json } => {
            let all = notes::list(panel, SessionId(session)).await?;
            if json {
                print_json(&all);
            } else {
                for n in &all {
                    out!("{}", line(n));
                }
            }
        }
        NotesCmd::Edit {
            id,
            text,
            participant,
            no_participant,
        } => {
            let n = notes::edit(
                panel,
                NoteId(id),
                &NoteInput {
                    text,
                    participant: if no_participant {
                        Some(String::new())
                    } else {
                        participant
                    },
                    author: None,
                },
            )
            .await?;
            out!("{}", line(&n));
        }
        NotesCmd::History { id } => {
            for v in notes::history(panel, NoteId(id)).await? {
                out!(
                    "{}  {}",
                    v.replaced_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    v.text.replace('\n', " / ")
                );
            }
        }
        NotesCmd::Search {
            query,
            session,
            tag,
            participant,
            limit,
            json,
        } => {
            let hits = notes::search(
                panel,
                &NoteSearch {
                    query,
                    session: session.map(SessionId),
                    tag,
                    participant,
                    limit: Some(limit),
                },
            )
            .await?;
            if json {
                print_json(&hits);
            } else {
                for h in &hits {
                    out!("session {} \"{}\":", h.note.session, h.session_title);
                    if let Some(b) = &h.before {
                        out!("  {}", line(b));
                    }
                    out!("> {}", line(&h.note));
                    if let Some(a) = &h.after {
                        out!("  {}", line(a));
                    }
                }
                if hits.is_empty() {
                    out!("no notes match");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
