//! A handoff as the device lives it: cards that leave the rep's scope are purged, not
//! hidden, and a card's territory is never moved by an edit.
//!
//! When the server lists a card in [`SyncResponse::revoked`] (its territory was handed to
//! another rep), the card is deleted from the store with everything derived from it: its
//! document and chunks, index rows, tags, search tables, view, outbox, acknowledged heads,
//! quarantine entry, assignment records and the cached document. A card still holding
//! edits the server has not answered waits in `sync_handoff_pending` (taking no new edits)
//! until the server accepts them (late edits within the grace period) or refuses them with
//! `access.handoff_expired`, which means they are held for a manager's review; only then is
//! it purged. `sync_handed_away` keeps what the rep is told: a card whose edits went to
//! review keeps its id, name and change count; a card purged cleanly keeps only its id.
//!
//! Moving a card is a manager's operation on the server. A store refuses an edit that
//! changes the territory of a card the server holds ([`Error::TerritoryFixed`]); a store
//! that made such an edit before this rule (the server refuses its push with
//! `sync.territory_change` at every sync) recovers with [`Store::restore_territory`]: one
//! new change puts back the territory the server holds, and the card's other edits go
//! through.

use std::collections::HashSet;

use automerge::transaction::CommitOptions;
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;

use super::sync_state::{Applied, PendingPush, acked_of};
use super::{Cached, Origin, Store, now};
use crate::card::doc::{force_path, read_card};
use crate::error::{Error, Result};
use crate::ids::CardId;
use crate::sync::wire::SyncResponse;

/// The refusal that means the server held a card's edits for a manager's review.
pub(crate) const HANDOFF_EXPIRED: &str = "access.handoff_expired";

/// A card that left this device because its territory was handed to another rep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandedAway {
    /// The card's id.
    pub card_id: String,
    /// The card's name, kept only when its edits went to review (so the rep knows which).
    pub name: Option<String>,
    /// Whether this device's last edits of the card went to a manager's review (refused
    /// past the grace period and held on the server) rather than being accepted.
    pub to_review: bool,
    /// How many of this device's changes went to review (0 when none did).
    pub changes: u32,
    /// When the card was purged (device clock, Unix seconds).
    pub at: i64,
}

