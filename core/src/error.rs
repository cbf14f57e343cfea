//! The one error type of `fieldbook-core`.
//!
//! Every variant maps to a stable, dotted error code (`card.not_found`,
//! `bundle.corrupt`, ...) through [`Error::code`]. Codes are part of the public
//! contract: the CLI prints them, the FFI exposes them, the server returns them.
//! A test lists them all so that renaming one is a conscious act. Messages are for
//! people and never contain personal data (names, phones): only ids and field paths.

use std::path::PathBuf;

/// Result alias for core operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failure of the SQLite store, opaque so that `rusqlite` stays out of core's
/// public API (ARCHITECTURE.md). The SQLite error is its [`source`](std::error::Error::source),
/// and its message is shown by `Display`.
#[derive(Debug)]
pub struct StorageError(rusqlite::Error);

impl StorageError {
    /// The SQLite error, for core's own handling (e.g. mapping "not a database").
    pub(crate) fn inner(&self) -> &rusqlite::Error {
        &self.0
    }
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A failure Automerge reported, opaque so that `automerge` stays out of core's
/// public API (ARCHITECTURE.md). The Automerge error is its
/// [`source`](std::error::Error::source), and its message is shown by `Display`.
#[derive(Debug)]
pub struct DocumentError(automerge::AutomergeError);

impl std::fmt::Display for DocumentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DocumentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

// `?` on a SQLite or Automerge call inside core converts through these. They are
// public as every `impl From` is, but no caller has to name the foreign type.
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        Error::Sqlite(StorageError(e))
    }
}

impl From<automerge::AutomergeError> for Error {
    fn from(e: automerge::AutomergeError) -> Error {
        Error::Automerge(DocumentError(e))
    }
}

