//! The sales pipeline (销售漏斗, seed 004 "细分销售工作阶段…查看阶段的停留时间,准确预测销售金额";
//! DOMAIN.md "Pipeline and analysis").
//!
//! Owns the weighted sales forecast over a set of cards (each opportunity's expected
//! amount × its stage's probability, per rep, per territory and in total) and the
//! time opportunities spend in each stage, from dated stage changes the caller derives
//! from history.
//!
//! The stages are the card's opportunity stages ([`OppStage`]: first contact, sample
//! test, negotiation, contract, won, lost). The default probabilities are the seed's
//! figures (30%, 15%, 15%, 40%); the seed gives them as how opportunities spread over
//! the stages, so they are a starting point a company replaces with its own win rates.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::card::Card;
use crate::ids::{CardId, RepId};
use crate::value::{Money, OppStage};

/// The probability that an opportunity in a stage closes, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageProbability {
    /// The stage.
    pub stage: OppStage,
    /// Its probability, 0–100.
    pub percent: u32,
}

/// Pipeline settings: the stages in pipeline order with their probabilities, and when an
/// opportunity counts as stalled. A stage left out of the list weighs nothing (and is
/// reported as unlisted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PipelineSettings {
    /// Stages in the order they are shown.
    pub stages: Vec<StageProbability>,
    /// An open opportunity (not won or lost) in its current stage longer than this many
    /// days is stalled.
    pub stalled_after_days: u32,
}

/// The default of [`PipelineSettings::stalled_after_days`]: a month in one stage.
pub const DEFAULT_STALLED_AFTER_DAYS: u32 = 30;

/// The longest [`PipelineSettings::stalled_after_days`] accepted (ten years).
pub const MAX_STALLED_AFTER_DAYS: u32 = 3_650;

impl Default for PipelineSettings {
    fn default() -> Self {
        let p = |stage, percent| StageProbability { stage, percent };
        PipelineSettings {
            stages: vec![
                p(OppStage::FirstContact, 30),
                p(OppStage::SampleTest, 15),
                p(OppStage::Negotiation, 15),
                p(OppStage::Contract, 40),
                p(OppStage::Won, 100),
                p(OppStage::Lost, 0),
            ],
            stalled_after_days: DEFAULT_STALLED_AFTER_DAYS,
        }
    }
}

/// Why pipeline settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineSettingsError {
    /// No stage at all.
    #[error("the pipeline needs at least one stage")]
    NoStages,
    /// A probability above 100%.
    #[error("the probability of stage {stage} must be 0–100%, not {percent}%")]
    Percent {
        /// The stage's code.
        stage: &'static str,
        /// The probability given.
        percent: u32,
    },
    /// A stage listed twice.
    #[error("stage {0} is listed twice")]
    Duplicate(&'static str),
    /// A stalled threshold of zero days or more than ten years.
    #[error("an opportunity is stalled after 1–3650 days, not {0}")]
    StalledAfter(u32),
}

impl PipelineSettings {
    /// Refuses an empty list, a probability above 100%, a stage listed twice and a
    /// stalled threshold outside 1–3650 days.
    pub fn validate(&self) -> Result<(), PipelineSettingsError> {
        if self.stages.is_empty() {
            return Err(PipelineSettingsError::NoStages);
        }
        if !(1..=MAX_STALLED_AFTER_DAYS).contains(&self.stalled_after_days) {
            return Err(PipelineSettingsError::StalledAfter(self.stalled_after_days));
        }
        for (i, s) in self.stages.iter().enumerate() {
            if s.percent > 100 {
                return Err(PipelineSettingsError::Percent {
                    stage: s.stage.code(),
                    percent: s.percent,
                });
            }
            if self.stages[..i].iter().any(|t| t.stage == s.stage) {
                return Err(PipelineSettingsError::Duplicate(s.stage.code()));
            }
        }
        Ok(())
    }

