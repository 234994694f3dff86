//! Staff: the company's people who moderate and observe sessions and, later,
//! own the issues participants raise. Each may have a lead (for
//! escalations). Which staff member is using the app belongs to the
//! computer: a panel file keeps it in its settings (the file is this
//! computer's); a team database is shared by everyone, so each computer
//! keeps it in a file of its own beside its other team files (`….me`).

use crate::db::{Conn, either, millis};
use crate::participants::fields::{Email, check_text, parse_time_zone};
use crate::{Error, Panel, Result, settings};
use serde::{Deserialize, Serialize};

use ts_rs::TS;

/// A staff member's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
pub struct StaffId(#[ts(type = "number")] pub i64);

impl std::fmt::Display for StaffId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What a staff member may do through a team server. The desktop app on a
/// researcher's own computer does everything; a team server checks the
/// signed-in person's role on every call (`api`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Their own issues and what keeping those promises needs: the
    /// participant's name and contact details, the note, the contact log,
    /// a hand-off. Nothing else of the panel.
    #[default]
    Staff,
    /// The panel, sessions, notes, every issue, reports.
    Researcher,
    /// Everything, and staff, roles, mail settings and service levels.
    Admin,
}

impl Role {
    /// The role a word names (`admin`, `researcher`, `staff`).
    pub fn parse(word: &str) -> Result<Role> {
        match word.trim().to_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "researcher" => Ok(Role::Researcher),
            "staff" => Ok(Role::Staff),
            other => Err(Error::invalid(
                "role",
                other,
                "is not a role: use admin, researcher or staff",
            )),
        }
    }

    /// The role's word, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Researcher => "researcher",
            Role::Staff => "staff",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of the company's people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Staff {
    pub id: StaffId,
    pub name: String,
    pub email: String,
    /// What they do (moderator, customer care), shown beside their name.
    pub title: String,
    /// What they may do through a team server.
    pub role: Role,
    /// Their lead, who hears of their overdue promises.
    pub lead: Option<StaffId>,
    pub time_zone: Option<String>,
    /// Whether a password is set, so that they can sign in to a team server.
    pub can_sign_in: bool,
    /// False once they left: they keep what they did, and are given
    /// nothing new (issues, sessions) and cannot sign in.
    pub active: bool,
}

/// A staff member as entered.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct StaffInput {
    pub name: String,
    pub email: String,
    pub title: String,
    pub role: Role,
    /// The lead's email address.
    pub lead: Option<String>,
    pub time_zone: Option<String>,
}

const CURRENT_KEY: &str = "current_staff";

/// A staff member as stored: the row [`COLUMNS`] reads.
#[derive(sqlx::FromRow)]
pub(crate) struct StaffRow {
    id: i64,
    name: String,
    email: String,
    title: String,
    access: String,
    lead: Option<i64>,
    time_zone: Option<String>,
    can_sign_in: bool,
    active: bool,
}

impl From<StaffRow> for Staff {
    fn from(row: StaffRow) -> Staff {
        Staff {
            id: StaffId(row.id),
            name: row.name,
            email: row.email,
            title: row.title,
            role: Role::parse(&row.access).unwrap_or_default(),
            lead: row.lead.map(StaffId),
            time_zone: row.time_zone,
            can_sign_in: row.can_sign_in,
            active: row.active,
        }
    }
}

/// A staff row's columns, unqualified (a join must not repeat these names).
pub(crate) const COLUMNS: &str = "id, name, email, role AS title, access, lead, time_zone, \
                       password_hash IS NOT NULL AS can_sign_in, deactivated_at IS NULL AS active";

/// Adds a staff member; the email must be new.
pub async fn add(panel: &Panel, input: &StaffInput) -> Result<Staff> {
    let name = check_text("name", &input.name)?;
    if name.is_empty() {
        return Err(Error::invalid("name", "", "is empty"));
    }
    let email = Email::parse(&input.email)?;
    let title = check_text("title", &input.title)?;
    let time_zone = match input.time_zone.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(z) => Some(parse_time_zone(z)?),
    };
    let mut tx = panel.begin().await?;
    let lead = match input.lead.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(lead) => Some(active_by_email_in(&mut tx, lead).await?.id),
    };
    let id = insert_in(
        &mut tx,
        &name,
        &email,
        &title,
        input.role,
        lead,
        time_zone.as_deref(),
        panel.now(),
    )
    .await?;
    tx.commit().await?;
    get(panel, id).await
}

