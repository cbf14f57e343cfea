//! Credit management (信用管理, seed 002 "对确定信用限度的分析" and "客户信用调查分析";
//! DOMAIN.md "Credit").
//!
//! Owns the five ways the seed sets a credit limit (信用限度, the safe ceiling of
//! receivables plus unsettled bills), the default limit per class (A none, B a base,
//! C a small one), exposure against the limit, whether an order needs a manager's
//! approval ([`needs_approval`]; recording the approval is the store's and server's
//! business, not this module's), and when each card's credit review report is due
//! (A every 6 months, B every 3, C monthly, by the 10th of the month).
//!
//! All amounts are exact fen; every division rounds *down*, because a limit is a
//! ceiling and the safe side of a ceiling is below it.

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use super::ratio::Ratio;
use crate::card::Card;
use crate::ids::CardId;
use crate::value::{Class, Money};

/// Credit settings; `Default` is DOMAIN.md's starting point where it gives one (the
/// review intervals and due day). The amounts are placeholders the company sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CreditSettings {
    /// Base limit of a class B customer (B类信用限度基数), relaxed over time.
    pub b_base_limit: Money,
    /// Small limit of a class C customer, a prospect or an unclassified one.
    pub c_small_limit: Money,
    /// Highest limit the overall judgement may reach (最高限额).
    pub max_limit: Money,
    /// Months between credit reviews of class A customers.
    pub review_months_a: u32,
    /// Months between credit reviews of class B customers.
    pub review_months_b: u32,
    /// Months between credit reviews of class C (and D, unclassified) customers.
    pub review_months_c: u32,
    /// Day of the month a review report is due by (1–28).
    pub review_due_day: u32,
    /// The normal current ratio, in percent (a customer at this ratio gets the base).
    pub normal_current_ratio_percent: u32,
    /// The most the current-ratio method may scale a base limit by, in percent.
    pub current_ratio_max_scale_percent: u32,
    /// How much the overall judgement raises a limit per step, in percent of the
    /// initial limit.
    pub step_percent: u32,
    /// Consecutive on-time payments that earn one step.
    pub on_time_per_step: u32,
    /// Days in a month for the sales method's credit period.
    pub days_per_month: u32,
}

impl Default for CreditSettings {
    fn default() -> Self {
        CreditSettings {
            b_base_limit: Money::from_fen(10_000_000).unwrap_or(Money::ZERO),
            c_small_limit: Money::from_fen(2_000_000).unwrap_or(Money::ZERO),
            max_limit: Money::from_fen(50_000_000).unwrap_or(Money::ZERO),
            review_months_a: 6,
            review_months_b: 3,
            review_months_c: 1,
            review_due_day: 10,
            normal_current_ratio_percent: 200,
            current_ratio_max_scale_percent: 200,
            step_percent: 10,
            on_time_per_step: 3,
            days_per_month: 30,
        }
    }
}

/// Why credit settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditSettingsError {
    /// A review interval is not 1–12 months.
    #[error("a credit review interval must be 1 to 12 months, not {0}")]
    ReviewMonths(u32),
    /// The due day is not 1–28 (every month has it).
    #[error("the review due day must be 1 to 28, not {0}")]
    DueDay(u32),
    /// C's small limit is above B's base.
    #[error("class C's limit cannot be above class B's base limit")]
    CAboveB,
    /// The maximum is below B's base.
    #[error("the highest limit cannot be below class B's base limit")]
    MaxBelowB,
    /// The normal current ratio is zero.
    #[error("the normal current ratio must be above 0%")]
    NormalRatio,
    /// The current-ratio cap would lower every limit.
    #[error("the current-ratio cap must be at least 100%, not {0}%")]
    RatioCap(u32),
    /// A step or its payment count is out of range.
    #[error("a step must be 0–100% and earned by at least one on-time payment")]
    Step,
    /// The month length is not 28–31 days.
    #[error("a month must be 28 to 31 days, not {0}")]
    DaysPerMonth(u32),
}

impl CreditSettings {
    /// Refuses intervals outside 1–12 months, a due day outside 1–28, limits out of
    /// order (C above B, the maximum below B), a zero normal ratio, a cap below 100%,
    /// a step above 100% or earned by no payment, a month that is not 28–31 days.
    pub fn validate(&self) -> Result<(), CreditSettingsError> {
        for months in [
            self.review_months_a,
            self.review_months_b,
            self.review_months_c,
        ] {
            if !(1..=12).contains(&months) {
                return Err(CreditSettingsError::ReviewMonths(months));
            }
        }
        if !(1..=28).contains(&self.review_due_day) {
            return Err(CreditSettingsError::DueDay(self.review_due_day));
        }
        if self.c_small_limit > self.b_base_limit {
            return Err(CreditSettingsError::CAboveB);
        }
        if self.max_limit < self.b_base_limit {
            return Err(CreditSettingsError::MaxBelowB);
        }
        if self.normal_current_ratio_percent == 0 {
            return Err(CreditSettingsError::NormalRatio);
        }
        if self.current_ratio_max_scale_percent < 100 {
            return Err(CreditSettingsError::RatioCap(
                self.current_ratio_max_scale_percent,
            ));
        }
        if self.step_percent > 100 || self.on_time_per_step == 0 {
            return Err(CreditSettingsError::Step);
        }
        if !(28..=31).contains(&self.days_per_month) {
            return Err(CreditSettingsError::DaysPerMonth(self.days_per_month));
        }
        Ok(())
    }

    fn review_months(&self, class: Option<Class>) -> u32 {
        match class {
            Some(Class::A) => self.review_months_a,
            Some(Class::B) => self.review_months_b,
            Some(Class::C | Class::D) | None => self.review_months_c,
        }
    }
}

/// Why a limit method refused its inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditInputError {
    /// A split over suppliers with no supplier.
    #[error("the number of suppliers must be at least 1")]
    NoSuppliers,
    /// A share or cost ratio outside 0–100%.
    #[error("a ratio must be between 0% and 100%")]
    RatioOutOfRange,
}

