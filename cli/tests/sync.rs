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
