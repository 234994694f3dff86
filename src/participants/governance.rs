//! Contact governance: whether a participant may be invited at a given
//! time, and if not, every reason why.
//!
//! The rules (cooldown, yearly cap, no-show ban) are settings. The facts
//! come from the participant record, the contact history and the
//! suppression lists; [`check`] is a pure function of facts, rules and time,
//! so the same answer is given for one person's detail pane (facts read
//! with SQL) and for a screener run over the whole panel ([`eligible`],
//! facts read from the in-memory panel index).

use super::ParticipantId;
use super::index::{Compiled, Named, PanelIndex, Person};
use super::screener::{self, Screener, ScreenerDefinition};
use crate::db::{Conn, either};
use crate::db::{instant, millis};
use crate::error::{Error, Result};
use crate::{Panel, settings};
use chrono::{DateTime, Duration, Months, Utc};
use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use ts_rs::TS;

/// The contact rules. A rule set to 0 is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct GovernanceRules {
    /// No invitation within this many days of the last invitation or session.
    pub cooldown_days: u32,
    /// At most this many sessions taken part in over the last 12 months.
    pub max_sessions_per_year: u32,
    /// Not invited again after this many no-shows.
    pub no_show_ban_after: u32,
}

impl Default for GovernanceRules {
    fn default() -> Self {
        GovernanceRules {
            cooldown_days: 90,
            max_sessions_per_year: 4,
            no_show_ban_after: 2,
        }
    }
}

const RULES_KEY: &str = "governance";

/// The rules in force.
pub async fn rules(panel: &Panel) -> Result<GovernanceRules> {
    let mut conn = panel.conn().await?;
    Ok(settings::get(&mut conn, RULES_KEY)
        .await?
        .unwrap_or_default())
}

/// Replaces the rules.
pub async fn set_rules(panel: &Panel, rules: &GovernanceRules) -> Result<GovernanceRules> {
    if rules.cooldown_days > 3650 {
        return Err(Error::invalid(
            "cooldown days",
            rules.cooldown_days.to_string(),
            "must be at most 3650",
        ));
    }
    let mut conn = panel.conn().await?;
    settings::put(&mut conn, RULES_KEY, rules).await?;
    Ok(*rules)
}

/// One reason a participant may not be invited now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(
    tag = "rule",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Exclusion {
    Erased,
    OptedOut {
        at: DateTime<Utc>,
    },
    DoNotContact,
    Suppressed {
        lists: Vec<String>,
    },
    Cooldown {
        last_contact: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    /// Already booked (invited or confirmed) for a session still ahead:
    /// the cooldown runs from that session.
    Booked {
        starts_at: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    YearlyCap {
        /// Sessions taken part in over the last 12 months.
        sessions: u32,
        /// Sessions ahead they are booked for (counted from the booking).
        booked: u32,
        cap: u32,
    },
    NoShowBan {
        no_shows: u32,
        limit: u32,
    },
    /// A screener criterion the person fails.
    NotQualified {
        criterion: String,
    },
    /// The quota cell for the person's value is full.
    QuotaFull {
        attribute: String,
        value: String,
        max: u32,
    },
    /// Already on this session's roster.
    AlreadyInvited,
    /// The session requires a consent they have not accepted (this
    /// version of it; `accepted` is an earlier one, if any).
    ConsentMissing {
        topic: String,
        version: u32,
        accepted: Option<u32>,
    },
    /// On the roster of another session at an overlapping time.
    DoubleBooked {
        #[ts(type = "number")]
        session: i64,
        title: String,
        starts_at: DateTime<Utc>,
    },
}

/// Every rule's name, as [`Exclusion`] is tagged in JSON, in the order of
/// [`Exclusion::rule_number`].
const RULES: [&str; 13] = [
    "erased",
    "optedOut",
    "doNotContact",
    "suppressed",
    "cooldown",
    "booked",
    "yearlyCap",
    "noShowBan",
    "notQualified",
    "quotaFull",
    "alreadyInvited",
    "consentMissing",
    "doubleBooked",
];

impl Exclusion {
    /// The rule's name, as it is tagged in JSON.
    pub fn rule(&self) -> &'static str {
        RULES[self.rule_number()]
    }

    /// The rule's place in [`RULES`].
    fn rule_number(&self) -> usize {
        match self {
            Exclusion::Erased => 0,
            Exclusion::OptedOut { .. } => 1,
            Exclusion::DoNotContact => 2,
            Exclusion::Suppressed { .. } => 3,
            Exclusion::Cooldown { .. } => 4,
            Exclusion::Booked { .. } => 5,
            Exclusion::YearlyCap { .. } => 6,
            Exclusion::NoShowBan { .. } => 7,
            Exclusion::NotQualified { .. } => 8,
            Exclusion::QuotaFull { .. } => 9,
            Exclusion::AlreadyInvited => 10,
            Exclusion::ConsentMissing { .. } => 11,
            Exclusion::DoubleBooked { .. } => 12,
        }
    }
}

/// How many people each rule excludes, counted as they come.
#[derive(Debug, Default, Clone, Copy)]
struct Tally([u32; RULES.len()]);

impl Tally {
    /// Counts one person's reasons, each rule once.
    fn add(&mut self, reasons: &[Exclusion]) {
        self.add_rules(
            reasons
                .iter()
                .fold(0, |bits, r| bits | 1 << r.rule_number()),
        );
    }

    /// Counts one person excluded by the rules whose bits are set.
    fn add_rules(&mut self, rules: u16) {
        for (n, count) in self.0.iter_mut().enumerate() {
            if rules & (1 << n) != 0 {
                *count += 1;
            }
        }
    }

    fn merge(&mut self, other: &Tally) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }

    fn by_name(&self) -> BTreeMap<String, u32> {
        RULES
            .iter()
            .zip(self.0)
            .filter(|(_, n)| *n > 0)
            .map(|(rule, n)| (rule.to_string(), n))
            .collect()
    }
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let day = |d: &DateTime<Utc>| d.format("%Y-%m-%d").to_string();
        match self {
            Exclusion::Erased => write!(f, "erased"),
            Exclusion::OptedOut { at } => write!(f, "opted out on {}", day(at)),
            Exclusion::DoNotContact => write!(f, "marked do not contact"),
            Exclusion::Suppressed { lists } => {
                write!(f, "on suppression list {}", lists.join(", "))
            }
            Exclusion::Cooldown {
                last_contact,
                until,
            } => write!(
                f,
                "in cooldown: last contact {}, invitable from {}",
                day(last_contact),
                day(until)
            ),
            Exclusion::Booked { starts_at, until } => write!(
                f,
                "booked for a session on {}, invitable from {}",
                day(starts_at),
                day(until)
            ),
            Exclusion::YearlyCap {
                sessions,
                booked: 0,
                cap,
            } => {
                write!(f, "{sessions} sessions in the last 12 months (cap {cap})")
            }
            Exclusion::YearlyCap {
                sessions,
                booked,
                cap,
            } => write!(
                f,
                "{sessions} sessions in the last 12 months and {booked} booked ahead (cap {cap})"
            ),
            Exclusion::NoShowBan { no_shows, limit } => {
                write!(f, "{no_shows} no-shows (banned after {limit})")
            }
            Exclusion::NotQualified { criterion } => write!(f, "does not meet {criterion}"),
            Exclusion::QuotaFull {
                attribute,
                value,
                max,
            } => {
                write!(f, "quota full: {attribute}={value} already has {max}")
            }
            Exclusion::AlreadyInvited => write!(f, "already invited to this session"),
            Exclusion::ConsentMissing {
                topic,
                version,
                accepted,
            } => {
                write!(
                    f,
                    "has not accepted consent \"{topic}\" version {version}, which this session requires"
                )?;
                match accepted {
                    Some(v) => write!(f, " (accepted version {v})"),
                    None => Ok(()),
                }
            }
            Exclusion::DoubleBooked {
                session,
                title,
                starts_at,
            } => write!(
                f,
                "double-booked: already in session {session} \"{title}\" at {}",
                starts_at.format("%Y-%m-%d %H:%M UTC")
            ),
        }
    }
}

