//! Times planning a 60-stop day (`analysis::route::plan_route`), the median of 31 runs,
//! on seeded customers around Shanghai: once in one free order, once grouped into
//! five route areas, open and back to the office. Target: ≤ 10 ms in release.
//! Then, for scale: one 250-stop route (the most `RouteSettings` allows) and the
//! visit plan of a day (`analysis::visits::plan_day`) over 10,000 cards with a year of
//! visits and sales.
//!
//! `cargo run --release -p fieldbook-core --example bench_route`

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate};
use fieldbook_core::analysis::route::{GeoPoint, RouteSettings, Stop, plan_route};
use fieldbook_core::analysis::visits::{VisitSettings, plan_day};
use fieldbook_core::card::{Location, Visit};
use fieldbook_core::value::{Class, Latitude, Longitude, Money, VisitKind};
use fieldbook_core::{Card, CardId, YearMonth};

const STOPS: usize = 60;
const RUNS: usize = 31;
const AREAS: [&str; 5] = ["浦东", "徐汇", "静安", "闵行", "宝山"];

/// splitmix64, so every run plans the same day.
fn next(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

fn day(seed: u64, grouped: bool) -> Vec<Stop> {
    stops(seed, grouped, STOPS)
}

fn stops(seed: u64, grouped: bool, count: usize) -> Vec<Stop> {
    let mut state = seed;
    (0..count)
        .map(|i| Stop {
            card: CardId::random(),
            name: format!("上海客户{i:02}有限公司"),
            area: grouped.then(|| AREAS[i % AREAS.len()].to_string()),
            point: Some(GeoPoint {
                lat: 31.0 + 0.4 * next(&mut state),
                lon: 121.2 + 0.5 * next(&mut state),
            }),
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let office = GeoPoint::new(31.2304, 121.4737)?;
    for grouped in [false, true] {
        for return_to_start in [false, true] {
            let settings = RouteSettings {
                return_to_start,
                group_by_area: grouped,
                ..RouteSettings::default()
            };
            let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
            let mut length = 0.0;
            for run in 0..RUNS {
                let stops = day(run as u64 + 1, grouped);
                let t = Instant::now();
                let route = plan_route(office, stops, &settings)?;
                times.push(t.elapsed());
                length += route.length_m;
            }
            times.sort();
            println!(
                "{STOPS} stops, grouped={grouped}, return_to_start={return_to_start}: median {:.3} ms, max {:.3} ms over {RUNS} days (mean route {:.1} km)",
                times[RUNS / 2].as_secs_f64() * 1e3,
                times[RUNS - 1].as_secs_f64() * 1e3,
                length / RUNS as f64 / 1000.0
            );
        }
    }

    let settings = RouteSettings {
        max_stops: 250,
        ..RouteSettings::default()
    };
    let t = Instant::now();
    let route = plan_route(office, stops(7, false, 250), &settings)?;
    println!(
        "250 stops, one area: {:.1} ms (route {:.1} km)",
        t.elapsed().as_secs_f64() * 1e3,
        route.length_m / 1000.0
    );

    let today = NaiveDate::from_ymd_opt(2026, 12, 1).ok_or("date")?;
    let cards = year_of_cards(10_000)?;
    let classes = [
        Some(Class::A),
        Some(Class::B),
        Some(Class::C),
        Some(Class::D),
        None,
    ];
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..9 {
        let t = Instant::now();
        let plan = plan_day(
            &cards,
            |card| classes[card.visits.len() % classes.len()],
            today,
            office,
            &VisitSettings::default(),
            &RouteSettings::default(),
        )?;
        times.push(t.elapsed());
        last = Some(plan);
    }
    times.sort();
    if let Some(plan) = last {
        println!(
            "plan_day over {} cards: median {:.1} ms of 9 (due {}, routed {}, off plan {}, dormant {})",
            cards.len(),
            times[times.len() / 2].as_secs_f64() * 1e3,
            plan.visits.due.len(),
            plan.route.stops().count(),
            plan.visits.off_plan.len(),
            plan.visits.dormant.len()
        );
    }
    Ok(())
}

/// Cards with up to 24 visits and 12 months of sales over the year to 2026-11.
fn year_of_cards(count: usize) -> Result<Vec<Card>, Box<dyn std::error::Error>> {
    let mut state = 11;
    let start = DateTime::parse_from_rfc3339("2025-12-01T09:00:00+08:00")?.to_utc();
    let mut cards = Vec::with_capacity(count);
    for i in 0..count {
        let mut card = Card::new();
        card.basic.name = Some(format!("上海客户{i:05}有限公司"));
        card.location = Location {
            lat: Some(Latitude::new(31.0 + 0.4 * next(&mut state))?),
            lon: Some(Longitude::new(121.2 + 0.5 * next(&mut state))?),
            route_area: Some(AREAS[i % AREAS.len()].to_string()),
            route_order: None,
        };
        let visits = (next(&mut state) * 25.0) as usize;
        for _ in 0..visits {
            let minutes = (next(&mut state) * 365.0 * 24.0 * 60.0) as i64;
            card.add_visit(Visit {
                at: Some(start + chrono::Duration::minutes(minutes)),
                kind: Some(VisitKind::Visit),
                ..Visit::default()
            });
        }
        for month in 1..=12 {
            let (year, month) = if month == 12 {
                (2025, 12)
            } else {
                (2026, month)
            };
            if next(&mut state) < 0.7 {
                let fen = (next(&mut state) * 5_000_000.0) as i64;
                let ym = YearMonth::new(year, month).ok_or("month")?;
                card.sales.insert(ym, Money::from_fen(fen)?);
            }
        }
        cards.push(card);
    }
    Ok(cards)
}
