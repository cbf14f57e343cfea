//! Lists and search: one SQL query over the index (`card_index` and the FTS tables)
//! built from a [`CardQuery`]; no document is loaded.

use chrono::{DateTime, NaiveDate};
use rusqlite::types::Value as SqlValue;

use super::{Store, text};
use crate::error::{Error, Result};
use crate::ids::CardId;
use crate::query::{CardQuery, CardSummary, SortBy};
use crate::search::TermMatch;
use crate::value::{Money, Scalar};

/// The months the sales sort sums: the ABC window's full months before this month, in the
/// company's calendar (`[from, to)`).
fn sales_window(company: &crate::company::CompanySettings) -> (crate::YearMonth, crate::YearMonth) {
    let today = crate::analysis::visits::local_date(chrono::Utc::now(), &company.visits);
    let this_month = crate::YearMonth::of(today);
    let mut from = this_month;
    for _ in 0..company.abc.months.max(1) {
        from = from.prev();
    }
    (from, this_month)
}

impl Store {
    /// Full-text search, first page sorted by name.
    pub fn search(&self, text: &str, limit: u32) -> Result<Vec<CardSummary>> {
        self.list(&CardQuery {
            text: Some(text.to_string()),
            limit,
            ..Default::default()
        })
    }

    /// List cards matching a query, from the index.
    pub fn list(&self, q: &CardQuery) -> Result<Vec<CardSummary>> {
        // Terms with nothing searchable in them (`--`, `…`) would match every card;
        // a search made only of them matches none.
        let matches = match &q.text {
            Some(t) => match text::term_matches(t) {
                Some(m) => m,
                None => return Ok(Vec::new()),
            },
            None => Vec::new(),
        };
        // Everything comes from card_index (and the FTS tables): no document is loaded
        // and no other table is joined, so each sort can walk its own index.
        let mut args: Vec<SqlValue> = Vec::new();
        let mut sql = String::from(
            "SELECT i.card_id, i.name, i.territory, i.class, i.phone, i.city, i.route_area, \
             i.last_visit_at, i.due_on, i.credit_limit, i.conflicts, i.updated_at \
             FROM card_index i WHERE i.merged_into IS NULL",
        );
        let mut arg = |sql: &mut String, clause: &str, value: SqlValue| {
            args.push(value);
            sql.push_str(&clause.replace('$', &format!("?{}", args.len())));
        };
        if let Some(t) = &q.territory {
            arg(&mut sql, " AND i.territory = $", SqlValue::Text(t.clone()));
        }
        if let Some(c) = q.class {
            arg(
                &mut sql,
                " AND i.class = $",
                SqlValue::Text(c.code().into()),
            );
        }
        if let Some(tag) = &q.tag {
            arg(
                &mut sql,
                " AND i.card_num IN (SELECT card_num FROM card_tags WHERE tag = $)",
                SqlValue::Text(tag.clone()),
            );
        }
        if let Some(d) = q.due_by {
            // Never visited (no due date) counts as due.
            arg(
                &mut sql,
                " AND (i.due_on IS NULL OR i.due_on <= $)",
                SqlValue::Text(d.display()),
            );
        }
        if q.conflicted {
            sql.push_str(" AND i.conflicts > 0");
        }
        for m in matches {
            match m {
                TermMatch::Trigram(expr) => arg(
                    &mut sql,
                    " AND i.card_num IN (SELECT rowid FROM card_fts WHERE card_fts MATCH $)",
                    SqlValue::Text(expr),
                ),
                TermMatch::Grams(expr) => arg(
                    &mut sql,
                    " AND i.card_num IN (SELECT rowid FROM card_grams WHERE card_grams MATCH $)",
                    SqlValue::Text(expr),
                ),
            }
        }
        // SQLite puts NULLs first ascending and last descending, which is what each
        // sort wants in its natural direction; no NULLS clause, so indexes apply.
        let sales_order;
        let (order, natural_desc) = match q.sort {
            SortBy::Name => ("i.sort_key", false),
            SortBy::Updated => ("i.updated_at", true),
            SortBy::LastVisit => ("i.last_visit_at", true),
            SortBy::NextDue => ("i.due_on", false),
            SortBy::CreditLimit => ("i.credit_limit", true),
            SortBy::Sales => {
                // Sales over the ABC window as of today, summed when asked: a total frozen
                // when the card was indexed would go stale as the months move on.
                let (from, to) = sales_window(&self.settings.company.settings);
                args.push(SqlValue::Text(from.to_string()));
                let from_arg = args.len();
                args.push(SqlValue::Text(to.to_string()));
                let to_arg = args.len();
                sales_order = format!(
                    "(SELECT COALESCE(SUM(s.fen), 0) FROM card_sales s \
                     WHERE s.card_num = i.card_num AND s.month >= ?{from_arg} AND s.month < ?{to_arg})"
                );
                (sales_order.as_str(), true)
            }
        };
        let dir = if natural_desc != q.reverse {
            "DESC"
        } else {
            "ASC"
        };
        sql.push_str(&format!(" ORDER BY {order} {dir}"));
        if q.sort != SortBy::Name {
            sql.push_str(&format!(", i.sort_key {dir}"));
        }
        // Ties (two shops of one chain share a name) break on the card id, which is
        // the same on every device, so every device lists cards in the same order.
        sql.push_str(&format!(", i.card_id {dir}"));
        let limit = if q.limit == 0 { 50 } else { q.limit };
        sql.push_str(&format!(" LIMIT {limit} OFFSET {}", q.offset));
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            let id: String = r.get(0)?;
            let id: CardId = id.parse().map_err(|e: Error| {
                rusqlite::Error::FromSqlConversionFailure(
                    0,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?;
            Ok(CardSummary {
                id,
                name: r.get(1)?,
                territory: r.get(2)?,
                class: r.get(3)?,
                phone: r.get(4)?,
                city: r.get(5)?,
                route_area: r.get(6)?,
                last_visit_at: r
                    .get::<_, Option<i64>>(7)?
                    .and_then(|t| DateTime::from_timestamp(t, 0)),
                next_due: r
                    .get::<_, Option<String>>(8)?
                    .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
                credit_limit: r
                    .get::<_, Option<i64>>(9)?
                    .and_then(|f| Money::from_fen(f).ok())
                    .map(|m| m.display()),
                conflicts: r.get::<_, i64>(10)?.max(0) as u32,
                updated_at: DateTime::from_timestamp(r.get(11)?, 0).unwrap_or_default(),
            })
        })?;
        let out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(out)
    }
}
