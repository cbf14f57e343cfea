//! Server-side timing of the sync engine, without HTTP or a device store: the part of the
//! sync benchmark's (b) and (d) that the server spends (it seeds a few hundred realistic
//! cards); run in release:
//!
//! ```text
//! cargo run --release -p fieldbook-server --example engine_bench
//! ```

use std::time::Instant;

use automerge::{ActorId, Author, AutoCommit, Automerge, ReadDoc, transaction::Transactable};
use chrono::NaiveDate;
use fieldbook_core::demo::{DemoAuthor, demo_document};
use fieldbook_core::sync::wire::{CardPush, PROTOCOL_VERSION, SyncRequest};
use fieldbook_server::storage::{PersonKind, Role, Storage};
use fieldbook_server::{Config, admin, state_for_sqlite};

fn main() {
    push_100_edited_cards();
    memory_of_loaded_documents();
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Edits one field of a card as the device and returns the push.
fn edit(doc: &mut AutoCommit, card_id: &str, value: &str) -> CardPush {
    let before = doc.get_heads();
    let section = match doc.get(automerge::ROOT, "transaction") {
        Ok(Some((_, id))) => id,
        _ => automerge::ROOT,
    };
    doc.put(&section, "current_activity", value).expect("put");
    doc.commit();
    CardPush {
        card_id: card_id.to_owned(),
        changes: doc.save_after(&before),
        heads: doc.get_heads().iter().map(|h| h.0).collect(),
    }
}

fn push_100_edited_cards() {
    let n_cards: u64 = std::env::var("BENCH_CARDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let dir = tempfile::tempdir().expect("dir");
    let state = state_for_sqlite(&dir.path().join("s.db"), Config::default()).expect("state");
    let s: &dyn Storage = state.storage.as_ref();
    admin::add_person(s, "zhangwei", "Z", PersonKind::Rep).expect("rep");
    admin::add_territory(s, "east", "E", None).expect("territory");
    admin::assign_territory(s, "east", "zhangwei").expect("assign");
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    let authors = [
        DemoAuthor::new("zhangwei".parse().expect("rep")),
        DemoAuthor::new("lina".parse().expect("rep")),
    ];
    let mut docs = Vec::new();
    let mut ids = Vec::new();
    for i in 0..n_cards {
        let (id, bytes) = demo_document(7, i, "east", &authors, 50, today).expect("demo");
        ids.push(id.as_str().to_owned());
        docs.push(Automerge::load(&bytes).expect("load"));
    }
    fieldbook_server::seed_cards(s, &docs).expect("seed");

    let token = admin::enrol_device(s, "zhangwei", Role::Rep, "bench").expect("enrol");
    let actor = ActorId::random();
    let enrolled = admin::redeem(s, &token.token, &actor.to_hex_string(), None).expect("redeem");
    let device = s
        .device(&enrolled.device_id)
        .expect("device")
        .expect("some");
    let mut device_docs: Vec<AutoCommit> = docs
        .iter()
        .map(|d| {
            AutoCommit::load(&d.save())
                .expect("load")
                .with_author(Some(Author::from(b"zhangwei".to_vec())))
                .with_actor(actor.clone())
        })
        .collect();

    let limits = state.config.sync_limits();
    // The device's first sync (snapshots of every card), untimed: (b) is a reconnect.
    let first = SyncRequest {
        protocol: PROTOCOL_VERSION,
        cursor: None,
        pushes: Vec::new(),
        max_response_bytes: Some(u32::MAX),
        settings_revision: 0,
    };
    let (response, _) = fieldbook_server::sync::sync(
        s,
        &state.docs,
        &state.identity,
        &device,
        first,
        limits,
        fieldbook_server::auth::now(),
    )
    .expect("first sync");
    assert!(!response.more);
    let mut cursor = Some(response.cursor);
    let mut times = Vec::new();
    for run in 0..7 {
        let pushes: Vec<CardPush> = device_docs
            .iter_mut()
            .zip(&ids)
            .take(100)
            .map(|(d, id)| edit(d, id, &format!("run {run}")))
            .collect();
        let request = SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor: cursor.clone(),
            pushes,
            max_response_bytes: None,
            settings_revision: 0,
        };
        let t = Instant::now();
        let (response, stats) = fieldbook_server::sync::sync(
            s,
            &state.docs,
            &state.identity,
            &device,
            request,
            limits,
            fieldbook_server::auth::now(),
        )
        .expect("sync");
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert_eq!(stats.cards_acked, 100, "refused: {:?}", response.refused);
        for ack in &response.acks {
            assert!(!ack.heads.is_empty());
        }
        cursor = Some(response.cursor.clone());
        println!(
            "run {run}: 100 pushed cards in {ms:.1} ms ({} sent back)",
            stats.cards_sent
        );
        times.push(ms);
    }
    println!(
        "median server time for 100 pushed cards: {:.1} ms",
        median(times)
    );
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// What a cached document costs in memory, to size `Config::doc_cache_cards`.
fn memory_of_loaded_documents() {
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    let authors = [
        DemoAuthor::new("zhangwei".parse().expect("rep")),
        DemoAuthor::new("lina".parse().expect("rep")),
    ];
    for changes in [10, 50] {
        let bytes: Vec<Vec<u8>> = (0..500)
            .map(|i| {
                demo_document(7, i, "east", &authors, changes, today)
                    .expect("demo")
                    .1
            })
            .collect();
        let saved: usize = bytes.iter().map(Vec::len).sum();
        let before = rss_kib();
        let docs: Vec<Automerge> = bytes
            .iter()
            .map(|b| Automerge::load(b).expect("load"))
            .collect();
        let after = rss_kib();
        println!(
            "{changes} changes: {} bytes saved per card, about {} KiB in memory per loaded card",
            saved / docs.len(),
            (after.saturating_sub(before)) / docs.len() as u64
        );
        drop(docs);
    }
}
