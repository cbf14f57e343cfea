//! Territory and card handoff, and the review queue, over the JSON API: who may do it, the
//! expected-owner conflict, unknown and deactivated reps, what devices receive afterwards,
//! late edits within and past the grace period, the per-device bound, and decisions.

use automerge::{ReadDoc, ScalarValue, Value};
use fieldbook_server::Config;
use fieldbook_server::storage::{ReviewStatus, Role};
use serde_json::{Value as Json, json};

use crate::harness::Env;

const DAY: i64 = 24 * 3600;

fn handoff_body(from: &str, to: &str) -> Json {
    json!({"territory": "sh-east", "from": from, "to": to, "reason": "张伟调往华北"})
}

/// wang also manages sh-west, held by lina: where cards of sh-east can move.
fn west(env: &Env) {
    let s = env.storage();
    fieldbook_server::admin::add_territory(s.as_ref(), "sh-west", "Shanghai West", Some("wang"))
        .expect("territory");
    fieldbook_server::admin::assign_territory(s.as_ref(), "sh-west", "lina").expect("assign");
}

fn code(body: &Json) -> &str {
    body["code"].as_str().unwrap_or("")
}

#[test]
fn a_territory_handoff_is_scoped_checked_and_recorded() {
    let env = Env::start();
    let mut zhang = env.rep("zhangwei");
    let cards: Vec<String> = (0..3)
        .map(|i| zhang.new_card("sh-east", &format!("客户{i}")))
        .collect();
    zhang.sync();
    let wang = env.device("wang", Role::Manager);
    let chen = env.device("chen", Role::Manager);
    let head = env.storage().head_position().expect("head");

    // A rep and the manager of another team are refused alike.
    for who in [&zhang, &chen] {
        let (status, body) = env.post_json(
            who,
            "/v1/manager/handoffs",
            &handoff_body("zhangwei", "lina"),
        );
        assert_eq!((status, code(&body)), (403, "access.denied"));
        let (status, _) = env.post_json(
            who,
            "/v1/manager/handoffs/preview",
            &handoff_body("zhangwei", "lina"),
        );
        assert_eq!(status, 403);
        let (status, _) = env.get_json(who, "/v1/manager/territories/sh-east/assignments");
        assert_eq!(status, 403);
    }
    // Unknown and non-rep receivers.
    for to in ["nobody", "chen"] {
        let (status, body) =
            env.post_json(&wang, "/v1/manager/handoffs", &handoff_body("zhangwei", to));
        assert_eq!((status, code(&body)), (400, "handoff.unknown_rep"), "{to}");
    }
    // The preview says what would move, and moves nothing.
    let (status, preview) = env.post_json(
        &wang,
        "/v1/manager/handoffs/preview",
        &handoff_body("zhangwei", "lina"),
    );
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["card_count"], 3);
    assert_eq!(preview["whole_territory"], true);
    let mut listed: Vec<String> = preview["cards"]
        .as_array()
        .expect("cards")
        .iter()
        .map(|c| c["card_id"].as_str().expect("id").to_owned())
        .collect();
    listed.sort();
    let mut expected = cards.clone();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(
        env.storage().head_position().expect("head"),
        head,
        "a preview writes nothing"
    );

    let (status, out) = env.post_json(
        &wang,
        "/v1/manager/handoffs",
        &handoff_body("zhangwei", "lina"),
    );
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["cards_moved"], 3);
    // The same request again: zhangwei is not the owner any more.
    let (status, body) = env.post_json(
        &wang,
        "/v1/manager/handoffs",
        &handoff_body("zhangwei", "lina"),
    );
    assert_eq!((status, code(&body)), (409, "handoff.conflict"));
    let (status, history) = env.get_json(&wang, "/v1/manager/territories/sh-east/assignments");
    assert_eq!(status, 200);
    let history = history.as_array().expect("history");
    let last = history.last().expect("an entry");
    assert_eq!(last["from"], "zhangwei");
    assert_eq!(last["to"], "lina");
    assert_eq!(last["decided_by"], "wang");
    assert_eq!(last["reason"], "张伟调往华北");
    assert_eq!(history[history.len() - 2]["until"], last["at"]);

    // Devices: zhang's next sync revokes the cards, lina's brings them.
    let (response, _) = zhang.sync_once(None);
    let mut revoked = response.revoked.clone();
    revoked.sort();
    assert_eq!(revoked, expected);
    let mut lina = env.rep("lina");
    lina.sync();
    for id in &cards {
        assert!(lina.cards.contains_key(id));
    }
}

