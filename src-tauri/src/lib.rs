//! The Panelkeeper desktop app: a thin Tauri 2 shell over the `panelkeeper`
//! core. The panel is opened once in `setup` and managed as state; every
//! command is one call into the core, and the core's errors cross to the UI
//! as tagged JSON. No SQL and no rule lives here. Paths from the window
//! are used only when the person granted them (`paths`).

mod paths;

use panelkeeper::files::Existing;
use panelkeeper::issues::{
    self, ContactVia, Issue, IssueDetail, IssueId, IssueInput, IssueQuery, ServiceLevels,
};
use panelkeeper::mail::settings::{self, SmtpInput, SmtpSettings};
use panelkeeper::mail::{
    self, MessageId, MessagePreview, OutboxCounts, OutboxDetail, OutboxMessage, OutboxPage,
    OutboxQuery, worker,
};
use panelkeeper::notes::{self, Note, NoteHit, NoteId, NoteInput, NoteSearch, NoteVersion};
use panelkeeper::participants::screener::{self, Screener};
use panelkeeper::participants::{
    self, AttributeKey, Participant, ParticipantDetail, ParticipantId, ParticipantInput,
    ParticipantPage, ParticipantQuery, csv_export, import, privacy,
};
use panelkeeper::reports::{self, ReportFile, ReportOptions, ReportProgress};
use panelkeeper::sessions::roster::{self, AttendanceInput};
use panelkeeper::sessions::staff::{self, Staff, StaffId, StaffInput};
use panelkeeper::sessions::{
    self, InviteReport, InviteRequest, RosterEntry, Rsvp, Session, SessionDetail, SessionId,
    SessionInput, SessionQuery,
};
use panelkeeper::{Error, Panel};
use paths::{Paths, Purpose};
use std::path::PathBuf;
use tauri::ipc::Channel;
use tauri::{AppHandle, Emitter, Manager, State};

type Result<T> = std::result::Result<T, Error>;

#[tauri::command]
async fn participants_list(
    panel: State<'_, Panel>,
    query: ParticipantQuery,
) -> Result<ParticipantPage> {
    participants::list(&panel, &query).await
}

#[tauri::command]
async fn participant_detail(
    panel: State<'_, Panel>,
    id: ParticipantId,
) -> Result<ParticipantDetail> {
    participants::detail(&panel, id).await
}

#[tauri::command]
async fn participant_create(
    panel: State<'_, Panel>,
    input: ParticipantInput,
) -> Result<Participant> {
    participants::create(&panel, &input).await
}

#[tauri::command]
async fn participant_update(
    panel: State<'_, Panel>,
    id: ParticipantId,
    input: ParticipantInput,
) -> Result<Participant> {
    participants::update(&panel, id, &input).await
}

#[tauri::command]
async fn participant_set_opted_out(
    panel: State<'_, Panel>,
    id: ParticipantId,
    opted_out: bool,
) -> Result<Participant> {
    participants::set_opted_out(&panel, id, opted_out).await
}

#[tauri::command]
async fn participant_set_do_not_contact(
    panel: State<'_, Panel>,
    id: ParticipantId,
    on: bool,
) -> Result<Participant> {
    participants::set_do_not_contact(&panel, id, on).await
}

#[tauri::command]
async fn participant_erasure_plan(
    panel: State<'_, Panel>,
    id: ParticipantId,
) -> Result<privacy::ErasurePlan> {
    privacy::plan(&panel, id).await
}

#[tauri::command]
async fn participant_erase(
    panel: State<'_, Panel>,
    id: ParticipantId,
    request: privacy::ErasureRequest,
) -> Result<privacy::ErasureReport> {
    privacy::erase(&panel, id, &request).await
}

#[tauri::command]
async fn participants_import(
    panel: State<'_, Panel>,
    paths: State<'_, Paths>,
    path: String,
    on_progress: Channel<import::ImportProgress>,
) -> Result<import::ImportReport> {
    import::import_file(&panel, &paths.check(&path)?, &|p| drop(on_progress.send(p))).await
}

/// The save dialog asked before an existing file is replaced.
#[tauri::command]
async fn participants_export(
    panel: State<'_, Panel>,
    paths: State<'_, Paths>,
    path: String,
    query: ParticipantQuery,
) -> Result<u32> {
    csv_export::export_file(&panel, &query, &paths.check(&path)?, Existing::Replace).await
}

