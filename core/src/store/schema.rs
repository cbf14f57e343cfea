//! The device database schema and its migrations.
//!
//! Versioned with `PRAGMA user_version`, one function per step, applied in one
//! transaction so a crash mid-upgrade leaves the old version intact. The first
//! schema is frozen in `core/tests/fixtures/schema_v1.sql`; a test upgrades it and
//! compares with a fresh database. Never edit a step once released: add a new one.

use rusqlite::{Connection, Transaction};

use crate::error::{Error, Result};

/// The schema version this build writes.
pub const CURRENT_VERSION: u32 = 7;

/// Marker stored in `meta` so we never adopt someone else's SQLite file.
pub(crate) const STORE_MAGIC: &str = "fieldbook-device-store";

/// The first schema: cards as snapshot + incremental chunks, and the index.
const V1: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

-- One row per card: its compacted Automerge document. `version` increases with
-- every write, so a process holding a cached document can tell it is stale.
CREATE TABLE cards (
    num         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    snapshot    BLOB NOT NULL,
    chunk_count INTEGER NOT NULL DEFAULT 0,
    version     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Incremental changes appended since the snapshot; folded in by compaction.
CREATE TABLE card_chunks (
    card_num INTEGER NOT NULL REFERENCES cards(num) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    data     BLOB NOT NULL,
    PRIMARY KEY (card_num, seq)
) WITHOUT ROWID;

-- What lists, filters, sorting and the visit plan need, kept in step with the
-- documents in the same transaction as every edit. Derived: can be rebuilt.
CREATE TABLE card_index (
    card_num       INTEGER PRIMARY KEY REFERENCES cards(num) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    sort_key       TEXT NOT NULL,
    territory      TEXT,
    class          TEXT,
    phone          TEXT,
    city           TEXT,
    route_area     TEXT,
    route_order    INTEGER,
    last_visit_at  INTEGER,
    next_visit_on  TEXT,
    visit_count    INTEGER NOT NULL,
    credit_limit   INTEGER,
    sales_3m       INTEGER NOT NULL,
    conflicts      INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX card_index_sort ON card_index(sort_key);
CREATE INDEX card_index_territory ON card_index(territory, sort_key);
CREATE INDEX card_index_updated ON card_index(updated_at);
CREATE INDEX card_index_last_visit ON card_index(last_visit_at);

CREATE TABLE card_tags (
    tag      TEXT NOT NULL,
    card_num INTEGER NOT NULL REFERENCES cards(num) ON DELETE CASCADE,
    PRIMARY KEY (tag, card_num)
) WITHOUT ROWID;

-- rowid = cards.num. Trigram: any substring of 3+ characters of all text.
CREATE VIRTUAL TABLE card_fts USING fts5(body, tokenize = 'trigram');
-- rowid = cards.num. CJK unigrams and bigrams and Latin words of the short fields.
CREATE VIRTUAL TABLE card_grams USING fts5(grams, tokenize = 'unicode61');
";

/// Version 2: the sync client's state, and index columns that let every list sort
/// use an index.
///
/// - `sync_cards`: per card, the heads the server is known to hold (`acked_heads`,
///   concatenated 32-byte hashes) and whether the card has changes beyond them.
/// - `sync_outbox`: the changes made on this device (or received from another device
///   by file) that the server has not acknowledged, in order, each with the
///   document heads after it. A push is their concatenation and an acknowledgement
///   deletes them: neither needs the document loaded.
/// - full-text tables become contentless (`contentless_delete`), and
///   `card_index.search_hash` lets an edit that changes no searchable text skip them;
/// - `card_index.card_id` (no join with the document table for lists) and `due_on`
///   (the next visit date, from the class cadence in the settings; recomputed in SQL
///   when the settings change), with indexes for every sort.
///
/// Cards that exist when upgrading are marked dirty (their whole history is offered
/// on the first sync) and the index is rebuilt on open (`meta.reindex`).
const V2: &str = "
CREATE TABLE sync_cards (
    card_num    INTEGER PRIMARY KEY REFERENCES cards(num) ON DELETE CASCADE,
    acked_heads BLOB NOT NULL DEFAULT x'',
    dirty       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX sync_cards_dirty ON sync_cards(dirty) WHERE dirty = 1;
INSERT INTO sync_cards (card_num, dirty) SELECT num, 1 FROM cards;

CREATE TABLE sync_outbox (
    card_num INTEGER NOT NULL REFERENCES cards(num) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    data     BLOB NOT NULL,
    heads    BLOB NOT NULL,
    PRIMARY KEY (card_num, seq)
) WITHOUT ROWID;

ALTER TABLE card_index ADD COLUMN card_id TEXT;
ALTER TABLE card_index ADD COLUMN due_on TEXT;
ALTER TABLE card_index ADD COLUMN search_hash INTEGER;

-- Contentless full-text tables: search needs only rowids, and contentless_delete
-- removes a card's old tokens without re-reading (and re-tokenising) its old text.
DROP TABLE card_fts;
DROP TABLE card_grams;
CREATE VIRTUAL TABLE card_fts USING fts5(body, tokenize = 'trigram', content = '', contentless_delete = 1);
CREATE VIRTUAL TABLE card_grams USING fts5(grams, tokenize = 'unicode61', content = '', contentless_delete = 1);
CREATE INDEX card_index_name ON card_index(sort_key, card_id);
CREATE INDEX card_index_due ON card_index(due_on);
CREATE INDEX card_index_sales ON card_index(sales_3m);
CREATE INDEX card_index_credit ON card_index(credit_limit);

-- What a card screen shows (the card, its conflicts, its heads) as JSON, kept in
-- step with the document: opening a card needs no Automerge load.
CREATE TABLE card_views (
    card_num INTEGER PRIMARY KEY REFERENCES cards(num) ON DELETE CASCADE,
    json     TEXT NOT NULL
);
INSERT OR REPLACE INTO meta (key, value) VALUES ('reindex', x'01');
";

/// Cards a sync brought that this device cannot read (bytes over the bounds, a document
/// that does not load, one that is not a card): kept out of `cards`, listed for `status`.
const V3: &str = "
CREATE TABLE sync_quarantine (
    card_id TEXT PRIMARY KEY,
    code    TEXT NOT NULL,
    reason  TEXT NOT NULL,
    at      INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Version 4: handoff on the device.
///
/// - `sync_handoff_pending`: cards whose territory left the rep's scope while they held
///   edits the server had not answered; purged once it accepts them (late edits within the
///   grace period) or says they went to review. They take no new edits meanwhile.
/// - `sync_handed_away`: what the rep is told about cards that left (`status`): a card
///   whose edits went to a manager's review keeps its id, name and how many changes went;
///   a card purged cleanly keeps only its id.
/// - `actor_directory`: who an Automerge actor is (device name, person, role), from the
///   sync response's directory, so history names devices.
/// - `card_assignments`: the assignment history of cards and of their territories
///   (`card_id` empty: the whole territory), for the handover dossier.
const V4: &str = "
CREATE TABLE sync_handoff_pending (
    card_num INTEGER PRIMARY KEY REFERENCES cards(num) ON DELETE CASCADE,
    since    INTEGER NOT NULL
);
CREATE TABLE sync_handed_away (
    card_id TEXT PRIMARY KEY,
    name    TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('purged', 'review')),
    changes INTEGER NOT NULL,
    at      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE actor_directory (
    actor       BLOB PRIMARY KEY,
    device_name TEXT NOT NULL,
    person_id   TEXT NOT NULL,
    person_name TEXT NOT NULL,
    role        TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE card_assignments (
    territory  TEXT NOT NULL,
    card_id    TEXT NOT NULL,
    from_person TEXT,
    to_person  TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    reason     TEXT NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (territory, card_id, at, to_person)
) WITHOUT ROWID;
CREATE INDEX card_assignments_card ON card_assignments(card_id);
";

fn upgrade_to_v4(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(V4)?;
    Ok(())
}

/// Version 5: due dates follow the company's rule, computed in Rust by
/// `analysis::visits::next_due` from the last *counted* visit's local date
/// (`last_counted_on`), not in SQL from the last visit of any kind; the index is rebuilt
/// on open to fill the column.
///
/// Sales per month move to `card_sales` (the sales sort sums the months before the day it
/// is asked, not the day the card was indexed), and `card_index.updated_at` becomes the
/// card's latest change time rather than the time it was indexed.
const V5: &str = "
ALTER TABLE card_index ADD COLUMN last_counted_on TEXT;
ALTER TABLE card_index ADD COLUMN merged_into TEXT;
DROP INDEX IF EXISTS card_index_sales;
ALTER TABLE card_index DROP COLUMN sales_3m;
CREATE TABLE card_sales (
    card_num INTEGER NOT NULL REFERENCES cards(num) ON DELETE CASCADE,
    month    TEXT NOT NULL,
    fen      INTEGER NOT NULL,
    PRIMARY KEY (card_num, month)
) WITHOUT ROWID;
INSERT OR REPLACE INTO meta (key, value) VALUES ('reindex', x'01');
";

/// Version 6: the facts the bulk reports read (`store::facts`): a lean copy of each card
/// written with its index, and what each change did, derived once per change the first
/// time a report needs it. The index is rebuilt on open to fill the lean copies.
const V6: &str = "
CREATE TABLE card_facts (
    card_num        INTEGER PRIMARY KEY REFERENCES cards(num) ON DELETE CASCADE,
    -- Card::for_analysis, JSON; rewritten with the index.
    lean            TEXT NOT NULL,
    -- cards.version the history part below was derived at (NULL: never).
    history_version INTEGER,
    -- The card's stage changes (JSON) as of history_version.
    stages          TEXT
);
CREATE TABLE change_facts (
    card_num     INTEGER NOT NULL REFERENCES cards(num) ON DELETE CASCADE,
    hash         BLOB NOT NULL,
    rep          TEXT,
    -- The change's device time (NULL: none).
    at           INTEGER,
    visits       INTEGER NOT NULL,
    new_customer INTEGER NOT NULL,
    edited       INTEGER NOT NULL,
    moved        INTEGER NOT NULL,
    contracts    INTEGER NOT NULL,
    orders       INTEGER NOT NULL,
    -- The stages the change put (JSON), NULL when none.
    entered      TEXT,
    PRIMARY KEY (card_num, hash)
) WITHOUT ROWID;
-- Covering: an activity report over a range reads this index alone.
CREATE INDEX change_facts_at ON change_facts (at, card_num, rep, visits, new_customer, edited,
    moved, contracts, orders);
INSERT OR REPLACE INTO meta (key, value) VALUES ('reindex', x'01');
";

fn upgrade_to_v6(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(V6)?;
    Ok(())
}

/// Version 7: narrow covering indexes for the checks every report makes ("which cards
/// moved since I last looked"). Without them each check reads every row of `cards` and
/// `card_facts`, whose documents and lean copies fill a page or more per card, to reach
/// one integer behind them.
const V7: &str = "
CREATE INDEX cards_versions ON cards (num, version, id);
CREATE INDEX card_facts_history ON card_facts (card_num, history_version);
";

fn upgrade_to_v7(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(V7)?;
    Ok(())
}

fn upgrade_to_v5(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(V5)?;
    Ok(())
}

fn upgrade_to_v3(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(V3)?;
    Ok(())
}

fn upgrade_to_v2(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(V2)?;
    Ok(())
}

fn upgrade_to_v1(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(V1)?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('magic', ?1)",
        [STORE_MAGIC],
    )?;
    Ok(())
}

/// Whether the file holds tables but is not ours.
fn is_foreign(conn: &Connection, version: u32) -> Result<bool> {
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
        [],
        |r| r.get(0),
    )?;
    if tables == 0 && version == 0 {
        return Ok(false);
    }
    let magic: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'magic'", [], |r| {
            r.get(0)
        })
        .ok();
    Ok(magic.as_deref() != Some(STORE_MAGIC))
}

/// Bring the database to [`CURRENT_VERSION`], refusing files that are not ours or
/// are newer than this build.
pub(crate) fn migrate(conn: &mut Connection, path: &std::path::Path) -> Result<()> {
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|_| Error::NotAStore(path.to_path_buf()))?;
    if is_foreign(conn, version)? {
        return Err(Error::NotAStore(path.to_path_buf()));
    }
    if version > CURRENT_VERSION {
        return Err(Error::NewerSchema {
            found: version,
            supported: CURRENT_VERSION,
        });
    }
    if version == CURRENT_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
    let mut v = version;
    while v < CURRENT_VERSION {
        match v {
            0 => upgrade_to_v1(&tx)?,
            1 => upgrade_to_v2(&tx)?,
            2 => upgrade_to_v3(&tx)?,
            3 => upgrade_to_v4(&tx)?,
            4 => upgrade_to_v5(&tx)?,
            5 => upgrade_to_v6(&tx)?,
            6 => upgrade_to_v7(&tx)?,
            _ => unreachable!("every version below CURRENT_VERSION has a step"),
        }
        v += 1;
        tracing::info!(version = v, "store schema upgraded");
    }
    tx.pragma_update(None, "user_version", v)?;
    tx.commit()?;
    Ok(())
}
