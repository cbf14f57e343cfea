//! 分析: ABC classes of the manager's customers (by the company's settings; by default the
//! seed's 75/20/5 of average monthly sales over the last three full months), with the
//! class each rep set by hand beside the computed one; 信用, the credit list of the same
//! cards ([`super::credit`]); and the sales pipeline (per stage count, value and weighted
//! value, the forecast per rep, time in each stage from history, the stalled
//! opportunities). The numbers are [`crate::manager::abc`]'s, [`crate::manager::credit`]'s
//! and [`crate::manager::pipeline`]'s — core's `analysis`, the same code as on the phone.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::NaiveDate;
use fieldbook_core::value::{Class, Scalar};
use serde::Deserialize;

use super::PageError;
use super::cards::{Choice, query, scope_choices};
use super::pages::{Nav, render};
use super::session::Dashboard;
use super::text::shown;
use crate::AppState;
use crate::error::Error;
use crate::manager::{AbcQuery, PipelineQuery};

/// The form as the browser sends it (empty: the default).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct AbcForm {
    territory: String,
    date: String,
}

/// One customer.
pub(crate) struct AbcLine {
    id: String,
    rank: u32,
    name: String,
    average: String,
    share: String,
    cumulative: String,
    computed: String,
    manual: String,
    differs: bool,
}

/// A class's totals.
pub(crate) struct ClassTotal {
    class: &'static str,
    customers: usize,
    share: String,
}

/// One stage of the pipeline.
pub(crate) struct PipelineStage {
    code: &'static str,
    label: &'static str,
    percent: String,
    count: u32,
    amount: String,
    weighted: String,
}

/// One rep's forecast.
pub(crate) struct RepLine {
    rep: String,
    count: u32,
    amount: String,
    weighted: String,
}

/// Time spent in one stage.
pub(crate) struct DwellLine {
    label: &'static str,
    spells: u32,
    open: u32,
    mean_days: String,
}

/// A stalled opportunity.
pub(crate) struct StalledLine {
    card: String,
    customer: String,
    title: String,
    stage: &'static str,
    rep: String,
    days: i64,
    amount: String,
}

#[derive(Template)]
#[template(path = "analysis.html")]
struct AbcPage {
    nav: Nav,
    territories: Vec<Choice>,
    date: String,
    window: String,
    total: String,
    classes: Vec<ClassTotal>,
    rows: Vec<AbcLine>,
    /// The company's ABC settings the classes follow.
    months: u32,
    a_percent: u32,
    b_percent: u32,
    c_percent: u32,
    /// 信用: the credit list of the same cards on the same day.
    credit: super::credit::CreditSection,
    /// The pipeline of the same cards at the end of the same day.
    pipeline_total: String,
    pipeline_weighted: String,
    stages: Vec<PipelineStage>,
    reps: Vec<RepLine>,
    dwell: Vec<DwellLine>,
    stalled_after_days: u32,
    stalled: Vec<StalledLine>,
}

fn letter(c: Class) -> &'static str {
    match c {
        Class::A => "A",
        Class::B => "B",
        Class::C => "C",
        Class::D => "D",
    }
}

