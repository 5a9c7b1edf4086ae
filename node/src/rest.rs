//! `/api/repos` and `/api/v1/repos`: list (paginated), create, get, update, delete.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use guts_store::{NewRepo, RepoPatch, RepoRecord, Store};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

/// Repositories per page unless asked otherwise, and at most.
const PER_PAGE: usize = 30;
const MAX_PER_PAGE: usize = 100;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    page: Option<usize>,
    per_page: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    owner: String,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    private: bool,
    #[serde(default)]
    default_branch: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    description: Option<String>,
    private: Option<bool>,
    default_branch: Option<String>,
}

fn parse_json<T: DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, ApiError> {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("application/json"));
    if !json_type {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected Content-Type: application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid body: {e}"),
        )
    })
}

fn summary(r: &RepoRecord) -> Value {
    json!({
        "owner": r.owner,
        "name": r.name,
        "full_name": format!("{}/{}", r.owner, r.name),
        "description": r.description,
        "private": r.private,
        "default_branch": r.default_branch,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    })
}

async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(Store) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.store()?.clone();
    tokio::task::spawn_blocking(move || f(store)).await?
}

/// `GET /api/repos`.
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let page = q.page.unwrap_or(1);
    let per_page = q.per_page.unwrap_or(PER_PAGE);
    if page == 0 || per_page == 0 || per_page > MAX_PER_PAGE {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("page must be at least 1 and per_page between 1 and {MAX_PER_PAGE}"),
        ));
    }
    let (items, more) = blocking(&state, move |store| {
        let skip = (page - 1).saturating_mul(per_page);
        let mut all = store.list_repos(None, skip.saturating_add(per_page).saturating_add(1))?;
        let more = all.len() > skip + per_page;
        all.truncate(skip + per_page);
        Ok((all.split_off(skip.min(all.len())), more))
    })
    .await?;
    let body: Vec<Value> = items.iter().map(summary).collect();
    let mut resp = Json(body).into_response();
    if more {
        let link = format!(
            "</api/v1/repos?page={}&per_page={per_page}>; rel=\"next\"",
            page + 1
        );
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(resp)
}

/// `POST /api/repos`.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: CreateBody = parse_json(&headers, &body)?;
    let st = state.clone();
    let record = blocking(&state, move |store| {
        let record = store.create_repo(&NewRepo {
            owner: b.owner,
            name: b.name,
            description: b.description,
            private: b.private,
            default_branch: b.default_branch,
        })?;
        // Replicated: peers create it too.
        st.replication().record_meta(&store, &record)?;
        let full = format!("{}/{}", record.owner, record.name);
        st.hub().repo(&store, "repo.created", &full, Some(&record));
        Ok(record)
    })
    .await?;
    tracing::info!(repo = %format!("{}/{}", record.owner, record.name), "repository created");
    Ok((StatusCode::CREATED, Json(summary(&record))).into_response())
}

/// `GET /api/repos/{owner}/{name}`.
pub async fn get(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let body = blocking(&state, move |store| {
        let repo = store
            .repo(&owner, &name)?
            .ok_or_else(|| ApiError::not_found("repository"))?;
        let refs = repo.list_refs()?;
        let size = repo.size()?;
        let head = repo.head_ref();
        let mut v = summary(repo.record());
        let head_id = refs
            .iter()
            .find(|(n, _)| *n == head)
            .map(|(_, id)| id.to_hex());
        v["size"] = json!(size);
        v["empty"] = json!(refs.is_empty());
        v["head"] = json!({ "ref": head, "id": head_id });
        v["refs"] = refs
            .iter()
            .map(|(n, id)| (n.clone(), json!(id.to_hex())))
            .collect::<serde_json::Map<String, Value>>()
            .into();
        Ok(v)
    })
    .await?;
    Ok(Json(body).into_response())
}

/// `PATCH /api/repos/{owner}/{name}`.
pub async fn update(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: PatchBody = parse_json(&headers, &body)?;
    let st = state.clone();
    let record = blocking(&state, move |store| {
        let record = store.update_repo(
            &owner,
            &name,
            &RepoPatch {
                description: b.description,
                private: b.private,
                default_branch: b.default_branch,
            },
        )?;
        st.replication().record_meta(&store, &record)?;
        let full = format!("{}/{}", record.owner, record.name);
        st.hub().repo(&store, "repo.updated", &full, Some(&record));
        Ok(record)
    })
    .await?;
    Ok(Json(summary(&record)).into_response())
}

/// `DELETE /api/repos/{owner}/{name}`.
pub async fn delete(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    // Signed, kept and announced: peers delete it too and do not bring it back from older
    // updates.
    let st = state.clone();
    let gone = blocking(&state, move |store| {
        let gone = st.replication().delete_local(&store, &owner, &name)?;
        if gone {
            let full = format!("{owner}/{name}");
            st.hub().repo(&store, "repo.deleted", &full, None);
        }
        Ok(gone)
    })
    .await?;
    if gone {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found("repository"))
    }
}
