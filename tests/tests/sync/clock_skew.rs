//! Clock skew: a phone whose clock runs ten years ahead stamps a visit in 2036. The other
//! devices and the manager's projection must still show the customer as due.

use chrono::{Duration, Utc};
use fieldbook_core::card::Visit;
use fieldbook_core::query::CardQuery;
use fieldbook_core::{CardId, Store};
use fieldbook_server::storage::Role;

use crate::support::{Device, Server};

fn log_visit(store: &mut Store, id: &CardId, at: chrono::DateTime<Utc>, summary: &str) {
    store
        .update(id, |c| {
            c.add_visit(Visit {
                summary: summary.into(),
                at: Some(at),
                ..Default::default()
            });
            Ok(())
        })
        .expect("visit");
}

fn due_today(store: &Store) -> Vec<String> {
    store
        .list(&CardQuery {
            due_by: Some(Utc::now().date_naive()),
            limit: 100,
            ..Default::default()
        })
        .expect("list")
        .into_iter()
        .map(|row| row.id.to_string())
        .collect()
}

#[test]
fn a_visit_stamped_ten_years_ahead_leaves_the_customer_due_everywhere() {
    let server = Server::start();
    crate::support::company(&server);
    let mut phone = Device::enrol(&server, "zhangwei", Role::Rep);
    let mut tablet = Device::enrol(&server, "zhangwei", Role::Rep);
    let id = phone.new_card("上海华东客户服务有限公司", "east");
    phone.set(&id, "classification.abc", "A");
    // Last visited three weeks ago: a class-A customer (weekly) is due.
    log_visit(
        &mut phone.store,
        &id,
        Utc::now() - Duration::days(21),
        "上次拜访",
    );
    phone.sync();
    tablet.sync();
    assert_eq!(due_today(&tablet.store), [id.to_string()]);

    // The phone's clock says 2036.
    let skewed = Utc::now() + Duration::days(10 * 365);
    log_visit(&mut phone.store, &id, skewed, "时钟错误的手机");
    phone.sync();
    tablet.sync();
    assert_eq!(tablet.store.card(&id).expect("card").card.visits.len(), 2);
    assert_eq!(
        due_today(&tablet.store),
        [id.to_string()],
        "the tablet ignores a visit from 2036 for due dates"
    );
    assert_eq!(due_today(&phone.store), [id.to_string()]);

    // The server shows the visit at the time it received it, flagged.
    let projection = server
        .storage()
        .projection(id.as_str())
        .expect("projection")
        .expect("stored");
    let value: serde_json::Value = serde_json::from_str(&projection).expect("json");
    let visits = value["visits"].as_array().expect("visits");
    let last = visits.last().expect("a visit");
    assert_eq!(last["clock_skew"], serde_json::Value::Bool(true));
    // Times as the device's card view writes them (RFC 3339).
    let time = |v: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().expect("a time"))
            .expect("RFC 3339")
            .timestamp_millis()
    };
    assert_eq!(time(&last["device_at"]), skewed.timestamp_millis());
    let shown = time(&last["at"]);
    assert!(
        shown < (Utc::now() + Duration::days(1)).timestamp_millis(),
        "the receive time replaces 2036"
    );
    assert!(visits[0].get("clock_skew").is_none());
}
