//! The sync engine: one [`SyncRequest`] in, one [`SyncResponse`] out.
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
//! - every **new** change (one the server did not already hold) must carry the device's
//!   bound actor and its person as author, or the card is refused with
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

use std::collections::{BTreeMap, HashSet};

use automerge::{Automerge, ChangeHash, ReadDoc, ScalarValue, Value};
use fieldbook_core::card::validate_card_doc;
use fieldbook_core::guard::{BytesLimits, apply_checked, check_automerge_bytes};
use fieldbook_core::sync::wire::{
    CardAck, CardChanges, CardPush, CardRefusal, PROTOCOL_VERSION, PayloadKind, SyncRequest,
    SyncResponse,
};

use crate::auth::{CursorState, issue_cursor, read_cursor};
use crate::cache::DocCache;
use crate::error::{Error, Result};
use crate::storage::{
    CardCommit, CommitOutcome, Device, HeldChanges, NewChange, Role, ServerIdentity, Storage,
    StoredCard,
};

/// How many times a card write is retried when another writer moved the card.
const COMMIT_ATTEMPTS: usize = 8;

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
            Some(state)
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
    storage.record_sync(&device.id, now)?;
    Ok((response, stats))
}

/// Errors that refuse one card rather than the whole request.
fn is_card_refusal(e: &Error) -> bool {
    matches!(
        e,
        Error::AccessDenied
            | Error::HandoffExpired
            | Error::ActorMismatch
            | Error::AuthorMismatch
            | Error::BadChange(_)
            | Error::TerritoryChange
            | Error::CardTooLarge(_)
            | Error::InvalidCard(_)
            | Error::Invalid(_)
            | Error::ActorReused
    )
}

enum PushOutcome {
    Acked {
        heads: Vec<[u8; 32]>,
        appended: usize,
    },
    Fallback,
}

/// A push applied to its card's document and checked, not yet written.
enum Prepared {
    /// Decided without a write: nothing new (acked), or fallback.
    Done(PushOutcome),
    /// To write; acknowledged once the write is committed.
    Write(Box<PendingWrite>),
}

struct PendingWrite {
    commit: CardCommit,
    doc: Automerge,
    stored: Option<StoredCard>,
    acked_heads: Vec<[u8; 32]>,
}

/// Applies a page of pushes: each is prepared on its own (refusals stay per card), then
/// every write of the page goes to storage in one transaction. A card another writer moved
/// meanwhile is redone alone, with retries. Outcomes are in the order of `page`; a storage
/// failure fails the whole request (nothing of the failed transaction was acknowledged).
fn apply_page(
    storage: &dyn Storage,
    docs: &DocCache,
    device: &Device,
    scope: &HashSet<String>,
    page: &[CardPush],
    limits: SyncLimits,
    now: i64,
) -> Result<Vec<Result<PushOutcome>>> {
    let grace = limits.handoff_grace_secs;
    let ctx = PageContext {
        storage,
        docs,
        device,
        scope,
        page,
        grace,
        now,
    };
    let mut outcomes: Vec<Result<PushOutcome>> = Vec::with_capacity(page.len());
    let mut writes: Vec<(usize, PendingWrite)> = Vec::new();
    for (i, push) in page.iter().enumerate() {
        // A card pushed twice in one request: its second push builds on the first, so the
        // first must be written before the second is prepared.
        if writes.iter().any(|(_, w)| w.commit.card_id == push.card_id) {
            ctx.flush(&mut writes, &mut outcomes)?;
        }
        match prepare_push(storage, docs, device, scope, push, grace, now) {
            Ok(Prepared::Done(outcome)) => outcomes.push(Ok(outcome)),
            Ok(Prepared::Write(write)) => {
                // A placeholder, replaced once the write is committed.
                outcomes.push(Err(Error::Conflict));
                writes.push((i, *write));
            }
            Err(e) => outcomes.push(Err(e)),
        }
    }
    ctx.flush(&mut writes, &mut outcomes)?;
    Ok(outcomes)
}

struct PageContext<'a> {
    storage: &'a dyn Storage,
    docs: &'a DocCache,
    device: &'a Device,
    scope: &'a HashSet<String>,
    page: &'a [CardPush],
    grace: i64,
    now: i64,
}

