//! The Rust side of the FFI overhead benchmark (the Kotlin side is
//! tests/kotlin/src/test/kotlin/fieldbook/bench/FfiBench.kt): the same calls on the same
//! data straight into core, so the ratio of the two is what the FFI layer costs
//! (uniffi lowering/lifting, JNA, the records' conversion).
//!
//! ```text
//! cargo run --release -p fieldbook-ffi --example bench_rust_side -- SERVER_URL TOKEN [SAMPLES]
//! ```
//! With a scenario server (`fieldbook-scenario-server DIR 2000`) and a token of a rep:
//! the first sync of the territory, then medians (ms) of a card screen, an edit, a list
//! page and a search, as `name value` lines.

use std::time::Instant;

use fieldbook_core::store::{OpenOptions, StoreReader};
use fieldbook_core::sync::http::HttpTransport;
use fieldbook_core::{CardQuery, Store};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn ms(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64() * 1e3
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("SERVER_URL")?;
    let token = args.next().ok_or("TOKEN")?;
    let samples: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(200);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rust.db");
    let mut store = Store::open(&path)?;
    let transport = HttpTransport::new(&url, &[])?;
    fieldbook_core::sync::enrol(&mut store, &transport, &url, &token)?;
    let mut report = None;
    let sync = ms(|| {
        report = Some(fieldbook_core::sync::sync(
            &mut store,
            &transport,
            &mut |_| {},
        ))
    });
    let report = report.ok_or("no sync")??;
    println!("first_sync_cards {}", report.cards_new);
    println!("first_sync_ms {sync:.1}");
    let mut reader = StoreReader::open(&path, &OpenOptions::new())?;
    let ids = store.card_ids()?;
    let pick = |i: usize| &ids[(i * 37) % ids.len()];
    let card = median(
        (0..samples)
            .map(|i| ms(|| drop(reader.card(pick(i)))))
            .collect(),
    );
    let edit = median(
        (0..samples)
            .map(|i| {
                ms(|| {
                    let _ =
                        store.update(pick(i), |c| c.set_path("basic.city", &format!("杭州{i}")));
                })
            })
            .collect(),
    );
    let q = CardQuery {
        limit: 50,
        ..Default::default()
    };
    let list = median((0..samples).map(|_| ms(|| drop(reader.list(&q)))).collect());
    let search = median(
        (0..samples)
            .map(|_| ms(|| drop(reader.search("客户", 50))))
            .collect(),
    );
    println!("card_ms {card:.4}\nedit_ms {edit:.3}\nlist_ms {list:.3}\nsearch_ms {search:.3}");
    Ok(())
}
