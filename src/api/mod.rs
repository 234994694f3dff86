//! The operations the desktop app and a team server expose, in one table.
//!
//! Each command is named once here with who may call it, its arguments (as
//! the front end's `api.ts` sends them: a JSON object, camelCase keys) and
//! the one core call it makes. The desktop shell invokes [`call`] through a
//! single Tauri command and the team server through `POST /api/{name}`, so
//! neither can offer what the other lacks (`tests/api.rs` holds `api.ts` to
//! the table). What only a desktop can do (file dialogs, paths on this
//! computer, opening a file in a viewer) stays in the shell.
//!
//! Roles are checked here, before the call: a team server's caller is the
//! signed-in person, and each change is credited to them
//! ([`Panel::acting_as`]); the desktop app's caller is the person at this
//! computer, who may do everything.

use crate::inbox;
use crate::issues::{self, ContactVia, IssueId, IssueInput, IssueQuery, ServiceLevels};
use crate::mail::settings::{self as smtp, SmtpInput};
use crate::mail::{self, MessageId, OutboxQuery};
use crate::notes::{self, NoteId, NoteInput, NoteSearch};
use crate::participants::screener;
use crate::participants::{self, ParticipantId, ParticipantInput, ParticipantQuery, privacy};
use crate::reports::{self, ReportOptions};
use crate::sessions::roster::{self, AttendanceInput};
use crate::sessions::staff::{self, Role, Staff, StaffInput};
use crate::sessions::{self, InviteRequest, Rsvp, SessionId, SessionInput, SessionQuery};
use crate::{Error, Panel, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Who makes a call.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The person at this computer, in the desktop app: everything.
    Computer,
    /// A person signed in to a team server: what their role allows.
    Signed(Staff),
}

/// Who may call a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Access {
    /// Everyone signed in.
    Anyone,
    /// The owner of the issue named by the `id` argument, or a researcher.
    /// Anyone else is told there is no such issue.
    IssueOwner,
    /// Researchers and admins.
    Researcher,
    /// Admins.
    Admin,
}

/// One command of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Command {
    pub name: &'static str,
    pub access: Access,
}

/// A file made by a command for the caller to keep (a PDF report, a CSV
/// export): the desktop app saves it where the person chose, a browser
/// downloads it. Its bytes travel in JSON as base64.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Download {
    /// A name to save it under.
    pub name: String,
    pub content_type: String,
    pub base64: String,
    /// A report's pages.
    pub pages: Option<u32>,
    /// A report marked as a draft (an issue of its session has no owner).
    pub draft: bool,
    /// An export's rows.
    pub rows: Option<u32>,
}

impl Download {
    fn new(name: String, content_type: &str, bytes: &[u8]) -> Download {
        use base64::Engine;
        Download {
            name,
            content_type: content_type.into(),
            base64: base64::engine::general_purpose::STANDARD.encode(bytes),
            pages: None,
            draft: false,
            rows: None,
        }
    }

    fn report(report: &reports::Report) -> Download {
        Download {
            pages: Some(report.pages),
            draft: report.draft,
            ..Download::new(
                format!("{}.pdf", report.file_stem()),
                "application/pdf",
                &report.pdf,
            )
        }
    }

    /// The file's bytes.
    pub fn bytes(&self) -> Result<Vec<u8>> {
        decode(&self.name, &self.base64)
    }
}

fn decode(name: &str, text: &str) -> Result<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| Error::invalid("file", name, format!("did not arrive whole: {e}")))
}

/// The participants `query` finds, as the CSV file an export writes.
async fn export_csv(
    panel: &Panel,
    query: &ParticipantQuery,
    progress: Progress<'_>,
) -> Result<Download> {
    let mut csv = Vec::new();
    let rows = participants::csv_export::write_csv(panel, query, &mut csv, &|p| {
        progress(serde_json::to_value(p).unwrap_or_default())
    })
    .await?;
    Ok(Download {
        rows: Some(rows),
        ..Download::new("participants.csv".into(), "text/csv", &csv)
    })
}

/// Where a long command reports how far it has come (a report, the demo
/// panel): each report as JSON.
pub type Progress<'a> = &'a (dyn Fn(Value) + Send + Sync);

/// A command's answer: its JSON, written once as text, as the desktop app
/// and a team server's caller each receive it.
pub type Answer = Box<serde_json::value::RawValue>;

