//! The device's side of one sync as a state machine with no I/O of its own.
//!
//! A [`SyncSession`] plans each HTTP request from the store ([`SyncSession::next`]) and
//! applies each answer in one transaction ([`SyncSession::receive`]); sending is the
//! caller's. So the store is borrowed only to plan and to apply, never while a request is
//! on the network: under an app, the card list, search and card screens keep answering
//! (and the rep keeps editing) while a sync waits on a slow connection. This is how
//! application-services splits its sync engines. [`super::engine`] holds the drivers: one
//! over a `&mut Store`, one over a store behind a mutex that it locks only for planning
//! and applying.
//!
//! One session: push every dirty card's unacknowledged changes with the cursor; apply the
//! acknowledgements, the other devices' changes and the revocations; run the
//! `automerge::sync` fallback for cards that need it; repeat only while the response is
//! paged or pushes did not fit one request. A no-op sync is one small request. A dropped
//! connection costs nothing: nothing was applied, and the retry re-sends the same
//! content-addressed changes, which the server ignores if it already has them. Stopping a
//! session between two requests (cancellation) is as safe: every answer applied so far is
//! committed, and the next sync starts from there.
//!
//! A store copied to another machine or restored from a backup reuses the device's actor,
//! and the server refuses its cards with `sync.actor_reused`. Then the session re-keys the
//! device (`POST /v1/rekey` with a fresh actor, which every later change is made by),
//! starts a full pass (the cursor forgotten), and for each refused card writes its unsynced
//! edits onto the server's document from that pass as one new change
//! (`store/reapply.rs`), pushed before the session ends. Nothing the rep entered is lost.

use std::collections::{HashSet, VecDeque};

use automerge::ActorId;
use automerge::sync::{Message, State};

use super::engine::{SyncProgress, SyncReport};
use super::transport::HttpResponse;
use super::wire::{
    self, ErrorBody, FallbackRequest, FallbackResponse, Hash, PayloadKind, RekeyRequest,
    RekeyResponse, SyncRequest, SyncResponse,
};
use crate::error::{Error, Result};
use crate::guard::{BytesLimits, check_each};
use crate::ids::CardId;
use crate::store::Store;
use crate::store::sync_state::PendingPush;
use crate::store::{Pull, Pulled};

/// Changes pushed per request, before the rest waits for the next request.
const PUSH_BUDGET_BYTES: usize = 4 * 1024 * 1024;
/// The response page size the device asks for.
const RESPONSE_BUDGET_BYTES: u32 = 4 * 1024 * 1024;
/// The most requests one sync makes before giving up (a server that pages forever).
const MAX_REQUESTS: u32 = 100_000;
/// The most message rounds of one fallback exchange.
const MAX_FALLBACK_ROUNDS: u32 = 64;

/// The refusal that means this store's actor was used by another copy of it.
const ACTOR_REUSED: &str = "sync.actor_reused";
/// The refusals of a push that moves a card to another territory: one the device holds
/// (`sync.territory_change`) or one it does not (`access.denied`, as for any card outside
/// its scope).
const TERRITORY_REFUSALS: [&str; 2] = ["sync.territory_change", "access.denied"];
/// The refusal of a cursor the server did not issue, or issued from a future it lacks.
const BAD_CURSOR: &str = "sync.bad_cursor";

/// One HTTP request a session wants sent: `POST {server}{path}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The path on the server, e.g. `/v1/sync`.
    pub path: &'static str,
    /// The bearer token, if the request is authenticated.
    pub bearer: Option<String>,
    /// The body's content type.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

/// What a session wants next.
#[derive(Debug)]
pub enum Step {
    /// Send this request, then give its answer to [`SyncSession::receive`].
    Send(HttpRequest),
    /// A part of an answer was applied and committed (a long answer is applied in
    /// transactions of a few milliseconds each): call [`SyncSession::wait_ready`] with the
    /// store unlocked, then [`SyncSession::next`] again. The store may be used in
    /// between; the rep's edits wait for one part at most.
    Applied,
    /// The sync is complete.
    Done(SyncReport),
}

/// The refused cards of a sync request's answer left for this session to handle, and
/// whether another sync request follows.
#[derive(Debug)]
struct AfterSync {
    fallback: VecDeque<String>,
    more: bool,
}

