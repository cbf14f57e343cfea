//! The device store: every card of one device in one SQLite file.
//!
//! Layout and guarantees:
//! - SQLite in WAL mode with `synchronous = FULL` and exactly one connection per
//!   process, used for writes and reads. An edit is one SQLite transaction holding
//!   the new Automerge change (an incremental chunk) and the updated index rows;
//!   when [`Store::update`] returns, the edit is on disk. A crash at any instant
//!   leaves either the old or the new state, never a mix.
//! - Each card is a compacted document (`cards.snapshot`) plus incremental chunks
//!   (`card_chunks`), folded into a new snapshot when they pile up.
//! - Documents are loaded on demand and kept in a small LRU cache; a per-card
//!   `version` counter detects writes by another process so a stale cached document
//!   is never written from (which would reuse the device's `(actor, seq)`).
//! - Lists and search read the index ([`crate::query`]), never documents.
//!
//! This file owns opening the store, the device identity, loading documents and the
//! read side; the rest lives in files named for what they own: `edit` (the write
//! path), `view` (card views and index rows), `list_query` (the SQL of lists and
//! search), `merge` (bundle export and import), `sync_state` (outbox and sync
//! responses), `index`, `text`, `schema`, `bundle`.

mod analysis;
mod attribution;
mod bundle;
mod credit;
mod directory;
mod dossier;
mod duplicates;
mod edit;
mod facts;
mod handoff;
#[cfg(feature = "transfer")]
mod import;
mod index;
mod list_query;
mod merge;
mod open;
mod pull;
mod reapply;
mod reports;
pub(crate) mod schema;
pub(crate) mod sync_state;
pub(crate) mod text;
mod view;

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use automerge::{ActorId, Automerge};
use chrono::{DateTime, Utc};
use lru::LruCache;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

pub use bundle::{BundleEntry, decode as decode_bundle, encode as encode_bundle};
pub use directory::Assignment;
pub use dossier::{Dossier, FieldHistory};
pub use duplicates::MergeOutcome;
pub use handoff::HandedAway;
pub(crate) use index::index_text;
pub use merge::ImportReport;
pub use open::{EncryptionKey, OpenOptions, StoreReader};
pub(crate) use pull::{Pull, Pulled};
pub use schema::CURRENT_VERSION as SCHEMA_VERSION;
pub use sync_state::{DefaultTerritory, Enrolment};
pub use view::{CardView, card_view};
pub(crate) use view::{count_conflicts, index_input};

use crate::Conflict;
use crate::card::Card;
use crate::card::conflicts::find_conflicts;
use crate::company::{CompanySettings, RevisedSettings};
use crate::error::{Error, Result};
use crate::history::{self, FieldChange, HistoryEntry};
use crate::ids::{CardId, RepId};
use crate::settings::Settings;

/// What the store's writes and reports depend on: the device's local preferences and the
/// company's rules as last delivered by sync.
#[derive(Debug, Clone, Default)]
pub(crate) struct StoreSettings {
    /// This device's own preferences.
    pub(crate) local: Settings,
    /// The company's settings and their revision (0: the defaults, before any sync).
    pub(crate) company: RevisedSettings,
}

impl StoreSettings {
    /// The company's visit plan settings: the cadence due dates follow.
    pub(crate) fn visits(&self) -> &crate::analysis::visits::VisitSettings {
        &self.company.settings.visits
    }
}

/// Who this device is: its Automerge actor (one per installation) and its rep.
#[derive(Debug, Clone)]
struct Identity {
    actor: ActorId,
    rep: Option<RepId>,
}

/// Where changes being persisted came from: local changes are queued for the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Made on this device, or received from another device by file.
    Local,
    /// Received from the server, which already has them.
    Server,
}

/// A loaded document and where it lives.
struct Cached {
    doc: Automerge,
    num: i64,
    version: i64,
}

/// The cards of one device.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    cache: LruCache<CardId, Cached>,
    identity: Identity,
    settings: StoreSettings,
    /// The writer lock (`store/open.rs`); `None` for the read connection.
    _lock: Option<std::fs::File>,
    /// The lean cards the last bulk report parsed, reused while unchanged (`store/facts.rs`).
    lean: facts::LeanCache,
}

fn now() -> i64 {
    Utc::now().timestamp()
}

