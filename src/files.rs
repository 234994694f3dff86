//! Files Panelkeeper writes for people (reports, CSV and privacy exports, the
//! demo's CSV) and beside the database (the key file, the delivery journal),
//! written so that nothing already at a path is destroyed by accident and
//! nothing personal is readable by other users of the computer.
//!
//! A file is written into a temporary file created exclusively (`O_EXCL`,
//! mode 0600) in the target's own folder, synced, then moved into place in
//! one step: a planted symlink is never followed, a failed write leaves
//! nothing behind, and a reader never sees half a file. A target that
//! exists and is not a regular file (a directory, a device, a FIFO, a
//! socket) is refused, and an existing file is replaced only when the
//! caller says so (`--force` on the command line; the app's save dialog
//! asks). Without that, the move refuses to replace anything, atomically.

use crate::{Error, Result};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Whether an existing file at the target may be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse: the file is left as it is.
    Keep,
    /// Replace it (the person said so).
    Replace,
}

impl Existing {
    /// `Replace` when `force`, else `Keep`.
    pub fn replace_if(force: bool) -> Existing {
        if force {
            Existing::Replace
        } else {
            Existing::Keep
        }
    }
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// What kind of thing other than a regular file is at `path`, if any.
fn special_kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_dir() {
        return Some("a folder");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_block_device() || t.is_char_device() {
            return Some("a device");
        }
        if t.is_fifo() {
            return Some("a named pipe (FIFO)");
        }
        if t.is_socket() {
            return Some("a socket");
        }
    }
    None
}

/// Checks that `path` may be written: nothing is there, or a regular file
/// (or a link, which is replaced, never followed) that may be replaced.
pub fn check_target(path: &Path, existing: Existing) -> Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::file(shown(path), e.to_string())),
    };
    if let Some(kind) = special_kind(&meta) {
        return Err(Error::file(
            shown(path),
            format!("is {kind}, not a file; nothing was written: choose a file name"),
        ));
    }
    if existing == Existing::Keep {
        return Err(Error::file(
            shown(path),
            "already exists and was left as it is; to replace it, say so (--force on the command line)",
        ));
    }
    Ok(())
}

/// The folder a file at `path` is written in.
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A file being written: a temporary file beside the target until
/// [`NewFile::commit`] moves it into place. Dropped without a commit, it
/// leaves nothing behind.
pub struct NewFile {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
    existing: Existing,
}

impl NewFile {
    /// Starts writing `path`, refusing a target that may not be written
    /// (see [`check_target`]). The file is readable by its owner only.
    pub fn create(path: &Path, existing: Existing) -> Result<NewFile> {
        check_target(path, existing)?;
        let folder = folder_of(path);
        let tmp = tempfile::Builder::new()
            .prefix(".panelkeeper-")
            .suffix(".part")
            .tempfile_in(folder)
            .map_err(|e| {
                Error::file(
                    shown(path),
                    format!("could not be written in {}: {e}", folder.display()),
                )
            })?;
        Ok(NewFile {
            tmp,
            path: path.to_path_buf(),
            existing,
        })
    }

    /// Where the content goes.
    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// The error for a failed write of this file.
    pub fn failed(&self, e: impl std::fmt::Display) -> Error {
        Error::file(shown(&self.path), format!("could not be written: {e}"))
    }

    /// Syncs the content and moves it into place: over an existing file
    /// only with [`Existing::Replace`], otherwise refusing atomically.
    pub fn commit(self) -> Result<()> {
        let NewFile {
            tmp,
            path,
            existing,
        } = self;
        let failed =
            |e: std::io::Error| Error::file(shown(&path), format!("could not be written: {e}"));
        tmp.as_file().sync_all().map_err(failed)?;
        match existing {
            Existing::Keep => tmp.persist_noclobber(&path).map_err(|e| {
                if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                    Error::file(
                        shown(&path),
                        "appeared while it was being written and was left as it is",
                    )
                } else {
                    failed(e.error)
                }
            })?,
            Existing::Replace => tmp.persist(&path).map_err(|e| failed(e.error))?,
        };
        sync_folder(folder_of(&path));
        Ok(())
    }
}

/// Writes a file at `path` through `write`, as the module describes.
pub fn write_with<T>(
    path: &Path,
    existing: Existing,
    write: impl FnOnce(&mut std::io::BufWriter<&mut File>) -> Result<T>,
) -> Result<T> {
    let mut file = NewFile::create(path, existing)?;
    let value = {
        let mut out = std::io::BufWriter::new(file.file());
        let value = write(&mut out)?;
        out.flush()
            .map_err(|e| Error::file(shown(path), format!("could not be written: {e}")))?;
        value
    };
    file.commit()?;
    Ok(value)
}

/// Writes `bytes` as the file at `path`, as [`write_with`].
pub fn write_bytes(path: &Path, bytes: &[u8], existing: Existing) -> Result<()> {
    write_with(path, existing, |out| {
        out.write_all(bytes)
            .map_err(|e| Error::file(shown(path), format!("could not be written: {e}")))
    })
}

/// Makes the move into the folder durable (its entry is on disk).
fn sync_folder(folder: &Path) {
    #[cfg(unix)]
    if let Ok(dir) = File::open(folder) {
        let _ = dir.sync_all();
    }
}

/// Creates `dir` (and its parents) if needed; a folder created here is
/// readable by its owner only.
pub(crate) fn private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Opens (creating if needed, mode 0600) a small file beside the database
/// for appending or locking, never through a symlink and never a special
/// file.
pub(crate) fn open_private(path: &Path) -> Result<File> {
    let mut options = File::options();
    options.create(true).append(true).read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let file = options.open(path).map_err(|e| {
        let reason = if e.raw_os_error() == Some(libc::ELOOP) {
            "is a symbolic link; Panelkeeper does not follow one here".to_string()
        } else {
            e.to_string()
        };
        Error::file(shown(path), reason)
    })?;
    let meta = file
        .metadata()
        .map_err(|e| Error::file(shown(path), e.to_string()))?;
    if let Some(kind) = special_kind(&meta) {
        return Err(Error::file(shown(path), format!("is {kind}, not a file")));
    }
    Ok(file)
}

/// Restricts an existing file to its owner (mode 0600); a file that is
/// missing, or that belongs to someone else, is left as it is.
pub(crate) fn make_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return;
        };
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.is_file()
            && meta.uid() == me
            && meta.mode() & 0o077 != 0
            && let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        {
            tracing::warn!(path = %path.display(), error = %e, "could not make the file private");
        }
    }
}

/// A path beside `db`: its file name with `suffix` added.
pub(crate) fn beside(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    db.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_file_is_written_whole_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.pdf");
        write_bytes(&path, b"%PDF", Existing::Keep).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"%PDF");
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn an_existing_file_is_replaced_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.csv");
        std::fs::write(&path, "kept").unwrap();
        let refused = write_bytes(&path, b"new", Existing::Keep).unwrap_err();
        assert!(refused.to_string().contains("already exists"), "{refused}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "kept");
        write_bytes(&path, b"new", Existing::Replace).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.csv");
        let failed = write_with(&path, Existing::Keep, |_| -> Result<()> {
            Err(Error::conflict("stopped"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_folder_is_refused_as_a_target() {
        let dir = tempfile::tempdir().unwrap();
        let e = write_bytes(dir.path(), b"x", Existing::Replace).unwrap_err();
        assert!(e.to_string().contains("is a folder"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_beside_the_database_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let link = dir.path().join("panel.db.mail-lock");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let e = open_private(&link).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }
}
