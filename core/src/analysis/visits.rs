//! The visit plan (访问计划): who is due a visit on a given date, who is off the plan,
//! who has gone quiet, and the day's plan with its route.
//!
//! Seed 002 (客户管理分析的流程, and DOMAIN.md's "Visits and routes") plans visits by
//! class, each class with its own frequency (starting point: A weekly, B every two weeks,
//! C monthly, D quarterly), drops a prospect visited 5 times or more with no result
//! ("访问某一客户5次以上仍无实效,就应从访问计划表中删除该客户"), and asks that dormant
//! customers, with no visit and no order for a long time, stand out. This module owns
//! those rules:
//!
//! - [`schedule`]: one card's last visit, next due date and days overdue.
//! - [`visit_plan`]: the cards due on a date (most overdue first), the prospects taken off
//!   the plan ([`OffPlan`]) and the dormant cards ([`Dormant`]).
//! - [`plan_day`]: the plan with the due cards' route (`analysis::route`).
//!
//! ## Definitions
//! - A **counted visit** is a visit-log entry with a time on or before the given date
//!   (in [`VisitSettings::utc_offset_minutes`]' local time) whose kind is one of
//!   [`VisitSettings::counted_kinds`] or not set. Entries without a time, and entries
//!   after the date (a device clock ahead), are not counted: the plan is the plan as of
//!   that date.
//! - **Due**: the next due date is the last counted visit's date plus the class's
//!   interval, or the date that visit planned for the next one (下次拜访) when that is
//!   earlier; a card is due when its next due date is on or before the given date. A card
//!   never visited is due that day (0 days overdue).
//! - A **prospect** is a card whose transaction stage (交易阶段) is 未来客户, or with no
//!   stage set and neither a sale (a month with an amount above zero) nor a won
//!   opportunity.
//! - **No result**: since the date of the first counted visit there is no won opportunity
//!   (stage 赢单 entered on or after that date; a won opportunity with no stage date
//!   counts as a result, so missing data never drops a prospect) and no sale in that
//!   visit's month or later. A prospect with at least
//!   [`VisitSettings::off_plan_after_visits`] counted visits and no result is
//!   **off the plan**: listed in [`VisitPlan::off_plan`], never in the due list.
//! - **Dormant**: the last activity (the last counted visit, or the last day of the last
//!   month with a sale, whichever is later) is at least
//!   [`VisitSettings::dormant_after_days`] days before the date. A card that is not a
//!   prospect and has no activity at all is dormant too (with no date); a prospect that
//!   has never been visited is simply due, not dormant.
//!
//! The class of each card comes from the caller (`classes`), so the plan follows whichever
//! class the company chose to drive it (computed ABC, the rep's own, a prospect class).

use std::cmp::Ordering;

use chrono::{DateTime, Days, FixedOffset, NaiveDate, Offset, Utc};
use serde::{Deserialize, Serialize};

use super::route::{DayRoute, GeoPoint, RouteError, RouteSettings, Stop, plan_route};
use crate::card::{Card, Visit};
use crate::ids::{CardId, YearMonth};
use crate::value::{Class, OppStage, TradeStage, VisitKind};

/// The longest interval between visits accepted, in days (ten years).
pub const MAX_INTERVAL_DAYS: u32 = 3_660;

/// Settings of the visit plan. `Default` is DOMAIN.md's starting point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VisitSettings {
    /// Days between visits to class A customers (default 7: weekly).
    pub interval_days_a: u32,
    /// Days between visits to class B customers (default 14: every two weeks).
    pub interval_days_b: u32,
    /// Days between visits to class C customers (default 30: monthly).
    pub interval_days_c: u32,
    /// Days between visits to class D prospects (default 90: quarterly).
    pub interval_days_d: u32,
    /// Days between visits to cards without a class (default 30).
    pub interval_days_unclassified: u32,
    /// Counted visits after which a prospect with no result is taken off the plan
    /// (default 5).
    pub off_plan_after_visits: u32,
    /// Days without a visit or an order after which a card is dormant (default 90).
    pub dormant_after_days: u32,
    /// The company's offset from UTC in minutes, which decides on which day a visit was
    /// (default 480: China Standard Time, UTC+8).
    pub utc_offset_minutes: i32,
    /// Which kinds of visit-log entry count as a visit (default: visits, deliveries,
    /// collections and other; not phone calls). An entry without a kind counts.
    pub counted_kinds: Vec<VisitKind>,
}

impl Default for VisitSettings {
    fn default() -> Self {
        VisitSettings {
            interval_days_a: 7,
            interval_days_b: 14,
            interval_days_c: 30,
            interval_days_d: 90,
            interval_days_unclassified: 30,
            off_plan_after_visits: 5,
            dormant_after_days: 90,
            utc_offset_minutes: 8 * 60,
            counted_kinds: vec![
                VisitKind::Visit,
                VisitKind::Delivery,
                VisitKind::Collection,
                VisitKind::Other,
            ],
        }
    }
}

