//! Shared set-up for the scheduler's tests: a real store and scenario
//! directory in a temp dir, an injected clock, tokens, result fixtures and
//! requests through the router with `oneshot`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, TimeZone, Utc};
use http_body_util::BodyExt;
use scheduler::auth::{generate_token, token_sha256};
use scheduler::store::tokens::TokenRow;
use scheduler::{App, Config, ManualClock};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// A scenario that runs in two named regions, with a TLS step.
pub const CHECKOUT: &str = r#"name = "checkout"
interval = "30s"
regions = ["eu-west-1", "us-east-1"]

[[steps]]
name = "home"
get = "http://127.0.0.1:9/"
expect = ["status == 200"]

[[steps]]
name = "certificate"
kind = "tls"
address = "127.0.0.1:9443"
expect = ["cert_expiry > 30d"]
"#;

/// A scenario for every region with a probe.
pub const HEALTH: &str = r#"name = "health"
interval = "15s"

[[steps]]
name = "healthz"
get = "http://127.0.0.1:9/healthz"
expect = ["status == 200"]
"#;

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0)
        .single()
        .unwrap()
}

/// A scheduler under test.
pub struct TestApp {
    pub dir: tempfile::TempDir,
    pub clock: ManualClock,
    pub app: Arc<App>,
    pub shutdown: CancellationToken,
}

impl TestApp {
    /// Scenarios `checkout.toml` and `health.toml`, a fresh store.
    pub async fn new() -> TestApp {
        Self::with(|_| {}).await
    }

