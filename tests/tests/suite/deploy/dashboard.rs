//! The Grafana dashboard queries only metrics a running fleet's scheduler
//! exposes, and every query parses in Prometheus with the shipped scrape
//! config.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use sonde_tests::fleet::{Fleet, FleetOptions};
use sonde_tests::metrics::Scrape;
use sonde_tests::shop::{self, ShopOptions};
use sonde_tests::{ChildGuard, Spawn, TestClient, free_port};

use super::{deploy, read, skip, tool};
use crate::one_fleet::one_fleet_at_a_time;

const LONG: Duration = Duration::from_secs(40);
/// The scheduler's second group of metrics, which comes with the alert
/// engine: the dashboard may use them before the scheduler exports them.
/// Every other name must be in a real scrape.
const ALERT_ENGINE_METRICS: [&str; 7] = [
    "sonde_scenario_up",
    "sonde_scenario_state",
    "sonde_alerts_firing",
    "sonde_slo_error_budget_remaining_ratio",
    "sonde_slo_burn_rate",
    "sonde_notifications_total",
    "sonde_notification_queue",
];

/// Series only replicas sharing a PostgreSQL database export (the
/// scheduler suite's `replicas` test scrapes them); this fleet has one
/// scheduler on SQLite.
const REPLICA_METRICS: [&str; 1] = ["sonde_scheduler_catalog_matches_leader"];

/// Every panel (rows' nested panels too).
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().unwrap() {
        out.push(p);
        out.extend(p["panels"].as_array().into_iter().flatten());
    }
    out
}

/// Every PromQL expression: panel targets and the template variables'
/// queries (`label_values(SELECTOR, label)` reduced to its selector).
fn expressions(dashboard: &Value) -> Vec<String> {
    let mut exprs: Vec<String> = panels(dashboard)
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter_map(|t| t["expr"].as_str().map(str::to_owned))
        .collect();
    for var in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = var["query"]["query"].as_str() {
            let inner = q.trim_start_matches("label_values(").trim_end_matches(')');
            exprs.push(inner.rsplit_once(',').map_or(inner, |(s, _)| s).to_owned());
        }
    }
    exprs
}

/// Metric names: `sonde_[a-z_]+` (sample names, e.g. `…_bucket`).
fn metric_names(exprs: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for expr in exprs {
        for (i, _) in expr.match_indices("sonde_") {
            let name: String = expr[i..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            names.push(name);
        }
    }
    names.sort();
    names.dedup();
    names
}

fn family(sample: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| sample.strip_suffix(s))
        .unwrap_or(sample)
}

fn load_dashboard() -> Value {
    let dashboard: Value =
        serde_json::from_str(&read(&deploy("grafana/sonde.json"))).expect("the dashboard is JSON");
    assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 36);
    let vars = dashboard["templating"]["list"].as_array().unwrap();
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no ${name}"))
    };
    assert_eq!(var("DS_PROMETHEUS")["type"], "datasource");
    for label in ["scenario", "region"] {
        let q = var(label)["query"]["query"].as_str().unwrap();
        assert!(
            q.starts_with("label_values(sonde_scenario_success")
                && q.ends_with(&format!(", {label})")),
            "{q}"
        );
    }
    let mut ids = Vec::new();
    for p in panels(&dashboard) {
        ids.push(p["id"].as_u64().unwrap());
        if p["type"] != "row" {
            assert_eq!(
                p["datasource"]["uid"], "${DS_PROMETHEUS}",
                "panel {}",
                p["title"]
            );
        }
    }
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "panel ids are unique");
    dashboard
}

