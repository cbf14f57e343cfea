//! The manager's JSON API against a real server: every endpoint by role, search as on the
//! phone, paging, one card in full (conflicts, device names, history), and activity
//! numbers on a history whose every change is known.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, ObjId, ObjType, ReadDoc, ScalarValue, Value};
use fieldbook_server::storage::Role;
use serde_json::Value as Json;

use crate::harness::{Device, Env};

const DAY: i64 = 86_400;

fn map(doc: &AutoCommit, key: &str) -> ObjId {
    match doc.get(automerge::ROOT, key).expect("get") {
        Some((Value::Object(_), id)) => id,
        _ => panic!("the card has no {key}"),
    }
}

/// A card with a name (and phone) in its basic section, as a device writes one.
fn named_card(d: &mut Device, territory: &str, name: &str, phone: Option<&str>) -> String {
    let id = d.new_card(territory, name);
    let doc = d.cards.get_mut(&id).expect("card");
    let basic = map(doc, "basic");
    doc.put(&basic, "name", name).expect("name");
    if let Some(p) = phone {
        doc.put(&basic, "phone", p).expect("phone");
    }
    doc.commit();
    id
}

fn set_basic(d: &mut Device, card: &str, key: &str, value: &str) {
    let doc = d.cards.get_mut(card).expect("card");
    let basic = map(doc, "basic");
    doc.put(&basic, key, value).expect("put");
    doc.commit();
}

