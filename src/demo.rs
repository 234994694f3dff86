//! The reference-panel generator: a deterministic, realistic panel for
//! demonstrations and benchmarks. The same `--participants` and `--seed`
//! always give the same people, attributes, contact history and lists, on
//! any machine (the random numbers come from a fixed SplitMix64, not from a
//! crate whose algorithm may change).

use crate::Panel;
use crate::db::{Conn, instant, millis};
use crate::error::{Error, Result};
use crate::participants::screener::{self, Criterion, Effect, Quota, ScreenerDefinition, Test};
use crate::participants::{ParticipantInput, ValidParticipant, fields, repo_insert};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use ts_rs::TS;

/// SplitMix64: small, fast and fully specified.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "Anna",
    "Zoë",
    "Łukasz",
    "José",
    "Дмитрий",
    "王芳",
    "Γιώργος",
    "Mia",
    "Noah",
    "Emma",
    "Liam",
    "Sofia",
    "Mateo",
    "Amelia",
    "Lucas",
    "Chloé",
    "Björn",
    "Aoife",
    "Søren",
    "Nuno",
    "Hana",
    "Kenji",
    "Priya",
    "Arjun",
    "Fatima",
    "Omar",
    "Ines",
    "Jan",
    "Eva",
    "Pavel",
    "Olga",
    "Ali",
    "Grace",
    "Henry",
    "Lea",
    "Tomás",
    "Ana",
    "Marek",
    "Elif",
    "Can",
];
const LAST: &[&str] = &[
    "Schmidt",
    "Novak",
    "García",
    "Ivanov",
    "Smith",
    "Müller",
    "Rossi",
    "Dubois",
    "Kowalski",
    "Jensen",
    "Silva",
    "Papadopoulos",
    "Nakamura",
    "Patel",
    "Khan",
    "O'Brien",
    "Nguyen",
    "Yılmaz",
    "Andersson",
    "Horvat",
    "Lee",
    "Brown",
    "Wagner",
    "Costa",
    "Fischer",
    "Kim",
    "Moreau",
    "Eriksen",
    "Popescu",
    "Walsh",
];
/// Region, time zone, language.
const PLACES: &[(&str, &str, &str)] = &[
    ("EU", "Europe/Berlin", "de"),
    ("EU", "Europe/Paris", "fr"),
    ("EU", "Europe/Madrid", "es"),
    ("EU", "Europe/Warsaw", "pl"),
    ("EU", "Europe/Dublin", "en-IE"),
    ("UK", "Europe/London", "en-GB"),
    ("NA", "America/New_York", "en-US"),
    ("NA", "America/Chicago", "en-US"),
    ("NA", "America/Los_Angeles", "en-US"),
    ("LATAM", "America/Sao_Paulo", "pt-BR"),
    ("APAC", "Asia/Tokyo", "ja"),
    ("APAC", "Asia/Shanghai", "zh-CN"),
    ("APAC", "Australia/Sydney", "en-AU"),
];
/// Notes and issues per demo participant (200,000 and 20,000 for the
/// reference panel of 100,000), all in sessions that are over.
const NOTES_PER_PERSON: usize = 2;
/// People made and written at a time.
const PEOPLE_PER_WRITE: u64 = 50_000;
/// Notes written per statement.
const NOTES_PER_WRITE: usize = 3_000;
const PEOPLE_PER_ISSUE: usize = 5;

const OPENERS: &[&str] = &[
    "Says",
    "Mentions that",
    "Complains that",
    "Explains that",
    "Notes that",
    "Laughs:",
    "Asks why",
    "Agrees that",
    "Remembers that",
    "Insists",
];
const TOPICS: &[&str] = &[
    "checkout",
    "the returns form",
    "delivery",
    "the loyalty card",
    "customer service",
    "the price",
    "the mobile app",
    "the parcel locker",
    "the refund",
    "the store layout",
    "the newsletter",
    "the invoice",
];
const REMARKS: &[&str] = &[
    "was confusing",
    "took far too long",
    "worked well",
    "felt expensive",
    "never arrived",
    "needed three calls",
    "was easy to find",
    "crashed twice",
    "was friendly",
    "made no sense",
    "is better than before",
    "still is not fixed",
];
const NOTE_TAGS: &[&str] = &[
    "#pain",
    "#praise",
    "#idea",
    "#refund",
    "#delivery",
    "#app",
    "#price",
    "#quote",
];
const ISSUE_SUMMARIES: &[&str] = &[
    "Refund not received",
    "Parcel lost",
    "Charged twice",
    "Loyalty points missing",
    "App login fails",
    "Complaint not answered",
    "Wrong item delivered",
    "Invoice address wrong",
];

