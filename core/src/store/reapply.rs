//! Recovering a copied or restored store: a fresh actor, and this device's unsynced edits
//! of a card re-made on top of the server's document.
//!
//! A store copied to another machine (or restored from a backup) hands out `(actor, seq)`
//! pairs the server already holds with other changes, so the server refuses the card
//! (`sync.actor_reused`) and those changes can never be sent as they are. After the sync
//! engine has bound a fresh actor to the device (`POST /v1/rekey`, [`Store::set_actor`]),
//! it gives each such card's server document here: the card this device shows is merged
//! three ways (base: the card at the heads the server acknowledged; local: the card now;
//! server: the server's document, see `card/three_way.rs`), the result is written onto the
//! server's document as one change by the new actor, authored by the same rep and stamped
//! with the time of the latest edit it carries, and that document replaces the local one:
//! its outbox holds only the new change.

use automerge::ActorId;
use automerge::transaction::CommitOptions;
use rusqlite::{Transaction, TransactionBehavior, params};

use super::sync_state::{acked_of, record_acked, release};
use super::{Cached, Store, now};
use crate::card::doc::{read_card, write_card};
use crate::card::three_way::merge_cards;
use crate::card::validate_card_doc;
use crate::error::Result;
use crate::guard::{self, BytesLimits};
use crate::ids::CardId;
use crate::sync::wire::CardChanges;

impl Store {
    /// Make `actor` this device's actor for every later change (persisted at once). Only
    /// the sync engine calls this, once the server has bound the actor to the device.
    pub(crate) fn set_actor(&mut self, actor: ActorId) -> Result<()> {
        Self::set_meta(&self.conn, "actor", actor.to_bytes())?;
        self.identity.actor = actor;
        self.cache.clear();
        Ok(())
    }

    /// Forget the sync cursor: the next sync is a full pass (every card in scope).
    pub(crate) fn reset_sync_cursor(&mut self) -> Result<()> {
        self.conn
            .execute("DELETE FROM meta WHERE key = 'sync_cursor'", [])?;
        Ok(())
    }

    /// After the server refused the cursor as one from a future it does not have (it was
    /// restored from an older backup): forget the cursor and everything the server was
    /// thought to hold, so the next sync is a full pass and pushes every card whole. The
    /// server ignores the changes it has and stores those it lost.
    pub(crate) fn forget_server_state(&mut self) -> Result<()> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM meta WHERE key = 'sync_cursor'", [])?;
        tx.execute("UPDATE sync_cards SET acked_heads = x'', dirty = 1", [])?;
        tx.commit()?;
        Ok(())
    }

    /// Replace a card's document with the server's (`server`, a snapshot from a sync
    /// response) plus one change re-making this device's unsynced edits. Returns the paths
    /// written (empty: the server already had everything this device changed).
    pub(crate) fn reapply_on_server_state(&mut self, server: &CardChanges) -> Result<Vec<String>> {
        let id: CardId = server.card_id.parse()?;
        let result = self.reapply_inner(&id, server);
        if result.is_err() {
            self.cache.pop(&id);
        }
        result
    }

    fn reapply_inner(&mut self, id: &CardId, server: &CardChanges) -> Result<Vec<String>> {
        let (actor, rep) = self.identity_for_writing()?;
        let mut doc = guard::load_bounded(&server.bytes, &BytesLimits::CARD)?;
        validate_card_doc(&doc, id.as_str())?;
        let server_heads = doc.get_heads();
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let (num, base, local, time) = {
            let cached = Self::load(&tx, &mut self.cache, id)?;
            let acked = acked_of(&tx, cached.num)?;
            let base = if acked.is_empty() {
                None
            } else {
                Some(read_card(&cached.doc, Some(&acked))?)
            };
            // The re-made change keeps the time of the latest edit it carries.
            let time = cached
                .doc
                .get_changes_meta(&acked)
                .iter()
                .map(|m| m.timestamp)
                .max()
                .unwrap_or_else(now);
            (cached.num, base, read_card(&cached.doc, None)?, time)
        };
        let theirs = read_card(&doc, None)?;
        let merged = merge_cards(base.as_ref(), &local, &theirs)?;
        Self::act_as(&mut doc, &actor, &rep);
        let touched = doc
            .transact_with(
                |t: &Vec<String>| {
                    CommitOptions::default()
                        .with_time(time)
                        .with_message(format!("re-applied after re-key: {}", t.join(", ")))
                },
                |t| write_card(t, &theirs, &merged),
            )
            .map_err(|f| f.error)?
            .result;
        tx.execute("DELETE FROM card_chunks WHERE card_num = ?1", [num])?;
        tx.execute("DELETE FROM sync_outbox WHERE card_num = ?1", [num])?;
        tx.execute(
            "UPDATE cards SET snapshot = ?2, chunk_count = 0, version = version + 1, updated_at = ?3 \
             WHERE num = ?1",
            params![num, doc.save(), now()],
        )?;
        let version: i64 =
            tx.query_row("SELECT version FROM cards WHERE num = ?1", [num], |r| {
                r.get(0)
            })?;
        let cached = Cached { doc, num, version };
        if !touched.is_empty() {
            Self::to_outbox(
                &tx,
                num,
                &cached.doc.save_after(&server_heads),
                &cached.doc.get_heads(),
            )?;
        }
        record_acked(&tx, num, &cached.doc, server_heads)?;
        Self::reindex(&tx, &self.settings, &cached)?;
        release(&tx, id.as_str())?;
        tx.commit()?;
        self.cache.put(id.clone(), cached);
        if touched.is_empty() {
            tracing::info!("re-key: the server already held this card's edits");
        }
        Ok(touched)
    }
}
