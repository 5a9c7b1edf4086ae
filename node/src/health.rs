//! Health probes: `/health/live` (the process answers), `/health/startup` (the store is open
//! and recovered), `/health/ready` (it can serve: store answers, not shutting down), and
//! `/health`, JSON with components.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;

fn probe(ok: bool, reason: &str) -> Response {
    if ok {
        (StatusCode::OK, Json(json!({ "status": "ok" }))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "reason": reason })),
        )
            .into_response()
    }
}

/// `GET /health/live`.
pub async fn live() -> Response {
    probe(true, "")
}

/// `GET /health/startup`.
pub async fn startup(State(state): State<AppState>) -> Response {
    probe(state.inner.store.get().is_some(), "the store is opening")
}

/// `GET /health/ready`.
pub async fn ready(State(state): State<AppState>) -> Response {
    let (ok, reason) = readiness(&state).await;
    probe(ok, &reason)
}

async fn readiness(state: &AppState) -> (bool, String) {
    if state.is_shutting_down() {
        return (false, "shutting down".into());
    }
    if let Some(e) = state.inner.store_error.get() {
        return (false, format!("the store failed to open: {e}"));
    }
    let Some(store) = state.inner.store.get().cloned() else {
        return (false, "the store is opening".into());
    };
    match tokio::task::spawn_blocking(move || store.ping()).await {
        Ok(Ok(())) => (true, String::new()),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "store ping failed");
            (false, "the store does not answer".into())
        }
        Err(_) => (false, "the store does not answer".into()),
    }
}

/// `GET /health`.
pub async fn health(State(state): State<AppState>) -> Response {
    let (ok, reason) = readiness(&state).await;
    let store = match state.inner.store.get() {
        Some(s) => {
            let t = s.totals();
            json!({
                "status": if ok { "ok" } else { "unavailable" },
                "repositories": t.repos,
                "objects": t.objects,
                "packs": t.packs,
                "pack_bytes": t.pack_bytes,
            })
        }
        None => {
            json!({ "status": if state.inner.store_error.get().is_some() { "failed" } else { "starting" } })
        }
    };
    let body = json!({
        "status": if ok { "ok" } else { "unavailable" },
        "reason": if ok { None } else { Some(reason) },
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.inner.started.elapsed().as_secs(),
        "components": {
            "store": store,
            "p2p": { "status": "disabled", "peers": 0 },
        },
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}