/// Notes for every session that is over, some about a participant who came,
/// and issues raised from them with owners, hand-offs, contacts and
/// resolutions as a team keeps (and sometimes misses) its promises.
#[allow(clippy::too_many_arguments)]
async fn insert_notes_and_issues(
    conn: impl Into<Conn<'_>>,
    now: chrono::DateTime<chrono::Utc>,
    calendar: &[(chrono::DateTime<chrono::Utc>, &str)],
    session_ids: &[i64],
    staff: &[i64],
    roster: &BTreeMap<(usize, i64), &str>,
    people: usize,
    rng: &mut Rng,
) -> Result<(u32, u32)> {
    let mut conn = conn.into();
    let notes_wanted = people * NOTES_PER_PERSON;
    let issues_wanted = people / PEOPLE_PER_ISSUE;
    let mut came: Vec<Vec<i64>> = vec![Vec::new(); PAST_SESSIONS];
    for ((k, id), outcome) in roster {
        if *k < PAST_SESSIONS && matches!(*outcome, "attended" | "late") {
            came[*k].push(*id);
        }
    }
    // Notes are written a few thousand at a time; of each, the issues need
    // only its session index, participant, author and time.
    let mut notes: Vec<(usize, Option<i64>, i64, i64)> = Vec::with_capacity(notes_wanted);
    let base = crate::notes::next_id(&mut conn).await?.0;
    let mut batch: Vec<crate::notes::NoteRecord> = Vec::with_capacity(NOTES_PER_WRITE);
    for i in 0..notes_wanted {
        let k = i * PAST_SESSIONS / notes_wanted;
        let nth = (i - (k * notes_wanted).div_ceil(PAST_SESSIONS)) as i64;
        let participant = if !came[k].is_empty() && rng.chance(0.6) {
            Some(came[k][rng.below(came[k].len() as u64) as usize])
        } else {
            None
        };
        let mut text = format!(
            "{} {} {}.",
            rng.pick(OPENERS),
            rng.pick(TOPICS),
            rng.pick(REMARKS)
        );
        let mut tags = Vec::new();
        for _ in 0..rng.below(3) {
            let tag = *rng.pick(NOTE_TAGS);
            if !tags.contains(&tag) {
                text.push(' ');
                text.push_str(tag);
                tags.push(tag);
            }
        }
        let offset = 60 + nth * 45;
        let at = millis(calendar[k].0) + offset * 1000;
        notes.push((k, participant, staff[k % 6], at));
        batch.push(crate::notes::NoteRecord {
            id: crate::notes::NoteId(base + i as i64),
            session: crate::sessions::SessionId(session_ids[k]),
            participant: participant.map(crate::participants::ParticipantId),
            author: Some(crate::sessions::staff::StaffId(staff[k % 6])),
            text,
            at: instant(at),
            offset_seconds: offset,
        });
        if batch.len() < NOTES_PER_WRITE && i + 1 < notes_wanted {
            continue;
        }
        crate::notes::insert_records(&mut conn, &batch).await?;
        batch.clear();
    }

    // Issues from notes about someone, spread over the sessions.
    let sources: Vec<usize> = (0..notes.len()).filter(|i| notes[*i].1.is_some()).collect();
    let issues_wanted = issues_wanted.min(sources.len());
    let care = &staff[7..10];
    let levels = crate::issues::ServiceLevels::default();
    let hour = 3_600_000i64;
    let mut issues = Vec::with_capacity(issues_wanted);
    let mut events: Vec<(i64, i64, Option<i64>, &str, serde_json::Value)> = Vec::new();
    let mut contacts: Vec<(i64, i64, i64, &str)> = Vec::new();
    for n in 0..issues_wanted {
        let id = n as i64 + 1;
        let i = sources[n * sources.len() / issues_wanted];
        let (k, participant, author, at) = &notes[i];
        let severity = *rng.pick(&crate::issues::Severity::ALL);
        let level = levels.for_severity(severity);
        let first_due = at + level.first_contact_minutes as i64 * hour / 60;
        let resolution_due = at + level.resolution_minutes as i64 * hour / 60;
        let handoffs = match rng.below(20) {
            0 => 2,
            1..=3 => 1,
            _ => 0,
        };
        let mut owner = *rng.pick(care);
        events.push((
            id,
            *at,
            Some(*author),
            "raised",
            serde_json::json!({"severity": severity.as_str()}),
        ));
        events.push((id, *at, Some(*author), "assigned", serde_json::json!({})));
        for h in 0..handoffs {
            let next = care[(care.iter().position(|c| *c == owner).unwrap_or(0) + 1) % care.len()];
            events.push((
                id,
                at + (h + 1) * 6 * hour,
                Some(owner),
                "reassigned",
                serde_json::json!({"reason": "workload"}),
            ));
            owner = next;
        }
        // Most owners act in time; some are late; a few not yet.
        let age = millis(now) - at;
        let contact_after = match rng.below(10) {
            0..=6 => rng.below(level.first_contact_minutes as u64 / 60 + 1) as i64,
            7 | 8 => level.first_contact_minutes as i64 / 60 + 1 + rng.below(48) as i64,
            _ => i64::MAX / hour / 2,
        };
        let contacted = (contact_after * hour < age).then(|| at + contact_after * hour);
        let resolve_after =
            contact_after + 1 + rng.below(level.resolution_minutes as u64 / 60) as i64;
        let resolved = contacted.and_then(|_| {
            (resolve_after * hour < age && !rng.chance(0.05)).then(|| at + resolve_after * hour)
        });
        let wont = resolved.is_some() && rng.chance(0.05);
        let closed = resolved.is_some_and(|r| millis(now) - r > 14 * 24 * hour);
        let status = match (contacted, resolved, wont, closed) {
            (None, _, _, _) => crate::issues::IssueStatus::Open,
            (Some(_), None, _, _) => crate::issues::IssueStatus::Contacted,
            (_, Some(_), _, true) => crate::issues::IssueStatus::Closed,
            (_, Some(_), true, false) => crate::issues::IssueStatus::WontFix,
            (_, Some(_), false, false) => crate::issues::IssueStatus::Resolved,
        };
        if let Some(c) = contacted {
            events.push((
                id,
                c,
                Some(owner),
                "contacted",
                serde_json::json!({"via": "phone"}),
            ));
            contacts.push((id, c, owner, "Spoke with them"));
        }
        if let Some(r) = resolved {
            events.push((
                id,
                r,
                Some(owner),
                if wont { "wont_fix" } else { "resolved" },
                serde_json::json!({}),
            ));
            if closed {
                events.push((
                    id,
                    r + 14 * 24 * hour,
                    Some(owner),
                    "closed",
                    serde_json::json!({}),
                ));
            }
        }
        issues.push((
            id,
            session_ids[*k],
            participant.expect("a source names someone"),
            base + i as i64,
            *rng.pick(ISSUE_SUMMARIES),
            severity,
            owner,
            status,
            first_due,
            resolution_due,
            contacted,
            resolved,
            handoffs,
            *at,
            *author,
        ));
    }
    use crate::issues::{ContactVia, IssueId, store as kept};
    use crate::sessions::staff::StaffId;
    let staff_id = |id: i64| Some(StaffId(id));
    let records: Vec<kept::IssueRecord> = issues
        .iter()
        .map(|i| kept::IssueRecord {
            id: IssueId(i.0),
            session: crate::sessions::SessionId(i.1),
            participant: crate::participants::ParticipantId(i.2),
            note: Some(crate::notes::NoteId(i.3)),
            summary: i.4,
            severity: i.5,
            owner: staff_id(i.6),
            status: i.7,
            first_contact_due: instant(i.8),
            resolution_due: instant(i.9),
            first_contact_at: i.10.map(instant),
            resolved_at: i.11.map(instant),
            resolution: i.11.map(|_| "Sorted out with them"),
            handoffs: i.12 as u32,
            raised_by: staff_id(i.14),
            created_at: instant(i.13),
        })
        .collect();
    kept::insert_records(&mut conn, &records).await?;
    let events: Vec<kept::EventRecord> = events
        .into_iter()
        .map(|(issue, at, actor, kind, detail)| kept::EventRecord {
            issue: IssueId(issue),
            at: instant(at),
            actor: actor.and_then(staff_id),
            kind,
            detail,
        })
        .collect();
    kept::insert_event_records(&mut conn, &events).await?;
    let contacts: Vec<kept::ContactRecord> = contacts
        .into_iter()
        .map(|(issue, at, staff, outcome)| kept::ContactRecord {
            issue: IssueId(issue),
            at: instant(at),
            staff: staff_id(staff),
            via: ContactVia::Phone,
            outcome,
        })
        .collect();
    kept::insert_contact_records(&mut conn, &contacts).await?;
    Ok((notes.len() as u32, issues.len() as u32))
}

