//! The storage boundary: everything the server persists goes through [`Storage`].
//!
//! **API Boundary.** One trait, several backends (SQLite now, PostgreSQL later), all of
//! which must pass [`conformance::run_all`]. The trait is synchronous and object-safe: the
//! server calls it from `tokio::task::spawn_blocking`, together with the Automerge work
//! (which blocks anyway), so a backend may use a blocking driver.
//!
//! What a backend must guarantee:
//! - **One position sequence.** Change-log entries and scope events share one increasing
//!   sequence of positions, and a position becomes visible only once every smaller
//!   position is visible (SQLite: one writer; PostgreSQL: serialise appends, e.g. with an
//!   advisory lock). The sync cursor relies on it: "everything up to position P".
//! - **Content addressing.** A change whose hash is already in the log is ignored, so a
//!   retried push never duplicates a row.
//! - **Optimistic card writes.** [`Storage::commit_card`] fails with
//!   [`Error::Conflict`] when the card moved since it was read, so the caller reloads and
//!   re-applies; a card's document and its log entries are written in one transaction.
//!   [`Storage::commit_cards`] writes a page of cards in one transaction, with the same
//!   check per card (a stale card is skipped and reported, the others are written).
//! - **Durable when it returns.** The server acknowledges a change only after the commit
//!   that holds it returned (SQLite: WAL, so a killed process loses nothing committed).
//! - Token hashes only: a backend never sees a bearer token in clear.

pub mod conformance;
pub mod sqlite;

use crate::error::{Error, Result};

/// What a device may do, fixed at enrolment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// A sales rep's device: the territories the rep holds.
    Rep,
    /// A manager's device: the territories the manager manages.
    Manager,
    /// An administrator's device: the admin API, no cards.
    Admin,
}

impl Role {
    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Rep => "rep",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Result<Role> {
        match s {
            "rep" => Ok(Role::Rep),
            "manager" => Ok(Role::Manager),
            "admin" => Ok(Role::Admin),
            _ => Err(Error::Invalid(format!(
                "unknown role {s:?} (rep, manager, admin)"
            ))),
        }
    }
}

/// Whether a person is a rep or a manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersonKind {
    /// Holds territories.
    Rep,
    /// Manages territories.
    Manager,
}

impl PersonKind {
    /// The kind's name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            PersonKind::Rep => "rep",
            PersonKind::Manager => "manager",
        }
    }

    /// Parses a kind name as stored.
    pub fn parse(s: &str) -> Result<PersonKind> {
        match s {
            "rep" => Ok(PersonKind::Rep),
            "manager" => Ok(PersonKind::Manager),
            _ => Err(Error::Storage(format!("unknown person kind {s:?}"))),
        }
    }
}

/// A rep or a manager. Their id is the Automerge author of every change they make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// Short stable id, e.g. `"zhangwei"`.
    pub id: String,
    /// Display name (personal data: never logged).
    pub name: String,
    /// Rep or manager.
    pub kind: PersonKind,
}

/// A territory: a set of cards, one owning rep at a time, one manager.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Territory {
    /// Stable id, e.g. `"sh-east"`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The rep holding it, if any.
    pub owner: Option<String>,
    /// Its manager, if any.
    pub manager: Option<String>,
}

/// A one-time enrolment token, stored by hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEnrolment {
    /// SHA-256 (hex) of the token.
    pub token_hash: String,
    /// The person the device will belong to.
    pub person_id: String,
    /// The device's role.
    pub role: Role,
    /// The device's display name.
    pub device_name: String,
    /// Unix seconds after which the token is refused.
    pub expires_at: i64,
}

/// The device created when an enrolment token is redeemed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDevice {
    /// The device id (UUID v4 text).
    pub id: String,
    /// The device's Automerge actor id.
    pub actor: Vec<u8>,
    /// SHA-256 (hex) of the device's bearer token.
    pub token_hash: String,
    /// Unix seconds after which the bearer token is refused, if ever.
    pub expires_at: Option<i64>,
    /// Now, in unix seconds.
    pub now: i64,
}

/// An enrolled device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// The device id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The person (rep or manager) the device belongs to: the only author it may write as.
    pub person_id: String,
    /// What it may do.
    pub role: Role,
    /// Its current Automerge actor id: the actor its new changes are made by.
    pub actor: Vec<u8>,
    /// Actors bound to it before a re-key: changes by them stay acceptable (a device's
    /// pending edits made before it re-keyed), and no other device may take them.
    pub former_actors: Vec<Vec<u8>>,
    /// How many times it was re-keyed (`POST /v1/rekey`).
    pub rekeys: u32,
    /// Whether it was revoked.
    pub revoked: bool,
    /// Token expiry (unix seconds), if any.
    pub expires_at: Option<i64>,
    /// Enrolment time (unix seconds).
    pub created_at: i64,
    /// Last successful sync (unix seconds), if any.
    pub last_sync_at: Option<i64>,
}

