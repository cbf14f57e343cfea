//! Server load benchmark (issue 10): many devices reconnecting at once, replayed from
//! pre-built requests so the devices' own CPU is not counted against the server.
//!
//! ```text
//! cargo build --release -p fieldbook-tests --bins --examples
//! ./target/release/examples/bench_server_load [--devices 1500] [--concurrent 500] [--runs 5] [--keep DIR]
//!     [--postgres postgres://…/postgres [--instances 2]]
//! ```
//!
//! `--postgres URL` (a server where the user may create databases) runs each run on a
//! fresh PostgreSQL database instead of the SQLite copy: the frozen file is moved into it
//! with `move-to-postgres` (an exact copy: the kept cursors stay valid), `--instances`
//! server processes serve it, and the requests go to them in turn, as a load balancer
//! would send them. CPU is the instances' (PostgreSQL's own is not counted); the
//! database's size per card is reported after the run.
//!
//! `--keep DIR` keeps the set-up (the frozen server files and the requests) in DIR and
//! re-uses it next time, for profiling: the set-up takes a minute or two.
//!
//! Set-up (not timed): territories of 50 cards (10 changes each), five devices of one
//! rep per territory, every device enrolled and first-synced through the real client
//! against a real server process. Each device then edits 10 cards of its territory
//! offline, and the request its next sync would send is built by the client's own
//! session ([`SyncSession::next`]) and kept, not sent. The server is killed and its
//! files frozen.
//!
//! A run copies the frozen files, starts the server on them, and sends the kept requests
//! from one single-threaded client, `--concurrent` of them in flight at any moment (500
//! devices syncing at once; as one finishes the next device connects), each on its own
//! new connection (a reconnect). More devices than that (`--devices`) make the figure a
//! steady rate rather than one burst. A request's latency runs from its send until its
//! whole answer is read. Each answer is decoded and checked: 10 pushes acknowledged,
//! none refused. Reports medians over runs: syncs per second, p50/p99 latency, the
//! server's peak RSS.

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::time::Instant;

use automerge::Automerge;
use chrono::NaiveDate;
use fieldbook_core::demo::{DemoAuthor, demo_document};
use fieldbook_core::sync::session::{HttpRequest, Step, SyncSession};
use fieldbook_core::sync::wire::{self, SyncResponse};
use fieldbook_server::admin;
use fieldbook_server::storage::{PersonKind, Role};
use support::{Dev, Res, ServerProcess, arg, median, percentile};

/// Cards per territory, and cards each device pushes per sync.
const CARDS_PER_TERRITORY: u64 = 50;
const PUSHED_PER_SYNC: usize = 10;
const DEVICES_PER_REP: usize = 5;

