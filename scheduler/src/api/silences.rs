//! The silences: `GET`, `POST /api/v1/silences`,
//! `DELETE /api/v1/silences/{id}` (writes need an operator token).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::alert::NewSilence;
use crate::app::App;
use crate::views::{self, SilenceList, SilenceView};

pub async fn list(State(app): State<Arc<App>>) -> Result<Json<SilenceList>, ApiError> {
    Ok(Json(views::silence_list(&app).await?))
}

pub async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let grant = app.auth.operator(&headers).await?;
    let request: NewSilence = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid silence: {e}")))?;
    let now = app.clock.now();
    let silence = request
        .build(uuid::Uuid::now_v7().to_string(), &grant.name, now)
        .map_err(ApiError::bad_request)?;
    crate::evaluate::silences::put(&app, silence.clone()).await?;
    tracing::info!(silence = %silence.id, by = %grant.name, "Silence created.");
    let detail = Some(silence.comment.clone());
    crate::audit::record(&app, &grant.name, "silence.create", &silence.id, detail).await;
    let view = SilenceView::new(silence, now);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub async fn delete(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let grant = app.auth.operator(&headers).await?;
    if crate::evaluate::silences::expire(&app, id.clone()).await? {
        tracing::info!(by = %grant.name, "Silence expired.");
        crate::audit::record(&app, &grant.name, "silence.expire", &id, None).await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no active silence with this id"))
    }
}
