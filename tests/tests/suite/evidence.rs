//! A failed step against the demo shop, seen through the fleet: its
//! evidence (status line, headers, body, address) in the runs API and on
//! the status page's scenario view.
use std::time::Duration;

use sonde_tests::TestClient;
use sonde_tests::fleet::{Fleet, FleetOptions, eventually};
use sonde_tests::shop::{self, ShopOptions};

use crate::one_fleet::one_fleet_at_a_time;

const REGION: &str = "eu-west-1";
const LONG: Duration = Duration::from_secs(40);

fn missing_page(base: &str) -> String {
    format!(
        r#"name = "missing"
interval = "1s"
regions = ["{REGION}"]

[[steps]]
name = "lost"
get = "{base}/no-such-page"
expect = ["status == 200"]
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_step_shows_its_evidence_in_the_runs_api_and_on_the_status_page() {
    let _one_fleet = one_fleet_at_a_time().await;
    let shop_dir = tempfile::tempdir().expect("tempdir");
    let shop = shop::start(ShopOptions::for_tests(shop_dir.path()))
        .await
        .expect("shop starts");
    let files = [("missing.toml", missing_page(&shop.http_url("")))];
    let fleet = Fleet::start(FleetOptions::one_probe_per_region(&[REGION]), &files)
        .await
        .expect("fleet starts");
    let client = TestClient::new().timeout(Duration::from_secs(10));

    let runs_url = fleet.url("/api/v1/scenarios/missing/runs?limit=1");
    let evidence = eventually("a stored failed run", LONG, || async {
        let runs = client.get(&runs_url).await.ok()?.json().ok()?;
        let step = runs["runs"][0]["steps"][0].clone();
        (step["status"] == "failed").then(|| step["evidence"].clone())
    })
    .await;
    let status_line = evidence["status_line"].as_str().expect("status line");
    assert!(status_line.contains(" 404"), "{evidence}");
    assert!(
        evidence["headers"]
            .as_array()
            .is_some_and(|h| !h.is_empty()),
        "{evidence}"
    );
    assert!(evidence["body"].is_string(), "{evidence}");
    let remote = evidence["remote_addr"].as_str().expect("remote address");
    assert!(remote.starts_with("127.0.0.1:"), "{evidence}");

    let page = client
        .get(&fleet.url("/scenarios/missing"))
        .await
        .expect("scenario page")
        .text();
    assert!(page.contains("<h4>Response</h4>"), "{page}");
    assert!(page.contains(status_line), "{page}");
    assert!(page.contains(remote), "{page}");
    assert!(page.contains("<pre class=\"body\">"), "{page}");
}
