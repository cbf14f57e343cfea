//! The fallback path: `automerge::sync` for one card, when the fast path cannot work.
//!
//! A sync response lists a card in `fallback` when a push depends on changes the server
//! lacks (a server restored from an older backup, a client bug). The device then exchanges
//! `automerge::sync` messages for that card through `POST /v1/fallback` until neither side
//! has anything to send. Correctness never rests on the fast path alone.
//!
//! **State.** The server persists the `sync::State` per (device, card) in storage, but
//! `State::encode` keeps only the shared heads, so each request effectively rebuilds the
//! in-flight part from the message it receives. That keeps the server stateless between
//! requests (any instance can answer) and immune to the "message lost, state stuck in
//! flight" trap of an in-memory state.
//!
//! The same checks as the fast path apply to every change the message brings: the message
//! and the changes inside it bounded before Automerge sees them ([`fieldbook_core::guard`]),
//! the device's own actor and author only, a valid card document, the card's territory in
//! scope, nothing stored on refusal.
//!
//! **No existence oracle, no state for strangers.** A card the caller may not write is
//! answered exactly as a card that does not exist: a message without changes gets the
//! reply of an empty document; one with changes is refused with `access.denied` (for an
//! unknown card, only changes that create a card in the caller's scope are taken). No
//! `fallback_states` row is written unless the card is stored and the caller may write it.

use std::collections::HashSet;

use automerge::sync::{Message, State, SyncDoc};
use fieldbook_core::sync::wire::{FallbackRequest, FallbackResponse, PROTOCOL_VERSION};

use fieldbook_core::guard::{BytesLimits, check_each};

use crate::cache::DocCache;
use crate::error::{Error, Result};
use crate::storage::{Device, Role, Storage};
use crate::sync::{Writer, keep_committed, new_changes_checked, take_or_load, validate_card_id};

const COMMIT_ATTEMPTS: usize = 8;

/// Handles one fallback message from an authenticated device.
pub fn fallback(
    storage: &dyn Storage,
    docs: &DocCache,
    device: &Device,
    request: FallbackRequest,
    now: i64,
) -> Result<FallbackResponse> {
    if request.protocol != PROTOCOL_VERSION {
        return Err(Error::UnsupportedVersion(request.protocol));
    }
    if device.role == Role::Admin {
        return Err(Error::AccessDenied);
    }
    validate_card_id(&request.card_id)?;
    // The message itself is bounded by the card limit; `Message::decode` only splits it
    // (the changes stay bytes until `receive_sync_message` parses them), so bound those
    // next, before anything parses them.
    if request.message.len() as u64 > BytesLimits::CARD.max_inflated_bytes {
        return Err(Error::CardTooLarge("the sync message is too large".into()));
    }
    let message = Message::decode(&request.message)
        .map_err(|e| Error::BadChange(format!("sync message does not decode: {e}")))?;
    check_each(message.changes.iter(), &BytesLimits::CARD).map_err(Error::from_card_check)?;
    let scope: HashSet<String> = storage
        .territories_of(&device.person_id, device.role)?
        .into_iter()
        .collect();

    let _held = docs.writers().hold([request.card_id.as_str()]);
    for _ in 0..COMMIT_ATTEMPTS {
        let stored = storage.card(&request.card_id)?;
        let foreign = stored
            .as_ref()
            .is_some_and(|card| !scope.contains(&card.territory));
        if foreign {
            if !message.changes.is_empty() {
                return Err(Error::AccessDenied);
            }
            // As for a card that does not exist: the reply of an empty document.
            return Ok(unknown_card_reply(message));
        }
        let mut doc = take_or_load(docs, stored.as_ref())?;
        let mut state = match storage.fallback_state(&device.id, &request.card_id)? {
            Some(bytes) => State::decode(&bytes).unwrap_or_else(|_| State::new()),
            None => State::new(),
        };
        let before = doc.get_heads();
        doc.receive_sync_message(&mut state, message.clone())
            .map_err(|e| Error::BadChange(e.to_string()))?;
        let changes = new_changes_checked(&doc, &before, device)?;
        if stored.is_none() && changes.is_empty() {
            if !message.changes.is_empty() {
                // Changes that create nothing the caller may write.
                return Err(Error::AccessDenied);
            }
            return Ok(unknown_card_reply(message));
        }
        let writer = Writer {
            storage,
            device,
            scope: &scope,
            now,
        };
        let committed =
            match writer.commit_if_new(&request.card_id, stored.as_ref(), &doc, changes, false) {
                Ok(committed) => committed,
                Err(Error::Conflict) => continue,
                Err(e) => return Err(e),
            };
        // A card the server does not hold (and could not create from this message) must
        // not reveal anything: answer as for an empty document.
        let reply = doc.generate_sync_message(&mut state).map(Message::encode);
        // Here the card is stored (it was, or this message created it) and the caller's.
        storage.save_fallback_state(&device.id, &request.card_id, &state.encode())?;
        let heads = doc.get_heads().into_iter().map(|h| h.0).collect();
        // Back into the cache only if it holds exactly what is stored (no change queued
        // for want of its dependencies).
        keep_committed(docs, &request.card_id, stored.as_ref(), committed, doc);
        return Ok(FallbackResponse {
            protocol: PROTOCOL_VERSION,
            message: reply,
            heads,
        });
    }
    Err(Error::Conflict)
}

/// The answer for a card that does not exist (or that the caller may not see): what an
/// empty document replies to a message that brings no changes, with a fresh state that
/// is not kept.
fn unknown_card_reply(message: Message) -> FallbackResponse {
    let mut doc = automerge::Automerge::new();
    let mut state = State::new();
    // A message without changes gives Automerge no bytes to parse: heads and the bloom
    // filter were read by `Message::decode`.
    let reply = match doc.receive_sync_message(&mut state, message) {
        Ok(()) => doc.generate_sync_message(&mut state).map(Message::encode),
        Err(_) => None,
    };
    FallbackResponse {
        protocol: PROTOCOL_VERSION,
        message: reply,
        heads: Vec::new(),
    }
}
