//! `GET /api/v1/scenarios`, `/scenarios/{name}` and `/scenarios/{name}/runs`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use super::error::ApiError;
use crate::app::App;
use crate::views::{self, DEFAULT_WINDOW, RunList, ScenarioDetail, ScenarioList};

/// Default and largest `limit` of runs.
const DEFAULT_RUNS: usize = 20;
const MAX_RUNS: usize = 500;

#[derive(Debug, Deserialize)]
pub struct WindowQuery {
    window: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RunsQuery {
    region: Option<String>,
    limit: Option<String>,
}

pub async fn list(
    State(app): State<Arc<App>>,
    Query(query): Query<WindowQuery>,
) -> Result<Json<ScenarioList>, ApiError> {
    let window = parse_window(query.window.as_deref())?;
    Ok(Json(views::scenario_list(&app, window).await?))
}

pub async fn one(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(query): Query<WindowQuery>,
) -> Result<Json<ScenarioDetail>, ApiError> {
    let window = parse_window(query.window.as_deref())?;
    views::scenario_detail(&app, &name, window)
        .await?
        .map(Json)
        .ok_or_else(|| unknown(&name))
}

pub async fn runs(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(query): Query<RunsQuery>,
) -> Result<Json<RunList>, ApiError> {
    if app.catalog.current().get(&name).is_none() {
        return Err(unknown(&name));
    }
    let limit = match query.limit.as_deref() {
        None => DEFAULT_RUNS,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_RUNS).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "invalid `limit` `{text}`; expected a number from 1 to {MAX_RUNS}"
                )));
            }
        },
    };
    let region = query.region.filter(|r| !r.is_empty());
    views::run_list(&app, &name, region, limit)
        .await?
        .map(Json)
        .ok_or_else(|| unknown(&name))
}

fn unknown(name: &str) -> ApiError {
    ApiError::not_found(format!("unknown scenario `{name}`"))
}

fn parse_window(text: Option<&str>) -> Result<Duration, ApiError> {
    super::params::duration("window", text, DEFAULT_WINDOW)
}
