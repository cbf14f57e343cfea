//! Two devices create a card for the same customer offline; one device finds the pair and
//! merges them; after syncing, every device lists one card, the merged one points to it,
//! both histories are kept, and the merge is the rep's change in the kept card's history.
//! The server's reports count the customer once.

use fieldbook_core::analysis::duplicates::DuplicateReason;
use fieldbook_core::card::{Contact, Visit};
use fieldbook_core::{CardQuery, Store};
use fieldbook_server::manager::AbcQuery;
use fieldbook_server::storage::Role;
use fieldbook_server::viewer::Viewer;

use crate::support::{Device, Server, company};

fn listed(store: &Store) -> Vec<String> {
    store
        .list(&CardQuery {
            limit: 100,
            ..CardQuery::default()
        })
        .expect("list")
        .into_iter()
        .map(|r| r.name)
        .collect()
}

#[test]
fn a_duplicate_created_on_two_devices_is_merged_into_one_card_everywhere() {
    let server = Server::start();
    company(&server);
    let mut phone = Device::enrol_named(&server, "zhangwei", Role::Rep, "演示手机");
    let mut tablet = Device::enrol_named(&server, "zhangwei", Role::Rep, "张伟的平板");
    phone.sync();
    tablet.sync();

    // Offline, each device creates the customer its own way.
    let keep = phone.new_card("上海华东食品有限公司", "east");
    phone.set(&keep, "basic.phone", "021-62345678");
    phone
        .store
        .update(&keep, |c| {
            c.add_contact(Contact {
                name: Some("王建国".into()),
                ..Default::default()
            });
            Ok(())
        })
        .expect("contact");
    let other = tablet.new_card("華東食品廠", "east");
    tablet.set(&other, "basic.phone", "62345678");
    tablet.set(&other, "basic.tax_no", "91310115MA1H7XYZ3K");
    tablet
        .store
        .update(&other, |c| {
            c.add_visit(Visit {
                summary: "第一次拜访,介绍新品".into(),
                at: Some(chrono::Utc::now()),
                ..Default::default()
            });
            Ok(())
        })
        .expect("visit");
    phone.sync();
    tablet.sync();
    phone.sync();
    assert_eq!(listed(&phone.store).len(), 2);

    // The phone sees the pair: the same phone number and the same name.
    let pairs = phone.store.duplicates().expect("duplicates");
    assert_eq!(pairs.len(), 1, "{pairs:?}");
    assert!(
        pairs[0]
            .reasons
            .iter()
            .any(|r| matches!(r, DuplicateReason::SamePhone { .. })),
        "{pairs:?}"
    );
    let outcome = phone.store.merge_duplicate(&keep, &other).expect("merged");
    assert!(outcome.fields_filled.contains(&"basic.tax_no".to_string()));
    assert_eq!(outcome.visits_left, 1);
    // A card merged already cannot be merged again, nor a card into itself.
    for (a, b) in [(&keep, &other), (&keep, &keep)] {
        let err = phone.store.merge_duplicate(a, b).expect_err("refused");
        assert_eq!(err.code(), "input.invalid_value");
    }
    phone.sync();
    tablet.sync();

    for device in [&mut phone, &mut tablet] {
        assert_eq!(listed(&device.store), ["上海华东食品有限公司"]);
        assert_eq!(device.store.merged_target(&other).expect("target"), keep);
        let kept = device.store.card(&keep).expect("kept").card;
        assert_eq!(kept.basic.tax_no.as_deref(), Some("91310115MA1H7XYZ3K"));
        assert_eq!(
            kept.basic.phone.as_deref(),
            Some("021-62345678"),
            "not overwritten"
        );
        assert_eq!(kept.contacts.len(), 1);
        // The merged card keeps its own history and its visit.
        let merged = device.store.card(&other).expect("merged card").card;
        assert_eq!(merged.basic.merged_into.as_deref(), Some(keep.as_str()));
        assert_eq!(merged.visits.len(), 1);
        let history = device.store.history(&other).expect("history");
        assert!(history.len() >= 3, "created, edited, visited, merged");
        // The merge is the rep's change, from the phone, in the kept card's history.
        let kept_history = device.store.history(&keep).expect("history");
        let merge = kept_history
            .iter()
            .find(|e| e.fields.iter().any(|f| f.contains("tax_no")))
            .expect("the merge change");
        assert_eq!(merge.rep.as_deref(), Some("zhangwei"));
        assert_eq!(merge.device_name.as_deref(), Some("演示手机"));
    }

    // The server's ABC report counts the customer once.
    let storage = server.storage();
    let report = fieldbook_server::manager::abc(
        storage.as_ref(),
        &server.state.docs,
        &Viewer {
            person_id: "wangjl".into(),
            role: Role::Manager,
        },
        &AbcQuery {
            territory: Some("east".into()),
            date: None,
        },
        server.state.now(),
    )
    .expect("abc");
    assert_eq!(report.rows.len(), 1);
    assert_eq!(report.rows[0].card, keep);
}