impl Store {
    /// Open (or create) the plain store at `path`; see [`Store::open_with`].
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Store::open_with(path, &OpenOptions::new())
    }

    fn meta(conn: &Connection, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    fn set_meta(conn: &Connection, key: &str, value: &[u8]) -> Result<()> {
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            params![key, value],
        )?;
        Ok(())
    }

    /// The device's actor is created once, on first open, and never changes: reusing
    /// one actor on two devices would corrupt every document they share.
    fn load_identity(conn: &Connection) -> Result<Identity> {
        let actor = match Self::meta(conn, "actor")? {
            Some(bytes) => ActorId::from(bytes),
            None => {
                let actor = ActorId::random();
                Self::set_meta(conn, "actor", actor.to_bytes())?;
                actor
            }
        };
        let rep = Self::meta(conn, "rep")?
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse().ok());
        Ok(Identity { actor, rep })
    }

    /// Set the rep this device acts for. Every later change is authored by them.
    pub fn init_identity(&mut self, rep: RepId) -> Result<()> {
        Self::set_meta(&self.conn, "rep", rep.as_str().as_bytes())?;
        self.identity.rep = Some(rep);
        self.cache.clear();
        Ok(())
    }

    /// The rep this device acts for, once set.
    pub fn rep(&self) -> Option<&RepId> {
        self.identity.rep.as_ref()
    }

    /// This device's Automerge actor id, hex.
    pub fn device_id(&self) -> String {
        self.identity.actor.to_hex_string()
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This device's local settings.
    pub fn settings(&self) -> &Settings {
        &self.settings.local
    }

    /// Change this device's local settings (persisted).
    pub fn set_settings(&mut self, settings: Settings) -> Result<()> {
        let json =
            serde_json::to_vec(&settings).map_err(|e| Error::invalid("settings", e.to_string()))?;
        Self::set_meta(&self.conn, "settings", &json)?;
        if let Some(n) = NonZeroUsize::new(settings.cache_cards as usize) {
            self.cache.resize(n);
        }
        self.settings.local = settings;
        Ok(())
    }

    /// The company's settings as the last sync delivered them (revision 0 and
    /// DOMAIN.md's defaults before the first one). Every report and due date on this
    /// device follows them.
    pub fn company_settings(&self) -> &RevisedSettings {
        &self.settings.company
    }

    /// Put company settings delivered by the server in force, in `tx` (the sync's
    /// transaction): persisted, and every due date re-derived. Invalid settings never
    /// get here: the sync session validates them first.
    pub(crate) fn adopt_company_settings(
        tx: &Transaction<'_>,
        settings: &mut StoreSettings,
        revised: RevisedSettings,
    ) -> Result<()> {
        let json = serde_json::to_vec(&revised)
            .map_err(|e| Error::invalid("company_settings", e.to_string()))?;
        Self::set_meta(tx, "company_settings", &json)?;
        let reindex = index::due_inputs_changed(settings.visits(), &revised.settings.visits);
        settings.company = revised;
        if reindex {
            // Which entries count, or the local calendar, changed: the last counted visit
            // must be found again from the documents.
            Self::set_meta(tx, "reindex", b"1")?;
        } else {
            index::recompute_due(tx, settings.visits())?;
        }
        Ok(())
    }

    /// The company settings stored in `conn` (the defaults when none were delivered yet,
    /// or when the stored copy cannot be read: the next sync delivers them again, since
    /// its revision is then 0).
    fn load_company_settings(conn: &Connection) -> Result<RevisedSettings> {
        let Some(json) = Self::meta(conn, "company_settings")? else {
            return Ok(RevisedSettings::default());
        };
        let stored: Option<RevisedSettings> = serde_json::from_slice(&json).ok();
        Ok(stored
            .filter(|s| s.settings.validate().is_ok())
            .unwrap_or_else(|| {
                tracing::warn!("stored company settings unreadable; defaults until the next sync");
                RevisedSettings {
                    revision: 0,
                    settings: CompanySettings::default(),
                }
            }))
    }

    /// Load a card's document into the cache (or refresh a stale one).
    fn load<'c>(
        conn: &Connection,
        cache: &'c mut LruCache<CardId, Cached>,
        id: &CardId,
    ) -> Result<&'c mut Cached> {
        let row: Option<(i64, i64)> = conn
            .prepare_cached("SELECT num, version FROM cards WHERE id = ?1")?
            .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((num, version)) = row else {
            cache.pop(id);
            return Err(Error::CardNotFound(id.to_string()));
        };
        let fresh = cache
            .get(id)
            .is_some_and(|c| c.version == version && c.num == num);
        if !fresh {
            let doc = Self::read_document(conn, id, num)?;
            cache.put(id.clone(), Cached { doc, num, version });
        }
        cache
            .get_mut(id)
            .ok_or_else(|| Error::CardNotFound(id.to_string()))
    }

    fn read_document(conn: &Connection, id: &CardId, num: i64) -> Result<Automerge> {
        let corrupt = |reason: String| Error::CorruptDocument {
            card: id.to_string(),
            reason,
        };
        let snapshot: Vec<u8> =
            conn.query_row("SELECT snapshot FROM cards WHERE num = ?1", [num], |r| {
                r.get(0)
            })?;
        let mut doc = Automerge::load(&snapshot).map_err(|e| corrupt(e.to_string()))?;
        let mut stmt =
            conn.prepare_cached("SELECT data FROM card_chunks WHERE card_num = ?1 ORDER BY seq")?;
        let chunks = stmt.query_map([num], |r| r.get::<_, Vec<u8>>(0))?;
        for chunk in chunks {
            doc.load_incremental(&chunk?)
                .map_err(|e| corrupt(e.to_string()))?;
        }
        Ok(doc)
    }

    /// Run `f` on a card's loaded document.
    fn with_doc<T>(&mut self, id: &CardId, f: impl FnOnce(&Automerge) -> Result<T>) -> Result<T> {
        let cached = Self::load(&self.conn, &mut self.cache, id)?;
        f(&cached.doc)
    }

    /// A card with its conflicts: from the loaded document when it is in memory,
    /// else from the card's stored view (no document load), which every write keeps
    /// in step with the document in the same transaction.
    pub fn card(&mut self, id: &CardId) -> Result<CardView> {
        if !self.cache.contains(id) {
            let json: Option<String> = self
                .conn
                .query_row(
                    "SELECT v.json FROM card_views v JOIN cards c ON c.num = v.card_num WHERE c.id = ?1",
                    [id.as_str()],
                    |r| r.get(0),
                )
                .optional()?;
            match json.map(|j| serde_json::from_str::<CardView>(&j)) {
                Some(Ok(view)) => return Ok(view),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "stored card view unreadable; loading the document")
                }
                None => {}
            }
        }
        self.with_doc(id, index_input)
    }

    /// The open conflicts of a card.
    pub fn conflicts(&mut self, id: &CardId) -> Result<Vec<Conflict>> {
        self.with_doc(id, |doc| Ok(find_conflicts(doc)))
    }

    /// Every change of a card, oldest first, with author, device, time and fields.
    /// Devices are named from the sync server's directory where the store knows them.
    pub fn history(&mut self, id: &CardId) -> Result<Vec<HistoryEntry>> {
        let mut entries = self.with_doc(id, |doc| Ok(history::history(doc)))?;
        Self::name_devices(&self.conn, &mut entries.iter_mut().collect::<Vec<_>>())?;
        Ok(entries)
    }

    /// The changes that touched one field, with the value each left.
    pub fn field_history(&mut self, id: &CardId, path: &str) -> Result<Vec<FieldChange>> {
        if crate::card::kind_of(path).is_none()
            && !path.split('.').next().is_some_and(crate::card::is_root_key)
        {
            return Err(Error::UnknownField(path.to_string()));
        }
        let mut changes = self.with_doc(id, |doc| history::field_history(doc, path))?;
        Self::name_devices(
            &self.conn,
            &mut changes.iter_mut().map(|c| &mut c.entry).collect::<Vec<_>>(),
        )?;
        Ok(changes)
    }

    /// The card as it was right after the given change (hex hash).
    pub fn card_at_change(&mut self, id: &CardId, hash: &str) -> Result<Card> {
        let hash = history::parse_hash(hash)?;
        self.with_doc(id, |doc| history::card_at(doc, &[hash]))
    }

    /// The card as it was at a device time: every change made by then.
    pub fn card_at_time(&mut self, id: &CardId, time: DateTime<Utc>) -> Result<Card> {
        self.with_doc(id, |doc| {
            let heads = history::heads_at_time(doc, time);
            if heads.is_empty() {
                return Err(Error::invalid(
                    "time",
                    "the card did not exist yet at that time",
                ));
            }
            history::card_at(doc, &heads)
        })
    }

    /// How many cards the store holds.
    pub fn count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM cards", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Every card id, in storage order.
    pub fn card_ids(&self) -> Result<Vec<CardId>> {
        let mut stmt = self.conn.prepare("SELECT id FROM cards ORDER BY num")?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .filter_map(|r| r.ok().and_then(|s| s.parse().ok()))
            .collect();
        Ok(ids)
    }

    /// Recompute every index row from the documents (after an index format change).
    pub fn rebuild_index(&mut self) -> Result<()> {
        let ids = self.card_ids()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for id in ids {
            let num: i64 =
                tx.query_row("SELECT num FROM cards WHERE id = ?1", [id.as_str()], |r| {
                    r.get(0)
                })?;
            let doc = Self::read_document(&tx, &id, num)?;
            Self::reindex(
                &tx,
                &self.settings,
                &Cached {
                    doc,
                    num,
                    version: 0,
                },
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// SQLite's own consistency check (`PRAGMA integrity_check`): `true` when ok.
    pub fn integrity_ok(&self) -> Result<bool> {
        let result: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        Ok(result == "ok")
    }

    /// Size of the database file and its WAL on disk, in bytes.
    pub fn disk_bytes(&self) -> u64 {
        let wal = self.path.with_extension(format!(
            "{}-wal",
            self.path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or_default()
        ));
        [self.path.clone(), wal]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Checkpoint the WAL into the main file (for measurements and backups).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }

    /// The Automerge bytes of a card's whole document (for export and sync).
    pub fn document_bytes(&mut self, id: &CardId) -> Result<Vec<u8>> {
        self.with_doc(id, |doc| Ok(doc.save()))
    }
}
