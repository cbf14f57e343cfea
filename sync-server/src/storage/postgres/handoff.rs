//! Territory handoff: the assignment history (whole territories and single cards moved),
//! the handoff and card-move transactions with their expected-owner check, the actors the
//! server authors moves with, deactivated people, and the log's late edits; as
//! `sqlite/handoff.rs`.
//!
//! SQLite checks the expected owner inside its single writer's transaction. Under
//! `READ COMMITTED` with several instances a plain read would let two concurrent
//! handoffs of one territory both see the owner they expect, so the checked rows are
//! locked until commit: the territories `FOR NO KEY UPDATE` (what the owner's `UPDATE`
//! takes anyway), the receiving rep's `people` row `FOR SHARE` (a concurrent
//! deactivation waits, or is seen), each moved card's row `FOR UPDATE` (as the card write
//! itself locks it). A transaction that waited re-reads the row as committed, so of two
//! concurrent handoffs exactly one still sees the owner it expected, as on SQLite.

use std::collections::HashMap;

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{GenericClient, Transaction, cards, pg, pos, sql_pos};
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

pub(super) async fn record_assignment(tx: &Transaction<'_>, a: &NewAssignment<'_>) -> Result<()> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO assignments (territory, card_id, from_territory, from_person, \
             to_person, decided_by, reason, at, position) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .await
        .map_err(pg)?;
    tx.execute(
        &stmt,
        &[
            &a.territory,
            &a.card_id,
            &a.from_territory,
            &a.from,
            &a.to,
            &a.decided_by,
            &a.reason,
            &a.at,
            &sql_pos(a.position),
        ],
    )
    .await
    .map_err(pg)?;
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
/// a deactivated rep get the same answer). The row stays share-locked to commit, so the
/// rep cannot be deactivated between this check and the handoff's commit.
async fn require_active_rep(tx: &Transaction<'_>, person: &str) -> Result<()> {
    let row = tx
        .query_opt(
            &tx.prepare_cached("SELECT kind, active FROM people WHERE id = $1 FOR SHARE")
                .await
                .map_err(pg)?,
            &[&person],
        )
        .await
        .map_err(pg)?;
    let Some(row) = row else {
        return Err(Error::UnknownRep);
    };
    let kind: String = row.try_get(0).map_err(pg)?;
    let active: bool = row.try_get(1).map_err(pg)?;
    if active && kind == "rep" {
        Ok(())
    } else {
        Err(Error::UnknownRep)
    }
}

/// The owners of `territories` (absent: no such territory; `None`: unowned), their rows
/// locked to commit (see the module docs). Locked in id order, so two transactions
/// locking the same pair of territories cannot deadlock.
async fn lock_owners(
    tx: &Transaction<'_>,
    territories: &[&str],
) -> Result<HashMap<String, Option<String>>> {
    let stmt = tx
        .prepare_cached(
            "SELECT id, owner FROM territories WHERE id = ANY($1) ORDER BY id \
             FOR NO KEY UPDATE",
        )
        .await
        .map_err(pg)?;
    let rows = tx.query(&stmt, &[&territories]).await.map_err(pg)?;
    rows.iter()
        .map(|r| Ok((r.try_get(0).map_err(pg)?, r.try_get(1).map_err(pg)?)))
        .collect()
}

/// The territory's owner must be `expected`; a missing territory is `admin.not_found`.
fn require_owner(
    owners: &HashMap<String, Option<String>>,
    territory: &str,
    expected: &str,
) -> Result<()> {
    match owners.get(territory) {
        None => Err(Error::NotFound("territory")),
        Some(owner) if owner.as_deref() == Some(expected) => Ok(()),
        Some(_) => Err(Error::HandoffConflict),
    }
}

pub(super) async fn hand_off_territory(
    tx: &Transaction<'_>,
    h: &TerritoryHandoff,
) -> Result<Assignment> {
    require_active_rep(tx, &h.to).await?;
    let owners = lock_owners(tx, &[h.territory.as_str()]).await?;
    require_owner(&owners, &h.territory, &h.from)?;
    if h.from == h.to {
        return Err(Error::Invalid(
            "a territory is handed to another rep".into(),
        ));
    }
    let position = super::people::move_owner(tx, &h.territory, Some(&h.from), &h.to, h.at).await?;
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
    record_assignment(tx, &a).await?;
    Ok(assignment_of(&a))
}

