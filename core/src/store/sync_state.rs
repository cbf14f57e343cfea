//! The store's side of sync: what to push, and applying what the server sent.
//!
//! Per card the store remembers the heads the server is known to hold
//! (`sync_cards.acked_heads`) and whether the card has changes beyond them
//! (`dirty`). A push is `save_after(acked_heads)`: exactly the changes the server
//! lacks. Everything one response brings (acknowledgements, other devices'
//! changes, new cards, revocations and the new cursor) is applied by [`super::pull`], in
//! bounded transactions; a retry is harmless because changes are content-addressed.

use std::collections::HashSet;

use automerge::sync::{Message, State, SyncDoc};
use automerge::{Automerge, ChangeHash, ReadDoc};
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::{Origin, Store};
use crate::card::doc::stored_id;
use crate::card::validate_card_doc;
use crate::error::{Error, Result};
use crate::guard::{self, BytesLimits};
use crate::ids::CardId;
use crate::sync::wire::{CardPush, Cursor, Hash, PayloadKind};

/// Where and as whom this device syncs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The server's base URL.
    pub server_url: String,
    /// The device's bearer token.
    pub token: String,
    /// The device id the server assigned.
    pub device_id: String,
    /// The server's id.
    pub server_id: String,
}

/// What applying one response did.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub cards_acked: u32,
    pub cards_pulled: u32,
    pub cards_new: u32,
    pub new_conflicts: u32,
    pub revoked_removed: u32,
    pub revoked_kept: Vec<String>,
    /// Revoked cards purged after the server held their edits for review.
    pub to_review: Vec<String>,
    pub need_fallback: Vec<String>,
    /// Cards put in quarantine by this response: (card id, code).
    pub quarantined: Vec<(String, String)>,
    /// The company settings revision this response put in force, if it carried new ones.
    pub settings_revision: Option<u64>,
}

/// Why a card from the server was not applied.
pub(super) enum Unreadable {
    /// The bytes, the document or the card failed a check: quarantine the card.
    Card(Error),
    /// Anything else (SQLite, ...): fails the whole response as before.
    Other(Error),
}

impl From<Error> for Unreadable {
    fn from(e: Error) -> Self {
        Unreadable::Other(e)
    }
}

impl From<rusqlite::Error> for Unreadable {
    fn from(e: rusqlite::Error) -> Self {
        Unreadable::Other(e.into())
    }
}

/// Keeps a card this device cannot read out of the store, and remembers why (the code and
/// the check's message, which names no field content).
pub(super) fn quarantine(
    tx: &Transaction<'_>,
    id: &str,
    err: &Error,
    out: &mut Applied,
) -> Result<()> {
    tracing::warn!(code = err.code(), "a card from the server was quarantined");
    tx.execute(
        "INSERT INTO sync_quarantine (card_id, code, reason, at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (card_id) DO UPDATE SET code = ?2, reason = ?3, at = ?4",
        params![id, err.code(), err.to_string(), super::now()],
    )?;
    out.quarantined
        .push((id.to_string(), err.code().to_string()));
    Ok(())
}

/// A card quarantined by an earlier response that now applied: release it.
pub(super) fn release(tx: &Transaction<'_>, id: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM sync_quarantine WHERE card_id = ?1")?
        .execute([id])?;
    Ok(())
}

