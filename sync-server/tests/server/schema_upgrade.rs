//! The server database's schema upgrade, from a frozen schema-1 file.
//!
//! The fixture is the schema-1 SQL as it shipped, not the live `SCHEMA_V1` constant: if
//! the constant were edited, databases that already exist would keep the old schema,
//! and only a comparison with a frozen copy notices that the two no longer meet.

use fieldbook_server::storage::Storage;
use fieldbook_server::storage::sqlite::SqliteStorage;
use rusqlite::Connection;

const FROZEN_V1: &str = include_str!("../fixtures/schema_v1.sql");

/// Every table's and index's columns (name, declared type, not-null, default, key),
/// and the indexed columns, as SQLite reports them: `ALTER TABLE` stores its SQL text
/// differently from `CREATE TABLE`, so the structure is compared, not the text.
fn structure(path: &std::path::Path) -> Vec<String> {
    let conn = Connection::open(path).expect("open");
    let mut names = conn
        .prepare("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
        .expect("prepare");
    let objects: Vec<(String, String)> = names
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows");
    let mut out = Vec::new();
    for (kind, name) in objects {
        let sql = match kind.as_str() {
            "table" => format!(
                "SELECT name || ' ' || type || ' ' || \"notnull\" || ' ' || \
                 COALESCE(dflt_value, '-') || ' ' || pk FROM pragma_table_info('{name}')"
            ),
            "index" => format!("SELECT name FROM pragma_index_info('{name}')"),
            _ => "SELECT 'other'".to_owned(),
        };
        let mut stmt = conn.prepare(&sql).expect("prepare");
        let cols: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        out.push(format!("{kind} {name}: {}", cols.join(", ")));
    }
    out
}

fn frozen_v1(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("v1.db");
    Connection::open(&path)
        .expect("open")
        .execute_batch(FROZEN_V1)
        .expect("the frozen schema-1 database builds");
    path
}

#[test]
fn a_frozen_schema_1_database_upgrades_to_the_fresh_schema_keeping_its_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let old = frozen_v1(dir.path());
    let upgraded = SqliteStorage::open(&old).expect("schema 1 upgrades");
    assert_eq!(
        upgraded.identity().expect("identity").server_id,
        "frozen-v1-server"
    );
    assert_eq!(upgraded.head_position().expect("head"), 3);
    assert_eq!(upgraded.log_len().expect("log"), 1);
    let person = upgraded.person("zhangwei").expect("person").expect("kept");
    assert_eq!(person.name, "张伟");
    assert!(upgraded.device("d1").expect("device").is_some());
    let card = upgraded.card("card-1").expect("card").expect("kept");
    assert_eq!((card.territory.as_str(), card.last_position), ("east", 2));
    assert_eq!(
        upgraded
            .projection("card-1")
            .expect("projection")
            .as_deref(),
        Some(r#"{"basic":{"name":"上海华东客户服务有限公司"}}"#)
    );
    assert_eq!(
        upgraded
            .fallback_state("d1", "card-1")
            .expect("fallback state"),
        Some(vec![0])
    );
    drop(upgraded);

    let fresh = dir.path().join("fresh.db");
    drop(SqliteStorage::open(&fresh).expect("fresh"));
    let (a, b) = (structure(&old), structure(&fresh));
    assert!(a.len() > 10, "the structure was read: {a:?}");
    assert_eq!(
        a, b,
        "an upgraded schema-1 database differs from a fresh one"
    );
    let version = |p: &std::path::Path| -> i64 {
        Connection::open(p)
            .expect("open")
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("user_version")
    };
    assert_eq!(version(&old), version(&fresh));
}

/// The comparison above notices a schema-1 database that differs from what schema 1
/// shipped as: the same frozen file with one column more does not compare equal.
#[test]
fn the_structure_comparison_sees_one_extra_column() {
    let dir = tempfile::tempdir().expect("temp dir");
    let old = frozen_v1(dir.path());
    Connection::open(&old)
        .expect("open")
        .execute_batch("ALTER TABLE people ADD COLUMN phone TEXT")
        .expect("alter");
    drop(SqliteStorage::open(&old).expect("upgrade"));
    let fresh = dir.path().join("fresh.db");
    drop(SqliteStorage::open(&fresh).expect("fresh"));
    assert_ne!(structure(&old), structure(&fresh));
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
