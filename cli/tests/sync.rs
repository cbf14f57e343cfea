//! The README's tour, as a test: two devices driven through the real `fieldbook`
//! binary sync through a real server on a loopback port, and a conflict appears on
//! both and is resolved on both.

use std::path::PathBuf;
use std::process::Command;

use fieldbook_server::storage::Role;
use fieldbook_tests::server::{EAST_AND_NORTH, TestServer};
use serde_json::Value;

struct Device {
    _dir: tempfile::TempDir,
    store: PathBuf,
}

impl Device {
    fn new() -> Device {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("device.db");
        Device { _dir: dir, store }
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_fieldbook"))
            .arg("--store")
            .arg(&self.store)
            .arg("--json")
            .args(args)
            .env_remove("FIELDBOOK_STORE")
            .output()
            .expect("run fieldbook");
        assert!(
            out.status.success(),
            "fieldbook {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json output")
    }

    fn error_code(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_fieldbook"))
            .arg("--store")
            .arg(&self.store)
            .arg("--json")
            .args(args)
            .output()
            .expect("run fieldbook");
        assert!(!out.status.success());
        let err: Value = serde_json::from_slice(&out.stderr).expect("json error");
        err["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

#[test]
fn the_tour_enrol_edit_offline_sync_conflict_resolve() {
    let server = TestServer::start();
    server.add_company(&EAST_AND_NORTH);
    let phone_token = server.enrolment("zhangwei", Role::Rep, "手机");
    let tablet_token = server.enrolment("wangjl", Role::Manager, "平板");
    let url = server.url();

    // 1. Enrol both devices; a bad token is refused with the server's code.
    let phone = Device::new();
    let tablet = Device::new();
    assert_eq!(
        phone.error_code(&["enrol", &url, "fbe_forged"]),
        "sync.server_refused"
    );
    assert_eq!(
        phone.json(&["enrol", &url, &phone_token])["rep"],
        "zhangwei"
    );
    assert_eq!(
        tablet.json(&["enrol", &url, &tablet_token])["role"],
        "manager"
    );

    // 2. The first sync teaches the phone its territory; a new card goes there.
    phone.json(&["sync"]);
    assert_eq!(
        phone.json(&["status"])["territories"],
        serde_json::json!(["east"])
    );
    let id = phone.json(&[
        "new",
        "--name",
        "上海华东客户服务有限公司",
        "--phone",
        "021-6234 5678",
    ])["id"]
        .as_str()
        .expect("id")
        .to_string();
    let report = phone.json(&["sync"]);
    assert_eq!(report["cards_pushed"], 1);
    assert_eq!(report["requests"], 1);
    assert_eq!(tablet.json(&["sync"])["cards_new"], 1);

    // 3. Both edit the phone number offline, then sync: a conflict on both.
    phone.json(&["set", &id, "basic.phone=13800000001"]);
    tablet.json(&["set", &id, "basic.phone=13900000002"]);
    assert_eq!(phone.json(&["status"])["pending"], 1);
    phone.json(&["sync"]);
    assert_eq!(tablet.json(&["sync"])["new_conflicts"], 1);
    assert_eq!(phone.json(&["sync"])["new_conflicts"], 1);
    for device in [&phone, &tablet] {
        let conflicts = device.json(&["conflicts", &id]);
        assert_eq!(
            conflicts["conflicts"].as_array().map(Vec::len),
            Some(1),
            "{conflicts}"
        );
        assert_eq!(conflicts["conflicts"][0]["path"], "basic.phone");
    }

    // 4. The rep resolves it; after syncing, no device shows a conflict.
    phone.json(&["resolve", &id, "basic.phone", "13900000002"]);
    phone.json(&["sync"]);
    tablet.json(&["sync"]);
    for device in [&phone, &tablet] {
        let card = device.json(&["show", &id]);
        assert_eq!(card["basic"]["phone"], "13900000002");
        assert_eq!(card["conflicts"].as_array().map(Vec::len), Some(0));
    }
    // 5. A no-op sync is one request.
    assert_eq!(phone.json(&["sync"])["requests"], 1);
}

#[test]
fn only_a_managers_device_records_a_visit_on_a_reps_behalf_and_history_shows_who() {
    let server = TestServer::start();
    server.add_company(&EAST_AND_NORTH);
    let phone_token = server.enrolment("zhangwei", Role::Rep, "手机");
    let tablet_token = server.enrolment("wangjl", Role::Manager, "平板");
    let url = server.url();
    let phone = Device::new();
    let tablet = Device::new();
    phone.json(&["enrol", &url, &phone_token]);
    tablet.json(&["enrol", &url, &tablet_token]);
    phone.json(&["sync"]);
    let id = phone.json(&["new", "--name", "上海华东客户服务有限公司"])["id"]
        .as_str()
        .expect("id")
        .to_string();
    phone.json(&["sync"]);
    tablet.json(&["sync"]);

    // zhangwei's phone cannot log a visit as lina's, and writes nothing.
    assert_eq!(
        phone.error_code(&["visit", &id, "--summary", "拜访", "--rep", "lina"]),
        "access.not_on_behalf"
    );
    assert_eq!(phone.json(&["status"])["pending"], 0);

    // The manager records one for lina: it shows both, and the history the manager.
    tablet.json(&["visit", &id, "--summary", "代李娜记录", "--rep", "lina"]);
    tablet.json(&["sync"]);
    phone.json(&["sync"]);
    for device in [&phone, &tablet] {
        let card = device.json(&["show", &id]);
        let visit = &card["visits"][0];
        assert_eq!(visit["rep"], "wangjl", "{card}");
        assert_eq!(visit["on_behalf_of"], "lina", "{card}");
        let history = device.json(&["history", &id]);
        let last = history
            .as_array()
            .and_then(|h| h.last())
            .or_else(|| history["changes"].as_array().and_then(|h| h.last()))
            .cloned()
            .unwrap_or_default();
        assert_eq!(last["rep"], "wangjl", "{history}");
    }
}

/// The README's tour searches the demo data for a phone fragment: 张伟's phone,
/// synced from a server seeded as `fieldbook-server demo` seeds it, finds cards.
#[test]
fn the_readmes_phone_fragment_search_finds_cards_in_the_demo_data() {
    const README_FRAGMENT: &str = "021";
    let readme = include_str!("../../README.md");
    assert!(
        readme.contains(&format!("search {README_FRAGMENT} ")),
        "the README's tour searches {README_FRAGMENT}"
    );
    let server = TestServer::start();
    let today = chrono::Utc::now().date_naive();
    fieldbook_server::demo::seed(server.storage().as_ref(), 100, today).expect("seed");
    let tokens =
        fieldbook_server::demo::enrolment_tokens(server.storage().as_ref()).expect("tokens");
    let (_, _, token) = tokens
        .iter()
        .find(|(_, rep, _)| rep == "zhangwei")
        .expect("张伟's token");
    let phone = Device::new();
    phone.json(&["enrol", &server.url(), token]);
    assert_eq!(phone.json(&["sync"])["cards_new"], 100);
    let found = phone.json(&["search", README_FRAGMENT]);
    let cards = found["cards"].as_array().cloned().unwrap_or_default();
    assert!(!cards.is_empty(), "{found}");
    assert!(
        cards.iter().any(|c| c["phone"]
            .as_str()
            .unwrap_or_default()
            .contains(README_FRAGMENT)),
        "{found}"
    );
}

#[test]
fn a_territory_edit_is_refused_history_names_devices_and_the_dossier_gathers_the_card() {
    let server = TestServer::start();
    server.add_company(&EAST_AND_NORTH);
    let phone_token = server.enrolment("zhangwei", Role::Rep, "演示手机");
    let tablet_token = server.enrolment("wangjl", Role::Manager, "经理平板");
    let url = server.url();
    let phone = Device::new();
    let tablet = Device::new();
    phone.json(&["enrol", &url, &phone_token]);
    tablet.json(&["enrol", &url, &tablet_token]);
    phone.json(&["sync"]);
    let id = phone.json(&["new", "--name", "上海华东食品有限公司"])["id"]
        .as_str()
        .expect("id")
        .to_string();
    phone.json(&["sync"]);
    // A device never moves a card: a manager does, on the server.
    assert_eq!(
        phone.error_code(&["set", &id, "territory=north"]),
        "card.territory_fixed"
    );
    assert_eq!(phone.json(&["status"])["pending"], 0);

    tablet.json(&["sync"]);
    tablet.json(&["set", &id, "basic.phone=13800001234"]);
    tablet.json(&["sync"]);
    phone.json(&["sync"]);
    let history = phone.json(&["history", &id]);
    let changes = history["changes"].as_array().expect("changes");
    assert_eq!(changes[0]["device_name"], "演示手机");
    assert_eq!(changes[0]["device_role"], "rep");
    assert_eq!(changes[1]["device_name"], "经理平板");
    assert_eq!(changes[1]["device_role"], "manager");

    let dossier = phone.json(&["dossier", &id]);
    assert_eq!(dossier["name"], "上海华东食品有限公司");
    let phone_field = dossier["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["path"] == "basic.phone")
        .expect("phone history")
        .clone();
    assert_eq!(phone_field["changes"][0]["value"], "13800001234");
    assert_eq!(phone_field["changes"][0]["device_name"], "经理平板");
}

#[test]
fn credit_the_report_the_transaction_card_and_only_a_managers_approval() {
    let server = TestServer::start();
    server.add_company(&EAST_AND_NORTH);
    let phone_token = server.enrolment("zhangwei", Role::Rep, "手机");
    let tablet_token = server.enrolment("wangjl", Role::Manager, "平板");
    let url = server.url();
    let (phone, tablet) = (Device::new(), Device::new());
    phone.json(&["enrol", &url, &phone_token]);
    tablet.json(&["enrol", &url, &tablet_token]);
    phone.json(&["sync"]);
    let id = phone.json(&["new", "--name", "上海华联超市有限公司"])["id"]
        .as_str()
        .expect("id")
        .to_string();
    phone.json(&[
        "set",
        &id,
        "credit.requested_limit=150000",
        "credit.receivables=120000",
        "basic.head_office=上海市黄浦区",
    ]);
    let report = phone.json(&["credit", "--date", "2026-12-15"]);
    assert_eq!(report["needing_approval"], 1, "{report}");
    assert_eq!(report["rows"][0]["check"]["exposure"], 12_000_000);
    let card = phone.json(&["credit", "card", &id]);
    assert_eq!(card["approved"], false);
    assert_eq!(card["lines"][1]["value"], "上海市黄浦区");
    assert!(
        card["missing"]
            .as_array()
            .is_some_and(|m| m.contains(&Value::from("credit.collection_terms")))
    );

    // The rep's device refuses (exit 2, a stable code) and writes nothing.
    phone.json(&["sync"]);
    assert_eq!(
        phone.error_code(&["credit", "approve", &id, "150000"]),
        "access.not_approver"
    );
    assert_eq!(
        phone.error_code(&["set", &id, "credit.approval_limit=150000"]),
        "access.not_approver"
    );
    assert_eq!(phone.json(&["status"])["pending"], 0);

    // The manager approves; bad amounts are refused first.
    tablet.json(&["sync"]);
    assert_eq!(
        tablet.error_code(&["credit", "approve", &id, "-5"]),
        "input.invalid_value"
    );
    assert_eq!(
        tablet.error_code(&["credit", "approve", &id, "99999999999"]),
        "input.invalid_value"
    );
    let approved = tablet.json(&["credit", "approve", &id, "150000", "--note", "同意"]);
    assert_eq!(approved["approval"]["by"], "wangjl");
    tablet.json(&["sync"]);
    phone.json(&["sync"]);
    let card = phone.json(&["credit", "card", &id]);
    assert_eq!(card["approved"], true, "{card}");
    assert_eq!(card["approval"]["limit"], 15_000_000);
    assert_eq!(card["approval"]["note"], "同意");
    let report = phone.json(&["credit", "--date", "2026-12-15"]);
    assert_eq!(report["needing_approval"], 0, "{report}");
}
