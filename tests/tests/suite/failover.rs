//! A probe agent with two real `scheduler serve` processes, each with its
//! own store and the same scenarios and probe token: when the first is
//! SIGKILLed, plan and delivery move to the second and no run the probe
//! made is lost; when only the first refuses the probe's token, the agent
//! stays there and reports it rather than failing over.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sonde_tests::fleet::{eventually, simple_scenario};
use sonde_tests::metrics::Scrape;
use sonde_tests::{
    ChildGuard, RunningTarget, Spawn, TestClient, TestTarget, free_port, wait_for_http,
};

use crate::one_fleet::one_fleet_at_a_time;

const LONG: Duration = Duration::from_secs(40);
const REGION: &str = "eu-west-1";
const PROBE: &str = "probe-eu";
const SCENARIO: &str = "ping";

/// One `scheduler serve` with its own data directory.
struct Replica {
    name: &'static str,
    dir: PathBuf,
    port: u16,
    guard: Option<ChildGuard>,
}

impl Replica {
    /// Writes its configuration: the shared scenarios, its own store.
    fn new(name: &'static str, root: &Path) -> Replica {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).expect("replica dir");
        let replica = Replica {
            name,
            dir,
            port: free_port().expect("port"),
            guard: None,
        };
        replica.write_config(root, "");
        replica
    }

    fn config(&self) -> PathBuf {
        self.dir.join("scheduler.toml")
    }

    fn write_config(&self, root: &Path, probes: &str) {
        let text = format!(
            "listen = \"127.0.0.1:{}\"\ndata_dir = \"{}\"\nscenarios_dir = \"{}\"\nprobe_silence = \"3s\"\n{probes}",
            self.port,
            self.dir.join("data").display(),
            root.join("scenarios").display(),
        );
        std::fs::write(self.config(), text).expect("scheduler.toml");
    }

