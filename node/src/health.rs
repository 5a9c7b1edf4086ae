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

pub(crate) async fn readiness(state: &AppState) -> (bool, String) {
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

/// The p2p component: off, starting, failed, or up with peers and replication counters.
pub(crate) fn p2p(state: &AppState) -> serde_json::Value {
    let r = state.replication();
    let down =
        |status: &str| json!({ "status": status, "node_id": r.node_id().to_string(), "peers": 0 });
    if state.config().p2p.is_none() {
        return down("disabled");
    }
    if let Some(e) = r.net_error.get() {
        let mut v = down("failed");
        v["reason"] = json!(e);
        return v;
    }
    let Some(net) = r.net.get() else {
        return down("starting");
    };
    let mut replication: serde_json::Map<String, serde_json::Value> = net
        .stats()
        .snapshot()
        .into_iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    replication.insert("syncs_running".into(), json!(net.syncs_running()));
    let peers = net.connected_peers();
    json!({
        "status": "ok",
        "node_id": net.node_id().to_string(),
        "peer_id": net.peer_id().to_string(),
        "listen": net.listen_addrs().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "peers": peers.len(),
        "connected": peers,
        "replication": replication,
    })
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
            "p2p": p2p(&state),
            "events": state.hub().health(state.inner.store.get()),
        },
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}