impl VisitSettings {
    /// Days between visits for a class (`None`: unclassified).
    pub fn interval_days(&self, class: Option<Class>) -> u32 {
        match class {
            Some(Class::A) => self.interval_days_a,
            Some(Class::B) => self.interval_days_b,
            Some(Class::C) => self.interval_days_c,
            Some(Class::D) => self.interval_days_d,
            None => self.interval_days_unclassified,
        }
    }

    /// Refuses a configuration that cannot plan: an interval of zero days or longer than
    /// [`MAX_INTERVAL_DAYS`], a threshold of zero, an offset beyond ±14 hours, no kind
    /// of entry counted. (A negative number cannot even be read: the fields are
    /// unsigned.)
    pub fn validate(&self) -> Result<(), VisitsSettingsError> {
        for (class, days) in [
            ("A", self.interval_days_a),
            ("B", self.interval_days_b),
            ("C", self.interval_days_c),
            ("D", self.interval_days_d),
            ("unclassified", self.interval_days_unclassified),
        ] {
            if days == 0 || days > MAX_INTERVAL_DAYS {
                return Err(VisitsSettingsError::Interval {
                    class,
                    days,
                    max: MAX_INTERVAL_DAYS,
                });
            }
        }
        if self.off_plan_after_visits == 0 {
            return Err(VisitsSettingsError::OffPlanThreshold);
        }
        if self.dormant_after_days == 0 {
            return Err(VisitsSettingsError::DormantDays);
        }
        if self.offset().is_none() {
            return Err(VisitsSettingsError::UtcOffset(self.utc_offset_minutes));
        }
        if self.counted_kinds.is_empty() {
            return Err(VisitsSettingsError::NoCountedKinds);
        }
        Ok(())
    }

    fn offset(&self) -> Option<FixedOffset> {
        if self.utc_offset_minutes.abs() > 14 * 60 {
            return None;
        }
        FixedOffset::east_opt(self.utc_offset_minutes.checked_mul(60)?)
    }
}

/// Why a [`VisitSettings`] was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VisitsSettingsError {
    /// A visit interval is zero or too long.
    #[error("the visit interval for class {class} must be 1 to {max} days, not {days}")]
    Interval {
        /// The class (A–D, or unclassified).
        class: &'static str,
        /// The value refused.
        days: u32,
        /// The longest accepted.
        max: u32,
    },
    /// The off-plan threshold is zero.
    #[error(
        "the number of visits without result before a prospect leaves the plan must be at least 1"
    )]
    OffPlanThreshold,
    /// The dormancy period is zero.
    #[error(
        "the days without visit or order before a customer counts as dormant must be at least 1"
    )]
    DormantDays,
    /// The UTC offset is beyond ±14 hours.
    #[error("the UTC offset must be within ±840 minutes (±14 hours), not {0}")]
    UtcOffset(i32),
    /// No kind of visit-log entry counts as a visit.
    #[error("at least one kind of visit-log entry must count as a visit")]
    NoCountedKinds,
}

/// Why a plan could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The visit settings were refused.
    #[error(transparent)]
    Settings(#[from] VisitsSettingsError),
    /// The route could not be planned (bad start or route settings).
    #[error(transparent)]
    Route(#[from] RouteError),
}

/// One card's visit schedule on a date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitSchedule {
    /// The card.
    pub card: CardId,
    /// The customer's name.
    pub name: String,
    /// The class that set the interval.
    pub class: Option<Class>,
    /// Days between visits for that class.
    pub interval_days: u32,
    /// The date of the last counted visit, `None` if never visited.
    pub last_visit: Option<NaiveDate>,
    /// When the next visit is due.
    pub next_due: NaiveDate,
    /// Whether a visit is due on the date (next due on or before it).
    pub due: bool,
    /// Days past the next due date (0 when due that day or not yet due).
    pub days_overdue: u32,
}

/// A prospect taken off the visit plan: visited often, with no result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OffPlan {
    /// The card.
    pub card: CardId,
    /// The customer's name.
    pub name: String,
    /// Counted visits.
    pub visits: u32,
    /// The first counted visit.
    pub first_visit: NaiveDate,
    /// The last counted visit.
    pub last_visit: NaiveDate,
}

/// A card with no visit and no order for a long time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dormant {
    /// The card.
    pub card: CardId,
    /// The customer's name.
    pub name: String,
    /// The last counted visit, if any.
    pub last_visit: Option<NaiveDate>,
    /// The last month with a sale, if any.
    pub last_order: Option<YearMonth>,
    /// Days since the last activity; `None` when there never was any.
    pub days_inactive: Option<u32>,
}

/// The visit plan on a date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitPlan {
    /// The date planned for.
    pub date: NaiveDate,
    /// Cards due a visit: most overdue first, then by class (A first, unclassified
    /// last), name and id.
    pub due: Vec<VisitSchedule>,
    /// How many cards are on the plan but not due yet.
    pub not_due: usize,
    /// Prospects taken off the plan, by name.
    pub off_plan: Vec<OffPlan>,
    /// Dormant cards: never active first, then the longest inactive, then by name.
    pub dormant: Vec<Dormant>,
}

