//! ABC classification of customers by sales (ABC分类法, seed 002 "客户管理分析的流程",
//! DOMAIN.md "Classifications").
//!
//! Owns the computed class of each card from its monthly sales figures, set next to
//! the class the rep set by hand (`classification.abc`), and which of the two drives
//! the visit plan ([`ClassSource`], [`effective_class`]).
//!
//! The method: each customer's average monthly sales over a window of full months
//! (the last 3 before "today" by default, 3–6 configurable; a month without a figure
//! counts as zero), sorted descending; A covers the first ≈75% of cumulative sales, B
//! the next ≈20%, C the rest.
//!
//! **The boundary customer.** A customer is placed by the cumulative share of the
//! customers *before* it: A while that share is below the A threshold, B while it is
//! below A + B, C otherwise. So the customer whose sales straddle a threshold belongs
//! to the upper class. That is what the seed's worked example does: the top 4 of 20
//! customers make 80% and are all A, although 80% is past 75% (a rule on the share
//! *including* the customer would demote the 4th to B and leave A with less than the
//! 75% it is meant to cover). It also means a rep with any sales has at least one A.
//!
//! **Ties** are one group: customers with the same sales get the class of the first
//! of them, so a class never depends on card ids; within a group the order (and
//! `rank`) is by card id, so the result is deterministic. Customers with no sales in
//! the window are C (the seed's C covers new customers); if nobody sold anything,
//! everyone is C.

use std::borrow::Borrow;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::ratio::Ratio;
use crate::card::Card;
use crate::ids::{CardId, YearMonth};
use crate::value::{Class, Money};

/// Which class drives the visit plan and the credit policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClassSource {
    /// The class the rep set on the card (`classification.abc`), or the computed one
    /// when the card has none.
    #[default]
    Manual,
    /// The class computed from sales.
    Computed,
}

/// ABC settings; `Default` is DOMAIN.md's starting point (3 months, 75/20/5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AbcSettings {
    /// Full months averaged, 3–6.
    pub months: u32,
    /// Cumulative share of sales class A covers, in percent.
    pub a_percent: u32,
    /// Share class B covers after A, in percent.
    pub b_percent: u32,
    /// Share class C covers, in percent; the three add up to 100.
    pub c_percent: u32,
    /// Which class drives the plan.
    pub source: ClassSource,
}

impl Default for AbcSettings {
    fn default() -> Self {
        AbcSettings {
            months: 3,
            a_percent: 75,
            b_percent: 20,
            c_percent: 5,
            source: ClassSource::Manual,
        }
    }
}

/// Why ABC settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbcSettingsError {
    /// The window is not 3–6 months.
    #[error("the ABC window must be 3 to 6 months, not {0}")]
    Months(u32),
    /// The three shares do not add up to 100%.
    #[error("the A, B and C shares must add up to 100%, not {0}%")]
    Shares(u64),
    /// Class A would cover nothing.
    #[error("class A must cover more than 0% of sales")]
    EmptyA,
}

impl AbcSettings {
    /// Refuses a window outside 3–6 months, shares that do not add up to 100, or an
    /// A share of 0.
    pub fn validate(&self) -> Result<(), AbcSettingsError> {
        if !(3..=6).contains(&self.months) {
            return Err(AbcSettingsError::Months(self.months));
        }
        let sum = u64::from(self.a_percent) + u64::from(self.b_percent) + u64::from(self.c_percent);
        if sum != 100 {
            return Err(AbcSettingsError::Shares(sum));
        }
        if self.a_percent == 0 {
            return Err(AbcSettingsError::EmptyA);
        }
        Ok(())
    }
}

/// One card's line of the ABC analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbcRow {
    /// The card.
    pub card: CardId,
    /// The customer's name, for display.
    pub name: Option<String>,
    /// 1 for the largest customer; ties in card-id order.
    pub rank: u32,
    /// Sales over the window's months.
    pub window_sales: Money,
    /// Average monthly sales: `window_sales ÷ months`, rounded half up to the fen
    /// (for display; the classification uses the exact `window_sales`).
    pub monthly_average: Money,
    /// Share of all sales in the window.
    pub share: Ratio,
    /// Cumulative share up to and including this customer.
    pub cumulative_share: Ratio,
    /// The class computed from sales.
    pub computed: Class,
    /// The class the rep set on the card, if any.
    pub manual: Option<Class>,
}

