//! Changes held past the handoff grace period, and the per-device fallback sync states.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::error::Result;
use crate::storage::HeldChanges;

pub(super) fn hold_changes(tx: &Transaction<'_>, held: &HeldChanges) -> Result<()> {
    tx.execute(
        "INSERT INTO held_changes (card_id, device_id, person_id, bytes, received_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            held.card_id,
            held.device_id,
            held.person_id,
            held.bytes,
            held.received_at
        ],
    )?;
    Ok(())
}

pub(super) fn held_changes(c: &Connection, card_id: &str) -> Result<Vec<HeldChanges>> {
    let mut stmt = c.prepare(
        "SELECT card_id, device_id, person_id, bytes, received_at FROM held_changes \
         WHERE card_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([card_id], |r| {
            Ok(HeldChanges {
                card_id: r.get(0)?,
                device_id: r.get(1)?,
                person_id: r.get(2)?,
                bytes: r.get(3)?,
                received_at: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
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
