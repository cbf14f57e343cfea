//! Applying one sync answer in bounded parts.
//!
//! A first sync, or a territory handed over, brings thousands of cards in one answer.
//! Writing them in one transaction would keep the rep's edits waiting for seconds, so an
//! answer is applied as a [`Pull`]: [`Store::begin_pull`] sorts its cards into those the
//! device has and those new to it and starts decoding the new ones on worker threads;
//! each [`Store::apply_part`] then commits one transaction of at most [`PART_BUDGET`] of
//! writing, and the caller may use the store between two parts (the sync drivers unlock
//! it there). Decoding goes on meanwhile, outside any transaction.
//!
//! Crash safety: every part is a whole number of cards, committed with their index rows,
//! views and sync state. The acknowledgements are in the first part; the new cursor, the
//! territories, the directory and the revocations are in the last. A crash between two
//! parts leaves the cursor where it was, so the next sync asks again for the same answer:
//! the cards already stored are recognised by their heads and skipped, and the rest are
//! applied. No committed part is lost and none is applied twice.
//!
//! Within a part the full-text rows are written last (see [`super::index::TextRows`]).
//! After the last part, the free pages the answer left (outbox rows the server
//! acknowledged, replaced rows) are given back to the phone's storage in short steps.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use automerge::ReadDoc;
use rusqlite::{Transaction, TransactionBehavior, params};

use super::index::TextRows;
use super::sync_state::{
    Applied, Decoded, PendingPush, Unreadable, acked_of, decode_heads, decode_new, from_wire,
    outbox_len, quarantine, record_acked, release,
};
use super::{Cached, Origin, Store};
use crate::error::{Error, Result};
use crate::guard::{self, BytesLimits};
use crate::ids::CardId;
use crate::sync::wire::{CardChanges, PayloadKind, SyncResponse};

/// The card writing one part may take before it commits (it ends after the card that
/// crosses it); its full-text rows and the commit come on top, about as much again.
/// Well under the 50 ms a rep notices when an edit waits.
pub(crate) const PART_BUDGET: Duration = Duration::from_millis(10);
/// The most cards one part writes, whatever the clock says.
const PART_MAX_CARDS: usize = 256;
/// Decoded cards waiting for the writer, at most (bounds the memory a pull holds).
const DECODED_AHEAD: usize = 64;
/// An answer of at most this many cards is applied in one transaction.
const SMALL_ANSWER: usize = 16;
/// Free pages given back per step after an answer (1 MiB of 4 KiB pages), in at most
/// this many steps per answer, when at least this many are free.
const RECLAIM_PAGES: u32 = 256;
const RECLAIM_STEPS: u32 = 64;
const RECLAIM_AT_LEAST: i64 = 64;

/// One answer being applied. See the module docs.
pub(crate) struct Pull {
    response: Arc<SyncResponse>,
    pushes: Vec<PendingPush>,
    /// Indexes into `response.changes` of the cards the device had, in the answer's order.
    existing: Vec<usize>,
    next_existing: usize,
    /// How many cards new to the device the decoders will deliver, and how many were.
    new_total: usize,
    new_done: usize,
    decoder: Option<Decoder>,
    /// Decoded cards taken from the decoders, waiting for the next part.
    ready: Vec<(usize, Result<Decoded>)>,
    /// Whether the first part (settings, acknowledgements) committed.
    began: bool,
    /// Whether the last part (the cursor) committed.
    finished: bool,
    /// Whether the free pages the answer left were given back (or there was no need).
    reclaimed: bool,
    reclaim_steps: u32,
    parts: u32,
    out: Applied,
}

/// A pull whose last part committed: what it applied, from which answer.
pub(crate) struct Pulled {
    pub applied: Applied,
    pub response: Arc<SyncResponse>,
    pub pushes: Vec<PendingPush>,
}

