//! The status page at `/` and `/scenarios/{name}` against a real fleet
//! (the built `scheduler` and `probe agent` binaries) with the demo shop as
//! target: the grid, a region turning down, escaping, the scenario page's
//! SVG, 404s, catalog errors, and a headless Chromium screenshot when
//! Debian's `chromium` is installed.
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use sonde_tests::TestClient;
use sonde_tests::fleet::{Fleet, FleetOptions, eventually, simple_scenario};
use sonde_tests::shop::{self, ShopOptions};

use crate::one_fleet::one_fleet_at_a_time;

const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-1"];
const LONG: Duration = Duration::from_secs(40);
/// The scenarios' interval; a region is down after `after = 2` failed runs.
const INTERVAL: Duration = Duration::from_secs(1);
/// Room for the probe to ship its results and the page to be read.
const SHIPPING: Duration = Duration::from_secs(2);
const CHROMIUM: &str = "/usr/bin/chromium";

/// GET `/` on the shop every second, down after two failed runs; the
/// description is user data with markup in it.
fn home(base: &str) -> String {
    format!(
        r#"name = "home"
description = "Shop home <script>alert('x')</script> & more"
interval = "1s"
regions = ["us-east-1", "eu-west-1", "ap-southeast-1"]

[[steps]]
name = "home"
get = "{base}/"
expect = ["status == 200"]

[alert]
after = 2
confirm = false
"#
    )
}

/// Every grid cell of a page: `(scenario, region) -> state`, from the
/// `data-*` attributes (attribute order as the page writes them).
fn cells(html: &str) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for chunk in html.split("data-scenario=\"").skip(1) {
        let field = |text: &str, key: &str| -> Option<String> {
            let start = text.find(key)? + key.len();
            let end = text[start..].find('"')? + start;
            Some(text[start..end].to_owned())
        };
        let scenario = chunk.split('"').next().unwrap_or_default().to_owned();
        if let (Some(region), Some(state)) = (
            field(chunk, "data-region=\""),
            field(chunk, "data-state=\""),
        ) {
            out.insert((scenario, region), state);
        }
    }
    out
}

async fn get(client: &TestClient, url: &str) -> Option<(u16, String)> {
    let resp = client.get(url).await.ok()?;
    Some((resp.status.as_u16(), resp.text()))
}

