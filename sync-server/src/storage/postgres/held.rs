//! Changes held past the handoff grace period as review items (bounded per device, each
//! change held once, decisions recorded, bytes kept), and the per-device fallback sync
//! states; as `sqlite/held.rs`.
//!
//! Where SQLite's single writer made a read-then-write safe, several instances need more:
//!
//! - **The per-device bound.** Two syncs of one device on two instances would both count
//!   the pending items and both pass. [`hold_changes`] first takes a transaction-scoped
//!   advisory lock on the device (there may be no row to lock: the count is of rows the
//!   other transaction has not committed yet), so one device's holds are serialised.
//! - **Each change held once.** The `held_hashes` check cannot see another instance's
//!   uncommitted hold of the same change; the hashes are inserted `ON CONFLICT DO
//!   NOTHING`, and a hash taken meanwhile fails the hold with [`Error::Conflict`] (nothing
//!   written; the device retries and then finds the change held).
//! - **One decision per item.** [`decide_review`] reads the item's status `FOR UPDATE`: a
//!   second decision waits for the first, then sees it decided.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{GenericClient, Transaction, pg, pos, sql_pos};
use crate::error::{Error, Result};
use crate::storage::{
    CardCommit, CommitOutcome, HeldChanges, HoldRequest, NewChange, ReviewDecision, ReviewFilter,
    ReviewItem, ReviewStatus,
};

/// The first key of the two-key advisory locks that serialise one device's holds (the
/// second is the hash of the device id). The two-key space does not overlap the one-key
/// space the migration lock lives in.
const HOLD_LOCK_CLASS: i32 = 0x6865_6c64; // "held"

pub(super) async fn hold_changes(tx: &Transaction<'_>, held: &HoldRequest) -> Result<Option<u64>> {
    // Serialises this device's holds across instances until commit (see the module
    // docs); taken before the check so a device's retry sees its first attempt's hold.
    tx.execute(
        &tx.prepare_cached("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .await
            .map_err(pg)?,
        &[&HOLD_LOCK_CLASS, &held.device_id],
    )
    .await
    .map_err(pg)?;
    let hashes: Vec<&[u8]> = held.changes.iter().map(|c| &c.hash[..]).collect();
    let known: Vec<Vec<u8>> = tx
        .query(
            &tx.prepare_cached("SELECT hash FROM held_hashes WHERE hash = ANY($1)")
                .await
                .map_err(pg)?,
            &[&hashes],
        )
        .await
        .map_err(pg)?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()
        .map_err(pg)?;
    let mut fresh: Vec<&NewChange> = Vec::with_capacity(held.changes.len());
    for change in &held.changes {
        let is_known = known.iter().any(|k| k[..] == change.hash[..]);
        if !is_known && !fresh.iter().any(|c| c.hash == change.hash) {
            fresh.push(change);
        }
    }
    if fresh.is_empty() {
        return Ok(None);
    }
    let bytes: Vec<u8> = fresh.iter().flat_map(|c| c.bytes.iter().copied()).collect();
    let row = tx
        .query_one(
            &tx.prepare_cached(
                "SELECT count(*), coalesce(sum(octet_length(bytes)), 0)::BIGINT \
                 FROM held_changes WHERE device_id = $1 AND status = 'pending'",
            )
            .await
            .map_err(pg)?,
            &[&held.device_id],
        )
        .await
        .map_err(pg)?;
    let items = pos(row.try_get(0).map_err(pg)?);
    let pending_bytes = pos(row.try_get(1).map_err(pg)?);
    if items.saturating_add(1) > held.max_items
        || pending_bytes.saturating_add(bytes.len() as u64) > held.max_bytes
    {
        return Err(Error::ReviewFull);
    }
    let count = i64::try_from(fresh.len()).unwrap_or(i64::MAX);
    let id: i64 = tx
        .query_one(
            &tx.prepare_cached(
                "INSERT INTO held_changes (card_id, device_id, person_id, bytes, received_at, \
                 changes) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .await
            .map_err(pg)?,
            &[
                &held.card_id,
                &held.device_id,
                &held.person_id,
                &bytes,
                &held.received_at,
                &count,
            ],
        )
        .await
        .map_err(pg)?
        .try_get(0)
        .map_err(pg)?;
    let insert = tx
        .prepare_cached(
            "INSERT INTO held_hashes (hash, held_id) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
        )
        .await
        .map_err(pg)?;
    for change in fresh {
        let inserted = tx
            .execute(&insert, &[&&change.hash[..], &id])
            .await
            .map_err(pg)?;
        if inserted == 0 {
            // Another instance held this change after the check above: this hold (rolled
            // back with the transaction) would keep its bytes twice.
            return Err(Error::Conflict);
        }
    }
    Ok(Some(pos(id)))
}

const HELD_COLUMNS: &str = "id, card_id, device_id, person_id, bytes, received_at, changes, \
     status, decided_by, decided_at, note";

/// A `changes` count as stored (BIGINT) to the `u32` of the API; out of range is a
/// storage error, as rusqlite's checked conversion makes it on SQLite.
fn change_count(v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Storage("held change count out of range".into()))
}

fn parse_status(status: &str) -> Result<ReviewStatus> {
    ReviewStatus::parse(status)
        .map_err(|_| Error::Storage(format!("unknown review status {status:?}")))
}

fn held_row(r: &Row) -> Result<HeldChanges> {
    let status: String = r.try_get(7).map_err(pg)?;
    Ok(HeldChanges {
        id: pos(r.try_get(0).map_err(pg)?),
        card_id: r.try_get(1).map_err(pg)?,
        device_id: r.try_get(2).map_err(pg)?,
        person_id: r.try_get(3).map_err(pg)?,
        bytes: r.try_get(4).map_err(pg)?,
        received_at: r.try_get(5).map_err(pg)?,
        changes: change_count(r.try_get(6).map_err(pg)?)?,
        status: parse_status(&status)?,
        decided_by: r.try_get(8).map_err(pg)?,
        decided_at: r.try_get(9).map_err(pg)?,
        note: r.try_get(10).map_err(pg)?,
    })
}

pub(super) async fn held_changes(
    c: &impl GenericClient,
    card_id: &str,
) -> Result<Vec<HeldChanges>> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {HELD_COLUMNS} FROM held_changes WHERE card_id = $1 ORDER BY id"
        ))
        .await
        .map_err(pg)?;
    let rows = c.query(&stmt, &[&card_id]).await.map_err(pg)?;
    rows.iter().map(held_row).collect()
}