impl Pull {
    /// Whether the last part committed and the free pages were given back.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished && self.reclaimed
    }

    /// What the parts committed so far did.
    pub(crate) fn applied(&self) -> &Applied {
        &self.out
    }

    /// The transactions committed so far.
    pub(crate) fn parts(&self) -> u32 {
        self.parts
    }

    /// Waits until the next part has cards to write, decoding them if need be. Needs no
    /// store: call it with the store unlocked, so that a rep's edit is not kept
    /// waiting while cards decode.
    pub(crate) fn wait_ready(&mut self) {
        if self.finished
            || self.next_existing < self.existing.len()
            || !self.ready.is_empty()
            || self.new_done >= self.new_total
        {
            return;
        }
        let Some(d) = &self.decoder else { return };
        if let Ok(item) = d.received.recv() {
            self.ready.push(item);
        }
        while self.ready.len() < PART_MAX_CARDS {
            match d.received.try_recv() {
                Ok(item) => self.ready.push(item),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
    }

    /// What the pull did, once finished (before: what its committed parts did).
    pub(crate) fn finish(self) -> Pulled {
        Pulled {
            applied: self.out,
            response: self.response,
            pushes: self.pushes,
        }
    }
}

/// Worker threads decoding the cards new to the device, in any order.
struct Decoder {
    received: Receiver<(usize, Result<Decoded>)>,
    workers: Vec<JoinHandle<()>>,
}

impl Decoder {
    fn start(response: &Arc<SyncResponse>, new: Vec<usize>) -> Decoder {
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4)
            .min(new.len().max(1));
        let new = Arc::new(new);
        let (sender, received) = std::sync::mpsc::sync_channel(DECODED_AHEAD);
        let workers = (0..workers)
            .map(|w| {
                let sender = sender.clone();
                let response = Arc::clone(response);
                let new = Arc::clone(&new);
                std::thread::spawn(move || {
                    for &i in new.iter().skip(w).step_by(workers) {
                        let c = &response.changes[i];
                        let decoded = c
                            .card_id
                            .parse::<CardId>()
                            .and_then(|id| decode_new(&c.bytes, &id, c.kind));
                        if sender.send((i, decoded)).is_err() {
                            break; // the pull was dropped
                        }
                    }
                })
            })
            .collect();
        Decoder { received, workers }
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // Unblock the workers (their next send fails), then wait for them.
        let (_, empty) = std::sync::mpsc::sync_channel(0);
        drop(std::mem::replace(&mut self.received, empty));
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl Store {
    /// Applies a whole answer, part after part (answers built by hand in tests).
    #[cfg(test)]
    pub(crate) fn apply_sync_response(
        &mut self,
        resp: &SyncResponse,
        pushed: &[PendingPush],
    ) -> Result<Applied> {
        let mut pull = self.begin_pull(resp.clone(), pushed.to_vec())?;
        while !pull.is_finished() {
            self.apply_part(&mut pull)?;
        }
        Ok(pull.finish().applied)
    }

    /// Starts applying `response` (the answer to a request that pushed `pushes`): sorts
    /// its cards and starts decoding the new ones. Writes nothing.
    pub(crate) fn begin_pull(
        &self,
        response: SyncResponse,
        pushes: Vec<PendingPush>,
    ) -> Result<Pull> {
        let mut existing = Vec::new();
        let mut new = Vec::new();
        let mut seen = HashSet::new();
        {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT 1 FROM cards WHERE id = ?1")?;
            for (i, c) in response.changes.iter().enumerate() {
                // A card twice in one answer: the second time it is no longer new.
                if stmt.exists([&c.card_id])? || !seen.insert(c.card_id.as_str()) {
                    existing.push(i);
                } else {
                    new.push(i);
                }
            }
        }
        let response = Arc::new(response);
        let new_total = new.len();
        let decoder = (!new.is_empty()).then(|| Decoder::start(&response, new));
        Ok(Pull {
            response,
            pushes,
            existing,
            next_existing: 0,
            new_total,
            new_done: 0,
            decoder,
            ready: Vec::new(),
            began: false,
            finished: false,
            reclaimed: false,
            reclaim_steps: 0,
            parts: 0,
            out: Applied::default(),
        })
    }

    /// Commits the next part of `pull` (see the module docs). On an error nothing of
    /// this part is kept and the pull must be dropped; earlier parts stay committed.
    pub(crate) fn apply_part(&mut self, pull: &mut Pull) -> Result<()> {
        if pull.finished {
            return self.reclaim_step(pull);
        }
        // Have cards ready before taking the write lock: the transaction does not wait
        // on decoding (the sync drivers call `wait_ready` with the store unlocked first).
        pull.wait_ready();
        let decoded = std::mem::take(&mut pull.ready);
        // A small answer is one transaction, durable on return. A long one is card parts
        // committed without waiting for the disk (WAL, `synchronous = NORMAL`: they hold
        // only what the server has, and the cursor does not move with them), then a last
        // transaction with the cursor, committed with `FULL`, which makes every earlier
        // part durable with it. A power cut may lose some parts; the next sync brings
        // them again. Edits between parts are committed with `FULL` as always.
        let remaining = pull.existing.len() - pull.next_existing + pull.new_total - pull.new_done;
        let whole = !pull.began && remaining <= SMALL_ANSWER;
        let result = if whole || remaining == 0 {
            self.apply_part_inner(pull, decoded, whole)
        } else {
            self.conn.execute_batch("PRAGMA synchronous = NORMAL")?;
            let result = self.apply_part_inner(pull, decoded, false);
            self.conn.execute_batch("PRAGMA synchronous = FULL")?;
            result
        };
        if result.is_err() {
            self.cache.clear();
            // The transaction rolled back: so do any settings it had adopted.
            if let Ok(stored) = Self::load_settings(&self.conn) {
                self.settings = stored;
            }
            return result;
        }
        if pull.finished {
            pull.decoder = None;
            self.rebuild_index_if_asked()?;
            pull.reclaimed = !self.has_pages_to_reclaim(pull)?;
        }
        result
    }

    /// Whether free pages are worth a reclaim step: a store made before `auto_vacuum`
    /// was set has none to give back, and a few free pages are left for the next writes.
    fn has_pages_to_reclaim(&self, pull: &Pull) -> Result<bool> {
        let mode: i64 = self
            .conn
            .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
        let free: i64 = self
            .conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        Ok(mode == 2 && free >= RECLAIM_AT_LEAST && pull.reclaim_steps < RECLAIM_STEPS)
    }

    /// Gives back up to [`RECLAIM_PAGES`] free pages, in a short transaction of its own
    /// like a part; the pull is over when too few free pages are left, or after
    /// [`RECLAIM_STEPS`] steps.
    fn reclaim_step(&mut self, pull: &mut Pull) -> Result<()> {
        // The pragma frees one page per step of the statement: step it to the end.
        let mut vacuum = self
            .conn
            .prepare_cached(&format!("PRAGMA incremental_vacuum({RECLAIM_PAGES})"))?;
        let mut rows = vacuum.query([])?;
        while rows.next()?.is_some() {}
        drop(rows);
        drop(vacuum);
        pull.reclaim_steps += 1;
        pull.reclaimed = !self.has_pages_to_reclaim(pull)?;
        Ok(())
    }

    /// One transaction: the cards of a part (all of them if `whole`), or, once every card
    /// is in, what ends the answer.
    fn apply_part_inner(
        &mut self,
        pull: &mut Pull,
        decoded: Vec<(usize, Result<Decoded>)>,
        whole: bool,
    ) -> Result<()> {
        let started = Instant::now();
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let mut text = TextRows::default();
        let resp = Arc::clone(&pull.response);
        let out = &mut pull.out;
        if !pull.began {
            crate::clock::record_server_time(&tx, resp.server_time)?;
            // New company settings first, so the cards of this answer are indexed by them.
            if let Some(payload) = &resp.settings {
                out.settings_revision = Self::receive_settings(&tx, &mut self.settings, payload)?;
            }
            Self::record_acks(&tx, &mut self.cache, &resp, &pull.pushes, out)?;
        }
        let mut written = 0usize;
        let over = |written: usize| {
            !whole && (written >= PART_MAX_CARDS || started.elapsed() >= PART_BUDGET)
        };
        // Changes to cards the device has, in order.
        while pull.next_existing < pull.existing.len() && !over(written) {
            let change = &resp.changes[pull.existing[pull.next_existing]];
            pull.next_existing += 1;
            written += 1;
            Self::write_change(
                &tx,
                &self.settings,
                &mut self.cache,
                change,
                None,
                &mut text,
                out,
            )?;
        }
        // Cards new to the device, as the decoders deliver them.
        let mut decoded = decoded.into_iter();
        loop {
            if over(written) || pull.new_done >= pull.new_total {
                break;
            }
            let next = decoded.next().or_else(|| {
                let d = pull.decoder.as_ref()?;
                if whole {
                    d.received.recv().ok()
                } else {
                    d.received.try_recv().ok()
                }
            });
            let Some((i, card)) = next else { break };
            pull.new_done += 1;
            written += 1;
            let change = &resp.changes[i];
            Self::write_change(
                &tx,
                &self.settings,
                &mut self.cache,
                change,
                Some(card),
                &mut text,
                out,
            )?;
        }
        // What was taken from the decoders but not written waits for the next part.
        pull.ready.extend(decoded);
        let cards_in = pull.next_existing == pull.existing.len() && pull.new_done == pull.new_total;
        // The end of the answer goes with its last cards only when the whole answer is
        // one transaction; otherwise in a transaction of its own, committed with `FULL`.
        let finished = cards_in && (whole || written == 0);
        if finished {
            Self::settle_handoffs(&tx, &mut self.cache, &resp, &pull.pushes, out)?;
            Self::record_directory(&tx, &resp.actors)?;
            Self::record_assignments(&tx, &resp.assignments)?;
            Self::set_meta(&tx, "sync_cursor", &resp.cursor.0)?;
            Self::set_meta(&tx, "territories", resp.territories.join("\n").as_bytes())?;
        }
        text.write(&tx)?;
        tx.commit()?;
        pull.began = true;
        pull.finished = finished;
        pull.parts += 1;
        Ok(())
    }

    /// The acknowledgements of what the request pushed.
    fn record_acks(
        tx: &Transaction<'_>,
        cache: &mut lru::LruCache<CardId, Cached>,
        resp: &SyncResponse,
        pushed: &[PendingPush],
        out: &mut Applied,
    ) -> Result<()> {
        for ack in &resp.acks {
            let Some(p) = pushed.iter().find(|p| p.push.card_id == ack.card_id) else {
                continue;
            };
            match p.through_seq {
                Some(seq) => {
                    // The server holds everything up to this outbox entry.
                    tx.prepare_cached("DELETE FROM sync_outbox WHERE card_num = ?1 AND seq <= ?2")?
                        .execute(params![p.num, seq])?;
                    let queued = outbox_len(tx, p.num)? > 0;
                    tx.prepare_cached(
                        "UPDATE sync_cards SET acked_heads = ?2, dirty = ?3 WHERE card_num = ?1",
                    )?
                    .execute(params![p.num, p.encoded_heads(), queued])?;
                }
                None => {
                    let id: CardId = ack.card_id.parse()?;
                    let cached = Self::load(tx, cache, &id)?;
                    let mut acked = acked_of(tx, p.num)?;
                    acked.extend(p.heads().iter().copied());
                    record_acked(tx, p.num, &cached.doc, acked)?;
                }
            }
            out.cards_acked += 1;
        }
        Ok(())
    }

    /// Writes one card of the answer: merged into the device's copy if it has one (also
    /// when another process stored a "new" card meanwhile), else stored as new, decoded
    /// here unless the decoders already did (`decoded`); a card that does not decode is
    /// quarantined.
    #[allow(clippy::too_many_arguments)]
    fn write_change(
        tx: &Transaction<'_>,
        settings: &super::StoreSettings,
        cache: &mut lru::LruCache<CardId, Cached>,
        change: &CardChanges,
        decoded: Option<Result<Decoded>>,
        text: &mut TextRows,
        out: &mut Applied,
    ) -> Result<()> {
        let id: CardId = change
            .card_id
            .parse()
            .map_err(|_| Error::Protocol("changes for an invalid card id".into()))?;
        if let Some(num) = Self::card_num(tx, id.as_str())? {
            return Self::apply_to_existing(tx, settings, cache, num, &id, change, text, out);
        }
        match decoded.unwrap_or_else(|| decode_new(&change.bytes, &id, change.kind)) {
            Ok(card) => Self::insert_new_card(tx, settings, cache, &id, change, card, text, out),
            Err(e) => quarantine(tx, id.as_str(), &e, out),
        }
    }

    pub(super) fn card_num(tx: &rusqlite::Connection, id: &str) -> Result<Option<i64>> {
        use rusqlite::OptionalExtension;
        Ok(tx
            .prepare_cached("SELECT num FROM cards WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?)
    }

    /// Apply server changes to a card the device already has. Bytes over the bounds, bytes
    /// that do not load, and a result that is not a valid card quarantine the card: its
    /// stored document is left as it was.
    #[allow(clippy::too_many_arguments)]
    fn apply_to_existing(
        tx: &Transaction<'_>,
        settings: &super::StoreSettings,
        cache: &mut lru::LruCache<CardId, Cached>,
        num: i64,
        id: &CardId,
        change: &CardChanges,
        text: &mut TextRows,
        out: &mut Applied,
    ) -> Result<()> {
        match Self::try_apply_to_existing(tx, settings, cache, num, id, change, text, out) {
            Ok(()) => release(tx, id.as_str()),
            Err(Unreadable::Card(e)) => {
                // The cached copy may hold part of the bytes: forget it.
                cache.pop(id);
                quarantine(tx, id.as_str(), &e, out)
            }
            Err(Unreadable::Other(e)) => Err(e),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn try_apply_to_existing(
        tx: &Transaction<'_>,
        settings: &super::StoreSettings,
        cache: &mut lru::LruCache<CardId, Cached>,
        num: i64,
        id: &CardId,
        change: &CardChanges,
        text: &mut TextRows,
        out: &mut Applied,
    ) -> std::result::Result<(), Unreadable> {
        if change.kind == PayloadKind::Snapshot && Self::holds_heads(tx, num, change)? {
            // Already stored (a part committed before a crash, a snapshot of what the
            // device has): nothing to load, merge or write.
            return Ok(());
        }
        let cached = Self::load(tx, cache, id)?;
        let before = cached.doc.get_heads();
        let conflicts_before = super::count_conflicts(&cached.doc);
        guard::load_incremental_bounded(&mut cached.doc, &change.bytes, &BytesLimits::CARD)
            .map_err(Unreadable::Card)?;
        if !cached.doc.get_missing_deps(&[]).is_empty() {
            // We lack history the server assumes we have: the queued changes would be
            // lost on save, so forget this copy and let the fallback fix it.
            cache.pop(id);
            out.need_fallback.push(id.to_string());
            return Ok(());
        }
        crate::card::validate_card_doc(&cached.doc, id.as_str()).map_err(Unreadable::Card)?;
        if cached.doc.get_heads() != before {
            Self::persist_into(tx, settings, cached, &before, Origin::Server, text)?;
            out.cards_pulled += 1;
            let after = super::count_conflicts(&cached.doc);
            out.new_conflicts += after.saturating_sub(conflicts_before) as u32;
        }
        let acked = match change.kind {
            // A snapshot is all the server holds: what this device thought acknowledged
            // beyond it was lost (a server restored from a backup, a store restored
            // from one), so it is pushed again.
            PayloadKind::Snapshot => from_wire(&change.heads),
            PayloadKind::Changes => {
                let mut acked = acked_of(tx, num)?;
                acked.extend(from_wire(&change.heads));
                acked
            }
        };
        Ok(record_acked(tx, num, &cached.doc, acked)?)
    }

    /// Whether the device's document of card `num` has exactly the heads the server
    /// sent, and the server's heads are what the device records as acknowledged: then
    /// the answer brings nothing new for it.
    fn holds_heads(tx: &Transaction<'_>, num: i64, change: &CardChanges) -> Result<bool> {
        use rusqlite::OptionalExtension;
        let row: Option<(Option<Vec<u8>>, bool)> = tx
            .prepare_cached("SELECT acked_heads, dirty FROM sync_cards WHERE card_num = ?1")?
            .query_row([num], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((Some(acked), dirty)) = row else {
            return Ok(false);
        };
        let mut acked = decode_heads(&acked);
        let mut theirs = from_wire(&change.heads);
        acked.sort();
        theirs.sort();
        Ok(!dirty && !theirs.is_empty() && acked == theirs)
    }

    /// Store a card new to the device, already decoded.
    #[allow(clippy::too_many_arguments)]
    fn insert_new_card(
        tx: &Transaction<'_>,
        settings: &super::StoreSettings,
        cache: &mut lru::LruCache<CardId, Cached>,
        id: &CardId,
        change: &CardChanges,
        (doc, view): Decoded,
        text: &mut TextRows,
        out: &mut Applied,
    ) -> Result<()> {
        release(tx, id.as_str())?;
        // A snapshot is already a compacted document: store its bytes as they are.
        let saved;
        let snapshot: &[u8] = match change.kind {
            PayloadKind::Snapshot => &change.bytes,
            PayloadKind::Changes => {
                saved = doc.save();
                &saved
            }
        };
        tx.prepare_cached(
            "INSERT INTO cards (id, snapshot, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
        )?
        .execute(params![id.as_str(), snapshot, super::now()])?;
        let cached = Cached {
            doc,
            num: tx.last_insert_rowid(),
            version: 0,
        };
        out.new_conflicts +=
            super::view::write_index_into(tx, settings, cached.num, &view, text)? as u32;
        record_acked(tx, cached.num, &cached.doc, from_wire(&change.heads))?;
        out.cards_new += 1;
        out.cards_pulled += 1;
        cache.put(id.clone(), cached);
        Ok(())
    }
}
