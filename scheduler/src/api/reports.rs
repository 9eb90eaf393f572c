//! `GET /api/v1/reports/alerts?since=7d`: per scenario, pages sent, time
//! firing, mean time to resolve, flaps, muted and suppressed alerts.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::error::ApiError;
use crate::app::App;
use crate::views::{self, AlertReport};

/// The report's default span.
const DEFAULT_SINCE: Duration = Duration::from_secs(7 * 86_400);

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    since: Option<String>,
}

pub async fn alerts(
    State(app): State<Arc<App>>,
    Query(query): Query<ReportQuery>,
) -> Result<Json<AlertReport>, ApiError> {
    let span = super::params::duration("since", query.since.as_deref(), DEFAULT_SINCE)?;
    Ok(Json(views::alert_report(&app, span).await?))
}
