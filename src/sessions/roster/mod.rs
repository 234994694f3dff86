//! A session's roster: who is invited (through a screener or by name, always
//! through the contact rules), their RSVPs, attendance and incentives, and
//! the mail that goes with each change: invitations with a calendar entry,
//! updates, cancellations and reminders.
//!
//! Every change and its mail commit together. Invitations, confirmations,
//! declines and attendance are written to the contact history, which the
//! contact rules read (cooldown, yearly cap, no-show ban).

mod messages;
mod store;

pub(crate) use messages::session_mail_of;
pub(crate) use store::{RosterRecord, insert_records};

use messages::{Person, topic};

use super::model::*;
use crate::db::{Conn, millis};
use crate::mail;
use crate::mail::settings::SmtpSettings;
use crate::participants::fields::Email;
use crate::participants::governance::{self, EligibilityOptions, Excluded, Exclusion};
use crate::participants::history::{self, ContactKind};
use crate::participants::{self, ParticipantId};
use crate::{Error, Panel, Result, settings};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use std::collections::{BTreeMap, HashMap};
use ts_rs::TS;

/// When reminders go out before a session, in minutes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReminderPlan {
    pub minutes_before: Vec<u32>,
}

impl Default for ReminderPlan {
    fn default() -> Self {
        ReminderPlan {
            minutes_before: vec![24 * 60, 2 * 60],
        }
    }
}

const REMINDERS_KEY: &str = "reminders";

/// The reminder offsets in force (default 24 h and 2 h before).
pub async fn reminders(panel: &Panel) -> Result<ReminderPlan> {
    let mut conn = panel.conn().await?;
    Ok(settings::get(&mut conn, REMINDERS_KEY)
        .await?
        .unwrap_or_default())
}

/// Replaces the reminder offsets (for confirmations from now on).
pub async fn set_reminders(panel: &Panel, plan: &ReminderPlan) -> Result<ReminderPlan> {
    let mut minutes = plan.minutes_before.clone();
    if let Some(bad) = minutes.iter().find(|&&m| m == 0 || m > 60 * 24 * 30) {
        return Err(Error::invalid(
            "reminder",
            format!("{bad} minutes"),
            "must be between 1 minute and 30 days before the start",
        ));
    }
    minutes.sort_unstable_by(|a, b| b.cmp(a));
    minutes.dedup();
    let plan = ReminderPlan {
        minutes_before: minutes,
    };
    let mut conn = panel.conn().await?;
    settings::put(&mut conn, REMINDERS_KEY, &plan).await?;
    Ok(plan)
}

async fn person(
    conn: impl Into<Conn<'_>>,
    id: ParticipantId,
    fallback_zone: &str,
) -> Result<Person> {
    let mut conn = conn.into();
    let (name, email, zone) = participants::contact_in(conn.reborrow(), id).await?;
    Ok(Person {
        id,
        name,
        email: email.as_deref().and_then(|e| Email::parse(e).ok()),
        zone: zone.unwrap_or_else(|| fallback_zone.to_string()),
    })
}

/// Who the mail comes from: the SMTP sender when set up, else the moderator.
async fn organiser(conn: impl Into<Conn<'_>>, session: &Session) -> Result<(String, String)> {
    let mut conn = conn.into();
    let smtp: Option<SmtpSettings> = settings::get(conn.reborrow(), "smtp").await?;
    Ok(match smtp {
        Some(s) => (
            if s.from_name.is_empty() {
                session.moderator.name.clone()
            } else {
                s.from_name
            },
            s.reply_to.unwrap_or(s.from_address),
        ),
        None => (
            session.moderator.name.clone(),
            session.moderator.email.clone(),
        ),
    })
}

/// Withdraws every message about sessions still waiting to go to `p`
/// (invitations, updates, reminders, cancellations, waitlist offers): a
/// person who becomes uncontactable hears nothing more about sessions.
/// What they are owed about their own issues is not session mail and stays.
pub(crate) async fn withdraw_session_mail(
    conn: impl Into<crate::db::Conn<'_>>,
    now: DateTime<Utc>,
    p: ParticipantId,
) -> Result<u64> {
    mail::cancel_glob(conn, now, &session_mail_of(p)).await
}

/// Queues an invitation (or, with `updated`, its replacement) to `p`.
async fn queue_invitation(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    session: &Session,
    p: &Person,
    organiser: &(String, String),
    updated: bool,
) -> Result<bool> {
    let mut conn = conn.into();
    let Some(email) = &p.email else {
        return Ok(false);
    };
    let message = messages::invitation(now, session, p, email, organiser, updated)?;
    mail::enqueue(conn.reborrow(), now, &message).await?;
    Ok(true)
}

