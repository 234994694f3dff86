//! Panelkeeper's core: customer panels and focus groups where every issue a
//! participant raises gets an owner who follows up.
//!
//! A [`Panel`] is the handle to one panel's SQLite database and its clock.
//! Each domain is a module of free functions that take `&Panel`:
//! [`participants`] (recruitment: people, CSV import and export, screeners,
//! contact governance, suppression lists, consent, privacy), [`mail`] (the
//! durable outbox and its SMTP worker), [`sessions`] (staff, scheduling,
//! invitations, RSVPs, attendance), [`notes`] (live notes and their
//! full-text search), [`issues`] (owners, due dates, hand-offs, the contact
//! log) and [`demo`]
//! (the reference-panel generator). The command-line tool (`src/main.rs`)
//! and the desktop app (`src-tauri/`) are thin edges over these functions;
//! neither holds a rule of its own.

pub mod accounts;
pub mod api;
pub mod clock;
pub mod db;
pub mod demo;
pub mod error;
pub mod files;
pub mod inbox;
pub mod issues;
pub mod logging;
pub mod mail;
pub mod notes;
pub mod participants;
pub mod remote;
pub mod reports;
pub mod server;
pub mod sessions;
mod settings;
mod tls;
pub mod zone;

pub use error::{Error, Result};
pub use zone::TimeZone;

use chrono::{DateTime, Utc};
use clock::{Clock, SystemClock};
use db::{Location, Store, Tx};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One panel: its database and the clock its rules read.
#[derive(Debug, Clone)]
pub struct Panel {
    store: Store,
    clock: Arc<dyn Clock>,
    path: PathBuf,
    index: Arc<participants::index::Cache>,
    mail: Arc<tokio::sync::Notify>,
    /// Upkeep started after a change committed (the WAL checkpoint after a
    /// large import), for [`Panel::settle`].
    upkeep: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    /// Who acts through this handle, when not this computer's user: the
    /// person signed in to a team server, for one call.
    actor: Option<sessions::staff::StaffId>,
    /// The sign-ins a team server keeps between calls.
    sign_ins: Arc<accounts::kept::SignIns>,
    /// The follow-ups a team server keeps between calls.
    follow_ups: Arc<issues::kept::FollowUps>,
}

