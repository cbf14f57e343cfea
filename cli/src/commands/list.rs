//! `fieldbook list` and `fieldbook search`: tables of cards from the SQLite index.
//!
//! Both read core's index ([`Store::list`]) and never open a document, so they
//! stay fast however many cards the device holds.

use fieldbook_core::value::{Class, Scalar};
use fieldbook_core::{CardQuery, CardSummary, SortBy, Store};
use serde_json::json;

use super::parse_date;
use crate::args::ListArgs;
use crate::error::{CliError, Result};
use crate::output::{Output, Table, opt_time, or_dash, short, to_json};

/// `fieldbook list`.
pub fn list(store: &Store, args: &ListArgs) -> Result<Output> {
    let class = args
        .class
        .as_deref()
        .map(|c| Class::parse(c).map_err(|reason| CliError::invalid("class", reason)))
        .transpose()?;
    let due_by = args
        .due
        .as_deref()
        .map(|d| parse_date("due", d))
        .transpose()?;
    let sort: SortBy = args.sort.parse()?;
    let query = CardQuery {
        territory: args.territory.clone(),
        class,
        tag: args.tag.clone(),
        due_by,
        text: None,
        conflicted: args.conflicted,
        sort,
        reverse: args.reverse,
        // One row beyond the page says whether there is a next one.
        limit: args.limit.max(1).saturating_add(1),
        offset: args.offset,
    };
    let limit = args.limit.max(1);
    let mut rows = store.list(&query)?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let mut human = table(&rows);
    if more {
        human.push_str(&next_page(rows.len(), args.offset, limit));
    }
    Ok(Output::new(
        json!({ "cards": to_json(&rows), "offset": args.offset, "limit": limit, "more": more }),
        human,
    ))
}

/// `fieldbook search QUERY`: one page of matches, sorted by name, saying when
/// there are more (one row beyond the page is asked for, so "more" is never a guess).
pub fn search(store: &Store, text: &str, limit: u32, offset: u32) -> Result<Output> {
    if text.trim().is_empty() {
        return Err(CliError::invalid("query", "type something to search for"));
    }
    let limit = limit.max(1);
    let mut rows = store.list(&CardQuery {
        text: Some(text.to_string()),
        limit: limit.saturating_add(1),
        offset,
        ..Default::default()
    })?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let mut human = table(&rows);
    if more {
        human.push_str(&next_page(rows.len(), offset, limit));
    }
    Ok(Output::new(
        json!({ "query": text, "cards": to_json(&rows), "offset": offset, "limit": limit, "more": more }),
        human,
    ))
}

/// The line under a page that stopped at its limit.
fn next_page(shown: usize, offset: u32, limit: u32) -> String {
    format!(
        "showing {shown} of more; --offset {} for the next page\n",
        offset.saturating_add(limit)
    )
}

/// The table both commands print: enough to recognise a customer and act on it.
fn table(rows: &[CardSummary]) -> String {
    if rows.is_empty() {
        return "no cards\n".to_string();
    }
    let mut t = Table::new(&[
        "ID",
        "客户名称",
        "区域",
        "类",
        "电话",
        "上次拜访",
        "下次拜访",
        "信用限度",
        "冲突",
    ]);
    for r in rows {
        t.row(vec![
            short(r.id.as_str()),
            r.name.clone(),
            or_dash(r.territory.as_deref()),
            or_dash(r.class.as_deref()),
            or_dash(r.phone.as_deref()),
            opt_time(r.last_visit_at.as_ref()),
            r.next_due
                .map(|d| d.display())
                .unwrap_or_else(|| "-".into()),
            or_dash(r.credit_limit.as_deref()),
            if r.conflicts > 0 {
                format!("!! {}", r.conflicts)
            } else {
                String::new()
            },
        ]);
    }
    let mut out = t.render();
    out.push_str(&format!(
        "{} card{}\n",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    ));
    out
}
