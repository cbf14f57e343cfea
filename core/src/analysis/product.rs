//! Product analysis per customer (seed 002 "客户与本企业交易情况分析" 3–7: 不同产品销售构成,
//! 毛利率, 产品周转率, 交叉比率, 贡献比率; DOMAIN.md "Pipeline and analysis").
//!
//! Owns, for each customer and product, the gross margin (gross profit ÷ sales), the
//! turnover (sales ÷ average inventory, the average of the customer's stock of our
//! product at the start and the end of the month), the cross ratio (gross margin ×
//! turnover) and the contribution ratio (cross ratio × the product's share of the
//! customer's sales), and which products to push (重点推销: the highest contribution).
//!
//! The card does not hold inventory, so the inputs are plain figures the caller
//! gathers ([`ProductFigures`]); stock is valued in the same money as sales, so the
//! turnover is a pure number. Each ratio is computed from the exact fen in one
//! division (the cross ratio is gross profit ÷ average inventory, the product of the
//! two exact fractions), so it is not the product of the rounded ratios shown next to
//! it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ratio::Ratio;
use crate::ids::CardId;
use crate::value::Money;

/// Product-analysis settings. The seed gives no number; the default is a starting
/// point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProductSettings {
    /// How many products per customer, highest contribution first, are marked as the
    /// ones to push (重点推销).
    pub focus_products: u32,
}

impl Default for ProductSettings {
    fn default() -> Self {
        ProductSettings { focus_products: 3 }
    }
}

/// Why product-analysis settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductSettingsError {
    /// The number of focus products is not 1–100.
    #[error("the number of products to push must be 1 to 100, not {0}")]
    FocusProducts(u32),
}

impl ProductSettings {
    /// Refuses a number of focus products outside 1–100.
    pub fn validate(&self) -> Result<(), ProductSettingsError> {
        if (1..=100).contains(&self.focus_products) {
            Ok(())
        } else {
            Err(ProductSettingsError::FocusProducts(self.focus_products))
        }
    }
}

/// One customer's figures for one product over a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductFigures {
    /// The customer's card.
    pub customer: CardId,
    /// The product (name or code).
    pub product: String,
    /// Our sales of it to the customer (销售额).
    pub sales: Money,
    /// What those sales cost us (销售成本); above `sales` is a loss.
    pub cost_of_sales: Money,
    /// The customer's stock of it at the start of the month (月初库存), valued like
    /// sales.
    pub opening_stock: Money,
    /// Its stock at the end of the month (月末库存).
    pub closing_stock: Money,
}

/// The analysis of one product for one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRow {
    /// The product.
    pub product: String,
    /// Sales.
    pub sales: Money,
    /// Gross profit in fen: sales − cost, negative for a loss.
    pub gross_profit_fen: i64,
    /// Average stock, rounded half up to the fen (for display).
    pub average_stock: Money,
    /// Gross margin (毛利率); `None` without sales.
    pub gross_margin: Option<Ratio>,
    /// Turnover (产品周转率), times per month; `None` without stock.
    pub turnover: Option<Ratio>,
    /// Cross ratio (交叉比率); `None` without sales or stock.
    pub cross_ratio: Option<Ratio>,
    /// The product's share of the customer's sales (销售额构成); `None` when the
    /// customer bought nothing.
    pub sales_share: Option<Ratio>,
    /// Contribution ratio (贡献比率); `None` when the cross ratio or share is.
    pub contribution: Option<Ratio>,
    /// One of the customer's products to push (the highest contributions).
    pub focus: bool,
}

/// One customer's products, highest contribution first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerProducts {
    /// The customer's card.
    pub customer: CardId,
    /// Sales over all products.
    pub total_sales: Money,
    /// Gross profit over all products, in fen.
    pub gross_profit_fen: i64,
    /// Products by contribution (those without one last), then by name.
    pub products: Vec<ProductRow>,
}

#[derive(Default)]
struct Sums {
    sales: i128,
    cost: i128,
    /// Opening plus closing stock: twice the average, kept whole.
    stock2: i128,
}

fn money(fen: i128) -> Money {
    Money::from_fen(i64::try_from(fen.max(0)).unwrap_or(i64::MAX)).unwrap_or(Money::ZERO)
}

fn fen_i64(fen: i128) -> i64 {
    i64::try_from(fen).unwrap_or(if fen < 0 { i64::MIN } else { i64::MAX })
}

