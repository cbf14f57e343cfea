//! Handoff: a territory moves from one rep to another.

use fieldbook_core::sync::wire::PayloadKind;
use fieldbook_server::admin;

use crate::harness::Env;

#[test]
fn a_handoff_brings_full_history_to_the_new_rep_and_removes_it_from_the_old() {
    let env = Env::start();
    let mut zw = env.rep("zhangwei");
    let mut lina = env.rep("lina");
    let card = zw.new_card("sh-east", "Acme");
    zw.set(&card, "note", "met the buyer");
    zw.sync();
    lina.sync();
    assert!(lina.cards.is_empty());

    admin::assign_territory(env.storage().as_ref(), "sh-east", "lina").expect("handoff");

    let (response, _) = lina.sync_once(None);
    assert_eq!(response.changes.len(), 1);
    assert_eq!(response.changes[0].kind, PayloadKind::Snapshot);
    assert_eq!(lina.heads(&card), zw.heads(&card));
    // Every earlier edit is there, attributed to its author.
    let doc =
        automerge::Automerge::load(&lina.cards.get_mut(&card).expect("card").save()).expect("load");
    let authors: Vec<Vec<u8>> = doc
        .get_changes(&[])
        .iter()
        .map(|c| {
            doc.get_author_for_actor(c.actor_id())
                .map(|a| a.as_bytes().to_vec())
                .unwrap_or_default()
        })
        .collect();
    assert!(!authors.is_empty());
    assert!(authors.iter().all(|a| a == b"zhangwei"));
    assert_eq!(lina.get(&card, "note").as_deref(), Some("met the buyer"));

    let (response, _) = zw.sync_once(None);
    assert_eq!(response.revoked, vec![card.clone()]);
    assert!(zw.cards.is_empty());

    // The new owner edits; the old owner can no longer push to it.
    lina.set(&card, "note", "new owner");
    lina.sync();
    let doc = env.storage().card(&card).expect("card").expect("exists");
    let doc = automerge::Automerge::load(&doc.doc).expect("load");
    assert_eq!(
        doc.get_changes(&[]).len(),
        3,
        "create, note, new owner's note"
    );
    // (His edits after the handoff: see the grace-period tests below.)
}

#[test]
fn a_card_created_in_a_territory_the_rep_gains_later_arrives_once() {
    let env = Env::start();
    let mut lina = env.rep("lina");
    lina.sync();
    admin::assign_territory(env.storage().as_ref(), "gz-south", "lina").expect("assign");
    let card = lina.new_card("gz-south", "Guangzhou customer");
    let (response, _) = lina.sync_once(None);
    assert_eq!(response.acks.len(), 1);
    assert!(response.refused.is_empty());
    let mut tablet = env.rep("lina");
    tablet.sync();
    assert_eq!(tablet.heads(&card), lina.heads(&card));
    let (response, _) = tablet.sync_once(None);
    assert!(response.changes.is_empty());
}

#[test]
fn late_edits_from_the_previous_owner_are_accepted_within_the_grace_period() {
    let env = Env::start();
    let mut zw = env.rep("zhangwei");
    let mut lina = env.rep("lina");
    let card = zw.new_card("sh-east", "Acme");
    zw.sync();
    // Offline, zhangwei logs a visit; meanwhile the territory goes to lina.
    zw.set(&card, "note", "visited before the handoff");
    admin::assign_territory(env.storage().as_ref(), "sh-east", "lina").expect("handoff");

    let (response, _) = zw.sync_once(None);
    assert!(response.refused.is_empty(), "{:?}", response.refused);
    assert_eq!(response.acks.len(), 1, "late edit accepted");
    assert_eq!(
        response.revoked,
        vec![card.clone()],
        "and the card leaves his phone"
    );

    lina.sync();
    assert_eq!(
        lina.get(&card, "note").as_deref(),
        Some("visited before the handoff")
    );
}

#[test]
fn late_edits_past_the_grace_period_are_refused_but_kept_for_review() {
    let env = Env::start();
    let mut zw = env.rep("zhangwei");
    let mut lina = env.rep("lina");
    let card = zw.new_card("sh-east", "Acme");
    zw.sync();
    zw.set(&card, "note", "very late");
    let eight_days_ago = fieldbook_server::auth::now() - 8 * 24 * 3600;
    env.storage()
        .assign_territory("sh-east", "lina", eight_days_ago)
        .expect("handoff");
    let log = env.log_len();

    let (response, _) = zw.sync_once(None);
    assert_eq!(response.refused.len(), 1);
    assert_eq!(response.refused[0].code, "access.handoff_expired");
    assert!(response.refused[0].message.contains("review"));
    assert_eq!(env.log_len(), log, "not in the log");
    let held = env.storage().held_changes(&card).expect("held");
    assert_eq!(held.len(), 1, "kept for the manager");
    assert_eq!(held[0].person_id, "zhangwei");
    // A retry holds nothing twice.
    let request = zw.request(None);
    zw.send(&request);
    assert_eq!(env.storage().held_changes(&card).expect("held").len(), 1);

    lina.sync();
    assert_eq!(lina.get(&card, "note"), None);
    // Someone who never held the territory gets a plain refusal.
    let mut chen = env.device("chen", fieldbook_server::storage::Role::Manager);
    let stored = env.storage().card(&card).expect("card").expect("exists");
    let doc = chen.doc_handle(automerge::AutoCommit::load(&stored.doc).expect("load"));
    chen.cards.insert(card.clone(), doc);
    chen.set(&card, "note", "not mine");
    let (response, _) = chen.sync_once(None);
    assert_eq!(response.refused.len(), 1);
    assert_eq!(response.refused[0].code, "access.denied");
}

#[test]
fn a_sync_cannot_move_a_card_to_another_territory() {
    let env = Env::start();
    admin::assign_territory(env.storage().as_ref(), "gz-south", "zhangwei").expect("assign");
    let mut zw = env.rep("zhangwei");
    let card = zw.new_card("sh-east", "Acme");
    zw.sync();
    let log = env.log_len();
    zw.set(&card, "territory", "gz-south");
    let (response, _) = zw.sync_once(None);
    assert_eq!(response.refused.len(), 1);
    assert_eq!(response.refused[0].code, "sync.territory_change");
    assert_eq!(env.log_len(), log);
    let stored = env.storage().card(&card).expect("card").expect("exists");
    assert_eq!(stored.territory, "sh-east");
}
