//! A card the server holds but a device cannot read (stored behind the push checks: an old
//! server, a restored database) is quarantined by the device: not applied, reported in the
//! sync summary and by `Store::quarantined`, and the rest of the response is applied. One
//! bad card does not break the territory's sync.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use fieldbook_server::storage::{CardCommit, NewChange, Role};

use crate::support::{Device, Server};

/// Stores a card directly, bypassing every push check.
fn store_raw(server: &Server, card_id: &str, doc: Vec<u8>, changes: Vec<NewChange>) {
    let heads = changes.iter().map(|c| c.hash).collect();
    server
        .storage()
        .commit_card(&CardCommit {
            card_id: card_id.into(),
            territory: "east".into(),
            expected_last_position: None,
            doc,
            heads,
            projection: "{}".into(),
            changes,
            late: false,
            device_id: "restored-backup".into(),
            received_at: 0,
            index: Default::default(),
            change_rows: Vec::new(),
        })
        .expect("raw commit");
}

/// A document that loads but is no card: a territory and nothing else.
fn not_a_card(server: &Server) -> String {
    let id = uuid_text(1);
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "territory", "east").expect("put");
    doc.commit();
    let change = doc.get_last_local_change().expect("change").clone();
    store_raw(
        server,
        &id,
        doc.save(),
        vec![NewChange {
            hash: change.hash().0,
            bytes: change.raw_bytes().to_vec(),
        }],
    );
    id
}

/// Bytes that are not Automerge at all.
fn garbage(server: &Server) -> String {
    let id = uuid_text(2);
    store_raw(
        server,
        &id,
        b"not automerge at all".to_vec(),
        vec![NewChange {
            hash: [7; 32],
            bytes: b"garbage".to_vec(),
        }],
    );
    id
}

fn uuid_text(n: u8) -> String {
    format!("00000000-0000-4000-8000-0000000000{n:02x}")
}

#[test]
fn a_bad_card_is_quarantined_and_the_rest_of_the_territory_syncs() {
    let server = Server::start();
    crate::support::company(&server);
    let mut phone = Device::enrol(&server, "zhangwei", Role::Rep);
    let good = phone.new_card("上海华联超市", "east");
    phone.visit(&good, "谈了新品上架");
    phone.sync();
    let bad_doc = not_a_card(&server);
    let bad_bytes = garbage(&server);
    let other = phone.new_card("杭州联华便利", "east");
    phone.sync();

    // A second device of the rep: its first sync brings every card of the territory.
    let mut tablet = Device::enrol(&server, "zhangwei", Role::Rep);
    let report = tablet.sync();
    let mut quarantined = report.quarantined.clone();
    quarantined.sort();
    assert_eq!(
        quarantined,
        vec![
            (bad_doc.clone(), "card.invalid".to_string()),
            (bad_bytes.clone(), "card.bad_bytes".to_string()),
        ]
    );
    assert_eq!(report.cards_new, 2, "both good cards applied");
    assert_eq!(tablet.snapshot(), phone.snapshot());
    assert_eq!(
        tablet.store.quarantined().expect("quarantined"),
        vec![
            (bad_doc.clone(), "card.invalid".to_string()),
            (bad_bytes.clone(), "card.bad_bytes".to_string()),
        ]
    );
    let ids = tablet.store.card_ids().expect("ids");
    assert_eq!(ids.len(), 2);
    assert!(
        ids.iter()
            .all(|id| id.as_str() != bad_doc && id.as_str() != bad_bytes)
    );

    // Later syncs keep working both ways.
    phone.set(&other, "basic.phone", "0571-8888 1234");
    phone.sync();
    let report = tablet.sync();
    assert_eq!(report.progress.cards_pulled, 1);
    tablet.visit(&good, "客户要求下周送货");
    tablet.sync();
    phone.sync();
    assert_eq!(tablet.snapshot(), phone.snapshot());
}
