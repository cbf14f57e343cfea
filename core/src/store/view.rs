//! A card's view (its values, open conflicts and heads, what a card screen shows) and
//! the index rows derived from it: both are computed from the document and written in
//! the same transaction as every change to it.

use automerge::Automerge;
use rusqlite::{Transaction, params};
use serde::Serialize;

use super::StoreSettings;
use super::index::TextRows;
use super::{Cached, Store, index};
use crate::Conflict;
use crate::card::Card;
use crate::card::conflicts::find_conflicts;
use crate::card::doc::read_card;
use crate::error::{Error, Result};

/// A card as shown to a person: its data, its open conflicts, its heads.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CardView {
    /// The card's current values (the conflict winners where there are conflicts).
    #[serde(flatten)]
    pub card: Card,
    /// Fields with concurrent values awaiting a person's decision.
    pub conflicts: Vec<Conflict>,
    /// The document heads (change hashes, hex): the card's version.
    pub heads: Vec<String>,
    /// When the card last changed: the latest change's time, as the device that made it
    /// recorded it (`None` for a document whose changes carry no time).
    #[serde(default)]
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The card view of a document, exactly as a device's store shows it (`show --json`):
/// the server's manager views build theirs with this, so a card looks the same on the
/// phone and in the dashboard.
///
/// Server-side: one of the documented exceptions to "no Automerge type in core's public
/// API" (the server keeps documents as `Automerge`).
pub fn card_view(doc: &Automerge) -> Result<CardView> {
    index_input(doc)
}

/// What the index and the card view need from a document: the card as shown.
/// Pure CPU work on one document, so it can run on any thread.
pub(crate) fn index_input(doc: &Automerge) -> Result<CardView> {
    Ok(CardView {
        card: read_card(doc, None)?,
        conflicts: conflicts_of(doc),
        heads: doc.get_heads().iter().map(|h| h.to_string()).collect(),
        updated_at: doc
            .get_heads()
            .iter()
            // The metadata, not the change: building a change re-encodes its ops.
            .filter_map(|h| doc.get_change_meta_by_hash(h))
            .map(|m| m.timestamp)
            .filter(|t| *t > 0)
            .max()
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
    })
}

/// Open conflicts of a document. Conflicts need concurrent changes: a document whose
/// history is one line (one head, no change with two parents) has none, and saying
/// so from the change metadata is far cheaper than walking every field.
pub(crate) fn conflicts_of(doc: &Automerge) -> Vec<Conflict> {
    let linear =
        doc.get_heads().len() <= 1 && doc.get_changes_meta(&[]).iter().all(|m| m.deps.len() <= 1);
    if linear {
        Vec::new()
    } else {
        find_conflicts(doc)
    }
}

/// Number of open conflicts of a document.
pub(crate) fn count_conflicts(doc: &Automerge) -> usize {
    conflicts_of(doc).len()
}

/// Write a card's index rows and its view; returns its number of open conflicts.
pub(crate) fn write_index(
    tx: &Transaction<'_>,
    settings: &StoreSettings,
    num: i64,
    view: &CardView,
) -> Result<usize> {
    let mut text = TextRows::default();
    let conflicts = write_index_into(tx, settings, num, view, &mut text)?;
    text.write(tx)?;
    Ok(conflicts)
}

/// [`write_index`], with the full-text rows queued in `text` for the end of the
/// transaction (see [`TextRows`]).
pub(crate) fn write_index_into(
    tx: &Transaction<'_>,
    settings: &StoreSettings,
    num: i64,
    view: &CardView,
    text: &mut TextRows,
) -> Result<usize> {
    index::write(
        tx,
        num,
        &view.card,
        view.conflicts.len(),
        view.updated_at.map(|t| t.timestamp()),
        settings,
        text,
    )?;
    let json = serde_json::to_string(view).map_err(|e| Error::invalid("card", e.to_string()))?;
    tx.prepare_cached("INSERT OR REPLACE INTO card_views (card_num, json) VALUES (?1, ?2)")?
        .execute(params![num, json])?;
    super::facts::write_lean(tx, num, &view.card)?;
    Ok(view.conflicts.len())
}

impl Store {
    /// Rewrite a card's index rows; returns its number of open conflicts.
    pub(super) fn reindex(
        tx: &Transaction<'_>,
        settings: &StoreSettings,
        cached: &Cached,
    ) -> Result<usize> {
        write_index(tx, settings, cached.num, &index_input(&cached.doc)?)
    }

    /// [`Self::reindex`], with the full-text rows queued in `text`.
    pub(super) fn reindex_into(
        tx: &Transaction<'_>,
        settings: &StoreSettings,
        cached: &Cached,
        text: &mut TextRows,
    ) -> Result<usize> {
        write_index_into(tx, settings, cached.num, &index_input(&cached.doc)?, text)
    }
}
