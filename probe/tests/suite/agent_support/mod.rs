//! Shared by the agent's tests: a fake scheduler (a small axum app on
//! `127.0.0.1:0` speaking the plan and results protocol, with scripted
//! answers), result and plan builders, and a scrape reader.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use scenarios::wire::StepKind;
use scenarios::wire::{
    IngestAck, Outcome, Plan, PlannedScenario, RejectReason, Rejected, ResultBatch, RunResult,
    StepResult,
};
use tokio::sync::Notify;
use tokio::time::Instant;
use uuid::Uuid;

/// How the fake answers the next `POST /api/v1/results`.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200, every result accepted (or duplicate when seen before).
    Accept,
    /// This status with a small JSON error body.
    Status(u16),
    /// 429 with `Retry-After: secs`.
    RateLimited(u64),
    /// 200; these ids rejected, the rest accepted.
    Reject(Vec<Uuid>),
}

/// One `POST /api/v1/results` the fake saw.
#[derive(Debug, Clone)]
pub struct Post {
    pub at: Instant,
    pub ids: Vec<Uuid>,
    /// Size of the request body.
    pub bytes: usize,
    pub status: u16,
    pub headers: HeaderMap,
}

#[derive(Debug, Default)]
struct Inner {
    plan: Option<Plan>,
    /// Status every plan request gets instead of the plan.
    plan_refusal: Option<u16>,
    script: VecDeque<Reply>,
    stored: BTreeMap<Uuid, RunResult>,
    posts: Vec<Post>,
    plan_requests: Vec<HeaderMap>,
}

#[derive(Debug, Clone, Default)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    changed: Arc<Notify>,
}

/// A running fake scheduler; stops when dropped.
#[derive(Debug)]
pub struct FakeScheduler {
    addr: SocketAddr,
    shared: Shared,
    _stop: tokio_util::sync::DropGuard,
}

impl FakeScheduler {
    pub async fn start() -> FakeScheduler {
        let shared = Shared::default();
        let app = Router::new()
            .route("/api/v1/plan", get(plan_handler))
            .route("/api/v1/results", post(results_handler))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake scheduler");
        let addr = listener.local_addr().expect("local addr");
        let stop = tokio_util::sync::CancellationToken::new();
        let serve =
            axum::serve(listener, app).with_graceful_shutdown(stop.clone().cancelled_owned());
        tokio::spawn(async move {
            let _ = serve.await;
        });
        FakeScheduler {
            addr,
            shared,
            _stop: stop.drop_guard(),
        }
    }

    pub fn url(&self) -> url::Url {
        url::Url::parse(&format!("http://{}", self.addr)).expect("url")
    }

    pub fn set_plan(&self, plan: Plan) {
        self.lock().plan = Some(plan);
        self.shared.changed.notify_waiters();
    }

    /// Every plan request answers `status` from now on (`None`: the plan).
    pub fn refuse_plan(&self, status: Option<u16>) {
        self.lock().plan_refusal = status;
        self.shared.changed.notify_waiters();
    }

    /// Answers to the next result posts, in order; then `Accept`.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.lock().script.extend(replies);
    }

    /// Forgets the scripted answers not given yet: every post is accepted.
    pub fn clear_script(&self) {
        self.lock().script.clear();
    }

    pub fn stored(&self) -> BTreeMap<Uuid, RunResult> {
        self.lock().stored.clone()
    }

    pub fn posts(&self) -> Vec<Post> {
        self.lock().posts.clone()
    }

    pub fn plan_requests(&self) -> Vec<HeaderMap> {
        self.lock().plan_requests.clone()
    }

    /// Waits until `check` holds, at most `deadline`; panics with `what`.
    pub async fn wait_until(
        &self,
        what: &str,
        deadline: Duration,
        check: impl Fn(&FakeScheduler) -> bool,
    ) {
        let waiting = async {
            loop {
                let changed = self.shared.changed.notified();
                if check(self) {
                    return;
                }
                changed.await;
            }
        };
        tokio::time::timeout(deadline, waiting)
            .await
            .unwrap_or_else(|_| panic!("{what} not within {deadline:?}"));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().expect("fake scheduler lock")
    }
}

