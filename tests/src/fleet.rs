//! A whole fleet in one test: the built `scheduler` and `probe` binaries as
//! real processes on loopback, configured in a temporary directory, plus
//! helpers to read their APIs and metrics. Suites for the fleet, alerting
//! and the status page start one of these.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::TestClient;
use crate::harness::{ChildGuard, Spawn, free_port, wait_for_http};
use crate::metrics::Scrape;

/// One probe process of the fleet.
#[derive(Debug)]
pub struct FleetProbe {
    pub name: String,
    pub region: String,
    pub port: u16,
    pub spool: PathBuf,
    token_file: PathBuf,
    guard: Option<ChildGuard>,
}

impl FleetProbe {
    /// `http://127.0.0.1:PORT/metrics`.
    pub fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}/metrics", self.port)
    }

    /// Whether the process is running (as far as this harness knows).
    pub fn is_running(&self) -> bool {
        self.guard.is_some()
    }
}

/// What a fleet is made of.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// `(region, name)` of each probe.
    pub probes: Vec<(String, String)>,
    /// Lines added to `scheduler.toml` (e.g. `[[notify]]` blocks).
    pub extra_config: String,
    /// `probe_silence` of the scheduler.
    pub probe_silence: String,
    /// Extra `probe agent` arguments, for every probe.
    pub probe_args: Vec<String>,
    /// Extra environment of every probe, e.g. `SONDE_SECRET_*` (besides
    /// `SONDE_SECRET_SHOP_PASSWORD=demo`).
    pub probe_env: Vec<(String, String)>,
}

impl FleetOptions {
    /// One probe in each of the given regions, named `probe-<region>`.
    pub fn one_probe_per_region(regions: &[&str]) -> Self {
        Self {
            probes: regions
                .iter()
                .map(|r| ((*r).to_string(), format!("probe-{r}")))
                .collect(),
            extra_config: String::new(),
            probe_silence: "3s".into(),
            probe_args: Vec::new(),
            probe_env: Vec::new(),
        }
    }
}

/// A running fleet; every process is stopped when it is dropped.
#[derive(Debug)]
pub struct Fleet {
    pub dir: tempfile::TempDir,
    pub scenarios: PathBuf,
    pub config: PathBuf,
    pub scheduler_port: u16,
    scheduler: Option<ChildGuard>,
    pub probes: Vec<FleetProbe>,
    options: FleetOptions,
    client: TestClient,
}

/// How long a process gets to become ready.
const READY: Duration = Duration::from_secs(20);

impl Fleet {
    /// Writes the scheduler's config and tokens and starts every process.
    /// Scenario files are written into [`Fleet::scenarios`] before the
    /// scheduler starts: `(file name, text)`.
    ///
    /// # Errors
    /// When a binary is missing or a process does not become ready.
    pub async fn start(
        options: FleetOptions,
        scenario_files: &[(&str, String)],
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let scenarios = dir.path().join("scenarios");
        std::fs::create_dir_all(&scenarios)?;
        std::fs::create_dir_all(dir.path().join("logs"))?;
        for (name, text) in scenario_files {
            std::fs::write(scenarios.join(name), text)?;
        }
        let scheduler_port = free_port()?;
        let config = dir.path().join("scheduler.toml");
        let text = format!(
            "listen = \"127.0.0.1:{scheduler_port}\"\ndata_dir = \"{}\"\nscenarios_dir = \"{}\"\nprobe_silence = \"{}\"\n{}\n",
            dir.path().join("data").display(),
            scenarios.display(),
            options.probe_silence,
            options.extra_config
        );
        std::fs::write(&config, text)?;
        let mut fleet = Self {
            dir,
            scenarios,
            config,
            scheduler_port,
            scheduler: None,
            probes: Vec::new(),
            options: options.clone(),
            client: TestClient::new().timeout(Duration::from_secs(10)),
        };
        for (region, name) in &options.probes {
            let token_file = fleet.dir.path().join(format!("token-{name}"));
            let token = fleet
                .scheduler_command(&["token", "create", "--name", name, "--region", region])
                .await?;
            std::fs::write(&token_file, token.trim())?;
            fleet.probes.push(FleetProbe {
                name: name.clone(),
                region: region.clone(),
                port: free_port()?,
                spool: fleet.dir.path().join(format!("spool-{name}")),
                token_file,
                guard: None,
            });
        }
        fleet.start_scheduler().await?;
        for i in 0..fleet.probes.len() {
            fleet.start_probe(i).await?;
        }
        Ok(fleet)
    }

