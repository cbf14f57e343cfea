//! The write path: creating, editing and resolving a card, each as one Automerge
//! change authored by this device's rep, persisted with its index rows and queued
//! for the server in one SQLite transaction.

use automerge::transaction::CommitOptions;
use automerge::{ActorId, Automerge, ChangeHash};
use rusqlite::{Transaction, TransactionBehavior, params};

use super::StoreSettings;
use super::attribution::attribute;
use super::index::TextRows;
use super::{Cached, Origin, Store, now};
use crate::card::Card;
use crate::card::doc::{create_card, force_path, read_card, write_card};
use crate::error::{Error, Result};
use crate::ids::{CardId, RepId};

impl Store {
    pub(super) fn identity_for_writing(&self) -> Result<(ActorId, RepId)> {
        let rep = self.identity.rep.clone().ok_or(Error::NotInitialised)?;
        Ok((self.identity.actor.clone(), rep))
    }

    /// Make the document write as this device and rep.
    pub(super) fn act_as(doc: &mut Automerge, actor: &ActorId, rep: &RepId) {
        // set_author mints a fresh actor; set the device's own actor afterwards so
        // every change of this installation carries the one persisted actor id.
        doc.set_author(Some(rep.author()));
        doc.set_actor(actor.clone());
    }

    pub(super) fn commit_options(touched: &[String]) -> CommitOptions {
        let summary = if touched.len() > 8 {
            format!("{} … ({} fields)", touched[..8].join(", "), touched.len())
        } else {
            touched.join(", ")
        };
        CommitOptions::default()
            .with_time(now())
            .with_message(summary)
    }

    /// Persist the changes made to `cached.doc` since `heads_before`, and its index
    /// rows. Changes of [`Origin::Local`] also go to the sync outbox; returns the
    /// card's number of open conflicts.
    pub(super) fn persist(
        tx: &Transaction<'_>,
        settings: &StoreSettings,
        cached: &mut Cached,
        heads_before: &[ChangeHash],
        origin: Origin,
    ) -> Result<usize> {
        let mut text = TextRows::default();
        let conflicts = Self::persist_into(tx, settings, cached, heads_before, origin, &mut text)?;
        text.write(tx)?;
        Ok(conflicts)
    }

    /// [`Self::persist`], with the full-text rows queued in `text` for the end of the
    /// transaction.
    pub(super) fn persist_into(
        tx: &Transaction<'_>,
        settings: &StoreSettings,
        cached: &mut Cached,
        heads_before: &[ChangeHash],
        origin: Origin,
        text: &mut TextRows,
    ) -> Result<usize> {
        let chunk = cached.doc.save_after(heads_before);
        let chunk_count: i64 = tx
            .prepare_cached("SELECT chunk_count FROM cards WHERE num = ?1")?
            .query_row([cached.num], |r| r.get(0))?;
        if chunk_count + 1 >= i64::from(settings.local.compact_after_chunks.max(1)) {
            tx.prepare_cached("DELETE FROM card_chunks WHERE card_num = ?1")?
                .execute([cached.num])?;
            tx.prepare_cached(
                "UPDATE cards SET snapshot = ?2, chunk_count = 0, version = version + 1, updated_at = ?3 WHERE num = ?1",
            )?
            .execute(params![cached.num, cached.doc.save(), now()])?;
        } else {
            tx.prepare_cached("INSERT INTO card_chunks (card_num, seq, data) VALUES (?1, ?2, ?3)")?
                .execute(params![cached.num, chunk_count, &chunk])?;
            tx.prepare_cached(
                "UPDATE cards SET chunk_count = chunk_count + 1, version = version + 1, updated_at = ?2 WHERE num = ?1",
            )?
            .execute(params![cached.num, now()])?;
        }
        cached.version = tx
            .prepare_cached("SELECT version FROM cards WHERE num = ?1")?
            .query_row([cached.num], |r| r.get(0))?;
        if origin == Origin::Local {
            Self::to_outbox(tx, cached.num, &chunk, &cached.doc.get_heads())?;
        }
        // The view is read back from the document, never built from the edited card:
        // the document is what every device has (e.g. times in milliseconds), so a
        // view must be a pure function of it.
        Self::reindex_into(tx, settings, cached, text)
    }

