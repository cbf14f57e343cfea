//! 信用 on the dashboard: the transaction card (客户交易卡) section of a card's page and
//! the credit list of the 分析 page. Both render what the JSON API returns
//! ([`crate::manager::card_transaction`], [`crate::manager::credit`]: core's
//! `analysis::credit`, the phone's code); approving is a change a manager's phone makes,
//! not a form here.

use fieldbook_core::analysis::credit::{
    ApprovalReason, CreditReport, Limit, ReviewState, TransactionCard,
};
use fieldbook_core::value::Scalar;

use super::pages::beijing_time;
use super::text::shown;

/// One item of the transaction card.
pub(crate) struct TransactionItem {
    pub(crate) label: String,
    pub(crate) value: String,
    pub(crate) missing: bool,
}

/// A card page's transaction card section.
pub(crate) struct TransactionBlock {
    pub(crate) items: Vec<TransactionItem>,
    pub(crate) missing: usize,
    pub(crate) approved: bool,
    /// The approval in words (核准 ¥150,000.00, 王经理, when, note), or why there is none.
    pub(crate) status: String,
}

impl From<TransactionCard> for TransactionBlock {
    fn from(t: TransactionCard) -> Self {
        let status = match &t.approval {
            Some(a) => format!(
                "{}核准信用限度 {}（核准人 {}，{}）{}",
                if t.approved {
                    ""
                } else {
                    "申请额已变更，需重新核准。原"
                },
                a.limit.display(),
                a.by.as_deref().unwrap_or("—"),
                beijing_time(a.at),
                a.note
                    .as_deref()
                    .map(|n| format!("：{n}"))
                    .unwrap_or_default()
            ),
            None => "尚未核准".to_owned(),
        };
        TransactionBlock {
            missing: t.missing.len(),
            approved: t.approved,
            status: shown(&status),
            items: t
                .lines
                .into_iter()
                .map(|l| TransactionItem {
                    label: l.label,
                    missing: l.value.is_none(),
                    value: shown(l.value.as_deref().unwrap_or("未填")),
                })
                .collect(),
        }
    }
}

/// One card of the credit list.
pub(crate) struct CreditLine {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) class: String,
    pub(crate) limit: String,
    pub(crate) exposure: String,
    pub(crate) attention: String,
    pub(crate) needs_approval: bool,
    pub(crate) approval: String,
    pub(crate) review_due: String,
    pub(crate) review: String,
    pub(crate) overdue: bool,
}

/// The 分析 page's credit list.
pub(crate) struct CreditSection {
    pub(crate) rows: Vec<CreditLine>,
    pub(crate) needing_approval: u32,
    pub(crate) suspended: u32,
    pub(crate) alerts: usize,
}

impl From<CreditReport> for CreditSection {
    fn from(r: CreditReport) -> Self {
        let rows = r
            .rows
            .into_iter()
            .map(|row| {
                let attention = match &row.needs_approval {
                    Some(ApprovalReason::OverLimit { over_by, .. }) => {
                        format!("超出限度 {}，需销售经理核准", over_by.display())
                    }
                    Some(ApprovalReason::SupplySuspended { note }) => format!(
                        "交易中止{}",
                        note.as_deref()
                            .map(|n| format!("：{n}"))
                            .unwrap_or_default()
                    ),
                    None => "—".to_owned(),
                };
                let (review, overdue) = match row.review.state {
                    ReviewState::NotDue => ("未到期".to_owned(), false),
                    ReviewState::DueThisMonth => ("本月到期".to_owned(), false),
                    ReviewState::Overdue { days } => (format!("逾期 {days} 天"), true),
                };
                CreditLine {
                    id: shown(row.card.as_str()),
                    name: shown(row.name.as_deref().unwrap_or("（未命名客户）")),
                    class: row
                        .class
                        .map_or_else(|| "—".to_owned(), |c| format!("{c:?}")),
                    limit: match row.check.limit {
                        Limit::Unlimited => "不限".to_owned(),
                        Limit::Amount(m) => m.display(),
                    },
                    exposure: row.check.exposure.display(),
                    attention: shown(&attention),
                    needs_approval: row.needs_approval.is_some(),
                    approval: row.approval.map_or_else(
                        || "—".to_owned(),
                        |a| {
                            shown(&format!(
                                "{}（{}）",
                                a.limit.display(),
                                a.by.unwrap_or_default()
                            ))
                        },
                    ),
                    review_due: row.review.due.to_string(),
                    review,
                    overdue,
                }
            })
            .collect();
        CreditSection {
            rows,
            needing_approval: r.needing_approval,
            suspended: r.suspended,
            alerts: r.alerts.len(),
        }
    }
}
