//! Lost state: a store copied to a second machine (or restored from a backup) reuses the
//! device's actor. The server refuses the colliding pushes with `sync.actor_reused`; the
//! device then re-keys (a fresh actor bound to the same device), re-makes its unsynced
//! edits on the server's documents, and nothing anyone entered is lost or doubled.

use std::sync::Arc;

use fieldbook_core::sync::http::HttpTransport;
use fieldbook_core::{CardId, Store};
use fieldbook_server::storage::Role;

use crate::support::{Device, Server, company};

/// Copies a store's files (the database and its WAL) into `dir`.
fn copy_store(device: &Device, dir: &std::path::Path) {
    device.store.checkpoint().expect("checkpoint");
    let from = device.db_path();
    for ext in ["db", "db-wal", "db-shm"] {
        let f = from.with_extension(ext);
        if f.exists() {
            std::fs::copy(&f, dir.join("device.db").with_extension(ext)).expect("copy");
        }
    }
}

/// A copy of `device`'s store on a "second machine", using the same enrolment.
fn copy_of(device: &Device, server: &Server) -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_store(device, dir.path());
    let store = Store::open(dir.path().join("device.db")).expect("open the copy");
    let transport = Arc::new(HttpTransport::new(&server.url(), &[]).expect("transport"));
    Device::from_parts(store, transport, dir)
}

fn value(device: &mut Device, card: &CardId, path: &str) -> serde_json::Value {
    let view = device.store.card(card).expect("card");
    let json = serde_json::to_value(&view.card).expect("json");
    path.split('.').fold(&json, |v, k| &v[k]).clone()
}

/// Each visit summary of a card, sorted (to count duplicates).
fn visit_summaries(device: &mut Device, card: &CardId) -> Vec<String> {
    let view = device.store.card(card).expect("card");
    let json = serde_json::to_value(&view.card.visits).expect("json");
    let mut out: Vec<String> = json
        .as_array()
        .expect("visits")
        .iter()
        .map(|v| v["summary"].as_str().unwrap_or_default().to_string())
        .collect();
    out.sort();
    out
}

fn assert_clean(device: &mut Device) {
    let report = device.sync();
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert!(!report.rekeyed && report.reapplied.is_empty(), "{report:?}");
    assert_eq!(report.pending, 0);
}

/// The time of the latest change of `card` on `device`.
fn latest_time(device: &mut Device, card: &CardId) -> Option<chrono::DateTime<chrono::Utc>> {
    let history = device.store.history(card).expect("history");
    history.iter().filter_map(|e| e.time).max()
}

/// Every change of the card on `device` is authored by 张伟, and the re-made one (by the
/// device's new actor) carries the fields it re-applied and the time of the edits.
fn assert_attributed(
    device: &mut Device,
    card: &CardId,
    field: &str,
    time: Option<chrono::DateTime<chrono::Utc>>,
) {
    let history = device.store.history(card).expect("history");
    assert!(
        history.iter().all(|e| e.rep.as_deref() == Some("zhangwei")),
        "{history:?}"
    );
    let actor = device.store.device_id();
    let remade: Vec<_> = history.iter().filter(|e| e.device == actor).collect();
    assert_eq!(remade.len(), 1, "{history:?}");
    assert!(
        remade[0].fields.iter().any(|f| f == field),
        "{:?}",
        remade[0]
    );
    assert_eq!(
        remade[0].time, time,
        "the re-made change keeps the edits' time"
    );
}

#[test]
fn a_copied_store_is_told_its_actor_was_reused() {
    let server = Server::start();
    company(&server);
    let mut phone = Device::enrol(&server, "zhangwei", Role::Rep);
    let shared = phone.new_card("上海华联超市", "east");
    let only_phone = phone.new_card("杭州联华便利", "east");
    let only_copy = phone.new_card("南京苏果超市", "east");
    phone.sync();
    let old_actor = phone.store.device_id();

    // Both machines edit the same card and another card each.
    let mut copy = copy_of(&phone, &server);
    copy.set(&shared, "basic.phone", "021-1111 1111");
    copy.visit(&shared, "复制机拜访：谈陈列");
    copy.set(&only_copy, "basic.phone", "025-3333 3333");
    let report = copy.sync();
    assert!(report.refused.is_empty(), "{:?}", report.refused);

    phone.set(&shared, "basic.phone", "021-2222 2222");
    phone.set(&shared, "notes", "原机备注：老板周三在店");
    phone.visit(&shared, "原机拜访：谈促销");
    phone.set(&only_phone, "basic.phone", "0571-4444 4444");
    let edited_at = latest_time(&mut phone, &shared);
    // The server still tells the device, and the device recovers in the same sync.
    let report = phone.sync();
    assert!(report.rekeyed, "{report:?}");
    assert_eq!(report.reapplied, vec![shared.to_string()]);
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(report.pending, 0);
    assert_ne!(phone.store.device_id(), old_actor, "a fresh actor");

    // The copy catches up (a full pass, its cursor predates the re-key), then both again.
    copy.sync();
    phone.sync();
    assert_eq!(phone.snapshot(), copy.snapshot(), "heads and data converge");
    for device in [&mut phone, &mut copy] {
        // The phone's edits were made later in the card's history: they win.
        assert_eq!(value(device, &shared, "basic.phone"), "021-2222 2222");
        assert_eq!(value(device, &shared, "notes"), "原机备注：老板周三在店");
        assert_eq!(
            visit_summaries(device, &shared),
            vec!["原机拜访：谈促销", "复制机拜访：谈陈列"]
        );
        assert_eq!(value(device, &only_phone, "basic.phone"), "0571-4444 4444");
        assert_eq!(value(device, &only_copy, "basic.phone"), "025-3333 3333");
        assert!(
            device
                .store
                .conflicts(&shared)
                .expect("conflicts")
                .is_empty()
        );
    }
    assert_attributed(&mut phone, &shared, "basic.phone", edited_at);
    assert_clean(&mut phone);
    assert_clean(&mut copy);

    // The copy keeps working with the old actor; the phone with the new one.
    copy.set(&shared, "basic.address", "上海市南京东路100号");
    assert_clean(&mut copy);
    phone.set(&shared, "basic.phone", "021-5555 5555");
    assert_clean(&mut phone);
    copy.sync();
    assert_eq!(phone.snapshot(), copy.snapshot());
}

