//! The dashboard's pages: each handler gathers its view on a blocking thread and renders
//! one template. Text from users passes [`super::text::shown`] on its way into a view.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::PageError;
use super::error::render_failed;
use super::session::{Dashboard, check_origin, session_token};
use super::text::shown;
use crate::AppState;
use crate::storage::{PersonKind, Storage};
use crate::viewer::{Scope, Viewer};

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

/// One device on the team page.
pub(crate) struct DeviceCell {
    name: String,
    last_sync: String,
    revoked: bool,
}

/// One rep on the team page.
pub(crate) struct TeamRow {
    id: String,
    name: String,
    territories: String,
    devices: Vec<DeviceCell>,
}

/// 团队: the reps of the viewer's territories and their devices.
#[derive(Template)]
#[template(path = "team.html")]
struct TeamPage {
    nav: Nav,
    rows: Vec<TeamRow>,
}

fn team_rows(s: &dyn Storage, viewer: &Viewer) -> crate::Result<Vec<TeamRow>> {
    let scope = viewer.scope(s)?;
    let territories = s.territories()?;
    let devices = s.devices()?;
    let mut rows = Vec::new();
    for person in s.people()? {
        if person.kind != PersonKind::Rep {
            continue;
        }
        let held: Vec<String> = territories
            .iter()
            .filter(|t| t.owner.as_deref() == Some(person.id.as_str()) && scope.contains(&t.id))
            .map(|t| shown(&t.name))
            .collect();
        if held.is_empty() && scope != Scope::All {
            continue;
        }
        rows.push(TeamRow {
            id: shown(&person.id),
            name: shown(&person.name),
            territories: held.join("、"),
            devices: devices
                .iter()
                .filter(|d| d.person_id == person.id)
                .map(|d| DeviceCell {
                    name: shown(&d.name),
                    last_sync: d.last_sync_at.map_or_else(|| "从未同步".into(), beijing),
                    revoked: d.revoked,
                })
                .collect(),
        });
    }
    Ok(rows)
}

pub(super) async fn team(
    State(state): State<AppState>,
    dashboard: Dashboard,
) -> Result<Response, PageError> {
    let viewer = dashboard.viewer.clone();
    let rows = crate::http::blocking(&state, move |s| team_rows(s, &viewer)).await?;
    Ok(render(&TeamPage {
        nav: Nav::new(&dashboard, "team"),
        rows,
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

pub(super) async fn review_accept(
    State(state): State<AppState>,
    dashboard: Dashboard,
    Path(id): Path<u64>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    checked_form(&dashboard, &headers, form)?;
    let viewer = dashboard.viewer.clone();
    let docs = state.docs.clone();
    let now = state.now();
    crate::http::blocking(&state, move |s| {
        crate::review::accept(s, &docs, &viewer, id, now)
    })
    .await?;
    Ok(Redirect::to("/review").into_response())
}

pub(super) async fn review_discard(
    State(state): State<AppState>,
    dashboard: Dashboard,
    Path(id): Path<u64>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    checked_form(&dashboard, &headers, form)?;
    let viewer = dashboard.viewer.clone();
    let now = state.now();
    crate::http::blocking(&state, move |s| {
        crate::review::discard(s, &viewer, id, None, now)
    })
    .await?;
    Ok(Redirect::to("/review").into_response())
}
