//! Screeners: named, stored sets of criteria over participant attributes
//! that qualify or disqualify people, and quota cells that cap how many
//! people share one value of an attribute.
//!
//! A criterion's [`Test::matches`] decides both a screener run over the whole
//! panel (through the in-memory index, once per distinct value) and the
//! explanation for one person ([`ScreenerDefinition::failures`]). Contact rules are not here: see
//! [`super::governance`].

use crate::Panel;
use crate::db::{either, instant, millis};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use ts_rs::TS;

/// What a criterion tests about one attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Test {
    /// The value equals this (case ignored).
    Equals { value: String },
    /// The value is one of these (case ignored).
    OneOf { values: Vec<String> },
    /// The value is a number within these bounds (inclusive; either may be open).
    Range { min: Option<f64>, max: Option<f64> },
    /// The participant has no value for the attribute.
    Missing,
}

/// Whether matching a criterion lets a person in or keeps them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum Effect {
    /// Only people who match qualify.
    Qualify,
    /// People who match are disqualified.
    Disqualify,
}

/// One rule of a screener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Criterion {
    pub attribute: String,
    pub test: Test,
    pub effect: Effect,
}

/// At most `max` people per value of `attribute` (people without a value
/// share one cell).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Quota {
    pub attribute: String,
    pub max: u32,
}

/// What a screener is made of.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct ScreenerDefinition {
    pub criteria: Vec<Criterion>,
    pub quotas: Vec<Quota>,
}

/// A stored, named screener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Screener {
    #[ts(type = "number")]
    pub id: i64,
    pub name: String,
    pub definition: ScreenerDefinition,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn norm_key(attribute: &str) -> Result<String> {
    super::fields::parse_key("attribute", attribute)
}

impl Test {
    /// Whether a value (or its absence) meets the test.
    pub fn matches(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (Test::Missing, v) => v.is_none(),
            (_, None) => false,
            (Test::Equals { value }, Some(v)) => v.trim().eq_ignore_ascii_case(value.trim()),
            (Test::OneOf { values }, Some(v)) => values
                .iter()
                .any(|x| v.trim().eq_ignore_ascii_case(x.trim())),
            (Test::Range { min, max }, Some(v)) => match v.trim().parse::<f64>() {
                Ok(n) if n.is_finite() => min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m),
                _ => false,
            },
        }
    }
}

impl Criterion {
    /// Whether a person with these attributes passes this criterion.
    pub fn passes(&self, attributes: &BTreeMap<String, String>) -> bool {
        let matched = self
            .test
            .matches(attributes.get(&self.attribute).map(String::as_str));
        match self.effect {
            Effect::Qualify => matched,
            Effect::Disqualify => !matched,
        }
    }

    fn validate(&self) -> Result<Criterion> {
        let attribute = norm_key(&self.attribute)?;
        let test = match &self.test {
            Test::Equals { value } if value.trim().is_empty() => {
                return Err(Error::invalid(
                    "criterion",
                    self.to_string(),
                    "compares with an empty value; use \"missing\"",
                ));
            }
            Test::OneOf { values } if values.iter().all(|v| v.trim().is_empty()) => {
                return Err(Error::invalid(
                    "criterion",
                    self.to_string(),
                    "lists no values",
                ));
            }
            Test::OneOf { values } => Test::OneOf {
                values: values
                    .iter()
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
                    .collect(),
            },
            Test::Range {
                min: None,
                max: None,
            } => {
                return Err(Error::invalid(
                    "criterion",
                    self.to_string(),
                    "has neither a lower nor an upper bound",
                ));
            }
            Test::Range {
                min: Some(a),
                max: Some(b),
            } if a > b => {
                return Err(Error::invalid(
                    "criterion",
                    self.to_string(),
                    "has a lower bound above its upper bound",
                ));
            }
            Test::Range { min, max }
                if min.is_some_and(|m| !m.is_finite()) || max.is_some_and(|m| !m.is_finite()) =>
            {
                return Err(Error::invalid(
                    "criterion",
                    self.to_string(),
                    "has a bound that is not a number",
                ));
            }
            other => other.clone(),
        };
        Ok(Criterion {
            attribute,
            test,
            effect: self.effect,
        })
    }
}

fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Test::Equals { value } => write!(f, "= {value}"),
            Test::OneOf { values } => write!(f, "in {}", values.join(",")),
            Test::Range { min, max } => write!(
                f,
                "between {}..{}",
                min.map(fmt_num).unwrap_or_default(),
                max.map(fmt_num).unwrap_or_default()
            ),
            Test::Missing => write!(f, "missing"),
        }
    }
}

impl fmt::Display for Criterion {
    /// The command-line spelling: `qualify: region = EU`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let effect = match self.effect {
            Effect::Qualify => "qualify",
            Effect::Disqualify => "disqualify",
        };
        write!(f, "{effect}: {} {}", self.attribute, self.test)
    }
}

/// Parses the command-line spelling of a test on an attribute:
/// `region=EU`, `age_band in 18-24,25-34`, `income between 30000..60000`
/// (either bound may be left out), `pets missing`.
pub fn parse_test(expr: &str) -> Result<(String, Test)> {
    let e = expr.trim();
    let bad = |reason: &str| Error::invalid("criterion", expr, reason);
    if let Some((key, value)) = e.split_once('=') {
        return Ok((
            key.trim().to_string(),
            Test::Equals {
                value: value.trim().to_string(),
            },
        ));
    }
    let mut words = e.splitn(3, char::is_whitespace);
    let key = words.next().unwrap_or_default().to_string();
    let op = words.next().unwrap_or_default().to_lowercase();
    let rest = words.next().unwrap_or_default().trim();
    match op.as_str() {
        "in" => Ok((
            key,
            Test::OneOf {
                values: rest.split(',').map(|v| v.trim().to_string()).collect(),
            },
        )),
        "between" => {
            let (lo, hi) = rest
                .split_once("..")
                .ok_or_else(|| bad("a range is written MIN..MAX"))?;
            let bound = |s: &str| -> Result<Option<f64>> {
                let s = s.trim();
                if s.is_empty() {
                    return Ok(None);
                }
                s.parse::<f64>()
                    .map(Some)
                    .map_err(|_| bad(&format!("{s:?} is not a number")))
            };
            Ok((
                key,
                Test::Range {
                    min: bound(lo)?,
                    max: bound(hi)?,
                },
            ))
        }
        "missing" if rest.is_empty() => Ok((key, Test::Missing)),
        _ => Err(bad(
            "write KEY=VALUE, KEY in A,B,C, KEY between MIN..MAX or KEY missing",
        )),
    }
}

impl FromStr for Quota {
    type Err = Error;
    /// `age_band:4`
    fn from_str(s: &str) -> Result<Quota> {
        let bad = || Error::invalid("quota", s, "write ATTRIBUTE:MAX, such as age_band:4");
        let (attribute, max) = s.rsplit_once(':').ok_or_else(bad)?;
        let max: u32 = max.trim().parse().map_err(|_| bad())?;
        Ok(Quota {
            attribute: attribute.trim().to_string(),
            max,
        })
    }
}

/// A screener as a person writes it, a line per criterion or quota in the
/// command line's spelling (`region=EU`, `age_band in 25-34,35-44`,
/// `income between ..60000`, `pets missing`; `age_band:4`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct ScreenerDraft {
    /// Only people who match every one of these qualify.
    pub qualify: Vec<String>,
    /// People who match any of these are disqualified.
    pub disqualify: Vec<String>,
    /// At most MAX people per value of ATTRIBUTE: `ATTRIBUTE:MAX`.
    pub quotas: Vec<String>,
}

