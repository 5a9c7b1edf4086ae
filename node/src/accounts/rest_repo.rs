//! A repository's collaborators and protected branches. Reading needs read access to the
//! repository; changes need admin access (the owner, an organization owner, an admin
//! collaborator or team, a site administrator) with an admin-scoped token.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use guts_net::accounts::{AccountView, MAX_APPROVALS, check_pattern, key};
use guts_net::{Entry, Perm};
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::rest_orgs::permission;
use super::rest_users::user;
use super::view::StoreView;
use super::write::{forget, write};
use crate::error::ApiError;
use crate::paging::Paged;
use crate::rest::{blocking, parse_json, readable};
use crate::state::AppState;
use guts_store::RepoName;

fn admin_scope(caller: &Caller) -> Result<(), ApiError> {
    caller.with_scope(Perm::Admin).map(|_| ())
}

/// `GET /repos/{owner}/{name}/collaborators`.
pub async fn collaborators(
    State(state): State<AppState>,
    paged: Paged,
    caller: Caller,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let v = blocking(&state, move |store| {
        let repo = readable(&store, &caller, &owner, &name, Perm::Read)?;
        Ok(
            StoreView(&store).list(&key::collaborators_of(repo.full_name()), |(_, e)| match e {
                Entry::Collaborator { user, perm, .. } => {
                    Some(json!({ "login": user, "permission": perm.as_str() }))
                }
                _ => None,
            })?,
        )
    })
    .await?;
    Ok(paged.page_of(v))
}

/// `GET /repos/{owner}/{name}/collaborators/{user}`.
pub async fn get_collaborator(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, login)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let v = blocking(&state, move |store| {
        let repo = readable(&store, &caller, &owner, &name, Perm::Read)?;
        match StoreView(&store).entry(&key::collaborator(repo.full_name(), &login))? {
            Some(Entry::Collaborator { user, perm, .. }) => {
                Ok(json!({ "login": user, "permission": perm.as_str() }))
            }
            _ => Err(ApiError::not_found("collaborator", &login)),
        }
    })
    .await?;
    Ok(Json(v).into_response())
}

/// `PUT /repos/{owner}/{name}/collaborators/{user}`: `{"permission": "read"|"write"|"admin"}`.
pub async fn put_collaborator(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, login)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    admin_scope(&caller)?;
    let perm = permission(&headers, &body, Perm::Write)?;
    let st = state.clone();
    blocking(&state, move |store| {
        let full = readable(&store, &caller, &owner, &name, Perm::Admin)?.full_name();
        user(&store, &login)?;
        let e = Entry::Collaborator {
            repo: full.to_string(),
            user: login.clone(),
            perm,
        };
        write(&st, &store, &key::collaborator(&full, &login), Some(e))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /repos/{owner}/{name}/collaborators/{user}`.
pub async fn delete_collaborator(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, login)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    forget_entry(
        state,
        caller,
        owner,
        name,
        ("collaborator", login.clone()),
        move |full| (key::collaborator(full, &login), String::new()),
    )
    .await
}

/// `GET /repos/{owner}/{name}/protections`.
pub async fn protections(
    State(state): State<AppState>,
    paged: Paged,
    caller: Caller,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let v = blocking(&state, move |store| {
        let full = readable(&store, &caller, &owner, &name, Perm::Read)?.full_name();
        let reviews = super::review_rules(&store, &full)?;
        Ok(super::protected_patterns(&store, &full)?
            .into_iter()
            .map(|p| protection_json(&p, &reviews))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(paged.page_of(v))
}

/// A rule as the API shows it: its pattern and the approvals a merge needs.
fn protection_json(pattern: &str, reviews: &[(String, u32)]) -> serde_json::Value {
    let approvals = reviews
        .iter()
        .find(|(p, _)| p == pattern)
        .map_or(0, |(_, n)| *n);
    json!({ "pattern": pattern, "required_approvals": approvals })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewProtection {
    pattern: String,
    #[serde(default)]
    required_approvals: u32,
}

/// `POST /repos/{owner}/{name}/protections`: `{"pattern": "main", "required_approvals": 1}`
/// (`*` and `**` globs): matching branches refuse force pushes and deletion, and with
/// `required_approvals` (1 to 10) change only by merging a pull request with that many
/// approving reviews. Posting a rule again replaces it.
pub async fn add_protection(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    admin_scope(&caller)?;
    let b: NewProtection = parse_json(&headers, &body)?;
    check_pattern(&b.pattern).map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    if b.required_approvals > MAX_APPROVALS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("required_approvals must be 0 to {MAX_APPROVALS}"),
        ));
    }
    let st = state.clone();
    let v = blocking(&state, move |store| {
        let full = readable(&store, &caller, &owner, &name, Perm::Admin)?.full_name();
        let e = Entry::Protection {
            repo: full.to_string(),
            pattern: b.pattern.clone(),
        };
        write(&st, &store, &key::protection(&full, &b.pattern), Some(e))?;
        let reviews = key::reviews(&full, &b.pattern);
        if b.required_approvals > 0 {
            let e = Entry::Reviews {
                repo: full.to_string(),
                pattern: b.pattern.clone(),
                approvals: b.required_approvals,
            };
            write(&st, &store, &reviews, Some(e))?;
        } else if StoreView(&store).has(&reviews)? {
            write(&st, &store, &reviews, None)?;
        }
        Ok(json!({ "pattern": b.pattern, "required_approvals": b.required_approvals }))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// `GET /repos/{owner}/{name}/protections/{pattern}`.
pub async fn get_protection(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, pattern)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let v = blocking(&state, move |store| {
        let full = readable(&store, &caller, &owner, &name, Perm::Read)?.full_name();
        let k = key::protection(&full, &pattern);
        match StoreView(&store).entry(&k)? {
            Some(Entry::Protection { pattern, .. }) => Ok(protection_json(
                &pattern,
                &super::review_rules(&store, &full)?,
            )),
            _ => Err(ApiError::not_found("protection", &pattern)),
        }
    })
    .await?;
    Ok(Json(v).into_response())
}

/// `DELETE /repos/{owner}/{name}/protections/{pattern}`.
pub async fn delete_protection(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, pattern)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    forget_entry(
        state,
        caller,
        owner,
        name,
        ("protection", pattern.clone()),
        move |full| {
            (
                key::protection(full, &pattern),
                key::reviews(full, &pattern),
            )
        },
    )
    .await
}

/// Deletes the entry of `owner/name` that `key_of` names (given `owner/name`), and the
/// entry that goes with it if there is one (its second key; empty: none), as a caller with
/// admin access to the repository and an admin-scoped token; 404 if there is none.
async fn forget_entry(
    state: AppState,
    caller: Caller,
    owner: String,
    name: String,
    (what, entry): (&'static str, String),
    key_of: impl FnOnce(&RepoName) -> (String, String) + Send + 'static,
) -> Result<Response, ApiError> {
    admin_scope(&caller)?;
    let st = state.clone();
    blocking(&state, move |store| {
        let repo = readable(&store, &caller, &owner, &name, Perm::Admin)?;
        let (key, with) = key_of(&repo.full_name());
        forget(&st, &store, &key, what, &entry)?;
        if !with.is_empty() && StoreView(&store).has(&with)? {
            write(&st, &store, &with, None)?;
        }
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
