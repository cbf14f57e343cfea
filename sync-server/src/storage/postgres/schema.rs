//! The PostgreSQL schema: its versions, the migration from each to the next, and the `meta`
//! row (server identity, position head) created with it.
//!
//! Versions are rows of `schema_version`; every step's SQL stays here as it shipped. The
//! PostgreSQL history starts at the SQLite schema 10's shape (there are no older PostgreSQL
//! databases to upgrade), so step 1 is the whole of it. Several instances may start at once
//! against one database: the migration runs under a transaction-scoped advisory lock, and
//! the second instance finds the work done.
//!
//! Differences from the SQLite layout, each for a reason:
//! - flags are `BOOLEAN`, integers `BIGINT` (Rust `i64`), bytes `BYTEA`;
//! - every text column is `COLLATE "C"`: compared byte by byte as SQLite's `BINARY` and
//!   Rust's `str` are, whatever the database's locale, so ids page and names sort the same
//!   on both backends;
//! - row ids SQLite hands out implicitly (`held_changes.id`, `assignments.id`,
//!   `manager_cards.num`, …) are identity columns;
//! - the two FTS5 tables become one table of `pg_trgm`-indexed text (`manager_search`): a
//!   trigram GIN index answers the same substring terms FTS5's `trigram` tokenizer does,
//!   and the grams (unigrams and bigrams of the identifying fields) a `simple` text-search
//!   vector.

use super::{GenericClient, Transaction, pg};
use crate::error::{Error, Result};
use crate::storage::ServerIdentity;

pub(super) const SCHEMA_VERSION: i64 = 1;

/// Any number above the other advisory locks this database's users take: the key the
/// migrations of all instances serialise on.
const MIGRATION_LOCK: i64 = 0x6669_656c_6462_6f6f; // "fieldboo"

pub(super) async fn migrate(tx: &Transaction<'_>) -> Result<()> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(pg)?;
    let version: i64 = tx
        .query_one("SELECT COALESCE(max(version), 0) FROM schema_version", &[])
        .await
        .map_err(pg)?
        .get(0);
    if version > SCHEMA_VERSION {
        return Err(Error::Storage(format!(
            "database schema {version} is newer than this server ({SCHEMA_VERSION})"
        )));
    }
    for step in version + 1..=SCHEMA_VERSION {
        match step {
            1 => {
                tx.batch_execute(SCHEMA_V1).await.map_err(pg)?;
                let key: [u8; 32] = rand::random();
                tx.execute(
                    "INSERT INTO meta (id, server_id, cursor_key, head) VALUES (1, $1, $2, 0)",
                    &[&uuid::Uuid::new_v4().to_string(), &key.as_slice()],
                )
                .await
                .map_err(pg)?;
            }
            _ => return Err(Error::Storage(format!("no migration to schema {step}"))),
        }
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&step])
            .await
            .map_err(pg)?;
    }
    Ok(())
}

pub(super) async fn identity(c: &impl GenericClient) -> Result<ServerIdentity> {
    let row = c
        .query_one("SELECT server_id, cursor_key FROM meta WHERE id = 1", &[])
        .await
        .map_err(pg)?;
    let key: Vec<u8> = row.get(1);
    let cursor_key = key
        .try_into()
        .map_err(|_| Error::Storage("cursor key has the wrong length".into()))?;
    Ok(ServerIdentity {
        server_id: row.get(0),
        cursor_key,
    })
}