/// One card's `automerge::sync` exchange.
struct FallbackRun {
    id: CardId,
    state: State,
    incoming: Option<Message>,
    server_heads: Vec<Hash>,
    rounds: u32,
}

enum Phase {
    /// Plan the next `/v1/sync` request.
    Plan,
    /// A `/v1/sync` request is out.
    AwaitSync {
        pushes: Vec<PendingPush>,
        more_pushes: bool,
    },
    /// Its answer is being applied, part after part.
    Apply {
        pull: Pull,
        /// `report.progress.cards_pulled` and `report.cards_new` before the answer: the
        /// parts add theirs to these as they commit.
        before: (u32, u32),
        more_pushes: bool,
        /// Whether another request follows whatever the answer says (a re-made card).
        again: bool,
    },
    /// Bind a fresh actor (`/v1/rekey`), then go on with `then`.
    Rekey { then: AfterSync },
    /// `/v1/rekey` is out with `actor`.
    AwaitRekey { actor: ActorId, then: AfterSync },
    /// Fallback exchanges, one card after another, then another sync request or the end.
    Fallback {
        then: AfterSync,
        run: Option<FallbackRun>,
    },
    /// A fallback message is out.
    AwaitFallback { then: AfterSync, run: FallbackRun },
    /// Nothing more to send.
    Done,
}

/// One sync in progress. See the module docs.
pub struct SyncSession {
    token: String,
    report: SyncReport,
    /// Cards refused or sent to fallback in this sync are not pushed again by it.
    skip: HashSet<String>,
    /// Cards refused with `sync.actor_reused`, waiting for their server document.
    reused: HashSet<String>,
    /// Cards re-made after a re-key: pushed once more by this sync, then never again.
    reapplied: HashSet<String>,
    /// Cards whose territory edit this session undid: undone once, never in a loop.
    restored: HashSet<String>,
    /// Whether the session already started over after `sync.bad_cursor`.
    restarted: bool,
    phase: Phase,
}

impl SyncSession {
    /// A session for the store's enrolment (`sync.not_enrolled` without one).
    pub fn new(store: &Store) -> Result<SyncSession> {
        let enrolment = store.enrolment()?.ok_or(Error::NotEnrolled)?;
        Ok(SyncSession {
            token: enrolment.token,
            report: SyncReport::default(),
            skip: HashSet::new(),
            reused: HashSet::new(),
            reapplied: HashSet::new(),
            restored: HashSet::new(),
            restarted: false,
            phase: Phase::Plan,
        })
    }

    /// After [`Step::Applied`]: waits until the next part of the answer is decoded and
    /// ready to write. Needs no store, so call it with the store unlocked: the rep's
    /// edits go in while cards decode. (Calling `next` directly is correct too; it
    /// then decodes with the store borrowed.)
    pub fn wait_ready(&mut self) {
        if let Phase::Apply { pull, .. } = &mut self.phase {
            pull.wait_ready();
        }
    }

    /// Whether an answer is being applied: [`Self::receive`] only began it, and
    /// progress is reported after its parts ([`Step::Applied`]), not after the request.
    pub fn applying(&self) -> bool {
        matches!(self.phase, Phase::Apply { .. })
    }

    /// Totals so far.
    pub fn progress(&self) -> &SyncProgress {
        &self.report.progress
    }

