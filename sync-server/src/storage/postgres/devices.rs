//! Enrolment tokens and enrolled devices (bound actor, token hash, revocation, last sync),
//! as `sqlite/devices.rs`.
//!
//! Where SQLite's single writer made a read-then-write safe, several instances need more:
//!
//! - **An enrolment is redeemed once.** [`redeem_enrolment`] reads the enrolment `FOR
//!   UPDATE`: a second redemption of the same token waits, then sees it used.
//! - **An actor is bound to one device.** The "already bound" check cannot see another
//!   instance's uncommitted binding; the unique indexes on `devices.actor` and
//!   `device_actors.actor` can, so the insert that loses the race fails with the same
//!   [`Error::Invalid`] the check gives (nothing written: the transaction rolls back).
//! - **A re-key is applied once.** [`rekey_device`] locks the device row first: a retried
//!   re-key racing its first attempt waits, then finds the actor already current.

use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use super::{GenericClient, Transaction, pg};
use crate::error::{Error, Result};
use crate::storage::{ActorEntry, Device, NewDevice, NewEnrolment, Role};

/// A device's columns; the last is its former actors (every bound actor but the
/// current), as a `BYTEA[]` rather than SQLite's comma-joined hex. Ordered by binding
/// time (SQLite's `group_concat` order is unspecified; nothing relies on it).
const DEVICE_COLUMNS: &str = "id, name, person_id, role, actor, revoked, expires_at, created_at, \
     last_sync_at, rekeys, ARRAY(SELECT a.actor FROM device_actors a \
     WHERE a.device_id = devices.id AND a.actor <> devices.actor \
     ORDER BY a.bound_at, a.actor)";

/// The constraints an actor bound elsewhere violates (see the module docs).
const ACTOR_CONSTRAINTS: [&str; 2] = ["devices_actor_key", "device_actors_pkey"];

fn device_row(r: &Row) -> Result<Device> {
    let role: String = r.try_get(3).map_err(pg)?;
    let rekeys: i64 = r.try_get(9).map_err(pg)?;
    Ok(Device {
        id: r.try_get(0).map_err(pg)?,
        name: r.try_get(1).map_err(pg)?,
        person_id: r.try_get(2).map_err(pg)?,
        role: Role::parse(&role).map_err(|_| Error::Storage(format!("bad role {role:?}")))?,
        actor: r.try_get(4).map_err(pg)?,
        revoked: r.try_get(5).map_err(pg)?,
        expires_at: r.try_get(6).map_err(pg)?,
        created_at: r.try_get(7).map_err(pg)?,
        last_sync_at: r.try_get(8).map_err(pg)?,
        rekeys: u32::try_from(rekeys)
            .map_err(|_| Error::Storage(format!("bad re-key count {rekeys}")))?,
        former_actors: r.try_get(10).map_err(pg)?,
    })
}

/// Whether `e` is a unique violation of one of `constraints`.
fn violates(e: &tokio_postgres::Error, constraints: &[&str]) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
        && e.as_db_error()
            .and_then(|db| db.constraint())
            .is_some_and(|c| constraints.contains(&c))
}

/// A failed binding insert's error: [`Error::Invalid`] (`already_bound`) if the actor
/// was bound elsewhere meanwhile, else the database error.
fn bound_elsewhere(e: tokio_postgres::Error, already_bound: impl Fn() -> Error) -> Error {
    if violates(&e, &ACTOR_CONSTRAINTS) {
        already_bound()
    } else {
        pg(e)
    }
}

/// Whether `actor` is bound to any device, now or before a re-key.
async fn actor_taken(tx: &Transaction<'_>, actor: &[u8]) -> Result<bool> {
    let stmt = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM device_actors WHERE actor = $1)")
        .await
        .map_err(pg)?;
    tx.query_one(&stmt, &[&actor])
        .await
        .map_err(pg)?
        .try_get(0)
        .map_err(pg)
}