/// Analyses every customer's products, customers in card-id order. Figures given
/// twice for the same customer and product are added up (e.g. two warehouses).
pub fn analyse(figures: &[ProductFigures], settings: &ProductSettings) -> Vec<CustomerProducts> {
    let mut per_customer: BTreeMap<&CardId, BTreeMap<&str, Sums>> = BTreeMap::new();
    for f in figures {
        let sums = per_customer
            .entry(&f.customer)
            .or_default()
            .entry(&f.product)
            .or_default();
        sums.sales += i128::from(f.sales.fen());
        sums.cost += i128::from(f.cost_of_sales.fen());
        sums.stock2 += i128::from(f.opening_stock.fen()) + i128::from(f.closing_stock.fen());
    }
    per_customer
        .into_iter()
        .map(|(customer, products)| {
            let total: i128 = products.values().map(|s| s.sales).sum();
            let profit: i128 = products.values().map(|s| s.sales - s.cost).sum();
            let mut rows: Vec<ProductRow> = products
                .iter()
                .map(|(name, s)| row(name, s, total))
                .collect();
            rows.sort_by(|a, b| {
                b.contribution
                    .is_some()
                    .cmp(&a.contribution.is_some())
                    .then_with(|| b.contribution.cmp(&a.contribution))
                    .then_with(|| a.product.cmp(&b.product))
            });
            let focus = usize::try_from(settings.focus_products).unwrap_or(usize::MAX);
            for r in rows.iter_mut().take(focus) {
                r.focus = r.contribution.is_some_and(|c| c > Ratio::ZERO);
            }
            CustomerProducts {
                customer: customer.clone(),
                total_sales: money(total),
                gross_profit_fen: fen_i64(profit),
                products: rows,
            }
        })
        .collect()
}

