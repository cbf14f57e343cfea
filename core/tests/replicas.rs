//! Property: three replicas that edit the same cards concurrently and exchange
//! bundles in any order, with duplicates and stale copies, end up identical: the
//! same documents (data, conflicts, heads), byte-equal card views and the same index
//! rows (every sort, filters, searches). Every conflict a replica reports can be
//! resolved, and the resolution converges everywhere with no conflict left.
//!
//! A proptest: a failing schedule of edits, exports and imports is shrunk to a
//! small one and saved under `proptest-regressions/`. CI runs 64 schedules; the
//! soak runs 10,000:
//! `PROPTEST_CASES=10000 cargo test --release -p fieldbook-core --test replicas`.

use chrono::{Duration, TimeZone, Utc};
use fieldbook_core::card::{Contact, Visit};
use fieldbook_core::demo::{DemoRng, demo_card, demo_edit};
use fieldbook_core::value::{Class, Money, VisitKind};
use fieldbook_core::{Card, CardId, CardQuery, CardSummary, Keyed, SortBy, Store};
use proptest::prelude::*;

struct Replica {
    store: Store,
    rep: &'static str,
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

fn check_identical(replicas: &mut [Replica], ids: &[CardId], stage: &str) {
    let (first, rest) = replicas.split_first_mut().expect("replicas");
    for id in ids {
        let a = first.store.card(id).expect("card on replica 0");
        let json_a = serde_json::to_string(&a).expect("json");
        for (n, other) in rest.iter_mut().enumerate() {
            let b = other.store.card(id).expect("card on another replica");
            assert_eq!(
                a.heads,
                b.heads,
                "{stage}: heads of {id} differ on replica {}",
                n + 1
            );
            assert_eq!(
                a.card,
                b.card,
                "{stage}: card {id} differs on replica {}",
                n + 1
            );
            assert_eq!(
                a.conflicts,
                b.conflicts,
                "{stage}: conflicts of {id} differ on replica {}",
                n + 1
            );
            // Views are a pure function of the document: byte-equal for equal heads.
            assert_eq!(
                json_a,
                serde_json::to_string(&b).expect("json"),
                "{stage}: view of {id} differs on replica {}",
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
                "{stage}: index query {name:?} differs on replica {}",
                n + 1
            );
        }
    }
}

/// One step of a schedule.
#[derive(Debug, Clone)]
enum Op {
    /// Replica `r` edits card `card` with 1–2 random edits drawn from `seed`.
    Edit { r: usize, card: usize, seed: u64 },
    /// Replica `r` exports the cards whose bit is set in `mask` to the mailbox.
    Export { r: usize, mask: u8 },
    /// Replica `r` imports the bundle `pick` (modulo the mailbox size), if any.
    Import { r: usize, pick: usize },
    /// Replica `r` resolves one of the card's conflicts with one of its values.
    Resolve { r: usize, card: usize, pick: usize },
}

/// A whole run: store settings, who creates which card, the steps, the final
/// delivery order and which stale bundles are replayed.
#[derive(Debug, Clone)]
struct Schedule {
    seed: u64,
    compact_after: [u32; 3],
    cache_cards: [u32; 3],
    owners: [usize; CARDS],
    ops: Vec<Op>,
    delivery: Vec<(usize, usize)>,
    duplicates: Vec<bool>,
    replay: Vec<(bool, usize)>,
}

const CARDS: usize = 4;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..3usize, 0..CARDS, any::<u64>()).prop_map(|(r, card, seed)| Op::Edit { r, card, seed }),
        1 => (0..3usize, any::<u8>()).prop_map(|(r, mask)| Op::Export { r, mask }),
        2 => (0..3usize, any::<usize>()).prop_map(|(r, pick)| Op::Import { r, pick }),
        1 => (0..3usize, 0..CARDS, any::<usize>()).prop_map(|(r, card, pick)| Op::Resolve { r, card, pick }),
    ]
}

fn schedule() -> impl Strategy<Value = Schedule> {
    let pairs: Vec<(usize, usize)> = (0..3)
        .flat_map(|a| (0..3).map(move |b| (a, b)))
        .filter(|(a, b)| a != b)
        .collect();
    (
        any::<u64>(),
        // Small chunk limits: compaction happens during the run too.
        [2..8u32, 2..8u32, 2..8u32],
        [1..4u32, 1..4u32, 1..4u32],
        [0..3usize, 0..3usize, 0..3usize, 0..3usize],
        prop::collection::vec(op(), 0..40),
        Just(pairs).prop_shuffle(),
        prop::collection::vec(any::<bool>(), 6),
        prop::collection::vec((any::<bool>(), 0..3usize), 0..8),
    )
        .prop_map(
            |(seed, compact_after, cache_cards, owners, ops, delivery, duplicates, replay)| {
                Schedule {
                    seed,
                    compact_after,
                    cache_cards,
                    owners,
                    ops,
                    delivery,
                    duplicates,
                    replay,
                }
            },
        )
}

