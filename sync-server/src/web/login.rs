//! Signing in and out: the login form (person and password), the one-time link (shown
//! as a button, so a link previewer fetching the URL does not spend it), logout.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::PageError;
use super::account::{self, Opened};
use super::pages::render;
use super::session::{Dashboard, check_origin, cleared_cookie, session_cookie};
use crate::AppState;
use crate::error::Error;

/// The login page (also shown again, with the reason, after a refused login).
#[derive(Template)]
#[template(path = "login.html")]
pub(crate) struct LoginPage {
    pub(crate) message: Option<String>,
    pub(crate) code: Option<&'static str>,
}

/// The page a login link opens: one button that spends it.
#[derive(Template)]
#[template(path = "login_link.html")]
struct LinkPage {
    token: String,
}

pub(super) async fn form() -> Response {
    render(&LoginPage {
        message: None,
        code: None,
    })
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct LoginForm {
    person: String,
    password: String,
}

fn form_body<T>(form: Result<Form<T>, FormRejection>) -> Result<T, PageError> {
    form.map(|Form(f)| f)
        .map_err(|e| PageError::Server(Error::Malformed(e.body_text())))
}

fn signed_in(state: &AppState, opened: &Opened) -> Result<Response, PageError> {
    let cookie = session_cookie(&opened.token, state.config.web_secure_cookies);
    let cookie = HeaderValue::from_str(&cookie)
        .map_err(|_| Error::Internal("session cookie is not a header value".into()))?;
    tracing::info!("dashboard login");
    let mut response = Redirect::to("/team").into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

pub(super) async fn password(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, PageError> {
    check_origin(&headers)?;
    let form = form_body(form)?;
    let now = state.now();
    let opened = crate::http::blocking(&state, move |s| {
        Ok(account::password_login(
            s,
            form.person.trim(),
            &form.password,
            now,
        ))
    })
    .await??;
    signed_in(&state, &opened)
}

/// `?token=` of a login link.
#[derive(Debug, Deserialize)]
pub(super) struct LinkQuery {
    #[serde(default)]
    token: String,
}

pub(super) async fn link_form(Query(q): Query<LinkQuery>) -> Response {
    render(&LinkPage { token: q.token })
}

pub(super) async fn link(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LinkQuery>, FormRejection>,
) -> Result<Response, PageError> {
    check_origin(&headers)?;
    let form = form_body(form)?;
    let now = state.now();
    let opened = crate::http::blocking(&state, move |s| {
        Ok(account::link_login(s, form.token.trim(), now))
    })
    .await??;
    signed_in(&state, &opened)
}

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize)]
pub(super) struct CsrfOnly {
    csrf: String,
}

pub(super) async fn logout(
    State(state): State<AppState>,
    dashboard: Dashboard,
    headers: HeaderMap,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, PageError> {
    check_origin(&headers)?;
    dashboard.check_form(&form_body(form)?.csrf)?;
    let token = dashboard.token.clone();
    crate::http::blocking(&state, move |s| account::end_session(s, &token)).await?;
    let cookie = HeaderValue::from_str(&cleared_cookie(state.config.web_secure_cookies))
        .map_err(|_| Error::Internal("cookie is not a header value".into()))?;
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}
