//! The reference-panel generator: a deterministic, realistic panel for
//! demonstrations and benchmarks. The same `--participants` and `--seed`
//! always give the same people, attributes, contact history and lists, on
//! any machine (the random numbers come from a fixed SplitMix64, not from a
//! crate whose algorithm may change).

use crate::Panel;
use crate::db::millis;
use crate::error::{Error, Result};
use crate::participants::screener::{self, Criterion, Effect, Quota, ScreenerDefinition, Test};
use crate::participants::{ParticipantInput, ValidParticipant, fields, repo_insert};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use sqlx::{QueryBuilder, Sqlite};
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
    conn: &mut sqlx::SqliteConnection,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<i64>> {
    let mut ids = Vec::new();
    for (name, role, user) in STAFF {
        let email = format!("{user}@company.example.com");
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO staff (name, email, email_norm, role, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(name)
        .bind(&email)
        .bind(&email)
        .bind(role)
        .bind(millis(now))
        .bind(millis(now))
        .fetch_one(&mut *conn)
        .await?;
        ids.push(id);
    }
    // Moderators report to the research lead, care staff to theirs.
    for (i, id) in ids.iter().enumerate() {
        let lead = match i {
            0..=5 => Some(ids[6]),
            7..=9 => Some(ids[10]),
            _ => None,
        };
        sqlx::query("UPDATE staff SET lead = ? WHERE id = ?")
            .bind(lead)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(ids)
}

async fn insert_sessions(
    conn: &mut sqlx::SqliteConnection,
    now: chrono::DateTime<chrono::Utc>,
    calendar: &[(chrono::DateTime<chrono::Utc>, &str)],
    staff: &[i64],
    rng: &mut Rng,
) -> Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(calendar.len());
    for (k, (start, zone)) in calendar.iter().enumerate() {
        let seats = 6 + rng.below(5) as i64;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sessions (uid, study, title, starts_at, ends_at, time_zone, place, moderator, \
             seats, over_recruit, floaters, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(format!("demo-{k}@panelkeeper"))
        .bind(format!("Study {}", 2025 + k / 900))
        .bind(TITLES[k % TITLES.len()])
        .bind(millis(*start))
        .bind(millis(*start + Duration::minutes(90)))
        .bind(*zone)
        .bind(format!("Room {}", 1 + k % 5))
        .bind(staff[k % 6])
        .bind(seats)
        .bind(seats + 2)
        .bind(2)
        .bind(millis(now))
        .bind(millis(now))
        .fetch_one(&mut *conn)
        .await?;
        ids.push(id);
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
    pub screeners: Vec<String>,
}

/// Fills an empty panel with `participants` demo people (seeded by `seed`),
/// staff, 2,000 sessions (over the past two years and the next three
/// months) whose rosters and attendance make up the contact history, a
/// suppression list of current customers and two screeners.
pub async fn generate(panel: &Panel, participants: u32, seed: u64) -> Result<DemoReport> {
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM participants")
        .fetch_one(panel.pool())
        .await?;
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
    let people: Vec<ValidParticipant> = (0..participants as u64)
        .map(|i| participant(&mut rng, i).validate())
        .collect::<Result<_>>()?;

    let mut tx = panel.write().await?;
    let ids = repo_insert(&mut tx, &people, now - Duration::days(800)).await?;

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
            let day = start.with_timezone(&tz).date_naive();
            let local = day
                .and_hms_opt(9 + (k % 9) as u32, 0, 0)
                .expect("a valid hour");
            let start = crate::sessions::instant_in(zone, local).unwrap_or(start);
            (start, zone)
        })
        .collect();
    let mut roster: BTreeMap<(usize, i64), &str> = BTreeMap::new();
    for (id, p) in ids.iter().zip(&people) {
        if rng.chance(0.02) {
            opted.push((id.0, millis(now - Duration::days(rng.below(700) as i64))));
        }
        if rng.chance(0.01) {
            dnc.push(id.0);
        }
        if p.attributes.get("customer").map(String::as_str) == Some("yes") && rng.chance(0.5) {
            crm.push(p.email.hash());
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
    for chunk in opted.chunks(10_000) {
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE participants SET opted_out_at = CASE id ");
        for (id, at) in chunk {
            q.push(" WHEN ")
                .push_bind(*id)
                .push(" THEN ")
                .push_bind(*at);
        }
        q.push(" END WHERE id IN (");
        let mut sep = q.separated(", ");
        for (id, _) in chunk {
            sep.push_bind(*id);
        }
        q.push(")");
        q.build().execute(&mut *tx).await?;
    }
    for chunk in dnc.chunks(10_000) {
        let mut q =
            QueryBuilder::<Sqlite>::new("UPDATE participants SET do_not_contact = 1 WHERE id IN (");
        let mut sep = q.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        q.push(")");
        q.build().execute(&mut *tx).await?;
    }
    let session_ids = insert_sessions(&mut tx, now, &calendar, &staff_ids, &mut rng).await?;
    for chunk in history.chunks(5_000) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO contact_history (participant_id, kind, at, session_id) ",
        );
        q.push_values(chunk, |mut b, (id, kind, at, k)| {
            b.push_bind(*id)
                .push_bind(kind.to_string())
                .push_bind(*at)
                .push_bind(session_ids[*k]);
        });
        q.build().execute(&mut *tx).await?;
    }
    let entries: Vec<_> = roster.iter().collect();
    for chunk in entries.chunks(4_000) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO session_participants (session, participant, rsvp, attendance, \
             incentive_cents, incentive_paid, invited_at, updated_at) ",
        );
        q.push_values(chunk, |mut b, ((k, id), outcome)| {
            let start = calendar[*k].0;
            let (rsvp, attendance) = match **outcome {
                "declined" => ("declined", None),
                "invited" => ("invited", None),
                "confirmed" => ("confirmed", None),
                came => ("confirmed", Some(came)),
            };
            let paid = matches!(attendance, Some("attended" | "late"));
            b.push_bind(session_ids[*k])
                .push_bind(*id)
                .push_bind(rsvp)
                .push_bind(attendance)
                .push_bind(paid.then_some(5000i64))
                .push_bind(paid)
                .push_bind(millis(start.min(now) - Duration::days(14)))
                .push_bind(millis(start.min(now)));
        });
        q.build().execute(&mut *tx).await?;
    }
    report.staff = staff_ids.len() as u32;
    report.sessions = session_ids.len() as u32;
    report.roster = roster.len() as u32;
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
