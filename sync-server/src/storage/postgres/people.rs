//! People, territories and scope events: who holds or manages which territory, and the
//! positions at which a person's scope changed (they share the log's position sequence);
//! as `sqlite/people.rs`.
//!
//! SQLite's single writer made assigning a territory's owner a safe read-then-write. With
//! several instances under `READ COMMITTED`, two concurrent assignments of one territory
//! would both read the old owner and both write its loss, so the checked rows are locked
//! until commit, in the order `handoff.rs` takes them (the rep's `people` row `FOR SHARE`,
//! then the territory `FOR NO KEY UPDATE`): a transaction that waited re-reads the row as
//! committed and acts on the new owner, as the second writer on SQLite would.

use tokio_postgres::Row;

use super::cards::next_position;
use super::{GenericClient, Transaction, pg, pos, sql_pos};
use crate::error::{Error, Result};
use crate::storage::{Person, PersonKind, Role, ScopeEvent, Territory};

async fn scope_event(
    tx: &Transaction<'_>,
    territory: &str,
    person: &str,
    gained: bool,
    at: i64,
) -> Result<u64> {
    let p = next_position(tx).await?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO scope_events (position, territory_id, person_id, gained, at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .await
        .map_err(pg)?;
    tx.execute(&stmt, &[&sql_pos(p), &territory, &person, &gained, &at])
        .await
        .map_err(pg)?;
    Ok(p)
}

fn territory_row(r: &Row) -> Result<Territory> {
    Ok(Territory {
        id: r.try_get(0).map_err(pg)?,
        name: r.try_get(1).map_err(pg)?,
        owner: r.try_get(2).map_err(pg)?,
        manager: r.try_get(3).map_err(pg)?,
    })
}

fn person_row(r: &Row) -> Result<Person> {
    let kind: String = r.try_get(2).map_err(pg)?;
    Ok(Person {
        id: r.try_get(0).map_err(pg)?,
        name: r.try_get(1).map_err(pg)?,
        kind: PersonKind::parse(&kind)?,
        active: r.try_get(3).map_err(pg)?,
    })
}

pub(super) async fn add_person(tx: &Transaction<'_>, person: &Person) -> Result<()> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO people (id, name, kind, active) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .await
        .map_err(pg)?;
    // A concurrent insert of the same id waits for the other transaction and then does
    // nothing: the loser sees 0 rows, as on SQLite.
    let n = tx
        .execute(
            &stmt,
            &[
                &person.id,
                &person.name,
                &person.kind.as_str(),
                &person.active,
            ],
        )
        .await
        .map_err(pg)?;
    if n == 0 {
        return Err(Error::AlreadyExists("person"));
    }
    Ok(())
}

pub(super) async fn person(c: &impl GenericClient, id: &str) -> Result<Option<Person>> {
    let stmt = c
        .prepare_cached("SELECT id, name, kind, active FROM people WHERE id = $1")
        .await
        .map_err(pg)?;
    c.query_opt(&stmt, &[&id])
        .await
        .map_err(pg)?
        .as_ref()
        .map(person_row)
        .transpose()
}

pub(super) async fn people(c: &impl GenericClient) -> Result<Vec<Person>> {
    let stmt = c
        .prepare_cached("SELECT id, name, kind, active FROM people ORDER BY id")
        .await
        .map_err(pg)?;
    c.query(&stmt, &[])
        .await
        .map_err(pg)?
        .iter()
        .map(person_row)
        .collect()
}

pub(super) async fn add_territory(
    tx: &Transaction<'_>,
    id: &str,
    name: &str,
    manager: Option<&str>,
) -> Result<()> {
    if let Some(m) = manager {
        // A person's kind never changes and people are never deleted (the foreign key
        // keeps them anyway), so this check needs no lock.
        let stmt = tx
            .prepare_cached("SELECT kind FROM people WHERE id = $1")
            .await
            .map_err(pg)?;
        let kind: Option<String> = tx
            .query_opt(&stmt, &[&m])
            .await
            .map_err(pg)?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(pg)?;
        match kind.as_deref() {
            Some("manager") => {}
            Some(_) => return Err(Error::Invalid("that person is not a manager".into())),
            None => return Err(Error::NotFound("manager")),
        }
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO territories (id, name, owner, manager) VALUES ($1, $2, NULL, $3) \
             ON CONFLICT DO NOTHING",
        )
        .await
        .map_err(pg)?;
    let n = tx
        .execute(&stmt, &[&id, &name, &manager])
        .await
        .map_err(pg)?;
    if n == 0 {
        return Err(Error::AlreadyExists("territory"));
    }
    if let Some(m) = manager {
        scope_event(tx, id, m, true, 0).await?;
    }
    Ok(())
}

pub(super) async fn assign_territory(
    tx: &Transaction<'_>,
    territory_id: &str,
    rep_id: &str,
    now: i64,
) -> Result<u64> {
    // Share-locked to commit: a concurrent deactivation of the rep waits for this
    // assignment (or is seen by it), as the single writer ordered them on SQLite.
    let stmt = tx
        .prepare_cached("SELECT kind, active FROM people WHERE id = $1 FOR SHARE")
        .await
        .map_err(pg)?;
    let kind: Option<(String, bool)> = tx
        .query_opt(&stmt, &[&rep_id])
        .await
        .map_err(pg)?
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .transpose()
        .map_err(pg)?;
    match kind {
        Some((k, true)) if k == "rep" => {}
        Some((k, false)) if k == "rep" => return Err(Error::UnknownRep),
        Some(_) => return Err(Error::Invalid("that person is not a rep".into())),
        None => return Err(Error::NotFound("rep")),
    }
    let Some(owner) = territory_owner(tx, territory_id).await? else {
        return Err(Error::NotFound("territory"));
    };
    if owner.as_deref() == Some(rep_id) {
        // Nothing changes: the head as committed (a transaction holding a position has
        // `meta` locked, so the committed head never runs ahead of a visible position).
        let stmt = tx
            .prepare_cached("SELECT head FROM meta WHERE id = 1")
            .await
            .map_err(pg)?;
        let head: i64 = tx
            .query_one(&stmt, &[])
            .await
            .map_err(pg)?
            .try_get(0)
            .map_err(pg)?;
        return Ok(pos(head));
    }
    let position = move_owner(tx, territory_id, owner.as_deref(), rep_id, now).await?;
    super::handoff::record_assignment(
        tx,
        &super::handoff::NewAssignment {
            territory: territory_id,
            card_id: None,
            from_territory: None,
            from: owner.as_deref(),
            to: rep_id,
            decided_by: "admin",
            reason: "",
            at: now,
            position,
        },
    )
    .await?;
    Ok(position)
}

/// A territory's owner (`None`: no such territory; `Some(None)`: unowned). The row is
/// locked `FOR NO KEY UPDATE` until commit (what the owner's `UPDATE` takes anyway):
/// the caller moves the owner it read, and a concurrent mover must wait and re-read it.
pub(super) async fn territory_owner(
    tx: &Transaction<'_>,
    territory_id: &str,
) -> Result<Option<Option<String>>> {
    let stmt = tx
        .prepare_cached("SELECT owner FROM territories WHERE id = $1 FOR NO KEY UPDATE")
        .await
        .map_err(pg)?;
    tx.query_opt(&stmt, &[&territory_id])
        .await
        .map_err(pg)?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(pg)
}

/// Moves a territory to `rep_id`: the old owner's loss and the new owner's gain as scope
/// events. Returns the gain's position. The owner is updated before the positions are
/// taken, so the `meta` lock (which serialises every writer) is held for as little as
/// possible; the positions are the same as SQLite's order gives (loss, then gain).
pub(super) async fn move_owner(
    tx: &Transaction<'_>,
    territory_id: &str,
    old: Option<&str>,
    rep_id: &str,
    now: i64,
) -> Result<u64> {
    let stmt = tx
        .prepare_cached("UPDATE territories SET owner = $1 WHERE id = $2")
        .await
        .map_err(pg)?;
    tx.execute(&stmt, &[&rep_id, &territory_id])
        .await
        .map_err(pg)?;
    if let Some(old) = old {
        scope_event(tx, territory_id, old, false, now).await?;
    }
    scope_event(tx, territory_id, rep_id, true, now).await
}

pub(super) async fn territory_lost_at(
    c: &impl GenericClient,
    person_id: &str,
    territory_id: &str,
) -> Result<Option<i64>> {
    let stmt = c
        .prepare_cached(
            "SELECT at FROM scope_events WHERE person_id = $1 AND territory_id = $2 \
             AND NOT gained ORDER BY position DESC LIMIT 1",
        )
        .await
        .map_err(pg)?;
    c.query_opt(&stmt, &[&person_id, &territory_id])
        .await
        .map_err(pg)?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(pg)
}

pub(super) async fn territory(c: &impl GenericClient, id: &str) -> Result<Option<Territory>> {
    let stmt = c
        .prepare_cached("SELECT id, name, owner, manager FROM territories WHERE id = $1")
        .await
        .map_err(pg)?;
    c.query_opt(&stmt, &[&id])
        .await
        .map_err(pg)?
        .as_ref()
        .map(territory_row)
        .transpose()
}

pub(super) async fn territories(c: &impl GenericClient) -> Result<Vec<Territory>> {
    let stmt = c
        .prepare_cached("SELECT id, name, owner, manager FROM territories ORDER BY id")
        .await
        .map_err(pg)?;
    c.query(&stmt, &[])
        .await
        .map_err(pg)?
        .iter()
        .map(territory_row)
        .collect()
}

pub(super) async fn territories_of(
    c: &impl GenericClient,
    person_id: &str,
    role: Role,
) -> Result<Vec<String>> {
    let sql = match role {
        Role::Rep => "SELECT id FROM territories WHERE owner = $1 ORDER BY id",
        Role::Manager => "SELECT id FROM territories WHERE manager = $1 ORDER BY id",
        Role::Admin => return Ok(Vec::new()),
    };
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.query(&stmt, &[&person_id])
        .await
        .map_err(pg)?
        .iter()
        .map(|r| r.try_get(0).map_err(pg))
        .collect()
}

pub(super) async fn scope_events_after(
    c: &impl GenericClient,
    person_id: &str,
    after: u64,
) -> Result<Vec<ScopeEvent>> {
    let stmt = c
        .prepare_cached(
            "SELECT position, territory_id, person_id, gained FROM scope_events \
             WHERE person_id = $1 AND position > $2 ORDER BY position",
        )
        .await
        .map_err(pg)?;
    c.query(&stmt, &[&person_id, &sql_pos(after)])
        .await
        .map_err(pg)?
        .iter()
        .map(|r| {
            Ok(ScopeEvent {
                position: pos(r.try_get(0).map_err(pg)?),
                territory_id: r.try_get(1).map_err(pg)?,
                person_id: r.try_get(2).map_err(pg)?,
                gained: r.try_get(3).map_err(pg)?,
            })
        })
        .collect()
}