#[test]
fn a_deactivated_rep_receives_nothing() {
    let env = Env::start();
    let wang = env.device("wang", Role::Manager);
    fieldbook_server::admin::deactivate_rep(env.storage().as_ref(), "lina").expect("deactivate");
    let (status, body) = env.post_json(
        &wang,
        "/v1/manager/handoffs",
        &handoff_body("zhangwei", "lina"),
    );
    assert_eq!((status, code(&body)), (400, "handoff.unknown_rep"));
    let owner = env
        .storage()
        .territory("sh-east")
        .expect("t")
        .expect("exists")
        .owner;
    assert_eq!(owner.as_deref(), Some("zhangwei"));
    // Deactivating a manager through the rep command is refused.
    assert!(fieldbook_server::admin::deactivate_rep(env.storage().as_ref(), "wang").is_err());
}

#[test]
fn concurrent_handoffs_of_one_territory_one_wins() {
    let env = Env::start();
    fieldbook_server::admin::add_person(
        env.storage().as_ref(),
        "liuyang",
        "刘洋",
        fieldbook_server::storage::PersonKind::Rep,
    )
    .expect("rep");
    let wang = env.device("wang", Role::Manager);
    let statuses: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = ["lina", "liuyang", "lina", "liuyang"]
            .into_iter()
            .map(|to| {
                let (env, wang) = (&env, &wang);
                s.spawn(move || {
                    let (status, body) =
                        env.post_json(wang, "/v1/manager/handoffs", &handoff_body("zhangwei", to));
                    (status, code(&body).to_owned())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(
        statuses.iter().filter(|(s, _)| *s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .filter(|(s, _)| *s != 200)
            .all(|(s, c)| *s == 409 && c == "handoff.conflict"),
        "{statuses:?}"
    );
    let history = env
        .storage()
        .assignment_history("sh-east")
        .expect("history");
    assert_eq!(history.iter().filter(|a| a.decided_by == "wang").count(), 1);
}

/// The string at a root key of a document.
fn root_str(doc: &automerge::Automerge, key: &str) -> Option<String> {
    match doc.get(automerge::ROOT, key).ok()?? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

#[test]
fn a_card_moves_by_a_change_the_server_writes_for_the_manager() {
    let env = Env::start();
    west(&env);
    let mut zhang = env.rep("zhangwei");
    let moving = zhang.new_card("sh-east", "上海华东食品有限公司");
    let staying = zhang.new_card("sh-east", "留下的客户");
    zhang.sync();
    let mut lina = env.rep("lina");
    lina.sync();
    assert!(!lina.cards.contains_key(&moving));
    let wang = env.device("wang", Role::Manager);
    let chen = env.device("chen", Role::Manager);
    let body = json!({
        "territory": "sh-east", "from": "zhangwei", "to": "lina",
        "cards": [moving], "target_territory": "sh-west", "reason": "客户搬到浦西",
    });
    // chen manages neither territory.
    let (status, _) = env.post_json(&chen, "/v1/manager/handoffs", &body);
    assert_eq!(status, 403);
    // A card that is not in the territory, or does not exist: one answer.
    let mut bad = body.clone();
    bad["cards"] = json!(["00000000-0000-4000-8000-000000000000"]);
    let (status, _) = env.post_json(&wang, "/v1/manager/handoffs", &bad);
    assert_eq!(status, 403);
    let (status, preview) = env.post_json(&wang, "/v1/manager/handoffs/preview", &body);
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        (
            preview["card_count"].clone(),
            preview["whole_territory"].clone()
        ),
        (json!(1), json!(false))
    );

    let log = env.log_len();
    let (status, out) = env.post_json(&wang, "/v1/manager/handoffs", &body);
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["cards_moved"], 1);
    assert_eq!(env.log_len(), log + 1, "one change per card moved");
    let stored = env.storage().card(&moving).expect("card").expect("exists");
    assert_eq!(stored.territory, "sh-west");
    let doc = automerge::Automerge::load(&stored.doc).expect("load");
    assert_eq!(root_str(&doc, "territory").as_deref(), Some("sh-west"));
    // The change is the manager's, under the server's actor for them, and recorded so.
    let last = doc.get_changes(&[]).into_iter().last().expect("a change");
    let server_id = env.storage().identity().expect("identity").server_id;
    let actor = fieldbook_server::handoff::server_actor(&server_id, "wang");
    assert_eq!(last.actor_id(), &actor);
    assert_eq!(
        doc.get_author_for_actor(&actor)
            .map(|a| a.as_bytes().to_vec()),
        Some(b"wang".to_vec())
    );
    let actors = env.storage().server_actors().expect("actors");
    assert!(
        actors
            .iter()
            .any(|a| a.actor == actor.to_bytes() && a.person_id == "wang")
    );
    let history = env
        .storage()
        .card_assignments(&moving)
        .expect("card history");
    let moved = history.last().expect("the move");
    assert_eq!(
        (
            moved.from.as_deref(),
            moved.to.as_str(),
            moved.from_territory.as_deref()
        ),
        (Some("zhangwei"), "lina", Some("sh-east"))
    );
    // The card stays where it was on the API of the old territory's history too.
    let (_, east) = env.get_json(&wang, "/v1/manager/territories/sh-east/assignments");
    assert!(
        east.as_array()
            .expect("list")
            .iter()
            .any(|a| a["card_id"] == json!(moving))
    );

    // Devices: zhang loses exactly that card, lina gains it whole.
    let (response, _) = zhang.sync_once(None);
    assert_eq!(response.revoked, vec![moving.clone()]);
    assert!(zhang.cards.contains_key(&staying));
    let (response, _) = lina.sync_once(None);
    let item = response
        .changes
        .iter()
        .find(|c| c.card_id == moving)
        .expect("lina receives the card");
    assert_eq!(item.kind, fieldbook_core::sync::wire::PayloadKind::Snapshot);
    // Her history can name the move's author: the server, for wang.
    let named = response
        .actors
        .iter()
        .find(|a| a.actor == actor.to_bytes())
        .expect("the server's actor is in the directory");
    assert_eq!(
        (
            named.device_name.as_str(),
            named.person_id.as_str(),
            named.person_name.as_str()
        ),
        ("server", "wang", "Wang Fang")
    );
    assert_eq!(lina.get(&moving, "territory").as_deref(), Some("sh-west"));
    assert_eq!(
        lina.get(&moving, "name").as_deref(),
        Some("上海华东食品有限公司")
    );
    // She can edit it now; a push of hers is accepted.
    lina.set(&moving, "phone", "021-5555");
    lina.sync();
}

#[test]
fn late_edits_of_a_moved_card_are_accepted_within_grace() {
    let env = Env::start();
    west(&env);
    let mut zhang = env.rep("zhangwei");
    let card = zhang.new_card("sh-east", "客户");
    zhang.sync();
    // Offline edit, before the move reaches zhang.
    zhang.set(&card, "note", "离线时的拜访记录");
    let wang = env.device("wang", Role::Manager);
    let body = json!({
        "territory": "sh-east", "from": "zhangwei", "to": "lina",
        "cards": [card], "target_territory": "sh-west", "reason": "r",
    });
    assert_eq!(env.post_json(&wang, "/v1/manager/handoffs", &body).0, 200);
    let (response, _) = zhang.sync_once(None);
    assert!(response.refused.is_empty(), "{:?}", response.refused);
    assert_eq!(response.acks.len(), 1);
    let late = env.storage().late_edits(&card).expect("late");
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].device_id, zhang.device_id);
    let stored = env.storage().card(&card).expect("card").expect("exists");
    assert_eq!(
        stored.territory, "sh-west",
        "the late edit does not move the card back"
    );
}

#[test]
fn past_grace_edits_go_to_review_and_decisions_are_recorded() {
    let env = Env::start();
    let mut zhang = env.rep("zhangwei");
    let a = zhang.new_card("sh-east", "客户甲");
    let b = zhang.new_card("sh-east", "客户乙");
    zhang.sync();
    zhang.set(&a, "note", "甲的离线修改");
    zhang.set(&b, "note", "乙的离线修改");
    let wang = env.device("wang", Role::Manager);
    let chen = env.device("chen", Role::Manager);
    assert_eq!(
        env.post_json(
            &wang,
            "/v1/manager/handoffs",
            &handoff_body("zhangwei", "lina")
        )
        .0,
        200
    );
    env.server.running.state.clock.advance(8 * DAY);
    let log = env.log_len();
    let request = zhang.request(None);
    let (response, _) = zhang.send(&request);
    assert_eq!(response.refused.len(), 2);
    assert!(
        response
            .refused
            .iter()
            .all(|r| r.code == "access.handoff_expired")
    );
    assert_eq!(env.log_len(), log, "refused edits are not in the log");
    // A retry (the answer was lost) holds nothing twice.
    let (again, _) = zhang.send(&request);
    assert_eq!(again.refused.len(), 2);
    zhang.apply(&again);
    let (status, page) = env.get_json(&wang, "/v1/manager/review?status=pending");
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 2);
    let items = page["items"].as_array().expect("items");
    assert!(
        items
            .iter()
            .all(|i| i["changes"] == 1 && i["person_id"] == "zhangwei")
    );
    assert!(
        items
            .iter()
            .all(|i| i["device_name"] == "test phone" && i["territory"] == "sh-east")
    );
    // Out of scope: listed as nothing, decided as access.denied.
    let (_, other) = env.get_json(&chen, "/v1/manager/review");
    assert_eq!(other["total"], 0);
    let id_of = |card: &str| {
        items
            .iter()
            .find(|i| i["card_id"] == json!(card))
            .and_then(|i| i["id"].as_u64())
            .expect("item of card")
    };
    let (ia, ib) = (id_of(&a), id_of(&b));
    let (status, _) = env.post_json(
        &chen,
        &format!("/v1/manager/review/{ia}/accept"),
        &json!({}),
    );
    assert_eq!(status, 403);
    let (status, _) = env.post_json(
        &zhang,
        &format!("/v1/manager/review/{ia}/accept"),
        &json!({}),
    );
    assert_eq!(status, 403);
    let (status, body) = env.post_json(&wang, "/v1/manager/review/abc/accept", &json!({}));
    assert_eq!((status, code(&body)), (400, "request.invalid"));

    // Accept: merged, attributed to zhang, the record names wang.
    let mut lina = env.rep("lina");
    lina.sync();
    let (status, out) = env.post_json(
        &wang,
        &format!("/v1/manager/review/{ia}/accept"),
        &json!({}),
    );
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["changes_merged"], 1);
    let stored = env.storage().card(&a).expect("card").expect("exists");
    let doc = automerge::Automerge::load(&stored.doc).expect("load");
    assert_eq!(root_str(&doc, "note").as_deref(), Some("甲的离线修改"));
    let last = doc.get_changes(&[]).into_iter().last().expect("change");
    assert_eq!(
        last.actor_id(),
        &zhang.actor,
        "attributed to its author's device"
    );
    assert_eq!(env.storage().late_edits(&a).expect("late").len(), 1);
    let item = env.storage().held_item(ia).expect("item").expect("exists");
    assert_eq!(item.status, ReviewStatus::Accepted);
    assert_eq!(item.decided_by.as_deref(), Some("wang"));
    let (status, body) = env.post_json(
        &wang,
        &format!("/v1/manager/review/{ia}/accept"),
        &json!({}),
    );
    assert_eq!((status, code(&body)), (409, "review.decided"));
    lina.sync();
    assert_eq!(lina.get(&a, "note").as_deref(), Some("甲的离线修改"));

    // Discard: recorded with its note, bytes kept, the card untouched.
    let before = env.storage().card(&b).expect("card").expect("exists").heads;
    let (status, out) = env.post_json(
        &wang,
        &format!("/v1/manager/review/{ib}/discard"),
        &json!({"note": "客户已确认不需要"}),
    );
    assert_eq!(status, 200, "{out}");
    let item = env.storage().held_item(ib).expect("item").expect("exists");
    assert_eq!(item.status, ReviewStatus::Discarded);
    assert_eq!(item.note.as_deref(), Some("客户已确认不需要"));
    assert!(!item.bytes.is_empty());
    assert_eq!(
        env.storage().card(&b).expect("card").expect("exists").heads,
        before
    );
    let (_, page) = env.get_json(&wang, "/v1/manager/review");
    assert_eq!(page["total"], 2, "decided items stay listed");
    let (_, pending) = env.get_json(&wang, "/v1/manager/review?status=pending");
    assert_eq!(pending["total"], 0);
}

