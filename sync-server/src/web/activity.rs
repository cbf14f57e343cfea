//! 活动: the team's activity per rep per day, week or month — visits logged, new
//! customers, cards updated, opportunities moved — as a chart (trends read from a picture)
//! and as tables, with the CSV download of the same report.
//!
//! The numbers are [`crate::manager::activity`]'s, derived from the change history; the
//! CSV link points at the JSON API's `activity.csv`, which a dashboard session may call.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::PageError;
use super::cards::{Choice, page_number, query, scope_choices};
use super::chart::{Series, Svg, bar_chart};
use super::pages::{Nav, Pager, render};
use super::session::Dashboard;
use super::text::shown;
use crate::AppState;
use crate::error::Error;
use crate::manager::ActivityQuery;
use crate::manager::activity::{ActivityCounts, ActivityPeriod};

/// The report form as the browser sends it (empty: the default).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub(super) struct ActivityForm {
    period: String,
    from: String,
    to: String,
    rep: String,
    page: String,
}

fn date(s: &str, what: &str) -> Result<Option<NaiveDate>, PageError> {
    match s.trim() {
        "" => Ok(None),
        t => NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| PageError::Server(Error::Invalid(format!("{what} is not a date")))),
    }
}

impl ActivityForm {
    fn to_query(&self) -> Result<ActivityQuery, PageError> {
        Ok(ActivityQuery {
            period: match self.period.as_str() {
                "week" => ActivityPeriod::Week,
                "month" => ActivityPeriod::Month,
                _ => ActivityPeriod::Day,
            },
            from: date(&self.from, "from")?,
            to: date(&self.to, "to")?,
            rep: Some(self.rep.trim().to_owned()).filter(|r| !r.is_empty()),
            utc_offset_minutes: None,
            page: page_number(&self.page)?,
            per_page: None,
        })
    }

    /// The query string of this report (its CSV, another page of reps).
    fn query_string(&self, page: Option<u32>) -> String {
        let page = page.map(|p| p.to_string()).unwrap_or_default();
        let pairs: Vec<(&str, &str)> = [
            ("period", self.period.as_str()),
            ("from", &self.from),
            ("to", &self.to),
            ("rep", &self.rep),
            ("page", &page),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

/// One rep's totals over the range.
pub(crate) struct RepTotals {
    id: String,
    name: String,
    counts: ActivityCounts,
}

/// The team's counts of one period.
pub(crate) struct BucketTotals {
    label: String,
    counts: ActivityCounts,
}

#[derive(Template)]
#[template(path = "activity.html")]
struct ActivityPage {
    nav: Nav,
    form: ActivityForm,
    periods: Vec<Choice>,
    reps: Vec<Choice>,
    from: String,
    to: String,
    chart: Svg,
    totals: Vec<RepTotals>,
    buckets: Vec<BucketTotals>,
    csv_href: String,
    pager: Pager,
}

fn add(into: &mut ActivityCounts, c: &ActivityCounts) {
    // Core's sum: every count, contracts and orders included.
    into.add(c);
}

/// `GET /activity`.
pub(super) async fn page(
    State(state): State<AppState>,
    dashboard: Dashboard,
    q: Result<Query<ActivityForm>, QueryRejection>,
) -> Result<Response, PageError> {
    let form = query(q)?;
    let aq = form.to_query()?;
    let viewer = dashboard.viewer.clone();
    let docs = state.docs.clone();
    let now = state.now();
    let (report, (_, reps)) = crate::http::blocking(&state, move |s| {
        let report = crate::manager::activity(s, &docs, &viewer, &aq, now)?;
        Ok((report, scope_choices(s, &viewer)?))
    })
    .await?;

    // The team's totals per period, over the reps of this page.
    let mut buckets: Vec<BucketTotals> = report
        .reps
        .items
        .first()
        .map(|r| {
            r.buckets
                .iter()
                .map(|b| BucketTotals {
                    label: match report.period {
                        ActivityPeriod::Day => b.start.format("%m-%d").to_string(),
                        ActivityPeriod::Week => format!("{} 周", b.start.format("%m-%d")),
                        ActivityPeriod::Month => b.start.format("%Y-%m").to_string(),
                    },
                    counts: ActivityCounts::default(),
                })
                .collect()
        })
        .unwrap_or_default();
    for rep in &report.reps.items {
        for (total, b) in buckets.iter_mut().zip(&rep.buckets) {
            add(&mut total.counts, &b.counts);
        }
    }
    let categories: Vec<String> = buckets.iter().map(|b| b.label.clone()).collect();
    let series_of = |name: &str, f: fn(&ActivityCounts) -> u64| Series {
        name: name.to_owned(),
        values: buckets.iter().map(|b| f(&b.counts)).collect(),
    };
    let chart = bar_chart(
        "团队活动趋势",
        &categories,
        &[
            series_of("拜访", |c| c.visits),
            series_of("新客户", |c| c.new_customers),
            series_of("更新客户", |c| c.cards_updated),
            series_of("商机推进", |c| c.opportunities_moved),
        ],
    );
    let totals = report
        .reps
        .items
        .iter()
        .map(|r| RepTotals {
            id: shown(&r.person_id),
            name: shown(&r.name),
            counts: r.totals.clone(),
        })
        .collect();
    let pager = Pager::new(
        report.reps.page,
        report.reps.per_page,
        report.reps.total,
        |p| format!("/activity?{}", form.query_string(Some(p))),
    );
    let periods = [("day", "按日"), ("week", "按周"), ("month", "按月")]
        .into_iter()
        .map(|(v, l)| Choice {
            selected: v
                == match report.period {
                    ActivityPeriod::Day => "day",
                    ActivityPeriod::Week => "week",
                    ActivityPeriod::Month => "month",
                },
            value: v.to_owned(),
            label: l.to_owned(),
        })
        .collect();
    let reps = reps
        .into_iter()
        .map(|(id, name)| Choice {
            selected: id == form.rep,
            value: shown(&id),
            label: shown(&name),
        })
        .collect();
    // The form shows the range the report covers, defaults included.
    let form = ActivityForm {
        from: report.from.to_string(),
        to: report.to.to_string(),
        ..form
    };
    Ok(render(&ActivityPage {
        nav: Nav::new(&dashboard, "activity"),
        csv_href: format!("/v1/manager/activity.csv?{}", form.query_string(None)),
        from: report.from.to_string(),
        to: report.to.to_string(),
        form,
        periods,
        reps,
        chart,
        totals,
        buckets,
        pager,
    }))
}
