//! `fieldbook credit`: credit on this device (core's `analysis::credit` over the device's
//! cards, the code the server runs for managers), one card's transaction card
//! (客户交易卡), and a sales manager's approval (`Store::approve_credit`: a rep's device is
//! refused with `access.not_approver`, exit status 2).

use fieldbook_core::Store;
use fieldbook_core::analysis::credit::{ApprovalReason, Limit, ReviewState};
use fieldbook_core::value::{Money, Scalar};
use serde_json::json;

use super::{card_id, parse_date};
use crate::args::CreditCommand;
use crate::error::{CliError, Result};
use crate::output::{Output, Table};

/// `fieldbook credit [--date D] [card ID | approve ID AMOUNT [--note N]]`.
pub fn run(store: &mut Store, date: Option<&str>, action: Option<CreditCommand>) -> Result<Output> {
    match action {
        None => report(store, date),
        Some(CreditCommand::Card { id }) => card(store, &id),
        Some(CreditCommand::Approve { id, amount, note }) => {
            approve(store, &id, &amount, note.as_deref())
        }
    }
}

fn limit(l: Limit) -> String {
    match l {
        Limit::Unlimited => "unlimited".into(),
        Limit::Amount(m) => m.display(),
    }
}

fn reason(r: Option<&ApprovalReason>) -> String {
    match r {
        None => "—".into(),
        Some(ApprovalReason::OverLimit { over_by, .. }) => {
            format!("over limit by {}", over_by.display())
        }
        Some(ApprovalReason::SupplySuspended { .. }) => "supply suspended".into(),
    }
}

fn review(state: ReviewState) -> String {
    match state {
        ReviewState::NotDue => "not due".into(),
        ReviewState::DueThisMonth => "due this month".into(),
        ReviewState::Overdue { days } => format!("overdue {days} d"),
    }
}

fn report(store: &mut Store, date: Option<&str>) -> Result<Output> {
    let today = parse_date("date", date.unwrap_or("today"))?;
    let report = store.credit_report(today)?;
    let mut t = Table::new(&[
        "CUSTOMER",
        "CLASS",
        "LIMIT",
        "EXPOSURE",
        "NEEDS APPROVAL",
        "APPROVED",
        "REVIEW DUE",
        "REVIEW",
    ]);
    for r in &report.rows {
        t.row(vec![
            r.name.clone().unwrap_or_else(|| r.card.to_string()),
            r.class.map_or_else(|| "—".into(), |c| format!("{c:?}")),
            limit(r.check.limit),
            r.check.exposure.display(),
            reason(r.needs_approval.as_ref()),
            r.approval.as_ref().map_or_else(
                || "—".into(),
                |a| {
                    format!(
                        "{} by {}",
                        a.limit.display(),
                        a.by.as_deref().unwrap_or("?")
                    )
                },
            ),
            r.review.due.to_string(),
            review(r.review.state),
        ]);
    }
    let mut human = format!(
        "Credit on {today}: {} cards, {} need a sales manager's approval, {} with supply suspended, {} credit reviews due or overdue\n{}",
        report.rows.len(),
        report.needing_approval,
        report.suspended,
        report.alerts.len(),
        t.render()
    );
    let suspended: Vec<String> = report
        .rows
        .iter()
        .filter(|r| r.supply_suspended)
        .map(|r| {
            format!(
                "  {}: {}\n",
                r.name.as_deref().unwrap_or(r.card.as_str()),
                r.suspended_reason
                    .as_deref()
                    .unwrap_or("(no reason recorded)")
            )
        })
        .collect();
    if !suspended.is_empty() {
        human.push_str("\nSupply suspended (交易中止):\n");
        human.extend(suspended);
    }
    Ok(Output::new(json!(report), human))
}

fn card(store: &mut Store, input: &str) -> Result<Output> {
    let id = card_id(store, input)?;
    let tc = store.transaction_card(&id)?;
    let mut t = Table::new(&["ITEM", "VALUE", "FIELD"]);
    for l in &tc.lines {
        t.row(vec![
            l.label.clone(),
            l.value.clone().unwrap_or_else(|| "(missing)".into()),
            l.path.clone(),
        ]);
    }
    let status = match &tc.approval {
        Some(a) if tc.approved => format!(
            "approved: {} by {}{}",
            a.limit.display(),
            a.by.as_deref().unwrap_or("?"),
            a.at.map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default()
        ),
        Some(a) => format!(
            "not approved: the request changed since {} was approved",
            a.limit.display()
        ),
        None => "not approved yet".into(),
    };
    let human = format!(
        "客户交易卡 {id}: {} of {} items filled in; {status}\n{}",
        tc.lines.len() - tc.missing.len(),
        tc.lines.len(),
        t.render()
    );
    Ok(Output::new(json!(tc), human))
}

fn approve(store: &mut Store, input: &str, amount: &str, note: Option<&str>) -> Result<Output> {
    let id = card_id(store, input)?;
    let amount = Money::parse(amount).map_err(|e| CliError::invalid("amount", e))?;
    store.approve_credit(&id, amount, note)?;
    let tc = store.transaction_card(&id)?;
    Ok(Output::new(
        json!({ "id": id, "approval": tc.approval }),
        format!("approved {} on {id}", amount.display()),
    ))
}
