//! The manager's read model and its queries: the team, the card list and search, one card
//! in full (the device's view, its conflicts, its field history, its assignments),
//! the seeds' methods (ABC, the pipeline), and activity per rep — what the dashboard pages and the JSON API ([`api`]) both show.
//!
//! Every query is `(storage, docs, viewer, &Query, now) -> Result<T>` with a serde `T`,
//! checks the [`Viewer`]'s scope itself (a rep never gets here; a manager of another team
//! gets `access.denied`, the same answer as for a card that does not exist), reads only
//! the read model storage keeps next to each card ([`read_model`], written in the card
//! commit's transaction), and is paginated ([`Page`]). Blocking: call it inside
//! `crate::http::blocking`.

pub mod activity;
pub mod analysis;
pub mod api;
pub mod cards;
pub mod credit;
pub mod pipeline;
pub mod read_model;
pub mod scope_cards;
pub mod settings;
pub mod team;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use activity::{ActivityQuery, ActivityReport, activity, activity_csv};
pub use analysis::{AbcQuery, abc};
pub use cards::{CardDetail, CardDetailQuery, CardQuery, CardRow, card, cards};
pub use credit::{CreditQuery, card_transaction, credit};
pub use pipeline::{PipelineQuery, pipeline};
pub use settings::{SettingsUpdate, SettingsView, set_settings, settings_view};
pub use team::{TeamQuery, TeamReport, team};

use crate::error::{Error, Result};
use crate::storage::{Person, Storage};
use crate::viewer::{Scope, Viewer};

/// Rows per page when a query names none.
pub const DEFAULT_PER_PAGE: u32 = 50;
/// The most rows a page holds.
pub const MAX_PER_PAGE: u32 = 200;

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// This page's number, from 1.
    pub page: u32,
    /// Rows per page.
    pub per_page: u32,
    /// Rows in all pages.
    pub total: u64,
}

/// A page request checked: `(page, per_page, offset)`. Page numbers start at 1; a page
/// size above [`MAX_PER_PAGE`] or of 0 is refused, not silently changed.
pub fn paging(page: Option<u32>, per_page: Option<u32>) -> Result<(u32, u32, u64)> {
    let page = page.unwrap_or(1);
    let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
    if page == 0 {
        return Err(Error::Invalid("page numbers start at 1".into()));
    }
    if per_page == 0 || per_page > MAX_PER_PAGE {
        return Err(Error::Invalid(format!(
            "per_page must be 1 to {MAX_PER_PAGE}"
        )));
    }
    Ok((page, per_page, u64::from(page - 1) * u64::from(per_page)))
}

/// The territories a storage query is limited to: `None` for every territory.
pub(crate) fn scope_filter(scope: &Scope) -> Option<Vec<String>> {
    match scope {
        Scope::All => None,
        Scope::Territories(ids) => Some(ids.clone()),
    }
}

/// The reps a viewer sees: every rep for an administrator; for a manager, the reps
/// holding a territory the manager manages. By id, with the territories each holds in
/// scope.
pub(crate) fn team_reps(
    storage: &dyn Storage,
    viewer: &Viewer,
) -> Result<Vec<(Person, Vec<String>)>> {
    let scope = viewer.scope(storage)?;
    let mut held: HashMap<String, Vec<String>> = HashMap::new();
    for t in storage.territories()? {
        if let Some(owner) = t.owner
            && scope.contains(&t.id)
        {
            held.entry(owner).or_default().push(t.id);
        }
    }
    let reps = storage
        .people()?
        .into_iter()
        .filter(|p| p.kind == crate::storage::PersonKind::Rep)
        .filter_map(|p| match (&scope, held.remove(&p.id)) {
            (_, Some(ts)) => Some((p, ts)),
            (Scope::All, None) => Some((p, Vec::new())),
            (Scope::Territories(_), None) => None,
        })
        .collect();
    Ok(reps)
}

/// People's display names by id.
pub(crate) fn names(storage: &dyn Storage) -> Result<HashMap<String, String>> {
    Ok(storage
        .people()?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect())
}

/// A unix time as the card view writes times (RFC 3339, UTC).
pub(crate) fn time(secs: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(secs, 0)
}
