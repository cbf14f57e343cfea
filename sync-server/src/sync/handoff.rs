//! Handoff, push side: when a territory moved from rep A to rep B (or a card moved out of
//! A's territory), A's late edits within the grace period are accepted and marked `late`;
//! past it they are refused and held for a manager as a review item, bounded per device.

use crate::error::{Error, Result};
use crate::storage::{Device, HoldRequest, NewChange, Storage};

use super::SyncLimits;

/// Where a push stands with respect to a handoff of the card's territory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Handoff {
    /// The card is in the device's scope (or new).
    None,
    /// The device's person lost the territory within the grace period: accept, mark late.
    Late,
    /// They lost it longer ago: refuse, but keep the changes for a manager.
    Expired,
}

/// Where a push to a card outside the device's scope stands: only the card's previous
/// owner gets anything but a plain `access.denied`, and only for their late edits. The
/// previous owner lost the card either with its whole territory or when the card alone
/// was moved out of a territory they hold; the later loss counts.
pub(super) fn handoff_of(
    storage: &dyn Storage,
    device: &Device,
    card_id: &str,
    territory: &str,
    grace_secs: i64,
    now: i64,
) -> Result<Handoff> {
    let by_territory = storage.territory_lost_at(&device.person_id, territory)?;
    let by_move = storage.card_lost_at(&device.person_id, card_id)?;
    match by_territory.max(by_move) {
        Some(at) if now.saturating_sub(at) <= grace_secs => Ok(Handoff::Late),
        Some(_) => Ok(Handoff::Expired),
        None => Err(Error::AccessDenied),
    }
}

/// Keeps refused late edits for a manager (each change once, however often the device
/// retries); a device past its review bound gets `handoff.review_full` and nothing is kept.
pub(super) fn hold(
    storage: &dyn Storage,
    device: &Device,
    card_id: &str,
    changes: &[NewChange],
    limits: &SyncLimits,
    now: i64,
) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let held = storage.hold_changes(&HoldRequest {
        card_id: card_id.to_owned(),
        device_id: device.id.clone(),
        person_id: device.person_id.clone(),
        changes: changes.to_vec(),
        received_at: now,
        max_items: limits.review_max_items,
        max_bytes: limits.review_max_bytes,
    })?;
    if held.is_some() {
        tracing::info!(device = %device.id, changes = changes.len(), "late edits held for review");
    }
    Ok(())
}
