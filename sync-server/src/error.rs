//! The server's one error type, its stable codes, and its single mapping to HTTP.
//!
//! Every refusal the server can give has a stable code (`"auth.bad_token"`), shared by the
//! JSON error body, the per-card refusals inside a sync response, and the metrics. The test
//! `error_codes_are_stable` lists them all, so renaming one is a conscious act. Messages
//! never carry personal data; 5xx bodies never carry internal detail (it is logged instead).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fieldbook_core::sync::wire::ErrorBody;

/// Everything that can go wrong in the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No `Authorization: Bearer` header.
    #[error("missing bearer token")]
    MissingToken,
    /// A token the server never issued (or a malformed header).
    #[error("unknown or malformed token")]
    BadToken,
    /// The device's token has expired.
    #[error("token has expired")]
    ExpiredToken,
    /// The device was revoked.
    #[error("device has been revoked")]
    Revoked,
    /// The caller may not access this resource (no hint whether it exists).
    #[error("access denied")]
    AccessDenied,
    /// A pushed visit names another person than the device's, or changes who is on an
    /// existing visit: only a manager's device records on someone's behalf.
    #[error(
        "a visit is in the name of the device's person; only a manager records on another's behalf"
    )]
    NotOnBehalf,
    /// Edits to a card handed to another rep, past the grace period: kept for review.
    #[error(
        "this card was handed to another rep and the grace period for late edits is over; \
         your edits were kept on the server for your manager to review"
    )]
    HandoffExpired,
    /// A new change was made by another actor than the device's bound actor.
    #[error("a change was made by another actor than this device's")]
    ActorMismatch,
    /// A new change names another author than the device's person.
    #[error("a change names another author than this device's person")]
    AuthorMismatch,
    /// Change bytes that do not decode as Automerge changes.
    #[error("changes do not decode: {0}")]
    BadChange(String),
    /// A card's Automerge bytes would inflate beyond the card limits (checked before
    /// Automerge sees them, `fieldbook_core::guard`).
    #[error("the card is too large: {0}")]
    CardTooLarge(String),
    /// A card document that is not a valid Fieldbook card (`fieldbook_core::card::validate`).
    #[error("the card document is invalid: {0}")]
    InvalidCard(String),
    /// A push that changes an existing card's territory.
    #[error("a card's territory cannot be changed by a sync; ask a manager to move the card")]
    TerritoryChange,
    /// A cursor the server never issued to this device.
    #[error("cursor was not issued to this device by this server")]
    BadCursor,
    /// A body that is not a valid message (malformed, truncated, not gzip).
    #[error("malformed request: {0}")]
    Malformed(String),
    /// A protocol version this server does not speak.
    #[error("protocol version {0} is not supported")]
    UnsupportedVersion(u16),
    /// A body over the size limit.
    #[error("request body is too large")]
    TooLarge,
    /// A well-formed request with an invalid value (e.g. an actor id that is not hex).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// An enrolment token that is unknown, already used or expired.
    #[error("enrolment token is unknown, used or expired")]
    BadEnrolment,
    /// No such route.
    #[error("no such endpoint")]
    NoRoute,
    /// An admin operation on something that does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// An admin operation creating something that already exists.
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// The device already has a sync in flight; it retries after `Retry-After`.
    #[error("this device already has a sync in progress; retry shortly")]
    Busy,
    /// A sync carrying more card pushes than the server takes in one request.
    #[error("too many card pushes in one request (at most {0}); send them over several syncs")]
    TooManyPushes(usize),
    /// A sync or fallback body that does not say it is the wire format.
    #[error("the body must be sent as Content-Type: {0}")]
    UnsupportedMediaType(&'static str),
    /// Optimistic concurrency: the card changed under us; the caller retries.
    #[error("card changed concurrently")]
    Conflict,
    /// The database's disk is full (SQLITE_FULL): nothing was written; retry later.
    #[error("the server's storage is full; try again later")]
    StorageFull,
    /// The database is read-only: reads are served, writes are refused.
    #[error("the server is read-only for now; your changes stay on the device")]
    ReadOnly,
    /// A pushed change reuses an (actor, seq) the server already holds with another hash:
    /// the device's store was copied or restored from a backup. The device must move to a
    /// fresh actor before its edits can be accepted.
    #[error("this device's actor was reused by a copied or restored store; it must re-key")]
    ActorReused,
    /// A handoff whose expected current owner is not the owner any more (another handoff
    /// won), or a card moved meanwhile.
    #[error("the territory or card was handed over meanwhile; look again and retry")]
    HandoffConflict,
    /// A handoff to someone who is not an active rep.
    #[error("the receiving person is not an active rep")]
    UnknownRep,
    /// Late edits that would take a device's pending review items past their bound: not
    /// stored.
    #[error("too many of this device's edits are waiting for review; ask your manager")]
    ReviewFull,
    /// A decision on a review item that was decided already.
    #[error("this review item was decided already")]
    ReviewDecided,
    /// Accepting a review item whose changes build on edits the card does not have (an
    /// earlier review item of the same card, not accepted).
    #[error("these edits build on an earlier review item of the card; accept that one first")]
    ReviewOutOfOrder,
    /// Company settings that do not add up (the message says which section and why, in
    /// numbers only); the previous settings stay in force.
    #[error("the settings were refused: {0}")]
    SettingsInvalid(String),
    /// The settings were changed by someone else since the revision the caller read.
    #[error("the settings were changed meanwhile; reload them and try again")]
    SettingsConflict,
    /// A storage backend failure (detail logged, not sent).
    #[error("storage error: {0}")]
    Storage(String),
    /// Any other internal failure (detail logged, not sent).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Every stable error code, in one place.
pub const ALL_CODES: &[&str] = &[
    "auth.missing_token",
    "auth.bad_token",
    "auth.expired_token",
    "auth.revoked",
    "access.denied",
    "access.not_on_behalf",
    "access.handoff_expired",
    "auth.actor_mismatch",
    "auth.author_mismatch",
    "sync.bad_change",
    "sync.bad_cursor",
    "sync.territory_change",
    "card.too_large",
    "card.invalid",
    "request.malformed",
    "sync.unsupported_version",
    "request.too_large",
    "request.invalid",
    "auth.bad_enrolment",
    "request.not_found",
    "admin.not_found",
    "admin.already_exists",
    "sync.busy",
    "sync.too_many_pushes",
    "request.unsupported_media_type",
    "server.busy",
    "server.internal",
    "request.timeout",
    "server.storage_full",
    "sync.actor_reused",
    "server.read_only",
    "handoff.conflict",
    "handoff.unknown_rep",
    "handoff.review_full",
    "review.decided",
    "review.out_of_order",
    "settings.invalid",
    "settings.conflict",
];

impl Error {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::MissingToken => "auth.missing_token",
            Error::BadToken => "auth.bad_token",
            Error::ExpiredToken => "auth.expired_token",
            Error::Revoked => "auth.revoked",
            Error::AccessDenied => "access.denied",
            Error::NotOnBehalf => "access.not_on_behalf",
            Error::HandoffExpired => "access.handoff_expired",
            Error::ActorMismatch => "auth.actor_mismatch",
            Error::AuthorMismatch => "auth.author_mismatch",
            Error::BadChange(_) => "sync.bad_change",
            Error::BadCursor => "sync.bad_cursor",
            Error::TerritoryChange => "sync.territory_change",
            Error::CardTooLarge(_) => "card.too_large",
            Error::InvalidCard(_) => "card.invalid",
            Error::Malformed(_) => "request.malformed",
            Error::UnsupportedVersion(_) => "sync.unsupported_version",
            Error::TooLarge => "request.too_large",
            Error::Invalid(_) => "request.invalid",
            Error::BadEnrolment => "auth.bad_enrolment",
            Error::NoRoute => "request.not_found",
            Error::NotFound(_) => "admin.not_found",
            Error::AlreadyExists(_) => "admin.already_exists",
            Error::Busy => "sync.busy",
            Error::TooManyPushes(_) => "sync.too_many_pushes",
            Error::UnsupportedMediaType(_) => "request.unsupported_media_type",
            Error::Conflict => "server.busy",
            Error::StorageFull => "server.storage_full",
            Error::ActorReused => "sync.actor_reused",
            Error::ReadOnly => "server.read_only",
            Error::HandoffConflict => "handoff.conflict",
            Error::UnknownRep => "handoff.unknown_rep",
            Error::ReviewFull => "handoff.review_full",
            Error::ReviewDecided => "review.decided",
            Error::ReviewOutOfOrder => "review.out_of_order",
            Error::SettingsInvalid(_) => "settings.invalid",
            Error::SettingsConflict => "settings.conflict",
            Error::Storage(_) | Error::Internal(_) => "server.internal",
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::MissingToken
            | Error::BadToken
            | Error::ExpiredToken
            | Error::Revoked
            | Error::BadEnrolment => StatusCode::UNAUTHORIZED,
            Error::AccessDenied
            | Error::NotOnBehalf
            | Error::HandoffExpired
            | Error::ReviewFull
            | Error::TerritoryChange
            | Error::ActorMismatch
            | Error::AuthorMismatch => StatusCode::FORBIDDEN,
            Error::BadChange(_)
            | Error::BadCursor
            | Error::Malformed(_)
            | Error::UnsupportedVersion(_)
            | Error::InvalidCard(_)
            | Error::UnknownRep
            | Error::SettingsInvalid(_)
            | Error::Invalid(_) => StatusCode::BAD_REQUEST,
            Error::TooLarge | Error::CardTooLarge(_) | Error::TooManyPushes(_) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Busy => StatusCode::TOO_MANY_REQUESTS,
            Error::NotFound(_) | Error::NoRoute => StatusCode::NOT_FOUND,
            Error::AlreadyExists(_)
            | Error::ActorReused
            | Error::HandoffConflict
            | Error::ReviewDecided
            | Error::SettingsConflict
            | Error::ReviewOutOfOrder => StatusCode::CONFLICT,
            Error::Conflict | Error::StorageFull | Error::ReadOnly => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Error::Storage(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether the same request may succeed later unchanged (answered with `Retry-After`).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Busy | Error::Conflict | Error::StorageFull)
    }

    /// The message a client may see: the display text, except for server-side failures,
    /// whose detail stays in the logs.
    pub fn public_message(&self) -> String {
        if matches!(self, Error::StorageFull | Error::ReadOnly) {
            // These say nothing internal, and tell the device why its sync did not go through.
            self.to_string()
        } else if self.status().is_server_error() {
            "the server could not complete the request; try again later".to_owned()
        } else {
            self.to_string()
        }
    }

    /// The JSON body for this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code().to_owned(),
            message: self.public_message(),
        }
    }
}

