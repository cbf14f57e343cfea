//! What the bulk reports read instead of every card's view and document: the facts kept
//! per card (`card_facts`) and per change (`change_facts`).
//!
//! - The **lean card** ([`LeanCard`]) is written with the index, in the card's
//!   own transaction, so it is never behind the document. ABC, the plan, credit and
//!   duplicates read 10,000 small rows in one query instead of 10,000 views.
//! - The **history facts** (what each change did, as activity reports count it, and when
//!   each opportunity entered each stage) cost a walk of each change's diff. A change's
//!   facts never change (they depend only on the change and what it was made on), so each
//!   change is walked once, the first time a report needs it, and kept. Writes stay cheap
//!   (a first sync of thousands of cards walks nothing); a card whose document moved on
//!   since (`history_version` behind `cards.version`) is brought up to date by walking only
//!   its new changes. The writer keeps what it derived; a read connection derives in
//!   memory and keeps nothing.
//!
//! Everything here is derived from the documents: [`Store::rebuild_index`] rewrites the
//! lean cards, and dropping the history facts only makes the next report walk again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use automerge::ChangeHash;
use chrono::DateTime;
use rusqlite::{Connection, TransactionBehavior, params};

use super::Store;
use crate::analysis::activity::{self, ActivityEvent, ChangeActivity};
use crate::analysis::pipeline::StageChange;
use crate::card::{Card, LeanCard};
use crate::error::{Error, Result};
use crate::history::{ChangeSummary, StageEntered, stages_and_new_summaries};
use crate::ids::CardId;

/// Write a card's lean copy (in the transaction that writes its index).
pub(crate) fn write_lean(tx: &rusqlite::Transaction<'_>, num: i64, card: &Card) -> Result<()> {
    let lean = serde_json::to_string(&LeanCard::of(card))
        .map_err(|e| Error::invalid("card", e.to_string()))?;
    tx.prepare_cached(
        "INSERT INTO card_facts (card_num, lean) VALUES (?1, ?2)
         ON CONFLICT (card_num) DO UPDATE SET lean = excluded.lean",
    )?
    .execute(params![num, lean])?;
    Ok(())
}

/// The lean cards the last bulk report read, parsed, each with the card version it was
/// parsed at: the next report parses only the cards written since (a phone's screen asks
/// for the plan, the ABC classes and the credit list one after another, and again after
/// every visit logged). Checked against `cards.version` on every use, so a write by this
/// connection or by the writer behind a read connection is never missed.
#[derive(Default)]
pub(crate) struct LeanCache {
    /// Every card's (num, version), in storage order, as last checked.
    versions: Vec<(i64, i64)>,
    /// The cards not merged into another, in storage order, with their (num, version).
    live: Vec<(i64, i64)>,
    cards: Vec<Card>,
    /// Every card's stage changes (cards with none left out), as of the last
    /// [`Store::refresh_stage_changes`].
    stage_map: BTreeMap<CardId, Vec<StageChange>>,
    /// The history version every card's stages were read at, by card num, cards with
    /// none included.
    stage_versions: HashMap<i64, StageVersion>,
    /// Counts [`Store::refresh_stage_changes`] calls, to find the cards gone since.
    stage_generation: u64,
    /// Every card's activity events, as of the last [`Store::refresh_activity`].
    activity: ActivityCache,
}

/// Every card's activity events as of its history version, kept between reports.
#[derive(Default)]
pub(crate) struct ActivityCache {
    cards: HashMap<i64, CardEvents>,
    /// Each rep's id once, shared by their events.
    reps: HashMap<String, Arc<str>>,
    /// Counts [`Store::refresh_activity`] calls, to find the cards gone since.
    generation: u64,
}

/// One card's activity events: its changes with an author and a time.
struct CardEvents {
    /// `card_facts.history_version` they were read at (`None`: never walked).
    history: Option<i64>,
    /// The last refresh that saw the card.
    generation: u64,
    events: Vec<ActivityEvent>,
}