impl Panel {
    /// Opens the panel at `location` (a SQLite file's path, or a team's
    /// `postgres://` URL), creating and migrating its database as needed.
    pub async fn open(location: impl Into<Location>) -> Result<Panel> {
        let location = location.into();
        let path = match &location {
            Location::File(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    files::private_dir(dir)
                        .map_err(|e| Error::file(dir.display().to_string(), e.to_string()))?;
                }
                path.clone()
            }
            Location::Postgres(url) => {
                let base = team_files(url);
                if let Some(dir) = base.parent() {
                    files::private_dir(dir)
                        .map_err(|e| Error::file(dir.display().to_string(), e.to_string()))?;
                }
                base
            }
        };
        let store = db::open(&location).await?;
        let panel = Panel {
            store,
            clock: Arc::new(SystemClock),
            path,
            index: Arc::default(),
            mail: Arc::default(),
            upkeep: Arc::default(),
            actor: None,
            sign_ins: Arc::default(),
            follow_ups: Arc::default(),
        };
        // Upkeep, not a condition of opening: a panel that cannot be
        // written now (busy, read-only) is still read, and folded next time.
        // A team database was made with folded emails.
        if !panel.is_team()
            && let Err(e) = participants::refold_emails_once(&panel).await
        {
            tracing::warn!("stored emails not folded yet: {e}");
        }
        Ok(panel)
    }

    /// The same panel reading time from `clock` (tests and simulations).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Panel {
        self.clock = clock;
        self
    }

    /// The same panel with `staff` as the person acting: what it changes is
    /// credited to them, and "mine" means theirs (a team server's call).
    pub fn acting_as(&self, staff: sessions::staff::StaffId) -> Panel {
        Panel {
            actor: Some(staff),
            ..self.clone()
        }
    }

    /// The sign-ins this process keeps between calls (`accounts::kept`).
    pub(crate) fn kept_sign_ins(&self) -> &accounts::kept::SignIns {
        &self.sign_ins
    }

    /// The lists of follow-ups this process keeps between calls
    /// (`issues::kept`).
    pub(crate) fn kept_follow_ups(&self) -> &issues::kept::FollowUps {
        &self.follow_ups
    }

    /// The database, for what only opening it decides.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// The person acting through this handle, when set by [`Panel::acting_as`].
    pub fn actor(&self) -> Option<sessions::staff::StaffId> {
        self.actor
    }

    /// The current instant by the panel's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Where the database file is; for a team database, the name this
    /// computer keeps its own files under (such as the key that seals the
    /// SMTP password), in the app's data folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the panel is a team's PostgreSQL database.
    pub fn is_team(&self) -> bool {
        matches!(self.store, Store::Postgres(_))
    }

    /// How many connections to the database this process keeps at most:
    /// how many calls can be at work on it at once.
    pub fn connections(&self) -> usize {
        self.store.connections() as usize
    }

    /// Whether the database answers now (a team server's health check).
    pub async fn check_reachable(&self) -> Result<()> {
        let mut conn = self.conn().await?;
        db::either!(&mut conn, |c| sqlx::query("SELECT 1")
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Closes the database, checkpointing the WAL.
    pub async fn close(&self) {
        self.settle().await;
        self.store.close().await;
    }

    /// Waits for the upkeep that changes started in the background, such as
    /// copying a large import from the WAL into the database file.
    pub async fn settle(&self) {
        let running = std::mem::take(&mut *self.upkeep.lock().unwrap_or_else(|e| e.into_inner()));
        for task in running {
            let _ = task.await;
        }
    }

    /// Runs `task` in the background; [`Panel::settle`] waits for it.
    pub(crate) fn upkeep(&self, task: tokio::task::JoinHandle<()>) {
        let mut running = self.upkeep.lock().unwrap_or_else(|e| e.into_inner());
        running.retain(|t| !t.is_finished());
        running.push(task);
    }

    /// Tells a running mail worker to look at the outbox now (after a
    /// transaction that queued mail has committed).
    pub fn wake_mail(&self) {
        self.mail.notify_one();
    }

    /// Resolves when [`Panel::wake_mail`] is called.
    pub async fn mail_woken(&self) {
        self.mail.notified().await
    }

    /// The SQLite pool, for the parts of the core that run on a solo
    /// panel only so far; on a team database they say so.
    pub(crate) fn pool(&self) -> Result<&SqlitePool> {
        match &self.store {
            Store::Sqlite(pool) => Ok(pool),
            Store::Postgres(_) => Err(Error::Storage {
                reason: "this is not available on a team (PostgreSQL) database in this \
                         version; it works on a panel file"
                    .into(),
            }),
        }
    }

    /// A connection of either store, for reads and single statements.
    pub(crate) async fn conn(&self) -> Result<db::Pooled> {
        self.store.acquire().await
    }

    /// A write transaction on either store; see [`db::Tx`]. Messages are
    /// queued in one with [`mail::enqueue`].
    pub async fn begin(&self) -> Result<Tx> {
        self.store.begin().await
    }

    /// The in-memory panel index for the database's current revision.
    pub(crate) async fn index(&self) -> Result<Arc<participants::index::PanelIndex>> {
        self.index.get(self).await
    }

    /// A write transaction that takes SQLite's write lock at once, so reads
    /// inside it (such as the next free id) cannot be raced by another writer.
    /// Messages are queued in one with [`mail::enqueue`].
    pub async fn write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.pool()?.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// The name a computer keeps its own files for the team database at `url`
/// under, in the app's data folder: one per server and database.
fn team_files(url: &str) -> PathBuf {
    let shown = Location::Postgres(url.to_string()).display();
    let name: String = shown
        .trim_start_matches("postgresql://")
        .trim_start_matches("postgres://")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    default_db_path().with_file_name(format!("team-{name}"))
}

/// Where the panel database lives when no path is given: the same file the
/// desktop app uses, in the OS data directory.
pub fn default_db_path() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(APP_IDENTIFIER)
        .join("panelkeeper.db")
}

/// The desktop app's identifier, which names its data directory.
pub const APP_IDENTIFIER: &str = "app.panelkeeper.desktop";
