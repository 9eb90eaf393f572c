//! Shared set-up of the scheduler benchmarks: the release `scheduler`
//! binary in a temp dir with its scenarios and config, probe tokens made
//! by its own CLI, and the process started and waited for.

// Each bench compiles this module on its own and uses part of it.
#![allow(dead_code)]

pub mod load;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A scheduler set up in a temp dir, not started yet.
pub struct BenchScheduler {
    _dir: tempfile::TempDir,
    config: PathBuf,
    pub addr: SocketAddr,
}

impl BenchScheduler {
    /// Writes `scenarios` (file name, text) and a `scheduler.toml` that
    /// listens on a free loopback port, followed by `extra_config`.
    pub fn new(scenarios: &[(&str, &str)], extra_config: &str) -> BenchScheduler {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("scenarios")).expect("scenarios dir");
        for (file, text) in scenarios {
            std::fs::write(dir.path().join("scenarios").join(file), text).expect("scenario");
        }
        let port = sonde_tests::free_port().expect("port");
        let config = dir.path().join("scheduler.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\nscenarios_dir = \"scenarios\"\n{extra_config}"
            ),
        )
        .expect("config");
        BenchScheduler {
            _dir: dir,
            config,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// The SQLite file the scheduler writes.
    pub fn store_path(&self) -> PathBuf {
        self.config.with_file_name("data").join("sonde.db")
    }

    /// A probe token from `scheduler token create`.
    pub fn token(&self, name: &str, region: &str) -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_scheduler"))
            .args(["token", "create", "--name", name, "--region", region])
            .arg("--config")
            .arg(&self.config)
            .output()
            .expect("scheduler token create runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf-8 token")
            .trim()
            .to_owned()
    }

    /// Starts the scheduler (logging warnings only) and waits until ready.
    pub async fn start(&self) -> sonde_tests::ChildGuard {
        let server = sonde_tests::Spawn::new(env!("CARGO_BIN_EXE_scheduler"))
            .arg("--config")
            .arg(&self.config)
            .env("SONDE_LOG", "warn")
            .start()
            .expect("scheduler starts");
        sonde_tests::wait_for_http(
            &format!("http://{}/readyz", self.addr),
            Duration::from_secs(20),
        )
        .await
        .expect("scheduler ready");
        server
    }
}
