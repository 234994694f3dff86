//! The team server: `panelkeeper serve`. An HTTP shell over the core on a
//! team database, as the desktop app is a Tauri shell over it:
//!
//! - `POST /api/{command}` runs a command of the one table (`api`) for the
//!   signed-in person, the JSON body its arguments; the answer is the
//!   command's JSON, or the core's error as the same tagged JSON the desktop
//!   app receives, with a status that says its kind;
//! - `POST /api/sign-in`, `POST /api/sign-out`, `GET /api/me`, and
//!   `POST /api/set-password` (an invitation's one-time link) (`accounts`);
//! - a call sent with `Accept: text/event-stream` hears a long command's
//!   progress as server-sent events, then its answer;
//! - `GET /healthz`: 200 while the database answers;
//! - every other `GET` serves the web app (the desktop app's own front end,
//!   built into `ui/dist`), whose `index.html` answers for its routes.
//!
//! A sign-in is an HttpOnly, SameSite=Strict cookie (Secure under TLS);
//! every call but sign-in carries the sign-in's CSRF token in
//! `X-CSRF-Token`. Calls wait their turn in one line, as many at work as
//! the database has connections for. The mail worker and the minute tick
//! run beside the requests; several servers on one database share the work
//! through the team database's locks. Sign-ins and each owner's
//! *My follow-ups* are kept in memory between calls while the database's
//! notices of their changes are heard (`notices`).

mod assets;
mod notices;
pub mod tls;

pub use notices::{hear_changes, keeps};

use crate::accounts::{self, SignedIn, Token};
use crate::api::{self, Caller};
use crate::{Error, Panel, Result};
use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// The cookie a sign-in is kept in.
pub const COOKIE: &str = "panelkeeper";
/// The header each call sends its sign-in's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How a server runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The built web app (`ui/dist`); without it, only the API is served.
    pub ui: Option<PathBuf>,
    /// Whether browsers reach the server over TLS (cookies are then Secure).
    pub secure: bool,
}

/// The address a request came from (failed sign-ins are counted by it).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tls::Listener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tls::Listener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

#[derive(Clone)]
struct Server {
    panel: Panel,
    options: Arc<Options>,
    /// Calls at work at once: as many as the database has connections for.
    /// The rest wait in one line, in the order they came, so that under
    /// load every call waits about as long: a call that needs a connection
    /// several times in turn (its sign-in unless kept, its access, its
    /// change) waits in line once, not each time behind everyone else's.
    turns: Arc<tokio::sync::Semaphore>,
}

/// The largest call body: a CSV file to import, as base64 (about 48 MB of
/// CSV, some 400,000 people). A larger file is imported with the command
/// line on the team database.
const LARGEST_CALL: usize = 64 * 1024 * 1024;

/// The server's routes over `panel`.
pub fn router(panel: Panel, options: Options) -> Router {
    let server = Server {
        turns: Arc::new(tokio::sync::Semaphore::new(panel.connections())),
        panel,
        options: Arc::new(options),
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/sign-in", post(sign_in))
        .route("/api/sign-out", post(sign_out))
        .route("/api/set-password", post(set_password))
        .route("/api/me", get(me))
        .route(
            "/api/{command}",
            post(command).layer(axum::extract::DefaultBodyLimit::max(LARGEST_CALL)),
        )
        .fallback(get(assets::serve))
        .with_state(server)
}

/// Where a server takes its connections.
pub enum Listening {
    /// Plain HTTP (on loopback: the CLI refuses it elsewhere).
    Plain(tokio::net::TcpListener),
    /// HTTPS.
    Tls(tls::Listener),
}

/// Serves `panel` on `listener` until `shutdown` completes: then stops
/// taking connections, lets the requests in flight finish, and stops the
/// mail worker between messages, the tick between passes and the mailbox
/// reader between messages (one cut short is read again next time).
pub async fn serve(
    panel: Panel,
    listener: Listening,
    options: Options,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    // One each, told with notify_one: a stop comes through even when the
    // task is busy, not waiting, at that moment.
    let stop = Arc::new(tokio::sync::Notify::new());
    let tick_stop = Arc::new(tokio::sync::Notify::new());
    let worker = tokio::spawn(crate::mail::worker::run(
        panel.clone(),
        stop.clone(),
        |_| {},
    ));
    let ticking = panel.clone();
    let ticker_stop = tick_stop.clone();
    let ticker = tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = ticker_stop.notified() => return,
                _ = every.tick() => {}
            }
            if let Err(e) = crate::issues::tick(&ticking, ticking.now()).await {
                tracing::warn!("escalation tick failed: {e}");
            }
        }
    });
    // The panel mailbox, read as mail arrives; several servers may read it,
    // each message is acted on once.
    let reader_stop = Arc::new(tokio::sync::Notify::new());
    let reading = panel.clone();
    let reader_told = reader_stop.clone();
    let reader = tokio::spawn(async move {
        crate::inbox::watch(
            &reading,
            std::time::Duration::from_secs(60),
            async move { reader_told.notified().await },
            |round| {
                if let Err(e) = round {
                    tracing::warn!("reading the panel mailbox failed: {e}");
                }
            },
        )
        .await
    });
    // Sign-ins and follow-ups kept between calls while the database's
    // notices are heard.
    let hearing_stop = Arc::new(tokio::sync::Notify::new());
    let hearing_panel = panel.clone();
    let hearing_told = hearing_stop.clone();
    let hearing = tokio::spawn(async move {
        notices::hear_changes(&hearing_panel, async move { hearing_told.notified().await }).await
    });
    let app = router(panel, options).into_make_service_with_connect_info::<Peer>();
    let served = match listener {
        Listening::Plain(tcp) => axum::serve(tcp, app).with_graceful_shutdown(shutdown).await,
        Listening::Tls(tls) => axum::serve(tls, app).with_graceful_shutdown(shutdown).await,
    };
    stop.notify_one();
    tick_stop.notify_one();
    reader_stop.notify_one();
    hearing_stop.notify_one();
    let _ = tokio::join!(worker, ticker, reader, hearing);
    served.map_err(|e| Error::Storage {
        reason: format!("the server stopped: {e}"),
    })
}

