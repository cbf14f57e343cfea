//! The main path: enrol, push, pull, converge, retry, and the cost of doing nothing.

use fieldbook_core::sync::wire::PayloadKind;
use fieldbook_server::storage::Role;

use crate::harness::Env;

#[test]
fn a_card_pushed_by_one_device_reaches_another_and_the_manager() {
    let env = Env::start();
    let mut phone = env.rep("zhangwei");
    let card = phone.new_card("sh-east", "上海华东客户服务有限公司");
    let (response, _) = phone.sync_once(None);
    assert_eq!(response.acks.len(), 1);
    assert!(response.refused.is_empty() && response.fallback.is_empty());
    assert!(
        response.changes.is_empty(),
        "a device's own changes are not echoed"
    );
    assert_eq!(env.log_len(), 1);

    let mut tablet = env.rep("zhangwei");
    tablet.sync();
    assert_eq!(
        tablet.get(&card, "name").as_deref(),
        Some("上海华东客户服务有限公司")
    );

    let mut manager = env.device("wang", Role::Manager);
    let (response, _) = manager.sync_once(None);
    assert_eq!(response.changes.len(), 1);
    assert_eq!(response.changes[0].kind, PayloadKind::Snapshot);
    assert_eq!(manager.heads(&card), phone.heads(&card));

    // Another rep sees nothing of it.
    let mut other = env.rep("lina");
    let (response, _) = other.sync_once(None);
    assert!(response.changes.is_empty());

    // The projection serves the manager views.
    let json: serde_json::Value = env
        .http
        .get(env.url(&format!("/v1/cards/{card}")))
        .bearer_auth(&manager.token)
        .send()
        .expect("get card")
        .json()
        .expect("json");
    // The device's card view (`show --json`): the same shape on the server.
    assert_eq!(json["territory"], "sh-east");
    assert_eq!(json["id"], card.as_str());
    assert!(json["contacts"].is_array() && json["conflicts"].is_array());
}

#[test]
fn offline_edits_on_two_devices_converge_and_show_the_conflict() {
    let env = Env::start();
    let mut a = env.rep("zhangwei");
    let mut b = env.rep("zhangwei");
    let mut boss = env.device("wang", Role::Manager);
    let card = a.new_card("sh-east", "Acme");
    a.sync();
    b.sync();
    boss.sync();

    // Both offline: the same field concurrently, and different fields.
    a.set(&card, "phone", "13800000001");
    b.set(&card, "phone", "13900000002");
    a.set(&card, "city", "Shanghai");
    b.set(&card, "email", "info@acme.example");
    boss.set(&card, "class", "A");

    // Sync in an awkward order; everyone ends with the same document.
    b.sync();
    boss.sync();
    a.sync();
    b.sync();
    boss.sync();
    a.sync();
    assert_eq!(a.heads(&card), b.heads(&card));
    assert_eq!(a.heads(&card), boss.heads(&card));
    for d in [&mut a, &mut b, &mut boss] {
        assert_eq!(d.get(&card, "city").as_deref(), Some("Shanghai"));
        assert_eq!(d.get(&card, "email").as_deref(), Some("info@acme.example"));
        assert_eq!(d.get(&card, "class").as_deref(), Some("A"));
        let mut phones = d.all_values(&card, "phone");
        phones.sort();
        assert_eq!(
            phones,
            ["13800000001", "13900000002"],
            "the conflict is visible"
        );
    }
    // The server's document agrees, and every change is in the log exactly once.
    let stored = env.storage().card(&card).expect("card").expect("exists");
    let doc = automerge::Automerge::load(&stored.doc).expect("load");
    let mut server_heads = doc.get_heads();
    server_heads.sort();
    assert_eq!(server_heads, a.heads(&card));
    assert_eq!(env.log_len() as usize, doc.get_changes(&[]).len());
}

