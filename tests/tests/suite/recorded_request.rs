//! What the scheduler stores of a run's request is what the probe recorded
//! from its masked rendering: the secret's own place shows `***`, and the
//! same text elsewhere in the URL is left alone.

use std::time::Duration;

use sonde_tests::TestTarget;
use sonde_tests::fleet::{Fleet, FleetOptions, eventually, simple_scenario};

use crate::one_fleet::one_fleet_at_a_time;

#[tokio::test(flavor = "multi_thread")]
async fn the_stored_url_masks_the_secret_where_the_template_put_it() {
    let _one_fleet = one_fleet_at_a_time().await;
    // The fleet's probes hold SHOP_PASSWORD = "demo", also a path segment.
    let target = TestTarget::new()
        .route("/demo/x", 200, "ok")
        .start()
        .await
        .expect("target");
    let url = target.url("/demo/x?key={{secret.SHOP_PASSWORD}}");
    let files = [(
        "masked.toml",
        simple_scenario("masked", &url, "1s", &["eu-west-1"]),
    )];
    let fleet = Fleet::start(FleetOptions::one_probe_per_region(&["eu-west-1"]), &files)
        .await
        .expect("fleet starts");
    let stored = eventually(
        "a stored run of `masked`",
        Duration::from_secs(40),
        || async {
            let runs = fleet
                .get_json("/api/v1/scenarios/masked/runs?limit=1")
                .await
                .ok()?;
            let first = runs["runs"].as_array()?.first()?.clone();
            first["steps"][0]["http"]["url"]
                .as_str()
                .map(str::to_string)
        },
    )
    .await;
    assert_eq!(stored, target.url("/demo/x?key=***"));
    let seen = &target.requests_to("/demo/x")[0];
    assert_eq!(seen.query.as_deref(), Some("key=demo"));
}