/// Runs the command `name` with `args` for `caller`, after checking that
/// the caller may; the answer as JSON.
pub async fn call(
    panel: &Panel,
    caller: &Caller,
    name: &str,
    args: Value,
    progress: Progress<'_>,
) -> Result<Answer> {
    let command = find(name).ok_or_else(|| Error::not_found("command", name))?;
    let args = match args {
        Value::Null => Value::Object(Default::default()),
        args => args,
    };
    match caller {
        Caller::Computer => run(panel, name, args, progress).await,
        Caller::Signed(person) => {
            allow(panel, person, command.access, &args).await?;
            let answer = run(&panel.acting_as(person.id), name, args, progress).await;
            // The caller sees their own change at once, not only once the
            // team database's notice of it is heard.
            if command.name != "issues_mine" {
                issues::forget_kept(panel, person.id);
            }
            answer
        }
    }
}

/// The command called `name`.
pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// Whether `person` may make a call that needs `access` with `args`; an
/// issue that is not theirs is not found, so its existence is not told.
async fn allow(panel: &Panel, person: &Staff, access: Access, args: &Value) -> Result<()> {
    let needs = match access {
        Access::Anyone => return Ok(()),
        Access::Admin => Role::Admin,
        Access::Researcher => Role::Researcher,
        Access::IssueOwner => {
            if person.role >= Role::Researcher {
                return Ok(());
            }
            let id: IssueId = argument("id", args)?;
            return match issues::owner(panel, id).await {
                Ok(owner) if owner == Some(person.id) => Ok(()),
                Ok(_) | Err(Error::NotFound { .. }) => Err(Error::not_found("issue", id)),
                Err(e) => Err(e),
            };
        }
    };
    if person.role >= needs {
        Ok(())
    } else {
        Err(Error::Forbidden { needs })
    }
}

fn argument<T: DeserializeOwned>(key: &str, args: &Value) -> Result<T> {
    let value = args.get(key).cloned().unwrap_or(Value::Null);
    serde_json::from_value(value).map_err(|e| Error::invalid(key, "", e.to_string()))
}

fn arguments<T: DeserializeOwned>(command: &str, args: Value) -> Result<T> {
    serde_json::from_value(args)
        .map_err(|e| Error::invalid("arguments", command, format!("do not fit the command: {e}")))
}

fn encode<T: Serialize>(value: T) -> Result<Answer> {
    serde_json::value::to_raw_value(&value)
        .map_err(|e| Error::database(format!("answer not encoded: {e}")))
}

