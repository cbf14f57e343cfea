//! Handoff: when a territory moved from rep A to rep B, A's late edits within the grace
//! period are accepted and marked `late`; past it they are refused and held for a manager.

use crate::error::{Error, Result};
use crate::storage::{Device, HeldChanges, NewChange, Storage};

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
/// owner gets anything but a plain `access.denied`, and only for their late edits.
pub(super) fn handoff_of(
    storage: &dyn Storage,
    device: &Device,
    territory: &str,
    grace_secs: i64,
    now: i64,
) -> Result<Handoff> {
    match storage.territory_lost_at(&device.person_id, territory)? {
        Some(at) if now.saturating_sub(at) <= grace_secs => Ok(Handoff::Late),
        Some(_) => Ok(Handoff::Expired),
        None => Err(Error::AccessDenied),
    }
}

/// Keeps refused late edits for a manager (once, however often the device retries).
pub(super) fn hold(
    storage: &dyn Storage,
    device: &Device,
    card_id: &str,
    changes: &[NewChange],
    now: i64,
) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let bytes: Vec<u8> = changes
        .iter()
        .flat_map(|c| c.bytes.iter().copied())
        .collect();
    if storage
        .held_changes(card_id)?
        .iter()
        .any(|h| h.bytes == bytes)
    {
        return Ok(());
    }
    tracing::info!(device = %device.id, changes = changes.len(), "late edits held for review");
    storage.hold_changes(&HeldChanges {
        card_id: card_id.to_owned(),
        device_id: device.id.clone(),
        person_id: device.person_id.clone(),
        bytes,
        received_at: now,
    })
}
