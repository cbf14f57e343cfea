//! The seeds' methods over the cards in this store: the store reads the cards, core's
//! [`crate::analysis`] computes (the same code the server runs for managers). The visit
//! plan follows the company's settings as sync delivered them, the same ones its due
//! dates use.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::{Store, StoreReader};
use crate::analysis::abc::{self, AbcReport, effective_class};
use crate::analysis::route::{GeoPoint, RouteSettings};
use crate::analysis::visits::{self, DayPlan};
use crate::company::CompanySettings;
use crate::error::{Error, Result};
use crate::value::Class;
use crate::{Card, CardId};

fn abc_of(cards: &[Card], today: NaiveDate, company: &CompanySettings) -> AbcReport {
    abc::classify(cards, today, &company.abc)
}

pub(super) fn plan_of(
    cards: &[Card],
    company: &CompanySettings,
    today: NaiveDate,
    start: GeoPoint,
    return_to_start: bool,
) -> Result<DayPlan> {
    // The company chooses which class drives the plan (the rep's own where set, or the
    // computed one).
    let classes: HashMap<CardId, Class> = abc_of(cards, today, company)
        .rows
        .iter()
        .map(|r| (r.card.clone(), effective_class(r, company.abc.source)))
        .collect();
    let class_of = |card: &Card| classes.get(&card.id).copied();
    let route = RouteSettings {
        return_to_start,
        ..company.route.clone()
    };
    visits::plan_day(cards, class_of, today, start, &company.visits, &route).map_err(|e| {
        Error::InvalidValue {
            field: "plan".into(),
            reason: e.to_string(),
        }
    })
}

impl Store {
    /// Every card in the store, as its view shows it, except cards merged into another
    /// (their customer is the other card's).
    pub fn all_cards(&mut self) -> Result<Vec<Card>> {
        let ids = self.card_ids()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            let card = self.card(id)?.card;
            if card.basic.merged_into.is_none() {
                out.push(card);
            }
        }
        Ok(out)
    }

    /// ABC classes of the store's cards as of `today` (the full months before it).
    pub fn abc(&mut self, today: NaiveDate) -> Result<AbcReport> {
        self.refresh_lean()?;
        Ok(abc_of(
            self.lean.cards(),
            today,
            &self.settings.company.settings,
        ))
    }

    /// The day's plan: due visits along the shortest route from `start`, prospects off
    /// the plan, dormant customers.
    pub fn day_plan(
        &mut self,
        today: NaiveDate,
        start: GeoPoint,
        return_to_start: bool,
    ) -> Result<DayPlan> {
        self.refresh_lean()?;
        plan_of(
            self.lean.cards(),
            &self.settings.company.settings,
            today,
            start,
            return_to_start,
        )
    }
}

impl StoreReader {
    /// The writer may have adopted new company settings since this connection opened: a
    /// report always follows the ones now stored.
    fn refresh_settings(&mut self) -> Result<()> {
        self.inner.settings = Store::load_settings(&self.inner.conn)?;
        Ok(())
    }

    /// The company settings now in force on this device (see [`Store::company_settings`]),
    /// read afresh: the writer may have adopted new ones since this connection opened.
    pub fn company_settings(&mut self) -> Result<crate::company::RevisedSettings> {
        self.refresh_settings()?;
        Ok(self.inner.settings.company.clone())
    }

    /// See [`Store::abc`].
    pub fn abc(&mut self, today: NaiveDate) -> Result<AbcReport> {
        self.refresh_settings()?;
        self.inner.abc(today)
    }

    /// See [`Store::day_plan`].
    pub fn day_plan(
        &mut self,
        today: NaiveDate,
        start: GeoPoint,
        return_to_start: bool,
    ) -> Result<DayPlan> {
        self.refresh_settings()?;
        self.inner.day_plan(today, start, return_to_start)
    }
}
