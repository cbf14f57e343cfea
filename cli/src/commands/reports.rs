//! `fieldbook pipeline` and `activity`: the pipeline and the activity report over the
//! cards on this device and their history, offline (core's `Store::pipeline` and
//! `Store::activity`; the manager's dashboard computes the same from the same code).
//!
//! Days are the company's calendar (its UTC offset, from the settings the last sync
//! delivered) unless `--utc-offset` names another, so "today" is the company's today.

use chrono::{Days, Months, NaiveDate, Utc};
use fieldbook_core::Store;
use fieldbook_core::analysis::activity::{Period, bucket_start, local_date};
use fieldbook_core::value::{Money, Scalar};
use serde_json::json;

use crate::error::{CliError, Result};
use crate::output::{Output, Table};

fn offset(store: &Store, utc_offset: Option<i32>) -> i32 {
    utc_offset.unwrap_or_else(|| store.company_utc_offset_minutes())
}

fn day(field: &str, input: Option<&str>, offset: i32) -> Result<Option<NaiveDate>> {
    match input.map(str::trim) {
        None => Ok(None),
        Some(s) if s.eq_ignore_ascii_case("today") => Ok(Some(local_date(Utc::now(), offset))),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| CliError::invalid(field, format!("{s:?} is not a date (YYYY-MM-DD)"))),
    }
}

fn days(seconds: i64) -> String {
    format!("{:.1}", seconds as f64 / 86_400.0)
}

fn money(m: Money) -> String {
    m.display()
}

/// `fieldbook pipeline [--date D] [--utc-offset MIN]`.
pub fn pipeline(store: &mut Store, date: Option<&str>, utc_offset: Option<i32>) -> Result<Output> {
    let offset = offset(store, utc_offset);
    let date = day("date", date, offset)?.unwrap_or_else(|| local_date(Utc::now(), offset));
    let report = store.pipeline(date, offset)?;
    let f = &report.forecast;
    let mut out = format!(
        "Pipeline at the end of {date}: {} opportunities, {} expected, {} weighted\n",
        f.total.opportunities,
        money(f.total.amount),
        money(f.total.weighted)
    );
    let mut stages = Table::new(&["STAGE", "PROBABILITY", "COUNT", "AMOUNT", "WEIGHTED"]);
    for s in &f.total.by_stage {
        stages.row(vec![
            s.stage.label().to_owned(),
            s.percent.map_or_else(|| "—".into(), |p| format!("{p}%")),
            s.opportunities.to_string(),
            money(s.amount),
            money(s.weighted),
        ]);
    }
    out.push_str(&stages.render());
    let mut reps = Table::new(&["REP", "COUNT", "WEIGHTED"]);
    for r in &f.by_rep {
        reps.row(vec![
            r.rep.as_ref().map_or_else(|| "—".into(), |r| r.to_string()),
            r.forecast.opportunities.to_string(),
            money(r.forecast.weighted),
        ]);
    }
    out.push_str("\nForecast per rep:\n");
    out.push_str(&reps.render());
    let mut dwell = Table::new(&["STAGE", "SPELLS", "OPEN", "MEAN DAYS"]);
    for d in &report.time_in_stage {
        dwell.row(vec![
            d.stage.label().to_owned(),
            d.spells.to_string(),
            d.open_spells.to_string(),
            days(d.mean_seconds),
        ]);
    }
    out.push_str("\nTime in each stage (from history):\n");
    out.push_str(&dwell.render());
    out.push_str(&format!(
        "\nStalled (more than {} days in one stage): {}\n",
        report.stalled_after_days,
        report.stalled.len()
    ));
    let mut stalled = Table::new(&["CUSTOMER", "OPPORTUNITY", "STAGE", "SINCE", "DAYS"]);
    for s in &report.stalled {
        stalled.row(vec![
            s.customer.clone(),
            s.title.clone().unwrap_or_else(|| s.opportunity_id.clone()),
            s.stage.label().to_owned(),
            local_date(s.since, offset).to_string(),
            s.days.to_string(),
        ]);
    }
    if !report.stalled.is_empty() {
        out.push_str(&stalled.render());
    }
    Ok(Output::new(
        json!({ "date": date, "utc_offset_minutes": offset, "report": report }),
        out,
    ))
}

/// `fieldbook activity --period day|week|month [--from D] [--to D] [--utc-offset MIN]`.
pub fn activity(
    store: &mut Store,
    period: &str,
    from: Option<&str>,
    to: Option<&str>,
    utc_offset: Option<i32>,
) -> Result<Output> {
    let period = Period::parse(period.trim())
        .ok_or_else(|| CliError::invalid("period", "one of day, week, month"))?;
    let offset = offset(store, utc_offset);
    let to = day("to", to, offset)?.unwrap_or_else(|| local_date(Utc::now(), offset));
    // As the manager's report: 30 days, 12 weeks or 12 months back.
    let from = match day("from", from, offset)? {
        Some(d) => d,
        None => match period {
            Period::Day => to.checked_sub_days(Days::new(29)).unwrap_or(to),
            Period::Week => bucket_start(period, to)
                .checked_sub_days(Days::new(77))
                .unwrap_or(to),
            Period::Month => bucket_start(period, to)
                .checked_sub_months(Months::new(11))
                .unwrap_or(to),
        },
    };
    let report = store.activity(period, from, to, offset)?;
    let mut out = format!(
        "Activity by {} from {from} to {to} (UTC{:+}:{:02})\n",
        period.code(),
        offset / 60,
        (offset % 60).abs()
    );
    let mut t = Table::new(&[
        "REP",
        "FROM",
        "VISITS",
        "NEW",
        "UPDATED",
        "MOVED",
        "CONTRACTS",
        "ORDERS",
        "CHANGES",
    ]);
    for rep in &report.reps {
        for b in rep.buckets.iter().filter(|b| b.counts.changes > 0) {
            let c = &b.counts;
            t.row(vec![
                rep.rep.clone(),
                b.start.to_string(),
                c.visits.to_string(),
                c.new_customers.to_string(),
                c.cards_updated.to_string(),
                c.opportunities_moved.to_string(),
                c.contracts.to_string(),
                c.orders.to_string(),
                c.changes.to_string(),
            ]);
        }
    }
    out.push_str(&t.render());
    Ok(Output::new(json!({ "report": report }), out))
}
