//! `depends_on` through the real engine: `checkout` depends on `shop`.
//! While `shop` is down in a region, `checkout`'s alert there is recorded
//! as suppressed and never sent, and `shop`'s page lists it; once `shop`
//! recovers with `checkout` still down, `checkout` pages.

use scheduler::alert::AlertStatus;

use crate::alert_kit::{Fleet, firing, probe_of, resolved, run_at, summary};
use crate::common::{result, t0};

/// `checkout` in the kit's three regions, depending on `shop`.
const CHECKOUT: &str = r#"name = "checkout"
interval = "30s"
regions = ["us-east-1", "eu-west-1", "ap-southeast-1"]
depends_on = ["shop"]

[[steps]]
name = "home"
get = "http://127.0.0.1:9/"
expect = ["status == 200"]

[alert]
confirm = false
"#;

async fn fleet() -> Fleet {
    let f = Fleet::new("confirm = false").await;
    f.t.write_scenario("checkout.toml", CHECKOUT);
    f.t.app.catalog.reload().await.unwrap();
    let checkout = f.t.app.catalog.current().get("checkout").cloned();
    assert_eq!(
        checkout.map(|c| c.scenario.depends_on.clone()),
        Some(vec!["shop".to_owned()]),
        "checkout must validate"
    );
    f
}

fn shop(region: &str, ok: bool, secs: i64) -> serde_json::Value {
    run_at(region, ok, t0() + chrono::Duration::seconds(secs))
}

fn checkout(region: &str, ok: bool, secs: i64) -> serde_json::Value {
    let outcome = if ok { "success" } else { "failure" };
    let at = t0() + chrono::Duration::seconds(secs);
    result("checkout", probe_of(region), region, outcome, at)
}

/// The open alert `id` of `GET /api/v1/alerts`, or the newest resolved one.
async fn listed(f: &Fleet, id: &str) -> serde_json::Value {
    let alerts = f.t.get("/api/v1/alerts").await.json();
    let all = alerts["open"].as_array().unwrap().iter();
    let mut all = all.chain(alerts["recent"].as_array().unwrap().iter());
    all.find(|a| a["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} listed: {alerts}"))
}