async fn plan_handler(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let mut inner = shared.inner.lock().expect("lock");
    inner.plan_requests.push(headers.clone());
    shared.changed.notify_waiters();
    if let Some(code) = inner.plan_refusal {
        let status = StatusCode::from_u16(code).expect("status");
        return (status, "scripted").into_response();
    }
    let Some(plan) = inner.plan.clone() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no plan").into_response();
    };
    let etag = format!("\"r{}\"", plan.revision);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str());
    if matches {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    (StatusCode::OK, [(header::ETAG, etag)], Json(plan)).into_response()
}

async fn results_handler(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut inner = shared.inner.lock().expect("lock");
    let batch: Result<ResultBatch, _> = serde_json::from_slice(&body);
    let ids = batch
        .as_ref()
        .map(|b| b.results.iter().map(|r| r.id).collect())
        .unwrap_or_default();
    let reply = inner.script.pop_front().unwrap_or(Reply::Accept);
    let response = match (reply, batch) {
        (_, Err(e)) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": e.to_string()})),
        )
            .into_response(),
        (Reply::Accept, Ok(batch)) => ack(&mut inner, batch, &[]),
        (Reply::Reject(bad), Ok(batch)) => ack(&mut inner, batch, &bad),
        (Reply::Status(code), Ok(_)) => {
            let status = StatusCode::from_u16(code).expect("status");
            (status, Json(serde_json::json!({"error": "scripted"}))).into_response()
        }
        (Reply::RateLimited(secs), Ok(_)) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, secs.to_string())],
            "slow down",
        )
            .into_response(),
    };
    let status = response.status().as_u16();
    inner.posts.push(Post {
        at: Instant::now(),
        ids,
        bytes: body.len(),
        status,
        headers,
    });
    shared.changed.notify_waiters();
    response
}

fn ack(inner: &mut Inner, batch: ResultBatch, bad: &[Uuid]) -> Response {
    let mut ack = IngestAck::default();
    for result in batch.results {
        if bad.contains(&result.id) {
            // With a reason, as today's scheduler sends; older ones send none.
            ack.rejected.push(Rejected {
                id: Some(result.id),
                reason: Some(RejectReason::ClockSkew),
                error: "scripted rejection".into(),
            });
        } else {
            match inner.stored.entry(result.id) {
                std::collections::btree_map::Entry::Occupied(_) => ack.duplicates.push(result.id),
                std::collections::btree_map::Entry::Vacant(slot) => {
                    ack.accepted.push(result.id);
                    slot.insert(result);
                }
            }
        }
    }
    let status = if ack.accepted.is_empty() && ack.duplicates.is_empty() && !ack.rejected.is_empty()
    {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (status, Json(ack)).into_response()
}

/// A plausible finished result of `scenario`.
pub fn result(scenario: &str) -> RunResult {
    let now = Utc::now();
    RunResult {
        id: Uuid::now_v7(),
        scenario: scenario.to_string(),
        version: "sha256:test".into(),
        probe: "p-test".into(),
        region: "eu-test-1".into(),
        scheduled_at: now,
        started_at: now,
        duration_ms: 1.5,
        outcome: Outcome::Success,
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        run_request: None,
        attempt: 1,
        retry_of: None,
        steps: vec![StepResult::skipped("home", StepKind::Http)],
    }
}

/// A planned scenario with its version computed from `source`.
pub fn planned(name: &str, source: &str) -> PlannedScenario {
    PlannedScenario {
        name: name.to_string(),
        path: format!("{name}.toml"),
        version: scenarios::wire::scenario_version(source, &BTreeMap::new()),
        source: source.to_string(),
        files: BTreeMap::new(),
    }
}

/// A one-step scenario GETting `url` every `interval`.
pub fn source(name: &str, interval: &str, url: &str) -> String {
    format!(
        "name = \"{name}\"\ninterval = \"{interval}\"\n\n[[steps]]\nname = \"home\"\nget = \"{url}\"\nexpect = [\"status == 200\"]\n"
    )
}

pub fn plan(revision: u64, scenarios: Vec<PlannedScenario>) -> Plan {
    Plan {
        revision,
        probe: "p-test".into(),
        region: "eu-test-1".into(),
        scenarios,
        run_now: Vec::new(),
    }
}

/// The value of the sample `name{labels}` in a scrape (labels written as
/// in the exposition, e.g. `reason="corrupt"`; empty for none).
pub fn sample(scrape: &str, name: &str, labels: &str) -> Option<f64> {
    let key = if labels.is_empty() {
        name.to_string()
    } else {
        format!("{name}{{{labels}}}")
    };
    scrape.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        (series == key).then(|| value.parse().ok()).flatten()
    })
}