impl ActivityCache {
    /// Every kept event, card by card.
    pub(crate) fn events(&self) -> impl Iterator<Item = &ActivityEvent> {
        self.cards.values().flat_map(|c| c.events.iter())
    }

    fn rep(&mut self, rep: &str) -> Arc<str> {
        if let Some(r) = self.reps.get(rep) {
            return Arc::clone(r);
        }
        let r: Arc<str> = Arc::from(rep);
        self.reps.insert(rep.to_owned(), Arc::clone(&r));
        r
    }

    /// The event of a `change_facts` row (card_num, rep, at, then the six counts), if the
    /// change has an author and a time.
    fn event_at(
        &mut self,
        row: &rusqlite::Row<'_>,
        card: Arc<str>,
    ) -> Result<Option<ActivityEvent>> {
        let Some(rep) = row
            .get_ref(1)?
            .as_str_or_null()
            .map_err(|e| corrupt("change", e))?
        else {
            return Ok(None);
        };
        let Some(at) = row.get::<_, Option<i64>>(2)? else {
            return Ok(None);
        };
        let at = DateTime::from_timestamp(at, 0)
            .ok_or_else(|| corrupt("change", "a change time out of range"))?;
        let rep = self.rep(rep);
        Ok(Some(ActivityEvent {
            rep,
            card,
            at,
            activity: activity_at(row, 3)?,
        }))
    }
}

/// The history version a card's stage changes were read at.
struct StageVersion {
    /// `card_facts.history_version` (`None`: never walked).
    history: Option<i64>,
    id: CardId,
    /// The last refresh that saw the card.
    generation: u64,
}

impl LeanCache {
    /// The cards as of the last [`refresh_lean`].
    pub(crate) fn cards(&self) -> &[Card] {
        &self.cards
    }

    /// Every card's activity events as of the last [`Store::refresh_activity`].
    pub(crate) fn activity_events(&self) -> impl Iterator<Item = &ActivityEvent> {
        self.activity.events()
    }

    /// Every card's stage changes as of the last [`Store::refresh_stage_changes`].
    pub(crate) fn stage_changes(&self) -> &BTreeMap<CardId, Vec<StageChange>> {
        &self.stage_map
    }
}

