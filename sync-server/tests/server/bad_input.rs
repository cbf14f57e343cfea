//! Every bad input of issue 3: each answered with its stable code, nothing stored, and the
//! server keeps serving.

use automerge::{ActorId, Author, AutoCommit, ReadDoc, Value, transaction::Transactable};
use fieldbook_core::sync::wire::{
    self, CardPush, Cursor, EnrolRequest, ErrorBody, PROTOCOL_VERSION, SyncRequest,
};
use fieldbook_server::Config;
use fieldbook_server::storage::Role;

use crate::bombs::chunk;
use crate::harness::{Device, Env};

fn error_of(status: u16, body: &[u8]) -> (u16, String) {
    let e: ErrorBody = serde_json::from_slice(body).unwrap_or_else(|_| ErrorBody {
        code: format!("<not json: {}>", String::from_utf8_lossy(body)),
        message: String::new(),
    });
    (status, e.code)
}

fn sync_error(device: &Device, body: Vec<u8>) -> (u16, String) {
    let (status, bytes) = device.post_raw("/v1/sync", body);
    error_of(status, &bytes)
}

fn still_serving(env: &Env, device: &mut Device) {
    let (response, _) = device.sync_once(None);
    assert!(response.refused.is_empty());
    let health = env.http.get(env.url("/healthz")).send().expect("healthz");
    assert_eq!(health.status(), 200);
}

#[test]
fn malformed_truncated_and_unknown_version_bodies_are_400() {
    let env = Env::start();
    let mut a = env.rep("zhangwei");
    a.new_card("sh-east", "Acme");
    let valid = wire::encode(&a.request(None)).expect("encode");

    assert_eq!(
        sync_error(&a, b"this is not a sync body".to_vec()),
        (400, "request.malformed".into())
    );
    assert_eq!(
        sync_error(&a, Vec::new()),
        (400, "request.malformed".into())
    );
    for cut in [1, valid.len() / 2, valid.len() - 1] {
        assert_eq!(
            sync_error(&a, valid[..cut].to_vec()),
            (400, "request.malformed".into()),
            "cut at {cut}"
        );
    }
    // Valid gzip around garbage.
    let garbage = {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        // The current version (a one-byte varint), then garbage.
        let version = u8::try_from(PROTOCOL_VERSION).expect("one byte");
        gz.write_all(&[
            version, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ])
        .expect("gz");
        gz.finish().expect("gz")
    };
    assert_eq!(sync_error(&a, garbage), (400, "request.malformed".into()));

    let mut future = a.request(None);
    future.protocol = PROTOCOL_VERSION + 1;
    assert_eq!(
        sync_error(&a, wire::encode(&future).expect("encode")),
        (400, "sync.unsupported_version".into())
    );
    assert_eq!(env.log_len(), 0, "nothing from a refused request is stored");
    still_serving(&env, &mut a);
}

#[test]
fn an_oversized_body_is_413() {
    let config = Config {
        max_body_bytes: 64 * 1024,
        ..Config::default()
    };
    let env = Env::start_with(config);
    let a = env.rep("zhangwei");
    // Random bytes do not compress: the body really is large.
    let noise: Vec<u8> = (0..200_000).map(|_| rand::random::<u8>()).collect();
    let request = SyncRequest {
        protocol: PROTOCOL_VERSION,
        cursor: None,
        pushes: vec![CardPush {
            card_id: "big".into(),
            changes: noise,
            heads: vec![],
        }],
        max_response_bytes: None,
        settings_revision: 0,
    };
    let body = wire::encode(&request).expect("encode");
    assert!(body.len() > 64 * 1024);
    assert_eq!(sync_error(&a, body), (413, "request.too_large".into()));
    assert_eq!(env.log_len(), 0);
}