/// What governance knows about one participant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Facts {
    pub erased: bool,
    pub opted_out_at: Option<DateTime<Utc>>,
    pub do_not_contact: bool,
    pub suppressed_by: Vec<String>,
    /// The last invitation or session before the time of evaluation.
    pub last_contact: Option<DateTime<Utc>>,
    /// Sessions attended (or attended late) in the 12 months before.
    pub sessions_last_year: u32,
    pub no_shows: u32,
    /// Sessions still ahead they are booked for (invited, confirmed,
    /// tentative or waitlisted), counted from the moment of booking.
    pub booked_ahead: u32,
    /// The start of the latest of those sessions.
    pub latest_booking: Option<DateTime<Utc>>,
}

/// Every reason these facts exclude a participant at `now` (empty: eligible).
pub fn check(facts: &Facts, rules: &GovernanceRules, now: DateTime<Utc>) -> Vec<Exclusion> {
    let mut out = Vec::new();
    each_reason(facts, rules, now, |reason| {
        let made = reason.make();
        debug_assert_eq!(made.rule_number(), reason.rule, "{made:?}");
        out.push(made);
    });
    out
}

/// One reason [`each_reason`] found: which rule, and the [`Exclusion`]
/// that says so, made only for a caller that shows it.
struct Reason<'a> {
    rule: usize,
    make: &'a dyn Fn() -> Exclusion,
}

impl Reason<'_> {
    fn make(&self) -> Exclusion {
        (self.make)()
    }
}

/// The rules of [`check`], one call of `found` for each reason, so that a
/// run over a whole panel can count the reasons of people it does not list
/// without making them.
fn each_reason(
    facts: &Facts,
    rules: &GovernanceRules,
    now: DateTime<Utc>,
    mut found: impl FnMut(Reason<'_>),
) {
    if facts.erased {
        found(Reason {
            rule: 0,
            make: &|| Exclusion::Erased,
        });
        return;
    }
    if let Some(at) = facts.opted_out_at {
        found(Reason {
            rule: 1,
            make: &|| Exclusion::OptedOut { at },
        });
    }
    if facts.do_not_contact {
        found(Reason {
            rule: 2,
            make: &|| Exclusion::DoNotContact,
        });
    }
    if !facts.suppressed_by.is_empty() {
        found(Reason {
            rule: 3,
            make: &|| Exclusion::Suppressed {
                lists: facts.suppressed_by.clone(),
            },
        });
    }
    if rules.cooldown_days > 0 {
        let cooldown = Duration::days(rules.cooldown_days as i64);
        // A session booked ahead counts as the latest contact from the
        // moment it is booked: the cooldown runs from it.
        match (facts.latest_booking, facts.last_contact) {
            (Some(starts_at), _) => found(Reason {
                rule: 5,
                make: &|| Exclusion::Booked {
                    starts_at,
                    until: starts_at + cooldown,
                },
            }),
            (None, Some(last)) if now < last + cooldown => found(Reason {
                rule: 4,
                make: &|| Exclusion::Cooldown {
                    last_contact: last,
                    until: last + cooldown,
                },
            }),
            _ => {}
        }
    }
    let counted = facts.sessions_last_year + facts.booked_ahead;
    if rules.max_sessions_per_year > 0 && counted >= rules.max_sessions_per_year {
        found(Reason {
            rule: 6,
            make: &|| Exclusion::YearlyCap {
                sessions: facts.sessions_last_year,
                booked: facts.booked_ahead,
                cap: rules.max_sessions_per_year,
            },
        });
    }
    if rules.no_show_ban_after > 0 && facts.no_shows >= rules.no_show_ban_after {
        found(Reason {
            rule: 7,
            make: &|| Exclusion::NoShowBan {
                no_shows: facts.no_shows,
                limit: rules.no_show_ban_after,
            },
        });
    }
}

/// A participant's standing at one time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct GovernanceStatus {
    pub at: DateTime<Utc>,
    pub eligible: bool,
    pub reasons: Vec<Exclusion>,
    pub facts: Facts,
}

