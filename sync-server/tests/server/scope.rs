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
    let stale = zw.doc_handle(
        automerge::AutoCommit::load(&env.storage().card(&card).expect("c").expect("e").doc)
            .expect("load"),
    );
    zw.cards.insert(card.clone(), stale);
    zw.set(&card, "note", "late edit");
    let (response, _) = zw.sync_once(None);
    assert_eq!(response.refused.len(), 1);
    assert_eq!(response.refused[0].code, "access.denied");
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
