//! Counts, not times: requests and bytes of the common syncs.

use fieldbook_core::CardId;
use fieldbook_server::storage::Role;

use crate::support::{Device, Server};

#[test]
fn noop_sync_of_a_large_territory_is_one_small_request() {
    let server = Server::start();
    crate::support::company(&server);
    let mut phone = Device::enrol(&server, "zhangwei", Role::Rep);
    for i in 0..2_000 {
        phone.new_card(&format!("客户{i:04} 贸易有限公司"), "east");
    }
    let first = phone.sync();
    assert_eq!(first.progress.cards_pushed, 2_000);
    assert_eq!(first.pending, 0);

    let noop = phone.sync();
    assert_eq!(noop.progress.requests, 1);
    assert!(
        noop.progress.bytes_up < 1024,
        "up {}",
        noop.progress.bytes_up
    );
    assert!(
        noop.progress.bytes_down < 1024,
        "down {}",
        noop.progress.bytes_down
    );

    // A second device receives the whole territory, then its no-op is just as small.
    let mut tablet = Device::enrol(&server, "zhangwei", Role::Rep);
    assert_eq!(tablet.sync().cards_new, 2_000);
    let noop = tablet.sync();
    assert_eq!(noop.progress.requests, 1);
    assert!(
        noop.progress.bytes_up < 1024 && noop.progress.bytes_down < 1024,
        "{noop:?}"
    );
}

#[test]
fn reconnect_after_offline_edits_is_one_request_and_sends_nothing_twice() {
    let server = Server::start();
    crate::support::company(&server);
    let mut phone = Device::enrol(&server, "zhangwei", Role::Rep);
    let ids: Vec<CardId> = (0..300)
        .map(|i| phone.new_card(&format!("门店{i}"), "east"))
        .collect();
    phone.sync();
    let log_before = server.storage().log_len().expect("log length");

    for (i, id) in ids.iter().take(100).enumerate() {
        phone.set(id, "basic.phone", &format!("1380000{i:04}"));
    }
    let report = phone.sync();
    assert_eq!(report.progress.requests, 1);
    assert_eq!(report.progress.cards_pushed, 100);
    // Exactly the 100 new changes reached the log: nothing old was sent again.
    assert_eq!(
        server.storage().log_len().expect("log length"),
        log_before + 100
    );
    // And the same sync again moves nothing.
    let again = phone.sync();
    assert_eq!(again.progress.cards_pushed, 0);
    assert_eq!(
        server.storage().log_len().expect("log length"),
        log_before + 100
    );
}
