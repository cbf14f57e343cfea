//! `fieldbook abc` and `plan`: the seeds' methods over the cards on this device, offline
//! (core's `analysis` computes them; the server computes the same from the same code).
//!
//! Both follow the company's settings as the last sync delivered them (`fieldbook
//! settings` shows them), the same ones the list's due dates and the server use.

use fieldbook_core::Store;
use fieldbook_core::analysis::duplicates::DuplicateReason;
use fieldbook_core::analysis::route::GeoPoint;
use fieldbook_core::value::{Class, Scalar};
use serde_json::json;

use super::parse_date;
use crate::error::{CliError, Result};
use crate::output::{Output, Table};

fn day(date: Option<&str>) -> Result<chrono::NaiveDate> {
    parse_date("date", date.unwrap_or("today"))
}

fn class_label(c: Option<Class>) -> String {
    c.map_or_else(|| "—".to_owned(), |c| format!("{c:?}"))
}

/// `fieldbook abc [--date D]`.
pub fn abc(store: &mut Store, date: Option<&str>) -> Result<Output> {
    let today = day(date)?;
    let settings = store.company_settings().settings.abc.clone();
    let report = store.abc(today)?;
    let mut t = Table::new(&[
        "#",
        "CUSTOMER",
        "AVG/MONTH",
        "SHARE",
        "CUMULATIVE",
        "CLASS",
        "SET BY HAND",
    ]);
    for r in &report.rows {
        t.row(vec![
            r.rank.to_string(),
            r.name.clone().unwrap_or_else(|| r.card.to_string()),
            r.monthly_average.display(),
            r.share.to_string(),
            r.cumulative_share.to_string(),
            format!("{:?}", r.computed),
            class_label(r.manual),
        ]);
    }
    let window = match (report.window.first(), report.window.last()) {
        (Some(a), Some(b)) => format!("{a} – {b}"),
        _ => String::new(),
    };
    let human = format!(
        "ABC by average monthly sales, {window} (A {}%, B {}%, C {}%), total {}\n{}",
        settings.a_percent,
        settings.b_percent,
        100u32.saturating_sub(settings.a_percent + settings.b_percent),
        report.total_sales.display(),
        t.render()
    );
    Ok(Output::new(
        json!({ "date": today, "settings": settings, "report": report }),
        human,
    ))
}

pub(super) fn point(input: &str) -> Result<GeoPoint> {
    let bad = || {
        CliError::input(
            "input.usage",
            format!("{input:?} is not LAT,LON, e.g. 31.2304,121.4737"),
        )
    };
    let (lat, lon) = input.split_once(',').ok_or_else(bad)?;
    let lat: f64 = lat.trim().parse().map_err(|_| bad())?;
    let lon: f64 = lon.trim().parse().map_err(|_| bad())?;
    GeoPoint::new(lat, lon).map_err(|_| bad())
}

fn km(m: f64) -> String {
    format!("{:.1} km", m / 1000.0)
}

/// `fieldbook plan --from LAT,LON [--date D] [--return-to-start]`.
pub fn plan(
    store: &mut Store,
    date: Option<&str>,
    from: &str,
    return_to_start: bool,
) -> Result<Output> {
    let today = day(date)?;
    let start = point(from)?;
    let settings = store.company_settings().settings.visits.clone();
    let plan = store.day_plan(today, start, return_to_start)?;

    let mut out = format!(
        "Visit plan for {today}: {} due, {} not due yet; route {}\n",
        plan.visits.due.len(),
        plan.visits.not_due,
        km(plan.route.length_m)
    );
    let mut t = Table::new(&["#", "CUSTOMER", "AREA", "LEG", "TOTAL"]);
    for (i, s) in plan.route.stops().enumerate() {
        t.row(vec![
            (i + 1).to_string(),
            s.stop.name.clone(),
            s.stop.area.clone().unwrap_or_else(|| "—".into()),
            km(s.leg_m),
            km(s.cumulative_m),
        ]);
    }
    out.push_str(&t.render());
    if !plan.route.unrouted.is_empty() {
        out.push_str("\nDue, without a position on the card (not on the route):\n");
        for u in &plan.route.unrouted {
            out.push_str(&format!("  {}\n", u.stop.name));
        }
    }
    let mut due = Table::new(&["CUSTOMER", "CLASS", "LAST VISIT", "DUE", "OVERDUE"]);
    for d in &plan.visits.due {
        due.row(vec![
            d.name.clone(),
            class_label(d.class),
            d.last_visit
                .map_or_else(|| "never".into(), |v| v.to_string()),
            d.next_due.to_string(),
            format!("{} d", d.days_overdue),
        ]);
    }
    out.push_str("\nDue visits:\n");
    out.push_str(&due.render());
    if !plan.visits.off_plan.is_empty() {
        out.push_str(&format!(
            "\nProspects off the plan ({}+ visits, no result):\n",
            settings.off_plan_after_visits
        ));
        for o in &plan.visits.off_plan {
            out.push_str(&format!("  {} ({} visits)\n", o.name, o.visits));
        }
    }
    if !plan.visits.dormant.is_empty() {
        out.push_str(&format!(
            "\nDormant (no visit and no order for {}+ days):\n",
            settings.dormant_after_days
        ));
        for d in &plan.visits.dormant {
            out.push_str(&format!(
                "  {} ({})\n",
                d.name,
                d.days_inactive
                    .map_or_else(|| "no activity".into(), |n| format!("{n} d")),
            ));
        }
    }
    Ok(Output::new(json!({ "date": today, "plan": plan }), out))
}

/// `fieldbook duplicates`.
pub fn duplicates(store: &mut Store) -> Result<Output> {
    let pairs = store.duplicates()?;
    let mut names = std::collections::HashMap::new();
    for id in pairs.iter().flat_map(|p| [&p.a, &p.b]) {
        if !names.contains_key(id) {
            let card = store.card(id)?.card;
            names.insert(id.clone(), card.display_name().to_owned());
        }
    }
    let mut t = Table::new(&["CARD", "CARD", "CONFIDENCE", "WHY"]);
    for p in &pairs {
        let name = |id: &fieldbook_core::CardId| -> Result<String> {
            Ok(format!(
                "{} ({})",
                names.get(id).map_or("", String::as_str),
                &id.as_str()[..8.min(id.as_str().len())]
            ))
        };
        let why: Vec<String> = p
            .reasons
            .iter()
            .map(|r| match r {
                DuplicateReason::SameTaxId { .. } => "same tax number".to_owned(),
                DuplicateReason::SamePhone { phone } => format!("same phone {phone}"),
                DuplicateReason::SimilarName { score } => format!("similar name {score}"),
            })
            .collect();
        t.row(vec![
            name(&p.a)?,
            name(&p.b)?,
            p.confidence.to_string(),
            why.join("; "),
        ]);
    }
    let text = if pairs.is_empty() {
        "No duplicates.\n".to_owned()
    } else {
        t.render()
    };
    Ok(Output::new(json!({ "pairs": pairs }), text))
}

/// `fieldbook merge KEEP OTHER`.
pub fn merge(
    store: &mut Store,
    keep: &fieldbook_core::CardId,
    other: &fieldbook_core::CardId,
) -> Result<Output> {
    let outcome = store.merge_duplicate(keep, other)?;
    let text = format!(
        "Merged {} into {}: {} fields filled, {} items copied; {} visits stay in the merged card's log.\n",
        outcome.merged,
        outcome.kept,
        outcome.fields_filled.len(),
        outcome.items_copied,
        outcome.visits_left
    );
    Ok(Output::new(json!(outcome), text))
}
