//! The fleet end to end: the built `scheduler` and `probe agent` binaries
//! as real processes on loopback, with the demo shop as target. Each test
//! starts its own fleet; they run one at a time so that two fleets do not
//! compete for the machine's two cores and blur the timings.

use std::time::Duration;

use serde_json::Value;
use sonde_tests::TestClient;
use sonde_tests::fleet::{Fleet, FleetOptions, eventually, simple_scenario};
use sonde_tests::shop::{self, RunningShop, ShopOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::one_fleet::one_fleet_at_a_time;

const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-1"];
const LONG: Duration = Duration::from_secs(40);

async fn start_shop() -> (RunningShop, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    (
        shop::start(ShopOptions::for_tests(dir.path()))
            .await
            .expect("shop starts"),
        dir,
    )
}

/// A two-step journey on the shop: log in, list products.
fn journey(name: &str, base: &str, interval: &str) -> String {
    format!(
        r#"name = "{name}"
interval = "{interval}"
[defaults]
base_url = "{base}"
[[steps]]
name = "login"
post = "/api/login"
json = {{ username = "u-{{{{region}}}}", password = "{{{{secret.SHOP_PASSWORD}}}}" }}
expect = ["status == 200"]
capture = {{ token = 'jsonpath "$.token"' }}
[[steps]]
name = "products"
get = "/api/products"
headers = {{ Authorization = "Bearer {{{{token}}}}" }}
expect = ["status == 200", 'jsonpath "$.items" count >= 1']
"#
    )
}

async fn agent_sum(fleet: &Fleet, i: usize, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let scrape = fleet.scrape(&fleet.probes[i].metrics_url()).await.ok()?;
    Some(scrape.sum(name, labels).unwrap_or(0.0))
}

async fn scheduler_sum(fleet: &Fleet, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let scrape = fleet.scrape(&fleet.url("/metrics")).await.ok()?;
    Some(scrape.sum(name, labels).unwrap_or(0.0))
}

/// Runs stored by the scheduler for a scenario, read from its metrics.
async fn stored_runs(fleet: &Fleet, scenario: &str) -> Option<f64> {
    scheduler_sum(
        fleet,
        "sonde_scenario_runs_total",
        &[("scenario", scenario)],
    )
    .await
}

/// Stops the scenario's runs everywhere by moving it to a region no probe
/// serves, then waits until every probe's spool is empty and its run
/// counter has settled; returns the runs the probes made.
async fn settle(fleet: &Fleet, file: &str, text: &str, scenario: &str) -> f64 {
    let moved = text.replace("regions = [", "regions = [\"nowhere\"] #");
    fleet
        .write_scenario(file, &moved)
        .expect("scenario rewritten");
    let runs_made = || async {
        let mut total = 0.0;
        for i in 0..fleet.probes.len() {
            if agent_sum(fleet, i, "sonde_agent_spool_results", &[]).await? > 0.0 {
                return None;
            }
            total += agent_sum(
                fleet,
                i,
                "sonde_agent_runs_total",
                &[("scenario", scenario)],
            )
            .await?;
        }
        Some(total)
    };
    eventually(
        "probes to stop running and drain their spools",
        LONG,
        || async {
            let first = runs_made().await?;
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let second = runs_made().await?;
            (first == second && first > 0.0).then_some(first)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn three_regions_report_to_the_api_the_metrics_and_a_real_prometheus() {
    let _one_fleet = one_fleet_at_a_time().await;
    let (shop, _shop_dir) = start_shop().await;
    let files = [
        (
            "health.toml",
            simple_scenario("health", &shop.http_url("/healthz"), "1s", &REGIONS),
        ),
        (
            "shopping.toml",
            journey("shopping", &shop.http_url(""), "2s"),
        ),
    ];
    let fleet = Fleet::start(FleetOptions::one_probe_per_region(&REGIONS), &files)
        .await
        .expect("fleet starts");

    for scenario in ["health", "shopping"] {
        for region in REGIONS {
            eventually(
                &format!("a {scenario} result from {region} in the API"),
                LONG,
                || async {
                    let runs = fleet
                        .get_json(&format!(
                            "/api/v1/scenarios/{scenario}/runs?region={region}&limit=5"
                        ))
                        .await
                        .ok()?;
                    let first = runs["runs"].as_array()?.first()?.clone();
                    (first["outcome"] == "success").then_some(())
                },
            )
            .await;
            eventually(
                &format!("sonde_scenario_success for {scenario} in {region}"),
                LONG,
                || async {
                    let v = scheduler_sum(
                        &fleet,
                        "sonde_scenario_success",
                        &[("scenario", scenario), ("region", region)],
                    )
                    .await?;
                    (v == 1.0).then_some(())
                },
            )
            .await;
        }
    }
    let list = fleet
        .get_json("/api/v1/scenarios")
        .await
        .expect("scenario list");
    let shopping = list["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .find(|s| s["name"] == "shopping")
        .expect("shopping listed");
    assert_eq!(
        shopping["regions"].as_array().map(Vec::len),
        Some(3),
        "{shopping}"
    );

    // A real Prometheus scrapes the scheduler.
    let prom_port = sonde_tests::free_port().expect("port");
    let prom_dir = fleet.dir.path().join("prometheus");
    std::fs::create_dir_all(&prom_dir).expect("dir");
    let config = prom_dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{ scrape_interval: 1s }}\nscrape_configs:\n  - job_name: sonde\n    static_configs: [{{ targets: [\"127.0.0.1:{}\"] }}]\n",
            fleet.scheduler_port
        ),
    )
    .expect("config");
    let Ok(program) = which("prometheus") else {
        panic!("Debian's prometheus is required for this test (apt-get install prometheus)");
    };
    let _prometheus = sonde_tests::Spawn::new(program)
        .args([
            format!("--config.file={}", config.display()),
            format!("--web.listen-address=127.0.0.1:{prom_port}"),
        ])
        .arg(format!(
            "--storage.tsdb.path={}",
            prom_dir.join("data").display()
        ))
        .log_dir(fleet.logs())
        .start()
        .expect("prometheus starts");
    let client = TestClient::new();
    let query = |q: &'static str| {
        let client = client.clone();
        async move {
            let url = format!("http://127.0.0.1:{prom_port}/api/v1/query?query={q}");
            let body: Value = client.get(&url).await.ok()?.json().ok()?;
            body["data"]["result"].as_array().cloned()
        }
    };
    eventually(
        "Prometheus to scrape the scheduler with up == 1",
        LONG,
        || async {
            let up = query("up").await?;
            (up.first()?["value"][1] == "1").then_some(())
        },
    )
    .await;
    eventually(
        "a sonde_scenario_success series per scenario and region in Prometheus",
        LONG,
        || async { (query("sonde_scenario_success").await?.len() == 6).then_some(()) },
    )
    .await;
}

fn which(name: &str) -> std::io::Result<std::path::PathBuf> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
        .ok_or_else(|| std::io::Error::other(format!("{name} not on PATH")))
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkilling_the_scheduler_repeatedly_loses_and_duplicates_nothing() {
    let _one_fleet = one_fleet_at_a_time().await;
    let (shop, _shop_dir) = start_shop().await;
    let text = simple_scenario(
        "beat",
        &shop.http_url("/healthz"),
        "1s",
        &["us-east-1", "eu-west-1"],
    );
    let mut fleet = Fleet::start(
        FleetOptions::one_probe_per_region(&["us-east-1", "eu-west-1"]),
        &[("beat.toml", text.clone())],
    )
    .await
    .expect("fleet starts");
    for _ in 0..4 {
        eventually("results to be delivered", LONG, || async {
            (stored_runs(&fleet, "beat").await? > 0.0).then_some(())
        })
        .await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        fleet.kill_scheduler().await;
        tokio::time::sleep(Duration::from_millis(1200)).await;
        fleet.start_scheduler().await.expect("scheduler restarts");
    }
    let made = settle(&fleet, "beat.toml", &text, "beat").await;
    // The metrics are rebuilt from the store at start-up: restart once more
    // so that the count read below is what the store holds.
    fleet.kill_scheduler().await;
    fleet.start_scheduler().await.expect("scheduler restarts");
    let stored = stored_runs(&fleet, "beat").await.expect("scrape");
    assert!(made >= 8.0, "the probes made {made} runs");
    assert_eq!(
        stored, made,
        "stored results must equal runs made: none lost, none duplicated"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_is_spooled_and_drains_when_the_scheduler_returns() {
    let _one_fleet = one_fleet_at_a_time().await;
    let (shop, _shop_dir) = start_shop().await;
    let text = simple_scenario("outage", &shop.http_url("/healthz"), "1s", &["eu-west-1"]);
    let mut fleet = Fleet::start(
        FleetOptions::one_probe_per_region(&["eu-west-1"]),
        &[("outage.toml", text.clone())],
    )
    .await
    .expect("fleet starts");
    eventually("a first delivery", LONG, || async {
        (stored_runs(&fleet, "outage").await? > 0.0).then_some(())
    })
    .await;
    fleet.stop_scheduler().await.expect("scheduler stops");
    eventually(
        "the probe to keep running and spool a backlog",
        LONG,
        || async {
            (agent_sum(&fleet, 0, "sonde_agent_spool_results", &[]).await? >= 6.0).then_some(())
        },
    )
    .await;
    fleet.start_scheduler().await.expect("scheduler returns");
    let made = settle(&fleet, "outage.toml", &text, "outage").await;
    fleet.stop_scheduler().await.expect("scheduler stops");
    fleet.start_scheduler().await.expect("scheduler restarts");
    assert_eq!(
        stored_runs(&fleet, "outage").await,
        Some(made),
        "the backlog drained with nothing lost"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_killed_with_a_backlog_and_a_torn_record_delivers_the_rest() {
    let _one_fleet = one_fleet_at_a_time().await;
    let (shop, _shop_dir) = start_shop().await;
    let text = simple_scenario("torn", &shop.http_url("/healthz"), "1s", &["eu-west-1"]);
    let mut fleet = Fleet::start(
        FleetOptions::one_probe_per_region(&["eu-west-1"]),
        &[("torn.toml", text)],
    )
    .await
    .expect("fleet starts");
    fleet.stop_scheduler().await.expect("scheduler stops");
    eventually("a backlog", LONG, || async {
        (agent_sum(&fleet, 0, "sonde_agent_spool_results", &[]).await? >= 4.0).then_some(())
    })
    .await;
    fleet.kill_probe(0).await;
    let spool = fleet.probes[0].spool.join("results");
    let backlog: Vec<String> = std::fs::read_dir(&spool)
        .expect("spool readable")
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".json")
                .map(str::to_string)
        })
        .collect();
    assert!(backlog.len() >= 4, "backlog on disk: {backlog:?}");
    // A record torn by the crash: the newest id, half written.
    let torn = uuid::Uuid::now_v7();
    std::fs::write(spool.join(format!("{torn}.json")), "{\"id\": \"").expect("torn record written");

    fleet.start_scheduler().await.expect("scheduler returns");
    fleet.start_probe(0).await.expect("probe restarts");
    let runs = eventually("the backlog to be stored", LONG, || async {
        let body = fleet
            .get_json("/api/v1/scenarios/torn/runs?limit=500")
            .await
            .ok()?;
        let ids: Vec<String> = body["runs"]
            .as_array()?
            .iter()
            .filter_map(|r| r["id"].as_str().map(str::to_string))
            .collect();
        backlog.iter().all(|id| ids.contains(id)).then_some(ids)
    })
    .await;
    assert!(!runs.contains(&torn.to_string()));
    eventually("the torn record counted as corrupt", LONG, || async {
        (agent_sum(
            &fleet,
            0,
            "sonde_agent_dropped_total",
            &[("reason", "corrupt")],
        )
        .await?
            == 1.0)
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_probe_hands_its_scenario_over_and_takes_it_back() {
    let _one_fleet = one_fleet_at_a_time().await;
    let (shop, _shop_dir) = start_shop().await;
    let text = simple_scenario("handover", &shop.http_url("/healthz"), "1s", &["eu-west-1"]);
    let options = FleetOptions {
        probes: vec![
            ("eu-west-1".into(), "probe-a".into()),
            ("eu-west-1".into(), "probe-b".into()),
        ],
        ..FleetOptions::one_probe_per_region(&[])
    };
    let mut fleet = Fleet::start(options, &[("handover.toml", text)])
        .await
        .expect("fleet starts");
    let owner = eventually(
        "the scenario assigned to one probe that runs it",
        LONG,
        || async {
            let probes = fleet.get_json("/api/v1/probes").await.ok()?;
            let owner_name = probes["probes"].as_array()?.iter().find(|p| {
                p["assigned"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|s| s == "handover"))
            })?["name"]
                .as_str()?
                .to_string();
            let i = fleet.probes.iter().position(|p| p.name == owner_name)?;
            (agent_sum(
                &fleet,
                i,
                "sonde_agent_runs_total",
                &[("scenario", "handover")],
            )
            .await?
                > 0.0)
                .then_some(i)
        },
    )
    .await;
    let other = 1 - owner;
    fleet.kill_probe(owner).await;
    let started = tokio::time::Instant::now();
    eventually("the other probe to take over", LONG, || async {
        (agent_sum(
            &fleet,
            other,
            "sonde_agent_runs_total",
            &[("scenario", "handover")],
        )
        .await?
            >= 2.0)
            .then_some(())
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "takeover took {:?} with a 3s silence",
        started.elapsed()
    );

    fleet.start_probe(owner).await.expect("owner returns");
    eventually("the owner to run it again", LONG, || async {
        (agent_sum(
            &fleet,
            owner,
            "sonde_agent_runs_total",
            &[("scenario", "handover")],
        )
        .await?
            >= 2.0)
            .then_some(())
    })
    .await;
    // Once the owner runs again, the stand-in stops within about one
    // interval plus a plan poll.
    let at_return = agent_sum(
        &fleet,
        other,
        "sonde_agent_runs_total",
        &[("scenario", "handover")],
    )
    .await
    .expect("scrape");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let later = agent_sum(
        &fleet,
        other,
        "sonde_agent_runs_total",
        &[("scenario", "handover")],
    )
    .await
    .expect("scrape");
    assert!(
        later - at_return <= 2.0,
        "the stand-in kept running: {at_return} → {later}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_breaks_fixes_and_deletes_show_in_the_api_and_metrics() {
    let _one_fleet = one_fleet_at_a_time().await;
    let (shop, _shop_dir) = start_shop().await;
    let text = simple_scenario("reload", &shop.http_url("/healthz"), "1s", &["eu-west-1"]);
    let fleet = Fleet::start(
        FleetOptions::one_probe_per_region(&["eu-west-1"]),
        &[("reload.toml", text.clone())],
    )
    .await
    .expect("fleet");
    let version = || async {
        let s = fleet.get_json("/api/v1/scenarios/reload").await.ok()?;
        s["summary"]["version"]
            .as_str()
            .or(s["version"].as_str())
            .map(str::to_string)
    };
    let v1 = eventually("the scenario in the API", LONG, version).await;

    fleet
        .write_scenario(
            "reload.toml",
            &text.replace("interval = \"1s\"", "interval = \"2s\""),
        )
        .expect("edit");
    eventually("the edited version", LONG, || async {
        version().await.filter(|v| *v != v1)
    })
    .await;

    fleet
        .write_scenario(
            "reload.toml",
            "name = \"reload\"\ninterval = \"2s\"\n[[steps]]\nname = \"x\"\nget = \"/\"\n",
        )
        .expect("break");
    eventually(
        "the broken file reported in the catalog and the metric",
        LONG,
        || async {
            let catalog = fleet.get_json("/api/v1/catalog").await.ok()?;
            let invalid = scheduler_sum(&fleet, "sonde_catalog_invalid_files", &[]).await?;
            let text = catalog.to_string();
            (catalog["invalid_files"] == 1
                && invalid == 1.0
                && text.contains("relative URL without `base_url`"))
            .then_some(())
        },
    )
    .await;
    // The last good version keeps running.
    let before = agent_sum(
        &fleet,
        0,
        "sonde_agent_runs_total",
        &[("scenario", "reload")],
    )
    .await
    .expect("scrape");
    eventually(
        "runs to continue on the last good version",
        LONG,
        || async {
            (agent_sum(
                &fleet,
                0,
                "sonde_agent_runs_total",
                &[("scenario", "reload")],
            )
            .await?
                > before + 1.0)
                .then_some(())
        },
    )
    .await;

    fleet.write_scenario("reload.toml", &text).expect("fix");
    eventually("the fix clearing the metric", LONG, || async {
        (scheduler_sum(&fleet, "sonde_catalog_invalid_files", &[]).await? == 0.0).then_some(())
    })
    .await;

    std::fs::remove_file(fleet.scenarios.join("reload.toml")).expect("delete");
    eventually(
        "the deleted scenario gone from the API and the metrics",
        LONG,
        || async {
            let list = fleet.get_json("/api/v1/scenarios").await.ok()?;
            let gone = list["scenarios"]
                .as_array()?
                .iter()
                .all(|s| s["name"] != "reload");
            let scrape = fleet.scrape(&fleet.url("/metrics")).await.ok()?;
            (gone && !scrape.has("sonde_scenario_success", &[("scenario", "reload")])).then_some(())
        },
    )
    .await;
}

/// A fleet without probe processes, serving one scenario file, and a
/// token for probe `p-eu` in eu-west-1 to speak the protocol by hand.
async fn fleet_with_a_token(file: &str, text: String) -> (Fleet, String) {
    let fleet = Fleet::start(FleetOptions::one_probe_per_region(&[]), &[(file, text)])
        .await
        .expect("fleet");
    let token = fleet
        .scheduler_command(&["token", "create", "--name", "p-eu", "--region", "eu-west-1"])
        .await
        .expect("token");
    (fleet, token.trim().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_wrong_and_cross_region_tokens_are_refused_and_store_nothing() {
    let _one_fleet = one_fleet_at_a_time().await;
    let text = simple_scenario("guarded", "http://127.0.0.1:9/", "1s", &["eu-west-1"]);
    let (fleet, token) = fleet_with_a_token("guarded.toml", text).await;
    let token = token.as_str();
    let client = TestClient::new();
    let plan = fleet.url("/api/v1/plan");
    let results = fleet.url("/api/v1/results");
    let bearer = format!("Bearer {token}");
    let cases: [(&[(&str, &str)], u16); 4] = [
        (
            &[("x-sonde-probe", "p-eu"), ("x-sonde-region", "eu-west-1")],
            401,
        ),
        (
            &[
                ("authorization", "Bearer sonde_not-a-token"),
                ("x-sonde-probe", "p-eu"),
                ("x-sonde-region", "eu-west-1"),
            ],
            401,
        ),
        (
            &[
                ("authorization", &bearer),
                ("x-sonde-probe", "p-eu"),
                ("x-sonde-region", "us-east-1"),
            ],
            403,
        ),
        (
            &[
                ("authorization", &bearer),
                ("x-sonde-probe", "someone-else"),
                ("x-sonde-region", "eu-west-1"),
            ],
            403,
        ),
    ];
    let batch = serde_json::json!({"results": [result_json("guarded", "p-eu", "us-east-1")]});
    for (headers, status) in cases {
        let got = client
            .request(hyper::Method::GET, &plan, headers, None)
            .await
            .expect("plan answered");
        assert_eq!(got.status, status, "plan with {headers:?}");
        let mut with_type = headers.to_vec();
        with_type.push(("content-type", "application/json"));
        let got = client
            .request(
                hyper::Method::POST,
                &results,
                &with_type,
                Some(batch.to_string().into()),
            )
            .await
            .expect("answered");
        assert_eq!(got.status, status, "results with {headers:?}");
        assert!(
            got.json().is_ok_and(|b| b["error"].is_string()),
            "a JSON error body"
        );
    }
    assert_eq!(
        stored_runs(&fleet, "guarded").await,
        Some(0.0),
        "nothing stored"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_ingest_input_gets_a_clear_4xx_and_affects_nothing_else() {
    let _one_fleet = one_fleet_at_a_time().await;
    let text = simple_scenario("known", "http://127.0.0.1:9/", "1m", &["eu-west-1"]);
    let (fleet, token) = fleet_with_a_token("known.toml", text).await;
    let bearer = format!("Bearer {token}");
    let headers = [
        ("authorization", bearer.as_str()),
        ("x-sonde-probe", "p-eu"),
        ("x-sonde-region", "eu-west-1"),
        ("content-type", "application/json"),
    ];
    let client = TestClient::new();
    let post = |body: String| {
        let client = client.clone();
        let url = fleet.url("/api/v1/results");
        async move {
            client
                .request(hyper::Method::POST, &url, &headers, Some(body.into()))
                .await
                .expect("answered")
        }
    };

    let malformed = post("{\"results\": [ {\"id\": 12,".into()).await;
    assert_eq!(malformed.status, 400);
    let message = malformed.json().expect("json error")["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("line") && message.contains("column"),
        "says where: {message}"
    );

    // An oversized batch is refused on its declared length, before any of
    // it is read. Only the head is sent: the scheduler answers and closes
    // while a client would still be writing, so a whole body races the
    // answer with a broken pipe.
    let head = format!(
        "POST /api/v1/results HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: {bearer}\r\n\
         x-sonde-probe: p-eu\r\nx-sonde-region: eu-west-1\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        5 * 1024 * 1024
    );
    let addr = fleet.url("").trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    conn.write_all(head.as_bytes()).await.expect("head sent");
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut answer))
        .await
        .expect("answered before the body")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("max_batch_bytes"), "{answer}");

    let good = result_json("known", "p-eu", "eu-west-1");
    let unknown = result_json("no-such-scenario", "p-eu", "eu-west-1");
    let only_unknown = post(serde_json::json!({"results": [unknown.clone()]}).to_string()).await;
    assert_eq!(only_unknown.status, 422);
    assert!(
        only_unknown.text().contains("unknown scenario"),
        "{}",
        only_unknown.text()
    );

    let mixed = post(serde_json::json!({"results": [good.clone(), unknown]}).to_string()).await;
    assert_eq!(mixed.status, 200, "{}", mixed.text());
    let ack = mixed.json().expect("ack");
    assert_eq!(ack["accepted"].as_array().map(Vec::len), Some(1), "{ack}");
    assert_eq!(ack["rejected"].as_array().map(Vec::len), Some(1), "{ack}");
    let again = post(serde_json::json!({"results": [good]}).to_string())
        .await
        .json()
        .expect("ack");
    assert_eq!(
        again["duplicates"].as_array().map(Vec::len),
        Some(1),
        "{again}"
    );
    assert_eq!(stored_runs(&fleet, "known").await, Some(1.0));

    // From a probe clock an hour ahead: rejected for its clock, not stored.
    let mut ahead = result_json("known", "p-eu", "eu-west-1");
    let hour_ahead = chrono::Utc::now() + chrono::Duration::hours(1);
    ahead["started_at"] = scenarios::wire::time::format(&hour_ahead).into();
    let skewed = post(serde_json::json!({"results": [ahead]}).to_string()).await;
    assert_eq!(skewed.status, 422, "{}", skewed.text());
    let ack = skewed.json().expect("ack");
    assert_eq!(ack["rejected"][0]["reason"], "clock_skew", "{ack}");
    let error = ack["rejected"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("ahead of the scheduler's clock (max_clock_skew 1m)"),
        "{error}"
    );
    assert_eq!(stored_runs(&fleet, "known").await, Some(1.0));
}

/// A successful one-step result as a probe would send it.
fn result_json(scenario: &str, probe: &str, region: &str) -> Value {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    serde_json::json!({
        "id": uuid::Uuid::now_v7(), "scenario": scenario, "version": "sha256:00", "probe": probe, "region": region,
        "scheduled_at": now, "started_at": now, "duration_ms": 1.5, "outcome": "success",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "run_request": null,
        "steps": [{"name": "get", "kind": "http", "status": "passed", "duration_ms": 1.4,
                   "phases": {"dns_ms": null, "connect_ms": 0.2, "tls_ms": null, "ttfb_ms": 1.0, "transfer_ms": 0.2},
                   "http": {"method": "GET", "url": "http://127.0.0.1:9/", "status": 200, "version": "HTTP/1.1"},
                   "tls": null, "dns": null, "assertions": [], "captures": [], "error": null}]
    })
}
