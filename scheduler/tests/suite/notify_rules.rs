//! `deploy/prometheus/rules.yml` passes `promtool check rules` and its unit
//! tests (`rules.test.yml`, every alert firing and not firing), and the
//! example `alertmanager.yml` routes `SondeWatchdog` to the dead man's
//! switch and nothing else there.

use std::path::{Path, PathBuf};
use std::process::Command;

fn prometheus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/prometheus")
}

/// Runs `promtool ARGS` in deploy/prometheus; `None` when not installed.
fn promtool(args: &[&str]) -> Option<std::process::Output> {
    match Command::new("promtool")
        .args(args)
        .current_dir(prometheus_dir())
        .output()
    {
        Ok(output) => Some(output),
        Err(e) => {
            eprintln!(
                "note: promtool is not available ({e}); install Debian `prometheus` to check the rules"
            );
            None
        }
    }
}

fn assert_success(what: &str, output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn rules_pass_promtool_check() {
    if let Some(output) = promtool(&["check", "rules", "rules.yml"]) {
        assert_success("promtool check rules", &output);
    }
}

#[test]
fn rules_pass_their_unit_tests() {
    if let Some(output) = promtool(&["test", "rules", "rules.test.yml"]) {
        assert_success("promtool test rules", &output);
    }
}

#[test]
fn every_alert_has_severity_summary_description_and_runbook_and_a_test() {
    let dir = prometheus_dir();
    let rules = std::fs::read_to_string(dir.join("rules.yml")).expect("rules.yml");
    let tests = std::fs::read_to_string(dir.join("rules.test.yml")).expect("rules.test.yml");
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    for want in [
        "SondeScenarioRegionDown",
        "SondeScenarioGlobalDown",
        "SondeProbeDown",
        "SondeStoreUnwritable",
        "SondeProbeSpoolFull",
        "SondeSloFastBurn",
        "SondeSloSlowBurn",
        "SondeTlsCertExpiringSoon",
        "SondeSchedulerNoLeader",
        "SondeSchedulerReplicaDown",
        "SondeCatalogDiffers",
    ] {
        assert!(alerts.contains(&want), "{want} missing from rules.yml");
    }
    // Each alert's block, up to the next rule.
    for (i, block) in rules.split("- alert: ").skip(1).enumerate() {
        let name = alerts[i];
        for key in ["severity:", "summary:", "description:", "runbook_url:"] {
            assert!(block.contains(key), "{name} has no {key}");
        }
        let firing = format!("alertname: {name}\n        exp_alerts:\n          - exp_labels");
        let quiet = format!("alertname: {name}\n        exp_alerts: []");
        assert!(tests.contains(&firing), "{name}: no firing test case");
        assert!(tests.contains(&quiet), "{name}: no not-firing test case");
    }
}

/// Runs `amtool ARGS` in deploy/prometheus; `None` when not installed.
fn amtool(args: &[&str]) -> Option<std::process::Output> {
    match Command::new("amtool")
        .args(args)
        .current_dir(prometheus_dir())
        .output()
    {
        Ok(output) => Some(output),
        Err(e) => {
            eprintln!(
                "note: amtool is not available ({e}); install Debian `prometheus-alertmanager` to check alertmanager.yml"
            );
            None
        }
    }
}

#[test]
fn the_example_alertmanager_config_routes_the_watchdog_to_the_dead_mans_switch_only() {
    let Some(output) = amtool(&["check-config", "alertmanager.yml"]) else {
        return;
    };
    assert_success("amtool check-config", &output);
    let route = |receiver: &str, labels: &[&str]| {
        let verify = format!("--verify.receivers={receiver}");
        let mut args = vec![
            "config",
            "routes",
            "test",
            "--config.file=alertmanager.yml",
            verify.as_str(),
        ];
        args.extend_from_slice(labels);
        let output = amtool(&args).expect("amtool ran once already");
        assert_success(&format!("{labels:?} to {receiver}"), &output);
    };
    route(
        "deadmans-switch",
        &["alertname=SondeWatchdog", "severity=none"],
    );
    route(
        "deadmans-switch",
        &["alertname=SondeWatchdog", "severity=none", "team=shop"],
    );
    route(
        "oncall",
        &["alertname=SondeScenarioDown", "severity=critical"],
    );
    route("tickets", &["alertname=SondeProbeDown", "severity=warning"]);
}