fn kinds(alert: &serde_json::Value) -> Vec<String> {
    alert["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// `shop` and `checkout` fail twice in `region`, together: both down.
async fn both_down(f: &Fleet, region: &str) {
    for secs in [0, 30] {
        f.record(vec![
            shop(region, false, secs),
            checkout(region, false, secs),
        ])
        .await;
    }
}

/// Whether `alert`'s timeline has an entry of `kind`.
fn has(alert: &serde_json::Value, kind: &str) -> bool {
    kinds(alert).iter().any(|k| k == kind)
}

#[tokio::test]
async fn a_dependent_is_suppressed_while_its_parent_is_down_and_pages_once_it_recovers() {
    let f = fleet().await;
    let eu = "eu-west-1";
    f.record(vec![shop(eu, false, 0), checkout(eu, false, 0)])
        .await;
    // checkout goes down first; shop is failing, not down yet: it waits.
    f.record(vec![checkout(eu, false, 30)]).await;
    assert!(f.events().await.is_empty(), "checkout waits for shop");
    f.record(vec![shop(eu, false, 31)]).await;
    f.tick().await;

    let events = f.events().await;
    assert_eq!(summary(&events), [firing("shop/region/eu-west-1")]);
    assert_eq!(events[0].event.alert.dependents, ["checkout"]);
    assert!(!events[0].event.muted);
    let suppressed = listed(&f, "checkout/region/eu-west-1").await;
    assert_eq!(suppressed["status"], "firing");
    assert_eq!(suppressed["suppressed"], true, "{suppressed}");
    let page = f.t.get("/scenarios/checkout").await.text();
    assert!(page.contains("suppressed (depends_on)"), "{page}");
    assert!(has(&suppressed, "suppressed"), "{suppressed}");
    assert!(!has(&suppressed, "fired"), "{suppressed}");
    let entry = suppressed["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "suppressed")
        .unwrap();
    assert_eq!(
        entry["detail"],
        "depends on shop, which is down in eu-west-1"
    );
    assert_eq!(
        f.state_of("checkout", eu).await,
        "down",
        "still down, only not sent"
    );
    assert_eq!(
        listed(&f, "shop/region/eu-west-1").await["dependents"],
        serde_json::json!(["checkout"])
    );

    // More failures of both send nothing more.
    f.record(vec![shop(eu, false, 61), checkout(eu, false, 60)])
        .await;
    f.tick().await;
    assert_eq!(f.events().await.len(), 1);

    // shop recovers; checkout's failure of the same moment may still be
    // shop's doing: it pages only when a run of its own after that fails.
    f.t.clock.advance(std::time::Duration::from_secs(95));
    f.touch_all().await;
    f.record(vec![shop(eu, true, 91), checkout(eu, false, 90)])
        .await;
    f.tick().await;
    assert_eq!(
        summary(&f.events().await),
        [
            firing("shop/region/eu-west-1"),
            resolved("shop/region/eu-west-1")
        ]
    );
    f.record(vec![checkout(eu, false, 120)]).await;
    let events = f.events().await;
    let mut after = summary(&events[1..]);
    after.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        after,
        [
            firing("checkout/region/eu-west-1"),
            resolved("shop/region/eu-west-1"),
        ],
        "{:?}",
        summary(&events)
    );
    let paged = listed(&f, "checkout/region/eu-west-1").await;
    assert_eq!(paged["suppressed"], false, "{paged}");
    let kinds = kinds(&paged);
    let at = |k: &str| kinds.iter().position(|x| x == k).unwrap();
    assert!(at("suppressed") < at("unsuppressed"), "{kinds:?}");
    assert!(at("unsuppressed") < at("fired"), "{kinds:?}");

    // The report counts it as suppressed.
    let report = f.t.get("/api/v1/reports/alerts?since=7d").await.json();
    let row = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scenario"] == "checkout")
        .cloned()
        .unwrap_or_else(|| panic!("checkout reported: {report}"));
    assert_eq!(row["suppressed"], 1, "{row}");
}

#[tokio::test]
async fn a_dependent_down_where_its_parent_is_up_pages() {
    let f = fleet().await;
    let (eu, us) = ("eu-west-1", "us-east-1");
    f.record(vec![shop(eu, false, 0), checkout(us, false, 0)])
        .await;
    f.record(vec![shop(eu, false, 30), checkout(us, false, 30)])
        .await;
    f.tick().await;
    let events = f.events().await;
    assert_eq!(
        summary(&events),
        [
            firing("checkout/region/us-east-1"),
            firing("shop/region/eu-west-1"),
        ]
    );
    let shop_alert = &events[1].event.alert;
    assert!(
        shop_alert.dependents.is_empty(),
        "checkout is up in eu-west-1"
    );
}

#[tokio::test]
async fn a_global_dependent_is_suppressed_only_where_its_parent_is_down_in_all_its_regions() {
    let f = fleet().await;
    let (eu, us, ap) = ("eu-west-1", "us-east-1", "ap-southeast-1");
    let both = |secs| {
        vec![
            shop(eu, false, secs),
            shop(us, false, secs),
            checkout(eu, false, secs),
            checkout(us, false, secs),
        ]
    };
    f.record(both(0)).await;
    f.record(both(30)).await;
    f.tick().await;
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("shop/global")]);
    assert_eq!(events[0].event.alert.dependents, ["checkout"]);
    let global = listed(&f, "checkout/global").await;
    assert!(has(&global, "suppressed"), "{global}");

    // checkout goes down in a third region, where shop is up: its own outage.
    f.record(vec![checkout(ap, false, 40)]).await;
    f.record(vec![checkout(ap, false, 70)]).await;
    f.tick().await;
    let events = f.events().await;
    assert_eq!(
        summary(&events),
        [firing("shop/global"), firing("checkout/global")]
    );
    assert_eq!(events[1].status, AlertStatus::Firing);
    assert_eq!(events[1].event.alert.regions.len(), 3);
}

#[tokio::test]
async fn a_restart_keeps_a_suppressed_alert_suppressed_without_recording_it_twice() {
    let f = fleet().await;
    let eu = "eu-west-1";
    both_down(&f, eu).await;
    assert_eq!(
        summary(&f.events().await),
        [firing("shop/region/eu-west-1")]
    );
    let tokens = f.tokens.clone();

    let t = f.t.restart().await;
    let f = Fleet { t, tokens };
    f.touch_all().await;
    f.tick().await;
    f.record(vec![shop(eu, false, 60), checkout(eu, false, 60)])
        .await;
    f.tick().await;
    assert_eq!(f.events().await.len(), 1, "still suppressed");
    let kinds = kinds(&listed(&f, "checkout/region/eu-west-1").await);
    let suppressed = kinds.iter().filter(|k| *k == "suppressed").count();
    assert_eq!(suppressed, 1, "{kinds:?}");
}

