//! `participants`, `suppress`, `screener`, `eligible`, `rules` and
//! `consent` commands: the panel's people, who may be invited and why not,
//! and what they agreed to.

use super::{Error, file_error, one_line, parse_time, print_json, progress_bar};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use panelkeeper::Panel;
use panelkeeper::files::{self, Existing};
use panelkeeper::participants::{
    self, AttributeFilter, ParticipantId, ParticipantInput, ParticipantQuery, ParticipantSort,
    StatusFilter, consent, csv_export, governance, history, import, privacy, screener, suppression,
};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Clone, Default)]
pub struct Filters {
    /// Words to find in name, email or phone.
    #[arg(long)]
    search: Option<String>,
    #[arg(long)]
    tag: Option<String>,
    /// KEY=VALUE; may be repeated.
    #[arg(long = "attr", value_parser = parse_pair)]
    attrs: Vec<(String, String)>,
    /// all, contactable, opted-out, do-not-contact or erased.
    #[arg(long, default_value = "all", value_parser = parse_status)]
    status: StatusFilter,
    /// name, name-desc, newest or oldest.
    #[arg(long, default_value = "name", value_parser = parse_sort)]
    sort: ParticipantSort,
}

fn parse_sort(s: &str) -> Result<ParticipantSort, String> {
    match s {
        "name" => Ok(ParticipantSort::Name),
        "name-desc" => Ok(ParticipantSort::NameDescending),
        "newest" => Ok(ParticipantSort::Newest),
        "oldest" => Ok(ParticipantSort::Oldest),
        other => Err(format!(
            "{other:?} is not an order: use name, name-desc, newest or oldest"
        )),
    }
}

