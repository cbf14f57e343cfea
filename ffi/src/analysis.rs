//! The seeds' methods as the phone app reads them: ABC classes and the day's visit plan
//! with its route, computed by core over the cards on the phone (offline), flattened
//! into records. Money is shown as core shows it; shares are ten-thousandths (80% is
//! 8000), exact as core computes them.

use fieldbook_core::analysis::abc as core_abc;
use fieldbook_core::analysis::visits as core_visits;
use fieldbook_core::value::{Class, Scalar};

/// The company settings on this phone: the revision, the few numbers an app shows (the
/// visit cadence per class, the ABC split), and every setting as JSON.
#[derive(Debug, Clone, uniffi::Record)]
pub struct CompanySettingsInfo {
    /// The server's revision (0: the defaults, no sync has delivered any yet).
    pub revision: u64,
    /// Days between visits for class A, B, C, D and unclassified customers.
    pub visit_days_a: u32,
    /// See `visit_days_a`.
    pub visit_days_b: u32,
    /// See `visit_days_a`.
    pub visit_days_c: u32,
    /// See `visit_days_a`.
    pub visit_days_d: u32,
    /// See `visit_days_a`.
    pub visit_days_unclassified: u32,
    /// ABC: cumulative share of sales class A covers, B after it, C the rest (percent).
    pub abc_percent: Vec<u32>,
    /// Every setting, as the server keeps them (`CompanySettings` in JSON).
    pub json: String,
}

impl From<fieldbook_core::company::RevisedSettings> for CompanySettingsInfo {
    fn from(r: fieldbook_core::company::RevisedSettings) -> Self {
        let v = &r.settings.visits;
        let a = &r.settings.abc;
        CompanySettingsInfo {
            revision: r.revision,
            visit_days_a: v.interval_days_a,
            visit_days_b: v.interval_days_b,
            visit_days_c: v.interval_days_c,
            visit_days_d: v.interval_days_d,
            visit_days_unclassified: v.interval_days_unclassified,
            abc_percent: vec![a.a_percent, a.b_percent, a.c_percent],
            json: r.settings.to_json(),
        }
    }
}

/// Two cards that look like one customer.
#[derive(Debug, Clone, uniffi::Record)]
pub struct DuplicatePairInfo {
    /// One card.
    pub card_a: String,
    /// The other.
    pub card_b: String,
    /// Why: `same_tax_id`, `same_phone`, `similar_name`.
    pub reasons: Vec<String>,
    /// How sure, in ten-thousandths.
    pub confidence_e4: i64,
}

impl From<fieldbook_core::analysis::duplicates::DuplicatePair> for DuplicatePairInfo {
    fn from(p: fieldbook_core::analysis::duplicates::DuplicatePair) -> Self {
        use fieldbook_core::analysis::duplicates::DuplicateReason;
        DuplicatePairInfo {
            card_a: p.a.to_string(),
            card_b: p.b.to_string(),
            reasons: p
                .reasons
                .iter()
                .map(|r| {
                    match r {
                        DuplicateReason::SameTaxId { .. } => "same_tax_id",
                        DuplicateReason::SamePhone { .. } => "same_phone",
                        DuplicateReason::SimilarName { .. } => "similar_name",
                    }
                    .to_owned()
                })
                .collect(),
            confidence_e4: p.confidence.e4(),
        }
    }
}

/// What a merge did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct MergeInfo {
    /// The card that stays.
    pub kept: String,
    /// The card merged into it.
    pub merged: String,
    /// Fields of the kept card filled in from the other.
    pub fields_filled: Vec<String>,
    /// Contacts, to-dos and opportunities copied.
    pub items_copied: u32,
    /// Visits left in the merged card's log.
    pub visits_left: u32,
}

impl From<fieldbook_core::store::MergeOutcome> for MergeInfo {
    fn from(m: fieldbook_core::store::MergeOutcome) -> Self {
        MergeInfo {
            kept: m.kept.to_string(),
            merged: m.merged.to_string(),
            fields_filled: m.fields_filled,
            items_copied: u32::try_from(m.items_copied).unwrap_or(u32::MAX),
            visits_left: u32::try_from(m.visits_left).unwrap_or(u32::MAX),
        }
    }
}

fn class(c: Class) -> String {
    format!("{c:?}")
}

/// One customer of the ABC analysis.
#[derive(Debug, Clone, uniffi::Record)]
pub struct AbcEntry {
    /// The card.
    pub card_id: String,
    /// The customer's name.
    pub name: Option<String>,
    /// 1 for the largest customer.
    pub rank: u32,
    /// Average monthly sales over the window, in yuan (`12345.60`).
    pub monthly_average: String,
    /// Share of all sales in the window, in ten-thousandths.
    pub share_e4: i64,
    /// Cumulative share up to this customer, in ten-thousandths.
    pub cumulative_share_e4: i64,
    /// The class computed from sales: `A`, `B` or `C`.
    pub computed: String,
    /// The class the rep set on the card, if any.
    pub manual: Option<String>,
}

