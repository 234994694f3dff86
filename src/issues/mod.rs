//! Issues and follow-up: when a participant raises a personal problem it
//! becomes an issue with an owner who must get back to them.
//!
//! An issue comes from a note (or is raised directly) with a summary,
//! severity and due dates from the service levels. Assigning mails the
//! owner everything they need; a reassignment needs a reason, counts a
//! hand-off and tells the participant who has their issue now; the first
//! logged contact meets "first contact"; resolving needs a resolution note
//! and a message to the participant, which its writer can read as it will
//! go before it is queued ([`preview_resolve`]). Every change is an audit
//! event, and every message goes through the outbox in the same
//! transaction. The allowed status changes are [`IssueStatus::refusal`].
//! Each change plans the owner's nudge before the next due time (queued for
//! then, withdrawn and queued again when the issue changes); [`tick`]
//! queues escalations after a breach, to the owner's lead and the session's
//! moderator, repeated until someone acts.

pub mod model;

pub use model::*;

use crate::db::{instant, millis};
use crate::mail::templates::{self, NoteLine, ParticipantContact, Template};
use crate::mail::{self, MessageKind, MessagePreview, NewMessage};
use crate::notes::{self, NoteId};
use crate::participants::fields::{Email, check_text};
use crate::participants::{self, ParticipantId};
use crate::sessions::staff::{self, Staff, StaffId};
use crate::sessions::{self, SessionId};
use crate::{Error, Panel, Result, settings};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::{Row, SqliteConnection, sqlite::SqliteRow};
use std::collections::{BTreeMap, HashMap};

const LEVELS_KEY: &str = "service_levels";

/// The service levels in force.
pub async fn service_levels(panel: &Panel) -> Result<ServiceLevels> {
    let mut conn = panel.pool().acquire().await?;
    levels_in(&mut conn).await
}

/// The service levels, read on the caller's connection: an action reads
/// what it depends on inside its own transaction, never through the pool
/// (which a few concurrent actions holding their transactions could empty).
async fn levels_in(conn: &mut SqliteConnection) -> Result<ServiceLevels> {
    Ok(settings::get(conn, LEVELS_KEY).await?.unwrap_or_default())
}

/// Replaces the service levels (for issues raised from now on).
pub async fn set_service_levels(panel: &Panel, levels: &ServiceLevels) -> Result<ServiceLevels> {
    // A year is the longest any promise may take; a minute the shortest
    // (the app looks for breaches every minute).
    const YEAR: u32 = 366 * 24 * 60;
    for s in Severity::ALL {
        let l = levels.for_severity(s);
        if l.first_contact_minutes == 0 || l.resolution_minutes < l.first_contact_minutes {
            return Err(Error::invalid(
                "service level",
                s.as_str(),
                "needs a first contact of at least a minute, and a resolution no sooner",
            ));
        }
        if l.resolution_minutes > YEAR {
            return Err(Error::invalid(
                "service level",
                s.as_str(),
                format!(
                    "allows {} days; the most is a year (366 days)",
                    l.resolution_minutes / (24 * 60)
                ),
            ));
        }
    }
    for (field, minutes) in [
        ("nudge before", levels.nudge_minutes_before),
        ("escalation repeat", levels.escalation_repeat_minutes),
    ] {
        if minutes > YEAR {
            return Err(Error::invalid(
                field,
                format!("{minutes} minutes"),
                "is more than a year (366 days)",
            ));
        }
    }
    if levels.escalation_repeat_minutes == 0 {
        return Err(Error::invalid(
            "escalation repeat",
            "0 minutes",
            "must be at least a minute",
        ));
    }
    let mut conn = panel.pool().acquire().await?;
    settings::put(&mut conn, LEVELS_KEY, levels).await?;
    Ok(*levels)
}

const COLUMNS: &str = "i.id, i.session, ss.title AS session_title, i.participant, p.name AS participant_name, \
    p.email AS participant_email, i.note, i.summary, i.detail, i.category, i.severity, i.owner, \
    o.name AS owner_name, i.status, i.first_contact_due, i.resolution_due, i.first_contact_at, \
    i.resolved_at, i.resolution, i.handoffs, i.reopens, i.reopened_at, i.created_at";
const FROM: &str = "issues i JOIN sessions ss ON ss.id = i.session \
    JOIN participants p ON p.id = i.participant LEFT JOIN staff o ON o.id = i.owner";

fn issue_from(row: &SqliteRow, now: DateTime<Utc>) -> Result<Issue> {
    IssueJson {
        id: row.get("id"),
        session: row.get("session"),
        session_title: row.get("session_title"),
        participant: row.get("participant"),
        participant_name: row.get("participant_name"),
        participant_email: row.get("participant_email"),
        note: row.get("note"),
        summary: row.get("summary"),
        detail: row.get("detail"),
        category: row.get("category"),
        severity: row.get("severity"),
        owner: row.get("owner"),
        owner_name: row.get("owner_name"),
        status: row.get("status"),
        first_contact_due: row.get("first_contact_due"),
        resolution_due: row.get("resolution_due"),
        first_contact_at: row.get("first_contact_at"),
        resolved_at: row.get("resolved_at"),
        resolution: row.get("resolution"),
        handoffs: row.get::<i64, _>("handoffs") as u32,
        reopens: row.get::<i64, _>("reopens") as u32,
        reopened_at: row.get("reopened_at"),
        created_at: row.get("created_at"),
    }
    .issue(now)
}