/// Sessions in a demo panel, and how many of them are over.
const SESSIONS: usize = 2_000;
const PAST_SESSIONS: usize = 1_800;

const SESSION_ZONES: &[&str] = &[
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "Asia/Tokyo",
];

const STAFF: &[(&str, &str, &str)] = &[
    ("Ana Lindqvist", "moderator", "ana.lindqvist"),
    ("Ben Okafor", "moderator", "ben.okafor"),
    ("Chiara Rossi", "moderator", "chiara.rossi"),
    ("Daniel Kim", "moderator", "daniel.kim"),
    ("Elif Yilmaz", "moderator", "elif.yilmaz"),
    ("Farah Haddad", "moderator", "farah.haddad"),
    ("Greta Novak", "research lead", "greta.novak"),
    ("Hugo Martin", "customer care", "hugo.martin"),
    ("Ines Duarte", "customer care", "ines.duarte"),
    ("Jakub Wójcik", "customer care", "jakub.wojcik"),
    ("Keiko Sato", "customer care lead", "keiko.sato"),
    ("Liam Byrne", "product", "liam.byrne"),
];

const TITLES: &[&str] = &[
    "Checkout and returns",
    "Mobile app onboarding",
    "Delivery experience",
    "Loyalty programme",
    "Customer service calls",
    "Pricing and plans",
    "Store visit diary",
    "New product concepts",
];