/// A progress report passed on as JSON.
fn report<T: Serialize>(progress: Progress<'_>) -> impl Fn(T) + Send + Sync + '_ {
    move |p| {
        if let Ok(value) = serde_json::to_value(p) {
            progress(value)
        }
    }
}

/// The table: `name: access (arguments) -> answer = |panel, progress| call;`.
macro_rules! commands {
    ($(
        $name:ident: $access:ident ($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty
            = |$panel:pat_param, $progress:pat_param| $body:expr;
    )*) => {
        /// Every command, with who may call it.
        pub const COMMANDS: &[Command] = &[
            $(Command { name: stringify!($name), access: Access::$access }),*
        ];

        async fn run(panel: &Panel, name: &str, args: Value, progress: Progress<'_>) -> Result<Answer> {
            match name {
                $(stringify!($name) => {
                    #[derive(serde::Deserialize)]
                    #[serde(rename_all = "camelCase", deny_unknown_fields)]
                    struct Args { $($arg: $ty),* }
                    let Args { $($arg),* } = arguments(stringify!($name), args)?;
                    let $panel = panel;
                    let $progress = progress;
                    let answer: $ret = $body;
                    encode(answer)
                })*
                _ => Err(Error::not_found("command", name)),
            }
        }
    };
}

commands! {
    participants_list: Researcher (query: ParticipantQuery) -> participants::ParticipantPage
        = |p, _| participants::list(p, &query).await?;
    participant_detail: Researcher (id: ParticipantId) -> participants::ParticipantDetail
        = |p, _| participants::detail(p, id).await?;
    participant_timeline: Researcher (id: ParticipantId)
        -> Vec<participants::timeline::TimelineEntry>
        = |p, _| participants::timeline::for_participant(p, id).await?;
    participant_create: Researcher (input: ParticipantInput) -> participants::Participant
        = |p, _| participants::create(p, &input).await?;
    participant_update: Researcher (id: ParticipantId, input: ParticipantInput)
        -> participants::Participant
        = |p, _| participants::update(p, id, &input).await?;
    participant_set_opted_out: Researcher (id: ParticipantId, opted_out: bool)
        -> participants::Participant
        = |p, _| participants::set_opted_out(p, id, opted_out).await?;
    participant_set_do_not_contact: Researcher (id: ParticipantId, on: bool)
        -> participants::Participant
        = |p, _| participants::set_do_not_contact(p, id, on).await?;
    participant_erasure_plan: Researcher (id: ParticipantId) -> privacy::ErasurePlan
        = |p, _| privacy::plan(p, id).await?;
    participant_erase: Researcher (id: ParticipantId, request: privacy::ErasureRequest)
        -> privacy::ErasureReport
        = |p, _| privacy::erase(p, id, &request).await?;
    participants_import_csv: Researcher (name: String, base64: String)
        -> participants::import::ImportReport
        = |p, progress| participants::import::import_owned(
            p,
            &name,
            Some(&name),
            decode(&name, &base64)?,
            &report(progress),
        )
        .await?;
    participants_export_csv: Researcher (query: ParticipantQuery) -> Download
        = |p, progress| export_csv(p, &query, progress).await?;
    participants_export_selected_csv: Researcher (ids: Vec<ParticipantId>) -> Download
        = |p, progress| {
            let mut csv = Vec::new();
            let rows = participants::csv_export::write_selected(p, &ids, &mut csv, &|x| {
                progress(serde_json::to_value(x).unwrap_or_default())
            })
            .await?;
            Download {
                rows: Some(rows),
                ..Download::new("participants.csv".into(), "text/csv", &csv)
            }
        };
    participants_bulk: Researcher (ids: Vec<ParticipantId>, action: participants::BulkAction)
        -> participants::BulkReport
        = |p, _| participants::bulk(p, &ids, &action).await?;
    attribute_keys: Researcher () -> Vec<participants::AttributeKey>
        = |p, _| participants::attribute_keys(p).await?;
    screeners_list: Researcher () -> Vec<screener::Screener>
        = |p, _| screener::list(p).await?;
    screener_lines: Researcher (name: String) -> screener::ScreenerDraft
        = |p, _| screener::ScreenerDraft::from(&screener::get(p, &name).await?.definition);
    screener_count: Researcher (draft: screener::ScreenerDraft)
        -> participants::governance::ScreenerCount
        = |p, _| participants::governance::count(p, &draft.definition()?).await?;
    screener_save: Researcher (name: String, draft: screener::ScreenerDraft) -> screener::Screener
        = |p, _| screener::save(p, &name, &draft.definition()?).await?;
    screener_delete: Researcher (name: String) -> Vec<screener::Screener>
        = |p, _| {
            screener::delete(p, &name).await?;
            screener::list(p).await?
        };
    contact_rules: Researcher () -> participants::governance::GovernanceRules
        = |p, _| participants::governance::rules(p).await?;
    contact_rules_save: Researcher (rules: participants::governance::GovernanceRules)
        -> participants::governance::GovernanceRules
        = |p, _| participants::governance::set_rules(p, &rules).await?;
    suppression_lists: Researcher () -> Vec<participants::suppression::SuppressionList>
        = |p, _| participants::suppression::lists(p).await?;
    suppression_import_csv: Researcher (list: String, name: String, base64: String)
        -> participants::suppression::SuppressionImport
        = |p, _| {
            let text = String::from_utf8(decode(&name, &base64)?).map_err(|_| {
                Error::invalid("file", &name, "is not UTF-8 text: save it from the spreadsheet as CSV UTF-8")
            })?;
            participants::suppression::import(p, &list, &text).await?
        };
    suppression_delete: Researcher (list: String) -> Vec<participants::suppression::SuppressionList>
        = |p, _| {
            participants::suppression::delete(p, &list).await?;
            participants::suppression::lists(p).await?
        };
    consent_texts: Researcher () -> Vec<participants::consent::ConsentText>
        = |p, _| participants::consent::texts(p).await?;
    consent_add_text: Researcher (topic: String, body: String) -> participants::consent::ConsentText
        = |p, _| participants::consent::add_text(p, &topic, &body).await?;

    smtp_settings: Researcher () -> Option<smtp::SmtpSettings>
        = |p, _| smtp::get(p).await?;
    smtp_save: Admin (input: SmtpInput) -> smtp::SmtpSettings
        = |p, _| smtp::set(p, input).await?;
    mail_test: Admin (address: String) -> MessageId
        = |p, _| mail::queue_test(p, &address).await?;
    outbox_list: Researcher (query: OutboxQuery) -> mail::OutboxPage
        = |p, _| mail::list(p, &query).await?;
    outbox_message: Researcher (id: MessageId) -> mail::OutboxDetail
        = |p, _| mail::get(p, id).await?;
    outbox_counts: Researcher () -> mail::OutboxCounts
        = |p, _| mail::counts(p).await?;
    outbox_retry: Researcher (id: MessageId) -> mail::OutboxMessage
        = |p, _| mail::retry(p, id).await?;
    outbox_cancel: Researcher (id: MessageId) -> mail::OutboxMessage
        = |p, _| mail::cancel(p, id).await?;
    outbox_retry_failed: Researcher () -> u32
        = |p, _| mail::retry_failed(p).await?;
    outbox_cancel_failed: Researcher () -> u32
        = |p, _| mail::cancel_failed(p).await?;

    inbox_settings: Researcher () -> Option<inbox::settings::InboxSettings>
        = |p, _| inbox::settings::get(p).await?;
    inbox_save: Admin (input: inbox::settings::InboxInput) -> inbox::settings::InboxSettings
        = |p, _| inbox::settings::set(p, input).await?;
    inbox_fetch: Researcher () -> inbox::FetchReport
        = |p, _| inbox::fetch(p).await?;
    inbox_list: Researcher (state: inbox::InboxState, limit: Option<u32>)
        -> Vec<inbox::InboxMessage>
        = |p, _| inbox::list(p, state, limit).await?;
    inbox_message: Researcher (id: i64) -> inbox::InboxMessage
        = |p, _| inbox::get(p, id).await?;
    inbox_file: Researcher (id: i64, to: inbox::FileTo) -> inbox::InboxMessage
        = |p, _| inbox::file(p, id, to).await?;
    inbox_dismiss: Researcher (id: i64) -> inbox::InboxMessage
        = |p, _| inbox::dismiss(p, id).await?;

    staff_list: Anyone () -> Vec<Staff>
        = |p, _| staff::list(p).await?;
    staff_add: Admin (input: StaffInput) -> Staff
        = |p, _| staff::add(p, &input).await?;
    staff_update: Admin (id: staff::StaffId, input: StaffInput) -> Staff
        = |p, _| staff::update(p, id, &input).await?;
    staff_deactivate: Admin (id: staff::StaffId) -> Staff
        = |p, _| staff::deactivate(p, id).await?;
    staff_reactivate: Admin (id: staff::StaffId) -> Staff
        = |p, _| staff::reactivate(p, id).await?;
    staff_invite: Admin (id: staff::StaffId) -> crate::accounts::Invitation
        = |p, _| crate::accounts::invite(p, id).await?;
    staff_current: Anyone () -> Option<Staff>
        = |p, _| staff::current(p).await?;

    sessions_list: Researcher (query: SessionQuery) -> Vec<sessions::Session>
        = |p, _| sessions::list(p, &query).await?;
    session_detail: Researcher (id: SessionId) -> sessions::SessionDetail
        = |p, _| sessions::detail(p, id).await?;
    session_create: Researcher (input: SessionInput) -> sessions::Session
        = |p, _| sessions::create(p, &input).await?;
    session_start_instant: Anyone (start: chrono::NaiveDateTime, time_zone: String)
        -> chrono::DateTime<chrono::Utc>
        = |_, _| sessions::start_instant(start, &time_zone)?;
    session_reschedule: Researcher (
        id: SessionId,
        start: chrono::NaiveDateTime,
        minutes: Option<u32>,
        allow_double_booking: bool,
    ) -> sessions::Session
        = |p, _| sessions::reschedule(p, id, start, minutes, allow_double_booking).await?;
    session_cancel: Researcher (id: SessionId, reason: Option<String>) -> sessions::Session
        = |p, _| sessions::cancel(p, id, reason.as_deref()).await?;
    session_invite: Researcher (id: SessionId, request: InviteRequest) -> sessions::InviteReport
        = |p, _| roster::invite(p, id, &request).await?;
    session_rsvp: Researcher (id: SessionId, participant: ParticipantId, rsvp: Rsvp)
        -> sessions::RosterEntry
        = |p, _| roster::rsvp(p, id, &participant.to_string(), rsvp).await?;
    session_attendance: Researcher (
        id: SessionId,
        participant: ParticipantId,
        input: AttendanceInput,
    ) -> sessions::RosterEntry
        = |p, _| roster::attendance(p, id, &participant.to_string(), &input).await?;
    session_complete: Researcher (id: SessionId) -> sessions::Session
        = |p, _| sessions::complete(p, id).await?;

    notes_list: Researcher (session: SessionId) -> Vec<notes::Note>
        = |p, _| notes::list(p, session).await?;
    note_add: Researcher (session: SessionId, input: NoteInput, typed: Option<notes::Typed>)
        -> notes::Note
        = |p, _| notes::add_typed(p, session, &input, typed.as_ref()).await?;
    note_edit: Researcher (id: NoteId, input: NoteInput) -> notes::Note
        = |p, _| notes::edit(p, id, &input).await?;
    note_history: Researcher (id: NoteId) -> Vec<notes::NoteVersion>
        = |p, _| notes::history(p, id).await?;
    notes_search: Researcher (search: NoteSearch) -> Vec<notes::NoteHit>
        = |p, _| notes::search(p, &search).await?;

    issues_list: Researcher (query: IssueQuery) -> Vec<issues::Issue>
        = |p, _| issues::list(p, &query).await?;
    issues_mine: Anyone () -> Vec<issues::Issue>
        = |p, _| issues::mine(p).await?;
    issue_conversation: IssueOwner (id: IssueId) -> Vec<inbox::InboxMessage>
        = |p, _| inbox::conversation(p, id).await?;
    issue_detail: IssueOwner (id: IssueId) -> issues::IssueDetail
        = |p, _| issues::detail(p, id).await?;
    issue_raise: Researcher (input: IssueInput) -> issues::Issue
        = |p, _| issues::raise(p, &input).await?;
    issue_assign: Researcher (id: IssueId, owner: String) -> issues::Issue
        = |p, _| issues::assign(p, id, &owner).await?;
    issue_reassign: IssueOwner (id: IssueId, owner: String, reason: String) -> issues::Issue
        = |p, _| issues::reassign(p, id, &owner, &reason).await?;
    issue_contact: IssueOwner (id: IssueId, via: ContactVia, outcome: String) -> issues::Issue
        = |p, _| issues::log_contact(p, id, via, &outcome).await?;
    issue_resolve: IssueOwner (id: IssueId, note: String, message: String) -> issues::Issue
        = |p, _| issues::resolve(p, id, &note, &message).await?;
    issue_wont_fix: IssueOwner (id: IssueId, reason: String, message: String) -> issues::Issue
        = |p, _| issues::wont_fix(p, id, &reason, &message).await?;
    issue_preview_resolve: IssueOwner (id: IssueId, note: String, message: String)
        -> Option<mail::MessagePreview>
        = |p, _| issues::preview_resolve(p, id, &note, &message).await?;
    issue_preview_wont_fix: IssueOwner (id: IssueId, reason: String, message: String)
        -> Option<mail::MessagePreview>
        = |p, _| issues::preview_wont_fix(p, id, &reason, &message).await?;
    issue_close: IssueOwner (id: IssueId) -> issues::Issue
        = |p, _| issues::close(p, id).await?;
    issue_wait: IssueOwner (id: IssueId, question: String) -> issues::Issue
        = |p, _| issues::wait_for_participant(p, id, &question).await?;
    issue_stop_waiting: IssueOwner (id: IssueId) -> issues::Issue
        = |p, _| issues::stop_waiting(p, id).await?;
    issue_reopen: IssueOwner (id: IssueId, reason: String) -> issues::Issue
        = |p, _| issues::reopen(p, id, &reason).await?;
    service_levels: Anyone () -> ServiceLevels
        = |p, _| issues::service_levels(p).await?;
    service_levels_save: Admin (levels: ServiceLevels) -> ServiceLevels
        = |p, _| issues::set_service_levels(p, &levels).await?;

    report_session_pdf: Researcher (id: SessionId, options: ReportOptions) -> Download
        = |p, progress| Download::report(&reports::session(p, id, options, &report(progress)).await?);
    report_follow_ups_pdf: Researcher (from: chrono::NaiveDate, to: chrono::NaiveDate) -> Download
        = |p, progress| Download::report(&reports::follow_ups(p, from, to, &report(progress)).await?);
    follow_up_figures: Researcher (from: chrono::NaiveDate, to: chrono::NaiveDate)
        -> reports::figures::FollowUpFigures
        = |p, _| reports::follow_up_figures(p, from, to).await?;
    mail_session_report: Researcher (
        id: SessionId,
        options: ReportOptions,
        recipient: String,
        message: String,
    ) -> MessageId
        = |p, progress| reports::session(p, id, options, &report(progress))
            .await?
            .send(p, &recipient, &message)
            .await?;
    mail_follow_up_report: Researcher (
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        recipient: String,
        message: String,
    ) -> MessageId
        = |p, progress| reports::follow_ups(p, from, to, &report(progress))
            .await?
            .send(p, &recipient, &message)
            .await?;
    preview_session_report_mail: Researcher (
        id: SessionId,
        options: ReportOptions,
        recipient: String,
        message: String,
    ) -> mail::MessagePreview
        = |p, _| reports::session(p, id, options, &|_| ())
            .await?
            .preview(p, &recipient, &message)
            .await?;
    preview_follow_up_report_mail: Researcher (
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        recipient: String,
        message: String,
    ) -> mail::MessagePreview
        = |p, _| reports::follow_ups(p, from, to, &|_| ())
            .await?
            .preview(p, &recipient, &message)
            .await?;

    demo_generate: Admin (participants: u32) -> crate::demo::DemoReport
        = |p, progress| crate::demo::generate_with(p, participants, 1, &report(progress)).await?;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::participants::ParticipantInput;
    use crate::sessions::SessionInput;
    use serde_json::json;

    /// The summaries and statuses `caller`'s *My follow-ups* answers with.
    async fn mine(panel: &Panel, caller: &Caller) -> Vec<(String, String)> {
        let answer = call(panel, caller, "issues_mine", Value::Null, &|_| ())
            .await
            .unwrap();
        let list: Vec<Value> = serde_json::from_str(answer.get()).unwrap();
        list.iter()
            .map(|i| {
                let text = |k: &str| i[k].as_str().unwrap().to_string();
                (text("summary"), text("status"))
            })
            .collect()
    }

    #[tokio::test]
    async fn a_callers_own_change_is_in_their_follow_ups_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let panel = Panel::open(dir.path().join("panel.db")).await.unwrap();
        for (name, email, role) in [
            ("Kim", "kim@company.example.com", Role::Staff),
            ("Ana", "ana@company.example.com", Role::Researcher),
        ] {
            staff::add(
                &panel,
                &StaffInput {
                    name: name.into(),
                    email: email.into(),
                    role,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        }
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
                moderator: "ana@company.example.com".into(),
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
                participant: Some("zoe@example.org".into()),
                summary: "Refund not received".into(),
                owner: Some("kim@company.example.com".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let kim = Caller::Signed(
            staff::by_email(&panel, "kim@company.example.com")
                .await
                .unwrap(),
        );
        // As a team server does while it hears the database's notices
        // (a panel file has none: here, nothing announces a change).
        panel.kept_follow_ups().hearing(true);
        let open = vec![("Refund not received".to_string(), "open".to_string())];
        assert_eq!(mine(&panel, &kim).await, open);
        // Kept: a change no one announces is not seen.
        let mut conn = panel.conn().await.unwrap();
        crate::db::either!(conn.conn(), |c| sqlx::query(
            "UPDATE issues SET summary = 'Changed unannounced'"
        )
        .execute(&mut *c)
        .await
        .unwrap()
        .rows_affected());
        drop(conn);
        assert_eq!(mine(&panel, &kim).await, open);
        // Kim's own change is: her list is read again at once.
        call(
            &panel,
            &kim,
            "issue_contact",
            json!({ "id": issue.id, "via": "phone", "outcome": "Called back" }),
            &|_| (),
        )
        .await
        .unwrap();
        assert_eq!(
            mine(&panel, &kim).await,
            [("Changed unannounced".to_string(), "contacted".to_string())]
        );
    }
}