impl Store {
    /// Cards that left this device through a handoff, newest first.
    pub fn handed_away(&self) -> Result<Vec<HandedAway>> {
        let mut stmt = self.conn.prepare(
            "SELECT card_id, name, outcome, changes, at FROM sync_handed_away
             ORDER BY at DESC, card_id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(HandedAway {
                    card_id: r.get(0)?,
                    name: r.get(1)?,
                    to_review: r.get::<_, String>(2)? == "review",
                    changes: r.get(3)?,
                    at: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Whether a card waits to be purged after a handoff (it takes no new edits).
    pub(super) fn check_not_handed_away(
        tx: &rusqlite::Connection,
        num: i64,
        id: &CardId,
    ) -> Result<()> {
        let pending: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM sync_handoff_pending WHERE card_num = ?1)",
            [num],
            |r| r.get(0),
        )?;
        if pending {
            return Err(Error::HandedAway(id.to_string()));
        }
        Ok(())
    }

    /// Whether the server holds the card (it acknowledged some of its heads): then its
    /// territory is fixed on this device.
    pub(super) fn server_holds(tx: &rusqlite::Connection, num: i64) -> Result<bool> {
        Ok(!acked_of(tx, num)?.is_empty())
    }

    /// Puts back the territory the server holds for a card whose unsynced edits moved it
    /// (the server refuses such a push with `sync.territory_change`), as one new change;
    /// the card's other edits are kept and go with the next push. Returns whether a change
    /// was made (false: nothing to restore, e.g. the server never held the card).
    pub fn restore_territory(&mut self, id: &CardId) -> Result<bool> {
        let result = self.restore_territory_inner(id);
        if result.is_err() {
            self.cache.pop(id);
        }
        result
    }

    fn restore_territory_inner(&mut self, id: &CardId) -> Result<bool> {
        let (actor, rep) = self.identity_for_writing()?;
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let restored = {
            let cached = Self::load(&tx, &mut self.cache, id)?;
            let acked = acked_of(&tx, cached.num)?;
            let acked: Vec<_> = acked
                .into_iter()
                .filter(|h| cached.doc.get_change_meta_by_hash(h).is_some())
                .collect();
            if acked.is_empty() {
                return Ok(false);
            }
            let held = read_card(&cached.doc, Some(&acked))?.territory;
            let card = read_card(&cached.doc, None)?;
            match held {
                Some(territory) if card.territory.as_ref() != Some(&territory) => {
                    let heads = cached.doc.get_heads();
                    Self::act_as(&mut cached.doc, &actor, &rep);
                    cached
                        .doc
                        .transact_with(
                            |_: &()| {
                                CommitOptions::default()
                                    .with_time(now())
                                    .with_message("territory restored: a manager moves cards")
                            },
                            |t| force_path(t, &card, "territory", &territory),
                        )
                        .map_err(|f| f.error)?;
                    Self::persist(&tx, &self.settings, cached, &heads, Origin::Local)?;
                    true
                }
                _ => false,
            }
        };
        tx.commit()?;
        if restored {
            tracing::info!("a card's territory edit was undone: the server moves cards");
        }
        Ok(restored)
    }

    /// Deletes a card and everything derived from it (see the module docs).
    fn purge(
        tx: &Transaction<'_>,
        cache: &mut lru::LruCache<CardId, Cached>,
        num: i64,
        id: &str,
    ) -> Result<()> {
        // The search tables are virtual (no foreign key): delete their rows by hand; the
        // other per-card tables cascade from `cards`.
        tx.execute("DELETE FROM card_fts WHERE rowid = ?1", [num])?;
        tx.execute("DELETE FROM card_grams WHERE rowid = ?1", [num])?;
        tx.execute("DELETE FROM cards WHERE num = ?1", [num])?;
        tx.execute("DELETE FROM sync_quarantine WHERE card_id = ?1", [id])?;
        tx.execute("DELETE FROM card_assignments WHERE card_id = ?1", [id])?;
        if let Ok(card) = id.parse::<CardId>() {
            cache.pop(&card);
        }
        Ok(())
    }

    /// Settles the cards that left the rep's scope: those this response revokes and those
    /// waiting from earlier responses. Runs after the acknowledgements were recorded, in
    /// the response's transaction.
    pub(super) fn settle_handoffs(
        tx: &Transaction<'_>,
        cache: &mut lru::LruCache<CardId, Cached>,
        resp: &SyncResponse,
        pushed: &[PendingPush],
        out: &mut Applied,
    ) -> Result<()> {
        let at = now();
        for id in &resp.revoked {
            match Self::card_num_of(tx, id)? {
                Some(num) => {
                    tx.execute(
                        "INSERT OR IGNORE INTO sync_handoff_pending (card_num, since) VALUES (?1, ?2)",
                        params![num, at],
                    )?;
                }
                // Never stored (e.g. quarantined): nothing to keep of it.
                None => {
                    tx.execute("DELETE FROM sync_quarantine WHERE card_id = ?1", [id])?;
                }
            }
        }
        let to_review: HashSet<&str> = resp
            .refused
            .iter()
            .filter(|r| r.code == HANDOFF_EXPIRED)
            .map(|r| r.card_id.as_str())
            .collect();
        let pending: Vec<(i64, String, bool, Option<String>)> = {
            let mut stmt = tx.prepare(
                "SELECT c.num, c.id, COALESCE(s.dirty, 0), i.name
                 FROM sync_handoff_pending p JOIN cards c ON c.num = p.card_num
                 LEFT JOIN sync_cards s ON s.card_num = c.num
                 LEFT JOIN card_index i ON i.card_num = c.num
                 ORDER BY c.num",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        for (num, id, dirty, name) in pending {
            // Edits made while this sync was in flight were never sent: the review the
            // server answered does not hold them, so purging now would lose them.
            let sent_through = pushed
                .iter()
                .find(|p| p.num == num)
                .and_then(|p| p.through_seq)
                .unwrap_or(0);
            let unsent: u32 = tx.query_row(
                "SELECT count(*) FROM sync_outbox WHERE card_num = ?1 AND seq > ?2",
                params![num, sent_through],
                |r| r.get(0),
            )?;
            if to_review.contains(id.as_str()) && unsent == 0 {
                let changes: u32 = tx.query_row(
                    "SELECT count(*) FROM sync_outbox WHERE card_num = ?1",
                    [num],
                    |r| r.get(0),
                )?;
                Self::purge(tx, cache, num, &id)?;
                tx.execute(
                    "INSERT OR REPLACE INTO sync_handed_away (card_id, name, outcome, changes, at)
                     VALUES (?1, ?2, 'review', ?3, ?4)",
                    params![id, name, changes.max(1), at],
                )?;
                out.revoked_removed += 1;
                out.to_review.push(id);
            } else if !dirty {
                Self::purge(tx, cache, num, &id)?;
                tx.execute(
                    "INSERT OR REPLACE INTO sync_handed_away (card_id, name, outcome, changes, at)
                     VALUES (?1, NULL, 'purged', 0, ?2)",
                    params![id, at],
                )?;
                out.revoked_removed += 1;
            } else {
                // Never drop an edit the server has not answered: the card waits, read
                // only, for the next push's answer.
                out.revoked_kept.push(id);
            }
        }
        Ok(())
    }

    fn card_num_of(tx: &rusqlite::Connection, id: &str) -> Result<Option<i64>> {
        Ok(tx
            .query_row("SELECT num FROM cards WHERE id = ?1", [id], |r| r.get(0))
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::wire::CardRefusal;

    fn store() -> (tempfile::TempDir, Store, CardId) {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(dir.path().join("s.db")).expect("open");
        store
            .init_identity("zhangwei".parse().expect("rep"))
            .expect("init");
        let id = store
            .create(|c| {
                c.basic.name = Some("上海华东食品有限公司".into());
                c.territory = Some("east".into());
                Ok(())
            })
            .expect("create");
        (dir, store, id)
    }

    #[test]
    fn a_revoked_card_with_unanswered_edits_waits_read_only_then_goes_to_review() {
        let (_dir, mut store, id) = store();
        let revoked = SyncResponse {
            revoked: vec![id.to_string()],
            ..SyncResponse::default()
        };
        let applied = store.apply_sync_response(&revoked, &[]).expect("apply");
        assert_eq!(applied.revoked_kept, vec![id.to_string()]);
        assert_eq!(applied.revoked_removed, 0);
        assert_eq!(store.count().expect("count"), 1);
        let err = store
            .update(&id, |c| c.set_path("basic.phone", "13800001111"))
            .expect_err("handed away");
        assert_eq!(err.code(), "card.handed_away");
        // A later response that says nothing of the card keeps it waiting.
        let quiet = store
            .apply_sync_response(&SyncResponse::default(), &[])
            .expect("apply");
        assert_eq!(quiet.revoked_kept, vec![id.to_string()]);
        // The server held the pushed edits for review: now the card goes.
        let (pushes, _) = store
            .dirty_pushes(usize::MAX, &HashSet::new())
            .expect("pushes");
        let applied = store
            .apply_sync_response(&held_for_review(&id, false), &pushes)
            .expect("apply");
        assert_eq!(applied.to_review, vec![id.to_string()]);
        assert_eq!(store.count().expect("count"), 0);
        let handed = store.handed_away().expect("handed");
        assert_eq!(handed.len(), 1);
        assert!(handed[0].to_review);
        assert_eq!(handed[0].name.as_deref(), Some("上海华东食品有限公司"));
        assert_eq!(handed[0].changes, 1);
        let left: i64 = store
            .conn
            .query_row(
                "SELECT (SELECT count(*) FROM sync_outbox) + (SELECT count(*) FROM sync_cards)
                 + (SELECT count(*) FROM card_index) + (SELECT count(*) FROM card_views)
                 + (SELECT count(*) FROM sync_handoff_pending)",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(left, 0);
    }

    fn held_for_review(id: &CardId, revoked: bool) -> SyncResponse {
        SyncResponse {
            revoked: if revoked {
                vec![id.to_string()]
            } else {
                Vec::new()
            },
            refused: vec![CardRefusal {
                card_id: id.to_string(),
                code: HANDOFF_EXPIRED.into(),
                message: "held for review".into(),
            }],
            ..SyncResponse::default()
        }
    }

    fn outbox_rows(store: &Store) -> i64 {
        store
            .conn
            .query_row("SELECT count(*) FROM sync_outbox", [], |r| r.get(0))
            .expect("outbox")
    }

    #[test]
    fn an_edit_made_while_the_sync_was_in_flight_is_not_purged_with_the_reviewed_ones() {
        let (_dir, mut store, id) = store();
        // The push leaves with the card's creation...
        let (pushes, _) = store
            .dirty_pushes(usize::MAX, &HashSet::new())
            .expect("pushes");
        assert_eq!(pushes.len(), 1);
        // ...the rep edits the card before the answer comes back...
        store
            .update(&id, |c| c.set_path("basic.phone", "13800001111"))
            .expect("still the rep's card");
        // ...and the answer says the card was handed away and the push went to review.
        let applied = store
            .apply_sync_response(&held_for_review(&id, true), &pushes)
            .expect("apply");
        assert!(applied.to_review.is_empty(), "the new edit was never sent");
        assert_eq!(applied.revoked_kept, vec![id.to_string()]);
        assert_eq!(store.count().expect("count"), 1);
        assert_eq!(outbox_rows(&store), 2, "both edits wait for the next push");
        assert_eq!(
            store
                .update(&id, |c| c.set_path("basic.phone", "13900002222"))
                .expect_err("read only now")
                .code(),
            "card.handed_away"
        );
        // The next sync sends both; the server holds them for review: now the card goes.
        let (pushes, _) = store
            .dirty_pushes(usize::MAX, &HashSet::new())
            .expect("pushes");
        assert_eq!(pushes.len(), 1);
        let applied = store
            .apply_sync_response(&held_for_review(&id, false), &pushes)
            .expect("apply");
        assert_eq!(applied.to_review, vec![id.to_string()]);
        assert_eq!(store.count().expect("count"), 0);
        assert_eq!(outbox_rows(&store), 0);
        let handed = store.handed_away().expect("handed");
        assert_eq!(handed.len(), 1);
        assert_eq!(handed[0].changes, 2);
    }

    #[test]
    fn a_territory_change_is_free_until_the_server_holds_the_card() {
        let (_dir, mut store, id) = store();
        // Not on the server yet: still part of creating it.
        store
            .update(&id, |c| c.set_path("territory", "north"))
            .expect("a card not yet synced is still being created");
        let num: i64 = store
            .conn
            .query_row("SELECT num FROM cards WHERE id = ?1", [id.as_str()], |r| {
                r.get(0)
            })
            .expect("num");
        let heads: Vec<u8> = store
            .conn
            .query_row(
                "SELECT heads FROM sync_outbox WHERE card_num = ?1 ORDER BY seq DESC",
                [num],
                |r| r.get(0),
            )
            .expect("heads");
        store
            .conn
            .execute(
                "UPDATE sync_cards SET acked_heads = ?2, dirty = 0 WHERE card_num = ?1",
                params![num, heads],
            )
            .expect("ack");
        let err = store
            .update(&id, |c| c.set_path("territory", "east"))
            .expect_err("the server holds it");
        assert_eq!(err.code(), "card.territory_fixed");
        assert_eq!(
            store.card(&id).expect("card").card.territory.as_deref(),
            Some("north")
        );
    }
}