    /// Like [`TestApp::new`] with the config adjusted by `tune`.
    pub async fn with(tune: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("scenarios")).unwrap();
        std::fs::write(dir.path().join("scenarios/checkout.toml"), CHECKOUT).unwrap();
        std::fs::write(dir.path().join("scenarios/health.toml"), HEALTH).unwrap();
        let mut config = Config::with_dirs(dir.path().join("data"), dir.path().join("scenarios"));
        // Tests stamp runs at t0 + n while the injected clock stays put
        // unless a window needs it to move; `clock_skew` tests set the limit.
        config.max_clock_skew = std::time::Duration::from_secs(365 * 86_400);
        config.database_url = crate::store_kit::database_from_env("a TestApp");
        tune(&mut config);
        Self::open(dir, ManualClock::new(t0()), config).await
    }

    async fn open(dir: tempfile::TempDir, clock: ManualClock, config: Config) -> TestApp {
        let shutdown = CancellationToken::new();
        let app = App::open(config, Arc::new(clock.clone()), shutdown.clone())
            .await
            .unwrap();
        TestApp {
            dir,
            clock,
            app,
            shutdown,
        }
    }

    /// Closes this scheduler's store and opens a new scheduler on the same
    /// directories (a restart).
    pub async fn restart(self) -> TestApp {
        let TestApp {
            dir,
            clock,
            app,
            shutdown,
        } = self;
        shutdown.cancel();
        // As `scheduler serve` does on the way out: a scheduler on
        // PostgreSQL gives up its leader lease, so the new one leads.
        app.release_lease().await;
        app.store.close().await;
        let config = (*app.config).clone();
        drop(app);
        Self::open(dir, clock, config).await
    }

    pub fn scenarios_dir(&self) -> PathBuf {
        self.dir.path().join("scenarios")
    }

    pub fn write_scenario(&self, file: &str, text: &str) {
        std::fs::write(self.scenarios_dir().join(file), text).unwrap();
    }

    /// Stores a probe token and returns it.
    pub async fn probe_token(&self, name: &str, region: &str) -> String {
        self.token(name, Some(region), "probe").await
    }

    pub async fn operator_token(&self, name: &str) -> String {
        self.token(name, None, "operator").await
    }

    async fn token(&self, name: &str, region: Option<&str>, kind: &str) -> String {
        let token = generate_token().unwrap();
        let row = TokenRow {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.to_owned(),
            region: region.map(str::to_owned),
            kind: kind.to_owned(),
            sha256: token_sha256(&token),
            created_at: 0,
            revoked_at: None,
        };
        self.app
            .store
            .write(move |tx| tx.insert_token(&row))
            .await
            .unwrap();
        token
    }

    pub async fn stored_results(&self) -> i64 {
        self.app.store.read(|tx| tx.count_results()).await.unwrap()
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let router = scheduler::api::router(Arc::clone(&self.app));
        let response = router.oneshot(request).await.unwrap();
        Reply::read(response).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    /// `GET /api/v1/plan` as probe `name` in `region`.
    pub async fn plan(
        &self,
        token: &str,
        name: &str,
        region: &str,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut req = Request::get(
            extra
                .iter()
                .find(|(k, _)| *k == "uri")
                .map_or("/api/v1/plan", |(_, v)| v),
        );
        req = probe_headers(req, token, name, region);
        for (k, v) in extra.iter().filter(|(k, _)| *k != "uri") {
            req = req.header(*k, *v);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    /// `POST /api/v1/results` with `body` as probe `name` in `region`.
    pub async fn post_results(
        &self,
        token: &str,
        name: &str,
        region: &str,
        body: impl Into<Body>,
    ) -> Reply {
        let req = probe_headers(Request::post("/api/v1/results"), token, name, region)
            .header("content-type", "application/json");
        self.send(req.body(body.into()).unwrap()).await
    }

    pub async fn scrape(&self, accept: Option<&str>) -> Reply {
        let mut req = Request::get("/metrics");
        if let Some(accept) = accept {
            req = req.header("accept", accept);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }
}

pub fn probe_headers(
    req: axum::http::request::Builder,
    token: &str,
    name: &str,
    region: &str,
) -> axum::http::request::Builder {
    req.header("authorization", format!("Bearer {token}"))
        .header("x-sonde-probe", name)
        .header("x-sonde-region", region)
}

/// A response read to its end.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: bytes::Bytes,
}

impl Reply {
    pub async fn read(response: axum::response::Response) -> Reply {
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A run result of `scenario` from `probe` in `region`, started at `at`.
pub fn result(
    scenario: &str,
    probe: &str,
    region: &str,
    outcome: &str,
    at: DateTime<Utc>,
) -> serde_json::Value {
    let id = uuid::Uuid::now_v7();
    let time = |t: DateTime<Utc>| scenarios::wire::time::format(&t);
    let passed = outcome == "success";
    serde_json::json!({
        "id": id, "scenario": scenario, "version": "sha256:00", "probe": probe, "region": region,
        "scheduled_at": time(at), "started_at": time(at + chrono::Duration::milliseconds(4)),
        "duration_ms": 120.5, "outcome": outcome, "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "run_request": null,
        "steps": [
            {"name": "home", "kind": "http", "status": if passed { "passed" } else { "failed" }, "duration_ms": 80.25,
             "phases": {"dns_ms": null, "connect_ms": 0.5, "tls_ms": null, "ttfb_ms": 70.0, "transfer_ms": 9.75},
             "http": {"method": "GET", "url": "http://127.0.0.1:9/", "status": if passed { 200 } else { 500 }, "version": "HTTP/1.1"},
             "tls": null, "assertions": [{"expr": "status == 200", "passed": passed, "expected": "200", "actual": if passed { "200" } else { "500" }}],
             "captures": [], "error": null},
            {"name": "certificate", "kind": "tls", "status": if passed { "passed" } else { "skipped" },
             "duration_ms": if passed { serde_json::json!(30.0) } else { serde_json::Value::Null },
             "phases": if passed { serde_json::json!({"dns_ms": null, "connect_ms": 0.4, "tls_ms": 20.0, "ttfb_ms": null, "transfer_ms": null}) } else { serde_json::Value::Null },
             "http": null,
             "tls": if passed { serde_json::json!({"version": "1.3", "cert_not_after": "2027-01-01T00:00:00.000Z", "cert_subject": "CN=shop.sonde.test", "verified": true, "verify_error": null}) } else { serde_json::Value::Null },
             "assertions": [], "captures": [], "error": null}
        ]
    })
}

pub fn batch(results: &[serde_json::Value]) -> String {
    serde_json::json!({ "results": results }).to_string()
}

/// Every `*` file under `dir`, concatenated (to search the store's bytes).
pub fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            out.extend(std::fs::read(&path).unwrap());
        }
    }
    out
}
