//! The pipeline and activity reports over the cards in this store, with their history:
//! core's [`crate::history`] derives what each change did and when each opportunity
//! entered each stage (once per change, kept by [`super::facts`]), and core's
//! [`crate::analysis::pipeline`] and [`crate::analysis::activity`] compute — the same code
//! the server runs over the same documents, so the phone's numbers are the manager's.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::{Store, StoreReader};
use crate::analysis::activity::{self, ActivityReport, Period};
use crate::analysis::pipeline::{self, PipelineReport, PipelineSettings};
use crate::error::{Error, Result};
use crate::{Card, RepId};

fn invalid(field: &str, e: impl std::fmt::Display) -> Error {
    Error::InvalidValue {
        field: field.into(),
        reason: e.to_string(),
    }
}

impl Store {
    /// Who holds each territory as far as this device knows: the latest whole-territory
    /// assignment the server sent, else (on a rep's device) the device's own rep for the
    /// territories of its cards, which it holds or it would not have them.
    pub(super) fn territory_holders(&self, cards: &[Card]) -> Result<BTreeMap<String, RepId>> {
        let mut holders = BTreeMap::new();
        let mut stmt = self.conn.prepare(
            "SELECT territory, to_person FROM card_assignments WHERE card_id = '' \
             ORDER BY at, territory",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (territory, to) = row?;
            if let Ok(rep) = to.parse::<RepId>() {
                holders.insert(territory, rep);
            }
        }
        // Read from the file, not the identity this connection opened with: a reader
        // opened before the rep was set would not know them.
        let stored_rep: Option<RepId> = Self::meta(&self.conn, "rep")?
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse().ok());
        let own_rep = match self.role()?.as_deref() {
            None | Some("rep") => stored_rep,
            Some(_) => None,
        };
        if let Some(rep) = own_rep {
            for t in cards.iter().filter_map(|c| c.territory.as_ref()) {
                holders.entry(t.clone()).or_insert_with(|| rep.clone());
            }
        }
        Ok(holders)
    }

    /// The pipeline at the end of `date` (local, `utc_offset_minutes` east of UTC): the
    /// weighted forecast per stage, rep and territory, time in each stage from the cards'
    /// history, the stalled opportunities; stage probabilities and the stalled threshold
    /// are the company's settings as sync delivered them.
    pub fn pipeline(&mut self, date: NaiveDate, utc_offset_minutes: i32) -> Result<PipelineReport> {
        let settings = self.settings.company.settings.pipeline.clone();
        self.pipeline_with(date, utc_offset_minutes, &settings)
    }

    /// The company's offset from UTC (its visit calendar's), the default of every report.
    pub fn company_utc_offset_minutes(&self) -> i32 {
        self.settings.company.settings.visits.utc_offset_minutes
    }

    /// [`Store::pipeline`] with other settings (to preview a change of them).
    pub fn pipeline_with(
        &mut self,
        date: NaiveDate,
        utc_offset_minutes: i32,
        settings: &PipelineSettings,
    ) -> Result<PipelineReport> {
        settings.validate().map_err(|e| invalid("pipeline", e))?;
        activity::check_range(date, date, utc_offset_minutes)
            .map_err(|e| invalid("pipeline", e))?;
        self.refresh_stage_changes()?;
        self.refresh_lean()?;
        let cards = self.lean.cards();
        let holders = self.territory_holders(cards)?;
        let as_of = activity::day_start(date, utc_offset_minutes) + chrono::Duration::days(1);
        Ok(pipeline::report(
            cards,
            self.lean.stage_changes(),
            &holders,
            as_of,
            settings,
        ))
    }

    /// Activity per rep over `from..=to` (local days, `utc_offset_minutes` east of UTC) in
    /// buckets of `period`, from the history of the cards on this device.
    pub fn activity(
        &mut self,
        period: Period,
        from: NaiveDate,
        to: NaiveDate,
        utc_offset_minutes: i32,
    ) -> Result<ActivityReport> {
        activity::check_range(from, to, utc_offset_minutes).map_err(|e| invalid("activity", e))?;
        let derived = self.refresh_activity()?;
        let events = self.lean.activity_events().chain(&derived);
        activity::report(events, period, from, to, utc_offset_minutes)
            .map_err(|e| invalid("activity", e))
    }
}

