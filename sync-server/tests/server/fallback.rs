//! The fallback: when the server lacks a change's dependencies, the card syncs through
//! `automerge::sync` on `POST /v1/fallback`.

use automerge::sync::{Message, State, SyncDoc};
use fieldbook_core::sync::wire::{self, FallbackRequest, FallbackResponse, PROTOCOL_VERSION};

use crate::harness::{Device, Env};

fn run_fallback(d: &mut Device, card: &str) -> usize {
    let mut state = State::new();
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 20, "fallback does not terminate");
        let doc = d.cards.get_mut(card).expect("card");
        let message = doc.sync().generate_sync_message(&mut state);
        let Some(message) = message else {
            return rounds;
        };
        let body = wire::encode(&FallbackRequest {
            protocol: PROTOCOL_VERSION,
            card_id: card.into(),
            message: message.encode(),
        })
        .expect("encode");
        let (status, bytes) = d.post_raw("/v1/fallback", body);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
        let response: FallbackResponse =
            wire::decode(&bytes, wire::DEFAULT_MAX_DECOMPRESSED).expect("decode");
        if let Some(reply) = response.message {
            let doc = d.cards.get_mut(card).expect("card");
            doc.sync()
                .receive_sync_message(&mut state, Message::decode(&reply).expect("message"))
                .expect("receive");
        }
    }
}

#[test]
fn missing_dependencies_fall_back_to_automerge_sync_and_converge() {
    let env = Env::start();
    let mut a = env.rep("zhangwei");
    let card = a.new_card("sh-east", "Acme");
    a.sync();
    // The device believes the server acknowledged a change it never received (e.g. the
    // server was restored from an older backup).
    a.set(&card, "phone", "1");
    let lost_heads = a.cards.get_mut(&card).expect("card").get_heads();
    a.acked.insert(card.clone(), lost_heads);
    a.set(&card, "city", "Shanghai");

    let (response, _) = a.sync_once(None);
    assert_eq!(response.fallback, vec![card.clone()]);
    assert!(response.acks.is_empty());

    run_fallback(&mut a, &card);
    let stored = env.storage().card(&card).expect("card").expect("exists");
    let mut server_heads: Vec<_> = stored
        .heads
        .iter()
        .map(|h| automerge::ChangeHash(*h))
        .collect();
    server_heads.sort();
    assert_eq!(server_heads, a.heads(&card));

    let mut b = env.rep("zhangwei");
    b.sync();
    assert_eq!(b.get(&card, "phone").as_deref(), Some("1"));
    assert_eq!(b.get(&card, "city").as_deref(), Some("Shanghai"));
}

#[test]
fn the_fallback_refuses_foreign_cards_and_undecodable_messages() {
    let env = Env::start();
    let mut lina = env.rep("lina");
    let hers = lina.new_card("bj-north", "Beijing");
    lina.sync();
    let zw = env.rep("zhangwei");
    let mut doc = automerge::AutoCommit::new();
    let message = doc
        .sync()
        .generate_sync_message(&mut State::new())
        .expect("message");
    let body = wire::encode(&FallbackRequest {
        protocol: PROTOCOL_VERSION,
        card_id: hers,
        message: message.encode(),
    })
    .expect("encode");
    let (status, bytes) = zw.post_raw("/v1/fallback", body);
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&bytes).contains("access.denied"));

    let body = wire::encode(&FallbackRequest {
        protocol: PROTOCOL_VERSION,
        card_id: "whatever".into(),
        message: vec![1, 2, 3],
    })
    .expect("encode");
    let (status, bytes) = zw.post_raw("/v1/fallback", body);
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&bytes).contains("sync.bad_change"));
}
