//! Changes held past the handoff grace period as review items (bounded per device, each
//! change held once, decisions recorded, bytes kept), and the per-device fallback sync states.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};

use crate::error::{Error, Result};
use crate::storage::{
    CardCommit, CommitOutcome, HeldChanges, HoldRequest, NewChange, ReviewDecision, ReviewFilter,
    ReviewItem, ReviewStatus,
};

pub(super) fn hold_changes(tx: &Transaction<'_>, held: &HoldRequest) -> Result<Option<u64>> {
    let mut fresh: Vec<&NewChange> = Vec::with_capacity(held.changes.len());
    {
        let mut known =
            tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM held_hashes WHERE hash = ?1)")?;
        for change in &held.changes {
            let is_known: bool = known.query_row([&change.hash[..]], |r| r.get(0))?;
            if !is_known && !fresh.iter().any(|c| c.hash == change.hash) {
                fresh.push(change);
            }
        }
    }
    if fresh.is_empty() {
        return Ok(None);
    }
    let bytes: Vec<u8> = fresh.iter().flat_map(|c| c.bytes.iter().copied()).collect();
    let (items, pending_bytes): (i64, i64) = tx.query_row(
        "SELECT count(*), coalesce(sum(length(bytes)), 0) FROM held_changes \
         WHERE device_id = ?1 AND status = 'pending'",
        [&held.device_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let items = u64::try_from(items).unwrap_or(0);
    let pending_bytes = u64::try_from(pending_bytes).unwrap_or(0);
    if items.saturating_add(1) > held.max_items
        || pending_bytes.saturating_add(bytes.len() as u64) > held.max_bytes
    {
        return Err(Error::ReviewFull);
    }
    tx.execute(
        "INSERT INTO held_changes (card_id, device_id, person_id, bytes, received_at, changes) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            held.card_id,
            held.device_id,
            held.person_id,
            bytes,
            held.received_at,
            i64::try_from(fresh.len()).unwrap_or(i64::MAX)
        ],
    )?;
    let id = tx.last_insert_rowid();
    let mut insert =
        tx.prepare_cached("INSERT INTO held_hashes (hash, held_id) VALUES (?1, ?2)")?;
    for change in fresh {
        insert.execute(params![&change.hash[..], id])?;
    }
    Ok(Some(u64::try_from(id).unwrap_or(0)))
}

const HELD_COLUMNS: &str = "id, card_id, device_id, person_id, bytes, received_at, changes, \
     status, decided_by, decided_at, note";

fn held_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(HeldChanges, String)> {
    Ok((
        HeldChanges {
            id: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
            card_id: r.get(1)?,
            device_id: r.get(2)?,
            person_id: r.get(3)?,
            bytes: r.get(4)?,
            received_at: r.get(5)?,
            changes: r.get(6)?,
            status: ReviewStatus::Pending,
            decided_by: r.get(8)?,
            decided_at: r.get(9)?,
            note: r.get(10)?,
        },
        r.get(7)?,
    ))
}

fn with_status((mut held, status): (HeldChanges, String)) -> Result<HeldChanges> {
    held.status = ReviewStatus::parse(&status)
        .map_err(|_| Error::Storage(format!("unknown review status {status:?}")))?;
    Ok(held)
}

pub(super) fn held_changes(c: &Connection, card_id: &str) -> Result<Vec<HeldChanges>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {HELD_COLUMNS} FROM held_changes WHERE card_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt
        .query_map([card_id], held_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(with_status).collect()
}

pub(super) fn held_item(c: &Connection, id: u64) -> Result<Option<HeldChanges>> {
    let row = c
        .query_row(
            &format!("SELECT {HELD_COLUMNS} FROM held_changes WHERE id = ?1"),
            [i64::try_from(id).unwrap_or(i64::MAX)],
            held_row,
        )
        .optional()?;
    row.map(with_status).transpose()
}

