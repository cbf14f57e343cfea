//! What encryption at rest costs: the same store plain and encrypted (SQLCipher, raw
//! 256-bit key), compared on opening, a durable edit, a card screen and searches.
//!
//! ```text
//! cargo run --release -p fieldbook-core --features demo --example bench_at_rest -- --cards 2000
//! ```
//! Builds a plain store of N demo cards (bundles), copies it and encrypts the copy with
//! `Store::encrypt_file`, then for each: the median of `--samples` opens (a fresh
//! process would do the same work: open, key, schema check), durable edits, card reads
//! from the read connection, and 2- and 4-character searches. Prints one table.

use std::time::Instant;

use fieldbook_core::demo::{DemoAuthor, demo_document};
use fieldbook_core::store::{BundleEntry, EncryptionKey, OpenOptions, StoreReader, encode_bundle};
use fieldbook_core::{CardId, Store};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn time_ms(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64() * 1000.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut cards = 2000u64;
    let mut samples = 50usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--cards" => cards = args.next().ok_or("--cards N")?.parse()?,
            "--samples" => samples = args.next().ok_or("--samples N")?.parse()?,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let dir = tempfile::tempdir()?;
    let plain = dir.path().join("plain.db");
    {
        let mut store = Store::open(&plain)?;
        store.init_identity("zhangwei".parse()?)?;
        let authors = [DemoAuthor::new("zhangwei".parse()?)];
        let today = chrono::Utc::now().date_naive();
        for chunk in (0..cards).collect::<Vec<_>>().chunks(500) {
            let mut entries: Vec<BundleEntry> = Vec::new();
            for i in chunk {
                let (id, bytes) = demo_document(20_261_201, *i, "华东区", &authors, 20, today)?;
                entries.push(BundleEntry {
                    card_id: id.to_string(),
                    data: bytes,
                });
            }
            store.import_bundle(&encode_bundle(&entries))?;
        }
        store.checkpoint()?;
    }
    let encrypted = dir.path().join("encrypted.db");
    std::fs::copy(&plain, &encrypted)?;
    let key = EncryptionKey::from_bytes(&[42u8; 32])?;
    Store::encrypt_file(&encrypted, &key)?;

    println!("{cards} cards, medians of {samples} samples (ms)");
    println!("| | open | durable edit | card screen (reader) | search 2 chars | search 4 chars |");
    println!("|---|---|---|---|---|---|");
    for (name, path, options) in [
        ("plain", &plain, OpenOptions::new()),
        ("encrypted", &encrypted, OpenOptions::new().key(key.clone())),
    ] {
        let open = median(
            (0..samples)
                .map(|_| time_ms(|| drop(Store::open_with(path, &options).expect("open"))))
                .collect(),
        );
        let mut store = Store::open_with(path, &options)?;
        let ids: Vec<CardId> = store.card_ids()?;
        let mut reader = StoreReader::open(path, &options)?;
        let edit = median(
            (0..samples)
                .map(|i| {
                    let id = &ids[(i * 37) % ids.len()];
                    time_ms(|| {
                        store
                            .update(id, |c| c.set_path("basic.city", &format!("杭州{i}")))
                            .expect("edit");
                    })
                })
                .collect(),
        );
        let card = median(
            (0..samples)
                .map(|i| time_ms(|| drop(reader.card(&ids[(i * 53) % ids.len()]).expect("card"))))
                .collect(),
        );
        let two = median(
            (0..samples)
                .map(|_| time_ms(|| drop(reader.search("客户", 50).expect("search"))))
                .collect(),
        );
        let four = median(
            (0..samples)
                .map(|_| time_ms(|| drop(reader.search("有限公司", 50).expect("search"))))
                .collect(),
        );
        println!("| {name} | {open:.2} | {edit:.2} | {card:.3} | {two:.2} | {four:.2} |");
    }
    Ok(())
}
