//! Golden files pin the JSON of the wire types: a change to `RunResult` or
//! `Plan` shows up as a diff of `tests/golden/*.json` in review.
//!
//! After an intended change, rewrite the files and review the diff:
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p sonde-scenarios --test suite wire_golden::
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use chrono::{DateTime, Duration, TimeZone, Utc};
use scenarios::wire::{
    AssertionResult, ErrorKind, HttpInfo, Outcome, Phases, Plan, PlannedScenario, RunReason,
    RunRequest, RunResult, StepError, StepKind, StepResult, StepStatus, TlsInfo, scenario_version,
};
use uuid::Uuid;

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn read_golden(name: &str) -> String {
    let path = golden_path(name);
    fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    })
}

/// Compares `json` with the golden file, or rewrites the file when
/// `UPDATE_GOLDEN=1` is set.
fn check_golden(name: &str, json: &str) {
    let json = format!("{json}\n");
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        fs::write(golden_path(name), &json).expect("golden file is writable");
        return;
    }
    assert_eq!(
        json,
        read_golden(name),
        "tests/golden/{name} differs; if the change is intended, rerun with UPDATE_GOLDEN=1"
    );
}

fn at(ms: i64) -> DateTime<Utc> {
    let ten = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).single();
    ten.expect("valid date") + Duration::milliseconds(ms)
}

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).expect("valid uuid")
}

fn assertion(expr: &str, passed: bool, expected: &str, actual: &str) -> AssertionResult {
    AssertionResult {
        expr: expr.into(),
        passed,
        expected: expected.into(),
        actual: actual.into(),
    }
}

fn http(method: &str, path: &str, status: Option<u16>) -> Option<HttpInfo> {
    Some(HttpInfo {
        method: method.into(),
        url: format!("https://shop.sonde.test:9443{path}"),
        status,
        version: "HTTP/1.1".into(),
    })
}

fn home() -> StepResult {
    StepResult {
        name: "home".into(),
        kind: StepKind::Http,
        status: StepStatus::Passed,
        duration_ms: Some(21.4),
        phases: Some(Phases {
            dns_ms: Some(1.1),
            connect_ms: Some(0.2),
            tls_ms: Some(6.8),
            ttfb_ms: Some(12.6),
            transfer_ms: Some(0.7),
        }),
        http: http("GET", "/", Some(200)),
        tls: Some(TlsInfo {
            version: Some("1.3".into()),
            cert_not_after: Some(at(90 * 24 * 3_600_000)),
            cert_subject: Some("CN=shop.sonde.test".into()),
            verified: true,
            verify_error: None,
        }),
        dns: None,
        browser: None,
        assertions: vec![
            assertion("status == 200", true, "200", "200"),
            assertion("duration < 800ms", true, "< 800ms", "21.4ms"),
        ],
        captures: vec![],
        error: None,
        evidence: None,
    }
}

fn login() -> StepResult {
    StepResult {
        name: "login".into(),
        kind: StepKind::Http,
        status: StepStatus::Passed,
        duration_ms: Some(20.3),
        phases: Some(Phases {
            ttfb_ms: Some(19.5),
            transfer_ms: Some(0.8),
            ..Phases::default()
        }),
        http: http("POST", "/api/login", Some(200)),
        tls: None,
        dns: None,
        browser: None,
        assertions: vec![
            assertion("status == 200", true, "200", "200"),
            assertion("jsonpath \"$.token\" exists", true, "exists", "\"tok-***\""),
        ],
        captures: vec!["token".into()],
        error: None,
        evidence: None,
    }
}

fn products() -> StepResult {
    StepResult {
        name: "products".into(),
        kind: StepKind::Http,
        status: StepStatus::Failed,
        duration_ms: Some(10_000.0),
        phases: Some(Phases::default()),
        http: http("GET", "/api/products", None),
        tls: None,
        dns: None,
        browser: None,
        assertions: vec![],
        captures: vec![],
        error: Some(StepError {
            kind: ErrorKind::Timeout,
            message: "no response within the step timeout of 10s".into(),
        }),
        evidence: None,
    }
}