/// A day's plan: the visit plan and the route through the due cards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayPlan {
    /// Who is due, off the plan, dormant.
    pub visits: VisitPlan,
    /// The due cards in route order; due cards without coordinates (or over the route's
    /// limit) are in its `unrouted` list.
    pub route: DayRoute,
}

/// The counted visits' local dates, on or before `today`, oldest first, with the latest
/// counted visit.
fn counted_visits<'a>(
    card: &'a Card,
    today: NaiveDate,
    settings: &VisitSettings,
    offset: FixedOffset,
) -> (Vec<NaiveDate>, Option<&'a Visit>) {
    let mut dates = Vec::new();
    let mut latest: Option<&Visit> = None;
    for visit in &card.visits {
        let Some(at) = visit.at else { continue };
        if !is_counted(visit, settings) {
            continue;
        }
        let date = at.with_timezone(&offset).date_naive();
        if date > today {
            continue;
        }
        dates.push(date);
        if latest.is_none_or(|l| l.at < visit.at) {
            latest = Some(visit);
        }
    }
    dates.sort();
    (dates, latest)
}

/// When the next visit is due: the last counted visit's date plus the class's interval,
/// or the date that visit planned for the next one (下次拜访) when that falls between the
/// two; `None` when the card was never visited (due at once). This is the one definition
/// of a due date: the visit plan and the device's card list (`due` sort and filter) both
/// use it.
pub fn next_due(
    last_visit: Option<NaiveDate>,
    planned: Option<NaiveDate>,
    interval_days: u32,
) -> Option<NaiveDate> {
    let last = last_visit?;
    let by_class = last
        .checked_add_days(Days::new(u64::from(interval_days)))
        .unwrap_or(NaiveDate::MAX);
    Some(match planned {
        Some(planned) if planned > last && planned < by_class => planned,
        _ => by_class,
    })
}

/// Whether a visit-log entry counts as a visit under these settings (its kind is
/// counted, or not set), whatever its date.
pub fn is_counted(visit: &Visit, settings: &VisitSettings) -> bool {
    visit
        .kind
        .is_none_or(|k| settings.counted_kinds.contains(&k))
}

/// The company's local date of an instant (see [`VisitSettings::utc_offset_minutes`]).
pub fn local_date(at: DateTime<Utc>, settings: &VisitSettings) -> NaiveDate {
    let offset = settings.offset().unwrap_or_else(|| Utc.fix());
    at.with_timezone(&offset).date_naive()
}

/// One card's schedule on `today` for `class`. Settings are assumed valid (see
/// [`VisitSettings::validate`]); an invalid offset counts as UTC.
pub fn schedule(
    card: &Card,
    class: Option<Class>,
    today: NaiveDate,
    settings: &VisitSettings,
) -> VisitSchedule {
    let offset = settings.offset().unwrap_or_else(|| Utc.fix());
    let (dates, latest) = counted_visits(card, today, settings, offset);
    schedule_from(card, class, today, settings, &dates, latest)
}

/// The schedule from the card's counted visits (dates oldest first, and the latest).
fn schedule_from(
    card: &Card,
    class: Option<Class>,
    today: NaiveDate,
    settings: &VisitSettings,
    dates: &[NaiveDate],
    latest: Option<&Visit>,
) -> VisitSchedule {
    let interval = settings.interval_days(class);
    let last_visit = dates.last().copied();
    let next_due =
        next_due(last_visit, latest.and_then(|v| v.next_visit), interval).unwrap_or(today);
    let overdue = (today - next_due).num_days().max(0);
    VisitSchedule {
        card: card.id.clone(),
        name: card.display_name().to_string(),
        class,
        interval_days: interval,
        last_visit,
        next_due,
        due: next_due <= today,
        days_overdue: u32::try_from(overdue).unwrap_or(u32::MAX),
    }
}

/// Whether the card counts as a prospect (see the module docs).
fn is_prospect(card: &Card) -> bool {
    match card.classification.stage {
        Some(TradeStage::Prospect) => true,
        Some(_) => false,
        None => {
            !card.sales.values().any(|m| m.fen() > 0)
                && !card
                    .opportunities
                    .iter()
                    .any(|o| o.stage == Some(OppStage::Won))
        }
    }
}

/// Whether anything came of the visits since `first_visit` (see the module docs).
fn has_result_since(card: &Card, first_visit: NaiveDate) -> bool {
    let won = card.opportunities.iter().any(|o| {
        o.stage == Some(OppStage::Won) && o.stage_since.is_none_or(|since| since >= first_visit)
    });
    let first_month = YearMonth::of(first_visit);
    won || card
        .sales
        .range(first_month..)
        .any(|(_, amount)| amount.fen() > 0)
}

/// The last day of a month.
fn month_end(month: YearMonth) -> Option<NaiveDate> {
    let first: NaiveDate = format!("{month}-01").parse().ok()?;
    first.checked_add_months(chrono::Months::new(1))?.pred_opt()
}