#[test]
fn a_body_that_inflates_beyond_the_limit_is_refused() {
    let config = Config {
        max_decompressed_bytes: 100_000,
        ..Config::default()
    };
    let env = Env::start_with(config);
    let a = env.rep("zhangwei");
    let request = SyncRequest {
        protocol: PROTOCOL_VERSION,
        cursor: None,
        pushes: vec![CardPush {
            card_id: "bomb".into(),
            changes: vec![0; 1_000_000],
            heads: vec![],
        }],
        max_response_bytes: None,
        settings_revision: 0,
    };
    let body = wire::encode(&request).expect("encode");
    assert!(body.len() < 10_000);
    assert_eq!(sync_error(&a, body), (413, "request.too_large".into()));
}

#[test]
fn missing_forged_expired_and_revoked_tokens_are_401() {
    let env = Env::start();
    let mut a = env.rep("zhangwei");
    let body = wire::encode(&a.request(None)).expect("encode");
    let post = |auth: Option<&str>| {
        let mut r = env.http.post(env.url("/v1/sync")).body(body.clone());
        if let Some(h) = auth {
            r = r.header("authorization", h);
        }
        let r = r.send().expect("request");
        let status = r.status().as_u16();
        error_of(status, &r.bytes().expect("body"))
    };
    assert_eq!(post(None), (401, "auth.missing_token".into()));
    assert_eq!(
        post(Some("Bearer fbd_0000")),
        (401, "auth.bad_token".into())
    );
    assert_eq!(
        post(Some("Basic dXNlcjpwYXNz")),
        (401, "auth.bad_token".into())
    );
    let forged = format!("Bearer fbd_{}", "ab".repeat(32));
    assert_eq!(post(Some(&forged)), (401, "auth.bad_token".into()));

    let mut revoked = env.rep("zhangwei");
    let admin = env.device("wang", Role::Admin);
    let r = env
        .http
        .post(env.url(&format!("/v1/admin/devices/{}/revoke", revoked.device_id)))
        .bearer_auth(&admin.token)
        .send()
        .expect("revoke");
    assert_eq!(r.status(), 204);
    assert_eq!(
        {
            let body = wire::encode(&revoked.request(None)).expect("encode");
            sync_error(&revoked, body)
        },
        (401, "auth.revoked".into())
    );
    still_serving(&env, &mut a);

    let expiring = Env::start_with(Config {
        device_token_ttl_secs: Some(-1),
        ..Config::default()
    });
    let mut d = expiring.rep("zhangwei");
    let body = wire::encode(&d.request(None)).expect("encode");
    assert_eq!(sync_error(&d, body), (401, "auth.expired_token".into()));
}

#[test]
fn enrolment_tokens_work_once_and_bad_ones_are_refused() {
    let env = Env::start();
    let enrolment = fieldbook_server::admin::enrol_device(
        env.storage().as_ref(),
        "zhangwei",
        Role::Rep,
        "phone",
    )
    .expect("token");
    let enrol = |token: &str, actor: &str| {
        let r = env
            .http
            .post(env.url("/v1/enrol"))
            .json(&EnrolRequest {
                token: token.into(),
                actor: actor.into(),
            })
            .send()
            .expect("enrol");
        let status = r.status().as_u16();
        error_of(status, &r.bytes().expect("body"))
    };
    let actor = ActorId::random().to_hex_string();
    assert_eq!(
        enrol(&enrolment.token, "not hex"),
        (400, "request.invalid".into())
    );
    assert_eq!(enrol("fbe_forged", &actor).0, 401);
    assert_eq!(enrol(&enrolment.token, &actor).0, 200);
    assert_eq!(
        enrol(&enrolment.token, &actor),
        (401, "auth.bad_enrolment".into())
    );
    let r = env
        .http
        .post(env.url("/v1/enrol"))
        .header("content-type", "application/json")
        .body("{\"token\": ")
        .send()
        .expect("enrol");
    assert_eq!(
        error_of(r.status().as_u16(), &r.bytes().expect("b")),
        (400, "request.malformed".into())
    );
}