/// Every replica's full bundle to every other, in the schedule's order.
fn deliver_all(replicas: &mut [Replica], s: &Schedule) {
    for (n, &(from, to)) in s.delivery.iter().enumerate() {
        let bundle = replicas[from].store.export_bundle(None).expect("export");
        replicas[to].store.import_bundle(&bundle).expect("import");
        if s.duplicates.get(n).copied().unwrap_or(false) {
            replicas[to]
                .store
                .import_bundle(&bundle)
                .expect("duplicate import");
        }
    }
}

fn run(s: &Schedule) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut replicas: Vec<Replica> = ["zhangwei", "lina", "wangqiang"]
        .into_iter()
        .enumerate()
        .map(|(i, rep)| {
            let mut store = Store::open(dir.path().join(format!("r{i}.db"))).expect("open");
            store
                .init_identity(rep.parse().expect("rep"))
                .expect("identity");
            let mut settings = store.settings().clone();
            settings.compact_after_chunks = s.compact_after[i];
            settings.cache_cards = s.cache_cards[i];
            store.set_settings(settings).expect("settings");
            Replica { store, rep }
        })
        .collect();

    // Cards are created on one device each and shared before anyone edits them:
    // the skeleton of a card is created exactly once.
    let mut ids = Vec::new();
    for (i, &owner) in s.owners.iter().enumerate() {
        let territory = ["华东区", "华南区", "华北区"][i % 3];
        let id = replicas[owner]
            .store
            .insert_new(demo_card(s.seed, i as u64, territory))
            .expect("insert");
        ids.push(id);
    }
    for from in 0..3 {
        let bundle = replicas[from].store.export_bundle(None).expect("export");
        for (to, replica) in replicas.iter_mut().enumerate() {
            if to != from {
                replica.store.import_bundle(&bundle).expect("import");
            }
        }
    }

    let mut mailbox: Vec<Vec<u8>> = Vec::new();
    for op in &s.ops {
        match *op {
            Op::Edit { r, card, seed } => {
                let rep = replicas[r].rep;
                let mut rng = DemoRng::new(seed);
                replicas[r]
                    .store
                    .update(&ids[card], |c| {
                        for _ in 0..rng.range(1, 3) {
                            random_edit(c, &mut rng, rep);
                        }
                        Ok(())
                    })
                    .expect("edit");
            }
            Op::Export { r, mask } => {
                let subset: Vec<CardId> = ids
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, id)| id.clone())
                    .collect();
                mailbox.push(
                    replicas[r]
                        .store
                        .export_bundle(Some(&subset))
                        .expect("export"),
                );
            }
            Op::Import { r, pick } => {
                if !mailbox.is_empty() {
                    let bundle = &mailbox[pick % mailbox.len()];
                    replicas[r].store.import_bundle(bundle).expect("import");
                }
            }
            Op::Resolve { r, card, pick } => {
                let conflicts = replicas[r].store.conflicts(&ids[card]).expect("conflicts");
                if !conflicts.is_empty() {
                    let c = &conflicts[pick % conflicts.len()];
                    let value = c.values[pick % c.values.len()].value.clone();
                    // Every reported conflict can be resolved with a value it shows.
                    if let Err(e) = replicas[r].store.resolve(&ids[card], &c.path, &value) {
                        panic!("resolving {} with {value:?}: {e} ({})", c.path, e.code());
                    }
                }
            }
        }
    }

    // Deliver everything (twice, so every replica has every change), then replay
    // stale bundles from the mailbox: they must change nothing.
    deliver_all(&mut replicas, s);
    deliver_all(&mut replicas, s);
    if !mailbox.is_empty() {
        for &(replay, r) in &s.replay {
            if !replay {
                continue;
            }
            for bundle in &mailbox {
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
        }
    }
    check_identical(&mut replicas, &ids, "after delivery");

    // A fresh process sees the same: reopen every store and compare again.
    // Each store is closed first: a store has one writer at a time.
    replicas = replicas
        .into_iter()
        .enumerate()
        .map(|(i, Replica { store, rep })| {
            drop(store);
            let store = Store::open(dir.path().join(format!("r{i}.db"))).expect("reopen");
            assert!(store.integrity_ok().expect("integrity"));
            Replica { store, rep }
        })
        .collect();
    check_identical(&mut replicas, &ids, "after reopening");

    // Every conflict left can be resolved, and the resolutions converge: after one
    // replica resolves them all and everyone syncs, no replica has a conflict.
    for id in &ids {
        for c in replicas[0].store.conflicts(id).expect("conflicts") {
            let value = c.values[0].value.clone();
            if let Err(e) = replicas[0].store.resolve(id, &c.path, &value) {
                panic!("resolving {} with {value:?}: {e} ({})", c.path, e.code());
            }
        }
    }
    deliver_all(&mut replicas, s);
    check_identical(&mut replicas, &ids, "after resolving");
    for (n, replica) in replicas.iter_mut().enumerate() {
        for id in &ids {
            let open = replica.store.conflicts(id).expect("conflicts");
            assert!(open.is_empty(), "replica {n}: {id} still has {open:?}");
        }
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn three_replicas_converge_whatever_the_order(s in schedule()) {
        run(&s);
    }
}
