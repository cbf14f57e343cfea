//! 分析: ABC classes of the manager's customers (by the company's settings; by default the
//! seed's 75/20/5 of average monthly sales over the last three full months), with the
//! class each rep set by hand beside
//! the computed one. The numbers are [`crate::manager::abc`]'s — core's `analysis`, the
//! same code as on the phone.

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
use crate::manager::AbcQuery;

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
    let viewer = dashboard.viewer.clone();
    let docs = state.docs.clone();
    let now = state.now();
    let (report, (territories, _), abc) = crate::http::blocking(&state, move |s| {
        Ok((
            crate::manager::abc(s, &docs, &viewer, &aq, now)?,
            scope_choices(s, &viewer)?,
            crate::manager::settings::company_settings(s)?.settings.abc,
        ))
    })
    .await?;
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
    }))
}
