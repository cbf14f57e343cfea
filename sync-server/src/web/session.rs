//! The session cookie and the checks a dashboard request passes.
//!
//! A page handler takes [`Dashboard`] (a live session of a manager or admin, else a
//! redirect to the login page); a form handler also calls [`Dashboard::check_form`] (the
//! form's CSRF token equals the session's, compared in constant time) after
//! [`check_origin`] (the browser's `Origin` names this server). SameSite=Strict already
//! keeps the cookie off cross-site requests; the token and the Origin check hold even
//! where a browser or a proxy gets that wrong.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use subtle::ConstantTimeEq;

use super::PageError;
use super::account::{SESSION_SECS, session_viewer};
use crate::AppState;
use crate::error::{Error, Result};
use crate::viewer::Viewer;

/// The session cookie's name.
pub const COOKIE: &str = "fieldbook_session";

/// The session token in a request's cookies, if any.
pub(crate) fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_owned())
}

/// The `Set-Cookie` value that holds a new session.
pub(crate) fn session_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECS}{secure}")
}

/// The `Set-Cookie` value that removes the session cookie.
pub(crate) fn cleared_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// Refuses a state-changing request whose `Origin` is not this server (`Host`), or that
/// names no origin at all: every browser that submits a form sends one.
pub(crate) fn check_origin(headers: &HeaderMap) -> std::result::Result<(), PageError> {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let origin_host = origin.and_then(|o| {
        o.strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"))
    });
    match (host, origin_host) {
        (Some(h), Some(o)) if !h.is_empty() && h.eq_ignore_ascii_case(o) => Ok(()),
        _ => Err(PageError::BadOrigin),
    }
}

/// A signed-in manager or admin on a dashboard page.
#[derive(Clone, Debug)]
pub struct Dashboard {
    /// Who is looking (scope checks take it).
    pub viewer: Viewer,
    /// Their display name.
    pub name: String,
    /// The session's CSRF token, put in every form.
    pub csrf: String,
    /// The cookie's token (to end the session at logout).
    pub(crate) token: String,
}

impl Dashboard {
    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_form(&self, csrf: &str) -> std::result::Result<(), PageError> {
        if bool::from(self.csrf.as_bytes().ct_eq(csrf.as_bytes())) {
            Ok(())
        } else {
            Err(PageError::BadCsrf)
        }
    }
}

impl FromRequestParts<AppState> for Dashboard {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> std::result::Result<Dashboard, PageError> {
        let token = session_token(&parts.headers).ok_or(PageError::NotSignedIn)?;
        let now = state.now();
        let lookup = token.clone();
        let found = crate::http::blocking(state, move |s| session_viewer(s, &lookup, now)).await?;
        let (viewer, person, session) = found.ok_or(PageError::NotSignedIn)?;
        Ok(Dashboard {
            viewer,
            name: person.name,
            csrf: session.csrf_token,
            token,
        })
    }
}

/// The viewer behind a dashboard session cookie, for the manager JSON API: `None` when
/// the request carries no session cookie. A state-changing request must also come from
/// this server's pages (the `Origin` check), since a cookie rides along by itself.
pub(crate) async fn viewer_from_cookie(parts: &Parts, state: &AppState) -> Option<Result<Viewer>> {
    let token = session_token(&parts.headers)?;
    if parts.method != Method::GET
        && parts.method != Method::HEAD
        && check_origin(&parts.headers).is_err()
    {
        return Some(Err(Error::AccessDenied));
    }
    let now = state.now();
    let found = crate::http::blocking(state, move |s| session_viewer(s, &token, now)).await;
    Some(match found {
        Ok(Some((viewer, _, _))) => Ok(viewer),
        Ok(None) => Err(Error::BadToken),
        Err(e) => Err(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[
            (header::COOKIE, "theme=dark; fieldbook_session=fbw_abc"),
            (header::COOKIE, "other=1"),
        ]);
        assert_eq!(session_token(&h).as_deref(), Some("fbw_abc"));
        assert_eq!(session_token(&headers(&[(header::COOKIE, "x=1")])), None);
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_when_asked() {
        let c = session_cookie("fbw_x", false);
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict"),
            "{c}"
        );
        assert!(!c.contains("Secure"));
        assert!(session_cookie("fbw_x", true).ends_with("; Secure"));
    }

    #[test]
    fn only_this_servers_origin_may_post() {
        let ok = headers(&[
            (header::HOST, "127.0.0.1:8787"),
            (header::ORIGIN, "http://127.0.0.1:8787"),
        ]);
        assert!(check_origin(&ok).is_ok());
        for origin in ["http://evil.example", "null", "http://127.0.0.1:8788"] {
            let h = headers(&[(header::HOST, "127.0.0.1:8787"), (header::ORIGIN, origin)]);
            assert!(
                matches!(check_origin(&h), Err(PageError::BadOrigin)),
                "{origin}"
            );
        }
        let none = headers(&[(header::HOST, "127.0.0.1:8787")]);
        assert!(matches!(check_origin(&none), Err(PageError::BadOrigin)));
    }
}
