//! The sales pipeline over a manager's cards: core's `analysis::pipeline::report` over the
//! cards of the viewer's scope and each card's stage changes (core's
//! `history::stage_changes` of its document, kept with the card's index row at every
//! commit that touched its opportunities; `manager::scope_cards`) —
//! the same functions over the same documents a phone's `Store::pipeline` runs, so the
//! forecast, the time in each stage and the stalled list agree with the rep's phone.
//! Territory holders are the server's territory owners; probabilities, the stalled
//! threshold and the default calendar are the company settings the phones receive.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use fieldbook_core::RepId;
use fieldbook_core::analysis::activity::{check_range, day_start, local_date};
use fieldbook_core::analysis::pipeline::{PipelineReport, report};
use serde::{Deserialize, Serialize};

use super::scope_cards::scope_cards;
use crate::cache::DocCache;
use crate::error::{Error, Result};
use crate::storage::Storage;
use crate::viewer::Viewer;

/// A pipeline request (`GET /v1/manager/pipeline`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PipelineQuery {
    /// Only this territory (in the viewer's scope); default: every card the viewer sees.
    pub territory: Option<String>,
    /// As of the end of this day (local); default today.
    pub date: Option<NaiveDate>,
    /// Offset of the local calendar from UTC in minutes (default: the company's, its
    /// visit calendar's).
    pub utc_offset_minutes: Option<i32>,
}

/// The pipeline of the viewer's cards (or of one territory in scope).
pub fn pipeline(
    storage: &dyn Storage,
    docs: &DocCache,
    viewer: &Viewer,
    query: &PipelineQuery,
    now: i64,
) -> Result<PipelineReport> {
    let company = super::settings::company_settings(storage)?.settings;
    let offset = query
        .utc_offset_minutes
        .unwrap_or(company.visits.utc_offset_minutes);
    let today = local_date(super::time(now).unwrap_or_default(), offset);
    let date = query.date.unwrap_or(today);
    check_range(date, date, offset).map_err(|e| Error::Invalid(e.to_string()))?;
    let scope = scope_cards(
        storage,
        docs.parsed_cards(),
        viewer,
        query.territory.as_deref(),
    )?;
    let holders: BTreeMap<String, RepId> = storage
        .territories()?
        .into_iter()
        .filter_map(|t| Some((t.id, t.owner?.parse().ok()?)))
        .collect();
    let as_of = day_start(date, offset) + chrono::Duration::days(1);
    Ok(report(
        &scope.cards,
        &scope.stages,
        &holders,
        as_of,
        &company.pipeline,
    ))
}
