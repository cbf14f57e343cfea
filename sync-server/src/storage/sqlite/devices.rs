//! Enrolment tokens and enrolled devices (bound actor, token hash, revocation, last sync).

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::error::{Error, Result};
use crate::storage::{ActorEntry, Device, NewDevice, NewEnrolment, Role};

const DEVICE_COLUMNS: &str = "id, name, person_id, role, actor, revoked, expires_at, created_at, \
     last_sync_at, rekeys, (SELECT group_concat(hex(a.actor), ',') FROM device_actors a \
     WHERE a.device_id = devices.id AND a.actor != devices.actor)";

fn device_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Device, String)> {
    let role: String = r.get(3)?;
    Ok((
        Device {
            id: r.get(0)?,
            name: r.get(1)?,
            person_id: r.get(2)?,
            role: Role::Rep,
            actor: r.get(4)?,
            revoked: r.get(5)?,
            expires_at: r.get(6)?,
            created_at: r.get(7)?,
            last_sync_at: r.get(8)?,
            rekeys: r.get(9)?,
            former_actors: r
                .get::<_, Option<String>>(10)?
                .unwrap_or_default()
                .split(',')
                .filter(|h| !h.is_empty())
                .filter_map(|h| hex::decode(h).ok())
                .collect(),
        },
        role,
    ))
}

fn finish_device((mut d, role): (Device, String)) -> Result<Device> {
    d.role = Role::parse(&role).map_err(|_| Error::Storage(format!("bad role {role:?}")))?;
    Ok(d)
}

pub(super) fn create_enrolment(tx: &Transaction<'_>, e: &NewEnrolment) -> Result<()> {
    let exists: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM people WHERE id = ?1)",
        [&e.person_id],
        |r| r.get(0),
    )?;
    if !exists {
        return Err(Error::NotFound("person"));
    }
    tx.execute(
        "INSERT INTO enrolments (token_hash, person_id, role, device_name, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            e.token_hash,
            e.person_id,
            e.role.as_str(),
            e.device_name,
            e.expires_at
        ],
    )?;
    Ok(())
}

pub(super) fn redeem_enrolment(
    tx: &Transaction<'_>,
    token_hash: &str,
    d: &NewDevice,
) -> Result<Device> {
    let row: Option<(String, String, String, i64, bool)> = tx
        .query_row(
            "SELECT person_id, role, device_name, expires_at, used FROM enrolments \
             WHERE token_hash = ?1",
            [token_hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((person_id, role, name, expires_at, used)) = row else {
        return Err(Error::BadEnrolment);
    };
    if used || expires_at < d.now {
        return Err(Error::BadEnrolment);
    }
    let actor_taken: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM device_actors WHERE actor = ?1)",
        [&d.actor],
        |r| r.get(0),
    )?;
    if actor_taken {
        return Err(Error::Invalid(
            "this actor id is already bound to another device".into(),
        ));
    }
    tx.execute(
        "UPDATE enrolments SET used = 1 WHERE token_hash = ?1",
        [token_hash],
    )?;
    tx.execute(
        "INSERT INTO devices (id, name, person_id, role, actor, token_hash, expires_at, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![d.id, name, person_id, role, d.actor, d.token_hash, d.expires_at, d.now],
    )?;
    tx.execute(
        "INSERT INTO device_actors (actor, device_id, bound_at) VALUES (?1, ?2, ?3)",
        params![d.actor, d.id, d.now],
    )?;
    Ok(Device {
        id: d.id.clone(),
        name,
        person_id,
        role: Role::parse(&role)?,
        actor: d.actor.clone(),
        revoked: false,
        expires_at: d.expires_at,
        created_at: d.now,
        last_sync_at: None,
        former_actors: Vec::new(),
        rekeys: 0,
    })
}

pub(super) fn device_by_token_hash(c: &Connection, token_hash: &str) -> Result<Option<Device>> {
    c.query_row(
        &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE token_hash = ?1"),
        [token_hash],
        device_row,
    )
    .optional()?
    .map(finish_device)
    .transpose()
}

pub(super) fn device(c: &Connection, id: &str) -> Result<Option<Device>> {
    c.query_row(
        &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ?1"),
        [id],
        device_row,
    )
    .optional()?
    .map(finish_device)
    .transpose()
}

pub(super) fn devices(c: &Connection) -> Result<Vec<Device>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {DEVICE_COLUMNS} FROM devices ORDER BY created_at, id"
    ))?;
    let rows = stmt
        .query_map([], device_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(finish_device).collect()
}

pub(super) fn rekey_device(
    tx: &Transaction<'_>,
    id: &str,
    actor: &[u8],
    now: i64,
) -> Result<Device> {
    let current = device(tx, id)?.ok_or(Error::NotFound("device"))?;
    if current.actor == actor {
        // A retried re-key whose answer was lost.
        return Ok(current);
    }
    let taken: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM device_actors WHERE actor = ?1)",
        [actor],
        |r| r.get(0),
    )?;
    if taken {
        return Err(Error::Invalid(
            "this actor id is already bound to a device".into(),
        ));
    }
    tx.execute(
        "INSERT INTO device_actors (actor, device_id, bound_at) VALUES (?1, ?2, ?3)",
        params![actor, id, now],
    )?;
    tx.execute(
        "UPDATE devices SET actor = ?2, rekeys = rekeys + 1 WHERE id = ?1",
        params![id, actor],
    )?;
    device(tx, id)?.ok_or(Error::NotFound("device"))
}

pub(super) fn revoke_device(tx: &Transaction<'_>, id: &str) -> Result<()> {
    let n = tx.execute("UPDATE devices SET revoked = 1 WHERE id = ?1", [id])?;
    if n == 0 {
        return Err(Error::NotFound("device"));
    }
    Ok(())
}

pub(super) fn record_sync(tx: &Transaction<'_>, device_id: &str, now: i64) -> Result<()> {
    tx.execute(
        "UPDATE devices SET last_sync_at = ?1 WHERE id = ?2",
        params![now, device_id],
    )?;
    Ok(())
}

/// How many card ids one directory query binds (SQLite's variable limit is far above).
const DIRECTORY_CHUNK: usize = 500;

pub(super) fn actor_directory(c: &Connection, card_ids: &[String]) -> Result<Vec<ActorEntry>> {
    let mut by_actor = std::collections::BTreeMap::new();
    for chunk in card_ids.chunks(DIRECTORY_CHUNK) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let mut stmt = c.prepare_cached(&format!(
            "SELECT a.actor, d.name, d.person_id, p.name, d.role FROM device_actors a \
             JOIN devices d ON d.id = a.device_id JOIN people p ON p.id = d.person_id \
             WHERE a.device_id IN (SELECT DISTINCT device_id FROM change_log \
             WHERE card_id IN ({marks}))"
        ))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(chunk), |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (actor, device_name, person_id, person_name, role) in rows {
            let role =
                Role::parse(&role).map_err(|_| Error::Storage(format!("bad role {role:?}")))?;
            by_actor.insert(
                actor.clone(),
                ActorEntry {
                    actor,
                    device_name,
                    person_id,
                    person_name,
                    role,
                },
            );
        }
    }
    Ok(by_actor.into_values().collect())
}
