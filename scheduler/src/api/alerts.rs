//! `GET /api/v1/alerts`: open and recent alerts with their timelines.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use super::error::ApiError;
use crate::app::App;
use crate::views::{self, AlertList};

pub async fn list(State(app): State<Arc<App>>) -> Result<Json<AlertList>, ApiError> {
    Ok(Json(views::alert_list(&app).await?))
}
