//! The pipeline and the activity report as the phone app reads them: computed by core
//! over the cards on the phone and their history (offline; the manager's dashboard gets
//! the same numbers from the same code), flattened into records. Money is shown as core
//! shows it (yuan, `12345.60`); stages are core's codes with their Chinese labels; times
//! are RFC 3339 (UTC), days `YYYY-MM-DD`.

use fieldbook_core::analysis::activity as core_activity;
use fieldbook_core::analysis::pipeline as core_pipeline;
use fieldbook_core::value::{Money, OppStage, Scalar};

use crate::error::FieldbookError;
use crate::fieldbook::{Fieldbook, date};

type Result<T> = std::result::Result<T, FieldbookError>;

/// One stage's line of a forecast.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ForecastStage {
    /// The stage's code (`first_contact` … `lost`).
    pub stage: String,
    /// Its label (初次接触 …).
    pub label: String,
    /// Its probability in percent (`None`: not listed in the settings, weighs nothing).
    pub percent: Option<u32>,
    /// Opportunities in the stage.
    pub opportunities: u32,
    /// Their expected amounts, yuan.
    pub amount: String,
    /// Amount × probability, yuan.
    pub weighted: String,
}

/// A forecast over some opportunities.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Forecast {
    /// Who or what it is for: a rep id, a territory, or `None` (the total, or cards of
    /// nobody / of no territory).
    pub key: Option<String>,
    /// Opportunities with a stage.
    pub opportunities: u32,
    /// Their expected amounts, yuan.
    pub amount: String,
    /// The weighted forecast, yuan (rounded once).
    pub weighted: String,
    /// Per stage, in the settings' order.
    pub by_stage: Vec<ForecastStage>,
    /// Opportunities without a stage.
    pub unstaged: u32,
    /// Opportunities without an expected amount.
    pub without_amount: u32,
}

/// Time spent in one stage (from history).
#[derive(Debug, Clone, uniffi::Record)]
pub struct StageTime {
    /// The stage's code.
    pub stage: String,
    /// Its label.
    pub label: String,
    /// Spells in the stage (an opportunity that came back counts twice).
    pub spells: u32,
    /// Of which still running.
    pub open_spells: u32,
    /// Seconds in all of them.
    pub total_seconds: i64,
    /// The mean, seconds.
    pub mean_seconds: i64,
}

/// An open opportunity in one stage longer than the company allows.
#[derive(Debug, Clone, uniffi::Record)]
pub struct StalledOpportunity {
    /// The card.
    pub card_id: String,
    /// The customer's name.
    pub customer: String,
    /// The card's territory.
    pub territory: Option<String>,
    /// The rep holding it, if known.
    pub rep: Option<String>,
    /// The opportunity's id.
    pub opportunity_id: String,
    /// Its title.
    pub title: Option<String>,
    /// The stage's code.
    pub stage: String,
    /// Its label.
    pub label: String,
    /// When it entered the stage (RFC 3339).
    pub since: String,
    /// Whole days in the stage.
    pub days: i64,
    /// Its expected amount, yuan.
    pub amount: Option<String>,
}

/// The pipeline of the cards on the phone.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PipelineReport {
    /// The moment it is for (the end of the day asked for, RFC 3339).
    pub as_of: String,
    /// Every card.
    pub total: Forecast,
    /// Per rep (`key`: the rep id).
    pub by_rep: Vec<Forecast>,
    /// Per territory (`key`: the territory).
    pub by_territory: Vec<Forecast>,
    /// Time in each open stage.
    pub time_in_stage: Vec<StageTime>,
    /// After how many days in one stage an opportunity is stalled.
    pub stalled_after_days: u32,
    /// Stalled opportunities, longest first.
    pub stalled: Vec<StalledOpportunity>,
}

fn money(m: Money) -> String {
    m.display()
}