/// Everything that can go wrong in core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No card with this id exists in the store.
    #[error("no card with id {0}")]
    CardNotFound(String),

    /// A card id, change hash or other identifier is malformed.
    #[error("invalid id {0:?}: {1}")]
    InvalidId(String, &'static str),

    /// A field value failed validation (a malformed date, a negative credit
    /// limit, a latitude out of range).
    #[error("invalid value for {field}: {reason}")]
    InvalidValue {
        /// The field path, e.g. `credit.credit_limit`.
        field: String,
        /// What is wrong, in words a person understands.
        reason: String,
    },

    /// A field path that the card schema does not know.
    #[error("unknown field {0:?} (run `fieldbook fields` for the list)")]
    UnknownField(String),

    /// An item (contact, visit, to-do, opportunity) id not present on the card.
    #[error("no {kind} with id {id} on this card")]
    ItemNotFound {
        /// The kind of item, e.g. `contact`.
        kind: &'static str,
        /// The item id that was looked for.
        id: String,
    },

    /// There is no conflict on this field to resolve.
    #[error("field {0} has no conflict to resolve")]
    NoConflict(String),

    /// The bundle file is not a Fieldbook bundle at all.
    #[error("this file is not a Fieldbook change bundle")]
    BundleForeign,

    /// The bundle ends before its declared length: the copy was cut short.
    #[error("the change bundle is truncated (expected {expected} bytes, found {found})")]
    BundleTruncated {
        /// Bytes the header promised.
        expected: u64,
        /// Bytes actually present.
        found: u64,
    },

    /// The bundle's checksum or content does not verify.
    #[error("the change bundle is corrupt: {0}")]
    BundleCorrupt(String),

    /// The bundle was written by a newer Fieldbook.
    #[error("the change bundle has format version {0}, newer than this app understands")]
    BundleUnsupportedVersion(u16),

    /// A stored or received card document does not decode.
    #[error("card {card} has a document that does not decode: {reason}")]
    CorruptDocument {
        /// The card id.
        card: String,
        /// The decoder's complaint.
        reason: String,
    },

    /// The database file is not a Fieldbook store.
    #[error("{0} is not a Fieldbook store")]
    NotAStore(PathBuf),

    /// The store was written by a newer version of Fieldbook.
    #[error(
        "the store has schema version {found}, newer than this app's {supported}; update the app"
    )]
    NewerSchema {
        /// The version in the file.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },

    /// The device has no identity yet (no rep set).
    #[error("this device is not set up yet: run `fieldbook init --rep REP` or enrol it")]
    NotInitialised,

    /// A device not enrolled as a manager tried to record something in another
    /// rep's name (only a manager records a visit on someone's behalf).
    #[error(
        "only a manager's device records on another rep's behalf; this device acts for its own rep"
    )]
    NotOnBehalf,

    /// A device not enrolled as a sales manager (or admin) tried to record or change a
    /// credit approval: only a manager approves credit.
    #[error("only a sales manager's device approves credit; this device is a rep's")]
    NotApprover,

    /// An edit tried to move an existing card to another territory. Moving cards is a
    /// manager's operation on the server (a handoff); a device only creates cards in its
    /// territories.
    #[error(
        "a card's territory is not edited on a device: a manager moves cards between territories"
    )]
    TerritoryFixed,

    /// The card left this device's scope (its territory was handed over) and waits to be
    /// purged once the server has its last edits: it takes no new edits.
    #[error("card {0} was handed over to another rep and takes no more edits on this device")]
    HandedAway(String),

    /// SQLite failed.
    #[error("storage error: {0}")]
    Sqlite(#[source] StorageError),

    /// The filesystem failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),

    /// Automerge refused an operation (a bug or a corrupt document).
    #[error("document error: {0}")]
    Automerge(#[source] DocumentError),

    /// The device has not been enrolled with a sync server.
    #[error("this device is not enrolled with a sync server: run `fieldbook enrol URL TOKEN`")]
    NotEnrolled,

    /// The server could not be reached, or the connection broke.
    #[error("could not reach the sync server: {0}")]
    Network(String),

    /// The server refused the request with a stable code.
    #[error("the sync server refused the request ({code}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's stable error code, e.g. `auth.revoked`.
        code: String,
        /// The server's explanation.
        message: String,
    },

    /// The server's answer did not follow the protocol.
    #[error("the sync server sent an invalid answer: {0}")]
    Protocol(String),

    /// Automerge bytes of a card would inflate beyond the card limits
    /// ([`crate::guard::BytesLimits`]): refused before Automerge sees them.
    #[error("the card is too large: {0}")]
    CardTooLarge(String),

    /// Bytes that should be Automerge chunks are not well-formed, or do not load.
    #[error("the card's bytes are malformed: {0}")]
    BadBytes(String),

    /// A card document is not a valid Fieldbook card (root id, schema, skeleton).
    #[error("the card document is invalid: {0}")]
    InvalidCard(String),

    /// Changes reuse an `(actor, seq)` the document holds with another change: they were
    /// made by a copied or restored store, which must move to a fresh actor.
    #[error("the changes reuse an actor's sequence number held by other changes")]
    ActorReused,

    /// The sync was cancelled before its next request; what it applied so far stays.
    #[error("the sync was cancelled")]
    Cancelled,

    /// An encrypted store did not open with the key given (or a key was given for a
    /// store that is not encrypted, or none for one that is).
    #[error("the store cannot be opened with this key")]
    WrongKey,

    /// Another process (or another handle in this one) has the store open for writing.
    #[error("the store is open in another process")]
    Locked,

    /// The store handle was closed; open it again.
    #[error("the store was closed")]
    Closed,
}

impl Error {
    /// The server's own code for a refusal (`auth.revoked`), else [`Error::code`].
    pub fn detailed_code(&self) -> &str {
        match self {
            Error::Server { code, .. } => code,
            other => other.code(),
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::CardNotFound(_) => "card.not_found",
            Error::InvalidId(..) => "input.invalid_id",
            Error::InvalidValue { .. } => "input.invalid_value",
            Error::UnknownField(_) => "input.unknown_field",
            Error::ItemNotFound { .. } => "card.item_not_found",
            Error::NoConflict(_) => "card.no_conflict",
            Error::BundleForeign => "bundle.foreign",
            Error::BundleTruncated { .. } => "bundle.truncated",
            Error::BundleCorrupt(_) => "bundle.corrupt",
            Error::BundleUnsupportedVersion(_) => "bundle.unsupported_version",
            Error::CorruptDocument { .. } => "store.corrupt_document",
            Error::NotAStore(_) => "store.not_fieldbook",
            Error::NewerSchema { .. } => "store.newer_schema",
            Error::NotInitialised => "device.not_initialised",
            Error::NotOnBehalf => "access.not_on_behalf",
            Error::NotApprover => "access.not_approver",
            Error::TerritoryFixed => "card.territory_fixed",
            Error::HandedAway(_) => "card.handed_away",
            Error::Sqlite(_) => "store.sqlite",
            Error::Io(_) => "store.io",
            Error::Automerge(_) => "document.error",
            Error::NotEnrolled => "sync.not_enrolled",
            Error::Network(_) => "sync.network",
            Error::Server { .. } => "sync.server_refused",
            Error::Protocol(_) => "sync.protocol",
            Error::CardTooLarge(_) => "card.too_large",
            Error::BadBytes(_) => "card.bad_bytes",
            Error::InvalidCard(_) => "card.invalid",
            Error::ActorReused => "card.actor_reused",
            Error::Cancelled => "sync.cancelled",
            Error::WrongKey => "store.wrong_key",
            Error::Locked => "store.locked",
            Error::Closed => "store.closed",
        }
    }

