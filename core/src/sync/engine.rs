//! The device's sync loop.
//!
//! One [`sync`] call: push every dirty card's unacknowledged changes with the
//! cursor in one request; apply the acknowledgements, the other devices' changes
//! and revocations from the response in one SQLite transaction; repeat only while
//! the response is paged or pushes did not fit one request. A no-op sync is one
//! small request. A dropped connection costs nothing: nothing was applied, and the
//! retry re-sends the same content-addressed changes, which the server ignores if it
//! already has them.
//!
//! A store copied to another machine or restored from a backup reuses the device's
//! actor, and the server refuses its cards with `sync.actor_reused`. Then the sync
//! re-keys the device (`POST /v1/rekey` with a fresh actor, which every later change is
//! made by), starts a full pass (the cursor forgotten), and for each refused card writes
//! its unsynced edits onto the server's document from that pass as one new change
//! (`store/reapply.rs`), pushed before the sync ends. Nothing the rep entered is lost.

use std::collections::HashSet;

use automerge::ActorId;
use automerge::sync::{Message, State};
use serde::Serialize;

use super::transport::Transport;
use super::wire::{
    self, EnrolRequest, EnrolResponse, ErrorBody, FallbackRequest, FallbackResponse, PayloadKind,
    RekeyRequest, RekeyResponse, SyncRequest, SyncResponse,
};
use crate::error::{Error, Result};
use crate::guard::{BytesLimits, check_each};
use crate::ids::{CardId, RepId};
use crate::store::Store;
use crate::store::sync_state::Enrolment;

/// Changes pushed per request, before the rest waits for the next request.
const PUSH_BUDGET_BYTES: usize = 4 * 1024 * 1024;
/// The response page size the device asks for.
const RESPONSE_BUDGET_BYTES: u32 = 4 * 1024 * 1024;
/// The most requests one sync makes before giving up (a server that pages forever).
const MAX_REQUESTS: u32 = 100_000;
/// The most message rounds of one fallback exchange.
const MAX_FALLBACK_ROUNDS: u32 = 64;

/// Progress of a running sync, reported after each request.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncProgress {
    /// HTTP requests made so far.
    pub requests: u32,
    /// Bytes sent (compressed bodies).
    pub bytes_up: u64,
    /// Bytes received (compressed bodies).
    pub bytes_down: u64,
    /// Cards whose changes the server acknowledged.
    pub cards_pushed: u32,
    /// Cards that received changes from the server.
    pub cards_pulled: u32,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncReport {
    /// Totals.
    #[serde(flatten)]
    pub progress: SyncProgress,
    /// Cards new to this device.
    pub cards_new: u32,
    /// Conflicts that appeared through this sync.
    pub new_conflicts: u32,
    /// Cards removed because their territory left the rep's scope.
    pub cards_revoked: u32,
    /// Revoked cards kept because they hold edits the server has not accepted.
    pub revoked_kept: Vec<String>,
    /// Pushes the server refused: (card id, code, message). The cards stay pending.
    pub refused: Vec<(String, String, String)>,
    /// Cards reconciled through the `automerge::sync` fallback.
    pub fallbacks: u32,
    /// Cards still holding changes the server has not acknowledged.
    pub pending: u64,
    /// Cards the server sent that this device cannot read (over the byte bounds, not
    /// loadable, not a valid card): kept out of the store, the rest of the response
    /// applied. (card id, code).
    pub quarantined: Vec<(String, String)>,
    /// Whether this sync moved the device to a fresh actor (its store was copied or
    /// restored, and the server refused an actor it had seen: `sync.actor_reused`).
    pub rekeyed: bool,
    /// Cards whose unsynced edits were re-made on the server's document after the re-key.
    pub reapplied: Vec<String>,
}

/// The refusal that means this store's actor was used by another copy of it.
const ACTOR_REUSED: &str = "sync.actor_reused";
/// The refusal of a cursor the server did not issue, or issued from a future it lacks.
const BAD_CURSOR: &str = "sync.bad_cursor";

fn server_error(status: u16, body: &[u8]) -> Error {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => Error::Server {
            status,
            code: e.code,
            message: e.message,
        },
        Err(_) => Error::Server {
            status,
            code: format!("http.{status}"),
            message: "the server answered with an error".into(),
        },
    }
}

