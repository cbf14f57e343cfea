//! Credit for a manager (信用管理): the credit report of the viewer's cards — limits,
//! exposure, what needs a sales manager's approval and why, approvals recorded, credit
//! reviews due and overdue, suspended supply — and one card's transaction card
//! (客户交易卡). Read through core's card model from the projections and computed by
//! core's `analysis::credit` with the company's settings, the code and the settings a phone
//! runs with: the two give the same report.
//!
//! Approving is not done here: an approval is a change the manager's device makes
//! (`Store::approve_credit`), checked at push (`crate::approval`).

use chrono::NaiveDate;
use fieldbook_core::analysis::credit::{
    CreditReport, TransactionCard, credit_report, transaction_card,
};
use fieldbook_core::store::CardView;
use serde::{Deserialize, Serialize};

use super::scope_cards::scope_cards;
use crate::cache::DocCache;
use crate::error::{Error, Result};
use crate::storage::Storage;
use crate::viewer::Viewer;

/// A credit request (`GET /v1/manager/credit`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CreditQuery {
    /// Only this territory (in the viewer's scope); default: every card the viewer sees.
    pub territory: Option<String>,
    /// The report's day (reviews due, classes); default today in the company's calendar.
    pub date: Option<NaiveDate>,
}

/// The credit report of the viewer's cards on the query's day.
pub fn credit(
    storage: &dyn Storage,
    docs: &DocCache,
    viewer: &Viewer,
    query: &CreditQuery,
    now: i64,
) -> Result<CreditReport> {
    let company = super::settings::company_settings(storage)?.settings;
    let day = query
        .date
        .unwrap_or_else(|| super::settings::company_today(&company, now));
    let scope = scope_cards(
        storage,
        docs.parsed_cards(),
        viewer,
        query.territory.as_deref(),
    )?;
    Ok(credit_report(
        &scope.cards,
        day,
        &company.credit,
        &company.abc,
    ))
}

/// One card's transaction card, for a viewer whose scope holds it (`access.denied`
/// otherwise, as for a card that does not exist).
pub fn card_transaction(
    storage: &dyn Storage,
    viewer: &Viewer,
    card_id: &str,
) -> Result<TransactionCard> {
    let indexed = storage.index_card(card_id)?.ok_or(Error::AccessDenied)?;
    if !viewer.scope(storage)?.contains(&indexed.territory) {
        return Err(Error::AccessDenied);
    }
    let projection = storage.projection(card_id)?.ok_or(Error::AccessDenied)?;
    let view: CardView = serde_json::from_str(&projection)
        .map_err(|e| Error::Internal(format!("a projection is not a card view: {e}")))?;
    Ok(transaction_card(&view.card))
}
