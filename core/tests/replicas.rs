//! Property: three replicas that edit the same cards concurrently and exchange
//! bundles in any order, with duplicates and stale copies, end up identical: the
//! same documents (data, conflicts, heads) and the same index rows (every sort,
//! filters, searches).
//!
//! Seeded: `FIELDBOOK_SEED=<n> cargo test -p fieldbook-core --test replicas` replays
//! the edit sequence of a failing run (actor ids are random per store, so conflict
//! winners may differ between replays; convergence must hold regardless).

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use fieldbook_core::card::{Contact, Visit};
use fieldbook_core::demo::{DemoRng, demo_card, demo_edit};
use fieldbook_core::value::{Class, Money, VisitKind};
use fieldbook_core::{Card, CardId, CardQuery, CardSummary, Keyed, SortBy, Store};

struct Replica {
    store: Store,
    rep: &'static str,
}

fn seed() -> u64 {
    let seed = std::env::var("FIELDBOOK_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            use std::hash::{BuildHasher, RandomState};
            RandomState::new().hash_one(Instant::now())
        });
    eprintln!("FIELDBOOK_SEED={seed}");
    seed
}

const PHONES: &[&str] = &[
    "021-6234 5678",
    "13812345678",
    "13987654321",
    "0755-8888 1234",
    "",
];
const SNIPPETS: &[&str] = &[
    "回款",
    "备货",
    "促销陈列",
    "样品已送",
    "合同待签",
    " OK ",
    "😅",
    "春节前",
    "Acme",
];

/// One random edit of a card, chosen to collide often with the other replicas:
/// a few scalar fields, the notes text, visits, tags, contacts, sales.
fn random_edit(card: &mut Card, rng: &mut DemoRng, rep: &str) {
    let chars: Vec<char> = card.notes.0.chars().collect();
    match rng.below(14) {
        0 => card.basic.phone = Some(rng.word(PHONES).to_string()).filter(|p| !p.is_empty()),
        1 => card.credit.credit_limit = Money::yuan(rng.range(0, 5) * 10_000).ok(),
        2 => card.classification.abc = rng.pick(&[Class::A, Class::B, Class::C]).copied(),
        3 => card.territory = Some(rng.word(&["华东区", "华南区", "华北区"]).to_string()),
        4 | 5 => {
            // Insert a snippet somewhere in the notes (merged character by character).
            let at = rng.below(chars.len() as u64 + 1) as usize;
            let mut s: String = chars[..at].iter().collect();
            s.push_str(rng.word(SNIPPETS));
            s.extend(&chars[at..]);
            card.notes.0 = s;
        }
        6 => {
            // Delete a range of the notes.
            if !chars.is_empty() {
                let a = rng.below(chars.len() as u64) as usize;
                let b = (a + rng.range(1, 4) as usize).min(chars.len());
                card.notes.0 = chars[..a].iter().chain(&chars[b..]).collect();
            }
        }
        7 => {
            let at = Utc
                .with_ymd_and_hms(2026, 1, 1, 8, 0, 0)
                .single()
                .unwrap_or_default()
                + Duration::hours(rng.range(0, 24 * 300));
            card.visits.push(Keyed {
                id: rng.item_id(),
                value: Visit {
                    at: Some(at),
                    rep: Some(rep.to_string()),
                    kind: Some(VisitKind::Visit),
                    summary: rng.word(SNIPPETS).into(),
                    next_visit: at
                        .date_naive()
                        .checked_add_signed(Duration::days(rng.range(1, 30))),
                    ..Default::default()
                },
            });
        }
        8 => {
            // Edit or remove an existing visit.
            let n = card.visits.len() as u64;
            if n > 0 {
                let i = rng.below(n) as usize;
                if rng.chance(0.3) {
                    card.visits.remove(i);
                } else {
                    let v = &mut card.visits[i].value;
                    v.summary.0.push_str(rng.word(SNIPPETS));
                    v.outcome = Some(rng.word(&["同意试销", "需再跟进", "Signed"]).to_string());
                }
            }
        }
        9 => {
            let tag = rng.word(&["重点", "VIP", "回款慢", "dormant"]).to_string();
            if !card.tags.remove(&tag) {
                card.tags.insert(tag);
            }
        }
        10 => {
            let n = card.contacts.len() as u64;
            match rng.below(3) {
                0 => card.contacts.push(Keyed {
                    id: rng.item_id(),
                    value: Contact {
                        name: Some(rng.word(&["王芳", "李强", "Linda Wang"]).to_string()),
                        mobile: Some(rng.word(PHONES).to_string()),
                        ..Default::default()
                    },
                }),
                1 if n > 0 => {
                    let i = rng.below(n) as usize;
                    card.contacts[i].value.mobile =
                        Some(rng.word(PHONES).to_string()).filter(|p| !p.is_empty());
                }
                _ if n > 0 => {
                    card.contacts.remove(rng.below(n) as usize);
                }
                _ => {}
            }
        }
        11 => {
            let month = format!("2026-{:02}", rng.range(8, 11));
            let _ = card.set_path(
                &format!("sales.{month}"),
                &(rng.range(0, 9) * 1000).to_string(),
            );
        }
        _ => {
            demo_edit(card, rng, Utc::now(), rep);
        }
    }
}

