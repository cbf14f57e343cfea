//! The server's disk: a read-only database file still serves reads, and a full disk
//! answers its own retryable code. In both cases the device keeps its edits pending and
//! loses nothing.

use std::sync::Arc;

use fieldbook_core::sync::http::HttpTransport;
use fieldbook_server::storage::Role;
use fieldbook_server::storage::sqlite::SqliteStorage;

use crate::support::{Device, Server};

fn server_code(err: &fieldbook_core::Error) -> Option<(u16, String)> {
    match err {
        fieldbook_core::Error::Server { status, code, .. } => Some((*status, code.clone())),
        _ => None,
    }
}

#[test]
fn a_read_only_database_serves_syncs_and_refuses_writes_with_a_stable_code() {
    let server = Server::start();
    crate::support::company(&server);
    let mut phone = Device::enrol(&server, "zhangwei", Role::Rep);
    let mut tablet = Device::enrol(&server, "zhangwei", Role::Rep);
    let card = phone.new_card("上海华联超市", "east");
    phone.visit(&card, "谈了新品上架");
    phone.sync();
    let db = server.db_path();
    let server_dir = tempfile::tempdir().expect("tempdir");
    let ro = server_dir.path().join("readonly.db");
    server.running.shutdown().expect("shutdown");
    std::fs::copy(&db, &ro).expect("copy the database");
    // The server's last writes may still sit in its write-ahead log: copy it too, as a
    // backup tool would.
    let wal = db.with_extension("db-wal");
    if wal.exists() {
        std::fs::copy(&wal, ro.with_extension("db-wal")).expect("copy the log");
    }
    let ro_bytes = std::fs::read(&ro).expect("read");
    let mut perms = std::fs::metadata(&ro).expect("metadata").permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&ro, perms).expect("chmod");

    let storage = SqliteStorage::open(&ro).expect("a read-only file opens");
    assert!(storage.is_read_only());
    let server = Server::start_on(Arc::new(storage), server_dir);
    let url = server.url();
    for device in [&mut phone, &mut tablet] {
        device.transport = Arc::new(HttpTransport::new(&url, &[]).expect("transport"));
    }

    // Reads: the tablet's first sync brings the card.
    let report = tablet.sync();
    assert_eq!(report.cards_new, 1);
    assert_eq!(tablet.snapshot(), phone.snapshot());

    // Writes: refused with a stable code; the edit stays pending on the device.
    phone.set(&card, "basic.phone", "021-6234 5678");
    let err = phone
        .try_sync()
        .expect_err("a push to a read-only server fails");
    assert_eq!(server_code(&err), Some((503, "server.read_only".into())));
    assert_eq!(phone.store.pending_cards().expect("pending"), 1);
    // The file was not touched.
    assert_eq!(std::fs::read(&ro).expect("read"), ro_bytes);
}

#[test]
fn a_full_disk_answers_storage_full_and_the_device_retries_later() {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = SqliteStorage::open(&dir.path().join("server.db")).expect("open");
    let storage = Arc::new(storage);
    let server = Server::start_on(storage.clone(), dir);
    crate::support::company(&server);
    let mut phone = Device::enrol(&server, "zhangwei", Role::Rep);
    let card = phone.new_card("上海华联超市", "east");
    phone.sync();
    let log_before = server.storage().log_len().expect("log");

    storage.cap_pages(0).expect("cap");
    // Edits big enough to need new pages.
    for i in 0..40 {
        phone.visit(&card, &format!("第{i}次拜访：{}", "详细记录".repeat(200)));
    }
    let err = phone.try_sync().expect_err("the disk is full");
    assert_eq!(server_code(&err), Some((503, "server.storage_full".into())));
    assert_eq!(phone.store.pending_cards().expect("pending"), 1);
    assert_eq!(server.storage().log_len().expect("log"), log_before);

    // Space freed: the next sync goes through and the server has every visit.
    storage.cap_pages(100_000).expect("uncap");
    let report = phone.sync();
    assert_eq!(report.pending, 0);
    let mut tablet = Device::enrol(&server, "zhangwei", Role::Rep);
    tablet.sync();
    assert_eq!(tablet.snapshot(), phone.snapshot());
}
