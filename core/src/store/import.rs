//! `Store::import_table`: a customer list from a spreadsheet into this store, all or
//! nothing. Every row is read and validated first (`transfer::rows::prepare`, with
//! duplicates flagged against the store's cards); then either the report alone (a dry
//! run), or a refusal naming the problems, or every card created in **one** SQLite
//! transaction, so a bad row 9,000 leaves the store and its outbox exactly as they
//! were. Each card is still one Automerge change of its own, queued for the server as
//! any new card is.

use automerge::Automerge;
use rusqlite::{Transaction, TransactionBehavior, params};

use super::{Cached, Store, now};
use crate::card::Card;
use crate::card::doc::create_card;
use crate::error::{Error, Result};
use crate::ids::CardId;
use crate::transfer::rows::prepare;
use crate::transfer::{ImportOptions, ImportReport, Table, TransferError};

impl Store {
    /// Import a table of customers: with `dry_run`, only the report (problems,
    /// duplicates, what would be created); otherwise, if there are no problems (and no
    /// unknown columns unless `options.ignore_unknown`), every card in one transaction.
    pub fn import_table(
        &mut self,
        table: &Table,
        options: &ImportOptions,
        dry_run: bool,
    ) -> Result<ImportReport, TransferError> {
        let existing = self.all_cards()?;
        let prepared = prepare(table, options, &existing)?;
        let mut report = prepared.report;
        report.dry_run = dry_run;
        if dry_run {
            return Ok(report);
        }
        if !report.unknown_columns.is_empty() && !options.ignore_unknown {
            return Err(TransferError::UnknownColumns(report.unknown_columns));
        }
        if !report.problems.is_empty() {
            let first: Vec<String> = report.problems.iter().take(5).map(|p| p.locate()).collect();
            return Err(TransferError::Rejected {
                count: report.problems.len(),
                first: first.join("; "),
            });
        }
        let ids = self.insert_all(prepared.cards)?;
        report.created = ids.len();
        report.created_ids = ids;
        Ok(report)
    }

    /// Store cards built elsewhere as new cards, all in one transaction: each is one
    /// change of its own in the outbox, and either all are stored or none is. Each
    /// document is built, written and dropped in turn (a loaded card costs ~17 KiB of
    /// heap; ten thousand of them at once would cost 170 MiB).
    pub fn insert_all(&mut self, cards: Vec<Card>) -> Result<Vec<CardId>> {
        let (actor, rep) = self.identity_for_writing()?;
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let mut ids = Vec::with_capacity(cards.len());
        for card in &cards {
            let id = card.id.clone();
            let exists: bool = tx.query_row(
                "SELECT count(*) FROM cards WHERE id = ?1",
                [id.as_str()],
                |r| r.get::<_, i64>(0),
            )? > 0;
            if exists {
                return Err(Error::invalid("id", format!("card {id} already exists")));
            }
            let mut doc = Automerge::new();
            Self::act_as(&mut doc, &actor, &rep);
            doc.transact_with(
                |touched: &Vec<String>| Self::commit_options(touched),
                |t| create_card(t, card),
            )
            .map_err(|f| f.error)?;
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
            ids.push(id);
        }
        tx.commit()?;
        Ok(ids)
    }
}
