//! Sync and store speed on the field workload (issue 10): a real server process on
//! loopback, real device stores.
//!
//! ```text
//! cargo build --release -p fieldbook-tests --bins --examples
//! ./target/release/examples/bench_field_sync [--runs 3] [--cards 1000]
//! ```
//! The workload is the one the issue compares with automerge-repo: customer cards of
//! about 20 short fields and 5 visit notes (`demo::field_document`, ≈1.6 KB of Automerge
//! data each).
//!
//! - (a) a fresh device pulls `--cards` cards, and twice as many, the way the app syncs
//!   (`sync_shared` over the store behind a mutex); while it does, another thread edits
//!   a card every 5 ms through the same store, and the slowest of those edits (the wait
//!   for the store included) is reported: how long a rep's edit can wait during a pull
//!   (`--edit-every 0`: no edits, the pull's own speed);
//! - (b) 50 cards edited offline on device A: A's sync start → device B has them;
//! - (c) a device uploads `--cards` cards created on it;
//! - (d) bytes on disk per card of the pulled store and of the uploader, with where
//!   they go (documents, views, lean copies, full text, free pages).
//!
//! Medians of `--runs` runs.

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use automerge::Automerge;
use chrono::NaiveDate;
use fieldbook_core::demo::{DemoAuthor, field_card, field_document};
use fieldbook_core::sync::{Cancel, Transport, sync_shared};
use fieldbook_core::{CardId, Store};
use fieldbook_server::admin;
use fieldbook_server::storage::{PersonKind, Role};
use support::{Dev, Res, ServerProcess, arg, gzip_len, median};

/// A rep editing while the sync runs: a durable edit of `card` every 5 ms through the
/// same store the sync uses (as the app does), until stopped; returns the slowest edit,
/// waiting for the store included, in ms.
fn editor(store: Arc<Mutex<Store>>, card: CardId, stop: Arc<AtomicBool>) -> JoinHandle<f64> {
    let every = arg("--edit-every", 5) as u64;
    std::thread::spawn(move || {
        let mut worst = 0.0f64;
        if every == 0 {
            return f64::NAN; // no edits: the pull alone
        }
        let mut n = 0u32;
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            let edited = store.lock().map_err(|e| e.to_string()).and_then(|mut s| {
                s.update(&card, |c| {
                    c.set_path("basic.phone", &format!("0571-{n:08}"))
                })
                .map_err(|e| e.to_string())
            });
            if edited.is_err() {
                return f64::NAN;
            }
            worst = worst.max(t.elapsed().as_secs_f64() * 1e3);
            n += 1;
            std::thread::sleep(Duration::from_millis(every));
        }
        worst
    })
}

/// Where a store's bytes go, per card, after a checkpoint.
fn disk_report(store: &Store, path: &Path, cards: usize) -> Res<String> {
    store.checkpoint()?;
    let file = std::fs::metadata(path)?.len() as f64;
    let conn = rusqlite::Connection::open(path)?;
    let one = |sql: &str| -> f64 {
        conn.query_row(sql, [], |r| r.get::<_, f64>(0))
            .unwrap_or(0.0)
    };
    let page = one("PRAGMA page_size");
    let free = one("PRAGMA freelist_count") * page;
    let docs = one("SELECT total(length(snapshot)) FROM cards")
        + one("SELECT total(length(data)) FROM card_chunks");
    let views = one("SELECT total(length(json)) FROM card_views");
    let lean = one("SELECT total(length(lean)) FROM card_facts");
    let fts = one("SELECT total(length(block)) FROM card_fts_data")
        + one("SELECT total(length(block)) FROM card_grams_data");
    let outbox = one("SELECT total(length(data)) FROM sync_outbox");
    let n = cards as f64;
    Ok(format!(
        "{:.0} B/card on disk (documents {:.0}, views {:.0}, lean copies {:.0}, full text {:.0}, outbox {:.0}, free pages {:.0}; the rest is rows, indexes and page slack)",
        file / n,
        docs / n,
        views / n,
        lean / n,
        fts / n,
        outbox / n,
        free / n
    ))
}

fn territory_of(n: usize) -> &'static str {
    if n == arg("--cards", 1000) {
        "east"
    } else {
        "south"
    }
}

