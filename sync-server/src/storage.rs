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

mod activity_calendar;
pub mod conformance;
#[cfg(feature = "postgres")]
pub mod postgres;
mod read_model;
pub mod sqlite;

pub use read_model::{
    ActivityCount, ActivityRange, AnalysisRow, CardIndexRow, ChangeRow, DeviceLabel, IndexQuery,
    IndexSort, IndexedCard, LoggedChange, Period,
};
use serde::{Deserialize, Serialize};

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
    /// Whether they still work here: a deactivated rep receives no territory or card.
    pub active: bool,
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
    /// The card's row in the manager's index after the changes (derived from its view by
    /// `manager::read_model::derive`, as every other field of a commit is).
    pub index: CardIndexRow,
    /// The new changes, classified for the manager's history and activity (rows whose
    /// hash is already known are skipped, like the log's).
    pub change_rows: Vec<ChangeRow>,
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

/// Changes refused past the handoff grace period, kept for a manager to review: one review
/// item. Its bytes are kept whatever the decision (never deleted silently).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldChanges {
    /// The review item's id.
    pub id: u64,
    /// The card.
    pub card_id: String,
    /// The device that sent them.
    pub device_id: String,
    /// Their author (the previous owner).
    pub person_id: String,
    /// The changes, concatenated in the storage format.
    pub bytes: Vec<u8>,
    /// How many changes `bytes` holds.
    pub changes: u32,
    /// Server receive time, unix seconds.
    pub received_at: i64,
    /// Pending, accepted or discarded.
    pub status: ReviewStatus,
    /// Who decided, once decided.
    pub decided_by: Option<String>,
    /// When it was decided (unix seconds).
    pub decided_at: Option<i64>,
    /// The decider's note.
    pub note: Option<String>,
}

/// Late edits to keep for review (see [`Storage::hold_changes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldRequest {
    /// The card.
    pub card_id: String,
    /// The device that sent them.
    pub device_id: String,
    /// Their author (the previous owner).
    pub person_id: String,
    /// The refused changes; those already held (by hash) are not held again.
    pub changes: Vec<NewChange>,
    /// Server receive time, unix seconds.
    pub received_at: i64,
    /// Most pending review items of one device; one more is refused.
    pub max_items: u64,
    /// Most bytes of one device's pending review items.
    pub max_bytes: u64,
}

// --- handoff ---

/// One entry of the assignment history: a territory handed to a rep, or a card moved into
/// another territory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// The territory handed over, or (for a card) the territory it moved into.
    pub territory: String,
    /// The card moved, for a single-card move; `None` for a whole territory.
    pub card_id: Option<String>,
    /// For a card: the territory it left.
    pub from_territory: Option<String>,
    /// Who held it before, if anyone.
    pub from: Option<String>,
    /// Who holds it from `at`.
    pub to: String,
    /// Who decided (a manager's or administrator's person id; `"admin"` for the
    /// operator's command line and admin API, which act as no person).
    pub decided_by: String,
    /// Why.
    pub reason: String,
    /// When `to` started holding it (unix seconds).
    pub at: i64,
    /// When `to` stopped holding it (the next entry's `at`), if they did.
    pub until: Option<i64>,
    /// The position in the shared sequence at which it took effect.
    pub position: u64,
}

/// A whole territory handed from one rep to another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TerritoryHandoff {
    /// The territory.
    pub territory: String,
    /// Its expected current owner: another owner found in the transaction is
    /// [`Error::HandoffConflict`].
    pub from: String,
    /// The rep receiving it (an active rep, else [`Error::UnknownRep`]).
    pub to: String,
    /// Who decided.
    pub decided_by: String,
    /// Why.
    pub reason: String,
    /// Now (unix seconds).
    pub at: i64,
}