    /// Runs `scheduler ARGS --config <this fleet's>`; its stdout.
    ///
    /// # Errors
    /// When it cannot run or exits non-zero.
    pub async fn scheduler_command(&self, args: &[&str]) -> anyhow::Result<String> {
        let program = crate::binary_path("scheduler")?;
        // `--config` goes last: every subcommand that reads it takes it there.
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args).arg("--config").arg(&self.config);
        let out = cmd.output().await?;
        if !out.status.success() {
            return Err(anyhow::anyhow!(format!(
                "scheduler {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The scheduler's base URL.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.scheduler_port)
    }

    /// Starts the scheduler (again) and waits until it is ready.
    ///
    /// # Errors
    /// When it does not become ready.
    pub async fn start_scheduler(&mut self) -> anyhow::Result<()> {
        let guard = Spawn::binary("scheduler")?
            .name("scheduler")
            .args(["serve", "--config"])
            .arg(&self.config)
            .log_dir(self.dir.path().join("logs"))
            .start()?;
        self.scheduler = Some(guard);
        wait_for_http(&self.url("/readyz"), READY).await?;
        Ok(())
    }

    /// SIGKILLs the scheduler: no drain, no clean close of the store.
    pub async fn kill_scheduler(&mut self) {
        if let Some(mut g) = self.scheduler.take() {
            g.kill().await;
        }
    }

    /// SIGTERMs the scheduler and waits for it to exit.
    ///
    /// # Errors
    /// When it does not exit within the grace.
    pub async fn stop_scheduler(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        match self.scheduler.take() {
            Some(mut g) => Ok(g.terminate(Duration::from_secs(15)).await?),
            None => Err(anyhow::anyhow!("scheduler is not running")),
        }
    }

    /// Starts probe `i` (again) and waits until its metrics answer.
    ///
    /// # Errors
    /// When it does not become live.
    pub async fn start_probe(&mut self, i: usize) -> anyhow::Result<()> {
        let scheduler = self.url("");
        let p = &mut self.probes[i];
        let mut spawn = Spawn::binary("probe")?;
        for (key, value) in &self.options.probe_env {
            spawn = spawn.env(key, value);
        }
        let guard = spawn
            .name(&p.name)
            .args([
                "agent",
                "--scheduler",
                &scheduler,
                "--region",
                &p.region,
                "--name",
                &p.name,
            ])
            .arg("--token-file")
            .arg(&p.token_file)
            .arg("--spool-dir")
            .arg(&p.spool)
            .args([
                "--listen",
                &format!("127.0.0.1:{}", p.port),
                "--allow-target",
                "127.0.0.0/8",
                "--grace",
                "5s",
            ])
            .args(self.options.probe_args.iter())
            .env("SONDE_SECRET_SHOP_PASSWORD", "demo")
            .log_dir(self.dir.path().join("logs"))
            .start()?;
        p.guard = Some(guard);
        wait_for_http(&format!("http://127.0.0.1:{}/livez", p.port), READY).await?;
        Ok(())
    }

    /// SIGKILLs probe `i`.
    pub async fn kill_probe(&mut self, i: usize) {
        if let Some(mut g) = self.probes[i].guard.take() {
            g.kill().await;
        }
    }

    /// SIGTERMs probe `i` and waits for it to exit.
    ///
    /// # Errors
    /// When it does not exit within the grace.
    pub async fn stop_probe(&mut self, i: usize) -> anyhow::Result<std::process::ExitStatus> {
        match self.probes[i].guard.take() {
            Some(mut g) => Ok(g.terminate(Duration::from_secs(15)).await?),
            None => Err(anyhow::anyhow!("probe is not running")),
        }
    }

    /// `GET` a scheduler path as JSON.
    ///
    /// # Errors
    /// When the request fails or the body is not JSON.
    pub async fn get_json(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let resp = self.client.get(&self.url(path)).await?;
        resp.json().map_err(anyhow::Error::from)
    }

    /// Scrapes a `/metrics` URL in the classic text format.
    ///
    /// # Errors
    /// When the request fails.
    pub async fn scrape(&self, url: &str) -> anyhow::Result<Scrape> {
        let resp = self.client.get(url).await?;
        Ok(Scrape::parse(&resp.text()))
    }

    /// Writes (or replaces) a scenario file.
    ///
    /// # Errors
    /// When it cannot be written.
    pub fn write_scenario(&self, name: &str, text: &str) -> std::io::Result<PathBuf> {
        let path = self.scenarios.join(name);
        // Write then rename, as an editor or `git checkout` would.
        let tmp = self.scenarios.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    }

    /// The fleet's log directory (kept when a test fails).
    pub fn logs(&self) -> PathBuf {
        self.dir.path().join("logs")
    }
}

/// Polls `check` until it returns `Some`, or fails after `deadline` with
/// `what` in the message.
///
/// # Panics
/// When the deadline passes: a test's way of saying what never happened.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "timed out after {deadline:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A scenario file text for the fleet's tests: one GET on `url` every
/// `interval`, in `regions`.
pub fn simple_scenario(name: &str, url: &str, interval: &str, regions: &[&str]) -> String {
    let regions: Vec<String> = regions.iter().map(|r| format!("\"{r}\"")).collect();
    format!(
        "name = \"{name}\"\ninterval = \"{interval}\"\nregions = [{}]\n\n[[steps]]\nname = \"get\"\nget = \"{url}\"\nexpect = [\"status == 200\"]\n",
        regions.join(", ")
    )
}

/// Path of a file in the fleet's directory.
pub fn in_dir(fleet: &Fleet, name: &str) -> PathBuf {
    Path::new(fleet.dir.path()).join(name)
}
