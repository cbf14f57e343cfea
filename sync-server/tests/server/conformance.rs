//! The storage conformance suite, run against the SQLite backend and (with the `postgres`
//! feature and `FIELDBOOK_TEST_PG` set to a server's URL) the PostgreSQL one.

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

/// The PostgreSQL server the tests may use: `FIELDBOOK_TEST_PG` (`scripts/test-all` starts
/// one). Unset: the test is skipped, unless `FIELDBOOK_REQUIRE_POSTGRES` says CI must run it.
#[cfg(feature = "postgres")]
pub(crate) fn test_postgres() -> Option<String> {
    match std::env::var("FIELDBOOK_TEST_PG") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("FIELDBOOK_REQUIRE_POSTGRES").is_none(),
                "FIELDBOOK_REQUIRE_POSTGRES is set but FIELDBOOK_TEST_PG is not"
            );
            eprintln!("FIELDBOOK_TEST_PG is not set: PostgreSQL test skipped");
            None
        }
    }
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_passes_the_storage_conformance_suite() {
    use fieldbook_server::storage::postgres::{PgStorage, ScratchDatabase};
    let Some(admin) = test_postgres() else {
        return;
    };
    let databases = std::sync::Mutex::new(Vec::new());
    run_all(&|| {
        let db = ScratchDatabase::create(&admin).expect("scratch database");
        let storage = PgStorage::connect(db.url()).expect("connect");
        databases.lock().expect("databases").push(db);
        storage
    });
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_reconnects_with_the_same_identity_and_several_instances_migrate_once() {
    use fieldbook_server::storage::Storage;
    use fieldbook_server::storage::postgres::{PgStorage, ScratchDatabase};
    let Some(admin) = test_postgres() else {
        return;
    };
    let db = ScratchDatabase::create(&admin).expect("scratch database");
    // Three instances starting at once against an empty database: one migrates, the
    // others wait for it and find the schema current.
    let url = db.url().to_owned();
    let ids: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                PgStorage::connect(&url)
                    .expect("connect")
                    .identity()
                    .expect("identity")
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("instance"))
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "one identity for all");
    let again = PgStorage::connect(db.url()).expect("reconnect");
    assert_eq!(again.identity().expect("identity"), ids[0]);
}
