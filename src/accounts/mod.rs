//! Signing in to a team server: each staff member's password (Argon2id),
//! the browsers signed in as them, and failed attempts that slow the next
//! one, per account and per address. What a signed-in person may do is
//! their role's (`sessions::staff::Role`), checked by `api` on every call;
//! this module only says who they are.
//!
//! The cookie holds a random token; the database keeps its SHA-256, so a
//! copy of the database signs nobody in. Each sign-in has its own CSRF
//! token, which a browser sends back in a header with every change.

pub(crate) mod kept;
pub(crate) mod store;

use crate::sessions::staff::{self, Staff};
use crate::{Error, Panel, Result};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use ts_rs::TS;

/// A sign-in ends after this long without use.
pub const IDLE: Duration = Duration::hours(12);
/// And this long after it began, however much it is used.
pub const LONGEST: Duration = Duration::days(7);
/// Failed sign-ins older than this no longer slow anyone.
const FAILURES_KEPT: Duration = Duration::minutes(15);
/// Failures of one account allowed before each next attempt must wait.
const ACCOUNT_FREE_TRIES: u32 = 5;
/// Failures from one address (which may be a whole office) allowed before
/// each next attempt from it must wait.
const ADDRESS_FREE_TRIES: u32 = 20;
/// The longest wait a run of failures asks for.
const LONGEST_WAIT_SECONDS: i64 = 300;

/// Where the team server's address is kept (for the links in staff mail).
const ADDRESS_KEY: &str = "team_server_address";

/// Says where people reach the team server (`https://panel.example.com`):
/// the mail to staff about an issue links to it there.
pub async fn set_server_address(panel: &Panel, address: &str) -> Result<String> {
    let address = address.trim().trim_end_matches('/').to_string();
    let scheme_ok = address.starts_with("https://") || address.starts_with("http://");
    let host = address.split("://").nth(1).unwrap_or("");
    if !scheme_ok || host.is_empty() || host.contains(char::is_whitespace) {
        return Err(Error::invalid(
            "server address",
            address,
            "is not a web address such as https://panel.example.com",
        ));
    }
    crate::settings::put(&mut panel.conn().await?, ADDRESS_KEY, &address).await?;
    Ok(address)
}

/// The team server's address, when one was given.
pub async fn server_address(panel: &Panel) -> Result<Option<String>> {
    server_address_in(&mut panel.conn().await?).await
}

pub(crate) async fn server_address_in(
    conn: impl Into<crate::db::Conn<'_>>,
) -> Result<Option<String>> {
    crate::settings::get(conn, ADDRESS_KEY).await
}

/// Passwords shorter than this are refused.
pub const SHORTEST_PASSWORD: usize = 10;

/// The secret a browser keeps in its cookie; only its hash is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// The token as the cookie carries it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A token as a cookie brought it back.
    pub fn from_cookie(value: &str) -> Token {
        Token(value.to_string())
    }

    fn hash(&self) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(self.0.as_bytes()))
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

/// How long an invitation's link to set a password works.
pub const INVITATION_LASTS: Duration = Duration::days(7);

/// An invitation sent: to whom, the message, and until when its link works.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    pub staff: Staff,
    pub message: crate::mail::MessageId,
    pub expires_at: DateTime<Utc>,
}

/// Invites a staff member to the team server: a mail with a link, working
/// once for [`INVITATION_LASTS`], where they choose their password. A new
/// invitation replaces the links sent before it. The server's address
/// (`serve --public-url`) makes the link.
pub async fn invite(panel: &Panel, id: staff::StaffId) -> Result<Invitation> {
    use crate::mail::templates::{self, StaffInvitation, Template};
    let person = staff::get(panel, id).await?;
    let server = server_address(panel).await?.ok_or_else(|| {
        Error::conflict(
            "the team server's address is not known, so an invitation cannot link to it; \
             start the server with --public-url https://…",
        )
    })?;
    let inviter = staff::current(panel).await?;
    let token = Token(random_hex(32)?);
    let now = panel.now();
    let expires_at = now + INVITATION_LASTS;
    let body = templates::render(&Template::StaffInvitation(StaffInvitation {
        name: person.name.clone(),
        inviter_name: inviter
            .as_ref()
            .map_or_else(|| "Your team".into(), |s| s.name.clone()),
        link: format!("{server}/set-password#{}", token.as_str()),
        server: server.clone(),
        expires_at,
        zone: person.time_zone.clone().unwrap_or_else(|| "UTC".into()),
    }))?;
    let message = crate::mail::NewMessage {
        also_reply_to: None,
        kind: crate::mail::MessageKind::StaffInvitation,
        to: crate::participants::fields::Email::parse(&person.email)?,
        to_name: person.name.clone(),
        reply_to: inviter
            .as_ref()
            .and_then(|s| crate::participants::fields::Email::parse(&s.email).ok()),
        from_name: None,
        body,
        headers: Default::default(),
        attachments: Vec::new(),
        not_before: now,
        topic: None,
    };
    let mut tx = panel.begin().await?;
    store::replace_password_link(
        &mut tx,
        &token.hash(),
        person.id,
        inviter.map(|s| s.id),
        now,
        expires_at,
    )
    .await?;
    let message = crate::mail::enqueue(&mut tx, now, &message).await?;
    tx.commit().await?;
    panel.wake_mail();
    Ok(Invitation {
        staff: person,
        message,
        expires_at,
    })
}