/// What the index gives: every list row, without the device-local `updated_at`.
fn index_snapshot(store: &Store) -> Vec<(String, Vec<CardSummary>)> {
    let mut out = Vec::new();
    let strip = |rows: Vec<CardSummary>| -> Vec<CardSummary> {
        rows.into_iter()
            .map(|mut r| {
                r.updated_at = Default::default();
                r
            })
            .collect()
    };
    let today = Utc::now().date_naive();
    let mut queries: Vec<(String, CardQuery)> = Vec::new();
    for sort in [
        SortBy::Name,
        SortBy::LastVisit,
        SortBy::NextDue,
        SortBy::CreditLimit,
        SortBy::Sales,
    ] {
        for reverse in [false, true] {
            queries.push((
                format!("{sort:?} rev={reverse}"),
                CardQuery {
                    sort,
                    reverse,
                    limit: 1000,
                    ..Default::default()
                },
            ));
        }
    }
    for t in ["华东区", "华南区", "华北区"] {
        queries.push((
            format!("territory {t}"),
            CardQuery {
                territory: Some(t.into()),
                limit: 1000,
                ..Default::default()
            },
        ));
    }
    for c in [Class::A, Class::B, Class::C] {
        queries.push((
            format!("class {c:?}"),
            CardQuery {
                class: Some(c),
                limit: 1000,
                ..Default::default()
            },
        ));
    }
    for tag in ["重点", "VIP", "回款慢", "dormant"] {
        queries.push((
            format!("tag {tag}"),
            CardQuery {
                tag: Some(tag.into()),
                limit: 1000,
                ..Default::default()
            },
        ));
    }
    queries.push((
        "conflicted".into(),
        CardQuery {
            conflicted: true,
            limit: 1000,
            ..Default::default()
        },
    ));
    queries.push((
        "due".into(),
        CardQuery {
            due_by: Some(today + Duration::days(20)),
            limit: 1000,
            ..Default::default()
        },
    ));
    for text in [
        "回款",
        "备货",
        "促销陈列",
        "acme",
        "1381",
        "62345678",
        "王芳",
        "样品已送",
        "有限公司",
        "超市",
    ] {
        queries.push((
            format!("search {text}"),
            CardQuery {
                text: Some(text.into()),
                limit: 1000,
                ..Default::default()
            },
        ));
    }
    for (name, q) in queries {
        out.push((name, strip(store.list(&q).expect("list"))));
    }
    // Sorting by `updated` is device-local by design: compare the set of cards only.
    let mut updated: Vec<CardSummary> = strip(
        store
            .list(&CardQuery {
                sort: SortBy::Updated,
                limit: 1000,
                ..Default::default()
            })
            .expect("list"),
    );
    updated.sort_by(|a, b| a.id.cmp(&b.id));
    out.push(("Updated (as a set)".into(), updated));
    out
}

fn check_identical(replicas: &mut [Replica], ids: &[CardId], round: u32) {
    let (first, rest) = replicas.split_first_mut().expect("replicas");
    for id in ids {
        let mut a = first.store.card(id).expect("card on replica 0");
        a.heads.sort();
        for (n, other) in rest.iter_mut().enumerate() {
            let mut b = other.store.card(id).expect("card on another replica");
            b.heads.sort();
            assert_eq!(
                a.card,
                b.card,
                "round {round}: card {id} differs on replica {}",
                n + 1
            );
            assert_eq!(
                a.conflicts,
                b.conflicts,
                "round {round}: conflicts of {id} differ on replica {}",
                n + 1
            );
            assert_eq!(
                a.heads,
                b.heads,
                "round {round}: heads of {id} differ on replica {}",
                n + 1
            );
        }
    }
    let index0 = index_snapshot(&first.store);
    for (n, other) in rest.iter().enumerate() {
        let index = index_snapshot(&other.store);
        for ((name, rows0), (_, rows)) in index0.iter().zip(&index) {
            assert_eq!(
                rows0,
                rows,
                "round {round}: index query {name:?} differs on replica {}",
                n + 1
            );
        }
    }
}

