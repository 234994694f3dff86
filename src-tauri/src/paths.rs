//! Which files the window may have the app read or write. A path that comes
//! from the webview is not trusted with the file system: a page that was
//! made to run someone else's script must not be able to export a panel to
//! any path or import any file it names. The app uses a path only when the
//! person chose it in a file dialog the app opened in this session, or
//! typed it and then confirmed it in a native dialog the page cannot click,
//! or when it lies in the folder named by `PANELKEEPER_TRUSTED_DIR` when the
//! app was started (for scripted runs, such as the end-to-end tests).
//! A file the app wrote may then be opened in the viewer.

use panelkeeper::Error;
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tauri::{AppHandle, Runtime};
use tauri_plugin_dialog::{DialogExt, MessageDialogButtons, MessageDialogKind};

/// What a file is for, which sets the dialog's filter and words.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Purpose {
    /// A CSV file of participants to import (read).
    ImportCsv,
    /// A CSV export of participants (written).
    ExportCsv,
    /// A PDF report (written).
    SavePdf,
}

impl Purpose {
    fn filter(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Purpose::ImportCsv => ("CSV", &["csv", "txt"]),
            Purpose::ExportCsv => ("CSV", &["csv"]),
            Purpose::SavePdf => ("PDF", &["pdf"]),
        }
    }

    fn question(self, path: &Path) -> String {
        let shown = path.display();
        match self {
            Purpose::ImportCsv => format!("Import participants from this file?\n\n{shown}"),
            Purpose::ExportCsv => format!("Export participants to this file?\n\n{shown}"),
            Purpose::SavePdf => format!("Save the report as this file?\n\n{shown}"),
        }
    }
}

/// The paths the person has granted in this session.
#[derive(Debug, Default)]
pub struct Paths {
    granted: Mutex<HashSet<PathBuf>>,
    written: Mutex<HashSet<PathBuf>>,
    trusted: Option<PathBuf>,
}

/// One spelling per file: the folder resolved (links, `..`) and the name.
fn key(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    let name = path.file_name()?;
    let folder = path.parent()?.canonicalize().ok()?;
    Some(folder.join(name))
}

fn refused(path: &str) -> Error {
    Error::File {
        path: path.to_string(),
        reason: "was not chosen in a file dialog or confirmed, so Panelkeeper will not use it; \
                 choose it with Browse… or confirm it when asked"
            .into(),
    }
}

impl Paths {
    /// The paths granted so far: none, but the trusted folder from the
    /// environment, if any.
    pub fn from_env() -> Paths {
        let trusted = std::env::var_os("PANELKEEPER_TRUSTED_DIR")
            .and_then(|d| PathBuf::from(d).canonicalize().ok());
        Paths {
            trusted,
            ..Paths::default()
        }
    }

    fn grant(&self, path: &Path) -> Option<PathBuf> {
        let key = key(path)?;
        self.granted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone());
        Some(key)
    }

    fn trusts(&self, key: &Path) -> bool {
        self.trusted.as_ref().is_some_and(|t| key.starts_with(t))
    }

    /// The path, if the person granted it; refused with the reason if not.
    pub fn check(&self, path: &str) -> Result<PathBuf, Error> {
        let key = key(Path::new(path)).ok_or_else(|| refused(path))?;
        let granted = self
            .granted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&key);
        if granted || self.trusts(&key) {
            Ok(key)
        } else {
            Err(refused(path))
        }
    }

    /// Records that the app wrote `path` (so it may be opened in a viewer).
    pub fn wrote(&self, path: &Path) {
        if let Some(key) = key(path) {
            self.written
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key);
        }
    }

    /// The path, if the app wrote it in this session.
    pub fn check_written(&self, path: &str) -> Result<PathBuf, Error> {
        let key = key(Path::new(path)).ok_or_else(|| refused(path))?;
        if self
            .written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&key)
        {
            Ok(key)
        } else {
            Err(Error::File {
                path: path.to_string(),
                reason: "was not written by Panelkeeper in this session, so it is not opened"
                    .into(),
            })
        }
    }

    /// Opens the native file dialog for `purpose`; the chosen path is
    /// granted and returned, or `None` when the person cancelled.
    pub async fn choose<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        purpose: Purpose,
        suggested: Option<String>,
    ) -> Result<Option<String>, Error> {
        let (name, extensions) = purpose.filter();
        let mut dialog = app.dialog().file().add_filter(name, extensions);
        if let Some(file) = suggested.filter(|s| !s.contains(['/', '\\'])) {
            dialog = dialog.set_file_name(file);
        }
        let (send, receive) = tokio::sync::oneshot::channel();
        let done = move |p: Option<tauri_plugin_dialog::FilePath>| {
            let _ = send.send(p.and_then(|p| p.into_path().ok()));
        };
        match purpose {
            Purpose::ImportCsv => dialog.pick_file(done),
            Purpose::ExportCsv | Purpose::SavePdf => dialog.save_file(done),
        }
        let Some(mut chosen) = receive.await.ok().flatten() else {
            return Ok(None);
        };
        if matches!(purpose, Purpose::SavePdf) && chosen.extension().is_none() {
            chosen.set_extension("pdf");
        }
        Ok(self.grant(&chosen).map(|key| key.display().to_string()))
    }

    /// Asks the person, in a native dialog, to confirm a path they typed;
    /// a confirmed path is granted.
    pub async fn confirm<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        purpose: Purpose,
        path: &str,
    ) -> Result<bool, Error> {
        let typed = Path::new(path);
        let Some(key) = key(typed) else {
            return Err(Error::File {
                path: path.to_string(),
                reason: "is not a full path to a file in a folder that exists".into(),
            });
        };
        if self.trusts(&key) {
            return Ok(true);
        }
        let (send, receive) = tokio::sync::oneshot::channel();
        app.dialog()
            .message(purpose.question(&key))
            .title("Panelkeeper")
            .kind(MessageDialogKind::Warning)
            .buttons(MessageDialogButtons::OkCancelCustom(
                "Yes".into(),
                "Cancel".into(),
            ))
            .show(move |yes| {
                let _ = send.send(yes);
            });
        let yes = receive.await.unwrap_or(false);
        if yes {
            self.grant(typed);
        }
        Ok(yes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_granted_or_trusted_paths_are_used() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::default();
        let file = dir.path().join("out.csv");
        let shown = file.to_str().unwrap();
        assert!(paths.check(shown).is_err());
        paths.grant(&file);
        assert!(paths.check(shown).is_ok());
        // The same file by another spelling is the same grant; a sibling is not.
        let other = dir.path().join("sub/../out.csv");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert!(paths.check(other.to_str().unwrap()).is_ok());
        assert!(
            paths
                .check(dir.path().join("else.csv").to_str().unwrap())
                .is_err()
        );
        assert!(paths.check("relative.csv").is_err());

        let trusting = Paths {
            trusted: Some(dir.path().canonicalize().unwrap()),
            ..Paths::default()
        };
        assert!(
            trusting
                .check(dir.path().join("any.pdf").to_str().unwrap())
                .is_ok()
        );
        assert!(trusting.check("/etc/passwd").is_err());
        assert!(trusting.check_written(shown).is_err());
        trusting.wrote(&file);
        assert!(trusting.check_written(shown).is_ok());
    }
}