    /// The probability of a stage, `None` when the stage is not listed.
    pub fn percent(&self, stage: OppStage) -> Option<u32> {
        self.stages
            .iter()
            .find(|s| s.stage == stage)
            .map(|s| s.percent)
    }
}

/// One stage's line of a forecast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageLine {
    /// The stage.
    pub stage: OppStage,
    /// Its probability (`None`: not listed in the settings, weighs nothing).
    pub percent: Option<u32>,
    /// Opportunities in the stage.
    pub opportunities: u32,
    /// Their expected amounts.
    pub amount: Money,
    /// Amount × probability, rounded half up to the fen.
    pub weighted: Money,
}

/// A forecast over some opportunities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForecastLine {
    /// Opportunities with a stage.
    pub opportunities: u32,
    /// Their expected amounts.
    pub amount: Money,
    /// The weighted forecast: Σ amount × probability, rounded once, half up, to the
    /// fen (so it can differ by a fen from the sum of the rounded stage lines).
    pub weighted: Money,
    /// Per stage: the settings' stages in order, then any unlisted stage met.
    pub by_stage: Vec<StageLine>,
    /// Opportunities without a stage (not counted above).
    pub unstaged: u32,
    /// Opportunities counted above without an expected amount (they weigh nothing).
    pub without_amount: u32,
}

/// A rep's forecast: the cards of the territories the rep holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepForecast {
    /// The rep (`None`: cards of no territory, or of a territory nobody holds).
    pub rep: Option<RepId>,
    /// The forecast.
    pub forecast: ForecastLine,
}

/// A territory's forecast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerritoryForecast {
    /// The territory (`None`: cards of no territory).
    pub territory: Option<String>,
    /// The forecast.
    pub forecast: ForecastLine,
}

/// The weighted forecast of a set of cards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forecast {
    /// Every card.
    pub total: ForecastLine,
    /// Per rep, in rep-id order (unassigned last).
    pub by_rep: Vec<RepForecast>,
    /// Per territory, in territory order (no territory last).
    pub by_territory: Vec<TerritoryForecast>,
}

/// Exact running sums: amounts in fen, weights in fen × percent.
#[derive(Default, Clone)]
struct Acc {
    stages: BTreeMap<OppStage, (u32, i128, i128)>,
    unstaged: u32,
    without_amount: u32,
}

impl Acc {
    fn add(&mut self, card: &Card, settings: &PipelineSettings) {
        for opp in &card.opportunities {
            let Some(stage) = opp.stage else {
                self.unstaged += 1;
                continue;
            };
            let amount = match opp.amount {
                Some(a) => i128::from(a.fen()),
                None => {
                    self.without_amount += 1;
                    0
                }
            };
            let percent = i128::from(settings.percent(stage).unwrap_or(0));
            let line = self.stages.entry(stage).or_default();
            line.0 += 1;
            line.1 += amount;
            line.2 += amount * percent;
        }
    }

    fn finish(&self, settings: &PipelineSettings) -> ForecastLine {
        let mut order: Vec<OppStage> = settings.stages.iter().map(|s| s.stage).collect();
        order.extend(
            self.stages
                .keys()
                .filter(|s| settings.percent(**s).is_none()),
        );
        let by_stage: Vec<StageLine> = order
            .iter()
            .map(|&stage| {
                let (n, amount, weight) = self.stages.get(&stage).copied().unwrap_or_default();
                StageLine {
                    stage,
                    percent: settings.percent(stage),
                    opportunities: n,
                    amount: money(amount),
                    weighted: money(round_percent(weight)),
                }
            })
            .collect();
        let (n, amount, weight) = self
            .stages
            .values()
            .fold((0, 0, 0), |(n, a, w), (m, b, v)| (n + m, a + b, w + v));
        ForecastLine {
            opportunities: n,
            amount: money(amount),
            weighted: money(round_percent(weight)),
            by_stage,
            unstaged: self.unstaged,
            without_amount: self.without_amount,
        }
    }
}

fn round_percent(weight: i128) -> i128 {
    (weight + 50) / 100
}

