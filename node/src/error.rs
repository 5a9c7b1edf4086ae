//! JSON errors: `{"error": "..."}` with the right status; a 500 never shows its cause (that
//! goes to the log).

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
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

    /// 404, naming what was looked for: `repository not found: alice/app`. (Names are
    /// echoed at most 200 characters long.)
    pub fn not_found(what: &str, name: &str) -> Self {
        let name: String = name.chars().take(200).collect();
        Self::new(StatusCode::NOT_FOUND, format!("{what} not found: {name}"))
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

impl From<guts_git::odb::OdbError> for ApiError {
    /// Objects that cannot be read are this node's fault: 500, cause logged.
    fn from(e: guts_git::odb::OdbError) -> Self {
        Self::internal(&e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::new(StatusCode::NOT_FOUND, "repository not found"),
            StoreError::Exists => Self::new(StatusCode::CONFLICT, "repository already exists"),
            StoreError::InvalidName(m) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("invalid name: {m}"),
            ),
            StoreError::Invalid(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            // Everything else is this node's fault: 500, cause logged, never shown.
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

/// The longest message taken over from a framework rejection.
const MAX_REJECTION: usize = 512;

/// Turns every error response that is not JSON yet (axum's own rejections of a path, query,
/// header or body, a timeout's empty 408, ...) into `{"error": "..."}`, keeping its status
/// and headers.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 4 * MAX_REJECTION)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    let message: String = if text.is_empty() || status.is_server_error() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text.chars().take(MAX_REJECTION).collect()
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = json!({ "error": message }).to_string();
    Response::from_parts(parts, axum::body::Body::from(body))
}

#[cfg(test)]
mod tests {
    //! The error mapping through a real router (one request each, `oneshot`): store errors,
    //! and the framework's own rejections, all answered as JSON with the right status.

    use axum::Router;
    use axum::body::Body;
    use axum::extract::{Path, Query};
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use guts_store::StoreError;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::{ApiError, json_errors};

    fn store_error(which: &str) -> StoreError {
        match which {
            "not-found" => StoreError::NotFound,
            "exists" => StoreError::Exists,
            "name" => StoreError::InvalidName("owner \"-x\": starts with '-'".into()),
            "invalid" => StoreError::Invalid("description longer than 4096 bytes".into()),
            "internal" => StoreError::Internal("writer lock secret detail".into()),
            "corrupt" => StoreError::Corrupt {
                tree: "accounts",
                reason: "the record of user/x does not decode".into(),
            },
            _ => StoreError::Encode("secret encoder detail".into()),
        }
    }

    #[derive(serde::Deserialize)]
    struct Paging {
        #[allow(dead_code)]
        page: u32,
    }

    fn app() -> Router {
        Router::new()
            .route(
                "/store/{which}",
                get(|Path(which): Path<String>| async move {
                    Err::<(), ApiError>(store_error(&which).into())
                }),
            )
            .route("/number/{n}", get(|Path(_n): Path<u64>| async {}))
            .route("/query", get(|Query(_q): Query<Paging>| async {}))
            .layer(axum::middleware::from_fn(json_errors))
    }

    async fn call(uri: &str) -> (StatusCode, Value) {
        let resp = app()
            .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
            .await
            .expect("answer");
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            content_type.starts_with("application/json"),
            "{uri}: {content_type}"
        );
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, serde_json::from_slice(&bytes).expect("JSON"))
    }

    #[tokio::test]
    async fn store_errors_get_their_status_and_faults_hide_their_cause() {
        for (which, status, message) in [
            ("not-found", 404, Some("repository not found")),
            ("exists", 409, Some("repository already exists")),
            (
                "name",
                422,
                Some("invalid name: owner \"-x\": starts with '-'"),
            ),
            ("invalid", 422, Some("description longer than 4096 bytes")),
            ("internal", 500, Some("internal error")),
            ("corrupt", 500, Some("internal error")),
            ("encode", 500, Some("internal error")),
        ] {
            let (got, body) = call(&format!("/store/{which}")).await;
            assert_eq!(got.as_u16(), status, "{which}: {body}");
            assert_eq!(body["error"].as_str(), message, "{which}");
        }
    }

    #[tokio::test]
    async fn framework_rejections_are_json_too() {
        let (status, body) = call("/number/abc").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|m| m.contains("Cannot parse")),
            "{body}"
        );
        let (status, body) = call("/query?page=x").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["error"].as_str().is_some_and(|m| !m.is_empty()));
        let (status, body) = call("/nowhere").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"], "not found");
    }
}
