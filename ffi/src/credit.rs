//! Credit as the phone app reads it (core's `analysis::credit` over the phone's cards,
//! offline, with the company's settings): the credit report, one card's transaction card
//! (客户交易卡), and a sales manager's approval (`approveCredit`: a rep's phone is refused
//! with `access.not_approver`, the rule being core's). Money is shown as core shows it
//! (`150000.00`).

use fieldbook_core::analysis::credit as core_credit;
use fieldbook_core::analysis::credit::{ApprovalReason, Limit, ReviewState};
use fieldbook_core::value::{Money, Scalar};

use crate::Fieldbook;
use crate::error::FieldbookError;
use crate::fieldbook::{card_id, date};

type Result<T, E = FieldbookError> = std::result::Result<T, E>;

/// One card of the credit report.
#[derive(Debug, Clone, uniffi::Record)]
pub struct CreditLine {
    /// The card.
    pub card_id: String,
    /// The customer's name.
    pub name: Option<String>,
    /// The class its limit and review interval follow (`A`…`D`), if any.
    pub class: Option<String>,
    /// The limit in force; `None`: no limit (class A).
    pub limit: Option<String>,
    /// Receivables plus unsettled bills.
    pub exposure: String,
    /// By how much the exposure exceeds the limit (`0.00` within it).
    pub over_by: String,
    /// Why a sales manager's approval is needed now: `over_limit`, `supply_suspended`,
    /// or `None`.
    pub needs_approval: Option<String>,
    /// The approved limit, if a manager approved one.
    pub approved_limit: Option<String>,
    /// Who approved (person id).
    pub approved_by: Option<String>,
    /// When (RFC 3339).
    pub approved_at: Option<String>,
    /// The approver's note.
    pub approval_note: Option<String>,
    /// When the next credit review report is due (`2026-12-10`).
    pub review_due: String,
    /// `not_due`, `due_this_month` or `overdue`.
    pub review_state: String,
    /// Days past the due date (0 unless overdue).
    pub days_overdue: u32,
    /// Supply suspended (交易中止).
    pub supply_suspended: bool,
    /// Why.
    pub suspended_reason: Option<String>,
}

/// Credit on a day over the phone's cards.
#[derive(Debug, Clone, uniffi::Record)]
pub struct CreditReport {
    /// The day (`2026-12-15`).
    pub date: String,
    /// Cards needing approval first, then by card id.
    pub lines: Vec<CreditLine>,
    /// Cards whose credit review is overdue or due this month, overdue first.
    pub review_alerts: Vec<String>,
    /// How many cards need a sales manager's approval.
    pub needing_approval: u32,
    /// How many cards have supply suspended.
    pub suspended: u32,
}

/// One item of the transaction card.
#[derive(Debug, Clone, uniffi::Record)]
pub struct TransactionItem {
    /// The card field it is read from (`basic.head_office`): edit it there.
    pub path: String,
    /// The item's label (总部所在地).
    pub label: String,
    /// Its value as shown; `None`: missing.
    pub value: Option<String>,
}

/// A card's transaction card (客户交易卡).
#[derive(Debug, Clone, uniffi::Record)]
pub struct TransactionCard {
    /// The card.
    pub card_id: String,
    /// The seed's items in order.
    pub items: Vec<TransactionItem>,
    /// The paths of the items still missing.
    pub missing: Vec<String>,
    /// The limit requested (信用限度申请额).
    pub requested_limit: Option<String>,
    /// Whether the limit requested now is the one approved.
    pub approved: bool,
    /// The approved limit, if any.
    pub approved_limit: Option<String>,
    /// Who approved (person id).
    pub approved_by: Option<String>,
    /// When (RFC 3339).
    pub approved_at: Option<String>,
    /// The approver's note.
    pub approval_note: Option<String>,
}

