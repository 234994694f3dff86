//! The SMTP password, kept out of the database in plain text.
//!
//! The password is encrypted (ChaCha20-Poly1305) with a random key held in a
//! separate file beside the database (`<database>.key`, readable by its
//! owner only). A copy of the database file, a backup of it, a privacy
//! export or a report never holds the password itself; the key file never
//! enters the database. The password is held in a [`Password`], whose
//! `Debug` prints nothing, so it cannot reach a log by accident.

use crate::{Error, Result};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A password in memory. It prints as `Password(..)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(s: impl Into<String>) -> Password {
        Password(s.into())
    }

    /// The password itself, for the SMTP login.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

/// The key file for the database at `db`.
pub(crate) fn key_path(db: &Path) -> PathBuf {
    crate::files::beside(db, ".key")
}

fn key_of(bytes: &[u8]) -> Key {
    Key::from(<[u8; 32]>::try_from(bytes).expect("32 bytes"))
}

fn key(db: &Path, create: bool) -> Result<Option<ChaCha20Poly1305>> {
    let path = key_path(db);
    let shown = path.display().to_string();
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() == 32 => {
            return Ok(Some(ChaCha20Poly1305::new(&key_of(&bytes))));
        }
        Ok(_) => {
            return Err(Error::file(
                shown,
                "is not a Panelkeeper key file (wrong length)",
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::file(shown, e.to_string())),
    }
    if !create {
        return Ok(None);
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::file(&shown, e.to_string()))?;
    // Written whole and owner-only beside the database, never over a key
    // that another process made first (that one is used instead).
    let written =
        crate::files::NewFile::create(&path, crate::files::Existing::Keep).and_then(|mut file| {
            file.file().write_all(&bytes).map_err(|e| file.failed(e))?;
            file.commit()
        });
    match written {
        Ok(()) => Ok(Some(ChaCha20Poly1305::new(&key_of(&bytes)))),
        Err(_) if path.exists() => key(db, false),
        Err(e) => Err(e),
    }
}

/// Encrypts `password` for storage: hex of a random nonce and the sealed text.
pub(crate) fn seal(db: &Path, password: &Password) -> Result<String> {
    let cipher = key(db, true)?.expect("created when missing");
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce)
        .map_err(|e| Error::file(key_path(db).display().to_string(), e.to_string()))?;
    let sealed = cipher
        .encrypt(&Nonce::from(nonce), password.expose().as_bytes())
        .expect("encryption of a short text cannot fail");
    Ok(format!("{}{}", hex::encode(nonce), hex::encode(sealed)))
}

/// Decrypts what [`seal`] stored. A missing or different key file (the
/// database was copied without it) means the password must be entered
/// again, and the error says so.
pub(crate) fn open(db: &Path, stored: &str) -> Result<Password> {
    let again = |why: &str| {
        Error::conflict(format!(
            "the saved SMTP password cannot be read ({why}); enter it again in the SMTP settings"
        ))
    };
    let cipher =
        key(db, false)?.ok_or_else(|| again("the key file beside the database is missing"))?;
    let bytes = hex::decode(stored).map_err(|_| again("it is damaged"))?;
    if bytes.len() < 12 {
        return Err(again("it is damaged"));
    }
    let (nonce, sealed) = bytes.split_at(12);
    let plain = cipher
        .decrypt(
            &Nonce::from(<[u8; 12]>::try_from(nonce).expect("12 bytes")),
            sealed,
        )
        .map_err(|_| again("it was saved with another key file"))?;
    String::from_utf8(plain)
        .map(Password)
        .map_err(|_| again("it is damaged"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_password_opens_with_its_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("panel.db");
        let stored = seal(&db, &Password::new("hunter2 ünïcode")).unwrap();
        assert!(!stored.contains("hunter2"));
        assert_eq!(open(&db, &stored).unwrap().expose(), "hunter2 ünïcode");
        // Two seals of one password differ (fresh nonce).
        assert_ne!(
            stored,
            seal(&db, &Password::new("hunter2 ünïcode")).unwrap()
        );

        // Another database's key cannot open it.
        let other = dir.path().join("other.db");
        seal(&other, &Password::new("x")).unwrap();
        let err = open(&other, &stored).unwrap_err();
        assert!(err.to_string().contains("another key file"), "{err}");

        // Without the key file, the error says to enter it again.
        std::fs::remove_file(key_path(&db)).unwrap();
        let err = open(&db, &stored).unwrap_err();
        assert!(err.to_string().contains("enter it again"), "{err}");
    }

    #[test]
    fn a_password_never_prints() {
        assert_eq!(format!("{:?}", Password::new("hunter2")), "Password(..)");
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("panel.db");
        seal(&db, &Password::new("x")).unwrap();
        let mode = std::fs::metadata(key_path(&db))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