fn forecast(key: Option<String>, f: core_pipeline::ForecastLine) -> Forecast {
    Forecast {
        key,
        opportunities: f.opportunities,
        amount: money(f.amount),
        weighted: money(f.weighted),
        by_stage: f
            .by_stage
            .into_iter()
            .map(|s| ForecastStage {
                stage: s.stage.code().to_owned(),
                label: s.stage.label().to_owned(),
                percent: s.percent,
                opportunities: s.opportunities,
                amount: money(s.amount),
                weighted: money(s.weighted),
            })
            .collect(),
        unstaged: f.unstaged,
        without_amount: f.without_amount,
    }
}

fn stage(s: OppStage) -> (String, String) {
    (s.code().to_owned(), s.label().to_owned())
}

impl From<core_pipeline::PipelineReport> for PipelineReport {
    fn from(r: core_pipeline::PipelineReport) -> Self {
        PipelineReport {
            as_of: r.as_of.to_rfc3339(),
            total: forecast(None, r.forecast.total),
            by_rep: r
                .forecast
                .by_rep
                .into_iter()
                .map(|f| forecast(f.rep.map(|r| r.to_string()), f.forecast))
                .collect(),
            by_territory: r
                .forecast
                .by_territory
                .into_iter()
                .map(|f| forecast(f.territory, f.forecast))
                .collect(),
            time_in_stage: r
                .time_in_stage
                .into_iter()
                .map(|d| {
                    let (stage, label) = stage(d.stage);
                    StageTime {
                        stage,
                        label,
                        spells: d.spells,
                        open_spells: d.open_spells,
                        total_seconds: d.total_seconds,
                        mean_seconds: d.mean_seconds,
                    }
                })
                .collect(),
            stalled_after_days: r.stalled_after_days,
            stalled: r
                .stalled
                .into_iter()
                .map(|s| {
                    let (code, label) = stage(s.stage);
                    StalledOpportunity {
                        card_id: s.card.to_string(),
                        customer: s.customer,
                        territory: s.territory,
                        rep: s.rep.map(|r| r.to_string()),
                        opportunity_id: s.opportunity_id,
                        title: s.title,
                        stage: code,
                        label,
                        since: s.since.to_rfc3339(),
                        days: s.days,
                        amount: s.amount.map(money),
                    }
                })
                .collect(),
        }
    }
}

/// Bucket size of an activity report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ReportPeriod {
    /// Calendar days.
    Day,
    /// Weeks from Monday.
    Week,
    /// Calendar months.
    Month,
}

/// Counts of one bucket or of a whole range (core's definitions).
#[derive(Debug, Clone, uniffi::Record)]
pub struct ActivityCounts {
    /// Visits logged.
    pub visits: u64,
    /// Cards created.
    pub new_customers: u64,
    /// Existing cards changed, each once per bucket.
    pub cards_updated: u64,
    /// Opportunity stages moved.
    pub opportunities_moved: u64,
    /// Opportunities entering contract or won from another stage.
    pub contracts: u64,
    /// Months of sales figures added.
    pub orders: u64,
    /// Changes made.
    pub changes: u64,
}

/// One bucket of a rep's activity.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ActivityBucket {
    /// Its first day (`2026-11-30`).
    pub start: String,
    /// Its counts.
    pub counts: ActivityCounts,
}

/// One rep's activity.
#[derive(Debug, Clone, uniffi::Record)]
pub struct RepActivity {
    /// The rep's id.
    pub rep: String,
    /// Every bucket of the range, oldest first.
    pub buckets: Vec<ActivityBucket>,
    /// The sums.
    pub totals: ActivityCounts,
}

/// Activity per rep from the history of the cards on the phone.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ActivityReport {
    /// Bucket size.
    pub period: ReportPeriod,
    /// First day.
    pub from: String,
    /// Last day.
    pub to: String,
    /// The calendar's offset from UTC, minutes.
    pub utc_offset_minutes: i32,
    /// Every rep with a change in the range.
    pub reps: Vec<RepActivity>,
}

