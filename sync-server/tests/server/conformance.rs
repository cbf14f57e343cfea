//! The storage conformance suite, run against the SQLite backend.

use std::sync::atomic::{AtomicUsize, Ordering};

use fieldbook_server::storage::conformance::run_all;
use fieldbook_server::storage::sqlite::SqliteStorage;

#[test]
fn sqlite_passes_the_storage_conformance_suite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let n = AtomicUsize::new(0);
    run_all(&|| {
        let i = n.fetch_add(1, Ordering::Relaxed);
        SqliteStorage::open(&dir.path().join(format!("conformance-{i}.db"))).expect("open")
    });
}

#[test]
fn sqlite_reopens_with_the_same_identity_and_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("db.sqlite");
    let first = {
        let s = SqliteStorage::open(&path).expect("open");
        fieldbook_server::storage::Storage::identity(&s).expect("identity")
    };
    let s = SqliteStorage::open(&path).expect("reopen");
    assert_eq!(
        fieldbook_server::storage::Storage::identity(&s).expect("identity"),
        first
    );
}
