//! The sync engine: one [`SyncRequest`] in, one [`SyncResponse`] out.
//!
//! This file runs the request (cursor, scope, pushes page by page, then the pull); the
//! concerns live in their own files: `push` (applying and checking one pushed card, and
//! writing pages of them), `handoff` (late edits after a territory moved), `pull` (what
//! the device receives, paged) and `stored_bytes` (how a card's bytes grow and compact).
//!
//! Plain blocking functions over [`Storage`] and Automerge, called from `spawn_blocking`;
//! no HTTP here, so the engine can be driven directly in tests.
//!
//! # Pushes
//! For each pushed card the server loads its document, applies the bytes with
//! `load_incremental`, and:
//! - bytes that do not decode → refusal `sync.bad_change`;
//! - `get_missing_deps` non-empty (the server lacks a change the push builds on) → the card
//!   goes into `fallback`, and the device runs `automerge::sync` for it (see
//!   [`crate::fallback`]);
//! - every **new** change (one the server did not already hold) must carry an actor bound
//!   to the device (its current one, or one it had before a re-key, see [`crate::rekey`])
//!   and its person as author, or the card is refused with
//!   `auth.actor_mismatch` / `auth.author_mismatch`. Automerge 0.12 stores the author in
//!   an actor's first change of a document only and maps later changes to it through the
//!   actor, so the check is: any author a change carries is the person, and the document's
//!   author for the change's actor is the person;
//! - the card's territory (root key `"territory"`), before and after, must be in the
//!   device's scope, or the card is refused with `access.denied`, whether or not it exists.
//!
//! - a push that changes an existing card's `"territory"` is refused with
//!   `sync.territory_change`: moving cards is a manager operation, not an edit.
//!
//! - a change reusing an `(actor, seq)` the card already holds with another hash (a copied
//!   or restored store) is refused with `sync.actor_reused`: the device re-keys.
//!
//! A refused card stores nothing; other cards of the same request are unaffected.
//!
//! **Cost per pushed card.** The document comes from the [`DocCache`] when it holds the
//! stored version (else `Automerge::load`); only the new changes are decoded and checked;
//! the stored bytes gain the new change chunks and are re-`save()`d only when that tail
//! has grown (see `stored_bytes`); the projection is written in one pass
//! ([`crate::projection`]). The writes of up to 64 pushed cards go to storage in one
//! transaction (`Storage::commit_cards`); a card another writer moved meanwhile is redone
//! alone, and a card pushed twice in one request is written before its second push is
//! applied. An acknowledgement is sent only after the commit that holds the change.
//!
//! **Handoff.** When a territory moves from rep A to rep B, A's edits to its cards that
//! reach the server within the grace period (`Config::handoff_grace_secs`, 7 days by
//! default) are accepted, marked `late` in the log, and reach B like any change. Past the
//! grace period they are refused with `access.handoff_expired` and kept in storage
//! (`held_changes`) for a manager to review: never silently dropped. Anyone else gets a
//! plain `access.denied`.
//!
//! **Changes received by file exchange.** A device may hold changes it received from another
//! device outside the server (a file, Bluetooth). Those carry the other device's actor, so
//! when they are new to the server they are refused with `auth.actor_mismatch`: the server
//! accepts a change only from the device that made it. Once that device syncs them, they are
//! known and the relaying device's push passes (known changes are not re-checked). We chose
//! this over per-change device signatures: it needs no key management on phones, and a
//! relayed change is never lost, only delayed until its own device syncs.
//!
//! # Pulls
//! After the pushes, the response carries every card in the device's scope with log entries
//! after the cursor from *other* devices: the concatenated change bytes, or a compacted
//! snapshot when the device cannot have the card (first sync, card created after the
//! cursor, territory newly in scope). Cards whose territory left the device's scope since
//! the cursor are listed in `revoked`. Items are ordered by `(position, card id)` and paged
//! by a byte budget; a paged pass keeps its base position and remembers the last item
//! delivered, so a sync can stop anywhere and resume without starting over.

mod card_commit;
mod handoff;
mod pull;
mod push;
mod stored_bytes;

use std::collections::HashSet;

use fieldbook_core::sync::wire::{
    ActorInfo, AssignmentRecord, CardAck, CardRefusal, PROTOCOL_VERSION, SettingsPayload,
    SyncRequest, SyncResponse,
};