fn row(name: &str, s: &Sums, customer_total: i128) -> ProductRow {
    let profit = s.sales - s.cost;
    let has_sales = s.sales > 0;
    // gross profit ÷ average stock = 2 × profit ÷ (opening + closing).
    let cross_ratio = if has_sales {
        Ratio::of(profit * 2, s.stock2)
    } else {
        None
    };
    let contribution = if has_sales && customer_total > 0 {
        let num = profit.checked_mul(2).and_then(|p| p.checked_mul(s.sales));
        let den = s.stock2.checked_mul(customer_total);
        num.zip(den).and_then(|(num, den)| Ratio::of(num, den))
    } else {
        None
    };
    ProductRow {
        product: name.to_string(),
        sales: money(s.sales),
        gross_profit_fen: fen_i64(profit),
        average_stock: money((s.stock2 + 1) / 2),
        gross_margin: Ratio::of(profit, s.sales),
        turnover: Ratio::of(s.sales * 2, s.stock2),
        cross_ratio,
        sales_share: Ratio::of(s.sales, customer_total),
        contribution,
        focus: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::card_id;

    fn yuan(y: i64) -> Money {
        Money::yuan(y).expect("amount")
    }

    fn figures(
        customer: &str,
        product: &str,
        sales: i64,
        cost: i64,
        open: i64,
        close: i64,
    ) -> ProductFigures {
        ProductFigures {
            customer: card_id(customer),
            product: product.into(),
            sales: yuan(sales),
            cost_of_sales: yuan(cost),
            opening_stock: yuan(open),
            closing_stock: yuan(close),
        }
    }

    fn r(e4: i64) -> Option<Ratio> {
        Some(Ratio::from_e4(e4))
    }

    #[test]
    fn worked_example_for_one_customer() {
        // 上海华东食品有限公司 this month:
        //   酱油 sales ¥120,000, cost ¥90,000 → gross profit ¥30,000, margin 25%;
        //        stock ¥20,000 → ¥40,000, average ¥30,000 → turnover 4;
        //        cross ratio 25% × 4 = 1; share 120,000 ÷ 200,000 = 60%; contribution 0.6.
        //   食醋 sales ¥80,000, cost ¥64,000 → ¥16,000, margin 20%;
        //        stock ¥10,000 → ¥6,000, average ¥8,000 → turnover 10;
        //        cross ratio 2; share 40%; contribution 0.8.
        // 食醋 sells less but contributes more: it comes first.
        let report = analyse(
            &[
                figures("hd", "酱油", 120_000, 90_000, 20_000, 40_000),
                figures("hd", "食醋", 80_000, 64_000, 10_000, 6_000),
            ],
            &ProductSettings::default(),
        );
        assert_eq!(report.len(), 1);
        let c = &report[0];
        assert_eq!(
            (c.total_sales, c.gross_profit_fen),
            (yuan(200_000), 4_600_000)
        );
        let (vinegar, soy) = (&c.products[0], &c.products[1]);
        assert_eq!(vinegar.product, "食醋");
        assert_eq!(
            (
                vinegar.gross_margin,
                vinegar.turnover,
                vinegar.cross_ratio,
                vinegar.sales_share,
                vinegar.contribution
            ),
            (r(2000), r(100_000), r(20_000), r(4000), r(8000))
        );
        assert_eq!(vinegar.average_stock, yuan(8_000));
        assert_eq!(
            (
                soy.gross_margin,
                soy.turnover,
                soy.cross_ratio,
                soy.sales_share,
                soy.contribution
            ),
            (r(2500), r(40_000), r(10_000), r(6000), r(6000))
        );
        assert_eq!(soy.gross_profit_fen, 3_000_000);
        assert!(vinegar.focus && soy.focus);
    }

    #[test]
    fn ratios_are_computed_once_from_exact_figures() {
        // Margin 1/3 and turnover 3 shown rounded (33.33%, 3.0000), but the cross ratio
        // is exactly 1, not 0.3333 × 3 = 0.9999.
        let report = analyse(
            &[figures("a", "料酒", 3, 2, 1, 1)],
            &ProductSettings::default(),
        );
        let p = &report[0].products[0];
        assert_eq!(
            (p.gross_margin, p.turnover, p.cross_ratio),
            (r(3333), r(30_000), r(10_000))
        );
        assert_eq!(p.contribution, r(10_000));
    }

    #[test]
    fn no_sales_no_stock_losses_and_duplicates() {
        let report = analyse(
            &[
                figures("bj", "蚝油", 0, 0, 5_000, 5_000),
                figures("bj", "鸡精", 10_000, 12_000, 1_000, 1_000),
                figures("bj", "味精", 30_000, 27_000, 0, 0),
                figures("bj", "香油", 5_000, 4_000, 1_000, 1_000),
                figures("bj", "香油", 5_000, 4_000, 1_000, 1_000),
            ],
            &ProductSettings { focus_products: 2 },
        );
        let c = &report[0];
        let by = |name: &str| {
            c.products
                .iter()
                .find(|p| p.product == name)
                .expect("product")
        };
        // No sales: no margin, no cross ratio, no contribution; turnover 0.
        let none = by("蚝油");
        assert_eq!(
            (
                none.gross_margin,
                none.turnover,
                none.cross_ratio,
                none.contribution
            ),
            (None, r(0), None, None)
        );
        assert_eq!(none.sales_share, r(0));
        // No stock: turnover and cross ratio undefined.
        let no_stock = by("味精");
        assert_eq!(
            (
                no_stock.turnover,
                no_stock.cross_ratio,
                no_stock.contribution
            ),
            (None, None, None)
        );
        assert_eq!(no_stock.gross_margin, r(1000));
        // A loss: negative margin and contribution.
        let loss = by("鸡精");
        assert_eq!(loss.gross_profit_fen, -200_000);
        assert_eq!(loss.gross_margin, r(-2000));
        assert_eq!(loss.cross_ratio, r(-20_000));
        // The same product twice is added up: ¥10,000 sales, ¥2,000 profit, stock ¥2,000.
        let twice = by("香油");
        assert_eq!(
            (twice.sales, twice.gross_profit_fen, twice.average_stock),
            (yuan(10_000), 200_000, yuan(2_000))
        );
        assert_eq!(twice.turnover, r(50_000));
        // Order: contributions high to low, then the undefined ones by name; a loss
        // is never a product to push.
        let order: Vec<&str> = c.products.iter().map(|p| p.product.as_str()).collect();
        assert_eq!(order, ["香油", "鸡精", "味精", "蚝油"]);
        let focus: Vec<bool> = c.products.iter().map(|p| p.focus).collect();
        assert_eq!(focus, [true, false, false, false]);
        assert_eq!(c.total_sales, yuan(50_000));
    }

    #[test]
    fn customers_are_analysed_separately() {
        let report = analyse(
            &[
                figures("b", "酱油", 100, 50, 10, 10),
                figures("a", "酱油", 100, 50, 10, 10),
                figures("a", "食醋", 300, 150, 10, 10),
            ],
            &ProductSettings::default(),
        );
        let ids: Vec<CardId> = report.iter().map(|c| c.customer.clone()).collect();
        assert_eq!(ids, ["a", "b"].map(card_id));
        assert_eq!(report[1].products[0].sales_share, r(10_000));
        assert_eq!(report[0].products[0].sales_share, r(7500));
        assert!(analyse(&[], &ProductSettings::default()).is_empty());
    }

    #[test]
    fn huge_figures_give_no_ratio_rather_than_a_panic() {
        let max = Money::from_fen(i64::MAX).expect("amount");
        let huge = ProductFigures {
            customer: card_id("a"),
            product: "整车".into(),
            sales: max,
            cost_of_sales: Money::ZERO,
            opening_stock: Money::from_fen(1).expect("fen"),
            closing_stock: Money::ZERO,
        };
        let report = analyse(&[huge.clone(), huge], &ProductSettings::default());
        let p = &report[0].products[0];
        assert_eq!(p.gross_margin, r(10_000));
        assert_eq!(
            (p.turnover, p.cross_ratio, p.contribution),
            (None, None, None)
        );
        assert_eq!(p.sales.fen(), i64::MAX, "sums saturate");
    }

    #[test]
    fn settings_are_validated() {
        assert_eq!(ProductSettings::default().validate(), Ok(()));
        let err = ProductSettings { focus_products: 0 }
            .validate()
            .expect_err("refused");
        assert_eq!(err, ProductSettingsError::FocusProducts(0));
        assert!(err.to_string().contains("1 to 100"));
        assert!(
            ProductSettings {
                focus_products: 101
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn results_serialize_as_plain_numbers() {
        let report = analyse(
            &[figures("a", "酱油", 120_000, 90_000, 20_000, 40_000)],
            &ProductSettings::default(),
        );
        let json = serde_json::to_value(&report[0].products[0]).expect("json");
        assert_eq!(json["gross_margin"], 2500);
        assert_eq!(json["turnover"], 40_000);
        assert_eq!(json["sales"], 12_000_000);
    }
}
