//! The authorisation matrix: each role × each endpoint × own and foreign territory.

use fieldbook_core::sync::wire::{self, CardPush, PROTOCOL_VERSION, SyncRequest};
use fieldbook_server::storage::Role;

use crate::harness::{Device, Env};

/// What a caller may get from an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// 2xx (and, for pushes, the card acknowledged).
    Allowed,
    /// 403 access.denied (or the card refused with it inside a sync).
    Denied,
}
use Outcome::{Allowed, Denied};

struct World {
    env: Env,
    /// A card in sh-east (zhangwei's, managed by wang).
    own: String,
    /// A card in bj-north (lina's, managed by chen).
    foreign: String,
}

fn world() -> World {
    let env = Env::start();
    let mut zw = env.rep("zhangwei");
    let own = zw.new_card("sh-east", "East customer");
    zw.sync();
    let mut lina = env.rep("lina");
    let foreign = lina.new_card("bj-north", "North customer");
    lina.sync();
    World { env, own, foreign }
}

/// Pushes a fresh change to `card` (fetching it first through a manager-free path: the
/// document is rebuilt from the server's copy, as if the device had it).
fn push(w: &World, d: &mut Device, card: &str) -> Outcome {
    let stored = w.env.storage().card(card).expect("card").expect("exists");
    let mut doc = d.doc_handle(automerge::AutoCommit::load(&stored.doc).expect("load"));
    let heads = doc.get_heads();
    automerge::transaction::Transactable::put(&mut doc, automerge::ROOT, "touched", "yes")
        .expect("put");
    doc.commit();
    let request = SyncRequest {
        protocol: PROTOCOL_VERSION,
        cursor: None,
        pushes: vec![CardPush {
            card_id: card.into(),
            changes: doc.save_after(&heads),
            heads: doc.get_heads().iter().map(|h| h.0).collect(),
        }],
        max_response_bytes: None,
        settings_revision: 0,
    };
    let (status, body) = d.post_raw("/v1/sync", wire::encode(&request).expect("encode"));
    if status == 403 {
        return Denied;
    }
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let response: wire::SyncResponse =
        wire::decode(&body, wire::DEFAULT_MAX_DECOMPRESSED).expect("decode");
    if response.acks.len() == 1 {
        Allowed
    } else {
        assert_eq!(response.refused[0].code, "access.denied");
        Denied
    }
}

/// Pulls everything and reports whether `card` arrived.
fn pull(d: &mut Device, card: &str) -> Outcome {
    let body = wire::encode(&SyncRequest {
        protocol: PROTOCOL_VERSION,
        cursor: None,
        pushes: vec![],
        max_response_bytes: None,
        settings_revision: 0,
    })
    .expect("encode");
    let (status, body) = d.post_raw("/v1/sync", body);
    if status == 403 {
        return Denied;
    }
    let response: wire::SyncResponse =
        wire::decode(&body, wire::DEFAULT_MAX_DECOMPRESSED).expect("decode");
    if response.changes.iter().any(|c| c.card_id == card) {
        Allowed
    } else {
        Denied
    }
}

fn read(w: &World, d: &Device, card: &str) -> Outcome {
    let r = w
        .env
        .http
        .get(w.env.url(&format!("/v1/cards/{card}")))
        .bearer_auth(&d.token)
        .send()
        .expect("get");
    match r.status().as_u16() {
        200 => Allowed,
        403 => Denied,
        s => panic!("unexpected status {s}"),
    }
}

fn admin_call(w: &World, d: &Device) -> Outcome {
    let r = w
        .env
        .http
        .get(w.env.url("/v1/admin/devices"))
        .bearer_auth(&d.token)
        .send()
        .expect("admin");
    let listing = match r.status().as_u16() {
        200 => Allowed,
        403 => Denied,
        s => panic!("unexpected status {s}"),
    };
    let r = w
        .env
        .http
        .post(w.env.url("/v1/admin/reps"))
        .bearer_auth(&d.token)
        .json(&serde_json::json!({"id": format!("new-{}", d.device_id), "name": "New Rep"}))
        .send()
        .expect("admin");
    let create = match r.status().as_u16() {
        201 => Allowed,
        403 => Denied,
        s => panic!("unexpected status {s}"),
    };
    assert_eq!(listing, create);
    listing
}