/// Writes a new staff member (their name and title already checked); a
/// taken email is a conflict that names it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_in(
    conn: impl Into<Conn<'_>>,
    name: &str,
    email: &Email,
    title: &str,
    role: Role,
    lead: Option<StaffId>,
    time_zone: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<StaffId> {
    let inserted: std::result::Result<i64, sqlx::Error> = either!(conn, |c| {
        sqlx::query_scalar(
        "INSERT INTO staff (name, email, email_norm, role, access, lead, time_zone, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(name)
    .bind(email.as_str())
    .bind(email.normalised())
    .bind(title)
    .bind(role.as_str())
    .bind(lead.map(|l| l.0))
    .bind(time_zone)
    .bind(millis(now))
    .bind(millis(now))
    .fetch_one(&mut *c)
    .await
    });
    match inserted {
        Ok(id) => Ok(StaffId(id)),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(Error::conflict(format!(
            "a staff member with the email {} already exists",
            email.as_str()
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Changes a staff member's name, email, title, role, lead and zone; the
/// email must stay theirs alone, and nobody leads themselves.
pub async fn update(panel: &Panel, id: StaffId, input: &StaffInput) -> Result<Staff> {
    let name = check_text("name", &input.name)?;
    if name.is_empty() {
        return Err(Error::invalid("name", "", "is empty"));
    }
    let email = Email::parse(&input.email)?;
    let title = check_text("title", &input.title)?;
    let time_zone = match input.time_zone.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(z) => Some(parse_time_zone(z)?),
    };
    let mut tx = panel.begin().await?;
    let before = get_in(&mut tx, id).await?;
    let lead = match input.lead.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(lead) => {
            let lead = by_email_in(&mut tx, lead).await?;
            if lead.id == id {
                return Err(Error::invalid(
                    "lead",
                    lead.email,
                    "is this staff member: a lead is someone else",
                ));
            }
            if !lead.active && before.lead != Some(lead.id) {
                return Err(left(&lead));
            }
            Some(lead.id)
        }
    };
    let updated: std::result::Result<u64, sqlx::Error> = either!(&mut tx, |c| {
        sqlx::query(
            "UPDATE staff SET name = $1, email = $2, email_norm = $3, role = $4, access = $5, \
             lead = $6, time_zone = $7, updated_at = $8 WHERE id = $9",
        )
        .bind(&name)
        .bind(email.as_str())
        .bind(email.normalised())
        .bind(&title)
        .bind(input.role.as_str())
        .bind(lead.map(|l| l.0))
        .bind(time_zone.as_deref())
        .bind(millis(panel.now()))
        .bind(id.0)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    });
    match updated {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(Error::conflict(format!(
                "a staff member with the email {} already exists",
                email.as_str()
            )));
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    // A team server's kept sign-ins say who they sign in, with their role.
    panel.kept_sign_ins().forget_all();
    get(panel, id).await
}

/// Marks a staff member as gone. Refused while a promise would be left
/// with nobody: they still own open issues (hand them off first) or lead
/// someone who is still here (give them another lead first). What they did
/// stays credited to them; their team-server sign-ins end.
pub async fn deactivate(panel: &Panel, id: StaffId) -> Result<Staff> {
    let mut tx = panel.begin().await?;
    let person = get_in(&mut tx, id).await?;
    if !person.active {
        return Ok(person);
    }
    let open: Vec<i64> = either!(&mut tx, |c| sqlx::query_scalar(
        "SELECT id FROM issues WHERE owner = $1 AND status IN ('open', 'contacted') ORDER BY id"
    )
    .bind(id.0)
    .fetch_all(&mut *c)
    .await?);
    if !open.is_empty() {
        let shown: Vec<String> = open.iter().take(5).map(|i| format!("#{i}")).collect();
        let more = if open.len() > 5 { ", …" } else { "" };
        return Err(Error::conflict(format!(
            "{} still owns {} open issue{} ({}{more}): hand {} to someone else first",
            person.name,
            open.len(),
            if open.len() == 1 { "" } else { "s" },
            shown.join(", "),
            if open.len() == 1 { "it" } else { "them" },
        )));
    }
    let led: Vec<String> = either!(&mut tx, |c| sqlx::query_scalar(
        "SELECT name FROM staff WHERE lead = $1 AND deactivated_at IS NULL ORDER BY lower(name)"
    )
    .bind(id.0)
    .fetch_all(&mut *c)
    .await?);
    if !led.is_empty() {
        return Err(Error::conflict(format!(
            "{} is the lead of {}: give {} another lead first",
            person.name,
            led.join(", "),
            if led.len() == 1 { "them" } else { "each" },
        )));
    }
    set_deactivated(&mut tx, id, Some(panel.now())).await?;
    crate::accounts::store::forget_sign_ins(&mut tx, id).await?;
    tx.commit().await?;
    panel.kept_sign_ins().forget_all();
    get(panel, id).await
}

/// Brings back a staff member marked as gone.
pub async fn reactivate(panel: &Panel, id: StaffId) -> Result<Staff> {
    let mut tx = panel.begin().await?;
    get_in(&mut tx, id).await?;
    set_deactivated(&mut tx, id, None).await?;
    tx.commit().await?;
    get(panel, id).await
}

async fn set_deactivated(
    conn: impl Into<Conn<'_>>,
    id: StaffId,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<()> {
    either!(conn, |c| sqlx::query(
        "UPDATE staff SET deactivated_at = $1 WHERE id = $2"
    )
    .bind(at.map(millis))
    .bind(id.0)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

/// The refusal to give something new to someone who left.
fn left(person: &Staff) -> Error {
    Error::conflict(format!(
        "{} ({}) no longer works here: choose someone who does",
        person.name, person.email
    ))
}

/// The staff member with this email address, who must still work here
/// (to be given an issue, a session or a lead).
pub async fn active_by_email(panel: &Panel, email: &str) -> Result<Staff> {
    active_by_email_in(&mut panel.conn().await?, email).await
}

pub(crate) async fn active_by_email_in(conn: impl Into<Conn<'_>>, email: &str) -> Result<Staff> {
    let person = by_email_in(conn, email).await?;
    if person.active {
        Ok(person)
    } else {
        Err(left(&person))
    }
}

/// Makes `lead` the staff member's lead.
pub(crate) async fn set_lead_in(
    conn: impl Into<Conn<'_>>,
    id: StaffId,
    lead: Option<StaffId>,
) -> Result<()> {
    either!(conn, |c| sqlx::query(
        "UPDATE staff SET lead = $1 WHERE id = $2"
    )
    .bind(lead.map(|l| l.0))
    .bind(id.0)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

/// Every staff member, by name.
pub async fn list(panel: &Panel) -> Result<Vec<Staff>> {
    let rows: Vec<StaffRow> = either!(&mut panel.conn().await?, |c| sqlx::query_as(
        sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM staff ORDER BY lower(name), id"
        ))
    )
    .fetch_all(&mut *c)
    .await?);
    Ok(rows.into_iter().map(Staff::from).collect())
}

/// Every staff member by id, for a list that names many (a team is small).
pub(crate) async fn all_in(
    conn: impl Into<Conn<'_>>,
) -> Result<std::collections::HashMap<StaffId, Staff>> {
    let rows: Vec<StaffRow> = either!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM staff"
    )))
    .fetch_all(&mut *c)
    .await?);
    Ok(rows
        .into_iter()
        .map(Staff::from)
        .map(|s| (s.id, s))
        .collect())
}

/// One staff member.
pub async fn get(panel: &Panel, id: StaffId) -> Result<Staff> {
    get_in(&mut panel.conn().await?, id).await
}

pub(crate) async fn get_in(conn: impl Into<Conn<'_>>, id: StaffId) -> Result<Staff> {
    let row: Option<StaffRow> = either!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM staff WHERE id = $1"
    )))
    .bind(id.0)
    .fetch_optional(&mut *c)
    .await?);
    Ok(row
        .ok_or_else(|| Error::not_found("staff member", id))?
        .into())
}

