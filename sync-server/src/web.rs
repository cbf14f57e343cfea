//! The manager's dashboard: a server-rendered web application for managers and admins.
//!
//! What it owns: signing in (a password or a one-time link, [`account`]), the session
//! cookie and the checks every form passes (`session`: HttpOnly, SameSite=Strict, a
//! per-session CSRF token and the `Origin` check), the pages and their templates
//! (`pages`: team and review; `cards`: the card list and one card; `activity`; `analysis`: ABC; `handoff`: form, preview, confirmation; `sync-server/templates/`, one static stylesheet), the SVG charts
//! ([`chart`]) and how text is shown ([`text`]). Card data comes from the manager's read
//! model and the handoff functions, the same ones the JSON API calls; this module never
//! reads cards from storage itself.
//!
//! Every page answers with a strict Content-Security-Policy (`default-src 'self'`, no
//! script at all, no inline style), `X-Frame-Options: DENY`, `Referrer-Policy:
//! same-origin` (a login link's token is in its URL, so no other site may see it; not
//! `no-referrer`, under which a browser sends `Origin: null` with forms) and
//! `Cache-Control: no-store`.
//! Templates escape every value (askama, `.html`); nothing is marked safe except SVG the
//! chart module built from escaped parts.

pub mod account;
mod activity;
mod analysis;
mod cards;
pub mod chart;
mod error;
mod handoff;
mod login;
mod pages;
mod session;
mod settings;
pub mod text;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::AppState;

pub use error::PageError;
pub(crate) use session::viewer_from_cookie;

/// The Content-Security-Policy of every dashboard response.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'none'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The dashboard's stylesheet, served at [`STYLESHEET_PATH`].
const STYLESHEET: &str = include_str!("../static/dashboard.css");
/// Where the stylesheet is served.
pub const STYLESHEET_PATH: &str = "/static/dashboard.css";

/// The dashboard's routes (merged into [`crate::http::router`]).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/dashboard", get(pages::home))
        .route("/login", get(login::form).post(login::password))
        .route("/login/link", get(login::link_form).post(login::link))
        .route("/logout", post(login::logout))
        .route("/team", get(pages::team))
        .route("/cards", get(cards::list))
        .route("/cards/{card_id}", get(cards::show))
        .route("/activity", get(activity::page))
        .route("/analysis", get(analysis::page))
        .route("/settings", get(settings::form).post(settings::save))
        .route("/handoff", get(handoff::form).post(handoff::execute))
        .route("/handoff/preview", post(handoff::preview))
        .route("/review", get(pages::review))
        .route("/review/{id}/accept", post(pages::review_accept))
        .route("/review/{id}/discard", post(pages::review_discard))
        .route(STYLESHEET_PATH, get(stylesheet))
        .layer(middleware::map_response(security_headers))
}

/// The URL a login link's token is used at, under the server's public address.
pub fn login_link_url(base: &str, token: &str) -> String {
    format!("{}/login/link?token={token}", base.trim_end_matches('/'))
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        STYLESHEET,
    )
        .into_response()
}

async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
