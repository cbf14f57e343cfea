//! The test harness: a fresh server and company per test, and simple devices.
//!
//! The company: reps `zhangwei` (territory `sh-east`) and `lina` (`bj-north`), manager
//! `wang` (manages `sh-east`), manager `chen` (manages `bj-north`); territory `gz-south` has
//! no owner yet.

use std::collections::HashMap;
use std::sync::Arc;

use automerge::{
    ActorId, Author, AutoCommit, ChangeHash, ReadDoc, ScalarValue, Value, transaction::Transactable,
};
use fieldbook_core::sync::wire::{
    self, CardPush, Cursor, EnrolRequest, EnrolResponse, PROTOCOL_VERSION, SyncRequest,
    SyncResponse,
};
use fieldbook_server::storage::{PersonKind, Role, Storage};
use fieldbook_server::{Config, RunningServer, admin};
use fieldbook_tests::server::{Company, TestServer};

/// The server harness's company (see the module docs).
const COMPANY: Company = Company {
    people: &[
        ("zhangwei", "Zhang Wei", PersonKind::Rep),
        ("lina", "Li Na", PersonKind::Rep),
        ("wang", "Wang Fang", PersonKind::Manager),
        ("chen", "Chen Jie", PersonKind::Manager),
    ],
    territories: &[
        ("sh-east", "Shanghai East", Some("wang"), Some("zhangwei")),
        ("bj-north", "Beijing North", Some("chen"), Some("lina")),
        ("gz-south", "Guangzhou South", None, None),
    ],
};

/// A running server (the shared [`TestServer`]) with its company, and an HTTP client.
pub struct Env {
    pub server: TestServer,
    pub http: reqwest::blocking::Client,
}

impl Env {
    /// POSTs JSON with a device's token: the status and the JSON body (`null` if none).
    pub fn post_json(
        &self,
        who: &Device,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(&who.token)
            .json(body)
            .send()
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().unwrap_or(serde_json::Value::Null))
    }

    /// GETs with a device's token: the status and the JSON body (`null` if none).
    pub fn get_json(&self, who: &Device, path: &str) -> (u16, serde_json::Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(&who.token)
            .send()
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().unwrap_or(serde_json::Value::Null))
    }

    pub fn start() -> Env {
        Env::start_with(Config::default())
    }

    pub fn start_with(config: Config) -> Env {
        Env::with_company(TestServer::start_with(config))
    }

    /// A server on a database file the caller keeps (to restart on it).
    pub fn start_at(db: &std::path::Path) -> Env {
        Env::with_company(TestServer::start_at(db))
    }

    fn with_company(server: TestServer) -> Env {
        server.add_company(&COMPANY);
        Env {
            server,
            http: reqwest::blocking::Client::new(),
        }
    }

    /// Stops the server gracefully and starts a new one on the same database.
    pub fn restart(self) -> Env {
        Env {
            server: self.server.restart(),
            http: self.http,
        }
    }

    /// A second server instance on the same database (its own connections and caches), as
    /// several instances behind a load balancer would run.
    pub fn second_instance(&self) -> RunningServer {
        self.server.second_instance()
    }

    pub fn storage(&self) -> Arc<dyn Storage> {
        self.server.storage()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.url(), path)
    }

    /// Enrols a device over HTTP with a token made through the admin functions.
    pub fn device(&self, person: &str, role: Role) -> Device {
        self.device_named(person, role, "test phone")
    }

    /// Enrols a device under a name of its own (演示手机).
    pub fn device_named(&self, person: &str, role: Role, name: &str) -> Device {
        let enrolment = admin::enrol_device(self.storage().as_ref(), person, role, name)
            .expect("enrolment token");
        let actor = ActorId::random();
        let response = self
            .http
            .post(self.url("/v1/enrol"))
            .json(&EnrolRequest {
                token: enrolment.token,
                actor: actor.to_hex_string(),
            })
            .send()
            .expect("enrol request");
        assert_eq!(response.status(), 200, "enrol: {:?}", response.text());
        let enrolled: EnrolResponse = response.json().expect("enrol json");
        assert_eq!(enrolled.rep_id, person);
        Device {
            url: self.server.url(),
            http: self.http.clone(),
            token: enrolled.token,
            device_id: enrolled.device_id,
            actor,
            person: person.to_owned(),
            cursor: None,
            cards: HashMap::new(),
            acked: HashMap::new(),
        }
    }

    pub fn rep(&self, person: &str) -> Device {
        self.device(person, Role::Rep)
    }

    pub fn log_len(&self) -> u64 {
        self.storage().log_len().expect("log len")
    }
}