#[test]
fn a_foreign_territory_is_denied_without_revealing_whether_the_card_exists() {
    let env = Env::start();
    let mut lina = env.rep("lina");
    let hers = lina.new_card("bj-north", "Beijing customer");
    lina.sync();
    let before = env.log_len();

    let mut zw = env.rep("zhangwei");
    // A new card in a territory he does not hold.
    let new_foreign = zw.new_card("bj-north", "Not mine");
    // An existing card of hers, which he somehow knows the id of.
    let mut fake = zw.doc_handle(AutoCommit::new());
    fake.put(automerge::ROOT, "id", hers.as_str()).expect("put");
    fake.put(automerge::ROOT, "territory", "sh-east")
        .expect("put");
    fake.commit();
    zw.cards.insert(hers.clone(), fake);
    let (response, _) = zw.sync_once(None);
    assert_eq!(response.refused.len(), 2, "{:?}", response.refused);
    for r in &response.refused {
        assert_eq!(r.code, "access.denied");
    }
    assert_eq!(response.refused[0].message, response.refused[1].message);
    assert!(response.refused.iter().any(|r| r.card_id == new_foreign));
    assert_eq!(env.log_len(), before);

    // Reading: a foreign card and a card that does not exist look the same.
    let get = |id: &str| {
        let r = env
            .http
            .get(env.url(&format!("/v1/cards/{id}")))
            .bearer_auth(&zw.token)
            .send()
            .expect("get");
        (r.status().as_u16(), r.text().expect("text"))
    };
    let foreign = get(&hers);
    let missing = get("00000000-0000-4000-8000-000000000000");
    assert_eq!(foreign.0, 403);
    assert_eq!(foreign, missing);
}

#[test]
fn changes_by_another_actor_or_author_are_refused() {
    let env = Env::start();
    let mut zw = env.rep("zhangwei");
    let card = zw.new_card("sh-east", "Acme");
    zw.sync();
    let before = env.log_len();

    // A change made with a foreign actor (someone else's phone), same author.
    let mut doc = zw.cards[&card].clone();
    let mut foreign_actor = doc
        .fork()
        .with_author(Some(Author::from(b"zhangwei".to_vec())))
        .with_actor(ActorId::random());
    foreign_actor
        .put(automerge::ROOT, "phone", "1")
        .expect("put");
    foreign_actor.commit();
    zw.cards.insert(card.clone(), foreign_actor);
    let (response, _) = zw.sync_once(None);
    assert_eq!(response.refused.len(), 1);
    assert_eq!(response.refused[0].code, "auth.actor_mismatch");

    zw.cards
        .insert(card.clone(), doc.fork().with_actor(zw.actor.clone()));

    // A card whose first change (the one Automerge writes the author into) names someone
    // else, made with the device's own actor.
    let mut forged = AutoCommit::new()
        .with_author(Some(Author::from(b"lina".to_vec())))
        .with_actor(zw.actor.clone());
    forged
        .put(automerge::ROOT, "territory", "sh-east")
        .expect("put");
    forged.commit();
    zw.cards.insert("forged-author".into(), forged);
    // And one with no author at all.
    let mut anonymous = AutoCommit::new().with_actor(zw.actor.clone());
    anonymous
        .put(automerge::ROOT, "territory", "sh-east")
        .expect("put");
    anonymous.commit();
    zw.cards.insert("no-author".into(), anonymous);
    let (response, _) = zw.sync_once(None);
    let mut codes: Vec<(String, String)> = response
        .refused
        .iter()
        .map(|r| (r.card_id.clone(), r.code.clone()))
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            (
                "forged-author".to_owned(),
                "auth.author_mismatch".to_owned()
            ),
            ("no-author".to_owned(), "auth.author_mismatch".to_owned()),
        ]
    );
    assert_eq!(env.log_len(), before, "nothing of a refused card is stored");
}