/// A device restored from a backup of its store (in `dir`).
fn restore(backup: &std::path::Path, server_url: &str) -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    for ext in ["db", "db-wal", "db-shm"] {
        let f = backup.join("device.db").with_extension(ext);
        if f.exists() {
            std::fs::copy(&f, dir.path().join("device.db").with_extension(ext)).expect("copy");
        }
    }
    let store = Store::open(dir.path().join("device.db")).expect("open the backup");
    let transport = Arc::new(HttpTransport::new(server_url, &[]).expect("transport"));
    Device::from_parts(store, transport, dir)
}

#[test]
fn a_store_restored_from_a_backup_recovers_its_own_later_edits() {
    let server = Server::start();
    company(&server);
    let mut phone = Device::enrol(&server, "zhangwei", Role::Rep);
    let mut manager = Device::enrol(&server, "wangjl", Role::Manager);
    let cards: Vec<CardId> = ["上海华联超市", "杭州联华便利", "南京苏果超市"]
        .iter()
        .map(|n| phone.new_card(n, "east"))
        .collect();
    phone.sync();
    let backup = tempfile::tempdir().expect("backup");
    copy_store(&phone, backup.path());

    // After the backup: edits on every card, synced, then the phone is lost.
    for (i, card) in cards.iter().enumerate() {
        phone.set(card, "basic.phone", &format!("021-0000 000{i}"));
        phone.visit(card, &format!("备份后拜访 {i}"));
    }
    assert!(phone.sync().refused.is_empty());
    drop(phone);

    // The restored phone edits the first card: its actor's next seq is taken.
    let mut phone = restore(backup.path(), &server.url());
    phone.set(&cards[0], "basic.address", "上海市南京东路100号");
    phone.visit(&cards[0], "恢复后拜访");
    let edited_at = latest_time(&mut phone, &cards[0]);
    let report = phone.sync();
    assert!(report.rekeyed, "{report:?}");
    assert_eq!(report.reapplied, vec![cards[0].to_string()]);
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(report.pending, 0);

    manager.sync();
    phone.sync();
    assert_eq!(
        phone.snapshot(),
        manager.snapshot(),
        "heads and data converge"
    );
    for device in [&mut phone, &mut manager] {
        for (i, card) in cards.iter().enumerate() {
            // The phone's own edits from before the loss came back to it.
            assert_eq!(
                value(device, card, "basic.phone"),
                format!("021-0000 000{i}").as_str()
            );
            let mut expected = vec![format!("备份后拜访 {i}")];
            if i == 0 {
                expected.push("恢复后拜访".to_string());
                expected.sort();
            }
            assert_eq!(visit_summaries(device, card), expected, "no visit doubled");
        }
        assert_eq!(
            value(device, &cards[0], "basic.address"),
            "上海市南京东路100号"
        );
    }
    assert_attributed(&mut phone, &cards[0], "basic.address", edited_at);
    assert_clean(&mut phone);
    assert_clean(&mut manager);
}

