//! Runs a validated scenario once and reports it as a `RunResult`.
//!
//! Steps run in order within the scenario's deadline; the first failed step
//! ends the run and the rest are reported as skipped. A failed assertion,
//! a timeout or a refused connection is data in the result, never an `Err`.

mod browser_step;
mod checks;
mod cookies;
mod evidence;
mod grpc_step;
mod http_step;
mod other_steps;
mod recorded;
mod rendered;
pub mod retry;
mod scope;
mod spans;
mod start;
mod trace;
mod websocket_step;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use scenarios::model::{Scenario, Step};
use scenarios::wire::{self, Outcome, RunResult, StepResult, StepStatus};
use tokio::time::Instant;
use uuid::Uuid;

use crate::net::Net;
use crate::secrets::Secrets;
pub use cookies::CookieJar;
pub use http_step::USER_AGENT;
pub use scope::RunScope;
pub use spans::{RequestSpan, RunSpans, Timed};
pub(crate) use start::RunStart;
pub use trace::{new_span_id, new_trace_id, traceparent};

/// What every run of a probe shares.
#[derive(Debug, Clone)]
pub struct Runner {
    pub net: Arc<Net>,
    pub secrets: Arc<Secrets>,
    pub region: String,
    pub probe: String,
    /// How many bytes of a failed step's response body its evidence keeps
    /// (`--evidence-bytes`).
    pub evidence_bytes: usize,
    /// Where each run's trace goes (`--otlp-endpoint`), if anywhere.
    pub traces: Option<Arc<crate::otlp::TraceExport>>,
    /// The browser of `browser` steps (`--browser`, `--browser-path`).
    pub browser: Option<Arc<crate::browser::Browsers>>,
}

/// Why and when a run happens.
#[derive(Debug, Clone, Copy)]
pub struct RunTrigger {
    pub scheduled_at: DateTime<Utc>,
    /// The on-demand request this run answers, if any.
    pub request: Option<Uuid>,
    /// 1 for a scheduled or requested run, 2, 3, … for its retries.
    pub attempt: u32,
    /// The first attempt's result id, on a retry.
    pub retry_of: Option<Uuid>,
}

impl RunTrigger {
    /// A run wanted now (`probe run`, `probe bench`), on the system's clock.
    #[expect(
        clippy::disallowed_methods,
        reason = "a one-off run from the command line has no schedule clock"
    )]
    pub fn now() -> Self {
        Self::scheduled(Utc::now())
    }

    /// The first attempt of a run the schedule wanted `at`.
    pub fn scheduled(at: DateTime<Utc>) -> Self {
        Self {
            scheduled_at: at,
            request: None,
            attempt: 1,
            retry_of: None,
        }
    }
}

/// State carried from step to step within one run.
pub(crate) struct RunState<'a> {
    pub runner: &'a Runner,
    pub scenario: &'a Scenario,
    pub scope: RunScope<'a>,
    pub session: crate::net::Session,
    pub cookies: CookieJar,
    pub trace_id: String,
    pub run_deadline: Instant,
    /// TLS facts of connections opened earlier in the run, by origin, so a
    /// reused connection still answers `cert_expiry`.
    pub tls_by_origin: HashMap<String, wire::TlsInfo>,
    /// The step running now, by index, and the timings its spans need.
    pub step_index: usize,
    pub spans: RunSpans,
    /// The page of this run's browser steps, in its own browser context.
    pub browser_page: Option<crate::browser::PageSession>,
}