/// An issue `i` (with its session `ss`, participant `p` and owner `o`) as
/// one JSON object: a list comes back from SQLite as one array, not a row
/// per issue.
const ISSUE_JSON: &str = "json_object('id', i.id, 'session', i.session, 'sessionTitle', ss.title, \
    'participant', i.participant, 'participantName', p.name, 'participantEmail', p.email, \
    'note', i.note, 'summary', i.summary, 'detail', i.detail, 'category', i.category, \
    'severity', i.severity, 'owner', i.owner, 'ownerName', o.name, 'status', i.status, \
    'firstContactDue', i.first_contact_due, 'resolutionDue', i.resolution_due, \
    'firstContactAt', i.first_contact_at, 'resolvedAt', i.resolved_at, \
    'resolution', i.resolution, 'handoffs', i.handoffs, 'reopens', i.reopens, \
    'reopenedAt', i.reopened_at, 'createdAt', i.created_at)";

/// An issue as stored: a row, or an object of [`ISSUE_JSON`].
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct IssueJson {
    id: i64,
    session: i64,
    session_title: String,
    participant: i64,
    participant_name: String,
    participant_email: Option<String>,
    note: Option<i64>,
    summary: String,
    detail: String,
    category: String,
    severity: String,
    owner: Option<i64>,
    owner_name: Option<String>,
    status: String,
    first_contact_due: i64,
    resolution_due: i64,
    first_contact_at: Option<i64>,
    resolved_at: Option<i64>,
    resolution: Option<String>,
    handoffs: u32,
    reopens: u32,
    reopened_at: Option<i64>,
    created_at: i64,
}

impl IssueJson {
    fn issue(self, now: DateTime<Utc>) -> Result<Issue> {
        let status: IssueStatus = self.status.parse()?;
        let first_contact_due = instant(self.first_contact_due);
        let resolution_due = instant(self.resolution_due);
        let first_contact_at = self.first_contact_at.map(instant);
        let overdue = status.is_open()
            && ((status == IssueStatus::Open && now > first_contact_due) || now > resolution_due);
        Ok(Issue {
            id: IssueId(self.id),
            session: SessionId(self.session),
            session_title: self.session_title,
            participant: ParticipantId(self.participant),
            participant_name: self.participant_name,
            participant_email: self.participant_email,
            note: self.note.map(NoteId),
            summary: self.summary,
            detail: self.detail,
            category: self.category,
            severity: self.severity.parse()?,
            owner: self.owner.map(StaffId),
            owner_name: self.owner_name,
            status,
            first_contact_due,
            resolution_due,
            first_contact_at,
            resolved_at: self.resolved_at.map(instant),
            resolution: self.resolution,
            handoffs: self.handoffs,
            reopens: self.reopens,
            reopened_at: self.reopened_at.map(instant),
            overdue,
            created_at: instant(self.created_at),
        })
    }
}

async fn get_in(conn: &mut SqliteConnection, id: IssueId, now: DateTime<Utc>) -> Result<Issue> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE i.id = ?"
    )))
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::not_found("issue", id))?;
    issue_from(&row, now)
}

/// One issue.
pub async fn get(panel: &Panel, id: IssueId) -> Result<Issue> {
    let mut conn = panel.pool().acquire().await?;
    get_in(&mut conn, id, panel.now()).await
}

/// An issue with its contact log and audit trail.
pub async fn detail(panel: &Panel, id: IssueId) -> Result<IssueDetail> {
    let mut conn = panel.pool().acquire().await?;
    let issue = get_in(&mut conn, id, panel.now()).await?;
    let contacts = sqlx::query(
        "SELECT c.at, s.name, c.via, c.outcome FROM issue_contacts c LEFT JOIN staff s ON s.id = c.staff \
         WHERE c.issue = ? ORDER BY c.at, c.id",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(IssueContact {
            at: instant(r.get(0)),
            staff: r.get(1),
            via: r.get::<String, _>(2).parse()?,
            outcome: r.get(3),
        })
    })
    .collect::<Result<_>>()?;
    let events = sqlx::query(
        "SELECT e.at, s.name, e.kind, e.detail FROM issue_events e LEFT JOIN staff s ON s.id = e.actor \
         WHERE e.issue = ? ORDER BY e.at, e.id",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| IssueEvent {
        at: instant(r.get(0)),
        actor: r.get(1),
        kind: r.get(2),
        detail: serde_json::from_str(&r.get::<String, _>(3)).unwrap_or_default(),
    })
    .collect();
    let participant_phone = participants::get_in(&mut conn, issue.participant)
        .await?
        .phone;
    let notes = notes_around(&mut conn, issue.note).await?;
    Ok(IssueDetail {
        issue,
        participant_phone,
        notes,
        contacts,
        events,
    })
}

/// Every issue raised in `[from, to)`, oldest first.
pub async fn raised_between(
    panel: &Panel,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Issue>> {
    let now = panel.now();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE i.created_at >= ? AND i.created_at < ? \
         ORDER BY i.created_at, i.id"
    )))
    .bind(millis(from))
    .bind(millis(to))
    .fetch_all(panel.pool())
    .await?;
    rows.iter().map(|r| issue_from(r, now)).collect()
}

