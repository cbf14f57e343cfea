//! The `fieldbook` binary driven as a rep would drive it: real processes, real
//! store files in temp dirs, output read back as text and as `--json`.
//!
//! Each test is a scenario told as numbered steps. Times are entered and shown in
//! the device's local time zone; the tests pin it to Asia/Shanghai (UTC+8) so
//! "10:30 on the rep's watch" is checked to be 02:30Z in the data.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// One device: a store file in a temp dir, and the binary run against it.
struct Device {
    dir: tempfile::TempDir,
    store: PathBuf,
}

/// What a failed command reported.
#[derive(Debug)]
struct Failure {
    exit: i32,
    code: String,
    message: String,
}

impl Device {
    fn new(name: &str) -> Device {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join(format!("{name}.db"));
        Device { dir, store }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fieldbook"));
        cmd.arg("--store").arg(&self.store).args(args);
        cmd.current_dir(self.dir.path())
            .env_remove("FIELDBOOK_STORE")
            .env_remove("RUST_LOG")
            .env("TZ", "Asia/Shanghai");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run fieldbook")
    }

    /// Run, expect success, return stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "fieldbook {args:?} failed: {stderr}\n{stdout}"
        );
        stdout.trim_end().to_string()
    }

    /// Run with `--json`, expect success, parse stdout.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let stdout = self.ok(&all);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("fieldbook {args:?}: not JSON ({e}): {stdout}"))
    }

    /// Run, expect failure; check the human and the JSON error agree.
    fn fail(&self, args: &[&str]) -> Failure {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "fieldbook {args:?} should have failed"
        );
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let code = stderr
            .strip_prefix("error[")
            .and_then(|rest| rest.split_once("]: "))
            .map(|(code, _)| code.to_string())
            .unwrap_or_else(|| panic!("stderr is not error[code]: message: {stderr}"));
        assert!(out.stdout.is_empty(), "nothing on stdout when failing");

        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out_json = self.run(&all);
        let err: Value = serde_json::from_slice(&out_json.stderr).expect("JSON error on stderr");
        assert_eq!(err["error"]["code"], code.as_str(), "same code in JSON");
        assert_eq!(
            out_json.status.code(),
            out.status.code(),
            "same exit status in JSON"
        );
        Failure {
            exit: out.status.code().unwrap_or(-1),
            code,
            message: err["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Everything a person could observe about the store, to check a refused
    /// command changed nothing.
    fn snapshot(&self, ids: &[&str]) -> Vec<Value> {
        let mut all = vec![self.json(&["list", "--sort", "name"])];
        for id in ids {
            all.push(self.json(&["show", id]));
            all.push(self.json(&["history", id]));
        }
        // List rows carry updated_at: it must not move either.
        all
    }
}

fn names(list: &Value) -> Vec<String> {
    list["cards"]
        .as_array()
        .expect("cards")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Carry every card of `from` to `to` as a bundle file; returns the import report.
fn exchange(from: &Device, to: &Device) -> Value {
    let file = from.path("out.fbb");
    let file = file.to_str().expect("utf-8 path");
    from.ok(&["export", file]);
    to.json(&["import", file])
}

#[test]
fn a_reps_day() {
    let zw = Device::new("zhangwei");

    // 1. Set up the phone for rep zhangwei: prints the device id.
    let init = zw.json(&["init", "--rep", "zhangwei"]);
    let device = init["device"].as_str().expect("device id");
    assert_eq!(device.len(), 32, "actor id in hex: {device}");
    assert!(
        zw.ok(&["init", "--rep", "zhangwei"]).contains(device),
        "the device id never changes"
    );

    // 2. A new customer, in Chinese.
    let id = zw.ok(&[
        "new",
        "--name",
        "上海华东客户服务有限公司",
        "--phone",
        "021-6234 5678",
        "--territory",
        "华东区",
        "--class",
        "A",
        "--set",
        "basic.city=上海",
        "--set",
        "basic.legal_rep=李建国",
    ]);
    assert_eq!(id.len(), 36, "prints the card id alone: {id}");
    let other = zw.ok(&[
        "new",
        "--name",
        "北京朝阳批发部",
        "--territory",
        "华北区",
        "--class",
        "C",
    ]);

    // 3. Set fields: one change for several fields, values normalised by core.
    let set = zw.json(&[
        "set",
        &id,
        "credit.credit_limit=500000",
        "location.lat=31.2304",
        "classification.nature=普通公司",
    ]);
    assert_eq!(set["changed"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        zw.ok(&["set", &id, "credit.credit_limit=500000"]),
        "nothing changed"
    );
    zw.ok(&["note", &id, "--set", "老客户，注意春节前备货。"]);
    zw.ok(&["note", &id, "--append", "联系人王芳 😅"]);
    zw.ok(&["unset", &id, "basic.legal_rep"]);
    let card = zw.json(&["show", &id]);
    assert_eq!(
        card["credit"]["credit_limit"], 50_000_000,
        "money is held in fen"
    );
    assert_eq!(card["classification"]["nature"], "company");
    assert_eq!(card["notes"], "老客户，注意春节前备货。\n联系人王芳 😅");
    assert!(card["basic"].get("legal_rep").is_none(), "unset cleared it");

    // 4. Log two visits, the later one first; an id prefix is enough to name the card.
    let prefix = &id[..8];
    let v1 = zw.ok(&[
        "visit",
        prefix,
        "--summary",
        "谈了年底促销方案",
        "--at",
        "2026-11-20 10:30",
        "--place",
        "陆家嘴店",
        "--lat",
        "31.23",
        "--lon",
        "121.47",
        "--outcome",
        "同意试销",
        "--next-step",
        "下周送样品",
        "--next-visit",
        "2026-12-01",
    ]);
    let v0 = zw.ok(&[
        "visit",
        prefix,
        "--kind",
        "call",
        "--summary",
        "电话预约",
        "--at",
        "2026-11-18T09:00:00+08:00",
    ]);
    assert_eq!(v1.len(), 12, "prints the visit id: {v1}");
    let card = zw.json(&["show", &id]);
    let visit = card["visits"]
        .as_array()
        .expect("visits")
        .iter()
        .find(|v| v["id"] == v1.as_str())
        .expect("visit");
    assert_eq!(visit["at"], "2026-11-20T02:30:00Z", "10:30 in Shanghai");
    assert_eq!(visit["rep"], "zhangwei", "the device's rep by default");
    let shown = zw.ok(&["show", &id]);
    let (p0, p1) = (
        shown.find(&v0).expect("call shown"),
        shown.find(&v1).expect("visit shown"),
    );
    assert!(p0 < p1, "visits in time order:\n{shown}");
    assert!(
        shown.contains("2026-11-20 10:30"),
        "local time shown:\n{shown}"
    );

    // 5. Contacts, to-dos, an opportunity, sales, tags: every section shows with its label.
    let contact = zw.ok(&[
        "contact",
        "add",
        &id,
        "--name",
        "王芳",
        "--title",
        "采购经理",
        "--mobile",
        "13812345678",
    ]);
    zw.ok(&["contact", "set", &id, &contact, "wechat=wangfang88"]);
    let todo = zw.ok(&["todo", "add", &id, "送样品", "--due", "2026-11-27"]);
    zw.ok(&["todo", "done", &id, &todo]);
    let opp = zw.ok(&[
        "opp",
        "add",
        &id,
        "年底促销",
        "--stage",
        "first_contact",
        "--amount",
        "120000",
        "--close",
        "2026-12-31",
    ]);
    zw.ok(&["opp", "stage", &id, &opp, "商务谈判"]);
    zw.ok(&["sales", &id, "2026-10", "86000"]);
    zw.ok(&["tag", &id, "add", "重点", "春节"]);
    zw.ok(&["tag", &id, "rm", "春节"]);
    let shown = zw.ok(&["show", &id]);
    for expected in [
        "【基础资料】",
        "客户名称",
        "上海华东客户服务有限公司",
        "【信用资料】",
        "信用限度",
        "500000.00",
        "客户性质",
        "普通公司",
        "【备注】",
        "【联系人】",
        "wangfang88",
        "【跟踪记录】",
        "洽谈内容: 谈了年底促销方案",
        "【待办事务】",
        "[x] 送样品",
        "【销售机会】",
        "商务谈判",
        "【月销售额】",
        "2026-10",
        "标签  重点",
    ] {
        assert!(
            shown.contains(expected),
            "show lacks {expected:?}:\n{shown}"
        );
    }
    assert!(!shown.contains("CONFLICTS"), "no conflicts on one device");
    assert!(!shown.contains("春节\n"), "removed tag is gone");

    // 6. Search: two characters from the middle of the name, and a phone fragment.
    for query in ["华东", "6234", "客户", "王芳"] {
        let hits = zw.json(&["search", query]);
        assert_eq!(
            names(&hits),
            ["上海华东客户服务有限公司"],
            "search {query:?}"
        );
    }
    assert_eq!(names(&zw.json(&["search", "朝阳"])), ["北京朝阳批发部"]);
    assert!(zw.ok(&["search", "深圳"]).contains("no cards"));
    let table = zw.ok(&["search", "华东"]);
    assert!(
        table.lines().next().is_some_and(|h| h.starts_with("ID")),
        "a table with a header:\n{table}"
    );

    // 7. Lists with filters, as aligned tables and as JSON.
    assert_eq!(
        names(&zw.json(&["list"])),
        ["北京朝阳批发部", "上海华东客户服务有限公司"],
        "pinyin order"
    );
    assert_eq!(
        names(&zw.json(&["list", "--territory", "华东区"])),
        ["上海华东客户服务有限公司"]
    );
    assert_eq!(
        names(&zw.json(&["list", "--class", "C"])),
        ["北京朝阳批发部"]
    );
    assert_eq!(
        names(&zw.json(&["list", "--tag", "重点"])),
        ["上海华东客户服务有限公司"]
    );
    assert_eq!(
        names(&zw.json(&["list", "--sort", "credit"])),
        ["上海华东客户服务有限公司", "北京朝阳批发部"]
    );
    zw.ok(&["set", &other, "credit.credit_limit=20000"]);
    assert_eq!(
        names(&zw.json(&["list", "--sort", "credit", "--reverse", "--limit", "1"])),
        ["北京朝阳批发部"]
    );
    assert_eq!(
        names(&zw.json(&["list", "--limit", "1", "--offset", "1"])),
        ["上海华东客户服务有限公司"]
    );
    let due = zw.json(&["list", "--due", "2026-11-30"]);
    assert!(
        !names(&due).contains(&"上海华东客户服务有限公司".to_string()),
        "next visit planned for 12-01"
    );
    let due = zw.json(&["list", "--due", "2026-12-01"]);
    assert!(names(&due).contains(&"上海华东客户服务有限公司".to_string()));
    let due_today = names(&zw.json(&["list", "--due"]));
    assert!(
        due_today.contains(&"北京朝阳批发部".to_string()),
        "never visited: due since it was created"
    );
    let rows = zw.ok(&["list"]);
    let lines: Vec<&str> = rows.lines().collect();
    let col = |line: &str, needle: &str| line.find(needle).map(|b| display_width(&line[..b]));
    assert_eq!(
        col(lines[0], "区域"),
        col(lines[1], "华北区"),
        "columns aligned by display width:\n{rows}"
    );
    assert_eq!(
        col(lines[1], "华北区"),
        col(lines[2], "华东区"),
        "columns aligned by display width:\n{rows}"
    );

    // 8. History: every change with rep, device and fields; one field's values.
    let history = zw.json(&["history", &id]);
    let changes = history["changes"].as_array().expect("changes");
    assert!(changes.len() >= 10);
    assert!(
        changes
            .iter()
            .all(|c| c["rep"] == "zhangwei" && c["device"] == device)
    );
    let field = zw.json(&["history", &id, "--field", "credit.credit_limit"]);
    let values: Vec<&str> = field["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["value"].as_str())
        .collect();
    assert_eq!(values, ["500000.00"]);
    assert!(
        zw.ok(&["history", &id]).contains(&device[..8]),
        "short device id shown"
    );

    // 9. The card as it was right after it was created.
    let first = changes[0]["hash"].as_str().expect("hash");
    let then = zw.json(&["show", &id, "--at", first]);
    assert_eq!(then["basic"]["name"], "上海华东客户服务有限公司");
    assert!(
        then["visits"].as_array().is_some_and(Vec::is_empty),
        "no visits yet then"
    );
    let f = zw.fail(&["show", &id, "--as-of", "2000-01-01"]);
    assert_eq!(
        (f.code.as_str(), f.exit),
        ("input.invalid_value", 2),
        "the card did not exist yet"
    );
    assert_eq!(
        zw.json(&["show", &id, "--as-of", "now"])["credit"]["credit_limit"],
        50_000_000
    );

    // 10. The schema and the settings.
    let fields = zw.ok(&["fields"]);
    assert!(fields.contains("credit.credit_limit") && fields.contains("信用限度"));
    let settings = zw.json(&["settings", "cache_cards=5"]);
    assert_eq!(settings["settings"]["cache_cards"], 5);
    assert_eq!(
        zw.json(&["settings"])["settings"]["cache_cards"],
        5,
        "persisted"
    );
    // The rules are the company's, shown with their revision (0: no sync yet).
    let shown = zw.json(&["settings"]);
    assert_eq!(shown["company"]["revision"], 0);
    assert_eq!(shown["company"]["settings"]["visits"]["interval_days_a"], 7);
    // Card JSON uses serde's snake_case names for choices (Class::C is "c").
    assert_eq!(zw.json(&["show", &other])["classification"]["abc"], "c");
}

/// Columns a string takes in a terminal (CJK counts two).
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            if ('\u{2E80}'..='\u{9FFF}').contains(&c) || ('\u{FF00}'..='\u{FF60}').contains(&c) {
                2
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn two_devices_exchange_bundles_and_resolve_a_conflict() {
    let zw = Device::new("zhangwei");
    let ln = Device::new("lina");

    // 1. Two phones, two reps; zhangwei creates the card and hands it over as a file.
    zw.ok(&["init", "--rep", "zhangwei"]);
    ln.ok(&["init", "--rep", "lina"]);
    let id = zw.ok(&[
        "new",
        "--name",
        "杭州西湖贸易有限公司",
        "--phone",
        "0571-8888 0000",
        "--territory",
        "华东区",
    ]);
    let report = exchange(&zw, &ln);
    assert_eq!(
        (
            report["cards_new"].as_u64(),
            report["cards_conflicted"].as_u64()
        ),
        (Some(1), Some(0))
    );
    assert_eq!(
        ln.json(&["show", &id])["basic"]["name"],
        "杭州西湖贸易有限公司"
    );

    // 2. Offline, both change the phone; zhangwei also logs a visit, lina sets the city.
    zw.ok(&["set", &id, "basic.phone=13800000001"]);
    zw.ok(&["visit", &id, "--summary", "张伟的拜访"]);
    ln.ok(&["set", &id, "basic.phone=13900000002", "basic.city=杭州"]);
    ln.ok(&["visit", &id, "--kind", "call", "--summary", "李娜的电话"]);

    // 3. They exchange bundles both ways.
    let report = exchange(&zw, &ln);
    assert_eq!(report["cards_updated"], 1);
    assert_eq!(report["cards_conflicted"], 1);
    exchange(&ln, &zw);

    // 4. Both see the conflict, with every value, rep and time; other edits merged.
    for device in [&zw, &ln] {
        let shown = device.ok(&["show", &id]);
        assert!(
            shown.contains("!! CONFLICTS (1)"),
            "conflict block:\n{shown}"
        );
        let line = shown
            .lines()
            .find(|l| l.contains("basic.phone:"))
            .expect("phone conflict line");
        assert!(line.contains("电话 basic.phone"), "{line}");
        assert!(
            line.contains("13800000001 (zhangwei, ") && line.contains("13900000002 (lina, "),
            "{line}"
        );
        let card = device.json(&["show", &id]);
        assert_eq!(card["basic"]["city"], "杭州");
        assert_eq!(
            card["visits"].as_array().map(Vec::len),
            Some(2),
            "both visits survive"
        );
        let conflicts = device.json(&["conflicts", &id]);
        let values = &conflicts["conflicts"][0]["values"];
        assert_eq!(conflicts["conflicts"][0]["path"], "basic.phone");
        let mut reps: Vec<&str> = values
            .as_array()
            .expect("values")
            .iter()
            .filter_map(|v| v["rep"].as_str())
            .collect();
        reps.sort();
        assert_eq!(reps, ["lina", "zhangwei"]);
        assert!(
            values
                .as_array()
                .expect("values")
                .iter()
                .all(|v| v["time"].is_string())
        );
        assert_eq!(
            names(&device.json(&["list", "--conflicted"])),
            ["杭州西湖贸易有限公司"]
        );
    }

    // 5. lina calls the customer and resolves it; the next exchange clears it on zhangwei's phone too.
    let resolved = ln.json(&["resolve", &id, "basic.phone", "13900000002"]);
    assert_eq!(resolved["conflicts_left"], 0);
    assert!(ln.ok(&["conflicts", &id]).contains("no conflicts"));
    let f = ln.fail(&["resolve", &id, "basic.phone", "13900000002"]);
    assert_eq!((f.code.as_str(), f.exit), ("card.no_conflict", 2));
    exchange(&ln, &zw);
    exchange(&zw, &ln);
    for device in [&zw, &ln] {
        assert!(
            device.json(&["conflicts", &id])["conflicts"]
                .as_array()
                .is_some_and(Vec::is_empty)
        );
        assert_eq!(device.json(&["show", &id])["basic"]["phone"], "13900000002");
        assert!(!device.ok(&["show", &id]).contains("CONFLICTS"));
        assert!(names(&device.json(&["list", "--conflicted"])).is_empty());
    }

    // 6. History names both reps, on both devices, and the phone's history shows every value.
    for device in [&zw, &ln] {
        let history = device.ok(&["history", &id]);
        assert!(
            history.contains("zhangwei") && history.contains("lina"),
            "{history}"
        );
        let phone = device.json(&["history", &id, "--field", "basic.phone"]);
        let values: Vec<&str> = phone["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .filter_map(|c| c["value"].as_str())
            .collect();
        for v in ["0571-8888 0000", "13800000001", "13900000002"] {
            assert!(values.contains(&v), "{v} in {values:?}");
        }
    }

    // 7. A second import of the same bundle changes nothing.
    let report = exchange(&zw, &ln);
    assert_eq!(
        (
            report["cards_unchanged"].as_u64(),
            report["changes_applied"].as_u64()
        ),
        (Some(1), Some(0))
    );
}

#[test]
fn bad_input_is_refused_with_a_code_and_exit_2_and_changes_nothing() {
    let zw = Device::new("zhangwei");
    zw.ok(&["init", "--rep", "zhangwei"]);
    let id = zw.ok(&["new", "--name", "广州天河商行", "--phone", "020-3888 1234"]);
    let bundle = zw.path("good.fbb");
    zw.ok(&["export", bundle.to_str().expect("utf-8")]);
    let before = zw.snapshot(&[&id]);

    // 1. Invalid values, each named by its field.
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["set", &id, "basic.founded=2026-02-30"],
            "input.invalid_value",
            "basic.founded",
        ),
        (
            &["set", &id, "credit.credit_limit=-100"],
            "input.invalid_value",
            "credit.credit_limit",
        ),
        (
            &["set", &id, "location.lat=123"],
            "input.invalid_value",
            "location.lat",
        ),
        (
            &["set", &id, "basic.city=广州", "location.lat=123"],
            "input.invalid_value",
            "location.lat",
        ),
        (
            &["visit", &id, "--summary", "x", "--lat", "123"],
            "input.invalid_value",
            "visits.lat",
        ),
        (
            &["visit", &id, "--summary", "x", "--at", "2026-13-01 10:00"],
            "input.invalid_value",
            "visits.at",
        ),
        (
            &["todo", "add", &id, "x", "--due", "2026-02-30"],
            "input.invalid_value",
            "todos.due",
        ),
        (
            &["sales", &id, "2026-10", "-5"],
            "input.invalid_value",
            "sales",
        ),
        (
            &[
                "opp", "add", &id, "x", "--stage", "nonsense", "--amount", "1",
            ],
            "input.invalid_value",
            "stage",
        ),
        (
            &["new", "--name", "x", "--class", "E"],
            "input.invalid_value",
            "class",
        ),
        (
            &["list", "--due", "tomorrow-ish"],
            "input.invalid_value",
            "due",
        ),
        (&["list", "--sort", "height"], "input.invalid_value", "sort"),
        (
            &["set", &id, "basic.nickname=x"],
            "input.unknown_field",
            "basic.nickname",
        ),
        (&["set", &id, "no-equals-sign"], "input.usage", "PATH=VALUE"),
        (
            &["settings", "cache_cards=0"],
            "input.invalid_value",
            "cache_cards",
        ),
        (
            &["settings", "interval_days_a=3"],
            "input.company_setting",
            "interval_days_a",
        ),
        (
            &["settings", "colour=blue"],
            "input.unknown_setting",
            "colour",
        ),
        (
            &["contact", "set", &id, "000000000000", "mobile=1"],
            "card.item_not_found",
            "000000000000",
        ),
        (
            &["resolve", &id, "basic.phone", "1"],
            "card.no_conflict",
            "basic.phone",
        ),
        (&["show", &id, "--at", "nothex"], "input.invalid_id", "hash"),
        (&["frobnicate"], "input.usage", "frobnicate"),
    ];
    for (args, code, mentions) in cases {
        let f = zw.fail(args);
        assert_eq!(
            (f.code.as_str(), f.exit),
            (*code, 2),
            "{args:?}: {}",
            f.message
        );
        assert!(
            f.message.contains(mentions),
            "{args:?}: message {:?} names {mentions}",
            f.message
        );
    }

    // 2. Unknown card ids: well formed but absent, malformed, and a prefix of nothing.
    for (arg, code) in [
        ("00000000-0000-4000-8000-000000000000", "card.not_found"),
        ("not-a-card", "input.invalid_id"),
        ("ffffffff", "card.not_found"),
    ] {
        for args in [
            vec!["show", arg],
            vec!["set", arg, "basic.city=x"],
            vec!["history", arg],
        ] {
            let f = zw.fail(&args);
            assert_eq!((f.code.as_str(), f.exit), (code, 2), "{args:?}");
        }
    }

    // 3. Bundles that are corrupt, truncated or not bundles at all: nothing is imported.
    let good = std::fs::read(&bundle).expect("bundle");
    let mut corrupt = good.clone();
    let last = corrupt.len() - 10;
    corrupt[last] ^= 0xFF;
    let files: [(&str, Vec<u8>, &str); 4] = [
        ("corrupt.fbb", corrupt, "bundle.corrupt"),
        (
            "truncated.fbb",
            good[..good.len() / 2].to_vec(),
            "bundle.truncated",
        ),
        (
            "foreign.fbb",
            b"PK\x03\x04 this is a zip file, not a bundle".to_vec(),
            "bundle.foreign",
        ),
        ("empty.fbb", Vec::new(), "bundle.foreign"),
    ];
    for (name, bytes, code) in files {
        let path = zw.path(name);
        std::fs::write(&path, bytes).expect("write");
        let f = zw.fail(&["import", path.to_str().expect("utf-8")]);
        assert_eq!(
            (f.code.as_str(), f.exit),
            (code, 2),
            "{name}: {}",
            f.message
        );
    }
    let f = zw.fail(&["import", zw.path("missing.fbb").to_str().expect("utf-8")]);
    assert_eq!((f.code.as_str(), f.exit), ("input.file", 2));

    // Nothing above changed anything.
    assert_eq!(
        zw.snapshot(&[&id]),
        before,
        "refused commands left the store as it was"
    );

    // 4. A file that is not a store is refused and left byte for byte as it was.
    let not_a_store = zw.path("notes.txt");
    std::fs::write(
        &not_a_store,
        "客户名单\n这不是数据库, just a text file that is long enough to have a header\n",
    )
    .expect("write");
    let original = std::fs::read(&not_a_store).expect("read");
    let other = Device {
        dir: tempfile::tempdir().expect("tempdir"),
        store: not_a_store.clone(),
    };
    for args in [
        vec!["list"],
        vec!["show", &id],
        vec!["init", "--rep", "x"],
        vec!["new", "--name", "x"],
    ] {
        let f = other.fail(&args);
        assert_eq!(
            (f.code.as_str(), f.exit),
            ("store.not_fieldbook", 2),
            "{args:?}"
        );
    }
    assert_eq!(std::fs::read(&not_a_store).expect("read"), original);
    assert!(!sidecar(&not_a_store, "-wal").exists() && !sidecar(&not_a_store, "-journal").exists());

    // 5. No store at all: only `init` creates one; nothing is left behind.
    let nowhere = Device::new("nowhere");
    let f = nowhere.fail(&["list"]);
    assert_eq!((f.code.as_str(), f.exit), ("store.missing", 2));
    assert!(!nowhere.store.exists());
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[test]
fn the_store_comes_from_the_environment_when_not_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("env.db");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_fieldbook"))
            .args(args)
            .current_dir(dir.path())
            .env("FIELDBOOK_STORE", &store)
            .output()
            .expect("run")
    };
    assert!(run(&["init", "--rep", "zhangwei"]).status.success());
    assert!(store.exists(), "FIELDBOOK_STORE used");
    assert!(!dir.path().join("fieldbook.db").exists());
    let out = run(&["-v", "new", "--name", "成都锦江店"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim().len(),
        36,
        "logs go to stderr, never stdout"
    );
}

/// Item 7: another person's field holding terminal escapes (ESC, BEL, CR, C1, bidi
/// overrides) is shown inert by `show` and `list`; `--json` keeps the exact value.
#[test]
fn terminal_escapes_in_a_field_are_shown_inert_and_kept_exact_in_json() {
    let dev = Device::new("zhangwei");
    dev.ok(&["init", "--rep", "zhangwei"]);
    let hostile = "恶意\u{1b}]0;pwned\u{7}\u{1b}[2J\rX\u{9b}31m\u{202e}moc.evil";
    let id = dev.ok(&["new", "--name", hostile, "--territory", "华东区"]);
    for args in [vec!["show", id.as_str()], vec!["list"]] {
        let out = dev.run(&args);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).expect("utf-8");
        for bad in ['\u{1b}', '\u{7}', '\r', '\u{9b}', '\u{202e}'] {
            assert!(
                !text.contains(bad),
                "{args:?} printed {bad:?} raw: {text:?}"
            );
        }
        assert!(text.contains("恶意\\x1b]0;pwned\\x07"), "{args:?}: {text}");
    }
    let shown = dev.json(&["show", &id]);
    assert_eq!(shown["basic"]["name"], hostile, "JSON is exact");
}

/// Item 18: a reader that closes the pipe early (`fieldbook list | head -1`) is not
/// a crash: no panic, a clean exit.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    let dev = Device::new("zhangwei");
    dev.ok(&["init", "--rep", "zhangwei"]);
    for i in 0..3 {
        dev.ok(&[
            "new",
            "--name",
            &format!("客户{i}"),
            "--territory",
            "华东区",
        ]);
    }
    let mut child = dev
        .command(&["list"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Close our end before the program writes: its write meets a broken pipe.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

/// Item 18: `fields` lists the card's fields without any store, and makes none.
#[test]
fn fields_works_without_a_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_fieldbook"))
        .arg("fields")
        .current_dir(dir.path())
        .env_remove("FIELDBOOK_STORE")
        .output()
        .expect("run fieldbook");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("basic.phone"));
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "no store was created"
    );
}

/// Item 18: the exit-status contract is in `--help`; bad input exits 2 (the
/// bad-input test covers each kind), a failure that is not the input's exits 1.
#[test]
fn help_states_the_exit_status_and_a_network_failure_exits_1() {
    let dev = Device::new("zhangwei");
    let help = dev.ok(&["--help"]);
    assert!(
        help.contains("Exit status: 0 success; 2 bad input"),
        "{help}"
    );
    dev.ok(&["init", "--rep", "zhangwei"]);
    let f = dev.fail(&["sync"]);
    assert_eq!(f.exit, 2, "not enrolled is the rep's to fix: {f:?}");
    // Nothing listens on port 9 of loopback: a network failure, not bad input.
    let f = dev.fail(&["enrol", "http://127.0.0.1:9", "fbe_whatever"]);
    assert_eq!(f.exit, 1, "{f:?}");
    assert_eq!(dev.fail(&["show", "nosuchcard"]).exit, 2);
}

/// Item 18: punctuation alone matches no card; a search that stops at its limit
/// says so and pages on with `--offset`.
#[test]
fn search_of_punctuation_finds_nothing_and_search_pages() {
    let dev = Device::new("zhangwei");
    dev.ok(&["init", "--rep", "zhangwei"]);
    for i in 0..3 {
        dev.ok(&[
            "new",
            "--name",
            &format!("华东客户{i}"),
            "--territory",
            "华东区",
        ]);
    }
    for punct in ["。", "!!", "，、 …"] {
        let found = dev.json(&["search", punct]);
        assert_eq!(found["cards"].as_array().map(Vec::len), Some(0), "{punct}");
    }
    let page = dev.ok(&["search", "客户", "--limit", "2"]);
    assert!(
        page.contains("showing 2 of more; --offset 2 for the next page"),
        "{page}"
    );
    let first = dev.json(&["search", "客户", "--limit", "2"]);
    assert_eq!(first["more"], true);
    let next = dev.json(&["search", "客户", "--limit", "2", "--offset", "2"]);
    assert_eq!(next["more"], false);
    assert_eq!(next["cards"].as_array().map(Vec::len), Some(1));
    let all: Vec<String> = first["cards"]
        .as_array()
        .into_iter()
        .chain(next["cards"].as_array())
        .flatten()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(all, ["华东客户0", "华东客户1", "华东客户2"]);
    assert!(
        !dev.ok(&["search", "客户", "--limit", "3"])
            .contains("of more")
    );
}

/// `abc` classifies by the last three full months' sales (the seed's 75/20/5 rule) with
/// the hand-set class beside it; `plan` lists who is due, orders them along the shortest
/// route from the office, and keeps customers without a position off the route but on
/// the list. Bad input is refused with a code.
#[test]
fn abc_and_the_day_plan_from_the_cards_on_the_device() {
    let zw = Device::new("abc");
    zw.ok(&["init", "--rep", "zhangwei"]);
    // Monthly sales (yuan) and positions along a street east of the office.
    let customers = [
        ("上海华东食品有限公司", 900_000, Some("31.2304,121.4837")),
        ("浦东粮油贸易公司", 600_000, Some("31.2304,121.5037")),
        ("宝山钢材贸易公司", 300_000, Some("31.2304,121.4937")),
        ("闵行日用品商行", 50_000, None),
    ];
    let mut ids = Vec::new();
    for (name, amount, position) in customers {
        let card = zw.json(&["new", "--name", name, "--territory", "east"]);
        let id = card["id"].as_str().expect("id").to_owned();
        for month in ["2026-08", "2026-09", "2026-10"] {
            zw.ok(&["sales", &id, month, &amount.to_string()]);
        }
        if let Some((lat, lon)) = position.and_then(|p| p.split_once(',')) {
            zw.ok(&[
                "set",
                &id,
                &format!("location.lat={lat}"),
                &format!("location.lon={lon}"),
            ]);
        }
        ids.push(id);
    }
    zw.ok(&["set", &ids[3], "classification.abc=B"]);

    let abc = zw.json(&["abc", "--date", "2026-11-15"]);
    let rows = abc["report"]["rows"].as_array().expect("rows");
    let classes: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["name"].as_str().expect("name"),
                r["computed"].as_str().expect("class"),
            )
        })
        .collect();
    // 900k of 1.85M is 48.6%: A; the next starts below 75%: A; then B; the last C.
    assert_eq!(
        classes,
        [
            ("上海华东食品有限公司", "a"),
            ("浦东粮油贸易公司", "a"),
            ("宝山钢材贸易公司", "b"),
            ("闵行日用品商行", "c"),
        ]
    );
    assert_eq!(rows[3]["manual"], "b", "the hand-set class is shown beside");
    let human = zw.ok(&["abc", "--date", "2026-11-15"]);
    assert!(human.contains("2026-08 – 2026-10") && human.contains("上海华东食品有限公司"));

    let plan = zw.json(&["plan", "--date", "2026-11-15", "--from", "31.2304,121.4737"]);
    let route: Vec<&str> = plan["plan"]["route"]["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["stops"].as_array().expect("stops"))
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        route,
        [
            "上海华东食品有限公司",
            "宝山钢材贸易公司",
            "浦东粮油贸易公司"
        ],
        "nearest first along the street"
    );
    assert_eq!(
        plan["plan"]["visits"]["due"].as_array().map(Vec::len),
        Some(4)
    );
    let unrouted = &plan["plan"]["route"]["unrouted"];
    assert_eq!(unrouted[0]["name"], "闵行日用品商行");
    assert_eq!(unrouted[0]["reason"], "no_coordinates");
    // About 2.86 km along the street (0.03° of longitude at 31.23° N).
    let length = plan["plan"]["route"]["length_m"].as_f64().expect("length");
    assert!((2_800.0..2_900.0).contains(&length), "{length}");

    let bad = zw.fail(&["plan", "--from", "north of the river"]);
    assert_eq!((bad.exit, bad.code.as_str()), (2, "input.usage"));
    let bad = zw.fail(&["plan", "--from", "95,121"]);
    assert_eq!((bad.exit, bad.code.as_str()), (2, "input.usage"));
    let bad = zw.fail(&["abc", "--date", "2026-13-01"]);
    assert_eq!(bad.exit, 2);
}

