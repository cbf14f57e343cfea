//! The materialised index: the fields lists, search and plans need, one row per card.
//!
//! Written in the same SQLite transaction as the document change it reflects, so
//! the index and the documents can never disagree after a crash. Entirely derived
//! from the documents: [`super::Store::rebuild_index`] recomputes it.

use chrono::{NaiveDate, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::text::{digits, grams, normalize, sort_key};
use crate::card::Card;
use crate::error::Result;
use crate::ids::YearMonth;
use crate::settings::Settings;
use crate::value::Scalar;

/// When the next visit is due, in SQL over `card_index` columns: the next visit the
/// latest visit planned, else the last visit plus the class's cadence (?1–?5: days
/// for A, B, C, D and unclassified), else NULL — never visited, due now. One
/// definition serves both indexing a card and re-deriving every row when the
/// settings change.
pub(crate) const DUE_ON_SQL: &str = "COALESCE(next_visit_on, CASE WHEN last_visit_at IS NULL THEN NULL \
    ELSE date(last_visit_at, 'unixepoch', '+' || (CASE class WHEN 'A' THEN ?1 WHEN 'B' THEN ?2 \
    WHEN 'C' THEN ?3 WHEN 'D' THEN ?4 ELSE ?5 END) || ' days') END)";

fn cadence(settings: &Settings) -> [i64; 5] {
    [
        settings.visit_days_a,
        settings.visit_days_b,
        settings.visit_days_c,
        settings.visit_days_d,
        settings.visit_days_unclassified,
    ]
    .map(i64::from)
}

/// Recompute every card's due date (after a settings change).
pub(crate) fn recompute_due(tx: &Transaction<'_>, settings: &Settings) -> Result<()> {
    let [a, b, c, d, u] = cadence(settings);
    tx.execute(
        &format!("UPDATE card_index SET due_on = {DUE_ON_SQL}"),
        params![a, b, c, d, u],
    )?;
    Ok(())
}

/// Write (or replace) the index rows of one card.
pub(crate) fn write(
    tx: &Transaction<'_>,
    num: i64,
    card: &Card,
    conflicts: usize,
    today: NaiveDate,
    settings: &Settings,
) -> Result<()> {
    let class = card
        .classification
        .abc
        .or(card.classification.prospect_class);
    let last_visit = crate::clock::last_trusted_visit(tx, &card.visits)?;
    // The explicit "next visit" of the latest visit wins over the class cadence,
    // which is applied at query time so a settings change needs no reindex.
    let next_visit_on = last_visit.and_then(|v| v.next_visit).map(|d| d.display());
    let this_month = YearMonth::of(today);
    let recent = [
        this_month.prev(),
        this_month.prev().prev(),
        this_month.prev().prev().prev(),
    ];
    let sales_3m: i64 = recent
        .iter()
        .filter_map(|m| card.sales.get(m))
        .map(|m| m.fen())
        .sum();
    // Full-text rows are rewritten only when the searchable text changed: most edits
    // (a credit limit, a class, a date) leave it alone.
    let (full, short) = index_text(card);
    let search_hash = fingerprint(&[&full, &short]);
    let previous_hash: Option<i64> = tx
        .query_row(
            "SELECT search_hash FROM card_index WHERE card_num = ?1",
            [num],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    tx.execute(
        "INSERT OR REPLACE INTO card_index (card_num, name, sort_key, territory, class, phone, city,
            route_area, route_order, last_visit_at, next_visit_on, visit_count, credit_limit,
            sales_3m, conflicts, updated_at, card_id, search_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        params![
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
            next_visit_on,
            card.visits.len() as i64,
            card.credit.credit_limit.map(|m| m.fen()),
            sales_3m,
            conflicts as i64,
            Utc::now().timestamp(),
            card.id.as_str(),
            search_hash,
        ],
    )?;
    let [a, b, c, d, u] = cadence(settings);
    tx.execute(
        &format!("UPDATE card_index SET due_on = {DUE_ON_SQL} WHERE card_num = ?6"),
        params![a, b, c, d, u, num],
    )?;
    tx.execute("DELETE FROM card_tags WHERE card_num = ?1", [num])?;
    for tag in &card.tags {
        tx.execute(
            "INSERT INTO card_tags (tag, card_num) VALUES (?1, ?2)",
            params![tag, num],
        )?;
    }
    if previous_hash != Some(search_hash) {
        tx.execute("DELETE FROM card_fts WHERE rowid = ?1", [num])?;
        tx.execute(
            "INSERT INTO card_fts (rowid, body) VALUES (?1, ?2)",
            params![num, full],
        )?;
        tx.execute("DELETE FROM card_grams WHERE rowid = ?1", [num])?;
        tx.execute(
            "INSERT INTO card_grams (rowid, grams) VALUES (?1, ?2)",
            params![num, short],
        )?;
    }
    Ok(())
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

/// Today, as the index understands "the last three months".
pub(crate) fn today() -> NaiveDate {
    Utc::now().date_naive()
}
