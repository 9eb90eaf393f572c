//! Alerting end to end: the built scheduler and probe agents on loopback,
//! the demo shop failing per region, a real Alertmanager (Debian's
//! `prometheus-alertmanager`) and a webhook receiver that records every
//! notification.

use std::time::Duration;

use serde_json::Value;
use sonde_tests::fleet::{Fleet, FleetOptions, eventually};
use sonde_tests::shop::{self, RunningShop, ShopOptions};
use sonde_tests::{RunningTarget, Spawn, TestClient, TestTarget};

use crate::one_fleet::one_fleet_at_a_time;

pub(crate) const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-1"];
pub(crate) const LONG: Duration = Duration::from_secs(40);
/// The scheduler's `resend_interval` towards Alertmanager.
const AM_RESEND: Duration = Duration::from_secs(2);
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub(crate) struct World {
    pub shop: RunningShop,
    _shop_dir: tempfile::TempDir,
    pub hook: RunningTarget,
    pub am_port: Option<u16>,
    _am: Option<sonde_tests::ChildGuard>,
    pub fleet: Fleet,
}

/// A fleet of one probe per region watching the shop's home page every
/// second, notifying a webhook receiver and, when installed, a real
/// Alertmanager.
async fn world(after: u32, probes: FleetOptions) -> World {
    world_with(after, 2, probes).await
}

/// [`world`] with the scenario's `global_regions`.
async fn world_with(after: u32, global_regions: u32, probes: FleetOptions) -> World {
    world_extra(
        &format!("after = {after}\nglobal_regions = {global_regions}\n"),
        "",
        probes,
    )
    .await
}

/// [`world_with`] with more `[alert]` lines for the scenario.
async fn world_alerting(
    after: u32,
    global_regions: u32,
    alert: &str,
    probes: FleetOptions,
) -> World {
    world_extra(
        &format!("after = {after}\nglobal_regions = {global_regions}\n{alert}\n"),
        "",
        probes,
    )
    .await
}

/// [`world`] with `alert` lines in the scenario's `[alert]` (besides
/// `recover_after = 1`, `confirm = true` and the runbook) and `config`
/// lines in scheduler.toml.
pub(crate) async fn world_extra(alert: &str, config: &str, probes: FleetOptions) -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = shop::start(ShopOptions::for_tests(dir.path()))
        .await
        .expect("shop");
    let hook = TestTarget::new()
        .route("/hook", 200, "ok")
        .start()
        .await
        .expect("receiver");
    let (am_port, am) = match alertmanager(dir.path()).await {
        Some((port, guard)) => (Some(port), Some(guard)),
        None => (None, None),
    };
    let mut notify = format!(
        "[[notify]]\nkind = \"webhook\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n",
        hook.url("/hook")
    );
    if let Some(port) = am_port {
        let resend = AM_RESEND.as_secs();
        notify.push_str(&format!("\n[[notify]]\nkind = \"alertmanager\"\nurl = \"http://127.0.0.1:{port}\"\nresend_interval = \"{resend}s\"\n"));
    }
    notify.push_str(config);
    let scenario = format!(
        "name = \"home\"\ninterval = \"1s\"\nregions = [\"us-east-1\", \"eu-west-1\", \"ap-southeast-1\"]\n\
         [[steps]]\nname = \"home\"\nget = \"{}\"\nexpect = [\"status == 200\"]\n\
         [alert]\n{alert}recover_after = 1\nconfirm = true\nrunbook = \"https://runbooks.example.com/home\"\n",
        shop.http_url("/")
    );
    let options = FleetOptions {
        extra_config: notify,
        ..probes
    };
    let fleet = Fleet::start(options, &[("home.toml", scenario)])
        .await
        .expect("fleet");
    World {
        shop,
        _shop_dir: dir,
        hook,
        am_port,
        _am: am,
        fleet,
    }
}