/// Cards of one territory moved into a territory another rep holds, each by one change the
/// server wrote (its `territory` field set).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardMoves {
    /// The territory the cards leave.
    pub territory: String,
    /// Its expected current owner ([`Error::HandoffConflict`] otherwise).
    pub from: String,
    /// The rep receiving them: must hold `target_territory` and be active.
    pub to: String,
    /// The territory the cards move into.
    pub target_territory: String,
    /// Who decided.
    pub decided_by: String,
    /// Why.
    pub reason: String,
    /// Now (unix seconds).
    pub at: i64,
    /// The server's actor that authored the changes, for the decider (recorded, see
    /// [`Storage::server_actors`]).
    pub server_actor: Vec<u8>,
    /// One write per card, each with the card's territory set to `target_territory`; a
    /// card no longer in `territory` is [`Error::HandoffConflict`], a stale one
    /// [`Error::Conflict`] (the caller reloads and tries again).
    pub commits: Vec<CardCommit>,
}

/// A card's move between territories, as a pull reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardMove {
    /// The position of the change that moved it.
    pub position: u64,
    /// The card.
    pub card_id: String,
    /// Where it was.
    pub from_territory: String,
    /// Where it went.
    pub to_territory: String,
}

/// An actor the server authors changes with, on behalf of a person (a manager moving a
/// card): history shows "moved by 王芳 (server)".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerActor {
    /// The actor id.
    pub actor: Vec<u8>,
    /// The person the server acted for.
    pub person_id: String,
}

/// Where a review item stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewStatus {
    /// Waiting for a manager.
    Pending,
    /// Merged into the card (attributed to its author).
    Accepted,
    /// Not merged; the bytes are kept.
    Discarded,
}

impl ReviewStatus {
    /// The status as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Pending => "pending",
            ReviewStatus::Accepted => "accepted",
            ReviewStatus::Discarded => "discarded",
        }
    }

    /// Parses a stored or requested status.
    pub fn parse(s: &str) -> Result<ReviewStatus> {
        match s {
            "pending" => Ok(ReviewStatus::Pending),
            "accepted" => Ok(ReviewStatus::Accepted),
            "discarded" => Ok(ReviewStatus::Discarded),
            _ => Err(Error::Invalid(
                "review status is pending, accepted or discarded".into(),
            )),
        }
    }
}

/// One review item as a manager lists it (without its bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewItem {
    /// The item's id.
    pub id: u64,
    /// The card.
    pub card_id: String,
    /// The card's name, as its projection holds it.
    pub card_name: Option<String>,
    /// The card's territory now.
    pub territory: Option<String>,
    /// The device that sent the changes.
    pub device_id: String,
    /// Its enrolled name (演示手机).
    pub device_name: Option<String>,
    /// The author of the changes.
    pub person_id: String,
    /// When the server received them (unix seconds).
    pub received_at: i64,
    /// How many changes.
    pub changes: u32,
    /// Their size in bytes.
    pub bytes: u64,
    /// Pending, accepted or discarded.
    pub status: ReviewStatus,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<i64>,
    /// The decider's note.
    pub note: Option<String>,
}

/// Which review items to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReviewFilter {
    /// Only cards in these territories (`None`: all).
    pub territories: Option<Vec<String>>,
    /// Only items with this status (`None`: all).
    pub status: Option<ReviewStatus>,
    /// Rows to skip.
    pub offset: u64,
    /// Most rows to return.
    pub limit: u64,
}

/// A decision on a review item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewDecision {
    /// The item.
    pub id: u64,
    /// Accepted or discarded; the item must be pending ([`Error::ReviewDecided`]).
    pub status: ReviewStatus,
    /// Who decided.
    pub decided_by: String,
    /// Their note.
    pub note: Option<String>,
    /// Now (unix seconds).
    pub at: i64,
}

/// A late edit in the log: a change of a card's previous owner accepted within the grace
/// period (flagged to the new owner and the manager).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateEdit {
    /// Its log position.
    pub position: u64,
    /// The change hash (hex).
    pub hash: String,
    /// The device that sent it.
    pub device_id: String,
    /// When the server received it (unix seconds).
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

