//! A journey against the demo shop, traced: `probe run --otlp-endpoint`
//! sends one trace per run to a loopback OTLP collector, and the shop's
//! access log shows each request under the probe's client span.

use std::collections::BTreeSet;
use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use serde_json::{Value, json};
use sonde_tests::{OtlpReceiver, ReceivedSpan, Spawn, TestClient, binary_path};

const DEADLINE: Duration = Duration::from_secs(10);
const PASSWORD: &str = "trace-demo-pass";

fn journey(base: &str) -> String {
    format!(
        r#"name = "shop-traced"
interval = "1m"
[defaults]
base_url = "{base}"
[[steps]]
name = "home"
get = "/"
expect = ["status == 200"]
[[steps]]
name = "login"
post = "/api/login"
json = {{ username = "synthetic", password = "{{{{secret.SHOP_PASSWORD}}}}" }}
expect = ["status == 200"]
capture = {{ token = 'jsonpath "$.token"' }}
[[steps]]
name = "products"
get = "/api/products"
headers = {{ Authorization = "Bearer {{{{token}}}}" }}
expect = ["status == 200"]
"#
    )
}

/// The shop's `Request served.` log lines, as JSON fields.
fn served(logs: &str) -> Vec<Value> {
    logs.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "Request served.")
        .map(|l| l["fields"].clone())
        .collect()
}

fn is_error(span: &ReceivedSpan) -> bool {
    span.span
        .status
        .as_ref()
        .is_some_and(|s| s.code == StatusCode::Error as i32)
}

#[tokio::test]
async fn the_shops_requests_sit_under_the_probes_client_spans() {
    let state = tempfile::tempdir().unwrap();
    let any = "127.0.0.1:0";
    let mut shop = Spawn::new(env!("CARGO_BIN_EXE_demo-shop"))
        .name("demo-shop-traced")
        .args(["--http", any, "--https", any, "--dns", any, "--state-dir"])
        .arg(state.path())
        .env("SHOP_PASSWORD", PASSWORD)
        .env_remove("SHOP_HTTP")
        .start()
        .unwrap();
    let base = sonde_tests::shop::printed_http_base(&mut shop, DEADLINE)
        .await
        .unwrap();
    sonde_tests::wait_for_http(&format!("{base}/healthz"), DEADLINE)
        .await
        .unwrap();
    let collector = OtlpReceiver::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shop-traced.toml");
    std::fs::write(&file, journey(&base)).unwrap();
    let run = |region: &'static str| {
        let (file, endpoint) = (file.clone(), collector.endpoint());
        async move {
            let out = tokio::process::Command::new(binary_path("probe").unwrap())
                .arg("run")
                .arg(&file)
                .args(["--format", "json", "--region", region])
                .args(["--otlp-endpoint", &endpoint])
                .env("SONDE_SECRET_SHOP_PASSWORD", PASSWORD)
                .kill_on_drop(true)
                .output()
                .await
                .unwrap();
            let result: Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
            (out.status.code(), result)
        }
    };

    let (code, passed) = run("eu-west-1").await;
    assert_eq!(code, Some(0), "{passed}");
    // products fails in us-east-1 only.
    let fault = TestClient::new()
        .post_json(
            &format!("{base}/_faults"),
            &[],
            &json!({"region": "us-east-1", "path": "/api/products", "status": 503}),
        )
        .await
        .unwrap();
    assert_eq!(fault.status.as_u16(), 201);
    let (code, failed) = run("us-east-1").await;
    assert_eq!(code, Some(1), "{failed}");

    let spans = collector.spans();
    let trace_ids: BTreeSet<String> = spans.iter().map(ReceivedSpan::trace_id).collect();
    let runs: BTreeSet<String> = [&passed, &failed]
        .iter()
        .map(|r| r["trace_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(trace_ids, runs, "one trace per run");

    shop.terminate(DEADLINE).await.unwrap();
    let served = served(&shop.stderr());
    let from_probe: Vec<&Value> = served.iter().filter(|l| l["traceparent"] != "-").collect();
    assert_eq!(from_probe.len(), 6, "three requests per run: {served:?}");
    for line in from_probe {
        let tp = line["traceparent"].as_str().unwrap();
        let parts: Vec<&str> = tp.split('-').collect();
        let client = spans
            .iter()
            .find(|s| s.span_id() == parts[2])
            .unwrap_or_else(|| panic!("no client span for the shop's {tp}"));
        assert_eq!(client.trace_id(), parts[1]);
        assert!(
            client
                .attr("url.full")
                .and_then(|u| u.text().map(str::to_owned))
                .is_some_and(|u| u == format!("{base}{}", line["path"].as_str().unwrap())),
            "{}",
            client.all_text()
        );
    }

    let failed_trace = failed["trace_id"].as_str().unwrap();
    let failing: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.trace_id() == failed_trace)
        .collect();
    let root = failing
        .iter()
        .find(|s| s.parent_id().is_empty())
        .expect("root");
    assert_eq!(root.span.name, "scenario shop-traced");
    assert!(is_error(root));
    let products = failing
        .iter()
        .find(|s| s.span.name == "products")
        .expect("products step");
    assert_eq!(products.parent_id(), root.span_id());
    assert!(is_error(products));
    let login = failing
        .iter()
        .find(|s| s.span.name == "login")
        .expect("login step");
    assert!(!is_error(login));
    for span in &spans {
        assert!(!span.all_text().contains(PASSWORD), "{}", span.all_text());
    }
}