/// `GET /analysis`.
pub(super) async fn page(
    State(state): State<AppState>,
    dashboard: Dashboard,
    q: Result<Query<AbcForm>, QueryRejection>,
) -> Result<Response, PageError> {
    let form = query(q)?;
    let date = match form.date.trim() {
        "" => None,
        d => Some(
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| PageError::Server(Error::Invalid("date is not a date".into())))?,
        ),
    };
    let aq = AbcQuery {
        territory: Some(form.territory.trim().to_owned()).filter(|t| !t.is_empty()),
        date,
    };
    let pq = PipelineQuery {
        territory: aq.territory.clone(),
        date,
        utc_offset_minutes: None,
    };
    let viewer = dashboard.viewer.clone();
    let docs = state.docs.clone();
    let now = state.now();
    let cq = crate::manager::CreditQuery {
        territory: aq.territory.clone(),
        date,
    };
    let (report, (territories, _), abc, credit, pipeline, names) =
        crate::http::blocking(&state, move |s| {
            Ok((
                crate::manager::abc(s, &docs, &viewer, &aq, now)?,
                scope_choices(s, &viewer)?,
                crate::manager::settings::company_settings(s)?.settings.abc,
                crate::manager::credit(s, &docs, &viewer, &cq, now)?,
                crate::manager::pipeline(s, &docs, &viewer, &pq, now)?,
                crate::manager::names(s)?,
            ))
        })
        .await?;
    let rep_name = |r: Option<&fieldbook_core::RepId>| match r {
        Some(r) => shown(names.get(r.as_str()).map_or(r.as_str(), String::as_str)),
        None => "（无人负责）".to_owned(),
    };
    let f = &pipeline.forecast;
    let stages = f
        .total
        .by_stage
        .iter()
        .map(|l| PipelineStage {
            code: l.stage.code(),
            label: l.stage.label(),
            percent: l
                .percent
                .map_or_else(|| "—".to_owned(), |p| format!("{p}%")),
            count: l.opportunities,
            amount: l.amount.display(),
            weighted: l.weighted.display(),
        })
        .collect();
    let reps = f
        .by_rep
        .iter()
        .map(|r| RepLine {
            rep: rep_name(r.rep.as_ref()),
            count: r.forecast.opportunities,
            amount: r.forecast.amount.display(),
            weighted: r.forecast.weighted.display(),
        })
        .collect();
    let dwell = pipeline
        .time_in_stage
        .iter()
        .map(|d| DwellLine {
            label: d.stage.label(),
            spells: d.spells,
            open: d.open_spells,
            mean_days: format!("{:.1}", d.mean_seconds as f64 / 86_400.0),
        })
        .collect();
    let stalled = pipeline
        .stalled
        .iter()
        .map(|o| StalledLine {
            card: shown(o.card.as_str()),
            customer: shown(&o.customer),
            title: shown(o.title.as_deref().unwrap_or(&o.opportunity_id)),
            stage: o.stage.label(),
            rep: rep_name(o.rep.as_ref()),
            days: o.days,
            amount: o.amount.map_or_else(|| "—".to_owned(), |a| a.display()),
        })
        .collect();
    let window = match (report.window.first(), report.window.last()) {
        (Some(a), Some(b)) => format!("{a} 至 {b}"),
        _ => String::new(),
    };
    let total_fen = report.total_sales.fen().max(1);
    let classes = [Class::A, Class::B, Class::C]
        .into_iter()
        .map(|c| {
            let rows: Vec<_> = report.rows.iter().filter(|r| r.computed == c).collect();
            let fen: i64 = rows.iter().map(|r| r.window_sales.fen()).sum();
            ClassTotal {
                class: letter(c),
                customers: rows.len(),
                share: format!("{:.1}%", fen as f64 * 100.0 / total_fen as f64),
            }
        })
        .collect();
    let rows = report
        .rows
        .iter()
        .map(|r| AbcLine {
            id: shown(r.card.as_str()),
            rank: r.rank,
            name: shown(r.name.as_deref().unwrap_or("（未命名客户）")),
            average: r.monthly_average.display(),
            share: r.share.to_string(),
            cumulative: r.cumulative_share.to_string(),
            computed: letter(r.computed).to_owned(),
            manual: r
                .manual
                .map_or_else(|| "—".to_owned(), |c| letter(c).to_owned()),
            differs: r.manual.is_some_and(|m| m != r.computed),
        })
        .collect();
    Ok(render(&AbcPage {
        nav: Nav::new(&dashboard, "analysis"),
        territories: territories
            .into_iter()
            .map(|(id, name)| Choice {
                selected: id == form.territory,
                value: shown(&id),
                label: shown(&name),
            })
            .collect(),
        date: form.date.trim().to_owned(),
        window,
        total: report.total_sales.display(),
        classes,
        rows,
        months: abc.months,
        a_percent: abc.a_percent,
        b_percent: abc.b_percent,
        c_percent: abc.c_percent,
        credit: credit.into(),
        pipeline_total: f.total.amount.display(),
        pipeline_weighted: f.total.weighted.display(),
        stages,
        reps,
        dwell,
        stalled_after_days: pipeline.stalled_after_days,
        stalled,
    }))
}