fn money(fen: i128) -> Money {
    // Sums of non-negative amounts; saturate rather than fail on absurd totals.
    Money::from_fen(i64::try_from(fen.max(0)).unwrap_or(i64::MAX)).unwrap_or(Money::ZERO)
}

/// The weighted forecast of `cards`, in total, per territory and per rep; `holders`
/// says which rep holds each territory.
pub fn forecast<C: std::borrow::Borrow<Card>>(
    cards: &[C],
    holders: &BTreeMap<String, RepId>,
    settings: &PipelineSettings,
) -> Forecast {
    let mut total = Acc::default();
    let mut territories: BTreeMap<Option<&str>, Acc> = BTreeMap::new();
    let mut reps: BTreeMap<Option<&RepId>, Acc> = BTreeMap::new();
    for card in cards {
        let card = card.borrow();
        let territory = card.territory.as_deref();
        let rep = territory.and_then(|t| holders.get(t));
        total.add(card, settings);
        territories
            .entry(territory)
            .or_default()
            .add(card, settings);
        reps.entry(rep).or_default().add(card, settings);
    }
    // `None` sorts first in a BTreeMap; the unassigned go last.
    let mut by_territory: Vec<TerritoryForecast> = territories
        .iter()
        .map(|(t, acc)| TerritoryForecast {
            territory: t.map(str::to_string),
            forecast: acc.finish(settings),
        })
        .collect();
    by_territory.rotate_left(usize::from(territories.contains_key(&None)));
    let mut by_rep: Vec<RepForecast> = reps
        .iter()
        .map(|(r, acc)| RepForecast {
            rep: r.cloned(),
            forecast: acc.finish(settings),
        })
        .collect();
    by_rep.rotate_left(usize::from(reps.contains_key(&None)));
    Forecast {
        total: total.finish(settings),
        by_rep,
        by_territory,
    }
}

/// An opportunity entering a stage, as history records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageChange {
    /// The opportunity's item id on its card.
    pub opportunity_id: String,
    /// The stage entered.
    pub stage: OppStage,
    /// When: the device time of the change that put the stage (never earlier than the
    /// changes it was made on; `history::stage_changes`).
    pub at: DateTime<Utc>,
    /// By whom: the change's author (a rep id), if recorded.
    pub rep: Option<String>,
}

/// One spell of an opportunity in a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageSpell {
    /// The stage.
    pub stage: OppStage,
    /// When the opportunity entered it.
    pub entered: DateTime<Utc>,
    /// When it left (`None`: it is still there).
    pub left: Option<DateTime<Utc>>,
    /// Seconds spent, up to `now` for the current stage; 0 in won or lost, which
    /// end the pipeline.
    pub seconds: i64,
}

/// The stages one opportunity went through, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpportunityStages {
    /// The opportunity's item id.
    pub opportunity_id: String,
    /// Its spells, oldest first.
    pub spells: Vec<StageSpell>,
}

/// Time spent in one stage over all opportunities (won and lost have none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageDwell {
    /// The stage.
    pub stage: OppStage,
    /// Spells in the stage (an opportunity that came back counts twice).
    pub spells: u32,
    /// Of which still running at `now`.
    pub open_spells: u32,
    /// Seconds spent in all of them.
    pub total_seconds: i64,
    /// The mean, rounded down.
    pub mean_seconds: i64,
}

/// Time in each stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageTimes {
    /// Per opportunity, in id order.
    pub opportunities: Vec<OpportunityStages>,
    /// Per open stage that has a spell, in stage order.
    pub by_stage: Vec<StageDwell>,
}

fn is_terminal(stage: OppStage) -> bool {
    matches!(stage, OppStage::Won | OppStage::Lost)
}