#[tauri::command]
async fn choose_file(
    app: AppHandle,
    paths: State<'_, Paths>,
    purpose: Purpose,
    suggested: Option<String>,
) -> Result<Option<String>> {
    paths.choose(&app, purpose, suggested).await
}

#[tauri::command]
async fn confirm_file(
    app: AppHandle,
    paths: State<'_, Paths>,
    purpose: Purpose,
    path: String,
) -> Result<bool> {
    paths.confirm(&app, purpose, &path).await
}

#[tauri::command]
async fn attribute_keys(panel: State<'_, Panel>) -> Result<Vec<AttributeKey>> {
    participants::attribute_keys(&panel).await
}

#[tauri::command]
async fn smtp_settings(panel: State<'_, Panel>) -> Result<Option<SmtpSettings>> {
    settings::get(&panel).await
}

#[tauri::command]
async fn smtp_save(panel: State<'_, Panel>, input: SmtpInput) -> Result<SmtpSettings> {
    settings::set(&panel, input).await
}

#[tauri::command]
async fn mail_test(panel: State<'_, Panel>, address: String) -> Result<MessageId> {
    mail::queue_test(&panel, &address).await
}

#[tauri::command]
async fn outbox_list(panel: State<'_, Panel>, query: OutboxQuery) -> Result<OutboxPage> {
    mail::list(&panel, &query).await
}

#[tauri::command]
async fn outbox_message(panel: State<'_, Panel>, id: MessageId) -> Result<OutboxDetail> {
    mail::get(&panel, id).await
}

#[tauri::command]
async fn outbox_counts(panel: State<'_, Panel>) -> Result<OutboxCounts> {
    mail::counts(&panel).await
}

#[tauri::command]
async fn outbox_retry(panel: State<'_, Panel>, id: MessageId) -> Result<OutboxMessage> {
    mail::retry(&panel, id).await
}

#[tauri::command]
async fn outbox_cancel(panel: State<'_, Panel>, id: MessageId) -> Result<OutboxMessage> {
    mail::cancel(&panel, id).await
}

#[tauri::command]
async fn outbox_retry_failed(panel: State<'_, Panel>) -> Result<u32> {
    mail::retry_failed(&panel).await
}

#[tauri::command]
async fn outbox_cancel_failed(panel: State<'_, Panel>) -> Result<u32> {
    mail::cancel_failed(&panel).await
}

#[tauri::command]
async fn screeners_list(panel: State<'_, Panel>) -> Result<Vec<Screener>> {
    screener::list(&panel).await
}

#[tauri::command]
async fn staff_list(panel: State<'_, Panel>) -> Result<Vec<Staff>> {
    staff::list(&panel).await
}

#[tauri::command]
async fn staff_add(panel: State<'_, Panel>, input: StaffInput) -> Result<Staff> {
    staff::add(&panel, &input).await
}

#[tauri::command]
async fn staff_current(panel: State<'_, Panel>) -> Result<Option<Staff>> {
    staff::current(&panel).await
}

#[tauri::command]
async fn staff_set_current(panel: State<'_, Panel>, id: StaffId) -> Result<Staff> {
    staff::set_current(&panel, id).await
}

#[tauri::command]
async fn sessions_list(panel: State<'_, Panel>, query: SessionQuery) -> Result<Vec<Session>> {
    sessions::list(&panel, &query).await
}

#[tauri::command]
async fn session_detail(panel: State<'_, Panel>, id: SessionId) -> Result<SessionDetail> {
    sessions::detail(&panel, id).await
}

#[tauri::command]
async fn session_create(panel: State<'_, Panel>, input: SessionInput) -> Result<Session> {
    sessions::create(&panel, &input).await
}

#[tauri::command]
fn session_start_instant(
    start: chrono::NaiveDateTime,
    time_zone: String,
) -> Result<chrono::DateTime<chrono::Utc>> {
    sessions::start_instant(start, &time_zone)
}

#[tauri::command]
async fn session_reschedule(
    panel: State<'_, Panel>,
    id: SessionId,
    start: chrono::NaiveDateTime,
    minutes: Option<u32>,
    allow_double_booking: bool,
) -> Result<Session> {
    sessions::reschedule(&panel, id, start, minutes, allow_double_booking).await
}