fn counts(c: core_activity::ActivityCounts) -> ActivityCounts {
    ActivityCounts {
        visits: c.visits,
        new_customers: c.new_customers,
        cards_updated: c.cards_updated,
        opportunities_moved: c.opportunities_moved,
        contracts: c.contracts,
        orders: c.orders,
        changes: c.changes,
    }
}

fn period_of(p: core_activity::Period) -> ReportPeriod {
    match p {
        core_activity::Period::Day => ReportPeriod::Day,
        core_activity::Period::Week => ReportPeriod::Week,
        core_activity::Period::Month => ReportPeriod::Month,
    }
}

impl From<core_activity::ActivityReport> for ActivityReport {
    fn from(r: core_activity::ActivityReport) -> Self {
        ActivityReport {
            period: period_of(r.period),
            from: r.from.to_string(),
            to: r.to.to_string(),
            utc_offset_minutes: r.utc_offset_minutes,
            reps: r
                .reps
                .into_iter()
                .map(|rep| RepActivity {
                    rep: rep.rep,
                    buckets: rep
                        .buckets
                        .into_iter()
                        .map(|b| ActivityBucket {
                            start: b.start.to_string(),
                            counts: counts(b.counts),
                        })
                        .collect(),
                    totals: counts(rep.totals),
                })
                .collect(),
        }
    }
}

#[uniffi::export]
impl Fieldbook {
    /// The pipeline at the end of `date` (`2026-12-01`; default today) in the company's
    /// calendar, or `utc_offset_minutes` east of UTC: the weighted forecast per stage,
    /// rep and territory, time in each stage from the cards' history, stalled
    /// opportunities (the read connection; offline).
    pub fn pipeline(
        &self,
        date: Option<String>,
        utc_offset_minutes: Option<i32>,
    ) -> Result<PipelineReport> {
        let day = self::date("date", &date)?;
        Ok(self
            .read(|r| {
                let offset = match utc_offset_minutes {
                    Some(m) => m,
                    None => r.company_utc_offset_minutes()?,
                };
                let day =
                    day.unwrap_or_else(|| core_activity::local_date(chrono::Utc::now(), offset));
                r.pipeline(day, offset)
            })?
            .into())
    }

    /// Activity per rep from `from` to `to` (`YYYY-MM-DD`, inclusive; default the 30
    /// days, 12 weeks or 12 months to today) in buckets of `period`, in the company's
    /// calendar or `utc_offset_minutes` east of UTC (the read connection; offline).
    pub fn activity(
        &self,
        period: ReportPeriod,
        from: Option<String>,
        to: Option<String>,
        utc_offset_minutes: Option<i32>,
    ) -> Result<ActivityReport> {
        let (from, to) = (self::date("from", &from)?, self::date("to", &to)?);
        let period = match period {
            ReportPeriod::Day => core_activity::Period::Day,
            ReportPeriod::Week => core_activity::Period::Week,
            ReportPeriod::Month => core_activity::Period::Month,
        };
        Ok(self
            .read(|r| {
                let offset = match utc_offset_minutes {
                    Some(m) => m,
                    None => r.company_utc_offset_minutes()?,
                };
                let to =
                    to.unwrap_or_else(|| core_activity::local_date(chrono::Utc::now(), offset));
                let from = from.unwrap_or_else(|| default_from(period, to));
                r.activity(period, from, to, offset)
            })?
            .into())
    }
}

/// The manager's report's default range: 30 days, 12 weeks or 12 months back.
fn default_from(period: core_activity::Period, to: chrono::NaiveDate) -> chrono::NaiveDate {
    use chrono::{Days, Months};
    let start = core_activity::bucket_start(period, to);
    match period {
        core_activity::Period::Day => to.checked_sub_days(Days::new(29)),
        core_activity::Period::Week => start.checked_sub_days(Days::new(77)),
        core_activity::Period::Month => start.checked_sub_months(Months::new(11)),
    }
    .unwrap_or(to)
}