/// The start of the rolling 12 months the yearly cap counts sessions in.
pub(crate) fn year_before(at: DateTime<Utc>) -> DateTime<Utc> {
    at.checked_sub_months(Months::new(12)).unwrap_or(at)
}

const CONTACT_KINDS: &str = "('invited', 'attended', 'late', 'no_show')";
const SESSION_KINDS: &str = "('attended', 'late')";

/// Contact facts from the history before `at`, per participant (of one
/// participant with `only`). Screener runs read the same facts from the
/// panel index; a test holds the two to the same answers.
async fn contact_facts(
    conn: impl Into<Conn<'_>>,
    at: DateTime<Utc>,
    only: Option<ParticipantId>,
) -> Result<HashMap<i64, (Option<i64>, u32, u32)>> {
    let rows: Vec<(i64, Option<i64>, i64, i64)> = either!(conn, |c| {
        let mut q = QueryBuilder::new(format!(
            "SELECT participant_id, \
               MAX(CASE WHEN kind IN {CONTACT_KINDS} THEN at END), \
               SUM(CASE WHEN kind IN {SESSION_KINDS} AND at > "
        ));
        q.push_bind(millis(year_before(at)))
            .push(
                " THEN 1 ELSE 0 END), SUM(CASE WHEN kind = 'no_show' THEN 1 ELSE 0 END) \
                   FROM contact_history WHERE at <= ",
            )
            .push_bind(millis(at));
        if let Some(id) = only {
            q.push(" AND participant_id = ").push_bind(id.0);
        }
        q.push(" GROUP BY participant_id");
        q.build_query_as().fetch_all(&mut *c).await?
    });
    Ok(rows
        .into_iter()
        .map(|(id, last, sessions, no_shows)| (id, (last, sessions as u32, no_shows as u32)))
        .collect())
}

/// Sessions still ahead at `at` that each participant was booked for by
/// then (of one participant with `only`): how many, and when the latest
/// starts. The panel index reads the same rows.
pub(crate) const BOOKINGS: &str = "SELECT r.participant, r.invited_at, s.starts_at \
    FROM session_participants r JOIN sessions s ON s.id = r.session \
    WHERE s.status = 'scheduled' AND r.attendance IS NULL \
    AND r.rsvp IN ('invited', 'confirmed', 'tentative', 'waitlisted')";

async fn bookings(
    conn: impl Into<Conn<'_>>,
    at: DateTime<Utc>,
    only: Option<ParticipantId>,
) -> Result<HashMap<i64, (u32, i64)>> {
    let rows: Vec<(i64, i64, i64)> = either!(conn, |c| {
        let mut q = QueryBuilder::new(format!(
            "SELECT participant, count(*), max(starts_at) FROM ({BOOKINGS}) AS b \
             WHERE invited_at <= "
        ));
        q.push_bind(millis(at))
            .push(" AND starts_at > ")
            .push_bind(millis(at));
        if let Some(id) = only {
            q.push(" AND participant = ").push_bind(id.0);
        }
        q.push(" GROUP BY participant");
        q.build_query_as().fetch_all(&mut *c).await?
    });
    Ok(rows
        .into_iter()
        .map(|(id, n, latest)| (id, (n as u32, latest)))
        .collect())
}

/// The suppression lists each suppressed participant is on.
async fn suppressed(
    conn: impl Into<Conn<'_>>,
    only: Option<ParticipantId>,
) -> Result<HashMap<i64, Vec<String>>> {
    let rows: Vec<(i64, String)> = either!(conn, |c| {
        let mut q = QueryBuilder::new(
            "SELECT p.id, l.name FROM suppressions s \
             JOIN suppression_lists l ON l.id = s.list_id \
             JOIN participants p ON p.email_hash = s.hash WHERE p.erased_at IS NULL",
        );
        if let Some(id) = only {
            q.push(" AND p.id = ").push_bind(id.0);
        }
        q.push(" ORDER BY p.id, l.name");
        q.build_query_as().fetch_all(&mut *c).await?
    });
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    for (id, list) in rows {
        out.entry(id).or_default().push(list);
    }
    Ok(out)
}

