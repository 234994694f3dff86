//! The web app's files, served from the built front end (`ui/dist`): the
//! same page the desktop app shows. A path that is not a file (`/issues/42`)
//! gets `index.html`, whose script shows that route. Every page carries the
//! desktop app's content security policy, so user text can never run as
//! script in a browser either.

use super::Server;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::path::{Component, Path, PathBuf};

/// The desktop app's policy (`src-tauri/tauri.conf.json`), with the API on
/// this server in place of Tauri's IPC.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; font-src 'self'; connect-src 'self'; \
                   object-src 'none'; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

pub(super) async fn serve(State(server): State<Server>, uri: Uri) -> Response {
    let Some(root) = server.options.ui.as_deref() else {
        return (
            StatusCode::NOT_FOUND,
            "this Panelkeeper server has no web app (start it with --ui DIR)\n",
        )
            .into_response();
    };
    if uri.path().starts_with("/api/") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let file = within(root, uri.path())
        .filter(|p| p.is_file())
        .unwrap_or_else(|| root.join("index.html"));
    match tokio::fs::read(&file).await {
        Ok(bytes) => {
            let mut response = bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(&file)),
            );
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            // Vite names its built files by their content; the page itself
            // must be asked for again.
            let cache = if file.starts_with(root.join("assets")) {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            };
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            response
        }
        Err(e) => {
            tracing::warn!(file = %file.display(), "web app file not served: {e}");
            (StatusCode::NOT_FOUND, "not found\n").into_response()
        }
    }
}

/// The file `path` names under `root`, never outside it.
fn within(root: &Path, path: &str) -> Option<PathBuf> {
    let mut file = root.to_path_buf();
    for part in Path::new(path.trim_start_matches('/')).components() {
        match part {
            Component::Normal(name) => file.push(name),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(file)
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        Some("json") => "application/json",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_never_leaves_the_web_apps_folder() {
        let root = Path::new("/srv/ui");
        assert_eq!(
            within(root, "/assets/index.js"),
            Some(PathBuf::from("/srv/ui/assets/index.js"))
        );
        assert_eq!(within(root, "/../etc/passwd"), None);
        assert_eq!(within(root, "/assets/../../etc/passwd"), None);
        assert_eq!(within(root, "/"), Some(PathBuf::from("/srv/ui")));
    }
}