/// Bring the cache up to the store: reuse the cards whose version did not move, parse the
/// others (on every core when there are many).
pub(crate) fn refresh_lean(conn: &Connection, cache: &mut LeanCache) -> Result<()> {
    let versions: Vec<(i64, i64)> = {
        let mut stmt = conn.prepare_cached("SELECT num, version FROM cards ORDER BY num")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    if versions == cache.versions {
        return Ok(());
    }
    let mut kept: HashMap<i64, (i64, Card)> = cache
        .live
        .drain(..)
        .zip(cache.cards.drain(..))
        .map(|((num, version), card)| (num, (version, card)))
        .collect();
    // A card merged away stays out without being parsed again while its version holds.
    let was_merged: HashMap<i64, i64> = cache
        .versions
        .iter()
        .filter(|(num, _)| !kept.contains_key(num))
        .copied()
        .collect();
    let mut slots: Vec<Option<Card>> = Vec::with_capacity(versions.len());
    let mut to_parse = Vec::new();
    for &(num, version) in &versions {
        match kept.remove(&num) {
            Some((v, card)) if v == version => slots.push(Some(card)),
            _ if was_merged.get(&num) == Some(&version) => slots.push(None),
            _ => {
                to_parse.push((slots.len(), num));
                slots.push(None);
            }
        }
    }
    let jsons: Vec<String> = {
        let mut stmt = conn.prepare_cached("SELECT lean FROM card_facts WHERE card_num = ?1")?;
        to_parse
            .iter()
            .map(|(_, num)| {
                stmt.query_row([num], |r| r.get(0))
                    .map_err(|e| corrupt("card", format!("no lean copy: {e}")))
            })
            .collect::<Result<_>>()?
    };
    for ((slot, _), card) in to_parse.iter().zip(parse_on_all_cores(&jsons)?) {
        if card.basic.merged_into.is_none() {
            slots[*slot] = Some(card);
        }
    }
    cache.live.clear();
    cache.cards.clear();
    for (&(num, version), card) in versions.iter().zip(slots) {
        if let Some(card) = card {
            cache.live.push((num, version));
            cache.cards.push(card);
        }
    }
    cache.versions = versions;
    Ok(())
}

/// Every card's (num, version, history version), from two narrow indexes (schema 7)
/// merged by num: joined in SQL, each card would read its long `card_facts` row.
fn history_versions(conn: &Connection) -> Result<Vec<(i64, i64, Option<i64>)>> {
    let mut facts =
        conn.prepare_cached("SELECT card_num, history_version FROM card_facts ORDER BY card_num")?;
    let facts: Vec<(i64, Option<i64>)> = facts
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut cards = conn.prepare_cached("SELECT num, version FROM cards ORDER BY num")?;
    let mut rows = cards.query([])?;
    let mut out = Vec::with_capacity(facts.len());
    let mut facts = facts.into_iter().peekable();
    while let Some(row) = rows.next()? {
        let (num, version): (i64, i64) = (row.get(0)?, row.get(1)?);
        while facts.next_if(|(n, _)| *n < num).is_some() {}
        let history = facts.next_if(|(n, _)| *n == num).and_then(|(_, h)| h);
        out.push((num, version, history));
    }
    Ok(out)
}

/// Parse lean cards on every core, in order.
fn parse_on_all_cores(jsons: &[String]) -> Result<Vec<Card>> {
    let parse = |chunk: &[String]| -> Result<Vec<Card>> {
        chunk
            .iter()
            .map(|json| {
                serde_json::from_str::<LeanCard>(json)
                    .map(LeanCard::into_card)
                    .map_err(|e| corrupt("card", e))
            })
            .collect()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Below a few hundred cards a thread costs more than it saves.
    if threads < 2 || jsons.len() < 512 {
        return parse(jsons);
    }
    let chunk = jsons.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = jsons
            .chunks(chunk)
            .map(|part| s.spawn(move || parse(part)))
            .collect();
        let mut out = Vec::with_capacity(jsons.len());
        for h in handles {
            let part = h
                .join()
                .map_err(|_| Error::invalid("card", "a parsing thread panicked"))??;
            out.extend(part);
        }
        Ok(out)
    })
}

/// A change hash stored as a 32-byte blob in column `i`.
fn hash_at(row: &rusqlite::Row<'_>, i: usize) -> Result<ChangeHash> {
    let bytes: Vec<u8> = row.get(i)?;
    let hash: [u8; 32] = bytes
        .try_into()
        .map_err(|_| corrupt("change", "a change hash is 32 bytes"))?;
    Ok(ChangeHash(hash))
}