/// Withdraws `p`'s waiting reminders and, if they are confirmed for a
/// session still ahead, queues one per offset that has not passed.
async fn plan_reminders(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    session: &Session,
    p: &Person,
    confirmed: bool,
    organiser: &(String, String),
) -> Result<()> {
    let mut conn = conn.into();
    mail::cancel_topic(conn.reborrow(), now, &topic(session, p.id, "reminder/")).await?;
    let Some(email) = &p.email else {
        return Ok(());
    };
    if !confirmed || session.status == SessionStatus::Cancelled {
        return Ok(());
    }
    let plan: ReminderPlan = settings::get(conn.reborrow(), REMINDERS_KEY)
        .await?
        .unwrap_or_default();
    for minutes in plan.minutes_before {
        let at = session.starts_at - Duration::minutes(minutes as i64);
        if at <= now {
            continue;
        }
        let reminder = messages::reminder(session, p, email, organiser, minutes, at)?;
        mail::enqueue(conn.reborrow(), now, &reminder).await?;
    }
    Ok(())
}

/// After a reschedule: an updated calendar entry to everyone still coming,
/// and reminders planned again.
pub(crate) async fn send_updates(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    session: &Session,
) -> Result<()> {
    let mut conn = conn.into();
    let organiser = organiser(conn.reborrow(), session).await?;
    for (id, rsvp) in store::coming(conn.reborrow(), session.id).await? {
        let p = person(conn.reborrow(), id, session.time_zone.name()).await?;
        mail::cancel_topic(conn.reborrow(), now, &topic(session, id, "invitation")).await?;
        queue_invitation(conn.reborrow(), now, session, &p, &organiser, true).await?;
        plan_reminders(
            conn.reborrow(),
            now,
            session,
            &p,
            rsvp == Rsvp::Confirmed,
            &organiser,
        )
        .await?;
    }
    Ok(())
}

/// After a cancellation: a calendar cancellation to everyone still coming;
/// waiting invitations and reminders are withdrawn.
pub(crate) async fn send_cancellations(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    session: &Session,
) -> Result<()> {
    let mut conn = conn.into();
    let organiser = organiser(conn.reborrow(), session).await?;
    mail::cancel_topic(conn.reborrow(), now, &format!("session/{}/", session.id)).await?;
    for (id, _) in store::coming(conn.reborrow(), session.id).await? {
        let p = person(conn.reborrow(), id, session.time_zone.name()).await?;
        let Some(email) = &p.email else { continue };
        let cancellation = messages::cancellation(now, session, &p, email, &organiser)?;
        mail::enqueue(conn.reborrow(), now, &cancellation).await?;
    }
    Ok(())
}

