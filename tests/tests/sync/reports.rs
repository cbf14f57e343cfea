//! The pipeline and activity reports are the same on a rep's phone and on the server:
//! two reps edit cards on their phones (new customers, visits, opportunities moved through
//! the stages, a contract signed, a month of sales) and sync through a real server; each
//! phone's `Store::pipeline`/`Store::activity` over the cards it holds equals what the
//! server's manager API computes for the same cards, dates and UTC offset — from the
//! same documents through the same core functions.

use chrono::{Days, Utc};
use fieldbook_core::analysis::activity::{Period, local_date};
use fieldbook_core::card::{Keyed, Opportunity};
use fieldbook_core::value::{Money, OppStage};
use fieldbook_core::{CardId, YearMonth};
use fieldbook_server::manager::activity::ActivityQuery;
use fieldbook_server::manager::{PipelineQuery, activity, pipeline};
use fieldbook_server::storage::Role;
use fieldbook_server::viewer::Viewer;

use crate::support::{Device, Server, company};

fn add_opportunity(phone: &mut Device, card: &CardId, id: &str, title: &str, yuan: i64) {
    phone
        .store
        .update(card, |c| {
            c.opportunities.push(Keyed {
                id: id.into(),
                value: Opportunity {
                    title: Some(title.into()),
                    stage: Some(OppStage::FirstContact),
                    amount: Some(Money::yuan(yuan).expect("amount")),
                    ..Default::default()
                },
            });
            Ok(())
        })
        .expect("opportunity");
}

fn move_to(phone: &mut Device, card: &CardId, id: &str, stage: OppStage) {
    phone
        .store
        .update(card, |c| {
            for o in c.opportunities.iter_mut().filter(|o| o.id == id) {
                o.value.stage = Some(stage);
            }
            Ok(())
        })
        .expect("move");
}

fn sale(phone: &mut Device, card: &CardId, month: &str, yuan: i64) {
    let month: YearMonth = month.parse().expect("month");
    phone
        .store
        .update(card, |c| {
            c.sales.insert(month, Money::yuan(yuan).expect("amount"));
            Ok(())
        })
        .expect("sale");
}