    /// Plans the next request from the store, or ends the session with its report.
    /// Call it first, then after every [`Self::receive`].
    pub fn next(&mut self, store: &mut Store) -> Result<Step> {
        loop {
            match std::mem::replace(&mut self.phase, Phase::Done) {
                Phase::Plan => {
                    if self.report.progress.requests >= MAX_REQUESTS {
                        return Err(Error::Protocol("the server kept paging without end".into()));
                    }
                    let (pushes, more_pushes) =
                        store.dirty_pushes(PUSH_BUDGET_BYTES, &self.skip)?;
                    let request = SyncRequest {
                        protocol: wire::PROTOCOL_VERSION,
                        cursor: store.sync_cursor()?,
                        pushes: pushes.iter().map(|p| p.push.clone()).collect(),
                        max_response_bytes: Some(RESPONSE_BUDGET_BYTES),
                        settings_revision: store.company_settings().revision,
                    };
                    let body = encode(&request)?;
                    self.phase = Phase::AwaitSync {
                        pushes,
                        more_pushes,
                    };
                    return Ok(self.send("/v1/sync", body));
                }
                Phase::Rekey { then } => {
                    let actor = ActorId::random();
                    let body = encode(&RekeyRequest {
                        protocol: wire::PROTOCOL_VERSION,
                        actor: actor.to_bytes().to_vec(),
                    })?;
                    self.phase = Phase::AwaitRekey { actor, then };
                    return Ok(self.send("/v1/rekey", body));
                }
                Phase::Fallback { mut then, run } => {
                    let mut run = match run {
                        Some(run) => run,
                        None => match then.fallback.pop_front() {
                            Some(card) => {
                                self.skip.insert(card.clone());
                                FallbackRun::new(&card)?
                            }
                            None if then.more => {
                                self.phase = Phase::Plan;
                                continue;
                            }
                            None => return self.finish(store),
                        },
                    };
                    if run.rounds >= MAX_FALLBACK_ROUNDS {
                        return Err(Error::Protocol(format!(
                            "card {}: fallback did not converge",
                            run.id
                        )));
                    }
                    if run.incoming.is_some() {
                        // The server is stateless between fallback requests: a change it
                        // could not apply yet (its dependency came later, or a bloom-filter
                        // false positive held the dependency back) is forgotten there. So
                        // what we sent before counts as unsent once the server has
                        // answered; otherwise both sides wait forever.
                        run.state.sent_hashes.clear();
                    }
                    let outgoing =
                        store.fallback_step(&run.id, &mut run.state, run.incoming.take())?;
                    let Some(message) = outgoing else {
                        // We have nothing more to say and have applied the server's last
                        // message.
                        store.fallback_done(&run.id, &run.server_heads)?;
                        self.report.fallbacks += 1;
                        self.phase = Phase::Fallback { then, run: None };
                        continue;
                    };
                    let body = encode(&FallbackRequest {
                        protocol: wire::PROTOCOL_VERSION,
                        card_id: run.id.to_string(),
                        message: message.encode(),
                    })?;
                    run.rounds += 1;
                    self.phase = Phase::AwaitFallback { then, run };
                    return Ok(self.send("/v1/fallback", body));
                }
                Phase::Apply {
                    mut pull,
                    before: (pulled_before, new_before),
                    more_pushes,
                    again,
                } => {
                    store.apply_part(&mut pull)?;
                    let progress = &mut self.report.progress;
                    progress.cards_pulled = pulled_before + pull.applied().cards_pulled;
                    self.report.cards_new = new_before + pull.applied().cards_new;
                    if pull.is_finished() {
                        self.report.progress.cards_pulled = pulled_before;
                        self.report.cards_new = new_before;
                        self.report.write_transactions += pull.parts();
                        self.phase = self.after_apply(store, pull.finish(), more_pushes, again)?;
                        // The answer is in: the drivers report progress here.
                        return Ok(Step::Applied);
                    }
                    self.phase = Phase::Apply {
                        pull,
                        before: (pulled_before, new_before),
                        more_pushes,
                        again,
                    };
                    return Ok(Step::Applied);
                }
                Phase::Done => return self.finish(store),
                waiting @ (Phase::AwaitSync { .. }
                | Phase::AwaitRekey { .. }
                | Phase::AwaitFallback { .. }) => {
                    self.phase = waiting;
                    return Err(out_of_step());
                }
            }
        }
    }

