//! The store at rest on a phone: encrypted with the app's key (SQLCipher), one writer
//! per file, and a read connection beside the writer. Real SQLite files in temp dirs.

use std::path::Path;

use fieldbook_core::store::{EncryptionKey, OpenOptions, StoreReader};
use fieldbook_core::{CardQuery, Store};

const NAME: &str = "上海华东客户服务有限公司";
const PHONE: &str = "13812345678";

fn key(byte: u8) -> EncryptionKey {
    EncryptionKey::from_bytes(&[byte; 32]).expect("32 bytes")
}

fn with_key(byte: u8) -> OpenOptions {
    OpenOptions::new().key(key(byte))
}

/// A store with `n` cards named after NAME, its rep set.
fn fill(store: &mut Store, n: usize) {
    store
        .init_identity("zhangwei".parse().expect("rep"))
        .expect("identity");
    for i in 0..n {
        store
            .create(|c| {
                c.basic.name = Some(format!("{NAME}{i}"));
                c.basic.phone = Some(PHONE.into());
                c.territory = Some("华东区".into());
                Ok(())
            })
            .expect("create");
    }
}

/// Every file of the store (main file, WAL, shared memory), as bytes.
fn files_of(db: &Path) -> Vec<(String, Vec<u8>)> {
    let dir = db.parent().expect("dir");
    let stem = db.file_name().expect("name").to_string_lossy().to_string();
    std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&stem))
        .map(|e| {
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn assert_no_plaintext(db: &Path) {
    let files = files_of(db);
    assert!(
        files.iter().any(|(n, _)| n.ends_with("-wal")),
        "the WAL is checked too"
    );
    for (name, bytes) in files {
        if name.ends_with("-lock") || name.ends_with("-shm") {
            // The lock file is empty; -shm holds only WAL indexes (page numbers), no
            // page content.
            continue;
        }
        assert!(
            !bytes.starts_with(b"SQLite format 3"),
            "{name} has a SQLite header"
        );
        assert!(
            !contains(&bytes, NAME.as_bytes()),
            "{name} shows a customer's name"
        );
        assert!(
            !contains(&bytes, PHONE.as_bytes()),
            "{name} shows a phone number"
        );
        assert!(!contains(&bytes, b"card_index"), "{name} shows the schema");
    }
}

#[test]
fn an_encrypted_store_shows_no_plaintext_wal_included() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("cards.db");
    let mut store = Store::open_with(&db, &with_key(7)).expect("open encrypted");
    fill(&mut store, 20);
    // Still open: the recent pages are in the WAL, not yet in the main file.
    assert_no_plaintext(&db);
    assert_eq!(store.search("华东客户", 50).expect("search").len(), 20);
    drop(store);
    let mut again = Store::open_with(&db, &with_key(7)).expect("reopen");
    assert_eq!(again.count().expect("count"), 20);
    fill(&mut again, 1);
    assert_no_plaintext(&db);
}

#[test]
fn a_wrong_or_missing_key_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("cards.db");
    let mut store = Store::open_with(&db, &with_key(1)).expect("open");
    fill(&mut store, 3);
    store.checkpoint().expect("checkpoint");
    drop(store);
    let before = std::fs::read(&db).expect("bytes");
    let code = |r: fieldbook_core::Result<Store>| r.map(|_| ()).map_err(|e| e.code());
    assert_eq!(
        code(Store::open_with(&db, &with_key(2))),
        Err("store.wrong_key")
    );
    assert_eq!(code(Store::open(&db)), Err("store.not_fieldbook"));
    assert_eq!(
        StoreReader::open(&db, &with_key(2))
            .map(|_| ())
            .map_err(|e| e.code()),
        Err("store.wrong_key")
    );
    assert_eq!(
        std::fs::read(&db).expect("bytes"),
        before,
        "the file is untouched"
    );
    // A key for a plain store is as wrong as the wrong key.
    let plain = dir.path().join("plain.db");
    fill(&mut Store::open(&plain).expect("plain"), 1);
    assert_eq!(
        code(Store::open_with(&plain, &with_key(1))),
        Err("store.wrong_key")
    );
    assert_eq!(
        Store::open_with(&db, &with_key(1))
            .expect("right key")
            .count()
            .expect("n"),
        3
    );
    assert!(
        EncryptionKey::from_bytes(&[0; 16]).is_err(),
        "a key is 32 bytes"
    );
    assert_eq!(
        format!("{:?}", key(9)),
        "EncryptionKey(..)",
        "a key is never printed"
    );
}