#[test]
fn changes_relayed_by_file_are_refused_until_their_own_device_syncs() {
    let env = Env::start();
    let mut phone = env.rep("zhangwei");
    let mut tablet = env.rep("zhangwei");
    let card = phone.new_card("sh-east", "Acme");
    phone.sync();
    tablet.sync();

    // The phone edits offline and hands the card to the tablet as a file.
    phone.set(&card, "note", "from the phone");
    let file = phone.cards.get_mut(&card).expect("card").save();
    tablet
        .cards
        .get_mut(&card)
        .expect("card")
        .load_incremental(&file)
        .expect("load file");
    tablet.set(&card, "city", "Shanghai");

    let (response, _) = tablet.sync_once(None);
    assert_eq!(response.refused.len(), 1);
    assert_eq!(response.refused[0].code, "auth.actor_mismatch");

    // Once the phone has synced its own change, the tablet's push passes.
    phone.sync();
    let (response, _) = tablet.sync_once(None);
    assert!(response.refused.is_empty(), "{:?}", response.refused);
    assert_eq!(response.acks.len(), 1);
    phone.sync();
    assert_eq!(phone.heads(&card), tablet.heads(&card));
}

#[test]
fn changes_that_do_not_decode_are_refused() {
    let env = Env::start();
    let a = env.rep("zhangwei");
    let request = SyncRequest {
        protocol: PROTOCOL_VERSION,
        cursor: None,
        pushes: vec![CardPush {
            card_id: "c-1".into(),
            changes: vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 5, 6, 7],
            heads: vec![],
        }],
        max_response_bytes: None,
        settings_revision: 0,
    };
    let (response, _) = a.send(&request);
    assert_eq!(response.refused.len(), 1);
    assert_eq!(response.refused[0].code, "sync.bad_change");
    assert_eq!(env.log_len(), 0);
}

#[test]
fn a_cursor_the_server_never_issued_is_refused() {
    let env = Env::start();
    let mut a = env.rep("zhangwei");
    let mut b = env.rep("zhangwei");
    a.sync();
    b.sync();
    let mut forged = a.request(None);
    forged.cursor = Some(Cursor(vec![0; 20]));
    assert_eq!(
        sync_error(&a, wire::encode(&forged).expect("encode")),
        (400, "sync.bad_cursor".into())
    );
    // Another device's cursor is not this device's.
    let mut stolen = a.request(None);
    stolen.cursor = b.cursor.clone();
    assert_eq!(
        sync_error(&a, wire::encode(&stolen).expect("encode")),
        (400, "sync.bad_cursor".into())
    );
    // A tampered cursor.
    let mut tampered = a.request(None);
    if let Some(c) = tampered.cursor.as_mut() {
        c.0[0] ^= 0x40;
    }
    assert_eq!(
        sync_error(&a, wire::encode(&tampered).expect("encode")),
        (400, "sync.bad_cursor".into())
    );
    still_serving(&env, &mut a);
}

// ---- Issue 6: decompression bombs, existence leaks, garbage and invalid cards ----

fn push_only(device: &Device, pushes: Vec<CardPush>) -> fieldbook_core::sync::wire::SyncResponse {
    let request = SyncRequest {
        protocol: PROTOCOL_VERSION,
        cursor: device.cursor.clone(),
        pushes,
        max_response_bytes: None,
        settings_revision: 0,
    };
    device.send(&request).0
}

/// Item 5: an empty push for a card that does not exist and for a foreign card get the
/// same answer, and create nothing.
#[test]
fn empty_pushes_for_unknown_and_foreign_cards_answer_alike() {
    let env = Env::start();
    let mut lina = env.rep("lina");
    let hers = lina.new_card("bj-north", "北京客户");
    lina.sync();
    let zw = env.rep("zhangwei");
    let log = env.log_len();
    let unknown = uuid::Uuid::new_v4().to_string();
    let response = push_only(
        &zw,
        [&hers, &unknown]
            .into_iter()
            .map(|id| CardPush {
                card_id: id.clone(),
                changes: Vec::new(),
                heads: Vec::new(),
            })
            .collect(),
    );
    assert!(response.acks.is_empty(), "{:?}", response.acks);
    assert_eq!(response.refused.len(), 2);
    assert_eq!(response.refused[0].code, "access.denied");
    assert_eq!(response.refused[0].code, response.refused[1].code);
    assert_eq!(response.refused[0].message, response.refused[1].message);
    assert!(env.storage().card(&unknown).expect("card").is_none());
    assert_eq!(env.log_len(), log);
}