fn main() -> Res<()> {
    let n_devices = arg("--devices", 1500);
    let concurrent = arg("--concurrent", 500).max(1);
    let runs = arg("--runs", 5);
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).ok_or("date")?;
    let dir = tempfile::tempdir()?;
    let keep = text_arg("--keep");
    let frozen = match &keep {
        Some(k) => std::path::PathBuf::from(k),
        None => dir.path().join("frozen"),
    };
    std::fs::create_dir_all(&frozen)?;
    let db = frozen.join("server.db");
    let kept = frozen.join("requests.bin");

    let requests = if kept.exists() {
        eprintln!("re-using the set-up in {}", frozen.display());
        read_requests(&kept)?
    } else {
        eprintln!("setting up {n_devices} devices and their pre-built requests ...");
        let t = Instant::now();
        let requests = set_up(&db, n_devices, today)?;
        write_requests(&kept, &requests)?;
        eprintln!("set up in {:.0} s", t.elapsed().as_secs_f64());
        requests
    };
    let n_devices = requests.len();
    let (pushes, shared) = pushed_cards(&requests)?;
    eprintln!("{pushes} pushes, {shared} cards pushed by more than one device");

    let postgres = text_arg("--postgres");
    let instances = arg("--instances", 1).max(1);
    // The frozen set-up moved into PostgreSQL once; each run gets a copy of it.
    let template = match &postgres {
        Some(admin) => {
            let template = fieldbook_server::storage::postgres::ScratchDatabase::create(admin)?;
            let target = fieldbook_server::storage::postgres::PgStorage::connect(template.url())?;
            let t = Instant::now();
            let moved =
                fieldbook_server::storage::postgres::import::move_to_postgres(&db, &target)?;
            let (bytes, cards) = target.database_size()?;
            eprintln!(
                "moved {} cards to PostgreSQL in {:.1} s ({} B per card)",
                moved.cards_verified,
                t.elapsed().as_secs_f64(),
                bytes / cards.max(1)
            );
            Some(template)
        }
        None => None,
    };
    let mut rates = Vec::new();
    let mut p50s = Vec::new();
    let mut p99s = Vec::new();
    let mut rss = Vec::new();
    for run in 0..runs {
        let run_dir = dir.path().join(format!("run{run}"));
        std::fs::create_dir_all(&run_dir)?;
        for name in ["server.db", "server.db-wal", "server.db-shm"] {
            let from = frozen.join(name);
            if from.exists() {
                std::fs::copy(&from, run_dir.join(name))?;
            }
        }
        let sqlite = run_dir.join("server.db");
        let scratch = match &template {
            Some(t) => Some(t.copy()?),
            None => None,
        };
        let mut servers = Vec::new();
        let mut urls = Vec::new();
        for _ in 0..if scratch.is_some() { instances } else { 1 } {
            let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
            let server = match &scratch {
                Some(s) => ServerProcess::start(s.url(), addr)?,
                None => ServerProcess::start(&sqlite, addr)?,
            };
            eprintln!("    server pid {}", server.pid());
            urls.push(format!("http://{addr}"));
            servers.push(server);
        }
        let cpu_of =
            |servers: &[ServerProcess]| servers.iter().map(|s| s.cpu_seconds()).sum::<f64>();
        let cpu_before = cpu_of(&servers);
        let outcome = replay(&urls, &requests, concurrent)?;
        let cpu = cpu_of(&servers) - cpu_before;
        let syncs = outcome.latencies_ms.len();
        let rate = syncs as f64 / outcome.wall_s;
        let p50 = percentile(outcome.latencies_ms.clone(), 0.5);
        let p99 = percentile(outcome.latencies_ms.clone(), 0.99);
        let peak = servers.iter().map(|s| s.peak_rss_kib()).sum::<u64>() / 1024;
        let size = match &scratch {
            Some(s) => {
                let target = fieldbook_server::storage::postgres::PgStorage::connect(s.url())?;
                let (bytes, cards) = target.database_size()?;
                format!("; database {} B per card", bytes / cards.max(1))
            }
            None => String::new(),
        };
        println!(
            "    run {run}: {syncs} syncs ({} failed) in {:.2} s = {rate:.0} syncs/s; p50 {p50:.0} ms, p99 {p99:.0} ms; server CPU {:.1} ms per sync; {} cards pulled, {} bytes up, {} bytes down; server peak RSS {peak} MiB ({} instance(s)){size}",
            outcome.failures,
            outcome.wall_s,
            cpu * 1e3 / syncs.max(1) as f64,
            outcome.cards_pulled,
            outcome.bytes_up,
            outcome.bytes_down,
            servers.len()
        );
        if outcome.failures > 0 {
            return Err(format!(
                "{} syncs failed: {:?}",
                outcome.failures, outcome.first_failure
            )
            .into());
        }
        rates.push(rate);
        p50s.push(p50);
        p99s.push(p99);
        rss.push(peak as f64);
        drop(servers);
        drop(scratch);
        std::fs::remove_dir_all(&run_dir)?;
    }
    println!(
        "{n_devices} devices reconnecting, {concurrent} at once, {PUSHED_PER_SYNC} cards pushed each: median {:.0} syncs/s, p50 {:.0} ms, p99 {:.0} ms, server peak RSS {:.0} MiB ({runs} runs)",
        median(rates),
        median(p50s),
        median(p99s),
        median(rss)
    );
    Ok(())
}