pub(super) fn review_items(c: &Connection, f: &ReviewFilter) -> Result<(Vec<ReviewItem>, u64)> {
    let mut clauses: Vec<String> = vec!["1 = 1".into()];
    let mut args: Vec<Value> = Vec::new();
    if let Some(status) = f.status {
        args.push(Value::Text(status.as_str().into()));
        clauses.push(format!("h.status = ?{}", args.len()));
    }
    if let Some(territories) = &f.territories {
        if territories.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let first = args.len() + 1;
        args.extend(territories.iter().map(|t| Value::Text(t.clone())));
        let marks: Vec<String> = (first..first + territories.len())
            .map(|i| format!("?{i}"))
            .collect();
        clauses.push(format!("c.territory IN ({})", marks.join(",")));
    }
    let from = format!(
        "FROM held_changes h LEFT JOIN cards c ON c.card_id = h.card_id \
         LEFT JOIN projections p ON p.card_id = h.card_id \
         LEFT JOIN devices d ON d.id = h.device_id WHERE {}",
        clauses.join(" AND ")
    );
    let total: i64 = c.query_row(
        &format!("SELECT count(*) {from}"),
        params_from_iter(args.iter()),
        |r| r.get(0),
    )?;
    let mut page_args = args.clone();
    page_args.push(Value::Integer(i64::try_from(f.limit).unwrap_or(i64::MAX)));
    page_args.push(Value::Integer(i64::try_from(f.offset).unwrap_or(i64::MAX)));
    let sql = format!(
        "SELECT h.id, h.card_id, json_extract(p.fields, '$.basic.name'), c.territory, \
         h.device_id, d.name, h.person_id, h.received_at, h.changes, length(h.bytes), \
         h.status, h.decided_by, h.decided_at, h.note {from} ORDER BY h.id DESC \
         LIMIT ?{} OFFSET ?{}",
        page_args.len() - 1,
        page_args.len()
    );
    let mut stmt = c.prepare(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(page_args.iter()), |r| {
            Ok((
                ReviewItem {
                    id: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                    card_id: r.get(1)?,
                    card_name: r.get::<_, Option<Value>>(2)?.and_then(|v| match v {
                        Value::Text(t) => Some(t),
                        _ => None,
                    }),
                    territory: r.get(3)?,
                    device_id: r.get(4)?,
                    device_name: r.get(5)?,
                    person_id: r.get(6)?,
                    received_at: r.get(7)?,
                    changes: r.get(8)?,
                    bytes: u64::try_from(r.get::<_, i64>(9)?).unwrap_or(0),
                    status: ReviewStatus::Pending,
                    decided_by: r.get(11)?,
                    decided_at: r.get(12)?,
                    note: r.get(13)?,
                },
                r.get::<_, String>(10)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let items = rows
        .into_iter()
        .map(|(mut item, status)| {
            item.status = ReviewStatus::parse(&status)
                .map_err(|_| Error::Storage(format!("unknown review status {status:?}")))?;
            Ok(item)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((items, u64::try_from(total).unwrap_or(0)))
}

pub(super) fn decide_review(
    tx: &Transaction<'_>,
    d: &ReviewDecision,
    commit: Option<&CardCommit>,
) -> Result<Option<CommitOutcome>> {
    if d.status == ReviewStatus::Pending {
        return Err(Error::Invalid("a decision accepts or discards".into()));
    }
    let id = i64::try_from(d.id).unwrap_or(i64::MAX);
    let status: Option<String> = tx
        .query_row("SELECT status FROM held_changes WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    match status.as_deref() {
        None => return Err(Error::NotFound("review item")),
        Some("pending") => {}
        Some(_) => return Err(Error::ReviewDecided),
    }
    let outcome = match commit {
        Some(commit) => Some(super::cards::commit_one(tx, commit)?),
        None => None,
    };
    tx.execute(
        "UPDATE held_changes SET status = ?1, decided_by = ?2, decided_at = ?3, note = ?4 \
         WHERE id = ?5",
        params![d.status.as_str(), d.decided_by, d.at, d.note, id],
    )?;
    Ok(outcome)
}

pub(super) fn fallback_state(
    c: &Connection,
    device_id: &str,
    card_id: &str,
) -> Result<Option<Vec<u8>>> {
    Ok(c.query_row(
        "SELECT state FROM fallback_states WHERE device_id = ?1 AND card_id = ?2",
        [device_id, card_id],
        |r| r.get(0),
    )
    .optional()?)
}

pub(super) fn save_fallback_state(
    tx: &Transaction<'_>,
    device_id: &str,
    card_id: &str,
    state: &[u8],
) -> Result<()> {
    tx.execute(
        "INSERT INTO fallback_states (device_id, card_id, state) VALUES (?1, ?2, ?3) \
         ON CONFLICT (device_id, card_id) DO UPDATE SET state = excluded.state",
        params![device_id, card_id, state],
    )?;
    Ok(())
}
