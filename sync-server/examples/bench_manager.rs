//! Server time per page of the manager's API at scale: 10,000 cards, 50 reps, a year of
//! history (demo documents: about 24 changes each, device times over the year), seeded
//! through `seed_cards` (so the read model is written as in production). Each API call is
//! timed as its handler runs it — the query function and the JSON (or CSV) encoding — and
//! reported as p50/p95. Run in release:
//!
//! ```text
//! cargo run --release -p fieldbook-server --example bench_manager
//! ```
//!
//! `BENCH_CARDS` (default 10000) and `BENCH_CHANGES` (24) size the data, plus one card of
//! `BENCH_LONG_CHANGES` (2000) changes for the card in full with a long history;
//! `BENCH_ANALYSES_ONLY=1` times only ABC, credit and the pipeline;
//! `BENCH_DB=path` keeps the seeded database to time again without seeding (a database
//! seeded by an older build is migrated when opened, as a server's would be).

use std::time::Instant;

use chrono::NaiveDate;
use fieldbook_core::demo::{DemoAuthor, demo_document};
use fieldbook_core::guard::{BytesLimits, load_bounded};
use fieldbook_server::manager::activity::ActivityPeriod;
use fieldbook_server::manager::cards::CardSort;
use fieldbook_server::manager::{
    self, AbcQuery, ActivityQuery, CardDetailQuery, CardQuery, CreditQuery, PipelineQuery,
    TeamQuery,
};
use fieldbook_server::storage::{PersonKind, Role, Storage};
use fieldbook_server::viewer::Viewer;
use fieldbook_server::{Config, admin, seed_cards, state_for_sqlite};

const REPS: usize = 50;
const MANAGERS: usize = 5;
const RUNS: usize = 40;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The id of the card with a long history: the first rep's, seeded after the others.
const LONG_CARD_INDEX: u64 = 1_000_000;