    /// Every code this crate can return, for documentation and the code-stability test.
    pub const ALL_CODES: &'static [&'static str] = &[
        "card.not_found",
        "input.invalid_id",
        "input.invalid_value",
        "input.unknown_field",
        "card.item_not_found",
        "card.no_conflict",
        "bundle.foreign",
        "bundle.truncated",
        "bundle.corrupt",
        "bundle.unsupported_version",
        "store.corrupt_document",
        "store.not_fieldbook",
        "store.newer_schema",
        "device.not_initialised",
        "access.not_on_behalf",
        "access.not_approver",
        "card.territory_fixed",
        "card.handed_away",
        "store.sqlite",
        "store.io",
        "document.error",
        "sync.not_enrolled",
        "sync.network",
        "sync.server_refused",
        "sync.protocol",
        "card.too_large",
        "card.bad_bytes",
        "card.invalid",
        "card.actor_reused",
        "sync.cancelled",
        "store.wrong_key",
        "store.locked",
        "store.closed",
    ];

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidValue {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The frozen list: every variant and the code it has shipped with. The match is
    /// exhaustive (no `_` arm), so a new variant does not compile here until its code is
    /// listed, and a renamed code fails [`codes_are_listed_unique_dotted_and_stable`].
    fn listed_code(e: &Error) -> &'static str {
        match e {
            Error::CardNotFound(_) => "card.not_found",
            Error::InvalidId(..) => "input.invalid_id",
            Error::InvalidValue { .. } => "input.invalid_value",
            Error::UnknownField(_) => "input.unknown_field",
            Error::ItemNotFound { .. } => "card.item_not_found",
            Error::NoConflict(_) => "card.no_conflict",
            Error::BundleForeign => "bundle.foreign",
            Error::BundleTruncated { .. } => "bundle.truncated",
            Error::BundleCorrupt(_) => "bundle.corrupt",
            Error::BundleUnsupportedVersion(_) => "bundle.unsupported_version",
            Error::CorruptDocument { .. } => "store.corrupt_document",
            Error::NotAStore(_) => "store.not_fieldbook",
            Error::NewerSchema { .. } => "store.newer_schema",
            Error::NotInitialised => "device.not_initialised",
            Error::NotOnBehalf => "access.not_on_behalf",
            Error::NotApprover => "access.not_approver",
            Error::TerritoryFixed => "card.territory_fixed",
            Error::HandedAway(_) => "card.handed_away",
            Error::Sqlite(_) => "store.sqlite",
            Error::Io(_) => "store.io",
            Error::Automerge(_) => "document.error",
            Error::NotEnrolled => "sync.not_enrolled",
            Error::Network(_) => "sync.network",
            Error::Server { .. } => "sync.server_refused",
            Error::Protocol(_) => "sync.protocol",
            Error::CardTooLarge(_) => "card.too_large",
            Error::BadBytes(_) => "card.bad_bytes",
            Error::InvalidCard(_) => "card.invalid",
            Error::ActorReused => "card.actor_reused",
            Error::Cancelled => "sync.cancelled",
            Error::WrongKey => "store.wrong_key",
            Error::Locked => "store.locked",
            Error::Closed => "store.closed",
        }
    }

    /// One value of every variant. A variant missing here leaves its code out of the
    /// set compared with [`Error::ALL_CODES`] below.
    fn one_of_each() -> Vec<Error> {
        vec![
            Error::CardNotFound("c".into()),
            Error::InvalidId("x".into(), "not a uuid"),
            Error::invalid("credit.credit_limit", "negative"),
            Error::UnknownField("nope".into()),
            Error::ItemNotFound {
                kind: "contact",
                id: "i".into(),
            },
            Error::NoConflict("basic.name".into()),
            Error::BundleForeign,
            Error::BundleTruncated {
                expected: 2,
                found: 1,
            },
            Error::BundleCorrupt("checksum".into()),
            Error::BundleUnsupportedVersion(9),
            Error::CorruptDocument {
                card: "c".into(),
                reason: "r".into(),
            },
            Error::NotAStore(PathBuf::from("x.db")),
            Error::NewerSchema {
                found: 9,
                supported: 2,
            },
            Error::NotInitialised,
            Error::NotOnBehalf,
            Error::NotApprover,
            Error::TerritoryFixed,
            Error::HandedAway("c".into()),
            Error::from(rusqlite::Error::QueryReturnedNoRows),
            Error::Io(std::io::Error::other("disk")),
            Error::from(automerge::AutomergeError::Fail),
            Error::NotEnrolled,
            Error::Network("refused".into()),
            Error::Server {
                status: 403,
                code: "auth.revoked".into(),
                message: "m".into(),
            },
            Error::Protocol("p".into()),
            Error::CardTooLarge("c".into()),
            Error::BadBytes("b".into()),
            Error::InvalidCard("i".into()),
            Error::ActorReused,
            Error::Cancelled,
            Error::WrongKey,
            Error::Locked,
            Error::Closed,
        ]
    }

    fn dotted(code: &str) -> bool {
        let part = |p: &str| {
            !p.is_empty()
                && p.starts_with(|c: char| c.is_ascii_lowercase())
                && p.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        };
        matches!(code.split_once('.'), Some((a, b)) if part(a) && part(b))
    }

    #[test]
    fn codes_are_listed_unique_dotted_and_stable() {
        let errors = one_of_each();
        for e in &errors {
            assert_eq!(e.code(), listed_code(e), "the code of {e:?} changed");
            assert!(dotted(e.code()), "{} is not area.name", e.code());
        }
        let produced: BTreeSet<&str> = errors.iter().map(Error::code).collect();
        assert_eq!(produced.len(), errors.len(), "two variants share a code");
        let all: BTreeSet<&str> = Error::ALL_CODES.iter().copied().collect();
        assert_eq!(
            all.len(),
            Error::ALL_CODES.len(),
            "ALL_CODES repeats a code"
        );
        assert_eq!(
            produced, all,
            "ALL_CODES differs from the codes variants return"
        );
    }

    #[test]
    fn the_code_checks_can_fail() {
        assert!(dotted("card.not_found"));
        for bad in ["card", "card.", ".x", "Card.x", "card.not-found", "a.b.c"] {
            assert!(!dotted(bad), "{bad}");
        }
        assert_eq!(
            Error::Server {
                status: 401,
                code: "auth.revoked".into(),
                message: String::new(),
            }
            .detailed_code(),
            "auth.revoked"
        );
    }

    /// The wrappers keep the library error reachable as a source, with its message,
    /// under the unchanged codes.
    #[test]
    fn wrapped_library_errors_keep_code_message_and_source() {
        use std::error::Error as _;
        let sqlite = Error::from(rusqlite::Error::QueryReturnedNoRows);
        assert_eq!(sqlite.code(), "store.sqlite");
        let inner = sqlite
            .source()
            .and_then(|s| s.source())
            .expect("rusqlite source");
        assert!(inner.downcast_ref::<rusqlite::Error>().is_some());
        assert!(
            sqlite
                .to_string()
                .contains(&rusqlite::Error::QueryReturnedNoRows.to_string())
        );

        let doc = Error::from(automerge::AutomergeError::Fail);
        assert_eq!(doc.code(), "document.error");
        let inner = doc
            .source()
            .and_then(|s| s.source())
            .expect("automerge source");
        assert!(inner.downcast_ref::<automerge::AutomergeError>().is_some());
    }
}
