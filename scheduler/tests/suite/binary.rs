//! The built `scheduler` binary: token commands, validate, serve with a
//! clean SIGTERM, restart with the data kept, TLS and `health`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hyper::Method;
use sonde_tests::{Spawn, TestClient, TlsKind, free_port, test_ca, wait_for_http};

const BIN: &str = env!("CARGO_BIN_EXE_scheduler");

/// A scheduler's directory (one scenario) and the real binary run on it.
pub(crate) struct Fleet {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) port: u16,
}

impl Fleet {
    pub(crate) fn new(extra: &str) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("scenarios")).unwrap();
        std::fs::write(
            dir.path().join("scenarios/checkout.toml"),
            crate::common::CHECKOUT,
        )
        .unwrap();
        let port = free_port().unwrap();
        let config = format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\nscenarios_dir = \"scenarios\"\nshutdown_grace = \"5s\"\n{extra}"
        );
        std::fs::write(dir.path().join("scheduler.toml"), config).unwrap();
        Fleet { dir, port }
    }

    pub(crate) fn config(&self) -> PathBuf {
        self.dir.path().join("scheduler.toml")
    }

    pub(crate) fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(self.config())
            .output()
            .unwrap()
    }

    pub(crate) fn serve(&self) -> sonde_tests::ChildGuard {
        Spawn::new(BIN)
            .name("scheduler")
            .arg("--config")
            .arg(self.config())
            .start()
            .unwrap()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

pub(crate) fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn data_bytes(dir: &Path) -> Vec<u8> {
    crate::common::all_bytes(&dir.join("data"))
}

#[test]
fn token_create_prints_the_token_once_and_stores_only_its_hash() {
    let f = Fleet::new("");
    let out = f.cli(&[
        "token",
        "create",
        "--name",
        "p-eu-1",
        "--region",
        "eu-west-1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = stdout(&out);
    assert_eq!(printed.lines().count(), 1, "{printed:?}");
    let token = printed.trim();
    assert!(token.starts_with("sonde_") && token.len() == 70, "{token}");
    let bytes = data_bytes(f.dir.path());
    let find = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(!find(token), "the token itself is in the store");
    assert!(
        find(&scheduler::auth::token_sha256(token)),
        "the hash is not in the store"
    );

    let list = stdout(&f.cli(&["token", "list"]));
    assert!(
        list.contains("p-eu-1") && list.contains("eu-west-1"),
        "{list}"
    );
    assert!(!list.contains(token));

    let operator = f.cli(&["token", "create", "--operator", "--name", "alice"]);
    assert!(operator.status.success());
    assert_eq!(stdout(&operator).lines().count(), 1);

    let revoke = f.cli(&["token", "revoke", "--name", "p-eu-1"]);
    assert!(revoke.status.success());
    assert!(String::from_utf8_lossy(&revoke.stderr).contains("revoked 1"));

    // The audit log has each of them, done from the command line.
    let store = rusqlite::Connection::open(f.dir.path().join("data/sonde.db")).unwrap();
    let audit: Vec<(String, String, String)> = store
        .prepare("SELECT actor, action, target FROM audit ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let cli = |action: &str, target: &str| {
        (
            "command line".to_owned(),
            action.to_owned(),
            target.to_owned(),
        )
    };
    assert_eq!(
        audit,
        [
            cli("token.create", "p-eu-1"),
            cli("token.create", "alice"),
            cli("token.revoke", "p-eu-1")
        ]
    );

    let entry = f.cli(&[
        "token",
        "create",
        "--print-config",
        "--name",
        "p-us-1",
        "--region",
        "us-east-1",
    ]);
    let text = stdout(&entry);
    assert!(
        text.starts_with("[[probe]]\nname = \"p-us-1\"\nregion = \"us-east-1\"\ntoken_sha256 = \""),
        "{text}"
    );
    assert!(!text.contains("sonde_"));
    assert!(String::from_utf8_lossy(&entry.stderr).contains("sonde_"));

    let bad = f.cli(&["token", "create", "--name", "Bad Name", "--region", "eu"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn validate_exits_0_for_valid_and_2_for_invalid() {
    let f = Fleet::new("");
    let ok = f.cli(&["validate"]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    std::fs::write(
        f.dir.path().join("scenarios/bad.toml"),
        "name = \"bad\"\ninterval = \"1x\"\n",
    )
    .unwrap();
    let bad = f.cli(&["validate"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("bad.toml:2:"), "{err}");
    assert!(stdout(&bad).is_empty());

    std::fs::write(
        f.config(),
        "data_dir = \"d\"\nscenarios_dir = \"scenarios\"\nlisten_adress = \"x\"\n",
    )
    .unwrap();
    let bad = f.cli(&["validate"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("scheduler.toml:3:1"));
    let serve = Command::new(BIN)
        .arg("--config")
        .arg(f.config())
        .output()
        .unwrap();
    assert_eq!(serve.status.code(), Some(2));
}

#[tokio::test]
async fn serve_ingest_sigterm_and_restart() {
    serve_ingest_sigterm_and_restart_with(&Fleet::new("")).await;
}

#[tokio::test]
async fn serve_ingest_sigterm_and_restart_on_postgres() {
    let Some(url) = crate::postgres_kit::fresh_database("serve_ingest_sigterm_and_restart") else {
        return;
    };
    let f = Fleet::new(&format!(
        "database_url = \"postgres://postgres@127.0.0.1:{}/{}\"\n",
        url.port, url.dbname
    ));
    serve_ingest_sigterm_and_restart_with(&f).await;
    let server = crate::postgres_kit::server().unwrap();
    assert_eq!(
        server.psql(&url.dbname, "SELECT COUNT(*) FROM results"),
        "1"
    );
    assert!(
        !f.dir.path().join("data/sonde.db").exists(),
        "the results went to PostgreSQL only"
    );
}

/// Token create, serve, plan, ingest, SIGTERM, restart: the run and its
/// metrics come back from the store.
async fn serve_ingest_sigterm_and_restart_with(f: &Fleet) {
    let token = stdout(&f.cli(&[
        "token",
        "create",
        "--name",
        "p-eu-1",
        "--region",
        "eu-west-1",
    ]))
    .trim()
    .to_owned();
    let mut child = f.serve();
    wait_for_http(&f.url("/readyz"), Duration::from_secs(20))
        .await
        .unwrap();
    let client = TestClient::new().timeout(Duration::from_secs(5));
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("x-sonde-probe", "p-eu-1"),
        ("x-sonde-region", "eu-west-1"),
    ];
    let plan = client
        .request(Method::GET, &f.url("/api/v1/plan"), &headers, None)
        .await
        .unwrap();
    assert_eq!(plan.status, 200);
    assert_eq!(plan.json().unwrap()["scenarios"][0]["name"], "checkout");
    let body = crate::common::batch(&[crate::common::result(
        "checkout",
        "p-eu-1",
        "eu-west-1",
        "success",
        chrono::Utc::now(),
    )]);
    let ack = client
        .request(
            Method::POST,
            &f.url("/api/v1/results"),
            &headers,
            Some(body.into()),
        )
        .await
        .unwrap();
    assert_eq!(ack.status, 200, "{}", ack.text());
    assert_eq!(ack.json().unwrap()["accepted"].as_array().unwrap().len(), 1);

    let health = Command::new(BIN)
        .args(["health", &f.url("/readyz")])
        .output()
        .unwrap();
    assert_eq!(health.status.code(), Some(0));

    let status = child.terminate(Duration::from_secs(10)).await.unwrap();
    assert!(status.success(), "exit {status:?}\n{}", child.stderr());
    let logs = child.stderr();
    assert!(logs.contains("\"Store closed.\""), "{logs}");
    assert!(
        logs.lines().all(|l| l.starts_with('{')),
        "not JSON logs:\n{logs}"
    );
    let down = Command::new(BIN)
        .args(["health", &f.url("/readyz")])
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1));

    let _child = f.serve();
    wait_for_http(&f.url("/readyz"), Duration::from_secs(20))
        .await
        .unwrap();
    let runs = client
        .get(&f.url("/api/v1/scenarios/checkout/runs"))
        .await
        .unwrap();
    assert_eq!(runs.json().unwrap()["runs"].as_array().unwrap().len(), 1);
    let metrics = client.get(&f.url("/metrics")).await.unwrap().text();
    assert!(
        metrics.contains("sonde_scenario_success{scenario=\"checkout\",region=\"eu-west-1\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn tls_on_the_listener() {
    let leaf = test_ca().leaf(TlsKind::Valid).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cert.pem"),
        format!("{}{}", leaf.cert_pem, sonde_tests::ca_pem()),
    )
    .unwrap();
    std::fs::write(dir.path().join("key.pem"), &leaf.key_pem).unwrap();
    let ca = sonde_tests::write_ca_pem(dir.path()).unwrap();
    let extra = format!(
        "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
        dir.path().join("cert.pem").display(),
        dir.path().join("key.pem").display()
    );
    let f = Fleet::new(&extra);
    let mut child = f.serve();
    let url = format!("https://localhost:{}/readyz", f.port);
    wait_for_http(&url, Duration::from_secs(20)).await.unwrap();
    let health = Command::new(BIN)
        .args(["health", &url, "--ca-file"])
        .arg(&ca)
        .output()
        .unwrap();
    assert_eq!(
        health.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&health.stderr)
    );
    assert!(
        child
            .terminate(Duration::from_secs(10))
            .await
            .unwrap()
            .success()
    );
}