fn money(fen: i128) -> Money {
    // Every caller clamps below at zero first; above, saturate rather than fail.
    Money::from_fen(i64::try_from(fen.max(0)).unwrap_or(i64::MAX)).unwrap_or(Money::ZERO)
}

fn check_ratio(r: Ratio) -> Result<i128, CreditInputError> {
    if (0..=Ratio::ONE.e4()).contains(&r.e4()) {
        Ok(i128::from(r.e4()))
    } else {
        Err(CreditInputError::RatioOutOfRange)
    }
}

/// Inputs of the sales method (销售额测定法).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SalesMethodInput {
    /// The customer's expected sales per month (预计销售额).
    pub expected_monthly_sales: Money,
    /// The customer's cost ratio (成本率): purchases are sales × this.
    pub cost_ratio: Ratio,
    /// Our share of the customer's purchases (本公司供货比率).
    pub supply_share: Ratio,
    /// Credit period in days (信用期限).
    pub credit_days: u32,
}

/// Method 1, the sales method: the customer's total purchases (expected sales × cost
/// ratio) × our supply share × the credit period (in months of
/// [`CreditSettings::days_per_month`] days).
pub fn sales_method(
    input: &SalesMethodInput,
    settings: &CreditSettings,
) -> Result<Money, CreditInputError> {
    let cost = check_ratio(input.cost_ratio)?;
    let share = check_ratio(input.supply_share)?;
    let days_per_month = i128::from(settings.days_per_month.max(1));
    let fen = i128::from(input.expected_monthly_sales.fen())
        * cost
        * share
        * i128::from(input.credit_days)
        / (10_000 * 10_000 * days_per_month);
    Ok(money(fen))
}

/// Method 2, working-capital split (周转资产分割法): (current assets − current
/// liabilities) ÷ number of suppliers. Negative working capital gives no credit.
pub fn working_capital_split(
    current_assets: Money,
    current_liabilities: Money,
    suppliers: u32,
) -> Result<Money, CreditInputError> {
    split(current_assets, current_liabilities, suppliers)
}

/// Method 4, net-asset split (净资产分割法): (assets − liabilities) ÷ number of
/// suppliers. Negative net assets give no credit.
pub fn net_asset_split(
    assets: Money,
    liabilities: Money,
    suppliers: u32,
) -> Result<Money, CreditInputError> {
    split(assets, liabilities, suppliers)
}

fn split(plus: Money, minus: Money, suppliers: u32) -> Result<Money, CreditInputError> {
    if suppliers == 0 {
        return Err(CreditInputError::NoSuppliers);
    }
    let net = (i128::from(plus.fen()) - i128::from(minus.fen())).max(0);
    Ok(money(net / i128::from(suppliers)))
}

/// Method 3's measure, the current ratio (流动比率): current assets ÷ current
/// liabilities; `None` when there are no current liabilities.
pub fn current_ratio(current_assets: Money, current_liabilities: Money) -> Option<Ratio> {
    Ratio::of(
        i128::from(current_assets.fen()),
        i128::from(current_liabilities.fen()),
    )
}

/// Method 3, the current-ratio method: the seed gives a higher limit to a customer
/// whose current ratio is above the norm. The base limit is scaled by the ratio ÷
/// the normal ratio, at most by the cap; no current liabilities earn the cap.
pub fn current_ratio_limit(base: Money, ratio: Option<Ratio>, settings: &CreditSettings) -> Money {
    let cap = i128::from(settings.current_ratio_max_scale_percent) * 100;
    let normal = i128::from(settings.normal_current_ratio_percent.max(1)) * 100;
    // scale in ten-thousandths: ratio ÷ normal.
    let scale = match ratio {
        Some(r) => (i128::from(r.e4()).max(0) * 10_000 / normal).min(cap),
        None => cap,
    };
    money(i128::from(base.fen()) * scale / 10_000)
}

/// One settlement in a customer's payment record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payment {
    /// Paid by the settlement day.
    OnTime,
    /// Paid late or not at all.
    Late,
}

/// Method 5, overall judgement (综合判断法): a rough initial limit, raised step by
/// step with the payment record (oldest first): every
/// [`CreditSettings::on_time_per_step`] consecutive on-time payments raise it by
/// [`CreditSettings::step_percent`] of the initial limit; a late payment starts the
/// count again. Never above [`CreditSettings::max_limit`] (or the initial limit, if
/// that is higher already).
pub fn overall_judgement(initial: Money, record: &[Payment], settings: &CreditSettings) -> Money {
    let step = i128::from(initial.fen()) * i128::from(settings.step_percent) / 100;
    let per_step = settings.on_time_per_step.max(1);
    let (mut steps, mut run) = (0i128, 0u32);
    for payment in record {
        match payment {
            Payment::OnTime => {
                run += 1;
                if run == per_step {
                    steps += 1;
                    run = 0;
                }
            }
            Payment::Late => run = 0,
        }
    }
    let ceiling = initial.max(settings.max_limit);
    money(i128::from(initial.fen()) + steps * step).min(ceiling)
}

/// A credit limit: an amount, or none at all (class A).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "amount")]
pub enum Limit {
    /// No limit.
    Unlimited,
    /// At most this much receivables plus unsettled bills.
    Amount(Money),
}

/// The default limit of a class: A none, B the base, C (and D prospects and
/// unclassified customers, whom the seed's C covers as new or small) the small one.
pub fn class_default_limit(class: Option<Class>, settings: &CreditSettings) -> Limit {
    match class {
        Some(Class::A) => Limit::Unlimited,
        Some(Class::B) => Limit::Amount(settings.b_base_limit),
        Some(Class::C | Class::D) | None => Limit::Amount(settings.c_small_limit),
    }
}

/// The limit in force for a card: the one a sales manager approved
/// (`credit.approval_limit`), else the one recorded on it (`credit.credit_limit`), else
/// its class's default.
pub fn card_limit(card: &Card, class: Option<Class>, settings: &CreditSettings) -> Limit {
    match card.credit.approval_limit.or(card.credit.credit_limit) {
        Some(amount) => Limit::Amount(amount),
        None => class_default_limit(class, settings),
    }
}