/// `duplicates` finds the two cards of one customer; `merge` keeps one, the list shows one
/// card, and the merged card still opens, pointing to the kept one.
#[test]
fn duplicates_are_found_and_merged() {
    let zw = Device::new("dups");
    zw.ok(&["init", "--rep", "zhangwei"]);
    let keep = zw.json(&[
        "new",
        "--name",
        "上海华东食品有限公司",
        "--territory",
        "east",
    ]);
    let keep = keep["id"].as_str().expect("id").to_owned();
    let other = zw.json(&["new", "--name", "华东食品厂", "--territory", "east"]);
    let other = other["id"].as_str().expect("id").to_owned();
    zw.ok(&["set", &other, "basic.tax_no=91310115MA1H7XYZ3K"]);
    zw.ok(&[
        "new",
        "--name",
        "北京华北钢材贸易公司",
        "--territory",
        "east",
    ]);

    let found = zw.json(&["duplicates"]);
    let pairs = found["pairs"].as_array().expect("pairs");
    assert_eq!(pairs.len(), 1, "{found}");
    let merged = zw.json(&["merge", &keep, &other]);
    assert_eq!(merged["kept"], keep.as_str());
    assert!(
        merged["fields_filled"]
            .as_array()
            .expect("filled")
            .iter()
            .any(|f| f == "basic.tax_no")
    );
    assert_eq!(
        names(&zw.json(&["list"])),
        ["北京华北钢材贸易公司", "上海华东食品有限公司"]
    );
    let shown = zw.json(&["show", &other]);
    assert_eq!(shown["basic"]["merged_into"], keep.as_str());
    assert_eq!(zw.json(&["duplicates"])["pairs"], serde_json::json!([]));
    let f = zw.fail(&["merge", &keep, &other]);
    assert_eq!(
        (f.code.as_str(), f.exit),
        ("input.invalid_value", 2),
        "merged already"
    );
}
