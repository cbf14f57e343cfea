//! The seeds' methods over the cards in this store: the store reads the cards, core's
//! [`crate::analysis`] computes (the same code the server runs for managers). The visit
//! plan's intervals are this store's settings, the same ones its due dates use.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::{Store, StoreReader};
use crate::analysis::abc::{self, AbcReport, AbcSettings, ClassSource, effective_class};
use crate::analysis::route::{GeoPoint, RouteSettings};
use crate::analysis::visits::{self, DayPlan, VisitSettings};
use crate::error::{Error, Result};
use crate::settings::Settings;
use crate::value::Class;
use crate::{Card, CardId};

impl Settings {
    /// The visit plan's settings with this store's intervals per class (the rest: the
    /// seed's defaults).
    pub fn visit_settings(&self) -> VisitSettings {
        VisitSettings {
            interval_days_a: self.visit_days_a,
            interval_days_b: self.visit_days_b,
            interval_days_c: self.visit_days_c,
            interval_days_d: self.visit_days_d,
            interval_days_unclassified: self.visit_days_unclassified,
            ..VisitSettings::default()
        }
    }
}

fn abc_of(cards: &[Card], today: NaiveDate) -> AbcReport {
    abc::classify(cards, today, &AbcSettings::default())
}

fn plan_of(
    cards: &[Card],
    settings: &Settings,
    today: NaiveDate,
    start: GeoPoint,
    return_to_start: bool,
) -> Result<DayPlan> {
    // A class the rep set by hand drives the plan; the computed one where none is set.
    let classes: HashMap<CardId, Class> = abc_of(cards, today)
        .rows
        .iter()
        .map(|r| (r.card.clone(), effective_class(r, ClassSource::Manual)))
        .collect();
    let class_of = |card: &Card| classes.get(&card.id).copied();
    let route = RouteSettings {
        return_to_start,
        ..RouteSettings::default()
    };
    visits::plan_day(
        cards,
        class_of,
        today,
        start,
        &settings.visit_settings(),
        &route,
    )
    .map_err(|e| Error::InvalidValue {
        field: "plan".into(),
        reason: e.to_string(),
    })
}

impl Store {
    /// Every card in the store, as its view shows it.
    pub fn all_cards(&mut self) -> Result<Vec<Card>> {
        let ids = self.card_ids()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            out.push(self.card(id)?.card);
        }
        Ok(out)
    }

    /// ABC classes of the store's cards as of `today` (the full months before it).
    pub fn abc(&mut self, today: NaiveDate) -> Result<AbcReport> {
        Ok(abc_of(&self.all_cards()?, today))
    }

    /// The day's plan: due visits along the shortest route from `start`, prospects off
    /// the plan, dormant customers.
    pub fn day_plan(
        &mut self,
        today: NaiveDate,
        start: GeoPoint,
        return_to_start: bool,
    ) -> Result<DayPlan> {
        let cards = self.all_cards()?;
        plan_of(&cards, &self.settings, today, start, return_to_start)
    }
}

impl StoreReader {
    /// See [`Store::abc`].
    pub fn abc(&mut self, today: NaiveDate) -> Result<AbcReport> {
        self.inner.abc(today)
    }

    /// See [`Store::day_plan`].
    pub fn day_plan(
        &mut self,
        today: NaiveDate,
        start: GeoPoint,
        return_to_start: bool,
    ) -> Result<DayPlan> {
        self.inner.day_plan(today, start, return_to_start)
    }
}
