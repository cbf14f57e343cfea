//! The dashboard's pages: each handler gathers its view on a blocking thread and renders
//! one template. Text from users passes [`super::text::shown`] on its way into a view.

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::PageError;
use super::error::render_failed;
use super::session::{Dashboard, session_token};
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
