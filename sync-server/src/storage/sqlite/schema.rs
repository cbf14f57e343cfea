//! The database schema: its versions, the migration from each to the next, and the
//! `meta` row (server identity, position head) created with it.
//!
//! The schema is versioned with `PRAGMA user_version`, one match arm per step; every
//! step's SQL stays here as it shipped, so an old file upgrades to exactly what a fresh
//! one gets (tested by upgrading a frozen schema-1 file, `tests/fixtures/schema_v1.sql`,
//! in `tests/server/schema_upgrade.rs`).

use rusqlite::{Connection, params};

use crate::error::{Error, Result};
use crate::storage::ServerIdentity;

pub(super) const SCHEMA_VERSION: i64 = 10;

/// Refuses a database whose schema is not exactly this server's (a read-only file cannot be
/// migrated).
pub(super) fn check_current(conn: &Connection) -> Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version != SCHEMA_VERSION {
        return Err(Error::Storage(format!(
            "read-only database has schema {version}; this server needs {SCHEMA_VERSION} \
             and cannot migrate a read-only file"
        )));
    }
    Ok(())
}

pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
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
            3 => tx.execute_batch(SCHEMA_V3)?,
            // Issue 8: assignment history and the review queue (4), the manager's read
            // model (5), dashboard logins and sessions (6).
            4 => tx.execute_batch(SCHEMA_V4)?,
            5 => tx.execute_batch(SCHEMA_V5)?,
            6 => tx.execute_batch(SCHEMA_V6)?,
            // Issue 8 at scale: the activity rollup, filled from the change rows.
            7 => tx.execute_batch(SCHEMA_V7)?,
            // Issue 9: the company settings, every revision kept.
            8 => tx.execute_batch(SCHEMA_V8)?,
            // Issue 9: contracts and orders in the activity rows.
            9 => tx.execute_batch(SCHEMA_V9)?,
            // Issue 9 at scale: what the bulk analyses read, one small row per card.
            10 => tx.execute_batch(SCHEMA_V10)?,
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

pub(super) fn identity(c: &Connection) -> Result<ServerIdentity> {
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
}

/// Every actor ever bound to a device (its current one is also `devices.actor`), and how
/// often it was re-keyed (cursors carry the count, so one issued before a re-key starts a
/// full pass).
const SCHEMA_V3: &str = r#"
CREATE TABLE device_actors (
    actor BLOB PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(id),
    bound_at INTEGER NOT NULL
);
CREATE INDEX device_actors_device ON device_actors(device_id);
INSERT INTO device_actors (actor, device_id, bound_at) SELECT actor, id, created_at FROM devices;
ALTER TABLE devices ADD COLUMN rekeys INTEGER NOT NULL DEFAULT 0;
"#;

// The issue-8 schema slots follow the tests, so each part fills its own without moving them.
#[allow(clippy::items_after_test_module)]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::SqliteStorage;

    /// A read-only file is served only when no migration is needed: an old one is
    /// refused with a message that says why, and left untouched.
    #[test]
    fn a_read_only_file_that_needs_migrating_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(SCHEMA_V1).expect("v1");
            conn.pragma_update(None, "user_version", 1)
                .expect("version");
        }
        let mut perms = std::fs::metadata(&path).expect("metadata").permissions();
        perms.set_readonly(true);
        std::fs::set_permissions(&path, perms).expect("chmod");
        let before = std::fs::read(&path).expect("read");
        let err = SqliteStorage::open(&path).expect_err("cannot migrate a read-only file");
        assert!(
            err.to_string().contains("cannot migrate a read-only file"),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).expect("read"), before);
    }
}

/// Territory handoff: people can be deactivated; the assignment history (whole territories
/// and single cards moved, each at the position where it took effect); the actors the
/// server authors card moves with; held changes become review items (a status, who decided,
/// when, a note; one row per held change hash, so a retried push is not held twice).
const SCHEMA_V4: &str = r#"
ALTER TABLE people ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
CREATE TABLE assignments (
    id INTEGER PRIMARY KEY,
    territory TEXT NOT NULL,           -- handed over, or (a card) moved into
    card_id TEXT,                      -- NULL: the whole territory
    from_territory TEXT,               -- a card: the territory it left
    from_person TEXT,
    to_person TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    at INTEGER NOT NULL,
    position INTEGER NOT NULL
);
CREATE INDEX assignments_territory ON assignments(territory, position);
CREATE INDEX assignments_from_territory ON assignments(from_territory, position);
CREATE INDEX assignments_card ON assignments(card_id, position);
CREATE INDEX assignments_position ON assignments(position);
INSERT INTO assignments (territory, card_id, from_territory, from_person, to_person,
                         decided_by, reason, at, position)
    SELECT territory_id, NULL, NULL, NULL, person_id, 'admin', '', at, position
    FROM scope_events e JOIN people p ON p.id = e.person_id
    WHERE e.gained = 1 AND p.kind = 'rep';
