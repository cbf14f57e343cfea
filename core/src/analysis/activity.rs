//! Activity reports (日/周/月报表, DOMAIN.md "Managers review what reps synced"): what a
//! change counts as, and how counts fall into a rep's days, weeks and months.
//!
//! The one definition of each count, used by the device's report (`Store::activity`)
//! and the server's (its change rows are classified by [`classify`] at commit), so a
//! phone and the dashboard give the same numbers for the same cards:
//!
//! - **visits**: entries added to the visit log;
//! - **new customers**: cards created (the change with no dependency, the card's root);
//! - **cards updated**: cards changed by a change that did not create them, each card
//!   once per bucket;
//! - **opportunities moved**: opportunity stages replaced (a new opportunity's first stage
//!   is no move);
//! - **contracts**: opportunities entering 签订合同 or 赢单 from any other stage (or created
//!   there), so a deal counts once when it is signed, not again when it is won (nor when
//!   it is won while a concurrent move to contract is still unresolved);
//! - **orders**: months of sales figures added (`sales.<YYYY-MM>` where there was none);
//!   correcting a month's figure is no new order;
//! - **changes**: every change.
//!
//! A change counts for its author (changes without one count for nobody) at its device
//! time, in the local calendar given as an offset from UTC: days, weeks from Monday,
//! calendar months. The server bounds a device time that is more than a day ahead of when
//! it received the change (`receive_time`), which a phone cannot know; with clocks within
//! a day of true time the two agree.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::history::ChangeSummary;
use crate::value::OppStage;

/// The longest range a report covers, in days.
pub const MAX_RANGE_DAYS: i64 = 731;

/// Bucket size of an activity report.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Calendar days.
    #[default]
    Day,
    /// Weeks from Monday.
    Week,
    /// Calendar months.
    Month,
}

impl Period {
    /// The period's code (`day`, `week`, `month`).
    pub fn code(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    /// Parses a code.
    pub fn parse(code: &str) -> Option<Period> {
        match code {
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            _ => None,
        }
    }
}

/// What one change counts as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeActivity {
    /// Visits it logged.
    pub visits: u32,
    /// It created the card.
    pub new_customer: bool,
    /// It changed a card it did not create (counts the card as updated).
    pub edited: bool,
    /// Opportunity stages it moved.
    pub opportunities_moved: u32,
    /// Opportunities it signed (entering contract or won from another stage).
    pub contracts: u32,
    /// Months of sales it added.
    pub orders: u32,
}

fn signed(stage: OppStage) -> bool {
    matches!(stage, OppStage::Contract | OppStage::Won)
}

/// What a change counts as in activity reports (see the module docs).
pub fn classify(summary: &ChangeSummary) -> ChangeActivity {
    let contracts = summary
        .stages_entered
        .iter()
        .filter(|e| signed(e.stage) && !e.from.iter().any(|s| signed(*s)))
        .count();
    ChangeActivity {
        visits: summary.visits_logged,
        new_customer: summary.created,
        edited: !summary.created,
        opportunities_moved: summary.stages_moved,
        contracts: u32::try_from(contracts).unwrap_or(u32::MAX),
        orders: summary.sales_months_added,
    }
}

/// Counts of one bucket (or of a whole range).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityCounts {
    /// Visits logged.
    pub visits: u64,
    /// New customers: cards created.
    pub new_customers: u64,
    /// Existing cards changed (each card once per bucket).
    pub cards_updated: u64,
    /// Opportunity stages moved.
    pub opportunities_moved: u64,
    /// Contracts signed: opportunities entering contract or won from another stage.
    pub contracts: u64,
    /// Orders: months of sales figures added.
    pub orders: u64,
    /// Changes made.
    pub changes: u64,
}

impl ActivityCounts {
    /// Adds another bucket's counts (cards updated: summed, each card once per bucket).
    pub fn add(&mut self, other: &ActivityCounts) {
        self.visits += other.visits;
        self.new_customers += other.new_customers;
        self.cards_updated += other.cards_updated;
        self.opportunities_moved += other.opportunities_moved;
        self.contracts += other.contracts;
        self.orders += other.orders;
        self.changes += other.changes;
    }
}

