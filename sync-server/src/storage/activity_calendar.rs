//! The activity report's calendar, shared by the backends: a range cut into its local
//! days, weeks (from Monday) or calendar months, and the rollup's day numbers. Plain
//! arithmetic, no SQL: each backend's `manager` module queries the buckets it is given.

use super::{ActivityRange, Period};

/// The calendar the activity rollup's days follow: China time, UTC+8 (the offset the
/// activity report assumes unless asked for another). The backends' SQL
/// spells it as 28800.
pub(crate) const ROLLUP_UTC_OFFSET_SECS: i64 = 8 * 3_600;
pub(crate) const DAY_SECS: i64 = 86_400;
/// Beyond this many buckets a range is counted in one query rather than one per bucket
/// (the activity report, at most 731 days, never asks for more).
pub(crate) const MAX_QUERIED_BUCKETS: usize = 800;

/// One bucket of a range: its first day (local, `YYYY-MM-DD`) and the part of the range
/// in it (unix seconds, `[from, to)`).
pub(crate) struct Bucket {
    pub(crate) label: String,
    pub(crate) from: i64,
    pub(crate) to: i64,
    /// The part starts on the bucket's first day (not later in it).
    pub(crate) whole_start: bool,
}

/// The range cut at the local calendar's bucket starts, or `None` past
/// [`MAX_QUERIED_BUCKETS`] (or out of the calendar): counted in one query then.
pub(crate) fn buckets(q: &ActivityRange) -> Option<Vec<Bucket>> {
    let offset = q.utc_offset_secs;
    let mut out = Vec::new();
    let mut from = q.from;
    let mut date = date_of(from.checked_add(offset)?.div_euclid(DAY_SECS))?;
    while from < q.to {
        if out.len() >= MAX_QUERIED_BUCKETS {
            return None;
        }
        let (start, next) = bucket_of(q.period, date)?;
        let local_secs = |d| day_of(d)?.checked_mul(DAY_SECS)?.checked_sub(offset);
        let end = local_secs(next)?;
        let to = end.min(q.to);
        out.push(Bucket {
            label: start.format("%Y-%m-%d").to_string(),
            from,
            to,
            whole_start: local_secs(start)? == from,
        });
        from = to;
        date = next;
    }
    Some(out)
}

/// Days since 1970-01-01 as a date, and back.
pub(crate) fn date_of(day: i64) -> Option<chrono::NaiveDate> {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    epoch.checked_add_signed(chrono::TimeDelta::try_days(day)?)
}

pub(crate) fn day_of(date: chrono::NaiveDate) -> Option<i64> {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    Some((date - epoch).num_days())
}

/// The first day of the bucket holding `date`, and the first day of the next bucket.
pub(crate) fn bucket_of(
    period: Period,
    date: chrono::NaiveDate,
) -> Option<(chrono::NaiveDate, chrono::NaiveDate)> {
    use chrono::Datelike;
    let start = match period {
        Period::Day => date,
        Period::Week => date.checked_sub_days(chrono::Days::new(u64::from(
            date.weekday().num_days_from_monday(),
        )))?,
        Period::Month => date.with_day(1)?,
    };
    let next = match period {
        Period::Day => start.checked_add_days(chrono::Days::new(1))?,
        Period::Week => start.checked_add_days(chrono::Days::new(7))?,
        Period::Month => start.checked_add_months(chrono::Months::new(1))?,
    };
    Some((start, next))
}
