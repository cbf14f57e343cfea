//! Times `analysis::duplicates::find_duplicates` over 10,000 generated Chinese cards
//! with 300 planted duplicates, and prints its precision and recall against the planted
//! pairs. Run: `cargo run --release -p fieldbook-core --example bench_duplicates`.
//!
//! A planted duplicate is a variant of an original card, as two devices would write
//! it: another legal form, a place prefix added or dropped, traditional characters,
//! the phone in another format, the same tax number under another name, or one wrong
//! character in the name.

use std::collections::BTreeSet;
use std::time::Instant;

use fieldbook_core::Card;
use fieldbook_core::analysis::duplicates::{DuplicateSettings, find_duplicates};

const CARDS: usize = 10_000;
const PLANTED: usize = 300;
const RUNS: usize = 5;

/// Characters with a distinct traditional form, side by side.
const SIMPLE: &str = "华东发达丰宝龙万兴顺汇联鸿泰乐业广远长丽";
const TRADITIONAL: &str = "華東發達豐寶龍萬興順匯聯鴻泰樂業廣遠長麗";
/// Characters written the same in both scripts.
const PLAIN: &str = "金明光新隆盛安康福利和永正信中天合益";
const TRADES: [&str; 8] = [
    "食品", "贸易", "电子", "建材", "服饰", "家具", "五金", "医药",
];
const FORMS: [&str; 4] = ["有限公司", "有限责任公司", "股份有限公司", "商行"];
const PLACES: [&str; 5] = ["上海", "上海市", "北京市", "广州", "杭州市"];

/// A small deterministic generator (SplitMix64), so every run plants the same cards.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn card_id(i: usize) -> fieldbook_core::ids::CardId {
    format!("00000000-0000-4000-8000-{i:012}")
        .parse()
        .expect("a valid card id")
}

struct Original {
    core: Vec<usize>,
    trade: usize,
    place: &'static str,
    phone: String,
}