/// A customer's exposure: what the limit caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exposure {
    /// Receivables (赊销款).
    pub receivables: Money,
    /// Unsettled bills (未结算票据).
    pub unsettled_bills: Money,
}

impl Exposure {
    /// Receivables plus unsettled bills.
    pub fn total(&self) -> Money {
        self.receivables.saturating_add(self.unsettled_bills)
    }
}

/// Exposure against a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExposureCheck {
    /// The limit.
    pub limit: Limit,
    /// The exposure.
    pub exposure: Money,
    /// Whether the exposure is above the limit.
    pub over_limit: bool,
    /// By how much (zero when within).
    pub over_by: Money,
    /// What is left under the limit (`None`: no limit).
    pub headroom: Option<Money>,
}

/// Checks an exposure against a limit; reaching the limit exactly is within it.
pub fn check_exposure(limit: Limit, exposure: Money) -> ExposureCheck {
    let (over_by, headroom) = match limit {
        Limit::Unlimited => (0, None),
        Limit::Amount(cap) => {
            let diff = i128::from(exposure.fen()) - i128::from(cap.fen());
            (diff.max(0), Some(money(-diff)))
        }
    };
    ExposureCheck {
        limit,
        exposure,
        over_limit: over_by > 0,
        over_by: money(over_by),
        headroom,
    }
}

/// Why supply to a customer needs a manager's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum ApprovalReason {
    /// Supply is suspended on the card (交易中止); resuming is the manager's call.
    SupplySuspended {
        /// The reason recorded on the card.
        note: Option<String>,
    },
    /// The exposure would exceed the limit.
    OverLimit {
        /// The limit in force.
        limit: Money,
        /// By how much it is exceeded.
        over_by: Money,
    },
}

/// Whether supplying a customer up to `exposure` needs the sales manager's approval
/// (seed: exceeding the limit must be approved; suspended supply resumes only on a
/// manager's instruction), and why; `None` when the rep may go ahead.
pub fn needs_approval(
    card: &Card,
    class: Option<Class>,
    exposure: Money,
    settings: &CreditSettings,
) -> Option<ApprovalReason> {
    if card.credit.supply_suspended == Some(true) {
        return Some(ApprovalReason::SupplySuspended {
            note: card.credit.suspended_reason.clone(),
        });
    }
    let check = check_exposure(card_limit(card, class, settings), exposure);
    match check.limit {
        Limit::Amount(limit) if check.over_limit => Some(ApprovalReason::OverLimit {
            limit,
            over_by: check.over_by,
        }),
        _ => None,
    }
}

/// Where a card's credit review stands on a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ReviewState {
    /// Due in a later month.
    NotDue,
    /// Due this month, by the due day, not yet past.
    DueThisMonth,
    /// Past the due date.
    Overdue {
        /// Days past the due date.
        days: u32,
    },
}

/// A card's credit review schedule on a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewStatus {
    /// The last review recorded on the card.
    pub last_review: Option<NaiveDate>,
    /// Months between reviews for the card's class.
    pub interval_months: u32,
    /// The date the next report is due by.
    pub due: NaiveDate,
    /// Where it stands.
    pub state: ReviewState,
}

/// When a card's next credit review report is due: the due day of the month that is
/// the class's interval after the month of the last review; a card never reviewed
/// is due by the due day of the current month.
pub fn review_status(
    card: &Card,
    class: Option<Class>,
    today: NaiveDate,
    settings: &CreditSettings,
) -> ReviewStatus {
    let interval = settings.review_months(class);
    let day = settings.review_due_day.clamp(1, 28);
    let month_start = |d: NaiveDate| d.with_day(1).unwrap_or(d);
    let base = match card.credit.last_review {
        Some(last) => month_start(last)
            .checked_add_months(Months::new(interval))
            .unwrap_or(NaiveDate::MAX),
        None => month_start(today),
    };
    // Day 1–28 exists in every month; MAX stays MAX.
    let due = base.with_day(day).unwrap_or(base);
    let state = if today > due {
        let days = (today - due).num_days();
        ReviewState::Overdue {
            days: u32::try_from(days).unwrap_or(u32::MAX),
        }
    } else if (today.year(), today.month()) == (due.year(), due.month()) {
        ReviewState::DueThisMonth
    } else {
        ReviewState::NotDue
    };
    ReviewStatus {
        last_review: card.credit.last_review,
        interval_months: interval,
        due,
        state,
    }
}

/// A credit alert: a review due this month or overdue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewAlert {
    /// The card.
    pub card: CardId,
    /// The customer's name.
    pub name: Option<String>,
    /// The review schedule.
    pub status: ReviewStatus,
}

/// The credit review alerts on `today` for cards with their classes: overdue ones
/// first (longest overdue first), then those due this month; ties by card id.
pub fn review_alerts<'a>(
    cards: impl IntoIterator<Item = (&'a Card, Option<Class>)>,
    today: NaiveDate,
    settings: &CreditSettings,
) -> Vec<ReviewAlert> {
    let mut alerts: Vec<ReviewAlert> = cards
        .into_iter()
        .map(|(card, class)| ReviewAlert {
            card: card.id.clone(),
            name: card.basic.name.clone(),
            status: review_status(card, class, today, settings),
        })
        .filter(|a| a.status.state != ReviewState::NotDue)
        .collect();
    let key = |a: &ReviewAlert| match a.status.state {
        ReviewState::Overdue { days } => i64::from(days),
        _ => -1,
    };
    alerts.sort_by(|x, y| {
        key(y)
            .cmp(&key(x))
            .then_with(|| x.status.due.cmp(&y.status.due))
            .then_with(|| x.card.cmp(&y.card))
    });
    alerts
}

/// The fields of a card's approval record (`credit.<field>`): written only by a sales
/// manager's (or admin's) device, through `Store::approve_credit`; the server refuses a
/// rep's change that touches any of them ([`touches_approval`]).
pub const APPROVAL_FIELDS: &[&str] = &[
    "approval_limit",
    "approval_requested",
    "approval_by",
    "approval_at",
    "approval_note",
];