#[test]
fn a_plain_store_moves_to_an_encrypted_one_without_loss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("cards.db");
    let mut store = Store::open(&db).expect("plain");
    fill(&mut store, 12);
    let id = store.card_ids().expect("ids")[3].clone();
    store
        .update(&id, |c| c.set_path("basic.city", "上海"))
        .expect("edit");
    let before = store.card(&id).expect("card");
    let history = store.history(&id).expect("history").len();
    let device = store.device_id();
    assert_eq!(
        Store::encrypt_file(&db, &key(5)).map_err(|e| e.code()),
        Err("store.locked"),
        "not while the store is open"
    );
    drop(store);
    Store::encrypt_file(&db, &key(5)).expect("encrypt");
    assert_eq!(
        Store::open(&db).map(|_| ()).map_err(|e| e.code()),
        Err("store.not_fieldbook"),
        "no longer readable without the key"
    );
    let mut store = Store::open_with(&db, &with_key(5)).expect("open encrypted");
    assert_eq!(store.count().expect("count"), 12);
    assert_eq!(store.device_id(), device, "the device keeps its identity");
    assert_eq!(store.card(&id).expect("card").card, before.card);
    assert_eq!(store.history(&id).expect("history").len(), history);
    assert_eq!(store.search("华东客户", 50).expect("search").len(), 12);
    store
        .update(&id, |c| c.set_path("basic.city", "杭州"))
        .expect("edit after");
    assert!(
        store.pending_cards().expect("pending") >= 12,
        "the outbox came along"
    );
    assert_no_plaintext(&db);
    // Twice is refused: the file is no longer a plain store.
    drop(store);
    assert!(Store::encrypt_file(&db, &key(5)).is_err());
}

#[test]
fn one_writer_per_store_and_a_reader_beside_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("cards.db");
    let mut writer = Store::open_with(&db, &with_key(3)).expect("writer");
    fill(&mut writer, 2);
    assert_eq!(
        Store::open_with(&db, &with_key(3))
            .map(|_| ())
            .map_err(|e| e.code()),
        Err("store.locked")
    );
    let mut reader = StoreReader::open(&db, &with_key(3)).expect("reader");
    assert_eq!(reader.count().expect("count"), 2);
    // The reader sees each write of the writer as soon as it commits.
    fill(&mut writer, 1);
    let hits = reader.search("华东客户", 10).expect("search");
    assert_eq!(hits.len(), 3);
    let view = reader.card(&hits[0].id).expect("card from the reader");
    assert!(
        view.card
            .basic
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with(NAME))
    );
    assert_eq!(reader.history(&hits[0].id).expect("history").len(), 1);
    writer
        .update(&hits[0].id, |c| c.set_path("basic.city", "上海"))
        .expect("edit");
    assert_eq!(
        reader
            .card(&hits[0].id)
            .expect("card")
            .card
            .basic
            .city
            .as_deref(),
        Some("上海")
    );
    assert_eq!(
        reader.history(&hits[0].id).expect("history").len(),
        2,
        "not a stale cache"
    );
    assert_eq!(reader.list(&CardQuery::default()).expect("list").len(), 3);
    drop(writer);
    // Once the writer is gone, another one may open.
    Store::open_with(&db, &with_key(3)).expect("writer again");
}

#[test]
fn a_reader_needs_an_existing_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("nothing.db");
    assert!(StoreReader::open(&db, &OpenOptions::new()).is_err());
    assert!(!db.exists(), "the reader creates nothing");
}
