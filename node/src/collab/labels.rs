//! Labels, shaped like GitHub's: a repository's labels are those its issues and pull
//! requests carry (made by use, gone when nothing carries them), each with how many open
//! and closed threads carry it; a thread's labels are listed, added to and removed one by
//! one. Adding and removing need write access and are `label` operations like any other.
//!
//! - `GET /repos/{owner}/{name}/labels`
//! - `GET|POST /repos/{owner}/{name}/issues/{number}/labels` (`{"labels": ["bug"]}`)
//! - `DELETE /repos/{owner}/{name}/issues/{number}/labels/{label}`

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use guts_net::Perm;
use guts_net::collab::{Action, Op, State as ThreadState};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{access, act, found};
use crate::accounts::Caller;
use crate::error::ApiError;
use crate::paging::Paged;
use crate::rest::{blocking, parse_json};
use crate::state::AppState;

/// The routes under `prefix` (`/api` or `/api/v1`).
pub fn routes(prefix: &str) -> Router<AppState> {
    let repo = format!("{prefix}/repos/{{owner}}/{{name}}");
    Router::new()
        .route(&format!("{repo}/labels"), get(list))
        .route(
            &format!("{repo}/issues/{{number}}/labels"),
            get(of_thread).post(add),
        )
        .route(
            &format!("{repo}/issues/{{number}}/labels/{{label}}"),
            delete(remove),
        )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    labels: Vec<String>,
}

fn names<'a>(labels: impl IntoIterator<Item = &'a String>) -> Value {
    labels.into_iter().map(|l| json!({ "name": l })).collect()
}

/// `GET .../labels`.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    paged: Paged,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let st = state.clone();
    let all = blocking(&state, move |store| {
        let a = access(&store, &caller, &owner, &name)?;
        let listing = st.inner.listings.get(&store, &a.repo)?;
        let mut counts: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for (_, t) in &listing.threads {
            for l in &t.labels {
                let c = counts.entry(l.as_str()).or_default();
                if t.state == ThreadState::Open {
                    c.0 += 1;
                } else {
                    c.1 += 1;
                }
            }
        }
        Ok(counts
            .into_iter()
            .map(|(n, (open, closed))| {
                json!({ "name": n, "open_issues": open, "closed_issues": closed })
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(paged.page_of(all))
}

/// `GET .../issues/{number}/labels`.
async fn of_thread(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, which)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let st = state.clone();
    let v = blocking(&state, move |store| {
        let a = access(&store, &caller, &owner, &name)?;
        let (_, t) = found(&st, &store, &a.repo, &which)?;
        Ok(names(&t.labels))
    })
    .await?;
    Ok(Json(v).into_response())
}

/// Labels `names` on (or off) thread `which`, as a writer; answers its labels after.
async fn change(
    state: AppState,
    caller: Caller,
    (owner, name, which): (String, String, String),
    labels: Vec<String>,
    on: bool,
) -> Result<Value, ApiError> {
    let me = caller.with_scope(Perm::Write)?.user.clone();
    let st = state.clone();
    blocking(&state, move |store| {
        let a = access(&store, &caller, &owner, &name)?;
        if !a.write {
            return Err(ApiError::forbidden("labels need write access"));
        }
        let (_, t) = found(&st, &store, &a.repo, &which)?;
        if !on && !labels.iter().all(|l| t.labels.contains(l)) {
            return Err(ApiError::not_found("label", &labels.join(",")));
        }
        for l in &labels {
            let probe = Op {
                repo: a.repo.clone(),
                thread: Some(t.id),
                stamp: guts_net::Stamp {
                    hlc: guts_net::Hlc::default(),
                    origin: st.replication().node_id(),
                },
                author: me.clone(),
                moderator: true,
                grant: Vec::new(),
                action: Action::Label {
                    name: l.clone(),
                    on,
                },
            };
            probe
                .validate()
                .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
        }
        for l in labels {
            if t.labels.contains(&l) != on {
                act(
                    &st,
                    &store,
                    &a.repo,
                    Some(t.id),
                    &me,
                    true,
                    Action::Label { name: l, on },
                )?;
            }
        }
        let (_, t) = found(&st, &store, &a.repo, &super::view::hex(&t.id))?;
        Ok(names(&t.labels))
    })
    .await
}

/// `POST .../issues/{number}/labels`.
async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: AddBody = parse_json(&headers, &body)?;
    if b.labels.is_empty() || b.labels.len() > 100 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "labels: 1 to 100 names",
        ));
    }
    Ok(Json(change(state, caller, path, b.labels, true).await?).into_response())
}

/// `DELETE .../issues/{number}/labels/{label}`.
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, which, label)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let v = change(state, caller, (owner, name, which), vec![label], false).await?;
    Ok(Json(v).into_response())
}