async fn insert_staff(
    conn: impl Into<Conn<'_>>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<i64>> {
    let mut conn = conn.into();
    use crate::sessions::staff;
    let mut ids = Vec::new();
    for (name, title, user) in STAFF {
        let email = fields::Email::parse(&format!("{user}@company.example.com"))?;
        // Leads are admins, moderators researchers, everyone else owns
        // issues only.
        let role = match *title {
            t if t.ends_with("lead") => staff::Role::Admin,
            "moderator" => staff::Role::Researcher,
            _ => staff::Role::Staff,
        };
        ids.push(staff::insert_in(&mut conn, name, &email, title, role, None, None, now).await?);
    }
    // Moderators report to the research lead, care staff to theirs.
    for (i, id) in ids.iter().enumerate() {
        let lead = match i {
            0..=5 => Some(ids[6]),
            7..=9 => Some(ids[10]),
            _ => None,
        };
        staff::set_lead_in(&mut conn, *id, lead).await?;
    }
    Ok(ids.into_iter().map(|s| s.0).collect())
}

async fn insert_sessions(
    conn: impl Into<Conn<'_>>,
    now: chrono::DateTime<chrono::Utc>,
    calendar: &[(chrono::DateTime<chrono::Utc>, &str)],
    staff: &[i64],
    rng: &mut Rng,
) -> Result<Vec<i64>> {
    let mut conn = conn.into();
    let mut ids = Vec::with_capacity(calendar.len());
    for (k, (start, zone)) in calendar.iter().enumerate() {
        let seats = 6 + rng.below(5) as u32;
        let session = crate::sessions::Checked {
            study: format!("Study {}", 2025 + k / 900),
            title: TITLES[k % TITLES.len()].to_string(),
            starts_at: *start,
            ends_at: *start + Duration::minutes(90),
            time_zone: crate::TimeZone::parse(zone)?,
            place: format!("Room {}", 1 + k % 5),
            seats,
            over_recruit: seats + 2,
            floaters: 2,
        };
        let uid = format!("demo-{k}@panelkeeper");
        let moderator = crate::sessions::staff::StaffId(staff[k % 6]);
        let id =
            crate::sessions::insert_in(&mut conn, &uid, &session, moderator, None, now).await?;
        ids.push(id.0);
    }
    Ok(ids)
}

