//! The embedded default backend: one SQLite file (rusqlite, bundled), WAL mode.
//!
//! Exactly one writer connection behind a mutex (SQLite allows one writer anyway, and
//! serialising appends is what keeps positions visible in order); reads use a small pool
//! of read-only connections so syncs do not queue behind writes. Writes take a
//! `&Transaction`, reads a `&Connection`, so transaction boundaries are visible in types.
//! A sync writes its pushed cards a page per transaction (`commit_cards`), with cached
//! statements. `synchronous=NORMAL` in WAL mode: a committed transaction survives the
//! process being killed (SIGKILL); only an OS crash or power loss can lose the last ones.
//! The schema is versioned with `PRAGMA user_version`, one match arm per step.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params, params_from_iter};

use super::{
    CardCommit, CardSummary, CommitOutcome, Device, HeldChanges, NewDevice, NewEnrolment, Person,
    PersonKind, Role, ScopeEvent, ServerIdentity, Storage, StoredCard, Territory,
};
use crate::error::{Error, Result};

const SCHEMA_VERSION: i64 = 2;
const MAX_IDLE_READERS: usize = 8;

/// The SQLite backend.
pub struct SqliteStorage {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStorage {
    /// Opens (creating and migrating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteStorage> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        migrate(&mut conn)?;
        Ok(SqliteStorage {
            path: path.to_owned(),
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
        })
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self
            .writer
            .lock()
            .map_err(|_| Error::Internal("writer lock poisoned".into()))?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let pooled = self
            .readers
            .lock()
            .map_err(|_| Error::Internal("reader pool poisoned".into()))?
            .pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(10))?;
                c
            }
        };
        let out = f(&conn);
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < MAX_IDLE_READERS
        {
            pool.push(conn);
        }
        out
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(Error::Storage(format!(
            "database schema {version} is newer than this server ({SCHEMA_VERSION})"
        )));
    }
    let tx = conn.transaction()?;
    for step in version + 1..=SCHEMA_VERSION {
        match step {
            1 => {
                tx.execute_batch(SCHEMA_V1)?;
                let key: [u8; 32] = rand::random();
                tx.execute(
                    "INSERT INTO meta (id, server_id, cursor_key, head) VALUES (1, ?1, ?2, 0)",
                    params![uuid::Uuid::new_v4().to_string(), key.to_vec()],
                )?;
            }
            2 => tx.execute_batch(SCHEMA_V2)?,
            _ => return Err(Error::Storage(format!("no migration to schema {step}"))),
        }
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

const SCHEMA_V1: &str = r#"
CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    server_id TEXT NOT NULL,
    cursor_key BLOB NOT NULL,
    head INTEGER NOT NULL              -- highest position handed out (log and scope events)
);
CREATE TABLE people (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('rep', 'manager'))
);
CREATE TABLE territories (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    owner TEXT REFERENCES people(id),
    manager TEXT REFERENCES people(id)
);
CREATE INDEX territories_owner ON territories(owner);
CREATE INDEX territories_manager ON territories(manager);
CREATE TABLE scope_events (
    position INTEGER PRIMARY KEY,
    territory_id TEXT NOT NULL REFERENCES territories(id),
    person_id TEXT NOT NULL REFERENCES people(id),
    gained INTEGER NOT NULL
);
CREATE INDEX scope_events_person ON scope_events(person_id, position);
CREATE TABLE enrolments (
    token_hash TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id),
    role TEXT NOT NULL,
    device_name TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    person_id TEXT NOT NULL REFERENCES people(id),
    role TEXT NOT NULL,
    actor BLOB NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,
    revoked INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    last_sync_at INTEGER
);
CREATE TABLE change_log (
    position INTEGER PRIMARY KEY,
    card_id TEXT NOT NULL,
    hash BLOB NOT NULL UNIQUE,
    bytes BLOB NOT NULL,
    device_id TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX change_log_card ON change_log(card_id, position);
CREATE TABLE cards (
    card_id TEXT PRIMARY KEY,
    territory TEXT NOT NULL,
    doc BLOB NOT NULL,
    first_position INTEGER NOT NULL,
    last_position INTEGER NOT NULL,
    heads BLOB NOT NULL                -- concatenated 32-byte change hashes
);
CREATE INDEX cards_territory ON cards(territory, last_position);
CREATE TABLE projections (
    card_id TEXT PRIMARY KEY REFERENCES cards(card_id),
    territory TEXT NOT NULL,
    fields TEXT NOT NULL               -- JSON of the card's current values
);
CREATE TABLE fallback_states (
    device_id TEXT NOT NULL,
    card_id TEXT NOT NULL,
    state BLOB NOT NULL,
    PRIMARY KEY (device_id, card_id)
);
"#;

/// Handoff grace period: when scope was lost, late-edit marks, held changes.
const SCHEMA_V2: &str = r#"
ALTER TABLE scope_events ADD COLUMN at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE change_log ADD COLUMN late INTEGER NOT NULL DEFAULT 0;
CREATE TABLE held_changes (
    id INTEGER PRIMARY KEY,
    card_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    bytes BLOB NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX held_changes_card ON held_changes(card_id, id);
"#;

fn pos(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn sql_pos(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn next_position(tx: &Transaction<'_>) -> Result<u64> {
    let head: i64 = tx
        .prepare_cached("SELECT head FROM meta WHERE id = 1")?
        .query_row([], |r| r.get(0))?;
    let next = head + 1;
    tx.prepare_cached("UPDATE meta SET head = ?1 WHERE id = 1")?
        .execute([next])?;
    Ok(pos(next))
}

/// One card's write inside a transaction: the optimistic check first (nothing written on
/// [`Error::Conflict`]), then the new log entries, the document and the projection.
fn commit_one(tx: &Transaction<'_>, commit: &CardCommit) -> Result<CommitOutcome> {
    let current: Option<(i64, i64)> = tx
        .query_row(
            "SELECT first_position, last_position FROM cards WHERE card_id = ?1",
            [&commit.card_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let current_last = current.map(|(_, l)| pos(l));
    if current_last != commit.expected_last_position {
        return Err(Error::Conflict);
    }
    let mut appended = 0;
    let mut first = current.map(|(f, _)| pos(f));
    let mut last = current_last;
    {
        let mut exists =
            tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM change_log WHERE hash = ?1)")?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO change_log \
             (position, card_id, hash, bytes, device_id, received_at, late) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for change in &commit.changes {
            let known: bool = exists.query_row([&change.hash[..]], |r| r.get(0))?;
            if known {
                continue;
            }
            let p = next_position(tx)?;
            insert.execute(params![
                sql_pos(p),
                commit.card_id,
                &change.hash[..],
                change.bytes,
                commit.device_id,
                commit.received_at,
                commit.late
            ])?;
            appended += 1;
            first.get_or_insert(p);
            last = Some(p);
        }
    }
    let (Some(first), Some(last)) = (first, last) else {
        // A new card with no change: nothing to store.
        return Ok(CommitOutcome {
            appended: 0,
            last_position: 0,
        });
    };
    tx.prepare_cached(
        "INSERT INTO cards (card_id, territory, doc, first_position, last_position, heads) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (card_id) DO UPDATE SET territory = excluded.territory, \
         doc = excluded.doc, last_position = excluded.last_position, \
         heads = excluded.heads",
    )?
    .execute(params![
        commit.card_id,
        commit.territory,
        commit.doc,
        sql_pos(first),
        sql_pos(last),
        join_heads(&commit.heads)
    ])?;
    tx.prepare_cached(
        "INSERT INTO projections (card_id, territory, fields) VALUES (?1, ?2, ?3) \
         ON CONFLICT (card_id) DO UPDATE SET territory = excluded.territory, \
         fields = excluded.fields",
    )?
    .execute(params![commit.card_id, commit.territory, commit.projection])?;
    Ok(CommitOutcome {
        appended,
        last_position: last,
    })
}

fn scope_event(
    tx: &Transaction<'_>,
    territory: &str,
    person: &str,
    gained: bool,
    at: i64,
) -> Result<u64> {
    let p = next_position(tx)?;
    tx.execute(
        "INSERT INTO scope_events (position, territory_id, person_id, gained, at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![sql_pos(p), territory, person, gained, at],
    )?;
    Ok(p)
}

const DEVICE_COLUMNS: &str =
    "id, name, person_id, role, actor, revoked, expires_at, created_at, last_sync_at";

fn device_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Device, String)> {
    let role: String = r.get(3)?;
    Ok((
        Device {
            id: r.get(0)?,
            name: r.get(1)?,
            person_id: r.get(2)?,
            role: Role::Rep,
            actor: r.get(4)?,
            revoked: r.get(5)?,
            expires_at: r.get(6)?,
            created_at: r.get(7)?,
            last_sync_at: r.get(8)?,
        },
        role,
    ))
}

fn finish_device((mut d, role): (Device, String)) -> Result<Device> {
    d.role = Role::parse(&role).map_err(|_| Error::Storage(format!("bad role {role:?}")))?;
    Ok(d)
}

fn territory_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Territory> {
    Ok(Territory {
        id: r.get(0)?,
        name: r.get(1)?,
        owner: r.get(2)?,
        manager: r.get(3)?,
    })
}

fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CardSummary> {
    Ok(CardSummary {
        card_id: r.get(0)?,
        territory: r.get(1)?,
        first_position: pos(r.get(2)?),
        last_position: pos(r.get(3)?),
        heads: split_heads(&r.get::<_, Vec<u8>>(4)?),
    })
}

fn split_heads(bytes: &[u8]) -> Vec<[u8; 32]> {
    bytes
        .chunks_exact(32)
        .filter_map(|c| <[u8; 32]>::try_from(c).ok())
        .collect()
}

fn join_heads(heads: &[[u8; 32]]) -> Vec<u8> {
    heads.concat()
}

fn placeholders(n: usize, first: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(",")
}

impl Storage for SqliteStorage {
    fn identity(&self) -> Result<ServerIdentity> {
        self.read(|c| {
            let (server_id, key): (String, Vec<u8>) = c.query_row(
                "SELECT server_id, cursor_key FROM meta WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let cursor_key = key
                .try_into()
                .map_err(|_| Error::Storage("cursor key has the wrong length".into()))?;
            Ok(ServerIdentity {
                server_id,
                cursor_key,
            })
        })
    }

    fn add_person(&self, person: &Person) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute(
                "INSERT OR IGNORE INTO people (id, name, kind) VALUES (?1, ?2, ?3)",
                params![person.id, person.name, person.kind.as_str()],
            )?;
            if n == 0 {
                return Err(Error::AlreadyExists("person"));
            }
            Ok(())
        })
    }

    fn person(&self, id: &str) -> Result<Option<Person>> {
        self.read(|c| {
            let row: Option<(String, String, String)> = c
                .query_row(
                    "SELECT id, name, kind FROM people WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            row.map(|(id, name, kind)| {
                Ok(Person {
                    id,
                    name,
                    kind: PersonKind::parse(&kind)?,
                })
            })
            .transpose()
        })
    }

    fn people(&self) -> Result<Vec<Person>> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT id, name, kind FROM people ORDER BY id")?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(id, name, kind)| {
                    Ok(Person {
                        id,
                        name,
                        kind: PersonKind::parse(&kind)?,
                    })
                })
                .collect()
        })
    }

    fn add_territory(&self, id: &str, name: &str, manager: Option<&str>) -> Result<()> {
        self.write(|tx| {
            if let Some(m) = manager {
                let kind: Option<String> = tx
                    .query_row("SELECT kind FROM people WHERE id = ?1", [m], |r| r.get(0))
                    .optional()?;
                match kind.as_deref() {
                    Some("manager") => {}
                    Some(_) => return Err(Error::Invalid("that person is not a manager".into())),
                    None => return Err(Error::NotFound("manager")),
                }
            }
            let n = tx.execute(
                "INSERT OR IGNORE INTO territories (id, name, owner, manager) VALUES (?1, ?2, NULL, ?3)",
                params![id, name, manager],
            )?;
            if n == 0 {
                return Err(Error::AlreadyExists("territory"));
            }
            if let Some(m) = manager {
                scope_event(tx, id, m, true, 0)?;
            }
            Ok(())
        })
    }

    fn assign_territory(&self, territory_id: &str, rep_id: &str, now: i64) -> Result<u64> {
        self.write(|tx| {
            let kind: Option<String> = tx
                .query_row("SELECT kind FROM people WHERE id = ?1", [rep_id], |r| {
                    r.get(0)
                })
                .optional()?;
            match kind.as_deref() {
                Some("rep") => {}
                Some(_) => return Err(Error::Invalid("that person is not a rep".into())),
                None => return Err(Error::NotFound("rep")),
            }
            let owner: Option<Option<String>> = tx
                .query_row(
                    "SELECT owner FROM territories WHERE id = ?1",
                    [territory_id],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(owner) = owner else {
                return Err(Error::NotFound("territory"));
            };
            if owner.as_deref() == Some(rep_id) {
                let head: i64 = tx.query_row("SELECT head FROM meta", [], |r| r.get(0))?;
                return Ok(pos(head));
            }
            if let Some(old) = owner {
                scope_event(tx, territory_id, &old, false, now)?;
            }
            tx.execute(
                "UPDATE territories SET owner = ?1 WHERE id = ?2",
                params![rep_id, territory_id],
            )?;
            scope_event(tx, territory_id, rep_id, true, now)
        })
    }

    fn territory_lost_at(&self, person_id: &str, territory_id: &str) -> Result<Option<i64>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT at FROM scope_events WHERE person_id = ?1 AND territory_id = ?2 \
                 AND gained = 0 ORDER BY position DESC LIMIT 1",
                [person_id, territory_id],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    fn territory(&self, id: &str) -> Result<Option<Territory>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT id, name, owner, manager FROM territories WHERE id = ?1",
                [id],
                territory_row,
            )
            .optional()?)
        })
    }

    fn territories(&self) -> Result<Vec<Territory>> {
        self.read(|c| {
            let mut stmt =
                c.prepare("SELECT id, name, owner, manager FROM territories ORDER BY id")?;
            let rows = stmt
                .query_map([], territory_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn territories_of(&self, person_id: &str, role: Role) -> Result<Vec<String>> {
        let sql = match role {
            Role::Rep => "SELECT id FROM territories WHERE owner = ?1 ORDER BY id",
            Role::Manager => "SELECT id FROM territories WHERE manager = ?1 ORDER BY id",
            Role::Admin => return Ok(Vec::new()),
        };
        self.read(|c| {
            let mut stmt = c.prepare(sql)?;
            let rows = stmt
                .query_map([person_id], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(rows)
        })
    }

    fn scope_events_after(&self, person_id: &str, after: u64) -> Result<Vec<ScopeEvent>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT position, territory_id, person_id, gained FROM scope_events \
                 WHERE person_id = ?1 AND position > ?2 ORDER BY position",
            )?;
            let rows = stmt
                .query_map(params![person_id, sql_pos(after)], |r| {
                    Ok(ScopeEvent {
                        position: pos(r.get(0)?),
                        territory_id: r.get(1)?,
                        person_id: r.get(2)?,
                        gained: r.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn create_enrolment(&self, e: &NewEnrolment) -> Result<()> {
        self.write(|tx| {
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM people WHERE id = ?1)",
                [&e.person_id],
                |r| r.get(0),
            )?;
            if !exists {
                return Err(Error::NotFound("person"));
            }
            tx.execute(
                "INSERT INTO enrolments (token_hash, person_id, role, device_name, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    e.token_hash,
                    e.person_id,
                    e.role.as_str(),
                    e.device_name,
                    e.expires_at
                ],
            )?;
            Ok(())
        })
    }

    fn redeem_enrolment(&self, token_hash: &str, d: &NewDevice) -> Result<Device> {
        self.write(|tx| {
            let row: Option<(String, String, String, i64, bool)> = tx
                .query_row(
                    "SELECT person_id, role, device_name, expires_at, used FROM enrolments \
                     WHERE token_hash = ?1",
                    [token_hash],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?;
            let Some((person_id, role, name, expires_at, used)) = row else {
                return Err(Error::BadEnrolment);
            };
            if used || expires_at < d.now {
                return Err(Error::BadEnrolment);
            }
            let actor_taken: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM devices WHERE actor = ?1)",
                [&d.actor],
                |r| r.get(0),
            )?;
            if actor_taken {
                return Err(Error::Invalid(
                    "this actor id is already bound to another device".into(),
                ));
            }
            tx.execute(
                "UPDATE enrolments SET used = 1 WHERE token_hash = ?1",
                [token_hash],
            )?;
            tx.execute(
                "INSERT INTO devices (id, name, person_id, role, actor, token_hash, expires_at, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![d.id, name, person_id, role, d.actor, d.token_hash, d.expires_at, d.now],
            )?;
            Ok(Device {
                id: d.id.clone(),
                name,
                person_id,
                role: Role::parse(&role)?,
                actor: d.actor.clone(),
                revoked: false,
                expires_at: d.expires_at,
                created_at: d.now,
                last_sync_at: None,
            })
        })
    }

    fn device_by_token_hash(&self, token_hash: &str) -> Result<Option<Device>> {
        self.read(|c| {
            c.query_row(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE token_hash = ?1"),
                [token_hash],
                device_row,
            )
            .optional()?
            .map(finish_device)
            .transpose()
        })
    }

    fn device(&self, id: &str) -> Result<Option<Device>> {
        self.read(|c| {
            c.query_row(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ?1"),
                [id],
                device_row,
            )
            .optional()?
            .map(finish_device)
            .transpose()
        })
    }

    fn devices(&self) -> Result<Vec<Device>> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {DEVICE_COLUMNS} FROM devices ORDER BY created_at, id"
            ))?;
            let rows = stmt
                .query_map([], device_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(finish_device).collect()
        })
    }

    fn revoke_device(&self, id: &str) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute("UPDATE devices SET revoked = 1 WHERE id = ?1", [id])?;
            if n == 0 {
                return Err(Error::NotFound("device"));
            }
            Ok(())
        })
    }

    fn record_sync(&self, device_id: &str, now: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE devices SET last_sync_at = ?1 WHERE id = ?2",
                params![now, device_id],
            )?;
            Ok(())
        })
    }

    fn head_position(&self) -> Result<u64> {
        self.read(|c| {
            let head: i64 = c.query_row("SELECT head FROM meta WHERE id = 1", [], |r| r.get(0))?;
            Ok(pos(head))
        })
    }

    fn log_len(&self) -> Result<u64> {
        self.read(|c| {
            let n: i64 = c.query_row("SELECT count(*) FROM change_log", [], |r| r.get(0))?;
            Ok(pos(n))
        })
    }

    fn card(&self, card_id: &str) -> Result<Option<StoredCard>> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT card_id, territory, doc, first_position, last_position, heads FROM cards \
                 WHERE card_id = ?1",
            )?
            .query_row([card_id], |r| {
                Ok(StoredCard {
                    card_id: r.get(0)?,
                    territory: r.get(1)?,
                    doc: r.get(2)?,
                    first_position: pos(r.get(3)?),
                    last_position: pos(r.get(4)?),
                    heads: split_heads(&r.get::<_, Vec<u8>>(5)?),
                })
            })
            .optional()?)
        })
    }

    fn commit_card(&self, commit: &CardCommit) -> Result<CommitOutcome> {
        self.write(|tx| commit_one(tx, commit))
    }

    fn commit_cards(&self, commits: &[CardCommit]) -> Result<Vec<Result<CommitOutcome>>> {
        self.write(|tx| {
            commits
                .iter()
                .map(|commit| match commit_one(tx, commit) {
                    // commit_one checks before writing anything, so a stale card left no
                    // trace in the transaction.
                    Err(Error::Conflict) => Ok(Err(Error::Conflict)),
                    other => other.map(Ok),
                })
                .collect()
        })
    }

    fn cards_changed_by_others(
        &self,
        territories: &[String],
        after: u64,
        upto: u64,
        exclude_device: &str,
    ) -> Result<Vec<CardSummary>> {
        if territories.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT c.card_id, c.territory, c.first_position, c.last_position, c.heads FROM cards c \
             WHERE c.territory IN ({}) AND c.last_position > ?1 AND EXISTS ( \
               SELECT 1 FROM change_log l WHERE l.card_id = c.card_id AND l.position > ?1 \
               AND l.position <= ?2 AND l.device_id <> ?3) \
             ORDER BY c.last_position, c.card_id",
            placeholders(territories.len(), 4)
        );
        self.read(|c| {
            let mut stmt = c.prepare(&sql)?;
            let mut params: Vec<rusqlite::types::Value> = vec![
                rusqlite::types::Value::Integer(sql_pos(after)),
                rusqlite::types::Value::Integer(sql_pos(upto)),
                rusqlite::types::Value::Text(exclude_device.to_owned()),
            ];
            params.extend(
                territories
                    .iter()
                    .map(|t| rusqlite::types::Value::Text(t.clone())),
            );
            let rows = stmt
                .query_map(params_from_iter(params), summary_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn cards_in_territories(&self, territories: &[String]) -> Result<Vec<CardSummary>> {
        if territories.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT card_id, territory, first_position, last_position, heads FROM cards \
             WHERE territory IN ({}) ORDER BY last_position, card_id",
            placeholders(territories.len(), 1)
        );
        self.read(|c| {
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt
                .query_map(params_from_iter(territories.iter()), summary_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn changes_by_others(
        &self,
        card_id: &str,
        after: u64,
        upto: u64,
        exclude_device: &str,
    ) -> Result<Vec<Vec<u8>>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT bytes FROM change_log WHERE card_id = ?1 AND position > ?2 \
                 AND position <= ?3 AND device_id <> ?4 ORDER BY position",
            )?;
            let rows = stmt
                .query_map(
                    params![card_id, sql_pos(after), sql_pos(upto), exclude_device],
                    |r| r.get(0),
                )?
                .collect::<rusqlite::Result<Vec<Vec<u8>>>>()?;
            Ok(rows)
        })
    }

    fn projection(&self, card_id: &str) -> Result<Option<String>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT fields FROM projections WHERE card_id = ?1",
                [card_id],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    fn hold_changes(&self, held: &HeldChanges) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO held_changes (card_id, device_id, person_id, bytes, received_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    held.card_id,
                    held.device_id,
                    held.person_id,
                    held.bytes,
                    held.received_at
                ],
            )?;
            Ok(())
        })
    }

    fn held_changes(&self, card_id: &str) -> Result<Vec<HeldChanges>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT card_id, device_id, person_id, bytes, received_at FROM held_changes \
                 WHERE card_id = ?1 ORDER BY id",
            )?;
            let rows = stmt
                .query_map([card_id], |r| {
                    Ok(HeldChanges {
                        card_id: r.get(0)?,
                        device_id: r.get(1)?,
                        person_id: r.get(2)?,
                        bytes: r.get(3)?,
                        received_at: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn fallback_state(&self, device_id: &str, card_id: &str) -> Result<Option<Vec<u8>>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT state FROM fallback_states WHERE device_id = ?1 AND card_id = ?2",
                [device_id, card_id],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    fn save_fallback_state(&self, device_id: &str, card_id: &str, state: &[u8]) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO fallback_states (device_id, card_id, state) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (device_id, card_id) DO UPDATE SET state = excluded.state",
                params![device_id, card_id, state],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(conn: &Connection) -> Vec<(String, String)> {
        let mut stmt = conn
            .prepare(
                "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name",
            )
            .expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<rusqlite::Result<Vec<_>>>()
            .expect("rows")
    }

    /// A schema-1 database (frozen here as it shipped) upgrades to the same schema as a
    /// fresh database, keeping its data.
    #[test]
    fn schema_1_upgrades_to_the_current_schema() {
        let dir = tempfile::tempdir().expect("temp dir");
        let old = dir.path().join("v1.db");
        {
            let conn = Connection::open(&old).expect("open");
            conn.execute_batch(SCHEMA_V1).expect("v1");
            conn.execute(
                "INSERT INTO meta (id, server_id, cursor_key, head) VALUES (1, 's', ?1, 0)",
                [vec![7u8; 32]],
            )
            .expect("meta");
            conn.execute(
                "INSERT INTO people (id, name, kind) VALUES ('a', 'A', 'rep')",
                [],
            )
            .expect("person");
            conn.pragma_update(None, "user_version", 1)
                .expect("version");
        }
        let upgraded = SqliteStorage::open(&old).expect("upgrade");
        assert!(upgraded.person("a").expect("person").is_some());
        assert_eq!(upgraded.identity().expect("identity").server_id, "s");
        let fresh = SqliteStorage::open(&dir.path().join("fresh.db")).expect("fresh");
        let a = schema(&upgraded.writer.lock().expect("lock"));
        let b = schema(&fresh.writer.lock().expect("lock"));
        let names = |s: &[(String, String)]| s.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&a), names(&b));
        // ALTER TABLE rewrites the stored SQL differently from CREATE TABLE; compare the
        // columns instead of the text.
        for (name, _) in &a {
            let cols = |s: &SqliteStorage| {
                let conn = s.writer.lock().expect("lock");
                let mut stmt = conn
                    .prepare(&format!(
                        "SELECT name, type, \"notnull\" FROM pragma_table_info('{name}')"
                    ))
                    .expect("prepare");
                stmt.query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .expect("query")
                .collect::<rusqlite::Result<Vec<_>>>()
                .expect("rows")
            };
            assert_eq!(cols(&upgraded), cols(&fresh), "table {name}");
        }
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("future.db");
        Connection::open(&path)
            .expect("open")
            .pragma_update(None, "user_version", 99)
            .expect("version");
        assert!(SqliteStorage::open(&path).is_err());
    }
}
