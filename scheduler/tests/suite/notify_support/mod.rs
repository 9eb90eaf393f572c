//! Shared set-up of the notifier tests: a real store, alert events written
//! the way the engine writes them, the delivery workers started and
//! stopped, and in-test receivers on `127.0.0.1:0` that record every
//! request and answer from a script.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use scenarios::model::Severity;
use scenarios::wire::Outcome;
use scheduler::alert::notify::{DeliveryOptions, Dispatcher};
use scheduler::alert::{Alert, AlertEvent, AlertStatus, Confirmation, Scope};
use scheduler::config::{NotifierKind, NotifyEntry};
use scheduler::metrics::{NotificationMetrics, Scrape};
use scheduler::store::Store;
use scheduler::{Clock, SystemClock};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a test waits for something that should happen at once.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// Short timings, so retries happen within a test.
pub fn fast() -> DeliveryOptions {
    DeliveryOptions {
        poll: Duration::from_millis(20),
        backoff_base: Duration::from_millis(40),
        backoff_cap: Duration::from_millis(300),
        give_up_after: Duration::from_secs(60),
        request_timeout: Duration::from_secs(3),
        ..DeliveryOptions::default()
    }
}

/// A regional alert like the example in `docs/alerting.md`, started now.
pub fn alert(id_region: &str) -> Alert {
    let id = format!("checkout/region/{id_region}");
    Alert {
        scenario: Some("checkout".into()),
        regions: vec![id_region.into()],
        step: Some("checkout".into()),
        expected: Some("200".into()),
        actual: Some("503".into()),
        confirmation: Some(Confirmation {
            region: "us-east-1".into(),
            outcome: Outcome::Success,
        }),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        trace_url: Some("https://jaeger.example.com/trace/4bf92f3577b34da6a3ce929d0e0e4736".into()),
        runbook: Some("https://runbooks.example.com/checkout".into()),
        url: Some("http://127.0.0.1:9470/api/v1/scenarios/checkout".into()),
        summary: format!("checkout is down in {id_region}: step checkout expected 200, got 503"),
        labels: [("team".to_owned(), "shop".to_owned())].into(),
        ..Alert::new(id, Scope::Region, Severity::Critical, Utc::now())
    }
}

pub fn firing(alert: &Alert) -> AlertEvent {
    AlertEvent {
        status: AlertStatus::Firing,
        alert: alert.clone(),
        muted: false,
    }
}

pub fn resolved(alert: &Alert) -> AlertEvent {
    let mut alert = alert.clone();
    let now = Utc::now();
    alert.ended_at = Some(now);
    alert.duration_s = Some((now - alert.started_at).num_milliseconds() as f64 / 1000.0);
    AlertEvent {
        status: AlertStatus::Resolved,
        alert,
        muted: false,
    }
}

pub fn entry(kind: NotifierKind, url: &str) -> NotifyEntry {
    NotifyEntry {
        name: kind.as_str().to_owned(),
        kind,
        url: Some(url.to_owned()),
        match_labels: BTreeMap::new(),
        secret: None,
        routing_key: None,
        resend_interval: None,
        interval: None,
    }
}