/// Issues, the most urgent first (overdue, then by the next due time).
pub async fn list(panel: &Panel, query: &IssueQuery) -> Result<Vec<Issue>> {
    let owner = match query.owner.as_deref().map(str::trim) {
        Some(o) if !o.is_empty() => Some(staff::by_email(panel, o).await?.id),
        _ => None,
    };
    let now = panel.now();
    // Open first, then by the next due time: the page is chosen from the
    // issues alone, and only its issues are read in full.
    let json: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT json_group_array(json(issue) ORDER BY open DESC, next_due, id) FROM ( \
           SELECT {ISSUE_JSON} AS issue, k.id, k.open, k.next_due FROM ( \
             SELECT i.id, i.status IN ('open', 'contacted') AS open, \
               CASE WHEN i.status = 'open' THEN i.first_contact_due ELSE i.resolution_due END \
                 AS next_due \
             FROM issues i WHERE (?1 IS NULL OR i.owner = ?1) AND (?2 IS NULL OR i.status = ?2) \
             AND (NOT ?3 OR i.status IN ('open', 'contacted')) AND (?4 IS NULL OR i.session = ?4) \
             AND (NOT ?5 OR (i.status IN ('open', 'contacted') AND \
                  ((i.status = 'open' AND i.first_contact_due < ?6) OR i.resolution_due < ?6))) \
             ORDER BY open DESC, next_due, i.id LIMIT ?7) k \
           CROSS JOIN {FROM} WHERE i.id = k.id)"
    )))
    .bind(owner.map(|o| o.0))
    .bind(query.status.map(IssueStatus::as_str))
    .bind(query.open_only)
    .bind(query.session.map(|s| s.0))
    .bind(query.overdue)
    .bind(millis(now))
    .bind(query.limit.unwrap_or(200).clamp(1, 5000))
    .fetch_one(panel.pool())
    .await?;
    serde_json::from_str::<Vec<IssueJson>>(&json)
        .map_err(|e| Error::database(format!("the issues did not read back: {e}")))?
        .into_iter()
        .map(|i| i.issue(now))
        .collect()
}

/// The open issues of the staff member using this computer.
pub async fn mine(panel: &Panel) -> Result<Vec<Issue>> {
    let me = staff::current(panel).await?.ok_or_else(|| {
        Error::conflict("say which staff member uses this computer first (staff me EMAIL)")
    })?;
    list(
        panel,
        &IssueQuery {
            owner: Some(me.email),
            open_only: true,
            ..Default::default()
        },
    )
    .await
}

async fn event(
    conn: &mut SqliteConnection,
    issue: IssueId,
    now: DateTime<Utc>,
    actor: Option<StaffId>,
    kind: &str,
    detail: serde_json::Value,
) -> Result<()> {
    sqlx::query("INSERT INTO issue_events (issue, at, actor, kind, detail) VALUES (?, ?, ?, ?, ?)")
        .bind(issue.0)
        .bind(millis(now))
        .bind(actor.map(|a| a.0))
        .bind(kind)
        .bind(detail.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE issues SET updated_at = ? WHERE id = ?")
        .bind(millis(now))
        .bind(issue.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn topic(issue: IssueId, what: &str) -> String {
    format!("issue/{issue}/{what}")
}

/// The due times still to be met, and what each is for.
fn open_dues(issue: &Issue) -> Vec<(DateTime<Utc>, &'static str)> {
    let mut dues = Vec::with_capacity(2);
    if issue.awaiting_contact() {
        dues.push((issue.first_contact_due, "first contact"));
    }
    dues.push((issue.resolution_due, "resolution"));
    dues
}

/// Withdraws the escalations still waiting to go that a change made
/// obsolete: those about a due time that is met now (or no longer the
/// issue's), and, when `owner_changed`, every one (they name the former
/// owner and go to that owner's lead; the new owner's come from the next
/// tick). An escalation's topic is `issue/N/escalation/DUE/ROUND/STAFF`.
async fn withdraw_escalations(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    issue: &Issue,
    owner_changed: bool,
) -> Result<()> {
    let live: Vec<i64> = if issue.status.is_open() {
        open_dues(issue)
            .into_iter()
            .filter(|(due, _)| *due <= now)
            .map(|(due, _)| millis(due))
            .collect()
    } else {
        Vec::new()
    };
    let prefix = topic(issue.id, "escalation/");
    let waiting: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, topic FROM outbox WHERE substr(topic, 1, length(?1)) = ?1 \
         AND status IN ('queued', 'failed')",
    )
    .bind(&prefix)
    .fetch_all(&mut *conn)
    .await?;
    for (message, t) in waiting {
        let due: Option<i64> = t[prefix.len()..]
            .split('/')
            .next()
            .and_then(|d| d.parse().ok())
            .filter(|_| t[prefix.len()..].split('/').count() == 3);
        if owner_changed || !due.is_some_and(|d| live.contains(&d)) {
            sqlx::query(
                "UPDATE outbox SET status = 'cancelled', updated_at = ? WHERE id = ? \
                 AND status IN ('queued', 'failed')",
            )
            .bind(millis(now))
            .bind(message)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// Withdraws the issue's waiting nudges, and the escalations the change
/// made obsolete, and, while it is open and owned, queues a nudge to the
/// owner before each due time still to be met: once per owner and due
/// time, at once if the time to nudge has already come.
async fn replan(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    levels: &ServiceLevels,
    id: IssueId,
) -> Result<()> {
    replan_after(conn, now, levels, id, false).await
}

/// [`replan`] after a change of owner.
async fn replan_after(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    levels: &ServiceLevels,
    id: IssueId,
    owner_changed: bool,
) -> Result<()> {
    mail::cancel_topic(conn, now, &topic(id, "nudge/")).await?;
    let issue = get_in(conn, id, now).await?;
    withdraw_escalations(conn, now, &issue, owner_changed).await?;
    let (Some(owner), true) = (issue.owner, issue.status.is_open()) else {
        return Ok(());
    };
    let owner = staff::get_in(conn, owner).await?;
    // The window a nudge's lead is measured in: this round of follow-up.
    let start = issue
        .first_contact_at
        .unwrap_or(issue.created_at)
        .max(issue.reopened_at.unwrap_or(issue.created_at));
    for (due, what) in open_dues(&issue) {
        if due <= now {
            continue;
        }
        let this = topic(id, &format!("nudge/{}/{}", millis(due), owner.id));
        let had: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE topic = ? AND status != 'cancelled')",
        )
        .bind(&this)
        .fetch_one(&mut *conn)
        .await?;
        if had {
            continue;
        }
        let lead = Duration::minutes(levels.nudge_minutes_before as i64).min((due - start) / 2);
        let body = templates::render(&Template::Nudge(templates::Nudge {
            owner_name: owner.name.clone(),
            summary: issue.summary.clone(),
            participant_name: issue.participant_name.clone(),
            due_what: what.to_string(),
            due_at: due,
            zone: owner.time_zone.clone().unwrap_or_else(|| "UTC".into()),
        }))?;
        mail::enqueue(
            conn,
            now,
            &NewMessage {
                kind: MessageKind::Nudge,
                to: Email::parse(&owner.email)?,
                to_name: owner.name.clone(),
                reply_to: None,
                from_name: None,
                body,
                headers: BTreeMap::new(),
                attachments: Vec::new(),
                not_before: (due - lead).max(now),
                topic: Some(this),
            },
        )
        .await?;
    }
    Ok(())
}

/// What a tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct TickReport {
    /// Open issues past a due time.
    pub overdue: u32,
    /// Escalation messages queued now.
    pub escalations: u32,
}

/// Queues the escalations due at `now`: for every open issue past its due
/// time, one to the owner's lead and one to the session's moderator (only
/// the moderator, while nobody owns it), then
/// again every `escalation_repeat_minutes` until the owner acts (a logged
/// contact, a resolution or a hand-off starts the count again). Nudges are
/// already queued for their time, so a tick never sends one twice.
pub async fn tick(panel: &Panel, now: DateTime<Utc>) -> Result<TickReport> {
    let levels = service_levels(panel).await?;
    let repeat = Duration::minutes(levels.escalation_repeat_minutes.max(1) as i64);
    let due: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM issues WHERE status IN ('open', 'contacted') \
         AND ((status = 'open' AND first_contact_due <= ?1) OR resolution_due <= ?1) \
         AND (last_escalated_at IS NULL OR last_escalated_at <= ?2) ORDER BY id",
    )
    .bind(millis(now))
    .bind(millis(now - repeat))
    .fetch_all(panel.pool())
    .await?;
    let overdue: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM issues WHERE status IN ('open', 'contacted') \
         AND ((status = 'open' AND first_contact_due <= ?1) OR resolution_due <= ?1)",
    )
    .bind(millis(now))
    .fetch_one(panel.pool())
    .await?;
    let mut report = TickReport {
        overdue: overdue as u32,
        escalations: 0,
    };
    for chunk in due.chunks(TICK_BATCH) {
        let mut tx = panel.write().await?;
        report.escalations += escalate(&mut tx, chunk, now).await?;
        tx.commit().await?;
    }
    if report.escalations > 0 {
        panel.wake_mail();
    }
    Ok(report)
}