    /// Queue changes for the server and mark the card dirty.
    pub(super) fn to_outbox(
        tx: &Transaction<'_>,
        num: i64,
        data: &[u8],
        heads: &[ChangeHash],
    ) -> Result<()> {
        let heads: Vec<u8> = heads.iter().flat_map(|h| h.0).collect();
        tx.prepare_cached(
            "INSERT INTO sync_outbox (card_num, seq, data, heads)
             VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM sync_outbox WHERE card_num = ?1), ?2, ?3)",
        )?
        .execute(params![num, data, heads])?;
        Self::mark_dirty(tx, num)
    }

    /// Note that a card has changes the server has not acknowledged.
    pub(super) fn mark_dirty(tx: &Transaction<'_>, num: i64) -> Result<()> {
        tx.prepare_cached(
            "INSERT INTO sync_cards (card_num, dirty) VALUES (?1, 1) ON CONFLICT (card_num) DO UPDATE SET dirty = 1",
        )?
        .execute([num])?;
        Ok(())
    }

    /// Create a card. The closure fills it in; the card is stored as one change.
    pub fn create(&mut self, fill: impl FnOnce(&mut Card) -> Result<()>) -> Result<CardId> {
        let mut card = Card::new();
        fill(&mut card)?;
        self.insert_new(card)
    }

    /// Store a card built elsewhere (an import, the demo seeder) as a new card.
    pub fn insert_new(&mut self, card: Card) -> Result<CardId> {
        let (actor, rep) = self.identity_for_writing()?;
        super::credit::guard_new_card(&card, self.may_act_for_others()?)?;
        let id = card.id.clone();
        let mut doc = Automerge::new();
        Self::act_as(&mut doc, &actor, &rep);
        doc.transact_with(
            |touched: &Vec<String>| Self::commit_options(touched),
            |tx| create_card(tx, &card),
        )
        .map_err(|f| f.error)?;
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let exists: bool = tx.query_row(
            "SELECT count(*) FROM cards WHERE id = ?1",
            [id.as_str()],
            |r| r.get::<_, i64>(0),
        )? > 0;
        if exists {
            return Err(Error::invalid("id", format!("card {id} already exists")));
        }
        let snapshot = doc.save();
        tx.execute(
            "INSERT INTO cards (id, snapshot, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
            params![id.as_str(), &snapshot, now()],
        )?;
        let num = tx.last_insert_rowid();
        let cached = Cached {
            doc,
            num,
            version: 0,
        };
        Self::to_outbox(&tx, num, &snapshot, &cached.doc.get_heads())?;
        Self::reindex(&tx, &self.settings, &cached)?;
        tx.commit()?;
        self.cache.put(id.clone(), cached);
        Ok(id)
    }

    /// Edit a card: the closure gets the current card and changes what the rep
    /// changed; only those fields are written, as one change authored by this
    /// device's rep. Returns the paths written (empty: nothing changed, nothing stored).
    /// Durable when it returns.
    pub fn update(
        &mut self,
        id: &CardId,
        edit: impl FnOnce(&mut Card) -> Result<()>,
    ) -> Result<Vec<String>> {
        let result = self.update_inner(id, edit);
        if result.is_err() {
            // The document in memory may be ahead of the disk: forget it.
            self.cache.pop(id);
        }
        result
    }

    pub(super) fn update_inner(
        &mut self,
        id: &CardId,
        edit: impl FnOnce(&mut Card) -> Result<()>,
    ) -> Result<Vec<String>> {
        let writer = self.writer()?;
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let touched = Self::edit_in(&tx, &mut self.cache, &self.settings, &writer, id, edit)?;
        tx.commit()?;
        Ok(touched)
    }

    /// Who writes, as [`Self::edit_in`] needs it.
    pub(super) fn writer(&self) -> Result<Writer> {
        let (actor, rep) = self.identity_for_writing()?;
        Ok(Writer {
            actor,
            rep,
            may_act_for_others: self.may_act_for_others()?,
        })
    }

    /// One edit of one card as one change, inside the caller's transaction (which may
    /// hold edits of other cards too, all committed or none).
    pub(super) fn edit_in(
        tx: &Transaction<'_>,
        cache: &mut lru::LruCache<CardId, Cached>,
        settings: &StoreSettings,
        writer: &Writer,
        id: &CardId,
        edit: impl FnOnce(&mut Card) -> Result<()>,
    ) -> Result<Vec<String>> {
        let cached = Self::load(tx, cache, id)?;
        Self::check_not_handed_away(tx, cached.num, id)?;
        let old = read_card(&cached.doc, None)?;
        let mut new = old.clone();
        edit(&mut new)?;
        new.id = old.id.clone();
        // Moving a card is a manager's operation on the server (a handoff): an edit
        // of the territory of a card the server holds would be refused at every sync.
        if new.territory != old.territory && Self::server_holds(tx, cached.num)? {
            return Err(Error::TerritoryFixed);
        }
        attribute(&old, &mut new, &writer.rep, writer.may_act_for_others)?;
        super::credit::guard_approval(&old, &mut new, &writer.rep, writer.may_act_for_others)?;
        let heads = cached.doc.get_heads();
        Self::act_as(&mut cached.doc, &writer.actor, &writer.rep);
        let touched = cached
            .doc
            .transact_with(
                |t: &Vec<String>| Self::commit_options(t),
                |t| write_card(t, &old, &new),
            )
            .map_err(|f| f.error)?
            .result;
        if !touched.is_empty() {
            Self::persist(tx, settings, cached, &heads, Origin::Local)?;
        }
        Ok(touched)
    }

    /// Resolve a conflict: write `input` to `path`, superseding every concurrent
    /// value (even if it equals the one currently shown).
    pub fn resolve(&mut self, id: &CardId, path: &str, input: &str) -> Result<()> {
        if !self.conflicts(id)?.iter().any(|c| c.path == path) {
            return Err(Error::NoConflict(path.to_string()));
        }
        if super::credit::resolves_approval(path) && !self.may_act_for_others()? {
            return Err(Error::NotApprover);
        }
        let result = (|| {
            let (actor, rep) = self.identity_for_writing()?;
            let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
            {
                let cached = Self::load(&tx, &mut self.cache, id)?;
                Self::check_not_handed_away(&tx, cached.num, id)?;
                let card = read_card(&cached.doc, None)?;
                if path == "territory"
                    && card.territory.as_deref() != Some(input.trim())
                    && Self::server_holds(&tx, cached.num)?
                {
                    return Err(Error::TerritoryFixed);
                }
                let heads = cached.doc.get_heads();
                Self::act_as(&mut cached.doc, &actor, &rep);
                let message = format!("resolve {path}");
                cached
                    .doc
                    .transact_with(
                        |_: &()| {
                            CommitOptions::default()
                                .with_time(now())
                                .with_message(message)
                        },
                        |t| force_path(t, &card, path, input),
                    )
                    .map_err(|f| f.error)?;
                Self::persist(&tx, &self.settings, cached, &heads, Origin::Local)?;
            }
            tx.commit()?;
            Ok(())
        })();
        if result.is_err() {
            self.cache.pop(id);
        }
        result
    }
}

/// The identity an edit is written with: this device's actor, its rep, and whether its
/// enrolment lets it record for others.
pub(super) struct Writer {
    actor: ActorId,
    rep: RepId,
    may_act_for_others: bool,
}
