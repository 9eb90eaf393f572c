//! The agent's HTTP endpoints on `--listen`: `/metrics` (OpenMetrics or the
//! classic text format, by `Accept`), `/livez`, and `/readyz` (ready once a
//! plan is loaded, from the scheduler or the disk cache, while the spool
//! takes results; JSON `{"status": …, "reason": …}` like the scheduler's).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::registry::Registry;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::plan::PlanWatch;
use super::spool::Spool;

#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    plan: PlanWatch,
    spool: Arc<Spool>,
}

/// The routes, for serving or for `oneshot` tests.
pub fn router(registry: Registry, plan: PlanWatch, spool: Arc<Spool>) -> Router {
    let state = AppState {
        registry: Arc::new(registry),
        plan,
        spool,
    };
    Router::new()
        .route("/metrics", get(metrics))
        .route("/livez", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// Serves until `stop`.
///
/// # Errors
/// When accepting connections fails for good.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    stop: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = exposition::negotiate(accept);
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &state.registry).is_err() {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            String::new(),
        );
    }
    let body = match format {
        exposition::Format::OpenMetrics => text,
        exposition::Format::Classic => exposition::to_classic(&text),
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, exposition::content_type(format))],
        body,
    )
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let unavailable = |status, reason: String| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": status, "reason": reason })),
        )
    };
    if state.plan.borrow().is_none() {
        return unavailable("starting", "no plan yet".to_owned());
    }
    // Results still run and the newest are kept, but old ones are being
    // lost: an operator must free the disk.
    if let Some(why) = state.spool.unwritable() {
        return unavailable("spool_unwritable", why);
    }
    (StatusCode::OK, Json(json!({ "status": "ready" })))
}
