//! The dashboard's pages: each handler gathers its view on a blocking thread and renders
//! one template. Text from users passes [`super::text::shown`] on its way into a view.

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::PageError;
use super::cards::{page_number, query};
use super::error::render_failed;
use super::session::{Dashboard, check_origin, session_token};
use super::text::shown;
use crate::AppState;
use crate::manager::TeamQuery;

/// Renders a template into an HTML response (a failing template is a logged 500).
pub(crate) fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => render_failed(&e),
    }
}

/// What every signed-in page's layout shows: the nav, who is signed in, the logout form.
pub(crate) struct Nav {
    /// The signed-in person's name.
    pub(crate) name: String,
    /// The CSRF token for the page's forms.
    pub(crate) csrf: String,
    /// Which tab is current (`team`, `cards`, ...).
    pub(crate) active: &'static str,
}

impl Nav {
    pub(crate) fn new(d: &Dashboard, active: &'static str) -> Nav {
        Nav {
            name: shown(&d.name),
            csrf: d.csrf.clone(),
            active,
        }
    }
}

/// `/` and `/dashboard`: the team page when signed in, else the login page.
pub(super) async fn home(headers: HeaderMap) -> Response {
    if session_token(&headers).is_some() {
        Redirect::to("/team").into_response()
    } else {
        Redirect::to("/login").into_response()
    }
}

/// Unix seconds as Beijing time (UTC+8), the company's clock.
pub(crate) fn beijing(secs: i64) -> String {
    let offset = chrono::FixedOffset::east_opt(8 * 3600);
    match (chrono::DateTime::from_timestamp(secs, 0), offset) {
        (Some(t), Some(o)) => t.with_timezone(&o).format("%Y-%m-%d %H:%M").to_string(),
        _ => String::from("—"),
    }
}

/// Unix-time-like `DateTime` as Beijing time, or empty when unknown.
pub(crate) fn beijing_time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map_or_else(String::new, |t| beijing(t.timestamp()))
}

/// How a device's role reads in Chinese.
pub(crate) fn role_label(role: &str) -> &'static str {
    match role {
        "rep" => "销售",
        "manager" => "经理",
        "admin" => "管理员",
        "server" => "服务器",
        _ => "设备",
    }
}

/// Page links under a list: where the previous and next pages are.
pub(crate) struct Pager {
    pub(crate) page: u32,
    pub(crate) pages: u64,
    pub(crate) total: u64,
    pub(crate) prev: Option<String>,
    pub(crate) next: Option<String>,
}

impl Pager {
    /// The pager of page `page` of `total` rows, `per_page` a page; `href` links a page.
    pub(crate) fn new(page: u32, per_page: u32, total: u64, href: impl Fn(u32) -> String) -> Pager {
        let pages = total.div_ceil(u64::from(per_page.max(1))).max(1);
        Pager {
            page,
            pages,
            total,
            prev: (page > 1).then(|| href(page - 1)),
            next: (u64::from(page) < pages).then(|| href(page + 1)),
        }
    }
}

/// One device on the team page.
pub(crate) struct DeviceCell {
    name: String,
    role: &'static str,
    last_sync: String,
    revoked: bool,
    unsynced: bool,
    diverged: bool,
}

/// One rep on the team page.
pub(crate) struct TeamRow {
    id: String,
    name: String,
    territories: String,
    last_sync: String,
    devices: Vec<DeviceCell>,
    unsynced: u32,
    diverged: u32,
    conflicts: u64,
    pending_review: u64,
    day: u64,
    week: u64,
    month: u64,
}

/// 团队: the reps of the viewer's territories, their devices and their recent work.
#[derive(Template)]
#[template(path = "team.html")]
struct TeamPage {
    nav: Nav,
    rows: Vec<TeamRow>,
    pager: Pager,
}

/// `?page=` of a paged page.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct PageQuery {
    page: String,
}