/// Issues escalated per transaction by a tick: each batch is read, counted,
/// rendered and queued in a handful of statements.
const TICK_BATCH: usize = 2_000;

/// Escalates these issues in the caller's transaction, and says how many
/// messages it queued.
async fn escalate(tx: &mut SqliteConnection, ids: &[i64], now: DateTime<Utc>) -> Result<u32> {
    let ids_json = serde_json::to_string(ids).expect("ids serialise");
    let json: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT json_group_array(json({ISSUE_JSON}) ORDER BY i.id) FROM {FROM} \
         WHERE i.id IN (SELECT value FROM json_each(?))"
    )))
    .bind(&ids_json)
    .fetch_one(&mut *tx)
    .await?;
    let issues = serde_json::from_str::<Vec<IssueJson>>(&json)
        .map_err(|e| Error::database(format!("the issues did not read back: {e}")))?
        .into_iter()
        .map(|i| i.issue(now))
        .collect::<Result<Vec<Issue>>>()?;
    let rounds: HashMap<i64, i64> = sqlx::query_as(
        "UPDATE issues SET escalations = escalations + 1, last_escalated_at = ?1, updated_at = ?1 \
         WHERE id IN (SELECT value FROM json_each(?2)) RETURNING id, escalations",
    )
    .bind(millis(now))
    .bind(&ids_json)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    let team = staff::all_in(tx).await?;
    let member = |id: StaffId| {
        team.get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found("staff member", id))
    };
    let mut moderators: HashMap<SessionId, Staff> = HashMap::new();
    let mut messages = Vec::new();
    let mut events = Vec::with_capacity(issues.len());
    for issue in &issues {
        let owner = issue.owner.map(member).transpose()?;
        let moderator = match moderators.get(&issue.session) {
            Some(m) => m.clone(),
            None => {
                let m = sessions::get_in(tx, issue.session).await?.moderator;
                moderators.insert(issue.session, m.clone());
                m
            }
        };
        let mut to: Vec<Staff> = Vec::new();
        if let Some(lead) = owner.as_ref().and_then(|o| o.lead) {
            to.push(member(lead)?);
        }
        let owner_id = owner.as_ref().map(|o| o.id);
        if owner_id != Some(moderator.id) && !to.iter().any(|s| s.id == moderator.id) {
            to.push(moderator);
        }
        if to.is_empty() {
            // Nobody above the owner: the owner hears of it again.
            to.extend(owner.clone());
        }
        let n = rounds
            .get(&issue.id.0)
            .copied()
            .ok_or_else(|| Error::not_found("issue", issue.id))?;
        let (due, what) = issue.next_due();
        for recipient in &to {
            let body = templates::render(&Template::Escalation(templates::Escalation {
                recipient_name: recipient.name.clone(),
                owner_name: owner.as_ref().map(|o| o.name.clone()).unwrap_or_default(),
                summary: issue.summary.clone(),
                participant_name: issue.participant_name.clone(),
                due_what: what.to_string(),
                due_at: due,
                zone: recipient.time_zone.clone().unwrap_or_else(|| "UTC".into()),
            }))?;
            messages.push(NewMessage {
                kind: MessageKind::Escalation,
                to: Email::parse(&recipient.email)?,
                to_name: recipient.name.clone(),
                reply_to: owner.as_ref().and_then(|o| Email::parse(&o.email).ok()),
                from_name: None,
                body,
                headers: BTreeMap::new(),
                attachments: Vec::new(),
                not_before: now,
                topic: Some(topic(
                    issue.id,
                    &format!("escalation/{}/{n}/{}", millis(due), recipient.id),
                )),
            });
        }
        let names: Vec<&str> = to.iter().map(|s| s.name.as_str()).collect();
        events.push(json!([
            issue.id.0,
            json!({"to": names, "due": what, "count": n}).to_string()
        ]));
    }
    mail::enqueue_many(tx, now, &messages).await?;
    sqlx::query(
        "INSERT INTO issue_events (issue, at, actor, kind, detail) \
         SELECT value ->> 0, ?, NULL, 'escalated', value ->> 1 FROM json_each(?)",
    )
    .bind(millis(now))
    .bind(serde_json::Value::Array(events).to_string())
    .execute(&mut *tx)
    .await?;
    Ok(messages.len() as u32)
}