#[tokio::test(flavor = "multi_thread")]
async fn status_page_shows_the_grid_a_region_going_down_and_scenario_details() {
    let _one_fleet = one_fleet_at_a_time().await;
    let shop_dir = tempfile::tempdir().expect("tempdir");
    let shop = shop::start(ShopOptions::for_tests(shop_dir.path()))
        .await
        .expect("shop starts");
    let files = [
        ("home.toml", home(&shop.http_url(""))),
        (
            "health.toml",
            simple_scenario("health", &shop.http_url("/healthz"), "1s", &REGIONS),
        ),
    ];
    let fleet = Fleet::start(FleetOptions::one_probe_per_region(&REGIONS), &files)
        .await
        .expect("fleet starts");
    let client = TestClient::new().timeout(Duration::from_secs(10));
    let page = fleet.url("/");

    // Every scenario × region has a cell, and all turn up.
    let grid = eventually("every cell of the grid up", LONG, || async {
        let (status, html) = get(&client, &page).await?;
        let grid = cells(&html);
        (status == 200 && grid.len() == 6 && grid.values().all(|s| s == "up")).then_some(html)
    })
    .await;
    for scenario in ["home", "health"] {
        for region in REGIONS {
            assert!(
                grid.contains(&format!(
                    "class=\"cell cell-up\" data-scenario=\"{scenario}\" data-region=\"{region}\" data-state=\"up\""
                )),
                "no up cell for {scenario} in {region}"
            );
        }
    }
    assert!(grid.contains("<meta name=\"viewport\""));
    assert!(grid.contains("p95 "), "cells show p95");
    // The description is escaped, never markup.
    assert!(!grid.contains("<script>alert"), "description not escaped");
    assert!(grid.contains("Shop home &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"));
    assert!(grid.contains("probe-eu-west-1"), "probes table");

    // Break `/` in eu-west-1: its home cell turns down within two
    // intervals (plus shipping), the others stay up.
    let fault = json!({"region": "eu-west-1", "path": "/", "status": 503});
    let resp = client
        .post_json(&shop.http_url("/_faults"), &[], &fault)
        .await
        .expect("fault injected");
    assert!(resp.status.is_success(), "fault: {}", resp.text());
    let t0 = Instant::now();
    let html = eventually("home in eu-west-1 down", LONG, || async {
        let (_, html) = get(&client, &page).await?;
        let state = cells(&html)
            .get(&("home".into(), "eu-west-1".into()))?
            .clone();
        (state == "down").then_some(html)
    })
    .await;
    let took = t0.elapsed();
    println!("home in eu-west-1 turned down after {took:?}");
    assert!(
        took <= 2 * INTERVAL + SHIPPING,
        "took {took:?}, more than two intervals and shipping"
    );
    let grid = cells(&html);
    for ((scenario, region), state) in &grid {
        if (scenario.as_str(), region.as_str()) != ("home", "eu-west-1") {
            assert_eq!(state, "up", "{scenario} in {region}");
        }
    }
    assert!(html.contains("cell-down"));

    // The scenario page: a latency chart, the waterfall and the failing
    // step with expected vs actual.
    let detail = eventually("the failing step on the scenario page", LONG, || async {
        let (status, html) = get(&client, &fleet.url("/scenarios/home")).await?;
        (status == 200 && html.contains("expected") && html.contains("<code>503</code>"))
            .then_some(html)
    })
    .await;
    assert!(detail.contains("<svg class=\"chart\""), "latency chart");
    assert!(detail.contains("<svg class=\"waterfall\""), "waterfall");
    assert!(detail.contains("<polyline"), "chart has lines");
    assert!(detail.contains("<code>200</code>"), "expected value shown");
    assert!(!detail.contains("<script>alert"), "description escaped");

    // Unknown scenario: a 404 page, the name escaped.
    let resp = client
        .get(&fleet.url("/scenarios/%3Cb%3Enope"))
        .await
        .expect("404 page");
    assert_eq!(resp.status.as_u16(), 404);
    assert!(resp.text().contains("&lt;b&gt;nope"));
    assert!(
        resp.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html")
    );

    // A file that does not validate shows up with its diagnostics.
    fleet
        .write_scenario(
            "broken.toml",
            "name = \"broken\"\ninterval = \"30 seconds\"\n",
        )
        .expect("broken file written");
    eventually("catalog errors on the page", LONG, || async {
        let (_, html) = get(&client, &page).await?;
        (html.contains("<code>broken.toml</code>") && html.contains("<pre>error")).then_some(())
    })
    .await;

    screenshot(&fleet.url("/"));
}

/// A headless Chromium screenshot of the page, when Debian's `chromium`
/// is installed; otherwise a note.
fn screenshot(url: &str) {
    if !Path::new(CHROMIUM).is_file() {
        println!("note: {CHROMIUM} is not installed; skipping the screenshot");
        return;
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("status-page.png");
    let _ = std::fs::remove_file(&out);
    let profile = tempfile::tempdir().expect("tempdir");
    let status = std::process::Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", out.display()))
        .args(["--window-size=1280,900", "--enable-logging=stderr", "--v=0"])
        .arg(url)
        .output()
        .expect("chromium runs");
    let log = String::from_utf8_lossy(&status.stderr);
    // Console messages are logged as `…:CONSOLE(line)] "message"`; a script
    // error or a failed resource on the page would show there.
    let console_errors: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                && (l.contains("Uncaught") || l.contains("Error") || l.contains("Failed"))
        })
        .collect();
    assert!(
        console_errors.is_empty(),
        "console errors on the status page: {console_errors:?}"
    );
    let status = status.status;
    assert!(status.success(), "chromium: {status}");
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    assert!(size > 0, "no screenshot at {}", out.display());
    println!("screenshot: {} ({size} bytes)", out.display());
}
