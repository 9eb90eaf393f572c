//! The agent's timer under a paused tokio clock: stable, spread offsets,
//! one run per interval, overlap and concurrency skips, on-demand runs,
//! changed and removed scenarios, and the per-host rate limit.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use probe::agent::{
    Clock, CompiledPlan, Execute, Limits, Metrics, RunContext, Timer, TokioClock,
    next_interval_slot, stable_offset,
};
use probe::run::RunTrigger;
use scenarios::Scenario;
use scenarios::wire::{Outcome, RunReason, RunRequest, RunResult};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::agent_support::{plan, planned, result, sample, source};

const REGION: &str = "eu-test-1";

#[derive(Debug, Clone)]
struct Fired {
    scenario: String,
    version: String,
    scheduled_at: DateTime<Utc>,
    started: DateTime<Utc>,
    ended: DateTime<Utc>,
    request: Option<Uuid>,
}

/// Records every run and takes `busy[scenario]` (default: no time) on
/// tokio's clock; the scenarios in `failing` fail.
#[derive(Debug)]
struct FakeExec {
    clock: TokioClock,
    busy: HashMap<String, Duration>,
    failing: Mutex<Vec<String>>,
    fired: Mutex<Vec<Fired>>,
}

impl Execute for FakeExec {
    fn execute<'a>(
        &'a self,
        scenario: &'a Scenario,
        trigger: RunTrigger,
    ) -> Pin<Box<dyn Future<Output = RunResult> + Send + 'a>> {
        Box::pin(async move {
            let started = self.clock.now();
            if let Some(d) = self.busy.get(&scenario.name) {
                tokio::time::sleep(*d).await;
            }
            self.fired.lock().expect("lock").push(Fired {
                scenario: scenario.name.clone(),
                version: scenario.version.clone(),
                scheduled_at: trigger.scheduled_at,
                started,
                ended: self.clock.now(),
                request: trigger.request,
            });
            let mut r = result(&scenario.name);
            r.scheduled_at = trigger.scheduled_at;
            r.started_at = started;
            r.run_request = trigger.request;
            r.attempt = trigger.attempt;
            r.retry_of = trigger.retry_of;
            if self.failing.lock().expect("lock").contains(&scenario.name) {
                r.outcome = Outcome::Failure;
            }
            r
        })
    }
}

struct Harness {
    exec: Arc<FakeExec>,
    metrics: Metrics,
    limits: Arc<Limits>,
    plan_tx: watch::Sender<Option<Arc<CompiledPlan>>>,
    timer: JoinHandle<()>,
    stop: CancellationToken,
    start: DateTime<Utc>,
    /// Every result handed to the spool, in order.
    results: Arc<Mutex<Vec<RunResult>>>,
    _drain: JoinHandle<()>,
}

impl Harness {
    fn start(limits: Limits, busy: &[(&str, Duration)]) -> Harness {
        let start: DateTime<Utc> = "2026-03-01T12:00:00.250Z".parse().expect("time");
        let clock = TokioClock::starting_at(start);
        let exec = Arc::new(FakeExec {
            clock,
            busy: busy.iter().map(|(n, d)| (n.to_string(), *d)).collect(),
            failing: Mutex::new(Vec::new()),
            fired: Mutex::new(Vec::new()),
        });
        let (tx, mut rx) = mpsc::channel(16);
        let results = Arc::new(Mutex::new(Vec::new()));
        let delivered = results.clone();
        let drain = tokio::spawn(async move {
            while let Some(r) = rx.recv().await {
                delivered.lock().expect("lock").push(r);
            }
        });
        let metrics = Metrics::new();
        let limits = Arc::new(limits);
        let ctx = RunContext {
            exec: exec.clone(),
            limits: limits.clone(),
            metrics: metrics.clone(),
            results: tx,
            tracker: TaskTracker::new(),
            cancel: CancellationToken::new(),
            region: REGION.into(),
            probe: "p-test".into(),
        };
        let (plan_tx, plan_rx) = watch::channel(None);
        let stop = CancellationToken::new();
        let timer = tokio::spawn(Timer::new(ctx, Arc::new(clock), stop.clone()).run(plan_rx));
        Harness {
            exec,
            metrics,
            limits,
            plan_tx,
            timer,
            stop,
            start,
            results,
            _drain: drain,
        }
    }

