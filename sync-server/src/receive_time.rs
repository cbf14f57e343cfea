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
use crate::projection::{VisitTimes, earlier_replacements, has_untrusted_visit, projection_with};
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
) -> Result<String> {
    let mut times = VisitTimes::received(received_at, CLOCK_SKEW_TOLERANCE_SECS);
    if has_untrusted_visit(doc, times.trusted_until_ms) {
        if let Some(previous) = storage.projection(card_id)? {
            times.earlier = earlier_replacements(&previous);
        }
        tracing::warn!(
            card = card_id,
            "a visit time is far ahead of the server's clock: the receive time is used"
        );
    }
    projection_with(doc, &times)
}
