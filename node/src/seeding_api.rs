//! `/api/node/seeding` and `/api/v1/node/seeding`: which repositories this node stores.
//! Anyone may read it; a site administrator sets it (`{"seed": ["all"]}`, or owners and
//! `owner/name`s), and the node then asks its peers again for what it now seeds.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::accounts::Caller;
use crate::error::ApiError;
use crate::replica::Policy;
use crate::rest::parse_json;
use crate::state::AppState;

/// Entries a policy may list at most.
const MAX_ENTRIES: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedBody {
    seed: Vec<String>,
}

/// `GET`: `{"seed": [...]}`.
pub async fn get(State(state): State<AppState>) -> Response {
    Json(json!({ "seed": state.seeding().policy().entries() })).into_response()
}

/// `PUT`: sets the policy (site administrators, admin scope).
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.site_admin()?;
    caller.with_scope(guts_net::Perm::Admin)?;
    let b: SeedBody = parse_json(&headers, &body)?;
    if b.seed.len() > MAX_ENTRIES {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("at most {MAX_ENTRIES} entries"),
        ));
    }
    let policy = Policy::parse(&b.seed)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let seeding = state.seeding().clone();
    let entries = policy.entries();
    tokio::task::spawn_blocking(move || seeding.set(policy)).await??;
    if let Some(net) = state.replication().net.get().cloned() {
        net.resync().await;
    }
    Ok(Json(json!({ "seed": entries })).into_response())
}
