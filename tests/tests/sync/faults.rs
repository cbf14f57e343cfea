//! Faults between device and server: dropped connections, duplicated and delayed
//! requests, and a server killed with SIGKILL mid-sync (alone, or one of two instances on
//! PostgreSQL while the devices finish on the other). Devices retry as an app would; in the end every device converges and the server's log holds each change
//! exactly once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldbook_core::CardId;
use fieldbook_core::sync::http::HttpTransport;
use fieldbook_server::storage::Role;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::support::{Device, Server};

fn seed() -> u64 {
    let seed = std::env::var("FIELDBOOK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("FIELDBOOK_SEED={seed}");
    seed
}

/// One HTTP message (request or response) read whole: head and body by
/// Content-Length or chunked encoding.
fn read_message(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Vec<u8>>> {
    let mut raw = Vec::new();
    let mut content_length = 0usize;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        raw.extend_from_slice(line.as_bytes());
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            content_length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
        if line == "\r\n" {
            break;
        }
    }
    if chunked {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            raw.extend_from_slice(size_line.as_bytes());
            let size = usize::from_str_radix(size_line.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            raw.extend_from_slice(&chunk);
            if size == 0 {
                break;
            }
        }
    } else {
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body)?;
        raw.extend_from_slice(&body);
    }
    Ok(Some(raw))
}

/// An HTTP proxy on loopback that misbehaves at random: it cuts responses in the
/// middle (after the server has processed the request), sends requests to the
/// server twice, and delays them.
struct FaultyProxy {
    addr: SocketAddr,
    faults: Arc<AtomicU32>,
    calm: Arc<AtomicBool>,
}