impl Filters {
    fn query(&self, limit: u32, offset: u32) -> ParticipantQuery {
        ParticipantQuery {
            search: self.search.clone(),
            tag: self.tag.clone(),
            attributes: self
                .attrs
                .iter()
                .map(|(key, value)| AttributeFilter {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
            status: self.status,
            sort: self.sort,
            limit,
            offset,
        }
    }
}

#[derive(Args, Clone, Default)]
pub struct Fields {
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    phone: Option<String>,
    /// IANA time zone, such as Europe/Berlin.
    #[arg(long = "tz")]
    time_zone: Option<String>,
    /// Language tag, such as de or pt-BR.
    #[arg(long)]
    language: Option<String>,
    #[arg(long)]
    source: Option<String>,
    /// KEY=VALUE attribute to set; may be repeated.
    #[arg(long = "set", value_parser = parse_pair)]
    set: Vec<(String, String)>,
    /// Attribute to remove; may be repeated.
    #[arg(long = "unset")]
    unset: Vec<String>,
    /// Tag to add; may be repeated.
    #[arg(long = "tag")]
    tag: Vec<String>,
    /// Tag to remove; may be repeated.
    #[arg(long = "untag")]
    untag: Vec<String>,
}

impl Fields {
    fn apply(&self, input: &mut ParticipantInput) {
        let set = |target: &mut Option<String>, v: &Option<String>| {
            if let Some(v) = v {
                *target = Some(v.clone());
            }
        };
        if let Some(n) = &self.name {
            input.name = n.clone();
        }
        if let Some(e) = &self.email {
            input.email = e.clone();
        }
        set(&mut input.phone, &self.phone);
        set(&mut input.time_zone, &self.time_zone);
        set(&mut input.language, &self.language);
        set(&mut input.source, &self.source);
        for (k, v) in &self.set {
            input.attributes.insert(k.clone(), v.clone());
        }
        for k in &self.unset {
            input.attributes.remove(k);
        }
        input.tags.extend(self.tag.iter().cloned());
        input.tags.retain(|t| !self.untag.contains(t));
    }
}

#[derive(Subcommand)]
pub enum ParticipantsCmd {
    /// Add one participant.
    Add(Fields),
    /// Change a participant (by id or email).
    Edit {
        participant: String,
        #[command(flatten)]
        fields: Fields,
    },
    /// Import a CSV file; exits 2 if any row was rejected (the good rows are imported).
    Import {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// List participants, a page at a time.
    List {
        #[command(flatten)]
        filters: Filters,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u32,
        #[arg(long)]
        json: bool,
    },
    /// One participant with governance status, consents and history.
    Show {
        participant: String,
        #[arg(long)]
        json: bool,
    },
    /// Export participants to a CSV file (spreadsheet-safe).
    Export {
        file: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        filters: Filters,
    },
    /// Record an opt-out (or withdraw one with --undo).
    OptOut {
        participant: String,
        #[arg(long)]
        undo: bool,
    },
    /// Mark as do-not-contact (or clear it with --off).
    Dnc {
        participant: String,
        #[arg(long)]
        off: bool,
    },
    /// Log a contact made outside the app (invited, attended, no_show, ...).
    Log {
        participant: String,
        kind: String,
        #[arg(long, value_parser = parse_time)]
        at: Option<DateTime<Utc>>,
        #[arg(long)]
        detail: Option<String>,
    },
    /// Everything held about one participant, as JSON.
    PrivacyExport {
        participant: String,
        /// Write it to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Replace the file at --output if there is one.
        #[arg(long, requires = "output")]
        force: bool,
    },
    /// Erase a participant's personal data (keeps a de-identified record).
    /// Without --yes, shows what would be erased and changes nothing.
    Erase {
        participant: String,
        /// Confirms the erasure; it cannot be undone.
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        reason: Option<String>,
        /// For notes attributed to them or naming them: take out the
        /// matches (name, email, phone), the whole text, or keep them.
        #[arg(long, default_value = "matches", value_parser = ["matches", "whole", "keep"])]
        notes: String,
        /// Why notes are kept (with --notes keep, or a kept --note).
        #[arg(long)]
        keep_reason: Option<String>,
        /// One note's choice: ID=matches, ID=whole, ID=keep or ID=keep:REASON.
        #[arg(long = "note", value_parser = parse_note_choice)]
        note: Vec<(i64, String, Option<String>)>,
    },
}

#[derive(Subcommand)]
pub enum SuppressCmd {
    /// Add the emails (or SHA-256 hashes) in FILE to a list.
    Import {
        file: PathBuf,
        #[arg(long, default_value = "suppressed")]
        list: String,
        #[arg(long)]
        json: bool,
    },
    /// The lists, their sizes and how many participants they match.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a list.
    Delete { list: String },
}

#[derive(Subcommand)]
pub enum ScreenerCmd {
    /// Create or replace a screener.
    ///
    /// Criteria: KEY=VALUE, "KEY in A,B,C", "KEY between MIN..MAX", "KEY missing".
    Create {
        name: String,
        /// Only people who match qualify; may be repeated.
        #[arg(long)]
        qualify: Vec<String>,
        /// People who match are disqualified; may be repeated.
        #[arg(long)]
        disqualify: Vec<String>,
        /// ATTRIBUTE:MAX, at most MAX people per value; may be repeated.
        #[arg(long)]
        quota: Vec<String>,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    Delete {
        name: String,
    },
}

#[derive(Subcommand)]
pub enum RulesCmd {
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Change rules; 0 turns a rule off.
    Set {
        #[arg(long)]
        cooldown_days: Option<u32>,
        #[arg(long)]
        max_sessions_per_year: Option<u32>,
        #[arg(long)]
        no_show_ban_after: Option<u32>,
    },
}

#[derive(Subcommand)]
pub enum ConsentCmd {
    /// Store a new version of a consent text.
    Add {
        topic: String,
        #[arg(long, conflicts_with = "text")]
        file: Option<PathBuf>,
        #[arg(long)]
        text: Option<String>,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Record that a participant accepted a version (the latest by default).
    Accept {
        participant: String,
        #[arg(long)]
        topic: String,
        #[arg(long)]
        version: Option<u32>,
        #[arg(long, value_parser = parse_time)]
        at: Option<DateTime<Utc>>,
    },
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

fn parse_note_choice(s: &str) -> Result<(i64, String, Option<String>), String> {
    let bad = || format!("{s:?} is not ID=matches, ID=whole or ID=keep[:REASON]");
    let (id, choice) = s.split_once('=').ok_or_else(bad)?;
    let id = id.trim().parse().map_err(|_| bad())?;
    let (action, reason) = match choice.split_once(':') {
        Some((a, r)) => (a, Some(r.to_string())),
        None => (choice, None),
    };
    match action.trim() {
        "matches" | "whole" | "keep" => Ok((id, action.trim().to_string(), reason)),
        _ => Err(bad()),
    }
}

fn note_choice(action: &str, reason: Option<String>) -> privacy::NoteChoice {
    match action {
        "whole" => privacy::NoteChoice::RedactWhole,
        "keep" => privacy::NoteChoice::Keep {
            reason: reason.unwrap_or_default(),
        },
        _ => privacy::NoteChoice::RedactMatches,
    }
}

fn parse_status(s: &str) -> Result<StatusFilter, String> {
    Ok(match s {
        "all" => StatusFilter::All,
        "contactable" => StatusFilter::Contactable,
        "opted-out" => StatusFilter::OptedOut,
        "do-not-contact" | "dnc" => StatusFilter::DoNotContact,
        "erased" => StatusFilter::Erased,
        _ => return Err("use all, contactable, opted-out, do-not-contact or erased".into()),
    })
}

/// `eligible`: who a screener and the contact rules allow to be invited,
/// and the others counted by rule, each with their reasons.
pub async fn eligible(
    panel: &Panel,
    screener: &str,
    at: Option<DateTime<Utc>>,
    limit: Option<u32>,
    json: bool,
) -> Result<ExitCode, Error> {
    let options = governance::EligibilityOptions {
        limit,
        ..Default::default()
    };
    let report =
        governance::eligible(panel, screener, at.unwrap_or_else(|| panel.now()), &options).await?;
    if json {
        print_json(&report);
    } else {
        out!(
            "screener {}: {} eligible, {} excluded, {} not qualified, {} beyond the limit (panel of {})",
            report.screener,
            report.eligible.len(),
            report.excluded_total,
            report.not_qualified,
            report.beyond_limit,
            report.panel_size
        );
        out!("eligible:");
        for c in &report.eligible {
            out!("  {:>7}  {}  <{}>", c.id, c.name, c.email);
        }
        if report.excluded_total == 0 {
            out!("excluded:");
        } else {
            out!(
                "excluded ({}):",
                governance::by_rule_text(&report.excluded_by_rule)
            );
        }
        for e in &report.excluded {
            let reasons: Vec<String> = e.reasons.iter().map(|r| r.to_string()).collect();
            out!("  {:>7}  {}: {}", e.id, e.name, reasons.join("; "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `rules show` and `rules set`.
pub async fn rules_cmd(panel: &Panel, cmd: RulesCmd) -> Result<ExitCode, Error> {
    match cmd {
        RulesCmd::Show { json } => {
            let rules = governance::rules(panel).await?;
            if json {
                print_json(&rules);
            } else {
                print_rules(&rules);
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesCmd::Set {
            cooldown_days,
            max_sessions_per_year,
            no_show_ban_after,
        } => {
            let mut rules = governance::rules(panel).await?;
            rules.cooldown_days = cooldown_days.unwrap_or(rules.cooldown_days);
            rules.max_sessions_per_year =
                max_sessions_per_year.unwrap_or(rules.max_sessions_per_year);
            rules.no_show_ban_after = no_show_ban_after.unwrap_or(rules.no_show_ban_after);
            print_rules(&governance::set_rules(panel, &rules).await?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_rules(rules: &governance::GovernanceRules) {
    let show = |n: u32, what: String| if n == 0 { "off".to_string() } else { what };
    out!(
        "cooldown:          {}",
        show(rules.cooldown_days, format!("{} days", rules.cooldown_days))
    );
    out!(
        "yearly cap:        {}",
        show(
            rules.max_sessions_per_year,
            format!("{} sessions", rules.max_sessions_per_year)
        )
    );
    out!(
        "no-show ban after: {}",
        show(
            rules.no_show_ban_after,
            format!("{} no-shows", rules.no_show_ban_after)
        )
    );
}

pub async fn participants_cmd(panel: &Panel, cmd: ParticipantsCmd) -> Result<ExitCode, Error> {
    match cmd {
        ParticipantsCmd::Add(fields) => {
            let mut input = ParticipantInput::default();
            fields.apply(&mut input);
            let p = participants::create(panel, &input).await?;
            out!("{}", p.id);
        }
        ParticipantsCmd::Edit {
            participant,
            fields,
        } => {
            let id = participants::find(panel, &participant).await?;
            let mut input = participants::get(panel, id).await?.to_input();
            fields.apply(&mut input);
            let p = participants::update(panel, id, &input).await?;
            out!("updated participant {} ({})", p.id, p.name);
        }
        ParticipantsCmd::Import { file, json } => {
            let bar = progress_bar();
            let report = import::import_file(panel, &file, &|p| match p {
                import::ImportProgress::Reading {
                    bytes_done,
                    bytes_total,
                } => {
                    bar.set_message("reading");
                    bar.set_length(bytes_total);
                    bar.set_position(bytes_done);
                }
                import::ImportProgress::Writing {
                    rows_done,
                    rows_total,
                } => {
                    bar.set_message("writing");
                    bar.set_length(rows_total as u64);
                    bar.set_position(rows_done as u64);
                }
            })
            .await;
            bar.finish_and_clear();
            let report = report?;
            if json {
                print_json(&report);
            } else {
                out!(
                    "{} rows: {} created, {} updated, {} unchanged, {} rejected",
                    report.rows,
                    report.created,
                    report.updated,
                    report.unchanged,
                    report.rejected.len()
                );
                if !report.attribute_columns.is_empty() {
                    out!(
                        "attributes from columns: {}",
                        report.attribute_columns.join(", ")
                    );
                }
                if !report.ignored_columns.is_empty() {
                    out!("ignored columns: {}", report.ignored_columns.join(", "));
                }
                for e in &report.rejected {
                    eprintln!("rejected {e}");
                }
                for w in &report.warnings {
                    eprintln!("warning: {w}");
                }
            }
            if !report.rejected.is_empty() {
                return Ok(ExitCode::from(2));
            }
        }
        ParticipantsCmd::List {
            filters,
            limit,
            offset,
            json,
        } => {
            let page = participants::list(panel, &filters.query(limit, offset)).await?;
            if json {
                print_json(&page);
            } else {
                for p in &page.items {
                    let mut flags = Vec::new();
                    if p.opted_out {
                        flags.push("opted out");
                    }
                    if p.do_not_contact {
                        flags.push("do not contact");
                    }
                    if p.erased {
                        flags.push("erased");
                    }
                    out!(
                        "{:>7}  {:<30}  {:<40}  {:<20}  {}{}",
                        p.id,
                        one_line(&p.name),
                        one_line(p.email.as_deref().unwrap_or("-")),
                        p.time_zone.as_deref().unwrap_or("-"),
                        p.tags.join(","),
                        if flags.is_empty() {
                            String::new()
                        } else {
                            format!("  [{}]", flags.join(", "))
                        }
                    );
                }
                out!(
                    "{}-{} of {}{}",
                    page.offset + (!page.items.is_empty()) as u32,
                    page.offset + page.items.len() as u32,
                    if page.total_capped { "more than " } else { "" },
                    page.total
                );
            }
        }
        ParticipantsCmd::Show { participant, json } => {
            let id = participants::find(panel, &participant).await?;
            let d = participants::detail(panel, id).await?;
            if json {
                print_json(&d);
            } else {
                let p = &d.participant;
                let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                out!("participant {}: {}", p.id, p.name);
                out!("  email:     {}", opt(&p.email));
                out!("  phone:     {}", opt(&p.phone));
                out!("  time zone: {}", opt(&p.time_zone));
                out!("  language:  {}", opt(&p.language));
                out!("  source:    {}", opt(&p.source));
                out!("  tags:      {}", p.tags.join(", "));
                for (k, v) in &p.attributes {
                    out!("  {k}: {v}");
                }
                if d.governance.eligible {
                    out!("governance: eligible now");
                } else {
                    out!("governance: excluded now");
                    for r in &d.governance.reasons {
                        out!("  - {r}");
                    }
                }
                for c in &d.consents {
                    out!(
                        "consent: {} version {} accepted {}{}",
                        c.topic,
                        c.version,
                        c.accepted_at.format("%Y-%m-%d %H:%M UTC"),
                        if c.superseded {
                            " (a newer version exists)"
                        } else {
                            ""
                        }
                    );
                }
                for h in &d.history {
                    out!(
                        "history: {} {}",
                        h.at.format("%Y-%m-%d %H:%M UTC"),
                        h.kind.as_str()
                    );
                }
            }
        }
        ParticipantsCmd::Export {
            file,
            force,
            filters,
        } => {
            let existing = Existing::replace_if(force);
            let n =
                csv_export::export_file(panel, &filters.query(1000, 0), &file, existing, &|_| {})
                    .await?;
            out!("exported {n} participants to {}", file.display());
        }
        ParticipantsCmd::OptOut { participant, undo } => {
            let id = participants::find(panel, &participant).await?;
            let p = participants::set_opted_out(panel, id, !undo).await?;
            out!(
                "participant {} {}",
                p.id,
                if undo {
                    "is no longer opted out"
                } else {
                    "opted out"
                }
            );
        }
        ParticipantsCmd::Dnc { participant, off } => {
            let id = participants::find(panel, &participant).await?;
            let p = participants::set_do_not_contact(panel, id, !off).await?;
            out!(
                "participant {} {}",
                p.id,
                if off {
                    "may be contacted"
                } else {
                    "is marked do not contact"
                }
            );
        }
        ParticipantsCmd::Log {
            participant,
            kind,
            at,
            detail,
        } => {
            let id = participants::find(panel, &participant).await?;
            let kind: history::ContactKind = kind.parse()?;
            history::record(panel, id, kind, at, detail.as_deref()).await?;
            out!("logged {} for participant {id}", kind.as_str());
        }
        ParticipantsCmd::PrivacyExport {
            participant,
            output,
            force,
        } => {
            let id = participants::find(panel, &participant).await?;
            let data = privacy::export(panel, id).await?;
            let text = serde_json::to_string_pretty(&data).expect("values serialise");
            match output {
                Some(path) => {
                    files::write_bytes(&path, text.as_bytes(), Existing::replace_if(force))?;
                    out!(
                        "wrote everything held about participant {id} to {}",
                        path.display()
                    );
                }
                None => out!("{text}"),
            }
        }
        ParticipantsCmd::Erase {
            participant,
            yes,
            reason,
            notes,
            keep_reason,
            note,
        } => {
            let id = participants::find(panel, &participant).await?;
            if !yes {
                let plan = privacy::plan(panel, id).await?;
                out!(
                    "erasing participant {id} ({}) removes their personal data for good:",
                    plan.name
                );
                out!(
                    "  {} queued message(s) to or about them withdrawn; {} other message(s) cleaned",
                    plan.queued_messages,
                    plan.other_messages
                );
                out!("  {} issue(s) cleaned of their details", plan.issues);
                out!("  notes attributed to them or naming them (--notes, --note ID=...):");
                for n in &plan.notes {
                    let why = match (n.attributed, n.names_them) {
                        (true, true) => "attributed, names them",
                        (true, false) => "attributed",
                        _ => "names them",
                    };
                    out!(
                        "    note {} in session {} \"{}\" ({why}): {}",
                        n.note,
                        n.session,
                        n.session_title,
                        one_line(&n.text)
                    );
                    if n.names_them {
                        out!(
                            "      with the matches taken out: {}",
                            one_line(&n.redacted)
                        );
                    }
                }
                eprintln!("nothing was changed; run again with --yes to erase");
                return Ok(ExitCode::FAILURE);
            }
            let request = privacy::ErasureRequest {
                reason,
                notes_default: note_choice(&notes, keep_reason.clone()),
                notes: note
                    .into_iter()
                    .map(|(n, action, reason)| privacy::NoteDecision {
                        note: panelkeeper::notes::NoteId(n),
                        choice: note_choice(&action, reason.or_else(|| keep_reason.clone())),
                    })
                    .collect(),
            };
            let done = privacy::erase(panel, ParticipantId(id.0), &request).await?;
            out!(
                "erased participant {} at {}",
                done.erasure.participant,
                done.erasure.erased_at.to_rfc3339()
            );
            for line in done.lines() {
                out!("  {line}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn suppress_cmd(panel: &Panel, cmd: SuppressCmd) -> Result<ExitCode, Error> {
    match cmd {
        SuppressCmd::Import { file, list, json } => {
            let bytes = std::fs::read(&file).map_err(|e| file_error(&file, e))?;
            let text = String::from_utf8(bytes).map_err(|e| Error::File {
                path: file.display().to_string(),
                reason: format!("is not UTF-8 text ({e})"),
            })?;
            let report = suppression::import(panel, &list, &text).await?;
            if json {
                print_json(&report);
            } else {
                out!(
                    "list {}: {} added, {} already listed, {} rejected",
                    report.list,
                    report.added,
                    report.already_listed,
                    report.rejected.len()
                );
                for e in &report.rejected {
                    eprintln!("rejected {e}");
                }
            }
            if !report.rejected.is_empty() {
                return Ok(ExitCode::from(2));
            }
        }
        SuppressCmd::List { json } => {
            let lists = suppression::lists(panel).await?;
            if json {
                print_json(&lists);
            } else {
                for l in &lists {
                    out!(
                        "{:<30} {:>8} entries  {:>8} participants on the panel",
                        l.name,
                        l.entries,
                        l.matching_participants
                    );
                }
            }
        }
        SuppressCmd::Delete { list } => {
            suppression::delete(panel, &list).await?;
            out!("deleted list {list}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn screener_cmd(panel: &Panel, cmd: ScreenerCmd) -> Result<ExitCode, Error> {
    match cmd {
        ScreenerCmd::Create {
            name,
            qualify,
            disqualify,
            quota,
        } => {
            let mut def = screener::ScreenerDefinition::default();
            for (exprs, effect) in [
                (qualify, screener::Effect::Qualify),
                (disqualify, screener::Effect::Disqualify),
            ] {
                for e in exprs {
                    let (attribute, test) = screener::parse_test(&e)?;
                    def.criteria.push(screener::Criterion {
                        attribute,
                        test,
                        effect,
                    });
                }
            }
            for q in quota {
                def.quotas.push(q.parse()?);
            }
            let s = screener::save(panel, &name, &def).await?;
            print_screener(&s);
        }
        ScreenerCmd::List { json } => {
            let all = screener::list(panel).await?;
            if json {
                print_json(&all);
            } else {
                for s in &all {
                    out!(
                        "{:<30} {} criteria, {} quota cells",
                        s.name,
                        s.definition.criteria.len(),
                        s.definition.quotas.len()
                    );
                }
            }
        }
        ScreenerCmd::Show { name, json } => {
            let s = screener::get(panel, &name).await?;
            if json {
                print_json(&s);
            } else {
                print_screener(&s);
            }
        }
        ScreenerCmd::Delete { name } => {
            screener::delete(panel, &name).await?;
            out!("deleted screener {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_screener(s: &screener::Screener) {
    out!("screener {}", s.name);
    for c in &s.definition.criteria {
        out!("  {c}");
    }
    for q in &s.definition.quotas {
        out!("  quota: at most {} per {}", q.max, q.attribute);
    }
}

pub async fn consent_cmd(panel: &Panel, cmd: ConsentCmd) -> Result<ExitCode, Error> {
    match cmd {
        ConsentCmd::Add { topic, file, text } => {
            let body = match (file, text) {
                (Some(path), _) => {
                    std::fs::read_to_string(&path).map_err(|e| file_error(&path, e))?
                }
                (None, Some(t)) => t,
                (None, None) => {
                    return Err(Error::InvalidInput {
                        field: "consent text".into(),
                        value: String::new(),
                        reason: "give --file or --text".into(),
                    });
                }
            };
            let t = consent::add_text(panel, &topic, &body).await?;
            out!("{} version {}", t.topic, t.version);
        }
        ConsentCmd::List { json } => {
            let texts = consent::texts(panel).await?;
            if json {
                print_json(&texts);
            } else {
                for t in &texts {
                    let first_line = t.body.lines().next().unwrap_or_default();
                    out!(
                        "{} v{} ({}): {}",
                        t.topic,
                        t.version,
                        t.created_at.format("%Y-%m-%d"),
                        first_line
                    );
                }
            }
        }
        ConsentCmd::Accept {
            participant,
            topic,
            version,
            at,
        } => {
            let id = participants::find(panel, &participant).await?;
            let c = consent::accept(panel, id, &topic, version, at).await?;
            out!(
                "participant {id} accepted {} version {} at {}",
                c.topic,
                c.version,
                c.accepted_at.to_rfc3339()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
