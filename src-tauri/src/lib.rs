//! The Panelkeeper desktop app: a thin Tauri 2 shell over the `panelkeeper`
//! core. The panel is opened once in `setup` and managed as state. The
//! panel's commands are the core's one table (`panelkeeper::api`), which
//! the team server serves too, reached through the `call` command; the few
//! commands here are what only a desktop does (file dialogs, paths on this
//! computer, a viewer, who uses this computer, the connection to a team
//! server). Connected to a team server, the table's commands go to that
//! server instead (`panelkeeper::remote`), live notes through its queue on
//! this computer. The core's errors cross to the UI as tagged JSON. No SQL
//! and no rule lives here. Paths from the window are used only when the
//! person granted them (`paths`).

mod paths;

use panelkeeper::api::{self, Caller};
use panelkeeper::files::Existing;
use panelkeeper::mail::worker;
use panelkeeper::participants::{ParticipantId, ParticipantQuery, csv_export, import};
use panelkeeper::remote::{QueuedNote, Team, TeamStatus};
use panelkeeper::reports::{self, ReportFile, ReportOptions};
use panelkeeper::sessions::SessionId;
use panelkeeper::sessions::staff::{self, Staff, StaffId};
use panelkeeper::{Error, Panel};
use paths::{Paths, Purpose};
use std::path::PathBuf;
use tauri::ipc::Channel;
use tauri::{AppHandle, Emitter, Manager, State};

type Result<T> = std::result::Result<T, Error>;

/// This computer's connection to a team server, when it has one, and the
/// file it is kept in.
struct Connection {
    file: PathBuf,
    team: tokio::sync::RwLock<Option<Team>>,
}

impl Connection {
    async fn team(&self) -> Option<Team> {
        self.team.read().await.clone()
    }

    /// Refuses choosing who uses this computer while a team server says
    /// who is signed in.
    async fn solo(&self) -> Result<()> {
        match self.team().await {
            Some(team) => Err(Error::Conflict {
                reason: format!(
                    "this computer is connected to the team server {}: you act there as the \
                     person signed in, in Settings",
                    team.server()
                ),
            }),
            None => Ok(()),
        }
    }
}

/// A command of the core's one table (`panelkeeper::api`): on this
/// computer's panel for the person at it, or on the team server as the
/// person signed in.
#[tauri::command]
async fn call(
    panel: State<'_, Panel>,
    connection: State<'_, Connection>,
    name: String,
    args: serde_json::Value,
    on_progress: Channel<serde_json::Value>,
) -> Result<api::Answer> {
    let progress = |p| drop(on_progress.send(p));
    match connection.team().await {
        Some(team) => {
            let answer = team.call_reporting(&name, args, &progress).await?;
            serde_json::value::to_raw_value(&answer).map_err(|e| Error::Database {
                detail: format!("answer not encoded: {e}"),
            })
        }
        None => api::call(&panel, &Caller::Computer, &name, args, &progress).await,
    }
}

/// The team server this computer is connected to; none: this computer only.
#[tauri::command]
async fn team_status(connection: State<'_, Connection>) -> Result<Option<TeamStatus>> {
    match connection.team().await {
        Some(team) => Ok(Some(team.refresh().await?)),
        None => Ok(None),
    }
}

/// Connects this computer to a team server, signed in; its queue of live
/// notes starts sending.
#[tauri::command]
async fn team_connect(
    app: AppHandle,
    connection: State<'_, Connection>,
    server: String,
    ca: Option<String>,
    email: String,
    password: String,
) -> Result<TeamStatus> {
    let mut current = connection.team.write().await;
    if let Some(team) = current.as_ref() {
        team.disconnect(false).await?;
    }
    let team = Team::connect(&connection.file, &server, ca.as_deref(), &email, &password).await?;
    keep_sending(&app, &team);
    let status = team.status().await?;
    *current = Some(team);
    Ok(status)
}

#[tauri::command]
async fn team_sign_in(
    connection: State<'_, Connection>,
    email: String,
    password: String,
) -> Result<TeamStatus> {
    let team = connection.team().await.ok_or(Error::SignedOut)?;
    team.sign_in(&email, &password).await
}

/// Back to this computer's own panel.
#[tauri::command]
async fn team_disconnect(connection: State<'_, Connection>, discard_queued: bool) -> Result<()> {
    let mut current = connection.team.write().await;
    if let Some(team) = current.as_ref() {
        team.disconnect(discard_queued).await?;
    }
    *current = None;
    Ok(())
}

/// Live notes typed here and not yet sent to the team server.
#[tauri::command]
async fn team_queued(
    connection: State<'_, Connection>,
    session: Option<SessionId>,
) -> Result<Vec<QueuedNote>> {
    match connection.team().await {
        Some(team) => team.queued(session).await,
        None => Ok(Vec::new()),
    }
}

#[tauri::command]
async fn team_discard(connection: State<'_, Connection>, client_id: String) -> Result<()> {
    match connection.team().await {
        Some(team) => team.discard(&client_id).await,
        None => Ok(()),
    }
}

/// Sends the team's queue of live notes while the app is open; the UI
/// hears of each note sent or refused as a `team-notes-sent` event.
fn keep_sending(app: &AppHandle, team: &Team) {
    let handle = app.clone();
    tauri::async_runtime::spawn(team.clone().keep_sending(move |report| {
        let _ = handle.emit("team-notes-sent", report);
    }));
}