/// Item 6: garbage bytes for an existing card are refused with `sync.bad_change`, also
/// when they follow a valid change (a partial load must not swallow the error).
#[test]
fn garbage_for_an_existing_card_is_a_bad_change() {
    let env = Env::start();
    let mut zw = env.rep("zhangwei");
    let card = zw.new_card("sh-east", "Acme");
    zw.sync();
    let log = env.log_len();
    let doc = zw.cards.get_mut(&card).expect("card");
    let before = doc.get_heads();
    doc.put(automerge::ROOT, "phone", "021-6234 5678")
        .expect("put");
    doc.commit();
    let valid: Vec<u8> = doc
        .get_changes(&before)
        .iter()
        .flat_map(|c| c.raw_bytes().to_vec())
        .collect();
    let junk = {
        use sha2::Digest;
        let body = b"not an automerge change";
        let mut h = sha2::Sha256::new();
        h.update(&chunk(1, [0; 4], body)[8..]);
        let sum = h.finalize();
        chunk(1, [sum[0], sum[1], sum[2], sum[3]], body)
    };
    for bytes in [
        b"\x00garbage, not automerge at all".to_vec(),
        [&valid[..], &junk[..]].concat(),
        [&valid[..], b"trailing junk"].concat(),
    ] {
        let response = push_only(
            &zw,
            vec![CardPush {
                card_id: card.clone(),
                changes: bytes,
                heads: Vec::new(),
            }],
        );
        assert!(response.acks.is_empty(), "{:?}", response.acks);
        let codes: Vec<&str> = response.refused.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["sync.bad_change"]);
    }
    assert_eq!(env.log_len(), log);
    still_serving(&env, &mut zw);
}

/// Item 10: a pushed document that is not a valid card (no root id, an id that is not a
/// UUID or not the card's, a skeleton part of the wrong type, no skeleton) is refused with
/// `card.invalid` and not stored.
#[test]
fn pushed_documents_that_are_not_cards_are_refused() {
    use automerge::ObjType;
    let env = Env::start();
    let mut zw = env.rep("zhangwei");
    let log = env.log_len();
    let valid_card = |zw: &Device, id: &str| {
        let mut doc = zw.doc_handle(AutoCommit::new());
        fieldbook_core::card::write_skeleton(&mut doc, &id.parse().expect("id"), Some("sh-east"))
            .expect("skeleton");
        doc
    };
    type Edit = Box<dyn Fn(&mut AutoCommit)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "no root id",
            Box::new(|d| d.delete(automerge::ROOT, "id").expect("del")),
        ),
        (
            "id not a uuid",
            Box::new(|d| d.put(automerge::ROOT, "id", "card-1").expect("put")),
        ),
        (
            "id of another card",
            Box::new(|d| {
                d.put(
                    automerge::ROOT,
                    "id",
                    uuid::Uuid::new_v4().to_string().as_str(),
                )
                .expect("put")
            }),
        ),
        (
            "contacts is a list",
            Box::new(|d| {
                d.put_object(automerge::ROOT, "contacts", ObjType::List)
                    .expect("put");
            }),
        ),
        (
            "notes is a map",
            Box::new(|d| {
                d.put_object(automerge::ROOT, "notes", ObjType::Map)
                    .expect("put");
            }),
        ),
    ];
    let mut pushes = Vec::new();
    let mut ids = Vec::new();
    for (_, edit) in &cases {
        let id = uuid::Uuid::new_v4().to_string();
        let mut doc = valid_card(&zw, &id);
        edit(&mut doc);
        doc.commit();
        pushes.push(CardPush {
            card_id: id.clone(),
            changes: doc.save(),
            heads: Vec::new(),
        });
        ids.push(id);
    }
    // No skeleton at all: only an id and a territory.
    let bare = uuid::Uuid::new_v4().to_string();
    let mut doc = zw.doc_handle(AutoCommit::new());
    doc.put(automerge::ROOT, "id", bare.as_str()).expect("put");
    doc.put(automerge::ROOT, "territory", "sh-east")
        .expect("put");
    doc.commit();
    pushes.push(CardPush {
        card_id: bare.clone(),
        changes: doc.save(),
        heads: Vec::new(),
    });
    ids.push(bare);

    let response = push_only(&zw, pushes);
    assert!(response.acks.is_empty(), "{:?}", response.acks);
    let codes: Vec<&str> = response.refused.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(
        codes,
        vec!["card.invalid"; ids.len()],
        "{:?}",
        response.refused
    );
    for id in &ids {
        assert!(env.storage().card(id).expect("card").is_none());
    }
    assert_eq!(env.log_len(), log);
    // An edit that breaks an existing card is refused too, and the card stays as it was.
    let card = zw.new_card("sh-east", "Acme");
    zw.sync();
    let stored = env.storage().card(&card).expect("card").expect("stored");
    zw.cards
        .get_mut(&card)
        .expect("card")
        .put(automerge::ROOT, "visits", "none")
        .expect("put");
    zw.cards.get_mut(&card).expect("card").commit();
    let (response, _) = zw.sync_once(None);
    let codes: Vec<&str> = response.refused.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["card.invalid"]);
    assert_eq!(
        env.storage()
            .card(&card)
            .expect("card")
            .expect("stored")
            .doc,
        stored.doc
    );
}