/// A change another server instance made, as a backend several instances share reports
/// it (PostgreSQL: LISTEN/NOTIFY). Only a hint: every reader checks stored positions
/// anyway, so a missed or late event costs work, never correctness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageEvent {
    /// A card was written up to `last_position` by another instance.
    CardChanged {
        /// The card.
        card_id: String,
        /// Its `last_position` after that write.
        last_position: u64,
    },
}

/// Called with each [`StorageEvent`], on a thread of the backend's.
pub type StorageListener = Box<dyn Fn(StorageEvent) + Send + Sync>;

/// The server's identity and secrets, created once with the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerIdentity {
    /// A stable id for this server's data (UUID v4 text).
    pub server_id: String,
    /// The key of the cursor MAC.
    pub cursor_key: [u8; 32],
}

/// A one-time dashboard login link, stored by hash (`fieldbook-server login-link`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLoginLink {
    /// SHA-256 (hex) of the link's token.
    pub token_hash: String,
    /// The manager it logs in.
    pub person_id: String,
    /// Unix seconds after which the link is refused.
    pub expires_at: i64,
}

/// A dashboard session, stored by the hash of its cookie's token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSession {
    /// SHA-256 (hex) of the session cookie's token.
    pub token_hash: String,
    /// The person signed in.
    pub person_id: String,
    /// The token every form of this session carries (compared in constant time).
    pub csrf_token: String,
    /// When it was opened (unix seconds).
    pub created_at: i64,
    /// When it ends (unix seconds).
    pub expires_at: i64,
}