/// 200 while the database answers, 503 otherwise.
async fn healthz(State(server): State<Server>) -> Response {
    match server.panel.check_reachable().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    }
}

#[derive(Deserialize)]
struct SignInBody {
    email: String,
    password: String,
}

async fn sign_in(
    State(server): State<Server>,
    ConnectInfo(Peer(from)): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(e) = same_origin(&headers) {
        return failure(e);
    }
    let Ok(body) = serde_json::from_slice::<SignInBody>(&body) else {
        return failure(Error::InvalidInput {
            field: "sign-in".into(),
            value: String::new(),
            reason: "needs a JSON body with an email and a password".into(),
        });
    };
    let address = from.ip().to_string();
    match accounts::sign_in(&server.panel, &body.email, &body.password, &address).await {
        Ok((token, signed)) => {
            let cookie = cookie(
                token.as_str(),
                accounts::LONGEST.num_seconds(),
                server.options.secure,
            );
            let mut response = answer(&signed);
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Err(e) => failure(e),
    }
}

#[derive(Deserialize)]
struct SetPasswordBody {
    token: String,
    password: String,
}

/// A password chosen through an invitation's one-time link; the answer
/// names the email address to sign in with.
async fn set_password(
    State(server): State<Server>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(e) = same_origin(&headers) {
        return failure(e);
    }
    let Ok(body) = serde_json::from_slice::<SetPasswordBody>(&body) else {
        return failure(Error::InvalidInput {
            field: "password".into(),
            value: String::new(),
            reason: "needs a JSON body with the link's token and a password".into(),
        });
    };
    match accounts::set_password_by_link(&server.panel, &body.token, &body.password).await {
        Ok(person) => answer(&serde_json::json!({ "email": person.email })),
        Err(e) => failure(e),
    }
}

async fn sign_out(State(server): State<Server>, headers: HeaderMap) -> Response {
    if let Ok((token, signed)) = signed_in(&server, &headers).await
        && csrf_matches(&headers, &signed)
        && let Err(e) = accounts::sign_out(&server.panel, &token).await
    {
        return failure(e);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie("", 0, server.options.secure));
    response
}

async fn me(State(server): State<Server>, headers: HeaderMap) -> Response {
    match signed_in(&server, &headers).await {
        Ok((_, signed)) => answer(&signed),
        Err(e) => failure(e),
    }
}

async fn command(
    State(server): State<Server>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    // Never closed: a call always gets its turn.
    let turn = server.turns.clone().acquire_owned().await.ok();
    let signed = match signed_in(&server, &headers).await {
        Ok((_, signed)) => signed,
        Err(e) => return failure(e),
    };
    if !csrf_matches(&headers, &signed) {
        return failure(Error::Csrf);
    }
    let args = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(args) => args,
            Err(e) => {
                return failure(Error::InvalidInput {
                    field: "arguments".into(),
                    value: name,
                    reason: format!("are not JSON: {e}"),
                });
            }
        }
    };
    let caller = Caller::Signed(signed.staff);
    if wants_events(&headers) {
        return with_progress(server.panel.clone(), caller, name, args, turn);
    }
    let call = api::call(&server.panel, &caller, &name, args, &|_| ());
    match crate::logging::watch_slow("server", &name, call).await {
        Ok(value) => answer(&value),
        Err(e) => failure(e),
    }
}

