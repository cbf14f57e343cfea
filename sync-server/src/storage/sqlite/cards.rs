//! Cards and the change log: the optimistic per-card commit that appends changes and
//! replaces the document and projection, and the queries a sync reads them back with.

use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};

use super::{pos, sql_pos};
use crate::error::{Error, Result};
use crate::storage::{CardCommit, CardSummary, CommitOutcome, StoredCard};
use crate::storage::{join_heads, split_heads};

pub(super) fn next_position(tx: &Transaction<'_>) -> Result<u64> {
    let head: i64 = tx
        .prepare_cached("SELECT head FROM meta WHERE id = 1")?
        .query_row([], |r| r.get(0))?;
    let next = head + 1;
    tx.prepare_cached("UPDATE meta SET head = ?1 WHERE id = 1")?
        .execute([next])?;
    Ok(pos(next))
}

/// One card's write inside a transaction: the optimistic check first (nothing written on
/// [`Error::Conflict`]), then the new log entries, the document and the projection.
pub(super) fn commit_one(tx: &Transaction<'_>, commit: &CardCommit) -> Result<CommitOutcome> {
    let mut text = super::manager::TextRows::default();
    let outcome = commit_one_into(tx, commit, &mut text)?;
    text.write(tx)?;
    Ok(outcome)
}

/// [`commit_one`], with the card's full-text rows queued in `text` for the end of the
/// transaction.
fn commit_one_into(
    tx: &Transaction<'_>,
    commit: &CardCommit,
    text: &mut super::manager::TextRows,
) -> Result<CommitOutcome> {
    let current: Option<(i64, i64)> = tx
        .prepare_cached("SELECT first_position, last_position FROM cards WHERE card_id = ?1")?
        .query_row([&commit.card_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let current_last = current.map(|(_, l)| pos(l));
    if current_last != commit.expected_last_position {
        return Err(Error::Conflict);
    }
    let mut appended = 0;
    let mut first = current.map(|(f, _)| pos(f));
    let mut last = current_last;
    {
        let mut exists =
            tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM change_log WHERE hash = ?1)")?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO change_log \
             (position, card_id, hash, bytes, device_id, received_at, late) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for change in &commit.changes {
            let known: bool = exists.query_row([&change.hash[..]], |r| r.get(0))?;
            if known {
                continue;
            }
            let p = next_position(tx)?;
            insert.execute(params![
                sql_pos(p),
                commit.card_id,
                &change.hash[..],
                change.bytes,
                commit.device_id,
                commit.received_at,
                commit.late
            ])?;
            appended += 1;
            first.get_or_insert(p);
            last = Some(p);
        }
    }
    let (Some(first), Some(last)) = (first, last) else {
        // A new card with no change: nothing to store.
        return Ok(CommitOutcome {
            appended: 0,
            last_position: 0,
        });
    };
    tx.prepare_cached(
        "INSERT INTO cards (card_id, territory, doc, first_position, last_position, heads) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (card_id) DO UPDATE SET territory = excluded.territory, \
         doc = excluded.doc, last_position = excluded.last_position, \
         heads = excluded.heads",
    )?
    .execute(params![
        commit.card_id,
        commit.territory,
        commit.doc,
        sql_pos(first),
        sql_pos(last),
        join_heads(&commit.heads)
    ])?;
    tx.prepare_cached(
        "INSERT INTO projections (card_id, territory, fields) VALUES (?1, ?2, ?3) \
         ON CONFLICT (card_id) DO UPDATE SET territory = excluded.territory, \
         fields = excluded.fields",
    )?
    .execute(params![commit.card_id, commit.territory, commit.projection])?;
    super::manager::write_in_commit(tx, commit, text)?;
    Ok(CommitOutcome {
        appended,
        last_position: last,
    })
}

fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CardSummary> {
    Ok(CardSummary {
        card_id: r.get(0)?,
        territory: r.get(1)?,
        first_position: pos(r.get(2)?),
        last_position: pos(r.get(3)?),
        heads: split_heads(&r.get::<_, Vec<u8>>(4)?),
    })
}