/// Sets a password through an invitation's link (`token`), which then
/// works no more; the person the link was for.
pub async fn set_password_by_link(panel: &Panel, token: &str, password: &str) -> Result<Staff> {
    let token = Token(token.trim().to_string());
    let refused = || {
        Error::conflict(
            "this link to set a password has been used, has expired or is not whole; \
             ask an admin of the team server to invite you again",
        )
    };
    let now = panel.now();
    let mut conn = panel.conn().await?;
    let Some((id, expires_at)) = store::password_link(&mut conn, &token.hash()).await? else {
        return Err(refused());
    };
    drop(conn);
    if expires_at <= now {
        return Err(refused());
    }
    let person = staff::get(panel, id).await?;
    check_password(password, &person.email)?;
    let hash = hash_password(password.to_string()).await?;
    let mut tx = panel.begin().await?;
    // Used once: a second use (or one racing this) finds nothing.
    if !store::take_password_link(&mut tx, &token.hash()).await? {
        return Err(refused());
    }
    store::set_password(&mut tx, person.id, &hash, now).await?;
    store::forget_sign_ins(&mut tx, person.id).await?;
    tx.commit().await?;
    panel.kept_sign_ins().forget_all();
    staff::get(panel, person.id).await
}

/// Who is signed in, and what their browser must send with each change.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SignedIn {
    pub staff: Staff,
    /// Sent back in the `X-CSRF-Token` header with every change.
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

/// Sets the password a staff member signs in with.
pub async fn set_password(panel: &Panel, email: &str, password: &str) -> Result<Staff> {
    let person = staff::by_email(panel, email).await?;
    check_password(password, &person.email)?;
    let hash = hash_password(password.to_string()).await?;
    let mut tx = panel.begin().await?;
    store::set_password(&mut tx, person.id, &hash, panel.now()).await?;
    // A new password signs out every browser that knew the old one.
    store::forget_sign_ins(&mut tx, person.id).await?;
    tx.commit().await?;
    panel.kept_sign_ins().forget_all();
    staff::get(panel, person.id).await
}

/// What a password must be: long enough, not the email address.
pub fn check_password(password: &str, email: &str) -> Result<()> {
    let length = password.chars().count();
    if length < SHORTEST_PASSWORD {
        return Err(Error::invalid(
            "password",
            "",
            format!("is {length} characters; it must have at least {SHORTEST_PASSWORD}"),
        ));
    }
    if length > 1024 {
        return Err(Error::invalid(
            "password",
            "",
            "is longer than 1,024 characters",
        ));
    }
    if password.trim().eq_ignore_ascii_case(email.trim()) {
        return Err(Error::invalid(
            "password",
            "",
            "is the email address; choose something else",
        ));
    }
    Ok(())
}

/// Signs `email` in from `address` (the browser's IP address), after
/// recent failures for either have waited their turn.
pub async fn sign_in(
    panel: &Panel,
    email: &str,
    password: &str,
    address: &str,
) -> Result<(Token, SignedIn)> {
    let now = panel.now();
    let folded = crate::participants::fields::Email::parse(email)
        .map(|e| e.normalised().to_string())
        .unwrap_or_else(|_| email.trim().to_lowercase());
    let since = now - FAILURES_KEPT;
    let mut conn = panel.conn().await?;
    let by_account = store::failures(&mut conn, store::FailuresOf::Account(&folded), since).await?;
    let by_address = store::failures(&mut conn, store::FailuresOf::Address(address), since).await?;
    drop(conn);
    let wait = wait_after(by_account, ACCOUNT_FREE_TRIES, now).max(wait_after(
        by_address,
        ADDRESS_FREE_TRIES,
        now,
    ));
    if wait > 0 {
        return Err(Error::SlowDown { seconds: wait });
    }

    let found = match staff::by_email(panel, email).await {
        // Someone who left signs in no more, told as any wrong sign-in is.
        Ok(person) if !person.active => None,
        Ok(person) => {
            let hash = store::password_hash(&mut panel.conn().await?, person.id).await?;
            Some(person).zip(hash)
        }
        Err(Error::NotFound { .. } | Error::InvalidInput { .. }) => None,
        Err(e) => return Err(e),
    };
    let right = match &found {
        Some((_, hash)) => verify_password(password.to_string(), hash.clone()).await?,
        None => {
            // As long as a real check, so that the answer's timing does not
            // tell which addresses have accounts.
            let _ = verify_password(password.to_string(), decoy_hash().to_string()).await;
            false
        }
    };
    let person = match (right, found) {
        (true, Some((person, _))) => person,
        _ => {
            store::record_failure(&mut panel.conn().await?, &folded, address, now).await?;
            return Err(Error::SignInRefused);
        }
    };

    let token = Token(random_hex(32)?);
    let csrf = random_hex(16)?;
    let expires_at = now + IDLE;
    let mut tx = panel.begin().await?;
    store::clear_failures(&mut tx, &folded).await?;
    store::forget_expired(&mut tx, now).await?;
    store::insert_sign_in(
        &mut tx,
        &token.hash(),
        person.id,
        &csrf,
        address,
        now,
        expires_at,
    )
    .await?;
    tx.commit().await?;
    Ok((
        token,
        SignedIn {
            staff: person,
            csrf,
            expires_at,
        },
    ))
}

