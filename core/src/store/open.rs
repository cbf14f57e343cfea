//! Opening a store: the connection's settings, encryption at rest, the one-writer lock,
//! the read connection, and moving a plain store to an encrypted one.
//!
//! - **Encryption** is SQLCipher (rusqlite's bundled SQLCipher): every page of the file
//!   and of its WAL is AES-256 encrypted with the app's key, so the file shows no SQLite
//!   header and no customer's name. The key is raw (32 bytes, from Android Keystore or
//!   the iOS Keychain), so opening costs no passphrase derivation.
//! - **One writer per store**: the writer takes an exclusive lock on `<file>-lock`, so a
//!   second process (or a second writer handle in this one) is refused with
//!   `store.locked` instead of racing the first one's document cache.
//! - **The read connection** ([`StoreReader`]) is a second, read-only connection: lists,
//!   search and card screens answer from it while the writer is busy (a sync applying a
//!   page), thanks to WAL.

use std::fs::{File, TryLockError};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use lru::LruCache;
use rusqlite::{Connection, OpenFlags};

use super::{Identity, Store, StoreSettings, schema};
use crate::card::Card;
use crate::error::{Error, Result};
use crate::history::{FieldChange, HistoryEntry};
use crate::ids::{CardId, RepId};
use crate::query::{CardQuery, CardSummary};
use crate::settings::Settings;
use crate::{CardView, Conflict};

/// A 256-bit SQLCipher key, used raw (no passphrase derivation). Its bytes are zeroed
/// when it is dropped and never shown by `Debug`.
#[derive(Clone)]
pub struct EncryptionKey([u8; 32]);

impl EncryptionKey {
    /// The key from exactly 32 bytes (`input.invalid_value` otherwise).
    pub fn from_bytes(bytes: &[u8]) -> Result<EncryptionKey> {
        let raw: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::invalid("key", "an encryption key is exactly 32 bytes"))?;
        Ok(EncryptionKey(raw))
    }

    /// SQLCipher's raw-key literal: `"x'<64 hex digits>'"`. Only hex digits are put in
    /// the SQL, so there is nothing to escape.
    fn literal(&self) -> String {
        let mut s = String::with_capacity(69);
        s.push_str("\"x'");
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s.push_str("'\"");
        s
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey(..)")
    }
}

impl Drop for EncryptionKey {
    fn drop(&mut self) {
        self.0.fill(0);
        // Keeps the zeroing from being optimised away as a dead store.
        std::hint::black_box(&self.0);
    }
}

/// How to open a store.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    key: Option<EncryptionKey>,
}

impl OpenOptions {
    /// A plain (unencrypted) store.
    pub fn new() -> OpenOptions {
        OpenOptions::default()
    }

    /// An encrypted store, with this key.
    pub fn key(mut self, key: EncryptionKey) -> OpenOptions {
        self.key = Some(key);
        self
    }

    /// Whether the store is opened encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.key.is_some()
    }
}

/// Whether SQLite reported "file is not a database".
fn not_a_database(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase)
}

/// "Not a database" is a wrong key when a key was given (an encrypted file without its
/// key, or a plain one with a key, both read as noise), and a foreign file otherwise.
pub(super) fn map_open_error(path: &Path, options: &OpenOptions, e: rusqlite::Error) -> Error {
    if not_a_database(&e) {
        if options.key.is_some() {
            Error::WrongKey
        } else {
            Error::NotAStore(path.to_path_buf())
        }
    } else {
        Error::from(e)
    }
}

/// Opens a connection with the key applied and checked, in WAL mode.
pub(super) fn connect(path: &Path, options: &OpenOptions, read_only: bool) -> Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn =
        Connection::open_with_flags(path, flags).map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::CannotOpen) if read_only => {
                Error::NotAStore(path.to_path_buf())
            }
            _ => map_open_error(path, options, e),
        })?;
    if let Some(key) = &options.key {
        // SQLCipher logs a failed page check to stderr by default; a wrong key is
        // reported as `store.wrong_key` instead. Then the key, before any other access.
        conn.execute_batch(&format!(
            "PRAGMA cipher_log_level = NONE; PRAGMA key = {};",
            key.literal()
        ))?;
        // A build without SQLCipher would accept `PRAGMA key` silently and write
        // plaintext: make sure the cipher is there.
        let version: Option<String> = conn
            .query_row("PRAGMA cipher_version", [], |r| r.get(0))
            .ok();
        if version.is_none_or(|v| v.is_empty()) {
            return Err(Error::invalid(
                "key",
                "this build cannot encrypt (SQLCipher is missing)",
            ));
        }
    }
    // The first read of the header: a foreign file or a wrong key fails here.
    let objects = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|e| map_open_error(path, options, e))?;
    if !read_only && objects == 0 {
        // A new file: its free pages (outbox rows the server acknowledged, replaced
        // rows) can then be given back to the phone's storage after a sync
        // (`store/pull.rs`). SQLite takes this only on an empty database, and before
        // WAL mode is set; older stores keep theirs.
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL")
            .map_err(|e| map_open_error(path, options, e))?;
    }
    if !read_only {
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| map_open_error(path, options, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(mode, "store is not in WAL mode");
        }
    }
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
    )
    .map_err(|e| map_open_error(path, options, e))?;
    if read_only {
        conn.execute_batch("PRAGMA query_only = ON;")?;
    }
    // Every write path runs its statements from the cache: re-parsing them was a sixth
    // of a pull's writing.
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

