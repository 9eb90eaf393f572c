//! `/metrics`, `/livez`, `/readyz`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::App;

pub async fn metrics(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = exposition::negotiate(accept);
    let text = exposition::render(&app.scrape().encode(), format);
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(exposition::content_type(format)),
    );
    response
}

pub async fn livez() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(app): State<Arc<App>>) -> Response {
    if app.is_ready() {
        match app.store.health().unwritable() {
            None => Json(json!({ "status": "ready" })).into_response(),
            Some(reason) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "store_unwritable", "reason": reason })),
            )
                .into_response(),
        }
    } else {
        let status = if app.shutdown.is_cancelled() {
            "shutting down"
        } else {
            "starting"
        };
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": status })),
        )
            .into_response()
    }
}
