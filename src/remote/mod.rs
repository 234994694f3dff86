//! The desktop app connected to a team server: the same command table
//! (`crate::api`) called over HTTPS as the signed-in person, and live notes
//! that never wait for the network.
//!
//! A connection is kept in a small SQLite file of its own beside the
//! computer's panel file ([`Team::file_for`], mode 0600): the server's
//! address, the sign-in (its cookie and CSRF token) and the queue of live
//! notes not yet sent ([`queue`]). A note is written to that queue first,
//! with an id this computer chooses, and then sent; when the server cannot
//! be reached it stays queued, shown as not yet sent, and [`Team::keep_sending`]
//! sends the queue in the order it was typed when the server is back. The
//! server writes a note once per id (`notes::add_typed`), so a note whose
//! answer was lost on the way back is not written twice. Anything else
//! asked while the server cannot be reached is refused with
//! [`Error::Offline`]: never saved here and never silently lost.

pub mod queue;

pub use queue::QueuedNote;

use crate::notes::{Note, NoteInput, Typed};
use crate::server::COOKIE;
use crate::sessions::SessionId;
use crate::sessions::staff::Staff;
use crate::{Error, Result};
use chrono::Utc;
use queue::Queue;
use serde::Serialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, Notify};
use ts_rs::TS;

/// How long a call may take before the server counts as unreachable.
const CALL_LIMIT: Duration = Duration::from_secs(120);

/// How long connecting to the server may take.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);

/// The longest wait between two tries at sending the queue.
const LONGEST_WAIT: Duration = Duration::from_secs(5);

/// What the app shows of its connection.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TeamStatus {
    /// The team server's address.
    pub server: String,
    /// Who is signed in; none when the sign-in ended (sign in again).
    pub signed_in: Option<Staff>,
    /// Live notes typed here and not yet sent.
    pub queued: u32,
    /// Of those, the ones the server refused (each with its reason).
    pub refused: u32,
}

/// What one pass over the queue did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SendReport {
    pub sent: u32,
    pub refused: u32,
    /// Still waiting: the server could not be reached, or nobody is signed in.
    pub waiting: u32,
}

/// A desktop's connection to a team server.
#[derive(Clone)]
pub struct Team {
    inner: Arc<Inner>,
}

struct Inner {
    server: String,
    http: reqwest::Client,
    queue: Queue,
    sign_in: std::sync::Mutex<Option<queue::SignIn>>,
    /// One pass over the queue at a time, in order.
    sending: Mutex<()>,
    wake: Notify,
    closed: AtomicBool,
}

impl Team {
    /// The file a connection is kept in, beside the panel file `panel`.
    pub fn file_for(panel: &Path) -> PathBuf {
        panel.with_extension("team.db")
    }

    /// The connection kept in `file`, if this computer is connected to a
    /// team server.
    pub async fn open(file: &Path) -> Result<Option<Team>> {
        if !file.exists() {
            return Ok(None);
        }
        let queue = Queue::open(file).await?;
        match queue.connection().await? {
            Some(kept) => Ok(Some(Team::new(
                kept.server,
                kept.ca.as_deref(),
                queue,
                kept.sign_in,
            )?)),
            None => Ok(None),
        }
    }

    /// Connects this computer to the team server at `server`, signed in as
    /// `email`; kept in `file` until [`Team::disconnect`]. The server's
    /// certificate is checked against the computer's trusted authorities,
    /// or, when `ca` is given (PEM), against that authority alone: for a
    /// server whose certificate the company signs itself.
    pub async fn connect(
        file: &Path,
        server: &str,
        ca: Option<&str>,
        email: &str,
        password: &str,
    ) -> Result<Team> {
        let server = server_address(server)?;
        let ca = ca.map(str::trim).filter(|c| !c.is_empty());
        let queue = Queue::open(file).await?;
        if let Some(kept) = queue.connection().await?
            && kept.server != server
            && queue.count().await?.0 > 0
        {
            return Err(Error::conflict(format!(
                "live notes typed here for {} are not yet sent; \
                 send or discard them before connecting to another server",
                kept.server
            )));
        }
        let team = Team::new(server.clone(), ca, queue, None)?;
        team.sign_in(email, password).await?;
        team.inner.queue.keep_ca(ca).await?;
        Ok(team)
    }