#[test]
fn pipeline_and_activity_are_the_same_on_the_phone_and_on_the_server() {
    let server = Server::start();
    company(&server);
    let mut zhang = Device::enrol(&server, "zhangwei", Role::Rep);
    let mut lina = Device::enrol(&server, "lina", Role::Rep);

    let huadong = zhang.new_card("上海华东食品有限公司", "east");
    add_opportunity(&mut zhang, &huadong, "o-soy", "年度酱油供货", 100_000);
    add_opportunity(&mut zhang, &huadong, "o-gift", "节日礼盒", 50_000);
    zhang.visit(&huadong, "介绍新品,客户要样品");
    move_to(&mut zhang, &huadong, "o-soy", OppStage::SampleTest);
    move_to(&mut zhang, &huadong, "o-soy", OppStage::Negotiation);
    // Back to sample test (the customer wants a second sample), then signed.
    move_to(&mut zhang, &huadong, "o-soy", OppStage::SampleTest);
    move_to(&mut zhang, &huadong, "o-soy", OppStage::Contract);
    sale(&mut zhang, &huadong, "2026-11", 20_000);
    let pudong = zhang.new_card("浦东粮油贸易公司", "east");
    zhang.visit(&pudong, "初次拜访");
    zhang.sync();

    let xidan = lina.new_card("北京西单百货商店", "north");
    add_opportunity(&mut lina, &xidan, "o-oil", "食用油全线", 60_000);
    move_to(&mut lina, &xidan, "o-oil", OppStage::Negotiation);
    move_to(&mut lina, &xidan, "o-oil", OppStage::Won);
    lina.visit(&xidan, "签约回访");
    sale(&mut lina, &xidan, "2026-11", 8_000);
    // A correction of the month is no second order.
    sale(&mut lina, &xidan, "2026-11", 8_500);
    lina.sync();
    // Both phones hear back what the server holds (assignments, the actor directory).
    zhang.sync();
    lina.sync();

    let storage = server.storage();
    let manager = Viewer {
        person_id: "wangjl".into(),
        role: Role::Manager,
    };
    let now = server.state.now();
    let today = local_date(Utc::now(), 480);
    let (from, to) = (today - Days::new(1), today + Days::new(1));
    for (phone, rep, territory) in [
        (&mut zhang, "zhangwei", "east"),
        (&mut lina, "lina", "north"),
    ] {
        for period in [Period::Day, Period::Week, Period::Month] {
            let on_phone = phone
                .store
                .activity(period, from, to, 480)
                .expect("activity on the phone");
            assert_eq!(on_phone.reps.len(), 1, "{rep}: only their own changes");
            let on_server = activity(
                storage.as_ref(),
                &server.state.docs,
                &manager,
                &ActivityQuery {
                    period,
                    from: Some(from),
                    to: Some(to),
                    rep: Some(rep.into()),
                    utc_offset_minutes: Some(480),
                    ..ActivityQuery::default()
                },
                now,
            )
            .expect("activity on the server");
            let server_rep = &on_server.reps.items[0];
            assert_eq!(on_phone.reps[0].rep, rep);
            assert_eq!(
                on_phone.reps[0].buckets, server_rep.buckets,
                "{rep} by {period:?}"
            );
            assert_eq!(
                on_phone.reps[0].totals, server_rep.totals,
                "{rep} by {period:?}"
            );
        }

        // Forty days on, every open opportunity has stalled (30 days by default).
        for date in [today, today + Days::new(40)] {
            same_pipeline(&server, phone, territory, date);
        }
    }

    // And the numbers are the ones the reps made.
    let zhang_week = zhang
        .store
        .activity(Period::Month, from, to, 480)
        .expect("activity");
    let t = &zhang_week.reps[0].totals;
    assert_eq!(
        (
            t.new_customers,
            t.visits,
            t.opportunities_moved,
            t.contracts,
            t.orders
        ),
        (2, 2, 4, 1, 1)
    );
    let lina_month = lina
        .store
        .activity(Period::Month, from, to, 480)
        .expect("activity");
    let t = &lina_month.reps[0].totals;
    assert_eq!(
        (
            t.new_customers,
            t.visits,
            t.opportunities_moved,
            t.contracts,
            t.orders
        ),
        (1, 1, 2, 1, 1),
        "negotiation→won is the one contract; the corrected month no second order"
    );
    let later = zhang
        .store
        .pipeline(today + Days::new(40), 480)
        .expect("pipeline");
    // 节日礼盒 (first contact) and 年度酱油供货 (contract) are open and stalled.
    assert_eq!(later.stalled.len(), 2);
    assert_eq!(
        later.forecast.total.weighted,
        Money::yuan(100_000 * 40 / 100 + 50_000 * 30 / 100).expect("m")
    );
    let soy = later
        .time_in_stage
        .iter()
        .find(|d| d.stage == OppStage::SampleTest)
        .expect("sample test");
    assert_eq!(soy.spells, 2, "sample test entered twice");
    assert_eq!(
        later.forecast.by_rep[0].rep.as_ref().map(|r| r.as_str()),
        Some("zhangwei")
    );

    // The server keeps the cards it parsed (by row version) and each card's stage
    // changes: a visit leaves the kept stages, a stage move derives them again, and
    // phone and server still agree.
    lina.visit(&xidan, "回访,补货");
    move_to(&mut zhang, &huadong, "o-gift", OppStage::SampleTest);
    for _ in 0..2 {
        zhang.sync();
        lina.sync();
    }
    for (phone, territory) in [(&mut zhang, "east"), (&mut lina, "north")] {
        same_pipeline(&server, phone, territory, today + Days::new(40));
    }
}

/// The pipeline of a territory on a phone equals the server's for the territory's manager.
fn same_pipeline(server: &Server, phone: &mut Device, territory: &str, date: chrono::NaiveDate) {
    let on_phone = phone
        .store
        .pipeline(date, 480)
        .expect("pipeline on the phone");
    let manager = Viewer {
        person_id: "wangjl".into(),
        role: Role::Manager,
    };
    let on_server = pipeline(
        server.storage().as_ref(),
        &server.state.docs,
        &manager,
        &PipelineQuery {
            territory: Some(territory.into()),
            date: Some(date),
            utc_offset_minutes: Some(480),
        },
        server.state.now(),
    )
    .expect("pipeline on the server");
    assert_eq!(on_phone, on_server, "{territory} on {date}");
}

/// The server's contracts and orders of one rep over the last days, as the manager's
/// report counts them.
fn server_contracts_and_orders(server: &Server) -> (u64, u64) {
    let today = local_date(Utc::now(), 480);
    let report = activity(
        server.storage().as_ref(),
        &server.state.docs,
        &Viewer {
            person_id: "wangjl".into(),
            role: Role::Manager,
        },
        &ActivityQuery {
            period: Period::Month,
            from: Some(today - Days::new(1)),
            to: Some(today + Days::new(1)),
            rep: Some("zhangwei".into()),
            ..ActivityQuery::default()
        },
        server.state.now(),
    )
    .expect("activity");
    let t = &report.reps.items[0].totals;
    (t.contracts, t.orders)
}