/// Everything the server persists. See the module docs for the guarantees.
pub trait Storage: Send + Sync + 'static {
    /// The server's identity, created with the database.
    fn identity(&self) -> Result<ServerIdentity>;

    /// Whether every write will answer [`Error::ReadOnly`] (a SQLite file opened
    /// read-only); such a server serves reads and derives nothing at start.
    fn is_read_only(&self) -> bool {
        false
    }

    /// Starts telling `listener` what other instances change. A backend only one
    /// process writes at a time (SQLite) has nothing to tell and ignores it.
    fn on_change(&self, listener: StorageListener) {
        drop(listener);
    }

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
    /// Up to `limit` projections `(card id, JSON)` of the cards in `territories` (`None`:
    /// every territory), by card id after `after`: a whole team's cards read a page at a
    /// time (the analyses read every card of a scope).
    fn projections_after(
        &self,
        territories: Option<&[String]>,
        after: &str,
        limit: u32,
    ) -> Result<Vec<(String, String)>>;

    /// Keeps changes refused past the handoff grace period as one pending review item, in
    /// one transaction: changes already held (by hash, for any item) are left out, and
    /// nothing is stored when none is left (`Ok(None)`). An item that would take the
    /// device past `max_items` pending items or `max_bytes` pending bytes is refused with
    /// [`Error::ReviewFull`] and not stored. Returns the new item's id.
    fn hold_changes(&self, held: &HoldRequest) -> Result<Option<u64>>;
    /// The held changes (review items) of a card, oldest first.
    fn held_changes(&self, card_id: &str) -> Result<Vec<HeldChanges>>;

    /// The persisted `automerge::sync::State` of a device for a card (fallback).
    fn fallback_state(&self, device_id: &str, card_id: &str) -> Result<Option<Vec<u8>>>;
    /// Persists the `automerge::sync::State` of a device for a card (fallback).
    fn save_fallback_state(&self, device_id: &str, card_id: &str, state: &[u8]) -> Result<()>;

    // --- manager ---
    /// One page of the manager's card index matching `query`, and how many match in all.
    fn index_cards(&self, query: &IndexQuery) -> Result<(Vec<IndexedCard>, u64)>;
    /// A card's index entry.
    fn index_card(&self, card_id: &str) -> Result<Option<IndexedCard>>;
    /// A page of a card's classified changes, newest first (by log position), with their
    /// device, receive time and late flag from the log; and how many there are.
    fn card_changes(
        &self,
        card_id: &str,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<LoggedChange>, u64)>;
    /// The devices these actors are bound to (current or former actors); unknown actors
    /// are left out.
    fn device_labels(&self, actors: &[Vec<u8>]) -> Result<Vec<DeviceLabel>>;
    /// Activity counted per person per bucket over a range, ordered by person then bucket.
    /// Both ways of counting agree: whole days of China time (UTC+8) for a list of people
    /// may be summed from a rollup of the change rows; any other range counts the rows.
    fn activity_counts(&self, range: &ActivityRange) -> Result<Vec<ActivityCount>>;
    /// Fields in open conflict, summed per territory (territories with none left out).
    fn open_conflicts_by_territory(&self) -> Result<Vec<(String, u64)>>;
    /// Review items still pending (changes held past the handoff grace period), counted per
    /// person who made them.
    fn held_counts_by_person(&self) -> Result<Vec<(String, u64)>>;
    /// Up to `limit` stored cards with no index row yet (a database from before the
    /// manager's read model), by id, after the id `after`.
    fn cards_without_index(&self, after: &str, limit: u32) -> Result<Vec<String>>;
    /// Up to `limit` cards whose change rows were classified before a count existed and
    /// must be classified again (schema 9: contracts and orders), by id, after `after`.
    /// [`Storage::write_read_model`] of a card takes it off the list.
    fn cards_to_reclassify(&self, after: &str, limit: u32) -> Result<Vec<String>>;
    /// Up to `limit` analysis rows of the cards in `territories` (`None`: every
    /// territory), by card id after `after`; with `with_bodies` false only the ids and
    /// versions (the bodies left empty), for a reader that keeps what it parsed.
    fn analysis_rows_after(
        &self,
        territories: Option<&[String]>,
        after: &str,
        limit: u32,
        with_bodies: bool,
    ) -> Result<Vec<AnalysisRow>>;
    /// The analysis rows of these cards (those that have an index row), by card id.
    fn analysis_rows_of(&self, card_ids: &[String]) -> Result<Vec<AnalysisRow>>;
    /// A card's stage changes as its index row holds them (`None`: no row, or one from
    /// before they were kept).
    fn card_stages(&self, card_id: &str) -> Result<Option<String>>;
    /// Writes the read model of a stored card without touching its log: its index row,
    /// and the classified changes not recorded yet (filling a database from before it);
    /// a change already recorded gets the counts given (its time stays).
    fn write_read_model(
        &self,
        card_id: &str,
        territory: &str,
        index: &CardIndexRow,
        change_rows: &[ChangeRow],
    ) -> Result<()>;
    // --- web ---
    /// Sets a person's dashboard password (an argon2id PHC string); their open sessions end.
    fn set_web_password(&self, person_id: &str, password_hash: &str, now: i64) -> Result<()>;
    /// A person's dashboard password hash, if one was set.
    fn web_password(&self, person_id: &str) -> Result<Option<String>>;
    /// Stores a one-time login link.
    fn create_login_link(&self, link: &NewLoginLink) -> Result<()>;
    /// Spends a login link: the person it logs in, once, before its expiry; `None` after.
    fn redeem_login_link(&self, token_hash: &str, now: i64) -> Result<Option<String>>;
    /// Opens a session (and drops sessions expired by `session.created_at`).
    fn create_web_session(&self, session: &WebSession) -> Result<()>;
    /// A session by its token's hash, if it has not expired by `now`.
    fn web_session(&self, token_hash: &str, now: i64) -> Result<Option<WebSession>>;
    /// Ends a session (logout); ending an unknown one is not an error.
    fn delete_web_session(&self, token_hash: &str) -> Result<()>;
    /// Records a failed login of a person at `now` and returns their failures in the last
    /// `window_secs` (this one included); older ones are forgotten.
    fn record_login_failure(&self, person_id: &str, now: i64, window_secs: i64) -> Result<u32>;
    /// A person's failed logins after `since`.
    fn login_failures(&self, person_id: &str, since: i64) -> Result<u32>;
    /// Forgets a person's failed logins (after a successful one).
    fn clear_login_failures(&self, person_id: &str) -> Result<()>;
    // --- handoff ---

    /// Hands a whole territory from its current owner to another rep, in one transaction:
    /// the owner must still be `from` ([`Error::HandoffConflict`]), `to` an active rep
    /// ([`Error::UnknownRep`]); scope events and the assignment history are written.
    fn hand_off_territory(&self, handoff: &TerritoryHandoff) -> Result<Assignment>;
    /// Moves cards into another territory, in one transaction (see [`CardMoves`]): each
    /// card's write goes through the same commit as a push, and its assignment is recorded
    /// at the position of the change that moved it.
    fn move_cards(&self, moves: &CardMoves) -> Result<Vec<Assignment>>;
    /// The assignment history of a territory: its handoffs and the cards moved into or out
    /// of it, oldest first.
    fn assignment_history(&self, territory_id: &str) -> Result<Vec<Assignment>>;
    /// Who held a card, oldest first: the handoffs of each territory while the card was in
    /// it, and the card's own moves.
    fn card_assignments(&self, card_id: &str) -> Result<Vec<Assignment>>;
    /// Card moves with a position in `(after, upto]`, in order.
    fn card_moves_after(&self, after: u64, upto: u64) -> Result<Vec<CardMove>>;
    /// When a card last moved away from a territory `person_id` held (unix seconds).
    fn card_lost_at(&self, person_id: &str, card_id: &str) -> Result<Option<i64>>;
    /// Every actor the server authored changes with, and for whom.
    fn server_actors(&self) -> Result<Vec<ServerActor>>;
    /// Activates or deactivates a person ([`Error::NotFound`] if unknown).
    fn set_person_active(&self, person_id: &str, active: bool) -> Result<()>;
    /// One review item with its bytes.
    fn held_item(&self, id: u64) -> Result<Option<HeldChanges>>;
    /// Review items, newest first, and how many match the filter in all.
    fn review_items(&self, filter: &ReviewFilter) -> Result<(Vec<ReviewItem>, u64)>;
    /// Records a decision on a pending review item ([`Error::ReviewDecided`] if it is not
    /// pending any more). Accepting passes the card's write (the held changes merged, as
    /// their author made them), committed in the same transaction (a stale card is
    /// [`Error::Conflict`] and records nothing); discarding passes none.
    fn decide_review(
        &self,
        decision: &ReviewDecision,
        commit: Option<&CardCommit>,
    ) -> Result<Option<CommitOutcome>>;
    /// A card's late edits (log entries marked `late`), in log order.
    fn late_edits(&self, card_id: &str) -> Result<Vec<LateEdit>>;

    // --- device ---
    /// Every actor (current and former) of every device that wrote a log entry of these
    /// cards, with the device's name, person and role, by actor. Unknown cards add nothing.
    fn actor_directory(&self, card_ids: &[String]) -> Result<Vec<ActorEntry>>;

    // --- company settings ---
    /// The company settings in force, `None` when they were never set (revision 0: the
    /// built-in defaults).
    fn company_settings(&self) -> Result<Option<StoredSettings>>;
    /// Puts new settings (already validated JSON) in force if the current revision is
    /// still `expected` ([`Error::SettingsConflict`] otherwise: someone else changed them
    /// meanwhile); returns the new revision. Every revision is kept, with who set it.
    fn set_company_settings(&self, expected: u64, json: &str, by: &str, now: i64) -> Result<u64>;
}

/// One revision of the company settings, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSettings {
    /// 1, 2, …: increases with every accepted change.
    pub revision: u64,
    /// `fieldbook_core::CompanySettings` as JSON.
    pub json: String,
    /// Who set them (a person id).
    pub set_by: String,
    /// When (unix seconds, server time).
    pub set_at: i64,
}

/// A card's heads as both backends store them: the 32-byte hashes concatenated.
pub(crate) fn split_heads(bytes: &[u8]) -> Vec<[u8; 32]> {
    bytes
        .chunks_exact(32)
        .filter_map(|c| <[u8; 32]>::try_from(c).ok())
        .collect()
}

/// The inverse of [`split_heads`].
pub(crate) fn join_heads(heads: &[[u8; 32]]) -> Vec<u8> {
    heads.concat()
}