/// One participant's governance status at `at`.
pub async fn status(
    panel: &Panel,
    id: ParticipantId,
    at: DateTime<Utc>,
) -> Result<GovernanceStatus> {
    let rules = rules(panel).await?;
    let mut conn = panel.conn().await?;
    let row: Option<(Option<i64>, bool, Option<i64>)> = either!(&mut conn, |c| sqlx::query_as(
        "SELECT opted_out_at, do_not_contact, erased_at FROM participants WHERE id = $1",
    )
    .bind(id.0)
    .fetch_optional(&mut *c)
    .await?);
    let (opted_out_at, do_not_contact, erased_at) =
        row.ok_or_else(|| Error::not_found("participant", id))?;
    let contact = contact_facts(&mut conn, at, Some(id)).await?;
    let (last, sessions, no_shows) = contact.get(&id.0).copied().unwrap_or_default();
    let booked = bookings(&mut conn, at, Some(id)).await?.get(&id.0).copied();
    let facts = Facts {
        erased: erased_at.is_some(),
        opted_out_at: opted_out_at.map(instant),
        do_not_contact,
        suppressed_by: suppressed(&mut conn, Some(id))
            .await?
            .remove(&id.0)
            .unwrap_or_default(),
        last_contact: last.map(instant),
        sessions_last_year: sessions,
        no_shows,
        booked_ahead: booked.map_or(0, |(n, _)| n),
        latest_booking: booked.map(|(_, at)| instant(at)),
    };
    let reasons = check(&facts, &rules, at);
    Ok(GovernanceStatus {
        at,
        eligible: reasons.is_empty(),
        reasons,
        facts,
    })
}

/// A participant a screener run found eligible.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub id: ParticipantId,
    pub name: String,
    pub email: String,
    pub time_zone: Option<String>,
    /// The person's value for each quota attribute.
    pub cells: BTreeMap<String, String>,
}

/// A participant who qualified for a screener but may not be invited, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Excluded {
    pub id: ParticipantId,
    pub name: String,
    pub email: Option<String>,
    pub reasons: Vec<Exclusion>,
}

/// What a screener run over the panel found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EligibilityReport {
    pub screener: String,
    pub at: DateTime<Utc>,
    pub rules: GovernanceRules,
    /// Participants not erased.
    pub panel_size: u32,
    /// Participants who do not meet the screener's criteria.
    pub not_qualified: u32,
    /// Eligible, in the order they would be invited (longest since last
    /// contact first), within the quota cells and the limit.
    pub eligible: Vec<Candidate>,
    /// Qualified people excluded by a contact rule or a full quota cell,
    /// in id order: all of them, or the first
    /// [`EligibilityOptions::excluded_limit`].
    pub excluded: Vec<Excluded>,
    /// How many qualified people are excluded, listed or not.
    pub excluded_total: u32,
    /// How many of them each rule excludes, by the rule's name (as in
    /// [`Exclusion`]'s `rule`); someone excluded for two reasons counts
    /// under both.
    pub excluded_by_rule: BTreeMap<String, u32>,
    /// Eligible people left out only because the limit was reached.
    pub beyond_limit: u32,
}

/// Options for a screener run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct EligibilityOptions {
    /// At most this many eligible people.
    pub limit: Option<u32>,
    /// List at most this many of the excluded people (the counts cover
    /// everyone): a screen shows a page of them, not a hundred thousand.
    pub excluded_limit: Option<u32>,
    /// People already counted in each quota cell (attribute -> value -> n),
    /// such as those already invited to a session.
    pub filled: BTreeMap<String, BTreeMap<String, u32>>,
    /// Further reasons the caller knows of, by participant id (in an
    /// overlapping session).
    #[serde(skip)]
    #[ts(skip)]
    pub also_excluded: HashMap<i64, Vec<Exclusion>>,
    /// People left out of the run altogether (already on the session's
    /// roster: not news).
    #[serde(skip)]
    #[ts(skip)]
    pub skip: HashSet<i64>,
    /// A consent everyone invited must have accepted.
    #[serde(skip)]
    #[ts(skip)]
    pub consent: Option<ConsentRequirement>,
    /// Count the eligible (in `beyond_limit`, the quotas filled as they
    /// would be) without listing them.
    #[serde(skip)]
    #[ts(skip)]
    pub count_only: bool,
}

/// A consent a session requires, and who accepted which version of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentRequirement {
    pub topic: String,
    /// The current version: the one required.
    pub version: u32,
    /// The latest version each participant accepted.
    pub accepted: HashMap<i64, u32>,
}

impl ConsentRequirement {
    /// Why `p` may not be invited for want of consent; `None` when they
    /// accepted the current version.
    pub fn missing(&self, p: ParticipantId) -> Option<Exclusion> {
        let accepted = self.accepted.get(&p.0).copied();
        (accepted < Some(self.version)).then(|| Exclusion::ConsentMissing {
            topic: self.topic.clone(),
            version: self.version,
            accepted,
        })
    }
}

/// Runs a screener and the contact rules over the whole panel at `at`.
pub async fn eligible(
    panel: &Panel,
    screener_name: &str,
    at: DateTime<Utc>,
    options: &EligibilityOptions,
) -> Result<EligibilityReport> {
    let screener = screener::get(panel, screener_name).await?;
    eligible_for(panel, &screener, at, options).await
}

/// How many a screener not yet saved lets through now, and why the others
/// are kept out: the figures shown as it is edited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ScreenerCount {
    /// Participants not erased.
    pub panel_size: u32,
    /// Who the criteria leave out.
    pub not_qualified: u32,
    /// Who may be invited now, within the quotas.
    pub eligible: u32,
    /// Who qualifies but a contact rule or a full quota cell keeps out.
    pub excluded: u32,
    /// How many each rule keeps out (someone kept out twice counts twice).
    pub excluded_by_rule: BTreeMap<String, u32>,
}

