//! The HTTP API (axum). JSON with snake_case fields; errors are
//! `{"error": "…"}` with a fitting status.
//!
//! Every HTTP handler lives here; the read handlers serialize the typed
//! views of `crate::views`, which the status page renders too.
//!
//! - `plan`, `results`: the probe protocol (probe token).
//! - `scenarios`, `alerts`, `catalog`, `probes`, `reports`: the read API
//!   (no token, or a viewer or operator token with `read_access = "token"`,
//!   see `read_access`); `params`: its shared query parameters;
//!   `uptime_csv`: the uptime report as CSV.
//! - `silences`, `maintenance`, `run_now`, `test_runs`, `notify_test`:
//!   silences, maintenance windows, on-demand runs, fleet test runs of a
//!   scenario outside the catalog and test notifications (operator token
//!   for writes).
//! - `ops`: `/metrics`, `/livez`, `/readyz`.
//! - `error`: [`ApiError`], the JSON error answer.

mod alerts;
mod audit;
mod catalog;
pub mod error;
mod maintenance;
mod notify_test;
mod ops;
mod params;
mod plan;
mod probes;
mod read_access;
mod reports;
mod results;
mod run_now;
mod scenarios;
mod silences;
mod test_runs;
mod uptime_csv;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use plan::{MAX_WAIT, SPOOL_HEADER, VERSION_HEADER};

use crate::app::App;

/// Every route, with `app` as state.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        // Probe protocol and operator endpoints: their handlers check the
        // token. Health checks are always open.
        .route("/api/v1/plan", get(plan::get_plan))
        .route(
            "/api/v1/results",
            // The handler enforces `max_batch_bytes` itself, with a JSON 413.
            post(results::post_results).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/scenarios/{name}/run", post(run_now::run_now))
        // The handler reads at most a scenario file's size, with a JSON 413.
        .route(
            "/api/v1/runs",
            post(test_runs::post_run).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/silences", post(silences::create))
        .route("/api/v1/silences/{id}", delete(silences::delete))
        .route("/api/v1/maintenance", post(maintenance::create))
        .route("/api/v1/maintenance/{id}", delete(maintenance::delete))
        .route("/api/v1/notify/test", post(notify_test::test))
        .route("/api/v1/audit", get(audit::list))
        .route("/livez", get(ops::livez))
        .route("/readyz", get(ops::readyz))
        .merge(reads(Arc::clone(&app)))
        .fallback(not_found)
        .layer(CatchPanicLayer::custom(panicked))
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}

/// What `read_access` guards: the status page, the read API, `/metrics`.
fn reads(app: Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .route("/", get(crate::status::page))
        .route("/scenarios/{name}", get(crate::status::scenario_page))
        .route("/status.js", get(crate::status::script))
        .route("/api/v1/scenarios", get(scenarios::list))
        .route("/api/v1/scenarios/{name}", get(scenarios::one))
        .route("/api/v1/scenarios/{name}/runs", get(scenarios::runs))
        .route("/api/v1/alerts", get(alerts::list))
        .route("/api/v1/silences", get(silences::list))
        .route("/api/v1/maintenance", get(maintenance::list))
        .route("/api/v1/reports/alerts", get(reports::alerts))
        .route("/api/v1/reports/uptime", get(reports::uptime))
        .route("/api/v1/catalog", get(catalog::get_catalog))
        .route("/api/v1/probes", get(probes::list))
        .route("/metrics", get(ops::metrics))
        .route_layer(middleware::from_fn_with_state(
            app,
            read_access::require_reader,
        ))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see /api/v1/scenarios, /api/v1/probes, /api/v1/catalog")
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("Request handler panicked.");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; see the scheduler's log",
    )
    .into_response()
}