/// The local calendar day of a moment, `utc_offset_minutes` east of UTC.
pub fn local_date(at: DateTime<Utc>, utc_offset_minutes: i32) -> NaiveDate {
    (at + chrono::Duration::minutes(i64::from(utc_offset_minutes))).date_naive()
}

/// The moment a local day starts (its midnight, `utc_offset_minutes` east of UTC).
pub fn day_start(date: NaiveDate, utc_offset_minutes: i32) -> DateTime<Utc> {
    date.and_time(chrono::NaiveTime::MIN).and_utc()
        - chrono::Duration::minutes(i64::from(utc_offset_minutes))
}

/// The first day of the bucket holding `date`: the day, the Monday on or before it, or
/// the first of its month.
pub fn bucket_start(period: Period, date: NaiveDate) -> NaiveDate {
    match period {
        Period::Day => date,
        Period::Week => date
            .checked_sub_days(Days::new(u64::from(date.weekday().num_days_from_monday())))
            .unwrap_or(date),
        Period::Month => date.with_day(1).unwrap_or(date),
    }
}

/// The first day of the bucket after the one starting on `start`.
pub fn next_bucket(period: Period, start: NaiveDate) -> NaiveDate {
    let next = match period {
        Period::Day => start.checked_add_days(Days::new(1)),
        Period::Week => start.checked_add_days(Days::new(7)),
        Period::Month => start.checked_add_months(Months::new(1)),
    };
    next.unwrap_or(NaiveDate::MAX)
}

/// Why an activity range was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivityRangeError {
    /// The range ends before it starts.
    #[error("from is after to")]
    Reversed,
    /// The range is too long.
    #[error("a report covers at most {MAX_RANGE_DAYS} days")]
    TooLong,
    /// The offset is no time zone's.
    #[error("utc_offset_minutes is between -720 and 840")]
    Offset,
}

/// Checks a range and an offset as every report does.
pub fn check_range(
    from: NaiveDate,
    to: NaiveDate,
    utc_offset_minutes: i32,
) -> Result<(), ActivityRangeError> {
    if !(-720..=840).contains(&utc_offset_minutes) {
        return Err(ActivityRangeError::Offset);
    }
    if from > to {
        return Err(ActivityRangeError::Reversed);
    }
    if (to - from).num_days() > MAX_RANGE_DAYS {
        return Err(ActivityRangeError::TooLong);
    }
    Ok(())
}

/// The first day of every bucket that meets `from..=to`, oldest first.
pub fn bucket_starts(period: Period, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut d = bucket_start(period, from);
    while d <= to {
        out.push(d);
        d = next_bucket(period, d);
    }
    out
}

/// One change as a report counts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityEvent {
    /// Its author (shared: a year of a team's changes names a handful of reps).
    pub rep: Arc<str>,
    /// The card it changed (shared: about twenty changes a card).
    pub card: Arc<str>,
    /// Its time.
    pub at: DateTime<Utc>,
    /// What it counts as.
    pub activity: ChangeActivity,
}

/// One bucket of a rep's activity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityBucket {
    /// The bucket's first day (local).
    pub start: NaiveDate,
    /// Its counts.
    #[serde(flatten)]
    pub counts: ActivityCounts,
}

/// One rep's activity over a range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepActivity {
    /// The rep's id.
    pub rep: String,
    /// Every bucket of the range, empty ones included, oldest first.
    pub buckets: Vec<ActivityBucket>,
    /// The sums over the range (cards updated: each card once per bucket, summed).
    pub totals: ActivityCounts,
}

/// An activity report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityReport {
    /// Bucket size.
    pub period: Period,
    /// First day (local), inclusive.
    pub from: NaiveDate,
    /// Last day (local), inclusive.
    pub to: NaiveDate,
    /// The local calendar's offset from UTC, minutes.
    pub utc_offset_minutes: i32,
    /// Every rep with a change in the range, in id order.
    pub reps: Vec<RepActivity>,
}