fn line(r: core_credit::CreditRow) -> CreditLine {
    let (review_state, days_overdue) = match r.review.state {
        ReviewState::NotDue => ("not_due", 0),
        ReviewState::DueThisMonth => ("due_this_month", 0),
        ReviewState::Overdue { days } => ("overdue", days),
    };
    CreditLine {
        card_id: r.card.to_string(),
        name: r.name,
        class: r.class.map(|c| format!("{c:?}")),
        limit: match r.check.limit {
            Limit::Unlimited => None,
            Limit::Amount(m) => Some(m.display()),
        },
        exposure: r.check.exposure.display(),
        over_by: r.check.over_by.display(),
        needs_approval: r.needs_approval.map(|a| {
            match a {
                ApprovalReason::OverLimit { .. } => "over_limit",
                ApprovalReason::SupplySuspended { .. } => "supply_suspended",
            }
            .to_owned()
        }),
        approved_limit: r.approval.as_ref().map(|a| a.limit.display()),
        approved_by: r.approval.as_ref().and_then(|a| a.by.clone()),
        approved_at: r
            .approval
            .as_ref()
            .and_then(|a| a.at.map(|t| t.to_rfc3339())),
        approval_note: r.approval.and_then(|a| a.note),
        review_due: r.review.due.to_string(),
        review_state: review_state.to_owned(),
        days_overdue,
        supply_suspended: r.supply_suspended,
        suspended_reason: r.suspended_reason,
    }
}

impl From<core_credit::CreditReport> for CreditReport {
    fn from(r: core_credit::CreditReport) -> Self {
        CreditReport {
            date: r.date.to_string(),
            review_alerts: r.alerts.iter().map(|a| a.card.to_string()).collect(),
            needing_approval: r.needing_approval,
            suspended: r.suspended,
            lines: r.rows.into_iter().map(line).collect(),
        }
    }
}

impl From<core_credit::TransactionCard> for TransactionCard {
    fn from(t: core_credit::TransactionCard) -> Self {
        TransactionCard {
            card_id: t.card.to_string(),
            items: t
                .lines
                .into_iter()
                .map(|l| TransactionItem {
                    path: l.path,
                    label: l.label,
                    value: l.value,
                })
                .collect(),
            missing: t.missing,
            requested_limit: t.requested_limit.map(|m| m.display()),
            approved: t.approved,
            approved_limit: t.approval.as_ref().map(|a| a.limit.display()),
            approved_by: t.approval.as_ref().and_then(|a| a.by.clone()),
            approved_at: t
                .approval
                .as_ref()
                .and_then(|a| a.at.map(|t| t.to_rfc3339())),
            approval_note: t.approval.and_then(|a| a.note),
        }
    }
}

#[uniffi::export]
impl Fieldbook {
    /// Credit on `date` (`2026-12-15`; default today) over the cards on this phone:
    /// limits, exposure, what needs a sales manager's approval and why, approvals, credit
    /// reviews due and overdue, suspended supply (the read connection; offline).
    pub fn credit_report(&self, date: Option<String>) -> Result<CreditReport> {
        let day = self::date("date", &date)?.unwrap_or_else(|| chrono::Local::now().date_naive());
        Ok(self.read(|r| r.credit_report(day))?.into())
    }

    /// A card's transaction card (客户交易卡): its items, which are missing, the limit
    /// requested and whether it is approved (the read connection; offline).
    pub fn transaction_card(&self, id: String) -> Result<TransactionCard> {
        let id = card_id(&id)?;
        Ok(self.read(|r| r.transaction_card(&id))?.into())
    }

    /// Approve a credit limit of `amount` yuan (`150000`) on a card, as this phone's
    /// person: only a phone enrolled as a sales manager's or admin's
    /// (`access.not_approver` otherwise, nothing written). Recorded as one change with
    /// the limit requested, the approver, the time and `note`; durable when it returns.
    pub fn approve_credit(&self, id: String, amount: String, note: Option<String>) -> Result<()> {
        let id = card_id(&id)?;
        let amount =
            Money::parse(&amount).map_err(|reason| fieldbook_core::Error::InvalidValue {
                field: "credit.approval_limit".into(),
                reason,
            })?;
        self.write(|s| s.approve_credit(&id, amount, note.as_deref()))
    }
}