    /// Applies the answer to the request [`Self::next`] returned, in one transaction.
    /// An error ends the session; what earlier answers brought stays applied.
    pub fn receive(&mut self, store: &mut Store, response: HttpResponse) -> Result<()> {
        self.report.progress.bytes_down += response.body.len() as u64;
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::AwaitSync {
                pushes,
                more_pushes,
            } => {
                let bytes = match ok_body(response) {
                    Err(Error::Server { code, .. }) if code == BAD_CURSOR && !self.restarted => {
                        // The server was restored from an older backup: it lacks what it
                        // had acknowledged. Start over once, pushing every card whole.
                        tracing::warn!(
                            "the server lost state this device had synced; re-sending all"
                        );
                        store.forget_server_state()?;
                        self.restarted = true;
                        self.phase = Phase::Plan;
                        return Ok(());
                    }
                    other => other?,
                };
                let response: SyncResponse = wire::decode(&bytes, wire::DEFAULT_MAX_DECOMPRESSED)
                    .map_err(|e| Error::Protocol(e.to_string()))?;
                self.phase = self.begin_apply(store, response, pushes, more_pushes)?;
                Ok(())
            }
            Phase::AwaitRekey { actor, then } => {
                let bytes = ok_body(response)?;
                let _: RekeyResponse = wire::decode(&bytes, wire::DEFAULT_MAX_DECOMPRESSED)
                    .map_err(|e| Error::Protocol(e.to_string()))?;
                tracing::warn!("this store's actor was reused by a copy; the device re-keyed");
                // If this answer is lost the store keeps its old actor; the next sync
                // re-keys again with another fresh one (an actor is never reused, whatever
                // the server recorded).
                store.set_actor(actor)?;
                self.report.rekeyed = true;
                // A full pass brings the server's document of every card in scope.
                store.reset_sync_cursor()?;
                self.phase = Phase::Fallback { then, run: None };
                Ok(())
            }
            Phase::AwaitFallback { then, mut run } => {
                let bytes = ok_body(response)?;
                let resp: FallbackResponse = wire::decode(&bytes, wire::DEFAULT_MAX_DECOMPRESSED)
                    .map_err(|e| Error::Protocol(e.to_string()))?;
                run.server_heads = resp.heads;
                run.incoming = match resp.message {
                    Some(m) => {
                        // `Message::decode` only splits the message; its changes stay bytes
                        // until `receive_sync_message` parses them, so bound them first.
                        if m.len() as u64 > BytesLimits::CARD.max_inflated_bytes {
                            return Err(Error::CardTooLarge(
                                "the sync message is too large".into(),
                            ));
                        }
                        let message = Message::decode(&m)
                            .map_err(|e| Error::Protocol(format!("fallback message: {e}")))?;
                        check_each(message.changes.iter(), &BytesLimits::CARD)?;
                        Some(message)
                    }
                    // The server is done; apply nothing more, but see whether we still
                    // have something to send (the exchange ends when we do not).
                    None => None,
                };
                self.phase = Phase::Fallback {
                    then,
                    run: Some(run),
                };
                Ok(())
            }
            other => {
                self.phase = other;
                Err(out_of_step())
            }
        }
    }

    /// Starts applying one `/v1/sync` answer: the cards of a re-keyed device first, then
    /// the rest as a [`Pull`] that [`Self::next`] commits part after part.
    fn begin_apply(
        &mut self,
        store: &mut Store,
        mut response: SyncResponse,
        pushes: Vec<PendingPush>,
        more_pushes: bool,
    ) -> Result<Phase> {
        let report = &mut self.report;
        let mut again = false;
        if !self.reused.is_empty() {
            // The server's documents of the refused cards: re-make this device's edits on
            // them instead of applying them (their changes would collide with ours).
            let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut response.changes)
                .into_iter()
                .partition(|c| self.reused.contains(&c.card_id));
            response.changes = rest;
            for server in mine {
                if server.kind != PayloadKind::Snapshot {
                    continue;
                }
                store.reapply_on_server_state(&server)?;
                self.reused.remove(&server.card_id);
                self.skip.remove(&server.card_id);
                self.reapplied.insert(server.card_id.clone());
                report.reapplied.push(server.card_id);
                again = true;
            }
        }
        Ok(Phase::Apply {
            pull: store.begin_pull(response, pushes)?,
            before: (report.progress.cards_pulled, report.cards_new),
            more_pushes,
            again,
        })
    }

    /// After the last part of an answer: what the answer means for the rest of the sync.
    fn after_apply(
        &mut self,
        store: &mut Store,
        pulled: Pulled,
        more_pushes: bool,
        mut again: bool,
    ) -> Result<Phase> {
        let Pulled {
            applied,
            response,
            pushes,
            ..
        } = pulled;
        let pushes = &pushes[..];
        let report = &mut self.report;
        report.progress.cards_pushed += applied.cards_acked;
        report.progress.cards_pulled += applied.cards_pulled;
        report.cards_new += applied.cards_new;
        report.new_conflicts += applied.new_conflicts;
        report.cards_revoked += applied.revoked_removed;
        report.revoked_kept.extend(applied.revoked_kept);
        report.to_review.extend(applied.to_review);
        report.quarantined.extend(applied.quarantined);
        if applied.settings_revision.is_some() {
            report.settings_revision = applied.settings_revision;
        }
        let newly_reused: Vec<String> = response
            .refused
            .iter()
            .filter(|r| r.code == ACTOR_REUSED && !self.reapplied.contains(&r.card_id))
            .map(|r| r.card_id.clone())
            .collect();
        let mut rekey = false;
        if !newly_reused.is_empty() {
            if report.rekeyed {
                // Already re-keyed: only a full pass is needed, for the server's
                // document of every refused card.
                store.reset_sync_cursor()?;
            } else {
                rekey = true;
            }
            self.reused.extend(newly_reused);
            again = true;
        }
        let mut restored_now: HashSet<String> = HashSet::new();
        for refusal in &response.refused {
            if refusal.code == ACTOR_REUSED && self.reused.contains(&refusal.card_id) {
                // Being recovered by this sync; reported only if that fails.
                self.skip.insert(refusal.card_id.clone());
                continue;
            }
            if TERRITORY_REFUSALS.contains(&refusal.code.as_str())
                && !self.restored.contains(&refusal.card_id)
                && let Ok(id) = refusal.card_id.parse::<CardId>()
                && store.restore_territory(&id)?
            {
                // An edit of the territory made before the device refused them: undo it
                // once and push the card's other edits again in this sync. (A card that
                // holds no such edit has nothing to restore and is reported as refused.)
                self.restored.insert(refusal.card_id.clone());
                restored_now.insert(refusal.card_id.clone());
                report.territory_restored.push(refusal.card_id.clone());
                again = true;
                continue;
            }
            tracing::info!(code = %refusal.code, "server refused a card's changes");
            self.skip.insert(refusal.card_id.clone());
            report.refused.push((
                refusal.card_id.clone(),
                refusal.code.clone(),
                refusal.message.clone(),
            ));
        }
        // A card acknowledged in this request may have been edited meanwhile; it is
        // pushed by the next sync, not re-pushed in a loop by this one.
        self.skip.extend(
            pushes
                .iter()
                .map(|p| p.push.card_id.clone())
                .filter(|id| !restored_now.contains(id)),
        );
        let mut fallback: Vec<String> = response.fallback.clone();
        fallback.extend(applied.need_fallback);
        fallback.sort();
        fallback.dedup();
        let then = AfterSync {
            fallback: fallback.into(),
            more: response.more || more_pushes || again,
        };
        Ok(if rekey {
            Phase::Rekey { then }
        } else {
            Phase::Fallback { then, run: None }
        })
    }

    fn send(&mut self, path: &'static str, body: Vec<u8>) -> Step {
        self.report.progress.requests += 1;
        self.report.progress.bytes_up += body.len() as u64;
        Step::Send(HttpRequest {
            path,
            bearer: Some(self.token.clone()),
            content_type: wire::CONTENT_TYPE,
            body,
        })
    }

    fn finish(&mut self, store: &Store) -> Result<Step> {
        self.phase = Phase::Done;
        for card in self.reused.drain() {
            // The full pass did not bring the card (no longer in scope): it stays pending.
            self.report.refused.push((
                card,
                ACTOR_REUSED.to_string(),
                "this store's actor was reused; the card waits for the next sync".to_string(),
            ));
        }
        self.report.pending = store.pending_cards()?;
        Ok(Step::Done(self.report.clone()))
    }
}

impl FallbackRun {
    fn new(card: &str) -> Result<FallbackRun> {
        let id: CardId = card
            .parse()
            .map_err(|_| Error::Protocol("fallback for an invalid card id".into()))?;
        Ok(FallbackRun {
            id,
            state: State::new(),
            incoming: None,
            server_heads: Vec::new(),
            rounds: 0,
        })
    }
}

fn encode<T: serde::Serialize>(message: &T) -> Result<Vec<u8>> {
    wire::encode(message).map_err(|e| Error::Protocol(e.to_string()))
}

fn out_of_step() -> Error {
    Error::Protocol("the sync session was driven out of step (a request is still out)".into())
}

/// The body of a 200 answer; any other status is the server's refusal.
pub(crate) fn ok_body(response: HttpResponse) -> Result<Vec<u8>> {
    if response.status == 200 {
        Ok(response.body)
    } else {
        Err(server_error(response.status, &response.body))
    }
}

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