impl ScreenerDraft {
    /// The definition the lines say (blank lines left out), checked; an
    /// error names the line that is wrong.
    pub fn definition(&self) -> Result<ScreenerDefinition> {
        let mut def = ScreenerDefinition::default();
        for (lines, effect) in [
            (&self.qualify, Effect::Qualify),
            (&self.disqualify, Effect::Disqualify),
        ] {
            for line in lines.iter().filter(|l| !l.trim().is_empty()) {
                let (attribute, test) = parse_test(line)?;
                def.criteria.push(Criterion {
                    attribute,
                    test,
                    effect,
                });
            }
        }
        for line in self.quotas.iter().filter(|l| !l.trim().is_empty()) {
            def.quotas.push(line.parse()?);
        }
        def.validate()
    }
}

impl From<&ScreenerDefinition> for ScreenerDraft {
    /// The lines that write `definition`, to be edited.
    fn from(definition: &ScreenerDefinition) -> ScreenerDraft {
        let line = |c: &Criterion| match &c.test {
            Test::Equals { value } => format!("{}={value}", c.attribute),
            other => format!("{} {other}", c.attribute),
        };
        let of = |effect| {
            definition
                .criteria
                .iter()
                .filter(|c| c.effect == effect)
                .map(line)
                .collect()
        };
        ScreenerDraft {
            qualify: of(Effect::Qualify),
            disqualify: of(Effect::Disqualify),
            quotas: definition
                .quotas
                .iter()
                .map(|q| format!("{}:{}", q.attribute, q.max))
                .collect(),
        }
    }
}

impl ScreenerDefinition {
    /// Checks and normalises every criterion and quota.
    pub fn validate(&self) -> Result<ScreenerDefinition> {
        let criteria = self
            .criteria
            .iter()
            .map(Criterion::validate)
            .collect::<Result<Vec<_>>>()?;
        let mut quotas = Vec::new();
        for q in &self.quotas {
            if q.max == 0 {
                return Err(Error::invalid(
                    "quota",
                    format!("{}:{}", q.attribute, q.max),
                    "must allow at least 1 person",
                ));
            }
            let attribute = norm_key(&q.attribute)?;
            if quotas.iter().any(|x: &Quota| x.attribute == attribute) {
                return Err(Error::invalid("quota", &q.attribute, "is given twice"));
            }
            quotas.push(Quota {
                attribute,
                max: q.max,
            });
        }
        Ok(ScreenerDefinition { criteria, quotas })
    }

    /// The criteria a person with these attributes fails (empty: qualifies).
    pub fn failures(&self, attributes: &BTreeMap<String, String>) -> Vec<&Criterion> {
        self.criteria
            .iter()
            .filter(|c| !c.passes(attributes))
            .collect()
    }
}

fn check_name(name: &str) -> Result<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control) {
        return Err(Error::invalid(
            "screener name",
            name,
            "must have 1 to 100 printable characters",
        ));
    }
    Ok(n.to_string())
}

fn from_row(row: (i64, String, String, i64, i64)) -> Result<Screener> {
    let (id, name, definition, created, updated) = row;
    let definition = serde_json::from_str(&definition).map_err(|e| {
        Error::conflict(format!(
            "screener {name} is stored in a form this version cannot read: {e}"
        ))
    })?;
    Ok(Screener {
        id,
        name,
        definition,
        created_at: instant(created),
        updated_at: instant(updated),
    })
}

/// Saves a screener under `name`, replacing one of the same name.
pub async fn save(panel: &Panel, name: &str, definition: &ScreenerDefinition) -> Result<Screener> {
    let name = check_name(name)?;
    let definition = definition.validate()?;
    let json = serde_json::to_string(&definition).expect("a screener serialises");
    let now = millis(panel.now());
    let mut tx = panel.begin().await?;
    either!(&mut tx, |c| {
        sqlx::query(
        "INSERT INTO screeners (name, definition, created_at, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
    )
    .bind(&name)
    .bind(&json)
    .bind(now)
    .bind(now)
    .execute(&mut *c)
.await?
.rows_affected()
    });
    tx.commit().await?;
    get(panel, &name).await
}

