//! Administration: people, territories, enrolment and revocation.
//!
//! One implementation shared by the `fieldbook-server` subcommands (which work directly on
//! the database) and the admin HTTP API (`/v1/admin/...`, admin devices only), so both
//! enforce the same rules. Also the enrolment redemption a device performs itself.

use serde::{Deserialize, Serialize};

use crate::auth::{DEVICE_TOKEN_PREFIX, ENROLMENT_TOKEN_PREFIX, hash_token, new_token, now};
use crate::error::{Error, Result};
use crate::storage::{NewDevice, NewEnrolment, Person, PersonKind, Role, Storage};
use fieldbook_core::sync::wire::EnrolResponse;

/// How long an enrolment token stays valid (7 days).
pub const ENROLMENT_TTL_SECS: i64 = 7 * 24 * 3600;

/// Ids of people and territories: short, printable, stable.
pub fn validate_id(what: &str, id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{what} id must be 1-64 characters of [A-Za-z0-9._-]"
        )))
    }
}

fn validate_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.len() > 200 {
        return Err(Error::Invalid("name must be 1-200 bytes".into()));
    }
    Ok(())
}

/// Adds a rep or a manager.
pub fn add_person(storage: &dyn Storage, id: &str, name: &str, kind: PersonKind) -> Result<()> {
    validate_id("person", id)?;
    validate_name(name)?;
    storage.add_person(&Person {
        id: id.to_owned(),
        name: name.to_owned(),
        kind,
        active: true,
    })
}

/// Adds a territory, optionally with its manager.
pub fn add_territory(
    storage: &dyn Storage,
    id: &str,
    name: &str,
    manager: Option<&str>,
) -> Result<()> {
    validate_id("territory", id)?;
    validate_name(name)?;
    storage.add_territory(id, name, manager)
}

/// Gives a territory to a rep (handoff: the previous owner loses it at their next sync).
pub fn assign_territory(storage: &dyn Storage, territory: &str, rep: &str) -> Result<u64> {
    storage.assign_territory(territory, rep, now())
}

/// Deactivates a rep who left: no territory or card can be handed to them any more. What
/// they hold stays theirs until a manager hands it over (`handoff`).
pub fn deactivate_rep(storage: &dyn Storage, rep: &str) -> Result<()> {
    match storage.person(rep)? {
        Some(p) if p.kind == PersonKind::Rep => storage.set_person_active(rep, false),
        _ => Err(Error::NotFound("rep")),
    }
}

/// A freshly created one-time enrolment token (shown once).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    /// The token to give to the device.
    pub token: String,
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
}

/// Creates a one-time enrolment token for a device of `person` with `role`.
///
/// A `rep` device needs a rep, a `manager` device a manager; an `admin` device may belong
/// to anyone.
pub fn enrol_device(
    storage: &dyn Storage,
    person_id: &str,
    role: Role,
    device_name: &str,
) -> Result<Enrolment> {
    validate_name(device_name)?;
    let person = storage
        .person(person_id)?
        .ok_or(Error::NotFound("person"))?;
    match (role, person.kind) {
        (Role::Rep, PersonKind::Rep) | (Role::Manager, PersonKind::Manager) | (Role::Admin, _) => {}
        _ => {
            return Err(Error::Invalid(format!(
                "a {} device needs a {} person",
                role.as_str(),
                role.as_str()
            )));
        }
    }
    let token = new_token(ENROLMENT_TOKEN_PREFIX);
    let expires_at = now() + ENROLMENT_TTL_SECS;
    storage.create_enrolment(&NewEnrolment {
        token_hash: hash_token(&token),
        person_id: person_id.to_owned(),
        role,
        device_name: device_name.to_owned(),
        expires_at,
    })?;
    Ok(Enrolment { token, expires_at })
}

/// Revokes a device: its token stops working at once.
pub fn revoke_device(storage: &dyn Storage, device_id: &str) -> Result<()> {
    storage.revoke_device(device_id)
}

/// Redeems an enrolment token: binds the actor id and returns the device's bearer token.
pub fn redeem(
    storage: &dyn Storage,
    token: &str,
    actor_hex: &str,
    token_ttl_secs: Option<i64>,
) -> Result<EnrolResponse> {
    if !token.starts_with(ENROLMENT_TOKEN_PREFIX) {
        return Err(Error::BadEnrolment);
    }
    let actor =
        hex::decode(actor_hex.trim()).map_err(|_| Error::Invalid("actor must be hex".into()))?;
    if actor.is_empty() || actor.len() > 64 {
        return Err(Error::Invalid("actor must be 1-64 bytes".into()));
    }
    let device_token = new_token(DEVICE_TOKEN_PREFIX);
    let t = now();
    let device = storage.redeem_enrolment(
        &hash_token(token),
        &NewDevice {
            id: uuid::Uuid::new_v4().to_string(),
            actor,
            token_hash: hash_token(&device_token),
            expires_at: token_ttl_secs.map(|ttl| t.saturating_add(ttl)),
            now: t,
        },
    )?;
    Ok(EnrolResponse {
        device_id: device.id,
        token: device_token,
        rep_id: device.person_id,
        role: device.role.as_str().to_owned(),
        server_id: storage.identity()?.server_id,
    })
}
