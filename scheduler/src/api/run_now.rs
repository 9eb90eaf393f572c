//! `POST /api/v1/scenarios/{name}/run?regions=a,b&wait=30s`: one run per
//! region on that region's live probe, through the plan; the answer waits
//! for every region's result or for `wait`. 200 every region passed, 422
//! one failed, 504 one gave no result in time (no live probe counts as
//! that), 404 unknown scenario. `curl --fail` on it is a deploy gate.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use scenarios::wire::{Outcome, RunReason, RunRequest, RunResult};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::ApiError;
use crate::app::App;

/// Default `wait`.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);
/// Longest `wait`.
pub const MAX_WAIT: Duration = Duration::from_secs(120);

#[derive(Debug, Deserialize)]
pub struct RunQuery {
    pub(super) regions: Option<String>,
    pub(super) wait: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RunAnswer {
    pub scenario: String,
    pub results: BTreeMap<String, RunResult>,
    pub missing: Vec<String>,
}

pub(super) fn parse_wait(text: Option<&str>) -> Result<Duration, ApiError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(DEFAULT_WAIT);
    };
    match scenarios::duration::parse(text) {
        Ok(d) if !d.is_zero() && d <= MAX_WAIT => Ok(d),
        _ => Err(ApiError::bad_request(format!(
            "invalid `wait` `{text}`; expected a duration from 1ms to 120s, such as `30s`"
        ))),
    }
}

fn parse_regions(text: Option<&str>, all: Vec<String>) -> Result<Vec<String>, ApiError> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(all);
    };
    let mut out: Vec<String> = Vec::new();
    for region in text.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        if !all.iter().any(|r| r == region) {
            return Err(ApiError::bad_request(format!(
                "the scenario does not run in `{region}`; its regions: {}",
                all.join(", ")
            )));
        }
        if !out.iter().any(|r| r == region) {
            out.push(region.to_owned());
        }
    }
    Ok(out)
}

pub async fn run_now(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(query): Query<RunQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let grant = app.auth.operator(&headers).await?;
    let scenario = app
        .catalog
        .current()
        .get(&name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("unknown scenario `{name}`")))?;
    let regions = parse_regions(query.regions.as_deref(), app.fleet.regions_of(&scenario))?;
    let wait = parse_wait(query.wait.as_deref())?;
    let detail = Some(format!("regions {}", regions.join(", ")));
    crate::audit::record(&app, &grant.name, "run_now", &name, detail).await;
    let answer = run_in(&app, &name, regions, wait, |region| {
        let probe = app.fleet.owner(&name, &scenario.needs, region)?;
        let request = RunRequest {
            id: Uuid::now_v7(),
            scenario: name.clone(),
            requested_at: app.clock.now(),
            reason: RunReason::RunNow,
            inline: None,
        };
        Some((probe, request))
    })
    .await?;
    Ok(answer.into_response())
}

/// Asks each region's probe (as `ask` names it, with its request) to run
/// `scenario` once and waits up to `wait` for the results. A region `ask`
/// finds no probe for, or whose result does not come in time, is missing.
///
/// # Errors
/// Store errors (no region has been asked then).
pub(super) async fn run_in(
    app: &App,
    scenario: &str,
    regions: Vec<String>,
    wait: Duration,
    ask: impl Fn(&str) -> Option<(String, RunRequest)>,
) -> Result<RunAnswer, ApiError> {
    let mut missing = Vec::new();
    let mut pending = Vec::new();
    for region in regions {
        let Some((probe, request)) = ask(&region) else {
            missing.push(region);
            continue;
        };
        let id = request.id;
        let rx = app.fleet.wait_for_result(id);
        if let Err(e) = app.fleet.request_run(&probe, request).await {
            for (_, id, _) in &pending {
                app.fleet.stop_waiting(*id);
            }
            app.fleet.stop_waiting(id);
            return Err(e.into());
        }
        tracing::info!(scenario = %scenario, region = %region, probe = %probe, "Run now requested.");
        pending.push((region, id, rx));
    }
    let deadline = tokio::time::sleep(wait);
    tokio::pin!(deadline);
    let mut results = BTreeMap::new();
    for (region, id, rx) in pending {
        let got = tokio::select! {
            biased;
            r = rx => r.ok(),
            () = &mut deadline => None,
            () = app.shutdown.cancelled() => None,
        };
        match got {
            Some(result) => {
                results.insert(region, result);
            }
            None => {
                app.fleet.stop_waiting(id);
                missing.push(region);
            }
        }
    }
    missing.sort();
    Ok(RunAnswer {
        scenario: scenario.to_owned(),
        results,
        missing,
    })
}

impl RunAnswer {
    /// 200 every region passed, 422 one failed, 504 one gave no result
    /// (or there was no region to run in).
    fn status(&self) -> StatusCode {
        if self.results.values().any(|r| r.outcome != Outcome::Success) {
            StatusCode::UNPROCESSABLE_ENTITY
        } else if !self.missing.is_empty() || self.results.is_empty() {
            // A scenario with no region to run in has not passed either.
            StatusCode::GATEWAY_TIMEOUT
        } else {
            StatusCode::OK
        }
    }
}

impl IntoResponse for RunAnswer {
    fn into_response(self) -> Response {
        (self.status(), Json(self)).into_response()
    }
}
