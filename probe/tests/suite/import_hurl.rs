//! `probe import`: Hurl files become scenarios that validate; constructs
//! without an equivalent are reported at their line and column, exit 2.

use std::process::Command;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/hurl/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn import(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_probe"))
        .arg("import")
        .args(args)
        .output()
        .expect("probe runs")
}

#[test]
fn checkout_converts_to_a_scenario_on_stdout() {
    let out = import(&[
        &fixture("checkout.hurl"),
        "--variable",
        "base=http://127.0.0.1:9480",
        "--variable",
        "password=demo",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let toml = String::from_utf8_lossy(&out.stdout);
    assert!(
        toml.contains("capture = { token = \"jsonpath \\\"$.token\\\"\" }"),
        "{toml}"
    );
    assert!(toml.contains("\"duration < 2000ms\""), "{toml}");
    assert!(
        toml.contains("json = { product_id = \"{{product}}\", quantity = 1 }"),
        "{toml}"
    );
}

#[test]
fn unsupported_constructs_are_reported_at_line_and_column_with_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = import(&[
        &fixture("unsupported.hurl"),
        "--variable",
        "base=http://127.0.0.1:9480",
        "--out",
        &dir.path().display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unsupported.hurl:6:1: query `xpath` is not supported"),
        "{stderr}"
    );
    assert!(
        stderr.contains("unsupported.hurl:7:21: predicate `isString`"),
        "{stderr}"
    );
    let written = std::fs::read_to_string(dir.path().join("unsupported.toml")).expect("written");
    assert!(
        written.contains("jsonpath \\\"$.status\\\" == \\\"ok\\\""),
        "{written}"
    );
}
