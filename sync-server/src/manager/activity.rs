//! Activity per rep per day, week or month — visits logged, new customers, cards updated,
//! opportunities moved, contracts, orders — counted from the classified change rows
//! ([`super::read_model`]: each accepted or seeded change, classified by core's
//! `analysis::activity::classify`, the rule a phone's report applies), never from
//! counters kept by hand. Buckets, ranges and counts are core's types. Also as CSV.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{Page, paging, scope_filter, team_reps};
use crate::cache::DocCache;
use crate::error::{Error, Result};
use crate::storage::{ActivityRange, Period, Storage};
use crate::viewer::Viewer;

pub use fieldbook_core::analysis::activity::{
    ActivityBucket, ActivityCounts, MAX_RANGE_DAYS, Period as ActivityPeriod,
};
use fieldbook_core::analysis::activity::{bucket_start, bucket_starts, check_range};

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
    /// Offset of the local calendar from UTC in minutes (default: the company's, its visit
    /// calendar's; 480, China time, unless changed).
    pub utc_offset_minutes: Option<i32>,
    /// Page of reps, from 1.
    pub page: Option<u32>,
    /// Reps per page (1–200, default 50).
    pub per_page: Option<u32>,
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

/// The viewer's team's activity.
pub fn activity(
    storage: &dyn Storage,
    _docs: &DocCache,
    viewer: &Viewer,
    query: &ActivityQuery,
    now: i64,
) -> Result<ActivityReport> {
    let (page, per_page, offset) = paging(query.page, query.per_page)?;
    let offset_minutes = match query.utc_offset_minutes {
        Some(m) => m,
        None => {
            super::settings::company_settings(storage)?
                .settings
                .visits
                .utc_offset_minutes
        }
    };
    check_range(NaiveDate::MIN, NaiveDate::MIN, offset_minutes)
        .map_err(|e| Error::Invalid(e.to_string()))?;
    let offset_secs = i64::from(offset_minutes) * 60;
    let today = chrono::DateTime::<Utc>::from_timestamp(now.saturating_add(offset_secs), 0)
        .unwrap_or_default()
        .date_naive();
    let to = query.to.unwrap_or(today);
    let from = query.from.unwrap_or(match query.period {
        ActivityPeriod::Day => to - Duration::days(29),
        ActivityPeriod::Week => bucket_start(ActivityPeriod::Week, to) - Duration::weeks(11),
        ActivityPeriod::Month => bucket_start(ActivityPeriod::Month, to)
            .checked_sub_months(chrono::Months::new(11))
            .unwrap_or(to),
    });
    check_range(from, to, offset_minutes).map_err(|e| Error::Invalid(e.to_string()))?;

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
                contracts: r.contracts,
                orders: r.orders,
                changes: r.changes,
            },
        );
    }
    let starts = bucket_starts(query.period, from, to);
    let items = reps
        .into_iter()
        .map(|(p, _)| {
            let mut totals = ActivityCounts::default();
            let buckets = starts
                .iter()
                .map(|s| {
                    let counts = by_rep.remove(&(p.id.clone(), *s)).unwrap_or_default();
                    totals.add(&counts);
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
        "rep,name,period_start,visits,new_customers,cards_updated,opportunities_moved,changes,\
         contracts,orders\n",
    );
    for rep in &report.reps.items {
        for b in &rep.buckets {
            let c = &b.counts;
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{}\n",
                csv_cell(&rep.person_id),
                csv_cell(&rep.name),
                b.start,
                c.visits,
                c.new_customers,
                c.cards_updated,
                c.opportunities_moved,
                c.changes,
                c.contracts,
                c.orders
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
}