/// The activity of every rep in `events` over `from..=to` (local days), in buckets of
/// `period`. Buckets start on their first day even when `from` is later in it, but count
/// only changes inside the range.
///
/// A year of a team's changes is a few hundred thousand events, so the work per event is
/// kept to integer arithmetic: the local day is a division of the change's time, a table
/// gives its bucket, reps are numbered once (events come in runs of one author) and each
/// (rep, bucket, card) edit is one packed key, counted after one sort.
pub fn report<'a>(
    events: impl IntoIterator<Item = &'a ActivityEvent>,
    period: Period,
    from: NaiveDate,
    to: NaiveDate,
    utc_offset_minutes: i32,
) -> Result<ActivityReport, ActivityRangeError> {
    check_range(from, to, utc_offset_minutes)?;
    let starts = bucket_starts(period, from, to);
    // The bucket of each day of the range (at most MAX_RANGE_DAYS + 1 of them).
    let days = usize::try_from((to - from).num_days() + 1).unwrap_or(0);
    let mut bucket_of_day = Vec::with_capacity(days);
    let mut bucket = 0usize;
    let mut day = from;
    for _ in 0..days {
        while bucket + 1 < starts.len() && starts[bucket + 1] <= day {
            bucket += 1;
        }
        bucket_of_day.push(bucket);
        day = day.succ_opt().unwrap_or(day);
    }
    let range_start = day_start(from, utc_offset_minutes).timestamp();
    let buckets = starts.len();

    let mut rep_names: Vec<&str> = Vec::new();
    let mut rep_index: HashMap<&str, usize> = HashMap::new();
    let mut last_rep: Option<(&str, usize)> = None;
    let mut card_index: HashMap<&str, usize> = HashMap::new();
    let mut last_card: Option<(&str, usize)> = None;
    // Counts by rep × bucket; grows by one row of buckets per new rep.
    let mut counts: Vec<ActivityCounts> = Vec::new();
    // (rep, bucket, card) of every edit, deduplicated after a sort.
    let mut edits: Vec<(usize, usize, usize)> = Vec::new();
    for e in events {
        let offset = e.at.timestamp() - range_start;
        let Ok(day) = usize::try_from(offset.div_euclid(86_400)) else {
            continue; // before the range
        };
        let Some(&bucket) = bucket_of_day.get(day) else {
            continue; // after it
        };
        let rep = match last_rep {
            Some((name, i)) if name == &*e.rep => i,
            _ => {
                let i = *rep_index.entry(&e.rep).or_insert_with(|| {
                    rep_names.push(&e.rep);
                    counts.resize(counts.len() + buckets, ActivityCounts::default());
                    rep_names.len() - 1
                });
                last_rep = Some((&e.rep, i));
                i
            }
        };
        let a = &e.activity;
        let c = &mut counts[rep * buckets + bucket];
        c.changes += 1;
        c.visits += u64::from(a.visits);
        c.new_customers += u64::from(a.new_customer);
        c.opportunities_moved += u64::from(a.opportunities_moved);
        c.contracts += u64::from(a.contracts);
        c.orders += u64::from(a.orders);
        if a.edited {
            let card = match last_card {
                Some((id, i)) if id == &*e.card => i,
                _ => {
                    let next = card_index.len();
                    let i = *card_index.entry(&e.card).or_insert(next);
                    last_card = Some((&e.card, i));
                    i
                }
            };
            edits.push((rep, bucket, card));
        }
    }
    edits.sort_unstable();
    edits.dedup();
    for (rep, bucket, _) in edits {
        counts[rep * buckets + bucket].cards_updated += 1;
    }
    let mut order: Vec<usize> = (0..rep_names.len()).collect();
    order.sort_unstable_by_key(|&i| rep_names[i]);
    let reps = order
        .into_iter()
        .map(|rep| {
            let mut totals = ActivityCounts::default();
            let buckets = starts
                .iter()
                .zip(&counts[rep * buckets..(rep + 1) * buckets])
                .map(|(s, counts)| {
                    totals.add(counts);
                    ActivityBucket {
                        start: *s,
                        counts: counts.clone(),
                    }
                })
                .collect();
            RepActivity {
                rep: rep_names[rep].to_owned(),
                buckets,
                totals,
            }
        })
        .collect();
    Ok(ActivityReport {
        period,
        from,
        to,
        utc_offset_minutes,
        reps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{HistoryEntry, StageEntered};
    use chrono::TimeZone;

    fn summary(created: bool) -> ChangeSummary {
        ChangeSummary {
            entry: HistoryEntry {
                hash: String::new(),
                rep: Some("zhang.wei".into()),
                device: String::new(),
                device_name: None,
                device_role: None,
                person_name: None,
                time: None,
                fields: vec![],
            },
            created,
            visits_logged: 0,
            stages_moved: 0,
            stages_entered: vec![],
            sales_months_added: 0,
        }
    }

    fn entered(stage: OppStage, from: Option<OppStage>) -> StageEntered {
        StageEntered {
            opportunity_id: "o".into(),
            stage,
            from: from.into_iter().collect(),
        }
    }

    #[test]
    fn a_deal_counts_as_a_contract_once_when_signed() {
        use OppStage::*;
        let mut s = summary(false);
        s.stages_entered = vec![
            entered(Contract, Some(Negotiation)),
            entered(Won, Some(Contract)),
            entered(Won, Some(SampleTest)),
            entered(Contract, None),
            entered(Lost, Some(Contract)),
            entered(Negotiation, Some(SampleTest)),
            // Won while a concurrent move to contract was unresolved: signed already.
            StageEntered {
                opportunity_id: "o".into(),
                stage: Won,
                from: vec![Negotiation, Contract],
            },
        ];
        s.stages_moved = 6;
        s.sales_months_added = 2;
        let a = classify(&s);
        assert_eq!(
            (a.contracts, a.opportunities_moved, a.orders),
            (3, 6, 2),
            "negotiation→contract, sample test→won and a new one at contract"
        );
        assert!(a.edited && !a.new_customer);
        let created = classify(&summary(true));
        assert!(created.new_customer && !created.edited);
    }

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0)
            .single()
            .expect("time")
    }

    fn date(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).expect("date")
    }

    fn event(rep: &str, card: &str, at: DateTime<Utc>, a: ChangeActivity) -> ActivityEvent {
        ActivityEvent {
            rep: rep.into(),
            card: card.into(),
            at,
            activity: a,
        }
    }

    #[test]
    fn changes_fall_into_local_days_weeks_and_months() {
        let edit = ChangeActivity {
            edited: true,
            ..Default::default()
        };
        let visit = ChangeActivity {
            visits: 1,
            edited: true,
            ..Default::default()
        };
        let events = vec![
            // 2026-11-29 17:00 UTC is Monday 11-30 01:00 in China time.
            event("zhang.wei", "c1", at(29, 17), visit),
            event("zhang.wei", "c1", at(30, 2), edit),
            event("zhang.wei", "c2", at(30, 3), edit),
            // Sunday 11-29 in China: the week before.
            event("zhang.wei", "c1", at(29, 15), edit),
            event(
                "li.na",
                "c3",
                at(10, 0),
                ChangeActivity {
                    new_customer: true,
                    ..Default::default()
                },
            ),
        ];
        let r = report(&events, Period::Week, date(11, 23), date(12, 6), 480).expect("report");
        let zhang = r.reps.iter().find(|r| r.rep == "zhang.wei").expect("zhang");
        let weeks: Vec<(NaiveDate, u64, u64, u64)> = zhang
            .buckets
            .iter()
            .map(|b| {
                (
                    b.start,
                    b.counts.changes,
                    b.counts.visits,
                    b.counts.cards_updated,
                )
            })
            .collect();
        assert_eq!(
            weeks,
            vec![(date(11, 23), 1, 0, 1), (date(11, 30), 3, 1, 2)],
            "c1 counts once in the week it was changed twice"
        );
        assert_eq!(zhang.totals.cards_updated, 3);
        assert_eq!(r.reps.len(), 1, "li.na's change is before the range");

        // In UTC the late-evening visit is still Sunday.
        let utc = report(&events, Period::Day, date(11, 29), date(11, 30), 0).expect("report");
        let days: Vec<u64> = utc.reps[0]
            .buckets
            .iter()
            .map(|b| b.counts.changes)
            .collect();
        assert_eq!(days, vec![2, 2]);

        let months =
            report(&events, Period::Month, date(11, 1), date(11, 30), 480).expect("report");
        let li = &months.reps[0];
        assert_eq!((li.rep.as_str(), li.buckets.len()), ("li.na", 1));
        assert_eq!(li.totals.new_customers, 1);
        assert_eq!(li.totals.cards_updated, 0, "creating a card is no update");
    }

    #[test]
    fn ranges_that_make_no_report_are_refused() {
        assert_eq!(
            report(&[], Period::Day, date(12, 2), date(12, 1), 480),
            Err(ActivityRangeError::Reversed)
        );
        assert_eq!(
            report(
                &[],
                Period::Day,
                date(1, 1),
                date(1, 1) + Days::new(800),
                480
            ),
            Err(ActivityRangeError::TooLong)
        );
        assert_eq!(
            report(&[], Period::Day, date(1, 1), date(1, 2), 900),
            Err(ActivityRangeError::Offset)
        );
        assert_eq!(
            bucket_starts(Period::Month, date(1, 31), date(3, 1)).len(),
            3
        );
        assert_eq!(
            day_start(date(12, 1), 480),
            Utc.with_ymd_and_hms(2026, 11, 30, 16, 0, 0)
                .single()
                .expect("t")
        );
    }

    /// The definition written the plain way: every event's local day and bucket through
    /// chrono, counts in an ordered map, each (rep, bucket, card) edit in a set.
    fn reference(
        events: &[ActivityEvent],
        period: Period,
        from: NaiveDate,
        to: NaiveDate,
        offset: i32,
    ) -> Vec<(String, Vec<(NaiveDate, ActivityCounts)>)> {
        use std::collections::{BTreeMap, BTreeSet};
        let mut counts: BTreeMap<(String, NaiveDate), ActivityCounts> = BTreeMap::new();
        let mut updated = BTreeSet::new();
        for e in events {
            let day = local_date(e.at, offset);
            if day < from || day > to {
                continue;
            }
            let start = bucket_start(period, day);
            let c = counts.entry((e.rep.to_string(), start)).or_default();
            c.changes += 1;
            c.visits += u64::from(e.activity.visits);
            c.new_customers += u64::from(e.activity.new_customer);
            c.opportunities_moved += u64::from(e.activity.opportunities_moved);
            c.contracts += u64::from(e.activity.contracts);
            c.orders += u64::from(e.activity.orders);
            if e.activity.edited && updated.insert((e.rep.to_string(), start, e.card.to_string())) {
                c.cards_updated += 1;
            }
        }
        let reps: BTreeSet<String> = counts.keys().map(|(r, _)| r.clone()).collect();
        reps.into_iter()
            .map(|rep| {
                let buckets = bucket_starts(period, from, to)
                    .into_iter()
                    .map(|s| (s, counts.remove(&(rep.clone(), s)).unwrap_or_default()))
                    .collect();
                (rep, buckets)
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn the_report_counts_as_its_definition(
            raw in proptest::collection::vec(
                (0u8..4, 0u8..12, -3_000_000i64..40_000_000, 0u32..3, proptest::bool::ANY, 0u32..2),
                0..200,
            ),
            period in proptest::sample::select(vec![Period::Day, Period::Week, Period::Month]),
            from_day in 0i64..300,
            len in 0i64..400,
            offset in proptest::sample::select(vec![-720, -300, 0, 330, 480, 840]),
        ) {
            let reps = ["张伟", "李娜", "王芳", "zhao.lei"];
            let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("t");
            let events: Vec<ActivityEvent> = raw
                .iter()
                .map(|&(rep, card, secs, visits, created, orders)| ActivityEvent {
                    rep: reps[usize::from(rep)].into(),
                    card: format!("card-{card}").into(),
                    at: base + chrono::Duration::seconds(secs),
                    activity: ChangeActivity {
                        visits,
                        new_customer: created,
                        edited: !created,
                        opportunities_moved: orders,
                        contracts: visits % 2,
                        orders,
                    },
                })
                .collect();
            let from = date(1, 1) + chrono::Duration::days(from_day);
            let to = from + chrono::Duration::days(len);
            let got = report(&events, period, from, to, offset).expect("report");
            let got: Vec<(String, Vec<(NaiveDate, ActivityCounts)>)> = got
                .reps
                .into_iter()
                .map(|r| (r.rep, r.buckets.into_iter().map(|b| (b.start, b.counts)).collect()))
                .collect();
            proptest::prop_assert_eq!(got, reference(&events, period, from, to, offset));
        }
    }
}