/// Runs one round; returns how many conflicts were open at the end (for the log).
fn one_round(seed: u64, round: u32) -> usize {
    let mut rng = DemoRng::for_index(seed, u64::from(round));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut replicas: Vec<Replica> = ["zhangwei", "lina", "wangqiang"]
        .into_iter()
        .enumerate()
        .map(|(i, rep)| {
            let mut store = Store::open(dir.path().join(format!("r{i}.db"))).expect("open");
            store
                .init_identity(rep.parse().expect("rep"))
                .expect("identity");
            // Small chunk limit: compaction happens during the test too.
            let mut settings = store.settings().clone();
            settings.compact_after_chunks = rng.range(2, 8) as u32;
            settings.cache_cards = rng.range(1, 4) as u32;
            store.set_settings(settings).expect("settings");
            Replica { store, rep }
        })
        .collect();

    // Cards are created on one device each and shared before anyone edits them:
    // the skeleton of a card is created exactly once.
    let mut ids = Vec::new();
    for i in 0..4u64 {
        let owner = rng.below(3) as usize;
        let territory = rng.word(&["华东区", "华南区", "华北区"]);
        let id = replicas[owner]
            .store
            .insert_new(demo_card(seed ^ u64::from(round), i, territory))
            .expect("insert");
        ids.push(id);
    }
    let mut mailbox: Vec<Vec<u8>> = Vec::new();
    for from in 0..3 {
        let bundle = replicas[from].store.export_bundle(None).expect("export");
        for (to, replica) in replicas.iter_mut().enumerate() {
            if to != from {
                replica.store.import_bundle(&bundle).expect("import");
            }
        }
    }

    // Random edits, exports and imports, in any order, duplicates included.
    for _ in 0..70 {
        let r = rng.below(3) as usize;
        match rng.below(10) {
            0..=5 => {
                let id = ids[rng.below(ids.len() as u64) as usize].clone();
                let rep = replicas[r].rep;
                let mut edit_rng = DemoRng::new(rng.next_u64());
                replicas[r]
                    .store
                    .update(&id, |card| {
                        for _ in 0..edit_rng.range(1, 3) {
                            random_edit(card, &mut edit_rng, rep);
                        }
                        Ok(())
                    })
                    .expect("edit");
            }
            6 => {
                // Export some cards (not always all).
                let subset: Vec<CardId> = ids.iter().filter(|_| rng.chance(0.6)).cloned().collect();
                let bundle = replicas[r]
                    .store
                    .export_bundle(Some(&subset))
                    .expect("export");
                mailbox.push(bundle);
            }
            7 | 8 => {
                if let Some(bundle) = rng.pick(&mailbox) {
                    replicas[r].store.import_bundle(bundle).expect("import");
                }
            }
            _ => {
                // Resolve a conflict now and then, writing one of the values shown.
                let id = ids[rng.below(ids.len() as u64) as usize].clone();
                let conflicts = replicas[r].store.conflicts(&id).expect("conflicts");
                if let Some(c) = rng.pick(&conflicts) {
                    let value = rng
                        .pick(&c.values)
                        .map(|v| v.value.clone())
                        .unwrap_or_default();
                    if let Err(e) = replicas[r].store.resolve(&id, &c.path, &value) {
                        assert!(e.code().starts_with("input."), "resolve {}: {e}", c.path);
                    }
                }
            }
        }
    }

    // Deliver everything: each replica's full bundle to every other, in a random
    // order, twice, then replay stale bundles from the mailbox (must change nothing).
    for _ in 0..2 {
        let mut order: Vec<(usize, usize)> = (0..3)
            .flat_map(|a| (0..3).map(move |b| (a, b)))
            .filter(|(a, b)| a != b)
            .collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        for (from, to) in order {
            let bundle = replicas[from].store.export_bundle(None).expect("export");
            replicas[to].store.import_bundle(&bundle).expect("import");
            if rng.chance(0.3) {
                replicas[to]
                    .store
                    .import_bundle(&bundle)
                    .expect("duplicate import");
            }
        }
    }
    for bundle in &mailbox {
        if rng.chance(0.5) {
            continue;
        }
        let r = rng.below(3) as usize;
        let report = replicas[r]
            .store
            .import_bundle(bundle)
            .expect("stale import");
        assert_eq!(
            report.cards_new + report.cards_updated,
            0,
            "a stale bundle changed a converged replica"
        );
    }
    check_identical(&mut replicas, &ids, round);

    // A fresh process sees the same: reopen every store and compare again.
    for (i, replica) in replicas.iter_mut().enumerate() {
        replica.store = Store::open(dir.path().join(format!("r{i}.db"))).expect("reopen");
        assert!(replica.store.integrity_ok().expect("integrity"));
    }
    check_identical(&mut replicas, &ids, round);
    ids.iter()
        .map(|id| {
            replicas[0]
                .store
                .conflicts(id)
                .map(|c| c.len())
                .unwrap_or(0)
        })
        .sum()
}

#[test]
fn three_replicas_converge_whatever_the_order() {
    let seed = seed();
    let started = Instant::now();
    let mut round = 0;
    let mut conflicts = 0;
    // Several rounds, bounded in time so the test stays fast on 2 cores in debug.
    while round < 8 && (round < 2 || started.elapsed().as_secs() < 15) {
        conflicts += one_round(seed, round);
        round += 1;
    }
    eprintln!(
        "{round} rounds in {:?}, {conflicts} conflicts open at the ends of rounds",
        started.elapsed()
    );
}
