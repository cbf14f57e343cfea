//! The seeds' methods over a manager's cards, computed by core's `analysis` from the same
//! card model a phone uses (each card's lean copy, `manager::scope_cards`): a phone and
//! the dashboard give the same classes for the same cards.

use chrono::NaiveDate;
use fieldbook_core::analysis::abc::{AbcReport, classify};
use serde::{Deserialize, Serialize};

use super::scope_cards::scope_cards;
use crate::cache::DocCache;
use crate::error::Result;
use crate::storage::Storage;
use crate::viewer::Viewer;

/// An ABC request (`GET /v1/manager/abc`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AbcQuery {
    /// Only this territory (in the viewer's scope); default: every card the viewer sees.
    pub territory: Option<String>,
    /// Classify as of this day (the window is the full months before it); default today
    /// in China time.
    pub date: Option<NaiveDate>,
}

/// ABC classes of the viewer's cards by the company's settings (by default the seed's
/// 75/20/5 of average monthly sales), as of a day of the company's calendar.
pub fn abc(
    storage: &dyn Storage,
    docs: &DocCache,
    viewer: &Viewer,
    query: &AbcQuery,
    now: i64,
) -> Result<AbcReport> {
    let company = super::settings::company_settings(storage)?.settings;
    let today = query
        .date
        .unwrap_or_else(|| super::settings::company_today(&company, now));
    let scope = scope_cards(
        storage,
        docs.parsed_cards(),
        viewer,
        query.territory.as_deref(),
    )?;
    Ok(classify(&scope.cards, today, &company.abc))
}