/// Whether a change that touched the field path `touched` (as history derives it from the
/// change's own diff: `credit.approval_limit`, or `credit` for the whole section) touched
/// the approval record. Replacing or removing the whole credit section touches it too,
/// except in the change that creates the card (its skeleton writes every section once).
/// The one definition the device and the server apply.
pub fn touches_approval(touched: &str, creates_card: bool) -> bool {
    match touched.split_once('.') {
        Some(("credit", rest)) => {
            let field = rest.split('.').next().unwrap_or(rest);
            APPROVAL_FIELDS.contains(&field)
        }
        None => touched == "credit" && !creates_card,
        Some(_) => false,
    }
}

/// The largest limit an approval may record: ¥10,000,000,000 (in fen). A larger number is
/// a typing error, and keeping every amount far below `i64::MAX` keeps sums exact.
pub const MAX_APPROVAL_FEN: i64 = 1_000_000_000_000;

/// The longest approval note, in characters.
pub const MAX_APPROVAL_NOTE_CHARS: usize = crate::value::MAX_LINE_CHARS;

/// Why an approval was refused before anything was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalInputError {
    /// The amount is above [`MAX_APPROVAL_FEN`].
    #[error("an approved limit cannot be above ¥10,000,000,000")]
    TooLarge,
    /// The note is longer than [`MAX_APPROVAL_NOTE_CHARS`].
    #[error("an approval note is at most 2,000 characters")]
    NoteTooLong,
}

/// Checks an approval's amount and note (amounts are never negative: [`Money`]).
pub fn validate_approval(amount: Money, note: Option<&str>) -> Result<(), ApprovalInputError> {
    if amount.fen() > MAX_APPROVAL_FEN {
        return Err(ApprovalInputError::TooLarge);
    }
    if note.is_some_and(|n| n.chars().count() > MAX_APPROVAL_NOTE_CHARS) {
        return Err(ApprovalInputError::NoteTooLong);
    }
    Ok(())
}

/// A sales manager's approval recorded on a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditApproval {
    /// The approved limit.
    pub limit: Money,
    /// The limit requested on the transaction card when it was approved.
    pub requested: Option<Money>,
    /// The approver's person id (the approving change's author).
    pub by: Option<String>,
    /// When.
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    /// The approver's note.
    pub note: Option<String>,
}

/// The approval recorded on a card, if any.
pub fn approval_of(card: &Card) -> Option<CreditApproval> {
    let c = &card.credit;
    c.approval_limit.map(|limit| CreditApproval {
        limit,
        requested: c.approval_requested,
        by: c.approval_by.clone(),
        at: c.approval_at,
        note: c.approval_note.clone(),
    })
}

/// The exposure recorded on a card: receivables plus unsettled bills (empty counts as 0).
pub fn card_exposure(card: &Card) -> Exposure {
    Exposure {
        receivables: card.credit.receivables.unwrap_or(Money::ZERO),
        unsettled_bills: card.credit.unsettled_bills.unwrap_or(Money::ZERO),
    }
}

/// One card in the credit report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditRow {
    /// The card.
    pub card: CardId,
    /// The customer's name.
    pub name: Option<String>,
    /// The class used (the hand-set one where set, else the computed ABC class).
    pub class: Option<Class>,
    /// The card's exposure against the limit in force.
    pub check: ExposureCheck,
    /// Why supply needs a manager's approval now (`None`: the rep may go ahead).
    pub needs_approval: Option<ApprovalReason>,
    /// The approval recorded on the card.
    pub approval: Option<CreditApproval>,
    /// The credit review schedule.
    pub review: ReviewStatus,
    /// Supply suspended (交易中止).
    pub supply_suspended: bool,
    /// Why, as recorded.
    pub suspended_reason: Option<String>,
}

/// Credit on a date over a set of cards: every card's limit, exposure, approval and review,
/// and the review alerts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditReport {
    /// The day the report is for.
    pub date: NaiveDate,
    /// Cards needing approval first, then by card id.
    pub rows: Vec<CreditRow>,
    /// Reviews overdue or due this month ([`review_alerts`]).
    pub alerts: Vec<ReviewAlert>,
    /// How many cards need a manager's approval.
    pub needing_approval: u32,
    /// How many cards have supply suspended.
    pub suspended: u32,
}

/// The credit report of `cards` on `today`: each card's class is its effective ABC class
/// (the hand-set or the computed one, as the ABC settings choose for the visit plan); limits, exposure, approvals and reviews
/// by this module's rules. The device and the server both call this.
pub fn credit_report<C: std::borrow::Borrow<Card>>(
    cards: &[C],
    today: NaiveDate,
    settings: &CreditSettings,
    abc: &super::abc::AbcSettings,
) -> CreditReport {
    use super::abc::{classify, effective_class};
    let classes: std::collections::HashMap<CardId, Class> = classify(cards, today, abc)
        .rows
        .iter()
        .map(|r| (r.card.clone(), effective_class(r, abc.source)))
        .collect();
    let class_of = |card: &Card| classes.get(&card.id).copied();
    let mut rows: Vec<CreditRow> = cards
        .iter()
        .map(|card| {
            let card = card.borrow();
            let class = class_of(card);
            let exposure = card_exposure(card).total();
            CreditRow {
                card: card.id.clone(),
                name: card.basic.name.clone(),
                class,
                check: check_exposure(card_limit(card, class, settings), exposure),
                needs_approval: needs_approval(card, class, exposure, settings),
                approval: approval_of(card),
                review: review_status(card, class, today, settings),
                supply_suspended: card.credit.supply_suspended == Some(true),
                suspended_reason: card.credit.suspended_reason.clone(),
            }
        })
        .collect();
    rows.sort_by(|x, y| {
        y.needs_approval
            .is_some()
            .cmp(&x.needs_approval.is_some())
            .then_with(|| x.card.cmp(&y.card))
    });
    let alerts = review_alerts(
        cards.iter().map(|c| (c.borrow(), class_of(c.borrow()))),
        today,
        settings,
    );
    let count = |f: &dyn Fn(&CreditRow) -> bool| {
        u32::try_from(rows.iter().filter(|r| f(r)).count()).unwrap_or(u32::MAX)
    };
    CreditReport {
        date: today,
        needing_approval: count(&|r| r.needs_approval.is_some()),
        suspended: count(&|r| r.supply_suspended),
        rows,
        alerts,
    }
}

