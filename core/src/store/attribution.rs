//! Who a change is in the name of. The person on a visit is the author of the
//! change that added it, set here from the store's rep whatever the caller put
//! there; only a device enrolled as a manager (or admin) may add a visit
//! `on_behalf_of` another rep, and the history shows the manager as its author.
//! It lives in the store because it is the one place every edit passes through.

use super::Store;
use crate::card::Card;
use crate::error::{Error, Result};
use crate::ids::RepId;

/// The meta key holding the role the server enrolled this device with.
const ROLE_KEY: &str = "role";

impl Store {
    /// The role the server enrolled this device with (`rep`, `manager`, `admin`),
    /// or `None` for a device never enrolled.
    pub fn role(&self) -> Result<Option<String>> {
        Ok(Self::meta(&self.conn, ROLE_KEY)?.and_then(|b| String::from_utf8(b).ok()))
    }

    /// The estimated true time now: the device clock corrected by the server time of the
    /// last sync (see [`crate::clock`]). The default time of anything the rep records "now"
    /// (a visit), so a phone whose clock runs years ahead does not stamp the future.
    pub fn estimated_now(&self) -> Result<chrono::DateTime<chrono::Utc>> {
        crate::clock::estimated_now(&self.conn)
    }

    /// Remember the role the server enrolled this device with.
    pub(crate) fn save_role(&mut self, role: &str) -> Result<()> {
        Self::set_meta(&self.conn, ROLE_KEY, role.as_bytes())
    }

    /// Whether this device may record on another rep's behalf: only one the
    /// server enrolled as a manager or admin (a bare `init` device is a rep's).
    pub(super) fn may_act_for_others(&self) -> Result<bool> {
        Ok(matches!(self.role()?.as_deref(), Some("manager" | "admin")))
    }
}

/// Make the people on `new`'s visits true before it is written: a visit this
/// edit adds is by `author` (and `on_behalf_of` someone else only on a manager's
/// device); a visit already on the card keeps the people it had.
pub(super) fn attribute(old: &Card, new: &mut Card, author: &RepId, manager: bool) -> Result<()> {
    let author = author.to_string();
    for visit in &mut new.visits {
        match old.visits.iter().find(|v| v.id == visit.id) {
            Some(before) => {
                visit.value.rep = before.value.rep.clone();
                visit.value.on_behalf_of = before.value.on_behalf_of.clone();
            }
            None => {
                visit.value.rep = Some(author.clone());
                let other = visit
                    .value
                    .on_behalf_of
                    .take()
                    .map(|r| r.trim().to_string())
                    .filter(|r| !r.is_empty() && *r != author);
                if let Some(other) = other {
                    if !manager {
                        return Err(Error::NotOnBehalf);
                    }
                    let other: RepId = other.parse()?;
                    visit.value.on_behalf_of = Some(other.to_string());
                }
            }
        }
    }
    Ok(())
}
