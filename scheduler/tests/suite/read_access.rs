//! `read_access = "token"` on the real binary: the status page, the read
//! API and `/metrics` need a viewer or operator token (Bearer, or HTTP
//! Basic with the token as the password), a missing one is challenged so
//! a browser prompts, a probe token is refused; health checks stay open,
//! viewers cannot write or read the audit log, and Prometheus scrapes with
//! `basic_auth`. The default, `open`, changes nothing.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use sonde_tests::wait_for_http;

use crate::binary::{Fleet, stdout};

/// One path of each read route.
const READS: [&str; 15] = [
    "/",
    "/scenarios/checkout",
    "/status.js",
    "/api/v1/scenarios",
    "/api/v1/scenarios/checkout",
    "/api/v1/scenarios/checkout/runs",
    "/api/v1/alerts",
    "/api/v1/silences",
    "/api/v1/maintenance",
    "/api/v1/reports/alerts",
    "/api/v1/reports/uptime",
    "/api/v1/reports/uptime?format=csv",
    "/api/v1/catalog",
    "/api/v1/probes",
    "/metrics",
];

/// How a request presents its token.
#[derive(Debug, Clone, Copy)]
enum Credentials<'a> {
    None,
    Bearer(&'a str),
    /// HTTP Basic, the token as the password.
    Basic(&'a str),
}

struct Running {
    fleet: Fleet,
    _scheduler: sonde_tests::ChildGuard,
    client: reqwest::Client,
}

impl Running {
    async fn start(fleet: Fleet) -> Running {
        let scheduler = fleet.serve();
        wait_for_http(&fleet.url("/readyz"), Duration::from_secs(20))
            .await
            .unwrap();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Running {
            fleet,
            _scheduler: scheduler,
            client,
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        credentials: Credentials<'_>,
    ) -> reqwest::Response {
        let request = self.client.request(method, self.fleet.url(path));
        let request = match credentials {
            Credentials::None => request,
            Credentials::Bearer(token) => request.bearer_auth(token),
            Credentials::Basic(token) => request.basic_auth("anyone", Some(token)),
        };
        request.send().await.unwrap()
    }

    async fn get(&self, path: &str, credentials: Credentials<'_>) -> reqwest::Response {
        self.send(reqwest::Method::GET, path, credentials).await
    }
}

/// Creates a token with `scheduler token create ARGS` and returns it.
fn create_token(fleet: &Fleet, args: &[&str]) -> String {
    let out = fleet.cli(&[&["token", "create"], args].concat());
    assert!(
        out.status.success(),
        "token create {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out).trim().to_owned()
}

struct Tokens {
    viewer: String,
    operator: String,
    probe: String,
}

fn tokens(fleet: &Fleet) -> Tokens {
    Tokens {
        viewer: create_token(fleet, &["--viewer", "--name", "grafana"]),
        operator: create_token(fleet, &["--operator", "--name", "ops"]),
        probe: create_token(fleet, &["--name", "p-eu", "--region", "eu-west-1"]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_token_read_access_every_read_needs_a_viewer_or_operator_token() {
    let fleet = Fleet::new("read_access = \"token\"\n");
    let t = tokens(&fleet);
    let listed = stdout(&fleet.cli(&["token", "list"]));
    let grafana = listed.lines().find(|l| l.contains("grafana")).unwrap();
    assert!(grafana.contains("viewer"), "{listed}");
    let s = Running::start(fleet).await;

    for path in READS {
        let r = s.get(path, Credentials::None).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
        let challenge = r.headers().get("www-authenticate").unwrap();
        assert_eq!(challenge, "Basic realm=\"sonde\"", "{path}");
        if path.starts_with("/api/") {
            let body: Value = r.json().await.unwrap();
            let error = body["error"].as_str().unwrap();
            assert!(error.contains("missing token"), "{path}: {error}");
        }
        let unknown = scheduler::auth::generate_token().unwrap();
        let r = s.get(path, Credentials::Bearer(&unknown)).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");

        for (who, credentials) in [
            ("viewer, Bearer", Credentials::Bearer(&t.viewer)),
            ("viewer, Basic", Credentials::Basic(&t.viewer)),
            ("operator, Bearer", Credentials::Bearer(&t.operator)),
            ("operator, Basic", Credentials::Basic(&t.operator)),
        ] {
            let r = s.get(path, credentials).await;
            assert_eq!(r.status(), StatusCode::OK, "{path} as {who}");
        }

        let r = s.get(path, Credentials::Bearer(&t.probe)).await;
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "{path} with a probe token"
        );
    }

    // A browser that logged in with Basic sees the page, whose script
    // refreshes it from its own address (same origin: the browser sends
    // the same credentials).
    let script = s.get("/status.js", Credentials::Basic(&t.viewer)).await;
    let script = script.text().await.unwrap();
    assert!(script.contains("fetch(location.href"), "{script}");

    for path in ["/readyz", "/livez"] {
        let r = s.get(path, Credentials::None).await;
        assert_eq!(r.status(), StatusCode::OK, "{path} stays open");
    }

    // Viewers read; writes and the audit log stay the operators'.
    let r = s
        .send(
            reqwest::Method::POST,
            "/api/v1/silences",
            Credentials::Bearer(&t.viewer),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("a viewer token"),
        "{body}"
    );
    let r = s.get("/api/v1/audit", Credentials::Basic(&t.viewer)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = s.get("/api/v1/audit", Credentials::Bearer(&t.probe)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The probe protocol keeps its own rules.
    let r = s
        .client
        .get(s.fleet.url("/api/v1/plan"))
        .bearer_auth(&t.probe)
        .header("x-sonde-probe", "p-eu")
        .header("x-sonde-region", "eu-west-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Operator endpoints take Basic too; the viewer's creation is audited.
    let silence = serde_json::json!({"scenario": "checkout", "duration": "1h", "comment": "CHG-7"});
    let r = s
        .client
        .post(s.fleet.url("/api/v1/silences"))
        .basic_auth("alice", Some(&t.operator))
        .json(&silence)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = s
        .get("/api/v1/audit", Credentials::Basic(&t.operator))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let created = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "token.create" && e["target"] == "grafana");
    assert_eq!(
        created.map(|e| (&e["actor"], &e["detail"])),
        Some((&Value::from("command line"), &Value::from("viewer"))),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_read_access_needs_no_token() {
    let fleet = Fleet::new("");
    let probe = create_token(&fleet, &["--name", "p-eu", "--region", "eu-west-1"]);
    let viewer = create_token(&fleet, &["--viewer", "--name", "grafana"]);
    let s = Running::start(fleet).await;
    for path in READS {
        let r = s.get(path, Credentials::None).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let r = s.get(path, Credentials::Bearer(&probe)).await;
        assert_eq!(r.status(), StatusCode::OK, "{path} ignores a probe token");
    }
    let r = s.get("/api/v1/audit", Credentials::Bearer(&viewer)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[test]
fn a_viewer_token_is_neither_an_operator_nor_a_probe_token() {
    let fleet = Fleet::new("");
    for args in [
        &["--viewer", "--operator", "--name", "x"][..],
        &["--viewer", "--name", "x", "--region", "eu-west-1"][..],
        &["--viewer", "--print-config", "--name", "x"][..],
    ] {
        let out = fleet.cli(&[&["token", "create"], args].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("cannot be used with"), "{args:?}: {stderr}");
        assert!(stdout(&out).is_empty(), "no token printed for {args:?}");
    }
    let listed = stdout(&fleet.cli(&["token", "list"]));
    assert_eq!(listed.lines().count(), 1, "only the heading: {listed}");
}

/// Prometheus (Debian's `prometheus`) scraping the scheduler twice: with
/// `basic_auth` and a viewer token the target is up; without credentials
/// it is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_with_basic_auth_and_a_viewer_token() {
    let program = std::env::var("PROMETHEUS").unwrap_or_else(|_| "prometheus".to_owned());
    if let Err(e) = std::process::Command::new(&program)
        .arg("--version")
        .output()
    {
        eprintln!(
            "note: {program} is not available ({e}); install Debian `prometheus` to run this"
        );
        return;
    }
    let fleet = Fleet::new("read_access = \"token\"\n");
    let viewer = create_token(&fleet, &["--viewer", "--name", "prometheus"]);
    let s = Running::start(fleet).await;
    let dir = s.fleet.dir.path().join("prometheus");
    std::fs::create_dir_all(&dir).unwrap();
    let target = format!("127.0.0.1:{}", s.fleet.port);
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n\
         \x20 - job_name: with-viewer\n\
         \x20   basic_auth: {{username: x, password: {viewer}}}\n\
         \x20   static_configs: [{{targets: [\"{target}\"]}}]\n\
         \x20 - job_name: anonymous\n\
         \x20   static_configs: [{{targets: [\"{target}\"]}}]\n"
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let port = sonde_tests::free_port().unwrap();
    let _prometheus = sonde_tests::Spawn::new(&program)
        .name("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .start()
        .unwrap();

    let query = format!("http://127.0.0.1:{port}/api/v1/query?query=up");
    let end = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut last = Value::Null;
    loop {
        if let Ok(r) = s.client.get(&query).send().await
            && let Ok(body) = r.json::<Value>().await
        {
            let up = |job: &str| {
                body["data"]["result"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|r| r["metric"]["job"] == job)
                    .map(|r| r["value"][1].clone())
            };
            if up("with-viewer") == Some("1".into()) && up("anonymous") == Some("0".into()) {
                return;
            }
            last = body;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "Prometheus never saw `up` 1 with the viewer token and 0 without: {last}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
