//! `read_access = "token"`: the read routes (status page, read API,
//! `/metrics`) need a viewer or operator token, as Bearer or HTTP Basic.
//! A refusal without a token challenges with Basic so a browser asks for
//! one; the page's own script then fetches with the same credentials.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::app::App;
use crate::config::ReadAccess;

/// The challenge of a refused read: browsers prompt for Basic.
const CHALLENGE: &str = "Basic realm=\"sonde\"";

/// Lets a read through when reads are open or its token may read.
pub async fn require_reader(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if app.config.read_access == ReadAccess::Open {
        return next.run(request).await;
    }
    match app.auth.reader(request.headers()).await {
        Ok(_) => next.run(request).await,
        Err(e) => {
            let mut response = ApiError::from(e).into_response();
            if response.status() == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(CHALLENGE),
                );
            }
            response
        }
    }
}