#[tauri::command]
async fn session_cancel(
    panel: State<'_, Panel>,
    id: SessionId,
    reason: Option<String>,
) -> Result<Session> {
    sessions::cancel(&panel, id, reason.as_deref()).await
}

#[tauri::command]
async fn session_invite(
    panel: State<'_, Panel>,
    id: SessionId,
    request: InviteRequest,
) -> Result<InviteReport> {
    roster::invite(&panel, id, &request).await
}

#[tauri::command]
async fn session_rsvp(
    panel: State<'_, Panel>,
    id: SessionId,
    participant: ParticipantId,
    rsvp: Rsvp,
) -> Result<RosterEntry> {
    roster::rsvp(&panel, id, &participant.to_string(), rsvp).await
}

#[tauri::command]
async fn session_attendance(
    panel: State<'_, Panel>,
    id: SessionId,
    participant: ParticipantId,
    input: AttendanceInput,
) -> Result<RosterEntry> {
    roster::attendance(&panel, id, &participant.to_string(), &input).await
}

#[tauri::command]
async fn session_complete(panel: State<'_, Panel>, id: SessionId) -> Result<Session> {
    sessions::complete(&panel, id).await
}

#[tauri::command]
async fn notes_list(panel: State<'_, Panel>, session: SessionId) -> Result<Vec<Note>> {
    notes::list(&panel, session).await
}

#[tauri::command]
async fn note_add(panel: State<'_, Panel>, session: SessionId, input: NoteInput) -> Result<Note> {
    notes::add(&panel, session, &input).await
}

#[tauri::command]
async fn note_edit(panel: State<'_, Panel>, id: NoteId, input: NoteInput) -> Result<Note> {
    notes::edit(&panel, id, &input).await
}

#[tauri::command]
async fn note_history(panel: State<'_, Panel>, id: NoteId) -> Result<Vec<NoteVersion>> {
    notes::history(&panel, id).await
}

#[tauri::command]
async fn notes_search(panel: State<'_, Panel>, search: NoteSearch) -> Result<Vec<NoteHit>> {
    notes::search(&panel, &search).await
}

#[tauri::command]
async fn issues_list(panel: State<'_, Panel>, query: IssueQuery) -> Result<Vec<Issue>> {
    issues::list(&panel, &query).await
}

#[tauri::command]
async fn issues_mine(panel: State<'_, Panel>) -> Result<Vec<Issue>> {
    issues::mine(&panel).await
}

#[tauri::command]
async fn issue_detail(panel: State<'_, Panel>, id: IssueId) -> Result<IssueDetail> {
    issues::detail(&panel, id).await
}

#[tauri::command]
async fn issue_raise(panel: State<'_, Panel>, input: IssueInput) -> Result<Issue> {
    issues::raise(&panel, &input).await
}

#[tauri::command]
async fn issue_assign(panel: State<'_, Panel>, id: IssueId, owner: String) -> Result<Issue> {
    issues::assign(&panel, id, &owner).await
}

#[tauri::command]
async fn issue_reassign(
    panel: State<'_, Panel>,
    id: IssueId,
    owner: String,
    reason: String,
) -> Result<Issue> {
    issues::reassign(&panel, id, &owner, &reason).await
}

#[tauri::command]
async fn issue_contact(
    panel: State<'_, Panel>,
    id: IssueId,
    via: ContactVia,
    outcome: String,
) -> Result<Issue> {
    issues::log_contact(&panel, id, via, &outcome).await
}

#[tauri::command]
async fn issue_resolve(
    panel: State<'_, Panel>,
    id: IssueId,
    note: String,
    message: String,
) -> Result<Issue> {
    issues::resolve(&panel, id, &note, &message).await
}

#[tauri::command]
async fn issue_wont_fix(
    panel: State<'_, Panel>,
    id: IssueId,
    reason: String,
    message: String,
) -> Result<Issue> {
    issues::wont_fix(&panel, id, &reason, &message).await
}

#[tauri::command]
async fn issue_preview_resolve(
    panel: State<'_, Panel>,
    id: IssueId,
    note: String,
    message: String,
) -> Result<Option<MessagePreview>> {
    issues::preview_resolve(&panel, id, &note, &message).await
}

#[tauri::command]
async fn issue_preview_wont_fix(
    panel: State<'_, Panel>,
    id: IssueId,
    reason: String,
    message: String,
) -> Result<Option<MessagePreview>> {
    issues::preview_wont_fix(&panel, id, &reason, &message).await
}

