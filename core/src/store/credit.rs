//! Credit on the device: the sales manager's approval recorded as the manager's own
//! change ([`Store::approve_credit`]), the rule that keeps a rep's device from writing
//! the approval record by any other edit, and the credit report and transaction card over
//! the store's cards (core's [`crate::analysis::credit`], the code the server runs too).
//!
//! It lives in the store because every edit passes through it: the store's role (kept
//! from enrolment, as for visits on someone's behalf) decides, and the server refuses the
//! same thing again when a modified app pushes it.

use chrono::NaiveDate;

use super::{Store, StoreReader};
use crate::analysis::credit::{self, CreditReport, TransactionCard, validate_approval};
use crate::card::{Card, CreditData};
use crate::error::{Error, Result};
use crate::ids::{CardId, RepId};
use crate::value::Money;

/// The approval record of a credit section, for comparing two versions of it.
fn record(c: &CreditData) -> impl PartialEq + '_ {
    (
        c.approval_limit,
        c.approval_requested,
        c.approval_by.as_deref(),
        c.approval_at,
        c.approval_note.as_deref(),
    )
}

fn has_record(c: &CreditData) -> bool {
    c.approval_limit.is_some()
        || c.approval_requested.is_some()
        || c.approval_by.is_some()
        || c.approval_at.is_some()
        || c.approval_note.is_some()
}

/// Make an edit's approval record true before it is written: on a rep's device any change
/// to it is refused (`access.not_approver`), so the edit writes nothing; on a manager's
/// the approver is the change's author, whatever the caller put there.
pub(super) fn guard_approval(
    old: &Card,
    new: &mut Card,
    author: &RepId,
    approver: bool,
) -> Result<()> {
    if record(&old.credit) == record(&new.credit) {
        return Ok(());
    }
    if !approver {
        return Err(Error::NotApprover);
    }
    if new.credit.approval_limit.is_some() {
        new.credit.approval_by = Some(author.to_string());
    }
    Ok(())
}

/// A new card (created or imported) carries no approval unless a manager's device makes it.
pub(super) fn guard_new_card(card: &Card, approver: bool) -> Result<()> {
    if has_record(&card.credit) && !approver {
        return Err(Error::NotApprover);
    }
    Ok(())
}

/// Whether a resolve of `path` would write the approval record.
pub(super) fn resolves_approval(path: &str) -> bool {
    credit::touches_approval(path, false)
}

impl Store {
    /// Approve a credit limit of `amount` on a card, as this device's person (a sales
    /// manager or admin: the role the server enrolled the device with). Records the
    /// approved limit, the limit requested on the transaction card at this moment, the
    /// approver (this change's author), the time (the estimated true time) and the note, as
    /// one change. A rep's device is refused with `access.not_approver` and nothing is
    /// written; an amount above [`credit::MAX_APPROVAL_FEN`] or a note over 2,000
    /// characters is refused as invalid input.
    pub fn approve_credit(&mut self, id: &CardId, amount: Money, note: Option<&str>) -> Result<()> {
        if !self.may_act_for_others()? {
            return Err(Error::NotApprover);
        }
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        validate_approval(amount, note).map_err(|e| Error::InvalidValue {
            field: "credit.approval_limit".into(),
            reason: e.to_string(),
        })?;
        let at = self.estimated_now()?;
        self.update(id, |card| {
            let c = &mut card.credit;
            c.approval_limit = Some(amount);
            c.approval_requested = c.requested_limit;
            c.approval_at = Some(at);
            c.approval_note = note.map(str::to_owned);
            Ok(())
        })?;
        Ok(())
    }

    /// Credit on `today` over the store's cards, by the company's settings as sync
    /// delivered them: limits, exposure, what needs a manager's approval and why,
    /// approvals, credit reviews due and overdue, suspended supply.
    pub fn credit_report(&mut self, today: NaiveDate) -> Result<CreditReport> {
        self.refresh_lean()?;
        let company = &self.settings.company.settings;
        Ok(credit::credit_report(
            self.lean.cards(),
            today,
            &company.credit,
            &company.abc,
        ))
    }

    /// The customer transaction card (客户交易卡) of a card: its items, which are missing,
    /// the limit requested and whether that limit is approved.
    pub fn transaction_card(&mut self, id: &CardId) -> Result<TransactionCard> {
        Ok(credit::transaction_card(&self.card(id)?.card))
    }
}

impl StoreReader {
    /// See [`Store::credit_report`]; follows the company settings now stored (the writer
    /// may have adopted new ones since this connection opened).
    pub fn credit_report(&mut self, today: NaiveDate) -> Result<CreditReport> {
        self.inner.settings = Store::load_settings(&self.inner.conn)?;
        self.inner.credit_report(today)
    }

