//! The `fieldbook-server` binary's admin subcommands, run as a real process.

use std::process::Command;

fn run(data: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fieldbook-server"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run fieldbook-server");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn admin_subcommands_set_up_a_company_and_print_a_one_time_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    for args in [
        &["rep", "add", "zhangwei", "--name", "Zhang Wei"][..],
        &["manager", "add", "wang", "--name", "Wang Fang"],
        &[
            "territory",
            "add",
            "sh-east",
            "--name",
            "Shanghai East",
            "--manager",
            "wang",
        ],
        &["territory", "assign", "sh-east", "zhangwei"],
    ] {
        let (ok, _, err) = run(d, args);
        assert!(ok, "{args:?}: {err}");
    }
    let (ok, token, err) = run(d, &["device", "enrol", "zhangwei", "--name", "phone"]);
    assert!(ok, "{err}");
    assert!(token.trim().starts_with("fbe_"), "{token}");
    let (ok, _, err) = run(d, &["rep", "add", "zhangwei", "--name", "Again"]);
    assert!(!ok);
    assert!(err.contains("admin.already_exists"), "{err}");
    let (ok, _, err) = run(d, &["device", "revoke", "no-such-device"]);
    assert!(!ok);
    assert!(err.contains("admin.not_found"), "{err}");
    assert!(d.join("fieldbook.db").exists());
    let (ok, _, err) = run(
        d,
        &["device", "enrol", "wang", "--role", "rep", "--name", "x"],
    );
    assert!(!ok, "a manager cannot get a rep device: {err}");
}

#[test]
fn handoff_review_and_deactivate_rep_subcommands() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    for args in [
        &["rep", "add", "zhangwei", "--name", "张伟"][..],
        &["rep", "add", "lina", "--name", "李娜"],
        &["rep", "add", "liuyang", "--name", "刘洋"],
        &["manager", "add", "wang", "--name", "王芳"],
        &[
            "territory",
            "add",
            "sh-east",
            "--name",
            "华东区",
            "--manager",
            "wang",
        ],
        &["territory", "assign", "sh-east", "zhangwei"],
        &["deactivate-rep", "liuyang"],
    ] {
        let (ok, _, err) = run(d, args);
        assert!(ok, "{args:?}: {err}");
    }
    let handoff = |to: &str, extra: &[&str]| {
        let mut args = vec![
            "handoff",
            "--territory",
            "sh-east",
            "--from",
            "zhangwei",
            "--to",
            to,
            "--reason",
            "张伟调岗",
            "--by",
            "wang",
        ];
        args.extend_from_slice(extra);
        run(d, &args)
    };
    let (ok, _, err) = handoff("liuyang", &[]);
    assert!(!ok && err.contains("handoff.unknown_rep"), "{err}");
    let (ok, out, err) = handoff("lina", &["--preview"]);
    assert!(ok, "{err}");
    let preview: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(preview["whole_territory"], true);
    let (ok, out, err) = handoff("lina", &[]);
    assert!(ok, "{err}");
    let done: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(done["assignments"][0]["to"], "lina");
    assert_eq!(done["assignments"][0]["decided_by"], "wang");
    let (ok, _, err) = handoff("lina", &[]);
    assert!(!ok && err.contains("handoff.conflict"), "{err}");
    let (ok, out, err) = run(
        d,
        &["review", "list", "--by", "wang", "--status", "pending"],
    );
    assert!(ok, "{err}");
    let page: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(page["total"], 0);
    let (ok, _, err) = run(d, &["review", "accept", "1", "--by", "wang"]);
    assert!(!ok && err.contains("access.denied"), "no such item: {err}");
    let (ok, _, err) = run(d, &["review", "list", "--by", "lina"]);
    assert!(
        !ok && err.contains("request.invalid"),
        "--by names a manager: {err}"
    );
}
