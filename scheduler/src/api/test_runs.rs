//! `POST /api/v1/runs?regions=a,b&wait=30s`, body a scenario file: a
//! fleet test run. Each region's live probe runs the scenario once, as it
//! is sent, before it enters the catalog (a deploy gate for a changed
//! journey). Nothing is added to the catalog: the scenario travels in the
//! plan with its request, its results answer the request only, and the
//! answer has run now's shape and statuses (200, 422, 504).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scenarios::Scenario;
use scenarios::diagnostic::Style;
use scenarios::load::{MAX_FILE_BYTES, MapFiles, parse_scenario};
use scenarios::wire::{Capabilities, PlannedScenario, RunReason, RunRequest};
use serde_json::json;
use uuid::Uuid;

use super::error::ApiError;
use super::run_now::{RunQuery, parse_wait, run_in};
use crate::app::App;

/// The file name diagnostics show when the request names none.
const DEFAULT_PATH: &str = "scenario.toml";

pub async fn post_run(
    State(app): State<Arc<App>>,
    Query(query): Query<RunQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let grant = app.auth.operator(&headers).await?;
    check_content_type(&headers)?;
    let wait = parse_wait(query.wait.as_deref())?;
    let bytes = read_body(&headers, body).await?;
    let path = file_name(&headers).unwrap_or_else(|| DEFAULT_PATH.to_owned());
    let scenario = match parse_scenario(&path, &bytes, &MapFiles::default()) {
        Ok(s) => s,
        Err(invalid) => {
            let error = format!(
                "`{}` does not validate ({} errors)",
                invalid.path,
                invalid.diagnostics.len()
            );
            let diagnostics = invalid.render(Style::Plain);
            let answer = json!({ "error": error, "diagnostics": diagnostics });
            return Ok((StatusCode::BAD_REQUEST, Json(answer)).into_response());
        }
    };
    let regions = regions(&app, &scenario, query.regions.as_deref())?;
    let name = scenario.name.clone();
    let needs = Capabilities::needed_by(&scenario);
    let detail = Some(format!(
        "version {}, regions {}",
        scenario.version,
        regions.join(", ")
    ));
    crate::audit::record(&app, &grant.name, "test_run", &name, detail).await;
    let source = String::from_utf8_lossy(&bytes).into_owned();
    let inline = PlannedScenario {
        name: name.clone(),
        path,
        version: scenario.version.clone(),
        source,
        files: BTreeMap::new(),
    };
    let answer = run_in(&app, &name, regions, wait, |region| {
        let probe = app.fleet.owner(&name, &needs, region)?;
        let request = RunRequest {
            id: Uuid::now_v7(),
            scenario: name.clone(),
            requested_at: app.clock.now(),
            reason: RunReason::RunNow,
            inline: Some(inline.clone()),
        };
        Some((probe, request))
    })
    .await?;
    Ok(answer.into_response())
}

/// A scenario file is TOML: `application/toml`, or no type at all.
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if matches!(essence.as_str(), "application/toml" | "text/plain") {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "body of type `{essence}`; expected a scenario file as `Content-Type: application/toml`"
        ),
    ))
}

/// The body, at most a scenario file's largest size.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "scenario file larger than {MAX_FILE_BYTES} bytes; split the journey into several scenarios"
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_FILE_BYTES as u64) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, MAX_FILE_BYTES)
        .await
        .map_err(|e| {
            if super::results::is_length_limit(&e) {
                too_large()
            } else {
                ApiError::bad_request(format!("cannot read the request body: {e}"))
            }
        })?;
    Ok(bytes.to_vec())
}

/// The file name of `Content-Disposition: attachment; filename="…"`:
/// it names the scenario when the file sets no `name`, as `probe run`
/// would, and it is the path diagnostics show.
fn file_name(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_DISPOSITION)?.to_str().ok()?;
    let name = value
        .split(';')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("filename="))?
        .trim_matches('"');
    // Only the last component: the scheduler reads no file by it.
    let name = name.rsplit(['/', '\\']).next()?;
    (!name.is_empty()).then(|| name.to_owned())
}

/// The regions asked for: by default those the scenario names, else every
/// region with a live probe. A region no probe ever registered in is an
/// error; one without a live probe now is missing from the answer.
fn regions(app: &App, scenario: &Scenario, asked: Option<&str>) -> Result<Vec<String>, ApiError> {
    let known = app.fleet.regions();
    let asked: Vec<String> = match asked.filter(|t| !t.trim().is_empty()) {
        Some(text) => text
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
        None => match &scenario.regions {
            Some(regions) => regions.clone(),
            None => known
                .iter()
                .filter(|r| !app.fleet.live_in(r).is_empty())
                .cloned()
                .collect(),
        },
    };
    let mut out: Vec<String> = Vec::new();
    for region in asked {
        if !known.contains(&region) {
            let known: Vec<&str> = known.iter().map(String::as_str).collect();
            let listed = if known.is_empty() {
                "none yet".to_owned()
            } else {
                known.join(", ")
            };
            return Err(ApiError::bad_request(format!(
                "no probe has registered in region `{region}`; regions with probes: {listed}"
            )));
        }
        if !out.contains(&region) {
            out.push(region);
        }
    }
    Ok(out)
}