#[test]
fn authorisation_matrix() {
    let w = world();
    // (person, role) → expected (push own, push foreign, pull own, pull foreign,
    //                            read own, read foreign, admin)
    let rows: [(&str, Role, [Outcome; 7]); 4] = [
        (
            "zhangwei",
            Role::Rep,
            [Allowed, Denied, Allowed, Denied, Allowed, Denied, Denied],
        ),
        (
            "wang",
            Role::Manager,
            [Allowed, Denied, Allowed, Denied, Allowed, Denied, Denied],
        ),
        (
            "chen",
            Role::Manager,
            [Denied, Allowed, Denied, Allowed, Denied, Allowed, Denied],
        ),
        (
            "wang",
            Role::Admin,
            [Denied, Denied, Denied, Denied, Denied, Denied, Allowed],
        ),
    ];
    for (person, role, expected) in rows {
        let mut d = w.env.device(person, role);
        let got = [
            push(&w, &mut d, &w.own),
            push(&w, &mut d, &w.foreign),
            pull(&mut d, &w.own),
            pull(&mut d, &w.foreign),
            read(&w, &d, &w.own),
            read(&w, &d, &w.foreign),
            admin_call(&w, &d),
        ];
        assert_eq!(got, expected, "{person} as {role:?}");
    }
}

#[test]
fn unauthenticated_callers_get_401_everywhere_but_health_metrics_and_enrol() {
    let w = world();
    for (method, path) in [
        ("POST", "/v1/sync"),
        ("POST", "/v1/fallback"),
        ("GET", "/v1/cards/x"),
        ("GET", "/v1/admin/devices"),
        ("POST", "/v1/admin/reps"),
        ("POST", "/v1/admin/territories"),
        ("POST", "/v1/admin/territories/sh-east/assign"),
        ("POST", "/v1/admin/enrolments"),
        ("POST", "/v1/admin/devices/x/revoke"),
    ] {
        let r = match method {
            "GET" => w.env.http.get(w.env.url(path)),
            _ => w.env.http.post(w.env.url(path)),
        }
        .send()
        .expect("request");
        assert_eq!(r.status(), 401, "{method} {path}");
    }
    for path in ["/healthz", "/metrics"] {
        assert_eq!(
            w.env
                .http
                .get(w.env.url(path))
                .send()
                .expect("get")
                .status(),
            200
        );
    }
}

#[test]
fn the_admin_api_administers() {
    let w = world();
    let admin = w.env.device("wang", Role::Admin);
    let call = |method: &str, path: &str, body: serde_json::Value| {
        let r = match method {
            "GET" => w.env.http.get(w.env.url(path)),
            _ => w.env.http.post(w.env.url(path)).json(&body),
        }
        .bearer_auth(&admin.token)
        .send()
        .expect("admin");
        let status = r.status().as_u16();
        (status, r.text().expect("text"))
    };
    use serde_json::json;
    assert_eq!(
        call(
            "POST",
            "/v1/admin/reps",
            json!({"id": "liu", "name": "Liu Yang"})
        )
        .0,
        201
    );
    assert_eq!(
        call(
            "POST",
            "/v1/admin/reps",
            json!({"id": "liu", "name": "Again"})
        )
        .0,
        409
    );
    assert_eq!(
        call(
            "POST",
            "/v1/admin/managers",
            json!({"id": "zhao", "name": "Zhao Lei"})
        )
        .0,
        201
    );
    assert_eq!(
        call(
            "POST",
            "/v1/admin/territories",
            json!({"id": "cd-west", "name": "Chengdu", "manager": "zhao"})
        )
        .0,
        201
    );
    assert_eq!(
        call(
            "POST",
            "/v1/admin/territories/cd-west/assign",
            json!({"rep": "liu"})
        )
        .0,
        204
    );
    assert_eq!(
        call(
            "POST",
            "/v1/admin/territories/nowhere/assign",
            json!({"rep": "liu"})
        )
        .0,
        404
    );
    let (status, body) = call(
        "POST",
        "/v1/admin/enrolments",
        json!({"person": "liu", "role": "rep", "name": "Liu's phone"}),
    );
    assert_eq!(status, 201);
    let token = serde_json::from_str::<serde_json::Value>(&body).expect("json")["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert!(token.starts_with("fbe_"));
    let (status, body) = call("GET", "/v1/admin/territories", json!(null));
    assert_eq!(status, 200);
    assert!(body.contains("cd-west") && body.contains("\"owner\":\"liu\""));
    let (status, body) = call("GET", "/v1/admin/devices", json!(null));
    assert_eq!(status, 200);
    assert!(
        !body.contains("token"),
        "token hashes never leave the server"
    );
    let (status, body) = call(
        "POST",
        "/v1/admin/enrolments",
        json!({"person": "liu", "role": "manager", "name": "x"}),
    );
    assert_eq!(status, 400, "{body}");
}