impl Device {
    /// Whether `actor` is bound to this device (current or former).
    pub fn owns_actor(&self, actor: &[u8]) -> bool {
        self.actor == actor || self.former_actors.iter().any(|a| a == actor)
    }
}

/// A card as stored: its compacted document and where it sits in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCard {
    /// The card id.
    pub card_id: String,
    /// The territory the card belongs to.
    pub territory: String,
    /// The card's document with every accepted change, as loadable bytes: a `save()`
    /// (document chunk), possibly followed by change chunks appended since (the server
    /// compacts again once that tail grows; `Automerge::load` reads both). Opaque to the
    /// backend.
    pub doc: Vec<u8>,
    /// Log position of the card's first change.
    pub first_position: u64,
    /// Log position of the card's latest change.
    pub last_position: u64,
    /// The heads of [`Self::doc`].
    pub heads: Vec<[u8; 32]>,
}

/// A change to append to the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewChange {
    /// The Automerge change hash.
    pub hash: [u8; 32],
    /// The change in the storage format.
    pub bytes: Vec<u8>,
}

/// One atomic write of a card: new changes appended, document and projection replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardCommit {
    /// The card id.
    pub card_id: String,
    /// The card's territory after the changes.
    pub territory: String,
    /// The `last_position` read before applying, or `None` for a card that did not exist;
    /// a mismatch fails with [`Error::Conflict`].
    pub expected_last_position: Option<u64>,
    /// The new document bytes (see [`StoredCard::doc`]).
    pub doc: Vec<u8>,
    /// The heads of the new document.
    pub heads: Vec<[u8; 32]>,
    /// The current field values as JSON, for manager views.
    pub projection: String,
    /// The changes to append (hashes already in the log are skipped).
    pub changes: Vec<NewChange>,
    /// Whether these are late edits: made by the card's previous owner and accepted within
    /// the handoff grace period (marked in the log for the history view).
    pub late: bool,
    /// The device that sent them.
    pub device_id: String,
    /// Server receive time, unix seconds.
    pub received_at: i64,
}

/// What [`Storage::commit_card`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitOutcome {
    /// How many log entries were appended (0 for a retry).
    pub appended: usize,
    /// The card's `last_position` after the commit.
    pub last_position: u64,
}

/// Where a card sits in the log, without its document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardSummary {
    /// The card id.
    pub card_id: String,
    /// Its territory.
    pub territory: String,
    /// Position of its first change.
    pub first_position: u64,
    /// Position of its latest change.
    pub last_position: u64,
    /// The heads of its stored document.
    pub heads: Vec<[u8; 32]>,
}

/// A change of a person's scope: they gained or lost a territory at a log position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeEvent {
    /// The position in the shared sequence.
    pub position: u64,
    /// The territory.
    pub territory_id: String,
    /// The person whose scope changed.
    pub person_id: String,
    /// Gained (true) or lost (false).
    pub gained: bool,
}

/// Changes refused past the handoff grace period, kept for a manager to review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldChanges {
    /// The card.
    pub card_id: String,
    /// The device that sent them.
    pub device_id: String,
    /// Their author (the previous owner).
    pub person_id: String,
    /// The changes, concatenated in the storage format.
    pub bytes: Vec<u8>,
    /// Server receive time, unix seconds.
    pub received_at: i64,
}

/// Who an actor is: the device it is bound to (current or former actor), for the
/// directory a sync response carries so devices name each other in history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActorEntry {
    /// The actor id.
    pub actor: Vec<u8>,
    /// The name the device was enrolled with.
    pub device_name: String,
    /// The device's person.
    pub person_id: String,
    /// That person's display name.
    pub person_name: String,
    /// The device's role.
    pub role: Role,
}

/// The server's identity and secrets, created once with the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerIdentity {
    /// A stable id for this server's data (UUID v4 text).
    pub server_id: String,
    /// The key of the cursor MAC.
    pub cursor_key: [u8; 32],
}