#[test]
fn a_server_restored_from_an_older_backup_gets_back_what_it_lost() {
    let dir = tempfile::tempdir().expect("server dir");
    let db = dir.path().join("server.db");
    let server = Server::start_at(&db);
    company(&server);
    let mut phone = Device::enrol(&server, "zhangwei", Role::Rep);
    let mut manager = Device::enrol(&server, "wangjl", Role::Manager);
    let a = phone.new_card("上海华联超市", "east");
    let b = phone.new_card("杭州联华便利", "east");
    phone.sync();
    manager.sync();
    drop(server);
    let backup = tempfile::tempdir().expect("backup");
    for ext in ["db", "db-wal", "db-shm"] {
        let f = db.with_extension(ext);
        if f.exists() {
            std::fs::copy(&f, backup.path().join("server.db").with_extension(ext)).expect("copy");
        }
    }

    // More edits reach the server, then it is restored from the older copy.
    let server = Server::start_at(&db);
    let url = server.url();
    for d in [&mut phone, &mut manager] {
        d.transport = Arc::new(HttpTransport::new(&url, &[]).expect("transport"));
    }
    phone.set(&a, "basic.phone", "021-1111 1111");
    phone.visit(&a, "丢失前拜访");
    phone.set(&b, "basic.phone", "0571-2222 2222");
    assert!(phone.sync().refused.is_empty());
    drop(server);
    for ext in ["db", "db-wal", "db-shm"] {
        let _ = std::fs::remove_file(db.with_extension(ext));
        let f = backup.path().join("server.db").with_extension(ext);
        if f.exists() {
            std::fs::copy(&f, db.with_extension(ext)).expect("restore");
        }
    }
    let server = Server::start_at(&db);
    let url = server.url();
    for d in [&mut phone, &mut manager] {
        d.transport = Arc::new(HttpTransport::new(&url, &[]).expect("transport"));
    }

    // The phone edits one card again; its sync is neither stuck nor lossy.
    phone.set(&a, "basic.address", "上海市南京东路100号");
    let report = phone.sync();
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(report.pending, 0);
    manager.sync();
    phone.sync();
    assert_eq!(
        phone.snapshot(),
        manager.snapshot(),
        "heads and data converge"
    );
    for device in [&mut phone, &mut manager] {
        assert_eq!(value(device, &a, "basic.phone"), "021-1111 1111");
        assert_eq!(value(device, &a, "basic.address"), "上海市南京东路100号");
        assert_eq!(value(device, &b, "basic.phone"), "0571-2222 2222");
        assert_eq!(visit_summaries(device, &a), vec!["丢失前拜访"]);
    }
    assert_clean(&mut phone);
    assert_clean(&mut manager);
}

/// `POST /v1/rekey` as a device would send it, with `token` (or none).
fn post_rekey(device: &Device, token: Option<&str>, actor: Vec<u8>) -> (u16, Vec<u8>) {
    use fieldbook_core::sync::wire::{self, PROTOCOL_VERSION, RekeyRequest};
    let body = wire::encode(&RekeyRequest {
        protocol: PROTOCOL_VERSION,
        actor,
    })
    .expect("encode");
    let resp = device
        .transport
        .post("/v1/rekey", token, wire::CONTENT_TYPE, body)
        .expect("post");
    (resp.status, resp.body)
}

fn code(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).expect("error body");
    v["code"].as_str().expect("code").to_string()
}

#[test]
fn rekey_binds_a_fresh_actor_and_keeps_the_old_one_acceptable() {
    use fieldbook_core::sync::wire::{self, RekeyResponse};
    let server = Server::start();
    company(&server);
    let mut phone = Device::enrol(&server, "zhangwei", Role::Rep);
    let other = Device::enrol(&server, "lina", Role::Rep);
    let card = phone.new_card("上海华联超市", "east");
    phone.sync();
    let token = phone
        .store
        .enrolment()
        .expect("enrolment")
        .expect("enrolled")
        .token;
    let hex_bytes = |h: String| -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
            .collect()
    };

    assert_eq!(post_rekey(&phone, None, vec![7; 16]).0, 401);
    // Another device's actor is never taken, nor an empty one.
    let (status, body) = post_rekey(&phone, Some(&token), hex_bytes(other.store.device_id()));
    assert_eq!((status, code(&body).as_str()), (400, "request.invalid"));
    let (status, body) = post_rekey(&phone, Some(&token), Vec::new());
    assert_eq!((status, code(&body).as_str()), (400, "request.invalid"));

    let (status, body) = post_rekey(&phone, Some(&token), vec![7; 16]);
    assert_eq!(status, 200);
    let answer: RekeyResponse =
        wire::decode(&body, wire::DEFAULT_MAX_DECOMPRESSED).expect("answer");
    assert_eq!(answer.rekeys, 1);
    // A retry of the same re-key changes nothing.
    let (status, body) = post_rekey(&phone, Some(&token), vec![7; 16]);
    let answer: RekeyResponse =
        wire::decode(&body, wire::DEFAULT_MAX_DECOMPRESSED).expect("answer");
    assert_eq!((status, answer.rekeys), (200, 1));

    // The store still writes as its old actor (it did not take the new one): those
    // changes remain the device's own and are accepted.
    phone.set(&card, "basic.phone", "021-1111 1111");
    let report = phone.sync();
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(report.pending, 0);
    // And the re-keyed actor is taken for every other device too.
    let lina_token = other
        .store
        .enrolment()
        .expect("enrolment")
        .expect("enrolled")
        .token;
    let (status, body) = post_rekey(&other, Some(&lina_token), vec![7; 16]);
    assert_eq!((status, code(&body).as_str()), (400, "request.invalid"));
}
