//! A handoff as the devices live it: the old rep's device purges the cards (after the
//! server answered its last edits), a territory edit is refused on the device (and an
//! old one recovers), and history names devices by their enrolled name and role.

use fieldbook_core::Store;
use fieldbook_core::sync::SyncReport;
use fieldbook_server::admin;
use fieldbook_server::storage::Role;

use crate::support::{Device, Server, company};

/// Every row a card leaves in the device's tables, by table (0 everywhere = purged).
fn rows_of(path: &std::path::Path, card: &str) -> Vec<(&'static str, i64)> {
    let conn = rusqlite::Connection::open(path).expect("open the store file");
    let num: i64 = conn
        .query_row("SELECT num FROM cards WHERE id = ?1", [card], |r| r.get(0))
        .unwrap_or(-1);
    // (table, the column that names the card in it, keyed by the card's number or id)
    let tables: [(&'static str, &str, bool); 12] = [
        ("cards", "id", false),
        ("card_chunks", "card_num", true),
        ("card_index", "card_num", true),
        ("card_tags", "card_num", true),
        ("card_views", "card_num", true),
        ("sync_cards", "card_num", true),
        ("sync_outbox", "card_num", true),
        ("sync_handoff_pending", "card_num", true),
        ("card_fts", "rowid", true),
        ("card_grams", "rowid", true),
        ("sync_quarantine", "card_id", false),
        ("card_assignments", "card_id", false),
    ];
    tables
        .into_iter()
        .map(|(table, column, by_num)| {
            let sql = format!("SELECT count(*) FROM {table} WHERE {column} = ?1");
            let count = if by_num {
                conn.query_row(&sql, [num], |r| r.get(0))
            } else {
                conn.query_row(&sql, [card], |r| r.get(0))
            };
            (table, count.expect("count"))
        })
        .collect()
}

fn all_zero(rows: &[(&'static str, i64)]) -> bool {
    rows.iter().all(|(_, n)| *n == 0)
}

#[test]
fn cards_handed_over_are_purged_once_the_server_accepted_the_late_edits() {
    let server = Server::start();
    company(&server);
    let mut zw = Device::enrol(&server, "zhangwei", Role::Rep);
    let mut cards = Vec::new();
    for i in 0..3 {
        let id = zw.new_card(&format!("上海华东食品有限公司{i}"), "east");
        zw.store
            .update(&id, |c| {
                c.tags.insert("重点".into());
                Ok(())
            })
            .expect("tag");
        cards.push(id);
    }
    zw.sync();
    // Offline edits before the handoff, synced after it (within the grace period).
    zw.visit(&cards[0], "送样品");
    zw.set(&cards[1], "basic.phone", "13812345678");
    admin::assign_territory(server.storage().as_ref(), "east", "lina").expect("handoff");
    let report = zw.sync();

    assert_eq!(report.cards_revoked, 3, "{report:?}");
    assert!(report.revoked_kept.is_empty() && report.to_review.is_empty());
    assert_eq!(zw.store.count().expect("count"), 0);
    for id in &cards {
        let rows = rows_of(&zw.db_path(), id.as_str());
        assert!(all_zero(&rows), "card {id} left rows: {rows:?}");
    }
    // Not found by search either, and the server holds both late edits.
    assert!(zw.store.search("华东", 10).expect("search").is_empty());
    let mut ln = Device::enrol(&server, "lina", Role::Rep);
    ln.sync();
    let card = ln.store.card(&cards[1]).expect("card");
    assert_eq!(card.card.basic.phone.as_deref(), Some("13812345678"));
    assert_eq!(ln.store.card(&cards[0]).expect("card").card.visits.len(), 1);
    let status = zw.store.handed_away().expect("handed away");
    assert_eq!(status.len(), 3);
    assert!(status.iter().all(|h| !h.to_review && h.name.is_none()));
}

#[test]
fn edits_past_the_grace_period_go_to_review_and_only_then_the_card_is_purged() {
    let server = Server::start();
    company(&server);
    let mut zw = Device::enrol(&server, "zhangwei", Role::Rep);
    let kept = zw.new_card("杭州西湖茶叶有限公司", "east");
    let clean = zw.new_card("南京鼓楼商贸有限公司", "east");
    zw.sync();
    zw.set(&kept, "basic.phone", "13900001111");
    zw.visit(&kept, "催款");
    admin::assign_territory(server.storage().as_ref(), "east", "lina").expect("handoff");
    server.running.state.clock.advance(8 * 24 * 3600);
    let report: SyncReport = zw.sync();

    assert_eq!(report.to_review, vec![kept.to_string()], "{report:?}");
    assert_eq!(report.cards_revoked, 2);
    assert!(report.revoked_kept.is_empty());
    assert_eq!(zw.store.count().expect("count"), 0);
    for id in [&kept, &clean] {
        let rows = rows_of(&zw.db_path(), id.as_str());
        assert!(all_zero(&rows), "card {id} left rows: {rows:?}");
    }
    // The server held exactly what it refused: one entry for the card.
    let held = server.storage().held_changes(kept.as_str()).expect("held");
    assert_eq!(held.len(), 1);
    let handed = zw.store.handed_away().expect("handed away");
    let review: Vec<_> = handed.iter().filter(|h| h.to_review).collect();
    assert_eq!(review.len(), 1);
    assert_eq!(review[0].card_id, kept.to_string());
    assert_eq!(review[0].name.as_deref(), Some("杭州西湖茶叶有限公司"));
    assert_eq!(review[0].changes, 2);
    // A second sync loops on nothing.
    let again = zw.sync();
    assert!(
        again.refused.is_empty() && again.to_review.is_empty(),
        "{again:?}"
    );
    assert_eq!(again.progress.requests, 1);
}

#[test]
fn a_territory_edit_is_refused_on_the_device_and_a_card_is_still_created_in_any_held_territory() {
    let server = Server::start();
    company(&server);
    let mut zw = Device::enrol(&server, "zhangwei", Role::Rep);
    let card = zw.new_card("上海浦东物流有限公司", "east");
    zw.sync();
    let err = zw
        .store
        .update(&card, |c| c.set_path("territory", "north"))
        .expect_err("a device does not move cards");
    assert_eq!(err.code(), "card.territory_fixed");
    assert!(err.to_string().contains("manager"), "{err}");
    assert_eq!(
        zw.store
            .card(&card)
            .expect("card")
            .card
            .territory
            .as_deref(),
        Some("east")
    );
    assert_eq!(zw.store.pending_cards().expect("pending"), 0);
    // Other edits go through, and so does a new card in a held territory.
    zw.set(&card, "basic.phone", "13611112222");
    zw.new_card("上海新客户", "east");
    let report = zw.sync();
    assert!(report.refused.is_empty(), "{report:?}");
    assert_eq!(report.progress.cards_pushed, 2);
}

#[test]
fn a_device_holding_an_old_territory_edit_undoes_it_once_and_syncs_the_rest() {
    let server = Server::start();
    company(&server);
    let mut zw = Device::enrol(&server, "zhangwei", Role::Rep);
    let card = zw.new_card("宁波港务贸易公司", "east");
    zw.sync();
    // A store written before the device refused territory edits: make the edit with the
    // server's acknowledgement hidden, as that build did not look at it.
    let path = zw.db_path();
    let conn = rusqlite::Connection::open(&path).expect("open");
    let acked: Vec<u8> = conn
        .query_row(
            "SELECT s.acked_heads FROM sync_cards s JOIN cards c ON c.num = s.card_num WHERE c.id = ?1",
            [card.as_str()],
            |r| r.get(0),
        )
        .expect("acked");
    let hide = |heads: &[u8]| {
        conn.execute(
            "UPDATE sync_cards SET acked_heads = ?1 WHERE card_num = (SELECT num FROM cards WHERE id = ?2)",
            rusqlite::params![heads, card.as_str()],
        )
        .expect("update");
    };
    hide(&[]);
    zw.set(&card, "territory", "north");
    hide(&acked);
    zw.set(&card, "basic.phone", "13533334444");

    let report = zw.sync();
    assert_eq!(
        report.territory_restored,
        vec![card.to_string()],
        "{report:?}"
    );
    assert!(report.refused.is_empty(), "{report:?}");
    assert_eq!(report.pending, 0);
    assert_eq!(
        zw.store
            .card(&card)
            .expect("card")
            .card
            .territory
            .as_deref(),
        Some("east")
    );
    let server_card = server
        .storage()
        .card(card.as_str())
        .expect("card")
        .expect("held");
    assert_eq!(server_card.territory, "east");
    let mut other = Device::enrol(&server, "zhangwei", Role::Rep);
    other.sync();
    assert_eq!(
        other
            .store
            .card(&card)
            .expect("card")
            .card
            .basic
            .phone
            .as_deref(),
        Some("13533334444")
    );
    // The next sync is quiet: nothing is refused again.
    let again = zw.sync();
    assert!(again.refused.is_empty() && again.territory_restored.is_empty());
}

#[test]
fn history_names_devices_by_their_enrolled_name_and_role() {
    let server = Server::start();
    company(&server);
    let mut phone = Device::enrol_named(&server, "zhangwei", Role::Rep, "演示手机");
    let mut tablet = Device::enrol_named(&server, "wangjl", Role::Manager, "经理平板");
    let card = phone.new_card("上海华东食品有限公司", "east");
    phone.sync();
    tablet.sync();
    tablet.set(&card, "basic.phone", "13800001234");
    tablet.sync();
    phone.sync();

    let history = phone.store.history(&card).expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].device_name.as_deref(), Some("演示手机"));
    assert_eq!(history[0].device_role.as_deref(), Some("rep"));
    assert_eq!(history[0].person_name.as_deref(), Some("张伟"));
    assert_eq!(history[1].device_name.as_deref(), Some("经理平板"));
    assert_eq!(history[1].device_role.as_deref(), Some("manager"));
    let field = phone
        .store
        .field_history(&card, "basic.phone")
        .expect("field history");
    let last = field.last().expect("the manager's change");
    assert_eq!(last.value.as_deref(), Some("13800001234"));
    assert_eq!(last.entry.device_name.as_deref(), Some("经理平板"));
    // The manager's device names the rep's phone too.
    let seen = tablet.store.history(&card).expect("history");
    assert_eq!(seen[0].device_name.as_deref(), Some("演示手机"));

    // A store that never synced knows no actor: hex only.
    let dir = tempfile::tempdir().expect("dir");
    let mut local = Store::open(dir.path().join("local.db")).expect("store");
    local
        .init_identity("zhangwei".parse().expect("rep"))
        .expect("init");
    let id = local
        .create(|c| {
            c.basic.name = Some("本地客户".into());
            Ok(())
        })
        .expect("create");
    let h = local.history(&id).expect("history");
    assert_eq!(h[0].device_name, None);
    assert_eq!(h[0].device.len(), 32);
}

#[test]
fn the_dossier_holds_visits_in_time_order_open_items_and_every_field_history() {
    let server = Server::start();
    company(&server);
    let mut phone = Device::enrol_named(&server, "zhangwei", Role::Rep, "演示手机");
    let card = phone.new_card("上海华东食品有限公司", "east");
    phone.set(&card, "basic.phone", "13800001111");
    phone.set(&card, "basic.phone", "13800002222");
    phone
        .store
        .update(&card, |c| {
            c.add_visit(fieldbook_core::card::Visit {
                summary: "第二次拜访".into(),
                at: Some(chrono::Utc::now()),
                ..Default::default()
            });
            c.add_visit(fieldbook_core::card::Visit {
                summary: "第一次拜访".into(),
                at: Some(chrono::Utc::now() - chrono::Duration::days(3)),
                ..Default::default()
            });
            c.add_todo(fieldbook_core::card::Todo {
                title: Some("寄合同".into()),
                ..Default::default()
            });
            c.add_todo(fieldbook_core::card::Todo {
                title: Some("已完成的事".into()),
                done: Some(true),
                ..Default::default()
            });
            Ok(())
        })
        .expect("items");
    phone.sync();
    let state = &server.running.state;
    fieldbook_server::handoff::execute(
        state.storage.as_ref(),
        &state.docs,
        &fieldbook_server::viewer::Viewer {
            person_id: "wangjl".into(),
            role: Role::Manager,
        },
        &fieldbook_server::handoff::HandoffRequest {
            territory: "east".into(),
            from: "zhangwei".into(),
            to: "lina".into(),
            cards: None,
            target_territory: None,
            reason: "张伟调往华北区".into(),
        },
        state.now(),
    )
    .expect("handoff");
    let mut ln = Device::enrol_named(&server, "lina", Role::Rep, "李娜的手机");
    ln.sync();
    let d = ln.store.dossier(&card).expect("dossier");
    assert_eq!(d.name.as_deref(), Some("上海华东食品有限公司"));
    let handoff = d
        .assignments
        .iter()
        .find(|a| a.to == "lina")
        .expect("the handoff is in the dossier");
    assert_eq!(handoff.from.as_deref(), Some("zhangwei"));
    assert_eq!(handoff.decided_by, "wangjl");
    assert_eq!(handoff.reason, "张伟调往华北区");
    assert_eq!(handoff.territory, "east");
    let visits: Vec<String> = d.visits.iter().map(|v| v.summary.to_string()).collect();
    assert_eq!(visits, ["第一次拜访", "第二次拜访"]);
    assert_eq!(d.open_todos.len(), 1);
    assert_eq!(d.open_todos[0].title.as_deref(), Some("寄合同"));
    let phone_history = d
        .fields
        .iter()
        .find(|f| f.path == "basic.phone")
        .expect("phone history");
    let values: Vec<Option<&str>> = phone_history
        .changes
        .iter()
        .map(|c| c.value.as_deref())
        .collect();
    assert_eq!(values, [Some("13800001111"), Some("13800002222")]);
    assert!(
        phone_history
            .changes
            .iter()
            .all(|c| c.entry.device_name.as_deref() == Some("演示手机"))
    );
    assert!(d.fields.iter().any(|f| f.path == "basic.name"));
}