fn get(env: &Env, token: Option<&str>, path: &str) -> (u16, String) {
    let mut req = env.http.get(env.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().expect("request");
    (r.status().as_u16(), r.text().expect("body"))
}

fn json(env: &Env, token: &str, path: &str) -> Json {
    let (status, body) = get(env, Some(token), path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("json")
}

fn code(body: &str) -> String {
    let v: Json = serde_json::from_str(body).expect("error json");
    v["code"].as_str().expect("code").to_owned()
}

/// Every endpoint × role: a rep 403, a manager of another team 403 (the same answer as
/// for a card that does not exist), no token 401, the team's manager and an admin 200.
#[test]
fn every_endpoint_answers_each_role() {
    let env = Env::start();
    let mut zw = env.rep("zhangwei");
    let mut lina = env.rep("lina");
    let east = named_card(&mut zw, "sh-east", "上海华东食品有限公司", None);
    let north = named_card(&mut lina, "bj-north", "北京朝阳商贸有限公司", None);
    zw.sync();
    lina.sync();
    let wang = env.device("wang", Role::Manager); // manages sh-east
    let admin = env.device("wang", Role::Admin);

    let own = [
        "/v1/manager/team".to_owned(),
        "/v1/manager/cards".to_owned(),
        format!("/v1/manager/cards/{east}"),
        "/v1/manager/activity".to_owned(),
        "/v1/manager/activity.csv".to_owned(),
    ];
    for path in &own {
        let (status, body) = get(&env, Some(&zw.token), path);
        assert_eq!(
            (status, code(&body).as_str()),
            (403, "access.denied"),
            "rep on {path}"
        );
        let (status, body) = get(&env, None, path);
        assert_eq!(
            (status, code(&body).as_str()),
            (401, "auth.missing_token"),
            "{path}"
        );
        assert_eq!(
            get(&env, Some(&wang.token), path).0,
            200,
            "manager on {path}"
        );
        assert_eq!(
            get(&env, Some(&admin.token), path).0,
            200,
            "admin on {path}"
        );
    }
    // Another team's data.
    let foreign = [
        format!("/v1/manager/cards/{north}"),
        "/v1/manager/cards?territory=bj-north".to_owned(),
        "/v1/manager/activity?rep=lina".to_owned(),
        "/v1/manager/activity.csv?rep=lina".to_owned(),
    ];
    for path in &foreign {
        let (status, body) = get(&env, Some(&wang.token), path);
        assert_eq!(
            (status, code(&body).as_str()),
            (403, "access.denied"),
            "{path}"
        );
        assert_eq!(
            get(&env, Some(&admin.token), path).0,
            200,
            "admin on {path}"
        );
    }
    let missing = get(
        &env,
        Some(&wang.token),
        "/v1/manager/cards/00000000-0000-4000-8000-000000000000",
    );
    assert_eq!(missing, get(&env, Some(&wang.token), &foreign[0]));

    // What each sees: the manager their team only, the admin everyone.
    let team = json(&env, &wang.token, "/v1/manager/team");
    let reps: Vec<&str> = team["reps"]["items"]
        .as_array()
        .expect("reps")
        .iter()
        .map(|r| r["person_id"].as_str().expect("id"))
        .collect();
    assert_eq!(reps, ["zhangwei"]);
    let cards = json(&env, &wang.token, "/v1/manager/cards");
    assert_eq!(cards["total"], 1);
    assert_eq!(cards["items"][0]["id"], east.as_str());
    let all = json(&env, &admin.token, "/v1/manager/cards");
    assert_eq!(all["total"], 2);

    // The OpenAPI document is served and names every manager route.
    let (status, body) = get(&env, None, "/v1/openapi.json");
    assert_eq!(status, 200);
    let doc: Json = serde_json::from_str(&body).expect("json");
    for (method, path) in fieldbook_server::manager::api::ROUTES {
        assert!(doc["paths"][path][method].is_object(), "{path}");
        // Every manager route, the handoff and review ones included, refuses a rep
        // before it reads a byte of the request.
        if *path == "/v1/openapi.json" {
            continue;
        }
        let url = env.url(
            &path
                .replace("{card_id}", &east)
                .replace("{territory_id}", "sh-east")
                .replace("{id}", "1"),
        );
        let req = match *method {
            "get" => env.http.get(url),
            "put" => env.http.put(url).json(&serde_json::json!({})),
            _ => env.http.post(url).json(&serde_json::json!({})),
        };
        let r = req.bearer_auth(&zw.token).send().expect("request");
        let status = r.status().as_u16();
        let body = r.text().expect("body");
        assert_eq!(
            (status, code(&body).as_str()),
            (403, "access.denied"),
            "rep on {method} {path}"
        );
    }
    // Every list pages the same way: a page size out of range is refused, not clamped.
    for list in [
        "/v1/manager/team",
        "/v1/manager/cards",
        "/v1/manager/activity",
        "/v1/manager/review",
    ] {
        for bad in ["per_page=0", "per_page=201", "page=0"] {
            let (status, body) = get(&env, Some(&wang.token), &format!("{list}?{bad}"));
            assert_eq!(
                (status, code(&body).as_str()),
                (400, "request.invalid"),
                "{list}?{bad}"
            );
        }
        let page = json(&env, &wang.token, &format!("{list}?per_page=200"));
        let page = if list.ends_with("team") || list.ends_with("activity") {
            page["reps"].clone()
        } else {
            page
        };
        assert_eq!(page["per_page"], 200, "{list}");
    }
    // A card's assignment history names who held it.
    let detail = json(&env, &wang.token, &format!("/v1/manager/cards/{east}"));
    let held = detail["assignments"].as_array().expect("assignments");
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["to"], "zhangwei");
    assert_eq!(held[0]["territory"], "sh-east");
}

/// Two Chinese characters or a phone fragment find a card, as on the phone; punctuation
/// alone finds nothing; filters and sorts apply.
#[test]
fn search_finds_cards_as_on_the_phone() {
    let env = Env::start();
    let mut zw = env.rep("zhangwei");
    let food = named_card(
        &mut zw,
        "sh-east",
        "上海华东食品有限公司",
        Some("021-6234 5678"),
    );
    let steel = named_card(&mut zw, "sh-east", "宝山钢材贸易公司", Some("13912345678"));
    let _other = named_card(&mut zw, "sh-east", "Acme Trading", None);
    {
        let doc = zw.cards.get_mut(&steel).expect("card");
        let class = map(doc, "classification");
        doc.put(&class, "abc", "A").expect("class");
        let tags = match doc.get(automerge::ROOT, "tags").expect("tags") {
            Some((Value::Object(_), id)) => id,
            _ => doc
                .put_object(automerge::ROOT, "tags", ObjType::Map)
                .expect("tags"),
        };
        doc.put(&tags, "重点客户", true).expect("tag");
        doc.commit();
    }
    zw.sync();
    let wang = env.device("wang", Role::Manager);
    let ids = |path: &str| -> Vec<String> {
        let page = json(&env, &wang.token, path);
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|c| c["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let q = |text: &str| format!("/v1/manager/cards?q={}", urlencode(text));
    assert_eq!(
        ids(&q("华东")),
        std::slice::from_ref(&food),
        "two Chinese characters"
    );
    assert_eq!(
        ids(&q("食品有限")),
        std::slice::from_ref(&food),
        "four characters"
    );
    assert_eq!(
        ids(&q("6234")),
        std::slice::from_ref(&food),
        "a phone fragment"
    );
    assert_eq!(
        ids(&q("62345678")),
        std::slice::from_ref(&food),
        "the phone's digits"
    );
    assert_eq!(ids(&q("1391")), std::slice::from_ref(&steel));
    assert_eq!(ids(&q("acme")).len(), 1, "Latin, any case");
    assert!(ids(&q("-- …")).is_empty(), "punctuation finds nothing");
    assert!(ids(&q("北京")).is_empty());
    assert_eq!(
        ids("/v1/manager/cards?class=a"),
        std::slice::from_ref(&steel)
    );
    assert_eq!(
        ids(&format!("/v1/manager/cards?tag={}", urlencode("重点客户"))),
        std::slice::from_ref(&steel)
    );
    assert_eq!(ids("/v1/manager/cards?owner=zhangwei").len(), 3);
    assert!(ids("/v1/manager/cards?owner=lina").is_empty());
    // By name in pinyin order: Acme, bao (宝山), shang (上海).
    assert_eq!(ids("/v1/manager/cards")[1..], [steel.clone(), food.clone()]);
    let row = &json(&env, &wang.token, "/v1/manager/cards?class=A")["items"][0];
    assert_eq!(row["class"], "A");
    assert_eq!(row["tags"][0], "重点客户");
    assert_eq!(row["owner"], "zhangwei");
    let (status, body) = get(&env, Some(&wang.token), "/v1/manager/cards?class=Z");
    assert_eq!((status, code(&body).as_str()), (400, "request.invalid"));
    let (status, _) = get(&env, Some(&wang.token), "/v1/manager/cards?sort=colour");
    assert_eq!(status, 400);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Pages of the card list cover every card once; bad page sizes are refused.
#[test]
fn card_pages_cover_every_card_once() {
    let env = Env::start();
    let mut zw = env.rep("zhangwei");
    let mut made: Vec<String> = (0..7)
        .map(|i| named_card(&mut zw, "sh-east", &format!("客户{i}号"), None))
        .collect();
    zw.sync();
    let wang = env.device("wang", Role::Manager);
    let mut seen = Vec::new();
    for page in 1..=3 {
        let p = json(
            &env,
            &wang.token,
            &format!("/v1/manager/cards?per_page=3&page={page}&sort=updated"),
        );
        assert_eq!(p["total"], 7);
        assert_eq!(p["page"], page);
        let items = p["items"].as_array().expect("items");
        assert_eq!(items.len(), if page < 3 { 3 } else { 1 });
        seen.extend(
            items
                .iter()
                .map(|c| c["id"].as_str().expect("id").to_owned()),
        );
    }
    let beyond = json(&env, &wang.token, "/v1/manager/cards?per_page=3&page=4");
    assert!(beyond["items"].as_array().expect("items").is_empty());
    seen.sort();
    made.sort();
    assert_eq!(seen, made);
    for bad in ["per_page=0", "per_page=201", "page=0", "page=x"] {
        let (status, body) = get(&env, Some(&wang.token), &format!("/v1/manager/cards?{bad}"));
        assert_eq!(
            (status, code(&body).as_str()),
            (400, "request.invalid"),
            "{bad}"
        );
    }
    let team = json(&env, &wang.token, "/v1/manager/team?per_page=1&page=2");
    assert_eq!(team["reps"]["total"], 1);
    assert!(team["reps"]["items"].as_array().expect("items").is_empty());
}

/// One card in full: the device's view (the same JSON as `GET /v1/cards/{id}`), a
/// conflict with both values and the devices that set them by their enrolled names, and
/// the history naming each device and its role, with receive times.
#[test]
fn a_card_in_full_names_devices_and_shows_conflicts() {
    let env = Env::start();
    let mut phone = env.device_named("zhangwei", Role::Rep, "演示手机");
    let mut tablet = env.device_named("zhangwei", Role::Rep, "演示平板");
    let mut boss = env.device_named("wang", Role::Manager, "经理手机");
    let card = named_card(&mut phone, "sh-east", "上海华东食品有限公司", None);
    phone.sync();
    tablet.sync();
    boss.sync();
    // Offline on both: the same field.
    set_basic(&mut phone, &card, "phone", "13800000001");
    set_basic(&mut tablet, &card, "phone", "13900000002");
    set_basic(&mut boss, &card, "city", "上海");
    phone.sync();
    tablet.sync();
    boss.sync();

    let detail = json(&env, &boss.token, &format!("/v1/manager/cards/{card}"));
    let plain = json(&env, &boss.token, &format!("/v1/cards/{card}"));
    assert_eq!(detail["card"], plain, "one shape for a card");
    assert_eq!(detail["card"]["basic"]["city"], "上海");
    assert_eq!(detail["owner"], "zhangwei");
    assert_eq!(detail["owner_name"], "Zhang Wei");

    let conflicts = detail["conflicts"].as_array().expect("conflicts");
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0]["path"], "basic.phone");
    let mut values: Vec<(String, String)> = conflicts[0]["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| {
            (
                v["value"].as_str().expect("value").to_owned(),
                v["device"]["name"]
                    .as_str()
                    .expect("device name")
                    .to_owned(),
            )
        })
        .collect();
    values.sort();
    assert_eq!(
        values,
        [
            ("13800000001".to_owned(), "演示手机".to_owned()),
            ("13900000002".to_owned(), "演示平板".to_owned())
        ]
    );

    let history = &detail["history"];
    assert_eq!(history["total"], 5, "skeleton, name, two phones, the city");
    let rows = history["items"].as_array().expect("rows");
    // Newest first: the manager's edit, labelled as a manager's device.
    assert_eq!(rows[0]["device"]["name"], "经理手机");
    assert_eq!(rows[0]["device"]["role"], "manager");
    assert_eq!(rows[0]["person_name"], "Wang Fang");
    assert_eq!(rows[0]["fields"][0], "basic.city");
    assert_eq!(rows[0]["sent_by"], boss.device_id.as_str());
    assert!(rows[0]["received_at"].is_string());
    assert_eq!(rows[0]["late"], false);
    let created: Vec<&Json> = rows.iter().filter(|r| r["created"] == true).collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["device"]["name"], "演示手机");
    assert_eq!(created[0]["device"]["role"], "rep");
    let paged = json(
        &env,
        &boss.token,
        &format!("/v1/manager/cards/{card}?per_page=2&page=3"),
    );
    assert_eq!(paged["history"]["items"].as_array().expect("rows").len(), 1);

    // The list flags the conflict.
    let list = json(&env, &boss.token, "/v1/manager/cards?conflicted=true");
    assert_eq!(list["items"][0]["id"], card.as_str());
    assert_eq!(list["items"][0]["conflicts"], 1);
    let team = json(&env, &boss.token, "/v1/manager/team");
    let rep = &team["reps"]["items"][0];
    assert_eq!(rep["open_conflicts"], 1);
    assert_eq!(rep["devices"].as_array().expect("devices").len(), 2);
    assert_eq!(rep["unsynced_devices"], 0);
    assert_eq!(
        rep["edits_last_day"], 4,
        "every change zhangwei's devices made"
    );
}