pub(super) async fn move_cards(tx: &Transaction<'_>, m: &CardMoves) -> Result<Vec<Assignment>> {
    require_active_rep(tx, &m.to).await?;
    // Both territories locked at once (in id order), then checked in SQLite's order so the
    // same request gets the same error.
    let owners = lock_owners(tx, &[m.territory.as_str(), m.target_territory.as_str()]).await?;
    require_owner(&owners, &m.territory, &m.from)?;
    if m.territory == m.target_territory {
        return Err(Error::Invalid("cards move into another territory".into()));
    }
    match owners.get(&m.target_territory) {
        None => return Err(Error::NotFound("territory")),
        Some(owner) if owner.as_deref() == Some(m.to.as_str()) => {}
        Some(_) => {
            return Err(Error::Invalid(
                "the target territory is not held by the receiving rep".into(),
            ));
        }
    }
    // SQLite's `INSERT OR IGNORE`: an actor already recorded stays as it is.
    tx.execute(
        &tx.prepare_cached(
            "INSERT INTO server_actors (actor, person_id) VALUES ($1, $2) \
             ON CONFLICT (actor) DO NOTHING",
        )
        .await
        .map_err(pg)?,
        &[&m.server_actor, &m.decided_by],
    )
    .await
    .map_err(pg)?;
    // Locked as the card write locks it (a no-op for it then): a concurrent write cannot
    // move the card to another territory between this check and the move.
    let territory_of = tx
        .prepare_cached("SELECT territory FROM cards WHERE card_id = $1 FOR UPDATE")
        .await
        .map_err(pg)?;
    let mut out = Vec::with_capacity(m.commits.len());
    for commit in &m.commits {
        let territory: Option<String> = tx
            .query_opt(&territory_of, &[&commit.card_id])
            .await
            .map_err(pg)?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(pg)?;
        if territory.as_deref() != Some(m.territory.as_str())
            || commit.territory != m.target_territory
        {
            return Err(Error::HandoffConflict);
        }
        let outcome = cards::commit_one(tx, commit).await?;
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
        record_assignment(tx, &a).await?;
        out.push(assignment_of(&a));
    }
    Ok(out)
}

const ASSIGNMENT_COLUMNS: &str = "territory, card_id, from_territory, from_person, to_person, \
     decided_by, reason, at, position";

fn assignment_row(r: &Row) -> Result<Assignment> {
    Ok(Assignment {
        territory: r.try_get(0).map_err(pg)?,
        card_id: r.try_get(1).map_err(pg)?,
        from_territory: r.try_get(2).map_err(pg)?,
        from: r.try_get(3).map_err(pg)?,
        to: r.try_get(4).map_err(pg)?,
        decided_by: r.try_get(5).map_err(pg)?,
        reason: r.try_get(6).map_err(pg)?,
        at: r.try_get(7).map_err(pg)?,
        until: None,
        position: pos(r.try_get(8).map_err(pg)?),
    })
}