pub(super) async fn create_enrolment(tx: &Transaction<'_>, e: &NewEnrolment) -> Result<()> {
    // People are never deleted (and the foreign key would refuse a vanished one), so the
    // check needs no lock.
    let stmt = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM people WHERE id = $1)")
        .await
        .map_err(pg)?;
    let exists: bool = tx
        .query_one(&stmt, &[&e.person_id])
        .await
        .map_err(pg)?
        .try_get(0)
        .map_err(pg)?;
    if !exists {
        return Err(Error::NotFound("person"));
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO enrolments (token_hash, person_id, role, device_name, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .await
        .map_err(pg)?;
    tx.execute(
        &stmt,
        &[
            &e.token_hash,
            &e.person_id,
            &e.role.as_str(),
            &e.device_name,
            &e.expires_at,
        ],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

pub(super) async fn redeem_enrolment(
    tx: &Transaction<'_>,
    token_hash: &str,
    d: &NewDevice,
) -> Result<Device> {
    // Locked to commit: of two instances redeeming one token, the second waits here and
    // then reads `used` as the first committed it.
    let stmt = tx
        .prepare_cached(
            "SELECT person_id, role, device_name, expires_at, used FROM enrolments \
             WHERE token_hash = $1 FOR UPDATE",
        )
        .await
        .map_err(pg)?;
    let Some(row) = tx.query_opt(&stmt, &[&token_hash]).await.map_err(pg)? else {
        return Err(Error::BadEnrolment);
    };
    let person_id: String = row.try_get(0).map_err(pg)?;
    let role: String = row.try_get(1).map_err(pg)?;
    let name: String = row.try_get(2).map_err(pg)?;
    let expires_at: i64 = row.try_get(3).map_err(pg)?;
    let used: bool = row.try_get(4).map_err(pg)?;
    if used || expires_at < d.now {
        return Err(Error::BadEnrolment);
    }
    let already_bound =
        || Error::Invalid("this actor id is already bound to another device".into());
    if actor_taken(tx, &d.actor).await? {
        return Err(already_bound());
    }
    let stmt = tx
        .prepare_cached("UPDATE enrolments SET used = TRUE WHERE token_hash = $1")
        .await
        .map_err(pg)?;
    tx.execute(&stmt, &[&token_hash]).await.map_err(pg)?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO devices (id, name, person_id, role, actor, token_hash, expires_at, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await
        .map_err(pg)?;
    tx.execute(
        &stmt,
        &[
            &d.id,
            &name,
            &person_id,
            &role,
            &d.actor,
            &d.token_hash,
            &d.expires_at,
            &d.now,
        ],
    )
    .await
    .map_err(|e| bound_elsewhere(e, already_bound))?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO device_actors (actor, device_id, bound_at) VALUES ($1, $2, $3)",
        )
        .await
        .map_err(pg)?;
    tx.execute(&stmt, &[&d.actor, &d.id, &d.now])
        .await
        .map_err(|e| bound_elsewhere(e, already_bound))?;
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

/// The device matching `filter` (a condition on `$1`), if any; `lock` adds `FOR UPDATE`.
async fn device_where(
    c: &impl GenericClient,
    filter: &str,
    value: &str,
    lock: bool,
) -> Result<Option<Device>> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE {filter}{lock}"
        ))
        .await
        .map_err(pg)?;
    c.query_opt(&stmt, &[&value])
        .await
        .map_err(pg)?
        .as_ref()
        .map(device_row)
        .transpose()
}

pub(super) async fn device_by_token_hash(
    c: &impl GenericClient,
    token_hash: &str,
) -> Result<Option<Device>> {
    device_where(c, "token_hash = $1", token_hash, false).await
}

pub(super) async fn device(c: &impl GenericClient, id: &str) -> Result<Option<Device>> {
    device_where(c, "id = $1", id, false).await
}

pub(super) async fn devices(c: &impl GenericClient) -> Result<Vec<Device>> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices ORDER BY created_at, id"
        ))
        .await
        .map_err(pg)?;
    c.query(&stmt, &[])
        .await
        .map_err(pg)?
        .iter()
        .map(device_row)
        .collect()
}