/// The ABC analysis of a set of cards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbcReport {
    /// The window's months, oldest first.
    pub window: Vec<YearMonth>,
    /// Sales of every card over the window.
    pub total_sales: Money,
    /// One row per card, largest first.
    pub rows: Vec<AbcRow>,
}

/// The window: the `months` full months before the month of `today`, oldest first.
pub fn window(today: NaiveDate, months: u32) -> Vec<YearMonth> {
    let mut out = Vec::new();
    let mut month = YearMonth::of(today);
    for _ in 0..months {
        month = month.prev();
        out.push(month);
    }
    out.reverse();
    out
}

fn to_money(fen: i128) -> Money {
    // Sums of non-negative i64 amounts; saturate rather than fail on absurd totals.
    Money::from_fen(i64::try_from(fen).unwrap_or(i64::MAX)).unwrap_or(Money::ZERO)
}

/// Classifies `cards` by their sales in the window before `today`. The settings are
/// assumed valid ([`AbcSettings::validate`]); a window outside 3–6 is clamped.
pub fn classify<C: Borrow<Card>>(
    cards: &[C],
    today: NaiveDate,
    settings: &AbcSettings,
) -> AbcReport {
    let months = settings.months.clamp(3, 6);
    let window = window(today, months);
    let mut lines: Vec<(&Card, i128)> = cards
        .iter()
        .map(|card| {
            let card = card.borrow();
            let sum: i128 = window
                .iter()
                .filter_map(|m| card.sales.get(m))
                .map(|m| i128::from(m.fen()))
                .sum();
            (card, sum)
        })
        .collect();
    lines.sort_by(|(a, x), (b, y)| y.cmp(x).then_with(|| a.id.cmp(&b.id)));
    let total: i128 = lines.iter().map(|(_, s)| s).sum();
    let a_cut = i128::from(settings.a_percent) * total;
    let b_cut = (i128::from(settings.a_percent) + i128::from(settings.b_percent)) * total;

    let mut rows = Vec::with_capacity(lines.len());
    let mut before = 0i128;
    let mut cumulative = 0i128;
    let mut group: Option<(i128, Class)> = None;
    for (i, (card, sales)) in lines.iter().enumerate() {
        let class = match group {
            Some((s, class)) if s == *sales => class,
            _ => {
                let class = if before * 100 < a_cut {
                    Class::A
                } else if before * 100 < b_cut {
                    Class::B
                } else {
                    Class::C
                };
                group = Some((*sales, class));
                class
            }
        };
        cumulative += sales;
        let months = i128::from(months);
        rows.push(AbcRow {
            card: card.id.clone(),
            name: card.basic.name.clone(),
            rank: u32::try_from(i + 1).unwrap_or(u32::MAX),
            window_sales: to_money(*sales),
            monthly_average: to_money((sales * 2 + months) / (months * 2)),
            share: Ratio::of(*sales, total).unwrap_or(Ratio::ZERO),
            cumulative_share: Ratio::of(cumulative, total).unwrap_or(Ratio::ZERO),
            computed: class,
            manual: card.classification.abc,
        });
        before = cumulative;
    }
    AbcReport {
        window,
        total_sales: to_money(total),
        rows,
    }
}

