//! `deploy/local/fleet --ha` as a user runs it: PostgreSQL and three
//! scheduler replicas from the built binaries, probes that know every
//! replica. One replica leads; results reach the API of one that does
//! not; `--down` stops every process the fleet started. Without
//! PostgreSQL's binaries the test says so and passes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sonde_tests::TestClient;
use sonde_tests::harness::{binary_path, free_port, workspace_root};
use sonde_tests::metrics::Scrape;

use crate::one_fleet::one_fleet_at_a_time;

const REPLICAS: [&str; 3] = ["a", "b", "c"];

fn postgres_installed() -> bool {
    std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|versions| {
        versions
            .filter_map(Result::ok)
            .any(|v| v.path().join("bin/initdb").exists())
    })
}

/// The running script; dropping it stops the fleet (`--down`, then the
/// script's PID), so a failed assertion leaves nothing behind.
struct HaFleet {
    script: Child,
    state: PathBuf,
    env: Vec<(String, String)>,
}

impl HaFleet {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(workspace_root().join("deploy/local/fleet"));
        cmd.args(args).envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    fn down(&mut self) {
        let out = self.command(&["--down"]).output().expect("run --down");
        assert!(
            out.status.success(),
            "--down: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = self.script.wait();
    }
}

impl Drop for HaFleet {
    fn drop(&mut self) {
        if matches!(self.script.try_wait(), Ok(None)) {
            let _ = self.command(&["--down"]).status();
            let _ = self.script.kill();
            let _ = self.script.wait();
        }
    }
}

/// The processes whose command line names the fleet's state directory:
/// every process the fleet starts (its files are all under it).
fn processes_of(state: &Path) -> Vec<String> {
    let needle = state.to_string_lossy().into_owned();
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter(|e| e.file_name().to_string_lossy() != me)
        .filter_map(|e| {
            let raw = std::fs::read(e.path().join("cmdline")).ok()?;
            let line = String::from_utf8_lossy(&raw).replace('\0', " ");
            line.contains(&needle)
                .then(|| format!("{}: {line}", e.file_name().to_string_lossy()))
        })
        .collect()
}

async fn leader_of(client: &TestClient, port: u16, replica: &str) -> Option<f64> {
    let body = client
        .get(&format!("http://127.0.0.1:{port}/metrics"))
        .await
        .ok()?
        .text();
    Scrape::parse(&body).sum("sonde_scheduler_leader", &[("replica", replica)])
}

#[tokio::test(flavor = "multi_thread")]
async fn ha_fleet_has_one_leader_serves_results_from_any_replica_and_stops_cleanly() {
    if !postgres_installed() {
        println!(
            "note: fleet --ha: skipped, no PostgreSQL under /usr/lib/postgresql (apt-get install postgresql)"
        );
        return;
    }
    let _one = one_fleet_at_a_time().await;
    let bin = binary_path("scheduler").unwrap();
    let bin_dir = bin.parent().unwrap().to_string_lossy().into_owned();
    // Under /tmp and open to others: as root, PostgreSQL runs as `postgres`.
    let dir = tempfile::Builder::new()
        .prefix("sonde-fleet-ha-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let state = dir.path().join("state");
    let port = || free_port().unwrap().to_string();
    let schedulers: Vec<u16> = (0..3).map(|_| free_port().unwrap()).collect();
    let ports = |n: usize| (0..n).map(|_| port()).collect::<Vec<_>>().join(" ");
    let env: Vec<(String, String)> = [
        ("SONDE_LOCAL_DIR", state.to_string_lossy().into_owned()),
        ("SONDE_BIN_DIR", bin_dir),
        (
            "SCHEDULER_PORTS",
            schedulers
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        ("PROBE_PORTS", ports(3)),
        ("SHOP_HTTP_PORT", port()),
        ("SHOP_HTTPS_PORT", port()),
        ("SHOP_DNS_PORT", port()),
        ("ALERTMANAGER_PORT", port()),
        ("PROMETHEUS_PORT", port()),
        ("POSTGRES_PORT", port()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    std::fs::create_dir_all(&state).unwrap();
    let log = std::fs::File::create(dir.path().join("fleet.out")).unwrap();
    let mut cmd = Command::new(workspace_root().join("deploy/local/fleet"));
    cmd.arg("--ha")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let mut fleet = HaFleet {
        script: cmd.spawn().expect("start deploy/local/fleet --ha"),
        state: state.clone(),
        env,
    };
    let output = || std::fs::read_to_string(dir.path().join("fleet.out")).unwrap_or_default();
    let client = TestClient::new().timeout(Duration::from_secs(5));

    // The three replicas ready, the script still running.
    let deadline = Instant::now() + Duration::from_secs(120);
    for port in &schedulers {
        loop {
            assert!(
                matches!(fleet.script.try_wait(), Ok(None)),
                "the fleet exited:\n{}",
                output()
            );
            let ready = client
                .get(&format!("http://127.0.0.1:{port}/readyz"))
                .await
                .is_ok_and(|r| r.status.is_success());
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "replica on {port} not ready:\n{}",
                output()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    // Exactly one leader.
    let deadline = Instant::now() + Duration::from_secs(30);
    let leader = loop {
        let mut leaders = Vec::new();
        for (replica, port) in REPLICAS.iter().zip(&schedulers) {
            if leader_of(&client, *port, replica).await == Some(1.0) {
                leaders.push(*replica);
            }
        }
        if let [one] = leaders[..] {
            break one;
        }
        assert!(Instant::now() < deadline, "leaders: {leaders:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    // Probes' results, read from a replica that does not lead.
    let (follower, follower_port) = REPLICAS
        .iter()
        .zip(&schedulers)
        .find(|(r, _)| **r != leader)
        .unwrap();
    let url = format!("http://127.0.0.1:{follower_port}/api/v1/scenarios/api-health/runs");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let runs = client
            .get(&url)
            .await
            .ok()
            .and_then(|r| r.json().ok())
            .and_then(|v| v["runs"].as_array().cloned())
            .unwrap_or_default();
        if runs
            .iter()
            .any(|r| r["probe"].as_str().is_some_and(|p| p.starts_with("probe-")))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no probe's run on replica {follower} (leader {leader}):\n{}",
            output()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    // The database and every replica are processes of this fleet.
    let running = processes_of(&fleet.state);
    assert!(
        running
            .iter()
            .filter(|p| p.contains("scheduler serve"))
            .count()
            == 3
            && running.iter().any(|p| p.contains("postgres")),
        "{running:#?}"
    );
    fleet.down();
    assert!(output().contains("Stopped."), "{}", output());
    let left = processes_of(&fleet.state);
    assert!(left.is_empty(), "left running: {left:#?}");
}
