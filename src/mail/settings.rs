//! SMTP settings: where mail goes and who it comes from.
//!
//! Stored as the `smtp` setting; the password is stored apart, sealed by
//! [`super::secret`], and never returned: [`SmtpSettings`] only says whether
//! one is saved.

use super::secret::{self, Password};
use crate::participants::fields::{Email, check_text};
use crate::{Error, Panel, Result, settings};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use ts_rs::TS;

const KEY: &str = "smtp";
const PASSWORD_KEY: &str = "smtp_password";

/// How the connection to the server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Plain SMTP (a relay on the same machine or network).
    None,
    /// Plain connection upgraded with STARTTLS (usually port 587); refused
    /// if the server does not offer it.
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

impl FromStr for TlsMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "plain" => Ok(TlsMode::None),
            "starttls" => Ok(TlsMode::Starttls),
            "tls" | "ssl" | "smtps" => Ok(TlsMode::Tls),
            _ => Err(Error::invalid(
                "TLS mode",
                s,
                "must be none, starttls or tls",
            )),
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsMode::None => "none",
            TlsMode::Starttls => "starttls",
            TlsMode::Tls => "tls",
        })
    }
}

/// The SMTP settings as stored and shown (never with the password).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// Login name; no login when absent.
    pub user: Option<String>,
    /// The sender address on every message.
    pub from_address: String,
    /// The sender name shown beside it.
    pub from_name: String,
    /// Where replies go when a message does not name a person.
    pub reply_to: Option<String>,
    /// A certificate authority (PEM) trusted besides the system's, for a
    /// company relay with its own CA.
    #[serde(default)]
    pub ca_certificate: Option<String>,
    /// Whether a password is saved (it is never shown).
    #[serde(default)]
    pub has_password: bool,
}

/// What to do with the saved password when settings are saved.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(tag = "action", content = "value", rename_all = "camelCase")]
pub enum PasswordChange {
    /// Keep the saved one.
    Keep,
    /// Forget it.
    Clear,
    /// Save this one.
    Set(#[ts(type = "string")] PasswordInput),
}

/// A password as it arrives from a form or standard input.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct PasswordInput(String);

impl fmt::Debug for PasswordInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordInput(..)")
    }
}

impl PasswordInput {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for PasswordInput {
    fn from(s: &str) -> Self {
        PasswordInput(s.to_string())
    }
}

/// SMTP settings as entered.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SmtpInput {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub user: Option<String>,
    pub password: PasswordChange,
    pub from_address: String,
    pub from_name: String,
    pub reply_to: Option<String>,
    /// A PEM certificate authority to trust besides the system's.
    pub ca_certificate: Option<String>,
}

/// The settings and the password the worker logs in with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Account {
    pub settings: SmtpSettings,
    pub from: Email,
    pub password: Option<Password>,
}

pub(crate) fn check_host(raw: &str) -> Result<String> {
    let host = raw.trim();
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !ok {
        return Err(Error::invalid(
            "host",
            raw,
            "must be a host name or IP address (letters, digits, dots, hyphens)",
        ));
    }
    Ok(host.to_string())
}

/// Checks and saves the settings; returns them as stored.
pub async fn set(panel: &Panel, input: SmtpInput) -> Result<SmtpSettings> {
    let host = check_host(&input.host)?;
    if input.port == 0 {
        return Err(Error::invalid("port", "0", "must be between 1 and 65535"));
    }
    let from = Email::parse(&input.from_address).map_err(|_| {
        Error::invalid(
            "sender address",
            &input.from_address,
            "is not an email address",
        )
    })?;
    let from_name = super::header_text(&check_text("sender name", &input.from_name)?);
    let reply_to = match input.reply_to.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(r) => Some(
            Email::parse(r)
                .map_err(|_| Error::invalid("reply-to address", r, "is not an email address"))?
                .as_str()
                .to_string(),
        ),
    };
    let user = match input.user.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(u) if u.chars().any(char::is_control) => {
            return Err(Error::invalid("user", u, "holds a control character"));
        }
        Some(u) => Some(u.to_string()),
    };

    let ca_certificate = match input.ca_certificate.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(pem) => {
            let parsed = lettre::transport::smtp::client::Certificate::from_pem(pem.as_bytes());
            if !pem.contains("BEGIN CERTIFICATE") || parsed.is_err() {
                return Err(Error::invalid(
                    "CA certificate",
                    pem,
                    "is not a PEM certificate (-----BEGIN CERTIFICATE-----)",
                ));
            }
            Some(pem.to_string())
        }
    };

    let mut tx = panel.begin().await?;
    let had_password = settings::get::<String>(&mut tx, PASSWORD_KEY)
        .await?
        .is_some();
    let has_password = match &input.password {
        PasswordChange::Keep => had_password && user.is_some(),
        PasswordChange::Clear => false,
        PasswordChange::Set(p) => {
            if user.is_none() {
                return Err(Error::invalid(
                    "password",
                    "",
                    "needs a user to log in with; enter the user too",
                ));
            }
            settings::put(
                &mut tx,
                PASSWORD_KEY,
                &secret::seal(panel.path(), &Password::new(p.0.clone()))?,
            )
            .await?;
            true
        }
    };
    if !has_password {
        settings::delete(&mut tx, PASSWORD_KEY).await?;
    }
    let stored = SmtpSettings {
        host,
        port: input.port,
        tls: input.tls,
        user,
        from_address: from.as_str().to_string(),
        from_name,
        reply_to,
        ca_certificate,
        has_password,
    };
    settings::put(&mut tx, KEY, &stored).await?;
    tx.commit().await?;
    panel.wake_mail();
    Ok(stored)
}

/// The saved settings, if any.
pub async fn get(panel: &Panel) -> Result<Option<SmtpSettings>> {
    let mut conn = panel.conn().await?;
    let mut stored: Option<SmtpSettings> = settings::get(&mut conn, KEY).await?;
    if let Some(s) = &mut stored {
        s.has_password = settings::get::<String>(&mut conn, PASSWORD_KEY)
            .await?
            .is_some();
    }
    Ok(stored)
}

/// The settings with the password opened, for the worker.
pub(crate) async fn account(panel: &Panel) -> Result<Option<Account>> {
    let mut conn = panel.conn().await?;
    let Some(settings) = settings::get::<SmtpSettings>(&mut conn, KEY).await? else {
        return Ok(None);
    };
    let password = match settings::get::<String>(&mut conn, PASSWORD_KEY).await? {
        Some(sealed) => Some(secret::open(panel.path(), &sealed)?),
        None => None,
    };
    let from = Email::parse(&settings.from_address)?;
    Ok(Some(Account {
        settings: SmtpSettings {
            has_password: password.is_some(),
            ..settings
        },
        from,
        password,
    }))
}
