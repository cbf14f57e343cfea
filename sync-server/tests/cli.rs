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