fn main() -> Res<()> {
    let runs = arg("--runs", 3);
    let cards = arg("--cards", 1000);
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).ok_or("date")?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("server.db");

    eprintln!(
        "setting up: territories of {cards} and {} field cards ...",
        2 * cards
    );
    let mut gzip_docs = 0usize;
    let mut doc_bytes = 0usize;
    let tokens = |s: &dyn fieldbook_server::storage::Storage, rep: &str, n: usize| {
        (0..n)
            .map(|_| admin::enrol_device(s, rep, Role::Rep, "bench").map(|e| e.token))
            .collect::<Result<Vec<_>, _>>()
    };
    let (small, large, uploaders);
    {
        let state = fieldbook_server::state_for_sqlite(&db, fieldbook_server::Config::default())?;
        let s = &*state.storage;
        for (rep, name, territory, title, n) in [
            ("zhangwei", "张伟", "east", "华东区", cards),
            ("lina", "李娜", "south", "华南区", 2 * cards),
        ] {
            admin::add_person(s, rep, name, PersonKind::Rep)?;
            admin::add_territory(s, territory, title, None)?;
            admin::assign_territory(s, territory, rep)?;
            let author = DemoAuthor::new(rep.parse()?);
            let mut batch = Vec::new();
            for i in 0..n as u64 {
                let (_, bytes) = field_document(
                    if n == cards { 10 } else { 20 },
                    i,
                    territory,
                    &author,
                    today,
                )?;
                if n == cards {
                    gzip_docs += gzip_len(&bytes);
                    doc_bytes += bytes.len();
                }
                batch.push(Automerge::load(&bytes)?);
                if batch.len() == 200 {
                    fieldbook_server::seed_cards(s, &batch)?;
                    batch.clear();
                }
            }
            fieldbook_server::seed_cards(s, &batch)?;
        }
        small = tokens(s, "zhangwei", runs + 2)?;
        large = tokens(s, "lina", runs)?;
        let mut up = Vec::new();
        for r in 0..runs {
            let rep = format!("up{r}");
            let territory = format!("north{r}");
            admin::add_person(s, &rep, "王芳", PersonKind::Rep)?;
            admin::add_territory(s, &territory, &format!("华北{r}区"), None)?;
            admin::assign_territory(s, &territory, &rep)?;
            up.push((territory, tokens(s, &rep, 1)?.remove(0)));
        }
        uploaders = up;
    }
    let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let url = format!("http://{addr}");
    let server = ServerProcess::start(&db, addr)?;
    println!(
        "field workload: {cards} cards, {:.0} B of Automerge data per card ({:.0} B gzipped)",
        doc_bytes as f64 / cards as f64,
        gzip_docs as f64 / cards as f64
    );

    // (a) fresh pulls, with the write lock probed from another connection.
    let mut devices = Vec::new();
    for (label, list, n) in [("", &small, cards), (" (twice as many)", &large, 2 * cards)] {
        let mut ms = Vec::new();
        let mut locked = Vec::new();
        let mut parts = Vec::new();
        let mut report = None;
        for (run, token) in list.iter().take(runs).enumerate() {
            let mut dev = Dev::enrol(&url, token)?;
            let card = dev.store.create(|c| {
                c.basic.name = Some("杭州西湖文具店".into());
                c.territory = Some(territory_of(n).into());
                Ok(())
            })?;
            let Dev {
                store,
                transport,
                dir,
            } = dev;
            let store = Arc::new(Mutex::new(store));
            let stop = Arc::new(AtomicBool::new(false));
            let edits = editor(store.clone(), card, stop.clone());
            let t = Instant::now();
            let r = sync_shared(
                &*store,
                &transport as &dyn Transport,
                &mut |_| Ok(()),
                &Cancel::new(),
            )?;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            stop.store(true, Ordering::Relaxed);
            locked.push(edits.join().unwrap_or(f64::NAN));
            // Every card, and the one each earlier run made.
            assert_eq!(r.cards_new as usize, n + run, "every card pulled: {r:?}");
            parts.push(r.write_transactions);
            report = Some(r);
            if n == cards {
                let store = Arc::try_unwrap(store)
                    .map_err(|_| "store still shared")?
                    .into_inner()
                    .map_err(|_| "poisoned")?;
                devices.push(Dev {
                    store,
                    transport,
                    dir,
                });
            }
        }
        let r = report.ok_or("no run")?;
        println!(
            "(a) fresh device pulls {n} cards{label}: median {:.0} ms (runs {:?}); {} requests, {} B down, {:?} write transactions; slowest edit during the pull {:.1} ms (runs {:?})",
            median(ms.clone()),
            ms.iter().map(|m| m.round()).collect::<Vec<_>>(),
            r.progress.requests,
            r.progress.bytes_down,
            parts,
            median(locked.clone()),
            locked
                .iter()
                .map(|m| (m * 10.0).round() / 10.0)
                .collect::<Vec<_>>()
        );
    }
    let mut b = devices.pop().ok_or("no device B")?;
    let mut a = devices.pop().ok_or("no device A")?;
    println!(
        "(d) the pulled store: {}",
        disk_report(&b.store, &b.dir.path().join("device.db"), cards)?
    );
    if let Some(keep) = std::env::var_os("BENCH_KEEP") {
        // For a closer look (e.g. SQLite's dbstat): the pulled store, checkpointed.
        std::fs::copy(b.dir.path().join("device.db"), keep)?;
    }

    // (b) 50 cards edited offline on A; A syncs, then B.
    let ids: Vec<CardId> = a.store.card_ids()?.into_iter().take(50).collect();
    let mut end_to_end = Vec::new();
    let mut b_ms = Vec::new();
    for run in 0..runs {
        for id in &ids {
            a.store.update(id, |c| {
                c.set_path(
                    "transaction.current_activity",
                    &format!("第{run}轮：年底促销洽谈中"),
                )?;
                c.set_path(
                    "basic.phone",
                    &format!("021-6{run:02}{:05}", id.as_str().len()),
                )
            })?;
        }
        let t = Instant::now();
        let (pushed, _) = a.sync()?;
        let (pulled, b_time) = b.sync()?;
        end_to_end.push(t.elapsed().as_secs_f64() * 1e3);
        b_ms.push(b_time);
        assert_eq!(pushed.progress.cards_pushed, 50);
        assert_eq!(pulled.progress.cards_pulled, 50);
        println!(
            "    run {run}: A {} B up, {} requests; B {} B down, {} requests, {b_time:.1} ms",
            pushed.progress.bytes_up,
            pushed.progress.requests,
            pulled.progress.bytes_down,
            pulled.progress.requests
        );
    }
    println!(
        "(b) 50 cards edited offline: A's sync start → B has them: median {:.1} ms; B's sync {:.1} ms",
        median(end_to_end),
        median(b_ms)
    );

    // (c) upload of cards created on the device.
    let mut up_ms = Vec::new();
    let mut last = None;
    for (r, (territory, token)) in uploaders.iter().enumerate() {
        let mut dev = Dev::enrol(&url, token)?;
        for i in 0..cards as u64 {
            let card = field_card(30 + r as u64, i, territory, &format!("up{r}"), today);
            dev.store.create(|c| {
                c.territory = card.territory.clone();
                c.basic = card.basic.clone();
                c.classification = card.classification.clone();
                c.visits = card.visits.clone();
                Ok(())
            })?;
        }
        let (report, ms) = dev.sync()?;
        if let Some((_, code, message)) = report.refused.first() {
            return Err(format!("{} cards refused: {code} {message}", report.refused.len()).into());
        }
        assert_eq!(report.progress.cards_pushed as usize, cards);
        up_ms.push(ms);
        println!(
            "    run {r}: {} requests, {} B up, {ms:.0} ms",
            report.progress.requests, report.progress.bytes_up
        );
        last = Some(dev);
    }
    println!(
        "(c) upload of {cards} cards created on the device: median {:.0} ms",
        median(up_ms)
    );
    if let Some(dev) = last {
        println!(
            "(d) the uploader's store: {}",
            disk_report(&dev.store, &dev.dir.path().join("device.db"), cards)?
        );
    }
    println!("server peak RSS {} MiB", server.peak_rss_kib() / 1024);
    Ok(())
}
