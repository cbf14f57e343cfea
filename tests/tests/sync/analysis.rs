//! The seeds' methods give the same numbers on a phone and on the server: the phone
//! classifies the cards it holds with core's `analysis`, the server classifies the cards
//! it received through the same code (read back from its projections), and the two
//! reports are equal.

use fieldbook_core::analysis::abc::{AbcSettings, classify};
use fieldbook_core::value::Money;
use fieldbook_core::{Card, YearMonth};
use fieldbook_server::manager::AbcQuery;
use fieldbook_server::storage::Role;
use fieldbook_server::viewer::Viewer;

use crate::support::{Device, Server, company};

#[test]
fn abc_classes_are_the_same_on_the_phone_and_on_the_server() {
    let server = Server::start();
    company(&server);
    let mut phone = Device::enrol(&server, "zhangwei", Role::Rep);
    // Twelve customers, a few months of sales each (some missing, one tie, one zero).
    let names = [
        "上海华东食品有限公司",
        "浦东粮油贸易公司",
        "宝山钢材贸易公司",
        "闵行日用品商行",
        "徐汇文具批发部",
        "静安饮料经销处",
        "杨浦五金店",
        "虹口调味品公司",
        "长宁烟酒行",
        "普陀百货商店",
        "嘉定农资公司",
        "松江纺织品商行",
    ];
    for (i, name) in names.iter().enumerate() {
        let id = phone.new_card(name, "east");
        let mut sales = Vec::new();
        for (m, month) in ["2026-08", "2026-09", "2026-10"].iter().enumerate() {
            if (i + m) % 5 == 4 {
                continue; // a month without sales
            }
            let yuan = match i {
                3 | 4 => 80_000, // a tie
                11 => 0,
                _ => 500_000 / (i as i64 + 1) + 1_000 * m as i64,
            };
            let month: YearMonth = month.parse().expect("month");
            sales.push((month, Money::yuan(yuan).expect("amount")));
        }
        phone
            .store
            .update(&id, |c| {
                c.sales.extend(sales.iter().copied());
                Ok(())
            })
            .expect("sales");
    }
    phone.sync();

    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 15).expect("date");
    let on_phone: Vec<Card> = phone
        .store
        .card_ids()
        .expect("ids")
        .iter()
        .map(|id| phone.store.card(id).expect("card").card)
        .collect();
    let phone_report = classify(&on_phone, today, &AbcSettings::default());
    assert_eq!(phone_report.rows.len(), names.len());

    let storage = server.storage();
    let manager = Viewer {
        person_id: "wangjl".into(),
        role: Role::Manager,
    };
    let server_report = fieldbook_server::manager::abc(
        storage.as_ref(),
        &server.state.docs,
        &manager,
        &AbcQuery {
            territory: Some("east".into()),
            date: Some(today),
        },
        server.state.now(),
    )
    .expect("abc on the server");
    assert_eq!(server_report, phone_report);
    // And the classes are the seed's: the largest customers A, the smallest C.
    let first = &server_report.rows[0];
    assert_eq!(first.name.as_deref(), Some("上海华东食品有限公司"));
    assert_eq!(
        format!("{:?}", server_report.rows.last().expect("last").computed),
        "C"
    );
}
