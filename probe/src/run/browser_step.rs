//! `browser` steps: the actions run in order in the run's page (one
//! browser context per run, shared by its browser steps), then the page
//! is observed for the step's subjects. A failed step keeps a screenshot.

use std::time::Duration;

use base64::Engine;
use scenarios::expr::Observation;
use scenarios::model::{BrowserAction, BrowserJourney, Step};
use scenarios::template::Shown;
use scenarios::wire::{self, ActionTiming, BrowserInfo, Evidence, Screenshot, StepResult};
use tokio::time::Instant;

use super::{RunState, checks, failed_before_start, ms};
use crate::browser::{ActionError, PageSession};

/// How long reading the page and taking its screenshot may go on past a
/// deadline, so a step cut short still shows where it stood.
const EVIDENCE_GRACE: Duration = Duration::from_secs(2);

/// How long starting (or reaching) the browser and opening a page may take.
const BROWSER_START: Duration = Duration::from_secs(30);

/// An action with its templates rendered.
enum Ready {
    Goto(Shown<String>),
    Click(String),
    Fill(String, String),
    Select(String, String),
    Press(String),
    WaitFor(String),
    Eval(String),
}

pub async fn run(
    state: &mut RunState<'_>,
    step: &Step,
    journey: &BrowserJourney,
    deadline: Instant,
) -> StepResult {
    let Some(browsers) = state.runner.browser.clone() else {
        return failed_before_start(
            step,
            wire::ErrorKind::NoBrowser,
            "no browser: start the probe with `--browser ws://…` or `--browser-path PATH`".into(),
        );
    };
    let actions = match render(state, journey) {
        Ok(a) => a,
        Err(message) => {
            return failed_before_start(step, wire::ErrorKind::InvalidRequest, message);
        }
    };
    let mut result = StepResult::skipped(step.name.clone(), step.kind());
    let mut deadline = deadline;
    if state.browser_page.is_none() {
        // Starting Chromium is the probe's cost, once, not the page's: the
        // step's timeout starts when its page is open.
        let opening = Instant::now();
        match tokio::time::timeout(BROWSER_START, browsers.open()).await {
            Ok(Ok(page)) => state.browser_page = Some(page),
            Ok(Err(message)) => return failed(result, wire::ErrorKind::NoBrowser, message),
            Err(_) => {
                let message = format!(
                    "the browser did not open a page within {}s",
                    BROWSER_START.as_secs()
                );
                return failed(result, wire::ErrorKind::NoBrowser, message);
            }
        }
        deadline += opening.elapsed();
    }
    let Some(page) = state.browser_page.as_ref() else {
        return failed(result, wire::ErrorKind::Internal, "no page".into());
    };
    let start = Instant::now();
    let mut timings = Vec::with_capacity(actions.len());
    let mut error = None;
    for (index, (action, ready)) in journey.actions.iter().zip(&actions).enumerate() {
        let began = Instant::now();
        let outcome = tokio::time::timeout_at(deadline, async {
            if let Ready::Goto(url) = ready {
                guard(state, url).await.map_err(|f| (f.kind, f.message))?;
            }
            perform(page, ready)
                .await
                .map_err(|e| (wire::ErrorKind::Browser, e.0))
        })
        .await;
        timings.push(ActionTiming {
            action: action.name().into(),
            duration_ms: ms(began.elapsed()),
        });
        let which = format!("action {} (`{}`)", index + 1, action.name());
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err((kind, message))) => {
                error = Some((kind, format!("{which}: {message}")));
                break;
            }
            Err(_) => {
                let message = format!("{which} did not finish within the step's timeout");
                error = Some((wire::ErrorKind::Timeout, message));
                break;
            }
        }
    }
    let seen = tokio::time::timeout(EVIDENCE_GRACE, page.state())
        .await
        .unwrap_or_default();
    result.browser = Some(BrowserInfo {
        url: seen.observed.url.clone(),
        status: seen.status,
        actions: timings,
    });
    match error {
        Some((kind, message)) => {
            result.status = wire::StepStatus::Failed;
            result.error = Some(wire::StepError { kind, message });
        }
        None => {
            let obs = Observation {
                duration: start.elapsed(),
                status: seen.status,
                page: Some(&seen.observed),
                ..Observation::default()
            };
            checks::apply(step, &obs, &mut result, &mut state.scope);
        }
    }
    if result.status == wire::StepStatus::Failed
        && let Ok(Some(png)) = tokio::time::timeout(EVIDENCE_GRACE, page.screenshot()).await
    {
        result.evidence = Some(Evidence {
            screenshot: Some(Screenshot {
                content_type: "image/png".into(),
                data: base64::engine::general_purpose::STANDARD.encode(png),
            }),
            ..Evidence::default()
        });
    }
    result
}

fn render(state: &RunState<'_>, journey: &BrowserJourney) -> Result<Vec<Ready>, String> {
    let text = |t: &scenarios::template::Template, what: &str| {
        t.render(&state.scope).map_err(|e| format!("{what}: {e}"))
    };
    journey
        .actions
        .iter()
        .map(|a| {
            Ok(match a {
                BrowserAction::Goto(url) => Ready::Goto(
                    url.render_shown(&state.scope)
                        .map_err(|e| format!("goto: {e}"))?,
                ),
                BrowserAction::Click(s) => Ready::Click(text(s, "click")?),
                BrowserAction::Fill { selector, value } => {
                    Ready::Fill(text(selector, "fill")?, text(value, "fill value")?)
                }
                BrowserAction::Select { selector, value } => {
                    Ready::Select(text(selector, "select")?, text(value, "select value")?)
                }
                BrowserAction::Press(k) => Ready::Press(text(k, "press")?),
                BrowserAction::WaitFor(w) => Ready::WaitFor(text(w, "wait_for")?),
                BrowserAction::Eval(e) => Ready::Eval(e.clone()),
            })
        })
        .collect()
}

/// The target guard on the host a `goto` loads.
async fn guard(state: &RunState<'_>, url: &Shown<String>) -> Result<(), crate::net::NetFailure> {
    let host = url::Url::parse(&url.sent)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_string()));
    match host {
        Some(host) => state.runner.net.guard_page(&host).await,
        None => Err(crate::net::NetFailure::new(
            wire::ErrorKind::InvalidRequest,
            format!("invalid URL `{}`", url.shown),
        )),
    }
}

async fn perform(page: &PageSession, action: &Ready) -> Result<(), ActionError> {
    match action {
        Ready::Goto(url) => page.goto(&url.sent, &url.shown).await,
        Ready::Click(s) => page.click(s).await,
        Ready::Fill(s, v) => page.fill(s, v).await,
        Ready::Select(s, v) => page.select(s, v).await,
        Ready::Press(k) => page.press(k).await,
        Ready::WaitFor(w) => page.wait_for(w).await,
        Ready::Eval(e) => page.eval(e).await,
    }
}

fn failed(mut result: StepResult, kind: wire::ErrorKind, message: String) -> StepResult {
    result.status = wire::StepStatus::Failed;
    result.error = Some(wire::StepError { kind, message });
    result
}
