//! `GET /api/v1/catalog`: the scenario files, what each one serves, and
//! the diagnostics of those that do not validate.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use crate::app::App;
use crate::views::{self, CatalogView};

pub async fn get_catalog(State(app): State<Arc<App>>) -> Json<CatalogView> {
    Json(views::catalog_view(&app.catalog.current()))
}
