//! Memory bounds under hostile bytes, in a test binary of its own: cargo runs test binaries
//! one after another, so the resident memory these tests measure is the server's (it runs
//! in-process) and theirs, not that of other tests running in parallel threads. The tests
//! here take one lock so they never overlap either.

#[allow(dead_code)]
#[path = "server/harness.rs"]
mod harness;

#[path = "server/bombs.rs"]
mod bombs;

use std::sync::Mutex;

use automerge::sync::{State, SyncDoc};
use fieldbook_core::sync::wire::{self, CardPush, FallbackRequest, PROTOCOL_VERSION, SyncRequest};

use bombs::{gib_compressed_change, gib_document_column, rss_bytes};
use harness::{Device, Env};

/// Held by every test of this binary: one measurement at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn still_serving(env: &Env, device: &mut Device) {
    let (response, _) = device.sync_once(None);
    assert!(response.refused.is_empty());
    let health = env.http.get(env.url("/healthz")).send().expect("healthz");
    assert_eq!(health.status(), 200);
}

fn push_only(device: &Device, pushes: Vec<CardPush>) -> fieldbook_core::sync::wire::SyncResponse {
    let request = SyncRequest {
        protocol: PROTOCOL_VERSION,
        cursor: device.cursor.clone(),
        pushes,
        max_response_bytes: None,
        settings_revision: 0,
    };
    device.send(&request).0
}

fn fallback_body(card_id: &str, message: Vec<u8>) -> Vec<u8> {
    wire::encode(&FallbackRequest {
        protocol: PROTOCOL_VERSION,
        card_id: card_id.into(),
        message,
    })
    .expect("encode")
}

/// Item 1: a push whose bytes inflate to 1 GiB (a compressed change, or a document
/// column) is refused with `card.too_large`; the server stays up with bounded memory and
/// stores nothing, for a new card and for an existing one.
#[test]
fn decompression_bombs_are_refused_with_bounded_memory() {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let env = Env::start();
    let mut zw = env.rep("zhangwei");
    let existing = zw.new_card("sh-east", "上海华东客户服务有限公司");
    zw.sync();
    let stored_before = env
        .storage()
        .card(&existing)
        .expect("card")
        .expect("stored");
    let log = env.log_len();
    let rss = rss_bytes();
    let fresh = uuid::Uuid::new_v4().to_string();
    for bytes in [gib_compressed_change(), gib_document_column()] {
        assert!(bytes.len() < 2 << 20, "{} bytes on the wire", bytes.len());
        let response = push_only(
            &zw,
            vec![
                CardPush {
                    card_id: fresh.clone(),
                    changes: bytes.clone(),
                    heads: Vec::new(),
                },
                CardPush {
                    card_id: existing.clone(),
                    changes: bytes,
                    heads: Vec::new(),
                },
            ],
        );
        let codes: Vec<&str> = response.refused.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["card.too_large", "card.too_large"]);
        assert!(response.acks.is_empty());
    }
    let grown = rss_bytes().saturating_sub(rss);
    assert!(grown < 100 << 20, "RSS grew by {grown} bytes");
    assert!(env.storage().card(&fresh).expect("card").is_none());
    let stored_after = env
        .storage()
        .card(&existing)
        .expect("card")
        .expect("stored");
    assert_eq!(stored_after.doc, stored_before.doc);
    assert_eq!(env.log_len(), log);
    still_serving(&env, &mut zw);
}

/// The changes inside a fallback message are bounded before Automerge parses them.
#[test]
fn a_decompression_bomb_in_a_fallback_message_is_refused() {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let env = Env::start();
    let zw = env.rep("zhangwei");
    let card = uuid::Uuid::new_v4().to_string();
    let mut message = automerge::AutoCommit::new()
        .sync()
        .generate_sync_message(&mut State::new())
        .expect("message");
    message.changes = vec![gib_compressed_change()].into();
    let rss = rss_bytes();
    let (status, bytes) = zw.post_raw("/v1/fallback", fallback_body(&card, message.encode()));
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&bytes));
    assert!(String::from_utf8_lossy(&bytes).contains("card.too_large"));
    assert!(rss_bytes().saturating_sub(rss) < 100 << 20);
    assert_eq!(
        env.storage()
            .fallback_state(&zw.device_id, &card)
            .expect("state"),
        None
    );
    let health = env.http.get(env.url("/healthz")).send().expect("healthz");
    assert_eq!(health.status(), 200);
}
