//! A large catalog changed at once (a branch switch, a generated
//! directory): every file loaded and checked as when loaded one by one,
//! in path order; a file whose text did not change keeps its version
//! unless a file it names changed.

use crate::common::{HEALTH, TestApp};

/// More files than one loading thread takes, so the load is spread.
const FILES: usize = 700;

fn scenario(i: usize, revision: u32) -> String {
    format!(
        "# revision {revision}\n{}",
        HEALTH.replacen("name = \"health\"", &format!("name = \"s{i:03}\""), 1)
    )
}

fn files(catalog: &serde_json::Value) -> &Vec<serde_json::Value> {
    catalog["files"].as_array().expect("files listed")
}

fn file<'a>(catalog: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    files(catalog)
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{path} listed: {catalog}"))
}

#[tokio::test]
async fn every_file_of_a_large_catalog_changed_at_once_is_loaded_and_checked_in_path_order() {
    let t = TestApp::new().await;
    for i in 0..FILES {
        t.write_scenario(&format!("s{i:03}.toml"), &scenario(i, 1));
    }
    // Sorts after s000.toml and takes its name: the error is on this file.
    t.write_scenario("z-copy.toml", &scenario(0, 1));
    t.write_scenario("s350.toml", "name = \"s350\"\ninterval = \"soon\"\n");
    assert!(t.app.catalog.reload().await.unwrap());
    let first = t.get("/api/v1/catalog").await.json();
    let listed: Vec<&str> = files(&first)
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    assert_eq!(listed, sorted, "files in path order");
    // The kit's checkout.toml and health.toml, every sNNN.toml, the copy.
    assert_eq!(listed.len(), FILES + 3);
    let copy = file(&first, "z-copy.toml");
    assert_eq!(copy["status"], "invalid", "{copy}");
    assert!(
        copy["diagnostics"]
            .as_str()
            .unwrap()
            .contains("`s000.toml` already uses this name"),
        "{copy}"
    );
    assert_eq!(file(&first, "s350.toml")["status"], "invalid");
    let valid = files(&first)
        .iter()
        .filter(|f| f["status"] == "valid")
        .count();
    assert_eq!(
        valid,
        FILES + 1,
        "the kit's two and every sNNN.toml but s350"
    );

    // Every file gets new text: every version changes, s350 included.
    for i in 0..FILES {
        t.write_scenario(&format!("s{i:03}.toml"), &scenario(i, 2));
    }
    assert!(t.app.catalog.reload().await.unwrap());
    let second = t.get("/api/v1/catalog").await.json();
    for i in [0, 1, 255, 256, 349, 350, 699] {
        let path = format!("s{i:03}.toml");
        let (before, after) = (file(&first, &path), file(&second, &path));
        assert_eq!(after["status"], "valid", "{after}");
        assert_ne!(before["version"], after["version"], "{path}");
    }
}

#[tokio::test]
async fn a_file_rewritten_with_the_same_text_keeps_its_version_unless_a_file_it_names_changed() {
    let t = TestApp::new().await;
    let pinned = HEALTH
        .replacen("name = \"health\"", "name = \"pinned\"", 1)
        .replacen(
            "expect = [",
            "tls = { ca_file = \"ca.pem\" }\nexpect = [",
            1,
        );
    let pem = |n: u32| format!("-----BEGIN CERTIFICATE-----\nMIIB{n}\n-----END CERTIFICATE-----\n");
    std::fs::write(t.scenarios_dir().join("ca.pem"), pem(1)).unwrap();
    t.write_scenario("pinned.toml", &pinned);
    assert!(t.app.catalog.reload().await.unwrap());
    let first = t.get("/api/v1/catalog").await.json();
    assert_eq!(file(&first, "pinned.toml")["status"], "valid", "{first}");

    // The same text written again: nothing to publish.
    t.write_scenario("pinned.toml", &pinned);
    t.write_scenario("health.toml", HEALTH);
    assert!(!t.app.catalog.reload().await.unwrap());

    // Only the CA file changes: the scenario naming it gets a new version.
    std::fs::write(t.scenarios_dir().join("ca.pem"), pem(2)).unwrap();
    assert!(t.app.catalog.reload().await.unwrap());
    let second = t.get("/api/v1/catalog").await.json();
    assert_ne!(
        file(&first, "pinned.toml")["version"],
        file(&second, "pinned.toml")["version"]
    );
    assert_eq!(
        file(&first, "health.toml")["version"],
        file(&second, "health.toml")["version"]
    );
}