CREATE TABLE server_actors (
    actor BLOB PRIMARY KEY,
    person_id TEXT NOT NULL
);
ALTER TABLE held_changes ADD COLUMN changes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE held_changes ADD COLUMN status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'accepted', 'discarded'));
ALTER TABLE held_changes ADD COLUMN decided_by TEXT;
ALTER TABLE held_changes ADD COLUMN decided_at INTEGER;
ALTER TABLE held_changes ADD COLUMN note TEXT;
CREATE INDEX held_changes_device ON held_changes(device_id, status);
CREATE TABLE held_hashes (
    hash BLOB PRIMARY KEY,
    held_id INTEGER NOT NULL REFERENCES held_changes(id)
);
"#;

/// The manager's read model: card index, search text, activity derived from the log.
/// The full-text tables are laid out as a device store's (`card_fts`, `card_grams`), so
/// core's search expressions match the same cards on both. Rows of cards stored before
/// this step are filled at start (`manager::read_model::backfill`).
const SCHEMA_V5: &str = r#"
CREATE TABLE manager_cards (
    num INTEGER PRIMARY KEY,
    card_id TEXT NOT NULL UNIQUE,
    territory TEXT NOT NULL,
    name TEXT NOT NULL,
    sort_key TEXT NOT NULL,
    class TEXT,
    phone TEXT,
    city TEXT,
    updated_at INTEGER NOT NULL,
    last_visit_at INTEGER,
    conflicts INTEGER NOT NULL,
    search_hash BLOB NOT NULL
);
CREATE INDEX manager_cards_territory_name ON manager_cards(territory, sort_key);
CREATE INDEX manager_cards_name ON manager_cards(sort_key);
CREATE INDEX manager_cards_updated ON manager_cards(updated_at);
CREATE INDEX manager_cards_visit ON manager_cards(last_visit_at);
CREATE TABLE manager_card_tags (
    tag TEXT NOT NULL,
    num INTEGER NOT NULL,
    PRIMARY KEY (tag, num)
) WITHOUT ROWID;
CREATE INDEX manager_card_tags_num ON manager_card_tags(num);
CREATE VIRTUAL TABLE manager_fts USING fts5(body, tokenize = 'trigram', content = '', contentless_delete = 1);
CREATE VIRTUAL TABLE manager_grams USING fts5(grams, tokenize = 'unicode61', content = '', contentless_delete = 1);
CREATE TABLE manager_changes (
    hash BLOB PRIMARY KEY,
    card_id TEXT NOT NULL,
    territory TEXT NOT NULL,          -- the card's territory when the change was accepted
    person_id TEXT,
    actor BLOB NOT NULL,
    device_time INTEGER,
    at INTEGER NOT NULL,              -- activity time: device time, bounded by receive time
    created INTEGER NOT NULL,
    visits INTEGER NOT NULL,
    stages INTEGER NOT NULL,
    fields TEXT NOT NULL              -- touched field paths, one per line
) WITHOUT ROWID;
CREATE INDEX manager_changes_card ON manager_changes(card_id);
CREATE INDEX manager_changes_at ON manager_changes(at);
CREATE INDEX manager_changes_person ON manager_changes(person_id, at);
"#;

/// The dashboard: logins (argon2id PHC strings), one-time login links and sessions (both
/// by SHA-256 of the token, never the token), failed attempts for the per-person limit.
const SCHEMA_V6: &str = r#"
CREATE TABLE web_logins (
    person_id TEXT PRIMARY KEY REFERENCES people(id),
    password_hash TEXT NOT NULL,
    set_at INTEGER NOT NULL
);
CREATE TABLE web_login_links (
    token_hash TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id),
    expires_at INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id),
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);
CREATE TABLE web_login_failures (
    id INTEGER PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id),
    at INTEGER NOT NULL
);
CREATE INDEX web_login_failures_person ON web_login_failures(person_id, at);
"#;

