//! The review queue: late edits refused past the handoff grace period (held by the push
//! side, `sync/handoff.rs`, bounded per device) wait here for a manager.
//!
//! - **Accept** merges the held changes into the card exactly as their author made them
//!   (attributed to the previous owner, marked late in the log), through the same commit as
//!   a push, so every device in scope receives them; the review record says who accepted.
//! - **Discard** records who discarded it, when and why; the bytes are kept. Nothing is
//!   deleted silently.
//!
//! A manager sees and decides the items of cards in the territories they manage; an
//! administrator all of them. An item outside the viewer's scope and one that does not
//! exist get the same `access.denied`.

use automerge::ReadDoc;
use fieldbook_core::card::{check_visit_people, validate_card_doc};
use fieldbook_core::guard::{BytesLimits, apply_checked, check_automerge_bytes};
use serde::{Deserialize, Serialize};

use crate::cache::DocCache;
use crate::error::{Error, Result};
use crate::manager::Page;
use crate::storage::{CardCommit, HeldChanges, ReviewDecision, ReviewFilter, Storage, StoredCard};
pub use crate::storage::{ReviewItem, ReviewStatus};
use crate::sync::{root_string, take_or_load};
use crate::viewer::{Scope, Viewer};

/// Longest note, in bytes.
const MAX_NOTE_BYTES: usize = 1_000;

/// How often an accept is redone when a push wrote the card meanwhile.
const ACCEPT_ATTEMPTS: usize = 8;

/// Which review items to list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewQuery {
    /// Only items with this status (`None`: every status).
    #[serde(default)]
    pub status: Option<ReviewStatus>,
    /// The page, from 1 (default 1).
    #[serde(default)]
    pub page: Option<u32>,
    /// Rows per page (default 50, 1 to [`crate::manager::MAX_PER_PAGE`]; others refused,
    /// as on every list of the manager's API).
    #[serde(default)]
    pub per_page: Option<u32>,
}

/// What a decision did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decided {
    /// The review item.
    pub id: u64,
    /// Its card.
    pub card_id: String,
    /// Accepted or discarded.
    pub status: ReviewStatus,
    /// How many changes were merged into the card (0 for a discard, or when the card held
    /// them all already).
    pub changes_merged: usize,
}

/// The viewer's review items, newest first, a page at a time (blocking).
pub fn list(
    storage: &dyn Storage,
    viewer: &Viewer,
    query: &ReviewQuery,
) -> Result<Page<ReviewItem>> {
    let (page, per_page, offset) = crate::manager::paging(query.page, query.per_page)?;
    let territories = match viewer.scope(storage)? {
        Scope::All => None,
        Scope::Territories(ids) => Some(ids),
    };
    let (items, total) = storage.review_items(&ReviewFilter {
        territories,
        status: query.status,
        offset,
        limit: u64::from(per_page),
    })?;
    Ok(Page {
        items,
        page,
        per_page,
        total,
    })
}

/// The item and its card, if the viewer may decide it.
fn item_in_scope(
    storage: &dyn Storage,
    viewer: &Viewer,
    id: u64,
) -> Result<(HeldChanges, StoredCard)> {
    let item = storage.held_item(id)?.ok_or(Error::AccessDenied)?;
    let card = storage.card(&item.card_id)?.ok_or(Error::AccessDenied)?;
    viewer.require_territory(storage, &card.territory)?;
    Ok((item, card))
}

fn checked_note(note: Option<&str>) -> Result<Option<String>> {
    match note.map(str::trim) {
        None | Some("") => Ok(None),
        Some(n) if n.len() > MAX_NOTE_BYTES => Err(Error::Invalid(format!(
            "a note is at most {MAX_NOTE_BYTES} bytes"
        ))),
        Some(n) => Ok(Some(n.to_owned())),
    }
}

