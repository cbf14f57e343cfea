//! Credit end to end: only a sales manager approves, offline or online. A rep's phone
//! refuses to approve; a modified app that believes it is a manager's approves locally and
//! the server refuses the push (`access.not_approver`, nothing stored); the manager's
//! approval reaches the rep's phone as the manager's change; and the phone's credit report
//! and transaction card equal the server's for the same cards and day.

use fieldbook_core::Store;
use fieldbook_core::analysis::credit::ApprovalReason;
use fieldbook_core::value::Money;
use fieldbook_server::manager::CreditQuery;
use fieldbook_server::storage::Role;
use fieldbook_server::viewer::Viewer;

use crate::support::{Device, Server, company};

fn yuan(y: i64) -> Money {
    Money::yuan(y).expect("amount")
}

/// The rep's phone as a modified app leaves it: its store file says "manager".
fn pretend_manager(phone: Device) -> Device {
    let (path, transport, dir) = phone.into_parts();
    let db = rusqlite::Connection::open(&path).expect("open the file");
    db.execute(
        "UPDATE meta SET value = CAST('manager' AS BLOB) WHERE key = 'role'",
        [],
    )
    .expect("edit the role");
    drop(db);
    Device::from_parts(Store::open(&path).expect("reopen"), transport, dir)
}

#[test]
fn only_a_managers_approval_goes_through_and_phone_and_server_agree() {
    let server = Server::start();
    company(&server);
    let mut phone = Device::enrol_named(&server, "zhangwei", Role::Rep, "张伟的手机");
    let card = phone.new_card("上海华联超市有限公司", "east");
    let other = phone.new_card("浦东粮油贸易公司", "east");
    phone
        .store
        .update(&card, |c| {
            c.credit.requested_limit = Some(yuan(150_000));
            c.credit.receivables = Some(yuan(120_000));
            c.credit.unsettled_bills = Some(yuan(10_000));
            c.basic.head_office = Some("上海市黄浦区".into());
            c.credit.collection_terms = Some("月结 30 天,电汇".into());
            Ok(())
        })
        .expect("the rep fills the transaction card");
    phone
        .store
        .update(&other, |c| {
            c.credit.supply_suspended = Some(true);
            c.credit.suspended_reason = Some("支票被拒付".into());
            Ok(())
        })
        .expect("suspend");
    phone.sync();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 15).expect("date");
    let report = phone.store.credit_report(today).expect("report");
    assert_eq!(report.needing_approval, 2);

    // The rep's phone refuses, and writes nothing.
    let before = phone.store.history(&card).expect("history").len();
    let err = phone
        .store
        .approve_credit(&card, yuan(150_000), Some("我自己批"))
        .expect_err("a rep");
    assert_eq!(err.code(), "access.not_approver");
    assert_eq!(phone.store.history(&card).expect("history").len(), before);

    // A modified app approves locally; the server refuses the card's push, stores nothing.
    let log = server.storage().log_len().expect("log");
    let mut forged = pretend_manager(phone);
    forged
        .store
        .approve_credit(&card, yuan(150_000), Some("我自己批"))
        .expect("the modified app writes it");
    let sync = forged.sync();
    let refused: Vec<(&str, &str)> = sync
        .refused
        .iter()
        .map(|(id, code, _)| (id.as_str(), code.as_str()))
        .collect();
    assert_eq!(refused, [(card.as_str(), "access.not_approver")]);
    assert_eq!(
        server.storage().log_len().expect("log"),
        log,
        "nothing stored"
    );

    // The manager approves on his phone: accepted.
    let mut manager = Device::enrol_named(&server, "wangjl", Role::Manager, "王经理的手机");
    manager.sync();
    manager
        .store
        .approve_credit(&card, yuan(150_000), Some("同意,按月结算"))
        .expect("the manager approves");
    let sync = manager.sync();
    assert!(sync.refused.is_empty(), "{:?}", sync.refused);
    assert!(server.storage().log_len().expect("log") > log);

    // It reaches the rep (a phone of his that is not the modified one), in the manager's name.
    let mut rep = Device::enrol_named(&server, "zhangwei", Role::Rep, "张伟的新手机");
    rep.sync();
    let seen = rep.store.card(&card).expect("card").card;
    assert_eq!(seen.credit.approval_limit, Some(yuan(150_000)));
    assert_eq!(seen.credit.approval_by.as_deref(), Some("wangjl"));
    assert_eq!(seen.credit.approval_requested, Some(yuan(150_000)));
    assert_eq!(seen.credit.approval_note.as_deref(), Some("同意,按月结算"));
    let history = rep.store.history(&card).expect("history");
    let approval = history
        .iter()
        .find(|e| e.fields.iter().any(|f| f == "credit.approval_limit"))
        .expect("the approval in the history");
    assert_eq!(approval.rep.as_deref(), Some("wangjl"));
    assert_eq!(approval.device_role.as_deref(), Some("manager"));
    assert_eq!(approval.device_name.as_deref(), Some("王经理的手机"));

    // The phone's report and the server's, for the same cards and day, are equal.
    let on_phone = rep.store.credit_report(today).expect("report");
    assert_eq!(on_phone.needing_approval, 1, "the suspended card only");
    assert!(matches!(
        on_phone.rows[0].needs_approval,
        Some(ApprovalReason::SupplySuspended { .. })
    ));
    let viewer = Viewer {
        person_id: "wangjl".into(),
        role: Role::Manager,
    };
    let storage = server.storage();
    let on_server = fieldbook_server::manager::credit(
        storage.as_ref(),
        &server.state.docs,
        &viewer,
        &CreditQuery {
            territory: Some("east".into()),
            date: Some(today),
        },
        server.state.now(),
    )
    .expect("credit on the server");
    assert_eq!(on_server, on_phone);
    let tc = fieldbook_server::manager::card_transaction(storage.as_ref(), &viewer, card.as_str())
        .expect("transaction card");
    assert_eq!(tc, rep.store.transaction_card(&card).expect("card"));
    assert!(tc.approved);
    // Another manager's scope does not hold it.
    let stranger = Viewer {
        person_id: "lina".into(),
        role: Role::Manager,
    };
    assert_eq!(
        fieldbook_server::manager::card_transaction(storage.as_ref(), &stranger, card.as_str())
            .expect_err("out of scope")
            .code(),
        "access.denied"
    );
}
