//! A card's write, as every writer builds it (a push, a card move, an accepted review
//! item, the demo's seed): the new changes, the document as stored, and the manager's read
//! model derived from the same changes, so the log and the read model cannot disagree.

use automerge::{Automerge, ChangeHash};

use super::stored_bytes;
use crate::error::Result;
use crate::manager::read_model::{Times, derive};
use crate::storage::{CardCommit, NewChange, Storage, StoredCard};

/// The changes of `doc` that are not in `before` (all of them for `&[]`), as stored.
pub(crate) fn new_changes(doc: &Automerge, before: &[ChangeHash]) -> Vec<NewChange> {
    doc.get_changes(before)
        .into_iter()
        .map(|c| NewChange {
            hash: c.hash().0,
            bytes: c.raw_bytes().to_vec(),
        })
        .collect()
}

/// Who writes a card, and how its change times are read.
pub(crate) struct CommitBy<'a> {
    /// The device the changes arrived from (or the server's pseudo-device).
    pub(crate) device_id: &'a str,
    /// Late edits of a previous owner (flagged in history).
    pub(crate) late: bool,
    /// Receive time (unix seconds).
    pub(crate) now: i64,
    /// How visit times are judged (received now, or seeded and trusted).
    pub(crate) times: Times,
}

/// The write of `changes` (already applied to `doc`) to a card held as `stored` (`None`:
/// a new card) in `territory`.
pub(crate) fn card_commit(
    storage: &dyn Storage,
    card_id: &str,
    territory: String,
    stored: Option<&StoredCard>,
    doc: &Automerge,
    changes: Vec<NewChange>,
    by: CommitBy<'_>,
) -> Result<CardCommit> {
    let hashes: Vec<[u8; 32]> = changes.iter().map(|c| c.hash).collect();
    let model = derive(storage, card_id, doc, &hashes, by.now, by.times)?;
    Ok(CardCommit {
        card_id: card_id.to_owned(),
        territory,
        expected_last_position: stored.map(|c| c.last_position),
        doc: stored_bytes(doc, stored, &changes),
        heads: doc.get_heads().into_iter().map(|h| h.0).collect(),
        projection: model.projection,
        index: model.index,
        change_rows: model.change_rows,
        changes,
        late: by.late,
        device_id: by.device_id.to_owned(),
        received_at: by.now,
    })
}