/// The whole schema, as of SQLite's schema 10 (see `sqlite/schema.rs` for why each table
/// and column exists; the comments here say only where PostgreSQL differs).
const SCHEMA_V1: &str = r#"
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE meta (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    server_id TEXT COLLATE "C" NOT NULL,
    cursor_key BYTEA NOT NULL,
    -- Highest position handed out (log, scope events, assignments). Taken with
    -- `UPDATE … RETURNING` inside the writing transaction: the row lock is held to
    -- commit, so positions are handed out in commit order and a cursor never passes a
    -- position that commits later (see `cards::next_positions`).
    head BIGINT NOT NULL
);
CREATE TABLE people (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL CHECK (kind IN ('rep', 'manager')),
    active BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE TABLE territories (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL,
    owner TEXT COLLATE "C" REFERENCES people(id),
    manager TEXT COLLATE "C" REFERENCES people(id)
);
CREATE INDEX territories_owner ON territories(owner);
CREATE INDEX territories_manager ON territories(manager);
CREATE TABLE scope_events (
    position BIGINT PRIMARY KEY,
    territory_id TEXT COLLATE "C" NOT NULL REFERENCES territories(id),
    person_id TEXT COLLATE "C" NOT NULL REFERENCES people(id),
    gained BOOLEAN NOT NULL,
    at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX scope_events_person ON scope_events(person_id, position);
CREATE TABLE enrolments (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    person_id TEXT COLLATE "C" NOT NULL REFERENCES people(id),
    role TEXT COLLATE "C" NOT NULL,
    device_name TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE devices (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL,
    person_id TEXT COLLATE "C" NOT NULL REFERENCES people(id),
    role TEXT COLLATE "C" NOT NULL,
    actor BYTEA NOT NULL UNIQUE,
    token_hash TEXT COLLATE "C" NOT NULL UNIQUE,
    revoked BOOLEAN NOT NULL DEFAULT FALSE,
    expires_at BIGINT,
    created_at BIGINT NOT NULL,
    last_sync_at BIGINT,
    rekeys BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE device_actors (
    actor BYTEA PRIMARY KEY,
    device_id TEXT COLLATE "C" NOT NULL REFERENCES devices(id),
    bound_at BIGINT NOT NULL
);
CREATE INDEX device_actors_device ON device_actors(device_id);
CREATE TABLE change_log (
    position BIGINT PRIMARY KEY,
    card_id TEXT COLLATE "C" NOT NULL,
    hash BYTEA NOT NULL UNIQUE,
    bytes BYTEA NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    received_at BIGINT NOT NULL,
    late BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX change_log_card ON change_log(card_id, position);
CREATE TABLE cards (
    card_id TEXT COLLATE "C" PRIMARY KEY,
    territory TEXT COLLATE "C" NOT NULL,
    doc BYTEA NOT NULL,
    first_position BIGINT NOT NULL,
    last_position BIGINT NOT NULL,
    heads BYTEA NOT NULL               -- concatenated 32-byte change hashes
);
CREATE INDEX cards_territory ON cards(territory, last_position);
CREATE TABLE projections (
    card_id TEXT COLLATE "C" PRIMARY KEY REFERENCES cards(card_id),
    territory TEXT COLLATE "C" NOT NULL,
    fields TEXT COLLATE "C" NOT NULL
);
CREATE TABLE fallback_states (
    device_id TEXT COLLATE "C" NOT NULL,
    card_id TEXT COLLATE "C" NOT NULL,
    state BYTEA NOT NULL,
    PRIMARY KEY (device_id, card_id)
);
CREATE TABLE held_changes (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    card_id TEXT COLLATE "C" NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    person_id TEXT COLLATE "C" NOT NULL,
    bytes BYTEA NOT NULL,
    received_at BIGINT NOT NULL,
    changes BIGINT NOT NULL DEFAULT 0,
    status TEXT COLLATE "C" NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'accepted', 'discarded')),
    decided_by TEXT COLLATE "C",
    decided_at BIGINT,
    note TEXT COLLATE "C"
);
CREATE INDEX held_changes_card ON held_changes(card_id, id);
CREATE INDEX held_changes_device ON held_changes(device_id, status);
CREATE TABLE held_hashes (
    hash BYTEA PRIMARY KEY,
    held_id BIGINT NOT NULL REFERENCES held_changes(id)
);
CREATE TABLE assignments (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    territory TEXT COLLATE "C" NOT NULL,
    card_id TEXT COLLATE "C",
    from_territory TEXT COLLATE "C",
    from_person TEXT COLLATE "C",
    to_person TEXT COLLATE "C" NOT NULL,
    decided_by TEXT COLLATE "C" NOT NULL,
    reason TEXT COLLATE "C" NOT NULL,
    at BIGINT NOT NULL,
    position BIGINT NOT NULL
);
CREATE INDEX assignments_territory ON assignments(territory, position);
CREATE INDEX assignments_from_territory ON assignments(from_territory, position);
CREATE INDEX assignments_card ON assignments(card_id, position);
CREATE INDEX assignments_position ON assignments(position);
CREATE TABLE server_actors (
    actor BYTEA PRIMARY KEY,
    person_id TEXT COLLATE "C" NOT NULL
);
CREATE TABLE manager_cards (
    num BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    card_id TEXT COLLATE "C" NOT NULL UNIQUE,
    territory TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    sort_key TEXT COLLATE "C" NOT NULL,
    class TEXT COLLATE "C",
    phone TEXT COLLATE "C",
    city TEXT COLLATE "C",
    updated_at BIGINT NOT NULL,
    last_visit_at BIGINT,
    conflicts BIGINT NOT NULL,
    search_hash BYTEA NOT NULL,
    lean TEXT COLLATE "C" NOT NULL DEFAULT '',
    stages TEXT COLLATE "C" NOT NULL DEFAULT '',
    model_version BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX manager_cards_territory_name ON manager_cards(territory, sort_key);
CREATE INDEX manager_cards_name ON manager_cards(sort_key);
CREATE INDEX manager_cards_updated ON manager_cards(updated_at);
CREATE INDEX manager_cards_visit ON manager_cards(last_visit_at);
CREATE INDEX manager_cards_versions ON manager_cards(card_id, territory, model_version);
CREATE INDEX manager_cards_territory_versions ON manager_cards(territory, card_id, model_version);
CREATE TABLE manager_card_tags (
    tag TEXT COLLATE "C" NOT NULL,
    num BIGINT NOT NULL,
    PRIMARY KEY (tag, num)
);
CREATE INDEX manager_card_tags_num ON manager_card_tags(num);
-- FTS5's two tables in one: `body` (the trigram text: substring terms of 3+ characters
-- through `LIKE`, answered by the trigram GIN index) and `grams` (1–2 character terms as
-- whole tokens of a `simple` vector).
CREATE TABLE manager_search (
    num BIGINT PRIMARY KEY,
    body TEXT COLLATE "C" NOT NULL,
    grams TSVECTOR NOT NULL
);
CREATE INDEX manager_search_body ON manager_search USING gin (body gin_trgm_ops);
CREATE INDEX manager_search_grams ON manager_search USING gin (grams);
CREATE TABLE manager_changes (
    hash BYTEA PRIMARY KEY,
    card_id TEXT COLLATE "C" NOT NULL,
    territory TEXT COLLATE "C" NOT NULL,
    person_id TEXT COLLATE "C",
    actor BYTEA NOT NULL,
    device_time BIGINT,
    at BIGINT NOT NULL,
    created BIGINT NOT NULL,
    visits BIGINT NOT NULL,
    stages BIGINT NOT NULL,
    fields TEXT COLLATE "C" NOT NULL,
    contracts BIGINT NOT NULL DEFAULT 0,
    orders BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX manager_changes_card ON manager_changes(card_id);
CREATE INDEX manager_changes_at ON manager_changes(at);
CREATE INDEX manager_changes_activity ON manager_changes(person_id, at, territory, card_id,
    created, visits, stages, contracts, orders);
CREATE TABLE manager_activity (
    person_id TEXT COLLATE "C" NOT NULL,
    day BIGINT NOT NULL,
    territory TEXT COLLATE "C" NOT NULL,
    card_id TEXT COLLATE "C" NOT NULL,
    changes BIGINT NOT NULL,
    visits BIGINT NOT NULL,
    created BIGINT NOT NULL,
    stages BIGINT NOT NULL,
    edits BIGINT NOT NULL,
    week_first BOOLEAN NOT NULL,
    month_first BOOLEAN NOT NULL,
    contracts BIGINT NOT NULL DEFAULT 0,
    orders BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (person_id, day, territory, card_id)
);
CREATE INDEX manager_activity_card ON manager_activity(card_id);
CREATE TABLE manager_reclassify (
    card_id TEXT COLLATE "C" PRIMARY KEY
);
CREATE TABLE web_logins (
    person_id TEXT COLLATE "C" PRIMARY KEY REFERENCES people(id),
    password_hash TEXT COLLATE "C" NOT NULL,
    set_at BIGINT NOT NULL
);
CREATE TABLE web_login_links (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    person_id TEXT COLLATE "C" NOT NULL REFERENCES people(id),
    expires_at BIGINT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE web_sessions (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    person_id TEXT COLLATE "C" NOT NULL REFERENCES people(id),
    csrf_token TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);
CREATE TABLE web_login_failures (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    person_id TEXT COLLATE "C" NOT NULL REFERENCES people(id),
    at BIGINT NOT NULL
);
CREATE INDEX web_login_failures_person ON web_login_failures(person_id, at);
CREATE TABLE company_settings (
    revision BIGINT PRIMARY KEY,
    json TEXT COLLATE "C" NOT NULL,
    set_by TEXT COLLATE "C" NOT NULL,
    set_at BIGINT NOT NULL
);
"#;