/// Who `token` signs in, if its sign-in is current; each use keeps it
/// alive for another [`IDLE`], up to [`LONGEST`] after it began.
pub async fn signed_in(panel: &Panel, token: &Token) -> Result<SignedIn> {
    let now = panel.now();
    let hash = token.hash();
    let kept = panel.kept_sign_ins();
    if let Some(row) = kept::get(kept, &hash, now) {
        return Ok(row.into());
    }
    let heard = kept.heard_so_far();
    let mut conn = panel.conn().await?;
    let mut row = store::sign_in(&mut conn, &hash)
        .await?
        .ok_or(Error::SignedOut)?;
    if row.expires_at <= now {
        store::forget(&mut conn, &hash).await?;
        return Err(Error::SignedOut);
    }
    // Written once every minute or two, not on every call.
    if now - row.seen_at >= kept::read_again_after(&hash) {
        row.expires_at = (now + IDLE).min(row.created_at + LONGEST);
        row.seen_at = now;
        store::touch(&mut conn, &hash, now, row.expires_at).await?;
    }
    drop(conn);
    kept.keep(hash, row.clone(), heard);
    Ok(row.into())
}

impl From<store::SignInRow> for SignedIn {
    fn from(row: store::SignInRow) -> SignedIn {
        SignedIn {
            staff: row.staff,
            csrf: row.csrf,
            expires_at: row.expires_at,
        }
    }
}

/// Ends the sign-in `token` holds.
pub async fn sign_out(panel: &Panel, token: &Token) -> Result<()> {
    let hash = token.hash();
    store::forget(&mut panel.conn().await?, &hash).await?;
    panel.kept_sign_ins().forget(&hash);
    Ok(())
}

/// Seconds the next attempt waits after `failures` recent ones (the last
/// at `last`): none within the free tries, then 1 s doubling per failure,
/// at most five minutes, counted from the last failure.
fn wait_after(failures: (u32, Option<DateTime<Utc>>), free: u32, now: DateTime<Utc>) -> i64 {
    let (count, last) = failures;
    let Some(last) = last.filter(|_| count >= free) else {
        return 0;
    };
    let wait = 1i64
        .checked_shl(count - free)
        .unwrap_or(i64::MAX)
        .min(LONGEST_WAIT_SECONDS);
    (wait - (now - last).num_seconds()).max(0)
}

async fn hash_password(password: String) -> Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::database(format!("no randomness: {e}")))?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&salt)
            .map_err(|e| Error::database(format!("password salt: {e}")))?;
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::database(format!("password hash: {e}")))
    })
    .await
    .map_err(|e| Error::database(format!("password hash: {e}")))?
}

async fn verify_password(password: String, hash: String) -> Result<bool> {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| Error::database(format!("stored password hash: {e}")))?;
        Ok(argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| Error::database(format!("password check: {e}")))?
}

/// A well-formed hash of no one's password.
fn decoy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
     8Hh2pyQOXw8uWcz7/0BHlTTAhIStRL5Nsfqs3bp0d4c"
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| Error::database(format!("no randomness: {e}")))?;
    Ok(hex::encode(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_slow_the_next_try_only_past_the_free_ones_and_never_past_five_minutes() {
        let now = Utc::now();
        assert_eq!(wait_after((4, Some(now)), 5, now), 0);
        assert_eq!(wait_after((5, Some(now)), 5, now), 1);
        assert_eq!(wait_after((8, Some(now)), 5, now), 8);
        assert_eq!(wait_after((60, Some(now)), 5, now), 300);
        assert_eq!(wait_after((8, Some(now - Duration::seconds(5))), 5, now), 3);
        assert_eq!(wait_after((8, Some(now - Duration::seconds(9))), 5, now), 0);
        assert_eq!(wait_after((0, None), 5, now), 0);
    }

    #[test]
    fn a_password_is_long_enough_and_not_the_email() {
        assert!(check_password("short", "a@b.c").is_err());
        assert!(check_password("kim@company.example.com", "kim@company.example.com").is_err());
        assert!(check_password("a long enough passphrase", "kim@company.example.com").is_ok());
    }

    #[tokio::test]
    async fn a_hash_checks_its_own_password_and_no_other_and_the_decoy_is_well_formed() {
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            verify_password("correct horse battery".into(), hash.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify_password("wrong horse battery".into(), hash)
                .await
                .unwrap()
        );
        assert!(
            !verify_password("anything".into(), decoy_hash().into())
                .await
                .unwrap()
        );
    }
}