pub(crate) async fn alertmanager(dir: &std::path::Path) -> Option<(u16, sonde_tests::ChildGuard)> {
    let program = std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|p| p.join("prometheus-alertmanager"))
        .find(|p| p.is_file())?;
    let port = sonde_tests::free_port().ok()?;
    let config = dir.join("alertmanager.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: none\n  group_wait: 1s\nreceivers:\n  - name: none\n",
    )
    .ok()?;
    let guard = Spawn::new(program)
        .args([
            format!("--config.file={}", config.display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--cluster.listen-address=".to_string(),
            format!("--storage.path={}", dir.join("am").display()),
        ])
        .log_dir(dir)
        .start()
        .ok()?;
    sonde_tests::wait_for_http(
        &format!("http://127.0.0.1:{port}/-/ready"),
        Duration::from_secs(20),
    )
    .await
    .ok()?;
    Some((port, guard))
}

/// The webhook notifications received so far: (status, alert).
pub(crate) fn pages(world: &World) -> Vec<(String, Value)> {
    world
        .hook
        .requests_to("/hook")
        .iter()
        .filter_map(|r| {
            let body: Value = serde_json::from_slice(&r.body).ok()?;
            Some((body["status"].as_str()?.to_string(), body["alert"].clone()))
        })
        .collect()
}

pub(crate) async fn fault(world: &World, region: &str, flap: bool) {
    let body = serde_json::json!({"region": region, "path": "/", "status": 503, "flap": flap});
    let resp = TestClient::new()
        .post_json(&world.shop.http_url("/_faults"), &[], &body)
        .await
        .expect("fault set");
    assert!(resp.status.as_u16() < 300, "fault: {}", resp.text());
}

pub(crate) async fn clear_faults(world: &World) {
    TestClient::new()
        .request(
            hyper::Method::DELETE,
            &world.shop.http_url("/_faults"),
            &[],
            None,
        )
        .await
        .expect("faults cleared");
}

async fn clear_fault(world: &World, region: &str) {
    TestClient::new()
        .request(
            hyper::Method::DELETE,
            &world.shop.http_url(&format!("/_faults?region={region}")),
            &[],
            None,
        )
        .await
        .expect("fault cleared");
}

async fn every_region_up(world: &World) {
    eventually("every region up", LONG, || async {
        let s = world.fleet.get_json("/api/v1/scenarios/home").await.ok()?;
        let regions = s["regions"].as_array()?.clone();
        (regions.len() == 3 && regions.iter().all(|r| r["state"] == "up")).then_some(())
    })
    .await;
}

/// Waits until `home` shows `state` in `region` in the API.
pub(crate) async fn region_shows(world: &World, region: &str, state: &str) {
    eventually(&format!("home {state} in {region}"), LONG, || async {
        let s = world.fleet.get_json("/api/v1/scenarios/home").await.ok()?;
        let shown = s["regions"]
            .as_array()?
            .iter()
            .find(|r| r["region"] == region)?
            .clone();
        (shown["state"] == state).then_some(())
    })
    .await;
}

pub(crate) async fn am_alerts(world: &World) -> Option<Vec<Value>> {
    am_alerts_at(world.am_port?).await
}