/// Builds the company and its devices, and returns each device's kept request.
fn set_up(db: &Path, n_devices: usize, today: NaiveDate) -> Res<Vec<HttpRequest>> {
    let territories = n_devices.div_ceil(DEVICES_PER_REP);
    let mut tokens = Vec::new();
    {
        let state = fieldbook_server::state_for_sqlite(db, fieldbook_server::Config::default())?;
        let s = &*state.storage;
        let mut batch = Vec::new();
        for t in 0..territories {
            let rep = format!("rep{t:04}");
            let territory = format!("t{t:04}");
            admin::add_person(s, &rep, "代表", PersonKind::Rep)?;
            admin::add_territory(s, &territory, "区域", None)?;
            admin::assign_territory(s, &territory, &rep)?;
            let author = [DemoAuthor::new(rep.parse()?)];
            for i in 0..CARDS_PER_TERRITORY {
                let (_, bytes) = demo_document(11 + t as u64, i, &territory, &author, 10, today)?;
                batch.push(Automerge::load(&bytes)?);
            }
            fieldbook_server::seed_cards(s, &batch)?;
            batch.clear();
            for _ in 0..DEVICES_PER_REP {
                tokens.push(admin::enrol_device(s, &rep, Role::Rep, "bench")?.token);
            }
        }
    }
    tokens.truncate(n_devices);
    let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let url = format!("http://{addr}");
    let server = ServerProcess::start(db, addr)?;
    let mut requests = Vec::with_capacity(tokens.len());
    for (i, token) in tokens.iter().enumerate() {
        let mut d = Dev::enrol(&url, token)?;
        d.sync()?;
        edit(&mut d, i)?;
        requests.push(next_request(&mut d)?);
    }
    // The server's files now hold exactly what the kept requests build on.
    drop(server);
    Ok(requests)
}

/// How many card pushes the requests hold, and how many cards more than one of them push.
fn pushed_cards(requests: &[HttpRequest]) -> Res<(usize, usize)> {
    let mut by_card = std::collections::HashMap::<String, usize>::new();
    let mut pushes = 0;
    for r in requests {
        let request: wire::SyncRequest = wire::decode(&r.body, wire::DEFAULT_MAX_DECOMPRESSED)?;
        for p in request.pushes {
            pushes += 1;
            *by_card.entry(p.card_id).or_default() += 1;
        }
    }
    Ok((pushes, by_card.values().filter(|n| **n > 1).count()))
}

fn text_arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

/// Kept requests on disk: per request its path, bearer, content type and body, each a
/// little-endian u32 length then the bytes.
fn write_requests(path: &Path, requests: &[HttpRequest]) -> Res<()> {
    let mut out = Vec::new();
    for r in requests {
        let bearer = r.bearer.as_deref().unwrap_or("");
        for part in [
            r.path.as_bytes(),
            bearer.as_bytes(),
            r.content_type.as_bytes(),
            &r.body,
        ] {
            out.extend_from_slice(&u32::try_from(part.len())?.to_le_bytes());
            out.extend_from_slice(part);
        }
    }
    std::fs::write(path, out)?;
    Ok(())
}

fn read_requests(path: &Path) -> Res<Vec<HttpRequest>> {
    let bytes = std::fs::read(path)?;
    let mut rest = &bytes[..];
    let mut take = || -> Res<Vec<u8>> {
        let (len, tail) = rest.split_first_chunk::<4>().ok_or("truncated")?;
        let len = u32::from_le_bytes(*len) as usize;
        let part = tail.get(..len).ok_or("truncated")?.to_vec();
        rest = &tail[len..];
        Ok(part)
    };
    let mut requests = Vec::new();
    loop {
        let Ok(path) = take() else { break };
        let bearer = String::from_utf8(take()?)?;
        let content_type = String::from_utf8(take()?)?;
        let body = take()?;
        // The session's paths and content types are static strings; the kept ones are
        // checked against the only ones a first sync request uses.
        if path != b"/v1/sync" || content_type != wire::CONTENT_TYPE {
            return Err("a kept request that is not a sync request".into());
        }
        requests.push(HttpRequest {
            path: "/v1/sync",
            bearer: (!bearer.is_empty()).then_some(bearer),
            content_type: wire::CONTENT_TYPE,
            body,
        });
    }
    Ok(requests)
}