/// Counts what the screener `definition` would give now, listing nobody.
pub async fn count(panel: &Panel, definition: &ScreenerDefinition) -> Result<ScreenerCount> {
    let now = panel.now();
    let screener = Screener {
        id: 0,
        name: "(draft)".into(),
        definition: definition.validate()?,
        created_at: now,
        updated_at: now,
    };
    let options = EligibilityOptions {
        excluded_limit: Some(0),
        count_only: true,
        ..Default::default()
    };
    let report = eligible_for(panel, &screener, now, &options).await?;
    Ok(ScreenerCount {
        panel_size: report.panel_size,
        not_qualified: report.not_qualified,
        eligible: report.eligible.len() as u32 + report.beyond_limit,
        excluded: report.excluded_total,
        excluded_by_rule: report.excluded_by_rule,
    })
}

/// [`eligible`] for a screener in hand.
pub async fn eligible_for(
    panel: &Panel,
    screener: &Screener,
    at: DateTime<Utc>,
    options: &EligibilityOptions,
) -> Result<EligibilityReport> {
    let rules = rules(panel).await?;
    let index = panel.index().await?;
    let started = std::time::Instant::now();
    // The panel in as many stretches as there are cores to spare, each
    // checked on its own thread.
    let threads = if index.people.len() >= PARALLEL_FROM {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
    } else {
        1
    };
    let mut report = evaluate(&index, screener, &rules, at, options, threads);
    let evaluated = started.elapsed();
    name_people(panel, &index, &mut report, NAMES_KEPT).await?;
    tracing::debug!(
        evaluate_ms = evaluated.as_millis() as u64,
        name_ms = (started.elapsed() - evaluated).as_millis() as u64,
        "screener run"
    );
    Ok(report)
}

/// How many people's names a snapshot keeps at most: a few MB. A run that
/// lists more than that (everyone at a million people) reads them each
/// time, as a command line run does anyway, and holds them only once.
const NAMES_KEPT: usize = 50_000;

/// Fills in the names, addresses and zones of the people a screener run
/// lists: those the snapshot `index` has named before from its names, the
/// others from the database (kept in the snapshot for the next run while
/// it keeps no more than `kept`, [`NAMES_KEPT`]).
async fn name_people(
    panel: &Panel,
    index: &PanelIndex,
    report: &mut EligibilityReport,
    kept: usize,
) -> Result<()> {
    let mut missing: Vec<i64> = {
        let names = index.names.lock().unwrap_or_else(|e| e.into_inner());
        let listed = report.eligible.iter().map(|c| c.id.0);
        listed
            .chain(report.excluded.iter().map(|e| e.id.0))
            .filter(|id| !names.contains_key(id))
            .collect()
    };
    let read = if missing.is_empty() {
        Vec::new()
    } else {
        read_names(panel, &mut missing).await?
    };
    let mut names = index.names.lock().unwrap_or_else(|e| e.into_inner());
    let keep = names.len() + read.len() <= kept;
    let mut fresh: HashMap<i64, Named> = HashMap::with_capacity(read.len());
    for (id, named) in read {
        if keep {
            names.insert(id, named.clone());
        }
        fresh.insert(id, named);
    }
    let mut named = |id: i64| fresh.remove(&id).or_else(|| names.get(&id).cloned());
    for c in &mut report.eligible {
        if let Some((name, email, zone)) = named(c.id.0) {
            c.name = name;
            c.email = email.unwrap_or_default();
            c.time_zone = zone;
        }
    }
    for e in &mut report.excluded {
        if let Some((name, email, _)) = named(e.id.0) {
            e.name = name;
            e.email = email;
        }
    }
    Ok(())
}

/// The names, addresses and zones of the participants `ids` (sorted here).
async fn read_names(panel: &Panel, ids: &mut [i64]) -> Result<Vec<(i64, Named)>> {
    let mut read = Vec::with_capacity(ids.len());
    // In id order the lookups walk the table's pages in order.
    ids.sort_unstable();
    let mut conn = panel.conn().await?;
    for chunk in ids.chunks(50_000) {
        let list = serde_json::to_string(chunk).expect("ids serialise");
        let sql = match conn.conn() {
            Conn::Sqlite(_) => format!(
                "SELECT p.id, p.name, p.email, p.time_zone FROM participants p \
                 WHERE p.id IN (SELECT value FROM json_each('{list}'))"
            ),
            Conn::Postgres(_) => format!(
                "SELECT p.id, p.name, p.email, p.time_zone FROM participants p \
                 WHERE p.id = ANY('{{{}}}'::bigint[])",
                list.trim_matches(['[', ']'])
            ),
        };
        crate::db::scan::scan(conn.conn(), &sql, |row| {
            read.push((
                row.int(0),
                (
                    row.text(1).unwrap_or_default().to_string(),
                    row.text(2).map(str::to_string),
                    row.text(3).map(str::to_string),
                ),
            ));
            Ok(())
        })
        .await?;
    }
    Ok(read)
}

