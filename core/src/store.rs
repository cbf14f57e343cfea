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

mod bundle;
mod index;
pub(crate) mod schema;
pub(crate) mod sync_state;
mod text;

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use automerge::transaction::CommitOptions;
use automerge::{ActorId, Automerge, ChangeHash};
use chrono::{DateTime, NaiveDate, Utc};
use lru::LruCache;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;

pub use bundle::{BundleEntry, decode as decode_bundle, encode as encode_bundle};
pub use schema::CURRENT_VERSION as SCHEMA_VERSION;
pub use sync_state::Enrolment;

use crate::Conflict;
use crate::card::Card;
use crate::card::conflicts::find_conflicts;
use crate::card::doc::{create_card, force_path, read_card, write_card};
use crate::error::{Error, Result};
use crate::history::{self, FieldChange, HistoryEntry};
use crate::ids::{CardId, RepId};
use crate::query::{CardQuery, CardSummary, SortBy};
use crate::settings::Settings;
use crate::value::{Money, Scalar};

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

/// A card as shown to a person: its data, its open conflicts, its heads.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CardView {
    /// The card's current values (the conflict winners where there are conflicts).
    #[serde(flatten)]
    pub card: Card,
    /// Fields with concurrent values awaiting a person's decision.
    pub conflicts: Vec<Conflict>,
    /// The document heads (change hashes, hex): the card's version.
    pub heads: Vec<String>,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    /// Cards that were new to this device.
    pub cards_new: u32,
    /// Cards that gained changes.
    pub cards_updated: u32,
    /// Cards that were already up to date.
    pub cards_unchanged: u32,
    /// Changes added across all cards.
    pub changes_applied: u32,
    /// Cards with unresolved conflicts after the import.
    pub cards_conflicted: u32,
}

/// The cards of one device.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    cache: LruCache<CardId, Cached>,
    identity: Identity,
    settings: Settings,
}

/// What the index and the card view need from a document: the card as shown.
/// Pure CPU work on one document, so it can run on any thread.
pub(crate) fn index_input(doc: &Automerge) -> Result<CardView> {
    Ok(CardView {
        card: read_card(doc, None)?,
        conflicts: conflicts_of(doc),
        heads: doc.get_heads().iter().map(|h| h.to_string()).collect(),
    })
}

/// Open conflicts of a document. Conflicts need concurrent changes: a document whose
/// history is one line (one head, no change with two parents) has none, and saying
/// so from the change metadata is far cheaper than walking every field.
pub(crate) fn conflicts_of(doc: &Automerge) -> Vec<Conflict> {
    let linear =
        doc.get_heads().len() <= 1 && doc.get_changes_meta(&[]).iter().all(|m| m.deps.len() <= 1);
    if linear {
        Vec::new()
    } else {
        find_conflicts(doc)
    }
}

/// Number of open conflicts of a document.
pub(crate) fn count_conflicts(doc: &Automerge) -> usize {
    conflicts_of(doc).len()
}

/// Write a card's index rows and its view; returns its number of open conflicts.
pub(crate) fn write_index(
    tx: &Transaction<'_>,
    settings: &Settings,
    num: i64,
    view: &CardView,
) -> Result<usize> {
    index::write(
        tx,
        num,
        &view.card,
        view.conflicts.len(),
        index::today(),
        settings,
    )?;
    let json = serde_json::to_string(view).map_err(|e| Error::invalid("card", e.to_string()))?;
    tx.execute(
        "INSERT OR REPLACE INTO card_views (card_num, json) VALUES (?1, ?2)",
        params![num, json],
    )?;
    Ok(view.conflicts.len())
}

fn map_open_error(path: &Path, e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => Error::NotAStore(path.to_path_buf()),
        _ => Error::Sqlite(e),
    }
}

fn now() -> i64 {
    Utc::now().timestamp()
}