pub(super) fn encode_heads(heads: &[ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

pub(super) fn decode_heads(bytes: &[u8]) -> Vec<ChangeHash> {
    bytes
        .chunks_exact(32)
        .filter_map(|c| <[u8; 32]>::try_from(c).ok().map(ChangeHash))
        .collect()
}

pub(super) fn from_wire(heads: &[Hash]) -> Vec<ChangeHash> {
    heads.iter().map(|h| ChangeHash(*h)).collect()
}

/// Record what the server holds for a card, and whether the device has more.
///
/// `acked` may list hashes that are ancestors of others; when the device holds
/// nothing beyond them it collapses to the device's own heads.
pub(super) fn record_acked(
    tx: &Transaction<'_>,
    num: i64,
    doc: &Automerge,
    mut acked: Vec<ChangeHash>,
) -> Result<()> {
    acked.retain(|h| doc.get_change_meta_by_hash(h).is_some());
    acked.sort();
    acked.dedup();
    let mut heads = doc.get_heads();
    heads.sort();
    // The usual case (the server holds exactly what the device has) without building
    // the changes since `acked`.
    let ahead = acked != heads && !doc.get_changes_meta(&acked).is_empty();
    let acked = if ahead { acked } else { doc.get_heads() };
    let queued = outbox_len(tx, num)? > 0;
    tx.prepare_cached(
        "INSERT INTO sync_cards (card_num, acked_heads, dirty) VALUES (?1, ?2, ?3)
         ON CONFLICT (card_num) DO UPDATE SET acked_heads = ?2, dirty = ?3",
    )?
    .execute(params![num, encode_heads(&acked), ahead || queued])?;
    Ok(())
}

pub(super) fn outbox_len(tx: &rusqlite::Connection, num: i64) -> Result<i64> {
    Ok(tx
        .prepare_cached("SELECT count(*) FROM sync_outbox WHERE card_num = ?1")?
        .query_row([num], |r| r.get(0))?)
}

/// A push as sent, with what the device needs to record when it is acknowledged.
#[derive(Debug, Clone)]
pub(crate) struct PendingPush {
    /// What goes on the wire.
    pub push: CardPush,
    pub(super) num: i64,
    /// The last outbox entry included (`None`: built from the document).
    pub(super) through_seq: Option<i64>,
    /// The device's heads for the card once the pushed changes are applied.
    heads: Vec<ChangeHash>,
}

impl PendingPush {
    /// The device's heads once the pushed changes are applied.
    pub(super) fn heads(&self) -> &[ChangeHash] {
        &self.heads
    }

    /// [`Self::heads`] as stored in `sync_cards.acked_heads`.
    pub(super) fn encoded_heads(&self) -> Vec<u8> {
        encode_heads(&self.heads)
    }
}

pub(super) fn acked_of(tx: &rusqlite::Connection, num: i64) -> Result<Vec<ChangeHash>> {
    let bytes: Option<Vec<u8>> = tx
        .prepare_cached("SELECT acked_heads FROM sync_cards WHERE card_num = ?1")?
        .query_row([num], |r| r.get(0))
        .optional()?;
    Ok(bytes.map(|b| decode_heads(&b)).unwrap_or_default())
}

/// A card new to the device, decoded: its document, card and open conflicts.
pub(super) type Decoded = (Automerge, super::CardView);

/// Decodes a card new to the device: bounded check of the bytes, strict load, the card
/// validator. Every error here quarantines the card.
pub(super) fn decode_new(bytes: &[u8], id: &CardId, kind: PayloadKind) -> Result<Decoded> {
    let doc = guard::load_bounded(bytes, &BytesLimits::CARD)?;
    if kind == PayloadKind::Changes && !doc.get_missing_deps(&[]).is_empty() {
        return Err(Error::Protocol(format!(
            "card {id}: partial history for a card this device lacks"
        )));
    }
    validate_card_doc(&doc, id.as_str())?;
    if stored_id(&doc).as_ref() != Some(id) {
        return Err(Error::Protocol(format!(
            "card {id}: the document belongs to another card"
        )));
    }
    let view = super::index_input(&doc)?;
    Ok((doc, view))
}

impl Store {
    /// The enrolment, if the device has one.
    pub fn enrolment(&self) -> Result<Option<Enrolment>> {
        let get = |k: &str| -> Result<Option<String>> {
            Ok(Self::meta(&self.conn, k)?.and_then(|b| String::from_utf8(b).ok()))
        };
        Ok(
            match (
                get("server_url")?,
                get("device_token")?,
                get("device_server_id")?,
                get("server_id")?,
            ) {
                (Some(server_url), Some(token), Some(device_id), Some(server_id)) => {
                    Some(Enrolment {
                        server_url,
                        token,
                        device_id,
                        server_id,
                    })
                }
                _ => None,
            },
        )
    }

    /// Remember an enrolment; the device now acts for `rep`.
    pub(crate) fn save_enrolment(
        &mut self,
        enrolment: &Enrolment,
        rep: crate::ids::RepId,
    ) -> Result<()> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        for (k, v) in [
            ("server_url", &enrolment.server_url),
            ("device_token", &enrolment.token),
            ("device_server_id", &enrolment.device_id),
            ("server_id", &enrolment.server_id),
            ("rep", &rep.to_string()),
        ] {
            Self::set_meta(&tx, k, v.as_bytes())?;
        }
        // A new server knows nothing of this device: start from scratch.
        tx.execute("DELETE FROM meta WHERE key = 'sync_cursor'", [])?;
        // Whole documents are offered (the outbox only holds what an earlier server lacked).
        tx.execute("DELETE FROM sync_outbox", [])?;
        tx.execute("UPDATE sync_cards SET acked_heads = x'', dirty = 1", [])?;
        tx.execute(
            "INSERT OR IGNORE INTO sync_cards (card_num, dirty) SELECT num, 1 FROM cards",
            [],
        )?;
        tx.commit()?;
        self.identity.rep = Some(rep);
        self.cache.clear();
        Ok(())
    }

    /// The cursor of the last applied response.
    pub(crate) fn sync_cursor(&self) -> Result<Option<Cursor>> {
        Ok(Self::meta(&self.conn, "sync_cursor")?.map(Cursor))
    }

    /// The territories this device's rep may create cards in, as of the last sync.
    pub fn territories(&self) -> Result<Vec<String>> {
        Ok(Self::meta(&self.conn, "territories")?
            .and_then(|b| String::from_utf8(b).ok())
            .map(|s| {
                s.lines()
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Where a new card goes when whoever makes it (a person, an import row) names no
    /// territory: the rep's territory when they hold exactly one; with several, they
    /// must choose (the server refuses a card of none); a device that never synced
    /// knows none.
    pub fn default_territory(&self) -> Result<DefaultTerritory> {
        let mut known = self.territories()?;
        Ok(match known.len() {
            0 => DefaultTerritory::Unknown,
            1 => DefaultTerritory::One(known.remove(0)),
            _ => DefaultTerritory::Several(known),
        })
    }

    /// Cards a sync brought that this device could not read and did not apply, with the
    /// code of the check that refused them, by id.
    pub fn quarantined(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT card_id, code FROM sync_quarantine ORDER BY card_id")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// When this device last applied a sync response (by its own clock), if ever.
    pub fn last_sync(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        Ok(crate::clock::last_sync(&self.conn)?
            .and_then(|(_, device)| chrono::DateTime::from_timestamp(device, 0)))
    }

    /// Cards holding changes the server has not acknowledged.
    pub fn pending_cards(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM sync_cards WHERE dirty = 1", [], |r| {
                r.get::<_, i64>(0)
            })? as u64)
    }

    /// The changes the next sync would push, per card: for "what is not synced
    /// yet" views and measurements.
    pub fn pending_changes(&mut self) -> Result<Vec<(CardId, Vec<u8>)>> {
        let (pushes, _) = self.dirty_pushes(usize::MAX, &HashSet::new())?;
        pushes
            .into_iter()
            .map(|p| Ok((p.push.card_id.parse()?, p.push.changes)))
            .collect()
    }

    /// Pushes for dirty cards, up to about `budget` bytes of changes (at least one
    /// card), skipping `skip`. Returns the pushes and whether more dirty cards remain.
    ///
    /// A card's push is its outbox, concatenated: no document is loaded. Only a card
    /// dirty without an outbox (from a store that predates the outbox) is pushed as
    /// `save_after(acked_heads)` from its document.
    pub(crate) fn dirty_pushes(
        &mut self,
        budget: usize,
        skip: &HashSet<String>,
    ) -> Result<(Vec<PendingPush>, bool)> {
        let dirty: Vec<(i64, String)> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT s.card_num, c.id FROM sync_cards s JOIN cards c ON c.num = s.card_num WHERE s.dirty = 1 ORDER BY s.card_num",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut pushes = Vec::new();
        let mut size = 0usize;
        let mut more = false;
        for (num, id) in dirty {
            if skip.contains(&id) {
                continue;
            }
            if size >= budget && !pushes.is_empty() {
                more = true;
                break;
            }
            let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = {
                let mut stmt = self.conn.prepare_cached(
                    "SELECT seq, data, heads FROM sync_outbox WHERE card_num = ?1 ORDER BY seq",
                )?;
                stmt.query_map([num], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<rusqlite::Result<_>>()?
            };
            let (changes, through_seq, heads) = match rows.last() {
                Some((last_seq, _, last_heads)) => {
                    let changes: Vec<u8> = rows
                        .iter()
                        .flat_map(|(_, d, _)| d.iter().copied())
                        .collect();
                    (changes, Some(*last_seq), decode_heads(last_heads))
                }
                None => {
                    let card: CardId = id.parse()?;
                    let acked = acked_of(&self.conn, num)?;
                    let cached = Self::load(&self.conn, &mut self.cache, &card)?;
                    // An acked hash the document lacks makes save_after send everything:
                    // still correct (the server ignores what it has), only larger.
                    (cached.doc.save_after(&acked), None, cached.doc.get_heads())
                }
            };
            size += changes.len();
            pushes.push(PendingPush {
                // The server needs no heads: the device remembers what it pushed.
                push: CardPush {
                    card_id: id,
                    changes,
                    heads: Vec::new(),
                },
                num,
                through_seq,
                heads,
            });
        }
        Ok((pushes, more))
    }

    /// Apply one sync response atomically.
    /// Adopts the company settings a response carried, if they are usable: bounded,
    /// parsed and validated first; settings this device refuses leave the previous ones
    /// in force (the server sends them again next time, since the revision did not move).
    pub(super) fn receive_settings(
        tx: &Transaction<'_>,
        settings: &mut super::StoreSettings,
        payload: &crate::sync::wire::SettingsPayload,
    ) -> Result<Option<u64>> {
        if payload.revision == settings.company.revision {
            return Ok(None);
        }
        match crate::company::CompanySettings::from_json(payload.json.as_bytes()) {
            Ok(company) => {
                let revised = crate::company::RevisedSettings {
                    revision: payload.revision,
                    settings: company,
                };
                Self::adopt_company_settings(tx, settings, revised)?;
                tracing::info!(revision = payload.revision, "company settings adopted");
                Ok(Some(payload.revision))
            }
            Err(e) => {
                tracing::warn!(revision = payload.revision, error = %e, "company settings refused; previous ones kept");
                Ok(None)
            }
        }
    }

    /// One step of `automerge::sync` for a card that fell back: apply the server's
    /// message (if any), persist what it brought, and produce our next message.
    pub(crate) fn fallback_step(
        &mut self,
        id: &CardId,
        state: &mut State,
        incoming: Option<Message>,
    ) -> Result<Option<Message>> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let result = (|| {
            let cached = Self::load(&tx, &mut self.cache, id)?;
            if let Some(message) = incoming {
                let before = cached.doc.get_heads();
                cached.doc.receive_sync_message(state, message)?;
                if cached.doc.get_heads() != before {
                    Self::persist(&tx, &self.settings, cached, &before, Origin::Server)?;
                }
            }
            Ok(cached.doc.generate_sync_message(state))
        })();
        match result {
            Ok(msg) => {
                tx.commit()?;
                Ok(msg)
            }
            Err(e) => {
                self.cache.pop(id);
                Err(e)
            }
        }
    }

    /// After a fallback exchange: the server holds `server_heads` for the card.
    pub(crate) fn fallback_done(&mut self, id: &CardId, server_heads: &[Hash]) -> Result<()> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let num =
            Self::card_num(&tx, id.as_str())?.ok_or_else(|| Error::CardNotFound(id.to_string()))?;
        let cached = Self::load(&tx, &mut self.cache, id)?;
        let acked = from_wire(server_heads);
        if cached.doc.get_changes(&acked).is_empty() {
            // The exchange gave the server everything this device had.
            tx.execute("DELETE FROM sync_outbox WHERE card_num = ?1", [num])?;
        }
        record_acked(&tx, num, &cached.doc, acked)?;
        tx.commit()?;
        Ok(())
    }
}

/// See [`Store::default_territory`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultTerritory {
    /// The device never learnt its rep's territories (not synced yet).
    Unknown,
    /// The rep's only territory.
    One(String),
    /// The rep holds these: the maker chooses.
    Several(Vec<String>),
}

#[cfg(test)]
mod settings_tests {
    use crate::Store;
    use crate::sync::wire::{SettingsPayload, SyncResponse};

    fn response(revision: u64, json: &str) -> SyncResponse {
        SyncResponse {
            settings: Some(SettingsPayload {
                revision,
                json: json.into(),
            }),
            ..SyncResponse::default()
        }
    }

    /// Settings a device cannot use (that do not add up, malformed, oversized) leave
    /// the previous ones in force and the rest of the response is applied; good ones are
    /// adopted and kept across a restart.
    #[test]
    fn refused_settings_leave_the_previous_ones_in_force() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("phone.db");
        let mut store = Store::open(&path).expect("store");
        let applied = store
            .apply_sync_response(&response(4, r#"{"visits":{"interval_days_a":3}}"#), &[])
            .expect("applied");
        assert_eq!(applied.settings_revision, Some(4));
        let huge = format!(r#"{{"x":"{}"}}"#, "长".repeat(40_000));
        for bad in [
            r#"{"abc":{"a_percent":90}}"#,
            r#"{"visits":{"interval_days_a":0}}"#,
            r#"{"visits":"每周"}"#,
            "not json",
            huge.as_str(),
        ] {
            let applied = store
                .apply_sync_response(&response(5, bad), &[])
                .expect("the rest of the response is applied");
            assert_eq!(applied.settings_revision, None);
            assert_eq!(store.company_settings().revision, 4);
            assert_eq!(store.company_settings().settings.visits.interval_days_a, 3);
        }
        drop(store);
        let store = Store::open(&path).expect("reopen");
        assert_eq!(store.company_settings().revision, 4);
        assert_eq!(store.company_settings().settings.visits.interval_days_a, 3);
    }
}

// The demo's documents carry a year of history; the demo is compiled with the workspace's
// tests (the CLI turns it on).
#[cfg(all(test, feature = "demo"))]
mod index_time_tests {
    use chrono::{NaiveDate, TimeZone, Utc};

    use crate::demo::{DemoAuthor, demo_document};
    use crate::sync::wire::{CardChanges, PayloadKind, SyncResponse};
    use crate::value::Money;
    use crate::{CardQuery, SortBy, Store, YearMonth};

    /// A card that arrives with a year of history is "updated" when its last change was
    /// made, not when this device indexed it; and the sales sort sums the months before
    /// today from the card's monthly sales, not a total frozen at indexing.
    #[test]
    fn updated_is_the_last_change_and_sales_are_summed_when_asked() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(dir.path().join("phone.db")).expect("store");
        store
            .init_identity("zhangwei".parse().expect("rep"))
            .expect("rep");
        let day = NaiveDate::from_ymd_opt(2025, 6, 30).expect("date");
        let author = DemoAuthor::new("lina".parse().expect("rep"));
        let (id, bytes) = demo_document(7, 1, "east", &[author], 12, day).expect("doc");
        let doc = automerge::Automerge::load(&bytes).expect("load");
        let heads = doc.get_heads().iter().map(|h| h.0).collect();
        let response = SyncResponse {
            changes: vec![CardChanges {
                card_id: id.to_string(),
                kind: PayloadKind::Snapshot,
                bytes: bytes.to_vec(),
                heads,
            }],
            ..SyncResponse::default()
        };
        store.apply_sync_response(&response, &[]).expect("applied");
        let listed = store
            .list(&CardQuery {
                sort: SortBy::Updated,
                limit: 10,
                ..CardQuery::default()
            })
            .expect("list");
        let last_change = Utc
            .from_utc_datetime(&day.and_hms_opt(9, 0, 0).expect("time"))
            .timestamp();
        let updated = listed[0].updated_at.timestamp();
        assert!(
            updated <= last_change && updated > last_change - 40 * 86_400,
            "the last change's time ({updated}), not the indexing time"
        );

        // Two customers: one sold a lot long ago, one a little last month.
        let this_month = YearMonth::of(Utc::now().date_naive());
        let long_ago = this_month.prev().prev().prev().prev().prev();
        let old = store
            .create(|c| {
                c.basic.name = Some("嘉定农资公司".into());
                c.sales
                    .insert(long_ago, Money::yuan(900_000).expect("yuan"));
                Ok(())
            })
            .expect("old");
        let recent = store
            .create(|c| {
                c.basic.name = Some("松江纺织品商行".into());
                c.sales
                    .insert(this_month.prev(), Money::yuan(1_000).expect("yuan"));
                Ok(())
            })
            .expect("recent");
        let by_sales: Vec<_> = store
            .list(&CardQuery {
                sort: SortBy::Sales,
                limit: 10,
                ..CardQuery::default()
            })
            .expect("list")
            .into_iter()
            .map(|r| r.id)
            .collect();
        let at = |id: &crate::CardId| by_sales.iter().position(|r| r == id).expect("listed");
        assert!(at(&recent) < at(&old), "{by_sales:?}");
    }
}