pub(super) async fn team(
    State(state): State<AppState>,
    dashboard: Dashboard,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let tq = TeamQuery {
        page: page_number(&query(q)?.page)?,
        per_page: None,
    };
    let viewer = dashboard.viewer.clone();
    let docs = state.docs.clone();
    let now = state.now();
    let (report, territories) = crate::http::blocking(&state, move |s| {
        let report = crate::manager::team(s, &docs, &viewer, &tq, now)?;
        // Only the territories' names: the report already holds the reps.
        let names: Vec<(String, String)> = s
            .territories()?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        Ok((report, names))
    })
    .await?;
    let territory_name = |id: &String| {
        territories
            .iter()
            .find(|(t, _)| t == id)
            .map_or_else(|| id.clone(), |(_, n)| n.clone())
    };
    let rows = report
        .reps
        .items
        .iter()
        .map(|r| TeamRow {
            id: shown(&r.person_id),
            name: shown(&r.name),
            territories: shown(
                &r.territories
                    .iter()
                    .map(territory_name)
                    .collect::<Vec<_>>()
                    .join("、"),
            ),
            last_sync: r
                .last_sync_at
                .map_or_else(|| "从未同步".to_owned(), |t| beijing(t.timestamp())),
            devices: r
                .devices
                .iter()
                .map(|d| DeviceCell {
                    name: shown(&d.name),
                    role: role_label(&d.role),
                    last_sync: d
                        .last_sync_at
                        .map_or_else(|| "从未同步".to_owned(), |t| beijing(t.timestamp())),
                    revoked: d.revoked,
                    unsynced: d.unsynced,
                    diverged: d.diverged,
                })
                .collect(),
            unsynced: r.unsynced_devices,
            diverged: r.diverged_devices,
            conflicts: r.open_conflicts,
            pending_review: r.pending_review,
            day: r.edits_last_day,
            week: r.edits_last_week,
            month: r.edits_last_month,
        })
        .collect();
    let pager = Pager::new(
        report.reps.page,
        report.reps.per_page,
        report.reps.total,
        |p| format!("/team?page={p}"),
    );
    Ok(render(&TeamPage {
        nav: Nav::new(&dashboard, "team"),
        rows,
        pager,
    }))
}

/// One item of the review queue.
pub(crate) struct ReviewRow {
    id: u64,
    card_name: String,
    territory: String,
    person: String,
    device: String,
    received_at: String,
    changes: u32,
    status: &'static str,
    pending: bool,
}

/// 审核: the review queue, with accept and discard on each pending item.
#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    nav: Nav,
    rows: Vec<ReviewRow>,
}

fn status_label(s: crate::storage::ReviewStatus) -> &'static str {
    match s {
        crate::storage::ReviewStatus::Pending => "待审核",
        crate::storage::ReviewStatus::Accepted => "已接受",
        crate::storage::ReviewStatus::Discarded => "已丢弃",
    }
}

pub(super) async fn review(
    State(state): State<AppState>,
    dashboard: Dashboard,
) -> Result<Response, PageError> {
    let viewer = dashboard.viewer.clone();
    let page = crate::http::blocking(&state, move |s| {
        crate::review::list(s, &viewer, &crate::review::ReviewQuery::default())
    })
    .await?;
    let rows = page
        .items
        .into_iter()
        .map(|i| ReviewRow {
            id: i.id,
            card_name: shown(i.card_name.as_deref().unwrap_or(&i.card_id)),
            territory: shown(i.territory.as_deref().unwrap_or("—")),
            person: shown(&i.person_id),
            device: shown(i.device_name.as_deref().unwrap_or(&i.device_id)),
            received_at: beijing(i.received_at),
            changes: i.changes,
            status: status_label(i.status),
            pending: i.status == crate::storage::ReviewStatus::Pending,
        })
        .collect();
    Ok(render(&ReviewPage {
        nav: Nav::new(&dashboard, "review"),
        rows,
    }))
}

/// A form that carries only the CSRF token.
#[derive(Debug, serde::Deserialize)]
pub(super) struct CsrfForm {
    csrf: String,
}

fn checked_form(
    dashboard: &Dashboard,
    headers: &HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<(), PageError> {
    check_origin(headers)?;
    let Form(form) = form.map_err(|e| PageError::Server(crate::Error::Malformed(e.body_text())))?;
    dashboard.check_form(&form.csrf)
}

/// Accepts (`accept`) or discards a review item, then shows the queue again.
async fn decide(
    state: AppState,
    dashboard: Dashboard,
    id: u64,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
    accept: bool,
) -> Result<Response, PageError> {
    checked_form(&dashboard, &headers, form)?;
    let viewer = dashboard.viewer.clone();
    let docs = state.docs.clone();
    let now = state.now();
    crate::http::blocking(&state, move |s| {
        if accept {
            crate::review::accept(s, &docs, &viewer, id, now).map(|_| ())
        } else {
            crate::review::discard(s, &viewer, id, None, now).map(|_| ())
        }
    })
    .await?;
    Ok(Redirect::to("/review").into_response())
}

pub(super) async fn review_accept(
    State(state): State<AppState>,
    dashboard: Dashboard,
    Path(id): Path<u64>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    decide(state, dashboard, id, headers, form, true).await
}

pub(super) async fn review_discard(
    State(state): State<AppState>,
    dashboard: Dashboard,
    Path(id): Path<u64>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    decide(state, dashboard, id, headers, form, false).await
}
