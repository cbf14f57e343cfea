//! Territory handoff: the assignment history (whole territories and single cards moved),
//! the handoff and card-move transactions with their expected-owner check, the actors the
//! server authors moves with, deactivated people, and the log's late edits.
//!
//! The expected owner is checked inside the write transaction (SQLite has one writer), so
//! of two concurrent handoffs of one territory exactly one sees the owner it expected.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::people::{move_owner, territory_owner};
use super::{cards, pos, sql_pos};
use crate::error::{Error, Result};
use crate::storage::{Assignment, CardMove, CardMoves, LateEdit, ServerActor, TerritoryHandoff};

/// An assignment to record.
pub(super) struct NewAssignment<'a> {
    pub territory: &'a str,
    pub card_id: Option<&'a str>,
    pub from_territory: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: &'a str,
    pub decided_by: &'a str,
    pub reason: &'a str,
    pub at: i64,
    pub position: u64,
}

pub(super) fn record_assignment(tx: &Transaction<'_>, a: &NewAssignment<'_>) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO assignments (territory, card_id, from_territory, from_person, to_person, \
         decided_by, reason, at, position) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        a.territory,
        a.card_id,
        a.from_territory,
        a.from,
        a.to,
        a.decided_by,
        a.reason,
        a.at,
        sql_pos(a.position)
    ])?;
    Ok(())
}

fn assignment_of(a: &NewAssignment<'_>) -> Assignment {
    Assignment {
        territory: a.territory.to_owned(),
        card_id: a.card_id.map(str::to_owned),
        from_territory: a.from_territory.map(str::to_owned),
        from: a.from.map(str::to_owned),
        to: a.to.to_owned(),
        decided_by: a.decided_by.to_owned(),
        reason: a.reason.to_owned(),
        at: a.at,
        until: None,
        position: a.position,
    }
}

/// Refuses anyone but an active rep with [`Error::UnknownRep`] (an unknown id, a manager and
/// a deactivated rep get the same answer).
fn require_active_rep(tx: &Transaction<'_>, person: &str) -> Result<()> {
    let row: Option<(String, bool)> = tx
        .query_row(
            "SELECT kind, active FROM people WHERE id = ?1",
            [person],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        Some((kind, true)) if kind == "rep" => Ok(()),
        _ => Err(Error::UnknownRep),
    }
}

/// The territory's owner must be `expected`; a missing territory is `admin.not_found`.
fn require_owner(tx: &Transaction<'_>, territory: &str, expected: &str) -> Result<()> {
    match territory_owner(tx, territory)? {
        None => Err(Error::NotFound("territory")),
        Some(owner) if owner.as_deref() == Some(expected) => Ok(()),
        Some(_) => Err(Error::HandoffConflict),
    }
}

pub(super) fn hand_off_territory(tx: &Transaction<'_>, h: &TerritoryHandoff) -> Result<Assignment> {
    require_active_rep(tx, &h.to)?;
    require_owner(tx, &h.territory, &h.from)?;
    if h.from == h.to {
        return Err(Error::Invalid(
            "a territory is handed to another rep".into(),
        ));
    }
    let position = move_owner(tx, &h.territory, Some(&h.from), &h.to, h.at)?;
    let a = NewAssignment {
        territory: &h.territory,
        card_id: None,
        from_territory: None,
        from: Some(&h.from),
        to: &h.to,
        decided_by: &h.decided_by,
        reason: &h.reason,
        at: h.at,
        position,
    };
    record_assignment(tx, &a)?;
    Ok(assignment_of(&a))
}

pub(super) fn move_cards(tx: &Transaction<'_>, m: &CardMoves) -> Result<Vec<Assignment>> {
    require_active_rep(tx, &m.to)?;
    require_owner(tx, &m.territory, &m.from)?;
    if m.territory == m.target_territory {
        return Err(Error::Invalid("cards move into another territory".into()));
    }
    match territory_owner(tx, &m.target_territory)? {
        None => return Err(Error::NotFound("territory")),
        Some(owner) if owner.as_deref() == Some(m.to.as_str()) => {}
        Some(_) => {
            return Err(Error::Invalid(
                "the target territory is not held by the receiving rep".into(),
            ));
        }
    }
    tx.execute(
        "INSERT OR IGNORE INTO server_actors (actor, person_id) VALUES (?1, ?2)",
        params![m.server_actor, m.decided_by],
    )?;
    let mut out = Vec::with_capacity(m.commits.len());
    for commit in &m.commits {
        let territory: Option<String> = tx
            .query_row(
                "SELECT territory FROM cards WHERE card_id = ?1",
                [&commit.card_id],
                |r| r.get(0),
            )
            .optional()?;
        if territory.as_deref() != Some(m.territory.as_str())
            || commit.territory != m.target_territory
        {
            return Err(Error::HandoffConflict);
        }
        let outcome = cards::commit_one(tx, commit)?;
        let a = NewAssignment {
            territory: &m.target_territory,
            card_id: Some(&commit.card_id),
            from_territory: Some(&m.territory),
            from: Some(&m.from),
            to: &m.to,
            decided_by: &m.decided_by,
            reason: &m.reason,
            at: m.at,
            position: outcome.last_position,
        };
        record_assignment(tx, &a)?;
        out.push(assignment_of(&a));
    }
    Ok(out)
}

const ASSIGNMENT_COLUMNS: &str = "territory, card_id, from_territory, from_person, to_person, \
     decided_by, reason, at, position";