/// A device: raw Automerge documents, acked heads, a cursor.
pub struct Device {
    pub url: String,
    pub http: reqwest::blocking::Client,
    pub token: String,
    pub device_id: String,
    pub actor: ActorId,
    pub person: String,
    pub cursor: Option<Cursor>,
    pub cards: HashMap<String, AutoCommit>,
    pub acked: HashMap<String, Vec<ChangeHash>>,
}

/// Bytes moved by one HTTP exchange.
#[derive(Debug, Clone, Copy)]
pub struct Traffic {
    pub up: usize,
    pub down: usize,
}

impl Device {
    /// A document handle writing as this device (its actor, its person as author).
    pub fn doc_handle(&self, doc: AutoCommit) -> AutoCommit {
        doc.with_author(Some(Author::from(self.person.as_bytes().to_vec())))
            .with_actor(self.actor.clone())
    }

    /// Creates a card in a territory; returns its id.
    pub fn new_card(&mut self, territory: &str, name: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let mut doc = self.doc_handle(AutoCommit::new());
        // The card model's skeleton: the server refuses documents that are not cards.
        fieldbook_core::card::write_skeleton(
            &mut doc,
            &id.parse().expect("card id"),
            Some(territory),
        )
        .expect("skeleton");
        doc.put(automerge::ROOT, "name", name).expect("put");
        doc.commit();
        self.cards.insert(id.clone(), doc);
        id
    }

    pub fn set(&mut self, card: &str, key: &str, value: &str) {
        let doc = self.cards.get_mut(card).expect("card on device");
        doc.put(automerge::ROOT, key, value).expect("put");
        doc.commit();
    }

    /// Logs a visit straight into the document, naming whoever the test says (a device's
    /// store would name its own rep: this plays a modified client). Returns the visit id.
    pub fn add_visit(&mut self, card: &str, rep: &str, on_behalf_of: Option<&str>) -> String {
        let doc = self.cards.get_mut(card).expect("card on device");
        let Some((Value::Object(_), list)) = doc.get(automerge::ROOT, "visits").expect("get")
        else {
            panic!("the card has no visits list");
        };
        let end = doc.length(&list);
        let visit = doc
            .insert_object(&list, end, automerge::ObjType::Map)
            .expect("insert");
        let id = uuid::Uuid::new_v4().to_string();
        doc.put(&visit, "id", id.as_str()).expect("put");
        doc.put(&visit, "at", ScalarValue::Timestamp(1_764_580_000_000))
            .expect("put");
        doc.put(&visit, "rep", rep).expect("put");
        if let Some(other) = on_behalf_of {
            doc.put(&visit, "on_behalf_of", other).expect("put");
        }
        doc.commit();
        id
    }

