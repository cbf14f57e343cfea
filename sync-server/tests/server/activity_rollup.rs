//! The activity rollup (`manager_activity`) against a recount of the change rows it is
//! projected from: after pushes of two reps, a territory handoff (the server's move
//! change, authored for the manager), late edits held past grace and one review item
//! accepted, the rollup holds exactly the change rows grouped by person, local day,
//! territory and card, and the activity report built from it counts, day by day and month
//! by month, what a count of the change rows says.

use std::collections::BTreeMap;

use fieldbook_server::storage::Role;
use rusqlite::Connection;
use serde_json::{Value as Json, json};

use crate::harness::{Device, Env};

const DAY: i64 = 24 * 3600;

/// A GET that must answer 200 with JSON.
fn ok_json(env: &Env, who: &Device, path: &str) -> Json {
    let (status, body) = env.get_json(who, path);
    assert_eq!(status, 200, "{path}");
    body
}

/// One rollup row: (person, day, territory, card) → (changes, visits, created, stages,
/// edits).
type Rows = BTreeMap<(String, i64, String, String), (i64, i64, i64, i64, i64)>;

fn rows(db: &Connection, sql: &str) -> Rows {
    db.prepare(sql)
        .expect("prepare")
        .query_map([], |r| {
            Ok((
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?),
                (r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?),
            ))
        })
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows")
}

/// Per rep and bucket (`date(…)` of the local time, China time): changes, visits, new
/// customers, distinct cards edited, stages moved — counted straight from the change rows.
fn recount(db: &Connection, bucket: &str) -> BTreeMap<(String, String), [u64; 5]> {
    db.prepare(&format!(
        "SELECT person_id, date(at + 28800, 'unixepoch'{bucket}) AS b, count(*), sum(visits), \
         sum(created), count(DISTINCT CASE WHEN created = 0 THEN card_id END), sum(stages) \
         FROM manager_changes WHERE person_id IN ('zhangwei', 'lina') GROUP BY person_id, b"
    ))
    .expect("prepare")
    .query_map([], |r| {
        let n = |i: usize| -> rusqlite::Result<u64> {
            Ok(u64::try_from(r.get::<_, i64>(i)?).expect("count"))
        };
        Ok(((r.get(0)?, r.get(1)?), [n(2)?, n(3)?, n(4)?, n(5)?, n(6)?]))
    })
    .expect("query")
    .collect::<rusqlite::Result<_>>()
    .expect("recount")
}

/// The report's non-empty buckets, keyed as [`recount`] keys them.
fn reported(report: &Json) -> BTreeMap<(String, String), [u64; 5]> {
    let mut out = BTreeMap::new();
    for rep in report["reps"]["items"].as_array().expect("reps") {
        for b in rep["buckets"].as_array().expect("buckets") {
            let n = |k: &str| b[k].as_u64().expect("count");
            let counts = [
                n("changes"),
                n("visits"),
                n("new_customers"),
                n("cards_updated"),
                n("opportunities_moved"),
            ];
            if counts != [0; 5] {
                let key = (
                    rep["person_id"].as_str().expect("id").to_owned(),
                    b["start"].as_str().expect("start").to_owned(),
                );
                out.insert(key, counts);
            }
        }
    }
    out
}