impl PageContext<'_> {
    /// Writes the pending writes in one transaction and fills in their outcomes.
    fn flush(
        &self,
        writes: &mut Vec<(usize, PendingWrite)>,
        outcomes: &mut [Result<PushOutcome>],
    ) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        let (slots, pending): (Vec<usize>, Vec<PendingWrite>) = writes.drain(..).unzip();
        let mut commits = Vec::with_capacity(pending.len());
        let mut rest = Vec::with_capacity(pending.len());
        for w in pending {
            commits.push(w.commit);
            rest.push((w.doc, w.stored, w.acked_heads));
        }
        // A storage failure fails the whole request, as it would card by card.
        let results = self.storage.commit_cards(&commits)?;
        if results.len() != commits.len() {
            return Err(Error::Storage(
                "commit_cards answered for a different number of cards".into(),
            ));
        }
        for (((slot, result), (doc, stored, heads)), commit) in
            slots.into_iter().zip(results).zip(rest).zip(&commits)
        {
            let Some(outcome) = outcomes.get_mut(slot) else {
                continue;
            };
            *outcome = match result {
                Ok(committed) => {
                    keep_committed(
                        self.docs,
                        &commit.card_id,
                        stored.as_ref(),
                        Some(committed),
                        doc,
                    );
                    Ok(PushOutcome::Acked {
                        heads,
                        appended: committed.appended,
                    })
                }
                Err(Error::Conflict) => match self.page.get(slot) {
                    Some(push) => apply_push(
                        self.storage,
                        self.docs,
                        self.device,
                        self.scope,
                        push,
                        self.grace,
                        self.now,
                    ),
                    None => Err(Error::Conflict),
                },
                Err(e) => Err(e),
            };
        }
        Ok(())
    }
}

