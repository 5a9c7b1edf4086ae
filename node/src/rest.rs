//! `/api/repos` and `/api/v1/repos`: list (paginated, only what the caller may read),
//! create (as the caller, for an organization they belong to, or for anyone as a site
//! administrator), get (read access), update and delete (admin access).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use guts_store::{NewRepo, RepoPatch, RepoRecord, Store};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::accounts::{Caller, Principal, StoreView, repo_perm, require};
use crate::error::ApiError;
use crate::events::Event;
use crate::paging::Paged;
use crate::state::AppState;
use guts_net::accounts::{AccountView, key};
use guts_net::{Entry, Perm, Role};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    #[serde(default)]
    owner: Option<String>,
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

pub(crate) fn parse_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, ApiError> {
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
        "full_name": r.full_name().to_string(),
        "description": r.description,
        "private": r.private,
        "default_branch": r.default_branch,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    })
}

pub(crate) async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(Store) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.store()?.clone();
    tokio::task::spawn_blocking(move || f(store)).await?
}

/// `GET /api/repos`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    paged: Paged,
) -> Result<Response, ApiError> {
    let want = paged.want();
    let all = blocking(&state, move |store| {
        // Only what the caller may read, in name order, as far as the page needs.
        let mut all = Vec::new();
        let mut after: Option<(String, String)> = None;
        while all.len() < want {
            let batch =
                store.list_repos(after.as_ref().map(|(o, n)| (o.as_str(), n.as_str())), 500)?;
            let Some(last) = batch.last() else {
                break;
            };
            after = Some((last.owner.clone(), last.name.clone()));
            for r in batch {
                if repo_perm(&store, &caller, &r.owner, &r.name, r.private)?
                    .0
                    .is_some()
                {
                    all.push(r);
                }
            }
        }
        Ok(all)
    })
    .await?;
    Ok(paged.page_of(all.iter().map(summary)))
}

/// `POST /api/repos`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let me = caller.with_scope(Perm::Write)?.clone();
    let b: CreateBody = parse_json(&headers, &body)?;
    let st = state.clone();
    let record = blocking(&state, move |store| {
        let owner = b.owner.unwrap_or_else(|| me.user.clone());
        may_create_for(&store, &me, &owner)?;
        // Names are unique without regard to case; checked and created as one step here.
        let _one = guts_store::sync::lock(&CREATING);
        unique_ignoring_case(&store, &owner, &b.name)?;
        let record = store.create_repo(&NewRepo {
            owner,
            name: b.name,
            description: b.description,
            private: b.private,
            default_branch: b.default_branch,
        })?;
        // Replicated: peers create it too.
        st.replication().record_meta(&store, &record)?;
        st.hub().publish(
            &store,
            &Event::RepoCreated {
                repo: record.full_name().to_string(),
                meta: (&record).into(),
            },
        );
        Ok(record)
    })
    .await?;
    tracing::info!(repo = %record.full_name(), "repository created");
    Ok((StatusCode::CREATED, Json(summary(&record))).into_response())
}

/// `GET /api/repos/{owner}/{name}`.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let body = blocking(&state, move |store| {
        let repo = readable(&store, &caller, &owner, &name, Perm::Read)?;
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
    caller: Caller,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: PatchBody = parse_json(&headers, &body)?;
    let st = state.clone();
    let record = blocking(&state, move |store| {
        readable(&store, &caller, &owner, &name, Perm::Admin)?;
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
        st.hub().publish(
            &store,
            &Event::RepoUpdated {
                repo: record.full_name().to_string(),
                meta: (&record).into(),
            },
        );
        Ok(record)
    })
    .await?;
    Ok(Json(summary(&record)).into_response())
}

/// `DELETE /api/repos/{owner}/{name}`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let full = format!("{owner}/{name}");
    // Signed, kept and announced: peers delete it too and do not bring it back from older
    // updates.
    let st = state.clone();
    let gone = blocking(&state, move |store| {
        let was = readable(&store, &caller, &owner, &name, Perm::Admin)?;
        let gone = st.replication().delete_local(&store, &was.full_name())?;
        if gone {
            crate::accounts::forget_repo(&st, &store, &was.full_name())?;
            st.hub().publish(
                &store,
                &Event::RepoDeleted {
                    repo: was.full_name().to_string(),
                    private: was.record().private,
                },
            );
        }
        Ok(gone)
    })
    .await?;
    if gone {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found("repository", &full))
    }
}

/// The repository, if the caller may do `need` on it (404 if they may not read it).
pub(crate) fn readable(
    store: &Store,
    caller: &Caller,
    owner: &str,
    name: &str,
    need: Perm,
) -> Result<guts_store::Repo, ApiError> {
    let repo = match store.repo(owner, name) {
        Ok(r) => r,
        Err(guts_store::StoreError::InvalidName(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let full = format!("{owner}/{name}");
    require(
        store,
        caller,
        &full,
        repo.as_ref().map(guts_store::Repo::record),
        need,
        false,
    )?;
    repo.ok_or_else(|| ApiError::not_found("repository", &full))
}

/// Held while a repository name is checked and created.
static CREATING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Refuses `owner/name` when it differs only in case from a stored repository, or `owner`
/// only in case from a user, an organization or an owner of stored repositories.
fn unique_ignoring_case(store: &Store, owner: &str, name: &str) -> Result<(), ApiError> {
    let clash = |what: String| {
        Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("{what} already exists (names are unique without regard to case)"),
        ))
    };
    if let Some(r) = store.find_repo_ignoring_case(owner, Some(name))? {
        return clash(format!("repository {}/{}", r.owner, r.name));
    }
    if let Some(other) = crate::accounts::owner_like(store, owner)?
        && other != owner
    {
        return clash(format!("owner {other}"));
    }
    if let Some(r) = store.find_repo_ignoring_case(owner, None)?
        && r.owner != owner
    {
        return clash(format!("owner {}", r.owner));
    }
    Ok(())
}

/// A user creates repositories for themselves and for organizations they own; a site
/// administrator for any owner.
fn may_create_for(store: &Store, me: &Principal, owner: &str) -> Result<(), ApiError> {
    if me.admin || me.user == owner {
        return Ok(());
    }
    let view = StoreView(store);
    match view.entry(&key::member(owner, &me.user))? {
        Some(Entry::Member {
            role: Role::Owner, ..
        }) if view.has(&key::org(owner))? => Ok(()),
        _ => Err(ApiError::forbidden(&format!(
            "you may not create repositories for {owner}"
        ))),
    }
}
