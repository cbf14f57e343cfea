//! Who is looking at the manager's data, and which territories they may see.
//!
//! One type for every manager-facing surface (the JSON API, the dashboard pages, handoff
//! and the review queue), so a rule about who may see what is written once. A manager
//! sees the territories they manage; an administrator sees all of them; a rep sees none
//! of this (their device syncs their own cards instead).
//!
//! A viewer comes from a manager's or admin's device token (`Authorization: Bearer`), or
//! from a dashboard session cookie (see the dashboard's session module).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::AppState;
use crate::auth::authenticate;
use crate::error::{Error, Result};
use crate::storage::{Role, Storage};

/// A manager or administrator, authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Viewer {
    /// The person (the author of any change they make, e.g. a card moved by the server).
    pub person_id: String,
    /// [`Role::Manager`] or [`Role::Admin`]; never [`Role::Rep`].
    pub role: Role,
}

/// The territories a viewer may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every territory (an administrator).
    All,
    /// These territories (sorted), the ones a manager manages.
    Territories(Vec<String>),
}

impl Scope {
    /// Whether a territory is in scope.
    pub fn contains(&self, territory: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Territories(ids) => ids.binary_search_by(|t| t.as_str().cmp(territory)).is_ok(),
        }
    }
}

impl Viewer {
    /// A viewer for a person acting as `role`; a rep is refused (`access.denied`).
    pub fn new(person_id: String, role: Role) -> Result<Viewer> {
        match role {
            Role::Manager | Role::Admin => Ok(Viewer { person_id, role }),
            Role::Rep => Err(Error::AccessDenied),
        }
    }

    /// The territories this viewer may see (blocking: reads storage).
    pub fn scope(&self, storage: &dyn Storage) -> Result<Scope> {
        match self.role {
            Role::Admin => Ok(Scope::All),
            Role::Manager => {
                let mut ids = storage.territories_of(&self.person_id, Role::Manager)?;
                ids.sort();
                Ok(Scope::Territories(ids))
            }
            Role::Rep => Ok(Scope::Territories(Vec::new())),
        }
    }

    /// Refuses a territory outside the viewer's scope with `access.denied`.
    pub fn require_territory(&self, storage: &dyn Storage, territory: &str) -> Result<()> {
        if self.scope(storage)?.contains(territory) {
            Ok(())
        } else {
            Err(Error::AccessDenied)
        }
    }
}

/// The viewer behind a request: a manager's or admin's device token, else a dashboard
/// session cookie ([`crate::web`]). A rep's token gets `access.denied` (403); neither
/// `auth.missing_token` (401).
impl FromRequestParts<AppState> for Viewer {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Viewer> {
        let header = match parts.headers.get(header::AUTHORIZATION) {
            None => match crate::web::viewer_from_cookie(parts, state).await {
                Some(viewer) => return viewer,
                None => None,
            },
            Some(v) => Some(v.to_str().map_err(|_| Error::BadToken)?.to_owned()),
        };
        let now = state.now();
        let device =
            crate::http::blocking(state, move |s| authenticate(s, header.as_deref(), now)).await?;
        Viewer::new(device.person_id, device.role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rep_is_never_a_viewer() {
        assert!(matches!(
            Viewer::new("zhangwei".into(), Role::Rep),
            Err(Error::AccessDenied)
        ));
        assert!(Viewer::new("wangfang".into(), Role::Manager).is_ok());
    }

    #[test]
    fn scope_contains_only_listed_territories() {
        let scope = Scope::Territories(vec!["sh-east".into(), "sh-west".into()]);
        assert!(scope.contains("sh-west"));
        assert!(!scope.contains("bj"));
        assert!(Scope::All.contains("bj"));
    }
}
