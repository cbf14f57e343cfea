//! Benchmark of the device store with realistic cards (issue 2's targets).
//!
//! ```text
//! cargo run --release -p fieldbook-core --example bench_store -- --cards 10000
//! ```
//! Builds a store of N demo cards (Chinese and English text, about 50 changes of
//! history each: built in memory with `fieldbook_core::demo`, imported in bundles),
//! then measures, with several runs, the median of: opening a card (cold and warm
//! cache), a durable edit, searches, the first page of sorted lists, the peak RSS of
//! a process that opens every card in turn (at 1,000, 5,000 and N cards), and the
//! bytes on disk per card. Options: `--cards N`, `--changes N`, `--runs N`,
//! `--samples N`, `--dir PATH` (keep the store there instead of a temp dir).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use fieldbook_core::demo::{DemoRng, demo_edit};
use fieldbook_core::{CardId, CardQuery, SortBy, Store};

#[path = "support/grow.rs"]
mod grow;
use grow::{SEED, grow};

struct Options {
    cards: u64,
    changes: usize,
    runs: usize,
    samples: usize,
    dir: Option<PathBuf>,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        cards: 10_000,
        changes: 50,
        runs: 3,
        samples: 200,
        dir: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--cards" => o.cards = value()?.parse().map_err(|e| format!("--cards: {e}"))?,
            "--changes" => o.changes = value()?.parse().map_err(|e| format!("--changes: {e}"))?,
            "--runs" => o.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--samples" => o.samples = value()?.parse().map_err(|e| format!("--samples: {e}"))?,
            "--dir" => o.dir = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(o)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

/// Peak resident set size of this process, from /proc/self/status (kB).
fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// Child mode: open the store, open every card once, report peak RSS.
fn touch_all(db: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let before = vm_hwm_kb();
    let mut store = Store::open(db)?;
    let ids = store.card_ids()?;
    let mut visits = 0usize;
    for id in &ids {
        visits += store.card(id)?.card.visits.len();
    }
    println!("{} {} {} {}", ids.len(), before, vm_hwm_kb(), visits);
    Ok(())
}

fn rss_child(db: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let out = Command::new(std::env::current_exe()?)
        .arg("--touch-all")
        .arg(db)
        .output()?;
    if !out.status.success() {
        return Err(format!("touch-all failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Run `f` `samples` times in each of `runs` runs (the store reopened between runs);
/// print and return the median of the run medians.
fn measure(
    label: &str,
    db: &Path,
    runs: usize,
    samples: usize,
    mut f: impl FnMut(&mut Store, usize) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let mut medians = Vec::new();
    for _ in 0..runs {
        let mut store = Store::open(db)?;
        let mut times = Vec::with_capacity(samples);
        for i in 0..samples {
            let t = Instant::now();
            f(&mut store, i)?;
            times.push(t.elapsed());
        }
        medians.push(median(times));
    }
    let m = median(medians.clone());
    let runs: Vec<String> = medians.iter().map(|d| ms(*d)).collect();
    println!("| {label} | {} | {} |", ms(m), runs.join(" / "));
    Ok(m)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("--touch-all") {
        let db = args.next().ok_or("--touch-all needs a path")?;
        return touch_all(Path::new(&db));
    }
    let o = parse_args()?;
    let tmp = tempfile::tempdir()?;
    let dir = o.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("bench.db");
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    println!(
        "machine: {cpu}, {} cpus; cards {}, ~{} changes each",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        o.cards,
        o.changes
    );

    let mut store = Store::open(&db)?;
    store.init_identity("zhangwei".parse()?)?;
    let existing = store.count()?;
    drop(store);
    let mut steps: Vec<u64> = [1_000, 5_000]
        .into_iter()
        .filter(|&n| n < o.cards)
        .collect();
    steps.push(o.cards);
    let mut rss = Vec::new();
    let mut have = existing;
    for step in steps {
        if have < step {
            let t = Instant::now();
            let mut store = Store::open(&db)?;
            grow(&mut store, have, step, o.changes)?;
            store.checkpoint()?;
            println!(
                "built cards {have}..{step} in {:.1} s",
                t.elapsed().as_secs_f64()
            );
            have = step;
        }
        // The child opens the store itself: one process at a time holds it.
        rss.push((step, rss_child(&db)?));
    }
    let store = Store::open(&db)?;
    store.checkpoint()?;
    let count = store.count()?;
    let disk = store.disk_bytes();
    let ids = store.card_ids()?;
    drop(store);
    let probe = {
        let mut s = Store::open(&db)?;
        let h = s.history(&ids[0])?.len();
        let v = s.card(&ids[0])?;
        let bytes = s.document_bytes(&ids[0])?.len();
        (
            h,
            v.card.visits.len(),
            bytes,
            v.card.basic.name.clone().unwrap_or_default(),
            v.card.basic.phone.clone().unwrap_or_default(),
        )
    };
    println!(
        "cards: {count}; disk: {disk} bytes = {} bytes/card",
        disk / count.max(1)
    );
    println!(
        "sample card {:?}: {} changes, {} visits, {} bytes compacted; phone {}",
        probe.3, probe.0, probe.1, probe.2, probe.4
    );
    for (step, line) in &rss {
        let parts: Vec<&str> = line.split_whitespace().collect();
        println!(
            "peak RSS touching all {step} cards: {} MB (before open {} MB; {} cards, {} visits read)",
            parts
                .get(2)
                .and_then(|k| k.parse::<f64>().ok())
                .map(|k| format!("{:.1}", k / 1024.0))
                .unwrap_or_default(),
            parts
                .get(1)
                .and_then(|k| k.parse::<f64>().ok())
                .map(|k| format!("{:.1}", k / 1024.0))
                .unwrap_or_default(),
            parts.first().unwrap_or(&"?"),
            parts.get(3).unwrap_or(&"?"),
        );
    }

    let phone_fragment: String = probe
        .4
        .chars()
        .filter(|c| c.is_ascii_digit())
        .skip(3)
        .take(4)
        .collect();
    let mut rng = DemoRng::new(SEED ^ 0xBE4C);
    let pick = |rng: &mut DemoRng| -> CardId { ids[rng.below(ids.len() as u64) as usize].clone() };
    let (runs, samples) = (o.runs, o.samples);
    println!("\n| operation | median ms | run medians ms |\n|---|---|---|");
    measure(
        "open a card, cold (not in the LRU cache)",
        &db,
        runs,
        samples,
        |s, _| {
            let id = pick(&mut rng);
            s.card(&id)?;
            Ok(())
        },
    )?;
    let warm = pick(&mut rng);
    measure("open a card, warm (cached)", &db, runs, samples, |s, _| {
        s.card(&warm)?;
        Ok(())
    })?;
    // The card screen's history tab: every change with who made it and the fields it
    // touched (the document is loaded when not cached, as for an edit).
    measure(
        &format!("a card's history ({} changes), card not cached", o.changes),
        &db,
        runs,
        samples / 4,
        |s, _| {
            let id = pick(&mut rng);
            s.history(&id)?;
            Ok(())
        },
    )?;
    let mut edit_rng = DemoRng::new(7);
    measure(
        "durable edit, card not cached (load + write + fsync)",
        &db,
        runs,
        samples / 2,
        |s, _| {
            let id = pick(&mut rng);
            s.update(&id, |c| {
                demo_edit(c, &mut edit_rng, Utc::now(), "zhangwei");
                Ok(())
            })?;
            Ok(())
        },
    )?;
    let hot = pick(&mut rng);
    measure(
        "durable edit, card cached",
        &db,
        runs,
        samples / 2,
        |s, _| {
            s.update(&hot, |c| {
                demo_edit(c, &mut edit_rng, Utc::now(), "zhangwei");
                Ok(())
            })?;
            Ok(())
        },
    )?;
    let searches: Vec<(String, String)> = vec![
        ("search 2 Chinese chars \"上海\"".into(), "上海".into()),
        ("search 2 Chinese chars \"超市\"".into(), "超市".into()),
        (
            "search 4 Chinese chars \"促销方案\" (visit logs)".into(),
            "促销方案".into(),
        ),
        (
            "search 4 Chinese chars \"客户服务\"".into(),
            "客户服务".into(),
        ),
        (
            format!("search phone fragment \"{phone_fragment}\""),
            phone_fragment.clone(),
        ),
        ("search Latin word \"acme\"".into(), "acme".into()),
        ("search Latin word \"samples\"".into(), "samples".into()),
    ];
    for (label, term) in &searches {
        let mut hits = 0;
        measure(label, &db, runs, samples / 10, |s, _| {
            hits = s.search(term, 50)?.len();
            Ok(())
        })?;
        if hits == 0 {
            println!("|   (no hits for {term:?}) | | |");
        }
    }
    let lists = [
        (
            "first page by name",
            CardQuery {
                sort: SortBy::Name,
                limit: 50,
                ..Default::default()
            },
        ),
        (
            "first page by last visit",
            CardQuery {
                sort: SortBy::LastVisit,
                limit: 50,
                ..Default::default()
            },
        ),
        (
            "first page of 华南区 by name",
            CardQuery {
                territory: Some("华南区".into()),
                sort: SortBy::Name,
                limit: 50,
                ..Default::default()
            },
        ),
        (
            "first page by next visit due",
            CardQuery {
                sort: SortBy::NextDue,
                limit: 50,
                ..Default::default()
            },
        ),
        (
            "first page by sales (3 months)",
            CardQuery {
                sort: SortBy::Sales,
                limit: 50,
                ..Default::default()
            },
        ),
    ];
    for (label, q) in &lists {
        measure(label, &db, runs, samples / 10, |s, _| {
            s.list(q)?;
            Ok(())
        })?;
    }
    drop(tmp);
    Ok(())
}
