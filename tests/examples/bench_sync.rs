//! Sync benchmark (issue 3): a real server process on loopback, real device stores.
//!
//! ```text
//! cargo build --release -p fieldbook-tests --bins
//! cargo run --release -p fieldbook-tests --example bench_sync -- [--runs 5] [--devices 500]
//! ```
//! (a) a new device's first sync of a 2,000-card territory (≈50 changes per card);
//! (b) reconnect after 100 cards were edited offline; (c) a no-op sync;
//! (d) N devices syncing at once, each pushing 10 changed cards and pulling the others'.
//! Reports medians of several runs, bytes against their references, and the server
//! process's peak RSS.

mod support;

use std::net::TcpListener;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use automerge::Automerge;
use chrono::NaiveDate;
use fieldbook_core::CardId;
use fieldbook_core::demo::{DemoAuthor, demo_document};
use fieldbook_server::admin;
use fieldbook_server::storage::{PersonKind, Role};
use support::{Dev, Res, ServerProcess, arg, gzip_len, median, percentile};

fn main() -> Res<()> {
    let runs = arg("--runs", 5);
    let n_devices = arg("--devices", 500);
    let cards = arg("--cards", 2000);
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).ok_or("date")?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("server.db");

    eprintln!("setting up: {cards} cards x ~50 changes, {n_devices} devices ...");
    let territories = n_devices.div_ceil(5);
    let mut tokens_d: Vec<String> = Vec::new();
    let mut tokens_a: Vec<String> = Vec::new();
    let mut gzip_docs = 0usize;
    {
        let state = fieldbook_server::state_for_sqlite(&db, fieldbook_server::Config::default())?;
        let s = &*state.storage;
        admin::add_person(s, "zhangwei", "张伟", PersonKind::Rep)?;
        admin::add_territory(s, "east", "华东区", None)?;
        admin::assign_territory(s, "east", "zhangwei")?;
        let authors = [
            DemoAuthor::new("zhangwei".parse()?),
            DemoAuthor::new("lina".parse()?),
        ];
        let mut batch = Vec::new();
        for i in 0..cards as u64 {
            let (_, bytes) = demo_document(7, i, "east", &authors, 50, today)?;
            gzip_docs += gzip_len(&bytes);
            batch.push(Automerge::load(&bytes)?);
            if batch.len() == 200 {
                fieldbook_server::seed_cards(s, &batch)?;
                batch.clear();
            }
        }
        fieldbook_server::seed_cards(s, &batch)?;
        for _ in 0..(runs + 2) {
            tokens_a.push(admin::enrol_device(s, "zhangwei", Role::Rep, "bench")?.token);
        }
        // (d): territories of 50 small cards, 5 devices of one rep each.
        let mut batch = Vec::new();
        for t in 0..territories {
            let rep = format!("rep{t:03}");
            let territory = format!("t{t:03}");
            admin::add_person(s, &rep, "代表", PersonKind::Rep)?;
            admin::add_territory(s, &territory, "区域", None)?;
            admin::assign_territory(s, &territory, &rep)?;
            let author = [DemoAuthor::new(rep.parse()?)];
            for i in 0..50u64 {
                let (_, bytes) = demo_document(11 + t as u64, i, &territory, &author, 10, today)?;
                batch.push(Automerge::load(&bytes)?);
            }
            fieldbook_server::seed_cards(s, &batch)?;
            batch.clear();
            for _ in 0..5 {
                tokens_d.push(admin::enrol_device(s, &rep, Role::Rep, "bench")?.token);
            }
        }
    }
    let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let url = format!("http://{addr}");
    let server = ServerProcess::start(&db, addr)?;

    // (a) first sync of a new device.
    let mut first_ms = Vec::new();
    let mut first_bytes = 0u64;
    let mut keep: Option<Dev> = None;
    for token in tokens_a.iter().take(runs) {
        let mut dev = Dev::enrol(&url, token)?;
        let (report, ms) = dev.sync()?;
        assert_eq!(report.cards_new as usize, cards);
        first_ms.push(ms);
        first_bytes = report.progress.bytes_down;
        keep = Some(dev);
    }
    let mut dev = keep.ok_or("no device")?;
    println!(
        "(a) first sync, {cards} cards: median {:.0} ms over {runs} runs; {first_bytes} bytes down = {:.2}x the gzip size of the compacted documents ({gzip_docs} bytes)",
        median(first_ms.clone()),
        first_bytes as f64 / gzip_docs as f64
    );

    // (b) reconnect after 100 cards edited offline.
    let ids: Vec<CardId> = dev.store.card_ids()?.into_iter().take(100).collect();
    let mut re_ms = Vec::new();
    let mut ratio = Vec::new();
    for run in 0..runs {
        for id in &ids {
            dev.store.update(id, |c| {
                c.set_path(
                    "basic.phone",
                    &format!("138{run:02}{:06}", id.as_str().len()),
                )
            })?;
            dev.store.update(id, |c| {
                c.set_path(
                    "transaction.current_activity",
                    &format!("第{run}轮：年底促销洽谈中"),
                )
            })?;
        }
        let pending: Vec<u8> = dev
            .store
            .pending_changes()?
            .into_iter()
            .flat_map(|(_, b)| b)
            .collect();
        let reference = gzip_len(&pending);
        let (report, ms) = dev.sync()?;
        assert_eq!(report.progress.cards_pushed, 100);
        re_ms.push(ms);
        ratio.push(report.progress.bytes_up as f64 / reference as f64);
        println!(
            "    run {run}: {} requests, {} bytes up (changes gzip: {reference}), {} bytes down, {ms:.1} ms",
            report.progress.requests, report.progress.bytes_up, report.progress.bytes_down
        );
    }
    println!(
        "(b) reconnect after 100 cards edited offline: median {:.1} ms; bytes up = {:.2}x the compressed changes",
        median(re_ms),
        median(ratio)
    );

    // (c) no-op.
    let mut noop_ms = Vec::new();
    let mut noop_bytes = (0, 0);
    for _ in 0..(runs * 4) {
        let (r, ms) = dev.sync()?;
        noop_ms.push(ms);
        noop_bytes = (r.progress.bytes_up, r.progress.bytes_down);
    }
    println!(
        "(c) no-op sync of {cards} cards: median {:.2} ms; {} bytes up, {} bytes down, 1 request",
        median(noop_ms),
        noop_bytes.0,
        noop_bytes.1
    );

    // (d) many devices at once.
    eprintln!("enrolling and first-syncing {n_devices} devices ...");
    let mut devices = Vec::new();
    for token in &tokens_d {
        let mut d = Dev::enrol(&url, token)?;
        d.sync()?;
        devices.push(d);
    }
    let barrier = Arc::new(Barrier::new(devices.len() + 1));
    let mut handles = Vec::new();
    for (i, mut d) in devices.into_iter().enumerate() {
        let barrier = barrier.clone();
        handles.push(std::thread::Builder::new().stack_size(256 * 1024).spawn(
            move || -> Result<(f64, u32), String> {
                let ids = d.store.card_ids().map_err(|e| e.to_string())?;
                for id in ids.iter().skip(i % 5 * 10).take(10) {
                    d.store
                        .update(id, |c| {
                            c.set_path("transaction.current_activity", &format!("设备{i}更新"))
                        })
                        .map_err(|e| e.to_string())?;
                }
                barrier.wait();
                let (report, ms) = d.sync().map_err(|e| e.to_string())?;
                Ok((ms, report.progress.cards_pulled))
            },
        )?);
    }
    barrier.wait();
    let t0 = Instant::now();
    let mut lat = Vec::new();
    let mut failures = 0;
    for h in handles {
        match h.join() {
            Ok(Ok((ms, _))) => lat.push(ms),
            _ => failures += 1,
        }
    }
    let wall = t0.elapsed();
    println!(
        "(d) {n_devices} devices at once (10 cards pushed each): {} ok, {failures} failed; wall {:.2} s; throughput {:.0} syncs/s; p50 {:.0} ms, p99 {:.0} ms; server peak RSS {} MiB",
        lat.len(),
        wall.as_secs_f64(),
        lat.len() as f64 / wall.as_secs_f64(),
        percentile(lat.clone(), 0.5),
        percentile(lat, 0.99),
        server.peak_rss_kib() / 1024
    );
    Ok(())
}
