//! The manager's read model, derived from a card's document at every commit: the
//! projection (the device's card view, annotated), the index row (name, class, tags,
//! times, conflicts, search text) and one classified row per new change (core's history
//! diff: card created, visits logged, stages moved, fields touched).
//!
//! Every path that commits a card (a push, a fallback merge, seeding, a handoff's move)
//! builds its [`CardCommit`](crate::storage::CardCommit) fields from [`derive`], so the
//! read model is written in the same transaction as the document it reflects and from one
//! definition. [`backfill`] fills it for cards stored before it existed; [`reclassify`]
//! brings change rows from before a count existed up to core's classification.

use automerge::Automerge;
use fieldbook_core::analysis::activity;
use fieldbook_core::card::LeanCard;
use fieldbook_core::history::{stage_changes, summarize_changes};
use fieldbook_core::search::{search_text, sort_key};

use crate::error::{Error, Result};
use crate::projection::{Projection, VisitTimes, project};
use crate::receive_time::{projection_received, trusted_time};
use crate::storage::{CardIndexRow, ChangeRow, Storage};

/// What a commit of a card writes besides its document and log entries.
#[derive(Clone, Debug)]
pub struct ReadModel {
    /// The stored projection (JSON of the annotated card view).
    pub projection: String,
    /// The card's index row.
    pub index: CardIndexRow,
    /// The new changes, classified.
    pub change_rows: Vec<ChangeRow>,
}

/// How visit times of a commit are judged.
#[derive(Clone, Copy, Debug)]
pub enum Times {
    /// Changes a device sent now: visit times far ahead of `now` are not trusted.
    Received,
    /// Seeded or generated data: every time trusted.
    TrustAll,
}

/// The read model of `doc` after `new_changes` (hashes of the changes this commit
/// appends; already-known ones may be included) arrived at `received_at`.
pub fn derive(
    storage: &dyn Storage,
    card_id: &str,
    doc: &Automerge,
    new_changes: &[[u8; 32]],
    received_at: i64,
    times: Times,
) -> Result<ReadModel> {
    let projected = match times {
        Times::Received => projection_received(storage, card_id, doc, received_at)?,
        Times::TrustAll => project(doc, &VisitTimes::trust_all())?,
    };
    let change_rows = classify(doc, new_changes, received_at);
    let stages = stages_json(storage, card_id, doc, &change_rows)?;
    Ok(ReadModel {
        projection: projected.to_json_string()?,
        index: index_row(&projected, &change_rows, stages)?,
        change_rows,
    })
}

/// The card's stage changes after a commit. Walking a document's history costs a diff
/// per change, so it is done only when it can give something new: when a new change
/// touched the opportunities (a stage put, an opportunity added or removed), or when the
/// card has no stage changes kept yet. Any other change leaves them as they were: the
/// times and authors of earlier changes do not move, and only a stage put or a removed
/// opportunity changes which stage puts count.
fn stages_json(
    storage: &dyn Storage,
    card_id: &str,
    doc: &Automerge,
    change_rows: &[ChangeRow],
) -> Result<String> {
    let touched = change_rows.iter().any(|r| {
        r.fields
            .iter()
            .any(|f| f == "opportunities" || f.starts_with("opportunities."))
    });
    if !touched && let Some(kept) = storage.card_stages(card_id)? {
        return Ok(kept);
    }
    serde_json::to_string(&stage_changes(doc)).map_err(|e| Error::Internal(format!("stages: {e}")))
}