async fn query_assignments(
    c: &impl GenericClient,
    sql_where: &str,
    args: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Assignment>> {
    let sql = format!(
        "SELECT {ASSIGNMENT_COLUMNS} FROM assignments WHERE {sql_where} ORDER BY position, id"
    );
    let stmt = c.prepare_cached(&sql).await.map_err(pg)?;
    let rows = c.query(&stmt, args).await.map_err(pg)?;
    rows.iter().map(assignment_row).collect()
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

pub(super) async fn assignment_history(
    c: &impl GenericClient,
    territory: &str,
) -> Result<Vec<Assignment>> {
    let mut rows =
        query_assignments(c, "territory = $1 OR from_territory = $1", &[&territory]).await?;
    fill_until(&mut rows);
    Ok(rows)
}

pub(super) async fn card_assignments(
    c: &impl GenericClient,
    card_id: &str,
) -> Result<Vec<Assignment>> {
    let moves = query_assignments(c, "card_id = $1", &[&card_id]).await?;
    // The territories the card was in, each over a range of positions.
    let mut segments: Vec<(String, u64, u64)> = Vec::new();
    match moves.first() {
        None => {
            let current: Option<String> = c
                .query_opt(
                    &c.prepare_cached("SELECT territory FROM cards WHERE card_id = $1")
                        .await
                        .map_err(pg)?,
                    &[&card_id],
                )
                .await
                .map_err(pg)?
                .map(|r| r.try_get(0))
                .transpose()
                .map_err(pg)?;
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
        let (lo, hi) = (sql_pos(*lo), sql_pos(*hi));
        let whole = query_assignments(
            c,
            "card_id IS NULL AND territory = $1 AND position > $2 AND position < $3",
            &[territory, &lo, &hi],
        )
        .await?;
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

pub(super) async fn card_moves_after(
    c: &impl GenericClient,
    after: u64,
    upto: u64,
) -> Result<Vec<CardMove>> {
    let stmt = c
        .prepare_cached(
            "SELECT position, card_id, from_territory, territory FROM assignments \
             WHERE card_id IS NOT NULL AND position > $1 AND position <= $2 ORDER BY position",
        )
        .await
        .map_err(pg)?;
    let rows = c
        .query(&stmt, &[&sql_pos(after), &sql_pos(upto)])
        .await
        .map_err(pg)?;
    rows.iter()
        .map(|r| {
            Ok(CardMove {
                position: pos(r.try_get(0).map_err(pg)?),
                card_id: r.try_get(1).map_err(pg)?,
                from_territory: r
                    .try_get::<_, Option<String>>(2)
                    .map_err(pg)?
                    .unwrap_or_default(),
                to_territory: r.try_get(3).map_err(pg)?,
            })
        })
        .collect()
}

pub(super) async fn card_lost_at(
    c: &impl GenericClient,
    person: &str,
    card_id: &str,
) -> Result<Option<i64>> {
    let stmt = c
        .prepare_cached(
            "SELECT at FROM assignments WHERE card_id = $1 AND from_person = $2 \
             ORDER BY position DESC LIMIT 1",
        )
        .await
        .map_err(pg)?;
    c.query_opt(&stmt, &[&card_id, &person])
        .await
        .map_err(pg)?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(pg)
}

pub(super) async fn server_actors(c: &impl GenericClient) -> Result<Vec<ServerActor>> {
    // BYTEA sorts byte by byte, as SQLite's BLOB.
    let stmt = c
        .prepare_cached("SELECT actor, person_id FROM server_actors ORDER BY actor")
        .await
        .map_err(pg)?;
    let rows = c.query(&stmt, &[]).await.map_err(pg)?;
    rows.iter()
        .map(|r| {
            Ok(ServerActor {
                actor: r.try_get(0).map_err(pg)?,
                person_id: r.try_get(1).map_err(pg)?,
            })
        })
        .collect()
}

pub(super) async fn set_person_active(
    tx: &Transaction<'_>,
    person: &str,
    active: bool,
) -> Result<()> {
    let n = tx
        .execute(
            &tx.prepare_cached("UPDATE people SET active = $1 WHERE id = $2")
                .await
                .map_err(pg)?,
            &[&active, &person],
        )
        .await
        .map_err(pg)?;
    if n == 0 {
        return Err(Error::NotFound("person"));
    }
    Ok(())
}

pub(super) async fn late_edits(c: &impl GenericClient, card_id: &str) -> Result<Vec<LateEdit>> {
    let stmt = c
        .prepare_cached(
            "SELECT position, hash, device_id, received_at FROM change_log \
             WHERE card_id = $1 AND late ORDER BY position",
        )
        .await
        .map_err(pg)?;
    let rows = c.query(&stmt, &[&card_id]).await.map_err(pg)?;
    rows.iter()
        .map(|r| {
            Ok(LateEdit {
                position: pos(r.try_get(0).map_err(pg)?),
                hash: hex::encode(r.try_get::<_, Vec<u8>>(1).map_err(pg)?),
                device_id: r.try_get(2).map_err(pg)?,
                received_at: r.try_get(3).map_err(pg)?,
            })
        })
        .collect()
}
