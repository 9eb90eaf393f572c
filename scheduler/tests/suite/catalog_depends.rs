//! `depends_on` across the catalog: a name no scenario has and a cycle are
//! errors of the file concerned, at the entry, listed like any other
//! catalog error; an edit that breaks a dependency keeps the last good
//! version scheduled.

use crate::common::{HEALTH, TestApp};

fn file<'a>(catalog: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    catalog["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{path} listed: {catalog}"))
}

fn with_deps(name: &str, deps: &str) -> String {
    HEALTH.replacen(
        "name = \"health\"",
        &format!("name = \"{name}\"\ndepends_on = [{deps}]"),
        1,
    )
}

#[tokio::test]
async fn a_name_no_scenario_has_is_an_error_at_its_entry() {
    let t = TestApp::new().await;
    t.write_scenario("search.toml", &with_deps("search", "\"health\", \"helth\""));
    assert!(t.app.catalog.reload().await.unwrap());
    let catalog = t.get("/api/v1/catalog").await.json();
    let search = file(&catalog, "search.toml");
    assert_eq!(search["status"], "invalid");
    let diagnostics = search["diagnostics"].as_str().unwrap();
    assert!(
        diagnostics.contains("unknown scenario `helth` in `depends_on`"),
        "{diagnostics}"
    );
    assert!(
        diagnostics.contains("--> search.toml:2:25"),
        "{diagnostics}"
    );
    assert!(
        diagnostics.contains("did you mean `health`?"),
        "{diagnostics}"
    );
    assert_eq!(file(&catalog, "health.toml")["status"], "valid");
}

#[tokio::test]
async fn a_cycle_is_an_error_at_the_entry_that_closes_it_and_keeps_the_last_good_version() {
    let t = TestApp::new().await;
    t.write_scenario("a.toml", &with_deps("a", "\"health\""));
    t.write_scenario("b.toml", &with_deps("b", "\"health\""));
    assert!(t.app.catalog.reload().await.unwrap());
    let catalog = t.get("/api/v1/catalog").await.json();
    assert_eq!(file(&catalog, "b.toml")["status"], "valid");
    let good = file(&catalog, "b.toml")["version"].clone();

    // a → b (valid alone), then b → a closes the cycle.
    t.write_scenario("a.toml", &with_deps("a", "\"b\""));
    t.write_scenario("b.toml", &with_deps("b", "\"health\", \"a\""));
    assert!(t.app.catalog.reload().await.unwrap());
    let catalog = t.get("/api/v1/catalog").await.json();
    assert_eq!(file(&catalog, "a.toml")["status"], "valid");
    let b = file(&catalog, "b.toml");
    assert_eq!(b["status"], "invalid");
    let diagnostics = b["diagnostics"].as_str().unwrap();
    assert!(
        diagnostics.contains("dependency cycle: a → b → a"),
        "{diagnostics}"
    );
    assert!(diagnostics.contains("--> b.toml:2:25"), "{diagnostics}");
    assert_eq!(b["serving_last_good"], true, "{b}");
    assert_eq!(b["version"], good, "{b}");
}
