//! Duplicate cards on this device: finding them (core's `analysis::duplicates`, with the
//! company's settings) and merging two into one.
//!
//! A merge is two changes in one transaction, both by this device's rep, so history says
//! who merged and when: the kept card is filled in from the other (every field it leaves
//! empty, contacts, to-dos, opportunities and sales months it lacks, tags, the other's
//! notes appended), and the other card gets `basic.merged_into` = the kept card. The other
//! card is never deleted: its document and history stay, every device that syncs receives
//! the pointer, lists and searches only show the kept card, and opening the merged one
//! finds where it went ([`Store::merged_target`]).
//!
//! Visits are not copied: a visit names the rep who made it, and a copy written by the
//! merging rep would either claim it as theirs or be refused by the server (a pushed visit
//! names the pushing device's person). They stay in the merged card's log, which remains
//! readable.

use serde::Serialize;

use super::Store;
use super::edit::Writer;
use crate::analysis::duplicates::{DuplicatePair, find_duplicates};
use crate::card::{Card, schema};
use crate::error::{Error, Result};
use crate::ids::CardId;
use rusqlite::{Transaction, TransactionBehavior};

/// The longest chain of merges followed when opening a merged card.
const MAX_MERGE_HOPS: usize = 8;

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergeOutcome {
    /// The card that stays.
    pub kept: CardId,
    /// The card merged into it (now pointing to it).
    pub merged: CardId,
    /// Fields of the kept card filled from the merged one.
    pub fields_filled: Vec<String>,
    /// Contacts, to-dos and opportunities copied.
    pub items_copied: usize,
    /// Visits left in the merged card's log (see the module docs).
    pub visits_left: usize,
}

fn invalid(reason: &str) -> Error {
    Error::InvalidValue {
        field: "merge".into(),
        reason: reason.into(),
    }
}

/// Fills `keep` from `other`: what `keep` lacks, never overwriting what it has. Returns
/// the paths filled and the number of items copied.
fn fill_from(keep: &mut Card, other: &Card) -> Result<(Vec<String>, usize)> {
    let mut filled = Vec::new();
    for field in schema() {
        let path = field.path.as_str();
        // Section fields only (`basic.phone`): items, the territory and the notes have
        // their own rules below.
        if path.contains('*') || !path.contains('.') || path == "basic.merged_into" {
            continue;
        }
        if keep.get_path(path)?.is_none()
            && let Some(value) = other.get_path(path)?
        {
            keep.set_path(path, &value)?;
            filled.push(path.to_owned());
        }
    }
    let mut items = 0;
    for contact in &other.contacts {
        if !keep.contacts.iter().any(|c| c.id == contact.id) {
            keep.contacts.push(contact.clone());
            items += 1;
        }
    }
    for todo in &other.todos {
        if !keep.todos.iter().any(|t| t.id == todo.id) {
            keep.todos.push(todo.clone());
            items += 1;
        }
    }
    for opp in &other.opportunities {
        if !keep.opportunities.iter().any(|o| o.id == opp.id) {
            keep.opportunities.push(opp.clone());
            items += 1;
        }
    }
    for (month, amount) in &other.sales {
        if !keep.sales.contains_key(month) {
            keep.sales.insert(*month, *amount);
            filled.push(format!("sales.{month}"));
        }
    }
    for tag in &other.tags {
        if keep.tags.insert(tag.clone()) {
            filled.push(format!("tags.{tag}"));
        }
    }
    let other_notes = other.notes.to_string();
    if !other_notes.trim().is_empty() && !keep.notes.to_string().contains(other_notes.trim()) {
        let mut notes = keep.notes.to_string();
        if !notes.is_empty() {
            notes.push('\n');
        }
        notes.push_str(&format!(
            "【合并自 {}】{}",
            other.display_name(),
            other_notes.trim()
        ));
        keep.notes = notes.as_str().into();
        filled.push("notes".into());
    }
    Ok((filled, items))
}

impl Store {
    /// Cards on this device that look like one customer (merged cards left out), by the
    /// company's duplicate settings.
    pub fn duplicates(&mut self) -> Result<Vec<DuplicatePair>> {
        self.refresh_lean()?;
        Ok(find_duplicates(
            self.lean.cards(),
            &self.settings.company.settings.duplicates,
        ))
    }

    /// Merges `other` into `keep` (see the module docs): both changes or neither. Refused
    /// (`input.invalid_value`, field `merge`) for a card merged into itself or a card
    /// already merged.
    pub fn merge_duplicate(&mut self, keep: &CardId, other: &CardId) -> Result<MergeOutcome> {
        if keep == other {
            return Err(invalid("a card cannot be merged into itself"));
        }
        let keep_card = self.card(keep)?.card;
        let other_card = self.card(other)?.card;
        if keep_card.basic.merged_into.is_some() || other_card.basic.merged_into.is_some() {
            return Err(invalid("one of the cards was merged already"));
        }
        let writer: Writer = self.writer()?;
        let result = (|| {
            let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
            let mut outcome = (Vec::new(), 0);
            Self::edit_in(&tx, &mut self.cache, &self.settings, &writer, keep, |c| {
                outcome = fill_from(c, &other_card)?;
                Ok(())
            })?;
            Self::edit_in(&tx, &mut self.cache, &self.settings, &writer, other, |c| {
                c.basic.merged_into = Some(keep.to_string());
                Ok(())
            })?;
            tx.commit()?;
            Ok(outcome)
        })();
        match result {
            Ok((fields_filled, items_copied)) => {
                tracing::info!(fields = fields_filled.len(), items_copied, "cards merged");
                Ok(MergeOutcome {
                    kept: keep.clone(),
                    merged: other.clone(),
                    fields_filled,
                    items_copied,
                    visits_left: other_card.visits.len(),
                })
            }
            Err(e) => {
                self.cache.pop(keep);
                self.cache.pop(other);
                Err(e)
            }
        }
    }

    /// Where a card now lives: itself, or the card it was merged into (following a chain
    /// of merges, bounded). An app opening a merged card shows this one instead.
    pub fn merged_target(&mut self, id: &CardId) -> Result<CardId> {
        let mut at = id.clone();
        for _ in 0..MAX_MERGE_HOPS {
            let card = self.card(&at)?.card;
            match card.basic.merged_into.as_deref().map(str::parse::<CardId>) {
                Some(Ok(next)) if next != at => at = next,
                _ => return Ok(at),
            }
        }
        Ok(at)
    }
}
