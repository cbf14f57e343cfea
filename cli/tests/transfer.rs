//! `fieldbook import` and `export` of customer lists (CSV, XLSX), driven as an
//! administrator would: real processes, real store files and spreadsheets in temp dirs.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

struct Device {
    dir: tempfile::TempDir,
    store: PathBuf,
}

impl Device {
    fn new(rep: &str) -> Device {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join(format!("{rep}.db"));
        let d = Device { dir, store };
        d.ok(&["init", "--rep", rep]);
        d
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_fieldbook"))
            .arg("--store")
            .arg(&self.store)
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("FIELDBOOK_STORE")
            .env_remove("RUST_LOG")
            .env("TZ", "Asia/Shanghai")
            .output()
            .expect("run fieldbook")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "fieldbook {args:?} failed: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).expect("JSON on stdout")
    }

    /// Run with `--json`, expect failure: (exit status, error code, message).
    fn fail(&self, args: &[&str]) -> (i32, String, String) {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(
            !out.status.success(),
            "fieldbook {args:?} should have failed"
        );
        assert!(out.stdout.is_empty(), "nothing on stdout when failing");
        let err: Value = serde_json::from_slice(&out.stderr).expect("JSON error");
        (
            out.status.code().unwrap_or(-1),
            err["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            err["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    }

    fn path(&self, name: &str) -> String {
        self.dir
            .path()
            .join(name)
            .to_str()
            .expect("utf-8")
            .to_string()
    }

    fn count(&self) -> usize {
        self.json(&["list", "--limit", "1000"])["cards"]
            .as_array()
            .expect("cards")
            .len()
    }
}

/// Every card of the device in name order, exported as CSV text.
fn csv_of(d: &Device) -> String {
    let file = d.path("all.csv");
    d.ok(&["export", "cards", "--out", &file]);
    let bytes = std::fs::read(&file).expect("read export");
    assert!(
        bytes.starts_with(b"\xef\xbb\xbf"),
        "UTF-8 with a BOM for Excel"
    );
    String::from_utf8(bytes[3..].to_vec()).expect("utf-8")
}

fn seed(d: &Device) {
    let a = d.ok(&[
        "new",
        "--name",
        "上海华东食品有限公司",
        "--phone",
        "021-6234 5678",
        "--territory",
        "华东区",
        "--class",
        "A",
        "--set",
        "basic.tax_no=91310000MA1K000001",
        "--set",
        "credit.credit_limit=50000.50",
        "--set",
        "location.lat=31.2304",
        "--set",
        "location.lon=121.4737",
        "--set",
        "basic.founded=2008-05-12",
        "--set",
        "credit.supply_suspended=no",
    ]);
    let a = a.trim();
    d.ok(&[
        "contact",
        "add",
        a,
        "--name",
        "王芳",
        "--mobile",
        "+86 138 0000 1111",
    ]);
    d.ok(&["sales", a, "2026-10", "86000"]);
    d.ok(&["tag", a, "add", "重点", "连锁"]);
    d.ok(&[
        "new",
        "--name",
        "=HYPERLINK(\"http://x\",\"点我\")",
        "--territory",
        "华南区",
    ]);
    d.ok(&["new", "--name", "成都蜀香餐饮", "--set", "notes=两行\n备注"]);
}

#[test]
fn an_exported_list_imports_into_a_fresh_device_with_the_same_values() {
    let zw = Device::new("zhangwei");
    seed(&zw);
    let before = csv_of(&zw);
    assert!(
        before.contains("\"'=HYPERLINK(\"\"http://x\"\",\"\"点我\"\")\""),
        "a formula-like name is quoted: {before}"
    );
    for format in ["xlsx", "csv"] {
        let file = zw.path(&format!("客户.{format}"));
        let out = zw.json(&["export", "cards", "--out", &file]);
        assert_eq!(out["rows"], 3);

        let ls = Device::new("lisi");
        let dry = ls.json(&["import", &file, "--dry-run"]);
        assert_eq!(dry["to_create"], 3, "{dry}");
        assert_eq!(dry["problems"].as_array().map(Vec::len), Some(0), "{dry}");
        assert_eq!(ls.count(), 0, "a dry run writes nothing");

        let done = ls.json(&["import", &file]);
        assert_eq!(done["created"], 3, "{done}");
        assert_eq!(csv_of(&ls), before, "{format}: the same field values");
        let found = ls.json(&["search", "华东食品"]);
        let id = found["cards"][0]["id"].as_str().expect("id").to_string();
        let card = ls.json(&["show", &id]);
        let text = card.to_string();
        for v in [
            "91310000MA1K000001",
            "\"credit_limit\":5000050",
            "+86 138 0000 1111",
            "\"2026-10\":8600000",
            "重点",
        ] {
            assert!(text.contains(v), "{v} in {text}");
        }

        // The same file again: every row is flagged against the cards now on the device.
        let again = ls.json(&["import", &file, "--dry-run"]);
        assert_eq!(
            again["duplicates"].as_array().map(Vec::len),
            Some(3),
            "{again}"
        );
        let skipped = ls.json(&["import", &file, "--skip-duplicates"]);
        assert_eq!(
            (
                skipped["created"].as_u64(),
                skipped["skipped_duplicates"].as_u64()
            ),
            (Some(0), Some(3))
        );
        assert_eq!(ls.count(), 3);
    }
}

#[test]
fn a_bad_row_unknown_column_or_hostile_file_imports_nothing() {
    let d = Device::new("zhangwei");
    let csv = d.path("客户资料.csv");
    std::fs::write(
        &csv,
        "客户名称,联系电话,信用额度,销售员\n青岛海滨水产,0532-8888 0000,20000,刘洋\n烟台苹果批发,0535-6666 1111,很多,刘洋\n",
    )
    .expect("write");

    let (exit, code, message) = d.fail(&["import", &csv]);
    assert_eq!(
        (exit, code.as_str()),
        (2, "import.unknown_columns"),
        "{message}"
    );
    let (exit, code, message) = d.fail(&["import", &csv, "--map", "销售员=ignore"]);
    assert_eq!((exit, code.as_str()), (2, "import.rejected"));
    assert!(
        message.contains("row 3, column 3 (credit.credit_limit)"),
        "{message}"
    );
    assert!(
        !message.contains("很多") && !message.contains("烟台"),
        "no personal data: {message}"
    );
    assert_eq!(d.count(), 0);

    let dry = d.json(&["import", &csv, "--map", "销售员=ignore", "--dry-run"]);
    assert_eq!(dry["problems"][0]["row"], 3);
    assert_eq!(dry["problems"][0]["code"], "import.invalid_value");
    assert_eq!(dry["to_create"], 1);

    let (_, code, _) = d.fail(&["import", &csv, "--map", "销售员"]);
    assert_eq!(code, "import.bad_mapping");

    let zip = d.path("坏.xlsx");
    std::fs::write(&zip, b"PK\x03\x04 not really a workbook").expect("write");
    let (exit, code, _) = d.fail(&["import", &zip]);
    assert_eq!((exit, code.as_str()), (2, "import.bad_file"));
    assert_eq!(d.count(), 0);
}

#[test]
fn abc_and_plan_export_as_reports() {
    let d = Device::new("zhangwei");
    seed(&d);
    let abc = d.path("abc.csv");
    let out = d.json(&["export", "abc", "--out", &abc, "--date", "2026-12-01"]);
    assert_eq!(out["rows"], 3);
    let text = std::fs::read_to_string(&abc).expect("read");
    assert!(text.contains("排名,客户名称,计算分类"), "{text}");
    assert!(text.contains("上海华东食品有限公司,A"), "{text}");
    let plan = d.path("plan.xlsx");
    let out = d.json(&[
        "export",
        "plan",
        "--out",
        &plan,
        "--date",
        "2026-12-01",
        "--from",
        "31.23,121.47",
    ]);
    assert!(out["rows"].as_u64().is_some_and(|n| n >= 1), "{out}");
    let (_, code, _) = d.fail(&["export", "plan", "--out", &plan]);
    assert_eq!(code, "input.usage");
}