/// The visit plan on `today`: who is due, who is off the plan, who is dormant.
///
/// `classes` gives each card's class (the one the company lets drive the plan); `None`
/// plans the card with the unclassified interval.
pub fn visit_plan(
    cards: &[Card],
    classes: impl Fn(&Card) -> Option<Class>,
    today: NaiveDate,
    settings: &VisitSettings,
) -> Result<VisitPlan, VisitsSettingsError> {
    plan_with_indices(cards, classes, today, settings).map(|(plan, _)| plan)
}

/// [`visit_plan`], with the index in `cards` of each due entry, in the due list's order.
fn plan_with_indices(
    cards: &[Card],
    classes: impl Fn(&Card) -> Option<Class>,
    today: NaiveDate,
    settings: &VisitSettings,
) -> Result<(VisitPlan, Vec<usize>), VisitsSettingsError> {
    settings.validate()?;
    let offset = settings.offset().unwrap_or_else(|| Utc.fix());
    let mut due = Vec::new();
    let mut not_due = 0;
    let mut off_plan = Vec::new();
    let mut dormant = Vec::new();
    for (index, card) in cards.iter().enumerate() {
        let (dates, latest) = counted_visits(card, today, settings, offset);
        let prospect = is_prospect(card);

        let last_order = card
            .sales
            .range(..=YearMonth::of(today))
            .rev()
            .find(|(_, amount)| amount.fen() > 0)
            .map(|(month, _)| *month);
        let last_visit = dates.last().copied();
        let order_day = last_order.and_then(month_end).map(|d| d.min(today));
        let last_activity = last_visit.max(order_day);
        let inactive = last_activity.map(|d| (today - d).num_days().max(0));
        let is_dormant = match inactive {
            Some(days) => days >= i64::from(settings.dormant_after_days),
            None => !prospect,
        };
        if is_dormant {
            dormant.push(Dormant {
                card: card.id.clone(),
                name: card.display_name().to_string(),
                last_visit,
                last_order,
                days_inactive: inactive.map(|d| u32::try_from(d).unwrap_or(u32::MAX)),
            });
        }

        let visits = u32::try_from(dates.len()).unwrap_or(u32::MAX);
        if let (true, Some(&first), Some(last)) = (prospect, dates.first(), last_visit)
            && visits >= settings.off_plan_after_visits
            && !has_result_since(card, first)
        {
            off_plan.push(OffPlan {
                card: card.id.clone(),
                name: card.display_name().to_string(),
                visits,
                first_visit: first,
                last_visit: last,
            });
            continue;
        }

        let entry = schedule_from(card, classes(card), today, settings, &dates, latest);
        if entry.due {
            due.push((index, entry));
        } else {
            not_due += 1;
        }
    }
    due.sort_by(|(_, a), (_, b)| {
        b.days_overdue
            .cmp(&a.days_overdue)
            .then_with(|| class_rank(a.class).cmp(&class_rank(b.class)))
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.card.cmp(&b.card))
    });
    off_plan.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.card.cmp(&b.card)));
    dormant.sort_by(|a, b| {
        let by_days = match (a.days_inactive, b.days_inactive) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => y.cmp(&x),
        };
        by_days
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.card.cmp(&b.card))
    });
    let (indices, due) = due.into_iter().unzip();
    let plan = VisitPlan {
        date: today,
        due,
        not_due,
        off_plan,
        dormant,
    };
    Ok((plan, indices))
}

/// A for the most important, unclassified last.
fn class_rank(class: Option<Class>) -> u8 {
    match class {
        Some(Class::A) => 0,
        Some(Class::B) => 1,
        Some(Class::C) => 2,
        Some(Class::D) => 3,
        None => 4,
    }
}

