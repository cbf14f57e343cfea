//! The materialised index: the fields lists, search and plans need, one row per card.
//!
//! Written in the same SQLite transaction as the document change it reflects, so
//! the index and the documents can never disagree after a crash. Entirely derived
//! from the documents: [`super::Store::rebuild_index`] recomputes it.

use chrono::{NaiveDate, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::StoreSettings;
use super::text::{digits, grams, normalize, sort_key};
use crate::analysis::visits::{self, VisitSettings};
use crate::card::Card;
use crate::error::Result;
use crate::value::{Class, Scalar};

/// Whether a change of visit settings changes which visit is a card's last counted one
/// (the kinds counted, or the local calendar): then the index must be rebuilt from the
/// documents, not just re-derived from its columns.
pub(crate) fn due_inputs_changed(old: &VisitSettings, new: &VisitSettings) -> bool {
    old.counted_kinds != new.counted_kinds || old.utc_offset_minutes != new.utc_offset_minutes
}

/// Re-derive every card's due date from its index columns (after the cadence changed),
/// with the one rule, [`visits::next_due`].
pub(crate) fn recompute_due(tx: &Transaction<'_>, settings: &VisitSettings) -> Result<()> {
    // (card, class, last counted visit's local date, planned next visit)
    type DueRow = (i64, Option<String>, Option<String>, Option<String>);
    let rows: Vec<DueRow> = {
        let mut stmt =
            tx.prepare("SELECT card_num, class, last_counted_on, next_visit_on FROM card_index")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    let mut update = tx.prepare_cached("UPDATE card_index SET due_on = ?2 WHERE card_num = ?1")?;
    for (num, class, last, planned) in rows {
        let class = class.as_deref().and_then(|c| Class::parse(c).ok());
        let day =
            |d: Option<String>| d.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok());
        let due = visits::next_due(day(last), day(planned), settings.interval_days(class));
        update.execute(params![num, due.map(|d| d.to_string())])?;
    }
    Ok(())
}

/// Write (or replace) the index rows of one card.
pub(crate) fn write(
    tx: &Transaction<'_>,
    num: i64,
    card: &Card,
    conflicts: usize,
    updated_at: Option<i64>,
    settings: &StoreSettings,
    text: &mut TextRows,
) -> Result<()> {
    let rules = settings.visits();
    let class = card
        .classification
        .abc
        .or(card.classification.prospect_class);
    let last_visit = crate::clock::last_trusted_visit(tx, &card.visits, |_| true)?;
    // The due date follows the last *counted* visit (a phone call is not a visit), by
    // the company's rule; the planned next visit is kept so a cadence change can
    // re-derive it without the document.
    let last_counted =
        crate::clock::last_trusted_visit(tx, &card.visits, |v| visits::is_counted(v, rules))?;
    let last_counted_on = last_counted
        .and_then(|v| v.at)
        .map(|at| visits::local_date(at, rules));
    let next_visit_on = last_counted.and_then(|v| v.next_visit);
    let due_on = visits::next_due(last_counted_on, next_visit_on, rules.interval_days(class));
    // Full-text rows are rewritten only when the searchable text changed: most edits
    // (a credit limit, a class, a date) leave it alone.
    let (full, short) = index_text(card);
    let search_hash = fingerprint(&[&full, &short]);
    let previous_hash: Option<i64> = tx
        .prepare_cached("SELECT search_hash FROM card_index WHERE card_num = ?1")?
        .query_row([num], |r| r.get(0))
        .optional()?
        .flatten();
    tx.prepare_cached(
        "INSERT OR REPLACE INTO card_index (card_num, name, sort_key, territory, class, phone, city,
            route_area, route_order, last_visit_at, next_visit_on, visit_count, credit_limit,
            conflicts, updated_at, card_id, search_hash, last_counted_on, due_on, merged_into)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
            ?19, ?20)",
    )?
    .execute(params![
            num,
            card.display_name(),
            sort_key(card.display_name()),
            card.territory,
            class.map(|c| c.code()),
            card.basic.phone,
            card.basic.city,
            card.location.route_area,
            card.location.route_order.map(|c| c.0),
            last_visit.and_then(|v| v.at).map(|t| t.timestamp()),
            next_visit_on.map(|d| d.to_string()),
            card.visits.len() as i64,
            card.credit.credit_limit.map(|m| m.fen()),
            conflicts as i64,
            updated_at.unwrap_or_else(|| Utc::now().timestamp()),
            card.id.as_str(),
            search_hash,
            last_counted_on.map(|d| d.to_string()),
            due_on.map(|d| d.to_string()),
            card.basic.merged_into,
        ],
    )?;
    // Monthly sales, so a sort by recent sales sums the months before *today* when asked.
    tx.execute("DELETE FROM card_sales WHERE card_num = ?1", [num])?;
    for (month, amount) in &card.sales {
        tx.execute(
            "INSERT INTO card_sales (card_num, month, fen) VALUES (?1, ?2, ?3)",
            params![num, month.to_string(), amount.fen()],
        )?;
    }
    tx.execute("DELETE FROM card_tags WHERE card_num = ?1", [num])?;
    for tag in &card.tags {
        tx.execute(
            "INSERT INTO card_tags (tag, card_num) VALUES (?1, ?2)",
            params![tag, num],
        )?;
    }
    if previous_hash != Some(search_hash) {
        text.push(num, full, short);
    }
    Ok(())
}

