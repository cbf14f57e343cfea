//! The error an app sees: a few kinds it can act on, a stable code, a message without
//! personal data.
//!
//! [`crate::Error`] is core's rich internal error: it carries SQLite and Automerge
//! errors, paths and some of what the user typed, which is what a developer needs and
//! what must not reach a crash reporter or a screen. [`ApiError`] is what crosses the FFI
//! (and any other boundary to code that is not core's): [`ErrorKind`] says what the app
//! can do about it, `code` is the stable dotted code (the server's own code when the
//! server refused), and `message` is a fixed sentence for that code, never built from
//! the user's input. The conversion, [`ApiError::from`], is the one place that decides
//! both, and logs the internal error at the level it deserves (a bug loudly, a typo not
//! at all).

use crate::error::Error;

/// What an app can do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input was not acceptable (a malformed value, an unknown field, a rule of
    /// the card model): tell the person, who can correct it. Nothing was changed.
    InvalidInput,
    /// The card or item is not on this device (never was, or was moved away).
    NotFound,
    /// The device may not do this: a card outside the rep's territory, a visit in
    /// another rep's name.
    AccessDenied,
    /// The device must be enrolled (again): not enrolled, or its token is revoked or
    /// expired.
    Auth,
    /// No connection, or the server is busy or out of space: retry later. Nothing was
    /// lost; edits stay queued.
    Network,
    /// The server refused the request or answered outside the protocol: report it.
    Server,
    /// The store file cannot be used: not a store, written by a newer app, damaged,
    /// open in another process, or the disk failed.
    Storage,
    /// The encryption key does not open this store (or the store is not encrypted).
    WrongKey,
    /// The operation was cancelled; what it completed stays.
    Cancelled,
    /// A bug in Fieldbook. Report it.
    Internal,
}

/// An error as an app sees it. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} [{code}]")]
pub struct ApiError {
    /// What the app can do about it.
    pub kind: ErrorKind,
    /// The stable code, e.g. `card.not_found`, or the server's own (`access.denied`).
    pub code: String,
    /// A fixed explanation for the code, in English, without personal data.
    pub message: String,
    /// The field the error is about, for input errors on a known field
    /// (`credit.credit_limit`); never a value.
    pub field: Option<String>,
    /// Whether the same call may succeed later unchanged (network, a busy server).
    pub retryable: bool,
}

impl ApiError {
    fn new(kind: ErrorKind, code: impl Into<String>, message: &str) -> ApiError {
        ApiError {
            kind,
            code: code.into(),
            message: message.to_string(),
            field: None,
            retryable: matches!(kind, ErrorKind::Network),
        }
    }

    /// An error from code outside core (the FFI layer's own checks): `code` must be
    /// stable and dotted, `message` fixed.
    pub fn other(kind: ErrorKind, code: &str, message: &str) -> ApiError {
        ApiError::new(kind, code, message)
    }
}

/// The kind of a refusal by the server, from its code.
fn server_kind(status: u16, code: &str) -> ErrorKind {
    let family = code.split('.').next().unwrap_or_default();
    match family {
        "auth" => ErrorKind::Auth,
        "access" => ErrorKind::AccessDenied,
        "input" => ErrorKind::InvalidInput,
        _ if matches!(
            code,
            "sync.busy" | "server.storage_full" | "server.read_only"
        ) =>
        {
            ErrorKind::Network
        }
        _ if status == 429 || status >= 500 => ErrorKind::Network,
        _ => ErrorKind::Server,
    }
}

/// Whether `path` names a field of the schema: `basic.phone`, `contacts.<id>.mobile`, or
/// an item's field without its id (`visits.lat`, as errors about a new item name it).
fn known_field(path: &str) -> bool {
    crate::card::kind_of(path).is_some()
        || path.split_once('.').is_some_and(|(collection, key)| {
            crate::card::kind_of(&format!("{collection}.x.{key}")).is_some()
        })
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        ApiError::from(&e)
    }
}