fn placeholders(n: usize, first: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn head_position(c: &Connection) -> Result<u64> {
    let head: i64 = c.query_row("SELECT head FROM meta WHERE id = 1", [], |r| r.get(0))?;
    Ok(pos(head))
}

pub(super) fn log_len(c: &Connection) -> Result<u64> {
    let n: i64 = c.query_row("SELECT count(*) FROM change_log", [], |r| r.get(0))?;
    Ok(pos(n))
}

pub(super) fn card(c: &Connection, card_id: &str) -> Result<Option<StoredCard>> {
    Ok(c.prepare_cached(
        "SELECT card_id, territory, doc, first_position, last_position, heads FROM cards \
         WHERE card_id = ?1",
    )?
    .query_row([card_id], |r| {
        Ok(StoredCard {
            card_id: r.get(0)?,
            territory: r.get(1)?,
            doc: r.get(2)?,
            first_position: pos(r.get(3)?),
            last_position: pos(r.get(4)?),
            heads: split_heads(&r.get::<_, Vec<u8>>(5)?),
        })
    })
    .optional()?)
}

pub(super) fn commit_cards(
    tx: &Transaction<'_>,
    commits: &[CardCommit],
) -> Result<Vec<Result<CommitOutcome>>> {
    let mut text = super::manager::TextRows::default();
    let outcomes = commits
        .iter()
        .map(|commit| match commit_one_into(tx, commit, &mut text) {
            // commit_one checks before writing anything, so a stale card left no
            // trace in the transaction.
            Err(Error::Conflict) => Ok(Err(Error::Conflict)),
            other => other.map(Ok),
        })
        .collect::<Result<Vec<_>>>()?;
    text.write(tx)?;
    Ok(outcomes)
}

pub(super) fn cards_changed_by_others(
    c: &Connection,
    territories: &[String],
    after: u64,
    upto: u64,
    exclude_device: &str,
) -> Result<Vec<CardSummary>> {
    if territories.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT c.card_id, c.territory, c.first_position, c.last_position, c.heads FROM cards c \
         WHERE c.territory IN ({}) AND c.last_position > ?1 AND EXISTS ( \
           SELECT 1 FROM change_log l WHERE l.card_id = c.card_id AND l.position > ?1 \
           AND l.position <= ?2 AND l.device_id <> ?3) \
         ORDER BY c.last_position, c.card_id",
        placeholders(territories.len(), 4)
    );
    let mut stmt = c.prepare(&sql)?;
    let mut params: Vec<rusqlite::types::Value> = vec![
        rusqlite::types::Value::Integer(sql_pos(after)),
        rusqlite::types::Value::Integer(sql_pos(upto)),
        rusqlite::types::Value::Text(exclude_device.to_owned()),
    ];
    params.extend(
        territories
            .iter()
            .map(|t| rusqlite::types::Value::Text(t.clone())),
    );
    let rows = stmt
        .query_map(params_from_iter(params), summary_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(super) fn cards_in_territories(
    c: &Connection,
    territories: &[String],
) -> Result<Vec<CardSummary>> {
    if territories.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT card_id, territory, first_position, last_position, heads FROM cards \
         WHERE territory IN ({}) ORDER BY last_position, card_id",
        placeholders(territories.len(), 1)
    );
    let mut stmt = c.prepare(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(territories.iter()), summary_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(super) fn changes_by_others(
    c: &Connection,
    card_id: &str,
    after: u64,
    upto: u64,
    exclude_device: &str,
) -> Result<Vec<Vec<u8>>> {
    let mut stmt = c.prepare_cached(
        "SELECT bytes FROM change_log WHERE card_id = ?1 AND position > ?2 \
         AND position <= ?3 AND device_id <> ?4 ORDER BY position",
    )?;
    let rows = stmt
        .query_map(
            params![card_id, sql_pos(after), sql_pos(upto), exclude_device],
            |r| r.get(0),
        )?
        .collect::<rusqlite::Result<Vec<Vec<u8>>>>()?;
    Ok(rows)
}

pub(super) fn projection(c: &Connection, card_id: &str) -> Result<Option<String>> {
    Ok(c.query_row(
        "SELECT fields FROM projections WHERE card_id = ?1",
        [card_id],
        |r| r.get(0),
    )
    .optional()?)
}

pub(super) fn projections_after(
    c: &Connection,
    territories: Option<&[String]>,
    after: &str,
    limit: u32,
) -> Result<Vec<(String, String)>> {
    let rows = match territories {
        None => c
            .prepare_cached(
                "SELECT card_id, fields FROM projections WHERE card_id > ?1 \
                 ORDER BY card_id LIMIT ?2",
            )?
            .query_map(rusqlite::params![after, limit], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        Some(ts) => {
            // A scope is a handful of territories: bound them as a JSON array.
            let ts = serde_json::to_string(ts).map_err(|e| Error::Internal(e.to_string()))?;
            c.prepare_cached(
                "SELECT card_id, fields FROM projections WHERE card_id > ?1 \
                 AND territory IN (SELECT value FROM json_each(?3)) \
                 ORDER BY card_id LIMIT ?2",
            )?
            .query_map(rusqlite::params![after, limit, ts], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        }
    };
    Ok(rows)
}