#[tauri::command]
async fn issue_close(panel: State<'_, Panel>, id: IssueId) -> Result<Issue> {
    issues::close(&panel, id).await
}

#[tauri::command]
async fn issue_reopen(panel: State<'_, Panel>, id: IssueId, reason: String) -> Result<Issue> {
    issues::reopen(&panel, id, &reason).await
}

#[tauri::command]
async fn service_levels(panel: State<'_, Panel>) -> Result<ServiceLevels> {
    issues::service_levels(&panel).await
}

#[tauri::command]
async fn service_levels_save(
    panel: State<'_, Panel>,
    levels: ServiceLevels,
) -> Result<ServiceLevels> {
    issues::set_service_levels(&panel, &levels).await
}

#[tauri::command]
async fn report_session(
    panel: State<'_, Panel>,
    paths: State<'_, Paths>,
    id: SessionId,
    options: ReportOptions,
    path: String,
    on_progress: Channel<ReportProgress>,
) -> Result<ReportFile> {
    let path = paths.check(&path)?;
    let written = reports::session(&panel, id, options, &|p| drop(on_progress.send(p)))
        .await?
        .write(&path, Existing::Replace)?;
    paths.wrote(&path);
    Ok(written)
}

#[tauri::command]
async fn report_follow_ups(
    panel: State<'_, Panel>,
    paths: State<'_, Paths>,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    path: String,
    on_progress: Channel<ReportProgress>,
) -> Result<ReportFile> {
    let path = paths.check(&path)?;
    let written = reports::follow_ups(&panel, from, to, &|p| drop(on_progress.send(p)))
        .await?
        .write(&path, Existing::Replace)?;
    paths.wrote(&path);
    Ok(written)
}

#[tauri::command]
async fn follow_up_figures(
    panel: State<'_, Panel>,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<reports::figures::FollowUpFigures> {
    reports::follow_up_figures(&panel, from, to).await
}

#[tauri::command]
async fn mail_session_report(
    panel: State<'_, Panel>,
    id: SessionId,
    options: ReportOptions,
    recipient: String,
    message: String,
    on_progress: Channel<ReportProgress>,
) -> Result<MessageId> {
    reports::session(&panel, id, options, &|p| drop(on_progress.send(p)))
        .await?
        .send(&panel, &recipient, &message)
        .await
}

#[tauri::command]
async fn mail_follow_up_report(
    panel: State<'_, Panel>,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    recipient: String,
    message: String,
    on_progress: Channel<ReportProgress>,
) -> Result<MessageId> {
    reports::follow_ups(&panel, from, to, &|p| drop(on_progress.send(p)))
        .await?
        .send(&panel, &recipient, &message)
        .await
}

#[tauri::command]
async fn preview_session_report_mail(
    panel: State<'_, Panel>,
    id: SessionId,
    options: ReportOptions,
    recipient: String,
    message: String,
) -> Result<MessagePreview> {
    reports::session(&panel, id, options, &|_| ())
        .await?
        .preview(&panel, &recipient, &message)
        .await
}

#[tauri::command]
async fn preview_follow_up_report_mail(
    panel: State<'_, Panel>,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    recipient: String,
    message: String,
) -> Result<MessagePreview> {
    reports::follow_ups(&panel, from, to, &|_| ())
        .await?
        .preview(&panel, &recipient, &message)
        .await
}

#[tauri::command]
fn open_exported(paths: State<'_, Paths>, path: String) -> Result<()> {
    reports::open_in_viewer(&paths.check_written(&path)?)
}

#[tauri::command]
async fn demo_generate(
    panel: State<'_, Panel>,
    participants: u32,
    on_progress: Channel<panelkeeper::demo::DemoProgress>,
) -> Result<panelkeeper::demo::DemoReport> {
    panelkeeper::demo::generate_with(&panel, participants, 1, &|p| drop(on_progress.send(p))).await
}

#[tauri::command]
fn database_path(panel: State<'_, Panel>) -> String {
    panel.path().display().to_string()
}