impl From<&Error> for ApiError {
    fn from(e: &Error) -> ApiError {
        use ErrorKind::*;
        let code = e.code();
        let (kind, message) = match e {
            Error::CardNotFound(_) => (NotFound, "no such card on this device"),
            Error::ItemNotFound { .. } => (NotFound, "no such item on this card"),
            Error::InvalidId(..) => (InvalidInput, "the id is malformed"),
            Error::InvalidValue { .. } => (InvalidInput, "the value is not valid for this field"),
            Error::UnknownField(_) => (InvalidInput, "the card has no such field"),
            Error::NoConflict(_) => (InvalidInput, "the field has no conflict to resolve"),
            Error::BundleForeign => (InvalidInput, "the file is not a Fieldbook change bundle"),
            Error::BundleTruncated { .. } => (InvalidInput, "the change bundle is truncated"),
            Error::BundleCorrupt(_) => (InvalidInput, "the change bundle is corrupt"),
            Error::BundleUnsupportedVersion(_) => {
                (InvalidInput, "the change bundle comes from a newer app")
            }
            Error::CorruptDocument { .. } => (Storage, "a card's stored document is damaged"),
            Error::NotAStore(_) => (Storage, "the file is not a Fieldbook store"),
            Error::NewerSchema { .. } => (Storage, "the store was written by a newer app"),
            Error::NotInitialised => (Auth, "the device is not set up for a rep yet"),
            Error::NotOnBehalf => (
                AccessDenied,
                "only a manager's device records on another rep's behalf",
            ),
            Error::NotApprover => (
                AccessDenied,
                "only a sales manager's device approves credit",
            ),
            Error::TerritoryFixed => (
                InvalidInput,
                "a card's territory is not edited on a device: a manager moves cards",
            ),
            Error::HandedAway(_) => (
                AccessDenied,
                "the card was handed over to another rep and takes no more edits here",
            ),
            Error::Sqlite(_) => (Storage, "the store could not be read or written"),
            Error::Io(_) => (Storage, "the file system failed"),
            Error::Automerge(_) => (Internal, "a card document operation failed"),
            Error::NotEnrolled => (Auth, "the device is not enrolled with a sync server"),
            Error::Network(_) => (Network, "the sync server could not be reached"),
            Error::Server {
                status,
                code,
                message,
            } => {
                let kind = server_kind(*status, code);
                tracing::info!(code = %code, status, "the server refused a request");
                // The server's messages are written, like ours, without personal data.
                let mut api = ApiError::new(kind, code.clone(), message);
                api.retryable = kind == Network;
                return api;
            }
            Error::Protocol(_) => (
                Server,
                "the sync server's answer did not follow the protocol",
            ),
            Error::CardTooLarge(_) => (InvalidInput, "the card is too large"),
            Error::BadBytes(_) => (InvalidInput, "the card's bytes are malformed"),
            Error::InvalidCard(_) => (InvalidInput, "the card document is not a valid card"),
            Error::ActorReused => (Server, "the changes reuse this device's sequence numbers"),
            Error::Cancelled => (Cancelled, "the sync was cancelled"),
            Error::WrongKey => (WrongKey, "the store cannot be opened with this key"),
            Error::Locked => (Storage, "the store is open in another process"),
            Error::Closed => (Storage, "the store was closed"),
        };
        match kind {
            Internal => tracing::error!(code, error = %e, "internal error"),
            Storage | Server => tracing::warn!(code, error = %e, "request failed"),
            Network => tracing::info!(code, "sync server unreachable"),
            _ => tracing::debug!(code, "refused"),
        }
        let mut api = ApiError::new(kind, code, message);
        if let Error::InvalidValue { field, .. } = e
            && known_field(field)
        {
            api.field = Some(field.clone());
        }
        api
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_never_carry_the_input() {
        let name = "张三 13812345678";
        for e in [
            Error::UnknownField(name.into()),
            Error::invalid("basic.phone", format!("{name:?} is not a phone number")),
            Error::CardNotFound(name.into()),
            Error::Network(format!("dns error for {name}")),
            Error::NotAStore(std::path::PathBuf::from(format!("/home/{name}/cards.db"))),
            Error::Protocol(name.into()),
        ] {
            let api = ApiError::from(&e);
            assert!(!api.message.contains("张三"), "{api:?}");
            assert!(!api.to_string().contains("1381234"), "{api:?}");
            assert_eq!(api.code, e.code());
        }
    }

    #[test]
    fn kinds_follow_what_the_app_can_do() {
        let server = |status, code: &str| Error::Server {
            status,
            code: code.into(),
            message: "m".into(),
        };
        let kind = |e: Error| ApiError::from(e).kind;
        assert_eq!(kind(server(403, "access.denied")), ErrorKind::AccessDenied);
        assert_eq!(kind(server(401, "auth.revoked")), ErrorKind::Auth);
        let busy = ApiError::from(server(429, "sync.busy"));
        assert_eq!((busy.kind, busy.retryable), (ErrorKind::Network, true));
        assert_eq!(busy.code, "sync.busy");
        assert_eq!(kind(server(502, "http.502")), ErrorKind::Network);
        assert_eq!(kind(server(400, "sync.bad_change")), ErrorKind::Server);
        assert_eq!(kind(Error::WrongKey), ErrorKind::WrongKey);
        assert_eq!(kind(Error::Locked), ErrorKind::Storage);
        assert_eq!(kind(Error::Cancelled), ErrorKind::Cancelled);
        let field = ApiError::from(Error::invalid("credit.credit_limit", "negative"));
        assert_eq!(field.field.as_deref(), Some("credit.credit_limit"));
        let item = ApiError::from(Error::invalid("visits.lat", "out of range"));
        assert_eq!(
            item.field.as_deref(),
            Some("visits.lat"),
            "a new item's field"
        );
        let unknown = ApiError::from(Error::invalid("张三.13812345678", "x"));
        assert_eq!(unknown.field, None, "only schema paths, never input");
        assert!(ApiError::from(Error::Network("x".into())).retryable);
    }
}
