//! Company settings over HTTP: a manager reads and changes them, what does not add up is
//! refused with the previous settings left in force, a save from a stale revision is
//! refused, and a device's sync carries them only when its revision differs.

use fieldbook_server::storage::Role;
use serde_json::json;

use crate::harness::Env;

fn put(env: &Env, token: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let r = env
        .http
        .put(env.url("/v1/manager/settings"))
        .bearer_auth(token)
        .json(body)
        .send()
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(serde_json::Value::Null))
}

#[test]
fn a_manager_changes_the_settings_and_devices_receive_them_once() {
    let env = Env::start();
    let wang = env.device("wang", Role::Manager);
    let chen = env.device("chen", Role::Manager);
    let mut zw = env.rep("zhangwei");

    // Never set: revision 0, DOMAIN.md's defaults; a device at revision 0 gets nothing.
    let (status, shown) = env.get_json(&wang, "/v1/manager/settings");
    assert_eq!(status, 200);
    assert_eq!(shown["revision"], 0);
    assert_eq!(shown["settings"]["visits"]["interval_days_a"], 7);
    assert_eq!(shown["settings"]["abc"]["a_percent"], 75);
    let (first, _) = zw.sync_once(None);
    assert_eq!(
        first.settings, None,
        "the defaults are on every device already"
    );

    // Weekly A visits become every 3 days, and the ABC split 70/20/10.
    let mut settings = shown["settings"].clone();
    settings["visits"]["interval_days_a"] = json!(3);
    settings["abc"]["a_percent"] = json!(70);
    settings["abc"]["c_percent"] = json!(10);
    let (status, saved) = put(
        &env,
        &wang.token,
        &json!({"revision": 0, "settings": settings}),
    );
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["revision"], 1);
    assert_eq!(saved["set_by"], "wang");
    assert_eq!(saved["set_by_name"], "Wang Fang");

    // Thresholds that do not add up: refused by section, and revision 1 stays.
    let mut bad = settings.clone();
    bad["abc"]["a_percent"] = json!(80);
    let (status, refused) = put(&env, &wang.token, &json!({"revision": 1, "settings": bad}));
    assert_eq!(
        (status, refused["code"].as_str()),
        (400, Some("settings.invalid"))
    );
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("abc"),
        "{refused}"
    );
    for (section, value) in [
        ("visits", json!({"interval_days_b": 0})),
        ("pipeline", json!({"stages": []})),
        ("visits", json!({"interval_days_c": -30})),
    ] {
        let mut bad = settings.clone();
        bad[section] = value;
        let (status, refused) = put(&env, &wang.token, &json!({"revision": 1, "settings": bad}));
        assert_eq!(
            (status, refused["code"].as_str()),
            (400, Some("settings.invalid")),
            "{section}: {refused}"
        );
    }
    // A malformed body changes nothing either.
    let (status, refused) = put(&env, &wang.token, &json!({"settings": "每周"}));
    assert_eq!(
        (status, refused["code"].as_str()),
        (400, Some("request.malformed"))
    );
    let (_, shown) = env.get_json(&chen, "/v1/manager/settings");
    assert_eq!(shown["revision"], 1);
    assert_eq!(shown["settings"]["visits"]["interval_days_a"], 3);
    assert_eq!(shown["settings"]["abc"]["a_percent"], 70);

    // Chen edits from revision 0, which is no longer in force: refused, nothing lost.
    let (status, refused) = put(&env, &chen.token, &json!({"revision": 0, "settings": {}}));
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("settings.conflict"))
    );

    // The device holding revision 0 receives revision 1, once.
    let (second, _) = zw.sync_once(None);
    let delivered = second.settings.expect("the new settings are delivered");
    assert_eq!(delivered.revision, 1);
    let parsed = fieldbook_core::CompanySettings::from_json(delivered.json.as_bytes())
        .expect("valid settings");
    assert_eq!(parsed.visits.interval_days_a, 3);
    let mut request = zw.request(None);
    request.settings_revision = 1;
    let (third, _) = zw.send(&request);
    assert_eq!(third.settings, None, "a device holding them pays nothing");
}
