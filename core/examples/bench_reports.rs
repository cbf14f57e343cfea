//! Benchmark of the device's pipeline and activity reports (issue 9: the reports over
//! 10,000 cards with a year of history).
//!
//! ```text
//! cargo run --release -p fieldbook-core --no-default-features --features demo \
//!     --example bench_reports -- --cards 10000 --changes 50
//! ```
//! Builds a store of N demo cards with a year of history each (`fieldbook_core::demo`,
//! imported in bundles), then times `Store::pipeline` and `Store::activity` (by month
//! over the year) on it: the median of 3 runs, the store reopened for each (cold
//! document cache).

use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use fieldbook_core::Store;
use fieldbook_core::analysis::activity::Period;
use fieldbook_core::demo::{DemoAuthor, demo_document};
use fieldbook_core::store::{BundleEntry, encode_bundle};

const TERRITORIES: &[&str] = &["华东区", "华南区", "华北区", "西南区", "华中区"];
const SEED: u64 = 20_261_201;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cards = arg("--cards", 10_000);
    let changes = arg("--changes", 50) as usize;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("bench.db");
    let authors: Vec<DemoAuthor> = ["zhangwei", "lina", "wangqiang", "liuyang"]
        .iter()
        .map(|r| r.parse().map(DemoAuthor::new))
        .collect::<Result<_, _>>()?;
    let today = Utc::now().date_naive();
    {
        let mut store = Store::open(&db)?;
        store.init_identity("zhangwei".parse()?)?;
        let mut start = 0;
        while start < cards {
            let end = (start + 500).min(cards);
            let entries = (start..end)
                .map(|i| {
                    let territory = TERRITORIES[(i % TERRITORIES.len() as u64) as usize];
                    demo_document(SEED, i, territory, &authors, changes, today).map(|(id, data)| {
                        BundleEntry {
                            card_id: id.to_string(),
                            data,
                        }
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            store.import_bundle(&encode_bundle(&entries))?;
            start = end;
        }
    }
    let from = today.checked_sub_days(Days::new(365)).unwrap_or(today);
    let mut pipeline = Vec::new();
    let mut activity = Vec::new();
    let mut sums = (0u64, 0u64);
    for _ in 0..3 {
        let mut store = Store::open(&db)?;
        let t = Instant::now();
        let p = store.pipeline(today, 480)?;
        pipeline.push(t.elapsed());
        let t = Instant::now();
        let a = store.activity(Period::Month, from, today, 480)?;
        activity.push(t.elapsed());
        sums = (
            u64::from(p.forecast.total.opportunities),
            a.reps.iter().map(|r| r.totals.changes).sum(),
        );
    }
    println!(
        "{cards} cards × {changes} changes: pipeline {:.0} ms, activity {:.0} ms \
         ({} opportunities, {} changes counted)",
        median(pipeline).as_secs_f64() * 1e3,
        median(activity).as_secs_f64() * 1e3,
        sums.0,
        sums.1
    );
    Ok(())
}