/// The notes around the one an issue came from, for the owner's mail.
async fn note_context(conn: &mut SqliteConnection, note: Option<NoteId>) -> Result<Vec<NoteLine>> {
    Ok(notes_around(conn, note)
        .await?
        .iter()
        .map(|n| {
            let s = n.offset_seconds.abs();
            NoteLine {
                offset: format!(
                    "{}{:02}:{:02}:{:02}",
                    if n.offset_seconds < 0 { "-" } else { "" },
                    s / 3600,
                    s % 3600 / 60,
                    s % 60
                ),
                text: n.text.clone(),
                source: Some(n.id) == note,
            }
        })
        .collect())
}

/// The note an issue came from with the two before and after it.
async fn notes_around(
    conn: &mut SqliteConnection,
    note: Option<NoteId>,
) -> Result<Vec<notes::Note>> {
    let Some(id) = note else {
        return Ok(Vec::new());
    };
    let source = notes::get_in(conn, id).await?;
    let mut all = notes::list_in(conn, source.session).await?;
    let at = all.iter().position(|n| n.id == id).unwrap_or(0);
    all.truncate((at + 3).min(all.len()));
    Ok(all.split_off(at.saturating_sub(2)))
}

/// Queues the owner's mail: who, how to reach them, what they said, when due.
async fn queue_assigned(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    issue: &Issue,
    owner: &Staff,
) -> Result<()> {
    let participant = participants::get_in(conn, issue.participant).await?;
    let body = templates::render(&Template::IssueAssigned(templates::IssueAssigned {
        owner_name: owner.name.clone(),
        session_title: issue.session_title.clone(),
        summary: issue.summary.clone(),
        detail: Some(issue.detail.clone()).filter(|d| !d.is_empty()),
        severity: issue.severity.as_str().to_string(),
        participant: ParticipantContact {
            name: participant.name.clone(),
            email: participant
                .email
                .clone()
                .unwrap_or_else(|| "(erased)".into()),
            phone: participant.phone.clone(),
            zone: participant.time_zone.clone(),
        },
        notes: note_context(conn, issue.note).await?,
        first_contact_due: issue.awaiting_contact().then_some(issue.first_contact_due),
        resolution_due: Some(issue.resolution_due),
        zone: owner.time_zone.clone().unwrap_or_else(|| "UTC".into()),
    }))?;
    mail::enqueue(
        conn,
        now,
        &NewMessage {
            kind: MessageKind::IssueAssigned,
            to: Email::parse(&owner.email)?,
            to_name: owner.name.clone(),
            reply_to: participant
                .email
                .as_deref()
                .and_then(|e| Email::parse(e).ok()),
            from_name: None,
            body,
            headers: BTreeMap::new(),
            attachments: Vec::new(),
            not_before: now,
            topic: Some(topic(issue.id, "assigned")),
        },
    )
    .await?;
    Ok(())
}

/// Queues a message to the participant, signed by and replying to `from`.
async fn queue_to_participant(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    issue: &Issue,
    from: &Staff,
    kind: MessageKind,
    template: Template,
) -> Result<Option<mail::MessageId>> {
    match to_participant(now, issue, from, kind, template)? {
        Some(message) => Ok(Some(mail::enqueue(conn, now, &message).await?)),
        None => Ok(None),
    }
}

/// A message to the participant about their issue, signed by and replying
/// to `from`; `None` when they have no email address left (erased).
fn to_participant(
    now: DateTime<Utc>,
    issue: &Issue,
    from: &Staff,
    kind: MessageKind,
    template: Template,
) -> Result<Option<NewMessage>> {
    let Some(email) = issue
        .participant_email
        .as_deref()
        .and_then(|e| Email::parse(e).ok())
    else {
        return Ok(None);
    };
    Ok(Some(NewMessage {
        kind,
        to: email,
        to_name: issue.participant_name.clone(),
        reply_to: Some(Email::parse(&from.email)?),
        from_name: Some(from.name.clone()),
        body: templates::render(&template)?,
        headers: BTreeMap::new(),
        attachments: Vec::new(),
        not_before: now,
        topic: Some(topic(issue.id, kind.as_str())),
    }))
}

async fn actor(panel: &Panel) -> Result<Option<StaffId>> {
    Ok(staff::current(panel).await?.map(|s| s.id))
}

fn required(field: &str, text: &str) -> Result<String> {
    let t = check_text(field, text)?;
    if t.is_empty() {
        return Err(Error::invalid(field, "", "is required"));
    }
    Ok(t)
}