impl Runner {
    /// Runs `scenario` once.
    pub async fn run(&self, scenario: &Scenario, trigger: RunTrigger) -> RunResult {
        let begun = RunStart::now(trigger);
        let start = Instant::now();
        let mut state = RunState {
            runner: self,
            scenario,
            scope: RunScope {
                vars: HashMap::new(),
                shown_vars: HashMap::new(),
                captures: HashMap::new(),
                secrets: &self.secrets,
                region: &self.region,
                probe: &self.probe,
            },
            session: self.net.session(),
            cookies: CookieJar::default(),
            trace_id: begun.trace_id.clone(),
            run_deadline: start + scenario.timeout,
            tls_by_origin: HashMap::new(),
            step_index: 0,
            spans: RunSpans::new(self.traces.is_some()),
            browser_page: None,
        };
        let vars_error = render_vars(&mut state);
        let mut steps = Vec::with_capacity(scenario.steps.len());
        let mut outcome = Outcome::Success;
        for (index, step) in scenario.steps.iter().enumerate() {
            state.step_index = index;
            if outcome != Outcome::Success {
                steps.push(StepResult::skipped(step.name.clone(), step.kind()));
                continue;
            }
            let result = match &vars_error {
                Some(message) => {
                    state.spans.step_ran(index, Instant::now());
                    failed_before_start(step, wire::ErrorKind::InvalidRequest, message.clone())
                }
                None => run_step(&mut state, step).await,
            };
            if result.status == StepStatus::Failed {
                outcome = match &result.error {
                    Some(e) => e.kind.outcome(),
                    None => Outcome::Failure,
                };
            }
            steps.push(result);
        }
        if let (Some(page), Some(browsers)) = (state.browser_page.take(), &self.browser) {
            browsers.close(page).await;
        }
        let mut result = begun.result(
            scenario,
            &self.probe,
            &self.region,
            start.elapsed(),
            outcome,
            steps,
        );
        result.redact(&self.secrets.values());
        if let Some(traces) = &self.traces {
            let spans = std::mem::take(&mut state.spans);
            traces.submit(&result, &spans, start, &self.secrets.values());
        }
        result
    }
}

/// Vars are rendered once per run, so `{{uuid}}` in a var is one id for
/// the whole journey; each is kept as sent and as recorded.
fn render_vars(state: &mut RunState<'_>) -> Option<String> {
    for (name, template) in &state.scenario.vars {
        match template.render_shown(&state.scope) {
            Ok(text) => {
                let scope = &mut state.scope;
                scope
                    .vars
                    .insert(name.clone(), serde_json::Value::String(text.sent));
                scope
                    .shown_vars
                    .insert(name.clone(), serde_json::Value::String(text.shown));
            }
            Err(e) => return Some(format!("var `{name}`: {e}")),
        }
    }
    None
}

async fn run_step(state: &mut RunState<'_>, step: &Step) -> StepResult {
    let start = Instant::now();
    if start >= state.run_deadline {
        return failed_before_start(
            step,
            wire::ErrorKind::Timeout,
            "the scenario's deadline passed before this step".into(),
        );
    }
    let deadline = (start + step.timeout).min(state.run_deadline);
    let mut result = match &step.action {
        scenarios::model::Action::Http(req) => http_step::run(state, step, req, deadline).await,
        scenarios::model::Action::Dns(q) => other_steps::dns(state, step, q, deadline).await,
        scenarios::model::Action::Tcp(t) => other_steps::tcp(state, step, t, deadline).await,
        scenarios::model::Action::Tls(t) => other_steps::tls(state, step, t, deadline).await,
        scenarios::model::Action::Icmp(e) => other_steps::icmp(state, step, e, deadline).await,
        scenarios::model::Action::Grpc(g) => grpc_step::run(state, step, g, deadline).await,
        scenarios::model::Action::Websocket(w) => {
            websocket_step::run(state, step, w, deadline).await
        }
        scenarios::model::Action::Browser(b) => browser_step::run(state, step, b, deadline).await,
    };
    // A step with network phases lasts what they add up to: rendering
    // before them and checking after are the probe's time, not the
    // target's. Steps without phases count from start to end.
    let took = match &result.phases {
        Some(phases) => phases.total_ms(),
        None => ms(start.elapsed()),
    };
    result.duration_ms = Some(took);
    state.spans.step_ran(state.step_index, start);
    result
}

/// A step that failed before it could send anything.
pub(crate) fn failed_before_start(
    step: &Step,
    kind: wire::ErrorKind,
    message: String,
) -> StepResult {
    let mut r = StepResult::skipped(step.name.clone(), step.kind());
    r.status = StepStatus::Failed;
    r.duration_ms = Some(0.0);
    r.error = Some(wire::StepError { kind, message });
    r
}

pub(crate) fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}
