//! The desktop's connection file (`*.team.db`, SQLite, mode 0600): the
//! team server's address, the sign-in, and the live notes typed here and not
//! yet sent, each committed the moment it is typed (WAL, `synchronous=FULL`,
//! as the panel file) so that closing the app or losing power keeps them.

use crate::db::{instant, millis};
use crate::notes::{NoteInput, Typed};
use crate::sessions::SessionId;
use crate::sessions::staff::Staff;
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::time::Duration;
use ts_rs::TS;

/// A sign-in to the team server as kept here.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SignIn {
    pub cookie: String,
    pub csrf: String,
    pub staff: Staff,
}

/// A connection as kept.
pub(crate) struct Kept {
    pub server: String,
    pub ca: Option<String>,
    pub sign_in: Option<SignIn>,
}

/// A live note typed here and not yet sent.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct QueuedNote {
    pub client_id: String,
    pub session: SessionId,
    pub text: String,
    /// The participant it is about, as typed (an email or an id).
    pub participant: Option<String>,
    pub typed_at: DateTime<Utc>,
    /// Why the server refused it; none while it waits to be sent.
    pub refused: Option<String>,
}

impl QueuedNote {
    pub(crate) fn input(&self) -> NoteInput {
        NoteInput {
            text: self.text.clone(),
            participant: self.participant.clone(),
            author: None,
        }
    }

    pub(crate) fn typed(&self) -> Typed {
        Typed {
            client_id: self.client_id.clone(),
            at: self.typed_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    client_id: String,
    session: i64,
    text: String,
    participant: Option<String>,
    typed_at: i64,
    refused: Option<String>,
}

impl From<Row> for QueuedNote {
    fn from(r: Row) -> Self {
        QueuedNote {
            client_id: r.client_id,
            session: SessionId(r.session),
            text: r.text,
            participant: r.participant,
            typed_at: instant(r.typed_at),
            refused: r.refused,
        }
    }
}

/// The connection file, open.
pub(crate) struct Queue {
    pool: SqlitePool,
}

impl Queue {
    /// Opens (creating if needed) the file at `path`.
    pub async fn open(path: &Path) -> Result<Queue> {
        crate::db::make_private(path);
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/desktop").run(&pool).await?;
        Ok(Queue { pool })
    }

    /// The server, the authority it is trusted through (when not the
    /// computer's own) and the sign-in kept, if a server is.
    pub async fn connection(&self) -> Result<Option<Kept>> {
        let row: Option<(String, Option<String>, Option<String>)> =
            sqlx::query_as("SELECT server, ca_certificate, sign_in FROM connection WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(server, ca, sign_in)| Kept {
            server,
            ca,
            sign_in: sign_in.and_then(|s| serde_json::from_str(&s).ok()),
        }))
    }

    /// Keeps the authority a new connection's server is trusted through.
    pub async fn keep_ca(&self, ca: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE connection SET ca_certificate = $1 WHERE id = 1")
            .bind(ca)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Keeps the server and its sign-in (none: signed out).
    pub async fn keep_connection(&self, server: &str, sign_in: Option<&SignIn>) -> Result<()> {
        let sign_in = sign_in.map(|s| serde_json::to_string(s).expect("a sign-in serialises"));
        sqlx::query(
            "INSERT INTO connection (id, server, sign_in) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET server = excluded.server, sign_in = excluded.sign_in",
        )
        .bind(server)
        .bind(sign_in)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets the server, the sign-in and anything queued.
    pub async fn forget(&self) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM queued_notes")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM connection")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Queues a note as typed, committed before this returns.
    pub async fn push(&self, session: SessionId, input: &NoteInput, typed: &Typed) -> Result<()> {
        if input.text.trim().is_empty() {
            return Err(Error::invalid("note", "", "is empty"));
        }
        sqlx::query(
            "INSERT INTO queued_notes (client_id, session, text, participant, typed_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&typed.client_id)
        .bind(session.0)
        .bind(&input.text)
        .bind(input.participant.as_deref())
        .bind(millis(typed.at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The notes waiting to be sent, in the order they were typed.
    pub async fn waiting(&self) -> Result<Vec<QueuedNote>> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT client_id, session, text, participant, typed_at, refused FROM queued_notes \
             WHERE refused IS NULL ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The notes queued (of one session, or all), waiting and refused, in
    /// the order they were typed.
    pub async fn list(&self, session: Option<SessionId>) -> Result<Vec<QueuedNote>> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT client_id, session, text, participant, typed_at, refused FROM queued_notes \
             WHERE $1 IS NULL OR session = $1 ORDER BY seq",
        )
        .bind(session.map(|s| s.0))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// How many notes are queued, and how many of them were refused.
    pub async fn count(&self) -> Result<(u32, u32)> {
        let (all, refused): (i64, i64) =
            sqlx::query_as("SELECT count(*), count(refused) FROM queued_notes")
                .fetch_one(&self.pool)
                .await?;
        Ok((all as u32, refused as u32))
    }

    /// Takes a note off the queue (sent, or discarded).
    pub async fn remove(&self, client_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM queued_notes WHERE client_id = $1")
            .bind(client_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks a note refused by the server, with the reason.
    pub async fn refuse(&self, client_id: &str, reason: &str) -> Result<()> {
        sqlx::query("UPDATE queued_notes SET refused = $2 WHERE client_id = $1")
            .bind(client_id)
            .bind(reason)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