/// The day's plan: [`visit_plan`] on `today`, and the route from `start` through the due
/// cards, most urgent first when there are more than the route takes.
pub fn plan_day(
    cards: &[Card],
    classes: impl Fn(&Card) -> Option<Class>,
    today: NaiveDate,
    start: GeoPoint,
    settings: &VisitSettings,
    route: &RouteSettings,
) -> Result<DayPlan, PlanError> {
    route.validate().map_err(RouteError::from)?;
    let (visits, indices) = plan_with_indices(cards, classes, today, settings)?;
    let stops: Vec<Stop> = indices
        .iter()
        .filter_map(|&i| cards.get(i))
        .map(Stop::of_card)
        .collect();
    let route = plan_route(start, stops, route)?;
    Ok(DayPlan { visits, route })
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::card::{Location, Opportunity};
    use crate::value::{Latitude, Longitude, Money};

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn month(s: &str) -> YearMonth {
        s.parse().expect("month")
    }

    fn customer(name: &str) -> Card {
        let mut card = Card::new();
        card.basic.name = Some(name.into());
        card.classification.stage = Some(TradeStage::Current);
        card
    }

    fn prospect(name: &str) -> Card {
        let mut card = customer(name);
        card.classification.stage = Some(TradeStage::Prospect);
        card
    }

    fn visit(card: &mut Card, time: &str) {
        card.add_visit(Visit {
            at: Some(at(time)),
            kind: Some(VisitKind::Visit),
            ..Visit::default()
        });
    }

    fn sale(card: &mut Card, m: &str, yuan: i64) {
        card.sales
            .insert(month(m), Money::yuan(yuan).expect("amount"));
    }

    const TODAY: &str = "2026-12-01";

    fn sched(card: &Card, class: Option<Class>) -> VisitSchedule {
        schedule(card, class, date(TODAY), &VisitSettings::default())
    }

    #[test]
    fn defaults_are_domain_md() {
        let s = VisitSettings::default();
        assert_eq!(s.validate(), Ok(()));
        let days: Vec<u32> = [
            Some(Class::A),
            Some(Class::B),
            Some(Class::C),
            Some(Class::D),
        ]
        .into_iter()
        .map(|c| s.interval_days(c))
        .collect();
        assert_eq!(days, [7, 14, 30, 90]);
        assert_eq!((s.off_plan_after_visits, s.dormant_after_days), (5, 90));
    }

    #[test]
    fn due_and_overdue_by_class() {
        let mut a = customer("上海华东食品有限公司");
        visit(&mut a, "2026-11-23T10:00:00+08:00");
        let s = sched(&a, Some(Class::A));
        assert_eq!(s.last_visit, Some(date("2026-11-23")));
        assert_eq!(s.next_due, date("2026-11-30"));
        assert!(s.due);
        assert_eq!(s.days_overdue, 1);

        // The same visit for a B customer: due on 12-07, not yet.
        let s = sched(&a, Some(Class::B));
        assert_eq!(
            (s.next_due, s.due, s.days_overdue),
            (date("2026-12-07"), false, 0)
        );
        // Unclassified: 30 days.
        assert_eq!(sched(&a, None).next_due, date("2026-12-23"));

        // Due exactly today: due, 0 days overdue.
        let mut c = customer("上海申江贸易有限公司");
        visit(&mut c, "2026-11-01T09:00:00+08:00");
        let s = sched(&c, Some(Class::C));
        assert_eq!(
            (s.next_due, s.due, s.days_overdue),
            (date("2026-12-01"), true, 0)
        );

        // Never visited: due today.
        let s = sched(&customer("浦东新区百货商店"), Some(Class::D));
        assert_eq!((s.last_visit, s.next_due, s.due), (None, date(TODAY), true));
    }

    #[test]
    fn the_last_visit_counts_in_local_time_and_only_up_to_the_date() {
        // 01:30 in Shanghai on 12-01 is 17:30 UTC on 11-30.
        let mut card = customer("徐家汇超市");
        visit(&mut card, "2026-11-24T09:00:00+08:00");
        visit(&mut card, "2026-12-01T01:30:00+08:00");
        assert_eq!(
            sched(&card, Some(Class::A)).last_visit,
            Some(date("2026-12-01"))
        );
        let utc = VisitSettings {
            utc_offset_minutes: 0,
            ..VisitSettings::default()
        };
        let s = schedule(&card, Some(Class::A), date(TODAY), &utc);
        assert_eq!(s.last_visit, Some(date("2026-11-30")));

        // A visit logged after the date (a clock ahead) is not counted.
        visit(&mut card, "2026-12-05T10:00:00+08:00");
        let s = sched(&card, Some(Class::A));
        assert_eq!(s.last_visit, Some(date("2026-12-01")));
        // Planned as of 11-28, the 12-01 visit had not happened: due since 12-01.
        let s = schedule(
            &card,
            Some(Class::A),
            date("2026-11-28"),
            &VisitSettings::default(),
        );
        assert_eq!(
            (s.last_visit, s.next_due),
            (Some(date("2026-11-24")), date("2026-12-01"))
        );
    }

    #[test]
    fn calls_do_not_count_and_a_planned_next_visit_comes_first() {
        let mut card = customer("闵行批发部");
        visit(&mut card, "2026-11-10T10:00:00+08:00");
        card.add_visit(Visit {
            at: Some(at("2026-11-28T10:00:00+08:00")),
            kind: Some(VisitKind::Call),
            ..Visit::default()
        });
        let s = sched(&card, Some(Class::B));
        assert_eq!(
            (s.last_visit, s.next_due, s.days_overdue),
            (Some(date("2026-11-10")), date("2026-11-24"), 7)
        );

        // The rep promised to come back on 11-20, before the class's 11-24: that is due.
        card.visits[0].next_visit = Some(date("2026-11-20"));
        assert_eq!(sched(&card, Some(Class::B)).next_due, date("2026-11-20"));
        // A planned date later than the class's interval does not postpone the visit.
        card.visits[0].next_visit = Some(date("2026-12-20"));
        assert_eq!(sched(&card, Some(Class::B)).next_due, date("2026-11-24"));
    }

    fn visited(mut card: Card, times: usize) -> Card {
        for i in 0..times {
            visit(&mut card, &format!("2026-{:02}-05T10:00:00+08:00", 6 + i));
        }
        card
    }

    fn off_plan_names(cards: &[Card]) -> Vec<String> {
        let plan =
            visit_plan(cards, |_| None, date(TODAY), &VisitSettings::default()).expect("plan");
        plan.off_plan.into_iter().map(|o| o.name).collect()
    }

    #[test]
    fn prospects_visited_five_times_without_result_leave_the_plan() {
        let five = visited(prospect("嘉定五金商行"), 5);
        let four = visited(prospect("松江建材店"), 4);
        let mut sold = visited(prospect("青浦食品厂"), 5);
        sale(&mut sold, "2026-06", 8_000); // the month of the first visit
        let mut sold_before = visited(prospect("奉贤日化公司"), 5);
        sale(&mut sold_before, "2026-05", 8_000); // before the first visit: not a result
        let mut won = visited(prospect("金山电器行"), 5);
        won.add_opportunity(Opportunity {
            title: Some("年度供货".into()),
            stage: Some(OppStage::Won),
            stage_since: Some(date("2026-09-01")),
            ..Opportunity::default()
        });
        let mut won_before = visited(prospect("宝山钢材贸易"), 5);
        won_before.add_opportunity(Opportunity {
            stage: Some(OppStage::Won),
            stage_since: Some(date("2026-01-10")),
            ..Opportunity::default()
        });
        let mut won_undated = visited(prospect("长宁文具店"), 5);
        won_undated.add_opportunity(Opportunity {
            stage: Some(OppStage::Won),
            ..Opportunity::default()
        });
        let current = visited(customer("静安百货公司"), 6);
        let mut unstaged = visited(Card::new(), 5);
        unstaged.basic.name = Some("虹口便利店".into());
        let mut negotiating = visited(prospect("杨浦机电公司"), 6);
        negotiating.add_opportunity(Opportunity {
            stage: Some(OppStage::Negotiation),
            ..Opportunity::default()
        });

        let cards = [
            five,
            four,
            sold,
            sold_before,
            won,
            won_before,
            won_undated,
            current,
            unstaged,
            negotiating,
        ];
        assert_eq!(
            off_plan_names(&cards),
            [
                "嘉定五金商行",
                "奉贤日化公司",
                "宝山钢材贸易",
                "杨浦机电公司",
                "虹口便利店"
            ]
        );

        let plan = visit_plan(
            &cards,
            |_| Some(Class::A),
            date(TODAY),
            &VisitSettings::default(),
        )
        .expect("plan");
        let jiading = plan
            .off_plan
            .iter()
            .find(|o| o.name == "嘉定五金商行")
            .expect("listed");
        assert_eq!(
            (jiading.visits, jiading.first_visit, jiading.last_visit),
            (5, date("2026-06-05"), date("2026-10-05"))
        );
        // Off the plan means not due, however overdue.
        assert!(
            plan.due
                .iter()
                .all(|d| !plan.off_plan.iter().any(|o| o.card == d.card))
        );
        assert_eq!(
            plan.due.len() + plan.not_due + plan.off_plan.len(),
            cards.len()
        );

        // The threshold is a setting.
        let strict = VisitSettings {
            off_plan_after_visits: 4,
            ..VisitSettings::default()
        };
        let plan = visit_plan(&cards, |_| None, date(TODAY), &strict).expect("plan");
        assert!(plan.off_plan.iter().any(|o| o.name == "松江建材店"));
    }

    #[test]
    fn dormant_customers_are_listed() {
        // Last visit 91 days before 12-01 (09-01), no order since July: dormant.
        let mut quiet = customer("上海华东食品有限公司");
        visit(&mut quiet, "2026-09-01T10:00:00+08:00");
        sale(&mut quiet, "2026-07", 50_000);
        // Exactly 90 days (09-02): dormant (for N days or more).
        let mut ninety = customer("上海申江贸易有限公司");
        visit(&mut ninety, "2026-09-02T10:00:00+08:00");
        // 89 days: not yet.
        let mut eighty_nine = customer("浦东新区百货商店");
        visit(&mut eighty_nine, "2026-09-03T10:00:00+08:00");
        // Visited long ago but ordered in September (ends 09-30, 62 days): not dormant.
        let mut ordering = customer("徐家汇超市");
        visit(&mut ordering, "2026-03-01T10:00:00+08:00");
        sale(&mut ordering, "2026-09", 1_000);
        // Ordered in August only (ends 08-31, 92 days): dormant; a zero month is no order.
        let mut august = customer("闵行批发部");
        sale(&mut august, "2026-08", 1_000);
        sale(&mut august, "2026-10", 0);
        // A customer with no activity at all: dormant, never active.
        let never = customer("崇明农场直销店");
        // A prospect never visited is due, not dormant.
        let new_prospect = prospect("嘉定五金商行");
        // Only calls since the summer: calls are not visits.
        let mut calls = customer("松江建材店");
        visit(&mut calls, "2026-08-01T10:00:00+08:00");
        calls.add_visit(Visit {
            at: Some(at("2026-11-30T10:00:00+08:00")),
            kind: Some(VisitKind::Call),
            ..Visit::default()
        });

        let cards = [
            quiet,
            ninety,
            eighty_nine,
            ordering,
            august,
            never,
            new_prospect,
            calls,
        ];
        let plan = visit_plan(
            &cards,
            |_| Some(Class::C),
            date(TODAY),
            &VisitSettings::default(),
        )
        .expect("plan");
        let listed: Vec<(&str, Option<u32>)> = plan
            .dormant
            .iter()
            .map(|d| (d.name.as_str(), d.days_inactive))
            .collect();
        assert_eq!(
            listed,
            [
                ("崇明农场直销店", None),
                ("松江建材店", Some(122)),
                ("闵行批发部", Some(92)),
                ("上海华东食品有限公司", Some(91)),
                ("上海申江贸易有限公司", Some(90)),
            ]
        );
        let first = &plan.dormant[3];
        assert_eq!(first.last_visit, Some(date("2026-09-01")));
        assert_eq!(first.last_order, Some(month("2026-07")));
        let august = &plan.dormant[2];
        assert_eq!(august.last_order, Some(month("2026-08")));

        let longer = VisitSettings {
            dormant_after_days: 120,
            ..VisitSettings::default()
        };
        let plan = visit_plan(&cards, |_| None, date(TODAY), &longer).expect("plan");
        assert_eq!(plan.dormant.len(), 2);
    }

    #[test]
    fn bad_settings_are_refused_with_a_reason() {
        let cases = [
            (
                VisitSettings {
                    interval_days_b: 0,
                    ..VisitSettings::default()
                },
                "class B must be 1 to 3660 days, not 0",
            ),
            (
                VisitSettings {
                    interval_days_unclassified: 4_000,
                    ..VisitSettings::default()
                },
                "class unclassified",
            ),
            (
                VisitSettings {
                    off_plan_after_visits: 0,
                    ..VisitSettings::default()
                },
                "leaves the plan",
            ),
            (
                VisitSettings {
                    dormant_after_days: 0,
                    ..VisitSettings::default()
                },
                "dormant",
            ),
            (
                VisitSettings {
                    utc_offset_minutes: 15 * 60,
                    ..VisitSettings::default()
                },
                "UTC offset",
            ),
            (
                VisitSettings {
                    counted_kinds: vec![],
                    ..VisitSettings::default()
                },
                "at least one kind",
            ),
        ];
        for (settings, message) in cases {
            let err = settings.validate().expect_err("refused");
            assert!(err.to_string().contains(message), "{err}");
            assert!(visit_plan(&[], |_| None, date(TODAY), &settings).is_err());
        }
        // A negative frequency cannot be read at all.
        assert!(serde_json::from_str::<VisitSettings>(r#"{"interval_days_a":-7}"#).is_err());
        let partial: VisitSettings =
            serde_json::from_str(r#"{"interval_days_a":3}"#).expect("json");
        assert_eq!((partial.interval_days_a, partial.interval_days_b), (3, 14));
    }

    fn located(mut card: Card, area: &str, lat: f64, lon: f64) -> Card {
        card.location = Location {
            lat: Some(Latitude::new(lat).expect("lat")),
            lon: Some(Longitude::new(lon).expect("lon")),
            route_area: Some(area.into()),
            route_order: None,
        };
        card
    }

    #[test]
    fn the_day_plan_routes_the_due_cards() {
        let mut overdue = located(customer("上海华东食品有限公司"), "浦东", 31.2200, 121.5400);
        visit(&mut overdue, "2026-11-01T10:00:00+08:00");
        let never = located(customer("浦东新区百货商店"), "浦东", 31.2500, 121.5800);
        let mut not_due = located(customer("徐家汇超市"), "徐汇", 31.1950, 121.4380);
        visit(&mut not_due, "2026-11-30T10:00:00+08:00");
        let mut nowhere = customer("崇明农场直销店");
        visit(&mut nowhere, "2026-10-01T10:00:00+08:00");
        let dropped = located(
            visited(prospect("嘉定五金商行"), 5),
            "嘉定",
            31.3800,
            121.2500,
        );
        let cards = [overdue, never, not_due, nowhere, dropped];

        let office = GeoPoint::new(31.2304, 121.4737).expect("office");
        let plan = plan_day(
            &cards,
            |_| Some(Class::A),
            date(TODAY),
            office,
            &VisitSettings::default(),
            &RouteSettings::default(),
        )
        .expect("plan");
        let due: Vec<(&str, u32)> = plan
            .visits
            .due
            .iter()
            .map(|d| (d.name.as_str(), d.days_overdue))
            .collect();
        assert_eq!(
            due,
            [
                ("崇明农场直销店", 54),
                ("上海华东食品有限公司", 23),
                ("浦东新区百货商店", 0)
            ]
        );
        let routed: Vec<&str> = plan.route.stops().map(|s| s.stop.name.as_str()).collect();
        assert_eq!(routed.len(), 2);
        assert!(routed.contains(&"上海华东食品有限公司") && routed.contains(&"浦东新区百货商店"));
        assert_eq!(plan.route.unrouted.len(), 1);
        assert_eq!(plan.route.unrouted[0].stop.name, "崇明农场直销店");
        assert_eq!(plan.route.groups.len(), 1);
        assert_eq!(plan.route.groups[0].area.as_deref(), Some("浦东"));
        assert!(plan.route.length_m > 0.0);

        let bad = RouteSettings {
            max_stops: 0,
            ..RouteSettings::default()
        };
        let err = plan_day(
            &cards,
            |_| None,
            date(TODAY),
            office,
            &VisitSettings::default(),
            &bad,
        )
        .expect_err("refused");
        assert!(matches!(err, PlanError::Route(RouteError::Settings(_))));
        serde_json::to_string(&plan).expect("serializable");
    }

    #[test]
    fn the_plan_follows_the_abc_classes() {
        use crate::analysis::abc::{AbcSettings, classify, effective_class};
        // 80% / 15% / 5% of sales over September to November: A, B, C. All three were
        // visited on 11-21: only the A customer (weekly) is due on 12-01.
        let mut cards = Vec::new();
        for (name, yuan) in [
            ("上海华东食品有限公司", 80_000),
            ("上海申江贸易有限公司", 15_000),
            ("浦东新区百货商店", 5_000),
        ] {
            let mut card = customer(name);
            for m in ["2026-09", "2026-10", "2026-11"] {
                sale(&mut card, m, yuan);
            }
            visit(&mut card, "2026-11-21T10:00:00+08:00");
            cards.push(card);
        }
        let abc = AbcSettings::default();
        let report = classify(&cards, date(TODAY), &abc);
        let classes: std::collections::BTreeMap<CardId, Class> = report
            .rows
            .iter()
            .map(|row| (row.card.clone(), effective_class(row, abc.source)))
            .collect();
        let plan = visit_plan(
            &cards,
            |card| classes.get(&card.id).copied(),
            date(TODAY),
            &VisitSettings::default(),
        )
        .expect("plan");
        let due: Vec<(&str, Option<Class>, u32)> = plan
            .due
            .iter()
            .map(|d| (d.name.as_str(), d.class, d.days_overdue))
            .collect();
        assert_eq!(due, [("上海华东食品有限公司", Some(Class::A), 3)]);
        assert_eq!((plan.not_due, plan.dormant.len()), (2, 0));
    }

    /// splitmix64, for generated plans.
    fn next(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[test]
    fn every_card_is_accounted_for_in_generated_plans() {
        let mut state = 42;
        let today = date(TODAY);
        let office = GeoPoint::new(31.2304, 121.4737).expect("office");
        for round in 0..30 {
            let cards: Vec<Card> = (0..40)
                .map(|i| {
                    let mut card = match next(&mut state) % 3 {
                        0 => prospect(&format!("潜在客户{round}-{i}")),
                        1 => customer(&format!("现有客户{round}-{i}")),
                        _ => {
                            let mut c = Card::new();
                            c.basic.name = Some(format!("客户{round}-{i}"));
                            c
                        }
                    };
                    for _ in 0..next(&mut state) % 8 {
                        let days_ago = next(&mut state) % 200;
                        let when = today - chrono::Duration::days(days_ago as i64 - 3);
                        visit(&mut card, &format!("{when}T10:00:00+08:00"));
                    }
                    if next(&mut state).is_multiple_of(2) {
                        let lat = 31.0 + (next(&mut state) % 4000) as f64 / 10_000.0;
                        let lon = 121.2 + (next(&mut state) % 5000) as f64 / 10_000.0;
                        card = located(card, ["浦东", "徐汇", "静安"][i % 3], lat, lon);
                    }
                    if next(&mut state).is_multiple_of(4) {
                        sale(&mut card, "2026-10", 100);
                    }
                    card
                })
                .collect();
            let class = |c: &Card| {
                [
                    None,
                    Some(Class::A),
                    Some(Class::B),
                    Some(Class::C),
                    Some(Class::D),
                ][c.visits.len() % 5]
            };
            let plan = plan_day(
                &cards,
                class,
                today,
                office,
                &VisitSettings::default(),
                &RouteSettings::default(),
            )
            .expect("plan");
            let v = &plan.visits;
            assert_eq!(v.due.len() + v.not_due + v.off_plan.len(), cards.len());
            assert_eq!(
                plan.route.stops().count() + plan.route.unrouted.len(),
                v.due.len()
            );
            for entry in &v.due {
                let card = cards.iter().find(|c| c.id == entry.card).expect("card");
                let again = schedule(card, class(card), today, &VisitSettings::default());
                assert_eq!(&again, entry);
                assert!(entry.next_due <= today);
                assert!(entry.last_visit.is_none_or(|l| l <= today));
            }
            assert!(
                v.due
                    .windows(2)
                    .all(|w| w[0].days_overdue >= w[1].days_overdue)
            );
        }
    }
}