/// Everything the server persists. See the module docs for the guarantees.
pub trait Storage: Send + Sync + 'static {
    /// The server's identity, created with the database.
    fn identity(&self) -> Result<ServerIdentity>;

    /// Adds a rep or manager ([`Error::AlreadyExists`] if the id is taken).
    fn add_person(&self, person: &Person) -> Result<()>;
    /// A person by id.
    fn person(&self, id: &str) -> Result<Option<Person>>;
    /// Every person, by id.
    fn people(&self) -> Result<Vec<Person>>;

    /// Adds a territory with no owner; its manager (if any) gains it in scope.
    fn add_territory(&self, id: &str, name: &str, manager: Option<&str>) -> Result<()>;
    /// Gives a territory to a rep at time `now` (unix seconds); the previous owner loses
    /// it. Returns the position of the scope change. Assigning to the current owner is a
    /// no-op.
    fn assign_territory(&self, territory_id: &str, rep_id: &str, now: i64) -> Result<u64>;
    /// When a person last lost a territory (unix seconds), if ever.
    fn territory_lost_at(&self, person_id: &str, territory_id: &str) -> Result<Option<i64>>;
    /// A territory by id.
    fn territory(&self, id: &str) -> Result<Option<Territory>>;
    /// Every territory, by id.
    fn territories(&self) -> Result<Vec<Territory>>;
    /// Ids of the territories a person owns (rep) or manages (manager).
    fn territories_of(&self, person_id: &str, role: Role) -> Result<Vec<String>>;
    /// Scope events of a person after a position, in order.
    fn scope_events_after(&self, person_id: &str, after: u64) -> Result<Vec<ScopeEvent>>;

    /// Stores a one-time enrolment token.
    fn create_enrolment(&self, enrolment: &NewEnrolment) -> Result<()>;
    /// Redeems an enrolment token (once, before expiry) and creates the device.
    fn redeem_enrolment(&self, token_hash: &str, device: &NewDevice) -> Result<Device>;
    /// The device holding a bearer token, by the token's hash.
    fn device_by_token_hash(&self, token_hash: &str) -> Result<Option<Device>>;
    /// A device by id.
    fn device(&self, id: &str) -> Result<Option<Device>>;
    /// Every device.
    fn devices(&self) -> Result<Vec<Device>>;
    /// Binds a fresh actor to a device (a re-key after its store was copied or restored):
    /// the actor becomes current, the old one stays the device's, the re-key count goes up.
    /// An actor bound to any device already is refused ([`Error::Invalid`]); re-keying to
    /// the current actor again changes nothing.
    fn rekey_device(&self, device_id: &str, actor: &[u8], now: i64) -> Result<Device>;
    /// Revokes a device ([`Error::NotFound`] if unknown).
    fn revoke_device(&self, id: &str) -> Result<()>;
    /// Records a device's successful sync.
    fn record_sync(&self, device_id: &str, now: i64) -> Result<()>;

    /// The highest position in the sequence (0 when empty).
    fn head_position(&self) -> Result<u64>;
    /// Number of entries in the change log.
    fn log_len(&self) -> Result<u64>;
    /// A card by id.
    fn card(&self, card_id: &str) -> Result<Option<StoredCard>>;
    /// Writes a card atomically (see [`CardCommit`]).
    fn commit_card(&self, commit: &CardCommit) -> Result<CommitOutcome>;
    /// Writes several cards in one transaction: each card exactly as [`Self::commit_card`]
    /// would, in order, except that a card whose `expected_last_position` is stale gets
    /// `Err(Error::Conflict)` in its slot and writes nothing while the others are written.
    /// Any other error fails the whole call; none of it is acknowledged to a device. The
    /// default commits one card at a time (so a failure may leave earlier cards written,
    /// which is safe: the device pushes them again and known hashes are skipped); a backend
    /// overrides it with one transaction to save the per-transaction cost.
    fn commit_cards(&self, commits: &[CardCommit]) -> Result<Vec<Result<CommitOutcome>>> {
        commits
            .iter()
            .map(|c| match self.commit_card(c) {
                Err(Error::Conflict) => Ok(Err(Error::Conflict)),
                other => other.map(Ok),
            })
            .collect()
    }
    /// Cards of these territories with a log entry in `(after, upto]` from a device other
    /// than `exclude_device`, ordered by `last_position` then id.
    fn cards_changed_by_others(
        &self,
        territories: &[String],
        after: u64,
        upto: u64,
        exclude_device: &str,
    ) -> Result<Vec<CardSummary>>;
    /// Every card of these territories, ordered by `last_position` then id.
    fn cards_in_territories(&self, territories: &[String]) -> Result<Vec<CardSummary>>;
    /// The change bytes of a card's log entries in `(after, upto]` from devices other than
    /// `exclude_device`, in log order.
    fn changes_by_others(
        &self,
        card_id: &str,
        after: u64,
        upto: u64,
        exclude_device: &str,
    ) -> Result<Vec<Vec<u8>>>;
    /// The projection (JSON of current field values) of a card.
    fn projection(&self, card_id: &str) -> Result<Option<String>>;

    /// Keeps changes refused past the handoff grace period, for a manager to review.
    fn hold_changes(&self, held: &HeldChanges) -> Result<()>;
    /// The held changes of a card, oldest first.
    fn held_changes(&self, card_id: &str) -> Result<Vec<HeldChanges>>;

    /// The persisted `automerge::sync::State` of a device for a card (fallback).
    fn fallback_state(&self, device_id: &str, card_id: &str) -> Result<Option<Vec<u8>>>;
    /// Persists the `automerge::sync::State` of a device for a card (fallback).
    fn save_fallback_state(&self, device_id: &str, card_id: &str, state: &[u8]) -> Result<()>;

    // --- device ---
    /// Every actor (current and former) of every device that wrote a log entry of these
    /// cards, with the device's name, person and role, by actor. Unknown cards add nothing.
    fn actor_directory(&self, card_ids: &[String]) -> Result<Vec<ActorEntry>>;
}