fn assignment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Assignment> {
    Ok(Assignment {
        territory: r.get(0)?,
        card_id: r.get(1)?,
        from_territory: r.get(2)?,
        from: r.get(3)?,
        to: r.get(4)?,
        decided_by: r.get(5)?,
        reason: r.get(6)?,
        at: r.get(7)?,
        until: None,
        position: pos(r.get(8)?),
    })
}

fn query_assignments(
    c: &Connection,
    sql_where: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<Assignment>> {
    let sql = format!(
        "SELECT {ASSIGNMENT_COLUMNS} FROM assignments WHERE {sql_where} ORDER BY position, id"
    );
    let mut stmt = c.prepare(&sql)?;
    let rows = stmt
        .query_map(args, assignment_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Fills `until`: a whole-territory entry ends at the territory's next handoff, a card's
/// entry at the card's next move or the next handoff of the territory it is in.
fn fill_until(rows: &mut [Assignment]) {
    for i in 0..rows.len() {
        let (head, tail) = rows.split_at_mut(i + 1);
        let Some(row) = head.last_mut() else { continue };
        row.until = tail
            .iter()
            .find(|next| match (&row.card_id, &next.card_id) {
                (None, None) => next.territory == row.territory,
                (Some(card), Some(other)) => card == other,
                (Some(_), None) => next.territory == row.territory,
                (None, Some(_)) => false,
            })
            .map(|next| next.at);
    }
}

pub(super) fn assignment_history(c: &Connection, territory: &str) -> Result<Vec<Assignment>> {
    let mut rows = query_assignments(c, "territory = ?1 OR from_territory = ?1", [territory])?;
    fill_until(&mut rows);
    Ok(rows)
}

pub(super) fn card_assignments(c: &Connection, card_id: &str) -> Result<Vec<Assignment>> {
    let moves = query_assignments(c, "card_id = ?1", [card_id])?;
    // The territories the card was in, each over a range of positions.
    let mut segments: Vec<(String, u64, u64)> = Vec::new();
    match moves.first() {
        None => {
            let current: Option<String> = c
                .query_row(
                    "SELECT territory FROM cards WHERE card_id = ?1",
                    [card_id],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(territory) = current else {
                return Ok(Vec::new());
            };
            segments.push((territory, 0, u64::MAX));
        }
        Some(first) => {
            if let Some(t) = &first.from_territory {
                segments.push((t.clone(), 0, first.position));
            }
            for (i, m) in moves.iter().enumerate() {
                let end = moves.get(i + 1).map_or(u64::MAX, |n| n.position);
                segments.push((m.territory.clone(), m.position, end));
            }
        }
    }
    let mut rows = moves.clone();
    for (territory, lo, hi) in &segments {
        let whole = query_assignments(
            c,
            "card_id IS NULL AND territory = ?1 AND position > ?2 AND position < ?3",
            params![territory, sql_pos(*lo), sql_pos(*hi)],
        )?;
        rows.extend(whole);
    }
    rows.sort_by_key(|a| a.position);
    // Within the card's own history every entry ends where the next one starts.
    for i in 0..rows.len() {
        let next_at = rows.get(i + 1).map(|n| n.at);
        if let Some(row) = rows.get_mut(i) {
            row.until = next_at;
        }
    }
    Ok(rows)
}

pub(super) fn card_moves_after(c: &Connection, after: u64, upto: u64) -> Result<Vec<CardMove>> {
    let mut stmt = c.prepare_cached(
        "SELECT position, card_id, from_territory, territory FROM assignments \
         WHERE card_id IS NOT NULL AND position > ?1 AND position <= ?2 ORDER BY position",
    )?;
    let rows = stmt
        .query_map(params![sql_pos(after), sql_pos(upto)], |r| {
            Ok(CardMove {
                position: pos(r.get(0)?),
                card_id: r.get(1)?,
                from_territory: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                to_territory: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(super) fn card_lost_at(c: &Connection, person: &str, card_id: &str) -> Result<Option<i64>> {
    Ok(c.query_row(
        "SELECT at FROM assignments WHERE card_id = ?1 AND from_person = ?2 \
         ORDER BY position DESC LIMIT 1",
        [card_id, person],
        |r| r.get(0),
    )
    .optional()?)
}

pub(super) fn server_actors(c: &Connection) -> Result<Vec<ServerActor>> {
    let mut stmt = c.prepare("SELECT actor, person_id FROM server_actors ORDER BY actor")?;
    let rows = stmt
        .query_map([], |r| {
            Ok(ServerActor {
                actor: r.get(0)?,
                person_id: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(super) fn set_person_active(tx: &Transaction<'_>, person: &str, active: bool) -> Result<()> {
    let n = tx.execute(
        "UPDATE people SET active = ?1 WHERE id = ?2",
        params![active, person],
    )?;
    if n == 0 {
        return Err(Error::NotFound("person"));
    }
    Ok(())
}

pub(super) fn late_edits(c: &Connection, card_id: &str) -> Result<Vec<LateEdit>> {
    let mut stmt = c.prepare_cached(
        "SELECT position, hash, device_id, received_at FROM change_log \
         WHERE card_id = ?1 AND late = 1 ORDER BY position",
    )?;
    let rows = stmt
        .query_map([card_id], |r| {
            Ok(LateEdit {
                position: pos(r.get(0)?),
                hash: hex::encode(r.get::<_, Vec<u8>>(1)?),
                device_id: r.get(2)?,
                received_at: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}
