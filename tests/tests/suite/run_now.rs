//! Run now as a deploy gate, on a real fleet: every region passing answers
//! 200, a failing region 422 (so `curl --fail` exits non-zero), an unknown
//! scenario 404; reads need no token, the write needs an operator token.

use std::time::Duration;

use sonde_tests::TestClient;
use sonde_tests::fleet::{Fleet, FleetOptions, eventually};
use sonde_tests::shop::{self, ShopOptions};

use crate::one_fleet::one_fleet_at_a_time;

const LONG: Duration = Duration::from_secs(40);

#[tokio::test(flavor = "multi_thread")]
async fn run_now_answers_per_region_and_fails_the_gate_when_a_region_fails() {
    let _one_fleet = one_fleet_at_a_time().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = shop::start(ShopOptions::for_tests(dir.path()))
        .await
        .expect("shop");
    // A long interval: the runs below are the on-demand ones.
    let scenario = format!(
        "name = \"gate\"\ninterval = \"1m\"\nregions = [\"us-east-1\", \"eu-west-1\"]\n[[steps]]\nname = \"home\"\nget = \"{}\"\nexpect = [\"status == 200\"]\n",
        shop.http_url("/")
    );
    let fleet = Fleet::start(
        FleetOptions::one_probe_per_region(&["us-east-1", "eu-west-1"]),
        &[("gate.toml", scenario)],
    )
    .await
    .expect("fleet");
    let token = fleet
        .scheduler_command(&["token", "create", "--operator", "--name", "deployer"])
        .await
        .expect("operator token");
    let bearer = format!("Bearer {}", token.trim());
    let client = TestClient::new().timeout(Duration::from_secs(60));
    let run = |name: &'static str, auth: bool| {
        let client = client.clone();
        let url = fleet.url(&format!("/api/v1/scenarios/{name}/run?wait=20s"));
        let bearer = bearer.clone();
        async move {
            let headers: Vec<(&str, &str)> = if auth {
                vec![("authorization", bearer.as_str())]
            } else {
                Vec::new()
            };
            client
                .request(hyper::Method::POST, &url, &headers, None)
                .await
                .expect("answered")
        }
    };
    eventually("both probes assigned", LONG, || async {
        let probes = fleet.get_json("/api/v1/probes").await.ok()?;
        let assigned = probes["probes"]
            .as_array()?
            .iter()
            .filter(|p| p["assigned"].as_array().is_some_and(|a| !a.is_empty()))
            .count();
        (assigned == 2).then_some(())
    })
    .await;

    assert_eq!(
        run("gate", false).await.status.as_u16(),
        401,
        "the write needs a token"
    );
    let pass = run("gate", true).await;
    assert_eq!(pass.status.as_u16(), 200, "{}", pass.text());
    let body = pass.json().expect("json");
    for region in ["us-east-1", "eu-west-1"] {
        assert_eq!(body["results"][region]["outcome"], "success", "{body}");
    }

    let fault = serde_json::json!({"region": "eu-west-1", "path": "/", "status": 503});
    TestClient::new()
        .post_json(&shop.http_url("/_faults"), &[], &fault)
        .await
        .expect("fault");
    let fail = run("gate", true).await;
    assert_eq!(
        fail.status.as_u16(),
        422,
        "a failing region fails the gate: {}",
        fail.text()
    );
    let body = fail.json().expect("json");
    assert_eq!(body["results"]["eu-west-1"]["outcome"], "failure", "{body}");
    assert_eq!(body["results"]["us-east-1"]["outcome"], "success", "{body}");

    assert_eq!(run("no-such-scenario", true).await.status.as_u16(), 404);
}
