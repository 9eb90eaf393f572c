//! `GET /api/v1/reports/alerts?since=7d`: per scenario, pages sent, time
//! firing, mean time to resolve, flaps, muted and suppressed alerts.
//! `GET /api/v1/reports/uptime?from=&to=&format=json|csv`: availability
//! per scenario × region and UTC day, downtime and incidents.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::ApiError;
use super::params::{self, End};
use crate::app::App;
use crate::views::{self, AlertReport};

/// The report's default span.
const DEFAULT_SINCE: Duration = Duration::from_secs(7 * 86_400);
/// The uptime report's default span, back from now.
const UPTIME_DEFAULT: chrono::Duration = chrono::Duration::days(30);
/// The uptime report's longest span: a year and a bit, for a yearly
/// review; longer is a bulk export, not a report.
const UPTIME_MAX_DAYS: i64 = 400;

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

#[derive(Debug, Deserialize)]
pub struct UptimeQuery {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

pub async fn uptime(
    State(app): State<Arc<App>>,
    Query(query): Query<UptimeQuery>,
) -> Result<Response, ApiError> {
    let csv = match query.format.as_deref() {
        None | Some("" | "json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "invalid `format` `{other}`; expected `json` or `csv`"
            )));
        }
    };
    let now = app.clock.now();
    let to = params::instant("to", query.to.as_deref(), End::To, now, now)?;
    let from = params::instant(
        "from",
        query.from.as_deref(),
        End::From,
        now,
        to - UPTIME_DEFAULT,
    )?;
    let time = |t| scenarios::wire::time::format(&t);
    if from >= to {
        return Err(ApiError::bad_request(format!(
            "`from` ({}) must be before `to` ({})",
            time(from),
            time(to)
        )));
    }
    if to - from > chrono::Duration::days(UPTIME_MAX_DAYS) {
        return Err(ApiError::bad_request(format!(
            "the span from `from` to `to` is longer than {UPTIME_MAX_DAYS} days; ask for less"
        )));
    }
    if from >= now {
        return Err(ApiError::bad_request(format!(
            "`from` ({}) is in the future",
            time(from)
        )));
    }
    let report = views::uptime_report(&app, None, from, to).await?;
    if csv {
        super::uptime_csv::render(&report)
    } else {
        Ok(Json(report).into_response())
    }
}
