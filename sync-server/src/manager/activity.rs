//! Activity per rep per day, week or month — visits logged, new customers, cards updated,
//! opportunities moved — counted from the classified change rows ([`super::read_model`]:
//! each accepted or seeded change, classified by core's history diff), never from
//! counters kept by hand. Also as CSV.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{Page, paging, scope_filter, team_reps};
use crate::cache::DocCache;
use crate::error::{Error, Result};
use crate::storage::{ActivityRange, Period, Storage};
use crate::viewer::Viewer;

/// The longest range a report covers, in days.
pub const MAX_RANGE_DAYS: i64 = 731;

/// Bucket size of an activity report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityPeriod {
    /// Calendar days.
    #[default]
    Day,
    /// Weeks from Monday.
    Week,
    /// Calendar months.
    Month,
}

/// An activity request (`GET /v1/manager/activity`, `…/activity.csv`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActivityQuery {
    /// Bucket size.
    pub period: ActivityPeriod,
    /// First day (local), inclusive; default: 30 days, 12 weeks or 12 months back.
    pub from: Option<NaiveDate>,
    /// Last day (local), inclusive; default: today.
    pub to: Option<NaiveDate>,
    /// Only this rep (who must be in the viewer's team).
    pub rep: Option<String>,
    /// Offset of the local calendar from UTC in minutes (default 480, China time).
    pub utc_offset_minutes: Option<i32>,
    /// Page of reps, from 1.
    pub page: Option<u32>,
    /// Reps per page (1–200, default 50).
    pub per_page: Option<u32>,
}

/// Counts of one bucket (or of a whole range).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityCounts {
    /// Visits logged.
    pub visits: u64,
    /// New customers: cards created.
    pub new_customers: u64,
    /// Existing cards changed (each card once per bucket).
    pub cards_updated: u64,
    /// Opportunity stages moved.
    pub opportunities_moved: u64,
    /// Changes made.
    pub changes: u64,
}

/// One bucket of a rep's activity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityBucket {
    /// The bucket's first day (local).
    pub start: NaiveDate,
    /// Its counts.
    #[serde(flatten)]
    pub counts: ActivityCounts,
}

/// One rep's activity over the range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepActivity {
    /// The rep's id.
    pub person_id: String,
    /// Their name.
    pub name: String,
    /// Every bucket of the range, empty ones included (a chart needs them), oldest first.
    pub buckets: Vec<ActivityBucket>,
    /// The sums over the range (cards updated: each card once per bucket, summed).
    pub totals: ActivityCounts,
}

/// The activity report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityReport {
    /// Bucket size.
    pub period: ActivityPeriod,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// The local calendar's offset from UTC, minutes.
    pub utc_offset_minutes: i32,
    /// The reps, a page at a time.
    pub reps: Page<RepActivity>,
}

fn first_of_bucket(period: ActivityPeriod, d: NaiveDate) -> NaiveDate {
    use chrono::Datelike;
    match period {
        ActivityPeriod::Day => d,
        ActivityPeriod::Week => d - Duration::days(i64::from(d.weekday().num_days_from_monday())),
        ActivityPeriod::Month => d.with_day(1).unwrap_or(d),
    }
}

fn next_bucket(period: ActivityPeriod, d: NaiveDate) -> NaiveDate {
    match period {
        ActivityPeriod::Day => d + Duration::days(1),
        ActivityPeriod::Week => d + Duration::days(7),
        ActivityPeriod::Month => d
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(d + Duration::days(31)),
    }
}