/// The classified rows of some changes of `doc`.
fn classify(doc: &Automerge, hashes: &[[u8; 32]], received_at: i64) -> Vec<ChangeRow> {
    summarize_changes(doc, hashes)
        .into_iter()
        .zip(hashes.iter().filter(|h| {
            doc.get_change_meta_by_hash(&automerge::ChangeHash(**h))
                .is_some()
        }))
        .map(|(s, hash)| {
            let device_time = s.entry.time.map(|t| t.timestamp());
            // What a change counts as is core's rule, the one a phone's report applies.
            let counts = activity::classify(&s);
            ChangeRow {
                hash: *hash,
                person_id: s.entry.rep.clone(),
                actor: hex::decode(&s.entry.device).unwrap_or_default(),
                device_time,
                at: trusted_time(device_time, received_at),
                created: counts.new_customer,
                visits: counts.visits,
                stages: counts.opportunities_moved,
                contracts: counts.contracts,
                orders: counts.orders,
                fields: s.entry.fields,
            }
        })
        .collect()
}

/// The index row of a projected card, with its stage changes (`stages_json`);
/// `updated_at` is the latest time among the new changes (storage keeps the later of it
/// and the stored one).
fn index_row(projected: &Projection, rows: &[ChangeRow], stages: String) -> Result<CardIndexRow> {
    let card = &projected.view.card;
    let lean = serde_json::to_string(&LeanCard::of(card))
        .map_err(|e| Error::Internal(format!("lean card: {e}")))?;
    let text = search_text(card);
    let class = card
        .classification
        .abc
        .or(card.classification.prospect_class)
        .map(|c| c.code().to_owned());
    Ok(CardIndexRow {
        name: card.display_name().to_owned(),
        sort_key: sort_key(card.display_name()),
        class,
        tags: card.tags.iter().cloned().collect(),
        phone: card.basic.phone.clone(),
        city: card.basic.city.clone(),
        updated_at: rows.iter().map(|r| r.at).max().unwrap_or(0),
        last_visit_at: projected.last_visit_at,
        conflicts: u32::try_from(projected.view.conflicts.len()).unwrap_or(u32::MAX),
        search_full: text.full,
        search_grams: text.grams,
        lean,
        stages,
    })
}

/// Fills the read model of cards stored before it existed (a database upgraded to schema
/// 5), a batch at a time; returns how many cards it filled. A card whose document cannot
/// be read is logged and left out (it is served as before; its next commit indexes it).
/// On a read-only database nothing can be written, and nothing is.
pub fn backfill(storage: &dyn Storage) -> Result<usize> {
    fill(storage, |after| storage.cards_without_index(after, 256))
}

/// Classifies again the changes of cards recorded before a count existed (a database
/// upgraded to schema 9: contracts and orders), so the activity report counts them for
/// the past too; returns how many cards it did. As [`backfill`], a card that cannot be
/// read is logged and left for the next start.
pub fn reclassify(storage: &dyn Storage) -> Result<usize> {
    fill(storage, |after| storage.cards_to_reclassify(after, 256))
}

fn fill(storage: &dyn Storage, next: impl Fn(&str) -> Result<Vec<String>>) -> Result<usize> {
    let mut filled = 0;
    let mut after = String::new();
    loop {
        let ids = next(&after)?;
        let Some(last) = ids.last() else {
            return Ok(filled);
        };
        after = last.clone();
        for id in ids {
            match backfill_one(storage, &id) {
                Ok(()) => filled += 1,
                Err(crate::error::Error::ReadOnly) => return Ok(filled),
                Err(e) => {
                    tracing::warn!(card = %id, code = e.code(), "card left out of the manager's index");
                }
            }
        }
    }
}

fn backfill_one(storage: &dyn Storage, id: &str) -> Result<()> {
    let Some(stored) = storage.card(id)? else {
        return Ok(());
    };
    let doc = crate::sync::load_stored(Some(&stored))?;
    let hashes: Vec<[u8; 32]> = doc
        .get_changes_meta(&[])
        .into_iter()
        .map(|m| m.hash.0)
        .collect();
    // The log has each change's receive time, but a change's device time is what
    // activity counts; it is trusted as of now.
    let model = derive(
        storage,
        id,
        &doc,
        &hashes,
        crate::auth::now(),
        Times::TrustAll,
    )?;
    storage.write_read_model(id, &stored.territory, &model.index, &model.change_rows)
}