#[test]
fn the_activity_rollup_equals_a_recount_of_the_change_rows() {
    let env = Env::start();
    let mut zhang = env.rep("zhangwei");
    let mut lina = env.rep("lina");
    let a = zhang.new_card("sh-east", "上海甲贸易公司");
    let b = zhang.new_card("sh-east", "上海乙食品公司");
    zhang.set(&a, "note", "初次拜访");
    zhang.add_visit(&a, "zhangwei", None);
    zhang.sync();
    let c = lina.new_card("bj-north", "北京丙超市");
    lina.set(&c, "note", "电话联系");
    lina.sync();

    // zhang edits offline; meanwhile wang moves card a into sh-west (lina's), and zhang's
    // edit of it arrives past the grace period: held for review, then accepted.
    let storage = env.storage();
    fieldbook_server::admin::add_territory(storage.as_ref(), "sh-west", "上海西区", Some("wang"))
        .expect("territory");
    fieldbook_server::admin::assign_territory(storage.as_ref(), "sh-west", "lina").expect("assign");
    zhang.set(&a, "note", "离线时的修改");
    zhang.set(&b, "note", "乙的离线修改");
    let wang = env.device("wang", Role::Manager);
    let handoff = json!({
        "territory": "sh-east", "from": "zhangwei", "to": "lina",
        "cards": [a], "target_territory": "sh-west", "reason": "张伟调往华北",
    });
    assert_eq!(
        env.post_json(&wang, "/v1/manager/handoffs", &handoff).0,
        200
    );
    env.server.running.state.clock.advance(8 * DAY);
    let (response, _) = zhang.sync_once(None);
    assert_eq!(response.refused.len(), 1, "the edit of a is held");
    let pending = ok_json(&env, &wang, "/v1/manager/review?status=pending");
    let item = pending["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["card_id"] == json!(a))
        .and_then(|i| i["id"].as_u64())
        .expect("the held edit of card a");
    let (status, body) = env.post_json(
        &wang,
        &format!("/v1/manager/review/{item}/accept"),
        &json!({}),
    );
    assert_eq!(status, 200, "{body}");
    // lina, holding sh-east now, edits a card she received.
    lina.sync();
    lina.set(&a, "phone", "13912345678");
    lina.sync();

    let db = Connection::open(env.server.db_path()).expect("open db");
    let rollup = rows(
        &db,
        "SELECT person_id, day, territory, card_id, changes, visits, created, stages, edits \
         FROM manager_activity",
    );
    let recounted = rows(
        &db,
        "SELECT person_id, (at + 28800) / 86400 AS d, territory, card_id, count(*), \
         sum(visits), sum(created), sum(stages), sum(created = 0) FROM manager_changes \
         WHERE person_id IS NOT NULL GROUP BY person_id, d, territory, card_id",
    );
    assert_eq!(rollup, recounted);
    // Every kind of row is in: both reps, the manager's move, card a in both territories,
    // edits eight days apart.
    let people: Vec<&str> = rollup.keys().map(|k| k.0.as_str()).collect();
    for who in ["zhangwei", "lina", "wang"] {
        assert!(people.contains(&who), "{who} in {rollup:?}");
    }
    let a_territories: std::collections::BTreeSet<&str> = rollup
        .keys()
        .filter(|k| k.3 == a)
        .map(|k| k.2.as_str())
        .collect();
    assert_eq!(
        a_territories.into_iter().collect::<Vec<_>>(),
        ["sh-east", "sh-west"]
    );
    let zhang_days: std::collections::BTreeSet<i64> = rollup
        .keys()
        .filter(|k| k.0 == "zhangwei")
        .map(|k| k.1)
        .collect();
    assert!(
        zhang_days.len() >= 2,
        "edits eight days apart: {zhang_days:?}"
    );
    let total: i64 = rollup.values().map(|v| v.0).sum();
    let changes: i64 = db
        .query_row("SELECT count(*) FROM manager_changes", [], |r| r.get(0))
        .expect("count");
    assert_eq!(total, changes, "every change row counted once");

    // The report (the rollup's calendar, whole days) says what the change rows say.
    let admin = env.device("chen", Role::Admin);
    let day = |t: i64| {
        chrono::DateTime::from_timestamp(t + 8 * 3600, 0)
            .expect("time")
            .date_naive()
    };
    let now = env.server.running.state.now();
    let (from, to) = (day(now - 10 * DAY), day(now));
    for (period, bucket) in [("day", ""), ("month", ", 'start of month'")] {
        let report = ok_json(
            &env,
            &admin,
            &format!("/v1/manager/activity?period={period}&from={from}&to={to}"),
        );
        let expected = recount(&db, bucket);
        assert!(expected.len() >= 2, "{expected:?}");
        assert_eq!(reported(&report), expected, "by {period}");
    }
}