/// Full-text rows waiting for the end of a transaction.
///
/// FTS5 keeps a transaction's new rows in memory and writes them as one segment, but
/// it must write them out whenever a statement of the transaction opens a statement
/// journal (an `INSERT OR REPLACE`, an upsert, a multi-row delete): written between a
/// card's other rows, the full-text rows of a 1,000-card pull became 1,000 tiny
/// segments, and their flushing and merging was 40% of the pull's writing. So the
/// rows are queued while a transaction writes its cards and written last, once.
#[derive(Default)]
pub(crate) struct TextRows(Vec<(i64, String, String)>);

impl TextRows {
    fn push(&mut self, num: i64, full: String, short: String) {
        self.0.push((num, full, short));
    }

    /// Writes the queued rows. Call it after the transaction's other statements.
    pub(crate) fn write(self, tx: &Transaction<'_>) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let mut delete_fts = tx.prepare_cached("DELETE FROM card_fts WHERE rowid = ?1")?;
        let mut insert_fts =
            tx.prepare_cached("INSERT INTO card_fts (rowid, body) VALUES (?1, ?2)")?;
        let mut delete_grams = tx.prepare_cached("DELETE FROM card_grams WHERE rowid = ?1")?;
        let mut insert_grams =
            tx.prepare_cached("INSERT INTO card_grams (rowid, grams) VALUES (?1, ?2)")?;
        for (num, full, short) in &self.0 {
            delete_fts.execute([num])?;
            insert_fts.execute(params![num, full])?;
            delete_grams.execute([num])?;
            insert_grams.execute(params![num, short])?;
        }
        Ok(())
    }
}

/// The trigram body and the grams of a card: what its two full-text rows hold.
pub(crate) fn index_text(card: &Card) -> (String, String) {
    (normalize(&full_text(card)), grams(&short_text(card)))
}

/// A stable 64-bit fingerprint of the searchable text.
fn fingerprint(parts: &[&str]) -> i64 {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for p in parts {
        hasher.update(p.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_le_bytes(first)
}

/// The identifying fields: what a rep types a few characters of to find a customer.
fn short_text(card: &Card) -> String {
    let b = &card.basic;
    let mut parts: Vec<&str> = [
        &b.name,
        &b.customer_no,
        &b.address,
        &b.city,
        &b.industry,
        &b.managers,
        &b.legal_rep,
    ]
    .into_iter()
    .flatten()
    .map(String::as_str)
    .collect();
    for c in &card.contacts {
        parts.extend(c.name.as_deref());
    }
    parts.extend(card.tags.iter().map(String::as_str));
    parts.extend(card.territory.as_deref());
    parts.join("\n")
}

/// Everything searchable: the short fields, phones (also as bare digits), notes,
/// visit summaries and outcomes, opportunities.
fn full_text(card: &Card) -> String {
    let mut text = short_text(card);
    let mut add = |s: &str| {
        text.push('\n');
        text.push_str(s);
    };
    let mut phones: Vec<&str> = card.basic.phone.as_deref().into_iter().collect();
    for c in &card.contacts {
        phones.extend(c.phone.as_deref());
        phones.extend(c.mobile.as_deref());
        add(c.email.as_deref().unwrap_or_default());
        add(c.title.as_deref().unwrap_or_default());
    }
    for p in phones {
        add(p);
        add(&digits(p));
    }
    add(card.notes.as_str());
    for v in &card.visits {
        add(v.summary.as_str());
        add(v.outcome.as_deref().unwrap_or_default());
        add(v.next_step.as_deref().unwrap_or_default());
        add(v.place.as_deref().unwrap_or_default());
    }
    for o in &card.opportunities {
        add(o.title.as_deref().unwrap_or_default());
    }
    add(card.marketing.products.as_deref().unwrap_or_default());
    text
}
