//! The follow-up figures: how the promises of a period are kept, computed
//! once from the issues raised in it. The follow-up report prints them and
//! the app's dashboard shows them, so the two always agree.

use crate::issues::Issue;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use ts_rs::TS;

/// How many of the oldest open promises the figures list.
pub const OLDEST_LISTED: usize = 25;

/// The follow-up of the issues raised from `from` to `to` (both days
/// included, UTC).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FollowUpFigures {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub raised: u32,
    /// Still open (open or contacted).
    pub open: u32,
    /// Open and past a due time.
    pub overdue: u32,
    /// From raising to the first logged contact.
    pub median_first_contact_hours: Option<f64>,
    /// From raising to resolution.
    pub median_resolution_days: Option<f64>,
    pub median_handoffs: Option<f64>,
    pub mean_handoffs: f64,
    /// Issues reopened at least once, and how often in all.
    pub reopened_issues: u32,
    pub reopens: u32,
    /// By owner's name ("(no owner)" for the unowned), alphabetically.
    pub by_owner: Vec<OwnerFigures>,
    /// By week raised (weeks start on Monday), oldest first.
    pub by_week: Vec<WeekFigures>,
    /// How many issues were handed off how many times, fewest first (every
    /// count from none to the most, so that a chart shows the gaps).
    pub handoff_counts: Vec<HandoffCount>,
    /// The oldest open promises, oldest first, at most [`OLDEST_LISTED`].
    pub oldest_open: Vec<Issue>,
}

/// One owner's promises in the period.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OwnerFigures {
    pub owner: String,
    pub open: u32,
    pub overdue: u32,
    /// Resolved, won't fix or closed.
    pub resolved: u32,
}

/// The issues raised in one week of the period.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WeekFigures {
    /// The Monday the week starts on.
    pub week: NaiveDate,
    pub raised: u32,
    pub median_first_contact_hours: Option<f64>,
    pub median_resolution_days: Option<f64>,
}

/// The issues handed off `handoffs` times.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandoffCount {
    pub handoffs: u32,
    pub issues: u32,
}

/// The middle value (the mean of the two middle ones for an even count).
pub(crate) fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    })
}

fn hours(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_minutes() as f64 / 60.0
}

fn first_contact_hours(issues: &[&Issue]) -> Option<f64> {
    median(
        issues
            .iter()
            .filter_map(|i| i.first_contact_at.map(|at| hours(i.created_at, at)))
            .collect(),
    )
}

fn resolution_days(issues: &[&Issue]) -> Option<f64> {
    median(
        issues
            .iter()
            .filter_map(|i| i.resolved_at.map(|at| hours(i.created_at, at) / 24.0))
            .collect(),
    )
}

/// The figures of `all`, the issues raised from `from` to `to`.
pub fn figures(all: &[Issue], from: NaiveDate, to: NaiveDate) -> FollowUpFigures {
    let every: Vec<&Issue> = all.iter().collect();
    let mut owners: BTreeMap<String, OwnerFigures> = BTreeMap::new();
    for i in all {
        let name = i.owner_name.clone().unwrap_or_else(|| "(no owner)".into());
        let o = owners.entry(name.clone()).or_insert(OwnerFigures {
            owner: name,
            open: 0,
            overdue: 0,
            resolved: 0,
        });
        if i.status.is_open() {
            o.open += 1;
            o.overdue += u32::from(i.overdue);
        } else {
            o.resolved += 1;
        }
    }
    let mut weeks: BTreeMap<NaiveDate, Vec<&Issue>> = BTreeMap::new();
    for i in all {
        let day = i.created_at.date_naive();
        let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
        weeks.entry(monday).or_default().push(i);
    }
    let handoffs: Vec<f64> = all.iter().map(|i| f64::from(i.handoffs)).collect();
    let most = all.iter().map(|i| i.handoffs).max();
    let handoff_counts = most
        .map(|most| {
            (0..=most)
                .map(|n| HandoffCount {
                    handoffs: n,
                    issues: all.iter().filter(|i| i.handoffs == n).count() as u32,
                })
                .collect()
        })
        .unwrap_or_default();
    let mut oldest: Vec<&Issue> = all.iter().filter(|i| i.status.is_open()).collect();
    oldest.sort_by_key(|i| (i.created_at, i.id.0));
    let open = oldest.len() as u32;
    FollowUpFigures {
        from,
        to,
        raised: all.len() as u32,
        open,
        overdue: owners.values().map(|o| o.overdue).sum(),
        median_first_contact_hours: first_contact_hours(&every),
        median_resolution_days: resolution_days(&every),
        mean_handoffs: if handoffs.is_empty() {
            0.0
        } else {
            handoffs.iter().sum::<f64>() / handoffs.len() as f64
        },
        median_handoffs: median(handoffs),
        reopened_issues: all.iter().filter(|i| i.reopens > 0).count() as u32,
        reopens: all.iter().map(|i| i.reopens).sum(),
        by_owner: owners.into_values().collect(),
        by_week: weeks
            .into_iter()
            .map(|(week, issues)| WeekFigures {
                week,
                raised: issues.len() as u32,
                median_first_contact_hours: first_contact_hours(&issues),
                median_resolution_days: resolution_days(&issues),
            })
            .collect(),
        handoff_counts,
        oldest_open: oldest.into_iter().take(OLDEST_LISTED).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_middle_value_of_an_odd_and_an_even_count() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