use crate::auth::read_cursor;
use crate::cache::DocCache;
use crate::error::{Error, Result};
use crate::storage::{Device, Role, ServerIdentity, Storage};

pub(crate) use card_commit::{CommitBy, card_commit, new_changes};
use pull::pull;
use push::{PushOutcome, apply_page};
pub(crate) use push::{
    Writer, keep_committed, load_stored, new_changes_checked, root_string, take_or_load,
    validate_card_id,
};
pub(crate) use stored_bytes::stored_bytes;

/// How many pushed cards are written per storage transaction (and held in memory, applied
/// but not yet written, at once).
const COMMIT_PAGE: usize = 64;

/// Paging limits of the sync engine.
#[derive(Clone, Copy, Debug)]
pub struct SyncLimits {
    /// The budget when the device names none.
    pub default_response_bytes: u32,
    /// The largest budget the server grants.
    pub max_response_bytes: u32,
    /// How long after a handoff the previous owner's late edits are accepted.
    pub handoff_grace_secs: i64,
    /// Most pending review items one device may have (late edits past the grace period).
    pub review_max_items: u64,
    /// Most bytes of one device's pending review items.
    pub review_max_bytes: u64,
}

/// What a sync moved, for metrics and logs (counts only, no content).
#[derive(Clone, Copy, Debug, Default)]
pub struct SyncStats {
    /// Cards whose push was acknowledged.
    pub cards_acked: usize,
    /// Cards whose push was refused.
    pub cards_refused: usize,
    /// Log entries appended.
    pub changes_appended: usize,
    /// Cards sent to the device.
    pub cards_sent: usize,
}

