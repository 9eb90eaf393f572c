//! `GET /api/v1/alerts` and the silences: `GET`, `POST /api/v1/silences`,
//! `DELETE /api/v1/silences/{id}` (writes need an operator token).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::engine::RECENT_SILENCES;
use super::model::{Alert, AlertStatus};
use super::silence::{NewSilence, Silence};
use super::stored::{StoredAlert, TimelineEntry};
use crate::api::ApiError;
use crate::app::App;
use crate::store::Tx;

/// Resolved alerts listed.
const RECENT_ALERTS: usize = 50;

/// An alert with how it was handled and its timeline.
#[derive(Debug, Serialize)]
pub struct AlertView {
    #[serde(flatten)]
    pub alert: Alert,
    pub status: AlertStatus,
    /// Under its scenario's global alert (not sent separately).
    pub grouped: bool,
    /// A silence matches it.
    pub muted: bool,
    pub timeline: Vec<TimelineEntry>,
}

#[derive(Debug, Serialize)]
pub struct AlertList {
    pub open: Vec<AlertView>,
    pub recent: Vec<AlertView>,
}

fn view(tx: &dyn Tx, a: StoredAlert) -> Result<AlertView, crate::store::StoreError> {
    Ok(AlertView {
        timeline: tx.timeline_of(a.row)?,
        alert: a.alert,
        status: a.status,
        grouped: a.grouped,
        muted: a.muted,
    })
}

pub async fn list_alerts(State(app): State<Arc<App>>) -> Result<Json<AlertList>, ApiError> {
    let list = app
        .store
        .read(|tx| {
            let open = tx
                .open_alerts()?
                .into_iter()
                .map(|a| view(tx, a))
                .collect::<Result<_, _>>()?;
            let recent = tx
                .resolved_alerts(RECENT_ALERTS)?
                .into_iter()
                .map(|a| view(tx, a))
                .collect::<Result<_, _>>()?;
            Ok(AlertList { open, recent })
        })
        .await?;
    Ok(Json(list))
}

/// A silence and whether it is in force.
#[derive(Debug, Serialize)]
pub struct SilenceView {
    #[serde(flatten)]
    pub silence: Silence,
    pub active: bool,
}

#[derive(Debug, Serialize)]
pub struct SilenceList {
    pub silences: Vec<SilenceView>,
}

pub async fn list_silences(State(app): State<Arc<App>>) -> Result<Json<SilenceList>, ApiError> {
    let now = app.clock.now();
    let since = (now - RECENT_SILENCES).timestamp_millis();
    let silences = app
        .store
        .read(move |tx| tx.silences_ending_after(since))
        .await?
        .into_iter()
        .map(|s| SilenceView {
            active: s.is_active(now),
            silence: s,
        })
        .collect();
    Ok(Json(SilenceList { silences }))
}

pub async fn create_silence(
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
    let saved = silence.clone();
    crate::evaluate::silences::put(&app, saved).await?;
    tracing::info!(silence = %silence.id, by = %grant.name, "Silence created.");
    let view = SilenceView {
        active: silence.is_active(now),
        silence,
    };
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub async fn delete_silence(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let grant = app.auth.operator(&headers).await?;
    let found = crate::evaluate::silences::expire(&app, id).await?;
    if found {
        tracing::info!(by = %grant.name, "Silence expired.");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no active silence with this id"))
    }
}
