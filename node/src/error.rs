//! JSON errors: `{"error": "..."}` with the right status; a 500 never shows its cause (that
//! goes to the log).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use guts_store::StoreError;
use serde_json::json;

/// An error answered as JSON.
#[derive(Debug)]
pub struct ApiError {
    /// The status.
    pub status: StatusCode,
    /// The message shown to the client.
    pub message: String,
}

impl ApiError {
    /// An error with a message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    /// 401: credentials are needed, or the ones given are wrong (the response asks for
    /// HTTP Basic, so git prompts and credential helpers answer).
    pub fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 403: the caller is known but may not do this.
    pub fn forbidden(message: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 503 while the store is opening or shutting down.
    pub fn unavailable() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "the node is not ready")
    }

    /// 500, with the cause logged and hidden.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::not_found("repository"),
            StoreError::Exists => Self::new(StatusCode::CONFLICT, "repository already exists"),
            StoreError::InvalidName(m) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("invalid name: {m}"),
            ),
            StoreError::Invalid(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            other => Self::internal(&other),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::internal(&e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"guts\""),
            );
        }
        resp
    }
}

/// An error and its sources, as one line (`a: b: c`), repeated messages left out.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let m = s.to_string();
        if !out.ends_with(&m) {
            out = format!("{out}: {m}");
        }
        source = s.source();
    }
    out
}