fn main() {
    let simple: Vec<char> = SIMPLE.chars().collect();
    let traditional: Vec<char> = TRADITIONAL.chars().collect();
    let plain: Vec<char> = PLAIN.chars().collect();
    let alphabet = simple.len() + plain.len();
    let ch = |i: usize, trad: bool| -> char {
        if i < simple.len() {
            if trad { traditional[i] } else { simple[i] }
        } else {
            plain[i - simple.len()]
        }
    };
    let mut rng = Rng(9);
    let mut seen = BTreeSet::new();
    let mut cards = Vec::with_capacity(CARDS + PLANTED);
    let mut originals = Vec::new();
    while cards.len() < CARDS {
        let core: Vec<usize> = (0..4).map(|_| rng.below(alphabet)).collect();
        let trade = rng.below(TRADES.len());
        if !seen.insert((core.clone(), trade)) {
            continue;
        }
        let name: String = core.iter().map(|&i| ch(i, false)).collect();
        let mut card = Card::new();
        card.id = card_id(cards.len());
        let place = if rng.below(2) == 0 {
            PLACES[rng.below(PLACES.len())]
        } else {
            ""
        };
        card.basic.name = Some(format!(
            "{place}{name}{}{}",
            TRADES[trade],
            FORMS[rng.below(4)]
        ));
        let phone = if rng.below(2) == 0 {
            format!("1{}{:09}", 3 + rng.below(7), rng.below(1_000_000_000))
        } else {
            format!("021-{}{:07}", 2 + rng.below(7), rng.below(10_000_000))
        };
        card.basic.phone = Some(phone.clone());
        if rng.below(10) < 7 {
            card.basic.tax_no = Some(format!("91310{:013}", rng.next() % 10_000_000_000_000));
        }
        originals.push(Original {
            core,
            trade,
            place,
            phone,
        });
        cards.push(card);
    }
    let mut planted = BTreeSet::new();
    let mut copies: Vec<Vec<usize>> = vec![Vec::new(); CARDS];
    for k in 0..PLANTED {
        let i = rng.below(CARDS);
        let o = &originals[i];
        let mut card = Card::new();
        card.id = card_id(CARDS + k);
        let name = |trad: bool| -> String { o.core.iter().map(|&c| ch(c, trad)).collect() };
        card.basic.name = Some(match k % 6 {
            // Traditional characters, no legal form.
            0 => format!("{}{}", name(true), TRADES[o.trade]),
            // A place prefix and another form.
            // The place written out (or added, when the original has none) and
            // another form.
            1 => {
                let place = match o.place {
                    "" => "上海市",
                    "上海" | "广州" => &format!("{}市", o.place),
                    p => p.trim_end_matches('市'),
                };
                format!("{place}{}{}厂", name(false), TRADES[o.trade])
            }
            // Another name, the same phone in another format.
            2 => {
                let p = &o.phone;
                card.basic.phone = Some(if let Some(local) = p.strip_prefix("021-") {
                    format!("+86 (21) {local} 转 8")
                } else {
                    format!("+86 {} {} {}", &p[..3], &p[3..7], &p[7..])
                });
                format!("{}{}副食批发部", plain[k % 18], plain[k / 18 % 18])
            }
            // Another name, the same tax number in lower case (or the phone when the
            // original has none).
            3 => {
                match &cards[i].basic.tax_no {
                    Some(t) => card.basic.tax_no = Some(t.to_lowercase()),
                    None => card.basic.phone = Some(o.phone.replace('-', " ")),
                }
                format!("城东{}{}商贸中心", plain[k % 18], plain[k / 18 % 18])
            }
            // One wrong character at the end of the trade word (found at 80%, not at
            // the default 85%: see the module docs).
            4 => {
                let mut t: Vec<char> = TRADES[o.trade].chars().collect();
                t[1] = if t[1] == '业' { '叶' } else { '业' };
                format!("{}{}集团", name(false), t.into_iter().collect::<String>())
            }
            // Full-width and spaces.
            _ => {
                let place = o.place.trim_end_matches('市');
                let place = if place.is_empty() {
                    String::new()
                } else {
                    format!("（{place}）")
                };
                format!("{} {}{place}有限公司", name(false), TRADES[o.trade])
            }
        });
        // Two variants of one original are duplicates of each other as well.
        for &other in &copies[i] {
            planted.insert((card_id(other), card_id(CARDS + k)));
        }
        copies[i].push(CARDS + k);
        planted.insert((card_id(i), card_id(CARDS + k)));
        cards.push(card);
    }

    // The name threshold to measure, in percent (the default when not given).
    let settings = match std::env::args().nth(1).and_then(|a| a.parse().ok()) {
        Some(name_threshold_percent) => DuplicateSettings {
            name_threshold_percent,
            ..DuplicateSettings::default()
        },
        None => DuplicateSettings::default(),
    };
    if let Err(e) = settings.validate() {
        eprintln!("{e}");
        std::process::exit(2);
    }
    println!("name threshold {}%", settings.name_threshold_percent);
    let mut times = Vec::new();
    let mut pairs = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        pairs = find_duplicates(&cards, &settings);
        times.push(start.elapsed());
    }
    times.sort();
    let found: BTreeSet<_> = pairs.iter().map(|p| (p.a.clone(), p.b.clone())).collect();
    let hits = found.intersection(&planted).count();
    println!(
        "{} cards, {} planted: median {:.1} ms over {RUNS} runs (min {:.1}, max {:.1})",
        cards.len(),
        planted.len(),
        times[RUNS / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[RUNS - 1].as_secs_f64() * 1e3,
    );
    println!(
        "pairs found {}, true {hits}: precision {:.3}, recall {:.3}",
        found.len(),
        hits as f64 / found.len().max(1) as f64,
        hits as f64 / planted.len() as f64,
    );
    for missed in planted.difference(&found).take(5) {
        let name = |id: &fieldbook_core::ids::CardId| {
            cards
                .iter()
                .find(|c| &c.id == id)
                .and_then(|c| c.basic.name.clone())
        };
        println!("missed: {:?} / {:?}", name(&missed.0), name(&missed.1));
    }
    for extra in found.difference(&planted).take(5) {
        let name = |id: &fieldbook_core::ids::CardId| {
            cards
                .iter()
                .find(|c| &c.id == id)
                .and_then(|c| c.basic.name.clone())
        };
        println!("extra: {:?} / {:?}", name(&extra.0), name(&extra.1));
    }
}