/// A change made at a known device time.
fn commit_at(doc: &mut AutoCommit, at: i64) {
    doc.commit_with(CommitOptions::default().with_time(at));
}

/// Activity on a history whose every change is known: a card created, a visit, an
/// opportunity opened and later moved on, an edit — by day, week and month, and as CSV.
#[test]
fn activity_counts_a_known_history() {
    let env = Env::start();
    let mut zw = env.rep("zhangwei");
    let now = chrono::Utc::now().timestamp();
    // Three days at noon, China time, two weeks back (all on one side of a week's start
    // would make the week test trivial: they are wherever the calendar puts them).
    let noon = |days_ago: i64| {
        let local_midnight = (now + 8 * 3600).div_euclid(DAY) * DAY - 8 * 3600;
        local_midnight - days_ago * DAY + 12 * 3600
    };
    let (d1, d2, d3) = (noon(15), noon(14), noon(13));

    let card = {
        // A card whose creating change was made at d1.
        let id = uuid::Uuid::new_v4().to_string();
        let mut fresh = zw.doc_handle(AutoCommit::new());
        fieldbook_core::card::write_skeleton(&mut fresh, &id.parse().expect("id"), Some("sh-east"))
            .expect("skeleton");
        commit_at(&mut fresh, d1);
        zw.cards.insert(id.clone(), fresh);
        id
    };
    let doc = zw.cards.get_mut(&card).expect("card");
    // d1: a visit.
    let visits = map(doc, "visits");
    let v = doc.insert_object(&visits, 0, ObjType::Map).expect("visit");
    doc.put(&v, "id", "v1").expect("id");
    doc.put(&v, "at", ScalarValue::Timestamp(d1 * 1000))
        .expect("at");
    doc.put(&v, "rep", "zhangwei").expect("rep");
    commit_at(doc, d1 + 60);
    // d2: an opportunity, opened at its first stage (not a move).
    let opps = map(doc, "opportunities");
    let o = doc.put_object(&opps, "o1", ObjType::Map).expect("opp");
    doc.put(&o, "title", "年度供货").expect("title");
    doc.put(&o, "stage", "first_contact").expect("stage");
    commit_at(doc, d2);
    // d3: the stage moves; then a plain edit.
    doc.put(&o, "stage", "negotiation").expect("stage");
    commit_at(doc, d3);
    let basic = map(doc, "basic");
    doc.put(&basic, "city", "上海").expect("city");
    commit_at(doc, d3 + 60);
    zw.sync();
    let wang = env.device("wang", Role::Manager);

    let day = |d: i64| {
        chrono::DateTime::from_timestamp(d + 8 * 3600, 0)
            .expect("time")
            .date_naive()
            .to_string()
    };
    let report = json(
        &env,
        &wang.token,
        &format!(
            "/v1/manager/activity?period=day&from={}&to={}",
            day(d1),
            day(d3)
        ),
    );
    let rep = &report["reps"]["items"][0];
    assert_eq!(rep["person_id"], "zhangwei");
    let buckets: Vec<(String, u64, u64, u64, u64, u64)> = rep["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .map(|b| {
            let n = |k: &str| b[k].as_u64().expect("count");
            (
                b["start"].as_str().expect("start").to_owned(),
                n("changes"),
                n("new_customers"),
                n("visits"),
                n("cards_updated"),
                n("opportunities_moved"),
            )
        })
        .collect();
    assert_eq!(
        buckets,
        [
            (day(d1), 2, 1, 1, 1, 0),
            (day(d2), 1, 0, 0, 1, 0),
            (day(d3), 2, 0, 0, 1, 1),
        ]
    );
    assert_eq!(rep["totals"]["changes"], 5);
    assert_eq!(rep["totals"]["opportunities_moved"], 1);

    let month = json(
        &env,
        &wang.token,
        &format!(
            "/v1/manager/activity?period=month&from={}&to={}",
            day(d1),
            day(d3)
        ),
    );
    let totals = &month["reps"]["items"][0]["totals"];
    assert_eq!(totals["new_customers"], 1);
    assert_eq!(totals["visits"], 1);
    assert_eq!(totals["changes"], 5);
    let week = json(
        &env,
        &wang.token,
        &format!(
            "/v1/manager/activity?period=week&from={}&to={}",
            day(d1),
            day(d3)
        ),
    );
    let weeks = week["reps"]["items"][0]["buckets"]
        .as_array()
        .expect("weeks");
    let sum: u64 = weeks
        .iter()
        .map(|b| b["changes"].as_u64().expect("n"))
        .sum();
    assert_eq!(sum, 5);
    for b in weeks {
        let start =
            chrono::NaiveDate::parse_from_str(b["start"].as_str().expect("start"), "%Y-%m-%d")
                .expect("date");
        assert_eq!(chrono::Datelike::weekday(&start), chrono::Weekday::Mon);
    }

    let (status, csv) = get(
        &env,
        Some(&wang.token),
        &format!(
            "/v1/manager/activity.csv?period=day&from={}&to={}",
            day(d1),
            day(d3)
        ),
    );
    assert_eq!(status, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "rep,name,period_start,visits,new_customers,cards_updated,opportunities_moved,changes"
    );
    assert_eq!(
        lines[1],
        format!("zhangwei,Zhang Wei,{},1,1,1,0,2", day(d1))
    );
    assert_eq!(
        lines[3],
        format!("zhangwei,Zhang Wei,{},0,0,1,1,2", day(d3))
    );
    assert_eq!(lines.len(), 4);

    let (status, _) = get(
        &env,
        Some(&wang.token),
        "/v1/manager/activity?from=2020-01-01&to=2026-01-01",
    );
    assert_eq!(status, 400, "a range over two years is refused");
}

/// A database from before the manager's read model (its cards have no index rows) gets
/// them when the server starts: the card is listed, found and its history shown.
#[test]
fn cards_stored_before_the_read_model_are_indexed_at_start() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("server.db");
    let env = Env::start_at(&db);
    let mut zw = env.rep("zhangwei");
    let card = named_card(
        &mut zw,
        "sh-east",
        "上海华东食品有限公司",
        Some("021-6234 5678"),
    );
    zw.sync();
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.execute_batch(
        "DELETE FROM manager_card_tags; DELETE FROM manager_fts; DELETE FROM manager_grams; \
         DELETE FROM manager_cards; DELETE FROM manager_changes;",
    )
    .expect("forget the read model");
    drop(conn);
    let env = env.restart();
    let wang = env.device("wang", Role::Manager);
    let found = json(&env, &wang.token, "/v1/manager/cards?q=6234");
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["id"], card.as_str());
    let detail = json(&env, &wang.token, &format!("/v1/manager/cards/{card}"));
    assert_eq!(detail["history"]["total"], 2, "the skeleton and the name");
}