/// Raises an issue (from a note, or for a participant of a session), with
/// due dates from the service level of its severity; with an owner, they
/// are assigned at once.
pub async fn raise(panel: &Panel, input: &IssueInput) -> Result<Issue> {
    let summary = required("summary", &input.summary)?;
    let detail = check_text("detail", &input.detail)?;
    let category = check_text("category", &input.category)?;
    let severity = input.severity.unwrap_or(Severity::Normal);
    let note = match input.note {
        Some(id) => Some(notes::get(panel, id).await?),
        None => None,
    };
    let session = match (&note, input.session) {
        (Some(n), _) => n.session,
        (None, Some(s)) => s,
        (None, None) => {
            return Err(Error::invalid(
                "session",
                "",
                "name the note or the session the issue comes from",
            ));
        }
    };
    let in_session = sessions::get(panel, session).await?;
    let zone = in_session.time_zone;
    let participant = match (input.participant.as_deref().map(str::trim), &note) {
        (Some(p), _) if !p.is_empty() => participants::find(panel, p).await?,
        (_, Some(n)) if n.participant.is_some() => n.participant.expect("checked"),
        (_, Some(n)) => {
            return Err(Error::conflict(format!(
                "note {} is not attributed to anyone, and an issue is someone's: name the \
                 participant it is about (their email or id), or attribute the note to them first",
                n.id
            )));
        }
        _ => {
            return Err(Error::invalid(
                "participant",
                "",
                "an issue is someone's: name the participant it is about (their email or id)",
            ));
        }
    };
    let owner = match input.owner.as_deref().map(str::trim) {
        Some(o) if !o.is_empty() => Some(staff::by_email(panel, o).await?),
        _ => None,
    };
    if owner.is_none() && in_session.completed_at.is_some() {
        return Err(Error::invalid(
            "owner",
            "",
            format!("session {session} is complete: an issue raised now needs an owner"),
        ));
    }
    let levels = service_levels(panel).await?;
    let actor = actor(panel).await?;
    let now = panel.now();
    let (first_contact_due, resolution_due) = levels.dues(severity, now, zone);
    let mut tx = panel.write().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO issues (session, participant, note, summary, detail, category, severity, owner, \
         first_contact_due, resolution_due, raised_by, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(session.0)
    .bind(participant.0)
    .bind(note.as_ref().map(|n| n.id.0))
    .bind(&summary)
    .bind(&detail)
    .bind(&category)
    .bind(severity.as_str())
    .bind(owner.as_ref().map(|o| o.id.0))
    .bind(millis(first_contact_due))
    .bind(millis(resolution_due))
    .bind(actor.map(|a| a.0))
    .bind(millis(now))
    .bind(millis(now))
    .fetch_one(&mut *tx)
    .await?;
    let id = IssueId(id);
    event(
        &mut tx,
        id,
        now,
        actor,
        "raised",
        json!({"summary": summary, "severity": severity.as_str()}),
    )
    .await?;
    if let Some(owner) = &owner {
        handed_to(&mut tx, now, actor, &levels, id, owner).await?;
    }
    tx.commit().await?;
    panel.wake_mail();
    get(panel, id).await
}

/// Records that `owner` now has the issue (its owner column is already
/// set), mails them what they need and plans their nudge.
async fn handed_to(
    tx: &mut SqliteConnection,
    now: DateTime<Utc>,
    actor: Option<StaffId>,
    levels: &ServiceLevels,
    id: IssueId,
    owner: &Staff,
) -> Result<()> {
    event(tx, id, now, actor, "assigned", json!({"owner": owner.name})).await?;
    let issue = get_in(tx, id, now).await?;
    queue_assigned(tx, now, &issue, owner).await?;
    replan_after(tx, now, levels, id, true).await
}

/// Gives an issue without an owner to `owner`, who is mailed what they need.
pub async fn assign(panel: &Panel, id: IssueId, owner: &str) -> Result<Issue> {
    let owner = staff::by_email(panel, owner).await?;
    let actor = actor(panel).await?;
    let now = panel.now();
    let mut tx = panel.write().await?;
    let issue = get_in(&mut tx, id, now).await?;
    if let Some(current) = &issue.owner_name {
        return Err(Error::conflict(format!(
            "issue {id} already belongs to {current}; reassign it, with a reason"
        )));
    }
    sqlx::query("UPDATE issues SET owner = ? WHERE id = ?")
        .bind(owner.id.0)
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
    let levels = levels_in(&mut tx).await?;
    handed_to(&mut tx, now, actor, &levels, id, &owner).await?;
    tx.commit().await?;
    panel.wake_mail();
    get(panel, id).await
}

/// Hands an issue to another owner. The reason is kept, the hand-off is
/// counted, the new owner is mailed, and the participant is told who has
/// their issue now.
pub async fn reassign(panel: &Panel, id: IssueId, owner: &str, reason: &str) -> Result<Issue> {
    let reason = required("reason", reason)?;
    let owner = staff::by_email(panel, owner).await?;
    let actor = actor(panel).await?;
    let now = panel.now();
    let mut tx = panel.write().await?;
    let issue = get_in(&mut tx, id, now).await?;
    let Some(from) = issue.owner else {
        return Err(Error::conflict(format!(
            "issue {id} has no owner yet: assign it"
        )));
    };
    if from == owner.id {
        return Err(Error::conflict(format!(
            "issue {id} already belongs to {}",
            owner.name
        )));
    }
    if !issue.status.is_open() {
        return Err(Error::conflict(format!(
            "issue {id} is {}; reopen it before handing it on",
            issue.status.as_str().replace('_', " ")
        )));
    }
    sqlx::query(
        "UPDATE issues SET owner = ?, handoffs = handoffs + 1, escalations = 0, last_escalated_at = NULL WHERE id = ?",
    )
        .bind(owner.id.0)
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
    event(
        &mut tx,
        id,
        now,
        actor,
        "reassigned",
        json!({"from": issue.owner_name, "to": owner.name, "reason": reason}),
    )
    .await?;
    let issue = get_in(&mut tx, id, now).await?;
    queue_assigned(&mut tx, now, &issue, &owner).await?;
    let levels = levels_in(&mut tx).await?;
    replan_after(&mut tx, now, &levels, id, true).await?;
    let notice = Template::Handoff(templates::Handoff {
        participant_name: issue.participant_name.clone(),
        summary: issue.summary.clone(),
        new_owner_name: owner.name.clone(),
        new_owner_email: owner.email.clone(),
    });
    if let Some(message) =
        queue_to_participant(&mut tx, now, &issue, &owner, MessageKind::Handoff, notice).await?
    {
        event(
            &mut tx,
            id,
            now,
            actor,
            "participant_told",
            json!({"message": message.0, "owner": owner.name}),
        )
        .await?;
    }
    tx.commit().await?;
    panel.wake_mail();
    get(panel, id).await
}

/// Logs an attempt to reach the participant; the first one moves an open
/// issue to contacted and meets the first-contact due time.
pub async fn log_contact(
    panel: &Panel,
    id: IssueId,
    via: ContactVia,
    outcome: &str,
) -> Result<Issue> {
    let outcome = required("outcome", outcome)?;
    let actor = actor(panel).await?;
    let now = panel.now();
    let mut tx = panel.write().await?;
    let issue = get_in(&mut tx, id, now).await?;
    if !issue.status.is_open() {
        return Err(Error::conflict(format!(
            "issue {id} is {}; reopen it to log more contact",
            issue.status.as_str().replace('_', " ")
        )));
    }
    sqlx::query(
        "INSERT INTO issue_contacts (issue, at, staff, via, outcome) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(id.0)
    .bind(millis(now))
    .bind(actor.map(|a| a.0))
    .bind(via.as_str())
    .bind(&outcome)
    .execute(&mut *tx)
    .await?;
    if issue.status == IssueStatus::Open {
        sqlx::query(
            "UPDATE issues SET status = 'contacted', first_contact_at = coalesce(first_contact_at, ?), \
             escalations = 0, last_escalated_at = NULL WHERE id = ?",
        )
            .bind(millis(now))
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
    }
    event(
        &mut tx,
        id,
        now,
        actor,
        "contacted",
        json!({"via": via.as_str(), "outcome": outcome}),
    )
    .await?;
    let levels = levels_in(&mut tx).await?;
    replan(&mut tx, now, &levels, id).await?;
    tx.commit().await?;
    get(panel, id).await
}

async fn change_status(tx: &mut SqliteConnection, issue: &Issue, to: IssueStatus) -> Result<()> {
    if let Some(why) = issue.status.refusal(to) {
        return Err(Error::conflict(format!("issue {}: {why}", issue.id)));
    }
    sqlx::query("UPDATE issues SET status = ? WHERE id = ?")
        .bind(to.as_str())
        .bind(issue.id.0)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Resolves a contacted issue: the resolution note is kept and the
/// message to the participant is queued (from the owner, replies to them).
pub async fn resolve(panel: &Panel, id: IssueId, note: &str, message: &str) -> Result<Issue> {
    finish(panel, id, IssueStatus::Resolved, note, message).await
}

/// Closes a contacted issue without a fix: the reason is kept and the
/// participant is told.
pub async fn wont_fix(panel: &Panel, id: IssueId, reason: &str, message: &str) -> Result<Issue> {
    finish(panel, id, IssueStatus::WontFix, reason, message).await
}

/// The message [`resolve`] would send the participant, for its writer to
/// read before anything is queued; refused as [`resolve`] would refuse.
/// `None` when the participant can no longer be written to (erased).
pub async fn preview_resolve(
    panel: &Panel,
    id: IssueId,
    note: &str,
    message: &str,
) -> Result<Option<MessagePreview>> {
    preview_finish(panel, id, IssueStatus::Resolved, note, message).await
}

/// The message [`wont_fix`] would send the participant, as
/// [`preview_resolve`].
pub async fn preview_wont_fix(
    panel: &Panel,
    id: IssueId,
    reason: &str,
    message: &str,
) -> Result<Option<MessagePreview>> {
    preview_finish(panel, id, IssueStatus::WontFix, reason, message).await
}

/// A resolution or won't-fix, checked: the issue may go to that status and
/// has an owner, and the note and the message are given.
struct Finishing {
    issue: Issue,
    owner: Staff,
    note: String,
    message: String,
}

impl Finishing {
    async fn check(
        conn: &mut SqliteConnection,
        now: DateTime<Utc>,
        id: IssueId,
        to: IssueStatus,
        note: &str,
        message: &str,
    ) -> Result<Finishing> {
        let field = if to == IssueStatus::Resolved {
            "resolution note"
        } else {
            "reason"
        };
        let note = required(field, note)?;
        let message = required("message to the participant", message)?;
        let issue = get_in(conn, id, now).await?;
        if let Some(why) = issue.status.refusal(to) {
            return Err(Error::conflict(format!("issue {id}: {why}")));
        }
        let owner = match issue.owner {
            Some(o) => staff::get_in(conn, o).await?,
            None => return Err(Error::conflict(format!("issue {id} has no owner"))),
        };
        Ok(Finishing {
            issue,
            owner,
            note,
            message,
        })
    }

    /// The message to the participant, from the owner.
    fn reply(&self, now: DateTime<Utc>) -> Result<Option<NewMessage>> {
        let template = Template::Resolution(templates::Resolution {
            participant_name: self.issue.participant_name.clone(),
            summary: self.issue.summary.clone(),
            resolution: self.message.clone(),
            owner_name: self.owner.name.clone(),
        });
        to_participant(
            now,
            &self.issue,
            &self.owner,
            MessageKind::Resolution,
            template,
        )
    }
}

async fn preview_finish(
    panel: &Panel,
    id: IssueId,
    to: IssueStatus,
    note: &str,
    message: &str,
) -> Result<Option<MessagePreview>> {
    let now = panel.now();
    let mut conn = panel.pool().acquire().await?;
    let finishing = Finishing::check(&mut conn, now, id, to, note, message).await?;
    Ok(finishing.reply(now)?.as_ref().map(MessagePreview::from))
}

async fn finish(
    panel: &Panel,
    id: IssueId,
    to: IssueStatus,
    note: &str,
    message: &str,
) -> Result<Issue> {
    let actor = actor(panel).await?;
    let now = panel.now();
    let mut tx = panel.write().await?;
    let finishing = Finishing::check(&mut tx, now, id, to, note, message).await?;
    change_status(&mut tx, &finishing.issue, to).await?;
    sqlx::query("UPDATE issues SET resolution = ?, resolved_at = ? WHERE id = ?")
        .bind(&finishing.note)
        .bind(millis(now))
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
    let sent = match finishing.reply(now)? {
        Some(reply) => Some(mail::enqueue(&mut tx, now, &reply).await?),
        None => None,
    };
    event(
        &mut tx,
        id,
        now,
        actor,
        to.as_str(),
        json!({"note": finishing.note, "message": finishing.message, "queued": sent.map(|m| m.0)}),
    )
    .await?;
    let levels = levels_in(&mut tx).await?;
    replan(&mut tx, now, &levels, id).await?;
    tx.commit().await?;
    panel.wake_mail();
    get(panel, id).await
}

/// Closes a resolved (or won't-fix) issue.
pub async fn close(panel: &Panel, id: IssueId) -> Result<Issue> {
    let actor = actor(panel).await?;
    let now = panel.now();
    let mut tx = panel.write().await?;
    let issue = get_in(&mut tx, id, now).await?;
    change_status(&mut tx, &issue, IssueStatus::Closed).await?;
    event(&mut tx, id, now, actor, "closed", json!({})).await?;
    tx.commit().await?;
    get(panel, id).await
}

/// Reopens a finished issue: it is open again, due for resolution by the
/// service level from now.
pub async fn reopen(panel: &Panel, id: IssueId, reason: &str) -> Result<Issue> {
    let reason = required("reason", reason)?;
    let actor = actor(panel).await?;
    let now = panel.now();
    let mut tx = panel.write().await?;
    let issue = get_in(&mut tx, id, now).await?;
    change_status(&mut tx, &issue, IssueStatus::Open).await?;
    let levels = levels_in(&mut tx).await?;
    let zone = sessions::get_in(&mut tx, issue.session).await?.time_zone;
    let (first_contact_due, resolution_due) = levels.dues(issue.severity, now, zone);
    sqlx::query(
        "UPDATE issues SET resolved_at = NULL, first_contact_due = ?, resolution_due = ?, \
         escalations = 0, last_escalated_at = NULL, reopens = reopens + 1, reopened_at = ? \
         WHERE id = ?",
    )
    .bind(millis(first_contact_due))
    .bind(millis(resolution_due))
    .bind(millis(now))
    .bind(id.0)
    .execute(&mut *tx)
    .await?;
    event(
        &mut tx,
        id,
        now,
        actor,
        "reopened",
        json!({"reason": reason}),
    )
    .await?;
    replan(&mut tx, now, &levels, id).await?;
    tx.commit().await?;
    get(panel, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_next_step_is_allowed() {
        use IssueStatus::*;
        assert!(Open.refusal(Contacted).is_none());
        assert!(Contacted.refusal(Resolved).is_none());
        assert!(Contacted.refusal(WontFix).is_none());
        assert!(Resolved.refusal(Closed).is_none());
        assert!(Closed.refusal(Open).is_none());
        assert_eq!(
            Open.refusal(Resolved).as_deref(),
            Some("the participant has not been contacted yet: log a contact first")
        );
        assert_eq!(
            Open.refusal(Closed).as_deref(),
            Some("only a resolved or won't-fix issue can be closed")
        );
        assert_eq!(
            Resolved.refusal(Resolved).as_deref(),
            Some("the issue is already resolved")
        );
        assert!(Contacted.refusal(Open).is_some());
    }

    fn berlin_zone() -> crate::TimeZone {
        crate::TimeZone::parse("Europe/Berlin").unwrap()
    }

    #[test]
    fn business_days_stop_the_clock_over_the_weekend() {
        let berlin = |s: &str| {
            sessions::instant_in(berlin_zone(), s.parse().expect("a local time")).expect("exists")
        };
        let mut levels = ServiceLevels::default();
        let friday = berlin("2027-03-19T16:00:00");
        let (first, resolution) = levels.dues(Severity::High, friday, berlin_zone());
        assert_eq!(first, friday + Duration::hours(24));
        assert_eq!(resolution, friday + Duration::days(5));

        levels.days = DayCount::Business;
        let (first, resolution) = levels.dues(Severity::High, friday, berlin_zone());
        assert_eq!(
            first,
            berlin("2027-03-22T16:00:00"),
            "Friday 16:00 + 24 h is Monday 16:00"
        );
        // Five business days over a weekend that moves the clocks (28 March).
        assert_eq!(resolution, berlin("2027-03-26T16:00:00"));
        let saturday = berlin("2027-03-27T11:00:00");
        let (first, _) = levels.dues(Severity::Critical, saturday, berlin_zone());
        assert_eq!(
            first,
            berlin("2027-03-29T04:00:00"),
            "the clock starts on Monday"
        );
    }
}