/// Accepts a pending item: its changes are merged into the card as their author made them
/// (blocking). The card's rules apply as to a push: a valid card, the same territory, the
/// author on their own visits.
pub fn accept(
    storage: &dyn Storage,
    docs: &DocCache,
    viewer: &Viewer,
    id: u64,
    now: i64,
) -> Result<Decided> {
    for _ in 0..ACCEPT_ATTEMPTS {
        let (item, stored) = item_in_scope(storage, viewer, id)?;
        if item.status != ReviewStatus::Pending {
            return Err(Error::ReviewDecided);
        }
        let commit = merge_commit(storage, docs, &item, &stored, now)?;
        let decision = ReviewDecision {
            id,
            status: ReviewStatus::Accepted,
            decided_by: viewer.person_id.clone(),
            note: None,
            at: now,
        };
        let merged = commit.as_ref().map_or(0, |c| c.changes.len());
        match storage.decide_review(&decision, commit.as_ref()) {
            Ok(_) => {
                tracing::info!(item = id, changes = merged, "review item accepted");
                return Ok(Decided {
                    id,
                    card_id: item.card_id,
                    status: ReviewStatus::Accepted,
                    changes_merged: merged,
                });
            }
            Err(Error::Conflict) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict)
}

/// The card's write with the item's changes merged, or `None` when it holds them all.
fn merge_commit(
    storage: &dyn Storage,
    docs: &DocCache,
    item: &HeldChanges,
    stored: &StoredCard,
    now: i64,
) -> Result<Option<CardCommit>> {
    // Held bytes passed the bounds when they were pushed; check again, as every byte that
    // reaches Automerge is (the limits may have changed, the row may have been restored).
    let checked =
        check_automerge_bytes(&item.bytes, &BytesLimits::CARD).map_err(Error::from_card_check)?;
    let mut doc = take_or_load(docs, Some(stored))?;
    let before = doc.get_heads();
    apply_checked(&mut doc, &item.bytes, &checked).map_err(Error::from_card_check)?;
    if !doc.get_missing_deps(&[]).is_empty() {
        return Err(Error::ReviewOutOfOrder);
    }
    let changes = crate::sync::new_changes(&doc, &before);
    if changes.is_empty() {
        return Ok(None);
    }
    validate_card_doc(&doc, &stored.card_id).map_err(Error::from_card_check)?;
    check_visit_people(&doc, &stored.heads, &item.person_id, false)
        .map_err(Error::from_card_check)?;
    if root_string(&doc, "territory").as_deref() != Some(stored.territory.as_str()) {
        return Err(Error::TerritoryChange);
    }
    let commit = crate::sync::card_commit(
        storage,
        &stored.card_id,
        stored.territory.clone(),
        Some(stored),
        &doc,
        changes,
        crate::sync::CommitBy {
            device_id: &item.device_id,
            // Edits of the card's previous owner: the history flags them as late.
            late: true,
            now,
            times: crate::manager::read_model::Times::Received,
        },
    )?;
    // Held edits are a previous owner's, judged as a rep's (as their visits are above).
    crate::approval::check_approval(&commit, false, false)?;
    Ok(Some(commit))
}

/// Discards a pending item: the decision is recorded, the bytes are kept (blocking).
pub fn discard(
    storage: &dyn Storage,
    viewer: &Viewer,
    id: u64,
    note: Option<&str>,
    now: i64,
) -> Result<Decided> {
    let note = checked_note(note)?;
    let (item, _) = item_in_scope(storage, viewer, id)?;
    if item.status != ReviewStatus::Pending {
        return Err(Error::ReviewDecided);
    }
    storage.decide_review(
        &ReviewDecision {
            id,
            status: ReviewStatus::Discarded,
            decided_by: viewer.person_id.clone(),
            note,
            at: now,
        },
        None,
    )?;
    tracing::info!(item = id, "review item discarded");
    Ok(Decided {
        id,
        card_id: item.card_id,
        status: ReviewStatus::Discarded,
        changes_merged: 0,
    })
}
