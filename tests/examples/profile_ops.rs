//! Per-operation costs behind the sync benchmark: where does a card's time go?
//! `cargo run --release -p fieldbook-tests --example profile_ops`

use std::time::Instant;

use automerge::{Automerge, ReadDoc};
use chrono::NaiveDate;
use fieldbook_core::demo::{DemoAuthor, demo_document};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).ok_or("date")?;
    let authors = [
        DemoAuthor::new("zhangwei".parse()?),
        DemoAuthor::new("lina".parse()?),
    ];
    let docs: Vec<Vec<u8>> = (0..200)
        .map(|i| demo_document(7, i, "east", &authors, 50, today).map(|d| d.1))
        .collect::<Result<_, _>>()?;
    let avg: usize = docs.iter().map(Vec::len).sum::<usize>() / docs.len();
    println!("doc bytes avg {avg}");
    let t = Instant::now();
    let loaded: Vec<Automerge> = docs
        .iter()
        .map(|d| Automerge::load(d))
        .collect::<Result<_, _>>()?;
    println!(
        "load: {:.3} ms/doc",
        t.elapsed().as_secs_f64() * 1e3 / 200.0
    );
    let raw: Vec<Vec<u8>> = loaded.iter().map(|d| d.save_nocompress()).collect();
    println!(
        "nocompress bytes avg {}",
        raw.iter().map(Vec::len).sum::<usize>() / raw.len()
    );
    let t = Instant::now();
    for d in &raw {
        let _ = Automerge::load(d)?;
    }
    println!(
        "load (uncompressed columns): {:.3} ms/doc",
        t.elapsed().as_secs_f64() * 1e3 / 200.0
    );
    let t = Instant::now();
    for d in &docs {
        let _ = Automerge::load_unverified_heads(d)?;
    }
    println!(
        "load_unverified_heads: {:.3} ms/doc",
        t.elapsed().as_secs_f64() * 1e3 / 200.0
    );
    let t = Instant::now();
    for d in &loaded {
        let _ = d.get_changes(&[]);
    }
    println!(
        "get_changes(all): {:.3} ms/doc",
        t.elapsed().as_secs_f64() * 1e3 / 200.0
    );
    let t = Instant::now();
    for d in &loaded {
        let _ = d.save();
    }
    println!(
        "save: {:.3} ms/doc",
        t.elapsed().as_secs_f64() * 1e3 / 200.0
    );
    let t = Instant::now();
    for d in &loaded {
        let _ = d.get_heads();
        let _ = d.get_changes(&d.get_heads());
    }
    println!(
        "heads+get_changes(heads): {:.3} ms/doc",
        t.elapsed().as_secs_f64() * 1e3 / 200.0
    );
    let t = Instant::now();
    for d in &loaded {
        let _ = d.hydrate(None);
    }
    println!(
        "hydrate: {:.3} ms/doc",
        t.elapsed().as_secs_f64() * 1e3 / 200.0
    );
    let t = Instant::now();
    for d in &loaded {
        let _ = d.get_missing_deps(&[]);
    }
    println!(
        "missing deps: {:.3} ms/doc",
        t.elapsed().as_secs_f64() * 1e3 / 200.0
    );
    // store-level: insert via bundle import (load + save + index) and card reads
    let dir = tempfile::tempdir()?;
    let mut store = fieldbook_core::Store::open(dir.path().join("s.db"))?;
    store.init_identity("zhangwei".parse()?)?;
    let entries: Vec<_> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| fieldbook_core::store::BundleEntry {
            card_id: Automerge::load(d)
                .ok()
                .and_then(|doc| match doc.get(automerge::ROOT, "id") {
                    Ok(Some((automerge::Value::Scalar(s), _))) => s.as_str().map(str::to_string),
                    _ => None,
                })
                .unwrap_or_else(|| format!("{i}")),
            data: d.clone(),
        })
        .collect();
    let bundle = fieldbook_core::store::encode_bundle(&entries);
    let t = Instant::now();
    store.import_bundle(&bundle)?;
    println!(
        "import (load+save+index, one tx): {:.3} ms/doc",
        t.elapsed().as_secs_f64() * 1e3 / 200.0
    );
    let ids = store.card_ids()?;
    for id in ids.iter().take(50) {
        store.card(id)?;
    }
    let t = Instant::now();
    for _ in 0..4 {
        for id in ids.iter().take(50) {
            store.card(id)?;
        }
    }
    println!(
        "card view (warm: read_card+conflicts): {:.3} ms",
        t.elapsed().as_secs_f64() * 1e3 / 200.0
    );
    let t = Instant::now();
    for _ in 0..4 {
        for id in ids.iter().take(50) {
            store.conflicts(id)?;
        }
    }
    println!(
        "conflicts only (warm): {:.3} ms",
        t.elapsed().as_secs_f64() * 1e3 / 200.0
    );
    let t = Instant::now();
    for _ in 0..2 {
        for id in ids.iter().take(50) {
            store.update(id, |c| {
                c.set_path("basic.phone", &format!("1{}", t.elapsed().as_nanos()))
            })?;
        }
    }
    println!(
        "durable edit (warm): {:.3} ms",
        t.elapsed().as_secs_f64() * 1e3 / 100.0
    );
    let t = Instant::now();
    for id in &ids {
        store.update(id, |c| c.set_path("basic.phone", "13800000000"))?;
    }
    println!(
        "durable edit (cache warm for 64): {:.3} ms/edit",
        t.elapsed().as_secs_f64() * 1e3 / 200.0
    );
    let t = Instant::now();
    let p = store.pending_changes()?;
    println!(
        "pending_changes for {} cards: {:.3} ms/card",
        p.len(),
        t.elapsed().as_secs_f64() * 1e3 / p.len() as f64
    );
    Ok(())
}
