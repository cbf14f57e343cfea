//! Re-keying a device: binding a fresh Automerge actor to it.
//!
//! A store copied to a second machine, or restored from a backup, goes on writing with
//! the device's actor, so two stores hand out the same `(actor, seq)` for different
//! changes; the server refuses the second with `sync.actor_reused`. The device then mints
//! a fresh actor and calls `POST /v1/rekey` with it, authenticated by its own token. The
//! old actor stays the device's (its pending changes on other cards remain acceptable, and
//! no other device may take it); the new one is current. Re-keying raises the device's
//! re-key count, which every cursor carries: a cursor issued before the re-key starts a
//! full pass, and from then on the device's pulls include its own changes, since each
//! copy may lack what another pushed under the same device id.

use fieldbook_core::sync::wire::{PROTOCOL_VERSION, RekeyRequest, RekeyResponse};

use crate::error::{Error, Result};
use crate::storage::{Device, Role, Storage};

/// The longest actor id accepted (automerge mints 16 bytes).
const MAX_ACTOR_BYTES: usize = 32;

/// Binds `request.actor` to the calling device.
pub fn rekey(
    storage: &dyn Storage,
    device: &Device,
    request: &RekeyRequest,
    now: i64,
) -> Result<RekeyResponse> {
    if request.protocol != PROTOCOL_VERSION {
        return Err(Error::UnsupportedVersion(request.protocol));
    }
    if device.role == Role::Admin {
        // Administrators' devices hold no cards, so they never write as an actor.
        return Err(Error::AccessDenied);
    }
    if request.actor.is_empty() || request.actor.len() > MAX_ACTOR_BYTES {
        return Err(Error::Invalid(format!(
            "an actor id has 1 to {MAX_ACTOR_BYTES} bytes"
        )));
    }
    let device = storage.rekey_device(&device.id, &request.actor, now)?;
    Ok(RekeyResponse {
        protocol: PROTOCOL_VERSION,
        rekeys: device.rekeys,
    })
}