/// Time spent in each stage from dated stage changes (any order, any mix of
/// opportunities). Per opportunity the changes are taken in time order (changes at
/// the same instant in the order given); a change to the stage it is already in is
/// no move. A spell ends when the next one starts; the current one runs until `now`
/// (never negative), except in won or lost, where time stops.
pub fn stage_times(changes: &[StageChange], now: DateTime<Utc>) -> StageTimes {
    let mut per_opp: BTreeMap<&str, Vec<&StageChange>> = BTreeMap::new();
    for change in changes {
        per_opp
            .entry(&change.opportunity_id)
            .or_default()
            .push(change);
    }
    let mut dwell: BTreeMap<OppStage, StageDwell> = BTreeMap::new();
    let mut opportunities = Vec::with_capacity(per_opp.len());
    for (id, mut list) in per_opp {
        list.sort_by_key(|c| c.at);
        list.dedup_by(|later, earlier| later.stage == earlier.stage);
        let spells: Vec<StageSpell> = list
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let left = list.get(i + 1).map(|n| n.at);
                let seconds = if left.is_none() && is_terminal(c.stage) {
                    0
                } else {
                    (left.unwrap_or(now) - c.at).num_seconds().max(0)
                };
                StageSpell {
                    stage: c.stage,
                    entered: c.at,
                    left,
                    seconds,
                }
            })
            .collect();
        for spell in spells.iter().filter(|s| !is_terminal(s.stage)) {
            let d = dwell.entry(spell.stage).or_insert(StageDwell {
                stage: spell.stage,
                spells: 0,
                open_spells: 0,
                total_seconds: 0,
                mean_seconds: 0,
            });
            d.spells += 1;
            d.open_spells += u32::from(spell.left.is_none());
            d.total_seconds = d.total_seconds.saturating_add(spell.seconds);
        }
        opportunities.push(OpportunityStages {
            opportunity_id: id.to_string(),
            spells,
        });
    }
    let by_stage = dwell
        .into_values()
        .map(|mut d| {
            d.mean_seconds = d.total_seconds / i64::from(d.spells.max(1));
            d
        })
        .collect();
    StageTimes {
        opportunities,
        by_stage,
    }
}

/// An open opportunity that has stayed in its stage longer than the settings allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StalledOpportunity {
    /// The card.
    pub card: CardId,
    /// The customer's name as shown.
    pub customer: String,
    /// The card's territory.
    pub territory: Option<String>,
    /// The rep holding the territory, if known.
    pub rep: Option<RepId>,
    /// The opportunity's item id.
    pub opportunity_id: String,
    /// Its title.
    pub title: Option<String>,
    /// The stage it is stuck in.
    pub stage: OppStage,
    /// When it entered the stage (from history).
    pub since: DateTime<Utc>,
    /// Whole days in the stage at the report's time.
    pub days: i64,
    /// Its expected amount.
    pub amount: Option<Money>,
}

/// The pipeline of a set of cards at one moment: the weighted forecast, the time spent
/// in each stage (from history) and the stalled opportunities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineReport {
    /// The moment the report is for (the end of the day asked for).
    pub as_of: DateTime<Utc>,
    /// The weighted forecast: per stage count, value and weighted value, per rep, per
    /// territory.
    pub forecast: Forecast,
    /// Time spent in each open stage, over every spell of the opportunities on the cards.
    pub time_in_stage: Vec<StageDwell>,
    /// After how many days in one stage an open opportunity is stalled.
    pub stalled_after_days: u32,
    /// The stalled opportunities, longest in their stage first.
    pub stalled: Vec<StalledOpportunity>,
}

