//! `GET /api/v1/catalog`: the scenario files, what each one serves, and
//! the diagnostics of those that do not validate; with replicas, the
//! catalog each one loaded.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use crate::app::App;
use crate::views::{self, CatalogView};

pub async fn get_catalog(State(app): State<Arc<App>>) -> Json<CatalogView> {
    let mut view = views::catalog_view(&app.catalog.current());
    view.replicas = views::replica_views(&app.peers.all());
    Json(view)
}