fn post(
    transport: &dyn Transport,
    progress: &mut SyncProgress,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> Result<Vec<u8>> {
    progress.requests += 1;
    progress.bytes_up += body.len() as u64;
    let resp = transport
        .post(path, token, content_type, body)
        .map_err(Error::Network)?;
    progress.bytes_down += resp.body.len() as u64;
    if resp.status != 200 {
        return Err(server_error(resp.status, &resp.body));
    }
    Ok(resp.body)
}

/// Enrol this device with a server using a one-time enrolment token. The device's
/// actor id is bound to it on the server; from now on it acts for the rep the
/// token was issued to.
pub fn enrol(
    store: &mut Store,
    transport: &dyn Transport,
    server_url: &str,
    token: &str,
) -> Result<EnrolResponse> {
    let body = serde_json::to_vec(&EnrolRequest {
        token: token.to_string(),
        actor: store.device_id(),
    })
    .map_err(|e| Error::Protocol(e.to_string()))?;
    let mut progress = SyncProgress::default();
    let bytes = post(
        transport,
        &mut progress,
        "/v1/enrol",
        None,
        "application/json",
        body,
    )?;
    let resp: EnrolResponse = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Protocol(format!("enrolment answer: {e}")))?;
    let rep: RepId = resp
        .rep_id
        .parse()
        .map_err(|_| Error::Protocol("the server sent an invalid rep id".into()))?;
    if let Some(current) = store.rep()
        && current != &rep
        && store.count()? > 0
    {
        tracing::warn!("device changes rep at enrolment; earlier edits keep their author");
    }
    store.save_enrolment(
        &Enrolment {
            server_url: server_url.trim_end_matches('/').to_string(),
            token: resp.token.clone(),
            device_id: resp.device_id.clone(),
            server_id: resp.server_id.clone(),
        },
        rep,
    )?;
    store.save_role(&resp.role)?;
    Ok(resp)
}

/// Sync the store with its server. `on_progress` is called after every request.
pub fn sync(
    store: &mut Store,
    transport: &dyn Transport,
    on_progress: &mut dyn FnMut(&SyncProgress),
) -> Result<SyncReport> {
    let enrolment = store.enrolment()?.ok_or(Error::NotEnrolled)?;
    let token = Some(enrolment.token.as_str());
    let mut report = SyncReport::default();
    // Cards refused or sent to fallback in this sync are not pushed again by it.
    let mut skip: HashSet<String> = HashSet::new();
    // Cards refused with `sync.actor_reused`, waiting for their server document.
    let mut reused: HashSet<String> = HashSet::new();
    // Cards re-made after a re-key: pushed once more by this sync, then never again.
    let mut reapplied: HashSet<String> = HashSet::new();
    let mut restarted = false;
    loop {
        if report.progress.requests >= MAX_REQUESTS {
            return Err(Error::Protocol("the server kept paging without end".into()));
        }
        let (pushes, more_pushes) = store.dirty_pushes(PUSH_BUDGET_BYTES, &skip)?;
        let pushed: Vec<String> = pushes.iter().map(|p| p.push.card_id.clone()).collect();
        let request = SyncRequest {
            protocol: wire::PROTOCOL_VERSION,
            cursor: store.sync_cursor()?,
            pushes: pushes.iter().map(|p| p.push.clone()).collect(),
            max_response_bytes: Some(RESPONSE_BUDGET_BYTES),
        };
        let body = wire::encode(&request).map_err(|e| Error::Protocol(e.to_string()))?;
        let bytes = match post(
            transport,
            &mut report.progress,
            "/v1/sync",
            token,
            wire::CONTENT_TYPE,
            body,
        ) {
            Err(Error::Server { code, .. }) if code == BAD_CURSOR && !restarted => {
                // The server was restored from an older backup: it lacks what it had
                // acknowledged. Start over once, pushing every card whole.
                tracing::warn!("the server lost state this device had synced; re-sending all");
                store.forget_server_state()?;
                restarted = true;
                continue;
            }
            other => other?,
        };
        let mut response: SyncResponse = wire::decode(&bytes, wire::DEFAULT_MAX_DECOMPRESSED)
            .map_err(|e| Error::Protocol(e.to_string()))?;
        let mut again = false;
        if !reused.is_empty() {
            // The server's documents of the refused cards: re-make this device's edits on
            // them instead of applying them (their changes would collide with ours).
            let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut response.changes)
                .into_iter()
                .partition(|c| reused.contains(&c.card_id));
            response.changes = rest;
            for server in mine {
                if server.kind != PayloadKind::Snapshot {
                    continue;
                }
                store.reapply_on_server_state(&server)?;
                reused.remove(&server.card_id);
                skip.remove(&server.card_id);
                reapplied.insert(server.card_id.clone());
                report.reapplied.push(server.card_id);
                again = true;
            }
        }
        let applied = store.apply_sync_response(&response, &pushes)?;
        report.progress.cards_pushed += applied.cards_acked;
        report.progress.cards_pulled += applied.cards_pulled;
        report.cards_new += applied.cards_new;
        report.new_conflicts += applied.new_conflicts;
        report.cards_revoked += applied.revoked_removed;
        report.revoked_kept.extend(applied.revoked_kept);
        report.quarantined.extend(applied.quarantined);
        let newly_reused: Vec<String> = response
            .refused
            .iter()
            .filter(|r| r.code == ACTOR_REUSED && !reapplied.contains(&r.card_id))
            .map(|r| r.card_id.clone())
            .collect();
        if !newly_reused.is_empty() {
            if !report.rekeyed {
                rekey(store, transport, token, &mut report.progress)?;
                report.rekeyed = true;
            }
            // A full pass brings the server's document of every card in scope, the
            // refused ones included, and whatever the other copies pushed.
            store.reset_sync_cursor()?;
            reused.extend(newly_reused);
            again = true;
        }
        for refusal in &response.refused {
            if refusal.code == ACTOR_REUSED && reused.contains(&refusal.card_id) {
                // Being recovered by this sync; reported only if that fails.
                skip.insert(refusal.card_id.clone());
                continue;
            }
            tracing::info!(code = %refusal.code, "server refused a card's changes");
            skip.insert(refusal.card_id.clone());
            report.refused.push((
                refusal.card_id.clone(),
                refusal.code.clone(),
                refusal.message.clone(),
            ));
        }
        // A card acknowledged in this request may have been edited meanwhile; it is
        // pushed by the next sync, not re-pushed in a loop by this one.
        skip.extend(pushed);
        let mut fallback: Vec<String> = response.fallback.clone();
        fallback.extend(applied.need_fallback);
        fallback.sort();
        fallback.dedup();
        for card in fallback {
            skip.insert(card.clone());
            run_fallback(store, transport, token, &card, &mut report.progress)?;
            report.fallbacks += 1;
        }
        on_progress(&report.progress);
        if !response.more && !more_pushes && !again {
            break;
        }
    }
    for card in reused {
        // The full pass did not bring the card (no longer in scope): it stays pending.
        report.refused.push((
            card,
            ACTOR_REUSED.to_string(),
            "this store's actor was reused; the card waits for the next sync".to_string(),
        ));
    }
    report.pending = store.pending_cards()?;
    Ok(report)
}

