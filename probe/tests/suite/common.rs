//! Shared set-up of the probe's integration tests.

use std::sync::Arc;

use probe::net::{Net, NetConfig, TargetGuard};
use probe::run::Runner;
use probe::secrets::Secrets;
use scenarios::Scenario;
use scenarios::load::{MapFiles, parse_scenario};

/// A runner for `region`, with the given secrets and the test CA trusted.
pub fn runner(region: &str, secrets: &[(&str, &str)]) -> Runner {
    let config = NetConfig {
        resolver: None,
        guard: TargetGuard {
            enabled: false,
            allow: Vec::new(),
        },
        extra_roots_pem: vec![sonde_tests::ca_pem().as_bytes().to_vec()],
        user_agent: probe::run::USER_AGENT.to_string(),
    };
    Runner {
        net: Arc::new(Net::new(config).expect("network layer")),
        secrets: Arc::new(Secrets::from_pairs(
            secrets.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )),
        region: region.to_string(),
        probe: "test-probe".to_string(),
        evidence_bytes: scenarios::wire::EVIDENCE_BODY_BYTES,
        traces: None,
        browser: None,
    }
}

/// Parses scenario text, panicking with the rendered diagnostics.
pub fn scenario(text: &str) -> Scenario {
    match parse_scenario("test.toml", text.as_bytes(), &MapFiles::default()) {
        Ok(s) => s,
        Err(invalid) => panic!("{}", invalid.render(scenarios::diagnostic::Style::Plain)),
    }
}

/// An example journey pointed at `base` instead of the fleet's demo shop.
pub fn example(name: &str, base: &str) -> Scenario {
    let path = format!(
        "{}/../scenarios/examples/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("example exists");
    scenario(&text.replace("http://127.0.0.1:9480", base.trim_end_matches('/')))
}

/// A target at `http://127.0.0.1:PORT/` that answers 503 to its first
/// request and 200 to every later one, each on its own connection.
pub async fn failing_once() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut seen = 0;
        while let Ok((mut conn, _)) = listener.accept().await {
            seen += 1;
            let status = if seen == 1 {
                "503 Service Unavailable"
            } else {
                "200 OK"
            };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let reply =
                format!("HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
            let _ = conn.write_all(reply.as_bytes()).await;
        }
    });
    addr
}

/// `probe run --format json` of a one-step scenario file `text`, with
/// `extra` arguments and `env`: the step's result and the whole stdout.
pub async fn probe_run_step(
    text: String,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (serde_json::Value, String) {
    probe_run_step_via(&[], text, extra, env).await
}

/// As [`probe_run_step`], with the probe started by `launcher` (a command
/// and its arguments, the probe's path and arguments appended), such as
/// `unshare -n …` for a network namespace of its own.
pub async fn probe_run_step_via(
    launcher: &[&str],
    text: String,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (serde_json::Value, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("s.toml");
    std::fs::write(&file, text).expect("write");
    let probe = env!("CARGO_BIN_EXE_probe");
    let mut command = match launcher.split_first() {
        None => std::process::Command::new(probe),
        Some((program, args)) => {
            let mut c = std::process::Command::new(program);
            c.args(args).arg(probe);
            c
        }
    };
    command
        .envs(env.iter().copied())
        .args(["run", "--format", "json"])
        .args(extra)
        .arg(&file);
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("joined")
        .expect("probe runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no result line; stderr: {stderr}"));
    let result: serde_json::Value = serde_json::from_str(line).expect("json result");
    (result["steps"][0].clone(), stdout)
}