    /// See [`Store::transaction_card`].
    pub fn transaction_card(&mut self, id: &CardId) -> Result<TransactionCard> {
        self.inner.transaction_card(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn store(dir: &tempfile::TempDir, rep: &str, role: Option<&str>) -> Store {
        let mut store = Store::open(dir.path().join(format!("{rep}.db"))).expect("open");
        store
            .init_identity(rep.parse::<RepId>().expect("rep"))
            .expect("init");
        if let Some(role) = role {
            store.save_role(role).expect("role");
        }
        store
    }

    fn card(store: &mut Store) -> CardId {
        store
            .create(|c| {
                c.basic.name = Some("上海华联超市有限公司".into());
                c.territory = Some("华东区".into());
                c.credit.requested_limit = Money::yuan(150_000).ok();
                c.credit.receivables = Money::yuan(120_000).ok();
                Ok(())
            })
            .expect("create")
    }

    fn yuan(y: i64) -> Money {
        Money::yuan(y).expect("amount")
    }

    #[test]
    fn a_reps_store_refuses_every_way_of_writing_an_approval() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut zw = store(&dir, "zhangwei", Some("rep"));
        let id = card(&mut zw);
        let before = zw.history(&id).expect("history").len();
        let err = zw
            .approve_credit(&id, yuan(150_000), Some("同意"))
            .expect_err("a rep");
        assert_eq!(err.code(), "access.not_approver");
        let err = zw
            .update(&id, |c| c.set_path("credit.approval_limit", "150000"))
            .expect_err("generic path");
        assert_eq!(err.code(), "access.not_approver");
        let err = zw
            .update(&id, |c| {
                c.credit.approval_by = Some("wangjl".into());
                Ok(())
            })
            .expect_err("approver only");
        assert_eq!(err.code(), "access.not_approver");
        // A new card cannot arrive approved either.
        let mut approved = Card::new();
        approved.territory = Some("华东区".into());
        approved.credit.approval_limit = Some(yuan(1));
        assert_eq!(
            zw.insert_new(approved).expect_err("new").code(),
            "access.not_approver"
        );
        // Nothing was written; the rest of the credit section stays the rep's to edit.
        assert_eq!(zw.history(&id).expect("history").len(), before);
        assert_eq!(zw.card(&id).expect("card").card.credit.approval_limit, None);
        zw.update(&id, |c| c.set_path("credit.requested_limit", "180000"))
            .expect("the request is the rep's");
    }

    #[test]
    fn a_managers_approval_is_his_own_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut wang = store(&dir, "wangjl", Some("manager"));
        let id = card(&mut wang);
        wang.approve_credit(&id, yuan(150_000), Some("  同意,按月结算  "))
            .expect("approve");
        let card = wang.card(&id).expect("card").card;
        let approval = credit::approval_of(&card).expect("approval");
        assert_eq!(approval.limit, yuan(150_000));
        assert_eq!(approval.requested, Some(yuan(150_000)));
        assert_eq!(approval.by.as_deref(), Some("wangjl"));
        assert_eq!(approval.note.as_deref(), Some("同意,按月结算"));
        assert!(approval.at.is_some());
        let history = wang.history(&id).expect("history");
        let last = history.last().expect("entry");
        assert_eq!(last.rep.as_deref(), Some("wangjl"));
        assert!(
            last.fields.contains(&"credit.approval_limit".to_string()),
            "{:?}",
            last.fields
        );
        // The approver is the author, whatever an edit names.
        wang.update(&id, |c| {
            c.credit.approval_by = Some("lina".into());
            c.credit.approval_note = Some("复核".into());
            Ok(())
        })
        .expect("edit");
        let card = wang.card(&id).expect("card").card;
        assert_eq!(card.credit.approval_by.as_deref(), Some("wangjl"));
        // Too large, too long: refused, nothing written.
        let n = wang.history(&id).expect("history").len();
        let too_large = Money::from_fen(credit::MAX_APPROVAL_FEN + 1).expect("money");
        assert_eq!(
            wang.approve_credit(&id, too_large, None)
                .expect_err("large")
                .code(),
            "input.invalid_value"
        );
        let long = "批".repeat(2_001);
        assert_eq!(
            wang.approve_credit(&id, yuan(1), Some(&long))
                .expect_err("long")
                .code(),
            "input.invalid_value"
        );
        assert_eq!(wang.history(&id).expect("history").len(), n);
        // A card the store does not hold.
        assert_eq!(
            wang.approve_credit(&CardId::random(), yuan(1), None)
                .expect_err("unknown")
                .code(),
            "card.not_found"
        );
    }

    #[test]
    fn the_report_and_the_transaction_card_over_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut wang = store(&dir, "wangjl", Some("manager"));
        let id = card(&mut wang);
        let today = NaiveDate::from_ymd_opt(2026, 12, 15).expect("date");
        // Unclassified (no sales): C's ¥20,000 limit, ¥120,000 exposed.
        let report = wang.credit_report(today).expect("report");
        assert_eq!(report.needing_approval, 1);
        assert_eq!(report.rows[0].check.over_by, yuan(100_000));
        let tc = wang.transaction_card(&id).expect("card");
        assert!(!tc.approved);
        assert!(tc.missing.contains(&"basic.head_office".to_string()));
        wang.approve_credit(&id, yuan(150_000), None)
            .expect("approve");
        let report = wang.credit_report(today).expect("report");
        assert_eq!(report.needing_approval, 0);
        assert!(wang.transaction_card(&id).expect("card").approved);
        // A new request needs approving again.
        wang.update(&id, |c| c.set_path("credit.requested_limit", "200000"))
            .expect("edit");
        assert!(!wang.transaction_card(&id).expect("card").approved);
    }
}