/// People on other scheduled sessions overlapping `[from, to)`, by id, with
/// that session (for the double-booking rule).
async fn busy(
    conn: impl Into<Conn<'_>>,
    session: SessionId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<HashMap<i64, Exclusion>> {
    let mut conn = conn.into();
    let rows = store::overlapping(conn.reborrow(), session, from, to).await?;
    let mut out = HashMap::new();
    for (participant, id, title, starts_at) in rows {
        out.entry(participant.0).or_insert(Exclusion::DoubleBooked {
            session: id.0,
            title,
            starts_at,
        });
    }
    Ok(out)
}

/// The first roster member of `session` who is in another overlapping
/// session at `[from, to)`, with that session.
pub(crate) async fn participant_clash(
    conn: impl Into<Conn<'_>>,
    session: SessionId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Option<(String, (i64, String, i64))>> {
    let mut conn = conn.into();
    let busy = busy(conn.reborrow(), session, from, to).await?;
    for (id, _) in store::coming(conn.reborrow(), session).await? {
        if let Some(Exclusion::DoubleBooked {
            session,
            title,
            starts_at,
        }) = busy.get(&id.0)
        {
            let (name, _, _) = participants::contact_in(conn.reborrow(), id).await?;
            return Ok(Some((
                format!("participant {name}"),
                (*session, title.clone(), millis(*starts_at)),
            )));
        }
    }
    Ok(None)
}

/// Invites people to a session: through a screener (quota cells count the
/// people already on the roster) or by name, always through the contact
/// rules, never twice, and (unless allowed) never into an overlapping
/// session. Each invitation is queued with its calendar entry and written
/// to the contact history, all in one transaction. A preview does the
/// same checks and changes nothing.
pub async fn invite(panel: &Panel, id: SessionId, request: &InviteRequest) -> Result<InviteReport> {
    let now = panel.now();
    let session = super::get(panel, id).await?;
    if session.status == SessionStatus::Cancelled {
        return Err(Error::conflict(format!("session {id} was cancelled")));
    }
    if session.ends_at <= now {
        return Err(Error::conflict(format!(
            "session {id} is over; invite people to a session still ahead"
        )));
    }
    if session.starts_at <= now && !request.allow_started {
        return Err(Error::conflict(format!(
            "session {id} started at {}; to add someone who joins late, invite them with \
             --force (the app asks first)",
            session
                .starts_at
                .with_timezone(&session.time_zone.tz())
                .format("%H:%M %Z")
        )));
    }
    let mut conn = panel.conn().await?;
    let on_roster = store::members(&mut conn, id).await?;
    // A session that requires a consent invites only people who accepted
    // its current version; the others are excluded, saying so.
    let consent = match &session.consent_topic {
        Some(topic) => Some(participants::consent::requirement(&mut conn, topic).await?),
        None => None,
    };
    let mut also: HashMap<i64, Vec<Exclusion>> = HashMap::new();
    if !request.allow_double_booking {
        for (p, why) in busy(&mut conn, id, session.starts_at, session.ends_at).await? {
            also.entry(p).or_default().push(why);
        }
    }

    let mut invited: Vec<Invitee> = Vec::new();
    let mut excluded: Vec<Excluded> = Vec::new();
    let excluded_total: u32;
    let excluded_by_rule: BTreeMap<String, u32>;
    let mut beyond_limit = 0;
    match &request.invitees {
        Invitees::Screener { name, limit } => {
            let screener = participants::screener::get(panel, name).await?;
            let mut filled: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
            for quota in &screener.definition.quotas {
                let values = store::attribute_values(&mut conn, id, &quota.attribute).await?;
                for v in values {
                    *filled
                        .entry(quota.attribute.clone())
                        .or_default()
                        .entry(v.unwrap_or_else(|| "(none)".into()))
                        .or_default() += 1;
                }
            }
            let options = EligibilityOptions {
                limit: *limit,
                excluded_limit: request.excluded_limit,
                filled,
                also_excluded: also,
                // People on the roster already are not news.
                skip: on_roster.iter().map(|p| p.0).collect(),
                consent: consent.clone(),
                count_only: false,
            };
            let report = governance::eligible(panel, name, now, &options).await?;
            beyond_limit = report.beyond_limit;
            excluded = report.excluded;
            excluded_total = report.excluded_total;
            excluded_by_rule = report.excluded_by_rule;
            invited = report
                .eligible
                .into_iter()
                .map(|c| Invitee {
                    time_zone: c
                        .time_zone
                        .unwrap_or_else(|| session.time_zone.name().to_string()),
                    id: c.id,
                    name: c.name,
                    email: c.email,
                })
                .collect();
        }
        Invitees::Participants { keys } => {
            if keys.is_empty() {
                return Err(Error::invalid(
                    "participants",
                    "",
                    "name at least one participant",
                ));
            }
            for key in keys {
                let pid = participants::find(panel, key).await?;
                if invited.iter().any(|i| i.id == pid) {
                    continue;
                }
                let reasons = if on_roster.contains(&pid) {
                    vec![Exclusion::AlreadyInvited]
                } else {
                    let mut reasons = governance::status(panel, pid, now).await?.reasons;
                    if let Some(more) = also.get(&pid.0) {
                        reasons.extend(more.iter().cloned());
                    }
                    if let Some(missing) = consent.as_ref().and_then(|c| c.missing(pid)) {
                        reasons.push(missing);
                    }
                    reasons
                };
                let p = participants::get(panel, pid).await?;
                if reasons.is_empty() {
                    invited.push(Invitee {
                        id: pid,
                        name: p.name,
                        email: p.email.unwrap_or_default(),
                        time_zone: p
                            .time_zone
                            .unwrap_or_else(|| session.time_zone.name().to_string()),
                    });
                } else {
                    excluded.push(Excluded {
                        id: pid,
                        name: p.name,
                        email: p.email,
                        reasons,
                    });
                }
            }
            excluded_total = excluded.len() as u32;
            excluded_by_rule = governance::by_rule(excluded.iter().map(|e| e.reasons.as_slice()));
        }
    }
    drop(conn);
    if request.preview || invited.is_empty() {
        return Ok(InviteReport {
            session: id,
            preview: request.preview,
            invited,
            excluded,
            excluded_total,
            excluded_by_rule,
            beyond_limit,
            queued: 0,
        });
    }

    let mut tx = panel.begin().await?;
    if let Invitees::Screener { name, .. } = &request.invitees {
        super::store::set_screener(&mut tx, id, name).await?;
    }
    // Taken again under the write lock: nobody has changed it since.
    let session = super::get_for_change(&mut tx, id).await?;
    let organiser = organiser(&mut tx, &session).await?;
    let mut queued = 0;
    for who in &invited {
        let added = store::add_invited(&mut tx, id, who.id, now).await?;
        if !added {
            continue;
        }
        history::record_in(&mut tx, who.id, ContactKind::Invited, now, Some(id.0), None).await?;
        let p = Person {
            id: who.id,
            name: who.name.clone(),
            email: Email::parse(&who.email).ok(),
            zone: who.time_zone.clone(),
        };
        if queue_invitation(&mut tx, now, &session, &p, &organiser, false).await? {
            queued += 1;
        }
    }
    tx.commit().await?;
    panel.wake_mail();
    Ok(InviteReport {
        session: id,
        preview: false,
        invited,
        excluded,
        excluded_total,
        excluded_by_rule,
        beyond_limit,
        queued,
    })
}

/// The quota cells of the screener the session invited through, with how
/// many on the roster fill each (people without a value share "(none)").
pub async fn quota_cells(panel: &Panel, session: &Session) -> Result<Vec<QuotaCell>> {
    let Some(name) = &session.screener else {
        return Ok(Vec::new());
    };
    let Ok(screener) = participants::screener::get(panel, name).await else {
        return Ok(Vec::new());
    };
    let mut cells = Vec::new();
    for quota in &screener.definition.quotas {
        let mut conn = panel.conn().await?;
        let rows = store::quota_counts(&mut conn, session.id, &quota.attribute).await?;
        for (value, invited, confirmed) in rows {
            cells.push(QuotaCell {
                attribute: quota.attribute.clone(),
                value: value.unwrap_or_else(|| "(none)".into()),
                max: quota.max,
                invited,
                confirmed,
            });
        }
    }
    Ok(cells)
}

/// The roster, by name.
pub async fn entries(panel: &Panel, id: SessionId) -> Result<Vec<RosterEntry>> {
    let mut conn = panel.conn().await?;
    store::entries(&mut conn, id).await
}

async fn entry(panel: &Panel, id: SessionId, participant: ParticipantId) -> Result<RosterEntry> {
    entries(panel, id)
        .await?
        .into_iter()
        .find(|e| e.participant == participant)
        .ok_or_else(|| Error::not_found("roster entry", format!("{participant} in session {id}")))
}

async fn rostered(
    conn: impl Into<Conn<'_>>,
    id: SessionId,
    participant: ParticipantId,
) -> Result<Rsvp> {
    let mut conn = conn.into();
    store::rsvp_of(conn.reborrow(), id, participant)
        .await?
        .ok_or_else(|| {
            Error::conflict(format!(
                "participant {participant} is not invited to session {id}"
            ))
        })
}

/// Records a participant's answer. A confirmation beyond the over-recruit
/// target goes to the waitlist (a floater) while it has room; confirmed
/// people get reminders.
pub async fn rsvp(panel: &Panel, id: SessionId, key: &str, answer: Rsvp) -> Result<RosterEntry> {
    let participant = participants::find(panel, key).await?;
    let now = panel.now();
    let mut tx = panel.begin().await?;
    rsvp_in(&mut tx, now, id, participant, answer).await?;
    tx.commit().await?;
    panel.wake_mail();
    entry(panel, id, participant).await
}

/// [`rsvp`] inside the caller's write transaction; the answer as recorded
/// (a confirmation may go to the waitlist).
pub(crate) async fn rsvp_in(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    id: SessionId,
    participant: ParticipantId,
    answer: Rsvp,
) -> Result<Rsvp> {
    let mut tx = conn.into();
    let session = super::get_for_change(&mut tx, id).await?;
    if session.status == SessionStatus::Cancelled {
        return Err(Error::conflict(format!("session {id} was cancelled")));
    }
    let before = rostered(&mut tx, id, participant).await?;
    let mut answer = answer;
    if answer == Rsvp::Confirmed
        && before != Rsvp::Confirmed
        && session.counts.confirmed >= session.over_recruit
    {
        if before == Rsvp::Waitlisted || session.counts.waitlisted < session.floaters {
            answer = Rsvp::Waitlisted;
        } else {
            return Err(Error::conflict(format!(
                "session {id} has its {} confirmations and its {} waitlist places are taken",
                session.over_recruit, session.floaters
            )));
        }
    }
    store::set_rsvp(&mut tx, id, participant, answer, now).await?;
    let kind = match answer {
        Rsvp::Confirmed => Some(ContactKind::Confirmed),
        Rsvp::Declined => Some(ContactKind::Declined),
        _ => None,
    };
    if let Some(kind) = kind.filter(|_| answer != before) {
        history::record_in(&mut tx, participant, kind, now, Some(id.0), None).await?;
    }
    let p = person(&mut tx, participant, session.time_zone.name()).await?;
    let organiser = organiser(&mut tx, &session).await?;
    plan_reminders(
        &mut tx,
        now,
        &session,
        &p,
        answer == Rsvp::Confirmed,
        &organiser,
    )
    .await?;
    if before == Rsvp::Confirmed && answer != Rsvp::Confirmed {
        offer_place(&mut tx, now, &session, &organiser).await?;
    }
    Ok(answer)
}

/// The session whose calendar UID is `uid`.
pub(crate) async fn by_uid(conn: impl Into<Conn<'_>>, uid: &str) -> Result<Option<SessionId>> {
    store::by_uid(conn, uid).await
}

/// A confirmed place opened: it is offered to the first person on the
/// waitlist who has not been offered one yet, in the order they joined it,
/// by mail. They take it by confirming (their RSVP then goes through,
/// since a place is free); if they do not, the next place that opens goes
/// to the next person.
async fn offer_place(
    conn: impl Into<Conn<'_>>,
    now: DateTime<Utc>,
    session: &Session,
    organiser: &(String, String),
) -> Result<Option<ParticipantId>> {
    let mut conn = conn.into();
    if session.starts_at <= now || session.status == SessionStatus::Cancelled {
        return Ok(None);
    }
    let next = store::next_waitlisted(conn.reborrow(), session.id).await?;
    let Some(next) = next else {
        return Ok(None);
    };
    store::mark_offered(conn.reborrow(), session.id, next, now).await?;
    let p = person(conn.reborrow(), next, session.time_zone.name()).await?;
    if let Some(email) = &p.email {
        let offer = messages::waitlist_offer(now, session, &p, email, organiser)?;
        mail::enqueue(conn.reborrow(), now, &offer).await?;
    }
    Ok(Some(next))
}

/// What happened on the day, and the incentive.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct AttendanceInput {
    pub attendance: Option<Attendance>,
    /// In cents.
    #[ts(type = "number | null")]
    pub incentive_cents: Option<i64>,
    pub incentive_paid: Option<bool>,
}

/// Records attendance (which the contact rules count from the session's
/// start: no-shows, sessions per year, cooldown) and the incentive.
pub async fn attendance(
    panel: &Panel,
    id: SessionId,
    key: &str,
    input: &AttendanceInput,
) -> Result<RosterEntry> {
    let participant = participants::find(panel, key).await?;
    if let Some(c) = input.incentive_cents
        && c < 0
    {
        return Err(Error::invalid(
            "incentive",
            c.to_string(),
            "cannot be negative",
        ));
    }
    let now = panel.now();
    let mut tx = panel.begin().await?;
    let session = super::get_for_change(&mut tx, id).await?;
    if session.status == SessionStatus::Cancelled {
        return Err(Error::conflict(format!("session {id} was cancelled")));
    }
    let rsvp = rostered(&mut tx, id, participant).await?;
    if let Some(a) = input.attendance {
        if now < session.attendance_from {
            return Err(Error::conflict(format!(
                "session {id} starts {}; attendance is taken from an hour before the start ({})",
                session.starts_at.format("%Y-%m-%d %H:%M UTC"),
                session.attendance_from.format("%H:%M UTC")
            )));
        }
        store::set_attendance(&mut tx, id, participant, a, now).await?;
        // One attendance entry per person and session: a correction replaces it.
        history::forget_outcome(&mut tx, participant, id.0).await?;
        let kind = match a {
            Attendance::Attended => ContactKind::Attended,
            Attendance::Late => ContactKind::Late,
            Attendance::NoShow => ContactKind::NoShow,
            Attendance::Cancelled => ContactKind::Cancelled,
        };
        history::record_in(
            &mut tx,
            participant,
            kind,
            session.starts_at.min(now),
            Some(id.0),
            None,
        )
        .await?;
        // A confirmed person who cancels before the start frees a place.
        if a == Attendance::Cancelled && rsvp == Rsvp::Confirmed {
            let organiser = organiser(&mut tx, &session).await?;
            offer_place(&mut tx, now, &session, &organiser).await?;
        }
    }
    if input.incentive_cents.is_some() || input.incentive_paid.is_some() {
        store::set_incentive(
            &mut tx,
            id,
            participant,
            input.incentive_cents,
            input.incentive_paid,
            now,
        )
        .await?;
    }
    tx.commit().await?;
    entry(panel, id, participant).await
}
