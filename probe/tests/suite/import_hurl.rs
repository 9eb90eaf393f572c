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

/// Imports `hurl` text written to a temporary `NAME.hurl`.
fn import_text(name: &str, hurl: &str, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(name);
    std::fs::write(&file, hurl).expect("write");
    let mut all = vec![file.display().to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    import(&all)
}

#[test]
fn trailing_comments_end_a_line_but_a_quoted_hash_is_kept() {
    let hurl = "GET {{base}}/healthz  # liveness\n\
                Accept: application/json # the API's type\n\
                [QueryStringParams]\n\
                tag: \"a # b\"\n\
                HTTP 200 # up\n\
                [Asserts]\n\
                jsonpath \"$.status\" == \"ok\" # and nothing else\n";
    let out = import_text(
        "comments.hurl",
        hurl,
        &["--variable", "base=http://127.0.0.1:9480"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let toml = String::from_utf8_lossy(&out.stdout);
    assert!(
        toml.contains("get = \"{{base}}/healthz?tag=a+%23+b\""),
        "{toml}"
    );
    assert!(
        toml.contains("headers = { Accept = \"application/json\" }"),
        "{toml}"
    );
    assert!(toml.contains("\"status == 200\""), "{toml}");
    assert!(
        toml.contains("\"jsonpath \\\"$.status\\\" == \\\"ok\\\"\""),
        "{toml}"
    );
}

#[test]
fn variables_named_like_built_ins_or_with_dashes_are_renamed_everywhere() {
    let hurl = "GET {{base-url}}/api/products\n\
                X-Sonde-Region: {{region}}\n\
                HTTP 200\n\
                [Captures]\n\
                probe: jsonpath \"$.items[0].id\"\n\
                \n\
                POST {{base-url}}/api/cart\n\
                {\"product_id\": {{probe}}, \"region\": \"{{region}}\"}\n\
                HTTP 201\n";
    let out = import_text(
        "renamed.hurl",
        hurl,
        &[
            "--variable",
            "base-url=http://127.0.0.1:9480",
            "--variable",
            "region=eu-west-1",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let toml = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "base_url = \"http://127.0.0.1:9480\"",
        "hurl_region = \"eu-west-1\"",
        "get = \"{{base_url}}/api/products\"",
        "headers = { X-Sonde-Region = \"{{hurl_region}}\" }",
        "capture = { hurl_probe = \"jsonpath \\\"$.items[0].id\\\"\" }",
        "json = { product_id = \"{{hurl_probe}}\", region = \"{{hurl_region}}\" }",
    ] {
        assert!(toml.contains(expected), "{expected} in {toml}");
    }
}

#[test]
fn options_basic_auth_and_filters_without_an_equivalent_are_reported_at_their_line() {
    let hurl = "GET http://127.0.0.1:9480/\n\
                [Options]\n\
                location: false\n\
                max-redirs: -1\n\
                delay: 100\n\
                HTTP 200\n\
                [Asserts]\n\
                header \"Set-Cookie\" count == 1\n\
                \n\
                GET http://127.0.0.1:9480/api/products\n\
                {{user}}: x\n\
                [BasicAuth]\n\
                {{user}}: {{password}}\n\
                HTTP 200\n";
    let out = import_text(
        "options.hurl",
        hurl,
        &["--variable", "user=u", "--variable", "password=p"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "options.hurl:4:1: `max-redirs: -1` is not a number of redirects",
        "options.hurl:5:1: option `delay` is not supported",
        "options.hurl:8:21: `count` after `header` is not supported",
        "options.hurl:11:1: a template in a header name is not supported",
        "options.hurl:12:1: a template in `[BasicAuth]` is not supported",
    ] {
        assert!(stderr.contains(expected), "{expected} in {stderr}");
    }
    assert!(
        !stderr.contains(":3:"),
        "`location: false` is Hurl's default: {stderr}"
    );
}
