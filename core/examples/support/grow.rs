//! Shared by the store benchmarks: a device store filled with demo cards that carry a
//! year of history, built on all cores and imported in bundles.

use chrono::Utc;
use fieldbook_core::Store;
use fieldbook_core::demo::{DemoAuthor, demo_document};
use fieldbook_core::store::{BundleEntry, encode_bundle};

/// The demo territories the cards are spread over.
pub const TERRITORIES: &[&str] = &["华东区", "华南区", "华北区", "西南区", "华中区"];
/// The demo's seed: the same cards on every run.
pub const SEED: u64 = 20_261_123;

/// Add cards `from..to` to the store: documents built on all cores, imported in batches.
pub fn grow(
    store: &mut Store,
    from: u64,
    to: u64,
    changes: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let authors: Vec<DemoAuthor> = ["zhangwei", "lina", "wangqiang", "liuyang"]
        .iter()
        .map(|r| r.parse().map(DemoAuthor::new))
        .collect::<Result<_, _>>()?;
    let today = Utc::now().date_naive();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as u64;
    const BATCH: u64 = 500;
    let mut start = from;
    while start < to {
        let end = (start + BATCH).min(to);
        let entries: Vec<BundleEntry> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let authors = &authors;
                    s.spawn(move || {
                        (start..end)
                            .filter(|i| i % threads == t)
                            .map(|i| {
                                let territory =
                                    TERRITORIES[(i % TERRITORIES.len() as u64) as usize];
                                demo_document(SEED, i, territory, authors, changes, today).map(
                                    |(id, data)| BundleEntry {
                                        card_id: id.to_string(),
                                        data,
                                    },
                                )
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut all = Vec::new();
            for h in handles {
                all.extend(h.join().map_err(|_| "a document builder thread panicked")?);
            }
            all.into_iter()
                .collect::<Result<Vec<_>, _>>()
                .map_err(Box::<dyn std::error::Error>::from)
        })?;
        store.import_bundle(&encode_bundle(&entries))?;
        start = end;
    }
    Ok(())
}