#[test]
fn a_retried_request_stores_nothing_twice() {
    let env = Env::start();
    let mut a = env.rep("zhangwei");
    let card = a.new_card("sh-east", "Acme");
    a.set(&card, "phone", "1");
    let request = a.request(None);
    let (first, _) = a.send(&request);
    let after_first = env.log_len();
    assert_eq!(after_first, 2);
    // The response was "lost": the device retries the very same request.
    let (second, _) = a.send(&request);
    assert_eq!(env.log_len(), after_first, "no duplicate log rows");
    assert_eq!(first.acks, second.acks);
    a.apply(&second);
    // And another device receives each change once.
    let mut b = env.rep("zhangwei");
    b.sync();
    assert_eq!(b.heads(&card), a.heads(&card));
}

#[test]
fn a_no_op_sync_is_one_small_request_each_way() {
    let env = Env::start();
    let mut a = env.rep("zhangwei");
    for i in 0..300 {
        a.new_card("sh-east", &format!("Customer {i}"));
    }
    a.sync();
    let mut b = env.rep("zhangwei");
    assert_eq!(b.sync(), 1);
    assert_eq!(b.cards.len(), 300);
    for device in [&mut a, &mut b] {
        let (response, traffic) = device.sync_once(None);
        assert!(response.changes.is_empty() && response.acks.is_empty() && !response.more);
        assert!(traffic.up < 1024, "request of {} bytes", traffic.up);
        assert!(traffic.down < 1024, "response of {} bytes", traffic.down);
        assert!(traffic.up < 100 && traffic.down < 100, "{traffic:?}");
    }
}

#[test]
fn reconnect_after_offline_edits_sends_only_the_changes() {
    let env = Env::start();
    let mut a = env.rep("zhangwei");
    let ids: Vec<String> = (0..50)
        .map(|i| a.new_card("sh-east", &format!("C{i}")))
        .collect();
    a.sync();
    let mut b = env.rep("zhangwei");
    b.sync();
    for id in &ids[..20] {
        a.set(id, "note", "visited");
    }
    let (response, _) = a.sync_once(None);
    assert_eq!(response.acks.len(), 20);
    let (response, _) = b.sync_once(None);
    assert_eq!(response.changes.len(), 20);
    assert!(
        response
            .changes
            .iter()
            .all(|c| c.kind == PayloadKind::Changes)
    );
    for id in &ids[..20] {
        assert_eq!(b.get(id, "note").as_deref(), Some("visited"));
    }
    // Nothing is sent twice.
    let (response, _) = b.sync_once(None);
    assert!(response.changes.is_empty());
}

