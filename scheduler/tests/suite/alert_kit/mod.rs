//! Shared set-up for the alert engine's tests: a `shop` scenario in three
//! regions with an `[alert]` block, one probe per region, results fed
//! through the real ingest path or the engine's `record_results`, and the
//! outbox read back. Time is the injected clock; nothing sleeps.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Utc};
use scenarios::wire::RunResult;
use scheduler::alert::AlertStatus;
use scheduler::store::outbox::EventRow;

use crate::common::{Reply, TestApp, batch, result, t0};

pub const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-1"];

/// `shop` with the given `[alert]` lines.
pub fn shop(alert: &str) -> String {
    format!(
        r#"name = "shop"
interval = "30s"
regions = ["us-east-1", "eu-west-1", "ap-southeast-1"]
labels = {{ team = "web", tier = "critical" }}

[[steps]]
name = "home"
get = "http://127.0.0.1:9/"
expect = ["status == 200"]

[[steps]]
name = "certificate"
kind = "tls"
address = "127.0.0.1:9443"
expect = ["cert_expiry > 30d"]

[alert]
runbook = "https://runbooks.example.com/shop"
{alert}
"#
    )
}

/// A scheduler with `shop` (and the common scenarios) and one live probe
/// per region (`p-us`, `p-eu`, `p-ap`).
pub struct Fleet {
    pub t: TestApp,
    pub tokens: Vec<(String, String, String)>,
}

pub fn probe_of(region: &str) -> &'static str {
    match region {
        "us-east-1" => "p-us",
        "eu-west-1" => "p-eu",
        _ => "p-ap",
    }
}

impl Fleet {
    pub async fn new(alert: &str) -> Fleet {
        Self::with(alert, |_| {}).await
    }

    /// Like [`Fleet::new`] with the scheduler's config adjusted by `tune`.
    pub async fn with(alert: &str, tune: impl FnOnce(&mut scheduler::config::Config)) -> Fleet {
        let t = TestApp::with(tune).await;
        t.write_scenario("shop.toml", &shop(alert));
        t.app.catalog.reload().await.unwrap();
        assert!(
            t.app.catalog.current().get("shop").is_some(),
            "shop must validate"
        );
        let mut tokens = Vec::new();
        for region in REGIONS {
            let name = probe_of(region);
            let token = t.probe_token(name, region).await;
            tokens.push((name.to_owned(), region.to_owned(), token));
        }
        let fleet = Fleet { t, tokens };
        fleet.touch_all().await;
        fleet
    }

    pub fn token(&self, probe: &str) -> (String, String) {
        let (_, region, token) = self.tokens.iter().find(|(n, _, _)| n == probe).unwrap();
        (region.clone(), token.clone())
    }

    /// A plan request from `probe` (it is live from now).
    pub async fn plan(&self, probe: &str) -> serde_json::Value {
        let (region, token) = self.token(probe);
        let reply = self.t.plan(&token, probe, &region, &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.json()
    }

    pub async fn touch_all(&self) {
        for (name, _, _) in &self.tokens {
            self.plan(name).await;
        }
    }

    /// Posts results of `shop` in `region` (through ingest, as its probe).
    pub async fn post(&self, region: &str, results: &[serde_json::Value]) {
        let probe = probe_of(region);
        let (_, token) = self.token(probe);
        let reply = self
            .t
            .post_results(&token, probe, region, batch(results))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }

    /// One run of `shop` in `region` at t0 + `secs`.
    pub fn run(&self, region: &str, ok: bool, secs: i64) -> serde_json::Value {
        run_at(region, ok, t0() + chrono::Duration::seconds(secs))
    }

    /// Feeds runs straight to the engine (several regions in one batch).
    pub async fn record(&self, runs: Vec<serde_json::Value>) {
        let results: Vec<RunResult> = runs
            .into_iter()
            .map(|v| serde_json::from_value(v).unwrap())
            .collect();
        scheduler::ingest::store_results(&self.t.app, results)
            .await
            .unwrap();
    }

    pub async fn tick(&self) {
        scheduler::evaluate::tick(&self.t.app).await.unwrap();
    }

    /// Every event in the outbox, oldest first.
    pub async fn events(&self) -> Vec<EventRow> {
        events(&self.t).await
    }

    pub async fn operator(&self) -> String {
        self.t.operator_token("ops").await
    }

    /// The scenario detail's state of `shop` in `region`.
    pub async fn state(&self, region: &str) -> String {
        self.state_of("shop", region).await
    }

    /// The scenario detail's state of `scenario` in `region`.
    pub async fn state_of(&self, scenario: &str, region: &str) -> String {
        let detail = self
            .t
            .get(&format!("/api/v1/scenarios/{scenario}"))
            .await
            .json();
        detail["regions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["region"] == region)
            .map(|r| r["state"].as_str().unwrap().to_owned())
            .unwrap()
    }

    pub async fn send_json(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.t.send(req.body(body).unwrap()).await
    }
}

pub fn run_at(region: &str, ok: bool, at: DateTime<Utc>) -> serde_json::Value {
    result(
        "shop",
        probe_of(region),
        region,
        if ok { "success" } else { "failure" },
        at,
    )
}

pub async fn events(t: &TestApp) -> Vec<EventRow> {
    t.app
        .store
        .read(|tx| tx.events_after(0, 10_000))
        .await
        .unwrap()
}

/// (alert id, status) of each event.
pub fn summary(events: &[EventRow]) -> Vec<(String, AlertStatus)> {
    events
        .iter()
        .map(|e| (e.alert_id.clone(), e.status))
        .collect()
}

pub fn firing(id: &str) -> (String, AlertStatus) {
    (id.to_owned(), AlertStatus::Firing)
}

pub fn resolved(id: &str) -> (String, AlertStatus) {
    (id.to_owned(), AlertStatus::Resolved)
}