fn seed(s: &dyn Storage, cards: u64, changes: usize, long_changes: usize, today: NaiveDate) {
    let started = Instant::now();
    for m in 0..MANAGERS {
        admin::add_person(
            s,
            &format!("mgr{m}"),
            &format!("经理{m}"),
            PersonKind::Manager,
        )
        .expect("manager");
    }
    let per_rep = cards / REPS as u64;
    let mut total_changes = 0;
    for r in 0..REPS {
        let rep = format!("rep{r:02}");
        let territory = format!("t{r:02}");
        admin::add_person(s, &rep, &format!("销售{r:02}"), PersonKind::Rep).expect("rep");
        admin::add_territory(
            s,
            &territory,
            &format!("区域{r:02}"),
            Some(&format!("mgr{}", r % MANAGERS)),
        )
        .expect("territory");
        admin::assign_territory(s, &territory, &rep).expect("assign");
        let authors = [
            DemoAuthor::new(rep.parse().expect("rep id")),
            DemoAuthor::new(format!("rep{:02}", (r + 1) % REPS).parse().expect("rep id")),
            DemoAuthor::new(format!("mgr{}", r % MANAGERS).parse().expect("manager id")),
        ];
        let docs: Vec<_> = (0..per_rep)
            .map(|i| {
                let (_, bytes) =
                    demo_document(7 + r as u64, i, &territory, &authors, changes, today)
                        .expect("demo card");
                load_bounded(&bytes, &BytesLimits::CARD).expect("load")
            })
            .collect();
        total_changes += seed_cards(s, &docs).expect("seed");
        if r == 0 {
            let (_, bytes) = demo_document(
                7,
                LONG_CARD_INDEX,
                &territory,
                &authors,
                long_changes,
                today,
            )
            .expect("long card");
            let doc = load_bounded(&bytes, &BytesLimits::CARD).expect("load long card");
            total_changes += seed_cards(s, &[doc]).expect("seed long card");
        }
        if r % 10 == 9 {
            eprintln!(
                "seeded {} reps, {} changes, {:.0} s",
                r + 1,
                total_changes,
                started.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "seeded {} cards (one of {long_changes} changes), {} changes in {:.0} s",
        per_rep * REPS as u64 + 1,
        total_changes,
        started.elapsed().as_secs_f64()
    );
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Times `f` (which returns the response body's length) `RUNS` times: p50 and p95 in ms.
fn time(name: &str, mut f: impl FnMut(usize) -> usize) -> f64 {
    let mut ms = Vec::with_capacity(RUNS);
    let mut bytes = 0;
    for i in 0..RUNS {
        let t = Instant::now();
        bytes = f(i);
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    let (p50, p95) = (percentile(&ms, 0.5), percentile(&ms, 0.95));
    println!("| {name} | {p50:.1} | {p95:.1} | {bytes} |");
    p95
}

fn main() {
    let cards = env_or("BENCH_CARDS", 10_000);
    let changes = env_or("BENCH_CHANGES", 24) as usize;
    let long_changes = env_or("BENCH_LONG_CHANGES", 2000) as usize;
    let dir = tempfile::tempdir().expect("dir");
    let path = std::env::var("BENCH_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("bench.db"));
    let existed = path.exists();
    let state = state_for_sqlite(&path, Config::default()).expect("state");
    let s: &dyn Storage = state.storage.as_ref();
    let today = chrono::Utc::now().date_naive();
    if !existed {
        seed(s, cards, changes, long_changes, today);
    }
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = path.clone().into_os_string();
    wal.push("-wal");
    println!(
        "database: {:.1} MiB (+ {:.1} MiB WAL)",
        size(&path) as f64 / 1048576.0,
        size(std::path::Path::new(&wal)) as f64 / 1048576.0
    );
    let docs = state.docs.clone();
    let now = state.now();
    let admin = Viewer::new("mgr0".into(), Role::Admin).expect("admin");
    let mgr = Viewer::new("mgr0".into(), Role::Manager).expect("manager");
    let sample = manager::cards(s, &docs, &admin, &CardQuery::default(), now).expect("cards");
    let ids: Vec<String> = sample.items.iter().map(|c| c.id.clone()).collect();
    // Search terms from names that start with Chinese characters (the first page by name
    // starts with Latin ones: 7-Eleven …).
    let chinese = |c: &char| ('\u{4e00}'..='\u{9fff}').contains(c);
    let later = manager::cards(
        s,
        &docs,
        &admin,
        &CardQuery {
            page: Some(100),
            ..CardQuery::default()
        },
        now,
    )
    .expect("cards");
    let chinese_names: Vec<&manager::CardRow> = sample
        .items
        .iter()
        .chain(later.items.iter())
        .filter(|c| c.name.chars().take(3).all(|ch| chinese(&ch)) && c.name.chars().count() >= 3)
        .collect();
    let two_chars: String = chinese_names
        .first()
        .map(|c| c.name.chars().take(2).collect())
        .unwrap_or_else(|| "上海".into());
    let phone_fragment: String = sample
        .items
        .iter()
        .find_map(|c| c.phone.clone())
        .map(|p| {
            p.chars()
                .filter(char::is_ascii_digit)
                .skip(3)
                .take(4)
                .collect()
        })
        .unwrap_or_else(|| "1380".into());
    // A 3-character Chinese term (the trigram index) from a classified card's name, with
    // that card's class as a filter and sorted by last visit.
    let (three_chars, class) = chinese_names
        .iter()
        .find_map(|c| Some((c.name.chars().take(3).collect::<String>(), c.class.clone()?)))
        .unwrap_or_else(|| ("有限公".into(), "A".into()));
    let long_card = {
        let (id, _) = demo_document(
            7,
            LONG_CARD_INDEX,
            "t00",
            &[DemoAuthor::new("rep00".parse().expect("rep id"))],
            1,
            today,
        )
        .expect("long card id");
        id.to_string()
    };
    let long_pages = u32::try_from(long_changes.div_ceil(50)).unwrap_or(1).max(1);
    let json = |v: &dyn erased::Json| v.encoded_len();

    // The seeds' methods: the first call of a server parses every analysis row of the
    // scope; later calls reuse what was parsed while the rows' versions hold.
    let started = Instant::now();
    let first = manager::abc(s, &docs, &admin, &AbcQuery::default(), now).expect("abc");
    println!(
        "first ABC of a fresh server (admin, parses {} cards): {:.1} ms\n",
        first.rows.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    println!("| call | p50 ms | p95 ms | bytes |");
    println!("|---|---:|---:|---:|");
    let mut worst: f64 = 0.0;
    for (who, viewer) in [("admin", &admin), ("manager", &mgr)] {
        worst = worst.max(time(&format!("ABC ({who})"), |_| {
            json(&manager::abc(s, &docs, viewer, &AbcQuery::default(), now).expect("abc"))
        }));
        worst = worst.max(time(&format!("credit ({who})"), |_| {
            json(&manager::credit(s, &docs, viewer, &CreditQuery::default(), now).expect("credit"))
        }));
        worst = worst.max(time(&format!("pipeline ({who})"), |_| {
            json(
                &manager::pipeline(s, &docs, viewer, &PipelineQuery::default(), now)
                    .expect("pipeline"),
            )
        }));
        if std::env::var_os("BENCH_ANALYSES_ONLY").is_some() {
            continue;
        }
        worst = worst.max(time(&format!("team ({who})"), |_| {
            json(&manager::team(s, &docs, viewer, &TeamQuery::default(), now).expect("team"))
        }));
        worst = worst.max(time(&format!("cards, page 1 by name ({who})"), |_| {
            json(&manager::cards(s, &docs, viewer, &CardQuery::default(), now).expect("cards"))
        }));
        worst = worst.max(time(
            &format!("cards, page 20 by last change ({who})"),
            |_| {
                let q = CardQuery {
                    sort: CardSort::Updated,
                    page: Some(20),
                    ..CardQuery::default()
                };
                json(&manager::cards(s, &docs, viewer, &q, now).expect("cards"))
            },
        ));
        worst = worst.max(time(
            &format!("cards, class A + tag, by last visit ({who})"),
            |_| {
                let q = CardQuery {
                    class: Some("A".into()),
                    sort: CardSort::LastVisit,
                    ..CardQuery::default()
                };
                json(&manager::cards(s, &docs, viewer, &q, now).expect("cards"))
            },
        ));
        worst = worst.max(time(
            &format!("search 2 Chinese characters \"{two_chars}\" ({who})"),
            |_| {
                let q = CardQuery {
                    q: Some(two_chars.clone()),
                    ..CardQuery::default()
                };
                json(&manager::cards(s, &docs, viewer, &q, now).expect("search"))
            },
        ));
        worst = worst.max(time(
            &format!("search phone fragment \"{phone_fragment}\" ({who})"),
            |_| {
                let q = CardQuery {
                    q: Some(phone_fragment.clone()),
                    ..CardQuery::default()
                };
                json(&manager::cards(s, &docs, viewer, &q, now).expect("search"))
            },
        ));
        worst = worst.max(time(
            &format!("search \"{three_chars}\" + class {class}, by last visit ({who})"),
            |_| {
                let q = CardQuery {
                    q: Some(three_chars.clone()),
                    class: Some(class.clone()),
                    sort: CardSort::LastVisit,
                    ..CardQuery::default()
                };
                json(&manager::cards(s, &docs, viewer, &q, now).expect("search"))
            },
        ));
        for (period, label) in [
            (ActivityPeriod::Day, "30 days"),
            (ActivityPeriod::Week, "12 weeks"),
            (ActivityPeriod::Month, "12 months"),
        ] {
            worst = worst.max(time(&format!("activity by {label} ({who})"), |_| {
                let q = ActivityQuery {
                    period,
                    ..ActivityQuery::default()
                };
                json(&manager::activity(s, &docs, viewer, &q, now).expect("activity"))
            }));
        }
        worst = worst.max(time(&format!("activity.csv by 12 months ({who})"), |_| {
            let q = ActivityQuery {
                period: ActivityPeriod::Month,
                ..ActivityQuery::default()
            };
            manager::activity_csv(s, &docs, viewer, &q, now)
                .expect("csv")
                .len()
        }));
    }
    worst = worst.max(time("card in full (admin)", |i| {
        let id = &ids[i % ids.len()];
        json(&manager::card(s, &docs, &admin, id, &CardDetailQuery::default(), now).expect("card"))
    }));
    for (label, page) in [("newest", 1), ("oldest", long_pages)] {
        worst = worst.max(time(
            &format!("card in full, {long_changes} changes, {label} history page (admin)"),
            |_| {
                let q = CardDetailQuery {
                    page: Some(page),
                    per_page: None,
                };
                json(&manager::card(s, &docs, &admin, &long_card, &q, now).expect("long card"))
            },
        ));
    }
    println!("\nworst p95: {worst:.1} ms (target: no page over 300 ms)");
}

/// Encodes any response as its handler does, returning the byte count.
mod erased {
    pub trait Json {
        fn encoded_len(&self) -> usize;
    }
    impl<T: serde::Serialize> Json for T {
        fn encoded_len(&self) -> usize {
            serde_json::to_vec(self).map(|v| v.len()).unwrap_or(0)
        }
    }
}
