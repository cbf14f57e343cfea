//! Issue 9, credit: only a sales manager approves credit. A rep's change that touches a
//! card's approval record (`credit.approval_*`, or the whole credit section) is refused
//! whole, however it was made (here: raw documents, a modified client), and nothing is
//! stored; a manager's approval goes through; a manager out of the card's scope is denied.

use automerge::{AutoCommit, ObjType, ReadDoc, Value, transaction::Transactable};
use fieldbook_core::sync::wire::{CardPush, PROTOCOL_VERSION, SyncRequest, SyncResponse};
use fieldbook_server::storage::Role;

use crate::harness::{Device, Env};

fn push_only(device: &Device, pushes: Vec<CardPush>) -> SyncResponse {
    let request = SyncRequest {
        protocol: PROTOCOL_VERSION,
        cursor: device.cursor.clone(),
        pushes,
        max_response_bytes: None,
        settings_revision: 0,
    };
    device.send(&request).0
}

fn codes(response: &SyncResponse) -> Vec<&str> {
    response.refused.iter().map(|r| r.code.as_str()).collect()
}

/// The card's credit section map.
fn credit(doc: &AutoCommit) -> automerge::ObjId {
    match doc.get(automerge::ROOT, "credit").expect("get") {
        Some((Value::Object(ObjType::Map), id)) => id,
        other => panic!("no credit map: {other:?}"),
    }
}

fn put_credit(
    device: &mut Device,
    card: &str,
    key: &str,
    value: impl Into<automerge::ScalarValue>,
) {
    let doc = device.cards.get_mut(card).expect("card");
    let map = credit(doc);
    doc.put(&map, key, value).expect("put");
    doc.commit();
}

/// Pushes every card the device holds changes for.
fn push(device: &mut Device) -> SyncResponse {
    let pushes = device.pushes();
    push_only(device, pushes)
}

#[test]
fn a_reps_change_to_the_approval_is_refused_and_a_managers_is_not() {
    let env = Env::start();
    let mut zw = env.rep("zhangwei");
    let mut wang = env.device("wang", Role::Manager);
    let card = zw.new_card("sh-east", "上海华联超市有限公司");
    zw.sync();
    let stored = || {
        env.storage()
            .card(&card)
            .expect("card")
            .expect("stored")
            .doc
    };

    // A rep's own credit fields are his to write.
    put_credit(&mut zw, &card, "requested_limit", 15_000_000i64);
    let r = push(&mut zw);
    assert!(r.refused.is_empty(), "{:?}", r.refused);
    let (log, before) = (env.log_len(), stored());
    assert!(log > 0);

    // The approved limit, written straight into the document by a modified client.
    let mut forged = zw.cards.get_mut(&card).expect("card").fork();
    forged.set_actor(zw.actor.clone());
    put_credit(&mut zw, &card, "approval_limit", 15_000_000i64);
    let r = push(&mut zw);
    assert_eq!(codes(&r), ["access.not_approver"]);
    assert!(r.acks.is_empty());
    assert_eq!(env.log_len(), log, "nothing stored");
    assert_eq!(stored(), before);

    // A new card that arrives approved.
    let fresh = zw.new_card("sh-east", "上海第一百货");
    put_credit(&mut zw, &fresh, "approval_by", "zhangwei");
    let pushes: Vec<CardPush> = zw
        .pushes()
        .into_iter()
        .filter(|p| p.card_id == fresh)
        .collect();
    let r = push_only(&zw, pushes);
    assert_eq!(codes(&r), ["access.not_approver"]);
    assert!(env.storage().card(&fresh).expect("card").is_none());

    // The manager approves: accepted, and in his name.
    wang.sync();
    put_credit(&mut wang, &card, "approval_limit", 15_000_000i64);
    put_credit(&mut wang, &card, "approval_by", "wang");
    let r = push(&mut wang);
    assert!(r.refused.is_empty(), "{:?}", r.refused);
    assert!(env.log_len() > log);
    let (log, before) = (env.log_len(), stored());

    // The rep removing the approval note, replacing the whole credit section, or writing
    // the limit concurrently with the manager (whichever value wins): all refused.
    let mut rep = env.rep("zhangwei");
    rep.sync();
    {
        let doc = rep.cards.get_mut(&card).expect("card");
        let map = credit(doc);
        doc.delete(&map, "approval_by").expect("delete");
        doc.commit();
    }
    assert_eq!(codes(&push(&mut rep)), ["access.not_approver"]);
    let mut rep = env.rep("zhangwei");
    rep.sync();
    {
        let doc = rep.cards.get_mut(&card).expect("card");
        doc.put_object(automerge::ROOT, "credit", ObjType::Map)
            .expect("replace");
        doc.commit();
    }
    assert_eq!(codes(&push(&mut rep)), ["access.not_approver"]);
    forged
        .put(credit(&forged), "approval_limit", 99_000_000i64)
        .expect("put");
    forged.commit();
    zw.cards.insert(card.clone(), forged);
    zw.cards.remove(&fresh);
    assert_eq!(codes(&push(&mut zw)), ["access.not_approver"]);
    assert_eq!(env.log_len(), log, "nothing stored");
    assert_eq!(stored(), before);

    // A manager whose scope lacks the card is denied, as for any foreign card.
    let mut chen = env.device("chen", Role::Manager);
    let mut copy = wang.cards.get_mut(&card).expect("card").fork();
    copy.set_actor(chen.actor.clone());
    let copy = chen.doc_handle(copy);
    chen.cards.insert(card.clone(), copy);
    put_credit(&mut chen, &card, "approval_limit", 1i64);
    let pushes = chen.pushes();
    let r = push_only(&chen, pushes);
    assert_eq!(codes(&r), ["access.denied"]);
    assert_eq!(env.log_len(), log);
}
