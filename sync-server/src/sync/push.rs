//! One pushed card: bounded, applied to its document, checked (actor, author, card
//! validity, scope, territory), and written with the other cards of its page in one
//! transaction. See the parent module for the rules.

use std::collections::HashSet;

use automerge::{Automerge, ChangeHash, ReadDoc, ScalarValue, Value};
use fieldbook_core::card::{check_visit_people, validate_card_doc};
use fieldbook_core::guard::{BytesLimits, apply_checked, check_automerge_bytes};
use fieldbook_core::sync::wire::CardPush;

use super::SyncLimits;
use super::handoff::{Handoff, handoff_of, hold};
use crate::cache::DocCache;
use crate::error::{Error, Result};
use crate::storage::{CardCommit, CommitOutcome, Device, NewChange, Storage, StoredCard};

/// How many times a card write is retried when another writer moved the card.
const COMMIT_ATTEMPTS: usize = 8;

pub(super) enum PushOutcome {
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
/// every write of the page goes to storage in one transaction. The page's cards are held
/// from first read to commit against this process's other writers; a card another
/// instance moved meanwhile is redone alone, with retries. Outcomes are in the order of `page`; a storage
/// failure fails the whole request (nothing of the failed transaction was acknowledged).
pub(super) fn apply_page(
    storage: &dyn Storage,
    docs: &DocCache,
    device: &Device,
    scope: &HashSet<String>,
    page: &[CardPush],
    limits: SyncLimits,
    now: i64,
) -> Result<Vec<Result<PushOutcome>>> {
    let ctx = PageContext {
        storage,
        docs,
        device,
        scope,
        page,
        limits,
        now,
    };
    // This process's other writers of these cards wait until the page is committed
    // (`card_locks`): they would otherwise read the same versions and lose the race.
    let _held = docs.writers().hold(page.iter().map(|p| p.card_id.as_str()));
    let mut outcomes: Vec<Result<PushOutcome>> = Vec::with_capacity(page.len());
    let mut writes: Vec<(usize, PendingWrite)> = Vec::new();
    for (i, push) in page.iter().enumerate() {
        // A card pushed twice in one request: its second push builds on the first, so the
        // first must be written before the second is prepared.
        if writes.iter().any(|(_, w)| w.commit.card_id == push.card_id) {
            ctx.flush(&mut writes, &mut outcomes)?;
        }
        match prepare_push(storage, docs, device, scope, push, limits, now) {
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
    limits: SyncLimits,
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
                        self.limits,
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
    limits: SyncLimits,
    now: i64,
) -> Result<PushOutcome> {
    for _ in 0..COMMIT_ATTEMPTS {
        match prepare_push(storage, docs, device, scope, push, limits, now)? {
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
    limits: SyncLimits,
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
        handoff = handoff_of(
            storage,
            device,
            &push.card_id,
            &card.territory,
            limits.handoff_grace_secs,
            now,
        )?;
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
        hold(storage, device, &push.card_id, &new_changes, &limits, now)?;
        return Err(Error::HandoffExpired);
    }
    let acked_heads: Vec<[u8; 32]> = push
        .heads
        .iter()
        .filter(|h| doc.get_change_meta_by_hash(&ChangeHash(**h)).is_some())
        .copied()
        .collect();
    let writer = Writer {
        storage,
        device,
        scope,
        now,
    };
    let commit = writer.build_commit(
        &push.card_id,
        stored.as_ref(),
        &doc,
        new_changes,
        handoff == Handoff::Late,
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
        if !device.owns_actor(meta.actor.to_bytes()) {
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
        if !device.owns_actor(change.actor_id().to_bytes()) {
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

/// Who writes a card, within which scope, at what time: what every commit of a pushed or
/// fallback-merged card is checked against.
pub(crate) struct Writer<'a> {
    pub storage: &'a dyn Storage,
    pub device: &'a Device,
    pub scope: &'a HashSet<String>,
    pub now: i64,
}

impl Writer<'_> {
    /// Checks scope and writes the card when it gained changes. Returns what the commit
    /// did, or `None` when there was nothing new to write.
    pub(crate) fn commit_if_new(
        &self,
        card_id: &str,
        stored: Option<&StoredCard>,
        doc: &Automerge,
        changes: Vec<NewChange>,
        late: bool,
    ) -> Result<Option<CommitOutcome>> {
        match self.build_commit(card_id, stored, doc, changes, late)? {
            Some(commit) => self.storage.commit_card(&commit).map(Some),
            None => Ok(None),
        }
    }

    /// Checks scope and builds the write of a card that gained changes (`None`: nothing
    /// new).
    fn build_commit(
        &self,
        card_id: &str,
        stored: Option<&StoredCard>,
        doc: &Automerge,
        changes: Vec<NewChange>,
        late: bool,
    ) -> Result<Option<CardCommit>> {
        let (storage, device, scope, now) = (self.storage, self.device, self.scope, self.now);
        if changes.is_empty() {
            return Ok(None);
        }
        // The card model's own check, on the document as it would be stored: a card every
        // device can read, or nothing.
        validate_card_doc(doc, card_id).map_err(Error::from_card_check)?;
        // The person on a visit is the author of the change that logged it (issue 6, item 8).
        let before = stored.map_or(&[][..], |c| c.heads.as_slice());
        check_visit_people(
            doc,
            before,
            &device.person_id,
            device.role != crate::storage::Role::Rep,
        )
        .map_err(Error::from_card_check)?;
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
        let commit = super::card_commit(
            storage,
            card_id,
            territory,
            stored,
            doc,
            changes,
            super::CommitBy {
                device_id: &device.id,
                late,
                now,
                times: crate::manager::read_model::Times::Received,
            },
        )?;
        // Only a sales manager approves credit: from the changes' own diffs (above).
        crate::approval::check_approval(
            &commit,
            stored.is_none(),
            crate::approval::may_approve(device.role),
        )?;
        Ok(Some(commit))
    }
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