#[test]
fn a_flood_of_late_edits_is_refused_not_stored() {
    let env = Env::start_with(Config {
        review_max_items_per_device: 2,
        ..Config::default()
    });
    let mut zhang = env.rep("zhangwei");
    let cards: Vec<String> = (0..4)
        .map(|i| zhang.new_card("sh-east", &format!("客户{i}")))
        .collect();
    zhang.sync();
    for c in &cards {
        zhang.set(c, "note", "离线修改");
    }
    let wang = env.device("wang", Role::Manager);
    assert_eq!(
        env.post_json(
            &wang,
            "/v1/manager/handoffs",
            &handoff_body("zhangwei", "lina")
        )
        .0,
        200
    );
    env.server.running.state.clock.advance(8 * DAY);
    let (response, _) = zhang.sync_once(None);
    let mut codes: Vec<&str> = response.refused.iter().map(|r| r.code.as_str()).collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            "access.handoff_expired",
            "access.handoff_expired",
            "handoff.review_full",
            "handoff.review_full"
        ]
    );
    let held: usize = cards
        .iter()
        .map(|c| env.storage().held_changes(c).expect("held").len())
        .sum();
    assert_eq!(held, 2);
}

#[test]
fn an_administrator_hands_off_any_territory_and_a_rep_sees_no_queue() {
    let env = Env::start();
    let zhang = env.rep("zhangwei");
    let (status, body) = env.get_json(&zhang, "/v1/manager/review");
    assert_eq!((status, code(&body)), (403, "access.denied"));
    let (status, _) = env.get_json(
        &env.device("chen", Role::Manager),
        "/v1/manager/territories/sh-east/assignments",
    );
    assert_eq!(status, 403);
    // chen's admin device: every territory is in scope.
    let admin = env.device("chen", Role::Admin);
    let (status, out) = env.post_json(
        &admin,
        "/v1/manager/handoffs",
        &handoff_body("zhangwei", "lina"),
    );
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["assignments"][0]["decided_by"], "chen");
    let (status, history) = env.get_json(&admin, "/v1/manager/territories/sh-east/assignments");
    assert_eq!(status, 200);
    assert_eq!(history.as_array().map(Vec::len), Some(2));
    // A territory that does not exist: only an administrator is told so.
    let mut body = handoff_body("zhangwei", "lina");
    body["territory"] = json!("nowhere");
    let (status, out) = env.post_json(&admin, "/v1/manager/handoffs/preview", &body);
    assert_eq!((status, code(&out)), (404, "admin.not_found"));
    let wang = env.device("wang", Role::Manager);
    let (status, out) = env.post_json(&wang, "/v1/manager/handoffs/preview", &body);
    assert_eq!((status, code(&out)), (403, "access.denied"));
}