/// Whether the caller asked to hear a long command's progress as it goes
/// (`Accept: text/event-stream`).
fn wants_events(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

/// Runs a command, answering with server-sent events: a `progress` event
/// for each report the command makes, then one `answer` (its JSON) or one
/// `error` (the core's tagged error). The command runs to its end even if
/// the caller goes away: what it changes is not left half done. It keeps
/// its turn until then.
fn with_progress(
    panel: Panel,
    caller: Caller,
    name: String,
    args: Value,
    turn: Option<tokio::sync::OwnedSemaphorePermit>,
) -> Response {
    let (events, heard) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let _turn = turn;
        let progress = events.clone();
        let report = move |p: Value| drop(progress.send(event("progress", &p.to_string())));
        let call = api::call(&panel, &caller, &name, args, &report);
        let last = match crate::logging::watch_slow("server", &name, call).await {
            Ok(answer) => event("answer", answer.get()),
            Err(e) => event(
                "error",
                &serde_json::to_string(&e).unwrap_or_else(|_| "null".into()),
            ),
        };
        let _ = events.send(last);
    });
    let stream = futures_util::stream::unfold(heard, |mut heard| async move {
        let next = heard.recv().await?;
        Some((Ok::<_, std::convert::Infallible>(next), heard))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-store")
        .body(axum::body::Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// One server-sent event, its data JSON text (on one line, as JSON
/// written without indentation is).
fn event(name: &str, data: &str) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// The sign-in the request's cookie holds.
async fn signed_in(server: &Server, headers: &HeaderMap) -> Result<(Token, SignedIn)> {
    let token = cookie_value(headers, COOKIE).ok_or(Error::SignedOut)?;
    let token = Token::from_cookie(&token);
    let signed = accounts::signed_in(&server.panel, &token).await?;
    Ok((token, signed))
}

fn csrf_matches(headers: &HeaderMap, signed: &SignedIn) -> bool {
    headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|sent| constant_time_eq(sent.as_bytes(), signed.csrf.as_bytes()))
}

/// A sign-in posted from another site's page is refused (a browser names
/// the page's origin; a script or the CLI names none).
fn same_origin(headers: &HeaderMap) -> Result<()> {
    let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST))
    else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("");
    let host = host.to_str().unwrap_or("");
    let origin_host = origin.split("://").nth(1).unwrap_or("");
    if origin_host == host {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            field: "origin".into(),
            value: origin.to_string(),
            reason: "is another site; sign in from Panelkeeper's own page".into(),
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

fn cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("a cookie of hex digits is a valid header")
}

/// The value of the cookie `name` in the request's `Cookie` headers.
fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn answer(value: &impl serde::Serialize) -> Response {
    let mut response = Json(value).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The core's error as the desktop app receives it, with a status that
/// says its kind.
fn failure(error: Error) -> Response {
    let status = match &error {
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::InvalidInput { .. } | Error::File { .. } => StatusCode::BAD_REQUEST,
        Error::Conflict { .. } => StatusCode::CONFLICT,
        Error::SignedOut | Error::SignInRefused => StatusCode::UNAUTHORIZED,
        Error::SlowDown { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Forbidden { .. } | Error::Csrf => StatusCode::FORBIDDEN,
        Error::Busy | Error::Storage { .. } => StatusCode::SERVICE_UNAVAILABLE,
        // The mail server the panel mailbox is on, not this one.
        Error::Mailbox { .. } => StatusCode::BAD_GATEWAY,
        // A desktop's answers about its own connection: never the server's.
        Error::Offline { .. } | Error::NoteKept { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Error::DiskFull => StatusCode::INSUFFICIENT_STORAGE,
        Error::Database { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut response = (status, answer(&error)).into_response();
    if let Error::SlowDown { seconds } = error
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_in_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; panelkeeper=ab12; x=y"),
        );
        assert_eq!(cookie_value(&headers, COOKIE).as_deref(), Some("ab12"));
        assert_eq!(cookie_value(&HeaderMap::new(), COOKIE), None);
    }

    #[test]
    fn a_sign_in_from_another_sites_page_is_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("panel.example.com"));
        assert!(same_origin(&headers).is_ok());
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://panel.example.com"),
        );
        assert!(same_origin(&headers).is_ok());
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(same_origin(&headers).is_err());
    }
}