/// The screener called `name`.
pub async fn get(panel: &Panel, name: &str) -> Result<Screener> {
    let row: Option<(i64, String, String, i64, i64)> =
        either!(&mut panel.conn().await?, |c| sqlx::query_as(
            "SELECT id, name, definition, created_at, updated_at FROM screeners WHERE name = $1",
        )
        .bind(name.trim())
        .fetch_optional(&mut *c)
        .await?);
    from_row(row.ok_or_else(|| Error::not_found("screener", name))?)
}

/// Every screener, by name.
pub async fn list(panel: &Panel) -> Result<Vec<Screener>> {
    let rows: Vec<(i64, String, String, i64, i64)> =
        either!(&mut panel.conn().await?, |c| sqlx::query_as(
            "SELECT id, name, definition, created_at, updated_at FROM screeners ORDER BY name",
        )
        .fetch_all(&mut *c)
        .await?);
    rows.into_iter().map(from_row).collect()
}

/// Deletes the screener called `name`.
pub async fn delete(panel: &Panel, name: &str) -> Result<()> {
    let done = either!(&mut panel.conn().await?, |c| sqlx::query(
        "DELETE FROM screeners WHERE name = $1"
    )
    .bind(name.trim())
    .execute(&mut *c)
    .await?
    .rows_affected());
    if done == 0 {
        return Err(Error::not_found("screener", name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_the_command_line_spelling() {
        assert_eq!(
            parse_test("region=EU").unwrap(),
            ("region".into(), Test::Equals { value: "EU".into() })
        );
        assert_eq!(
            parse_test("age_band in 18-24, 25-34").unwrap().1,
            Test::OneOf {
                values: vec!["18-24".into(), "25-34".into()]
            }
        );
        assert_eq!(
            parse_test("income between 30000..").unwrap().1,
            Test::Range {
                min: Some(30000.0),
                max: None
            }
        );
        assert_eq!(parse_test("pets missing").unwrap().1, Test::Missing);
        assert!(parse_test("income between x..3").is_err());
        assert!(parse_test("region is EU").is_err());
        assert_eq!("age_band:4".parse::<Quota>().unwrap().max, 4);
        assert!("age_band".parse::<Quota>().is_err());
    }

    #[test]
    fn qualifies_and_disqualifies() {
        let def = ScreenerDefinition {
            criteria: vec![
                Criterion {
                    attribute: "region".into(),
                    test: Test::Equals { value: "eu".into() },
                    effect: Effect::Qualify,
                },
                Criterion {
                    attribute: "customer".into(),
                    test: Test::Equals {
                        value: "yes".into(),
                    },
                    effect: Effect::Disqualify,
                },
                Criterion {
                    attribute: "income".into(),
                    test: Test::Range {
                        min: Some(20000.0),
                        max: Some(60000.0),
                    },
                    effect: Effect::Qualify,
                },
            ],
            quotas: vec![],
        };
        assert!(
            def.failures(&attrs(&[("region", "EU"), ("income", "30000")]))
                .is_empty()
        );
        assert_eq!(
            def.failures(&attrs(&[
                ("region", "EU"),
                ("income", "30000"),
                ("customer", "yes")
            ]))
            .len(),
            1
        );
        assert_eq!(
            def.failures(&attrs(&[("region", "US"), ("income", "abc")]))
                .len(),
            2
        );
        assert_eq!(
            def.failures(&attrs(&[])).len(),
            2,
            "missing values do not match a qualifying test"
        );
    }

    #[test]
    fn refuses_empty_and_inverted_rules() {
        let one = |test| ScreenerDefinition {
            criteria: vec![Criterion {
                attribute: "x".into(),
                test,
                effect: Effect::Qualify,
            }],
            quotas: vec![],
        };
        assert!(
            one(Test::Range {
                min: None,
                max: None
            })
            .validate()
            .is_err()
        );
        assert!(
            one(Test::Range {
                min: Some(5.0),
                max: Some(1.0)
            })
            .validate()
            .is_err()
        );
        assert!(one(Test::Equals { value: " ".into() }).validate().is_err());
        let q = ScreenerDefinition {
            criteria: vec![],
            quotas: vec![Quota {
                attribute: "a".into(),
                max: 0,
            }],
        };
        assert!(q.validate().is_err());
    }
}