#[tokio::test]
async fn a_dependent_that_recovers_with_its_parent_never_pages() {
    let f = fleet().await;
    let eu = "eu-west-1";
    both_down(&f, eu).await;
    f.t.clock.advance(std::time::Duration::from_secs(65));
    f.touch_all().await;
    // shop's good run arrives first, checkout's a moment later.
    f.record(vec![shop(eu, true, 60)]).await;
    f.record(vec![checkout(eu, true, 61)]).await;
    f.tick().await;
    assert_eq!(
        summary(&f.events().await),
        [
            firing("shop/region/eu-west-1"),
            resolved("shop/region/eu-west-1")
        ]
    );
    let done = listed(&f, "checkout/region/eu-west-1").await;
    assert_eq!(done["status"], "resolved", "{done}");
    assert!(!has(&done, "fired"), "{done}");
}

#[tokio::test]
async fn a_global_dependent_waits_for_a_failing_parent_then_is_suppressed() {
    let f = fleet().await;
    let (eu, us) = ("eu-west-1", "us-east-1");
    f.record(vec![
        shop(eu, false, 0),
        shop(us, false, 0),
        checkout(eu, false, 0),
        checkout(us, false, 0),
    ])
    .await;
    // checkout is down in two regions first: global, but shop is failing
    // in both, so it waits.
    f.record(vec![checkout(eu, false, 30), checkout(us, false, 30)])
        .await;
    f.tick().await;
    assert!(f.events().await.is_empty(), "checkout waits for shop");
    let held = listed(&f, "checkout/global").await;
    assert!(has(&held, "held"), "{held}");
    f.record(vec![shop(eu, false, 31), shop(us, false, 31)])
        .await;
    f.tick().await;
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("shop/global")]);
    assert_eq!(events[0].event.alert.dependents, ["checkout"]);
    let suppressed = listed(&f, "checkout/global").await;
    assert!(has(&suppressed, "suppressed"), "{suppressed}");
}

#[tokio::test]
async fn a_restart_while_a_dependent_waits_for_its_own_failure_does_not_page_early() {
    let f = fleet().await;
    let eu = "eu-west-1";
    both_down(&f, eu).await;
    f.t.clock.advance(std::time::Duration::from_secs(65));
    f.touch_all().await;
    f.record(vec![shop(eu, true, 60)]).await;
    let tokens = f.tokens.clone();

    let t = f.t.restart().await;
    let f = Fleet { t, tokens };
    f.touch_all().await;
    f.tick().await;
    assert_eq!(
        summary(&f.events().await),
        [
            firing("shop/region/eu-west-1"),
            resolved("shop/region/eu-west-1")
        ],
        "checkout still waits for a failed run of its own"
    );
    f.record(vec![checkout(eu, false, 90)]).await;
    let events = f.events().await;
    assert_eq!(summary(&events[2..]), [firing("checkout/region/eu-west-1")]);
}

#[tokio::test]
async fn a_dependent_going_down_after_its_parent_paged_is_told_on_the_parents_page() {
    let f = fleet().await;
    let eu = "eu-west-1";
    f.record(vec![shop(eu, false, 0)]).await;
    f.record(vec![shop(eu, false, 30)]).await;
    let events = f.events().await;
    assert_eq!(summary(&events), [firing("shop/region/eu-west-1")]);
    assert!(events[0].event.alert.dependents.is_empty());

    f.record(vec![checkout(eu, false, 40)]).await;
    f.record(vec![checkout(eu, false, 70)]).await;
    f.tick().await;
    let events = f.events().await;
    assert_eq!(
        summary(&events),
        [
            firing("shop/region/eu-west-1"),
            firing("shop/region/eu-west-1")
        ],
        "the parent's page again, nothing for checkout"
    );
    assert_eq!(events[1].event.alert.dependents, ["checkout"]);
    let parent = listed(&f, "shop/region/eu-west-1").await;
    assert!(has(&parent, "dependents"), "{parent}");
    let dependent = listed(&f, "checkout/region/eu-west-1").await;
    assert!(has(&dependent, "suppressed"), "{dependent}");
}