/// Applies one push with its own commit, retrying when another writer moved the card.
fn apply_push(
    storage: &dyn Storage,
    docs: &DocCache,
    device: &Device,
    scope: &HashSet<String>,
    push: &CardPush,
    grace_secs: i64,
    now: i64,
) -> Result<PushOutcome> {
    for _ in 0..COMMIT_ATTEMPTS {
        match prepare_push(storage, docs, device, scope, push, grace_secs, now)? {
            Prepared::Done(outcome) => return Ok(outcome),
            Prepared::Write(w) => {
                let PendingWrite {
                    commit,
                    doc,
                    stored,
                    acked_heads,
                } = *w;
                match storage.commit_card(&commit) {
                    Ok(committed) => {
                        keep_committed(
                            docs,
                            &commit.card_id,
                            stored.as_ref(),
                            Some(committed),
                            doc,
                        );
                        return Ok(PushOutcome::Acked {
                            heads: acked_heads,
                            appended: committed.appended,
                        });
                    }
                    Err(Error::Conflict) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Err(Error::Conflict)
}

/// Reads the card, applies the push to its document and checks it; writes nothing but held
/// changes (expired handoff).
fn prepare_push(
    storage: &dyn Storage,
    docs: &DocCache,
    device: &Device,
    scope: &HashSet<String>,
    push: &CardPush,
    grace_secs: i64,
    now: i64,
) -> Result<Prepared> {
    validate_card_id(&push.card_id)?;
    // Bound the bytes first, without Automerge: a card that does not exist and one the
    // caller may not write get the same answer for bytes that are too large or malformed.
    let checked =
        check_automerge_bytes(&push.changes, &BytesLimits::CARD).map_err(Error::from_card_check)?;
    let stored = storage.card(&push.card_id)?;
    let mut handoff = Handoff::None;
    if let Some(card) = &stored
        && !scope.contains(&card.territory)
    {
        // Not in scope: only the card's previous owner gets anything but a plain
        // refusal, and only for their late edits.
        handoff = match storage.territory_lost_at(&device.person_id, &card.territory)? {
            Some(at) if now.saturating_sub(at) <= grace_secs => Handoff::Late,
            Some(_) => Handoff::Expired,
            None => return Err(Error::AccessDenied),
        };
    }
    // The document is ours from here on: it goes back to the cache only once what it
    // holds is committed (a refusal or an error below drops it).
    // The card as a whole stays within the card limit (its stored bytes are a lower bound
    // of its inflated size).
    let stored_len = stored.as_ref().map_or(0, |c| c.doc.len() as u64);
    if stored_len.saturating_add(checked.inflated_bytes) > BytesLimits::CARD.max_inflated_bytes {
        return Err(Error::CardTooLarge(
            "the card would grow past the card limit".into(),
        ));
    }
    let mut doc = take_or_load(docs, stored.as_ref())?;
    let before = doc.get_heads();
    // Strict: `load_incremental` alone would keep the valid prefix of partly bad bytes.
    apply_checked(&mut doc, &push.changes, &checked).map_err(Error::from_card_check)?;
    if !doc.get_missing_deps(&[]).is_empty() {
        return Ok(Prepared::Done(PushOutcome::Fallback));
    }
    let new_changes = new_changes_checked(&doc, &before, device)?;
    if stored.is_none() && new_changes.is_empty() {
        // Nothing creates the card: answer as for a card the caller may not see, so an
        // empty push cannot tell "does not exist" from "not yours".
        return Err(Error::AccessDenied);
    }
    if handoff == Handoff::Expired {
        hold(storage, device, &push.card_id, &new_changes, now)?;
        return Err(Error::HandoffExpired);
    }
    let acked_heads: Vec<[u8; 32]> = push
        .heads
        .iter()
        .filter(|h| doc.get_change_meta_by_hash(&ChangeHash(**h)).is_some())
        .copied()
        .collect();
    let commit = build_commit(
        storage,
        device,
        scope,
        &push.card_id,
        stored.as_ref(),
        &doc,
        new_changes,
        handoff == Handoff::Late,
        now,
    )?;
    match commit {
        None => {
            keep_committed(docs, &push.card_id, stored.as_ref(), None, doc);
            Ok(Prepared::Done(PushOutcome::Acked {
                heads: acked_heads,
                appended: 0,
            }))
        }
        Some(commit) => Ok(Prepared::Write(Box::new(PendingWrite {
            commit,
            doc,
            stored,
            acked_heads,
        }))),
    }
}

/// Where a push stands with respect to a handoff of the card's territory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handoff {
    /// The card is in the device's scope (or new).
    None,
    /// The device's person lost the territory within the grace period: accept, mark late.
    Late,
    /// They lost it longer ago: refuse, but keep the changes for a manager.
    Expired,
}

/// Keeps refused late edits for a manager (once, however often the device retries).
fn hold(
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

/// The stored card's document: from the cache when it holds this very version, else loaded.
pub(crate) fn take_or_load(docs: &DocCache, stored: Option<&StoredCard>) -> Result<Automerge> {
    match stored.and_then(|card| docs.take(card)) {
        Some(doc) => Ok(doc),
        None => load_stored(stored),
    }
}

/// Puts a document back into the cache once it equals the stored card: after a commit (at
/// the commit's position), or unchanged (nothing was new) at the stored position.
pub(crate) fn keep_committed(
    docs: &DocCache,
    card_id: &str,
    stored: Option<&StoredCard>,
    committed: Option<CommitOutcome>,
    doc: Automerge,
) {
    let position = match (committed, stored) {
        (Some(c), _) => c.last_position,
        (None, Some(card)) => card.last_position,
        (None, None) => 0,
    };
    // Position 0: nothing is stored for the card, so there is nothing to stand for.
    if position > 0 && doc.get_missing_deps(&[]).is_empty() {
        docs.put(card_id, position, doc);
    }
}

/// Loads a stored card's document (or an empty one for a new card).
pub(crate) fn load_stored(stored: Option<&StoredCard>) -> Result<Automerge> {
    match stored {
        Some(card) => Automerge::load(&card.doc)
            .map_err(|e| Error::Internal(format!("stored document does not load: {e}"))),
        None => Ok(Automerge::new()),
    }
}

/// The changes `doc` holds beyond `before`, each checked to be the device's own.
///
/// Only the new changes are looked at: first their metadata (actor, author; cheap, from the
/// change graph), and only when all pass their bytes (rebuilt from the document's ops in
/// the new changes' op range), so a refused push costs no encoding.
pub(crate) fn new_changes_checked(
    doc: &Automerge,
    before: &[ChangeHash],
    device: &Device,
) -> Result<Vec<NewChange>> {
    let person = device.person_id.as_bytes();
    let metas = doc.get_changes_meta(before);
    if metas.is_empty() {
        return Ok(Vec::new());
    }
    for meta in &metas {
        if meta.actor.to_bytes() != device.actor.as_slice() {
            return Err(Error::ActorMismatch);
        }
        // Automerge writes the author into an actor's first change in a document only
        // (seq 1); later changes inherit it through the document's actor → author map.
        // So: the author the document maps the actor to (established by a seq-1 change,
        // checked here when it was new) must be the person.
        if meta.author.as_ref().is_none_or(|a| a.as_bytes() != person) {
            return Err(Error::AuthorMismatch);
        }
    }
    let changes = doc.get_changes(before);
    let mut out = Vec::with_capacity(changes.len());
    for change in changes {
        // Belt and braces: the changes themselves, as the log will keep them.
        if change.actor_id().to_bytes() != device.actor.as_slice() {
            return Err(Error::ActorMismatch);
        }
        if change.author().is_some_and(|a| a.as_bytes() != person) {
            return Err(Error::AuthorMismatch);
        }
        if doc
            .get_author_for_actor(change.actor_id())
            .is_none_or(|a| a.as_bytes() != person)
        {
            return Err(Error::AuthorMismatch);
        }
        out.push(NewChange {
            hash: change.hash().0,
            bytes: change.raw_bytes().to_vec(),
        });
    }
    Ok(out)
}

/// Checks scope and writes the card when it gained changes. Returns what the commit did,
/// or `None` when there was nothing new to write.
#[allow(clippy::too_many_arguments)]
pub(crate) fn commit_if_new(
    storage: &dyn Storage,
    device: &Device,
    scope: &HashSet<String>,
    card_id: &str,
    stored: Option<&StoredCard>,
    doc: &Automerge,
    changes: Vec<NewChange>,
    late: bool,
    now: i64,
) -> Result<Option<CommitOutcome>> {
    match build_commit(
        storage, device, scope, card_id, stored, doc, changes, late, now,
    )? {
        Some(commit) => storage.commit_card(&commit).map(Some),
        None => Ok(None),
    }
}

/// Checks scope and builds the write of a card that gained changes (`None`: nothing new).
#[allow(clippy::too_many_arguments)]
fn build_commit(
    storage: &dyn Storage,
    device: &Device,
    scope: &HashSet<String>,
    card_id: &str,
    stored: Option<&StoredCard>,
    doc: &Automerge,
    changes: Vec<NewChange>,
    late: bool,
    now: i64,
) -> Result<Option<CardCommit>> {
    if changes.is_empty() {
        return Ok(None);
    }
    // The card model's own check, on the document as it would be stored: a card every
    // device can read, or nothing.
    validate_card_doc(doc, card_id).map_err(Error::from_card_check)?;
    let territory = root_string(doc, "territory")
        .ok_or_else(|| Error::InvalidCard("card has no territory".into()))?;
    if !late && !scope.contains(&territory) {
        return Err(Error::AccessDenied);
    }
    // Moving a card to another territory through a sync would leave the devices of the old
    // territory holding it and those of the new one lacking its history: moves are a
    // manager operation (to come, with card-level handoff), not an edit.
    if let Some(card) = stored
        && card.territory != territory
    {
        return Err(Error::TerritoryChange);
    }
    let commit = CardCommit {
        card_id: card_id.to_owned(),
        territory,
        expected_last_position: stored.map(|c| c.last_position),
        doc: stored_bytes(doc, stored, &changes),
        heads: doc.get_heads().into_iter().map(|h| h.0).collect(),
        projection: crate::receive_time::projection_received(storage, card_id, doc, now)?,
        changes,
        late,
        device_id: device.id.clone(),
        received_at: now,
    };
    Ok(Some(commit))
}

/// Smallest tail of change chunks a stored document may carry before it is compacted.
const COMPACT_MIN_TAIL: usize = 2 * 1024;

/// The bytes to store for a card's document after `changes`: the stored bytes with the new
/// change chunks appended (still one loadable document: `Automerge::load` reads a document
/// chunk followed by change chunks), or a fresh `save()` once the appended tail outgrows
/// a quarter of the compacted part (at least [`COMPACT_MIN_TAIL`]). `save()` spends most of
/// its time compressing columns; this way a card edited one change at a time pays it
/// every ten or so edits instead of on every one.
fn stored_bytes(doc: &Automerge, stored: Option<&StoredCard>, changes: &[NewChange]) -> Vec<u8> {
    if let Some(card) = stored
        && let Some(compacted) = document_chunk_len(&card.doc)
    {
        let tail = card.doc.len().saturating_sub(compacted)
            + changes.iter().map(|c| c.bytes.len()).sum::<usize>();
        if tail <= COMPACT_MIN_TAIL.max(compacted / 4) {
            let mut out = Vec::with_capacity(compacted + tail);
            out.extend_from_slice(&card.doc);
            for change in changes {
                out.extend_from_slice(&change.bytes);
            }
            return out;
        }
    }
    doc.save()
}

/// The length of the leading chunk of `bytes` when it is an Automerge document chunk
/// (magic, 4-byte checksum, type 0, LEB128 length, data), else `None`.
fn document_chunk_len(bytes: &[u8]) -> Option<usize> {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    const DOCUMENT: u8 = 0;
    if bytes.get(..4)? != MAGIC || *bytes.get(8)? != DOCUMENT {
        return None;
    }
    let mut len: u64 = 0;
    let mut at = 9;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(at)?;
        at += 1;
        len |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            let end = at.checked_add(usize::try_from(len).ok()?)?;
            return (end <= bytes.len()).then_some(end);
        }
    }
    None
}

/// A string at a root key, if it is one.
pub(crate) fn root_string(doc: &Automerge, key: &str) -> Option<String> {
    match doc.get(automerge::ROOT, key).ok()?? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// Card ids are UUID text in practice; accept any short printable id, refuse the rest.
pub(crate) fn validate_card_id(id: &str) -> Result<()> {
    crate::admin::validate_id("card", id)
}

struct Item {
    key: (u64, String),
    kind: PayloadKind,
    heads: Vec<[u8; 32]>,
}

#[allow(clippy::too_many_arguments)]
fn pull(
    storage: &dyn Storage,
    identity: &ServerIdentity,
    device: &Device,
    scope: &HashSet<String>,
    start: Option<CursorState>,
    budget: usize,
    response: &mut SyncResponse,
    stats: &mut SyncStats,
) -> Result<()> {
    // Read the head first: everything up to it is what this response covers. Entries
    // committed while we work have larger positions and come next time.
    let head = storage.head_position()?;
    let start = start.unwrap_or_default();
    let base = start.position;
    let mut scope_list: Vec<String> = scope.iter().cloned().collect();
    scope_list.sort();

    let mut items: BTreeMap<String, Item> = BTreeMap::new();
    if base == 0 {
        // First sync: every card in scope, compacted, except those made only of this
        // device's own changes (it has them; a device that lost its data enrols anew).
        for c in storage.cards_changed_by_others(&scope_list, 0, head, &device.id)? {
            items.insert(
                c.card_id.clone(),
                Item {
                    key: (c.last_position, c.card_id),
                    kind: PayloadKind::Snapshot,
                    heads: c.heads,
                },
            );
        }
    } else {
        let mut gained: BTreeMap<String, u64> = BTreeMap::new();
        let mut lost: BTreeMap<String, u64> = BTreeMap::new();
        for e in storage.scope_events_after(&device.person_id, base)? {
            if e.position > head {
                continue;
            }
            if e.gained && scope.contains(&e.territory_id) {
                gained.insert(e.territory_id, e.position);
            } else if !e.gained && !scope.contains(&e.territory_id) {
                lost.insert(e.territory_id, e.position);
            }
        }
        for c in storage.cards_changed_by_others(&scope_list, base, head, &device.id)? {
            let kind = if c.first_position > base {
                PayloadKind::Snapshot
            } else {
                PayloadKind::Changes
            };
            // Heads let the device advance its acknowledged heads; only valid when the
            // delivered entries reach the card's latest change.
            let heads = if c.last_position <= head {
                c.heads
            } else {
                Vec::new()
            };
            items.insert(
                c.card_id.clone(),
                Item {
                    key: (c.last_position, c.card_id),
                    kind,
                    heads,
                },
            );
        }
        if !gained.is_empty() {
            let territories: Vec<String> = gained.keys().cloned().collect();
            for c in storage.cards_in_territories(&territories)? {
                let at = gained.get(&c.territory).copied().unwrap_or(0);
                items.insert(
                    c.card_id.clone(),
                    Item {
                        key: (c.last_position.max(at), c.card_id),
                        kind: PayloadKind::Snapshot,
                        heads: c.heads,
                    },
                );
            }
        }
        if start.after.is_none() && !lost.is_empty() {
            let territories: Vec<String> = lost.keys().cloned().collect();
            response.revoked = storage
                .cards_in_territories(&territories)?
                .into_iter()
                .map(|c| c.card_id)
                .collect();
        }
    }

    let mut ordered: Vec<Item> = items.into_values().collect();
    ordered.sort_by(|a, b| a.key.cmp(&b.key));
    if let Some(after) = &start.after {
        ordered.retain(|i| &i.key > after);
    }

    let mut used = 0usize;
    let mut last_key = None;
    let mut more = false;
    for item in ordered {
        let card_id = item.key.1.clone();
        let bytes = match item.kind {
            PayloadKind::Snapshot => match storage.card(&card_id)? {
                Some(card) => {
                    let heads = card.heads;
                    if used > 0 && used + card.doc.len() > budget {
                        more = true;
                        break;
                    }
                    used += card.doc.len();
                    push_item(response, &card_id, item.kind, card.doc, heads);
                    last_key = Some(item.key);
                    continue;
                }
                None => continue,
            },
            PayloadKind::Changes => storage
                .changes_by_others(&card_id, base, head, &device.id)?
                .concat(),
        };
        if bytes.is_empty() {
            continue;
        }
        if used > 0 && used + bytes.len() > budget {
            more = true;
            break;
        }
        used += bytes.len();
        push_item(response, &card_id, item.kind, bytes, item.heads);
        last_key = Some(item.key);
    }
    stats.cards_sent = response.changes.len();
    let next = if more {
        CursorState {
            position: base,
            after: last_key.or(start.after),
        }
    } else {
        CursorState {
            position: head,
            after: None,
        }
    };
    response.more = more;
    response.cursor = issue_cursor(&identity.cursor_key, &device.id, &next)?;
    Ok(())
}

fn push_item(
    response: &mut SyncResponse,
    card_id: &str,
    kind: PayloadKind,
    bytes: Vec<u8>,
    heads: Vec<[u8; 32]>,
) {
    response.changes.push(CardChanges {
        card_id: card_id.to_owned(),
        kind,
        bytes,
        heads,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::AutoCommit;
    use automerge::transaction::Transactable;

    fn card(doc: &[u8], heads: Vec<[u8; 32]>) -> StoredCard {
        StoredCard {
            card_id: "c".into(),
            territory: "t".into(),
            doc: doc.to_vec(),
            first_position: 1,
            last_position: 1,
            heads,
        }
    }

    /// Stored bytes stay one loadable document through many appends and compactions.
    #[test]
    fn appended_tails_load_and_get_compacted() {
        let mut doc = AutoCommit::new();
        doc.put(automerge::ROOT, "notes", "x".repeat(4000))
            .expect("put");
        doc.commit();
        let mut bytes = doc.save();
        let compacted_len = bytes.len();
        assert_eq!(document_chunk_len(&bytes), Some(compacted_len));
        let mut compactions = 0;
        for i in 0..200 {
            let before = doc.get_heads();
            doc.put(automerge::ROOT, "phone", format!("138{i:08}"))
                .expect("put");
            doc.commit();
            let changes: Vec<NewChange> = doc
                .document()
                .get_changes(&before)
                .into_iter()
                .map(|c| NewChange {
                    hash: c.hash().0,
                    bytes: c.raw_bytes().to_vec(),
                })
                .collect();
            let stored = card(&bytes, Vec::new());
            let next = stored_bytes(doc.document(), Some(&stored), &changes);
            if next.len() < bytes.len() {
                compactions += 1;
            }
            bytes = next;
            let loaded = Automerge::load(&bytes).expect("stored bytes load");
            assert_eq!(loaded.get_heads(), doc.get_heads());
            assert!(document_chunk_len(&bytes).is_some());
            assert!(bytes.len() <= compacted_len * 2 + COMPACT_MIN_TAIL + 1024);
        }
        assert!(compactions > 3, "compacted {compactions} times");
        assert_eq!(document_chunk_len(b"not a document"), None);
        assert_eq!(
            document_chunk_len(&[0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 0, 0xff]),
            None
        );
    }
}