const AGE_BANDS: &[&str] = &["18-24", "25-34", "35-44", "45-54", "55-64", "65+"];
const DEVICES: &[&str] = &["iphone", "android", "desktop", "tablet"];
const TAGS: &[&str] = &[
    "early-adopter",
    "vip",
    "mobile-first",
    "b2b",
    "accessibility",
    "returning",
];
const SOURCES: &[&str] = &["website-signup", "crm-2025", "referral", "event", "social"];
const DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "mail.example.com",
];

/// The `i`-th demo participant of a seed's panel.
pub fn participant(rng: &mut Rng, i: u64) -> ParticipantInput {
    let first = *rng.pick(FIRST);
    let last = *rng.pick(LAST);
    let (region, tz, lang) = *rng.pick(PLACES);
    let mut attributes = BTreeMap::new();
    attributes.insert("region".to_string(), region.to_string());
    attributes.insert("age_band".to_string(), rng.pick(AGE_BANDS).to_string());
    attributes.insert(
        "customer".to_string(),
        if rng.chance(0.3) { "yes" } else { "no" }.to_string(),
    );
    attributes.insert(
        "income".to_string(),
        (15_000 + rng.below(120) * 1_000).to_string(),
    );
    if rng.chance(0.8) {
        attributes.insert("device".to_string(), rng.pick(DEVICES).to_string());
    }
    let mut tags = Vec::new();
    for t in TAGS {
        if rng.chance(0.08) {
            tags.push(t.to_string());
        }
    }
    let ascii = |s: &str| {
        fields::fold(s)
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
    };
    let local = [ascii(first), ascii(last)]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    let local = if local.is_empty() {
        "panelist".to_string()
    } else {
        local
    };
    ParticipantInput {
        name: format!("{first} {last}"),
        email: format!("{local}.{i}@{}", rng.pick(DOMAINS)),
        phone: Some(format!(
            "+{} {:03} {:07}",
            1 + rng.below(98),
            rng.below(1000),
            rng.below(10_000_000)
        )),
        time_zone: Some(tz.to_string()),
        language: Some(lang.to_string()),
        source: Some(rng.pick(SOURCES).to_string()),
        attributes,
        tags,
    }
}

/// Writes a demo panel as a CSV file of the kind a CRM exports (first and
/// last name split, one column per attribute); used to benchmark import.
pub fn write_csv(participants: u64, seed: u64, out: impl Write) -> Result<()> {
    let mut rng = Rng::new(seed);
    let mut w = csv::Writer::from_writer(out);
    let io = |e: csv::Error| Error::file("demo CSV", e.to_string());
    w.write_record([
        "First name",
        "Last name",
        "Email",
        "Phone",
        "Time zone",
        "Language",
        "Source",
        "Tags",
        "Region",
        "Age band",
        "Customer",
        "Income",
        "Device",
    ])
    .map_err(io)?;
    for i in 0..participants {
        let p = participant(&mut rng, i);
        let (first, last) = p.name.split_once(' ').unwrap_or((&p.name, ""));
        let a = |k: &str| p.attributes.get(k).cloned().unwrap_or_default();
        w.write_record([
            first.to_string(),
            last.to_string(),
            p.email.clone(),
            p.phone.clone().unwrap_or_default(),
            p.time_zone.clone().unwrap_or_default(),
            p.language.clone().unwrap_or_default(),
            p.source.clone().unwrap_or_default(),
            p.tags.join(","),
            a("region"),
            a("age_band"),
            a("customer"),
            a("income"),
            a("device"),
        ])
        .map_err(io)?;
    }
    w.flush()
        .map_err(|e| Error::file("demo CSV", e.to_string()))
}