/// The failing checkout run: the products step times out, the last two are
/// skipped.
fn checkout_run() -> RunResult {
    RunResult {
        id: uuid("0193a6f2-6c1e-7b3a-9f1e-2d4c5b6a7e8f"),
        scenario: "checkout".into(),
        version: "sha256:3f2a9c0e5b7d41a8c6f2e9b0d3a7c5e1f4b8d2a6c0e9f3b7d1a5c8e2f6b0d4a9".into(),
        probe: "p-eu-1".into(),
        region: "eu-west-1".into(),
        scheduled_at: at(0),
        started_at: at(4),
        duration_ms: 10_042.5,
        outcome: Outcome::Timeout,
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        run_request: None,
        attempt: 1,
        retry_of: None,
        steps: vec![
            home(),
            login(),
            products(),
            StepResult::skipped("add to cart", StepKind::Http),
            StepResult::skipped("checkout", StepKind::Http),
        ],
    }
}

const CHECKOUT_TOML: &str = r#"name = "checkout"
interval = "1m"

[[steps]]
name = "home"
get = "https://shop.sonde.test:9443/"
tls = { ca_file = "certs/demo-ca.pem" }
expect = ["status == 200"]
"#;

const DEMO_CA: &str =
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUSonde\n-----END CERTIFICATE-----\n";

fn planned(name: &str, source: &str, files: &[(&str, &str)]) -> PlannedScenario {
    let files: BTreeMap<String, String> = files
        .iter()
        .map(|(n, c)| ((*n).to_owned(), (*c).to_owned()))
        .collect();
    let bytes = files
        .iter()
        .map(|(n, c)| (n.clone(), c.as_bytes().to_vec()))
        .collect();
    PlannedScenario {
        name: name.into(),
        path: format!("shop/{name}.toml"),
        version: scenario_version(source, &bytes),
        source: source.into(),
        files,
    }
}

fn plan() -> Plan {
    Plan {
        revision: 42,
        probe: "p-eu-1".into(),
        region: "eu-west-1".into(),
        scenarios: vec![
            planned("checkout", CHECKOUT_TOML, &[("certs/demo-ca.pem", DEMO_CA)]),
            planned(
                "port-open",
                "name = \"port-open\"\ninterval = \"30s\"\n\n[[steps]]\nname = \"port open\"\nkind = \"tcp\"\naddress = \"127.0.0.1:9480\"\n",
                &[],
            ),
        ],
        run_now: vec![RunRequest {
            id: uuid("0193a6f3-0a2b-7c4d-8e5f-6a7b8c9d0e1f"),
            scenario: "checkout".into(),
            requested_at: at(131_250),
            reason: RunReason::Confirmation,
            inline: None,
        }],
    }
}

#[test]
fn run_result_matches_golden_and_round_trips() {
    let run = checkout_run();
    let json = serde_json::to_string_pretty(&run).expect("serializes");
    check_golden("run_result.json", &json);

    let back: RunResult =
        serde_json::from_str(&read_golden("run_result.json")).expect("golden parses");
    assert_eq!(back, run);
    assert_eq!(
        back.failed_step().map(|s| s.name.as_str()),
        Some("products")
    );
}

#[test]
fn plan_matches_golden_and_round_trips() {
    let plan = plan();
    let json = serde_json::to_string_pretty(&plan).expect("serializes");
    check_golden("plan.json", &json);

    let back: Plan = serde_json::from_str(&read_golden("plan.json")).expect("golden parses");
    assert_eq!(back, plan);
    for scenario in &back.scenarios {
        assert_eq!(scenario.computed_version(), scenario.version);
    }
}

#[test]
fn design_example_parses() {
    let run: RunResult = serde_json::from_str(&read_golden("design_example.json"))
        .expect("the product contract's example parses");
    assert_eq!(run.version, "sha256:3f2a9c…");
    assert_eq!(run.outcome, Outcome::Failure);
    assert_eq!(run.started_at, at(4));
    assert_eq!(run.run_request, None);
    assert_eq!(run.steps.len(), 5);
    let failed = run.failed_step().expect("a failed step");
    assert_eq!(failed.name, "login");
    assert_eq!(failed.assertions[0].actual, "500");
    assert_eq!(failed.phases.and_then(|p| p.connect_ms), None);
    let skipped = run
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Skipped)
        .count();
    assert_eq!(skipped, 3);

    // Written back, it has the same shape plus the fields the example
    // leaves out (`run_request`, `dns`), as null.
    let value = serde_json::to_value(&run).expect("serializes");
    assert!(value["run_request"].is_null());
    assert!(value["steps"][0]["dns"].is_null());
    assert_eq!(value["scheduled_at"], "2026-11-24T10:00:00.000Z");
}