/// The summary of [`by_rule`] in words, most common first: "cooldown
/// 1,204; yearly cap 12".
pub fn by_rule_text(counts: &BTreeMap<String, u32>) -> String {
    let mut counts: Vec<(&String, &u32)> = counts.iter().collect();
    counts.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    counts
        .into_iter()
        .map(|(rule, n)| {
            let words = match rule.as_str() {
                "erased" => "erased",
                "optedOut" => "opted out",
                "doNotContact" => "do not contact",
                "suppressed" => "on a suppression list",
                "cooldown" => "cooldown",
                "booked" => "booked ahead",
                "yearlyCap" => "yearly cap",
                "noShowBan" => "no-show ban",
                "notQualified" => "not qualified",
                "quotaFull" => "quota full",
                "alreadyInvited" => "already invited",
                "consentMissing" => "consent missing",
                "doubleBooked" => "double-booked",
                other => other,
            };
            format!("{words} {n}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// How many people each rule excludes, given every excluded person's
/// reasons; someone excluded twice by one rule counts once under it.
pub fn by_rule<'a>(people: impl IntoIterator<Item = &'a [Exclusion]>) -> BTreeMap<String, u32> {
    let mut tally = Tally::default();
    for reasons in people {
        tally.add(reasons);
    }
    tally.by_name()
}

/// What one pass over a stretch of the panel found: people are indexes
/// into the panel index's list.
#[derive(Default)]
struct Pass {
    not_qualified: u32,
    /// (last contact before the run, or never; person).
    passed: Vec<(i64, u32)>,
    /// The excluded who may be listed: all, or as many as the run lists
    /// (the stretch's first, which are the lowest ids).
    excluded: Vec<(u32, Vec<Exclusion>)>,
    excluded_total: u32,
    tally: Tally,
}

/// The panel index holds this many people or more before a run is split
/// across threads: below it, starting them costs more than they save.
const PARALLEL_FROM: usize = 50_000;

/// Criteria and contact rules for everyone in `people` (which starts at
/// index `first`).
fn pass(
    index: &PanelIndex,
    first: usize,
    people: &[Person],
    criteria: &[Compiled],
    rules: &GovernanceRules,
    at: DateTime<Utc>,
    options: &EligibilityOptions,
) -> Pass {
    let moment = index.moment(at);
    let mut out = Pass::default();
    // One person's facts and reasons at a time, their space reused: a
    // person who is not listed costs no allocation.
    let mut facts = Facts::default();
    let mut reasons = Vec::new();
    for (i, person) in people.iter().enumerate() {
        let i = (first + i) as u32;
        if options.skip.contains(&person.id) {
            continue;
        }
        if !criteria.iter().all(|c| index.passes(person, c)) {
            out.not_qualified += 1;
            continue;
        }
        index.facts_into(&mut facts, person, &moment);
        let listed = options
            .excluded_limit
            .is_none_or(|limit| out.excluded.len() < limit as usize);
        let mut rules_hit = 0u16;
        each_reason(&facts, rules, at, |reason| {
            rules_hit |= 1 << reason.rule;
            if listed {
                reasons.push(reason.make());
            }
        });
        let more = options.also_excluded.get(&person.id).into_iter().flatten();
        let consent = options
            .consent
            .as_ref()
            .and_then(|c| c.missing(ParticipantId(person.id)));
        for reason in more.cloned().chain(consent) {
            rules_hit |= 1 << reason.rule_number();
            if listed {
                reasons.push(reason);
            }
        }
        if rules_hit == 0 {
            let last = facts.last_contact.map_or(i64::MIN, millis);
            out.passed.push((last, i));
        } else {
            out.tally.add_rules(rules_hit);
            out.excluded_total += 1;
            if listed {
                out.excluded.push((i, std::mem::take(&mut reasons)));
            }
        }
    }
    out
}

fn evaluate(
    index: &PanelIndex,
    screener: &Screener,
    rules: &GovernanceRules,
    at: DateTime<Utc>,
    options: &EligibilityOptions,
    threads: usize,
) -> EligibilityReport {
    let def = &screener.definition;
    let criteria: Vec<Compiled> = def.criteria.iter().map(|c| index.compile(c)).collect();
    let people = &index.people;

    // Each stretch of the panel on its own thread, the results joined in
    // panel order.
    let threads = threads.max(1);
    let stretch = people.len().div_ceil(threads).max(1);
    let passes: Vec<Pass> = if threads == 1 {
        vec![pass(index, 0, people, &criteria, rules, at, options)]
    } else {
        std::thread::scope(|scope| {
            let running: Vec<_> = people
                .chunks(stretch)
                .enumerate()
                .map(|(n, part)| {
                    let criteria = &criteria;
                    scope
                        .spawn(move || pass(index, n * stretch, part, criteria, rules, at, options))
                })
                .collect();
            running
                .into_iter()
                .map(|t| t.join().expect("a screener pass does not panic"))
                .collect()
        })
    };
    let mut not_qualified = 0;
    let mut passed = Vec::with_capacity(passes.iter().map(|p| p.passed.len()).sum());
    let mut excluded_at = Vec::with_capacity(passes.iter().map(|p| p.excluded.len()).sum());
    let mut excluded_total = 0;
    let mut tally = Tally::default();
    for p in passes {
        not_qualified += p.not_qualified;
        passed.extend(p.passed);
        excluded_at.extend(p.excluded);
        excluded_total += p.excluded_total;
        tally.merge(&p.tally);
    }

    // Longest since last contact first (never contacted before anyone), then
    // longest on the panel, so invitations spread across the panel.
    passed.sort_unstable_by_key(|&(last, i)| (last, people[i as usize].id));

    // Quota cells by value id (`NONE`: no value), so filling them compares
    // numbers; names are looked up only for the people listed.
    const NONE: u32 = u32::MAX;
    let quotas: Vec<(Option<u32>, HashMap<u32, u32>)> = def
        .quotas
        .iter()
        .map(|quota| {
            let key = index.key(&quota.attribute);
            let mut cells = HashMap::new();
            for (value, n) in options.filled.get(&quota.attribute).into_iter().flatten() {
                let id = if value == "(none)" {
                    Some(NONE)
                } else {
                    index.value_id(key, value)
                };
                if let Some(id) = id {
                    *cells.entry(id).or_default() += n;
                }
            }
            (key, cells)
        })
        .collect();
    let mut quotas = quotas;
    let cell_name = |key: Option<u32>, id: u32| -> String {
        if id == NONE {
            "(none)".to_string()
        } else {
            index.value_name(key, id).to_string()
        }
    };
    let mut eligible = Vec::new();
    let mut beyond_limit = 0;
    // Eligible people counted, not listed (`count_only`).
    let mut counted = 0;
    let mut cells = Vec::with_capacity(quotas.len());
    for (_, i) in passed {
        let person = &people[i as usize];
        cells.clear();
        cells.extend(
            quotas
                .iter()
                .map(|(key, _)| index.value_ref(person, *key).unwrap_or(NONE)),
        );
        let full =
            def.quotas
                .iter()
                .zip(&quotas)
                .zip(&cells)
                .find(|((quota, (_, filled)), cell)| {
                    filled.get(cell).copied().unwrap_or(0) >= quota.max
                });
        if let Some(((quota, (key, _)), &cell)) = full {
            let reasons = vec![Exclusion::QuotaFull {
                attribute: quota.attribute.clone(),
                value: cell_name(*key, cell),
                max: quota.max,
            }];
            tally.add(&reasons);
            excluded_total += 1;
            excluded_at.push((i, reasons));
            continue;
        }
        if options
            .limit
            .is_some_and(|limit| eligible.len() as u32 >= limit)
        {
            beyond_limit += 1;
            continue;
        }
        for ((_, filled), &cell) in quotas.iter_mut().zip(&cells) {
            *filled.entry(cell).or_default() += 1;
        }
        if options.count_only {
            counted += 1;
            continue;
        }
        eligible.push(Candidate {
            id: ParticipantId(person.id),
            name: String::new(),
            email: String::new(),
            time_zone: None,
            cells: def
                .quotas
                .iter()
                .zip(&quotas)
                .zip(&cells)
                .map(|((quota, (key, _)), &cell)| (quota.attribute.clone(), cell_name(*key, cell)))
                .collect(),
        });
    }

    // People are in id order in the index, so their indexes sort as ids do.
    excluded_at.sort_unstable_by_key(|(i, _)| *i);
    if let Some(limit) = options.excluded_limit {
        excluded_at.truncate(limit as usize);
    }
    let excluded = excluded_at
        .into_iter()
        .map(|(i, reasons)| Excluded {
            id: ParticipantId(people[i as usize].id),
            name: String::new(),
            email: None,
            reasons,
        })
        .collect();
    EligibilityReport {
        screener: screener.name.clone(),
        at,
        rules: *rules,
        panel_size: people.len() as u32,
        not_qualified,
        eligible,
        excluded,
        excluded_total,
        excluded_by_rule: tally.by_name(),
        beyond_limit: beyond_limit + counted,
    }
}

/// Why one participant does or does not pass a screener and the contact
/// rules at `at` (quota cells aside, which depend on the others chosen).
pub async fn explain(
    panel: &Panel,
    screener_name: &str,
    id: ParticipantId,
    at: DateTime<Utc>,
) -> Result<Vec<Exclusion>> {
    let screener = screener::get(panel, screener_name).await?;
    let participant = super::get(panel, id).await?;
    let mut reasons: Vec<Exclusion> = screener
        .definition
        .failures(&participant.attributes)
        .into_iter()
        .map(|c| Exclusion::NotQualified {
            criterion: c.to_string(),
        })
        .collect();
    reasons.extend(status(panel, id, at).await?.reasons);
    Ok(reasons)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A run split across threads finds what one pass finds, in the same
    /// order, with the same counts and the same page of the excluded.
    #[tokio::test]
    async fn a_run_across_threads_finds_what_one_pass_finds() {
        let dir = tempfile::tempdir().unwrap();
        let panel = Panel::open(&dir.path().join("panel.db")).await.unwrap();
        crate::demo::generate(&panel, 3_000, 3).await.unwrap();
        let rules = rules(&panel).await.unwrap();
        let index = panel.index().await.unwrap();
        let at = panel.now();
        for name in ["eu-25-44-non-customers", "budget-shoppers"] {
            let screener = screener::get(&panel, name).await.unwrap();
            for options in [
                EligibilityOptions::default(),
                EligibilityOptions {
                    limit: Some(40),
                    excluded_limit: Some(25),
                    skip: [5, 6, 7].into(),
                    ..Default::default()
                },
            ] {
                let one = evaluate(&index, &screener, &rules, at, &options, 1);
                assert!(
                    one.excluded_total > 25 && !one.eligible.is_empty(),
                    "{name}"
                );
                for threads in [2, 3, 7] {
                    let many = evaluate(&index, &screener, &rules, at, &options, threads);
                    assert_eq!(many, one, "{name} on {threads} threads");
                }
                let listed = options.excluded_limit.map_or(one.excluded_total, |n| n);
                assert_eq!(one.excluded.len() as u32, listed);
                let counted: u32 = one.excluded_by_rule.values().sum();
                assert!(counted >= one.excluded_total);
            }
        }
    }

    /// People are named the same whether their names are kept with the
    /// snapshot or, past the limit, read again on every run.
    #[tokio::test]
    async fn people_are_named_alike_with_names_kept_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let panel = Panel::open(&dir.path().join("panel.db")).await.unwrap();
        crate::demo::generate(&panel, 400, 5).await.unwrap();
        let rules = rules(&panel).await.unwrap();
        let at = panel.now();
        let screener = screener::get(&panel, "budget-shoppers").await.unwrap();
        let options = EligibilityOptions::default();
        let index = panel.index().await.unwrap();
        let blank = evaluate(&index, &screener, &rules, at, &options, 1);
        assert!(blank.excluded.len() > 20);
        let mut named = Vec::new();
        for kept in [0, 0, NAMES_KEPT, NAMES_KEPT] {
            let mut report = blank.clone();
            name_people(&panel, &index, &mut report, kept)
                .await
                .unwrap();
            let kept_now = index.names.lock().unwrap().len();
            assert_eq!(
                kept_now == 0,
                kept == 0,
                "names kept with a limit of {kept}"
            );
            named.push(report);
        }
        assert!(named.iter().all(|r| *r == named[0]));
        assert!(named[0].excluded.iter().all(|e| !e.name.is_empty()));
        assert!(named[0].eligible.iter().all(|c| !c.email.is_empty()));
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    /// Every rule `check` can give, each tagged with its own rule number
    /// (the run over the panel counts by the number without making the
    /// reason; a debug assertion in `check` holds the two together).
    #[test]
    fn every_reason_carries_its_own_rule() {
        let everything = Facts {
            opted_out_at: Some(now()),
            do_not_contact: true,
            suppressed_by: vec!["crm".into()],
            latest_booking: Some(now() + Duration::days(3)),
            sessions_last_year: 9,
            booked_ahead: 1,
            no_shows: 9,
            ..Facts::default()
        };
        let cooling = Facts {
            last_contact: Some(now() - Duration::days(1)),
            ..Facts::default()
        };
        let erased = Facts {
            erased: true,
            ..Facts::default()
        };
        let mut rules: Vec<&str> = [everything, cooling, erased]
            .iter()
            .flat_map(|f| check(f, &GovernanceRules::default(), now()))
            .map(|e| e.rule())
            .collect();
        rules.sort();
        assert_eq!(
            rules,
            [
                "booked",
                "cooldown",
                "doNotContact",
                "erased",
                "noShowBan",
                "optedOut",
                "suppressed",
                "yearlyCap"
            ]
        );
    }

    #[test]
    fn clean_facts_are_eligible() {
        assert!(check(&Facts::default(), &GovernanceRules::default(), now()).is_empty());
    }

    #[test]
    fn every_reason_is_listed() {
        let facts = Facts {
            erased: false,
            opted_out_at: Some(now() - Duration::days(3)),
            do_not_contact: true,
            suppressed_by: vec!["crm".into()],
            last_contact: Some(now() - Duration::days(10)),
            sessions_last_year: 4,
            no_shows: 2,
            ..Facts::default()
        };
        let reasons = check(&facts, &GovernanceRules::default(), now());
        assert_eq!(reasons.len(), 6, "{reasons:?}");
        let text: Vec<String> = reasons.iter().map(|r| r.to_string()).collect();
        assert!(text[4].contains("4 sessions"), "{text:?}");
        assert!(text[3].contains("invitable from 2026-08-20"), "{text:?}");
    }

    /// A session booked ahead counts from its booking: the cooldown runs
    /// from the session, not from the invitation, and it counts towards
    /// the yearly cap before it is held.
    #[test]
    fn a_booking_ahead_counts_for_cooldown_and_the_cap() {
        let rules = GovernanceRules {
            cooldown_days: 90,
            max_sessions_per_year: 3,
            ..GovernanceRules::default()
        };
        let session = now() + Duration::days(30);
        let facts = Facts {
            last_contact: Some(now() - Duration::days(100)),
            sessions_last_year: 2,
            booked_ahead: 1,
            latest_booking: Some(session),
            ..Facts::default()
        };
        let reasons = check(&facts, &rules, now());
        assert_eq!(
            reasons,
            [
                Exclusion::Booked {
                    starts_at: session,
                    until: session + Duration::days(90)
                },
                Exclusion::YearlyCap {
                    sessions: 2,
                    booked: 1,
                    cap: 3
                }
            ]
        );
        assert!(
            reasons[0]
                .to_string()
                .starts_with("booked for a session on")
        );
        assert!(reasons[1].to_string().contains("1 booked ahead"));
    }

    #[test]
    fn cooldown_ends_on_the_day() {
        let rules = GovernanceRules {
            cooldown_days: 30,
            ..Default::default()
        };
        let facts = Facts {
            last_contact: Some(now() - Duration::days(30)),
            ..Default::default()
        };
        assert!(check(&facts, &rules, now()).is_empty());
        let facts = Facts {
            last_contact: Some(now() - Duration::days(29)),
            ..Default::default()
        };
        assert_eq!(check(&facts, &rules, now()).len(), 1);
    }

    #[test]
    fn a_rule_set_to_zero_is_off() {
        let rules = GovernanceRules {
            cooldown_days: 0,
            max_sessions_per_year: 0,
            no_show_ban_after: 0,
        };
        let facts = Facts {
            last_contact: Some(now()),
            sessions_last_year: 50,
            no_shows: 9,
            ..Default::default()
        };
        assert!(check(&facts, &rules, now()).is_empty());
    }
}
