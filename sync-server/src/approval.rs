//! The server's half of the credit approval rule (core's
//! `analysis::credit::touches_approval`; the device's half is `Store::approve_credit` and
//! the store's guard): a change by a rep's device that touches a card's approval record is
//! refused, whole card push and all (`access.not_approver`, nothing stored), however the
//! device made it — a modified app, an edited store file, a hand-built change.
//!
//! What a change touched is what history derives from the change's own diff (core's
//! `history::summarize_changes`, already computed for the commit's classified change
//! rows), never what a device claims; so the check costs no second pass over the changes,
//! and a rep's write that lost a conflict to the manager's value is caught as well as one
//! that won.

use crate::error::{Error, Result};
use crate::storage::{CardCommit, Role};
use fieldbook_core::analysis::credit::touches_approval;

/// Whether a device with `role` may write a card's approval record.
pub(crate) fn may_approve(role: Role) -> bool {
    role != Role::Rep
}

/// Refuses `commit` when one of its new changes touches the approval record and its
/// writer may not approve. `new_card`: the commit creates the card (its root change then
/// writes the credit section's skeleton, which is no approval).
pub(crate) fn check_approval(commit: &CardCommit, new_card: bool, approver: bool) -> Result<()> {
    if approver {
        return Ok(());
    }
    let touched = commit.change_rows.iter().any(|row| {
        let creates = new_card && row.created;
        row.fields.iter().any(|f| touches_approval(f, creates))
    });
    if touched {
        tracing::info!(card = %commit.card_id, "a rep's change touching a credit approval refused");
        return Err(Error::NotApprover);
    }
    Ok(())
}
