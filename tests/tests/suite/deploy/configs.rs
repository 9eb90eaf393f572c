//! The scheduler configurations that ship, in the Kubernetes base, its
//! `ha` overlay and the scheduler image (alone and for compose HA), pass
//! `scheduler validate` with their catalogs.

use std::path::Path;
use std::process::Command;

use sonde_tests::harness::workspace_root;

use super::{REGIONS, deploy, env_refs, read};

/// The Kubernetes scheduler.toml and the image's default one load, with
/// every scenario of their catalogs; the base's placeholder hashes stop
/// the scheduler with a diagnostic instead of starting without probes.
#[test]
fn the_shipped_scheduler_configs_validate() {
    let scheduler = sonde_tests::binary_path("scheduler").unwrap();
    let data = tempfile::tempdir().unwrap();
    let k8s = deploy("kubernetes/base/scheduler/scheduler.toml");
    let refs = env_refs(&read(&k8s));
    assert_eq!(refs.len(), REGIONS.len(), "one hash per region's probe");
    let validate = |config: &Path, scenarios: &Path, hash: &str| {
        let mut cmd = Command::new(&scheduler);
        cmd.arg("validate").arg("--config").arg(config);
        cmd.env("SONDE_SCHEDULER_SCENARIOS_DIR", scenarios);
        cmd.env("SONDE_SCHEDULER_DATA_DIR", data.path());
        // The database passwords of the HA configurations.
        cmd.env("SONDE_DATABASE_PASSWORD", "x");
        cmd.env("SONDE_DB_PASSWORD", "x");
        for name in &refs {
            cmd.env(name, hash);
        }
        cmd.output().unwrap()
    };
    let catalog = deploy("kubernetes/base/scheduler/scenarios");
    let ok = validate(&k8s, &catalog, &"ab".repeat(32));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let placeholder = validate(&k8s, &catalog, "replace-with-the-token-sha256");
    assert_eq!(placeholder.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&placeholder.stderr).contains("token_sha256"));
    let examples = workspace_root().join("scenarios/examples");
    let image = validate(&deploy("docker/scheduler.toml"), &examples, "");
    assert!(
        image.status.success(),
        "{}",
        String::from_utf8_lossy(&image.stderr)
    );
    for ha in [
        "kubernetes/overlays/ha/scheduler.toml",
        "docker/scheduler-ha.toml",
    ] {
        let config = deploy(ha);
        assert!(
            read(&config).contains("database_url"),
            "{ha} names the database"
        );
        let ok = validate(&config, &catalog, &"ab".repeat(32));
        assert!(
            ok.status.success(),
            "{ha}: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
    }
}
