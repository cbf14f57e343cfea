//! One device floods the server; how long does another rep's no-op sync take meanwhile?
//!
//! Device A sends, from four threads at once and over and over, sync requests of
//! `PUSHES` pushes for unknown card ids; rep B times no-op syncs (cursor current, nothing
//! to push). Three runs: no flood; flood with the per-request push cap lifted (only the
//! one-sync-per-device rule applies); flood with the default limits. Run in release:
//!
//! ```text
//! cargo run --release -p fieldbook-server --example flood_bench
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use fieldbook_core::sync::wire::{
    self, CardPush, Cursor, EnrolRequest, EnrolResponse, PROTOCOL_VERSION, SyncRequest,
    SyncResponse,
};
use fieldbook_server::storage::{PersonKind, Role};
use fieldbook_server::{Config, admin, spawn, state_for_sqlite};

/// Pushes per flood request (the issue's flood used 500,000; this keeps a run short on a
/// shared machine while still far over the default cap).
const PUSHES: usize = 100_000;
/// Timed no-op syncs of the victim per run.
const SAMPLES: usize = 30;

struct Device {
    url: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl Device {
    fn post(&self, body: Vec<u8>) -> (u16, Vec<u8>) {
        let r = self
            .http
            .post(format!("{}/v1/sync", self.url))
            .bearer_auth(&self.token)
            .header("content-type", wire::CONTENT_TYPE)
            .body(body)
            .send()
            .expect("send");
        let status = r.status().as_u16();
        (status, r.bytes().expect("body").to_vec())
    }

    fn sync(&self, cursor: Option<Cursor>) -> SyncResponse {
        let request = SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor,
            pushes: Vec::new(),
            max_response_bytes: None,
            settings_revision: 0,
        };
        let (status, bytes) = self.post(wire::encode(&request).expect("encode"));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
        wire::decode(&bytes, wire::DEFAULT_MAX_DECOMPRESSED).expect("decode")
    }
}

fn enrol(url: &str, storage: &dyn fieldbook_server::storage::Storage, person: &str) -> Device {
    let enrolment = admin::enrol_device(storage, person, Role::Rep, "bench").expect("token");
    let http = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(600))
        .build()
        .expect("client");
    let enrolled: EnrolResponse = http
        .post(format!("{url}/v1/enrol"))
        .json(&EnrolRequest {
            token: enrolment.token,
            actor: automerge::ActorId::random().to_hex_string(),
        })
        .send()
        .expect("enrol")
        .json()
        .expect("json");
    Device {
        url: url.to_owned(),
        token: enrolled.token,
        http,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn run(label: &str, config: Config, flood: bool) {
    let dir = tempfile::tempdir().expect("dir");
    let state = state_for_sqlite(&dir.path().join("server.db"), config).expect("state");
    let s = state.storage.as_ref();
    admin::add_person(s, "zhangwei", "张伟", PersonKind::Rep).expect("rep");
    admin::add_person(s, "lina", "李娜", PersonKind::Rep).expect("rep");
    admin::add_territory(s, "sh-east", "上海东区", None).expect("territory");
    admin::add_territory(s, "bj-north", "北京北区", None).expect("territory");
    admin::assign_territory(s, "sh-east", "zhangwei").expect("assign");
    admin::assign_territory(s, "bj-north", "lina").expect("assign");
    let server = spawn(state, "127.0.0.1:0".parse().expect("addr")).expect("spawn");
    let url = server.url();
    let storage = server.state.storage.clone();
    let attacker = Arc::new(enrol(&url, storage.as_ref(), "zhangwei"));
    let victim = enrol(&url, storage.as_ref(), "lina");
    let mut cursor = Some(victim.sync(None).cursor);

    let flood_body = {
        let pushes = (0..PUSHES)
            .map(|_| CardPush {
                card_id: uuid::Uuid::new_v4().to_string(),
                changes: Vec::new(),
                heads: Vec::new(),
            })
            .collect();
        wire::encode(&SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor: None,
            pushes,
            max_response_bytes: None,
            settings_revision: 0,
        })
        .expect("encode")
    };
    let stop = Arc::new(AtomicBool::new(false));
    let statuses: Arc<[AtomicU64; 3]> = Arc::new(Default::default());
    let flooders: Vec<_> = (0..if flood { 4 } else { 0 })
        .map(|_| {
            let (attacker, stop, statuses, body) = (
                attacker.clone(),
                stop.clone(),
                statuses.clone(),
                flood_body.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let (status, _) = attacker.post(body.clone());
                    let i = match status {
                        200 => 0,
                        429 => 1,
                        _ => 2,
                    };
                    statuses[i].fetch_add(1, Ordering::Relaxed);
                    if status == 429 {
                        // What a well-behaved client does with Retry-After, shortened.
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                }
            })
        })
        .collect();
    if flood {
        // Let the flood get going.
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let mut times = Vec::new();
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let response = victim.sync(cursor.take());
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        cursor = Some(response.cursor);
    }
    stop.store(true, Ordering::Relaxed);
    for f in flooders {
        let _ = f.join();
    }
    let max = times.iter().copied().fold(0.0, f64::max);
    println!(
        "{label:<40} victim no-op sync median {:>8.1} ms, max {:>8.1} ms; flood answers: \
         {} ok, {} busy (429), {} refused otherwise",
        median(times),
        max,
        statuses[0].load(Ordering::Relaxed),
        statuses[1].load(Ordering::Relaxed),
        statuses[2].load(Ordering::Relaxed),
    );
}

fn main() {
    println!(
        "flood: 4 concurrent requests of {PUSHES} pushes for unknown ids from one device, repeated"
    );
    run("no flood", Config::default(), false);
    run(
        "flood, push cap lifted (one sync/device)",
        Config {
            max_pushes_per_request: usize::MAX,
            ..Config::default()
        },
        true,
    );
    run("flood, default limits", Config::default(), true);
}
