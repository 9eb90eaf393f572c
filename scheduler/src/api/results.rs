//! `POST /api/v1/results`: a probe's result batch.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::app::App;
use crate::fleet::Report;
use crate::ingest::{self, IngestError};

pub async fn post_results(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let probe = app.auth.probe(&headers).await?;
    let report = Report {
        spool_full: super::plan::spool_full(&headers),
        ..Report::default()
    };
    app.fleet.touch(&probe, report).await?;
    let limit = app.config.max_batch_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "result batch larger than {limit} bytes (max_batch_bytes); send smaller batches"
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        if is_length_limit(&e) {
            too_large()
        } else {
            ApiError::bad_request(format!("cannot read the request body: {e}"))
        }
    })?;
    let report = ingest::ingest(&app, &probe, &bytes)
        .await
        .map_err(|e| match e {
            IngestError::Malformed(_) => ApiError::bad_request(e.to_string()),
            IngestError::RateLimited { retry_after, .. } => {
                let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
                let mut err = ApiError::new(StatusCode::TOO_MANY_REQUESTS, e.to_string());
                err.retry_after = Some(secs);
                err
            }
            IngestError::Store(store) => ApiError::from(store),
        })?;
    let status = if report.all_rejected {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Json(report.ack)).into_response())
}

pub(super) fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}