/// The class that drives the plan for a row: the manual class (or the computed one
/// when the card has none) under [`ClassSource::Manual`], the computed one under
/// [`ClassSource::Computed`].
pub fn effective_class(row: &AbcRow, source: ClassSource) -> Class {
    match source {
        ClassSource::Manual => row.manual.unwrap_or(row.computed),
        ClassSource::Computed => row.computed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::card_id;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 1).expect("date")
    }

    fn ym(s: &str) -> YearMonth {
        s.parse().expect("month")
    }

    /// A card whose sales in September, October and November 2026 are `yuan` each.
    fn customer(id: &str, name: &str, yuan: [i64; 3]) -> Card {
        let mut card = Card::new();
        card.id = card_id(id);
        card.basic.name = Some(name.to_string());
        for (month, y) in ["2026-09", "2026-10", "2026-11"].iter().zip(yuan) {
            card.sales
                .insert(ym(month), Money::yuan(y).expect("amount"));
        }
        card
    }

    fn classes(report: &AbcReport) -> Vec<Class> {
        report.rows.iter().map(|r| r.computed).collect()
    }

    /// The seed's example: 20 customers, ¥2.5M in the window; the top 4 make 80%
    /// (¥2,000,000), customers 5–10 make 15% (¥375,000), the last 10 make 5% (¥125,000).
    fn seed_example() -> Vec<Card> {
        let top = [800_000, 500_000, 400_000, 300_000];
        let middle = [100_000, 80_000, 70_000, 50_000, 40_000, 35_000];
        let tail = [
            20_000, 18_000, 15_000, 14_000, 12_000, 12_000, 10_000, 10_000, 8_000, 6_000,
        ];
        let names = [
            "上海华东食品有限公司",
            "北京燕京商贸有限公司",
            "广州南方百货公司",
            "深圳鹏城超市",
            "杭州西湖食品批发部",
            "南京金陵商行",
            "成都天府连锁店",
            "武汉江城专营店",
            "西安长安副食店",
            "重庆山城百货",
            "苏州姑苏便利店",
            "天津津门商店",
            "青岛海滨小卖部",
            "厦门鹭岛食品店",
            "长沙星城超市",
            "郑州中原商行",
            "济南泉城副食",
            "合肥庐州便利",
            "福州榕城小店",
            "昆明春城杂货",
        ];
        let all: Vec<i64> = top.iter().chain(&middle).chain(&tail).copied().collect();
        assert_eq!(all.iter().sum::<i64>(), 2_500_000);
        all.iter()
            .zip(names)
            .enumerate()
            .map(|(i, (&total, name))| {
                // Spread the window total over three months: 40%, 30%, 30%.
                let a = total * 4 / 10;
                let b = total * 3 / 10;
                customer(&format!("c{:02}", 20 - i), name, [a, b, total - a - b])
            })
            .collect()
    }

    #[test]
    fn the_seeds_worked_example_gives_4_a_6_b_10_c() {
        let report = classify(&seed_example(), today(), &AbcSettings::default());
        assert_eq!(
            report.window,
            vec![ym("2026-09"), ym("2026-10"), ym("2026-11")]
        );
        assert_eq!(report.total_sales, Money::yuan(2_500_000).expect("amount"));
        let got = classes(&report);
        assert_eq!(got[..4], [Class::A; 4]);
        assert_eq!(got[4..10], [Class::B; 6]);
        assert_eq!(got[10..], [Class::C; 10]);
        // The boundary customers: the 4th brings A to 80% (past 75%) and is still A;
        // the 10th brings the total to exactly 95% and is B.
        assert_eq!(report.rows[3].cumulative_share, Ratio::from_e4(8000));
        assert_eq!(report.rows[9].cumulative_share, Ratio::from_e4(9500));
        assert_eq!(report.rows[19].cumulative_share, Ratio::ONE);
        let first = &report.rows[0];
        assert_eq!(first.name.as_deref(), Some("上海华东食品有限公司"));
        assert_eq!(first.rank, 1);
        assert_eq!(first.window_sales, Money::yuan(800_000).expect("amount"));
        assert_eq!(first.share, Ratio::from_e4(3200));
        // ¥800,000 over 3 months is ¥266,666.666…, shown rounded to ¥266,666.67.
        assert_eq!(first.monthly_average.fen(), 26_666_667);
    }

    #[test]
    fn a_rule_on_the_share_including_the_customer_would_fail_the_seed() {
        // Guards the boundary rule: the 4th customer's own cumulative share is 80%,
        // past 75%, and it must still be A.
        let report = classify(&seed_example(), today(), &AbcSettings::default());
        let fourth = &report.rows[3];
        assert!(fourth.cumulative_share > Ratio::from_e4(7500));
        assert_eq!(fourth.computed, Class::A);
        assert_eq!(report.rows[4].computed, Class::B);
        assert_eq!(report.rows[10].computed, Class::C);
    }

    #[test]
    fn ties_share_a_class_and_are_ordered_by_card_id() {
        // Four equal customers at 25% each: the 4th starts at 75%, but it ties with
        // the 1st, so all four are A, listed by card id whatever the input order.
        let cards = vec![
            customer("d", "丁记商行", [10, 10, 10]),
            customer("b", "乙记商行", [10, 10, 10]),
            customer("c", "丙记商行", [10, 10, 10]),
            customer("a", "甲记商行", [10, 10, 10]),
        ];
        let report = classify(&cards, today(), &AbcSettings::default());
        assert_eq!(classes(&report), vec![Class::A; 4]);
        let ids: Vec<CardId> = report.rows.iter().map(|r| r.card.clone()).collect();
        assert_eq!(ids, ["a", "b", "c", "d"].map(card_id));
        let ranks: Vec<u32> = report.rows.iter().map(|r| r.rank).collect();
        assert_eq!(ranks, [1, 2, 3, 4]);
        // A tie at the B/C boundary: 80%, 15%, then two at 2.5% each. Before the pair 95% has
        // been reached, so both are C; no card id decides it.
        let cards = vec![
            customer("x", "上海华东食品有限公司", [800, 0, 0]),
            customer("y", "杭州西湖食品批发部", [150, 0, 0]),
            customer("z2", "苏州姑苏便利店", [25, 0, 0]),
            customer("z1", "无锡太湖便利店", [25, 0, 0]),
        ];
        let report = classify(&cards, today(), &AbcSettings::default());
        assert_eq!(classes(&report), [Class::A, Class::B, Class::C, Class::C]);
        assert_eq!(report.rows[2].card, card_id("z1"));
    }

    #[test]
    fn zero_sales_are_c_and_an_empty_window_makes_everyone_c() {
        let cards = vec![
            customer("a", "上海华东食品有限公司", [100, 100, 100]),
            customer("b", "新开张便利店", [0, 0, 0]),
            Card::new(),
        ];
        let report = classify(&cards, today(), &AbcSettings::default());
        assert_eq!(classes(&report), [Class::A, Class::C, Class::C]);
        assert_eq!(report.rows[1].share, Ratio::ZERO);
        let nobody = vec![
            customer("a", "甲", [0, 0, 0]),
            customer("b", "乙", [0, 0, 0]),
        ];
        let report = classify(&nobody, today(), &AbcSettings::default());
        assert_eq!(classes(&report), [Class::C, Class::C]);
        assert_eq!(report.rows[0].cumulative_share, Ratio::ZERO);
        assert!(
            classify::<Card>(&[], today(), &AbcSettings::default())
                .rows
                .is_empty()
        );
    }

    #[test]
    fn fewer_than_three_customers() {
        let one = vec![customer("a", "上海华东食品有限公司", [1, 2, 3])];
        assert_eq!(
            classes(&classify(&one, today(), &AbcSettings::default())),
            [Class::A]
        );
        let two = vec![
            customer("a", "上海华东食品有限公司", [90, 0, 0]),
            customer("b", "南京金陵商行", [10, 0, 0]),
        ];
        let report = classify(&two, today(), &AbcSettings::default());
        assert_eq!(classes(&report), [Class::A, Class::B]);
    }

    #[test]
    fn missing_months_count_as_zero_and_months_outside_the_window_do_not_count() {
        // A new customer with one month of ¥30,000 averages ¥10,000, not ¥30,000.
        let mut new = Card::new();
        new.id = card_id("n");
        new.sales
            .insert(ym("2026-11"), Money::yuan(30_000).expect("amount"));
        // December is the current, unfinished month; August is before the window.
        new.sales
            .insert(ym("2026-12"), Money::yuan(1_000_000).expect("amount"));
        new.sales
            .insert(ym("2026-08"), Money::yuan(1_000_000).expect("amount"));
        let report = classify(&[new], today(), &AbcSettings::default());
        assert_eq!(
            report.rows[0].window_sales,
            Money::yuan(30_000).expect("amount")
        );
        assert_eq!(
            report.rows[0].monthly_average,
            Money::yuan(10_000).expect("amount")
        );
        // A six-month window reaches August.
        let six = AbcSettings {
            months: 6,
            ..AbcSettings::default()
        };
        let mut card = Card::new();
        card.sales
            .insert(ym("2026-08"), Money::yuan(600).expect("amount"));
        let report = classify(&[card], today(), &six);
        assert_eq!(report.window.first(), Some(&ym("2026-06")));
        assert_eq!(
            report.rows[0].monthly_average,
            Money::yuan(100).expect("amount")
        );
    }

    #[test]
    fn unvalidated_settings_and_huge_amounts_do_not_panic() {
        let wild = AbcSettings {
            months: 0,
            a_percent: u32::MAX,
            b_percent: u32::MAX,
            c_percent: u32::MAX,
            ..AbcSettings::default()
        };
        let mut card = Card::new();
        for month in ["2026-09", "2026-10", "2026-11"] {
            card.sales
                .insert(ym(month), Money::from_fen(i64::MAX).expect("amount"));
        }
        let report = classify(&[card.clone(), card], today(), &wild);
        assert_eq!(
            report.window.len(),
            3,
            "the window is clamped to 3–6 months"
        );
        assert_eq!(report.total_sales.fen(), i64::MAX, "totals saturate");
        assert_eq!(report.rows[1].cumulative_share, Ratio::ONE);
    }

    #[test]
    fn the_window_crosses_a_year() {
        let jan = NaiveDate::from_ymd_opt(2027, 1, 31).expect("date");
        assert_eq!(
            window(jan, 3),
            vec![ym("2026-10"), ym("2026-11"), ym("2026-12")]
        );
    }

    #[test]
    fn manual_and_computed_class_side_by_side() {
        let mut big = customer("a", "上海华东食品有限公司", [900, 0, 0]);
        big.classification.abc = Some(Class::B);
        let small = customer("b", "南京金陵商行", [100, 0, 0]);
        let report = classify(&[big, small], today(), &AbcSettings::default());
        let (big, small) = (&report.rows[0], &report.rows[1]);
        assert_eq!((big.computed, big.manual), (Class::A, Some(Class::B)));
        assert_eq!(effective_class(big, ClassSource::Manual), Class::B);
        assert_eq!(effective_class(big, ClassSource::Computed), Class::A);
        // No manual class: the computed one drives the plan either way.
        assert_eq!(effective_class(small, ClassSource::Manual), Class::B);
        assert_eq!(small.computed, Class::B);
    }

    #[test]
    fn settings_that_do_not_add_up_are_refused() {
        assert_eq!(AbcSettings::default().validate(), Ok(()));
        let bad = |s: AbcSettings| s.validate().expect_err("refused");
        let d = AbcSettings::default;
        assert_eq!(
            bad(AbcSettings { months: 2, ..d() }),
            AbcSettingsError::Months(2)
        );
        assert_eq!(
            bad(AbcSettings { months: 7, ..d() }),
            AbcSettingsError::Months(7)
        );
        assert_eq!(
            bad(AbcSettings {
                a_percent: 80,
                ..d()
            }),
            AbcSettingsError::Shares(105)
        );
        assert_eq!(
            bad(AbcSettings {
                a_percent: u32::MAX,
                ..d()
            }),
            AbcSettingsError::Shares(u64::from(u32::MAX) + 25)
        );
        assert_eq!(
            bad(AbcSettings {
                a_percent: 0,
                b_percent: 95,
                ..d()
            }),
            AbcSettingsError::EmptyA
        );
        assert!(
            bad(AbcSettings { months: 0, ..d() })
                .to_string()
                .contains("3 to 6")
        );
        let json: AbcSettings =
            serde_json::from_str(r#"{"months":6,"source":"computed"}"#).expect("partial settings");
        assert_eq!(
            (json.months, json.a_percent, json.source),
            (6, 75, ClassSource::Computed)
        );
    }

    proptest! {
        #[test]
        fn classes_never_go_up_down_the_ranking_and_shares_add_up(
            sales in proptest::collection::vec((0i64..5_000_000, 0i64..5_000_000, 0i64..5_000_000), 0..40),
            a in 1u32..=100,
            b_frac in 0u32..=100,
        ) {
            let b = (100 - a) * b_frac / 100;
            let settings = AbcSettings { a_percent: a, b_percent: b, c_percent: 100 - a - b, ..AbcSettings::default() };
            prop_assert_eq!(settings.validate(), Ok(()));
            let cards: Vec<Card> = sales.iter().enumerate()
                .map(|(i, &(x, y, z))| customer(&format!("k{i}"), "测试客户", [x, y, z]))
                .collect();
            let report = classify(&cards, today(), &settings);
            prop_assert_eq!(report.rows.len(), cards.len());
            for pair in report.rows.windows(2) {
                prop_assert!(pair[0].window_sales >= pair[1].window_sales);
                prop_assert!(pair[0].computed <= pair[1].computed);
                if pair[0].window_sales == pair[1].window_sales {
                    prop_assert_eq!(pair[0].computed, pair[1].computed);
                }
            }
            if report.total_sales > Money::ZERO {
                prop_assert_eq!(report.rows[0].computed, Class::A);
                prop_assert_eq!(report.rows.last().map(|r| r.cumulative_share), Some(Ratio::ONE));
                // Everything A covers, minus its last group, is below the A threshold.
                let total = i128::from(report.total_sales.fen());
                let mut before = 0i128;
                for row in &report.rows {
                    if row.computed == Class::A && before * 100 >= i128::from(a) * total {
                        // Only a tie with the group's first can be A past the cut.
                        prop_assert!(report.rows.iter().any(|r| r.window_sales == row.window_sales
                            && r.rank < row.rank && r.computed == Class::A));
                    }
                    before += i128::from(row.window_sales.fen());
                }
            }
        }
    }
}