    /// A new probe token for `PROBE`: its `[[probe]]` entry, the token
    /// written to `token_file`.
    async fn probe_entry(&self, token_file: &Path) -> String {
        let out = tokio::process::Command::new(sonde_tests::binary_path("scheduler").expect("bin"))
            .args(["token", "create", "--print-config", "--name", PROBE])
            .args(["--region", REGION, "--token-file"])
            .arg(token_file)
            .arg("--config")
            .arg(self.config())
            .output()
            .await
            .expect("token create runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    async fn start(&mut self, logs: &Path) {
        let guard = Spawn::binary("scheduler")
            .expect("scheduler binary")
            .name(self.name)
            .args(["serve", "--config"])
            .arg(self.config())
            .log_dir(logs)
            .start()
            .expect("scheduler starts");
        self.guard = Some(guard);
        wait_for_http(&self.url("/readyz"), LONG)
            .await
            .expect("scheduler ready");
    }

    /// SIGKILL, by the PID this test started.
    async fn kill(&mut self) {
        if let Some(mut g) = self.guard.take() {
            g.kill().await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Ids of the scenario's stored runs; `None` while it does not answer.
    async fn run_ids(&self) -> Option<BTreeSet<String>> {
        let runs = TestClient::new()
            .get(&self.url(&format!("/api/v1/scenarios/{SCENARIO}/runs?limit=500")))
            .await
            .ok()?
            .json()
            .ok()?;
        Some(
            runs["runs"]
                .as_array()?
                .iter()
                .filter_map(|r| r["id"].as_str().map(str::to_owned))
                .collect(),
        )
    }

    /// This replica's view of the probe (`GET /api/v1/probes`).
    async fn probe_seen(&self) -> Option<serde_json::Value> {
        let probes = TestClient::new()
            .get(&self.url("/api/v1/probes"))
            .await
            .ok()?
            .json()
            .ok()?;
        probes["probes"]
            .as_array()?
            .iter()
            .find(|p| p["name"] == PROBE)
            .cloned()
    }
}

/// Two replicas with the same scenario and the same probe token, unless
/// `refuse_at_first`: then the first knows another token for the probe.
struct Pair {
    root: tempfile::TempDir,
    first: Replica,
    second: Replica,
    token: PathBuf,
    _target: RunningTarget,
}

impl Pair {
    async fn start(refuse_at_first: bool) -> Pair {
        let target = TestTarget::new()
            .route("/health", 200, "ok")
            .start()
            .await
            .expect("target");
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(root.path().join("scenarios")).expect("scenarios");
        std::fs::create_dir_all(root.path().join("logs")).expect("logs");
        std::fs::write(
            root.path().join("scenarios").join("ping.toml"),
            simple_scenario(SCENARIO, &target.url("/health"), "1s", &[REGION]),
        )
        .expect("scenario");
        let mut first = Replica::new("scheduler-a", root.path());
        let mut second = Replica::new("scheduler-b", root.path());
        let token = root.path().join("probe.token");
        let entry = first.probe_entry(&token).await;
        second.write_config(root.path(), &entry);
        let first_entry = if refuse_at_first {
            first.probe_entry(&root.path().join("other.token")).await
        } else {
            entry
        };
        first.write_config(root.path(), &first_entry);
        let logs = root.path().join("logs");
        first.start(&logs).await;
        second.start(&logs).await;
        Pair {
            root,
            first,
            second,
            token,
            _target: target,
        }
    }

    fn logs(&self) -> PathBuf {
        self.root.path().join("logs")
    }

    /// `probe agent` with `schedulers` as flags (or, with `from_env`, in
    /// `SONDE_PROBE_SCHEDULER` comma-separated); its metrics port.
    fn agent(&self, from_env: bool) -> (ChildGuard, u16) {
        let port = free_port().expect("port");
        let (a, b) = (self.first.url(""), self.second.url(""));
        let mut spawn = Spawn::binary("probe")
            .expect("probe binary")
            .name(PROBE)
            .args(["agent", "--region", REGION, "--name", PROBE])
            .arg("--token-file")
            .arg(&self.token)
            .arg("--spool-dir")
            .arg(self.root.path().join("spool"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--allow-target", "127.0.0.0/8", "--grace", "5s"])
            .log_dir(self.logs());
        spawn = if from_env {
            spawn.env("SONDE_PROBE_SCHEDULER", format!("{a},{b}"))
        } else {
            spawn
                .env_remove("SONDE_PROBE_SCHEDULER")
                .args(["--scheduler", &a, "--scheduler", &b])
        };
        (spawn.start().expect("agent starts"), port)
    }
}

async fn scrape(port: u16) -> Option<Scrape> {
    let resp = TestClient::new()
        .get(&format!("http://127.0.0.1:{port}/metrics"))
        .await
        .ok()?;
    Some(Scrape::parse(&resp.text()))
}

async fn agent_sum(port: u16, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    Some(scrape(port).await?.sum(name, labels).unwrap_or(0.0))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_moves_to_the_second_scheduler_when_the_first_is_killed_and_loses_no_run() {
    let _one_fleet = one_fleet_at_a_time().await;
    let mut pair = Pair::start(false).await;
    let (mut agent, port) = pair.agent(false);

    eventually("three runs stored by the first scheduler", LONG, || async {
        (pair.first.run_ids().await?.len() >= 3).then_some(())
    })
    .await;
    let first_before = pair.first.run_ids().await.unwrap_or_default();
    pair.first.kill().await;

    eventually(
        "three runs stored by the second scheduler",
        LONG,
        || async { (pair.second.run_ids().await?.len() >= 3).then_some(()) },
    )
    .await;
    // The plan comes from the second now: it saw the probe's plan requests.
    let seen = pair.second.probe_seen().await.expect("probe at the second");
    assert!(seen["version"].is_string(), "{seen}");
    assert_eq!(seen["assigned"], serde_json::json!([SCENARIO]), "{seen}");
    let scrape_now = scrape(port).await.expect("agent metrics");
    let up = |url: &str| scrape_now.sum("sonde_agent_scheduler_up", &[("scheduler", url)]);
    assert_eq!(up(&pair.first.url("/")), Some(0.0));
    assert_eq!(up(&pair.second.url("/")), Some(1.0));
    assert_eq!(
        scrape_now.sum("sonde_agent_scheduler_failovers_total", &[]),
        Some(1.0),
        "one switch, and it stays"
    );

    // Stop the runs (the scenario moves to a region without probes) and
    // wait until the probe delivered all it made.
    let moved = simple_scenario(SCENARIO, "http://127.0.0.1:9/", "1s", &["nowhere"]);
    // Written then renamed, so a reload never reads half a file.
    let scenarios = pair.root.path().join("scenarios");
    std::fs::write(scenarios.join(".ping.toml.tmp"), moved).expect("moved");
    std::fs::rename(
        scenarios.join(".ping.toml.tmp"),
        scenarios.join("ping.toml"),
    )
    .expect("moved");
    let counted = eventually("the probe to stop running and drain", LONG, || async {
        let runs = || agent_sum(port, "sonde_agent_runs_total", &[("scenario", SCENARIO)]);
        let first = runs().await?;
        if agent_sum(port, "sonde_agent_spool_results", &[]).await? > 0.0 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        (runs().await? == first).then_some(first)
    })
    .await;
    agent
        .terminate(Duration::from_secs(15))
        .await
        .expect("agent stops");

    // The first one's store, read back by starting it again elsewhere.
    pair.first.port = free_port().expect("port");
    let entry = std::fs::read_to_string(pair.second.config()).expect("config");
    let probes = entry
        .split_once("[[probe]]")
        .map(|(_, p)| format!("[[probe]]{p}"))
        .unwrap_or_default();
    pair.first.write_config(pair.root.path(), &probes);
    let logs = pair.logs();
    pair.first.start(&logs).await;
    let at_first = pair.first.run_ids().await.expect("runs at the first");
    let at_second = pair.second.run_ids().await.expect("runs at the second");
    assert!(
        first_before.is_subset(&at_first),
        "acknowledged runs survive SIGKILL"
    );
    let union: BTreeSet<&String> = at_first.iter().chain(&at_second).collect();
    assert!(
        union.len() as f64 >= counted,
        "every run counted is stored: {counted} counted, {} at the first, {} at the second, {} in all",
        at_first.len(),
        at_second.len(),
        union.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_refused_only_by_the_first_scheduler_is_reported_not_failed_over() {
    let _one_fleet = one_fleet_at_a_time().await;
    let pair = Pair::start(true).await;
    // The comma-separated variable, as a container would set it.
    let (agent, port) = pair.agent(true);

    eventually("three refused plan requests", LONG, || async {
        let refused = agent.stderr().matches("Plan request refused").count();
        (refused >= 3).then_some(())
    })
    .await;
    let metrics = scrape(port).await.expect("agent metrics");
    assert_eq!(
        metrics.sum("sonde_agent_scheduler_failovers_total", &[]),
        Some(0.0)
    );
    assert_eq!(
        metrics.sum(
            "sonde_agent_scheduler_up",
            &[("scheduler", &pair.first.url("/"))]
        ),
        Some(1.0),
        "the first answers, if with a refusal"
    );
    let seen = pair.second.probe_seen().await;
    assert!(
        seen.as_ref().is_none_or(|p| p["last_seen"].is_null()),
        "the probe never asked the second: {seen:?}"
    );
    assert!(
        agent.stderr().contains("check --token-file"),
        "the log says what to fix"
    );
}
