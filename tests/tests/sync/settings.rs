//! Company settings reach every device: a manager changes them on the server, a rep's
//! phone receives them with its next sync, and from then on the phone's due dates and
//! reports follow them and equal the server's. A change of the local calendar rebuilds the
//! phone's index from the documents.

use chrono::{NaiveDate, TimeZone, Utc};
use fieldbook_core::card::Visit;
use fieldbook_core::value::{Class, Money};
use fieldbook_core::{CardQuery, SortBy, YearMonth};
use fieldbook_server::manager::{AbcQuery, SettingsUpdate};
use fieldbook_server::storage::Role;
use fieldbook_server::viewer::Viewer;

use crate::support::{Device, Server, company};

fn manager() -> Viewer {
    Viewer {
        person_id: "wangjl".into(),
        role: Role::Manager,
    }
}

fn due_of(phone: &Device, name: &str) -> Option<NaiveDate> {
    let rows = phone
        .store
        .list(&CardQuery {
            sort: SortBy::NextDue,
            limit: 100,
            ..CardQuery::default()
        })
        .expect("list");
    rows.into_iter()
        .find(|r| r.name == name)
        .expect("the card is listed")
        .next_due
}

fn change(server: &Server, edit: impl FnOnce(&mut serde_json::Value)) -> u64 {
    let storage = server.storage();
    let current =
        fieldbook_server::manager::settings_view(storage.as_ref(), &manager()).expect("settings");
    let mut settings = serde_json::to_value(&current.settings).expect("json");
    edit(&mut settings);
    fieldbook_server::manager::set_settings(
        storage.as_ref(),
        &manager(),
        &SettingsUpdate {
            revision: current.revision,
            settings,
        },
        server.state.now(),
    )
    .expect("accepted")
    .revision
}

#[test]
fn the_managers_settings_drive_the_phones_due_dates_and_reports() {
    let server = Server::start();
    company(&server);
    let mut phone = Device::enrol(&server, "zhangwei", Role::Rep);
    let shop = "上海华东食品有限公司";
    let id = phone.new_card(shop, "east");
    // A class A customer visited on 10 November at 20:00 UTC: 11 November in China.
    let visited = Utc
        .with_ymd_and_hms(2026, 11, 10, 20, 0, 0)
        .single()
        .expect("time");
    phone
        .store
        .update(&id, |c| {
            c.classification.abc = Some(Class::A);
            c.add_visit(Visit {
                summary: "新品试吃,反馈良好".into(),
                at: Some(visited),
                ..Default::default()
            });
            Ok(())
        })
        .expect("visit");
    for (i, name) in ["浦东粮油贸易公司", "闵行日用品商行", "杨浦五金店"]
        .iter()
        .enumerate()
    {
        let other = phone.new_card(name, "east");
        phone
            .store
            .update(&other, |c| {
                for month in ["2026-08", "2026-09", "2026-10"] {
                    let month: YearMonth = month.parse().expect("month");
                    c.sales
                        .insert(month, Money::yuan(90_000 / (i as i64 + 1)).expect("yuan"));
                }
                Ok(())
            })
            .expect("sales");
    }
    phone.sync();
    let nov = |d| NaiveDate::from_ymd_opt(2026, 11, d).expect("date");
    assert_eq!(phone.store.company_settings().revision, 0);
    assert_eq!(
        due_of(&phone, shop),
        Some(nov(18)),
        "weekly, from 11 November"
    );

    // The manager makes A visits every 3 days and the ABC split 50/30/20.
    let revision = change(&server, |s| {
        s["visits"]["interval_days_a"] = 3.into();
        s["abc"]["a_percent"] = 50.into();
        s["abc"]["b_percent"] = 30.into();
        s["abc"]["c_percent"] = 20.into();
    });
    assert_eq!(revision, 1);
    let report = phone.sync();
    assert_eq!(report.settings_revision, Some(1));
    assert_eq!(phone.store.company_settings().revision, 1);
    assert_eq!(due_of(&phone, shop), Some(nov(14)), "every 3 days now");
    assert_eq!(phone.sync().settings_revision, None, "delivered once");

    // The same classes on the phone and on the server, by the company's thresholds.
    let today = nov(15);
    let on_phone = phone.store.abc(today).expect("abc on the phone");
    let storage = server.storage();
    let on_server = fieldbook_server::manager::abc(
        storage.as_ref(),
        &server.state.docs,
        &manager(),
        &AbcQuery {
            territory: Some("east".into()),
            date: Some(today),
        },
        server.state.now(),
    )
    .expect("abc on the server");
    assert_eq!(on_phone, on_server);
    let defaults = fieldbook_core::analysis::abc::classify(
        &phone.store.all_cards().expect("cards"),
        today,
        &fieldbook_core::analysis::abc::AbcSettings::default(),
    );
    assert_ne!(
        on_phone.rows.iter().map(|r| r.computed).collect::<Vec<_>>(),
        defaults.rows.iter().map(|r| r.computed).collect::<Vec<_>>(),
        "the company's thresholds, not the defaults, classified"
    );

    // The company moves to UTC: the visit was on 10 November there, so the due date
    // moves a day earlier (the phone rebuilt its index from the documents).
    change(&server, |s| s["visits"]["utc_offset_minutes"] = 0.into());
    assert_eq!(phone.sync().settings_revision, Some(2));
    assert_eq!(due_of(&phone, shop), Some(nov(13)));

    // The phone keeps its settings across a restart.
    let (path, transport, dir) = phone.into_parts();
    let store = fieldbook_core::Store::open(&path).expect("reopen");
    let phone = Device::from_parts(store, transport, dir);
    assert_eq!(phone.store.company_settings().revision, 2);
    assert_eq!(due_of(&phone, shop), Some(nov(13)));
}