    pub fn get(&mut self, card: &str, key: &str) -> Option<String> {
        let doc = self.cards.get_mut(card)?;
        match doc.get(automerge::ROOT, key).ok()?? {
            (Value::Scalar(s), _) => match s.as_ref() {
                ScalarValue::Str(s) => Some(s.to_string()),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn all_values(&mut self, card: &str, key: &str) -> Vec<String> {
        let doc = self.cards.get_mut(card).expect("card");
        doc.get_all(automerge::ROOT, key)
            .expect("get_all")
            .into_iter()
            .filter_map(|(v, _)| v.into_string().ok())
            .collect()
    }

    /// The pushes a sync would carry: every card whose heads moved past the acked ones.
    pub fn pushes(&mut self) -> Vec<CardPush> {
        let mut out = Vec::new();
        let ids: Vec<String> = self.cards.keys().cloned().collect();
        for id in ids {
            let acked = self.acked.get(&id).cloned().unwrap_or_default();
            let doc = self.cards.get_mut(&id).expect("card");
            let heads = doc.get_heads();
            if heads == acked {
                continue;
            }
            out.push(CardPush {
                card_id: id,
                changes: doc.save_after(&acked),
                heads: heads.iter().map(|h| h.0).collect(),
            });
        }
        out.sort_by(|a, b| a.card_id.cmp(&b.card_id));
        out
    }

    pub fn request(&mut self, max_response_bytes: Option<u32>) -> SyncRequest {
        SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor: self.cursor.clone(),
            pushes: self.pushes(),
            max_response_bytes,
            settings_revision: 0,
        }
    }

    /// POSTs raw bytes with this device's token.
    pub fn post_raw(&self, path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        self.post_raw_to(&self.url, path, body)
    }

    /// [`Self::post_raw`] to the server at `url` (another instance).
    pub fn post_raw_to(&self, url: &str, path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        let r = self
            .http
            .post(format!("{url}{path}"))
            .bearer_auth(&self.token)
            .header("content-type", wire::CONTENT_TYPE)
            .body(body)
            .send()
            .expect("request");
        let status = r.status().as_u16();
        (status, r.bytes().expect("body").to_vec())
    }

    /// Sends a request and returns the decoded response (panics on HTTP errors).
    pub fn send(&self, request: &SyncRequest) -> (SyncResponse, Traffic) {
        self.send_to(&self.url, request)
    }

    /// [`Self::send`] to the server at `url` (another instance).
    pub fn send_to(&self, url: &str, request: &SyncRequest) -> (SyncResponse, Traffic) {
        let body = wire::encode(request).expect("encode");
        let up = body.len();
        let (status, bytes) = self.post_raw_to(url, "/v1/sync", body);
        assert_eq!(
            status,
            200,
            "sync failed: {}",
            String::from_utf8_lossy(&bytes)
        );
        let down = bytes.len();
        let response = wire::decode(&bytes, wire::DEFAULT_MAX_DECOMPRESSED).expect("decode");
        (response, Traffic { up, down })
    }

    /// Applies a response to the device's documents.
    pub fn apply(&mut self, response: &SyncResponse) {
        for ack in &response.acks {
            self.acked.insert(
                ack.card_id.clone(),
                ack.heads.iter().map(|h| ChangeHash(*h)).collect(),
            );
        }
        for item in &response.changes {
            match self.cards.get_mut(&item.card_id) {
                Some(doc) => {
                    doc.load_incremental(&item.bytes)
                        .expect("apply server changes");
                }
                None => {
                    // Loading into an empty document drops its author (automerge 0.12
                    // replaces the whole document), so build the handle after loading.
                    let doc = AutoCommit::load(&item.bytes).expect("load server document");
                    let doc = self.doc_handle(doc);
                    self.cards.insert(item.card_id.clone(), doc);
                }
            }
            if !item.heads.is_empty() {
                let mut acked: Vec<ChangeHash> =
                    item.heads.iter().map(|h| ChangeHash(*h)).collect();
                // Keep our own unacknowledged heads out: only what the server holds.
                acked.sort();
                self.acked.insert(item.card_id.clone(), acked);
            }
        }
        for id in &response.revoked {
            self.cards.remove(id);
            self.acked.remove(id);
        }
        self.cursor = Some(response.cursor.clone());
    }

    /// One sync round trip.
    pub fn sync_once(&mut self, max_response_bytes: Option<u32>) -> (SyncResponse, Traffic) {
        let request = self.request(max_response_bytes);
        let (response, traffic) = self.send(&request);
        self.apply(&response);
        (response, traffic)
    }

    /// Syncs until the server has nothing more (paged responses); returns the requests made.
    pub fn sync(&mut self) -> usize {
        let mut requests = 0;
        loop {
            let (response, _) = self.sync_once(None);
            requests += 1;
            assert!(
                response.refused.is_empty(),
                "refused: {:?}",
                response.refused
            );
            if !response.more {
                return requests;
            }
            assert!(requests < 1000, "paging does not terminate");
        }
    }

    pub fn heads(&mut self, card: &str) -> Vec<ChangeHash> {
        let mut h = self.cards.get_mut(card).expect("card").get_heads();
        h.sort();
        h
    }
}
