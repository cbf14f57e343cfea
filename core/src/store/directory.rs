//! What the server tells the device about people and devices, kept for history and the
//! handover dossier.
//!
//! - The actor directory (`actor_directory`): each Automerge actor of the changes a sync
//!   delivered, with the name its device was enrolled with (演示手机), its person and
//!   role. History entries are named from it; an actor it does not know keeps its hex.
//! - Assignment records (`card_assignments`): who held a card's territory (or the card)
//!   from when, who decided and why.
//!
//! Both come from [`SyncResponse`](crate::sync::wire::SyncResponse) fields and are written
//! in the response's transaction.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

use super::Store;
use crate::error::Result;
use crate::history::HistoryEntry;
use crate::sync::wire::{ActorInfo, AssignmentRecord};

/// One assignment of a territory (or of one card of it) to a rep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assignment {
    /// The territory.
    pub territory: String,
    /// The card, when one card moved; `None` when the whole territory did.
    pub card_id: Option<String>,
    /// The previous holder, if any.
    pub from: Option<String>,
    /// The new holder.
    pub to: String,
    /// Who decided.
    pub decided_by: String,
    /// Why.
    pub reason: String,
    /// When (server time).
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Who a device is, as the directory knows it.
struct Known {
    device_name: String,
    person_name: String,
    role: String,
}

impl Store {
    pub(super) fn record_directory(tx: &Transaction<'_>, actors: &[ActorInfo]) -> Result<()> {
        let mut stmt = tx.prepare_cached(
            "INSERT OR REPLACE INTO actor_directory (actor, device_name, person_id, person_name, role)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for a in actors {
            stmt.execute(params![
                a.actor,
                a.device_name,
                a.person_id,
                a.person_name,
                a.role
            ])?;
        }
        Ok(())
    }

    pub(super) fn record_assignments(
        tx: &Transaction<'_>,
        records: &[AssignmentRecord],
    ) -> Result<()> {
        let mut stmt = tx.prepare_cached(
            "INSERT OR REPLACE INTO card_assignments
             (territory, card_id, from_person, to_person, decided_by, reason, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for a in records {
            stmt.execute(params![
                a.territory,
                a.card_id.as_deref().unwrap_or(""),
                a.from,
                a.to,
                a.decided_by,
                a.reason,
                a.at
            ])?;
        }
        Ok(())
    }

    /// Names the devices of history entries from the directory.
    pub(super) fn name_devices(conn: &Connection, entries: &mut [&mut HistoryEntry]) -> Result<()> {
        let mut known: HashMap<String, Option<Known>> = HashMap::new();
        let mut stmt = conn.prepare_cached(
            "SELECT device_name, person_name, role FROM actor_directory WHERE actor = ?1",
        )?;
        for e in entries.iter_mut() {
            if !known.contains_key(&e.device) {
                let who = match hex::decode(&e.device) {
                    Ok(actor) => stmt
                        .query_row([actor], |r| {
                            Ok(Known {
                                device_name: r.get(0)?,
                                person_name: r.get(1)?,
                                role: r.get(2)?,
                            })
                        })
                        .optional()?,
                    Err(_) => None,
                };
                known.insert(e.device.clone(), who);
            }
            if let Some(Some(k)) = known.get(&e.device) {
                e.device_name = Some(k.device_name.clone());
                e.device_role = Some(k.role.clone());
                e.person_name = Some(k.person_name.clone());
            }
        }
        Ok(())
    }

    /// The assignment history of a card: the records of the card itself and of every
    /// territory it was in, oldest first.
    pub(super) fn assignments_of(
        conn: &Connection,
        card_id: &str,
        territories: &[String],
    ) -> Result<Vec<Assignment>> {
        let mut stmt = conn.prepare_cached(
            "SELECT territory, card_id, from_person, to_person, decided_by, reason, at
             FROM card_assignments WHERE card_id = ?1 OR card_id = ''
             ORDER BY at, territory, card_id",
        )?;
        let rows = stmt
            .query_map([card_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter(|(territory, card, ..)| {
                card == card_id || (card.is_empty() && territories.contains(territory))
            })
            .map(
                |(territory, card, from, to, decided_by, reason, at)| Assignment {
                    territory,
                    card_id: (!card.is_empty()).then_some(card),
                    from,
                    to,
                    decided_by,
                    reason,
                    at: chrono::DateTime::from_timestamp(at, 0).unwrap_or_default(),
                },
            )
            .collect())
    }
}
