//! `depends_on` end to end: the built scheduler and probe agents on
//! loopback, the demo shop, and a real webhook receiver. The shop's API
//! down pages once, for the API, listing the storefront that depends on
//! it; the storefront's own alert is recorded as suppressed and never
//! sent. A cycle is refused at its line by `scheduler validate` and
//! `probe validate`.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use sonde_tests::fleet::{Fleet, FleetOptions, eventually};
use sonde_tests::shop::{self, ShopOptions};
use sonde_tests::{TestClient, TestTarget};

use crate::one_fleet::one_fleet_at_a_time;

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const LONG: Duration = Duration::from_secs(60);
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A scenario every second in both regions, paging after 2 failures.
fn scenario(name: &str, depends_on: &str, url: &str, expect: &str) -> String {
    format!(
        "name = \"{name}\"\ninterval = \"1s\"\nregions = [\"us-east-1\", \"eu-west-1\"]\n{depends_on}\n\
         [[steps]]\nname = \"get\"\nget = \"{url}\"\nexpect = [\"{expect}\"]\n\
         [alert]\nafter = 2\nrecover_after = 1\n"
    )
}

/// The webhook notifications received so far: (status, alert).
fn pages(hook: &sonde_tests::RunningTarget) -> Vec<(String, Value)> {
    hook.requests_to("/hook")
        .iter()
        .filter_map(|r| {
            let body: Value = serde_json::from_slice(&r.body).ok()?;
            Some((body["status"].as_str()?.to_string(), body["alert"].clone()))
        })
        .collect()
}

fn pages_of(hook: &sonde_tests::RunningTarget, scenario: &str) -> Vec<(String, Value)> {
    pages(hook)
        .into_iter()
        .filter(|(_, a)| a["scenario"] == scenario)
        .collect()
}

async fn open_alert(fleet: &Fleet, id: &str) -> Option<Value> {
    let alerts = fleet.get_json("/api/v1/alerts").await.ok()?;
    alerts["open"]
        .as_array()?
        .iter()
        .find(|a| a["id"] == id)
        .cloned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_down_pages_once_for_the_api_listing_the_storefront_and_never_for_the_storefront() {
    let _one_fleet = one_fleet_at_a_time().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = shop::start(ShopOptions::for_tests(dir.path()))
        .await
        .expect("shop");
    let hook = TestTarget::new()
        .route("/hook", 200, "ok")
        .start()
        .await
        .expect("receiver");
    let notify = format!(
        "[[notify]]\nkind = \"webhook\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n",
        hook.url("/hook")
    );
    // The API answers 401 without a session: that is it being up.
    let api = scenario("api", "", &shop.http_url("/api/products"), "status == 401");
    let storefront = scenario(
        "storefront",
        "depends_on = [\"api\"]",
        &shop.http_url("/"),
        "status == 200",
    );
    let options = FleetOptions {
        extra_config: notify,
        ..FleetOptions::one_probe_per_region(&REGIONS)
    };
    let fleet = Fleet::start(
        options,
        &[("api.toml", api), ("storefront.toml", storefront)],
    )
    .await
    .expect("fleet");
    eventually("both scenarios up everywhere", LONG, || async {
        let all = fleet.get_json("/api/v1/scenarios").await.ok()?;
        let states: Vec<&Value> = all["scenarios"]
            .as_array()?
            .iter()
            .flat_map(|s| s["regions"].as_array().into_iter().flatten())
            .map(|r| &r["state"])
            .collect();
        (states.len() == 4 && states.iter().all(|s| *s == "up")).then_some(())
    })
    .await;

    // Every route of the shop but /healthz fails in eu-west-1.
    let body = serde_json::json!({"region": "eu-west-1", "status": 503});
    let resp = TestClient::new()
        .post_json(&shop.http_url("/_faults"), &[], &body)
        .await
        .expect("fault set");
    assert!(resp.status.as_u16() < 300, "fault: {}", resp.text());

    let page = eventually("the API's page listing the storefront", LONG, || async {
        pages_of(&hook, "api")
            .into_iter()
            .rev()
            .find(|(s, a)| s == "firing" && a["dependents"] == serde_json::json!(["storefront"]))
            .map(|(_, a)| a)
    })
    .await;
    assert_eq!(page["id"], "api/region/eu-west-1", "{page}");
    let suppressed = eventually("the storefront's alert suppressed", LONG, || async {
        let a = open_alert(&fleet, "storefront/region/eu-west-1").await?;
        let entry = a["timeline"]
            .as_array()?
            .iter()
            .find(|e| e["kind"] == "suppressed")?
            .clone();
        Some(entry)
    })
    .await;
    assert_eq!(
        suppressed["detail"], "depends on api, which is down in eu-west-1",
        "{suppressed}"
    );
    let detail = fleet
        .get_json("/api/v1/scenarios/storefront")
        .await
        .unwrap();
    let eu = detail["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "eu-west-1")
        .cloned()
        .unwrap();
    assert_eq!(
        eu["state"], "down",
        "the state is what the probes see: {eu}"
    );

    let clear = TestClient::new()
        .request(hyper::Method::DELETE, &shop.http_url("/_faults"), &[], None)
        .await
        .expect("faults cleared");
    assert!(clear.status.as_u16() < 300);
    eventually("the API's resolve", LONG, || async {
        pages_of(&hook, "api")
            .iter()
            .any(|(s, _)| s == "resolved")
            .then_some(())
    })
    .await;
    eventually("the storefront's alert resolved", LONG, || async {
        open_alert(&fleet, "storefront/region/eu-west-1")
            .await
            .is_none()
            .then_some(())
    })
    .await;
    let listing: Vec<_> = pages_of(&hook, "api")
        .into_iter()
        .filter(|(s, a)| s == "firing" && a["dependents"] == serde_json::json!(["storefront"]))
        .collect();
    assert_eq!(
        listing.len(),
        1,
        "one page lists the storefront: {:?}",
        pages(&hook)
    );
    assert!(
        pages_of(&hook, "storefront").is_empty(),
        "no page for the storefront: {:?}",
        pages(&hook)
    );
}

#[test]
fn a_cycle_is_refused_at_its_line_by_both_validate_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    let url = "http://127.0.0.1:9/";
    std::fs::write(
        scenarios.join("a.toml"),
        scenario("a", "depends_on = [\"b\"]", url, "status == 200"),
    )
    .unwrap();
    std::fs::write(
        scenarios.join("b.toml"),
        scenario("b", "depends_on = [\"a\"]", url, "status == 200"),
    )
    .unwrap();
    let config = dir.path().join("scheduler.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:9\"\ndata_dir = \"{}\"\nscenarios_dir = \"{}\"\n",
            dir.path().join("data").display(),
            scenarios.display()
        ),
    )
    .unwrap();

    let scheduler = Command::new(sonde_tests::binary_path("scheduler").unwrap())
        .arg("validate")
        .arg("--config")
        .arg(&config)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&scheduler.stderr);
    assert_eq!(scheduler.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("dependency cycle: a → b → a"), "{stderr}");
    assert!(stderr.contains("--> b.toml:4:15"), "{stderr}");

    let probe = Command::new(sonde_tests::binary_path("probe").unwrap())
        .current_dir(&scenarios)
        .args(["validate", "a.toml", "b.toml"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&probe.stderr);
    assert_eq!(probe.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("dependency cycle: a → b → a"), "{stderr}");
    assert!(stderr.contains("--> b.toml:4:15"), "{stderr}");
}