/// The pipeline report of `cards` at `as_of`. `stages` holds each card's stage changes
/// (`history::stage_changes` of its document; a card missing from it has none), `holders`
/// which rep holds each territory.
pub fn report<C: std::borrow::Borrow<Card>>(
    cards: &[C],
    stages: &BTreeMap<CardId, Vec<StageChange>>,
    holders: &BTreeMap<String, RepId>,
    as_of: DateTime<Utc>,
    settings: &PipelineSettings,
) -> PipelineReport {
    let limit = i64::from(settings.stalled_after_days) * 86_400;
    let mut dwell: BTreeMap<OppStage, StageDwell> = BTreeMap::new();
    let mut stalled = Vec::new();
    for card in cards {
        let card = card.borrow();
        let Some(changes) = stages.get(&card.id).filter(|c| !c.is_empty()) else {
            continue;
        };
        // Only the opportunities on the card: a removed one left the pipeline.
        let changes: Vec<StageChange> = changes
            .iter()
            .filter(|c| card.opportunities.iter().any(|o| o.id == c.opportunity_id))
            .cloned()
            .collect();
        let times = stage_times(&changes, as_of);
        for d in times.by_stage {
            let sum = dwell.entry(d.stage).or_insert(StageDwell {
                stage: d.stage,
                spells: 0,
                open_spells: 0,
                total_seconds: 0,
                mean_seconds: 0,
            });
            sum.spells += d.spells;
            sum.open_spells += d.open_spells;
            sum.total_seconds = sum.total_seconds.saturating_add(d.total_seconds);
        }
        for opp in &times.opportunities {
            let Some(item) = card
                .opportunities
                .iter()
                .find(|o| o.id == opp.opportunity_id)
            else {
                continue;
            };
            let Some(current) = opp.spells.last() else {
                continue;
            };
            // The card's own stage decides; a history that ends elsewhere dates nothing.
            if item.value.stage != Some(current.stage)
                || is_terminal(current.stage)
                || current.seconds <= limit
            {
                continue;
            }
            stalled.push(StalledOpportunity {
                card: card.id.clone(),
                customer: card.display_name().to_owned(),
                territory: card.territory.clone(),
                rep: card
                    .territory
                    .as_ref()
                    .and_then(|t| holders.get(t))
                    .cloned(),
                opportunity_id: item.id.clone(),
                title: item.value.title.clone(),
                stage: current.stage,
                since: current.entered,
                days: current.seconds / 86_400,
                amount: item.value.amount,
            });
        }
    }
    stalled.sort_by(|a, b| {
        (b.days, &a.card, &a.opportunity_id).cmp(&(a.days, &b.card, &b.opportunity_id))
    });
    let time_in_stage = dwell
        .into_values()
        .map(|mut d| {
            d.mean_seconds = d.total_seconds / i64::from(d.spells.max(1));
            d
        })
        .collect();
    PipelineReport {
        as_of,
        forecast: forecast(cards, holders, settings),
        time_in_stage,
        stalled_after_days: settings.stalled_after_days,
        stalled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::card_id;
    use crate::card::{Keyed, Opportunity};
    use chrono::TimeZone;

    fn yuan(y: i64) -> Money {
        Money::yuan(y).expect("amount")
    }

    fn opp(title: &str, stage: Option<OppStage>, amount: Option<i64>) -> Keyed<Opportunity> {
        Keyed {
            id: format!("o-{title}"),
            value: Opportunity {
                title: Some(title.into()),
                stage,
                amount: amount.map(yuan),
                ..Default::default()
            },
        }
    }

    fn card(tag: &str, name: &str, territory: Option<&str>, opps: Vec<Keyed<Opportunity>>) -> Card {
        let mut card = Card::new();
        card.id = card_id(tag);
        card.basic.name = Some(name.into());
        card.territory = territory.map(str::to_string);
        card.opportunities = opps;
        card
    }

    fn rep(s: &str) -> RepId {
        s.parse().expect("rep id")
    }

    fn seed_cards() -> Vec<Card> {
        use OppStage::*;
        vec![
            card(
                "a",
                "上海华东食品有限公司",
                Some("上海浦东"),
                vec![
                    opp("年度酱油供货", Some(FirstContact), Some(100_000)),
                    opp("节日礼盒", Some(Contract), Some(50_000)),
                ],
            ),
            card(
                "b",
                "杭州西湖食品批发部",
                Some("杭州"),
                vec![
                    opp("新品试销", Some(SampleTest), Some(40_000)),
                    opp("调味品全线", Some(Negotiation), Some(60_000)),
                    opp("去年的单子", Some(Won), Some(30_000)),
                    opp("被竞品抢走", Some(Lost), Some(90_000)),
                ],
            ),
            card(
                "c",
                "苏州姑苏便利店",
                Some("苏州"),
                vec![
                    opp("待定", None, Some(10_000)),
                    opp("金额未知", Some(Contract), None),
                ],
            ),
            card(
                "d",
                "无区域客户",
                None,
                vec![opp("零星采购", Some(FirstContact), Some(1_000))],
            ),
        ]
    }

    #[test]
    fn weighted_forecast_per_rep_territory_and_total() {
        let holders = BTreeMap::from([
            ("上海浦东".to_string(), rep("zhang.wei")),
            ("杭州".to_string(), rep("zhang.wei")),
            ("苏州".to_string(), rep("li.na")),
        ]);
        let f = forecast(&seed_cards(), &holders, &PipelineSettings::default());
        // 100,000×30% + 50,000×40% + 40,000×15% + 60,000×15% + 30,000×100%
        //   + 90,000×0% + 0×40% + 1,000×30%
        // = 30,000 + 20,000 + 6,000 + 9,000 + 30,000 + 0 + 0 + 300 = ¥95,300.
        assert_eq!(f.total.weighted, yuan(95_300));
        assert_eq!(f.total.amount, yuan(371_000));
        assert_eq!(f.total.opportunities, 8);
        assert_eq!((f.total.unstaged, f.total.without_amount), (1, 1));
        let contract = f
            .total
            .by_stage
            .iter()
            .find(|s| s.stage == OppStage::Contract)
            .expect("contract");
        assert_eq!(
            (contract.opportunities, contract.amount, contract.weighted),
            (2, yuan(50_000), yuan(20_000))
        );
        let stages: Vec<OppStage> = f.total.by_stage.iter().map(|s| s.stage).collect();
        assert_eq!(stages, OppStage::ALL);

        let reps: Vec<(Option<RepId>, Money)> = f
            .by_rep
            .iter()
            .map(|r| (r.rep.clone(), r.forecast.weighted))
            .collect();
        assert_eq!(
            reps,
            vec![
                (Some(rep("li.na")), Money::ZERO),
                (Some(rep("zhang.wei")), yuan(95_000)),
                (None, yuan(300)),
            ]
        );
        let territories: Vec<(Option<&str>, Money)> = f
            .by_territory
            .iter()
            .map(|t| (t.territory.as_deref(), t.forecast.weighted))
            .collect();
        assert_eq!(
            territories,
            vec![
                (Some("上海浦东"), yuan(50_000)),
                (Some("杭州"), yuan(45_000)),
                (Some("苏州"), Money::ZERO),
                (None, yuan(300)),
            ]
        );
    }

    #[test]
    fn probabilities_are_settings_and_unlisted_stages_weigh_nothing() {
        let settings = PipelineSettings {
            stages: vec![
                StageProbability {
                    stage: OppStage::Contract,
                    percent: 90,
                },
                StageProbability {
                    stage: OppStage::Negotiation,
                    percent: 50,
                },
            ],
            ..PipelineSettings::default()
        };
        assert_eq!(settings.validate(), Ok(()));
        let f = forecast(&seed_cards(), &BTreeMap::new(), &settings);
        // 50,000×90% + 60,000×50% = ¥75,000; the rest are in unlisted stages.
        assert_eq!(f.total.weighted, yuan(75_000));
        let listed: Vec<(OppStage, Option<u32>)> = f
            .total
            .by_stage
            .iter()
            .map(|s| (s.stage, s.percent))
            .collect();
        assert_eq!(
            listed[..2],
            [
                (OppStage::Contract, Some(90)),
                (OppStage::Negotiation, Some(50))
            ]
        );
        assert!(listed[2..].iter().all(|(_, p)| p.is_none()));
        assert_eq!(
            f.by_rep.len(),
            1,
            "nobody holds a territory: one unassigned line"
        );
    }

    #[test]
    fn the_forecast_rounds_once_to_the_fen() {
        // ¥0.01 at 30% is 0.3 fen, three of them 0.9 fen: the total rounds to 1 fen,
        // while each one alone rounds to 0.
        let opps = (0..3)
            .map(|i| Keyed {
                id: format!("o{i}"),
                value: Opportunity {
                    title: Some("小单".into()),
                    stage: Some(OppStage::FirstContact),
                    amount: Some(Money::from_fen(1).expect("fen")),
                    ..Default::default()
                },
            })
            .collect();
        let f = forecast(
            &[card("a", "小卖部", None, opps)],
            &BTreeMap::new(),
            &PipelineSettings::default(),
        );
        assert_eq!(f.total.weighted.fen(), 1);
    }

    #[test]
    fn settings_that_do_not_add_up_are_refused() {
        assert_eq!(PipelineSettings::default().validate(), Ok(()));
        assert_eq!(
            PipelineSettings {
                stages: vec![],
                ..PipelineSettings::default()
            }
            .validate(),
            Err(PipelineSettingsError::NoStages)
        );
        let over = PipelineSettings {
            stages: vec![StageProbability {
                stage: OppStage::Won,
                percent: 101,
            }],
            ..PipelineSettings::default()
        };
        let err = over.validate().expect_err("refused");
        assert_eq!(
            err,
            PipelineSettingsError::Percent {
                stage: "won",
                percent: 101
            }
        );
        assert!(err.to_string().contains("0–100%"));
        let twice = PipelineSettings {
            stages: vec![
                StageProbability {
                    stage: OppStage::Won,
                    percent: 100,
                },
                StageProbability {
                    stage: OppStage::Won,
                    percent: 90,
                },
            ],
            ..PipelineSettings::default()
        };
        assert_eq!(
            twice.validate(),
            Err(PipelineSettingsError::Duplicate("won"))
        );
        let json: PipelineSettings =
            serde_json::from_str(r#"{"stages":[{"stage":"contract","percent":80}]}"#)
                .expect("settings json");
        assert_eq!(json.percent(OppStage::Contract), Some(80));
    }

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0)
            .single()
            .expect("time")
    }

    fn change(id: &str, stage: OppStage, when: DateTime<Utc>) -> StageChange {
        StageChange {
            opportunity_id: id.into(),
            stage,
            at: when,
            rep: None,
        }
    }

    #[test]
    fn time_in_each_stage() {
        use OppStage::*;
        const DAY: i64 = 86_400;
        let now = at(30, 0);
        // Given out of order, with a repeated stage and a trip back to sample test.
        let changes = vec![
            change("o-1", Negotiation, at(11, 0)),
            change("o-1", FirstContact, at(1, 0)),
            change("o-1", SampleTest, at(4, 0)),
            change("o-1", SampleTest, at(6, 0)),
            change("o-1", SampleTest, at(15, 0)),
            change("o-1", Won, at(20, 0)),
            change("o-2", FirstContact, at(10, 12)),
            change("o-2", SampleTest, at(12, 0)),
        ];
        let t = stage_times(&changes, now);
        let o1 = &t.opportunities[0];
        assert_eq!(o1.opportunity_id, "o-1");
        let spells: Vec<(OppStage, i64)> = o1.spells.iter().map(|s| (s.stage, s.seconds)).collect();
        assert_eq!(
            spells,
            vec![
                (FirstContact, 3 * DAY),
                (SampleTest, 7 * DAY),
                (Negotiation, 4 * DAY),
                (SampleTest, 5 * DAY),
                (Won, 0),
            ]
        );
        assert_eq!(o1.spells[4].left, None);
        let o2 = &t.opportunities[1];
        assert_eq!(o2.spells[1].left, None);
        assert_eq!(
            o2.spells[1].seconds,
            18 * DAY,
            "the current stage runs until now"
        );
        let dwell: Vec<(OppStage, u32, u32, i64, i64)> = t
            .by_stage
            .iter()
            .map(|d| {
                (
                    d.stage,
                    d.spells,
                    d.open_spells,
                    d.total_seconds,
                    d.mean_seconds,
                )
            })
            .collect();
        assert_eq!(
            dwell,
            vec![
                (
                    FirstContact,
                    2,
                    0,
                    3 * DAY + DAY + 12 * 3600,
                    (4 * DAY + 12 * 3600) / 2
                ),
                (SampleTest, 3, 1, 30 * DAY, 10 * DAY),
                (Negotiation, 1, 0, 4 * DAY, 4 * DAY),
            ]
        );
    }

    #[test]
    fn a_stage_entered_after_now_counts_zero_and_nothing_counts_nothing() {
        let t = stage_times(&[change("o", OppStage::Contract, at(30, 0))], at(29, 0));
        assert_eq!(t.opportunities[0].spells[0].seconds, 0);
        let empty = stage_times(&[], at(1, 0));
        assert!(empty.opportunities.is_empty() && empty.by_stage.is_empty());
    }

    #[test]
    fn the_report_lists_stalled_opportunities_from_history() {
        use OppStage::*;
        let cards = seed_cards();
        let (a, b) = (cards[0].id.clone(), cards[1].id.clone());
        let stages = BTreeMap::from([
            (
                a.clone(),
                vec![
                    // 年度酱油供货: in first contact since 11-01, 29 days at 11-30.
                    change("o-年度酱油供货", FirstContact, at(1, 0)),
                    // 节日礼盒: contract since 11-25, 5 days.
                    change("o-节日礼盒", Negotiation, at(2, 0)),
                    change("o-节日礼盒", Contract, at(25, 0)),
                ],
            ),
            (
                b,
                vec![
                    // 新品试销: sample test for 40 days (from October).
                    StageChange {
                        at: Utc
                            .with_ymd_and_hms(2026, 10, 21, 0, 0, 0)
                            .single()
                            .expect("t"),
                        ..change("o-新品试销", SampleTest, at(1, 0))
                    },
                    // 去年的单子: won long ago, never stalled.
                    StageChange {
                        at: Utc
                            .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
                            .single()
                            .expect("t"),
                        ..change("o-去年的单子", Won, at(1, 0))
                    },
                    // An opportunity no longer on the card.
                    change("o-已删除", FirstContact, at(1, 0)),
                ],
            ),
        ]);
        let settings = PipelineSettings {
            stalled_after_days: 28,
            ..PipelineSettings::default()
        };
        let r = report(&cards, &stages, &BTreeMap::new(), at(30, 0), &settings);
        let stalled: Vec<(&str, OppStage, i64)> = r
            .stalled
            .iter()
            .map(|s| (s.opportunity_id.as_str(), s.stage, s.days))
            .collect();
        assert_eq!(
            stalled,
            vec![
                ("o-新品试销", SampleTest, 40),
                ("o-年度酱油供货", FirstContact, 29)
            ]
        );
        assert_eq!(r.stalled[1].card, a);
        assert_eq!(r.stalled[1].customer, "上海华东食品有限公司");
        let dwell: Vec<(OppStage, u32, i64)> = r
            .time_in_stage
            .iter()
            .map(|d| (d.stage, d.spells, d.total_seconds / 86_400))
            .collect();
        assert_eq!(
            dwell,
            vec![
                (FirstContact, 1, 29),
                (SampleTest, 1, 40),
                (Negotiation, 1, 23),
                (Contract, 1, 5)
            ]
        );
        assert_eq!(r.forecast, forecast(&cards, &BTreeMap::new(), &settings));
        let longer = PipelineSettings {
            stalled_after_days: 30,
            ..settings
        };
        let r = report(&cards, &stages, &BTreeMap::new(), at(30, 0), &longer);
        assert_eq!(r.stalled.len(), 1);
        assert_eq!(
            PipelineSettings {
                stalled_after_days: 0,
                ..longer
            }
            .validate(),
            Err(PipelineSettingsError::StalledAfter(0))
        );
    }
}
