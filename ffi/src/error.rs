//! The one error type apps see, one variant per `fieldbook_core::ErrorKind`, each with
//! the stable code and a message without personal data. Kotlin: `FieldbookException.*`,
//! Swift: `FieldbookError.*`, Python: `FieldbookError.*`.

use fieldbook_core::{ApiError, ErrorKind};

/// An error with its stable code (`code`, e.g. `card.not_found`, or the server's own
/// `access.denied`) and a fixed explanation without personal data (`reason`); an input
/// error may name its `field` (`credit.credit_limit`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
// Every variant carries the same fields, documented once above.
#[allow(missing_docs)]
pub enum FieldbookError {
    /// The input was not acceptable; `field` names the field when it is one. Nothing
    /// changed.
    #[error("{reason} [{code}]")]
    InvalidInput {
        code: String,
        reason: String,
        field: Option<String>,
    },
    /// No such card or item on this device.
    #[error("{reason} [{code}]")]
    NotFound { code: String, reason: String },
    /// Not allowed: a card outside the rep's territory, a visit in another's name.
    #[error("{reason} [{code}]")]
    AccessDenied { code: String, reason: String },
    /// Enrol (again): not enrolled, or the token is revoked or expired.
    #[error("{reason} [{code}]")]
    Auth { code: String, reason: String },
    /// No connection or a busy server: retry later; edits stay queued.
    #[error("{reason} [{code}]")]
    Network { code: String, reason: String },
    /// The server refused, or answered outside the protocol.
    #[error("{reason} [{code}]")]
    Server { code: String, reason: String },
    /// The store file cannot be used (not a store, newer, damaged, locked, closed).
    #[error("{reason} [{code}]")]
    Storage { code: String, reason: String },
    /// The key does not open this store.
    #[error("{reason} [{code}]")]
    WrongKey { code: String, reason: String },
    /// The sync was cancelled; what it applied stays.
    #[error("{reason} [{code}]")]
    Cancelled { code: String, reason: String },
    /// A bug in Fieldbook, or an app callback that threw.
    #[error("{reason} [{code}]")]
    Internal { code: String, reason: String },
}

impl FieldbookError {
    /// The stable code.
    pub fn code(&self) -> &str {
        match self {
            FieldbookError::InvalidInput { code, .. }
            | FieldbookError::NotFound { code, .. }
            | FieldbookError::AccessDenied { code, .. }
            | FieldbookError::Auth { code, .. }
            | FieldbookError::Network { code, .. }
            | FieldbookError::Server { code, .. }
            | FieldbookError::Storage { code, .. }
            | FieldbookError::WrongKey { code, .. }
            | FieldbookError::Cancelled { code, .. }
            | FieldbookError::Internal { code, .. } => code,
        }
    }
}

impl From<ApiError> for FieldbookError {
    fn from(e: ApiError) -> FieldbookError {
        let (code, reason) = (e.code, e.message);
        match e.kind {
            ErrorKind::InvalidInput => FieldbookError::InvalidInput {
                code,
                reason,
                field: e.field,
            },
            ErrorKind::NotFound => FieldbookError::NotFound { code, reason },
            ErrorKind::AccessDenied => FieldbookError::AccessDenied { code, reason },
            ErrorKind::Auth => FieldbookError::Auth { code, reason },
            ErrorKind::Network => FieldbookError::Network { code, reason },
            ErrorKind::Server => FieldbookError::Server { code, reason },
            ErrorKind::Storage => FieldbookError::Storage { code, reason },
            ErrorKind::WrongKey => FieldbookError::WrongKey { code, reason },
            ErrorKind::Cancelled => FieldbookError::Cancelled { code, reason },
            _ => FieldbookError::Internal { code, reason },
        }
    }
}

impl From<fieldbook_core::Error> for FieldbookError {
    fn from(e: fieldbook_core::Error) -> FieldbookError {
        FieldbookError::from(ApiError::from(e))
    }
}

/// An exception thrown by the app's callback (a progress listener, an HTTP client)
/// that was not a `FieldbookException`: the operation stops with this error, the host
/// process does not crash.
impl From<uniffi::UnexpectedUniFFICallbackError> for FieldbookError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> FieldbookError {
        tracing::warn!(error = %e.reason, "an app callback threw");
        FieldbookError::Internal {
            code: "ffi.callback_failed".into(),
            reason: "a callback supplied by the app threw an exception".into(),
        }
    }
}

/// Result alias for the exported functions.
pub type Result<T, E = FieldbookError> = std::result::Result<T, E>;