/// Bind a fresh actor to this device on the server, then make it the store's actor.
/// If the answer is lost the store keeps its old actor; the next sync re-keys again with
/// another fresh one (an actor is never reused, whatever the server recorded).
fn rekey(
    store: &mut Store,
    transport: &dyn Transport,
    token: Option<&str>,
    progress: &mut SyncProgress,
) -> Result<()> {
    let actor = ActorId::random();
    let body = wire::encode(&RekeyRequest {
        protocol: wire::PROTOCOL_VERSION,
        actor: actor.to_bytes().to_vec(),
    })
    .map_err(|e| Error::Protocol(e.to_string()))?;
    let bytes = post(
        transport,
        progress,
        "/v1/rekey",
        token,
        wire::CONTENT_TYPE,
        body,
    )?;
    let _: RekeyResponse = wire::decode(&bytes, wire::DEFAULT_MAX_DECOMPRESSED)
        .map_err(|e| Error::Protocol(e.to_string()))?;
    tracing::warn!("this store's actor was reused by a copy; the device re-keyed");
    store.set_actor(actor)
}

/// Reconcile one card with `automerge::sync`, message by message.
fn run_fallback(
    store: &mut Store,
    transport: &dyn Transport,
    token: Option<&str>,
    card: &str,
    progress: &mut SyncProgress,
) -> Result<()> {
    let id: CardId = card
        .parse()
        .map_err(|_| Error::Protocol("fallback for an invalid card id".into()))?;
    let mut state = State::new();
    let mut incoming: Option<Message> = None;
    let mut server_heads = Vec::new();
    for _ in 0..MAX_FALLBACK_ROUNDS {
        if incoming.is_some() {
            // The server is stateless between fallback requests: a change it could not
            // apply yet (its dependency came later, or a bloom-filter false positive held
            // the dependency back) is forgotten there. So what we sent before counts as
            // unsent once the server has answered; otherwise both sides wait forever.
            state.sent_hashes.clear();
        }
        let outgoing = store.fallback_step(&id, &mut state, incoming.take())?;
        let Some(message) = outgoing else {
            // We have nothing more to say and have applied the server's last message.
            store.fallback_done(&id, &server_heads)?;
            return Ok(());
        };
        let body = wire::encode(&FallbackRequest {
            protocol: wire::PROTOCOL_VERSION,
            card_id: card.to_string(),
            message: message.encode(),
        })
        .map_err(|e| Error::Protocol(e.to_string()))?;
        let bytes = post(
            transport,
            progress,
            "/v1/fallback",
            token,
            wire::CONTENT_TYPE,
            body,
        )?;
        let resp: FallbackResponse = wire::decode(&bytes, wire::DEFAULT_MAX_DECOMPRESSED)
            .map_err(|e| Error::Protocol(e.to_string()))?;
        server_heads = resp.heads;
        match resp.message {
            Some(m) => {
                // `Message::decode` only splits the message; its changes stay bytes until
                // `receive_sync_message` parses them, so bound them first.
                if m.len() as u64 > BytesLimits::CARD.max_inflated_bytes {
                    return Err(Error::CardTooLarge("the sync message is too large".into()));
                }
                let message = Message::decode(&m)
                    .map_err(|e| Error::Protocol(format!("fallback message: {e}")))?;
                check_each(message.changes.iter(), &BytesLimits::CARD)?;
                incoming = Some(message);
            }
            None => {
                // The server is done; apply nothing more, but see whether we still have
                // something to send (the loop ends when we do not).
                incoming = None;
            }
        }
    }
    Err(Error::Protocol(format!(
        "card {card}: fallback did not converge"
    )))
}