/// Device `i` edits its own 10 cards of its territory (the five devices of a rep share
/// the territory's 50 cards, so every pushed card is someone else's to pull).
fn edit(d: &mut Dev, i: usize) -> Res<()> {
    // In id order: every device of the territory sees the same order, so the five
    // devices' cards are disjoint.
    let mut ids = d.store.card_ids()?;
    ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let first = i % DEVICES_PER_REP * PUSHED_PER_SYNC;
    for id in ids.iter().skip(first).take(PUSHED_PER_SYNC) {
        d.store.update(id, |c| {
            c.set_path(
                "transaction.current_activity",
                &format!("设备{i}回访后更新报价：年底促销"),
            )
        })?;
    }
    Ok(())
}

/// The request the device's next sync would send first, built and not sent.
fn next_request(d: &mut Dev) -> Res<HttpRequest> {
    let mut session = SyncSession::new(&d.store)?;
    match session.next(&mut d.store)? {
        Step::Send(request) => Ok(request),
        other => Err(format!("the session did not start with a request: {other:?}").into()),
    }
}

struct Outcome {
    latencies_ms: Vec<f64>,
    wall_s: f64,
    failures: usize,
    first_failure: Option<String>,
    cards_pulled: usize,
    bytes_up: usize,
    bytes_down: usize,
}

/// Sends every device's request, `concurrent` in flight at a time, and checks every
/// answer.
/// Sends every request, to the instances in turn.
fn replay(urls: &[String], requests: &[HttpRequest], concurrent: usize) -> Res<Outcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        // No pooling: every sync is a device reconnecting on a new connection.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(std::time::Duration::from_secs(120))
            .build()?;
        let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrent));
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(requests.len());
        for (i, request) in requests.iter().cloned().enumerate() {
            let client = client.clone();
            let url = urls[i % urls.len()].clone();
            let in_flight = in_flight.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = in_flight.acquire_owned().await.map_err(|e| e.to_string())?;
                send_one(&client, &url, request).await
            }));
        }
        let mut outcome = Outcome {
            latencies_ms: Vec::new(),
            wall_s: 0.0,
            failures: 0,
            first_failure: None,
            cards_pulled: 0,
            bytes_up: 0,
            bytes_down: 0,
        };
        for task in tasks {
            match task.await? {
                Ok(one) => {
                    outcome.latencies_ms.push(one.ms);
                    outcome.cards_pulled += one.cards_pulled;
                    outcome.bytes_up += one.bytes_up;
                    outcome.bytes_down += one.bytes_down;
                }
                Err(e) => {
                    outcome.failures += 1;
                    outcome.first_failure.get_or_insert(e);
                }
            }
        }
        outcome.wall_s = start.elapsed().as_secs_f64();
        Ok::<_, Box<dyn std::error::Error>>(outcome)
    })
}

struct OneSync {
    ms: f64,
    cards_pulled: usize,
    bytes_up: usize,
    bytes_down: usize,
}

async fn send_one(
    client: &reqwest::Client,
    url: &str,
    request: HttpRequest,
) -> Result<OneSync, String> {
    let bytes_up = request.body.len();
    let t = Instant::now();
    let mut builder = client
        .post(format!("{url}{}", request.path))
        .header("content-type", request.content_type)
        .body(request.body);
    if let Some(bearer) = &request.bearer {
        builder = builder.bearer_auth(bearer);
    }
    let response = builder.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
    }
    let answer: SyncResponse =
        wire::decode(&body, wire::DEFAULT_MAX_DECOMPRESSED).map_err(|e| e.to_string())?;
    if answer.acks.len() != PUSHED_PER_SYNC || !answer.refused.is_empty() {
        return Err(format!(
            "{} acknowledged, {} refused (first: {:?})",
            answer.acks.len(),
            answer.refused.len(),
            answer.refused.first().map(|r| &r.code)
        ));
    }
    Ok(OneSync {
        ms,
        cards_pulled: answer.changes.len(),
        bytes_up,
        bytes_down: body.len(),
    })
}