/// A file beside the store, named by a suffix: `cards.db` → `cards.db-lock`.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// The lock file beside the store: `cards.db` → `cards.db-lock`.
fn lock_path(path: &Path) -> PathBuf {
    sibling(path, "-lock")
}

/// Takes the store's writer lock, held until the returned file is dropped.
pub(super) fn lock_writer(path: &Path) -> Result<File> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(lock_path(path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(Error::Locked),
        Err(TryLockError::Error(e)) => Err(Error::Io(e)),
    }
}

impl Store {
    /// Open (or create) the store at `path` with `options` (e.g. encrypted).
    ///
    /// Refuses, with the store unchanged: a file that is not a Fieldbook store
    /// (`store.not_fieldbook`), one from a newer version (`store.newer_schema`), the
    /// wrong key for an encrypted store or a key for a plain one (`store.wrong_key`), and
    /// a store another process has open (`store.locked`).
    pub fn open_with(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let lock = lock_writer(&path)?;
        let mut conn = connect(&path, options, false)?;
        schema::migrate(&mut conn, &path).map_err(|e| match e {
            Error::Sqlite(inner) if not_a_database(inner.inner()) => match options.key {
                Some(_) => Error::WrongKey,
                None => Error::NotAStore(path.clone()),
            },
            other => other,
        })?;
        let identity = Self::load_identity(&conn)?;
        let settings = Self::load_settings(&conn)?;
        let mut store = Store {
            cache: LruCache::new(cache_size(&settings)),
            conn,
            path,
            identity,
            settings,
            _lock: Some(lock),
            lean: Default::default(),
        };
        store.rebuild_index_if_asked()?;
        Ok(store)
    }

    /// A migration, or company settings that changed which visits count, asked for the
    /// index to be rebuilt from the documents (`meta.reindex`): do it now. The flag is
    /// cleared only once the rebuild committed, so a crash mid-way rebuilds again.
    pub(super) fn rebuild_index_if_asked(&mut self) -> Result<()> {
        if Self::meta(&self.conn, "reindex")?.is_some() {
            self.rebuild_index()?;
            self.conn
                .execute("DELETE FROM meta WHERE key = 'reindex'", [])?;
            tracing::info!("index rebuilt");
        }
        Ok(())
    }

    pub(super) fn load_settings(conn: &Connection) -> Result<StoreSettings> {
        let local = match Self::meta(conn, "settings")? {
            Some(json) => serde_json::from_slice(&json).unwrap_or_default(),
            None => Settings::default(),
        };
        Ok(StoreSettings {
            local,
            company: Self::load_company_settings(conn)?,
        })
    }

    /// Move the plain store at `path` to an encrypted one with `key`, in place and
    /// without loss: the store is copied into an encrypted file beside it
    /// (`sqlcipher_export`), the copy is checked (same schema version, same cards,
    /// SQLite's integrity check), and only then renamed over the original. A crash at any
    /// point leaves either the plain store or the encrypted one. The store must not be
    /// open (`store.locked`).
    ///
    /// The old file's blocks are unlinked, not overwritten: flash storage gives no way to
    /// erase them for sure, which is why a new installation should start encrypted.
    pub fn encrypt_file(path: impl AsRef<Path>, key: &EncryptionKey) -> Result<()> {
        let path = path.as_ref();
        let _lock = lock_writer(path)?;
        let plain = OpenOptions::new();
        let conn = connect(path, &plain, false)?;
        let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version == 0 || version > schema::CURRENT_VERSION {
            return Err(Error::NotAStore(path.to_path_buf()));
        }
        let cards: i64 = conn.query_row("SELECT count(*) FROM cards", [], |r| r.get(0))?;
        // Everything in the main file, nothing left in the WAL.
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        let tmp = sibling(path, ".encrypting");
        let _ = std::fs::remove_file(&tmp);
        let tmp_str = tmp
            .to_str()
            .ok_or_else(|| Error::invalid("path", "the store's path is not valid UTF-8"))?;
        // The raw-key literal without its outer quotes is the key's string value.
        let literal = key.literal();
        let key_value = &literal[1..literal.len() - 1];
        conn.execute(
            "ATTACH DATABASE ?1 AS encrypted KEY ?2",
            rusqlite::params![tmp_str, key_value],
        )?;
        conn.execute_batch(&format!(
            "SELECT sqlcipher_export('encrypted'); \
             PRAGMA encrypted.user_version = {version}; DETACH DATABASE encrypted;"
        ))?;
        drop(conn);
        let check = connect(&tmp, &OpenOptions::new().key(key.clone()), false)?;
        let copied: i64 = check.query_row("SELECT count(*) FROM cards", [], |r| r.get(0))?;
        let integrity: String = check.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        let copied_version: u32 = check.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        check.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        drop(check);
        if copied != cards || integrity != "ok" || copied_version != version {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::invalid(
                "key",
                "the encrypted copy did not verify; the plain store is unchanged",
            ));
        }
        File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, path)?;
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(sibling(path, suffix));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // The rename is durable once the directory is.
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

