//! Times planning a 60-stop day (`analysis::route::plan_route`), the median of 31 runs,
//! on seeded customers around Shanghai: once in one free order, once grouped into
//! five route areas, open and back to the office. Target: ≤ 10 ms in release.
//!
//! `cargo run --release -p fieldbook-core --example bench_route`

use std::time::{Duration, Instant};

use fieldbook_core::CardId;
use fieldbook_core::analysis::route::{GeoPoint, RouteSettings, Stop, plan_route};

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
    let mut state = seed;
    (0..STOPS)
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
    Ok(())
}