/// The activity rollup: per person, local day (China time, UTC+8), territory and card, the
/// sums of that card's classified change rows. A projection of `manager_changes`, never a
/// counter: every card commit rewrites the card's rows from its change rows
/// (`sqlite::manager::roll_up_card`), and this step fills it from the rows already stored.
/// The activity report reads a day's rows per person instead of every change of the range.
/// `week_first`/`month_first` mark, per person and card, the first row with edits in its
/// week (from Monday) and calendar month: summed over a whole bucket they count the cards
/// edited in it, which a report for every territory needs without a distinct count.
/// `day` is the floor of (activity time + 8 h) / 1 day: SQLite's `/` truncates toward zero,
/// so a time before 1970 steps one day back. Ranges the rollup cannot answer (another
/// calendar, a rolling window) count the change rows through a covering index, which
/// replaces the `(person_id, at)` one.
const SCHEMA_V7: &str = r#"
CREATE TABLE manager_activity (
    person_id TEXT NOT NULL,
    day INTEGER NOT NULL,             -- days since 1970-01-01 in UTC+8
    territory TEXT NOT NULL,          -- as on the change rows
    card_id TEXT NOT NULL,
    changes INTEGER NOT NULL,
    visits INTEGER NOT NULL,
    created INTEGER NOT NULL,
    stages INTEGER NOT NULL,
    edits INTEGER NOT NULL,           -- changes that did not create the card
    week_first INTEGER NOT NULL,      -- the person's first row with edits of the card that week
    month_first INTEGER NOT NULL,     -- … that calendar month
    PRIMARY KEY (person_id, day, territory, card_id)
) WITHOUT ROWID;
CREATE INDEX manager_activity_card ON manager_activity(card_id);
WITH days AS (
    SELECT person_id, (at + 28800) / 86400 - ((at + 28800) % 86400 < 0) AS d, territory,
        card_id, count(*) AS n, sum(visits) AS v, sum(created) AS c, sum(stages) AS s,
        sum(created = 0) AS e
    FROM manager_changes WHERE person_id IS NOT NULL
    GROUP BY person_id, d, territory, card_id
)
INSERT INTO manager_activity (person_id, day, territory, card_id, changes, visits, created,
    stages, edits, week_first, month_first)
SELECT person_id, d, territory, card_id, n, v, c, s, e,
    e > 0 AND row_number() OVER (PARTITION BY person_id, card_id, e > 0,
        d - ((d + 3) % 7 + 7) % 7 ORDER BY d, territory) = 1,
    e > 0 AND row_number() OVER (PARTITION BY person_id, card_id, e > 0,
        date(d * 86400, 'unixepoch', 'start of month') ORDER BY d, territory) = 1
FROM days;
DROP INDEX manager_changes_person;
CREATE INDEX manager_changes_activity ON manager_changes(person_id, at, territory, card_id,
    created, visits, stages);
"#;

/// The company settings: one row per revision; the highest is in force.
const SCHEMA_V8: &str = r#"
CREATE TABLE company_settings (
    revision INTEGER PRIMARY KEY,
    json TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at INTEGER NOT NULL
);
"#;

/// Contracts and orders in activity (issue 9): two counts per change row and per rollup
/// row, as core's `analysis::activity::classify` defines them. They cannot be computed in
/// SQL, so every card with change rows is queued in `manager_reclassify`; at start the
/// server classifies those cards' changes again from their documents
/// (`manager::read_model::reclassify`), which sets the counts, rolls the card up again and
/// takes it off the queue. The covering index gains the two columns.
const SCHEMA_V9: &str = r#"
ALTER TABLE manager_changes ADD COLUMN contracts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE manager_changes ADD COLUMN orders INTEGER NOT NULL DEFAULT 0;
ALTER TABLE manager_activity ADD COLUMN contracts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE manager_activity ADD COLUMN orders INTEGER NOT NULL DEFAULT 0;
CREATE TABLE manager_reclassify (
    card_id TEXT PRIMARY KEY
) WITHOUT ROWID;
INSERT INTO manager_reclassify (card_id) SELECT DISTINCT card_id FROM manager_changes;
DROP INDEX manager_changes_activity;
CREATE INDEX manager_changes_activity ON manager_changes(person_id, at, territory, card_id,
    created, visits, stages, contracts, orders);
"#;

/// The bulk analyses' rows (issue 9 at scale): each card's lean copy and stage changes
/// beside its index row, with a version that grows at every write of the row, so ABC,
/// credit and the pipeline read small rows (and a server keeps what it parsed while the
/// version holds) instead of every projection and document. Filled at start for every
/// card already stored, through the reclassify queue (which derives the whole read model
/// again from the document).
const SCHEMA_V10: &str = r#"
ALTER TABLE manager_cards ADD COLUMN lean TEXT NOT NULL DEFAULT '';
ALTER TABLE manager_cards ADD COLUMN stages TEXT NOT NULL DEFAULT '';
ALTER TABLE manager_cards ADD COLUMN model_version INTEGER NOT NULL DEFAULT 0;
-- A report first reads its scope's ids and versions: from this index alone, never the
-- long rows.
CREATE INDEX manager_cards_versions ON manager_cards(card_id, territory, model_version);
CREATE INDEX manager_cards_territory_versions ON manager_cards(territory, card_id, model_version);
INSERT OR IGNORE INTO manager_reclassify (card_id) SELECT card_id FROM manager_cards;
"#;
