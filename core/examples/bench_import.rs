//! Times importing a 10,000-row XLSX customer list of generated Chinese customers
//! (core's demo cards, written with the schema's headers by `transfer::export`): reading
//! the file (zip checks, calamine, the table), the dry run (every row through the card
//! model, duplicates against the store and within the file) and the real import (one
//! transaction), each the median of 5 runs into a fresh store.
//! Run: `cargo run --release -p fieldbook-core --features transfer,demo --example bench_import`.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use fieldbook_core::Store;
use fieldbook_core::demo::demo_card_on;
use fieldbook_core::transfer::{ExportFormat, ImportOptions, Limits, export, read_xlsx};

const ROWS: u64 = 10_000;
const RUNS: usize = 5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let today = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
    let territories = ["华东区", "华南区", "华北区", "西南区"];
    let cards: Vec<_> = (0..ROWS)
        .map(|i| demo_card_on(7, i, territories[(i % 4) as usize], today))
        .collect();
    let sheet = export::cards_sheet(&cards);
    let bytes = export::write(&sheet, ExportFormat::Xlsx).expect("xlsx");
    println!(
        "{ROWS} rows × {} columns, XLSX {} KiB",
        sheet.headers.len(),
        bytes.len() / 1024
    );

    let (mut read, mut dry, mut real) = (vec![], vec![], vec![]);
    let mut created = 0;
    for run in 0..RUNS {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(dir.path().join("bench.db")).expect("open");
        store
            .init_identity("zhangwei".parse().expect("rep"))
            .expect("init");
        let t = Instant::now();
        let table = read_xlsx(&bytes, None, &Limits::default()).expect("read");
        read.push(t.elapsed());
        let options = ImportOptions::default();
        let t = Instant::now();
        let report = store.import_table(&table, &options, true).expect("dry run");
        dry.push(t.elapsed());
        assert!(report.problems.is_empty(), "{:?}", &report.problems[..1]);
        let t = Instant::now();
        let report = store.import_table(&table, &options, false).expect("import");
        real.push(t.elapsed());
        created = report.created;
        eprintln!(
            "run {run}: read {:?}, dry run {:?}, import {:?} ({} duplicate flags)",
            read[run],
            dry[run],
            real[run],
            report.duplicates.len()
        );
    }
    println!("created {created} cards per run");
    println!("read XLSX       median {:?}", median(read));
    println!("dry run         median {:?}", median(dry));
    println!("import (1 tx)   median {:?}", median(real));
}
