//! The panel mailbox's settings: where replies are read.
//!
//! Stored as the `imap` setting; the password apart, sealed like the SMTP
//! password, and never returned: [`InboxSettings`] only says whether one is
//! saved.

use crate::mail::secret::{self, Password};
use crate::mail::settings::{PasswordChange, TlsMode, check_host};
use crate::participants::fields::check_text;
use crate::{Error, Panel, Result, settings};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

const KEY: &str = "imap";
const PASSWORD_KEY: &str = "imap_password";

/// What becomes of a message once it is read into the record. It is never
/// deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "action", content = "folder", rename_all = "camelCase")]
pub enum AfterReading {
    /// Left where it is, marked seen and flagged `$Panelkeeper`.
    Flag,
    /// Moved to this folder (made when missing).
    Move(String),
}

/// The mailbox settings as stored and shown (never with the password).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct InboxSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub user: String,
    /// The folder read, `INBOX` unless said otherwise.
    pub folder: String,
    pub after_reading: AfterReading,
    /// A PEM certificate authority to trust instead of the system's.
    pub ca_certificate: Option<String>,
    #[serde(default)]
    pub has_password: bool,
}

/// Mailbox settings as entered.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct InboxInput {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub user: String,
    pub password: PasswordChange,
    #[serde(default)]
    pub folder: Option<String>,
    #[serde(default)]
    pub after_reading: Option<AfterReading>,
    #[serde(default)]
    pub ca_certificate: Option<String>,
}

/// The settings and the password the reader logs in with.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub settings: InboxSettings,
    pub password: Option<Password>,
}

fn folder(field: &str, raw: &str) -> Result<String> {
    let name = check_text(field, raw)?;
    if name.is_empty() || name.chars().count() > 200 || name.contains(['"', '\\']) {
        return Err(Error::invalid(
            field,
            raw,
            "must be a folder name of 1 to 200 characters, without quotes or backslashes",
        ));
    }
    Ok(name)
}

/// Checks and saves the settings; returns them as stored.
pub async fn set(panel: &Panel, input: InboxInput) -> Result<InboxSettings> {
    let host = check_host(&input.host)?;
    if input.port == 0 {
        return Err(Error::invalid("port", "0", "must be between 1 and 65535"));
    }
    let user = input.user.trim().to_string();
    if user.is_empty() || user.chars().any(char::is_control) {
        return Err(Error::invalid(
            "user",
            &input.user,
            "is needed to log in to the mailbox (no control characters)",
        ));
    }
    let folder_read = folder("folder", input.folder.as_deref().unwrap_or("INBOX"))?;
    let after_reading = match input.after_reading.unwrap_or(AfterReading::Flag) {
        AfterReading::Flag => AfterReading::Flag,
        AfterReading::Move(to) => {
            let to = folder("folder to move read mail to", &to)?;
            if to == folder_read {
                return Err(Error::invalid(
                    "folder to move read mail to",
                    &to,
                    "is the folder read; choose another or keep read mail where it is",
                ));
            }
            AfterReading::Move(to)
        }
    };
    let ca_certificate = match input.ca_certificate.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(pem) => {
            crate::tls::trusting(pem)?;
            Some(pem.to_string())
        }
    };
    let mut tx = panel.begin().await?;
    let had_password = settings::get::<String>(&mut tx, PASSWORD_KEY)
        .await?
        .is_some();
    let has_password = match &input.password {
        PasswordChange::Keep => had_password,
        PasswordChange::Clear => false,
        PasswordChange::Set(p) => {
            settings::put(
                &mut tx,
                PASSWORD_KEY,
                &secret::seal(panel.path(), &Password::new(p.expose()))?,
            )
            .await?;
            true
        }
    };
    if !has_password {
        settings::delete(&mut tx, PASSWORD_KEY).await?;
    }
    let stored = InboxSettings {
        host,
        port: input.port,
        tls: input.tls,
        user,
        folder: folder_read,
        after_reading,
        ca_certificate,
        has_password,
    };
    settings::put(&mut tx, KEY, &stored).await?;
    tx.commit().await?;
    Ok(stored)
}

/// The saved settings, if any.
pub async fn get(panel: &Panel) -> Result<Option<InboxSettings>> {
    Ok(account(panel).await?.map(|a| a.settings))
}

/// The settings with the password opened, for the reader.
pub(crate) async fn account(panel: &Panel) -> Result<Option<Account>> {
    let mut conn = panel.conn().await?;
    let Some(settings) = settings::get::<InboxSettings>(&mut conn, KEY).await? else {
        return Ok(None);
    };
    let password = match settings::get::<String>(&mut conn, PASSWORD_KEY).await? {
        Some(sealed) => Some(secret::open(panel.path(), &sealed)?),
        None => None,
    };
    Ok(Some(Account {
        settings: InboxSettings {
            has_password: password.is_some(),
            ..settings
        },
        password,
    }))
}