/// A change's activity counts from six columns starting at `first` (visits, new customer,
/// edited, moved, contracts, orders: the order `change_facts` declares them in).
fn activity_at(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<ChangeActivity> {
    Ok(ChangeActivity {
        visits: row.get(first)?,
        new_customer: row.get(first + 1)?,
        edited: row.get(first + 2)?,
        opportunities_moved: row.get(first + 3)?,
        contracts: row.get(first + 4)?,
        orders: row.get(first + 5)?,
    })
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> Error {
    Error::invalid(what, format!("stored facts unreadable: {e}"))
}

/// One change's kept facts.
struct ChangeRow {
    hash: ChangeHash,
    rep: Option<String>,
    at: Option<i64>,
    activity: ChangeActivity,
    entered: Vec<StageEntered>,
}

impl ChangeRow {
    fn of(summary: &ChangeSummary) -> Result<ChangeRow> {
        Ok(ChangeRow {
            hash: crate::history::parse_hash(&summary.entry.hash)?,
            rep: summary.entry.rep.clone(),
            at: summary.entry.time.map(|t| t.timestamp()),
            activity: activity::classify(summary),
            entered: summary.stages_entered.clone(),
        })
    }
}

/// Every card's (num, `card_facts.history_version`), in num order.
type HistoryVersions = Vec<(i64, Option<i64>)>;

/// What a card's history says, derived now for a card whose kept facts were behind.
struct Derived {
    num: i64,
    version: i64,
    new_changes: Vec<ChangeRow>,
    stages: Vec<StageChange>,
}

impl Store {
    /// Bring the lean cards ([`Store::lean`]) up to the store.
    pub(crate) fn refresh_lean(&mut self) -> Result<()> {
        refresh_lean(&self.conn, &mut self.lean)
    }

    /// Bring every card's history facts up to the card's document, walking only changes
    /// not walked before; on the writer, keep what was derived. Returns what a read
    /// connection derived and could not keep (empty on the writer), to be read in place
    /// of the stored facts of those cards.
    ///
    /// Also returns every card's (num, history version) as of after the refresh, so
    /// the caller checks its own kept state without reading the versions again.
    fn refresh_history_facts(&mut self) -> Result<(HashMap<i64, Derived>, HistoryVersions)> {
        let mut versions = history_versions(&self.conn)?;
        let stale: Vec<(i64, i64)> = versions
            .iter()
            .filter(|&&(_, version, history)| history != Some(version))
            .map(|&(num, version, _)| (num, version))
            .collect();
        let mut derived = HashMap::new();
        for (num, version) in stale {
            let id = self.card_id_of(num)?;
            let known = Self::known_entered(&self.conn, num)?;
            let doc = Self::read_document(&self.conn, &id, num)?;
            let (summaries, stages) = stages_and_new_summaries(&doc, &known);
            let new_changes = summaries
                .iter()
                .map(ChangeRow::of)
                .collect::<Result<Vec<_>>>()?;
            derived.insert(
                num,
                Derived {
                    num,
                    version,
                    new_changes,
                    stages,
                },
            );
        }
        let history = |versions: Vec<(i64, i64, Option<i64>)>| {
            versions.into_iter().map(|(num, _, h)| (num, h)).collect()
        };
        if derived.is_empty() || self._lock.is_none() {
            return Ok((derived, history(versions)));
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for d in derived.values() {
            // The writer is the only one that changes documents, so nothing moved since
            // the read above; the version check keeps that true if that ever changes.
            let current: i64 =
                tx.query_row("SELECT version FROM cards WHERE num = ?1", [d.num], |r| {
                    r.get(0)
                })?;
            if current != d.version {
                continue;
            }
            Self::keep(&tx, d)?;
        }
        tx.commit()?;
        // What was kept is now at its card's version (`versions` is in num order).
        for d in derived.values() {
            if let Ok(i) = versions.binary_search_by_key(&d.num, |&(num, _, _)| num)
                && versions[i].1 == d.version
            {
                versions[i].2 = Some(d.version);
            }
        }
        Ok((HashMap::new(), history(versions)))
    }

    /// The stages entered by every change of a card walked before, by hash.
    fn known_entered(
        conn: &Connection,
        num: i64,
    ) -> Result<HashMap<ChangeHash, Vec<StageEntered>>> {
        let mut stmt =
            conn.prepare_cached("SELECT hash, entered FROM change_facts WHERE card_num = ?1")?;
        let mut rows = stmt.query([num])?;
        let mut out = HashMap::new();
        while let Some(row) = rows.next()? {
            let hash = hash_at(row, 0)?;
            let entered = match row
                .get_ref(1)?
                .as_str_or_null()
                .map_err(|e| corrupt("change", e))?
            {
                Some(json) => serde_json::from_str(json).map_err(|e| corrupt("change", e))?,
                None => Vec::new(),
            };
            out.insert(hash, entered);
        }
        Ok(out)
    }

    fn keep(tx: &rusqlite::Transaction<'_>, d: &Derived) -> Result<()> {
        let mut insert = tx.prepare_cached(
            "INSERT OR REPLACE INTO change_facts (card_num, hash, rep, at, visits, new_customer,
                edited, moved, contracts, orders, entered)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        for c in &d.new_changes {
            let entered = if c.entered.is_empty() {
                None
            } else {
                Some(serde_json::to_string(&c.entered).map_err(|e| corrupt("change", e))?)
            };
            let a = &c.activity;
            insert.execute(params![
                d.num,
                &c.hash.0[..],
                c.rep,
                c.at,
                a.visits,
                a.new_customer,
                a.edited,
                a.opportunities_moved,
                a.contracts,
                a.orders,
                entered,
            ])?;
        }
        let stages = serde_json::to_string(&d.stages).map_err(|e| corrupt("card", e))?;
        tx.execute(
            "UPDATE card_facts SET history_version = ?2, stages = ?3 WHERE card_num = ?1",
            params![d.num, d.version, stages],
        )?;
        Ok(())
    }

    /// Bring every card's stage changes ([`LeanCache::stage_changes`]) up to the store,
    /// from the kept history facts (brought up to date first): the parsed ones are reused
    /// while the card's history version holds, so a report copies none.
    pub(crate) fn refresh_stage_changes(&mut self) -> Result<()> {
        let (derived, history_versions) = self.refresh_history_facts()?;
        // Updated in place: a report after a visit logged re-reads one card's stages and
        // moves nothing else.
        let mut versions = std::mem::take(&mut self.lean.stage_versions);
        let mut map = std::mem::take(&mut self.lean.stage_map);
        self.lean.stage_generation += 1;
        let generation = self.lean.stage_generation;
        {
            let mut body = self
                .conn
                .prepare_cached("SELECT stages FROM card_facts WHERE card_num = ?1")?;
            for (num, history) in history_versions {
                if derived.contains_key(&num) {
                    continue;
                }
                if let Some(kept) = versions.get_mut(&num)
                    && kept.history == history
                {
                    kept.generation = generation;
                    continue;
                }
                let id = self.card_id_of(num)?;
                let json: Option<String> = body.query_row([num], |r| r.get(0))?;
                let stages: Vec<StageChange> = match json.as_deref() {
                    None | Some("[]") => Vec::new(),
                    Some(json) => serde_json::from_str(json).map_err(|e| corrupt("card", e))?,
                };
                if stages.is_empty() {
                    map.remove(&id);
                } else {
                    map.insert(id.clone(), stages);
                }
                versions.insert(
                    num,
                    StageVersion {
                        history,
                        id,
                        generation,
                    },
                );
            }
        }
        // A read connection's derivations hold for this call only (not kept: the stored
        // history version is still behind, so the next call derives them again).
        for d in derived.into_values() {
            let id = self.card_id_of(d.num)?;
            versions.remove(&d.num);
            if d.stages.is_empty() {
                map.remove(&id);
            } else {
                map.insert(id, d.stages);
            }
        }
        // Cards gone from the store.
        versions.retain(|_, v| {
            let live = v.generation == generation;
            if !live {
                map.remove(&v.id);
            }
            live
        });
        self.lean.stage_versions = versions;
        self.lean.stage_map = map;
        Ok(())
    }

    /// Bring every card's activity events ([`LeanCache::activity_events`]) up to the
    /// store, from the kept history facts (brought up to date first): a card's events are
    /// read again only when its history version moved, so a report after a visit logged
    /// reads one card's rows, not a year of everyone's. Returns the events of the cards a
    /// read connection derived and could not keep (all their changes), to be counted
    /// besides.
    pub(crate) fn refresh_activity(&mut self) -> Result<Vec<ActivityEvent>> {
        let (derived, history_versions) = self.refresh_history_facts()?;
        let mut cache = std::mem::take(&mut self.lean.activity);
        cache.generation += 1;
        let generation = cache.generation;
        let stale: Vec<(i64, Option<i64>)> = history_versions
            .into_iter()
            .filter(|(num, _)| !derived.contains_key(num))
            .filter(|&(num, history)| match cache.cards.get_mut(&num) {
                Some(kept) if kept.history == history => {
                    kept.generation = generation;
                    false
                }
                _ => true,
            })
            .collect();
        // A first report reads every change in one pass in key order; later ones read
        // the few cards that moved by key.
        let mut read: HashMap<i64, Vec<ActivityEvent>> = HashMap::new();
        if stale.len() > 256 {
            let wanted: HashSet<i64> = stale.iter().map(|&(n, _)| n).collect();
            let mut stmt = self.conn.prepare_cached(
                "SELECT card_num, rep, at, visits, new_customer, edited, moved, contracts, orders
                 FROM change_facts ORDER BY card_num",
            )?;
            let mut rows = stmt.query([])?;
            let mut current: Option<(i64, Arc<str>)> = None;
            while let Some(row) = rows.next()? {
                let num: i64 = row.get(0)?;
                if !wanted.contains(&num) {
                    continue;
                }
                let card = match &current {
                    Some((n, id)) if *n == num => Arc::clone(id),
                    _ => {
                        let id: Arc<str> = Arc::from(self.card_id_of(num)?.as_str());
                        current = Some((num, Arc::clone(&id)));
                        id
                    }
                };
                if let Some(event) = cache.event_at(row, card)? {
                    read.entry(num).or_default().push(event);
                }
            }
        } else {
            let mut stmt = self.conn.prepare_cached(
                "SELECT card_num, rep, at, visits, new_customer, edited, moved, contracts, orders
                 FROM change_facts WHERE card_num = ?1",
            )?;
            for &(num, _) in &stale {
                let card: Arc<str> = Arc::from(self.card_id_of(num)?.as_str());
                let mut rows = stmt.query([num])?;
                let mut events = Vec::new();
                while let Some(row) = rows.next()? {
                    if let Some(event) = cache.event_at(row, Arc::clone(&card))? {
                        events.push(event);
                    }
                }
                read.insert(num, events);
            }
        }
        for (num, history) in stale {
            let events = read.remove(&num).unwrap_or_default();
            cache.cards.insert(
                num,
                CardEvents {
                    history,
                    generation,
                    events,
                },
            );
        }
        // Cards gone from the store, and those a read connection derives below.
        cache.cards.retain(|_, c| c.generation == generation);
        // A read connection's derivations: every change of those cards, new or not.
        let mut out = Vec::new();
        for d in derived.into_values() {
            let card: Arc<str> = Arc::from(self.card_id_of(d.num)?.as_str());
            let known = Self::kept_changes(&self.conn, d.num)?;
            for c in d.new_changes.into_iter().chain(known) {
                let (Some(rep), Some(at)) =
                    (c.rep, c.at.and_then(|t| DateTime::from_timestamp(t, 0)))
                else {
                    continue;
                };
                out.push(ActivityEvent {
                    rep: cache.rep(&rep),
                    card: Arc::clone(&card),
                    at,
                    activity: c.activity,
                });
            }
        }
        self.lean.activity = cache;
        Ok(out)
    }

    /// The changes of a card walked and kept before.
    fn kept_changes(conn: &Connection, num: i64) -> Result<Vec<ChangeRow>> {
        let mut stmt = conn.prepare_cached(
            "SELECT hash, rep, at, visits, new_customer, edited, moved, contracts, orders
             FROM change_facts WHERE card_num = ?1",
        )?;
        let mut rows = stmt.query([num])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(ChangeRow {
                hash: hash_at(row, 0)?,
                rep: row.get(1)?,
                at: row.get(2)?,
                activity: activity_at(row, 3)?,
                entered: Vec::new(),
            });
        }
        Ok(out)
    }

    fn card_id_of(&self, num: i64) -> Result<CardId> {
        let id: String = self
            .conn
            .prepare_cached("SELECT id FROM cards WHERE num = ?1")?
            .query_row([num], |r| r.get(0))?;
        id.parse()
    }
}

#[cfg(all(test, feature = "demo"))]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{Days, Utc};

    use crate::analysis::activity::{self, ActivityEvent, Period};
    use crate::analysis::route::GeoPoint;
    use crate::analysis::{abc, credit, duplicates, pipeline};
    use crate::card::{Card, Keyed, Opportunity};
    use crate::demo::{DemoAuthor, demo_document};
    use crate::history::{stage_changes, summarize_all_for_tests};
    use crate::store::{BundleEntry, OpenOptions, Store, StoreReader, encode_bundle};
    use crate::value::{Money, OppStage};
    use crate::{CardId, Result};

    /// What the reports would say reading every full card and walking every document.
    struct FromDocuments {
        cards: Vec<Card>,
        stages: BTreeMap<CardId, Vec<pipeline::StageChange>>,
        events: Vec<ActivityEvent>,
    }

    fn from_documents(store: &mut Store) -> Result<FromDocuments> {
        let cards = store.all_cards()?;
        let mut stages = BTreeMap::new();
        let mut events = Vec::new();
        for id in store.card_ids()? {
            let (s, summaries) = store.with_doc(&id, |doc| {
                Ok((stage_changes(doc), summarize_all_for_tests(doc)))
            })?;
            stages.insert(id.clone(), s);
            events.extend(
                summaries
                    .iter()
                    .filter_map(|s| match (&s.entry.rep, s.entry.time) {
                        (Some(rep), Some(at)) => Some(ActivityEvent {
                            rep: rep.as_str().into(),
                            card: id.as_str().into(),
                            at,
                            activity: activity::classify(s),
                        }),
                        _ => None,
                    }),
            );
        }
        Ok(FromDocuments {
            cards,
            stages,
            events,
        })
    }

    fn store_with_history(dir: &std::path::Path) -> Store {
        let mut store = Store::open(dir.join("phone.db")).expect("open");
        store
            .init_identity("zhangwei".parse().expect("rep"))
            .expect("init");
        let authors: Vec<DemoAuthor> = ["zhangwei", "lina", "wangqiang"]
            .iter()
            .map(|r| DemoAuthor::new(r.parse().expect("rep")))
            .collect();
        let today = Utc::now().date_naive();
        let territories = ["华东区", "华南区", "西南区"];
        let entries: Vec<BundleEntry> = (0..24)
            .map(|i| {
                let (id, data) =
                    demo_document(7, i, territories[i as usize % 3], &authors, 16, today)
                        .expect("demo");
                BundleEntry {
                    card_id: id.to_string(),
                    data,
                }
            })
            .collect();
        store
            .import_bundle(&encode_bundle(&entries))
            .expect("import");
        store
    }

    /// Every report read from the kept facts equals the report computed from the full
    /// cards and their documents: on the writer (which derives and keeps), read back
    /// from what it kept, on a read connection behind the writer (which derives in
    /// memory), and after new changes (only those walked).
    #[test]
    fn reports_from_kept_facts_equal_reports_from_documents() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = store_with_history(dir.path());
        let today = Utc::now().date_naive();
        let year_ago = today - Days::new(400);
        let company = store.company_settings().settings.clone();
        let office = GeoPoint::new(31.2304, 121.4737).expect("point");

        let check = |store: &mut Store, reader: Option<&mut StoreReader>| {
            let docs = from_documents(store).expect("documents");
            let holders = store.territory_holders(&docs.cards).expect("holders");
            let as_of = activity::day_start(today, 480) + chrono::Duration::days(1);
            let want_pipeline = pipeline::report(
                &docs.cards,
                &docs.stages,
                &holders,
                as_of,
                &company.pipeline,
            );
            let want_activity =
                activity::report(&docs.events, Period::Day, year_ago, today, 480).expect("a");
            assert!(want_pipeline.forecast.total.opportunities > 0);
            assert!(
                want_activity
                    .reps
                    .iter()
                    .map(|r| r.totals.changes)
                    .sum::<u64>()
                    > 100
            );
            match reader {
                Some(reader) => {
                    assert_eq!(reader.pipeline(today, 480).expect("p"), want_pipeline);
                    assert_eq!(
                        reader
                            .activity(Period::Day, year_ago, today, 480)
                            .expect("a"),
                        want_activity
                    );
                }
                None => {
                    assert_eq!(store.pipeline(today, 480).expect("p"), want_pipeline);
                    assert_eq!(
                        store
                            .activity(Period::Day, year_ago, today, 480)
                            .expect("a"),
                        want_activity
                    );
                }
            }
            docs
        };

        // A read connection on a store that never had a report derives everything.
        let mut reader =
            StoreReader::open(dir.path().join("phone.db"), &OpenOptions::new()).expect("reader");
        check(&mut store, Some(&mut reader));
        let kept: i64 = store
            .conn
            .query_row("SELECT count(*) FROM change_facts", [], |r| r.get(0))
            .expect("count");
        assert_eq!(kept, 0, "a read connection keeps nothing");

        // The writer derives and keeps; the second time it reads what it kept.
        let docs = check(&mut store, None);
        let walked: i64 = store
            .conn
            .query_row("SELECT count(*) FROM change_facts", [], |r| r.get(0))
            .expect("count");
        assert!(walked > 24 * 10, "{walked} changes kept");
        check(&mut store, None);

        // The methods over lean copies give what they give over full cards.
        store.refresh_lean().expect("lean");
        assert_eq!(store.lean.cards().len(), docs.cards.len());
        assert_eq!(
            store.abc(today).expect("abc"),
            abc::classify(&docs.cards, today, &company.abc)
        );
        assert_eq!(
            store.day_plan(today, office, false).expect("plan"),
            super::super::analysis::plan_of(&docs.cards, &company, today, office, false)
                .expect("plan")
        );
        assert_eq!(
            store.credit_report(today).expect("credit"),
            credit::credit_report(&docs.cards, today, &company.credit, &company.abc)
        );
        assert_eq!(
            store.duplicates().expect("duplicates"),
            duplicates::find_duplicates(&docs.cards, &company.duplicates)
        );

        // New changes: a stage moved on one card, a card created. Only they are walked.
        let moved = docs
            .cards
            .iter()
            .find(|c| !c.opportunities.is_empty())
            .map(|c| c.id.clone())
            .expect("a card with an opportunity");
        store
            .update(&moved, |c| {
                c.opportunities[0].value.stage = Some(OppStage::Won);
                Ok(())
            })
            .expect("won");
        store
            .create(|c| {
                c.basic.name = Some("成都锦江调味品经营部".into());
                c.territory = Some("西南区".into());
                c.opportunities.push(Keyed {
                    id: "o-1".into(),
                    value: Opportunity {
                        title: Some("火锅底料".into()),
                        stage: Some(OppStage::SampleTest),
                        amount: Some(Money::yuan(30_000).expect("yuan")),
                        ..Default::default()
                    },
                });
                Ok(())
            })
            .expect("create");
        check(&mut store, Some(&mut reader));
        check(&mut store, None);
        let after: i64 = store
            .conn
            .query_row("SELECT count(*) FROM change_facts", [], |r| r.get(0))
            .expect("count");
        assert_eq!(after, walked + 2, "only the two new changes were walked");
    }

    /// The kept facts are derived data: emptied, they are derived again, and the reports
    /// are the same.
    #[test]
    fn dropped_facts_are_derived_again() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = store_with_history(dir.path());
        let today = Utc::now().date_naive();
        let first = store.pipeline(today, 480).expect("pipeline");
        store
            .conn
            .execute_batch(
                "DELETE FROM change_facts; UPDATE card_facts SET history_version = NULL, stages = NULL;",
            )
            .expect("drop");
        assert_eq!(store.pipeline(today, 480).expect("again"), first);
    }
}