#[test]
fn health_and_metrics_are_served() {
    let env = Env::start();
    let mut a = env.rep("zhangwei");
    a.new_card("sh-east", "Acme");
    a.sync();
    let health = env.http.get(env.url("/healthz")).send().expect("healthz");
    assert_eq!(health.status(), 200);
    let _ = env
        .http
        .post(env.url("/v1/sync"))
        .send()
        .expect("unauthenticated");
    let text = env
        .http
        .get(env.url("/metrics"))
        .send()
        .expect("metrics")
        .text()
        .expect("text");
    assert!(text.contains("fieldbook_syncs_total 1"), "{text}");
    assert!(
        text.contains("fieldbook_errors_total{code=\"auth.missing_token\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("fieldbook_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[test]
fn a_restarted_server_keeps_everything_acknowledged_and_honours_old_cursors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("server.db");
    let mut env = Env::start_at(&db);
    let mut a = env.rep("zhangwei");
    let mut b = env.rep("zhangwei");
    let card = a.new_card("sh-east", "Acme");
    a.sync();
    b.sync();
    a.set(&card, "phone", "1");
    a.sync();
    let log = env.log_len();

    // Graceful shutdown, then a new server process on the same file.
    env = env.restart();
    assert_eq!(env.log_len(), log);
    for d in [&mut a, &mut b] {
        d.url = env.server.url();
    }
    let (response, _) = b.sync_once(None);
    assert_eq!(response.changes.len(), 1, "b's old cursor is still valid");
    assert_eq!(b.get(&card, "phone").as_deref(), Some("1"));
    let (response, _) = a.sync_once(None);
    assert!(response.changes.is_empty() && response.refused.is_empty());
}

#[test]
fn seeded_cards_reach_devices_as_snapshots() {
    use automerge::transaction::Transactable;
    let env = Env::start();
    let ids: Vec<String> = (0..3).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let docs: Vec<automerge::Automerge> = (0..3)
        .map(|i| {
            let mut doc = automerge::AutoCommit::new()
                .with_author(Some(automerge::Author::from(b"seed".to_vec())));
            fieldbook_core::card::write_skeleton(
                &mut doc,
                &ids[i].parse().expect("id"),
                Some("sh-east"),
            )
            .expect("skeleton");
            doc.put(automerge::ROOT, "name", format!("Demo {i}"))
                .expect("put");
            doc.commit();
            automerge::Automerge::load(&doc.save()).expect("load")
        })
        .collect();
    let appended = fieldbook_server::seed_cards(env.storage().as_ref(), &docs).expect("seed");
    assert_eq!(appended, 3);
    assert_eq!(
        fieldbook_server::seed_cards(env.storage().as_ref(), &docs).expect("again"),
        0
    );
    let mut a = env.rep("zhangwei");
    a.sync();
    assert_eq!(a.get(&ids[1], "name").as_deref(), Some("Demo 1"));
    // Seeded cards can then be edited by the device.
    a.set(&ids[1], "phone", "1");
    let (response, _) = a.sync_once(None);
    assert_eq!(response.acks.len(), 1);
}

#[test]
fn a_request_over_the_time_limit_is_408_with_a_code() {
    use std::io::{Read, Write};
    let env = Env::start_with(fieldbook_server::Config {
        request_timeout: std::time::Duration::from_millis(300),
        ..fieldbook_server::Config::default()
    });
    // A client that announces a body and then stalls.
    let mut stream = std::net::TcpStream::connect(env.server.addr).expect("connect");
    write!(
        stream,
        "POST /v1/enrol HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: 1000\r\n\r\n{{\"token\":"
    )
    .expect("write");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    let mut response = String::new();
    let mut buf = [0u8; 4096];
    while !response.contains("request.timeout") {
        let n = stream.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        response.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(
        response.contains("\"code\":\"request.timeout\""),
        "{response}"
    );
}

#[test]
fn unknown_routes_are_404_with_a_code() {
    let env = Env::start();
    let r = env
        .http
        .get(env.url("/v2/nothing"))
        .send()
        .expect("request");
    assert_eq!(r.status(), 404);
    let body: fieldbook_core::sync::wire::ErrorBody = r.json().expect("json");
    assert_eq!(body.code, "request.not_found");
}

#[test]
fn many_devices_syncing_the_same_card_at_once_converge_without_duplicates() {
    let env = Env::start();
    let mut first = env.rep("zhangwei");
    let card = first.new_card("sh-east", "Busy customer");
    first.sync();
    let mut devices: Vec<_> = (0..6).map(|_| env.rep("zhangwei")).collect();
    for d in &mut devices {
        d.sync();
    }
    let handles: Vec<_> = devices
        .into_iter()
        .enumerate()
        .map(|(i, mut d)| {
            let card = card.clone();
            std::thread::spawn(move || {
                for round in 0..5 {
                    d.set(&card, &format!("field-{i}"), &format!("round {round}"));
                    d.set(&card, "shared", &format!("device {i} round {round}"));
                    d.sync();
                }
                d
            })
        })
        .collect();
    let mut devices: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("device thread"))
        .collect();
    devices.push(first);
    for d in &mut devices {
        d.sync();
    }
    let heads = devices[0].heads(&card);
    for d in &mut devices {
        assert_eq!(d.heads(&card), heads);
    }
    let stored = env.storage().card(&card).expect("card").expect("exists");
    let doc = automerge::Automerge::load(&stored.doc).expect("load");
    assert_eq!(doc.get_changes(&[]).len(), 1 + 6 * 10);
    assert_eq!(
        env.log_len(),
        1 + 6 * 10,
        "every change logged exactly once"
    );
}
