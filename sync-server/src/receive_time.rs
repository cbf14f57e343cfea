//! The server's receive time against a device's clock.
//!
//! A device stamps its visits with its own clock; a phone set ten years ahead would make
//! every manager view (and every report built on it) believe the customer was visited
//! in 2036. The server trusts its own clock: a visit time more than
//! [`CLOCK_SKEW_TOLERANCE_SECS`] after the moment the server received it is replaced, in
//! the projection, by that receive time and flagged ([`crate::projection::VisitTimes`]).
//! The change itself is kept as the device wrote it (the log records `received_at` for
//! every change); only what the server derives from it stops trusting the device's clock.

use automerge::Automerge;

use crate::error::Result;
use crate::projection::{
    Projection, VisitTimes, earlier_replacements, has_untrusted_visit, project,
};
use crate::storage::Storage;

/// How far (seconds) a device's time may run ahead of the server's receive time before
/// it is not trusted: a day covers time zones set wrong and clocks a few hours off
/// without a false alarm.
pub const CLOCK_SKEW_TOLERANCE_SECS: i64 = 24 * 3600;

/// The projection of `doc`, written at `received_at` (Unix seconds): visit times further
/// ahead than the tolerance show when the server received them. Visits replaced by an
/// earlier write of the projection keep the time given then, so reading the previous
/// projection is needed (and done) only when the card has such a visit at all.
pub(crate) fn projection_received(
    storage: &dyn Storage,
    card_id: &str,
    doc: &Automerge,
    received_at: i64,
) -> Result<Projection> {
    let mut times = VisitTimes::received(received_at, CLOCK_SKEW_TOLERANCE_SECS);
    let first = project(doc, &times)?;
    if !has_untrusted_visit(&first.view, times.trusted_until_ms) {
        return Ok(first);
    }
    if let Some(previous) = storage.projection(card_id)? {
        times.earlier = earlier_replacements(&previous);
    }
    tracing::warn!(
        card = card_id,
        "a visit time is far ahead of the server's clock: the receive time is used"
    );
    project(doc, &times)
}

/// The time a change counts at: its device time, unless that is missing or further ahead
/// of when the server received it than the tolerance, then the receive time.
pub(crate) fn trusted_time(device_time: Option<i64>, received_at: i64) -> i64 {
    match device_time {
        Some(t) if t <= received_at.saturating_add(CLOCK_SKEW_TOLERANCE_SECS) => t,
        _ => received_at,
    }
}
