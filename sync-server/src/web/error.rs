//! What a dashboard refusal looks like: a page in Chinese, with the stable code.
//!
//! A missing or expired session is a redirect to the login page; a refused login is the
//! login page again with the reason; anything else is an error page with the server's
//! error code and status (no internal detail: 5xx detail goes to the log).

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::account::{FAILURE_WINDOW_SECS, LoginError};
use super::login::LoginPage;
use crate::error::{Error, ErrorCode};

/// A dashboard request that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// No live session: go to the login page.
    #[error("not signed in")]
    NotSignedIn,
    /// A login was refused.
    #[error(transparent)]
    Login(#[from] LoginError),
    /// A form posted from another site (or with no `Origin`).
    #[error("the form did not come from this server")]
    BadOrigin,
    /// A form without this session's CSRF token (e.g. from a session that ended).
    #[error("the form has expired")]
    BadCsrf,
    /// The server's own refusal or failure.
    #[error(transparent)]
    Server(#[from] Error),
}

impl PageError {
    /// The stable code of this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            PageError::NotSignedIn => "web.not_signed_in",
            PageError::Login(LoginError::BadLogin) => "web.bad_login",
            PageError::Login(LoginError::NotAManager) => "web.not_manager",
            PageError::Login(LoginError::RateLimited) => "web.rate_limited",
            PageError::Login(LoginError::BadLink) => "web.bad_link",
            PageError::Login(LoginError::Server(e)) | PageError::Server(e) => e.code(),
            PageError::BadOrigin => "web.bad_origin",
            PageError::BadCsrf => "web.bad_csrf",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            PageError::NotSignedIn => StatusCode::SEE_OTHER,
            PageError::Login(LoginError::BadLogin | LoginError::BadLink) => {
                StatusCode::UNAUTHORIZED
            }
            PageError::Login(LoginError::NotAManager)
            | PageError::BadOrigin
            | PageError::BadCsrf => StatusCode::FORBIDDEN,
            PageError::Login(LoginError::RateLimited) => StatusCode::TOO_MANY_REQUESTS,
            PageError::Login(LoginError::Server(e)) | PageError::Server(e) => e.status(),
        }
    }

    /// What the person is told, in Chinese first.
    fn message(&self) -> String {
        match self {
            PageError::NotSignedIn => "请先登录。".into(),
            PageError::Login(LoginError::BadLogin) => "账号或密码不对。".into(),
            PageError::Login(LoginError::NotAManager) => {
                "经理工作台只对经理和管理员开放；销售代表请使用手机应用。".into()
            }
            PageError::Login(LoginError::RateLimited) => format!(
                "登录失败次数太多，请 {} 分钟后再试。",
                FAILURE_WINDOW_SECS / 60
            ),
            PageError::Login(LoginError::BadLink) => {
                "登录链接无效、已使用或已过期；请让管理员重新生成。".into()
            }
            PageError::BadOrigin => "这个表单不是从本站提交的，已拒绝。".into(),
            PageError::BadCsrf => "表单已过期，请返回刷新后再提交。".into(),
            PageError::Login(LoginError::Server(e)) | PageError::Server(e) => match e {
                Error::AccessDenied => "没有权限查看，或者不存在。".into(),
                Error::NoRoute => "没有这个页面。".into(),
                Error::HandoffConflict => {
                    "这个区域的负责人刚刚变了（另一次交接先完成了）：请回到交接页重新预览。".into()
                }
                Error::UnknownRep => "接手人不是在职的销售代表。".into(),
                Error::ReviewDecided => "这一项已经处理过了。".into(),
                Error::Invalid(_) | Error::Malformed(_) => "请求的内容不对，请检查后再试。".into(),
                e if e.status().is_server_error() => "服务器暂时无法完成请求，请稍后再试。".into(),
                _ => "请求未能完成。".into(),
            },
        }
    }
}

/// The error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: String,
    code: &'static str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let code = self.code();
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(code, error = %self, "page failed");
        } else {
            tracing::info!(code, "page refused");
        }
        let mut response = match &self {
            PageError::NotSignedIn => Redirect::to("/login").into_response(),
            PageError::Login(e) if !matches!(e, LoginError::BadLink | LoginError::Server(_)) => {
                let page = LoginPage {
                    message: Some(self.message()),
                    code: Some(code),
                };
                (status, super::pages::render(&page)).into_response()
            }
            _ => {
                let page = ErrorPage {
                    title: "出错了",
                    message: self.message(),
                    code,
                };
                (status, super::pages::render(&page)).into_response()
            }
        };
        if matches!(self, PageError::Login(LoginError::RateLimited))
            && let Ok(v) = HeaderValue::from_str(&FAILURE_WINDOW_SECS.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response.extensions_mut().insert(ErrorCode(code));
        response
    }
}

/// Rendering a page whose template failed (a bug): a plain 500.
pub(crate) fn render_failed(e: &askama::Error) -> Response {
    tracing::error!(error = %e, "template failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Html("<!doctype html><title>500</title><p>服务器内部错误。</p>"),
    )
        .into_response()
}