    fn new(
        server: String,
        ca: Option<&str>,
        queue: Queue,
        sign_in: Option<queue::SignIn>,
    ) -> Result<Team> {
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let mut http = reqwest::Client::builder()
            .connect_timeout(CONNECT_LIMIT)
            .timeout(CALL_LIMIT)
            .user_agent(concat!("Panelkeeper/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = ca {
            http = http.use_preconfigured_tls(crate::tls::trusting(pem)?);
        }
        let http = http.build().map_err(|e| Error::Storage {
            reason: format!("the connection to the team server could not be set up: {e}"),
        })?;
        Ok(Team {
            inner: Arc::new(Inner {
                server,
                http,
                queue,
                sign_in: std::sync::Mutex::new(sign_in),
                sending: Mutex::new(()),
                wake: Notify::new(),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// The team server's address.
    pub fn server(&self) -> &str {
        &self.inner.server
    }

    /// Who is signed in, and what is queued.
    pub async fn status(&self) -> Result<TeamStatus> {
        let (queued, refused) = self.inner.queue.count().await?;
        Ok(TeamStatus {
            server: self.inner.server.clone(),
            signed_in: self.signed().map(|s| s.staff),
            queued,
            refused,
        })
    }

    fn signed(&self) -> Option<queue::SignIn> {
        self.inner.sign_in.lock().expect("sign-in lock").clone()
    }

    /// Signs in as `email` (again, when a sign-in ended); the sign-in is kept.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<TeamStatus> {
        let response = self
            .inner
            .http
            .post(self.url("/api/sign-in"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let cookie = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find_map(|v| v.strip_prefix(&format!("{COOKIE}=")).map(str::to_string));
        let signed: SignedInAnswer = self.answer(response).await?;
        let cookie = cookie.ok_or_else(|| Error::Storage {
            reason: format!(
                "{} did not answer as a Panelkeeper team server",
                self.inner.server
            ),
        })?;
        let sign_in = queue::SignIn {
            cookie,
            csrf: signed.csrf,
            staff: signed.staff,
        };
        self.inner
            .queue
            .keep_connection(&self.inner.server, Some(&sign_in))
            .await?;
        *self.inner.sign_in.lock().expect("sign-in lock") = Some(sign_in);
        self.inner.wake.notify_one();
        self.status().await
    }

    /// Asks the server who is signed in, so a role changed there shows
    /// here; a server that cannot be reached leaves what is known.
    pub async fn refresh(&self) -> Result<TeamStatus> {
        if let Some(sign_in) = self.signed() {
            match self.get::<SignedInAnswer>("/api/me", &sign_in).await {
                Ok(me) => {
                    let fresh = queue::SignIn {
                        staff: me.staff,
                        csrf: me.csrf,
                        ..sign_in
                    };
                    self.inner
                        .queue
                        .keep_connection(&self.inner.server, Some(&fresh))
                        .await?;
                    *self.inner.sign_in.lock().expect("sign-in lock") = Some(fresh);
                }
                Err(Error::Offline { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.status().await
    }

    /// Signs out on the server (when it can be reached) and forgets the
    /// connection: the computer is on its own panel again. Refused while
    /// live notes are queued, unless `discard_queued`.
    pub async fn disconnect(&self, discard_queued: bool) -> Result<()> {
        let (queued, _) = self.inner.queue.count().await?;
        if queued > 0 && !discard_queued {
            return Err(Error::conflict(format!(
                "{queued} live note{} typed here {} not yet sent to {}; \
                 wait until {} sent, or discard {}",
                if queued == 1 { "" } else { "s" },
                if queued == 1 { "is" } else { "are" },
                self.inner.server,
                if queued == 1 { "it is" } else { "they are" },
                if queued == 1 { "it" } else { "them" },
            )));
        }
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.wake.notify_one();
        let _sending = self.inner.sending.lock().await;
        if let Some(sign_in) = self.signed() {
            // The server ends the sign-in; one that cannot be reached ends
            // it on its own when it expires.
            let _ = self.signed_post("/api/sign-out", &sign_in).send().await;
        }
        self.inner.queue.forget().await
    }

    /// Runs a command of the core's table on the server, as the person
    /// signed in here; a live note goes through the queue ([`Team::add_note`]).
    pub async fn call(&self, name: &str, args: Value) -> Result<Value> {
        self.call_reporting(name, args, &|_| ()).await
    }

    /// [`Team::call`], hearing a long command's progress reports as the
    /// server sends them (server-sent events).
    pub async fn call_reporting(
        &self,
        name: &str,
        args: Value,
        progress: crate::api::Progress<'_>,
    ) -> Result<Value> {
        crate::logging::watch_slow("desktop", name, self.ask(name, args, progress)).await
    }

    async fn ask(
        &self,
        name: &str,
        args: Value,
        progress: crate::api::Progress<'_>,
    ) -> Result<Value> {
        if name == "note_add" {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Args {
                session: SessionId,
                input: NoteInput,
            }
            let Args { session, input } = serde_json::from_value(args).map_err(|e| {
                Error::invalid("arguments", name, format!("do not fit the command: {e}"))
            })?;
            let note = self.add_note(session, &input).await?;
            return Ok(serde_json::to_value(note).expect("a note serialises"));
        }
        let sign_in = self.signed().ok_or(Error::SignedOut)?;
        let mut response = self
            .signed_post(&format!("/api/{name}"), &sign_in)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(&args)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let streamed = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !response.status().is_success() || !streamed {
            return self.answer(response).await;
        }
        let mut events = Events::default();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.unreachable(e))? {
            for (kind, data) in events.push(&chunk) {
                match kind.as_str() {
                    "progress" => progress(data),
                    "answer" => return Ok(data),
                    "error" => {
                        return Err(serde_json::from_value(data).unwrap_or_else(|_| {
                            Error::Storage {
                                reason: "the team server's error was not understood".into(),
                            }
                        }));
                    }
                    _ => {}
                }
            }
        }
        Err(Error::Storage {
            reason: format!(
                "the team server {} ended its answer early; check whether it was done before trying again",
                self.inner.server
            ),
        })
    }

    /// Imports the CSV file at `path` on this computer into the team's
    /// panel; the import's report as JSON.
    pub async fn import_file(
        &self,
        path: &Path,
        progress: crate::api::Progress<'_>,
    ) -> Result<Value> {
        use base64::Engine;
        let bytes = std::fs::read(path)
            .map_err(|e| Error::file(path.display().to_string(), e.to_string()))?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let args = json!({
            "name": name,
            "base64": base64::engine::general_purpose::STANDARD.encode(bytes),
        });
        self.call_reporting("participants_import_csv", args, progress)
            .await
    }

    /// A file the server makes (a report, an export), saved at `path` on
    /// this computer as the local one is (whole or not at all); what was
    /// saved.
    pub async fn download(
        &self,
        name: &str,
        args: Value,
        path: &Path,
        progress: crate::api::Progress<'_>,
    ) -> Result<crate::api::Download> {
        let answer = self.call_reporting(name, args, progress).await?;
        let download: crate::api::Download =
            serde_json::from_value(answer).map_err(|e| Error::Storage {
                reason: format!("the team server's answer was not understood: {e}"),
            })?;
        crate::files::write_bytes(path, &download.bytes()?, crate::files::Existing::Replace)?;
        Ok(download)
    }

    /// Adds a live note: kept in the queue first, then sent after those
    /// typed before it. The note as the server wrote it; or
    /// [`Error::NoteKept`] when it is kept here to be sent later; or the
    /// server's refusal, when it refused this note at once (it is then not
    /// kept: the app shows it unsaved, with the reason, to be tried again).
    pub async fn add_note(&self, session: SessionId, input: &NoteInput) -> Result<Note> {
        let typed = Typed {
            client_id: new_client_id()?,
            at: Utc::now(),
        };
        self.inner.queue.push(session, input, &typed).await?;
        let mut outcome = None;
        self.send_queued(Some((&typed.client_id, &mut outcome)))
            .await?;
        match outcome {
            Some(Ok(note)) => Ok(note),
            Some(Err(refused)) => Err(refused),
            None => Err(Error::NoteKept {
                why: self.why_waiting(),
            }),
        }
    }

    fn why_waiting(&self) -> String {
        if self.signed().is_none() {
            "your sign-in to the team server has ended; sign in again in Settings".into()
        } else {
            format!("the team server {} cannot be reached", self.inner.server)
        }
    }

    /// The live notes typed here and not yet sent (of one session, or all),
    /// in the order they were typed.
    pub async fn queued(&self, session: Option<SessionId>) -> Result<Vec<QueuedNote>> {
        self.inner.queue.list(session).await
    }

    /// Drops a queued note (one the server refused, read and dealt with).
    pub async fn discard(&self, client_id: &str) -> Result<()> {
        self.inner.queue.remove(client_id).await
    }

    /// Sends the queue, oldest first, until it is empty or the server
    /// cannot take more (unreachable, or the sign-in ended). A note the
    /// server refuses stays queued with the reason, and the rest go on.
    pub async fn send(&self) -> Result<SendReport> {
        self.send_queued(None).await
    }

    /// [`Team::send`]; the note `now` (just typed) reports its own outcome
    /// instead of being kept when refused.
    async fn send_queued(
        &self,
        mut now: Option<(&str, &mut Option<Result<Note>>)>,
    ) -> Result<SendReport> {
        let _one_at_a_time = self.inner.sending.lock().await;
        let mut report = SendReport::default();
        for note in self.inner.queue.waiting().await? {
            if self.inner.closed.load(Ordering::SeqCst) {
                break;
            }
            let args =
                json!({ "session": note.session, "input": note.input(), "typed": note.typed() });
            let answer = match self.signed() {
                Some(sign_in) => self.post("/api/note_add", &sign_in, &args).await,
                None => Err(Error::SignedOut),
            };
            let this = now.as_mut().filter(|(id, _)| *id == note.client_id);
            match answer {
                Ok(value) => {
                    self.inner.queue.remove(&note.client_id).await?;
                    report.sent += 1;
                    if let Some((_, outcome)) = this {
                        **outcome =
                            Some(serde_json::from_value(value).map_err(|e| Error::Storage {
                                reason: format!("the team server's answer was not understood: {e}"),
                            }));
                    }
                }
                Err(e) if waits(&e) => {
                    let (all, refused) = self.inner.queue.count().await?;
                    report.waiting = all - refused;
                    break;
                }
                Err(refused) => {
                    if let Some((_, outcome)) = this {
                        self.inner.queue.remove(&note.client_id).await?;
                        **outcome = Some(Err(refused));
                    } else {
                        tracing::warn!(client_id = %note.client_id, error = %refused, "queued note refused");
                        self.inner
                            .queue
                            .refuse(&note.client_id, &refused.to_string())
                            .await?;
                        report.refused += 1;
                    }
                }
            }
        }
        Ok(report)
    }

    /// Sends the queue whenever there is something to send, trying again
    /// every few seconds while the server cannot take it, until
    /// [`Team::disconnect`]; `changed` hears of every pass that sent or
    /// refused a note.
    pub async fn keep_sending(self, changed: impl Fn(SendReport) + Send + 'static) {
        let mut wait = Duration::from_millis(500);
        while !self.inner.closed.load(Ordering::SeqCst) {
            match self.send().await {
                Ok(report) => {
                    if report.sent > 0 || report.refused > 0 {
                        changed(report.clone());
                    }
                    if report.waiting == 0 {
                        wait = Duration::from_millis(500);
                        self.inner.wake.notified().await;
                        continue;
                    }
                }
                Err(e) => tracing::warn!("the queue of live notes could not be sent: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.inner.wake.notified() => {}
            }
            wait = (wait * 2).min(LONGEST_WAIT);
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.server)
    }

    /// A POST to `path` carrying the sign-in's cookie and CSRF token.
    fn signed_post(&self, path: &str, sign_in: &queue::SignIn) -> reqwest::RequestBuilder {
        self.inner
            .http
            .post(self.url(path))
            .header(
                reqwest::header::COOKIE,
                format!("{COOKIE}={}", sign_in.cookie),
            )
            .header("x-csrf-token", &sign_in.csrf)
    }

    async fn post(&self, path: &str, sign_in: &queue::SignIn, body: &Value) -> Result<Value> {
        let response = self
            .signed_post(path, sign_in)
            .json(body)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        self.answer(response).await
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        sign_in: &queue::SignIn,
    ) -> Result<T> {
        let response = self
            .inner
            .http
            .get(self.url(path))
            .header(
                reqwest::header::COOKIE,
                format!("{COOKIE}={}", sign_in.cookie),
            )
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        self.answer(response).await
    }

    /// The server's answer: its value, or its error as the core's.
    async fn answer<T: serde::de::DeserializeOwned>(
        &self,
        response: reqwest::Response,
    ) -> Result<T> {
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.unreachable(e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| Error::Storage {
                reason: format!("the team server's answer was not understood: {e}"),
            });
        }
        let error = serde_json::from_slice::<Error>(&bytes).unwrap_or_else(|_| {
            if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                // A proxy in front of a server that is down or restarting.
                Error::Offline {
                    server: self.inner.server.clone(),
                }
            } else {
                Error::Storage {
                    reason: format!("the team server {} answered {status}", self.inner.server),
                }
            }
        });
        if matches!(error, Error::SignedOut) {
            self.signed_out().await;
        }
        Err(error)
    }

    /// The server ended the sign-in: forget it, keep the server.
    async fn signed_out(&self) {
        *self.inner.sign_in.lock().expect("sign-in lock") = None;
        if let Err(e) = self
            .inner
            .queue
            .keep_connection(&self.inner.server, None)
            .await
        {
            tracing::warn!("the ended sign-in could not be forgotten: {e}");
        }
    }

    fn unreachable(&self, e: reqwest::Error) -> Error {
        tracing::info!(server = %self.inner.server, error = %e, "team server not reached");
        // A certificate this computer does not trust is not a network
        // outage: say so, and what to do.
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        while let Some(cause) = source {
            let text = cause.to_string();
            if text.contains("certificate") {
                return Error::Storage {
                    reason: format!(
                        "the team server {} was reached, but its certificate is not trusted by \
                         this computer ({text}); if your company signs its own, give its \
                         authority's certificate when connecting",
                        self.inner.server
                    ),
                };
            }
            source = cause.source();
        }
        Error::Offline {
            server: self.inner.server.clone(),
        }
    }
}

/// Server-sent events as they arrive, in pieces.
#[derive(Default)]
struct Events {
    buffered: String,
}

impl Events {
    /// The events `chunk` completes: each its name and its data as JSON.
    fn push(&mut self, chunk: &[u8]) -> Vec<(String, Value)> {
        self.buffered.push_str(&String::from_utf8_lossy(chunk));
        let mut whole = Vec::new();
        while let Some(end) = self.buffered.find("\n\n") {
            let block: String = self.buffered.drain(..end + 2).collect();
            let mut kind = String::new();
            let mut data = Value::Null;
            for line in block.lines() {
                if let Some(k) = line.strip_prefix("event: ") {
                    kind = k.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).unwrap_or(Value::Null);
                }
            }
            whole.push((kind, data));
        }
        whole
    }
}

/// Whether a note that met this error waits in the queue to be sent again
/// (the server could not take it now) rather than being refused.
fn waits(e: &Error) -> bool {
    matches!(
        e,
        Error::Offline { .. }
            | Error::SignedOut
            | Error::SlowDown { .. }
            | Error::Busy
            | Error::DiskFull
            | Error::Storage { .. }
            | Error::Database { .. }
    )
}

/// What `/api/sign-in` and `/api/me` answer (`accounts::SignedIn`).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignedInAnswer {
    staff: Staff,
    csrf: String,
}

/// A team server's address as typed: `https://host[:port]`, or plain
/// `http://` on this computer only (a sign-in must not cross a network in
/// the clear); a missing scheme is HTTPS; no path.
pub fn server_address(typed: &str) -> Result<String> {
    let typed = typed.trim().trim_end_matches('/');
    let invalid = |reason: &str| Error::invalid("team server", typed, reason);
    let (scheme, rest) = match typed.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => ("https".to_string(), typed),
    };
    if rest.is_empty() {
        return Err(invalid(
            "is empty; type the address the team's admin gave you",
        ));
    }
    if rest.contains('/') || rest.contains('?') || rest.contains('#') || rest.contains('@') {
        return Err(invalid(
            "must be only the server's address, such as https://panel.example.com",
        ));
    }
    let host = match rest.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || rest.starts_with('[') => {
            if port.parse::<u16>().is_err() {
                return Err(invalid("has a port that is not a number from 1 to 65535"));
            }
            host
        }
        _ => rest,
    };
    match scheme.as_str() {
        "https" => {}
        "http" if matches!(host, "localhost" | "127.0.0.1" | "[::1]") => {}
        "http" => {
            return Err(invalid(
                "must use https://: a sign-in is not sent across a network in the clear",
            ));
        }
        _ => return Err(invalid("must start with https://")),
    }
    Ok(format!("{scheme}://{}", rest.to_ascii_lowercase()))
}

/// A new client id for a note: 128 random bits, as a UUID is written.
fn new_client_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::Storage {
        reason: format!("no random numbers for a note's id: {e}"),
    })?;
    let hex = hex::encode(bytes);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_address_is_https_or_plain_http_on_this_computer_only() {
        assert_eq!(
            server_address("panel.example.com").unwrap(),
            "https://panel.example.com"
        );
        assert_eq!(
            server_address(" https://Panel.Example.com:8443/ ").unwrap(),
            "https://panel.example.com:8443"
        );
        assert_eq!(
            server_address("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        for (typed, says) in [
            ("http://panel.example.com", "in the clear"),
            (
                "https://panel.example.com/issues/4",
                "only the server's address",
            ),
            ("ftp://panel.example.com", "https://"),
            ("https://panel.example.com:99999", "port"),
            ("", "empty"),
        ] {
            let e = server_address(typed).unwrap_err().to_string();
            assert!(e.contains(says), "{typed}: {e}");
        }
    }

    #[test]
    fn client_ids_are_new_each_time_and_fit_the_servers_rule() {
        let a = new_client_id().unwrap();
        let b = new_client_id().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    }

    #[test]
    fn events_are_read_whole_across_the_pieces_they_arrive_in() {
        let mut events = Events::default();
        assert!(events.push(b"event: progress\ndata: {\"do").is_empty());
        let got = events.push(b"ne\":3}\n\nevent: answer\ndata: 42\n\nevent: err");
        assert_eq!(
            got,
            [
                ("progress".to_string(), json!({ "done": 3 })),
                ("answer".to_string(), json!(42))
            ]
        );
        assert_eq!(events.push(b"or\ndata: null\n\n")[0].0, "error");
    }

    #[test]
    fn only_a_server_that_cannot_take_a_note_now_keeps_it_waiting() {
        assert!(waits(&Error::Offline { server: "s".into() }));
        assert!(waits(&Error::SignedOut));
        assert!(!waits(&Error::invalid("note", "", "is empty")));
        assert!(!waits(&Error::not_found("session", 4)));
    }
}
