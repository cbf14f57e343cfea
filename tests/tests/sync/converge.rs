//! Offline edits on every side converge through the server, in any order.

use fieldbook_server::storage::Role;

use crate::support::{Device, Server};

#[test]
fn two_reps_and_a_manager_converge_in_every_order() {
    let server = Server::start();
    crate::support::company(&server);
    // 1. 张伟 has a phone and a tablet; 王经理 manages the team; 李娜 holds another territory.
    let mut phone = Device::enrol(&server, "zhangwei", Role::Rep);
    let mut tablet = Device::enrol(&server, "zhangwei", Role::Rep);
    let mut manager = Device::enrol(&server, "wangjl", Role::Manager);
    let mut lina = Device::enrol(&server, "lina", Role::Rep);

    // 2. 张伟 creates two customers on the phone and syncs.
    let a = phone.new_card("上海华东客户服务有限公司", "east");
    let b = phone.new_card("苏州百货商场", "east");
    let report = phone.sync();
    assert_eq!(report.progress.cards_pushed, 2);
    assert!(report.refused.is_empty(), "{:?}", report.refused);

    // 3. Everyone pulls: the tablet and the manager see both, 李娜 sees nothing of 华东.
    assert_eq!(tablet.sync().cards_new, 2);
    assert_eq!(manager.sync().cards_new, 2);
    assert_eq!(lina.sync().cards_new, 0);
    assert_eq!(lina.store.count().expect("count"), 0);

    // 4. Offline: different fields, the same note, new visits, and the same field.
    phone.set(&a, "basic.address", "上海市浦东新区世纪大道100号");
    phone.visit(&a, "电话确认下周送样品");
    phone.set(&a, "basic.phone", "13800000001");
    tablet.set(&a, "credit.payment_terms", "月结30天");
    tablet.visit(&a, "门店陈列检查");
    tablet.set(&a, "basic.phone", "13900000002");
    manager.set(&a, "credit.credit_limit", "200000");
    manager.set(&b, "classification.abc", "B");
    lina.new_card("北京王府井百货", "north");

    // 5. Sync in one order, then another, until nobody has anything new.
    for device in [&mut tablet, &mut manager, &mut phone, &mut lina] {
        device.sync();
    }
    for device in [&mut phone, &mut lina, &mut manager, &mut tablet] {
        device.sync();
    }
    let expected = phone.snapshot();
    assert_eq!(tablet.snapshot(), expected);
    assert_eq!(
        manager.snapshot().len(),
        3,
        "the manager sees both territories"
    );

    // 6. The same field set concurrently shows as a conflict on every device.
    for device in [&mut phone, &mut tablet, &mut manager] {
        let view = device.store.card(&a).expect("card");
        assert_eq!(view.card.visits.len(), 2, "both visits survive");
        assert_eq!(view.card.credit.payment_terms.as_deref(), Some("月结30天"));
        assert_eq!(view.conflicts.len(), 1);
        assert_eq!(view.conflicts[0].path, "basic.phone");
        assert_eq!(view.conflicts[0].values.len(), 2);
    }

    // 7. The manager resolves it; after sync the conflict is gone everywhere.
    manager
        .store
        .resolve(&a, "basic.phone", "13800000001")
        .expect("resolve");
    manager.sync();
    phone.sync();
    tablet.sync();
    for device in [&mut phone, &mut tablet, &mut manager] {
        let view = device.store.card(&a).expect("card");
        assert!(view.conflicts.is_empty());
        assert_eq!(view.card.basic.phone.as_deref(), Some("13800000001"));
    }
    // 8. History keeps who did what: 张伟 and 王经理 both appear on card a.
    let reps: Vec<Option<String>> = phone
        .store
        .history(&a)
        .expect("history")
        .into_iter()
        .map(|h| h.rep)
        .collect();
    assert!(
        reps.contains(&Some("zhangwei".into())) && reps.contains(&Some("wangjl".into())),
        "{reps:?}"
    );
}

#[test]
fn a_card_outside_the_reps_territories_is_refused_and_kept_pending() {
    let server = Server::start();
    crate::support::company(&server);
    let mut lina = Device::enrol(&server, "lina", Role::Rep);
    let card = lina.new_card("杭州西湖茶庄", "east");
    let report = lina.sync();
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].1, "access.denied");
    assert_eq!(
        report.pending, 1,
        "the edit is kept on the device, not dropped"
    );
    // Moving the card to her own territory lets it through.
    lina.set(&card, "territory", "north");
    let report = lina.sync();
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(report.pending, 0);
}

#[test]
fn changes_received_by_file_are_refused_until_their_own_device_syncs() {
    let server = Server::start();
    crate::support::company(&server);
    let mut phone = Device::enrol(&server, "zhangwei", Role::Rep);
    let mut tablet = Device::enrol(&server, "zhangwei", Role::Rep);
    let card = phone.new_card("无锡五金店", "east");
    // The tablet gets the card by file, not from the server.
    let bundle = phone.store.export_bundle(None).expect("export");
    tablet.store.import_bundle(&bundle).expect("import");
    tablet.set(&card, "basic.city", "无锡");
    let report = tablet.sync();
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].1, "auth.actor_mismatch");
    // Once the phone has synced its own change, the tablet's push goes through.
    phone.sync();
    let report = tablet.sync();
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    phone.sync();
    assert_eq!(phone.snapshot(), tablet.snapshot());
}
