//! Browser scenarios go only to probes that announce the `browser`
//! capability (`X-Sonde-Capabilities`): never to a probe without one, not
//! even when it registered first or wins by score, nor when the capable
//! probe goes silent; there the scenario is unassigned, visibly, and its
//! state unknown rather than down. Time is the injected clock.

use std::collections::BTreeSet;
use std::time::Duration;

use scheduler::assignment;

use crate::alert_kit::events;
use crate::common::{TestApp, batch, result, t0};

const EU: &str = "eu-west-1";
const BROWSER: (&str, &str) = ("x-sonde-capabilities", "browser");

/// A browser scenario in eu-west-1 that goes down after two failed runs.
const APP: &str = r#"name = "app"
interval = "30s"
regions = ["eu-west-1"]

[[steps]]
name = "home"
kind = "browser"
actions = [{ goto = "http://127.0.0.1:9/" }]
expect = ["status == 200"]

[alert]
after = 2
confirm = false
"#;

fn names(plan: &serde_json::Value) -> BTreeSet<String> {
    plan["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

/// A name for a probe without a browser that would own `app` over
/// `capable` by score alone, so only the capability can keep it away.
fn plain_winning_over(capable: &[&str]) -> String {
    (0..100)
        .map(|i| format!("p-plain-{i}"))
        .find(|plain| {
            let all = capable.iter().copied().chain([plain.as_str()]);
            assignment::owner("app", EU, all) == Some(plain.as_str())
        })
        .unwrap()
}

/// A scheduler with `app` and eight HTTP scenarios for every region.
async fn with_app() -> TestApp {
    let t = TestApp::new().await;
    t.write_scenario("app.toml", APP);
    for i in 0..8 {
        let text = format!(
            "name = \"web-{i}\"\ninterval = \"30s\"\n\n[[steps]]\nname = \"home\"\n\
             get = \"http://127.0.0.1:9/\"\nexpect = [\"status == 200\"]\n"
        );
        t.write_scenario(&format!("web-{i}.toml"), &text);
    }
    t.app.catalog.reload().await.unwrap();
    t
}

/// A probe of eu-west-1 with its token, and whether it announces a browser.
struct Probe {
    name: String,
    token: String,
    browser: bool,
}

impl Probe {
    async fn new(t: &TestApp, name: &str, browser: bool) -> Probe {
        let token = t.probe_token(name, EU).await;
        Probe {
            name: name.to_owned(),
            token,
            browser,
        }
    }

    async fn plan(&self, t: &TestApp) -> BTreeSet<String> {
        let extra: &[(&str, &str)] = if self.browser { &[BROWSER] } else { &[] };
        names(&t.plan(&self.token, &self.name, EU, extra).await.json())
    }
}

fn scenario<'a>(list: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    list["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()
}

#[tokio::test]
async fn a_browser_scenario_is_only_in_the_plan_of_the_probe_with_a_browser() {
    let t = with_app().await;
    let plain_name = plain_winning_over(&["p-browser"]);
    // The probe without a browser registers first, and wins `app` by score.
    let plain = Probe::new(&t, &plain_name, false).await;
    assert!(!plain.plan(&t).await.contains("app"));
    let browser = Probe::new(&t, "p-browser", true).await;
    assert!(browser.plan(&t).await.contains("app"));
    let plain_plan = plain.plan(&t).await;
    assert!(!plain_plan.contains("app"), "{plain_plan:?}");

    // HTTP scenarios go by score to either probe, as before.
    let both = [plain.name.as_str(), "p-browser"];
    let by_score: BTreeSet<String> = (0..8)
        .map(|i| format!("web-{i}"))
        .chain(["health".to_owned(), "checkout".to_owned()])
        .filter(|s| assignment::owner(s, EU, both) == Some(plain.name.as_str()))
        .collect();
    assert!(
        !by_score.is_empty(),
        "the probe without a browser owns some"
    );
    assert_eq!(plain_plan, by_score);
    let scenarios = t.get("/api/v1/scenarios").await.json();
    let app = scenario(&scenarios, "app");
    assert_eq!(app["needs"], serde_json::json!(["browser"]));
    assert_eq!(app["regions"][0]["probe"], "p-browser");
    assert_eq!(app["unassigned"], serde_json::json!([]));
}

#[tokio::test]
async fn the_browser_scenario_stays_off_the_probe_without_one_when_the_capable_one_goes_silent() {
    let t = with_app().await;
    let plain = Probe::new(&t, &plain_winning_over(&["p-browser"]), false).await;
    let browser = Probe::new(&t, "p-browser", true).await;
    plain.plan(&t).await;
    assert!(browser.plan(&t).await.contains("app"));
    // Its last two runs failed, and then it went silent.
    let runs = [
        result("app", "p-browser", EU, "failure", t0()),
        result(
            "app",
            "p-browser",
            EU,
            "failure",
            t0() + chrono::Duration::seconds(30),
        ),
    ];
    let posted = t
        .post_results(&browser.token, "p-browser", EU, batch(&runs))
        .await;
    assert!(posted.status.is_success(), "{posted:?}");
    t.clock.advance(Duration::from_secs(100));
    assert!(!plain.plan(&t).await.contains("app"));
    scheduler::evaluate::tick(&t.app).await.unwrap();

    // Down while it was seen; now nobody there can run it, so the alert
    // ends rather than paging on about a region it says nothing of.
    let events = events(&t).await;
    let app_events: Vec<_> = events
        .iter()
        .filter(|e| e.alert_id.starts_with("app/"))
        .collect();
    assert!(
        !app_events.is_empty(),
        "it was down while the browser probe was live"
    );
    let open: Vec<String> = t
        .app
        .alerts
        .open()
        .into_iter()
        .filter(|a| a.alert.scenario.as_deref() == Some("app"))
        .map(|a| a.alert.id)
        .collect();
    assert!(
        open.is_empty(),
        "no alert for a region nobody can run it in: {open:?}"
    );
    let detail = t.get("/api/v1/scenarios/app").await.json();
    assert_eq!(detail["regions"][0]["state"], "unknown", "{detail}");
    assert_eq!(detail["regions"][0]["probe"], serde_json::Value::Null);
    let why = serde_json::json!([{
        "region": EU, "reason": "no live probe with the browser capability"
    }]);
    let scenarios = t.get("/api/v1/scenarios").await.json();
    assert_eq!(scenario(&scenarios, "app")["unassigned"], why);
    let probes = t.get("/api/v1/probes").await.json();
    let eu = probes["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == EU)
        .unwrap()
        .clone();
    assert_eq!(eu["live_probes"], 1);
    assert_eq!(eu["unassigned"], serde_json::json!(["app"]));

    // It comes back and takes the scenario up again.
    assert!(browser.plan(&t).await.contains("app"));
    let scenarios = t.get("/api/v1/scenarios").await.json();
    assert_eq!(
        scenario(&scenarios, "app")["unassigned"],
        serde_json::json!([])
    );
}

#[tokio::test]
async fn the_browser_scenario_fails_over_among_probes_with_a_browser() {
    let t = with_app().await;
    let capable = ["p-browser-1", "p-browser-2"];
    let plain = Probe::new(&t, &plain_winning_over(&capable), false).await;
    let one = Probe::new(&t, capable[0], true).await;
    let two = Probe::new(&t, capable[1], true).await;
    plain.plan(&t).await;
    one.plan(&t).await;
    let (owner, other) = if two.plan(&t).await.contains("app") {
        (&two, &one)
    } else {
        (&one, &two)
    };
    assert!(!other.plan(&t).await.contains("app"));
    assert!(owner.plan(&t).await.contains("app"));

    t.clock.advance(Duration::from_secs(100));
    assert!(!plain.plan(&t).await.contains("app"));
    assert!(
        other.plan(&t).await.contains("app"),
        "the other browser takes over"
    );
    assert!(owner.plan(&t).await.contains("app"), "and gives it back");
    let back = other.plan(&t).await;
    assert!(!back.contains("app"), "{} {back:?}", other.name);
}

#[tokio::test]
async fn probes_show_what_they_announced_on_their_latest_plan_request() {
    let t = with_app().await;
    let plain = Probe::new(&t, "p-plain", false).await;
    let mut browser = Probe::new(&t, "p-browser", true).await;
    plain.plan(&t).await;
    assert!(browser.plan(&t).await.contains("app"));
    let capabilities = |probes: &serde_json::Value, name: &str| {
        probes["probes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["capabilities"]
            .clone()
    };
    let probes = t.get("/api/v1/probes").await.json();
    assert_eq!(
        capabilities(&probes, "p-browser"),
        serde_json::json!(["browser"])
    );
    assert_eq!(capabilities(&probes, "p-plain"), serde_json::json!([]));

    // Restarted without its browser: it announces nothing and loses `app`.
    browser.browser = false;
    assert!(!browser.plan(&t).await.contains("app"));
    let probes = t.get("/api/v1/probes").await.json();
    assert_eq!(capabilities(&probes, "p-browser"), serde_json::json!([]));
}