/// ABC classes of the phone's cards.
#[derive(Debug, Clone, uniffi::Record)]
pub struct AbcReport {
    /// The months averaged, oldest first (`2026-08`).
    pub window: Vec<String>,
    /// Total sales over the window, in yuan.
    pub total_sales: String,
    /// Largest first.
    pub entries: Vec<AbcEntry>,
}

impl From<core_abc::AbcReport> for AbcReport {
    fn from(r: core_abc::AbcReport) -> Self {
        AbcReport {
            window: r.window.iter().map(|m| m.to_string()).collect(),
            total_sales: r.total_sales.display(),
            entries: r
                .rows
                .into_iter()
                .map(|e| AbcEntry {
                    card_id: e.card.to_string(),
                    name: e.name,
                    rank: e.rank,
                    monthly_average: e.monthly_average.display(),
                    share_e4: e.share.e4(),
                    cumulative_share_e4: e.cumulative_share.e4(),
                    computed: class(e.computed),
                    manual: e.manual.map(class),
                })
                .collect(),
        }
    }
}

/// A stop of the day's route.
#[derive(Debug, Clone, uniffi::Record)]
pub struct RouteStop {
    /// The card.
    pub card_id: String,
    /// The customer's name.
    pub name: String,
    /// Its route area (路线区域), if set.
    pub area: Option<String>,
    /// Metres from the previous stop (or the start).
    pub leg_m: f64,
    /// Metres from the start.
    pub cumulative_m: f64,
}

/// A card due a visit.
#[derive(Debug, Clone, uniffi::Record)]
pub struct DueVisit {
    /// The card.
    pub card_id: String,
    /// The customer's name.
    pub name: String,
    /// The class that set its visit interval.
    pub class: Option<String>,
    /// The last counted visit (`2026-11-20`), if any.
    pub last_visit: Option<String>,
    /// When the next visit was due.
    pub next_due: String,
    /// Days past that date.
    pub days_overdue: u32,
}

/// A card the plan lists apart (off the plan, dormant, or due but not on the route).
#[derive(Debug, Clone, uniffi::Record)]
pub struct PlanNote {
    /// The card.
    pub card_id: String,
    /// The customer's name.
    pub name: String,
    /// Visits so far (off the plan) or days without a visit or an order (dormant;
    /// `None`: never any).
    pub count: Option<u32>,
}

/// The day's visit plan.
#[derive(Debug, Clone, uniffi::Record)]
pub struct DayPlan {
    /// The day (`2026-12-01`).
    pub date: String,
    /// The due cards in route order.
    pub route: Vec<RouteStop>,
    /// The route's length in metres.
    pub length_m: f64,
    /// Due cards not on the route (no position on the card, or too many stops).
    pub unrouted: Vec<PlanNote>,
    /// Every due card, most overdue first.
    pub due: Vec<DueVisit>,
    /// Cards on the plan, not due yet.
    pub not_due: u64,
    /// Prospects taken off the plan after visits without a result.
    pub off_plan: Vec<PlanNote>,
    /// Dormant customers.
    pub dormant: Vec<PlanNote>,
}

impl From<core_visits::DayPlan> for DayPlan {
    fn from(p: core_visits::DayPlan) -> Self {
        DayPlan {
            date: p.visits.date.to_string(),
            route: p
                .route
                .stops()
                .map(|s| RouteStop {
                    card_id: s.stop.card.to_string(),
                    name: s.stop.name.clone(),
                    area: s.stop.area.clone(),
                    leg_m: s.leg_m,
                    cumulative_m: s.cumulative_m,
                })
                .collect(),
            length_m: p.route.length_m,
            unrouted: p
                .route
                .unrouted
                .iter()
                .map(|u| PlanNote {
                    card_id: u.stop.card.to_string(),
                    name: u.stop.name.clone(),
                    count: None,
                })
                .collect(),
            due: p
                .visits
                .due
                .iter()
                .map(|d| DueVisit {
                    card_id: d.card.to_string(),
                    name: d.name.clone(),
                    class: d.class.map(class),
                    last_visit: d.last_visit.map(|v| v.to_string()),
                    next_due: d.next_due.to_string(),
                    days_overdue: d.days_overdue,
                })
                .collect(),
            not_due: p.visits.not_due as u64,
            off_plan: p
                .visits
                .off_plan
                .iter()
                .map(|o| PlanNote {
                    card_id: o.card.to_string(),
                    name: o.name.clone(),
                    count: Some(o.visits),
                })
                .collect(),
            dormant: p
                .visits
                .dormant
                .iter()
                .map(|d| PlanNote {
                    card_id: d.card.to_string(),
                    name: d.name.clone(),
                    count: d.days_inactive,
                })
                .collect(),
        }
    }
}