/// The staff member with this email address.
pub async fn by_email(panel: &Panel, email: &str) -> Result<Staff> {
    by_email_in(&mut panel.conn().await?, email).await
}

pub(crate) async fn by_email_in(conn: impl Into<Conn<'_>>, email: &str) -> Result<Staff> {
    let parsed = Email::parse(email)?;
    let row: Option<StaffRow> = either!(conn, |c| sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM staff WHERE email_norm = $1"
    )))
    .bind(parsed.normalised())
    .fetch_optional(&mut *c)
    .await?);
    Ok(row
        .ok_or_else(|| Error::not_found("staff member", email))?
        .into())
}

/// Says which staff member is using this app.
pub async fn set_current(panel: &Panel, id: StaffId) -> Result<Staff> {
    let staff = get(panel, id).await?;
    match this_computers(panel) {
        Some(path) => {
            if let Some(folder) = path.parent() {
                crate::files::private_dir(folder)
                    .map_err(|e| Error::file(folder.display().to_string(), e.to_string()))?;
            }
            crate::files::write_bytes(
                &path,
                id.0.to_string().as_bytes(),
                crate::files::Existing::Replace,
            )?;
        }
        None => settings::put(&mut panel.conn().await?, CURRENT_KEY, &id.0).await?,
    }
    Ok(staff)
}

/// Gives the staff member with this email address a role.
pub async fn set_role(panel: &Panel, email: &str, role: Role) -> Result<Staff> {
    let staff = by_email(panel, email).await?;
    either!(&mut panel.conn().await?, |c| sqlx::query(
        "UPDATE staff SET access = $1, updated_at = $2 WHERE id = $3"
    )
    .bind(role.as_str())
    .bind(millis(panel.now()))
    .bind(staff.id.0)
    .execute(&mut *c)
    .await?
    .rows_affected());
    panel.kept_sign_ins().forget_all();
    get(panel, staff.id).await
}

/// The staff member using this app, if set: the person signed in to a team
/// server for a call made through it ([`Panel::acting_as`]), else the one
/// who uses this computer.
pub async fn current(panel: &Panel) -> Result<Option<Staff>> {
    let mut conn = panel.conn().await?;
    if let Some(id) = panel.actor() {
        return get_in(&mut conn, id).await.map(Some);
    }
    let id = match this_computers(panel) {
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().parse::<i64>().ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::file(path.display().to_string(), e.to_string())),
        },
        None => settings::get::<i64>(&mut conn, CURRENT_KEY).await?,
    };
    match id {
        Some(id) => Ok(get_in(&mut conn, StaffId(id)).await.ok()),
        None => Ok(None),
    }
}

/// On a team database, the file on this computer that names who uses it.
fn this_computers(panel: &Panel) -> Option<std::path::PathBuf> {
    panel
        .is_team()
        .then(|| crate::files::beside(panel.path(), ".me"))
}