/// A store with the notifiers running on it.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<NotificationMetrics>,
    pub dispatcher: Dispatcher,
    running: Option<(TaskTracker, CancellationToken)>,
    /// The PostgreSQL database, when the suite runs on that backend.
    database: Option<scheduler::config::DatabaseUrl>,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let database = crate::store_kit::database_from_env("a notify Fixture");
        let store = Self::open_store(&dir, database.as_ref(), clock.now_ms()).await;
        Fixture {
            dir,
            store,
            clock,
            metrics: Arc::default(),
            dispatcher: Dispatcher::default(),
            running: None,
            database,
        }
    }

    async fn open_store(
        dir: &tempfile::TempDir,
        database: Option<&scheduler::config::DatabaseUrl>,
        now_ms: i64,
    ) -> Store {
        match database {
            Some(url) => Store::open_postgres(url, now_ms).await.unwrap(),
            None => Store::open(&dir.path().join("sonde.db"), now_ms)
                .await
                .unwrap(),
        }
    }

    /// Starts one worker per entry.
    pub fn start(&mut self, entries: &[NotifyEntry], options: &DeliveryOptions) {
        let (tasks, stop) = (TaskTracker::new(), CancellationToken::new());
        let n = self
            .dispatcher
            .start(
                entries,
                options,
                &self.store,
                &self.clock,
                self.metrics.clone(),
                &tasks,
                &stop,
            )
            .unwrap();
        assert_eq!(n, entries.len());
        self.running = Some((tasks, stop));
    }

    /// Stops the workers and waits for them (in-flight requests finish).
    pub async fn stop(&mut self) {
        if let Some((tasks, stop)) = self.running.take() {
            stop.cancel();
            tasks.close();
            tokio::time::timeout(DEADLINE, tasks.wait()).await.unwrap();
        }
    }

    /// Stops the workers, closes and reopens the store: a scheduler restart.
    pub async fn restart_store(&mut self) {
        self.stop().await;
        self.store.close().await;
        self.store = Self::open_store(&self.dir, self.database.as_ref(), self.clock.now_ms()).await;
        self.dispatcher = Dispatcher::default();
    }

    /// Writes an event as the engine does and wakes the workers; returns its id.
    pub async fn push(&self, event: &AlertEvent) -> i64 {
        let event = event.clone();
        let now = self.clock.now_ms();
        let id = self
            .store
            .write(move |tx| tx.insert_event(&event, now))
            .await
            .unwrap();
        self.dispatcher.wake();
        id
    }

    /// `(state, attempts)` of every outbox row, by event id.
    /// Read from the database itself: no interface method lists them.
    pub async fn outbox(&self) -> Vec<(i64, String, u32)> {
        const SQL: &str = "SELECT event_id, state, attempts FROM notify_outbox ORDER BY event_id";
        if let Some(url) = &self.database {
            let rows = crate::postgres_kit::server()
                .unwrap()
                .psql(&url.dbname, SQL);
            return rows
                .lines()
                .map(|line| {
                    let cols: Vec<&str> = line.split('|').collect();
                    (
                        cols[0].parse().unwrap(),
                        cols[1].to_owned(),
                        cols[2].parse().unwrap(),
                    )
                })
                .collect();
        }
        let conn = rusqlite::Connection::open(self.dir.path().join("sonde.db")).unwrap();
        let mut stmt = conn.prepare(SQL).unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    }

    /// `/metrics` text of the notification series.
    pub fn scrape(&self) -> String {
        let scrape = Scrape {
            notifications: self.metrics.sample(),
            ..Scrape::default()
        };
        scrape.encode()
    }
}

/// Waits until `check` holds, polling; panics with `what` at the deadline.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let waited = tokio::time::timeout(DEADLINE, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting for {what}");
}

/// One request a receiver saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: DateTime<Utc>,
}

impl Seen {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
}

#[derive(Debug, Default)]
struct Script {
    answers: VecDeque<u16>,
    delay: Duration,
    seen: Vec<Seen>,
}

/// An HTTP receiver on `127.0.0.1:0` answering POSTs on any path from a
/// script of statuses (then 202).
#[derive(Debug, Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<Script>>,
}

impl Receiver {
    pub async fn start(answers: &[u16]) -> Receiver {
        Self::start_with_delay(answers, Duration::ZERO).await
    }

    /// Each answer comes after `delay`.
    pub async fn start_with_delay(answers: &[u16], delay: Duration) -> Receiver {
        let state = Arc::new(Mutex::new(Script {
            answers: answers.iter().copied().collect(),
            delay,
            seen: Vec::new(),
        }));
        let shared = Arc::clone(&state);
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let shared = Arc::clone(&shared);
            async move {
                let (status, delay) = {
                    let mut s = shared.lock().unwrap();
                    let status = s.answers.pop_front().unwrap_or(202);
                    (status, s.delay)
                };
                tokio::time::sleep(delay).await;
                shared.lock().unwrap().seen.push(Seen {
                    headers,
                    body,
                    at: Utc::now(),
                });
                let status = StatusCode::from_u16(status).unwrap();
                (status, "{\"status\":\"answer\"}").into_response()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Waits until at least `n` requests arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Seen> {
        eventually(&format!("{n} requests"), || async {
            self.seen().len() >= n
        })
        .await;
        self.seen()
    }
}