/// One line of the transaction card: the card field it comes from, its label, its value
/// as shown (`None`: missing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionLine {
    /// The field path on the card (`basic.name`).
    pub path: String,
    /// The transaction card's label (客户名称).
    pub label: String,
    /// The value as shown, or `None` when the card lacks it.
    pub value: Option<String>,
}

/// The customer transaction card (客户交易卡, seed 002): what the rep fills in before the
/// first order, approved by the sales manager. A view of the card's own fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionCard {
    /// The card.
    pub card: CardId,
    /// The seed's items in its order.
    pub lines: Vec<TransactionLine>,
    /// The paths of the items still missing.
    pub missing: Vec<String>,
    /// The limit requested (信用限度申请额).
    pub requested_limit: Option<Money>,
    /// The approval recorded on the card.
    pub approval: Option<CreditApproval>,
    /// Whether the approval is of the limit requested now (a request changed after the
    /// approval needs approving again).
    pub approved: bool,
}

/// The transaction card's items (seed 002: 客户名称、总部所在地、交易对象所在地、通信地址及
/// 电话、开业时间、资本额、职工人数、管理者人数、设备、经营者年龄、信用限度申请额、基本约定、
/// 回收条件) and the card fields they are read from.
pub const TRANSACTION_ITEMS: &[(&str, &str)] = &[
    ("basic.name", "客户名称"),
    ("basic.head_office", "总部所在地"),
    ("basic.address", "交易对象所在地"),
    ("basic.phone", "通信地址及电话"),
    ("basic.founded", "开业时间"),
    ("credit.registered_capital", "资本额"),
    ("operating.employees", "职工人数"),
    ("operating.manager_count", "管理者人数"),
    ("operating.equipment", "设备"),
    ("basic.owner_age", "经营者年龄"),
    ("credit.requested_limit", "信用限度申请额"),
    ("transaction.trading_terms", "基本约定"),
    ("credit.collection_terms", "回收条件"),
];

