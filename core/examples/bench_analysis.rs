//! Benchmark of the seeds' methods over a device store (issue 9's "≤ 100 ms over 10,000
//! cards with a year of history"): the ABC classes, the day's plan with its route, and
//! duplicate detection, credit, the pipeline and activity, each as a phone calls it
//! (`Store::abc`, `Store::day_plan`, `Store::duplicates`, `Store::credit_report`,
//! `Store::pipeline`, `Store::activity`), and the one-time walk of every change the first
//! history report makes on a store that never had one.
//!
//! ```text
//! cargo run --release -p fieldbook-core --features demo --example bench_analysis -- --cards 10000
//! ```
//! Options: `--cards N` (10,000), `--changes N` of history per card (20), `--runs N` (5),
//! `--dir PATH` (keep the store there and reuse it on the next run). Prints the median,
//! min and max of each, and where the time goes (reading the cards vs computing).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;
use fieldbook_core::Store;
use fieldbook_core::analysis::activity::Period;
use fieldbook_core::analysis::route::GeoPoint;

#[path = "support/grow.rs"]
mod grow;

/// The process's peak resident set (Linux), as `/proc` reports it.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn median(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration, Duration) {
    let mut out = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        std::hint::black_box(f());
        out.push(start.elapsed());
    }
    median(out)
}

fn show(name: &str, (med, min, max): (Duration, Duration, Duration)) {
    println!(
        "{name:<34} median {:>8.1} ms   (min {:.1}, max {:.1})",
        med.as_secs_f64() * 1e3,
        min.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut cards = 10_000u64;
    let mut changes = 20usize;
    let mut runs = 5usize;
    let mut dir: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--cards" => cards = value()?.parse()?,
            "--changes" => changes = value()?.parse()?,
            "--runs" => runs = value()?.parse()?,
            "--dir" => dir = Some(value()?.into()),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let temp = tempfile::tempdir()?;
    let dir = dir.unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("analysis-{cards}-{changes}.db"));
    let mut store = Store::open(&path)?;
    if store.card_ids()?.len() as u64 != cards {
        let started = Instant::now();
        store.init_identity("zhangwei".parse()?)?;
        grow::grow(&mut store, 0, cards, changes)?;
        println!(
            "built {cards} cards × {changes} changes in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let today = Utc::now().date_naive();
    let office = GeoPoint::new(31.2304, 121.4737)?;
    println!(
        "{cards} cards, {changes} changes each; {runs} runs; {} threads",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    show(
        "read every card (all_cards)",
        time(runs, || store.all_cards().map(|c| c.len())),
    );
    let all = store.all_cards()?;
    let company = store.company_settings().settings.clone();
    show(
        "  ABC computed alone",
        time(runs, || {
            fieldbook_core::analysis::abc::classify(&all, today, &company.abc)
        }),
    );
    show(
        "ABC (Store::abc)",
        time(runs, || store.abc(today).map(|r| r.rows.len())),
    );
    show(
        "day plan + route (Store::day_plan)",
        time(runs, || {
            store
                .day_plan(today, office, false)
                .map(|p| p.route.length_m)
        }),
    );
    show(
        "  duplicates computed alone",
        time(runs, || {
            fieldbook_core::analysis::duplicates::find_duplicates(&all, &company.duplicates).len()
        }),
    );
    show(
        "duplicates (Store::duplicates)",
        time(runs, || store.duplicates().map(|d| d.len())),
    );
    show(
        "credit (Store::credit_report)",
        time(runs, || store.credit_report(today).map(|r| r.rows.len())),
    );
    println!("peak RSS so far: {}", peak_rss());
    if std::env::var_os("BENCH_SKIP_HISTORY").is_some() {
        return Ok(());
    }
    // The first history report walks every change not walked before (once per change,
    // kept); a store built fresh walks them all here.
    let started = Instant::now();
    let first = store.pipeline(today, 480)?;
    println!(
        "{:<34} {:>8.1} ms   (once: {} opportunities)",
        "first history report (walks all)",
        started.elapsed().as_secs_f64() * 1e3,
        first.forecast.total.opportunities
    );
    show(
        "pipeline (Store::pipeline)",
        time(runs, || {
            store
                .pipeline(today, 480)
                .map(|p| p.forecast.total.opportunities)
        }),
    );
    let year_ago = today - chrono::Days::new(365);
    for (period, name) in [
        (Period::Month, "activity by month, a year"),
        (Period::Day, "activity by day, a year"),
    ] {
        show(
            name,
            time(runs, || {
                store
                    .activity(period, year_ago, today, 480)
                    .map(|a| a.reps.len())
            }),
        );
    }
    let plan = store.day_plan(today, office, false)?;
    println!(
        "plan: {} due, {} routed, {} off plan, {} dormant",
        plan.visits.due.len(),
        plan.route.stops().count(),
        plan.visits.off_plan.len(),
        plan.visits.dormant.len()
    );
    Ok(())
}
