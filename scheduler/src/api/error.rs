//! API errors: `{"error": "…"}` with a fitting status. Internal details are
//! logged, never sent.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::AuthError;
use crate::store::{StoreError, WriteFailure};

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// Logs `detail` and answers 500 without it.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "Request failed.");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; see the scheduler's log",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Closed => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the scheduler is shutting down",
            ),
            // Nothing was committed, so nothing is acknowledged: a probe
            // keeps its results spooled and sends them again.
            StoreError::DiskFull(why) => {
                tracing::error!(error = %why, "Request failed: the store cannot be written.");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the store cannot be written (database or disk is full); nothing was saved, retry later",
                )
            }
            e if e.write_failure() == Some(WriteFailure::Unavailable) => {
                tracing::error!(error = %e, "Request failed: the database is unavailable.");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the store cannot be reached (database unavailable); nothing was saved, retry later",
                )
            }
            // Alert state (silences, maintenance windows) changes on the
            // leader alone; a load balancer's next try may reach it.
            StoreError::Fenced(why) => {
                let mut answer = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "{why}; only the leader replica changes alert state: nothing was saved, retry (another replica, or once a leader is elected)"
                    ),
                );
                answer.retry_after = Some(2);
                answer
            }
            other => Self::internal(&other),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let status = match e {
            AuthError::MissingToken | AuthError::UnknownToken => StatusCode::UNAUTHORIZED,
            AuthError::MissingHeader(_) => StatusCode::BAD_REQUEST,
            AuthError::Forbidden(_) => StatusCode::FORBIDDEN,
            AuthError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