/// Item 8: the person on a visit is the author of the change that logged it. A modified
/// client naming another rep is refused (`access.not_on_behalf`) and nothing is stored; a
/// rep cannot record "on behalf of" anyone; a manager can; nobody rewrites who was on an
/// existing visit.
#[test]
fn a_visit_in_another_persons_name_is_refused_unless_a_manager_records_it() {
    let env = Env::start();
    let mut zw = env.rep("zhangwei");
    let mut wang = env.device("wang", Role::Manager);
    let forged = zw.new_card("sh-east", "上海华联超市");
    let behalf = zw.new_card("sh-east", "上海第一百货");
    let honest = zw.new_card("sh-east", "上海新世界百货");
    zw.sync();
    let log = env.log_len();

    zw.add_visit(&forged, "lina", None);
    zw.add_visit(&behalf, "zhangwei", Some("lina"));
    let pushes = zw.pushes();
    let response = push_only(&zw, pushes);
    let mut codes: Vec<(String, String)> = response
        .refused
        .iter()
        .map(|r| (r.card_id.clone(), r.code.clone()))
        .collect();
    codes.sort();
    let mut expected = vec![
        (forged.clone(), "access.not_on_behalf".to_owned()),
        (behalf.clone(), "access.not_on_behalf".to_owned()),
    ];
    expected.sort();
    assert_eq!(codes, expected);
    assert_eq!(env.log_len(), log, "nothing stored");

    // His own visit goes through.
    zw.add_visit(&honest, "zhangwei", None);
    let push = zw
        .pushes()
        .into_iter()
        .find(|p| p.card_id == honest)
        .expect("push");
    let response = push_only(&zw, vec![push]);
    assert!(response.refused.is_empty(), "{:?}", response.refused);
    assert_eq!(response.acks.len(), 1);

    // The manager records a visit for lina's colleague on the same card, in his own name.
    wang.sync();
    wang.add_visit(&honest, "wang", Some("zhangwei"));
    let pushes = wang.pushes();
    let response = push_only(&wang, pushes);
    assert!(response.refused.is_empty(), "{:?}", response.refused);

    // Nobody rewrites the people on a visit already logged, not even the manager.
    wang.sync();
    let doc = wang.cards.get_mut(&honest).expect("card");
    let Some((Value::Object(_), list)) = doc.get(automerge::ROOT, "visits").expect("get") else {
        panic!("visits");
    };
    let Some((Value::Object(_), first)) = doc.get(&list, 0).expect("get") else {
        panic!("visit");
    };
    doc.put(&first, "rep", "wang").expect("put");
    doc.commit();
    let pushes = wang.pushes();
    let response = push_only(&wang, pushes);
    let codes: Vec<&str> = response.refused.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["access.not_on_behalf"]);
}