/// A CSV file on this computer imported: into this computer's panel, or
/// sent to the team server's.
#[tauri::command]
async fn participants_import(
    panel: State<'_, Panel>,
    connection: State<'_, Connection>,
    paths: State<'_, Paths>,
    path: String,
    on_progress: Channel<serde_json::Value>,
) -> Result<serde_json::Value> {
    let path = paths.check(&path)?;
    let progress = |p| drop(on_progress.send(p));
    match connection.team().await {
        Some(team) => team.import_file(&path, &progress).await,
        None => {
            let report = import::import_file(&panel, &path, &|p| {
                progress(serde_json::to_value(p).unwrap_or_default())
            })
            .await?;
            Ok(serde_json::to_value(report).unwrap_or_default())
        }
    }
}

/// The save dialog asked before an existing file is replaced.
#[tauri::command]
async fn participants_export(
    panel: State<'_, Panel>,
    connection: State<'_, Connection>,
    paths: State<'_, Paths>,
    path: String,
    query: ParticipantQuery,
    ids: Option<Vec<ParticipantId>>,
    on_progress: Channel<serde_json::Value>,
) -> Result<u32> {
    let path = paths.check(&path)?;
    let progress = |p| drop(on_progress.send(p));
    match connection.team().await {
        Some(team) => {
            let (name, args) = match &ids {
                Some(ids) => (
                    "participants_export_selected_csv",
                    serde_json::json!({ "ids": ids }),
                ),
                None => (
                    "participants_export_csv",
                    serde_json::json!({ "query": query }),
                ),
            };
            let saved = team.download(name, args, &path, &progress).await?;
            Ok(saved.rows.unwrap_or_default())
        }
        None => {
            let report = |p| progress(serde_json::to_value(p).unwrap_or_default());
            match &ids {
                Some(ids) => {
                    csv_export::export_selected_file(&panel, ids, &path, Existing::Replace, &report)
                        .await
                }
                None => {
                    csv_export::export_file(&panel, &query, &path, Existing::Replace, &report).await
                }
            }
        }
    }
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
async fn staff_set_current(
    panel: State<'_, Panel>,
    connection: State<'_, Connection>,
    id: StaffId,
) -> Result<Staff> {
    connection.solo().await?;
    staff::set_current(&panel, id).await
}

#[tauri::command]
async fn report_session(
    panel: State<'_, Panel>,
    connection: State<'_, Connection>,
    paths: State<'_, Paths>,
    id: SessionId,
    options: ReportOptions,
    path: String,
    on_progress: Channel<serde_json::Value>,
) -> Result<ReportFile> {
    let path = paths.check(&path)?;
    let progress = |p| drop(on_progress.send(p));
    let written = match connection.team().await {
        Some(team) => {
            let args = serde_json::json!({ "id": id, "options": options });
            saved(
                &path,
                team.download("report_session_pdf", args, &path, &progress)
                    .await?,
            )
        }
        None => reports::session(&panel, id, options, &|p| {
            progress(serde_json::to_value(p).unwrap_or_default())
        })
        .await?
        .write(&path, Existing::Replace)?,
    };
    paths.wrote(&path);
    Ok(written)
}

#[tauri::command]
async fn report_follow_ups(
    panel: State<'_, Panel>,
    connection: State<'_, Connection>,
    paths: State<'_, Paths>,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    path: String,
    on_progress: Channel<serde_json::Value>,
) -> Result<ReportFile> {
    let path = paths.check(&path)?;
    let progress = |p| drop(on_progress.send(p));
    let written = match connection.team().await {
        Some(team) => {
            let args = serde_json::json!({ "from": from, "to": to });
            saved(
                &path,
                team.download("report_follow_ups_pdf", args, &path, &progress)
                    .await?,
            )
        }
        None => reports::follow_ups(&panel, from, to, &|p| {
            progress(serde_json::to_value(p).unwrap_or_default())
        })
        .await?
        .write(&path, Existing::Replace)?,
    };
    paths.wrote(&path);
    Ok(written)
}

/// What a report the team server made says, saved at `path`.
fn saved(path: &std::path::Path, report: panelkeeper::api::Download) -> ReportFile {
    ReportFile {
        path: path.display().to_string(),
        pages: report.pages.unwrap_or_default(),
        bytes: report.bytes().map_or(0, |b| b.len() as u64),
        draft: report.draft,
    }
}

#[tauri::command]
fn open_exported(paths: State<'_, Paths>, path: String) -> Result<()> {
    reports::open_in_viewer(&paths.check_written(&path)?)
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
            // A team server this computer was connected to when it closed:
            // its queue of live notes goes on sending.
            let file = Team::file_for(&path);
            let team = tauri::async_runtime::block_on(Team::open(&file))?;
            let connected = team.is_some();
            if let Some(team) = &team {
                tracing::info!(server = team.server(), "connected to a team server");
                keep_sending(app.handle(), team);
            }
            app.manage(Connection {
                file,
                team: tokio::sync::RwLock::new(team),
            });
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
            // The panel mailbox is read while the app is open on its own
            // panel (a team server reads its own); the UI hears of new mail
            // as an `inbox-changed` event.
            if !connected {
                let reading = panel.clone();
                let handle = app.handle().clone();
                tauri::async_runtime::spawn(async move {
                    panelkeeper::inbox::watch(
                        &reading,
                        std::time::Duration::from_secs(60),
                        std::future::pending::<()>(),
                        move |round| match round {
                            Ok(report) if report.read > 0 => {
                                let _ = handle.emit("inbox-changed", report);
                            }
                            Ok(_) => {}
                            Err(e) => tracing::warn!("reading the panel mailbox failed: {e}"),
                        },
                    )
                    .await
                });
            }
            app.manage(panel);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            call,
            participants_import,
            participants_export,
            choose_file,
            confirm_file,
            staff_set_current,
            report_session,
            report_follow_ups,
            open_exported,
            database_path,
            team_status,
            team_connect,
            team_sign_in,
            team_disconnect,
            team_queued,
            team_discard,
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
