//! `/user/keys`: the caller's SSH public keys (list, add, get, delete), and
//! `/users/{name}/keys`, anyone's public keys. A key is validated (see `sshkey.rs`), is
//! unique across users (409), and needs a title of at most 255 characters.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use guts_net::accounts::{AccountView, MAX_TITLE, SshKey, key, short_id};
use guts_net::{Entry, Perm};
use guts_store::{Store, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::auth::Caller;
use super::sshkey;
use super::view::StoreView;
use crate::error::ApiError;
use crate::paging::Paged;
use crate::rest::{blocking, parse_json};
use crate::state::AppState;

fn key_json(k: &SshKey) -> Value {
    json!({
        "id": k.id,
        "title": k.title,
        "key": k.key,
        "fingerprint": k.fingerprint,
        "created_at": k.created_at,
        "user": k.user,
    })
}

fn keys_of(store: &Store, user: &str) -> Result<Vec<SshKey>, StoreError> {
    StoreView(store).list(key::SSH_KEYS, |(_, e)| match e {
        Entry::SshKey(k) if k.user == user => Some(k),
        _ => None,
    })
}

/// `GET /user/keys`.
pub async fn list(
    State(state): State<AppState>,
    paged: Paged,
    caller: Caller,
) -> Result<Response, ApiError> {
    let user = caller.signed_in()?.user.clone();
    let v = blocking(&state, move |store| {
        Ok(keys_of(&store, &user)?
            .iter()
            .map(key_json)
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(paged.page_of(v))
}

/// `GET /users/{name}/keys`.
pub async fn list_for(
    State(state): State<AppState>,
    paged: Paged,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let v = blocking(&state, move |store| {
        super::rest_users::user(&store, &name)?;
        Ok(keys_of(&store, &name)?
            .iter()
            .map(|k| json!({ "id": k.id, "key": k.key }))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(paged.page_of(v))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    #[serde(default)]
    title: Option<String>,
    key: String,
}

/// `POST /user/keys`: `{"title", "key"}`.
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let user = caller.with_scope(Perm::Admin)?.user.clone();
    let b: NewKey = parse_json(&headers, &body)?;
    let title = b.title.unwrap_or_default();
    if title.trim().is_empty() || title.chars().count() > MAX_TITLE {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "title is required (at most 255 characters)",
        ));
    }
    let parsed = sshkey::parse(&b.key)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("invalid key: {e}")))?;
    let st = state.clone();
    let v = blocking(&state, move |store| {
        let id = short_id(&Sha256::digest(&parsed.blob));
        let k = key::ssh_key(id);
        if StoreView(&store).has(&k)? {
            return Err(ApiError::new(StatusCode::CONFLICT, "key is already in use"));
        }
        let entry = SshKey {
            id,
            user,
            title,
            key: parsed.openssh(),
            fingerprint: parsed.fingerprint(),
            created_at: st.now_secs(),
        };
        let v = key_json(&entry);
        st.replication()
            .record_account(&store, &k, Some(Entry::SshKey(entry)))?;
        Ok(v)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// The caller's key `id`, or 404.
fn own(store: &Store, user: &str, id: u64) -> Result<SshKey, ApiError> {
    match StoreView(store).entry(&key::ssh_key(id))? {
        Some(Entry::SshKey(k)) if k.user == user => Ok(k),
        _ => Err(ApiError::not_found("key", &id.to_string())),
    }
}

/// `GET /user/keys/{id}`.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    let user = caller.signed_in()?.user.clone();
    let v = blocking(&state, move |store| Ok(key_json(&own(&store, &user, id)?))).await?;
    Ok(Json(v).into_response())
}

/// `DELETE /user/keys/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    let user = caller.with_scope(Perm::Admin)?.user.clone();
    let st = state.clone();
    blocking(&state, move |store| {
        own(&store, &user, id)?;
        st.replication()
            .record_account(&store, &key::ssh_key(id), None)?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
