//! Change bundles in and out: exporting cards as compacted documents, and merging a
//! bundle's documents into the store all or nothing.

use automerge::Automerge;
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;

use super::{BundleEntry, Cached, Origin, Store, bundle, now};
use crate::error::Result;
use crate::ids::CardId;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    /// Cards that were new to this device.
    pub cards_new: u32,
    /// Cards that gained changes.
    pub cards_updated: u32,
    /// Cards that were already up to date.
    pub cards_unchanged: u32,
    /// Changes added across all cards.
    pub changes_applied: u32,
    /// Cards with unresolved conflicts after the import.
    pub cards_conflicted: u32,
}

impl Store {
    /// Write a bundle of the given cards (all cards when `None`) as compacted
    /// documents with their full history.
    pub fn export_bundle(&mut self, ids: Option<&[CardId]>) -> Result<Vec<u8>> {
        let ids = match ids {
            Some(ids) => ids.to_vec(),
            None => self.card_ids()?,
        };
        let mut entries = Vec::with_capacity(ids.len());
        for id in &ids {
            let data = self.with_doc(id, |doc| Ok(doc.save()))?;
            entries.push(BundleEntry {
                card_id: id.to_string(),
                data,
            });
        }
        Ok(bundle::encode(&entries))
    }

    /// Merge a bundle into the store, all or nothing: every entry is decoded and
    /// checked before anything is written, and all cards are written in one transaction.
    pub fn import_bundle(&mut self, bytes: &[u8]) -> Result<ImportReport> {
        // Bounded, loaded and validated before anything is written (see `bundle`).
        let incoming = bundle::load_entries(bundle::decode(bytes)?)?;
        let result = self.merge_documents(incoming);
        if result.is_err() {
            self.cache.clear();
        }
        result
    }

    /// Merge whole documents into the store in one transaction.
    pub(super) fn merge_documents(
        &mut self,
        incoming: Vec<(CardId, Automerge, Vec<u8>)>,
    ) -> Result<ImportReport> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let mut report = ImportReport::default();
        let cache = &mut self.cache;
        {
            for (id, theirs, bytes) in incoming {
                let exists: Option<i64> = tx
                    .query_row("SELECT num FROM cards WHERE id = ?1", [id.as_str()], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if exists.is_none() {
                    let changes = theirs.get_changes_meta(&[]).len() as u32;
                    // The bundle holds a compacted document (verified by loading it): keep its bytes.
                    tx.execute(
                        "INSERT INTO cards (id, snapshot, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
                        params![id.as_str(), bytes, now()],
                    )?;
                    let cached = Cached {
                        doc: theirs,
                        num: tx.last_insert_rowid(),
                        version: 0,
                    };
                    Self::to_outbox(&tx, cached.num, &bytes, &cached.doc.get_heads())?;
                    let conflicts = Self::reindex(&tx, &self.settings, &cached)?;
                    report.cards_new += 1;
                    report.changes_applied += changes;
                    if conflicts > 0 {
                        report.cards_conflicted += 1;
                    }
                    cache.put(id, cached);
                    continue;
                }
                let cached = Self::load(&tx, cache, &id)?;
                let heads = cached.doc.get_heads();
                let added = cached.doc.get_changes_added(&theirs);
                if added.is_empty() {
                    report.cards_unchanged += 1;
                    continue;
                }
                report.cards_updated += 1;
                report.changes_applied += added.len() as u32;
                cached.doc.apply_changes(added)?;
                if Self::persist(&tx, &self.settings, cached, &heads, Origin::Local)? > 0 {
                    report.cards_conflicted += 1;
                }
            }
        }
        tx.commit()?;
        Ok(report)
    }
}