    fn publish(&self, plan: &scenarios::wire::Plan) {
        let previous = self.plan_tx.borrow().clone();
        self.plan_tx
            .send_replace(Some(Arc::new(CompiledPlan::compile(
                plan,
                previous.as_deref(),
            ))));
    }

    fn fired(&self, scenario: &str) -> Vec<Fired> {
        self.exec
            .fired
            .lock()
            .expect("lock")
            .iter()
            .filter(|f| f.scenario == scenario)
            .cloned()
            .collect()
    }

    fn fail(&self, scenario: &str) {
        self.exec
            .failing
            .lock()
            .expect("lock")
            .push(scenario.to_string());
    }

    fn results(&self, scenario: &str) -> Vec<RunResult> {
        self.results
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.scenario == scenario)
            .cloned()
            .collect()
    }

    async fn shutdown(self) {
        self.stop.cancel();
        self.timer.await.expect("timer ends");
    }
}

fn every(interval: &str, names: &[String]) -> scenarios::wire::Plan {
    let scenarios = names
        .iter()
        .map(|n| planned(n, &source(n, interval, "http://127.0.0.1:9/")))
        .collect();
    plan(1, scenarios)
}

#[tokio::test(start_paused = true)]
async fn ten_scenarios_fire_at_stable_spread_offsets_once_per_interval() {
    let h = Harness::start(Limits::new(64, 0), &[]);
    let names: Vec<String> = (0..10).map(|i| format!("journey-{i}")).collect();
    h.publish(&every("10s", &names));
    tokio::time::sleep(Duration::from_secs(30)).await;

    let period = Duration::from_secs(10);
    let mut offsets = Vec::new();
    for name in &names {
        let fired = h.fired(name);
        assert_eq!(fired.len(), 3, "{name}: {fired:?}");
        let offset = stable_offset(name, REGION, period);
        let mut expected = h.start;
        for f in &fired {
            expected = next_interval_slot(expected, period, offset).expect("slot");
            assert_eq!(f.scheduled_at, expected, "{name} runs at its slots");
            let late = f.started - f.scheduled_at;
            assert!(
                late >= chrono::Duration::zero() && late < chrono::Duration::milliseconds(2),
                "{name} late {late}"
            );
        }
        offsets.push(offset);
    }
    offsets.sort();
    offsets.dedup();
    assert_eq!(offsets.len(), 10, "every scenario has its own offset");
    let spread = offsets[offsets.len() - 1] - offsets[0];
    assert!(
        spread >= Duration::from_secs(5),
        "offsets spread over the interval: {offsets:?}"
    );
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn offsets_survive_a_restart() {
    let names = vec!["checkout".to_string()];
    let first = Harness::start(Limits::new(4, 0), &[]);
    first.publish(&every("10s", &names));
    tokio::time::sleep(Duration::from_secs(10)).await;
    let before = first.fired("checkout");
    first.shutdown().await;

    // A restart 3.7 s later keeps the phase within the interval.
    tokio::time::sleep(Duration::from_millis(3_700)).await;
    let second = Harness::start(Limits::new(4, 0), &[]);
    second.publish(&every("10s", &names));
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = second.fired("checkout");
    let phase = |t: DateTime<Utc>| {
        t.timestamp_nanos_opt()
            .expect("nanos")
            .rem_euclid(10_000_000_000)
    };
    assert_eq!(before.len(), 1);
    assert_eq!(after.len(), 1);
    assert_eq!(phase(before[0].scheduled_at), phase(after[0].scheduled_at));
    second.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_run_that_would_overlap_its_previous_one_is_skipped_and_counted() {
    // Runs take 11 s at a 10 s interval (timeout 10 s, within the 2 s overrun slack).
    let h = Harness::start(Limits::new(4, 0), &[("slow", Duration::from_secs(11))]);
    h.publish(&every("10s", &["slow".to_string()]));
    tokio::time::sleep(Duration::from_secs(45)).await;

    let fired = h.fired("slow");
    assert!(fired.len() >= 2, "{fired:?}");
    for pair in fired.windows(2) {
        assert!(
            pair[1].started >= pair[0].ended,
            "runs never overlap: {pair:?}"
        );
    }
    let skipped = sample(
        &h.metrics.encode(),
        "sonde_agent_skipped_runs_total",
        "scenario=\"slow\",reason=\"overlap\"",
    );
    assert!(skipped.is_some_and(|n| n >= 1.0), "{}", h.metrics.encode());
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn runs_without_a_free_concurrency_slot_are_skipped_and_counted() {
    let h = Harness::start(Limits::new(1, 0), &[]);
    let taken = h.limits.try_slot().expect("the only slot");
    h.publish(&every("5s", &["busy".to_string()]));
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(h.fired("busy").is_empty());
    let skipped = sample(
        &h.metrics.encode(),
        "sonde_agent_skipped_runs_total",
        "scenario=\"busy\",reason=\"concurrency\"",
    );
    assert_eq!(skipped, Some(2.0));
    drop(taken);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(h.fired("busy").len(), 1, "runs again once a slot is free");
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn requested_runs_start_at_once_and_only_once_per_id() {
    let h = Harness::start(Limits::new(4, 0), &[]);
    let mut p = every("1h", &["checkout".to_string()]);
    let id = Uuid::now_v7();
    p.run_now.push(RunRequest {
        id,
        scenario: "checkout".into(),
        requested_at: Utc::now(),
        reason: RunReason::RunNow,
        inline: None,
    });
    h.publish(&p);
    tokio::time::sleep(Duration::from_millis(10)).await;
    p.revision = 2;
    h.publish(&p);
    tokio::time::sleep(Duration::from_millis(10)).await;

    let requested: Vec<_> = h
        .fired("checkout")
        .into_iter()
        .filter(|f| f.request.is_some())
        .collect();
    assert_eq!(requested.len(), 1, "{requested:?}");
    assert_eq!(requested[0].request, Some(id));
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_request_carrying_its_scenario_runs_it_once_outside_the_plan() {
    let h = Harness::start(Limits::new(4, 0), &[]);
    let mut p = every("1h", &["checkout".to_string()]);
    let gate = planned(
        "pr_journey",
        &source("pr_journey", "1h", "http://127.0.0.1:9/new"),
    );
    let id = Uuid::now_v7();
    p.run_now.push(RunRequest {
        id,
        scenario: "pr_journey".into(),
        requested_at: Utc::now(),
        reason: RunReason::RunNow,
        inline: Some(gate.clone()),
    });
    // Without its scenario, a request for a name not in the plan is ignored.
    p.run_now.push(RunRequest {
        id: Uuid::now_v7(),
        scenario: "unplanned".into(),
        requested_at: Utc::now(),
        reason: RunReason::RunNow,
        inline: None,
    });
    h.publish(&p);
    tokio::time::sleep(Duration::from_millis(10)).await;
    p.revision = 2;
    h.publish(&p);
    tokio::time::sleep(Duration::from_secs(7200)).await;

    let fired = h.fired("pr_journey");
    assert_eq!(fired.len(), 1, "run once, never scheduled: {fired:?}");
    assert_eq!(fired[0].request, Some(id));
    assert_eq!(fired[0].version, gate.version);
    assert!(h.fired("unplanned").is_empty());
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_changed_scenario_is_used_for_its_next_run_and_a_removed_one_stops() {
    let h = Harness::start(Limits::new(4, 0), &[]);
    let v1 = planned("shop", &source("shop", "10s", "http://127.0.0.1:9/v1"));
    let v2 = planned("shop", &source("shop", "10s", "http://127.0.0.1:9/v2"));
    let other = planned("other", &source("other", "10s", "http://127.0.0.1:9/"));
    h.publish(&plan(1, vec![v1.clone(), other.clone()]));
    tokio::time::sleep(Duration::from_secs(10)).await;
    h.publish(&plan(2, vec![v2.clone(), other.clone()]));
    tokio::time::sleep(Duration::from_secs(10)).await;

    let shop = h.fired("shop");
    assert_eq!(shop.len(), 2);
    assert_eq!(shop[0].version, v1.version);
    assert_eq!(shop[1].version, v2.version);

    h.publish(&plan(3, vec![other]));
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(h.fired("shop").len(), 2, "no runs after removal");
    assert_eq!(
        h.fired("other").len(),
        5,
        "the rest of the plan keeps running"
    );
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_reload_of_the_whole_plan_keeps_every_slot_with_no_run_missed_or_doubled() {
    let h = Harness::start(Limits::new(512, 0), &[]);
    let names: Vec<String> = (0..200).map(|i| format!("check-{i:03}")).collect();
    let version = |url: &str| -> scenarios::wire::Plan {
        let scenarios = names
            .iter()
            .enumerate()
            // Every other scenario changes; the rest are sent unchanged.
            .map(|(i, n)| {
                let url = if i % 2 == 0 {
                    url
                } else {
                    "http://127.0.0.1:9/same"
                };
                planned(n, &source(n, "10s", url))
            })
            .collect();
        plan(1, scenarios)
    };
    let v1 = version("http://127.0.0.1:9/v1");
    let v2 = version("http://127.0.0.1:9/v2");
    h.publish(&v1);
    tokio::time::sleep(Duration::from_millis(15_500)).await;
    let reloaded_at = h.start + chrono::Duration::milliseconds(15_500);
    h.publish(&v2);
    tokio::time::sleep(Duration::from_millis(14_500)).await;

    let period = Duration::from_secs(10);
    for (i, name) in names.iter().enumerate() {
        let fired = h.fired(name);
        assert_eq!(
            fired.len(),
            3,
            "{name} runs once in each of 3 intervals: {fired:?}"
        );
        let offset = stable_offset(name, REGION, period);
        let mut expected = h.start;
        for f in &fired {
            expected = next_interval_slot(expected, period, offset).expect("slot");
            assert_eq!(
                f.scheduled_at, expected,
                "{name} keeps its slots through the reload"
            );
            let wanted = if f.scheduled_at < reloaded_at {
                &v1
            } else {
                &v2
            };
            assert_eq!(
                f.version, wanted.scenarios[i].version,
                "{name} at {}: the version in force then",
                f.scheduled_at
            );
        }
    }
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_host_rate_limit_delays_runs_and_gives_up_past_the_deadline() {
    let limits = Limits::new(4, 1);
    let start = tokio::time::Instant::now();
    let far = start + Duration::from_secs(10);
    assert!(limits.host_ready_by("shop.example", far).await);
    assert!(
        limits.host_ready_by("other.example", far).await,
        "hosts are limited separately"
    );
    assert!(limits.host_ready_by("shop.example", far).await);
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "the second run waited for the host"
    );
    let near = tokio::time::Instant::now() + Duration::from_millis(100);
    assert!(
        !limits.host_ready_by("shop.example", near).await,
        "a wait past the deadline gives up"
    );
}

#[test]
fn the_host_key_is_the_first_steps_host() {
    let key = |text: &str| {
        let scenario = scenarios::load::parse_scenario(
            "t.toml",
            text.as_bytes(),
            &scenarios::load::MapFiles::default(),
        )
        .unwrap_or_else(|e| panic!("{}", e.render(scenarios::diagnostic::Style::Plain)));
        probe::agent::host_key(&scenario, REGION)
    };
    assert_eq!(
        key(&source("a", "1m", "https://shop.example.com/x?y=1")),
        "shop.example.com"
    );
    let templated = "interval = \"1m\"\n[vars]\nbase = \"https://{{region}}.shop.example\"\n\
        [[steps]]\nname = \"s\"\nget = \"{{base}}/{{uuid}}\"\n";
    assert_eq!(key(templated), format!("{REGION}.shop.example"));
    let tcp = "name = \"t\"\ninterval = \"1m\"\n[[steps]]\nname = \"s\"\nkind = \"tcp\"\naddress = \"db.example:5432\"\n";
    assert_eq!(key(tcp), "db.example");
    let grpc = "interval = \"1m\"\n[[steps]]\nname = \"s\"\nkind = \"grpc\"\naddress = \"https://inventory.example:50051\"\n";
    assert_eq!(key(grpc), "inventory.example");
}

/// A one-step scenario at `interval` that retries `attempts` times, 3 s apart.
fn retrying(name: &str, interval: &str, attempts: u32) -> scenarios::wire::PlannedScenario {
    let source = format!(
        "{}\n[alert]\nretry = {{ attempts = {attempts}, delay = \"3s\" }}\n",
        source(name, interval, "http://127.0.0.1:9/")
    );
    planned(name, &source)
}

#[tokio::test(start_paused = true)]
async fn a_failing_run_is_retried_after_the_delay_until_attempts_run_out() {
    let h = Harness::start(Limits::new(4, 0), &[]);
    h.fail("down");
    h.publish(&plan(1, vec![retrying("down", "10m", 2)]));
    // One scheduled run within the first 10 minutes, and its two retries.
    tokio::time::sleep(Duration::from_secs(600)).await;

    let results = h.results("down");
    assert_eq!(results.len(), 3, "the run and two retries: {results:?}");
    let first = &results[0];
    assert_eq!((first.attempt, first.retry_of), (1, None));
    for (n, retry) in results[1..].iter().enumerate() {
        assert_eq!(retry.attempt, n as u32 + 2);
        assert_eq!(
            retry.retry_of,
            Some(first.id),
            "retries name the first attempt"
        );
        assert_ne!(retry.id, first.id, "every attempt is a result of its own");
    }
    let fired = h.fired("down");
    for pair in fired.windows(2) {
        assert_eq!(
            pair[1].started - pair[0].ended,
            chrono::Duration::seconds(3),
            "each retry waits the delay"
        );
    }
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_passing_run_and_requested_runs_are_not_retried() {
    let h = Harness::start(Limits::new(4, 0), &[]);
    h.fail("requested");
    let mut p = plan(
        1,
        vec![
            retrying("passing", "10m", 3),
            retrying("requested", "1h", 3),
        ],
    );
    p.run_now.push(RunRequest {
        id: Uuid::now_v7(),
        scenario: "requested".into(),
        requested_at: Utc::now(),
        reason: RunReason::RunNow,
        inline: None,
    });
    h.publish(&p);
    tokio::time::sleep(Duration::from_secs(60)).await;

    let requested = h.results("requested");
    assert_eq!(
        requested.len(),
        1,
        "an on-demand run answers once: {requested:?}"
    );
    tokio::time::sleep(Duration::from_secs(540)).await;
    let passing = h.results("passing");
    assert_eq!(passing.len(), 1, "{passing:?}");
    assert_eq!(passing[0].attempt, 1);
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_retry_does_not_hold_up_other_scenarios() {
    let h = Harness::start(Limits::new(4, 0), &[]);
    h.fail("down");
    h.publish(&plan(
        1,
        vec![
            retrying("down", "10m", 10),
            planned("steady", &source("steady", "10s", "http://127.0.0.1:9/")),
        ],
    ));
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert!(h.results("down").len() > 1, "down is retrying");
    let steady = h.fired("steady");
    assert!(
        steady.len() >= 11,
        "steady kept its 10 s schedule: {steady:?}"
    );
    for pair in steady.windows(2) {
        assert_eq!(
            pair[1].scheduled_at - pair[0].scheduled_at,
            chrono::Duration::seconds(10)
        );
    }
    h.shutdown().await;
}