impl Error {
    /// The server's refusal for a core error of the bounded pre-check, the strict load or
    /// the card validator: `card.too_large`, `card.invalid`, else `sync.bad_change`.
    pub fn from_card_check(e: fieldbook_core::Error) -> Self {
        match e {
            fieldbook_core::Error::CardTooLarge(m) => Error::CardTooLarge(m),
            fieldbook_core::Error::InvalidCard(m) => Error::InvalidCard(m),
            fieldbook_core::Error::NotOnBehalf => Error::NotOnBehalf,
            // Automerge refuses a change whose (actor, seq) it holds with another hash; the
            // guard tells it apart by the error's variant. That is a copied store, not a bad
            // change.
            fieldbook_core::Error::ActorReused => Error::ActorReused,
            other => Error::BadChange(other.to_string()),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        // A full disk and a read-only file are conditions an operator fixes and a device
        // retries after, not bugs: they keep their own codes.
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => Error::StorageFull,
            Some(rusqlite::ErrorCode::ReadOnly) => Error::ReadOnly,
            _ => Error::Storage(e.to_string()),
        }
    }
}

impl From<fieldbook_core::sync::wire::WireError> for Error {
    fn from(e: fieldbook_core::sync::wire::WireError) -> Self {
        use fieldbook_core::sync::wire::WireError;
        match e {
            WireError::UnsupportedVersion(v) => Error::UnsupportedVersion(v),
            WireError::TooLarge { .. } => Error::TooLarge,
            WireError::Encode(m) => Error::Internal(m),
            other => Error::Malformed(other.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(e: tokio::task::JoinError) -> Self {
        Error::Internal(format!("blocking task failed: {e}"))
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(code = self.code(), error = %self, "request failed");
        } else {
            tracing::info!(code = self.code(), "request refused");
        }
        let mut response = (status, axum::Json(self.body())).into_response();
        if self.is_retryable() {
            let after = match self {
                Error::StorageFull => STORAGE_FULL_RETRY_AFTER,
                _ => RETRY_AFTER_SECS,
            };
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(after),
            );
        }
        // Lets the metrics layer count errors by code without parsing bodies.
        response.extensions_mut().insert(ErrorCode(self.code()));
        response
    }
}

/// `Retry-After` of retryable refusals, in seconds: a sync takes milliseconds, so one
/// second is long enough for the device's previous sync to finish.
const RETRY_AFTER_SECS: &str = "1";

/// Seconds a device waits before retrying after `server.storage_full`: long enough for an
/// operator's alert to be acted on, short enough that a freed disk is used soon.
const STORAGE_FULL_RETRY_AFTER: &str = "60";

/// The code of an error response, attached as a response extension for metrics.
#[derive(Clone, Copy, Debug)]
pub struct ErrorCode(pub &'static str);

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_stable() {
        let all = [
            Error::MissingToken,
            Error::BadToken,
            Error::ExpiredToken,
            Error::Revoked,
            Error::AccessDenied,
            Error::NotOnBehalf,
            Error::HandoffExpired,
            Error::ActorMismatch,
            Error::AuthorMismatch,
            Error::BadChange(String::new()),
            Error::BadCursor,
            Error::TerritoryChange,
            Error::CardTooLarge(String::new()),
            Error::InvalidCard(String::new()),
            Error::Malformed(String::new()),
            Error::UnsupportedVersion(0),
            Error::TooLarge,
            Error::Invalid(String::new()),
            Error::BadEnrolment,
            Error::NoRoute,
            Error::NotFound("x"),
            Error::AlreadyExists("x"),
            Error::Busy,
            Error::TooManyPushes(1),
            Error::UnsupportedMediaType("x"),
            Error::Conflict,
            Error::StorageFull,
            Error::ReadOnly,
            Error::ActorReused,
            Error::HandoffConflict,
            Error::UnknownRep,
            Error::ReviewFull,
            Error::ReviewDecided,
            Error::ReviewOutOfOrder,
            Error::Storage(String::new()),
            Error::Internal(String::new()),
        ];
        let mut codes: Vec<&str> = all.iter().map(Error::code).collect();
        // Produced by the timeout layer rather than by an `Error` value.
        codes.push("request.timeout");
        codes.sort_unstable();
        codes.dedup();
        let mut expected = ALL_CODES.to_vec();
        expected.sort_unstable();
        assert_eq!(codes, expected);
    }

    #[test]
    fn server_errors_hide_detail() {
        let e = Error::Storage("disk /var/secret full".into());
        assert!(!e.body().message.contains("secret"));
    }

    #[test]
    fn a_full_disk_is_retryable_and_says_when() {
        let response = Error::StorageFull.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers().get(axum::http::header::RETRY_AFTER),
            Some(&axum::http::HeaderValue::from_static(
                STORAGE_FULL_RETRY_AFTER
            ))
        );
    }

    #[test]
    fn sqlite_full_and_read_only_keep_their_codes() {
        let sqlite = |code| rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
        assert_eq!(
            Error::from(sqlite(rusqlite::ffi::SQLITE_FULL)).code(),
            "server.storage_full"
        );
        assert_eq!(
            Error::from(sqlite(rusqlite::ffi::SQLITE_READONLY)).code(),
            "server.read_only"
        );
        assert_eq!(
            Error::from(sqlite(rusqlite::ffi::SQLITE_CORRUPT)).code(),
            "server.internal"
        );
    }
}
