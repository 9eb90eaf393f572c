//! `GET /api/v1/plan`: the probe's plan, with an ETag; `If-None-Match`
//! answers 304 when unchanged; `?wait=25s` holds the request until the
//! plan changes or the wait ends (at most 60 s).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scenarios::wire::Capabilities;
use serde::Deserialize;

use super::error::ApiError;
use crate::app::App;
use crate::auth::ProbeIdentity;
use crate::fleet::{PlanView, Report};

/// The longest long poll.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// Header a probe reports its spool depth with.
pub const SPOOL_HEADER: &str = "x-sonde-spool";
/// Header a probe says whether its spool's disk is full with (`1` or `0`).
pub const SPOOL_FULL_HEADER: &str = "x-sonde-spool-full";
/// Header a probe announces its capabilities with (`browser`; absent or
/// empty: none).
pub const CAPABILITIES_HEADER: &str = "x-sonde-capabilities";
/// Header a probe reports its version with (else `User-Agent: sonde-probe/V`).
pub const VERSION_HEADER: &str = "x-sonde-version";

#[derive(Debug, Deserialize)]
pub struct PlanQuery {
    wait: Option<String>,
}

pub async fn get_plan(
    State(app): State<Arc<App>>,
    Query(query): Query<PlanQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let probe = app.auth.probe(&headers).await?;
    let wait = parse_wait(query.wait.as_deref())?;
    let report = report(&headers);
    app.fleet.touch(&probe, report.clone()).await?;
    let known = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let view = wait_for_change(&app, &probe, known.as_deref(), wait).await?;
    if !wait.is_zero() {
        // The probe was here all along: a long poll keeps it live.
        app.fleet.touch(&probe, report).await?;
    }
    Ok(respond(view, known.as_deref()))
}

/// Computes the plan until it differs from `known` or `wait` passes.
async fn wait_for_change(
    app: &App,
    probe: &ProbeIdentity,
    known: Option<&str>,
    wait: Duration,
) -> Result<PlanView, ApiError> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut epoch = app.fleet.subscribe();
    let mut catalog = app.catalog.subscribe();
    loop {
        epoch.borrow_and_update();
        catalog.borrow_and_update();
        let view = app.fleet.plan(probe, &app.catalog.current()).await?;
        if !matches(known, &view.etag) {
            return Ok(view);
        }
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => return Ok(view),
            () = app.shutdown.cancelled() => return Ok(view),
            changed = epoch.changed() => if changed.is_err() { return Ok(view) },
            changed = catalog.changed() => if changed.is_err() { return Ok(view) },
        }
    }
}

fn respond(view: PlanView, known: Option<&str>) -> Response {
    let etag = HeaderValue::from_str(&view.etag).ok();
    let mut response = if matches(known, &view.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Json(view.into_plan()).into_response()
    };
    let headers = response.headers_mut();
    if let Some(etag) = etag {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Whether an `If-None-Match` value names `etag` (weak or strong, or `*`).
fn matches(if_none_match: Option<&str>, etag: &str) -> bool {
    if_none_match.is_some_and(|value| {
        value
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
    })
}

fn parse_wait(wait: Option<&str>) -> Result<Duration, ApiError> {
    let Some(text) = wait.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(Duration::ZERO);
    };
    let parsed = match text.parse::<u64>() {
        Ok(secs) => Ok(Duration::from_secs(secs)),
        Err(_) => scenarios::duration::parse(text),
    };
    parsed.map(|d| d.min(MAX_WAIT)).map_err(|e| {
        ApiError::bad_request(format!(
            "invalid `wait` `{text}` ({e}); expected a duration such as `25s`"
        ))
    })
}

fn report(headers: &HeaderMap) -> Report {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::trim)
    };
    let version = text(VERSION_HEADER)
        .or_else(|| {
            text(header::USER_AGENT.as_str()).and_then(|ua| ua.strip_prefix("sonde-probe/"))
        })
        .map(|v| v.chars().take(64).collect::<String>())
        .filter(|v| !v.is_empty());
    let spool_depth = text(SPOOL_HEADER)
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|d| *d >= 0);
    // Every plan request announces: a probe restarted without its
    // browser announces nothing and loses its browser scenarios.
    let capabilities = Capabilities::parse(text(CAPABILITIES_HEADER).unwrap_or_default());
    Report {
        version,
        spool_depth,
        spool_full: spool_full(headers),
        capabilities: Some(capabilities),
    }
}

/// `X-Sonde-Spool-Full`: `Some` when the probe told (`1`/`true` or
/// `0`/`false`); anything else is ignored like a missing header.
pub fn spool_full(headers: &HeaderMap) -> Option<bool> {
    let value = headers.get(SPOOL_FULL_HEADER)?.to_str().ok()?.trim();
    match value {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_forms() {
        assert!(matches(Some("\"abc\""), "\"abc\""));
        assert!(matches(Some("W/\"abc\""), "\"abc\""));
        assert!(matches(Some("\"x\", \"abc\""), "\"abc\""));
        assert!(matches(Some("*"), "\"abc\""));
        assert!(!matches(Some("\"abd\""), "\"abc\""));
        assert!(!matches(None, "\"abc\""));
    }

    #[test]
    fn wait_is_capped_and_checked() {
        assert_eq!(parse_wait(None).ok(), Some(Duration::ZERO));
        assert_eq!(parse_wait(Some("25s")).ok(), Some(Duration::from_secs(25)));
        assert_eq!(parse_wait(Some("25")).ok(), Some(Duration::from_secs(25)));
        assert_eq!(parse_wait(Some("10m")).ok(), Some(MAX_WAIT));
        assert!(parse_wait(Some("soon")).is_err());
    }
}
