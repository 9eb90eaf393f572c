//! `POST /api/v1/notify/test` (operator token): a test alert to every
//! notifier, or to the one named in `{"notifier": "NAME"}`. 200 when each
//! accepted it, 502 when one did not; the body lists every answer.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use crate::alert::notify::DeliveryOptions;
use crate::alert::notify::trial::{self, TrialAnswer, TrialError};
use crate::app::App;

/// The optional request body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    notifier: Option<String>,
}

/// The answer: `accepted` is true when every notifier took the test.
#[derive(Debug, Serialize)]
struct TestAnswer {
    accepted: bool,
    results: Vec<TrialAnswer>,
}

pub async fn test(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let grant = app.auth.operator(&headers).await?;
    let request: TestRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TestRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "invalid notify test request (expected {{\"notifier\": \"NAME\"}} or no body): {e}"
            ))
        })?
    };
    let results = trial::send_test(
        &app.config.notify,
        &DeliveryOptions::default(),
        request.notifier.as_deref(),
        &app.config.base_url(),
        app.clock.now(),
    )
    .await
    .map_err(|e| match e {
        TrialError::UnknownNotifier { .. } => ApiError::not_found(e.to_string()),
        TrialError::NoNotifiers => ApiError::new(StatusCode::CONFLICT, e.to_string()),
        TrialError::Notifiers(_) => ApiError::internal(&e),
    })?;
    let accepted = results.iter().all(|r| r.accepted);
    tracing::info!(by = %grant.name, accepted, notifiers = results.len(), "Test notification sent.");
    let target = request.notifier.as_deref().unwrap_or("every notifier");
    let detail = Some(
        if accepted {
            "accepted"
        } else {
            "refused by one or more"
        }
        .to_owned(),
    );
    crate::audit::record(&app, &grant.name, "notify.test", target, detail).await;
    let status = if accepted {
        StatusCode::OK
    } else {
        StatusCode::BAD_GATEWAY
    };
    Ok((status, Json(TestAnswer { accepted, results })).into_response())
}
