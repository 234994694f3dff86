//! The panel mailbox's settings: where replies are read.
//!
//! Stored as the `imap` setting; the password apart, sealed like the SMTP
//! password, and never returned: [`InboxSettings`] only says whether one is
//! saved.

use crate::db::Conn;
use crate::issues::IssueId;
use crate::mail::secret::{self, Password};
use crate::mail::settings::{PasswordChange, TlsMode, check_host};
use crate::participants::fields::{Email, check_text};
use crate::{Error, Panel, Result, settings};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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
    /// The mailbox's own address: added as a second Reply-To to what an
    /// owner writes a participant, so their answer comes back here too.
    #[serde(default)]
    pub address: Option<String>,
    /// The mail server delivers `name+anything@` to `name@`: messages
    /// about issue 42 then reply to `name+i42-<signature>@`, which finds
    /// the issue even when a mail program drops the threading headers.
    #[serde(default)]
    pub plus_addressing: bool,
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
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub plus_addressing: bool,
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
    let address = match input.address.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(a) => Some(
            Email::parse(a)
                .map_err(|_| Error::invalid("mailbox address", a, "is not an email address"))?
                .as_str()
                .to_string(),
        ),
    };
    if input.plus_addressing && address.is_none() {
        return Err(Error::invalid(
            "plus addressing",
            "on",
            "needs the mailbox's own address; enter the address too",
        ));
    }
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
        address,
        plus_addressing: input.plus_addressing,
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

const TOKEN_KEY: &str = "imap_token_key";

/// The address a participant's answer about `issue` should go to besides
/// its owner: the panel mailbox, with the issue in a plus address when the
/// server delivers those; `None` when no mailbox address is set.
pub(crate) async fn record_address(
    conn: impl Into<Conn<'_>>,
    issue: IssueId,
) -> Result<Option<Email>> {
    let mut conn = conn.into();
    let Some(s) = settings::get::<InboxSettings>(&mut conn, KEY).await? else {
        return Ok(None);
    };
    let Some(address) = s.address else {
        return Ok(None);
    };
    if !s.plus_addressing {
        return Email::parse(&address).map(Some);
    }
    let key = token_key(&mut conn).await?;
    let (local, domain) = address.rsplit_once('@').unwrap_or((&address, ""));
    Email::parse(&format!(
        "{local}+i{}-{}@{domain}",
        issue.0,
        signature(&key, issue)
    ))
    .map(Some)
}

/// The issue a plus address made by [`record_address`] names, when its
/// signature holds.
pub(crate) async fn issue_in_address(
    conn: impl Into<Conn<'_>>,
    address: &str,
) -> Result<Option<IssueId>> {
    let Some((local, _)) = address.rsplit_once('@') else {
        return Ok(None);
    };
    let Some((_, tag)) = local.rsplit_once('+') else {
        return Ok(None);
    };
    let Some((n, sig)) = tag.strip_prefix('i').and_then(|t| t.split_once('-')) else {
        return Ok(None);
    };
    let Ok(n) = n.parse::<i64>() else {
        return Ok(None);
    };
    let mut conn = conn.into();
    let Some(key) = settings::get::<String>(&mut conn, TOKEN_KEY).await? else {
        return Ok(None);
    };
    let issue = IssueId(n);
    Ok((signature(&key, issue) == sig.to_ascii_lowercase()).then_some(issue))
}

/// This panel's key for plus-address signatures, made on first use.
async fn token_key(conn: impl Into<Conn<'_>>) -> Result<String> {
    let mut conn = conn.into();
    if let Some(key) = settings::get::<String>(&mut conn, TOKEN_KEY).await? {
        return Ok(key);
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::conflict(format!("no randomness: {e}")))?;
    let key = hex::encode(bytes);
    settings::put(&mut conn, TOKEN_KEY, &key).await?;
    Ok(key)
}

/// Ten hex digits of SHA-256 over the key and the issue: enough that a
/// guessed address does not file mail into someone's issue.
fn signature(key: &str, issue: IssueId) -> String {
    let digest = Sha256::digest(format!("{key}/i{}", issue.0).as_bytes());
    hex::encode(digest)[..10].to_string()
}
