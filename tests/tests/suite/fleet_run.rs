//! A fleet test run as a deploy gate, on a real three-region fleet: `probe
//! run --fleet` of a scenario file that is not in the catalog passes in
//! every region (exit 0, a report per region), fails naming the region the
//! demo shop breaks in (exit 1), and prints the scheduler's diagnostics for
//! a file that does not validate (exit 2). The scenario never enters the
//! catalog, and its failing runs page nobody.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use sonde_tests::fleet::{Fleet, FleetOptions, eventually};
use sonde_tests::shop::{self, ShopOptions};
use sonde_tests::{TestClient, TestTarget};

use crate::one_fleet::one_fleet_at_a_time;

const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-1"];
const LONG: Duration = Duration::from_secs(40);
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// `probe run --fleet URL --token-file F ARGS…`.
async fn probe_run(fleet: &Fleet, token_file: &Path, args: &[&str]) -> Output {
    let program = sonde_tests::binary_path("probe").expect("probe binary");
    tokio::process::Command::new(program)
        .arg("run")
        .arg("--fleet")
        .arg(fleet.url("/"))
        .arg("--token-file")
        .arg(token_file)
        .args(args)
        .output()
        .await
        .expect("probe run")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scenario_file_runs_from_every_region_before_it_is_merged() {
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
    let options = FleetOptions {
        extra_config: notify,
        ..FleetOptions::one_probe_per_region(&REGIONS)
    };
    // A catalog scenario that pages at its first failure: the control that
    // shows pages do go out.
    let canary = format!(
        "name = \"canary\"\ninterval = \"1s\"\nregions = [\"us-east-1\"]\n[[steps]]\nname = \"products\"\nget = \"{}\"\nexpect = [\"status == 200\"]\n[alert]\nafter = 1\nglobal_regions = 1\n",
        shop.http_url("/api/products")
    );
    let fleet = Fleet::start(options, &[("canary.toml", canary)])
        .await
        .expect("fleet");
    let token = fleet
        .scheduler_command(&["token", "create", "--operator", "--name", "ci"])
        .await
        .expect("operator token");
    let token_file = dir.path().join("operator-token");
    std::fs::write(&token_file, token.trim()).expect("token file");

    // The changed journey, outside the scenario directory, with an alert
    // that would page at the first failure if its runs fed alerting.
    let file = dir.path().join("checkout_v2.toml");
    let scenario = format!(
        "interval = \"1m\"\n[[steps]]\nname = \"home\"\nget = \"{}\"\nexpect = [\"status == 200\"]\n[alert]\nafter = 1\nglobal_regions = 1\n",
        shop.http_url("/")
    );
    std::fs::write(&file, scenario).expect("scenario file");
    let file = file.to_str().expect("path");

    eventually("every region has a live probe", LONG, || async {
        let probes = fleet.get_json("/api/v1/probes").await.ok()?;
        let live = probes["regions"]
            .as_array()?
            .iter()
            .filter(|r| r["live_probes"].as_u64() == Some(1))
            .count();
        (live == REGIONS.len()).then_some(())
    })
    .await;

    let pass = probe_run(&fleet, &token_file, &[file]).await;
    let stdout = text(&pass.stdout);
    assert_eq!(
        pass.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {}",
        text(&pass.stderr)
    );
    for region in REGIONS {
        // Named by its file, as `probe run` names it.
        let line = format!("checkout_v2 [{region}] SUCCESS");
        assert!(stdout.contains(&line), "no `{line}` in:\n{stdout}");
    }

    let json = probe_run(
        &fleet,
        &token_file,
        &["--format", "json", "--regions", "eu-west-1", file],
    )
    .await;
    assert_eq!(json.status.code(), Some(0), "{}", text(&json.stderr));
    let results: Vec<serde_json::Value> = text(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a result per line"))
        .collect();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["region"], "eu-west-1");
    assert_eq!(results[0]["steps"][0]["status"], "passed");

    let fault = serde_json::json!({"region": "eu-west-1", "path": "/", "status": 503});
    TestClient::new()
        .post_json(&shop.http_url("/_faults"), &[], &fault)
        .await
        .expect("fault");
    let fail = probe_run(&fleet, &token_file, &[file]).await;
    let (stdout, stderr) = (text(&fail.stdout), text(&fail.stderr));
    assert_eq!(
        fail.status.code(),
        Some(1),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stderr.contains("region `eu-west-1`"),
        "the failing region is named: {stderr}"
    );
    assert!(!stderr.contains("us-east-1"), "{stderr}");
    assert!(
        stdout.contains("checkout_v2 [eu-west-1] FAILURE"),
        "{stdout}"
    );
    assert!(
        stdout.contains("checkout_v2 [us-east-1] SUCCESS"),
        "{stdout}"
    );

    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[[steps]]\nname = \"home\"\nget = 42\n").expect("broken file");
    let invalid = probe_run(&fleet, &token_file, &[broken.to_str().expect("path")]).await;
    let stderr = text(&invalid.stderr);
    assert_eq!(invalid.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("broken.toml:3:"),
        "the scheduler's diagnostics: {stderr}"
    );

    // Nothing of it is in the catalog or the read API.
    let scenarios = fleet
        .get_json("/api/v1/scenarios")
        .await
        .expect("scenarios");
    assert!(
        !scenarios.to_string().contains("checkout_v2"),
        "{scenarios}"
    );
    let catalog = fleet.get_json("/api/v1/catalog").await.expect("catalog");
    assert!(!catalog.to_string().contains("checkout_v2"), "{catalog}");
    let alerts = fleet.get_json("/api/v1/alerts").await.expect("alerts");
    assert!(!alerts.to_string().contains("checkout_v2"), "{alerts}");

    // Only now does the canary fail: its page is queued after any page the
    // failed test run could have caused, so once it arrives, that one
    // would have too.
    let fault = serde_json::json!({"region": "us-east-1", "path": "/api/products", "status": 503});
    TestClient::new()
        .post_json(&shop.http_url("/_faults"), &[], &fault)
        .await
        .expect("fault");
    let pages = eventually("the canary pages", LONG, || async {
        let pages: Vec<String> = hook
            .requests_to("/hook")
            .iter()
            .map(|r| text(&r.body))
            .collect();
        pages.iter().any(|p| p.contains("canary")).then_some(pages)
    })
    .await;
    assert!(
        pages.iter().all(|p| !p.contains("checkout_v2")),
        "a test run paged: {pages:?}"
    );
}