/// Counts by file in a directory (0 when it does not exist).
pub fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).count())
        .unwrap_or(0)
}

/// An agent running in this process (guard on, 127.0.0.0/8 allowed), its
/// spool in `spool_dir`; stop it with `shutdown`.
pub struct InProcessAgent {
    pub addr: SocketAddr,
    pub shutdown: tokio_util::sync::CancellationToken,
    pub task: tokio::task::JoinHandle<Result<(), probe::agent::AgentError>>,
}

impl InProcessAgent {
    pub async fn start(
        scheduler: url::Url,
        spool_dir: &std::path::Path,
        grace: Duration,
    ) -> InProcessAgent {
        Self::start_with(vec![scheduler], spool_dir, grace).await
    }

    /// An agent with several schedulers, tried in this order.
    pub async fn start_with(
        schedulers: Vec<url::Url>,
        spool_dir: &std::path::Path,
        grace: Duration,
    ) -> InProcessAgent {
        Self::start_browsing(schedulers, spool_dir, grace, None).await
    }

    /// An agent that runs browser steps in the Chromium at `browser_path`.
    pub async fn start_browsing(
        schedulers: Vec<url::Url>,
        spool_dir: &std::path::Path,
        grace: Duration,
        browser_path: Option<std::path::PathBuf>,
    ) -> InProcessAgent {
        let config = probe::agent::AgentConfig {
            schedulers,
            identity: probe::agent::Identity {
                name: "p-test".into(),
                region: "eu-test-1".into(),
                token: "s3cret-token".into(),
            },
            spool_dir: spool_dir.to_path_buf(),
            spool_max_bytes: 1 << 20,
            concurrency: 4,
            rate_limit: 50,
            grace,
            scheduler_ca_pem: None,
            poll: probe::agent::PollOptions::default(),
            delivery: probe::agent::DeliveryOptions::default(),
        };
        let net = probe::cli::NetArgs {
            region: "eu-test-1".into(),
            secrets_dir: None,
            ca_file: None,
            resolver: None,
            target_guard: false,
            allow_target: vec!["127.0.0.0/8".parse().expect("cidr")],
            evidence_bytes: scenarios::wire::EVIDENCE_BODY_BYTES,
            browser: None,
            browser_path,
        };
        let mut runner = probe::cli::runner(&net, true).expect("runner");
        runner.probe = "p-test".into();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shutdown = tokio_util::sync::CancellationToken::new();
        let task = tokio::spawn(probe::agent::serve(
            listener,
            config,
            runner,
            shutdown.clone(),
        ));
        InProcessAgent {
            addr,
            shutdown,
            task,
        }
    }

    /// Cancels and waits at most `within` for a clean stop.
    pub async fn stop(self, within: Duration) {
        self.shutdown.cancel();
        let stopped = tokio::time::timeout(within, self.task)
            .await
            .expect("stops in time");
        stopped.expect("task").expect("clean stop");
    }
}

/// `http://127.0.0.1:PORT` of a port nothing listens on.
pub fn unreachable_scheduler() -> url::Url {
    let port = sonde_tests::free_port_refused().expect("port");
    url::Url::parse(&format!("http://127.0.0.1:{port}")).expect("url")
}
