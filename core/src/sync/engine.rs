//! Drivers of a sync: they send what a [`SyncSession`] plans and give it the answers.
//!
//! - [`sync`] drives a session over a `&mut Store` (the CLI, tests, benchmarks).
//! - [`sync_shared`] drives it over a store behind a `Mutex`, locked only to plan a
//!   request and to apply its answer, never while the request is on the network, and
//!   stops between two requests when asked to ([`Cancel`]). This is what an app uses,
//!   with its read connection ([`crate::store::StoreReader`]) serving screens meanwhile.
//! - [`enrol`], and its two halves [`enrol_request`] / [`enrol_finish`].
//!
//! What a sync does is described in [`super::session`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use super::session::{HttpRequest, Step, SyncSession, ok_body};
use super::transport::{HttpResponse, Transport};
use super::wire::{EnrolRequest, EnrolResponse};
use crate::error::{Error, Result};
use crate::ids::RepId;
use crate::store::Store;
use crate::store::sync_state::Enrolment;

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
    /// Revoked cards kept because they hold edits the server has not answered yet (they
    /// are purged once it accepts them or holds them for review).
    pub revoked_kept: Vec<String>,
    /// Revoked cards purged after the server held this device's last edits of them for a
    /// manager's review (refused past the handoff grace period): the rep is told which.
    pub to_review: Vec<String>,
    /// Cards whose unsynced edit of the territory was undone by this sync (the server
    /// refused it with `sync.territory_change`: a manager moves cards), so that their
    /// other edits went through.
    pub territory_restored: Vec<String>,
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
    /// The company settings revision this sync put in force, when the server had new
    /// settings (see [`crate::company`]).
    pub settings_revision: Option<u64>,
    /// The write transactions the server's answers were applied in: a long answer is
    /// committed in parts of a few milliseconds each, so the rep's edits never wait
    /// for the whole of it.
    pub write_transactions: u32,
}

/// A flag that stops a running [`sync_shared`] before its next request. Set it from any
/// thread; the sync ends with `sync.cancelled` and everything applied so far stays.
#[derive(Debug, Default)]
pub struct Cancel(AtomicBool);

impl Cancel {
    /// A flag not set.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Ask the sync to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether stopping was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Clear the flag, for the next sync.
    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// Sends one planned request through `transport`; no answer at all is `sync.network`.
pub fn send(transport: &dyn Transport, request: HttpRequest) -> Result<HttpResponse> {
    transport
        .post(
            request.path,
            request.bearer.as_deref(),
            request.content_type,
            request.body,
        )
        .map_err(Error::Network)
}

/// Sync the store with its server. `on_progress` is called after every request.
pub fn sync(
    store: &mut Store,
    transport: &dyn Transport,
    on_progress: &mut dyn FnMut(&SyncProgress),
) -> Result<SyncReport> {
    let mut session = SyncSession::new(store)?;
    loop {
        match session.next(store)? {
            Step::Done(report) => return Ok(report),
            Step::Send(request) => {
                let response = send(transport, request)?;
                session.receive(store, response)?;
                if !session.applying() {
                    on_progress(session.progress());
                }
            }
            Step::Applied => {
                on_progress(session.progress());
                session.wait_ready();
            }
        }
    }
}

/// Sync a store shared with other threads: the mutex is held to plan each request and to
/// apply its answer (one transaction), never while the request is out, so other threads
/// read and edit meanwhile. `on_progress` runs after every request without the lock; an
/// error from it stops the sync with that error. `cancel` is checked before every
/// request (`sync.cancelled`).
pub fn sync_shared<S: SharedStore + ?Sized>(
    store: &S,
    transport: &dyn Transport,
    on_progress: &mut dyn FnMut(&SyncProgress) -> Result<()>,
    cancel: &Cancel,
) -> Result<SyncReport> {
    let mut session = store.with_store(|s| SyncSession::new(s))?;
    loop {
        match store.with_store(|s| session.next(s))? {
            Step::Done(report) => return Ok(report),
            Step::Send(request) => {
                if cancel.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                let response = send(transport, request)?;
                store.with_store(|s| session.receive(s, response))?;
                // An answer being applied is reported after its parts (`Step::Applied`):
                // a callback that stops the sync then keeps what was applied.
                if !session.applying() {
                    on_progress(session.progress())?;
                }
            }
            // The store was unlocked between two parts of an answer: the app's edits
            // go in here. A mutex does not queue its waiters, and a waiter woken on a
            // busy core may need a moment to run: give it one before the next part
            // (the parts' pace is set by decoding on the other threads anyway). After the
            // last part there is nothing to give way to.
            Step::Applied => {
                if session.applying() {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                on_progress(session.progress())?;
                session.wait_ready();
            }
        }
    }
}

/// A store shared between threads, locked for one step at a time ([`sync_shared`]).
pub trait SharedStore: Sync {
    /// Runs `f` with the store locked.
    fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T>;
}

/// A poisoned lock is taken over, not propagated: a panic on another thread while it
/// held the lock cannot have left the database half-written (every write is one
/// transaction, rolled back on unwind); only the in-memory document cache may be stale,
/// and it is checked against each card's stored version before use.
impl SharedStore for Mutex<Store> {
    fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        f(&mut self.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

/// A store that can be closed (`None`): `store.closed` once it is.
impl SharedStore for Mutex<Option<Store>> {
    fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        let mut guard = self.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(guard.as_mut().ok_or(Error::Closed)?)
    }
}

/// The enrolment request: redeem the one-time `token` for this device's actor.
pub fn enrol_request(store: &Store, token: &str) -> Result<HttpRequest> {
    let body = serde_json::to_vec(&EnrolRequest {
        token: token.to_string(),
        actor: store.device_id(),
    })
    .map_err(|e| Error::Protocol(e.to_string()))?;
    Ok(HttpRequest {
        path: "/v1/enrol",
        bearer: None,
        content_type: "application/json",
        body,
    })
}

/// Records the server's answer to [`enrol_request`]: the device acts for the rep the
/// token was issued to, with the role the server gave it.
pub fn enrol_finish(
    store: &mut Store,
    server_url: &str,
    response: HttpResponse,
) -> Result<EnrolResponse> {
    let bytes = ok_body(response)?;
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

/// Enrol this device with a server using a one-time enrolment token. The device's
/// actor id is bound to it on the server; from now on it acts for the rep the
/// token was issued to.
pub fn enrol(
    store: &mut Store,
    transport: &dyn Transport,
    server_url: &str,
    token: &str,
) -> Result<EnrolResponse> {
    let response = send(transport, enrol_request(store, token)?)?;
    enrol_finish(store, server_url, response)
}
