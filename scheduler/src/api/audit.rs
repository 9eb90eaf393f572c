//! `GET /api/v1/audit?since=7d&limit=200` (operator token): every write,
//! newest first, with the token's name, time, action and target.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use crate::app::App;
use crate::store::audit::AuditEntry;

const DEFAULT_SINCE: Duration = Duration::from_secs(7 * 86_400);
const MAX_ENTRIES: usize = 1000;

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    since: Option<String>,
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct AuditList {
    entries: Vec<AuditEntry>,
}

pub async fn list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(query): Query<AuditQuery>,
) -> Result<Json<AuditList>, ApiError> {
    app.auth.operator(&headers).await?;
    let span = super::params::duration("since", query.since.as_deref(), DEFAULT_SINCE)?;
    let limit = query.limit.unwrap_or(200).clamp(1, MAX_ENTRIES);
    let since = app.clock.now_ms() - crate::clock::millis(span);
    let entries = app
        .store
        .read(move |tx| tx.audit_since(since, limit))
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(AuditList { entries }))
}