/// Runs one sync for an authenticated device.
pub fn sync(
    storage: &dyn Storage,
    docs: &DocCache,
    identity: &ServerIdentity,
    device: &Device,
    request: SyncRequest,
    limits: SyncLimits,
    now: i64,
) -> Result<(SyncResponse, SyncStats)> {
    if request.protocol != PROTOCOL_VERSION {
        return Err(Error::UnsupportedVersion(request.protocol));
    }
    if device.role == Role::Admin {
        // Administrators' devices administer; they hold no cards.
        return Err(Error::AccessDenied);
    }
    // Check the cursor before touching anything: a bad cursor refuses the whole request.
    let start = match &request.cursor {
        None => None,
        Some(c) => {
            let state = read_cursor(&identity.cursor_key, &device.id, c)?;
            if state.position > storage.head_position()? {
                // Issued by this key but from a future this database does not have
                // (e.g. restored from an older backup): the device must start over.
                return Err(Error::BadCursor);
            }
            // Issued before the device re-keyed: start over with a full pass.
            (state.rekeys == device.rekeys).then_some(state)
        }
    };
    let scope: HashSet<String> = storage
        .territories_of(&device.person_id, device.role)?
        .into_iter()
        .collect();

    let mut territories: Vec<String> = scope.iter().cloned().collect();
    territories.sort();
    let mut response = SyncResponse {
        protocol: PROTOCOL_VERSION,
        territories,
        server_time: Some(now),
        ..SyncResponse::default()
    };
    let mut stats = SyncStats::default();
    for page in request.pushes.chunks(COMMIT_PAGE) {
        let outcomes = apply_page(storage, docs, device, &scope, page, limits, now)?;
        for (push, outcome) in page.iter().zip(outcomes) {
            let card_id = push.card_id.clone();
            match outcome {
                Ok(PushOutcome::Acked { heads, appended }) => {
                    stats.cards_acked += 1;
                    stats.changes_appended += appended;
                    response.acks.push(CardAck { card_id, heads });
                }
                Ok(PushOutcome::Fallback) => response.fallback.push(card_id),
                Err(e) if is_card_refusal(&e) => {
                    stats.cards_refused += 1;
                    tracing::info!(code = e.code(), "card push refused");
                    response.refused.push(CardRefusal {
                        card_id,
                        code: e.code().to_owned(),
                        message: e.public_message(),
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }

    let budget = request
        .max_response_bytes
        .unwrap_or(limits.default_response_bytes)
        .min(limits.max_response_bytes) as usize;
    pull(
        storage,
        identity,
        device,
        &scope,
        start,
        budget,
        &mut response,
        &mut stats,
    )?;
    directory(storage, device, &mut response)?;
    response.settings = company_settings_for(storage, request.settings_revision)?;
    storage.record_sync(&device.id, now)?;
    Ok((response, stats))
}

/// The company settings, when the device holds another revision than the one in force:
/// every device computes with the settings the server has, and a device already holding
/// them pays nothing. Never set (revision 0) means the defaults, which every device has.
fn company_settings_for(storage: &dyn Storage, held: u64) -> Result<Option<SettingsPayload>> {
    Ok(storage
        .company_settings()?
        .filter(|s| s.revision != held)
        .map(|s| SettingsPayload {
            revision: s.revision,
            json: s.json,
        }))
}

/// Names the actors of the delivered cards' changes (device name, person, role) so the
/// device's history shows who wrote them, and sends the assignment history of every card
/// delivered whole (a card new to the device: a handoff brings it so) for its handover
/// dossier. The device itself is named whenever cards move (its own edits are in its
/// history too), and a sync that moves nothing carries no directory.
fn directory(storage: &dyn Storage, device: &Device, response: &mut SyncResponse) -> Result<()> {
    let cards: Vec<String> = response.changes.iter().map(|c| c.card_id.clone()).collect();
    let mut assignments = Vec::new();
    for change in &response.changes {
        if change.kind != fieldbook_core::sync::wire::PayloadKind::Snapshot {
            continue;
        }
        for a in storage.card_assignments(&change.card_id)? {
            let record = AssignmentRecord {
                territory: a.territory,
                card_id: a.card_id,
                from: a.from,
                to: a.to,
                decided_by: a.decided_by,
                reason: a.reason,
                at: a.at,
            };
            if !assignments.contains(&record) {
                assignments.push(record);
            }
        }
    }
    response.assignments = assignments;
    let mut entries = if cards.is_empty() {
        Vec::new()
    } else {
        storage.actor_directory(&cards)?
    };
    // A sync that moved nothing names nobody: a no-op sync stays a few bytes each way.
    let moved = !cards.is_empty() || !response.acks.is_empty();
    let server_actors = if cards.is_empty() {
        Vec::new()
    } else {
        storage.server_actors()?
    };
    // One read of the people for every name needed below, not one per entry.
    let needs_names =
        !server_actors.is_empty() || (moved && !entries.iter().any(|e| e.actor == device.actor));
    let names: std::collections::HashMap<String, String> = if needs_names {
        storage
            .people()?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect()
    } else {
        Default::default()
    };
    let name_of = |id: &str| names.get(id).cloned().unwrap_or_default();
    if moved && !entries.iter().any(|e| e.actor == device.actor) {
        let person_name = name_of(&device.person_id);
        for actor in std::iter::once(&device.actor).chain(&device.former_actors) {
            entries.push(crate::storage::ActorEntry {
                actor: actor.clone(),
                device_name: device.name.clone(),
                person_id: device.person_id.clone(),
                person_name: person_name.clone(),
                role: device.role,
            });
        }
    }
    // Changes the server wrote for a manager (a card moved): named as the server's, in
    // that person's name, so history says "moved by 王芳 (server)". (All of them: one per
    // manager who ever moved a card, a few dozen bytes each, only when cards move.)
    for a in server_actors {
        let person_name = name_of(&a.person_id);
        entries.push(crate::storage::ActorEntry {
            actor: a.actor,
            device_name: crate::handoff::SERVER_DEVICE.to_owned(),
            person_id: a.person_id,
            person_name,
            role: Role::Manager,
        });
    }
    response.actors = entries
        .into_iter()
        .map(|e| ActorInfo {
            actor: e.actor,
            device_name: e.device_name,
            person_id: e.person_id,
            person_name: e.person_name,
            role: e.role.as_str().to_owned(),
        })
        .collect();
    Ok(())
}

/// Errors that refuse one card rather than the whole request.
fn is_card_refusal(e: &Error) -> bool {
    matches!(
        e,
        Error::AccessDenied
            | Error::HandoffExpired
            | Error::ReviewFull
            | Error::ActorMismatch
            | Error::AuthorMismatch
            | Error::BadChange(_)
            | Error::TerritoryChange
            | Error::CardTooLarge(_)
            | Error::InvalidCard(_)
            | Error::Invalid(_)
            | Error::ActorReused
            | Error::NotOnBehalf
    )
}