/// The transaction card of a card, with what is missing and whether the limit requested
/// is the one approved.
pub fn transaction_card(card: &Card) -> TransactionCard {
    let lines: Vec<TransactionLine> = TRANSACTION_ITEMS
        .iter()
        .map(|(path, label)| TransactionLine {
            path: (*path).to_owned(),
            label: (*label).to_owned(),
            value: card.get_path(path).ok().flatten(),
        })
        .collect();
    let missing = lines
        .iter()
        .filter(|l| l.value.is_none())
        .map(|l| l.path.clone())
        .collect();
    let approval = approval_of(card);
    let requested = card.credit.requested_limit;
    TransactionCard {
        card: card.id.clone(),
        lines,
        missing,
        requested_limit: requested,
        approved: approval
            .as_ref()
            .is_some_and(|a| requested.is_none_or(|r| a.requested == Some(r))),
        approval,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::card_id;

    fn yuan(y: i64) -> Money {
        Money::yuan(y).expect("amount")
    }

    fn pct(p: i64) -> Ratio {
        Ratio::from_e4(p * 100)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    fn card(id: &str, name: &str) -> Card {
        let mut card = Card::new();
        card.id = card_id(id);
        card.basic.name = Some(name.into());
        card
    }

    #[test]
    fn sales_method_worked_example() {
        // 上海华东食品有限公司 expects to sell ¥500,000 a month at a cost ratio of 80%,
        // buying 30% of it from us, on 60 days' credit:
        // ¥500,000 × 80% × 30% × 2 months = ¥240,000.
        let input = SalesMethodInput {
            expected_monthly_sales: yuan(500_000),
            cost_ratio: pct(80),
            supply_share: pct(30),
            credit_days: 60,
        };
        let s = CreditSettings::default();
        assert_eq!(sales_method(&input, &s), Ok(yuan(240_000)));
        // 45 days: ¥120,000 × 1.5 = ¥180,000.
        assert_eq!(
            sales_method(
                &SalesMethodInput {
                    credit_days: 45,
                    ..input.clone()
                },
                &s
            ),
            Ok(yuan(180_000))
        );
        // Rounds down to the fen: ¥1 × 33.33% × 100% × 1 day / 30 = 1.111… fen → 1 fen.
        let tiny = SalesMethodInput {
            expected_monthly_sales: yuan(1),
            cost_ratio: Ratio::from_e4(3333),
            supply_share: Ratio::ONE,
            credit_days: 1,
        };
        assert_eq!(sales_method(&tiny, &s).map(Money::fen), Ok(1));
        let bad = SalesMethodInput {
            supply_share: pct(120),
            ..input
        };
        assert_eq!(
            sales_method(&bad, &s),
            Err(CreditInputError::RatioOutOfRange)
        );
    }

    #[test]
    fn working_capital_split_worked_example() {
        // 北京燕京商贸有限公司: current assets ¥3,000,000, current liabilities
        // ¥1,800,000, 4 suppliers: (3,000,000 − 1,800,000) ÷ 4 = ¥300,000.
        assert_eq!(
            working_capital_split(yuan(3_000_000), yuan(1_800_000), 4),
            Ok(yuan(300_000))
        );
        // Negative working capital: no credit.
        assert_eq!(
            working_capital_split(yuan(1_000_000), yuan(1_800_000), 4),
            Ok(Money::ZERO)
        );
        assert_eq!(
            working_capital_split(yuan(1), yuan(0), 0),
            Err(CreditInputError::NoSuppliers)
        );
        // ¥1 over 3 suppliers: 33 fen each, rounded down.
        assert_eq!(
            working_capital_split(yuan(1), Money::ZERO, 3).map(Money::fen),
            Ok(33)
        );
    }

    #[test]
    fn current_ratio_worked_example() {
        // 广州南方百货公司: current assets ¥2,400,000, liabilities ¥1,000,000 → 240%,
        // above the normal 200%: a base of ¥200,000 becomes ¥200,000 × 240/200 = ¥240,000.
        let s = CreditSettings::default();
        let ratio = current_ratio(yuan(2_400_000), yuan(1_000_000));
        assert_eq!(ratio, Some(pct(240)));
        assert_eq!(current_ratio_limit(yuan(200_000), ratio, &s), yuan(240_000));
        // At the norm: the base. Below it (150%): ¥150,000.
        assert_eq!(
            current_ratio_limit(
                yuan(200_000),
                current_ratio(yuan(2_000_000), yuan(1_000_000)),
                &s
            ),
            yuan(200_000)
        );
        assert_eq!(
            current_ratio_limit(
                yuan(200_000),
                current_ratio(yuan(1_500_000), yuan(1_000_000)),
                &s
            ),
            yuan(150_000)
        );
        // Far above (1000%) is capped at 200% of the base; so is "no liabilities".
        assert_eq!(
            current_ratio_limit(
                yuan(200_000),
                current_ratio(yuan(10_000_000), yuan(1_000_000)),
                &s
            ),
            yuan(400_000)
        );
        assert_eq!(current_ratio(yuan(1), Money::ZERO), None);
        assert_eq!(current_ratio_limit(yuan(200_000), None, &s), yuan(400_000));
    }

    #[test]
    fn net_asset_split_worked_example() {
        // 深圳鹏城超市: assets ¥10,000,000, liabilities ¥6,000,000, 5 suppliers:
        // (10,000,000 − 6,000,000) ÷ 5 = ¥800,000.
        assert_eq!(
            net_asset_split(yuan(10_000_000), yuan(6_000_000), 5),
            Ok(yuan(800_000))
        );
        assert_eq!(net_asset_split(yuan(1), yuan(2), 5), Ok(Money::ZERO));
        assert_eq!(
            net_asset_split(yuan(1), yuan(0), 0),
            Err(CreditInputError::NoSuppliers)
        );
    }

    #[test]
    fn overall_judgement_worked_example() {
        use Payment::{Late, OnTime};
        // 杭州西湖食品批发部 starts at a rough ¥50,000; every 3 on-time settlements in
        // a row add 10% of it (¥5,000).
        let s = CreditSettings::default();
        assert_eq!(overall_judgement(yuan(50_000), &[], &s), yuan(50_000));
        assert_eq!(
            overall_judgement(yuan(50_000), &[OnTime; 7], &s),
            yuan(60_000)
        );
        // A late payment starts the count again: 2 on time, late, 3 on time = 1 step.
        let record = [OnTime, OnTime, Late, OnTime, OnTime, OnTime];
        assert_eq!(overall_judgement(yuan(50_000), &record, &s), yuan(55_000));
        // Never above the highest limit (¥500,000): 300 on-time payments = 100 steps.
        assert_eq!(
            overall_judgement(yuan(50_000), &[OnTime; 300], &s),
            s.max_limit
        );
        // An initial limit already above the maximum stays where it is.
        assert_eq!(
            overall_judgement(yuan(900_000), &[OnTime; 30], &s),
            yuan(900_000)
        );
    }

    #[test]
    fn class_limits_and_the_recorded_limit() {
        let s = CreditSettings::default();
        assert_eq!(class_default_limit(Some(Class::A), &s), Limit::Unlimited);
        assert_eq!(
            class_default_limit(Some(Class::B), &s),
            Limit::Amount(yuan(100_000))
        );
        assert_eq!(
            class_default_limit(Some(Class::C), &s),
            Limit::Amount(yuan(20_000))
        );
        assert_eq!(class_default_limit(None, &s), Limit::Amount(yuan(20_000)));
        let mut c = card("a", "南京金陵商行");
        assert_eq!(card_limit(&c, Some(Class::A), &s), Limit::Unlimited);
        c.credit.credit_limit = Some(yuan(80_000));
        assert_eq!(
            card_limit(&c, Some(Class::A), &s),
            Limit::Amount(yuan(80_000))
        );
    }

    #[test]
    fn exposure_against_the_limit() {
        let exposure = Exposure {
            receivables: yuan(90_000),
            unsettled_bills: yuan(25_000),
        };
        assert_eq!(exposure.total(), yuan(115_000));
        let check = check_exposure(Limit::Amount(yuan(100_000)), exposure.total());
        assert!(check.over_limit);
        assert_eq!(
            (check.over_by, check.headroom),
            (yuan(15_000), Some(Money::ZERO))
        );
        let at = check_exposure(Limit::Amount(yuan(115_000)), exposure.total());
        assert!(!at.over_limit, "reaching the limit exactly is within it");
        assert_eq!((at.over_by, at.headroom), (Money::ZERO, Some(Money::ZERO)));
        let under = check_exposure(Limit::Amount(yuan(200_000)), exposure.total());
        assert_eq!(under.headroom, Some(yuan(85_000)));
        let none = check_exposure(Limit::Unlimited, exposure.total());
        assert_eq!((none.over_limit, none.headroom), (false, None));
        let json = serde_json::to_value(check).expect("json");
        assert_eq!(
            json["limit"],
            serde_json::json!({"kind": "amount", "amount": 10_000_000})
        );
        assert_eq!(json["over_by"], 1_500_000);
    }

    #[test]
    fn approval_for_over_limit_or_suspended_supply() {
        let s = CreditSettings::default();
        let mut c = card("a", "成都天府连锁店");
        // Class B, base ¥100,000.
        assert_eq!(needs_approval(&c, Some(Class::B), yuan(100_000), &s), None);
        assert_eq!(
            needs_approval(&c, Some(Class::B), yuan(100_001), &s),
            Some(ApprovalReason::OverLimit {
                limit: yuan(100_000),
                over_by: yuan(1)
            })
        );
        assert_eq!(
            needs_approval(&c, Some(Class::A), yuan(9_000_000), &s),
            None
        );
        c.credit.supply_suspended = Some(true);
        c.credit.suspended_reason = Some("支票被拒付".into());
        assert_eq!(
            needs_approval(&c, Some(Class::A), Money::ZERO, &s),
            Some(ApprovalReason::SupplySuspended {
                note: Some("支票被拒付".into())
            })
        );
        c.credit.supply_suspended = Some(false);
        assert_eq!(needs_approval(&c, Some(Class::A), yuan(1), &s), None);
    }

    #[test]
    fn review_due_dates_by_class() {
        let s = CreditSettings::default();
        let mut c = card("a", "武汉江城专营店");
        c.credit.last_review = Some(date(2026, 3, 25));
        let due = |class, today| review_status(&c, class, today, &s);
        // A: six months after March, by the 10th: 2026-09-10.
        assert_eq!(due(Some(Class::A), date(2026, 4, 1)).due, date(2026, 9, 10));
        // B: 2026-06-10; C: 2026-04-10; unclassified as C.
        assert_eq!(due(Some(Class::B), date(2026, 4, 1)).due, date(2026, 6, 10));
        assert_eq!(due(Some(Class::C), date(2026, 4, 1)).due, date(2026, 4, 10));
        assert_eq!(due(None, date(2026, 4, 1)).due, date(2026, 4, 10));
        assert_eq!(
            due(Some(Class::B), date(2026, 4, 1)).state,
            ReviewState::NotDue
        );
        assert_eq!(
            due(Some(Class::B), date(2026, 6, 1)).state,
            ReviewState::DueThisMonth
        );
        assert_eq!(
            due(Some(Class::B), date(2026, 6, 10)).state,
            ReviewState::DueThisMonth
        );
        assert_eq!(
            due(Some(Class::B), date(2026, 6, 11)).state,
            ReviewState::Overdue { days: 1 }
        );
        assert_eq!(
            due(Some(Class::B), date(2026, 7, 10)).state,
            ReviewState::Overdue { days: 30 }
        );
        // Across a year: A reviewed in 2026-10 is due 2027-04-10.
        c.credit.last_review = Some(date(2026, 10, 9));
        assert_eq!(
            review_status(&c, Some(Class::A), date(2026, 10, 9), &s).due,
            date(2027, 4, 10)
        );
        // Never reviewed: due by the 10th of this month.
        c.credit.last_review = None;
        let never = review_status(&c, Some(Class::A), date(2026, 12, 15), &s);
        assert_eq!(
            (never.due, never.state),
            (date(2026, 12, 10), ReviewState::Overdue { days: 5 })
        );
    }

    #[test]
    fn review_alerts_list_overdue_first() {
        let s = CreditSettings::default();
        let today = date(2026, 12, 15);
        let mut late = card("b", "西安长安副食店");
        late.credit.last_review = Some(date(2026, 8, 1)); // B → 2026-11-10, 35 days late
        let mut later = card("c", "重庆山城百货");
        later.credit.last_review = Some(date(2026, 5, 20)); // A → 2026-11-10 as well
        let mut fresh = card("d", "苏州姑苏便利店");
        fresh.credit.last_review = Some(date(2026, 12, 2)); // C → 2027-01-10
        let mut just = card("a", "天津津门商店");
        just.credit.last_review = Some(date(2026, 11, 30)); // C → 2026-12-10, 5 days late
        let mut soon = card("e", "青岛海滨小卖部");
        soon.credit.last_review = Some(date(2026, 11, 3));
        let cards = [
            (&fresh, Some(Class::C)),
            (&just, Some(Class::C)),
            (&later, Some(Class::A)),
            (&late, Some(Class::B)),
        ];
        let alerts = review_alerts(cards, today, &s);
        let ids: Vec<CardId> = alerts.iter().map(|a| a.card.clone()).collect();
        assert_eq!(ids, ["b", "c", "a"].map(card_id));
        assert_eq!(alerts[0].status.state, ReviewState::Overdue { days: 35 });
        assert_eq!(alerts[0].name.as_deref(), Some("西安长安副食店"));
        // Due this month and not yet past: listed after the overdue ones.
        let alerts = review_alerts(
            [(&soon, Some(Class::C)), (&just, Some(Class::C))],
            date(2026, 12, 5),
            &s,
        );
        let states: Vec<ReviewState> = alerts.iter().map(|a| a.status.state).collect();
        assert_eq!(
            states,
            [ReviewState::DueThisMonth, ReviewState::DueThisMonth]
        );
        let ids: Vec<CardId> = alerts.iter().map(|a| a.card.clone()).collect();
        assert_eq!(ids, ["a", "e"].map(card_id));
    }

    #[test]
    fn settings_that_do_not_add_up_are_refused() {
        let d = CreditSettings::default;
        assert_eq!(d().validate(), Ok(()));
        let bad = |s: CreditSettings| s.validate().expect_err("refused");
        assert_eq!(
            bad(CreditSettings {
                review_months_b: 0,
                ..d()
            }),
            CreditSettingsError::ReviewMonths(0)
        );
        assert_eq!(
            bad(CreditSettings {
                review_due_day: 31,
                ..d()
            }),
            CreditSettingsError::DueDay(31)
        );
        assert_eq!(
            bad(CreditSettings {
                c_small_limit: yuan(200_000),
                ..d()
            }),
            CreditSettingsError::CAboveB
        );
        assert_eq!(
            bad(CreditSettings {
                max_limit: yuan(1),
                ..d()
            }),
            CreditSettingsError::MaxBelowB
        );
        assert_eq!(
            bad(CreditSettings {
                normal_current_ratio_percent: 0,
                ..d()
            }),
            CreditSettingsError::NormalRatio
        );
        assert_eq!(
            bad(CreditSettings {
                current_ratio_max_scale_percent: 50,
                ..d()
            }),
            CreditSettingsError::RatioCap(50)
        );
        assert_eq!(
            bad(CreditSettings {
                on_time_per_step: 0,
                ..d()
            }),
            CreditSettingsError::Step
        );
        assert_eq!(
            bad(CreditSettings {
                days_per_month: 7,
                ..d()
            }),
            CreditSettingsError::DaysPerMonth(7)
        );
        assert!(
            bad(CreditSettings {
                review_due_day: 0,
                ..d()
            })
            .to_string()
            .contains("1 to 28")
        );
    }

    #[test]
    fn which_paths_touch_the_approval_record() {
        for f in APPROVAL_FIELDS {
            assert!(touches_approval(&format!("credit.{f}"), false));
            assert!(touches_approval(&format!("credit.{f}"), true));
        }
        // The whole section, replaced or removed, except by the change creating the card.
        assert!(touches_approval("credit", false));
        assert!(!touches_approval("credit", true));
        for other in [
            "credit.credit_limit",
            "credit.requested_limit",
            "credit.receivables",
            "basic.name",
            "visits.abc.summary",
            "territory",
            "approval_limit",
        ] {
            assert!(!touches_approval(other, false), "{other}");
        }
    }

    #[test]
    fn an_approval_supersedes_the_recorded_limit_and_is_bounded() {
        let s = CreditSettings::default();
        let mut c = card("a", "南京金陵商行");
        c.credit.credit_limit = Some(yuan(80_000));
        c.credit.receivables = Some(yuan(90_000));
        c.credit.unsettled_bills = Some(yuan(30_000));
        let exposure = card_exposure(&c).total();
        assert_eq!(exposure, yuan(120_000));
        assert!(needs_approval(&c, Some(Class::B), exposure, &s).is_some());
        c.credit.approval_limit = Some(yuan(150_000));
        assert_eq!(
            card_limit(&c, Some(Class::B), &s),
            Limit::Amount(yuan(150_000))
        );
        assert_eq!(needs_approval(&c, Some(Class::B), exposure, &s), None);
        assert_eq!(validate_approval(yuan(150_000), Some("同意")), Ok(()));
        let over = Money::from_fen(MAX_APPROVAL_FEN + 1).expect("money");
        assert_eq!(
            validate_approval(over, None),
            Err(ApprovalInputError::TooLarge)
        );
        assert_eq!(
            validate_approval(yuan(1), Some(&"批".repeat(2_001))),
            Err(ApprovalInputError::NoteTooLong)
        );
    }

    #[test]
    fn the_transaction_card_lists_what_is_missing_and_whether_it_is_approved() {
        let mut c = card("a", "广州南方百货公司");
        c.basic.head_office = Some("广州市天河区".into());
        c.basic.address = Some("广州市越秀区北京路 88 号".into());
        c.basic.phone = Some("020-8888 6666".into());
        c.credit.registered_capital = Some(yuan(5_000_000));
        c.operating.employees = Some(crate::value::Count(120));
        c.credit.requested_limit = Some(yuan(300_000));
        c.transaction.trading_terms = Some("月结 30 天".into());
        let tc = transaction_card(&c);
        assert_eq!(tc.lines.len(), TRANSACTION_ITEMS.len());
        assert_eq!(tc.lines[0].value.as_deref(), Some("广州南方百货公司"));
        assert_eq!(tc.lines[0].label, "客户名称");
        assert_eq!(
            tc.missing,
            [
                "basic.founded",
                "operating.manager_count",
                "operating.equipment",
                "basic.owner_age",
                "credit.collection_terms"
            ]
        );
        assert_eq!(tc.requested_limit, Some(yuan(300_000)));
        assert!(!tc.approved);
        c.credit.approval_limit = Some(yuan(300_000));
        c.credit.approval_requested = Some(yuan(300_000));
        c.credit.approval_by = Some("wangjl".into());
        assert!(transaction_card(&c).approved);
        // Requested more since: not approved any more.
        c.credit.requested_limit = Some(yuan(400_000));
        let tc = transaction_card(&c);
        assert!(!tc.approved);
        assert_eq!(tc.approval.map(|a| a.limit), Some(yuan(300_000)));
        // Every item path is a field of the card model.
        for (path, _) in TRANSACTION_ITEMS {
            assert!(crate::card::kind_of(path).is_some(), "{path}");
        }
    }

    #[test]
    fn the_credit_report_over_cards() {
        let s = CreditSettings::default();
        let today = date(2026, 12, 15);
        let mut over = card("b", "西安长安副食店");
        over.credit.receivables = Some(yuan(30_000)); // unclassified: C's ¥20,000
        over.credit.last_review = Some(date(2026, 12, 1));
        let mut suspended = card("c", "重庆山城百货");
        suspended.credit.supply_suspended = Some(true);
        suspended.credit.suspended_reason = Some("支票被拒付".into());
        suspended.credit.last_review = Some(date(2026, 12, 1));
        let mut fine = card("a", "天津津门商店");
        fine.credit.receivables = Some(yuan(5_000));
        let report = credit_report(
            &[fine.clone(), over, suspended],
            today,
            &s,
            &crate::analysis::abc::AbcSettings::default(),
        );
        let ids: Vec<CardId> = report.rows.iter().map(|r| r.card.clone()).collect();
        assert_eq!(ids, ["b", "c", "a"].map(card_id));
        assert_eq!((report.needing_approval, report.suspended), (2, 1));
        assert_eq!(
            report.rows[0].needs_approval,
            Some(ApprovalReason::OverLimit {
                limit: yuan(20_000),
                over_by: yuan(10_000)
            })
        );
        assert!(report.rows[1].supply_suspended);
        assert_eq!(
            report.rows[1].suspended_reason.as_deref(),
            Some("支票被拒付")
        );
        // Only the never-reviewed card is due (by the 10th, so overdue).
        assert_eq!(report.alerts.len(), 1);
        assert_eq!(report.alerts[0].card, fine.id);
        assert_eq!(
            report.alerts[0].status.state,
            ReviewState::Overdue { days: 5 }
        );
    }

    #[test]
    fn the_new_credit_fields_are_on_the_card_schema() {
        let paths: Vec<String> = crate::card::schema().into_iter().map(|f| f.path).collect();
        assert!(paths.contains(&"credit.supply_suspended".to_string()));
        assert!(paths.contains(&"credit.suspended_reason".to_string()));
    }
}