impl StoreReader {
    /// See [`Store::pipeline`]; the company settings are read again (the writer may have
    /// adopted new ones since this connection opened).
    pub fn pipeline(&mut self, date: NaiveDate, utc_offset_minutes: i32) -> Result<PipelineReport> {
        self.inner.settings = Store::load_settings(&self.inner.conn)?;
        self.inner.pipeline(date, utc_offset_minutes)
    }

    /// See [`Store::company_utc_offset_minutes`].
    pub fn company_utc_offset_minutes(&mut self) -> Result<i32> {
        self.inner.settings = Store::load_settings(&self.inner.conn)?;
        Ok(self.inner.company_utc_offset_minutes())
    }

    /// See [`Store::activity`].
    pub fn activity(
        &mut self,
        period: Period,
        from: NaiveDate,
        to: NaiveDate,
        utc_offset_minutes: i32,
    ) -> Result<ActivityReport> {
        self.inner.activity(period, from, to, utc_offset_minutes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::{Keyed, Opportunity, Visit};
    use crate::value::{Money, OppStage, VisitKind};
    use chrono::{Days, Utc};

    #[test]
    fn the_device_reports_come_from_its_cards_history() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(dir.path().join("s.db")).expect("open");
        store
            .init_identity("zhang.wei".parse().expect("rep"))
            .expect("init");
        let id = store
            .create(|c| {
                c.basic.name = Some("杭州西湖食品批发部".into());
                c.territory = Some("杭州".into());
                c.opportunities.push(Keyed {
                    id: "o-1".into(),
                    value: Opportunity {
                        title: Some("调味品全线".into()),
                        stage: Some(OppStage::Negotiation),
                        amount: Some(Money::yuan(60_000).expect("amount")),
                        ..Default::default()
                    },
                });
                Ok(())
            })
            .expect("create");
        store
            .update(&id, |c| {
                c.opportunities[0].value.stage = Some(OppStage::Contract);
                c.sales.insert(
                    "2026-11".parse().expect("month"),
                    Money::yuan(8_000).expect("m"),
                );
                Ok(())
            })
            .expect("sign");
        store
            .update(&id, |c| {
                c.add_visit(Visit {
                    at: Some(Utc::now()),
                    kind: Some(VisitKind::Visit),
                    ..Default::default()
                });
                Ok(())
            })
            .expect("visit");

        let today = activity::local_date(Utc::now(), 480);
        let (from, to) = (today - Days::new(1), today + Days::new(1));
        let r = store
            .activity(Period::Day, from, to, 480)
            .expect("activity");
        assert_eq!(r.reps.len(), 1);
        assert_eq!(r.reps[0].buckets.len(), 3);
        let t = &r.reps[0].totals;
        assert_eq!(
            (t.changes, t.new_customers, t.cards_updated, t.visits),
            (3, 1, 1, 1)
        );
        assert_eq!((t.opportunities_moved, t.contracts, t.orders), (1, 1, 1));

        let p = store.pipeline(today, 480).expect("pipeline");
        assert_eq!(p.forecast.total.weighted, Money::yuan(24_000).expect("m"));
        assert_eq!(
            p.forecast.by_rep[0].rep.as_ref().map(|r| r.as_str()),
            Some("zhang.wei"),
            "a rep's device holds its cards' territories"
        );
        let spells: Vec<(OppStage, u32, u32)> = p
            .time_in_stage
            .iter()
            .map(|d| (d.stage, d.spells, d.open_spells))
            .collect();
        assert_eq!(
            spells,
            vec![(OppStage::Negotiation, 1, 0), (OppStage::Contract, 1, 1)]
        );
        assert!(p.stalled.is_empty());
        let err = store
            .activity(Period::Day, to, from, 480)
            .expect_err("reversed");
        assert_eq!(err.code(), "input.invalid_value");
    }
}
