//! Upgrading a frozen version-1 store: its cards read as before, edits work, and
//! the upgraded schema is exactly the schema of a freshly created store.
//!
//! `fixtures/schema_v1.sql` is a real v1 database (DDL, meta rows, two cards with
//! snapshots, chunks and index rows) frozen as SQL. It is never edited; when a later
//! version ships, freeze it as `schema_v2.sql` and add it to `FIXTURES`.

use std::path::Path;

use fieldbook_core::{CardId, Store};
use rusqlite::Connection;

/// Every frozen schema, with its version.
const FIXTURES: &[(u32, &str)] = &[(1, include_str!("fixtures/schema_v1.sql"))];

const HQ: &str = "106eb2ed-53ab-45d4-b306-6dbe26079ed3";
const ACME: &str = "a463041f-32ef-474e-b642-4a62af95dfeb";
const V1_ACTOR: &str = "52e917cc1e8b32c08c5eef55c823376c";

fn build(path: &Path, sql: &str, version: u32) {
    let conn = Connection::open(path).expect("create the old database");
    conn.execute_batch(sql).expect("frozen SQL runs");
    conn.pragma_update(None, "user_version", version)
        .expect("user_version");
}

/// The schema as SQLite records it, without root pages (which depend on history).
fn schema_of(path: &Path) -> Vec<(String, String, String, Option<String>)> {
    let conn = Connection::open(path).expect("open for inspection");
    let mut stmt = conn
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
        .expect("query schema");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("schema rows")
}

fn user_version(path: &Path) -> u32 {
    Connection::open(path)
        .and_then(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
        .expect("user_version")
}

#[test]
fn frozen_v1_store_opens_reads_and_matches_a_fresh_schema() {
    for (version, sql) in FIXTURES {
        let dir = tempfile::tempdir().expect("tempdir");
        let old = dir.path().join(format!("v{version}.db"));
        build(&old, sql, *version);

        let mut store = Store::open(&old).expect("the current code opens the old store");
        assert!(store.integrity_ok().expect("integrity"));
        assert_eq!(
            store.device_id(),
            V1_ACTOR,
            "the device keeps its actor id across the upgrade"
        );
        assert_eq!(store.rep().map(|r| r.as_str()), Some("zhangwei"));
        assert_eq!(store.count().expect("count"), 2);

        let hq: CardId = HQ.parse().expect("id");
        let acme: CardId = ACME.parse().expect("id");
        let view = store.card(&hq).expect("card written by v1");
        assert_eq!(
            view.card.basic.name.as_deref(),
            Some("上海华东客户服务有限公司")
        );
        assert_eq!(view.card.basic.phone.as_deref(), Some("021-6234 5678"));
        assert_eq!(view.card.territory.as_deref(), Some("华东区"));
        assert!(
            view.card
                .visits
                .iter()
                .any(|v| v.summary.as_str() == "谈了年底促销方案，下周送样品")
        );
        assert_eq!(view.card.sales.len(), 12);
        assert!(view.conflicts.is_empty());
        let history = store.history(&hq).expect("history");
        assert_eq!(history.len(), 5, "creation, three edits, one visit");
        assert!(
            history
                .iter()
                .all(|h| h.rep.as_deref() == Some("zhangwei") && h.device == V1_ACTOR)
        );

        let acme_card = store.card(&acme).expect("second card").card;
        assert_eq!(acme_card.basic.name.as_deref(), Some("Acme 贸易 (深圳)"));
        assert_eq!(
            acme_card
                .get_path("credit.credit_limit")
                .expect("path")
                .as_deref(),
            Some("80000.00")
        );
        assert!(acme_card.tags.contains("重点"));
        assert_eq!(acme_card.notes.as_str(), "Prefers WeChat. 回款慢 😅");

        // The index of the old file serves lists and search.
        assert_eq!(store.search("客户", 10).expect("search")[0].id, hq);
        assert_eq!(store.search("1381", 10).expect("search")[0].id, acme);
        assert_eq!(store.search("acme", 10).expect("search")[0].id, acme);

        // And the upgraded store takes edits.
        store
            .update(&acme, |c| c.set_path("basic.phone", "0755-8888 1234"))
            .expect("edit after upgrade");
        drop(store);
        let mut store = Store::open(&old).expect("reopen");
        assert_eq!(
            store.card(&acme).expect("card").card.basic.phone.as_deref(),
            Some("0755-8888 1234")
        );
        drop(store);

        // Same schema as a store created today.
        let fresh = dir.path().join("fresh.db");
        drop(Store::open(&fresh).expect("fresh store"));
        assert_eq!(user_version(&old), user_version(&fresh));
        assert_eq!(user_version(&fresh), fieldbook_core::store::SCHEMA_VERSION);
        let (upgraded, created) = (schema_of(&old), schema_of(&fresh));
        for (a, b) in upgraded.iter().zip(&created) {
            assert_eq!(
                a, b,
                "schema of the upgraded v{version} store differs from a fresh one"
            );
        }
        assert_eq!(
            upgraded.len(),
            created.len(),
            "same number of schema objects"
        );
    }
}

#[test]
fn opening_a_frozen_store_twice_is_stable() {
    let (version, sql) = FIXTURES[0];
    let dir = tempfile::tempdir().expect("tempdir");
    let old = dir.path().join("old.db");
    build(&old, sql, version);
    drop(Store::open(&old).expect("first open"));
    let first = schema_of(&old);
    drop(Store::open(&old).expect("second open"));
    assert_eq!(first, schema_of(&old));
}