impl FaultyProxy {
    fn start(upstream: SocketAddr, seed: u64) -> FaultyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let faults = Arc::new(AtomicU32::new(0));
        let calm = Arc::new(AtomicBool::new(false));
        let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(seed)));
        let (f, c) = (faults.clone(), calm.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (rng, faults, calm) = (rng.clone(), f.clone(), c.clone());
                std::thread::spawn(move || {
                    let _ = Self::serve(client, upstream, &rng, &faults, &calm);
                });
            }
        });
        FaultyProxy { addr, faults, calm }
    }

    fn serve(
        client: TcpStream,
        upstream: SocketAddr,
        rng: &Mutex<StdRng>,
        faults: &AtomicU32,
        calm: &AtomicBool,
    ) -> std::io::Result<()> {
        let mut to_client = client.try_clone()?;
        let mut from_client = BufReader::new(client);
        let server = TcpStream::connect(upstream)?;
        let mut to_server = server.try_clone()?;
        let mut from_server = BufReader::new(server);
        while let Some(request) = read_message(&mut from_client)? {
            let roll: f64 = if calm.load(Ordering::SeqCst) {
                1.0
            } else {
                rng.lock().map(|mut r| r.random()).unwrap_or(1.0)
            };
            if roll < 0.15 {
                std::thread::sleep(Duration::from_millis(150));
            }
            to_server.write_all(&request)?;
            let mut response =
                read_message(&mut from_server)?.ok_or(std::io::ErrorKind::UnexpectedEof)?;
            if (0.15..0.35).contains(&roll) {
                // Duplicate: the server sees the same request twice.
                faults.fetch_add(1, Ordering::SeqCst);
                to_server.write_all(&request)?;
                response =
                    read_message(&mut from_server)?.ok_or(std::io::ErrorKind::UnexpectedEof)?;
            }
            if (0.35..0.6).contains(&roll) {
                // Drop mid-response: the server has done the work, the device never hears.
                faults.fetch_add(1, Ordering::SeqCst);
                to_client.write_all(&response[..response.len() / 2])?;
                let _ = to_client.shutdown(std::net::Shutdown::Both);
                return Ok(());
            }
            to_client.write_all(&response)?;
        }
        Ok(())
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Sync until it succeeds, as an app retrying after network errors would.
fn sync_with_retries(device: &mut Device) -> u32 {
    for attempt in 0..60 {
        match device.try_sync() {
            Ok(_) => return attempt,
            Err(e) => {
                assert!(
                    matches!(e.code(), "sync.network" | "sync.protocol"),
                    "unexpected error {e}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    panic!("sync did not succeed after 60 attempts");
}

/// Total changes over every card a device holds.
fn change_count(device: &mut Device) -> u64 {
    let ids = device.store.card_ids().expect("ids");
    ids.iter()
        .map(|id| device.store.history(id).expect("history").len() as u64)
        .sum()
}

fn random_edit(rng: &mut StdRng, device: &mut Device, cards: &[CardId], who: &str) {
    let id = &cards[rng.random_range(0..cards.len())];
    match rng.random_range(0..4) {
        0 => device.set(
            id,
            "basic.phone",
            &format!("139{:08}", rng.random_range(0..100_000_000u32)),
        ),
        1 => device.visit(id, &format!("{who} 拜访，谈回款和备货")),
        2 => device.set(
            id,
            "notes",
            &format!("{who} 更新备注 {}", rng.random_range(0..1000)),
        ),
        _ => device.set(
            id,
            "credit.credit_limit",
            &format!("{}", rng.random_range(1..500) * 1000),
        ),
    }
}

#[test]
fn dropped_duplicated_and_delayed_requests_lose_and_duplicate_nothing() {
    let seed = seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let server = Server::start();
    crate::support::company(&server);
    let proxy = FaultyProxy::start(server.running.addr, seed);
    let mut phone = Device::enrol(&server, "zhangwei", Role::Rep);
    let mut tablet = Device::enrol(&server, "zhangwei", Role::Rep);
    let mut manager = Device::enrol(&server, "wangjl", Role::Manager);
    // From now on everyone talks through the faulty proxy.
    for d in [&mut phone, &mut tablet, &mut manager] {
        d.transport = Arc::new(HttpTransport::new(&proxy.url(), &[]).expect("transport"));
    }
    let cards: Vec<CardId> = (0..12)
        .map(|i| phone.new_card(&format!("南京客户{i}"), "east"))
        .collect();
    sync_with_retries(&mut phone);
    sync_with_retries(&mut tablet);
    sync_with_retries(&mut manager);
    for round in 0..15 {
        random_edit(&mut rng, &mut phone, &cards, "张伟");
        random_edit(&mut rng, &mut tablet, &cards, "张伟平板");
        random_edit(&mut rng, &mut manager, &cards, "王经理");
        let order = [round % 3, (round + 1) % 3, (round + 2) % 3];
        for i in order {
            let d = match i {
                0 => &mut phone,
                1 => &mut tablet,
                _ => &mut manager,
            };
            sync_with_retries(d);
        }
    }
    assert!(
        proxy.faults.load(Ordering::SeqCst) > 5,
        "the proxy did inject faults"
    );
    proxy.calm.store(true, Ordering::SeqCst);
    for _ in 0..2 {
        for d in [&mut phone, &mut tablet, &mut manager] {
            let r = d.sync();
            assert!(r.refused.is_empty(), "{:?}", r.refused);
        }
    }
    let expected = phone.snapshot();
    assert_eq!(tablet.snapshot(), expected);
    assert_eq!(manager.snapshot(), expected);
    // Every change is in the server's log exactly once.
    assert_eq!(
        server.storage().log_len().expect("log"),
        change_count(&mut phone)
    );
}

/// The server as a child process on a fixed port and a database file that survive it.
struct ServerProcess {
    child: Child,
}

impl ServerProcess {
    fn start(db: impl AsRef<std::ffi::OsStr>, addr: SocketAddr) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fieldbook-test-server"))
            .arg(db)
            .arg(addr.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start server process");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("server says it listens");
        assert_eq!(line.trim(), "listening");
        ServerProcess { child }
    }

    fn kill(mut self) {
        let _ = self.child.kill(); // SIGKILL on unix: no graceful anything.
        let _ = self.child.wait();
    }
}

/// Every device edits a random card and syncs, round after round, on a thread of its
/// own until `stop`; returns the devices and how many syncs went through.
fn edit_and_sync_until(
    stop: &Arc<AtomicBool>,
    mut devices: Vec<Device>,
    cards: Vec<CardId>,
    seed: u64,
) -> std::thread::JoinHandle<(Vec<Device>, u32)> {
    let stop = stop.clone();
    std::thread::spawn(move || {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
        let mut synced = 0u32;
        while !stop.load(Ordering::SeqCst) {
            for d in devices.iter_mut() {
                random_edit(&mut rng, d, &cards, "张伟");
                if d.try_sync().is_ok() {
                    synced += 1;
                }
            }
        }
        (devices, synced)
    })
}

#[test]
fn sigkilled_server_loses_nothing_it_acknowledged() {
    let seed = seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("server.db");
    // Set the company up in the file, then serve it from a separate process.
    let (phone_token, tablet_token) = {
        let state = fieldbook_server::state_for_sqlite(&db, fieldbook_server::Config::default())
            .expect("state");
        let s = &*state.storage;
        use fieldbook_server::admin;
        use fieldbook_server::storage::PersonKind;
        admin::add_person(s, "zhangwei", "张伟", PersonKind::Rep).expect("rep");
        admin::add_territory(s, "east", "华东区", None).expect("territory");
        admin::assign_territory(s, "east", "zhangwei").expect("assign");
        (
            admin::enrol_device(s, "zhangwei", Role::Rep, "手机")
                .expect("token")
                .token,
            admin::enrol_device(s, "zhangwei", Role::Rep, "平板")
                .expect("token")
                .token,
        )
    };
    let addr = TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr");
    let url = format!("http://{addr}");
    let mut server = ServerProcess::start(&db, addr);
    let mut devices: Vec<Device> = [phone_token, tablet_token]
        .into_iter()
        .map(|token| {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut store = fieldbook_core::Store::open(dir.path().join("d.db")).expect("store");
            let transport: Arc<dyn fieldbook_core::sync::Transport> =
                Arc::new(HttpTransport::new(&url, &[]).expect("t"));
            fieldbook_core::sync::enrol(&mut store, &*transport, &url, &token).expect("enrol");
            Device::from_parts(store, transport, dir)
        })
        .collect();
    let cards: Vec<CardId> = (0..8)
        .map(|i| devices[0].new_card(&format!("宁波客户{i}"), "east"))
        .collect();
    devices[0].sync();
    devices[1].sync();

    // Devices edit and sync continuously in a thread; the test kills the server at
    // random moments and restarts it on the same file and port.
    let stop = Arc::new(AtomicBool::new(false));
    let worker = edit_and_sync_until(&stop, devices, cards.clone(), seed);
    for _ in 0..8 {
        std::thread::sleep(Duration::from_millis(rng.random_range(50..400)));
        server.kill();
        std::thread::sleep(Duration::from_millis(50));
        server = ServerProcess::start(&db, addr);
    }
    stop.store(true, Ordering::SeqCst);
    let (mut devices, synced) = worker.join().expect("worker");
    assert!(synced > 0, "some syncs went through between kills");
    // Converge, then check the server against a fresh device built from it alone.
    for _ in 0..2 {
        for d in devices.iter_mut() {
            sync_with_retries(d);
        }
    }
    assert_eq!(devices[0].snapshot(), devices[1].snapshot());
    for d in devices.iter_mut() {
        assert_eq!(d.store.pending_cards().expect("pending"), 0);
    }
    let expected_changes = change_count(&mut devices[0]);
    server.kill();
    let state = fieldbook_server::state_for_sqlite(&db, fieldbook_server::Config::default())
        .expect("reopen");
    assert_eq!(
        state.storage.log_len().expect("log"),
        expected_changes,
        "every acknowledged change is on the server, once"
    );
}

/// A load balancer in front of several instances, as the device sees it: each request
/// goes to the next instance in turn, and one that does not answer is skipped for the
/// next (what a balancer's health check does).
struct Balancer {
    instances: Vec<HttpTransport>,
    next: std::sync::atomic::AtomicUsize,
}

impl fieldbook_core::sync::Transport for Balancer {
    fn post(
        &self,
        path: &str,
        bearer: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<fieldbook_core::sync::HttpResponse, String> {
        let n = self.instances.len();
        let first = self.next.fetch_add(1, Ordering::SeqCst);
        let mut last = Err("no instance".to_owned());
        for i in 0..n {
            last = self.instances[(first + i) % n].post(path, bearer, content_type, body.clone());
            if last.is_ok() {
                return last;
            }
        }
        last
    }
}

#[test]
fn two_instances_on_postgres_lose_nothing_when_one_is_killed_mid_sync() {
    use fieldbook_server::storage::postgres::ScratchDatabase;
    let Some(admin_url) = std::env::var("FIELDBOOK_TEST_PG")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(
            std::env::var_os("FIELDBOOK_REQUIRE_POSTGRES").is_none(),
            "FIELDBOOK_REQUIRE_POSTGRES is set but FIELDBOOK_TEST_PG is not"
        );
        eprintln!("FIELDBOOK_TEST_PG is not set: PostgreSQL test skipped");
        return;
    };
    let seed = seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let scratch = ScratchDatabase::create(&admin_url).expect("scratch database");
    let db = fieldbook_server::Database::Postgres(scratch.url().to_owned());
    let tokens: Vec<String> = {
        let state =
            fieldbook_server::state_for(&db, fieldbook_server::Config::default()).expect("state");
        let s = &*state.storage;
        use fieldbook_server::admin;
        use fieldbook_server::storage::PersonKind;
        admin::add_person(s, "zhangwei", "张伟", PersonKind::Rep).expect("rep");
        admin::add_territory(s, "east", "华东区", None).expect("territory");
        admin::assign_territory(s, "east", "zhangwei").expect("assign");
        ["手机", "平板", "备用机"]
            .iter()
            .map(|name| {
                admin::enrol_device(s, "zhangwei", Role::Rep, name)
                    .expect("token")
                    .token
            })
            .collect()
    };
    let addr = || {
        TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
    };
    let (addr_a, addr_b) = (addr(), addr());
    let mut a = ServerProcess::start(scratch.url(), addr_a);
    let b = ServerProcess::start(scratch.url(), addr_b);
    let urls = [format!("http://{addr_a}"), format!("http://{addr_b}")];
    let mut devices: Vec<Device> = tokens
        .into_iter()
        .map(|token| {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut store = fieldbook_core::Store::open(dir.path().join("d.db")).expect("store");
            let transport: Arc<dyn fieldbook_core::sync::Transport> = Arc::new(Balancer {
                instances: urls
                    .iter()
                    .map(|u| HttpTransport::new(u, &[]).expect("transport"))
                    .collect(),
                next: std::sync::atomic::AtomicUsize::new(0),
            });
            fieldbook_core::sync::enrol(&mut store, &*transport, &urls[0], &token).expect("enrol");
            Device::from_parts(store, transport, dir)
        })
        .collect();
    let cards: Vec<CardId> = (0..8)
        .map(|i| devices[0].new_card(&format!("苏州客户{i}"), "east"))
        .collect();
    for d in devices.iter_mut() {
        sync_with_retries(d);
    }

    // Every device edits and syncs continuously, each sync through the next instance;
    // instance A is killed at random moments and restarted, then killed for good.
    let stop = Arc::new(AtomicBool::new(false));
    let worker = edit_and_sync_until(&stop, devices, cards.clone(), seed);
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(rng.random_range(100..500)));
        a.kill();
        std::thread::sleep(Duration::from_millis(rng.random_range(50..300)));
        a = ServerProcess::start(scratch.url(), addr_a);
    }
    std::thread::sleep(Duration::from_millis(rng.random_range(100..500)));
    a.kill(); // for good: the devices finish on B
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let (mut devices, synced) = worker.join().expect("worker");
    assert!(synced > 0, "some syncs went through");
    for _ in 0..2 {
        for d in devices.iter_mut() {
            sync_with_retries(d);
        }
    }
    let first = devices[0].snapshot();
    for d in devices.iter_mut() {
        assert_eq!(d.snapshot(), first, "every device holds the same cards");
        assert_eq!(d.store.pending_cards().expect("pending"), 0);
    }
    let expected_changes = change_count(&mut devices[0]);
    b.kill();
    let state =
        fieldbook_server::state_for(&db, fieldbook_server::Config::default()).expect("reopen");
    assert_eq!(
        state.storage.log_len().expect("log"),
        expected_changes,
        "every acknowledged change is in the database, once (seed {seed})"
    );
    drop(state);
}
