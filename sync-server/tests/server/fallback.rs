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
            // As the device's engine does: the stateless server forgets a change it could
            // not apply yet, so what was sent counts as unsent once it has answered.
            state.sent_hashes.clear();
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

fn fallback_body(card_id: &str, message: Vec<u8>) -> Vec<u8> {
    wire::encode(&FallbackRequest {
        protocol: PROTOCOL_VERSION,
        card_id: card_id.into(),
        message,
    })
    .expect("encode")
}

/// Item 5 of issue 6: a foreign card and a card that does not exist get the same answer,
/// with and without changes in the message, and neither leaves a `fallback_states` row.
#[test]
fn the_fallback_answers_foreign_and_unknown_cards_alike_and_keeps_no_state() {
    let env = Env::start();
    let mut lina = env.rep("lina");
    let hers = lina.new_card("bj-north", "Beijing");
    lina.sync();
    let unknown = uuid::Uuid::new_v4().to_string();
    let zw = env.rep("zhangwei");
    let log = env.log_len();

    // A message without changes (the first of any sync).
    let mut doc = automerge::AutoCommit::new();
    let message = doc
        .sync()
        .generate_sync_message(&mut State::new())
        .expect("message")
        .encode();
    let foreign = zw.post_raw("/v1/fallback", fallback_body(&hers, message.clone()));
    let absent = zw.post_raw("/v1/fallback", fallback_body(&unknown, message));
    assert_eq!(foreign.0, 200);
    assert_eq!(
        foreign, absent,
        "a foreign card answers like one that does not exist"
    );

    // A message carrying changes: zhangwei's own card in lina's territory, under both ids.
    for card in [&hers, &unknown] {
        let mut mine = zw.doc_handle(automerge::AutoCommit::new());
        fieldbook_core::card::write_skeleton(
            &mut mine,
            &card.parse().expect("id"),
            Some("bj-north"),
        )
        .expect("skeleton");
        mine.commit();
        let message = mine
            .sync()
            .generate_sync_message(&mut State::new())
            .expect("message");
        // The first message only announces heads; answer it to get one with changes.
        let mut server = automerge::AutoCommit::new();
        let mut server_state = State::new();
        server
            .sync()
            .receive_sync_message(&mut server_state, message)
            .expect("receive");
        let reply = server
            .sync()
            .generate_sync_message(&mut server_state)
            .expect("reply");
        let mut state = State::new();
        let _ = mine.sync().generate_sync_message(&mut state);
        mine.sync()
            .receive_sync_message(&mut state, reply)
            .expect("receive");
        let with_changes = mine
            .sync()
            .generate_sync_message(&mut state)
            .expect("message with changes");
        assert!(!with_changes.changes.is_empty());
        let (status, bytes) =
            zw.post_raw("/v1/fallback", fallback_body(card, with_changes.encode()));
        assert_eq!(status, 403, "{}", String::from_utf8_lossy(&bytes));
        assert!(String::from_utf8_lossy(&bytes).contains("access.denied"));
    }

    for card in [&hers, &unknown] {
        assert_eq!(
            env.storage()
                .fallback_state(&zw.device_id, card)
                .expect("state"),
            None,
            "no state kept for a card the caller cannot write"
        );
    }
    assert!(env.storage().card(&unknown).expect("card").is_none());
    assert_eq!(env.log_len(), log);

    let (status, bytes) = zw.post_raw("/v1/fallback", fallback_body("whatever", vec![1, 2, 3]));
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&bytes).contains("sync.bad_change"));
}
