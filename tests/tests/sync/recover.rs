//! Lost state: a store copied to a second machine (or restored from a backup) reuses the
//! device's actor. The server must tell the device so with a stable code instead of a
//! generic decode error.

use std::sync::Arc;

use fieldbook_core::Store;
use fieldbook_core::sync::http::HttpTransport;
use fieldbook_server::storage::Role;

use crate::support::{Device, Server};

/// A copy of `device`'s store on a "second machine", using the same enrolment.
fn copy_of(device: &Device, server: &Server) -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    let from = device.db_path();
    for ext in ["db", "db-wal", "db-shm"] {
        let f = from.with_extension(ext);
        if f.exists() {
            std::fs::copy(&f, dir.path().join("device.db").with_extension(ext)).expect("copy");
        }
    }
    let store = Store::open(dir.path().join("device.db")).expect("open the copy");
    let transport = Arc::new(HttpTransport::new(&server.url(), &[]).expect("transport"));
    Device::from_parts(store, transport, dir)
}

#[test]
fn a_copied_store_is_told_its_actor_was_reused() {
    let server = Server::start();
    crate::support::company(&server);
    let mut phone = Device::enrol(&server, "zhangwei", Role::Rep);
    let card = phone.new_card("上海华联超市", "east");
    phone.sync();
    let mut copy = copy_of(&phone, &server);
    copy.set(&card, "basic.phone", "021-1111 1111");
    let report = copy.sync();
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    phone.set(&card, "basic.phone", "021-2222 2222");
    let report = phone.sync();
    let codes: Vec<&str> = report.refused.iter().map(|(_, c, _)| c.as_str()).collect();
    assert_eq!(codes, vec!["sync.actor_reused"], "{:?}", report.refused);
}