impl Store {
    /// Open (or create) the store at `path`.
    ///
    /// Refuses, with the store unchanged, a file that is not a Fieldbook store
    /// (`store.not_fieldbook`) or comes from a newer version (`store.newer_schema`).
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path).map_err(|e| map_open_error(&path, e))?;
        // journal_mode reads the header first: a non-SQLite file fails here.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| map_open_error(&path, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(mode, "store is not in WAL mode");
        }
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
        )
        .map_err(|e| map_open_error(&path, e))?;
        schema::migrate(&mut conn, &path).map_err(|e| match e {
            Error::Sqlite(inner) => map_open_error(&path, inner),
            other => other,
        })?;
        let identity = Self::load_identity(&conn)?;
        let settings = match Self::meta(&conn, "settings")? {
            Some(json) => serde_json::from_slice(&json).unwrap_or_default(),
            None => Settings::default(),
        };
        let capacity =
            NonZeroUsize::new(settings.cache_cards.max(1) as usize).unwrap_or(NonZeroUsize::MIN);
        let mut store = Store {
            conn,
            path,
            cache: LruCache::new(capacity),
            identity,
            settings,
        };
        // A migration that changed what the index holds asks for a rebuild.
        if Self::meta(&store.conn, "reindex")?.is_some() {
            store.rebuild_index()?;
            store
                .conn
                .execute("DELETE FROM meta WHERE key = 'reindex'", [])?;
            tracing::info!("index rebuilt after an upgrade");
        }
        Ok(store)
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

    /// The current settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Change the settings (persisted). Due dates follow the new visit cadence at once.
    pub fn set_settings(&mut self, settings: Settings) -> Result<()> {
        let json =
            serde_json::to_vec(&settings).map_err(|e| Error::invalid("settings", e.to_string()))?;
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        Self::set_meta(&tx, "settings", &json)?;
        index::recompute_due(&tx, &settings)?;
        tx.commit()?;
        if let Some(n) = NonZeroUsize::new(settings.cache_cards as usize) {
            self.cache.resize(n);
        }
        self.settings = settings;
        Ok(())
    }

    /// Load a card's document into the cache (or refresh a stale one).
    fn load<'c>(
        conn: &Connection,
        cache: &'c mut LruCache<CardId, Cached>,
        id: &CardId,
    ) -> Result<&'c mut Cached> {
        let row: Option<(i64, i64)> = conn
            .query_row(
                "SELECT num, version FROM cards WHERE id = ?1",
                [id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
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

    fn identity_for_writing(&self) -> Result<(ActorId, RepId)> {
        let rep = self.identity.rep.clone().ok_or(Error::NotInitialised)?;
        Ok((self.identity.actor.clone(), rep))
    }

    /// Make the document write as this device and rep.
    fn act_as(doc: &mut Automerge, actor: &ActorId, rep: &RepId) {
        // set_author mints a fresh actor; set the device's own actor afterwards so
        // every change of this installation carries the one persisted actor id.
        doc.set_author(Some(rep.author()));
        doc.set_actor(actor.clone());
    }

    fn commit_options(touched: &[String]) -> CommitOptions {
        let summary = if touched.len() > 8 {
            format!("{} … ({} fields)", touched[..8].join(", "), touched.len())
        } else {
            touched.join(", ")
        };
        CommitOptions::default()
            .with_time(now())
            .with_message(summary)
    }

    /// Persist the changes made to `cached.doc` since `heads_before`, and its index
    /// rows. Changes of [`Origin::Local`] also go to the sync outbox; returns the
    /// card's number of open conflicts.
    fn persist(
        tx: &Transaction<'_>,
        settings: &Settings,
        cached: &mut Cached,
        heads_before: &[ChangeHash],
        origin: Origin,
        edited: Option<Card>,
    ) -> Result<usize> {
        let chunk = cached.doc.save_after(heads_before);
        let chunk_count: i64 = tx.query_row(
            "SELECT chunk_count FROM cards WHERE num = ?1",
            [cached.num],
            |r| r.get(0),
        )?;
        if chunk_count + 1 >= i64::from(settings.compact_after_chunks.max(1)) {
            tx.execute("DELETE FROM card_chunks WHERE card_num = ?1", [cached.num])?;
            tx.execute(
                "UPDATE cards SET snapshot = ?2, chunk_count = 0, version = version + 1, updated_at = ?3 WHERE num = ?1",
                params![cached.num, cached.doc.save(), now()],
            )?;
        } else {
            tx.execute(
                "INSERT INTO card_chunks (card_num, seq, data) VALUES (?1, ?2, ?3)",
                params![cached.num, chunk_count, &chunk],
            )?;
            tx.execute(
                "UPDATE cards SET chunk_count = chunk_count + 1, version = version + 1, updated_at = ?2 WHERE num = ?1",
                params![cached.num, now()],
            )?;
        }
        cached.version = tx.query_row(
            "SELECT version FROM cards WHERE num = ?1",
            [cached.num],
            |r| r.get(0),
        )?;
        if origin == Origin::Local {
            Self::to_outbox(tx, cached.num, &chunk, &cached.doc.get_heads())?;
        }
        match edited {
            // The card an edit just wrote is what reading the document back would give.
            Some(mut card) => {
                crate::card::doc::canonical_order(&mut card);
                let view = CardView {
                    card,
                    conflicts: conflicts_of(&cached.doc),
                    heads: cached
                        .doc
                        .get_heads()
                        .iter()
                        .map(|h| h.to_string())
                        .collect(),
                };
                write_index(tx, settings, cached.num, &view)
            }
            None => Self::reindex(tx, settings, cached),
        }
    }

    /// Queue changes for the server and mark the card dirty.
    fn to_outbox(tx: &Transaction<'_>, num: i64, data: &[u8], heads: &[ChangeHash]) -> Result<()> {
        let heads: Vec<u8> = heads.iter().flat_map(|h| h.0).collect();
        tx.execute(
            "INSERT INTO sync_outbox (card_num, seq, data, heads)
             VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM sync_outbox WHERE card_num = ?1), ?2, ?3)",
            params![num, data, heads],
        )?;
        Self::mark_dirty(tx, num)
    }

    /// Note that a card has changes the server has not acknowledged.
    fn mark_dirty(tx: &Transaction<'_>, num: i64) -> Result<()> {
        tx.execute(
            "INSERT INTO sync_cards (card_num, dirty) VALUES (?1, 1) ON CONFLICT (card_num) DO UPDATE SET dirty = 1",
            [num],
        )?;
        Ok(())
    }

    /// Rewrite a card's index rows; returns its number of open conflicts.
    fn reindex(tx: &Transaction<'_>, settings: &Settings, cached: &Cached) -> Result<usize> {
        write_index(tx, settings, cached.num, &index_input(&cached.doc)?)
    }

    /// Create a card. The closure fills it in; the card is stored as one change.
    pub fn create(&mut self, fill: impl FnOnce(&mut Card) -> Result<()>) -> Result<CardId> {
        let mut card = Card::new();
        fill(&mut card)?;
        self.insert_new(card)
    }

    /// Store a card built elsewhere (an import, the demo seeder) as a new card.
    pub fn insert_new(&mut self, card: Card) -> Result<CardId> {
        let (actor, rep) = self.identity_for_writing()?;
        let id = card.id.clone();
        let mut doc = Automerge::new();
        Self::act_as(&mut doc, &actor, &rep);
        doc.transact_with(
            |touched: &Vec<String>| Self::commit_options(touched),
            |tx| create_card(tx, &card),
        )
        .map_err(|f| f.error)?;
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let exists: bool = tx.query_row(
            "SELECT count(*) FROM cards WHERE id = ?1",
            [id.as_str()],
            |r| r.get::<_, i64>(0),
        )? > 0;
        if exists {
            return Err(Error::invalid("id", format!("card {id} already exists")));
        }
        let snapshot = doc.save();
        tx.execute(
            "INSERT INTO cards (id, snapshot, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
            params![id.as_str(), &snapshot, now()],
        )?;
        let num = tx.last_insert_rowid();
        let cached = Cached {
            doc,
            num,
            version: 0,
        };
        Self::to_outbox(&tx, num, &snapshot, &cached.doc.get_heads())?;
        Self::reindex(&tx, &self.settings, &cached)?;
        tx.commit()?;
        self.cache.put(id.clone(), cached);
        Ok(id)
    }

    /// Edit a card: the closure gets the current card and changes what the rep
    /// changed; only those fields are written, as one change authored by this
    /// device's rep. Returns the paths written (empty: nothing changed, nothing stored).
    /// Durable when it returns.
    pub fn update(
        &mut self,
        id: &CardId,
        edit: impl FnOnce(&mut Card) -> Result<()>,
    ) -> Result<Vec<String>> {
        let result = self.update_inner(id, edit);
        if result.is_err() {
            // The document in memory may be ahead of the disk: forget it.
            self.cache.pop(id);
        }
        result
    }

    fn update_inner(
        &mut self,
        id: &CardId,
        edit: impl FnOnce(&mut Card) -> Result<()>,
    ) -> Result<Vec<String>> {
        let (actor, rep) = self.identity_for_writing()?;
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let touched = {
            let cached = Self::load(&tx, &mut self.cache, id)?;
            let old = read_card(&cached.doc, None)?;
            let mut new = old.clone();
            edit(&mut new)?;
            new.id = old.id.clone();
            let heads = cached.doc.get_heads();
            Self::act_as(&mut cached.doc, &actor, &rep);
            let touched = cached
                .doc
                .transact_with(
                    |t: &Vec<String>| Self::commit_options(t),
                    |t| write_card(t, &old, &new),
                )
                .map_err(|f| f.error)?
                .result;
            if !touched.is_empty() {
                Self::persist(
                    &tx,
                    &self.settings,
                    cached,
                    &heads,
                    Origin::Local,
                    Some(new),
                )?;
            }
            touched
        };
        tx.commit()?;
        Ok(touched)
    }

    /// Resolve a conflict: write `input` to `path`, superseding every concurrent
    /// value (even if it equals the one currently shown).
    pub fn resolve(&mut self, id: &CardId, path: &str, input: &str) -> Result<()> {
        if !self.conflicts(id)?.iter().any(|c| c.path == path) {
            return Err(Error::NoConflict(path.to_string()));
        }
        let result = (|| {
            let (actor, rep) = self.identity_for_writing()?;
            let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
            {
                let cached = Self::load(&tx, &mut self.cache, id)?;
                let card = read_card(&cached.doc, None)?;
                let heads = cached.doc.get_heads();
                Self::act_as(&mut cached.doc, &actor, &rep);
                let message = format!("resolve {path}");
                cached
                    .doc
                    .transact_with(
                        |_: &()| {
                            CommitOptions::default()
                                .with_time(now())
                                .with_message(message)
                        },
                        |t| force_path(t, &card, path, input),
                    )
                    .map_err(|f| f.error)?;
                Self::persist(&tx, &self.settings, cached, &heads, Origin::Local, None)?;
            }
            tx.commit()?;
            Ok(())
        })();
        if result.is_err() {
            self.cache.pop(id);
        }
        result
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
    pub fn history(&mut self, id: &CardId) -> Result<Vec<HistoryEntry>> {
        self.with_doc(id, |doc| Ok(history::history(doc)))
    }

    /// The changes that touched one field, with the value each left.
    pub fn field_history(&mut self, id: &CardId, path: &str) -> Result<Vec<FieldChange>> {
        if crate::card::kind_of(path).is_none()
            && !matches!(
                path.split('.').next(),
                Some("contacts" | "visits" | "todos" | "opportunities" | "sales" | "tags")
            )
        {
            return Err(Error::UnknownField(path.to_string()));
        }
        self.with_doc(id, |doc| history::field_history(doc, path))
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

    /// Full-text search, first page sorted by name.
    pub fn search(&self, text: &str, limit: u32) -> Result<Vec<CardSummary>> {
        self.list(&CardQuery {
            text: Some(text.to_string()),
            limit,
            ..Default::default()
        })
    }

    /// List cards matching a query, from the index.
    pub fn list(&self, q: &CardQuery) -> Result<Vec<CardSummary>> {
        // Everything comes from card_index (and the FTS tables): no document is loaded
        // and no other table is joined, so each sort can walk its own index.
        let mut args: Vec<SqlValue> = Vec::new();
        let mut sql = String::from(
            "SELECT i.card_id, i.name, i.territory, i.class, i.phone, i.city, i.route_area, \
             i.last_visit_at, i.due_on, i.credit_limit, i.conflicts, i.updated_at \
             FROM card_index i WHERE 1 = 1",
        );
        let mut arg = |sql: &mut String, clause: &str, value: SqlValue| {
            args.push(value);
            sql.push_str(&clause.replace('$', &format!("?{}", args.len())));
        };
        if let Some(t) = &q.territory {
            arg(&mut sql, " AND i.territory = $", SqlValue::Text(t.clone()));
        }
        if let Some(c) = q.class {
            arg(
                &mut sql,
                " AND i.class = $",
                SqlValue::Text(c.code().into()),
            );
        }
        if let Some(tag) = &q.tag {
            arg(
                &mut sql,
                " AND i.card_num IN (SELECT card_num FROM card_tags WHERE tag = $)",
                SqlValue::Text(tag.clone()),
            );
        }
        if let Some(d) = q.due_by {
            // Never visited (no due date) counts as due.
            arg(
                &mut sql,
                " AND (i.due_on IS NULL OR i.due_on <= $)",
                SqlValue::Text(d.display()),
            );
        }
        if q.conflicted {
            sql.push_str(" AND i.conflicts > 0");
        }
        for term in q.text.as_deref().unwrap_or_default().split_whitespace() {
            let term = text::normalize(term);
            if term.chars().count() >= 3 {
                arg(
                    &mut sql,
                    " AND i.card_num IN (SELECT rowid FROM card_fts WHERE card_fts MATCH $)",
                    SqlValue::Text(text::fts_literal(&term)),
                );
            } else {
                let grams = text::grams(&term);
                if grams.is_empty() {
                    continue;
                }
                let tokens: Vec<String> = grams
                    .split(' ')
                    .map(|g| {
                        let lit = text::fts_literal(g);
                        // A short Latin/digit fragment matches words starting with it.
                        if g.chars().any(text::is_cjk) {
                            lit
                        } else {
                            format!("{lit}*")
                        }
                    })
                    .collect();
                arg(
                    &mut sql,
                    " AND i.card_num IN (SELECT rowid FROM card_grams WHERE card_grams MATCH $)",
                    SqlValue::Text(tokens.join(" AND ")),
                );
            }
        }
        // SQLite puts NULLs first ascending and last descending, which is what each
        // sort wants in its natural direction; no NULLS clause, so indexes apply.
        let (order, natural_desc) = match q.sort {
            SortBy::Name => ("i.sort_key", false),
            SortBy::Updated => ("i.updated_at", true),
            SortBy::LastVisit => ("i.last_visit_at", true),
            SortBy::NextDue => ("i.due_on", false),
            SortBy::CreditLimit => ("i.credit_limit", true),
            SortBy::Sales => ("i.sales_3m", true),
        };
        let dir = if natural_desc != q.reverse {
            "DESC"
        } else {
            "ASC"
        };
        sql.push_str(&format!(" ORDER BY {order} {dir}"));
        if q.sort != SortBy::Name {
            sql.push_str(&format!(", i.sort_key {dir}"));
        }
        // Ties (two shops of one chain share a name) break on the card id, which is
        // the same on every device, so every device lists cards in the same order.
        sql.push_str(&format!(", i.card_id {dir}"));
        let limit = if q.limit == 0 { 50 } else { q.limit };
        sql.push_str(&format!(" LIMIT {limit} OFFSET {}", q.offset));
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            let id: String = r.get(0)?;
            let id: CardId = id.parse().map_err(|e: Error| {
                rusqlite::Error::FromSqlConversionFailure(
                    0,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?;
            Ok(CardSummary {
                id,
                name: r.get(1)?,
                territory: r.get(2)?,
                class: r.get(3)?,
                phone: r.get(4)?,
                city: r.get(5)?,
                route_area: r.get(6)?,
                last_visit_at: r
                    .get::<_, Option<i64>>(7)?
                    .and_then(|t| DateTime::from_timestamp(t, 0)),
                next_due: r
                    .get::<_, Option<String>>(8)?
                    .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
                credit_limit: r
                    .get::<_, Option<i64>>(9)?
                    .and_then(|f| Money::from_fen(f).ok())
                    .map(|m| m.display()),
                conflicts: r.get::<_, i64>(10)?.max(0) as u32,
                updated_at: DateTime::from_timestamp(r.get(11)?, 0).unwrap_or_default(),
            })
        })?;
        let out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(out)
    }

    /// Write a bundle of the given cards (all cards when `None`) as compacted
    /// documents with their full history.
    pub fn export_bundle(&mut self, ids: Option<&[CardId]>) -> Result<Vec<u8>> {
        let ids = match ids {
            Some(ids) => ids.to_vec(),
            None => self.card_ids()?,
        };
        let mut entries = Vec::with_capacity(ids.len());
        for id in &ids {
            let data = self.with_doc(id, |doc| Ok(doc.save()))?;
            entries.push(BundleEntry {
                card_id: id.to_string(),
                data,
            });
        }
        Ok(bundle::encode(&entries))
    }

    /// Merge a bundle into the store, all or nothing: every entry is decoded and
    /// checked before anything is written, and all cards are written in one transaction.
    pub fn import_bundle(&mut self, bytes: &[u8]) -> Result<ImportReport> {
        // Bounded, loaded and validated before anything is written (see `bundle`).
        let incoming = bundle::load_entries(bundle::decode(bytes)?)?;
        let result = self.merge_documents(incoming);
        if result.is_err() {
            self.cache.clear();
        }
        result
    }

    /// Merge whole documents into the store in one transaction.
    fn merge_documents(
        &mut self,
        incoming: Vec<(CardId, Automerge, Vec<u8>)>,
    ) -> Result<ImportReport> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let mut report = ImportReport::default();
        let cache = &mut self.cache;
        {
            for (id, theirs, bytes) in incoming {
                let exists: Option<i64> = tx
                    .query_row("SELECT num FROM cards WHERE id = ?1", [id.as_str()], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if exists.is_none() {
                    let changes = theirs.get_changes_meta(&[]).len() as u32;
                    // The bundle holds a compacted document (verified by loading it): keep its bytes.
                    tx.execute(
                        "INSERT INTO cards (id, snapshot, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
                        params![id.as_str(), bytes, now()],
                    )?;
                    let cached = Cached {
                        doc: theirs,
                        num: tx.last_insert_rowid(),
                        version: 0,
                    };
                    Self::to_outbox(&tx, cached.num, &bytes, &cached.doc.get_heads())?;
                    let conflicts = Self::reindex(&tx, &self.settings, &cached)?;
                    report.cards_new += 1;
                    report.changes_applied += changes;
                    if conflicts > 0 {
                        report.cards_conflicted += 1;
                    }
                    cache.put(id, cached);
                    continue;
                }
                let cached = Self::load(&tx, cache, &id)?;
                let heads = cached.doc.get_heads();
                let added = cached.doc.get_changes_added(&theirs);
                if added.is_empty() {
                    report.cards_unchanged += 1;
                    continue;
                }
                report.cards_updated += 1;
                report.changes_applied += added.len() as u32;
                cached.doc.apply_changes(added)?;
                if Self::persist(&tx, &self.settings, cached, &heads, Origin::Local, None)? > 0 {
                    report.cards_conflicted += 1;
                }
            }
        }
        tx.commit()?;
        Ok(report)
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