pub(super) async fn held_item(c: &impl GenericClient, id: u64) -> Result<Option<HeldChanges>> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {HELD_COLUMNS} FROM held_changes WHERE id = $1"
        ))
        .await
        .map_err(pg)?;
    let row = c.query_opt(&stmt, &[&sql_pos(id)]).await.map_err(pg)?;
    row.as_ref().map(held_row).transpose()
}

/// The card's name for the queue, as SQLite's `json_extract(fields, '$.basic.name')` read
/// as text gives it: a JSON string's value, an object's or array's JSON text (jsonb's
/// normalised spelling, where SQLite keeps the stored one), nothing for numbers, booleans
/// and null. Malformed JSON fails the query on both backends.
const CARD_NAME: &str = "CASE WHEN jsonb_typeof(p.fields::jsonb #> '{basic,name}') \
     IN ('string', 'object', 'array') THEN p.fields::jsonb #>> '{basic,name}' END";

pub(super) async fn review_items(
    c: &impl GenericClient,
    f: &ReviewFilter,
) -> Result<(Vec<ReviewItem>, u64)> {
    let mut clauses: Vec<String> = vec!["TRUE".into()];
    let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
    let status = f.status.map(ReviewStatus::as_str);
    if let Some(status) = &status {
        args.push(status);
        clauses.push(format!("h.status = ${}", args.len()));
    }
    if let Some(territories) = &f.territories {
        if territories.is_empty() {
            return Ok((Vec::new(), 0));
        }
        args.push(territories);
        // A held change of a card the log has no row of has no territory: never matched,
        // as SQLite's `NULL IN (…)`.
        clauses.push(format!("c.territory = ANY(${})", args.len()));
    }
    let from = format!(
        "FROM held_changes h LEFT JOIN cards c ON c.card_id = h.card_id \
         LEFT JOIN projections p ON p.card_id = h.card_id \
         LEFT JOIN devices d ON d.id = h.device_id WHERE {}",
        clauses.join(" AND ")
    );
    // Two statements, each its own snapshot (as on SQLite outside a transaction): the
    // total may count an item the page does not show, or the other way round.
    let total: i64 = c
        .query_one(
            &c.prepare_cached(&format!("SELECT count(*) {from}"))
                .await
                .map_err(pg)?,
            &args,
        )
        .await
        .map_err(pg)?
        .try_get(0)
        .map_err(pg)?;
    let limit = sql_pos(f.limit);
    let offset = sql_pos(f.offset);
    let mut page_args = args.clone();
    page_args.push(&limit);
    page_args.push(&offset);
    let sql = format!(
        "SELECT h.id, h.card_id, {CARD_NAME}, c.territory, \
         h.device_id, d.name, h.person_id, h.received_at, h.changes, octet_length(h.bytes), \
         h.status, h.decided_by, h.decided_at, h.note {from} ORDER BY h.id DESC \
         LIMIT ${} OFFSET ${}",
        page_args.len() - 1,
        page_args.len()
    );
    let rows = c
        .query(&c.prepare_cached(&sql).await.map_err(pg)?, &page_args)
        .await
        .map_err(pg)?;
    let items = rows
        .iter()
        .map(|r| {
            let status: String = r.try_get(10).map_err(pg)?;
            let bytes: i32 = r.try_get(9).map_err(pg)?;
            Ok(ReviewItem {
                id: pos(r.try_get(0).map_err(pg)?),
                card_id: r.try_get(1).map_err(pg)?,
                card_name: r.try_get(2).map_err(pg)?,
                territory: r.try_get(3).map_err(pg)?,
                device_id: r.try_get(4).map_err(pg)?,
                device_name: r.try_get(5).map_err(pg)?,
                person_id: r.try_get(6).map_err(pg)?,
                received_at: r.try_get(7).map_err(pg)?,
                changes: change_count(r.try_get(8).map_err(pg)?)?,
                bytes: u64::try_from(bytes).unwrap_or(0),
                status: parse_status(&status)?,
                decided_by: r.try_get(11).map_err(pg)?,
                decided_at: r.try_get(12).map_err(pg)?,
                note: r.try_get(13).map_err(pg)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((items, pos(total)))
}

pub(super) async fn decide_review(
    tx: &Transaction<'_>,
    d: &ReviewDecision,
    commit: Option<&CardCommit>,
) -> Result<Option<CommitOutcome>> {
    if d.status == ReviewStatus::Pending {
        return Err(Error::Invalid("a decision accepts or discards".into()));
    }
    let id = sql_pos(d.id);
    // Locked to commit: a concurrent decision on another instance waits here, then reads
    // the status this one writes and answers `ReviewDecided` (see the module docs).
    let status: Option<String> = tx
        .query_opt(
            &tx.prepare_cached("SELECT status FROM held_changes WHERE id = $1 FOR UPDATE")
                .await
                .map_err(pg)?,
            &[&id],
        )
        .await
        .map_err(pg)?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(pg)?;
    match status.as_deref() {
        None => return Err(Error::NotFound("review item")),
        Some("pending") => {}
        Some(_) => return Err(Error::ReviewDecided),
    }
    let outcome = match commit {
        Some(commit) => Some(super::cards::commit_one(tx, commit).await?),
        None => None,
    };
    tx.execute(
        &tx.prepare_cached(
            "UPDATE held_changes SET status = $1, decided_by = $2, decided_at = $3, note = $4 \
             WHERE id = $5",
        )
        .await
        .map_err(pg)?,
        &[&d.status.as_str(), &d.decided_by, &d.at, &d.note, &id],
    )
    .await
    .map_err(pg)?;
    Ok(outcome)
}

pub(super) async fn fallback_state(
    c: &impl GenericClient,
    device_id: &str,
    card_id: &str,
) -> Result<Option<Vec<u8>>> {
    let stmt = c
        .prepare_cached("SELECT state FROM fallback_states WHERE device_id = $1 AND card_id = $2")
        .await
        .map_err(pg)?;
    c.query_opt(&stmt, &[&device_id, &card_id])
        .await
        .map_err(pg)?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(pg)
}

pub(super) async fn save_fallback_state(
    tx: &Transaction<'_>,
    device_id: &str,
    card_id: &str,
    state: &[u8],
) -> Result<()> {
    tx.execute(
        &tx.prepare_cached(
            "INSERT INTO fallback_states (device_id, card_id, state) VALUES ($1, $2, $3) \
             ON CONFLICT (device_id, card_id) DO UPDATE SET state = excluded.state",
        )
        .await
        .map_err(pg)?,
        &[&device_id, &card_id, &state],
    )
    .await
    .map_err(pg)?;
    Ok(())
}
