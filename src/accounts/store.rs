//! Every statement on passwords, sign-ins and failed sign-ins.

use crate::Result;
use crate::db::{Conn, either, instant, millis};
use crate::sessions::staff::{COLUMNS, Staff, StaffId, StaffRow};
use chrono::{DateTime, Utc};

/// A sign-in as stored.
#[derive(Clone)]
pub(crate) struct SignInRow {
    pub staff: Staff,
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub(super) async fn set_password(
    conn: impl Into<Conn<'_>>,
    staff: StaffId,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    either!(conn, |c| sqlx::query(
        "UPDATE staff SET password_hash = $1, updated_at = $2 WHERE id = $3"
    )
    .bind(hash)
    .bind(millis(now))
    .bind(staff.0)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

pub(super) async fn password_hash(
    conn: impl Into<Conn<'_>>,
    staff: StaffId,
) -> Result<Option<String>> {
    Ok(either!(conn, |c| sqlx::query_scalar::<_, Option<String>>(
        "SELECT password_hash FROM staff WHERE id = $1"
    )
    .bind(staff.0)
    .fetch_optional(&mut *c)
    .await?)
    .flatten())
}

/// Whose failures a count is of: one account's, or one address's.
pub(super) enum FailuresOf<'a> {
    Account(&'a str),
    Address(&'a str),
}

/// How many sign-ins failed for an account or from an address since
/// `since`, and when the last did.
pub(super) async fn failures(
    conn: impl Into<Conn<'_>>,
    of: FailuresOf<'_>,
    since: DateTime<Utc>,
) -> Result<(u32, Option<DateTime<Utc>>)> {
    let (sql, key) = match of {
        FailuresOf::Account(email_norm) => (
            "SELECT count(*), max(at) FROM sign_in_failures WHERE email_norm = $1 AND at > $2",
            email_norm,
        ),
        FailuresOf::Address(address) => (
            "SELECT count(*), max(at) FROM sign_in_failures WHERE address = $1 AND at > $2",
            address,
        ),
    };
    let (count, last): (i64, Option<i64>) = either!(conn, |c| sqlx::query_as(sql)
        .bind(key)
        .bind(millis(since))
        .fetch_one(&mut *c)
        .await?);
    Ok((count as u32, last.map(instant)))
}

pub(super) async fn record_failure(
    conn: impl Into<Conn<'_>>,
    email_norm: &str,
    address: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    either!(conn, |c| sqlx::query(
        "INSERT INTO sign_in_failures (at, email_norm, address) VALUES ($1, $2, $3)"
    )
    .bind(millis(now))
    .bind(email_norm)
    .bind(address)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

pub(super) async fn clear_failures(conn: impl Into<Conn<'_>>, email_norm: &str) -> Result<()> {
    either!(conn, |c| sqlx::query(
        "DELETE FROM sign_in_failures WHERE email_norm = $1"
    )
    .bind(email_norm)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn insert_sign_in(
    conn: impl Into<Conn<'_>>,
    token_hash: &str,
    staff: StaffId,
    csrf: &str,
    address: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    either!(conn, |c| sqlx::query(
        "INSERT INTO sign_ins (token_hash, staff, csrf, address, created_at, seen_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $5, $6)"
    )
    .bind(token_hash)
    .bind(staff.0)
    .bind(csrf)
    .bind(address)
    .bind(millis(now))
    .bind(millis(expires_at))
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

/// The sign-in a token's hash names, with its staff member, in one read
/// (every call to a team server asks it first).
pub(super) async fn sign_in(
    conn: impl Into<Conn<'_>>,
    token_hash: &str,
) -> Result<Option<SignInRow>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        csrf: String,
        signed_at: i64,
        seen_at: i64,
        expires_at: i64,
        #[sqlx(flatten)]
        staff: StaffRow,
    }
    let sql = format!(
        "SELECT si.csrf, si.created_at AS signed_at, si.seen_at, si.expires_at, {COLUMNS} \
         FROM sign_ins si JOIN staff ON staff.id = si.staff \
         WHERE si.token_hash = $1 AND staff.deactivated_at IS NULL"
    );
    let row: Option<Row> = either!(conn, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(token_hash)
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(row.map(|r| SignInRow {
        staff: r.staff.into(),
        csrf: r.csrf,
        created_at: instant(r.signed_at),
        seen_at: instant(r.seen_at),
        expires_at: instant(r.expires_at),
    }))
}

/// Keeps a sign-in alive. On a team database the write does not wait for
/// the disk: a crash could lose the last minute's "seen", so a sign-in
/// could end that much sooner, and nothing else. A whole office's sign-ins
/// touched in one minute then cost no disk flush each.
pub(super) async fn touch(
    conn: impl Into<Conn<'_>>,
    token_hash: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    const TOUCH: &str = "UPDATE sign_ins SET seen_at = $1, expires_at = $2 WHERE token_hash = $3";
    match conn.into() {
        Conn::Sqlite(c) => {
            sqlx::query(TOUCH)
                .bind(millis(now))
                .bind(millis(expires_at))
                .bind(token_hash)
                .execute(&mut *c)
                .await?;
        }
        Conn::Postgres(c) => {
            let mut tx = sqlx::Connection::begin(&mut *c).await?;
            sqlx::query("SET LOCAL synchronous_commit TO OFF")
                .execute(&mut *tx)
                .await?;
            sqlx::query(TOUCH)
                .bind(millis(now))
                .bind(millis(expires_at))
                .bind(token_hash)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
    }
    Ok(())
}

pub(super) async fn forget(conn: impl Into<Conn<'_>>, token_hash: &str) -> Result<()> {
    either!(conn, |c| sqlx::query(
        "DELETE FROM sign_ins WHERE token_hash = $1"
    )
    .bind(token_hash)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

pub(crate) async fn forget_sign_ins(conn: impl Into<Conn<'_>>, staff: StaffId) -> Result<()> {
    either!(conn, |c| sqlx::query(
        "DELETE FROM sign_ins WHERE staff = $1"
    )
    .bind(staff.0)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

/// Drops sign-ins past their end, and failures no longer counted.
pub(super) async fn forget_expired(conn: impl Into<Conn<'_>>, now: DateTime<Utc>) -> Result<()> {
    let mut conn = conn.into();
    either!(&mut conn, |c| sqlx::query(
        "DELETE FROM sign_ins WHERE expires_at <= $1"
    )
    .bind(millis(now))
    .execute(&mut *c)
    .await?
    .rows_affected());
    either!(&mut conn, |c| sqlx::query(
        "DELETE FROM sign_in_failures WHERE at <= $1"
    )
    .bind(millis(now - chrono::Duration::hours(1)))
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

/// Keeps an invitation's link to set a password, replacing the person's
/// earlier ones.
pub(super) async fn replace_password_link(
    conn: impl Into<Conn<'_>>,
    token_hash: &str,
    staff: StaffId,
    invited_by: Option<StaffId>,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    let mut conn = conn.into();
    either!(conn.reborrow(), |c| sqlx::query(
        "DELETE FROM password_links WHERE staff = $1 OR expires_at <= $2"
    )
    .bind(staff.0)
    .bind(millis(now))
    .execute(&mut *c)
    .await?
    .rows_affected());
    either!(conn, |c| sqlx::query(
        "INSERT INTO password_links (token_hash, staff, invited_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(token_hash)
    .bind(staff.0)
    .bind(invited_by.map(|s| s.0))
    .bind(millis(now))
    .bind(millis(expires_at))
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

/// Whose link to set a password this is, and until when it works.
pub(super) async fn password_link(
    conn: impl Into<Conn<'_>>,
    token_hash: &str,
) -> Result<Option<(StaffId, DateTime<Utc>)>> {
    let row: Option<(i64, i64)> = either!(conn, |c| sqlx::query_as(
        "SELECT staff, expires_at FROM password_links WHERE token_hash = $1"
    )
    .bind(token_hash)
    .fetch_optional(&mut *c)
    .await?);
    Ok(row.map(|(staff, expires)| (StaffId(staff), instant(expires))))
}

/// Uses a link up; whether it was still there to use.
pub(super) async fn take_password_link(
    conn: impl Into<Conn<'_>>,
    token_hash: &str,
) -> Result<bool> {
    let taken = either!(conn, |c| sqlx::query(
        "DELETE FROM password_links WHERE token_hash = $1"
    )
    .bind(token_hash)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(taken == 1)
}