/// A database from before contracts and orders were counted (schema 8) has them counted
/// for its past changes once the server starts on it: the upgrade queues every card, and
/// the start classifies their changes again from the documents.
#[test]
fn contracts_and_orders_are_counted_for_changes_stored_before_schema_9() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("server.db");
    let server = Server::start_at(&db);
    company(&server);
    let mut zhang = Device::enrol(&server, "zhangwei", Role::Rep);
    let card = zhang.new_card("上海华东食品有限公司", "east");
    add_opportunity(&mut zhang, &card, "o-soy", "年度酱油供货", 100_000);
    move_to(&mut zhang, &card, "o-soy", OppStage::Contract);
    sale(&mut zhang, &card, "2026-11", 20_000);
    zhang.sync();
    assert_eq!(server_contracts_and_orders(&server), (1, 1));
    server.running.shutdown().expect("shutdown");

    // The file as schema 8 left it: no such columns, no queue.
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.execute_batch(
        "DROP INDEX manager_changes_activity;
         ALTER TABLE manager_changes DROP COLUMN contracts;
         ALTER TABLE manager_changes DROP COLUMN orders;
         ALTER TABLE manager_activity DROP COLUMN contracts;
         ALTER TABLE manager_activity DROP COLUMN orders;
         DROP TABLE manager_reclassify;
         CREATE INDEX manager_changes_activity ON manager_changes(person_id, at, territory,
             card_id, created, visits, stages);
         DROP INDEX manager_cards_versions;
         DROP INDEX manager_cards_territory_versions;
         ALTER TABLE manager_cards DROP COLUMN lean;
         ALTER TABLE manager_cards DROP COLUMN stages;
         ALTER TABLE manager_cards DROP COLUMN model_version;
         PRAGMA user_version = 8;",
    )
    .expect("schema 7");
    drop(conn);

    let server = Server::start_at(&db);
    assert_eq!(server_contracts_and_orders(&server), (1, 1));
    let queued: i64 = rusqlite::Connection::open(&db)
        .expect("open")
        .query_row("SELECT count(*) FROM manager_reclassify", [], |r| r.get(0))
        .expect("count");
    assert_eq!(queued, 0, "every queued card was classified again");
    // Schema 10's analysis row is filled by the same pass.
    let (lean, stages): (String, String) = rusqlite::Connection::open(&db)
        .expect("open")
        .query_row("SELECT lean, stages FROM manager_cards", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("row");
    assert!(lean.contains("上海华东食品有限公司"), "{lean}");
    assert!(stages.contains("contract"), "{stages}");
}

/// The dashboard's 分析 page shows the pipeline the API computes: per stage count and
/// weighted value, the rep's forecast, and the stalled opportunity by its customer; 活动
/// counts the contract.
#[test]
fn the_dashboard_shows_the_pipeline_and_the_contracts() {
    use reqwest::blocking::Client;
    use reqwest::header;

    let server = Server::start();
    company(&server);
    let password = "王经理的密码-2026";
    fieldbook_server::web::account::set_password(
        server.storage().as_ref(),
        "wangjl",
        password,
        server.state.now(),
    )
    .expect("password");
    let mut zhang = Device::enrol(&server, "zhangwei", Role::Rep);
    let card = zhang.new_card("上海华东食品有限公司", "east");
    add_opportunity(&mut zhang, &card, "o-soy", "年度酱油供货", 100_000);
    move_to(&mut zhang, &card, "o-soy", OppStage::Contract);
    zhang.sync();

    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let login = client
        .post(format!("{}/login", server.url()))
        .header(header::ORIGIN, server.url())
        .form(&[("person", "wangjl"), ("password", password)])
        .send()
        .expect("login");
    let cookie = login
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_owned();
    let later = local_date(Utc::now(), 480) + Days::new(40);
    let page = client
        .get(format!("{}/analysis?date={later}", server.url()))
        .header(header::COOKIE, &cookie)
        .send()
        .expect("page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().expect("html");
    let row = |id: &str| {
        let at = html.find(id).unwrap_or_else(|| panic!("{id} in {html}"));
        let end = html[at..].find("</tr>").map_or(html.len(), |e| at + e);
        html[at..end].to_owned()
    };
    let contract = row(r#"data-stage="contract""#);
    assert!(
        contract.contains(r#"<td class="num count">1</td>"#),
        "{contract}"
    );
    assert!(contract.contains("40000.00"), "¥100,000 at 40%: {contract}");
    assert!(
        html.contains(r#"id="pipeline-reps""#) && html.contains("张伟"),
        "{html}"
    );
    assert!(html.contains(r#"id="pipeline-stalled""#), "{html}");
    // The stalled table's row of the card (the credit list above names it too).
    let stalled_at = html
        .find(r#"id="pipeline-stalled""#)
        .expect("stalled table");
    let tail = &html[stalled_at..];
    let key = format!(r#"<tr data-card="{card}">"#);
    let at = tail.find(&key).unwrap_or_else(|| panic!("{key} in {tail}"));
    let end = tail[at..].find("</tr>").map_or(tail.len(), |e| at + e);
    let stalled_row = tail[at..end].to_owned();
    assert!(
        stalled_row.contains("签订合同") && stalled_row.contains("年度酱油供货"),
        "{stalled_row}"
    );
}