/// The database the app opens: `--db PATH`, else `PANELKEEPER_DB`, else
/// `panelkeeper.db` in the OS data directory.
fn database_location(app: &tauri::App) -> std::result::Result<PathBuf, Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--db" {
            if let Some(path) = args.next() {
                return Ok(PathBuf::from(path));
            }
        } else if let Some(path) = arg.strip_prefix("--db=") {
            return Ok(PathBuf::from(path));
        }
    }
    if let Some(path) = std::env::var_os("PANELKEEPER_DB") {
        return Ok(PathBuf::from(path));
    }
    Ok(app.path().app_data_dir()?.join("panelkeeper.db"))
}

/// Reloads the window's page when WebKit's web process ends (it crashed,
/// or WebKit stopped it for using too much memory), which otherwise leaves
/// a black window; the reason goes to the log.
#[cfg(target_os = "linux")]
fn reload_when_the_page_dies(app: &tauri::App) {
    let Some(window) = app.get_webview_window("main") else {
        return;
    };
    let watched = window.with_webview(|webview| {
        use webkit2gtk::WebViewExt;
        let view = webview.inner();
        view.connect_web_process_terminated(|view, reason| {
            tracing::error!(
                ?reason,
                "the window's web process ended; reloading the page"
            );
            view.reload();
        });
    });
    if let Err(e) = watched {
        tracing::warn!("the window's web process is not watched: {e}");
    }
}

/// Starts the app.
pub fn run() {
    let log = panelkeeper::logging::init("panelkeeper-app", &panelkeeper::logging::default_dir());
    tracing::info!(version = env!("CARGO_PKG_VERSION"), log = ?log, "app starting");
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            let path = database_location(app)?;
            let panel = tauri::async_runtime::block_on(Panel::open(&path))?;
            tracing::info!(path = %path.display(), "panel opened");
            app.manage(Paths::from_env());
            #[cfg(target_os = "linux")]
            reload_when_the_page_dies(app);
            // The mail worker runs while the app is open; the UI hears of a
            // pass that changed something as an `outbox-changed` event.
            let handle = app.handle().clone();
            let stop = std::sync::Arc::new(tokio::sync::Notify::new());
            tauri::async_runtime::spawn(worker::run(panel.clone(), stop, move |report| {
                if report.changed {
                    let _ = handle.emit("outbox-changed", report);
                }
            }));
            // Escalations of overdue promises are queued on a timer.
            let ticking = panel.clone();
            tauri::async_runtime::spawn(async move {
                let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
                loop {
                    every.tick().await;
                    if let Err(e) = panelkeeper::issues::tick(&ticking, ticking.now()).await {
                        tracing::warn!("escalation tick failed: {e}");
                    }
                }
            });
            app.manage(panel);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            participants_list,
            participant_detail,
            participant_create,
            participant_update,
            participant_set_opted_out,
            participant_set_do_not_contact,
            participant_erasure_plan,
            participant_erase,
            participants_import,
            participants_export,
            attribute_keys,
            smtp_settings,
            smtp_save,
            mail_test,
            outbox_list,
            outbox_message,
            outbox_counts,
            outbox_retry,
            outbox_cancel,
            outbox_retry_failed,
            outbox_cancel_failed,
            screeners_list,
            staff_list,
            staff_add,
            staff_current,
            staff_set_current,
            sessions_list,
            session_detail,
            session_create,
            session_start_instant,
            session_reschedule,
            session_cancel,
            session_invite,
            session_rsvp,
            session_attendance,
            session_complete,
            notes_list,
            note_add,
            note_edit,
            note_history,
            notes_search,
            issues_list,
            issues_mine,
            issue_detail,
            issue_raise,
            issue_assign,
            issue_reassign,
            issue_contact,
            issue_resolve,
            issue_wont_fix,
            issue_preview_resolve,
            issue_preview_wont_fix,
            issue_close,
            issue_reopen,
            service_levels,
            service_levels_save,
            report_session,
            report_follow_ups,
            follow_up_figures,
            mail_session_report,
            mail_follow_up_report,
            preview_session_report_mail,
            preview_follow_up_report_mail,
            open_exported,
            choose_file,
            confirm_file,
            demo_generate,
            database_path,
        ])
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("the Panelkeeper window could not be started: {e}");
            eprintln!("error: the Panelkeeper window could not be started: {e}");
            std::process::exit(1);
        }
    };
    app.run(|_, event| {
        if let tauri::RunEvent::Exit = event {
            tracing::info!("app exiting");
        }
    });
}
