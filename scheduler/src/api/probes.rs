//! `GET /api/v1/probes`: probes with region, version, last seen, liveness
//! and assignments, and every region with its live probe count.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use crate::app::App;
use crate::views::{self, ProbeList};

pub async fn list(State(app): State<Arc<App>>) -> Json<ProbeList> {
    Json(views::probe_list(&app))
}