pub(crate) async fn am_alerts_at(port: u16) -> Option<Vec<Value>> {
    let resp = TestClient::new()
        .get(&format!("http://127.0.0.1:{port}/api/v2/alerts"))
        .await
        .ok()?;
    resp.json().ok()?.as_array().cloned()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_failing_region_pages_once_confirmed_from_another_region_and_resolves() {
    let _one_fleet = one_fleet_at_a_time().await;
    let world = world(2, FleetOptions::one_probe_per_region(&REGIONS)).await;
    every_region_up(&world).await;

    fault(&world, "eu-west-1", false).await;
    let alert = eventually("one regional page for eu-west-1", LONG, || async {
        let firing: Vec<_> = pages(&world)
            .into_iter()
            .filter(|(s, _)| s == "firing")
            .collect();
        match firing.as_slice() {
            [(_, a)] => Some(a.clone()),
            _ => None,
        }
    })
    .await;
    assert_eq!(alert["scope"], "region", "{alert}");
    assert_eq!(alert["regions"], serde_json::json!(["eu-west-1"]));
    assert_eq!(alert["step"], "home");
    assert_eq!(
        (alert["expected"].as_str(), alert["actual"].as_str()),
        (Some("200"), Some("503")),
        "{alert}"
    );
    assert_eq!(alert["runbook"], "https://runbooks.example.com/home");
    assert!(alert["trace_id"].as_str().is_some_and(|t| t.len() == 32));
    // The page links the failing run, whose step shows what the shop said.
    let page_url = alert["page_url"].as_str().expect("page_url");
    assert_eq!(page_url, world.fleet.url("/scenarios/home"), "{alert}");
    let page = TestClient::new()
        .get(page_url)
        .await
        .expect("the page")
        .text();
    assert!(
        page.contains("<h4>Response</h4>") && page.contains("503 Service Unavailable"),
        "the failing run's evidence on the linked page"
    );
    // Sent once the other regions answered: the page says it is regional.
    assert_eq!(alert["confirmation"]["outcome"], "success", "{alert}");
    assert_ne!(alert["confirmation"]["region"], "eu-west-1", "{alert}");

    eventually(
        "the alert confirmed up from another region",
        LONG,
        || async {
            let alerts = world.fleet.get_json("/api/v1/alerts").await.ok()?;
            let open = alerts["open"].as_array()?;
            let c = &open.iter().find(|a| a["id"] == "home/region/eu-west-1")?["confirmation"];
            (c["outcome"] == "success" && c["region"] != "eu-west-1").then_some(())
        },
    )
    .await;
    if world.am_port.is_some() {
        eventually("the alert in Alertmanager", LONG, || async {
            let alerts = am_alerts(&world).await?;
            alerts
                .iter()
                .any(|a| {
                    a["labels"]["scenario"] == "home"
                        && a["labels"]["region"] == "eu-west-1"
                        && a["labels"]["scope"] == "region"
                })
                .then_some(())
        })
        .await;
    } else {
        eprintln!(
            "note: prometheus-alertmanager is not installed; the Alertmanager leg is skipped"
        );
    }

    clear_faults(&world).await;
    eventually("the resolve", LONG, || async {
        let resolved: Vec<_> = pages(&world)
            .into_iter()
            .filter(|(s, _)| s == "resolved")
            .collect();
        (resolved.len() == 1
            && resolved[0].1["duration_s"]
                .as_f64()
                .is_some_and(|d| d > 0.0))
        .then_some(())
    })
    .await;
    if world.am_port.is_some() {
        eventually("the alert resolved in Alertmanager", LONG, || async {
            let alerts = am_alerts(&world).await?;
            alerts
                .iter()
                .all(|a| a["labels"]["scenario"] != "home" || a["status"]["state"] != "active")
                .then_some(())
        })
        .await;
    }
    let firing = pages(&world).iter().filter(|(s, _)| s == "firing").count();
    assert_eq!(firing, 1, "exactly one page");
}

/// The example SLO (`scenarios/examples/checkout.toml`).
const EXAMPLE_SLO: &str = "slo = { availability = 99.9, window = \"30d\" }";

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_fleet_with_an_slo_pages_once_for_a_failing_region_with_the_burn() {
    let _one_fleet = one_fleet_at_a_time().await;
    let probes = FleetOptions::one_probe_per_region(&REGIONS);
    let world = world_alerting(2, 2, EXAMPLE_SLO, probes).await;
    every_region_up(&world).await;

    fault(&world, "eu-west-1", false).await;
    // The SLO sees a burn far above its page factor (14.4x) on every
    // window, all of which hold the few seconds of history there are.
    eventually("a page-worthy burn", LONG, || async {
        let s = world.fleet.get_json("/api/v1/scenarios/home").await.ok()?;
        let slo = &s["slo"];
        (slo["burn_rates"]["5m"].as_f64()? > 14.4 && slo["burn_rates"]["1h"].as_f64()? > 14.4)
            .then_some(())
    })
    .await;
    let alert = eventually("the regional page", LONG, || async {
        let firing: Vec<_> = pages(&world)
            .into_iter()
            .filter(|(s, _)| s == "firing")
            .collect();
        firing.first().map(|(_, a)| a.clone())
    })
    .await;
    // The first page is the confirmed regional one, and it carries the burn.
    assert_eq!(alert["id"], "home/region/eu-west-1", "{alert}");
    assert_eq!(alert["confirmation"]["outcome"], "success", "{alert}");
    let summary = alert["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("; error budget: 1h "), "{summary}");
    assert!(summary.contains("of history so far"), "{summary}");
    let detail = world
        .fleet
        .get_json("/api/v1/scenarios/home")
        .await
        .expect("detail");
    let slo = &detail["slo"];
    assert!(
        slo["history_s"].as_f64().is_some_and(|h| h < 3_600.0),
        "{slo}"
    );
    assert!(
        slo["budget_remaining"].as_f64().is_some_and(|b| b > 0.9),
        "a few seconds spend little of 30 days: {slo}"
    );

    clear_faults(&world).await;
    eventually("the resolve", LONG, || async {
        pages(&world)
            .iter()
            .any(|(s, a)| s == "resolved" && a["id"] == "home/region/eu-west-1")
            .then_some(())
    })
    .await;
    let all: Vec<(String, Value)> = pages(&world)
        .into_iter()
        .map(|(s, a)| (s, a["id"].clone()))
        .collect();
    assert_eq!(
        all,
        [
            ("firing".to_string(), Value::from("home/region/eu-west-1")),
            ("resolved".to_string(), Value::from("home/region/eu-west-1")),
        ],
        "one incident, one page: no SLO page or ticket of its own"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_failing_regions_page_once_as_a_global_alert_and_never_regionally() {
    let _one_fleet = one_fleet_at_a_time().await;
    let world = world(2, FleetOptions::one_probe_per_region(&REGIONS)).await;
    every_region_up(&world).await;

    fault(&world, "eu-west-1", false).await;
    fault(&world, "ap-southeast-1", false).await;
    let alert = eventually("a global page", LONG, || async {
        pages(&world)
            .into_iter()
            .find(|(s, a)| s == "firing" && a["scope"] == "global")
            .map(|(_, a)| a)
    })
    .await;
    let mut regions: Vec<String> =
        serde_json::from_value(alert["regions"].clone()).expect("regions");
    regions.sort();
    assert_eq!(regions, ["ap-southeast-1", "eu-west-1"], "{alert}");
    assert_eq!(alert["step"], "home", "{alert}");

    // Both regional alerts exist, grouped under the global one.
    eventually("the regional alerts grouped", LONG, || async {
        let alerts = world.fleet.get_json("/api/v1/alerts").await.ok()?;
        let grouped = alerts["open"]
            .as_array()?
            .iter()
            .filter(|a| a["scope"] == "region" && a["grouped"] == true)
            .count();
        (grouped == 2).then_some(())
    })
    .await;
    if world.am_port.is_some() {
        eventually("the global alert in Alertmanager", LONG, || async {
            let alerts = am_alerts(&world).await?;
            let home: Vec<_> = alerts
                .iter()
                .filter(|a| a["labels"]["scenario"] == "home")
                .collect();
            (home.len() == 1 && home[0]["labels"]["scope"] == "global").then_some(())
        })
        .await;
    }

    clear_faults(&world).await;
    eventually("the global resolve", LONG, || async {
        pages(&world)
            .iter()
            .any(|(s, a)| s == "resolved" && a["scope"] == "global")
            .then_some(())
    })
    .await;
    // Runs go on every second: time for a late regional page to show.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sent: Vec<(String, Value)> = pages(&world)
        .into_iter()
        .map(|(s, a)| (s, a["id"].clone()))
        .collect();
    assert_eq!(
        sent,
        [
            ("firing".to_owned(), Value::from("home/global")),
            ("resolved".to_owned(), Value::from("home/global"))
        ],
        "one page and its resolve, nothing regional"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flapping_region_never_pages_with_after_2() {
    let _one_fleet = one_fleet_at_a_time().await;
    let world = world(2, FleetOptions::one_probe_per_region(&REGIONS)).await;
    fault(&world, "ap-southeast-1", true).await;
    // Enough runs for many fail/pass pairs.
    let before = eventually("the probe running", LONG, || async {
        let s = world
            .fleet
            .scrape(&world.fleet.probes[2].metrics_url())
            .await
            .ok()?;
        s.sum("sonde_agent_runs_total", &[("scenario", "home")])
    })
    .await;
    eventually("at least ten flapping runs", LONG, || async {
        let s = world
            .fleet
            .scrape(&world.fleet.probes[2].metrics_url())
            .await
            .ok()?;
        (s.sum(
            "sonde_agent_runs_total",
            &[("scenario", "home"), ("outcome", "failure")],
        )? >= 4.0
            && s.sum("sonde_agent_runs_total", &[("scenario", "home")])? >= before + 10.0)
            .then_some(())
    })
    .await;
    assert!(
        pages(&world).is_empty(),
        "a flapping region paged: {:?}",
        pages(&world)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_every_probe_of_a_region_raises_one_region_alert_and_no_scenario_alert() {
    let _one_fleet = one_fleet_at_a_time().await;
    let mut world = world(2, FleetOptions::one_probe_per_region(&REGIONS)).await;
    eventually("results from every region", LONG, || async {
        let s = world.fleet.get_json("/api/v1/scenarios/home").await.ok()?;
        s["regions"]
            .as_array()?
            .iter()
            .all(|r| r["state"] == "up")
            .then_some(())
    })
    .await;
    world.fleet.kill_probe(1).await; // eu-west-1's only probe
    let alert = eventually("a region alert for eu-west-1", LONG, || async {
        pages(&world)
            .into_iter()
            .find(|(s, a)| s == "firing" && a["id"] == "region/eu-west-1")
            .map(|(_, a)| a)
    })
    .await;
    assert_eq!(alert["scope"], "probe");
    assert!(
        alert["probe"].is_null() && alert["scenario"].is_null(),
        "{alert}"
    );
    region_shows(&world, "eu-west-1", "unknown").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let scenario_pages: Vec<_> = pages(&world)
        .into_iter()
        .filter(|(_, a)| !a["scenario"].is_null())
        .collect();
    assert!(
        scenario_pages.is_empty(),
        "a dead probe paged for its scenarios: {scenario_pages:?}"
    );
    let region_pages = pages(&world)
        .iter()
        .filter(|(s, a)| s == "firing" && a["scope"] == "probe")
        .count();
    assert_eq!(
        region_pages, 1,
        "one probe/region alert, not one per probe or scenario"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduler_restart_while_firing_neither_repages_nor_loses_the_resolve() {
    let _one_fleet = one_fleet_at_a_time().await;
    let mut world = world(2, FleetOptions::one_probe_per_region(&REGIONS)).await;
    fault(&world, "us-east-1", false).await;
    eventually("the page", LONG, || async {
        pages(&world)
            .iter()
            .any(|(s, a)| s == "firing" && a["id"] == "home/region/us-east-1")
            .then_some(())
    })
    .await;
    world.fleet.stop_scheduler().await.expect("scheduler stops");
    world
        .fleet
        .start_scheduler()
        .await
        .expect("scheduler restarts");
    tokio::time::sleep(Duration::from_secs(4)).await;
    clear_faults(&world).await;
    eventually("the resolve after the restart", LONG, || async {
        pages(&world)
            .iter()
            .any(|(s, a)| s == "resolved" && a["id"] == "home/region/us-east-1")
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ids: Vec<String> = world
        .hook
        .requests_to("/hook")
        .iter()
        .filter_map(|r| r.header("webhook-id").map(str::to_string))
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    let firing = pages(&world)
        .iter()
        .filter(|(s, a)| s == "firing" && a["id"] == "home/region/us-east-1")
        .count();
    assert_eq!(
        ids.len(),
        unique.len(),
        "no notification delivered twice: {ids:?}"
    );
    assert_eq!(firing, 1, "paged once across the restart");
    let resolved = pages(&world)
        .iter()
        .filter(|(s, _)| s == "resolved")
        .count();
    assert_eq!(resolved, 1, "resolved once");
}

/// Alertmanager's alerts for the `home` scenario, polled in the background
/// from the moment it is started: every poll is kept, so a second alert
/// that lived for a few seconds between two checks of a test is seen.
struct AmWatch {
    polls: std::sync::Arc<std::sync::Mutex<Vec<Vec<Value>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl AmWatch {
    fn start(port: u16) -> AmWatch {
        let polls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = polls.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Some(alerts) = am_alerts_at(port).await {
                    let home: Vec<Value> = alerts
                        .into_iter()
                        .filter(|a| a["labels"]["scenario"] == "home")
                        .collect();
                    sink.lock().expect("polls").push(home);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        AmWatch { polls, task }
    }

    /// The polls from the scenario's alert first showing up to its last
    /// showing: once resolved, an alert leaves Alertmanager's list of
    /// active alerts, so the empty polls after it are no second alert.
    fn since_first(&self) -> Vec<Vec<Value>> {
        let polls = self.polls.lock().expect("polls").clone();
        let mut polls: Vec<Vec<Value>> = polls.into_iter().skip_while(Vec::is_empty).collect();
        while polls.last().is_some_and(Vec::is_empty) {
            polls.pop();
        }
        polls
    }

    /// Every poll since the first showed exactly one alert, always the same
    /// one (Alertmanager's fingerprint is a hash of the label set).
    fn assert_one_alert_throughout(&self, what: &str) {
        let polls = self.since_first();
        assert!(
            !polls.is_empty(),
            "{what}: the alert never reached Alertmanager"
        );
        for poll in &polls {
            let labels: Vec<&Value> = poll.iter().map(|a| &a["labels"]).collect();
            assert_eq!(poll.len(), 1, "{what}: not exactly one alert: {labels:?}");
        }
        let mut fingerprints: Vec<&str> = polls
            .iter()
            .flatten()
            .filter_map(|a| a["fingerprint"].as_str())
            .collect();
        fingerprints.sort_unstable();
        fingerprints.dedup();
        assert_eq!(fingerprints.len(), 1, "{what}: {fingerprints:?}");
    }

    /// The alert as Alertmanager showed it last.
    fn last(&self) -> Option<Value> {
        let polls = self.polls.lock().expect("polls");
        polls.iter().rev().find_map(|p| p.first().cloned())
    }
}

impl Drop for AmWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The scheduler's open `home/global` alert's regions, sorted.
async fn global_regions_open(world: &World) -> Option<Vec<String>> {
    let alerts = world.fleet.get_json("/api/v1/alerts").await.ok()?;
    let open = alerts["open"].as_array()?;
    let global = open.iter().find(|a| a["id"] == "home/global")?;
    let mut regions: Vec<String> = serde_json::from_value(global["regions"].clone()).ok()?;
    regions.sort();
    Some(regions)
}

/// The labels Alertmanager keys the alert on are the stable ones; the
/// regions, which change, are an annotation.
fn assert_stable_labels(alert: &Value, regions: &[&str]) {
    let labels = &alert["labels"];
    assert_eq!(labels["alert_id"], "home/global", "{alert}");
    assert_eq!(labels["alertname"], "SondeScenarioGlobalDown", "{alert}");
    assert_eq!(labels["scope"], "global", "{alert}");
    assert!(labels.get("regions").is_none(), "{alert}");
    assert!(labels.get("region").is_none(), "{alert}");
    let mut shown: Vec<&str> = alert["annotations"]["regions"]
        .as_str()
        .unwrap_or_default()
        .split(',')
        .collect();
    shown.sort_unstable();
    let mut want = regions.to_vec();
    want.sort_unstable();
    assert_eq!(shown, want, "{alert}");
}

fn require_alertmanager(world: &World) -> u16 {
    world
        .am_port
        .expect("prometheus-alertmanager is needed for this test (.ci/run installs it)")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_global_alert_that_shrinks_then_resolves_is_one_alert_in_alertmanager() {
    let _one_fleet = one_fleet_at_a_time().await;
    let world = world(2, FleetOptions::one_probe_per_region(&REGIONS)).await;
    let port = require_alertmanager(&world);
    every_region_up(&world).await;
    let watch = AmWatch::start(port);

    fault(&world, "eu-west-1", false).await;
    fault(&world, "ap-southeast-1", false).await;
    eventually("the global alert in Alertmanager", LONG, || async {
        let home = watch.since_first();
        (!home.is_empty()).then_some(())
    })
    .await;

    // One region recovers: the incident shrinks but stays open.
    clear_fault(&world, "eu-west-1").await;
    eventually("the global alert shrunk to one region", LONG, || async {
        let regions = global_regions_open(&world).await?;
        (regions == ["ap-southeast-1"]).then_some(())
    })
    .await;
    // Re-sends in the shrunk state.
    tokio::time::sleep(AM_RESEND * 2).await;

    clear_fault(&world, "ap-southeast-1").await;
    eventually("the scheduler's global resolve", LONG, || async {
        pages(&world)
            .iter()
            .any(|(s, a)| s == "resolved" && a["id"] == "home/global")
            .then_some(())
    })
    .await;
    // Alertmanager hears the resolve at once; an alert it cannot match to
    // it would stay active until its `endsAt`, four intervals on.
    eventually(
        "the alert resolved in Alertmanager within one interval",
        AM_RESEND,
        || async {
            let alerts = am_alerts_at(port).await?;
            alerts
                .iter()
                .all(|a| a["labels"]["scenario"] != "home")
                .then_some(())
        },
    )
    .await;
    let last = watch.last().expect("the alert as Alertmanager showed it");
    watch.assert_one_alert_throughout("shrink then resolve");
    assert_stable_labels(&last, &["ap-southeast-1", "eu-west-1"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_global_alert_that_spreads_is_one_alert_in_alertmanager() {
    let _one_fleet = one_fleet_at_a_time().await;
    // One down region is already a global incident, so every step of the
    // spread is the same alert.
    let world = world_with(2, 1, FleetOptions::one_probe_per_region(&REGIONS)).await;
    let port = require_alertmanager(&world);
    every_region_up(&world).await;
    let watch = AmWatch::start(port);

    fault(&world, "eu-west-1", false).await;
    eventually("the global alert in Alertmanager", LONG, || async {
        (!watch.since_first().is_empty()).then_some(())
    })
    .await;
    for (region, down) in [
        ("us-east-1", vec!["eu-west-1", "us-east-1"]),
        (
            "ap-southeast-1",
            vec!["ap-southeast-1", "eu-west-1", "us-east-1"],
        ),
    ] {
        fault(&world, region, false).await;
        eventually(&format!("the spread to {region} sent"), LONG, || async {
            pages(&world)
                .iter()
                .any(|(s, a)| {
                    s == "firing"
                        && a["id"] == "home/global"
                        && a["regions"]
                            .as_array()
                            .is_some_and(|r| r.len() == down.len())
                })
                .then_some(())
        })
        .await;
    }
    // Re-sends after the spread: the alert before it would still be there.
    tokio::time::sleep(AM_RESEND * 2).await;
    watch.assert_one_alert_throughout("spread");
    let last = watch.last().expect("the alert as Alertmanager showed it");
    assert_stable_labels(&last, &["ap-southeast-1", "eu-west-1", "us-east-1"]);

    clear_faults(&world).await;
    eventually("the alert resolved in Alertmanager", LONG, || async {
        let alerts = am_alerts_at(port).await?;
        alerts
            .iter()
            .all(|a| a["labels"]["scenario"] != "home")
            .then_some(())
    })
    .await;
}