pub(super) async fn rekey_device(
    tx: &Transaction<'_>,
    id: &str,
    actor: &[u8],
    now: i64,
) -> Result<Device> {
    // Locked to commit (see the module docs): concurrent re-keys of one device apply one
    // after the other, each seeing the actor the previous one bound.
    let current = device_where(tx, "id = $1", id, true)
        .await?
        .ok_or(Error::NotFound("device"))?;
    if current.actor == actor {
        // A retried re-key whose answer was lost.
        return Ok(current);
    }
    let already_bound = || Error::Invalid("this actor id is already bound to a device".into());
    if actor_taken(tx, actor).await? {
        return Err(already_bound());
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO device_actors (actor, device_id, bound_at) VALUES ($1, $2, $3)",
        )
        .await
        .map_err(pg)?;
    // Another device binding the same actor concurrently: the loser's insert fails here.
    tx.execute(&stmt, &[&actor, &id, &now])
        .await
        .map_err(|e| bound_elsewhere(e, already_bound))?;
    let stmt = tx
        .prepare_cached("UPDATE devices SET actor = $2, rekeys = rekeys + 1 WHERE id = $1")
        .await
        .map_err(pg)?;
    tx.execute(&stmt, &[&id, &actor]).await.map_err(pg)?;
    device(tx, id).await?.ok_or(Error::NotFound("device"))
}

pub(super) async fn revoke_device(tx: &Transaction<'_>, id: &str) -> Result<()> {
    let stmt = tx
        .prepare_cached("UPDATE devices SET revoked = TRUE WHERE id = $1")
        .await
        .map_err(pg)?;
    let n = tx.execute(&stmt, &[&id]).await.map_err(pg)?;
    if n == 0 {
        return Err(Error::NotFound("device"));
    }
    Ok(())
}

pub(super) async fn record_sync(tx: &Transaction<'_>, device_id: &str, now: i64) -> Result<()> {
    let stmt = tx
        .prepare_cached("UPDATE devices SET last_sync_at = $1 WHERE id = $2")
        .await
        .map_err(pg)?;
    tx.execute(&stmt, &[&now, &device_id]).await.map_err(pg)?;
    Ok(())
}

/// How many card ids one directory query binds. PostgreSQL takes them as one array
/// parameter (no variable limit); the chunks only bound one statement's size.
const DIRECTORY_CHUNK: usize = 5_000;

pub(super) async fn actor_directory(
    c: &impl GenericClient,
    card_ids: &[String],
) -> Result<Vec<ActorEntry>> {
    if card_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut by_actor = std::collections::BTreeMap::new();
    let stmt = c
        .prepare_cached(
            "SELECT a.actor, d.name, d.person_id, p.name, d.role FROM device_actors a \
             JOIN devices d ON d.id = a.device_id JOIN people p ON p.id = d.person_id \
             WHERE a.device_id IN (SELECT DISTINCT device_id FROM change_log \
             WHERE card_id = ANY($1))",
        )
        .await
        .map_err(pg)?;
    for chunk in card_ids.chunks(DIRECTORY_CHUNK) {
        for r in c.query(&stmt, &[&chunk]).await.map_err(pg)? {
            let actor: Vec<u8> = r.try_get(0).map_err(pg)?;
            let role: String = r.try_get(4).map_err(pg)?;
            let role =
                Role::parse(&role).map_err(|_| Error::Storage(format!("bad role {role:?}")))?;
            by_actor.insert(
                actor.clone(),
                ActorEntry {
                    actor,
                    device_name: r.try_get(1).map_err(pg)?,
                    person_id: r.try_get(2).map_err(pg)?,
                    person_name: r.try_get(3).map_err(pg)?,
                    role,
                },
            );
        }
    }
    Ok(by_actor.into_values().collect())
}
