//! Several server instances on one database: each keeps its own cache of loaded documents,
//! and a cached document must never stand for a card another instance has moved since.

use automerge::{Automerge, ReadDoc, ScalarValue, Value};

use crate::harness::Env;

fn stored_value(env: &Env, card: &str, key: &str) -> Vec<String> {
    let stored = env.storage().card(card).expect("card").expect("stored");
    let doc = Automerge::load(&stored.doc).expect("stored document loads");
    doc.get_all(automerge::ROOT, key)
        .expect("get_all")
        .into_iter()
        .filter_map(|(v, _)| match v {
            Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Str(s) => Some(s.to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn edits_through_two_instances_interleave_without_losing_any() {
    let env = Env::start();
    let second = env.second_instance();
    let mut a = env.rep("zhangwei");
    let mut b = env.rep("zhangwei");
    b.url = second.url();
    let card = a.new_card("sh-east", "Acme");
    a.sync(); // instance 1 writes the card (and caches its document)
    b.sync(); // instance 2 serves it
    for round in 0..4 {
        b.set(&card, "phone", &format!("b{round}"));
        b.sync(); // instance 2 moves the card: instance 1's cached document is stale
        a.set(&card, &format!("a{round}"), "x");
        a.sync(); // instance 1 must apply on top of the stored card, not its cached one
        assert_eq!(
            stored_value(&env, &card, "phone"),
            vec![format!("b{round}")]
        );
        for r in 0..=round {
            assert_eq!(stored_value(&env, &card, &format!("a{r}")), vec!["x"]);
        }
    }
    a.sync();
    b.sync();
    assert_eq!(a.heads(&card), b.heads(&card));
    let stored = env.storage().card(&card).expect("card").expect("stored");
    let mut heads: Vec<[u8; 32]> = a.heads(&card).into_iter().map(|h| h.0).collect();
    heads.sort();
    let mut stored_heads = stored.heads.clone();
    stored_heads.sort();
    assert_eq!(stored_heads, heads, "the stored card holds every edit");
    // Both instances serve the same projection.
    let token = a.token.clone();
    let get = |url: String| -> serde_json::Value {
        env.http
            .get(format!("{url}/v1/cards/{card}"))
            .bearer_auth(&token)
            .send()
            .expect("get card")
            .json()
            .expect("json")
    };
    let one = get(env.server.url());
    assert_eq!(one, get(second.url()));
    // The card view names the version it shows: the stored heads.
    let mut shown: Vec<String> = one["heads"]
        .as_array()
        .expect("heads")
        .iter()
        .map(|h| h.as_str().expect("hex").to_owned())
        .collect();
    shown.sort();
    let mut stored_hex: Vec<String> = stored_heads.iter().map(hex::encode).collect();
    stored_hex.sort();
    assert_eq!(shown, stored_hex);
}

#[test]
fn a_refused_push_leaves_no_trace_in_the_cache() {
    let env = Env::start();
    let mut a = env.rep("zhangwei");
    let card = a.new_card("sh-east", "Acme");
    a.sync();
    a.set(&card, "phone", "1");
    a.sync(); // the card's document is now cached
    // A push that moves the card to another territory is refused after being applied to
    // the (cached) document; the next push must not see the refused change.
    let mut sneaky = env.rep("zhangwei");
    sneaky.sync();
    sneaky.set(&card, "territory", "bj-north");
    let (response, _) = sneaky.sync_once(None);
    assert_eq!(response.refused.len(), 1);
    a.set(&card, "phone", "2");
    a.sync();
    assert_eq!(stored_value(&env, &card, "territory"), vec!["sh-east"]);
    assert_eq!(stored_value(&env, &card, "phone"), vec!["2"]);
}

/// Two pushes of one card in one request land in the same write transaction; the second
/// finds the card moved by the first, is redone on its own, and both are kept.
#[test]
fn one_card_pushed_twice_in_one_request_keeps_both() {
    use fieldbook_core::sync::wire::{CardPush, PROTOCOL_VERSION, SyncRequest};
    let env = Env::start();
    let mut a = env.rep("zhangwei");
    let card = a.new_card("sh-east", "Acme");
    a.sync();
    let acked = a.heads(&card);
    a.set(&card, "phone", "1");
    let mid = a.heads(&card);
    let first = a.cards.get_mut(&card).expect("card").save_after(&acked);
    a.set(&card, "email", "x@example.com");
    let second = a.cards.get_mut(&card).expect("card").save_after(&mid);
    let end = a.heads(&card);
    let request = SyncRequest {
        protocol: PROTOCOL_VERSION,
        cursor: a.cursor.clone(),
        pushes: vec![
            CardPush {
                card_id: card.clone(),
                changes: first,
                heads: mid.iter().map(|h| h.0).collect(),
            },
            CardPush {
                card_id: card.clone(),
                changes: second,
                heads: end.iter().map(|h| h.0).collect(),
            },
        ],
        max_response_bytes: None,
        settings_revision: 0,
    };
    let (response, _) = a.send(&request);
    assert_eq!(response.acks.len(), 2, "refused: {:?}", response.refused);
    assert_eq!(stored_value(&env, &card, "phone"), vec!["1"]);
    assert_eq!(stored_value(&env, &card, "email"), vec!["x@example.com"]);
    let stored = env.storage().card(&card).expect("card").expect("stored");
    let mut heads: Vec<[u8; 32]> = end.iter().map(|h| h.0).collect();
    heads.sort();
    let mut stored_heads = stored.heads;
    stored_heads.sort();
    assert_eq!(stored_heads, heads);
}

#[test]
fn one_device_syncing_with_two_instances_at_once_stores_each_change_once() {
    let env = Env::start();
    let second = env.second_instance();
    let mut a = env.rep("zhangwei");
    let cards: Vec<String> = (0..6)
        .map(|i| a.new_card("sh-east", &format!("无锡客户{i}")))
        .collect();
    a.sync();
    for (i, card) in cards.iter().enumerate() {
        a.set(card, "phone", &format!("1390000{i:04}"));
    }
    let before = env.log_len();
    // The same request to both instances at once: a retry sent to another instance
    // while the first attempt is still in flight.
    let request = a.request(None);
    let second_url = second.url();
    let responses: Vec<_> = std::thread::scope(|s| {
        let first = s.spawn(|| a.send(&request).0);
        let again = s.spawn(|| a.send_to(&second_url, &request).0);
        vec![first.join().expect("first"), again.join().expect("second")]
    });
    for r in &responses {
        assert_eq!(r.acks.len(), cards.len(), "refused: {:?}", r.refused);
    }
    assert_eq!(
        env.log_len(),
        before + cards.len() as u64,
        "each change stored once"
    );
    a.apply(&responses[1]);
    a.sync();
    for card in &cards {
        let mut heads: Vec<[u8; 32]> = a.heads(card).into_iter().map(|h| h.0).collect();
        heads.sort();
        let mut stored = env
            .storage()
            .card(card)
            .expect("card")
            .expect("stored")
            .heads;
        stored.sort();
        assert_eq!(stored, heads);
    }
}