/// A fleet whose scrape has every first-group family: a scenario with a
/// plain and an HTTPS step (phases, TLS expiry) runs every second.
async fn scrape_until_complete(fleet: &Fleet, wanted: &[String]) -> Vec<String> {
    let end = tokio::time::Instant::now() + LONG;
    loop {
        let scrape: Scrape = fleet
            .scrape(&fleet.url("/metrics"))
            .await
            .unwrap_or_default();
        let missing: Vec<String> = wanted
            .iter()
            .filter(|n| !scrape.has(n, &[]))
            .cloned()
            .collect();
        if missing.is_empty() || tokio::time::Instant::now() > end {
            return missing;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_queries_use_only_metrics_the_scheduler_exposes_and_parse_in_prometheus() {
    let _one_fleet = one_fleet_at_a_time().await;
    let dashboard = load_dashboard();
    let exprs = expressions(&dashboard);
    let names = metric_names(&exprs);
    for family in [
        "sonde_scenario_success",
        "sonde_probe_up",
        "sonde_step_phase_seconds",
        "sonde_slo_burn_rate",
    ] {
        assert!(
            names.iter().any(|n| n == family),
            "the dashboard shows {family}"
        );
    }
    let wanted: Vec<String> = names
        .iter()
        .filter(|n| !ALERT_ENGINE_METRICS.contains(&family(n)))
        .filter(|n| !REPLICA_METRICS.contains(&family(n)))
        .cloned()
        .collect();

    let shop_dir = tempfile::tempdir().unwrap();
    let shop = shop::start(ShopOptions::for_tests(shop_dir.path()))
        .await
        .unwrap();
    let scenario = format!(
        "name = \"deploy-check\"\ninterval = \"1s\"\nregions = [\"us-east-1\"]\n\n\
         [[steps]]\nname = \"home\"\nget = \"{}\"\nexpect = [\"status == 200\"]\n\n\
         [[steps]]\nname = \"secure\"\nget = \"{}\"\nexpect = [\"status == 200\", \"cert_expiry > 1d\"]\n",
        shop.http_url("/"),
        shop.https_url("/healthz")
    );
    let mut options = FleetOptions::one_probe_per_region(&["us-east-1"]);
    options.probe_args = vec!["--ca-file".into(), shop.ca_path().display().to_string()];
    let fleet = Fleet::start(options, &[("deploy-check.toml", scenario)])
        .await
        .unwrap();
    let missing = scrape_until_complete(&fleet, &wanted).await;
    assert!(
        missing.is_empty(),
        "the dashboard uses metrics the scheduler does not expose: {missing:?} (logs: {})",
        fleet.logs().display()
    );

    let Some(prometheus) = tool("prometheus", "PROMETHEUS") else {
        return skip("PromQL check", "prometheus", "apt-get install prometheus");
    };
    let (_prometheus, port) = start_prometheus(&prometheus, &fleet).await;
    let failures = bad_queries(port, &exprs).await;
    assert!(
        failures.is_empty(),
        "queries Prometheus rejects:\n{}",
        failures.join("\n")
    );
}

/// Prometheus with deploy/prometheus/prometheus.yml, pointed at the fleet's
/// scheduler (its own rules file is the alerting work's; an empty one
/// stands in). Returns it, and its port, once it scraped the scheduler.
async fn start_prometheus(program: &Path, fleet: &Fleet) -> (ChildGuard, u16) {
    let dir = fleet.dir.path().join("prometheus");
    std::fs::create_dir_all(&dir).unwrap();
    let config = read(&deploy("prometheus/prometheus.yml"))
        .replace(
            "127.0.0.1:9470",
            &format!("127.0.0.1:{}", fleet.scheduler_port),
        )
        .replace("scrape_interval: 15s", "scrape_interval: 1s");
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    std::fs::write(dir.join("rules.yml"), "groups: []\n").unwrap();
    let port = free_port().unwrap();
    let guard = Spawn::new(program)
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .log_dir(fleet.logs())
        .start()
        .unwrap();
    let up = "up%7Bjob%3D%22sonde-scheduler%22%7D";
    let end = tokio::time::Instant::now() + LONG;
    loop {
        let url = format!("http://127.0.0.1:{port}/api/v1/query?query={up}");
        let body: Option<Value> = match TestClient::new().get(&url).await {
            Ok(r) => r.json().ok(),
            Err(_) => None,
        };
        if body
            .as_ref()
            .is_some_and(|b| b["data"]["result"][0]["value"][1] == "1")
        {
            return (guard, port);
        }
        assert!(
            tokio::time::Instant::now() < end,
            "Prometheus never scraped the scheduler up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The expressions (Grafana variables filled in) Prometheus answers with
/// an error.
async fn bad_queries(port: u16, exprs: &[String]) -> Vec<String> {
    let client = TestClient::new();
    let mut failures = Vec::new();
    for expr in exprs {
        let query = expr
            .replace("$__rate_interval", "1m")
            .replace("$scenario", ".*")
            .replace("$region", ".*");
        let url = format!(
            "http://127.0.0.1:{port}/api/v1/query?query={}",
            percent_encode(&query)
        );
        let body: Value = client.get(&url).await.unwrap().json().unwrap();
        if body["status"] != "success" {
            failures.push(format!("{query}: {}", body["error"]));
        }
    }
    failures
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Exemplars on the dashboard lead to traces: every panel over a duration
/// histogram asks for exemplars, and the provisioned Prometheus data
/// source sends their `trace_id` to the provisioned tracing data source.
#[test]
fn duration_panels_show_exemplars_that_link_to_the_tracing_data_source() {
    let dashboard = load_dashboard();
    let mut duration_targets = 0;
    for p in panels(&dashboard) {
        for t in p["targets"].as_array().into_iter().flatten() {
            if t["expr"]
                .as_str()
                .is_some_and(|e| e.contains("_duration_seconds_bucket"))
            {
                duration_targets += 1;
                assert_eq!(t["exemplar"], true, "panel {}: {}", p["title"], t["expr"]);
            }
        }
    }
    assert!(duration_targets >= 3, "run and step duration panels");

    let docs = super::yaml_docs(&read(&deploy(
        "grafana/provisioning/datasources/sonde.yaml",
    )));
    let sources = docs[0]["datasources"].as_array().unwrap();
    let of_type = |kind: &str| {
        sources
            .iter()
            .find(|s| s["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} data source in {sources:?}"))
    };
    let prometheus = of_type("prometheus");
    assert_eq!(
        prometheus["isDefault"], true,
        "the dashboard's DS_PROMETHEUS"
    );
    let destinations = prometheus["jsonData"]["exemplarTraceIdDestinations"]
        .as_array()
        .unwrap();
    assert_eq!(destinations.len(), 1, "{destinations:?}");
    assert_eq!(destinations[0]["name"], "trace_id");
    let traces = of_type("tempo");
    assert_eq!(destinations[0]["datasourceUid"], traces["uid"]);
}
