//! The seeds' methods over a manager's cards, computed by core's `analysis` from the same
//! card model a phone uses (each card read from its projection, which is core's own
//! `CardView`): a phone and the dashboard give the same classes for the same cards.

use chrono::NaiveDate;
use fieldbook_core::Card;
use fieldbook_core::analysis::abc::{AbcReport, classify};
use fieldbook_core::store::CardView;
use serde::{Deserialize, Serialize};

use super::scope_filter;
use crate::cache::DocCache;
use crate::error::{Error, Result};
use crate::storage::Storage;
use crate::viewer::Viewer;

/// Cards read per storage call.
const PAGE: u32 = 500;

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

/// The cards of a viewer's scope (or of one territory in it), through core's card model;
/// cards merged into another are left out, as on the phone.
pub(crate) fn scope_cards(
    storage: &dyn Storage,
    viewer: &Viewer,
    territory: Option<&str>,
) -> Result<Vec<Card>> {
    let territories = match territory {
        Some(t) => {
            viewer.require_territory(storage, t)?;
            Some(vec![t.to_owned()])
        }
        None => scope_filter(&viewer.scope(storage)?),
    };
    let mut cards = Vec::new();
    let mut after = String::new();
    loop {
        let page = storage.projections_after(territories.as_deref(), &after, PAGE)?;
        let Some((last, _)) = page.last() else { break };
        after = last.clone();
        for (_, json) in &page {
            let view: CardView = serde_json::from_str(json)
                .map_err(|e| Error::Internal(format!("a projection is not a card view: {e}")))?;
            // A card merged into another is that other card's customer.
            if view.card.basic.merged_into.is_none() {
                cards.push(view.card);
            }
        }
        if page.len() < PAGE as usize {
            break;
        }
    }
    Ok(cards)
}

/// ABC classes of the viewer's cards by the company's settings (by default the seed's
/// 75/20/5 of average monthly sales), as of a day of the company's calendar.
pub fn abc(
    storage: &dyn Storage,
    _docs: &DocCache,
    viewer: &Viewer,
    query: &AbcQuery,
    now: i64,
) -> Result<AbcReport> {
    let company = super::settings::company_settings(storage)?.settings;
    let today = query
        .date
        .unwrap_or_else(|| super::settings::company_today(&company, now));
    let cards = scope_cards(storage, viewer, query.territory.as_deref())?;
    Ok(classify(&cards, today, &company.abc))
}