fn cache_size(settings: &StoreSettings) -> NonZeroUsize {
    NonZeroUsize::new(settings.local.cache_cards.max(1) as usize).unwrap_or(NonZeroUsize::MIN)
}

/// The store's read connection: what screens show, answered while the writer is busy.
///
/// A second, read-only connection to a store a [`Store`] has open (or had: the store
/// must exist and be at this build's schema version). It sees every committed write of
/// the writer; it never writes, and it does not take the writer lock. It has its own
/// small document cache, checked against each card's stored version like the writer's.
pub struct StoreReader {
    pub(super) inner: Store,
}

impl StoreReader {
    /// Open the read connection to the store at `path` (with the same options as the
    /// writer, e.g. the key).
    pub fn open(path: impl AsRef<Path>, options: &OpenOptions) -> Result<StoreReader> {
        let path = path.as_ref().to_path_buf();
        let conn = connect(&path, options, true)?;
        let version: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| map_open_error(&path, options, e))?;
        if version > schema::CURRENT_VERSION {
            return Err(Error::NewerSchema {
                found: version,
                supported: schema::CURRENT_VERSION,
            });
        }
        if version < schema::CURRENT_VERSION {
            // Not created or not migrated yet: the writer opens first.
            return Err(Error::NotAStore(path));
        }
        let actor = Store::meta(&conn, "actor")?
            .map(automerge::ActorId::from)
            .ok_or_else(|| Error::NotAStore(path.clone()))?;
        let rep = Store::meta(&conn, "rep")?
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse().ok());
        let settings = Store::load_settings(&conn)?;
        let cache_cards = NonZeroUsize::new(16).unwrap_or(NonZeroUsize::MIN);
        Ok(StoreReader {
            inner: Store {
                cache: LruCache::new(cache_cards),
                conn,
                path,
                identity: Identity { actor, rep },
                settings,
                _lock: None,
                lean: Default::default(),
            },
        })
    }

    /// See [`Store::card`].
    pub fn card(&mut self, id: &CardId) -> Result<CardView> {
        self.inner.card(id)
    }

    /// See [`Store::conflicts`].
    pub fn conflicts(&mut self, id: &CardId) -> Result<Vec<Conflict>> {
        self.inner.conflicts(id)
    }

    /// See [`Store::history`].
    pub fn history(&mut self, id: &CardId) -> Result<Vec<HistoryEntry>> {
        self.inner.history(id)
    }

    /// See [`Store::field_history`].
    pub fn field_history(&mut self, id: &CardId, path: &str) -> Result<Vec<FieldChange>> {
        self.inner.field_history(id, path)
    }

    /// See [`Store::dossier`].
    pub fn dossier(&mut self, id: &CardId) -> Result<super::Dossier> {
        self.inner.dossier(id)
    }

    /// See [`Store::handed_away`].
    pub fn handed_away(&self) -> Result<Vec<super::HandedAway>> {
        self.inner.handed_away()
    }

    /// See [`Store::card_at_change`].
    pub fn card_at_change(&mut self, id: &CardId, hash: &str) -> Result<Card> {
        self.inner.card_at_change(id, hash)
    }

    /// See [`Store::card_at_time`].
    pub fn card_at_time(&mut self, id: &CardId, time: DateTime<Utc>) -> Result<Card> {
        self.inner.card_at_time(id, time)
    }

    /// See [`Store::list`].
    pub fn list(&self, q: &CardQuery) -> Result<Vec<CardSummary>> {
        self.inner.list(q)
    }

    /// See [`Store::search`].
    pub fn search(&self, text: &str, limit: u32) -> Result<Vec<CardSummary>> {
        self.inner.search(text, limit)
    }

    /// See [`Store::count`].
    pub fn count(&self) -> Result<u64> {
        self.inner.count()
    }

    /// See [`Store::pending_cards`].
    pub fn pending_cards(&self) -> Result<u64> {
        self.inner.pending_cards()
    }

    /// See [`Store::last_sync`].
    pub fn last_sync(&self) -> Result<Option<DateTime<Utc>>> {
        self.inner.last_sync()
    }

    /// See [`Store::role`].
    pub fn role(&self) -> Result<Option<String>> {
        self.inner.role()
    }

    /// See [`Store::enrolment`]'s server URL (the token stays with the writer).
    pub fn server_url(&self) -> Result<Option<String>> {
        Ok(self.inner.enrolment()?.map(|e| e.server_url))
    }

    /// See [`Store::quarantined`].
    pub fn quarantined(&self) -> Result<Vec<(String, String)>> {
        self.inner.quarantined()
    }

    /// See [`Store::territories`].
    pub fn territories(&self) -> Result<Vec<String>> {
        self.inner.territories()
    }

    /// The rep the store acted for when this reader was opened.
    pub fn rep(&self) -> Option<&RepId> {
        self.inner.rep()
    }
}