/// The viewer's team's activity.
pub fn activity(
    storage: &dyn Storage,
    _docs: &DocCache,
    viewer: &Viewer,
    query: &ActivityQuery,
    now: i64,
) -> Result<ActivityReport> {
    let (page, per_page, offset) = paging(query.page, query.per_page)?;
    let offset_minutes = query.utc_offset_minutes.unwrap_or(480);
    if !(-720..=840).contains(&offset_minutes) {
        return Err(Error::Invalid(
            "utc_offset_minutes is between -720 and 840".into(),
        ));
    }
    let offset_secs = i64::from(offset_minutes) * 60;
    let today = chrono::DateTime::<Utc>::from_timestamp(now.saturating_add(offset_secs), 0)
        .unwrap_or_default()
        .date_naive();
    let to = query.to.unwrap_or(today);
    let from = query.from.unwrap_or(match query.period {
        ActivityPeriod::Day => to - Duration::days(29),
        ActivityPeriod::Week => first_of_bucket(ActivityPeriod::Week, to) - Duration::weeks(11),
        ActivityPeriod::Month => first_of_bucket(ActivityPeriod::Month, to)
            .checked_sub_months(chrono::Months::new(11))
            .unwrap_or(to),
    });
    if from > to {
        return Err(Error::Invalid("from is after to".into()));
    }
    if (to - from).num_days() > MAX_RANGE_DAYS {
        return Err(Error::Invalid(format!(
            "a report covers at most {MAX_RANGE_DAYS} days"
        )));
    }

    let mut reps = team_reps(storage, viewer)?;
    if let Some(rep) = &query.rep {
        reps.retain(|(p, _)| &p.id == rep);
        if reps.is_empty() {
            return Err(Error::AccessDenied);
        }
    }
    let total = reps.len() as u64;
    let reps: Vec<_> = reps
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(per_page as usize)
        .collect();
    let scope = viewer.scope(storage)?;
    let start_secs = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp() - offset_secs)
            .unwrap_or(0)
    };
    let rows = storage.activity_counts(&ActivityRange {
        territories: scope_filter(&scope),
        people: Some(reps.iter().map(|(p, _)| p.id.clone()).collect()),
        from: start_secs(from),
        to: start_secs(to + Duration::days(1)),
        period: match query.period {
            ActivityPeriod::Day => Period::Day,
            ActivityPeriod::Week => Period::Week,
            ActivityPeriod::Month => Period::Month,
        },
        utc_offset_secs: offset_secs,
    })?;
    let mut by_rep: BTreeMap<(String, NaiveDate), ActivityCounts> = BTreeMap::new();
    for r in rows {
        let Ok(start) = NaiveDate::parse_from_str(&r.bucket, "%Y-%m-%d") else {
            continue;
        };
        by_rep.insert(
            (r.person_id, start),
            ActivityCounts {
                visits: r.visits,
                new_customers: r.new_customers,
                cards_updated: r.cards_updated,
                opportunities_moved: r.stages_moved,
                changes: r.changes,
            },
        );
    }
    let mut starts = Vec::new();
    let mut d = first_of_bucket(query.period, from);
    while d <= to {
        starts.push(d);
        d = next_bucket(query.period, d);
    }
    let items = reps
        .into_iter()
        .map(|(p, _)| {
            let mut totals = ActivityCounts::default();
            let buckets = starts
                .iter()
                .map(|s| {
                    let counts = by_rep.remove(&(p.id.clone(), *s)).unwrap_or_default();
                    totals.visits += counts.visits;
                    totals.new_customers += counts.new_customers;
                    totals.cards_updated += counts.cards_updated;
                    totals.opportunities_moved += counts.opportunities_moved;
                    totals.changes += counts.changes;
                    ActivityBucket { start: *s, counts }
                })
                .collect();
            RepActivity {
                person_id: p.id,
                name: p.name,
                buckets,
                totals,
            }
        })
        .collect();
    Ok(ActivityReport {
        period: query.period,
        from,
        to,
        utc_offset_minutes: offset_minutes,
        reps: Page {
            items,
            page,
            per_page,
            total,
        },
    })
}

/// The same report as CSV (one row per rep per bucket, a header first). A cell that a
/// spreadsheet would read as a formula is prefixed with `'`.
pub fn activity_csv(
    storage: &dyn Storage,
    docs: &DocCache,
    viewer: &Viewer,
    query: &ActivityQuery,
    now: i64,
) -> Result<String> {
    let report = activity(storage, docs, viewer, query, now)?;
    let mut out = String::from(
        "rep,name,period_start,visits,new_customers,cards_updated,opportunities_moved,changes\n",
    );
    for rep in &report.reps.items {
        for b in &rep.buckets {
            let c = &b.counts;
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{}\n",
                csv_cell(&rep.person_id),
                csv_cell(&rep.name),
                b.start,
                c.visits,
                c.new_customers,
                c.cards_updated,
                c.opportunities_moved,
                c.changes
            ));
        }
    }
    Ok(out)
}

/// One CSV cell: quoted when it holds a separator, a quote or a line break; a leading
/// `= + - @` (a formula to a spreadsheet) defused with `'`.
fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("张伟"), "张伟");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }

    #[test]
    fn buckets_start_on_the_day_monday_and_first() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 3).expect("date"); // a Thursday
        assert_eq!(first_of_bucket(ActivityPeriod::Day, d), d);
        assert_eq!(
            first_of_bucket(ActivityPeriod::Week, d),
            NaiveDate::from_ymd_opt(2026, 11, 30).expect("date")
        );
        assert_eq!(
            first_of_bucket(ActivityPeriod::Month, d),
            NaiveDate::from_ymd_opt(2026, 12, 1).expect("date")
        );
    }
}