/// What the generator made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DemoReport {
    pub participants: u32,
    pub opted_out: u32,
    pub do_not_contact: u32,
    pub suppressed: u32,
    pub contacts: u32,
    pub staff: u32,
    pub sessions: u32,
    /// Invitations on the sessions' rosters.
    pub roster: u32,
    pub notes: u32,
    pub issues: u32,
    pub screeners: Vec<String>,
}

/// How far the generator has got: `done` of `total` steps, and what it is
/// doing now.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DemoProgress {
    pub step: String,
    pub done: u32,
    pub total: u32,
}

/// The most participants a demo panel may have.
pub const MAX_PARTICIPANTS: u32 = 2_000_000;

/// Fills an empty panel with `participants` demo people (seeded by `seed`),
/// staff, 2,000 sessions (over the past two years and the next three
/// months) whose rosters and attendance make up the contact history, a
/// suppression list of current customers and two screeners.
pub async fn generate(panel: &Panel, participants: u32, seed: u64) -> Result<DemoReport> {
    generate_with(panel, participants, seed, &|_| {}).await
}

/// [`generate`], telling `progress` of each step.
pub async fn generate_with(
    panel: &Panel,
    participants: u32,
    seed: u64,
    progress: &(dyn Fn(DemoProgress) + Send + Sync),
) -> Result<DemoReport> {
    let step = |done: u32, what: &str| {
        progress(DemoProgress {
            step: what.to_string(),
            done,
            total: 5,
        })
    };
    if participants == 0 || participants > MAX_PARTICIPANTS {
        return Err(Error::invalid(
            "participants",
            participants.to_string(),
            format!("a demo panel has between 1 and {MAX_PARTICIPANTS} participants"),
        ));
    }
    step(0, &format!("Making {participants} people"));
    let existing = crate::participants::count_in(&mut panel.conn().await?).await?;
    if existing > 0 {
        return Err(Error::conflict(format!(
            "the panel already has {existing} participants; demo data goes into an empty database"
        )));
    }
    let now = panel.now();
    let mut rng = Rng::new(seed);
    let mut report = DemoReport {
        participants,
        ..Default::default()
    };
    step(1, &format!("Writing {participants} people"));
    let mut tx = panel.begin().await?;
    // Made and written a slice at a time, so that a million people never
    // sit in memory at once; of each, what the rest of the panel needs is
    // kept: the email's hash of a customer, whom the CRM may suppress.
    let mut ids = Vec::with_capacity(participants as usize);
    let mut customers: Vec<Option<String>> = Vec::with_capacity(participants as usize);
    // An empty table: its indexes, search index and counts are built once
    // at the end of the load rather than kept up to date row by row.
    let mut load = crate::participants::BulkLoad::start(&mut tx).await?;
    let mut i = 0;
    while i < participants as u64 {
        let end = (i + PEOPLE_PER_WRITE).min(participants as u64);
        let people: Vec<ValidParticipant> = (i..end)
            .map(|k| participant(&mut rng, k).validate())
            .collect::<Result<_>>()?;
        ids.extend(repo_insert(&mut tx, &mut load, &people, now - Duration::days(800)).await?);
        customers.extend(people.iter().map(|p| {
            (p.attributes.get("customer").map(String::as_str) == Some("yes"))
                .then(|| p.email.hash().to_string())
        }));
        i = end;
    }
    load.finish(&mut tx).await?;
    step(2, "Sessions, rosters and contact history");

    let mut opted = Vec::new();
    let mut dnc = Vec::new();
    let mut history: Vec<(i64, &str, i64, usize)> = Vec::new();
    let mut crm = Vec::new();
    // Sessions, evenly spread over the past two years and the next three
    // months, with staff to run them; rosters are filled as people are made.
    let staff_ids = insert_staff(&mut tx, now).await?;
    let calendar: Vec<(chrono::DateTime<chrono::Utc>, &str)> = (0..SESSIONS)
        .map(|k| {
            let start = if k < PAST_SESSIONS {
                now - Duration::days(730) + Duration::hours((k * 730 * 24 / PAST_SESSIONS) as i64)
            } else {
                now + Duration::hours(
                    24 + ((k - PAST_SESSIONS) * 90 * 24 / (SESSIONS - PAST_SESSIONS)) as i64,
                )
            };
            // Working hours on the session's own clock: 09:00 to 17:00.
            let zone = *rng.pick(SESSION_ZONES);
            let tz: chrono_tz::Tz = zone.parse().expect("a known zone");
            let mut day = start.with_timezone(&tz).date_naive();
            let at = |day: chrono::NaiveDate| {
                let local = day
                    .and_hms_opt(9 + (k % 9) as u32, 0, 0)
                    .expect("a valid hour");
                crate::TimeZone::parse(zone)
                    .and_then(|z| crate::sessions::instant_in(z, local))
                    .unwrap_or(start)
            };
            // A past session stays past once moved to working hours: over
            // before now, so none is under way as the panel is made.
            while k < PAST_SESSIONS && at(day) + Duration::minutes(90) > now {
                day = day.pred_opt().expect("a day before");
            }
            (at(day), zone)
        })
        .collect();
    let mut roster: BTreeMap<(usize, i64), &str> = BTreeMap::new();
    for (id, customer) in ids.iter().zip(&customers) {
        if rng.chance(0.02) {
            opted.push((*id, now - Duration::days(rng.below(700) as i64)));
        }
        if rng.chance(0.01) {
            dnc.push(*id);
        }
        if let Some(hash) = customer
            && rng.chance(0.5)
        {
            crm.push(hash.clone());
        }
        if rng.chance(0.3) {
            for _ in 0..1 + rng.below(3) {
                // A past session: invited two weeks before, then the outcome.
                let k = rng.below(PAST_SESSIONS as u64) as usize;
                // Of every hundred invited, about 35 come (3 late, 3 not
                // at all after saying yes), 25 decline, 40 never answer.
                let outcome = match rng.below(100) {
                    0..=28 => "attended",
                    29..=31 => "late",
                    32..=34 => "no_show",
                    35..=59 => "declined",
                    _ => "invited",
                };
                if roster.insert((k, id.0), outcome).is_none() {
                    let start = calendar[k].0;
                    history.push((id.0, "invited", millis(start - Duration::days(14)), k));
                    if outcome != "invited" {
                        history.push((id.0, outcome, millis(start), k));
                    }
                }
            }
        } else if rng.chance(0.02) {
            // Invited to a session still ahead.
            let k = PAST_SESSIONS + rng.below((SESSIONS - PAST_SESSIONS) as u64) as usize;
            let answer = if rng.chance(0.5) {
                "confirmed"
            } else {
                "invited"
            };
            if roster.insert((k, id.0), answer).is_none() {
                history.push((
                    id.0,
                    "invited",
                    millis(now - Duration::days(1 + rng.below(10) as i64)),
                    k,
                ));
                if answer == "confirmed" {
                    history.push((id.0, "confirmed", millis(now - Duration::hours(12)), k));
                }
            }
        }
    }
    crate::participants::set_marks_many(&mut tx, &opted, &dnc).await?;
    let session_ids = insert_sessions(&mut tx, now, &calendar, &staff_ids, &mut rng).await?;
    use crate::participants::ParticipantId;
    use crate::participants::history::{self, ContactKind, HistoryRecord};
    use crate::sessions::{Attendance, Rsvp, SessionId, roster};
    let contacts = history
        .iter()
        .map(|(id, kind, at, k)| {
            Ok(HistoryRecord {
                participant: ParticipantId(*id),
                kind: kind.parse::<ContactKind>()?,
                at: instant(*at),
                session: Some(session_ids[*k]),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    history::insert_records(&mut tx, &contacts).await?;
    let places: Vec<roster::RosterRecord> = roster
        .iter()
        .map(|((k, id), outcome)| {
            let start = calendar[*k].0;
            let (rsvp, attendance) = match *outcome {
                "declined" => (Rsvp::Declined, None),
                "invited" => (Rsvp::Invited, None),
                "confirmed" => (Rsvp::Confirmed, None),
                "late" => (Rsvp::Confirmed, Some(Attendance::Late)),
                "no_show" => (Rsvp::Confirmed, Some(Attendance::NoShow)),
                _ => (Rsvp::Confirmed, Some(Attendance::Attended)),
            };
            let paid = matches!(attendance, Some(Attendance::Attended | Attendance::Late));
            roster::RosterRecord {
                session: SessionId(session_ids[*k]),
                participant: ParticipantId(*id),
                rsvp,
                attendance,
                incentive_cents: paid.then_some(5000),
                incentive_paid: paid,
                invited_at: start.min(now) - Duration::days(14),
                updated_at: start.min(now),
            }
        })
        .collect();
    roster::insert_records(&mut tx, &places).await?;
    report.staff = staff_ids.len() as u32;
    report.sessions = session_ids.len() as u32;
    report.roster = roster.len() as u32;
    step(3, "Notes and issues");
    let (notes, issues) = insert_notes_and_issues(
        &mut tx,
        now,
        &calendar,
        &session_ids,
        &staff_ids,
        &roster,
        participants as usize,
        &mut rng,
    )
    .await?;
    report.notes = notes;
    report.issues = issues;
    step(4, "Finishing: suppression list, screeners, follow-up");
    // Sessions that ended a day ago were wrapped up by their moderator.
    crate::sessions::complete_ended_in(&mut tx, Duration::days(1), now).await?;
    crate::participants::touch(&mut tx).await?;
    tx.commit().await?;
    report.opted_out = opted.len() as u32;
    report.do_not_contact = dnc.len() as u32;
    report.contacts = history.len() as u32;

    let list: String = crm.join("\n");
    report.suppressed = crate::participants::suppression::import(panel, "crm-customers", &list)
        .await?
        .added;

    let criterion = |attribute: &str, test, effect| Criterion {
        attribute: attribute.into(),
        test,
        effect,
    };
    let young_eu = ScreenerDefinition {
        criteria: vec![
            criterion(
                "region",
                Test::Equals { value: "EU".into() },
                Effect::Qualify,
            ),
            criterion(
                "age_band",
                Test::OneOf {
                    values: vec!["25-34".into(), "35-44".into()],
                },
                Effect::Qualify,
            ),
            criterion(
                "customer",
                Test::Equals {
                    value: "yes".into(),
                },
                Effect::Disqualify,
            ),
        ],
        quotas: vec![],
    };
    let budget = ScreenerDefinition {
        criteria: vec![
            criterion(
                "income",
                Test::Range {
                    min: Some(20_000.0),
                    max: Some(45_000.0),
                },
                Effect::Qualify,
            ),
            criterion("device", Test::Missing, Effect::Disqualify),
        ],
        quotas: vec![Quota {
            attribute: "age_band".into(),
            max: 4,
        }],
    };
    for (name, def) in [
        ("eu-25-44-non-customers", young_eu),
        ("budget-shoppers", budget),
    ] {
        screener::save(panel, name, &def).await?;
        report.screeners.push(name.to_string());
    }
    step(5, "Done");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_panel() {
        let a: Vec<_> = {
            let mut r = Rng::new(7);
            (0..50).map(|i| participant(&mut r, i)).collect()
        };
        let b: Vec<_> = {
            let mut r = Rng::new(7);
            (0..50).map(|i| participant(&mut r, i)).collect()
        };
        let c: Vec<_> = {
            let mut r = Rng::new(8);
            (0..50).map(|i| participant(&mut r, i)).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        for p in &a {
            p.validate().unwrap();
        }
    }
}
