//! People, territories and scope events: who holds or manages which territory, and the
//! positions at which a person's scope changed (they share the log's position sequence).

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::cards::next_position;
use super::{pos, sql_pos};
use crate::error::{Error, Result};
use crate::storage::{Person, PersonKind, Role, ScopeEvent, Territory};

fn scope_event(
    tx: &Transaction<'_>,
    territory: &str,
    person: &str,
    gained: bool,
    at: i64,
) -> Result<u64> {
    let p = next_position(tx)?;
    tx.execute(
        "INSERT INTO scope_events (position, territory_id, person_id, gained, at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![sql_pos(p), territory, person, gained, at],
    )?;
    Ok(p)
}

fn territory_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Territory> {
    Ok(Territory {
        id: r.get(0)?,
        name: r.get(1)?,
        owner: r.get(2)?,
        manager: r.get(3)?,
    })
}

pub(super) fn add_person(tx: &Transaction<'_>, person: &Person) -> Result<()> {
    let n = tx.execute(
        "INSERT OR IGNORE INTO people (id, name, kind, active) VALUES (?1, ?2, ?3, ?4)",
        params![person.id, person.name, person.kind.as_str(), person.active],
    )?;
    if n == 0 {
        return Err(Error::AlreadyExists("person"));
    }
    Ok(())
}

pub(super) fn person(c: &Connection, id: &str) -> Result<Option<Person>> {
    let row: Option<(String, String, String, bool)> = c
        .query_row(
            "SELECT id, name, kind, active FROM people WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    row.map(|(id, name, kind, active)| {
        Ok(Person {
            id,
            name,
            kind: PersonKind::parse(&kind)?,
            active,
        })
    })
    .transpose()
}

pub(super) fn people(c: &Connection) -> Result<Vec<Person>> {
    let mut stmt = c.prepare("SELECT id, name, kind, active FROM people ORDER BY id")?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(id, name, kind, active)| {
            Ok(Person {
                id,
                name,
                kind: PersonKind::parse(&kind)?,
                active,
            })
        })
        .collect()
}

pub(super) fn add_territory(
    tx: &Transaction<'_>,
    id: &str,
    name: &str,
    manager: Option<&str>,
) -> Result<()> {
    if let Some(m) = manager {
        let kind: Option<String> = tx
            .query_row("SELECT kind FROM people WHERE id = ?1", [m], |r| r.get(0))
            .optional()?;
        match kind.as_deref() {
            Some("manager") => {}
            Some(_) => return Err(Error::Invalid("that person is not a manager".into())),
            None => return Err(Error::NotFound("manager")),
        }
    }
    let n = tx.execute(
        "INSERT OR IGNORE INTO territories (id, name, owner, manager) VALUES (?1, ?2, NULL, ?3)",
        params![id, name, manager],
    )?;
    if n == 0 {
        return Err(Error::AlreadyExists("territory"));
    }
    if let Some(m) = manager {
        scope_event(tx, id, m, true, 0)?;
    }
    Ok(())
}

pub(super) fn assign_territory(
    tx: &Transaction<'_>,
    territory_id: &str,
    rep_id: &str,
    now: i64,
) -> Result<u64> {
    let kind: Option<(String, bool)> = tx
        .query_row(
            "SELECT kind, active FROM people WHERE id = ?1",
            [rep_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match kind {
        Some((k, true)) if k == "rep" => {}
        Some((k, false)) if k == "rep" => return Err(Error::UnknownRep),
        Some(_) => return Err(Error::Invalid("that person is not a rep".into())),
        None => return Err(Error::NotFound("rep")),
    }
    let Some(owner) = territory_owner(tx, territory_id)? else {
        return Err(Error::NotFound("territory"));
    };
    if owner.as_deref() == Some(rep_id) {
        let head: i64 = tx.query_row("SELECT head FROM meta", [], |r| r.get(0))?;
        return Ok(pos(head));
    }
    let position = move_owner(tx, territory_id, owner.as_deref(), rep_id, now)?;
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
    )?;
    Ok(position)
}

/// A territory's owner (`None`: no such territory; `Some(None)`: unowned).
pub(super) fn territory_owner(
    tx: &Transaction<'_>,
    territory_id: &str,
) -> Result<Option<Option<String>>> {
    Ok(tx
        .query_row(
            "SELECT owner FROM territories WHERE id = ?1",
            [territory_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// Moves a territory to `rep_id`: the old owner's loss and the new owner's gain as scope
/// events. Returns the gain's position.
pub(super) fn move_owner(
    tx: &Transaction<'_>,
    territory_id: &str,
    old: Option<&str>,
    rep_id: &str,
    now: i64,
) -> Result<u64> {
    if let Some(old) = old {
        scope_event(tx, territory_id, old, false, now)?;
    }
    tx.execute(
        "UPDATE territories SET owner = ?1 WHERE id = ?2",
        params![rep_id, territory_id],
    )?;
    scope_event(tx, territory_id, rep_id, true, now)
}

pub(super) fn territory_lost_at(
    c: &Connection,
    person_id: &str,
    territory_id: &str,
) -> Result<Option<i64>> {
    Ok(c.query_row(
        "SELECT at FROM scope_events WHERE person_id = ?1 AND territory_id = ?2 \
         AND gained = 0 ORDER BY position DESC LIMIT 1",
        [person_id, territory_id],
        |r| r.get(0),
    )
    .optional()?)
}

pub(super) fn territory(c: &Connection, id: &str) -> Result<Option<Territory>> {
    Ok(c.query_row(
        "SELECT id, name, owner, manager FROM territories WHERE id = ?1",
        [id],
        territory_row,
    )
    .optional()?)
}

pub(super) fn territories(c: &Connection) -> Result<Vec<Territory>> {
    let mut stmt = c.prepare("SELECT id, name, owner, manager FROM territories ORDER BY id")?;
    let rows = stmt
        .query_map([], territory_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(super) fn territories_of(c: &Connection, person_id: &str, role: Role) -> Result<Vec<String>> {
    let sql = match role {
        Role::Rep => "SELECT id FROM territories WHERE owner = ?1 ORDER BY id",
        Role::Manager => "SELECT id FROM territories WHERE manager = ?1 ORDER BY id",
        Role::Admin => return Ok(Vec::new()),
    };
    let mut stmt = c.prepare(sql)?;
    let rows = stmt
        .query_map([person_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

pub(super) fn scope_events_after(
    c: &Connection,
    person_id: &str,
    after: u64,
) -> Result<Vec<ScopeEvent>> {
    let mut stmt = c.prepare(
        "SELECT position, territory_id, person_id, gained FROM scope_events \
         WHERE person_id = ?1 AND position > ?2 ORDER BY position",
    )?;
    let rows = stmt
        .query_map(params![person_id, sql_pos(after)], |r| {
            Ok(ScopeEvent {
                position: pos(r.get(0)?),
                territory_id: r.get(1)?,
                person_id: r.get(2)?,
                gained: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}
