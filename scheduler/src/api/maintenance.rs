//! Maintenance windows: `GET`, `POST /api/v1/maintenance`,
//! `DELETE /api/v1/maintenance/{id}` (writes need an operator token;
//! windows of scheduler.toml cannot be deleted here: 409).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::app::App;
use crate::maintenance::{Source, Spec};
use crate::views::{self, MaintenanceList, MaintenanceView};

pub async fn list(State(app): State<Arc<App>>) -> Json<MaintenanceList> {
    Json(views::maintenance_list(&app))
}

pub async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let grant = app.auth.operator(&headers).await?;
    let spec: Spec = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid maintenance window: {e}")))?;
    let now = app.clock.now();
    if app
        .alerts
        .windows()
        .iter()
        .any(|w| w.name == spec.name && !w.is_over(now))
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("a maintenance window named `{}` exists", spec.name),
        ));
    }
    let mut window = spec
        .build(uuid::Uuid::now_v7().to_string(), Source::Api)
        .map_err(ApiError::bad_request)?;
    if window.is_over(now) {
        return Err(ApiError::bad_request("the window is over already"));
    }
    window.created_by = Some(grant.name.clone());
    window.created_at = Some(now);
    crate::evaluate::maintenance::put(&app, window.clone()).await?;
    tracing::info!(window = %window.id, name = %window.name, by = %grant.name, "Maintenance window created.");
    let detail = Some(window.name.clone());
    crate::audit::record(&app, &grant.name, "maintenance.create", &window.id, detail).await;
    let view = MaintenanceView::new(&window, now);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub async fn delete(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let grant = app.auth.operator(&headers).await?;
    if app
        .alerts
        .windows()
        .iter()
        .any(|w| w.id == id && w.source == Source::Config)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "this window is defined in scheduler.toml; remove it there",
        ));
    }
    if crate::evaluate::maintenance::delete(&app, id.clone()).await? {
        tracing::info!(window = %id, by = %grant.name, "Maintenance window deleted.");
        crate::audit::record(&app, &grant.name, "maintenance.delete", &id, None).await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no maintenance window with this id"))
    }
}
