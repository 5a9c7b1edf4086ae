//! `/api/v1/repos/{owner}/{name}/issues...`: list (filters: `state`, `labels`, `creator`,
//! `assignee`; paginated), open, get (`#N`, or the thread's id in hex, which never
//! changes), edit (title, body, state, labels, assignees), and comments (list, add, edit,
//! delete). Reading needs read access to the repository; opening and commenting, a signed-in
//! caller with a write-scoped token who may read it; editing a thread, its author or a
//! collaborator with write access (labels and assignees: write access only); editing or
//! deleting a comment, its author or a collaborator with write access. Every change is an
//! operation signed here, kept, announced to peers, and published on the hub.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use guts_net::collab::{Action, Kind, Op, OpId, State as ThreadState, Thread, propose};
use guts_net::{Perm, Stamp};
use guts_store::Store;
use serde::Deserialize;

use super::{events, json, view};
use crate::accounts::{Caller, repo_perm};
use crate::error::ApiError;
use crate::paging::Paged;
use crate::rest::{blocking, parse_json, readable};
use crate::state::AppState;

/// The routes under `prefix` (`/api` or `/api/v1`).
pub fn routes(prefix: &str) -> Router<AppState> {
    let base = format!("{prefix}/repos/{{owner}}/{{name}}/issues");
    Router::new()
        .route(&base, get(list).post(create))
        .route(
            &format!("{base}/comments/{{id}}"),
            patch(edit_comment).delete(delete_comment),
        )
        .route(&format!("{base}/{{number}}"), get(show).patch(edit))
        .route(
            &format!("{base}/{{number}}/comments"),
            get(comments).post(comment),
        )
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    state: Option<String>,
    labels: Option<String>,
    creator: Option<String>,
    assignee: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    assignees: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EditBody {
    title: Option<String>,
    body: Option<String>,
    state: Option<String>,
    labels: Option<Vec<String>>,
    assignees: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentBody {
    body: String,
}

/// What the caller may do on the repository: its full name, and whether they have write
/// access (collaborators moderate).
pub(super) struct Access {
    pub repo: String,
    pub write: bool,
}

pub(super) fn access(
    store: &Store,
    caller: &Caller,
    owner: &str,
    name: &str,
) -> Result<Access, ApiError> {
    let repo = readable(store, caller, owner, name, Perm::Read)?;
    let rec = repo.record();
    let perm = repo_perm(store, caller, &rec.owner, &rec.name, rec.private)?.0;
    Ok(Access {
        repo: rec.full_name().to_string(),
        write: perm.is_some_and(|p| p >= Perm::Write),
    })
}

/// The thread `which` (`#N` or id) of the repository, or 404.
pub(super) fn found(
    st: &AppState,
    store: &Store,
    repo: &str,
    which: &str,
) -> Result<(u64, Thread), ApiError> {
    st.inner
        .listings
        .find(store, repo, which)?
        .ok_or_else(|| ApiError::not_found("issue", which))
}

/// Records an operation on `thread` as `author` and publishes its event.
pub(super) fn act(
    st: &AppState,
    store: &Store,
    repo: &str,
    thread: Option<OpId>,
    author: &str,
    moderator: bool,
    action: Action,
) -> Result<Op, ApiError> {
    let op = st.replication().record_op(store, |stamp: Stamp| Op {
        repo: repo.to_string(),
        thread,
        stamp,
        author: author.to_string(),
        moderator,
        grant: Vec::new(),
        action,
    })?;
    publish(st, store, &op)?;
    Ok(op)
}

/// Publishes the event of an operation kept here.
pub fn publish(st: &AppState, store: &Store, op: &Op) -> Result<(), ApiError> {
    let id = op.thread_id();
    let numbers = view::numbered(store, &op.repo)?;
    if let Some(t) = view::thread(store, &op.repo, &id)? {
        let n = numbers.get(&id).copied().unwrap_or(0);
        st.hub().publish(store, &events::of(op, &t, n));
    }
    Ok(())
}

/// `?state=`: open (the default), closed (merged too) or all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StateFilter {
    Open,
    Closed,
    All,
}

impl StateFilter {
    pub(super) fn parse(s: Option<&str>) -> Result<StateFilter, ApiError> {
        match s.unwrap_or("open") {
            "open" => Ok(StateFilter::Open),
            "closed" => Ok(StateFilter::Closed),
            "all" => Ok(StateFilter::All),
            _ => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "state must be open, closed or all",
            )),
        }
    }

    pub(super) fn admits(self, t: &Thread) -> bool {
        match self {
            StateFilter::Open => t.state == ThreadState::Open,
            StateFilter::Closed => t.state != ThreadState::Open,
            StateFilter::All => true,
        }
    }
}

/// `GET .../issues`.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
    paged: Paged,
) -> Result<Response, ApiError> {
    let want_state = StateFilter::parse(q.state.as_deref())?;
    let labels: Vec<String> = q
        .labels
        .map(|l| {
            l.split(',')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let st = state.clone();
    let page = paged.clone();
    let (items, more) = blocking(&state, move |store| {
        let a = access(&store, &caller, &owner, &name)?;
        let listing = st.inner.listings.get(&store, &a.repo)?;
        // Filtered lazily; only this page is turned into JSON.
        let (items, more) = page.cut(
            listing
                .threads
                .iter()
                .filter(|(_, t)| want_state.admits(t))
                .filter(|(_, t)| labels.iter().all(|l| t.labels.contains(l)))
                .filter(|(_, t)| q.creator.as_ref().is_none_or(|c| *c == t.author))
                .filter(|(_, t)| q.assignee.as_ref().is_none_or(|u| t.assignees.contains(u))),
        );
        let items: Vec<_> = items
            .into_iter()
            .map(|(n, t)| json::thread(*n, t))
            .collect();
        Ok((items, more))
    })
    .await?;
    Ok(paged.respond(items, more))
}

/// `POST .../issues`.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let me = caller.with_scope(Perm::Write)?.user.clone();
    let b: OpenBody = parse_json(&headers, &body)?;
    let st = state.clone();
    let out = blocking(&state, move |store| {
        let a = access(&store, &caller, &owner, &name)?;
        if (!b.labels.is_empty() || !b.assignees.is_empty()) && !a.write {
            return Err(ApiError::forbidden(
                "labels and assignees need write access",
            ));
        }
        let number = propose(view::numbered(&store, &a.repo)?.values().copied());
        let open = act(
            &st,
            &store,
            &a.repo,
            None,
            &me,
            false,
            Action::Open {
                kind: Kind::Issue,
                title: b.title,
                body: b.body,
                number,
            },
        )?;
        let id = open.id();
        for name in b.labels {
            act(
                &st,
                &store,
                &a.repo,
                Some(id),
                &me,
                true,
                Action::Label { name, on: true },
            )?;
        }
        for user in b.assignees {
            act(
                &st,
                &store,
                &a.repo,
                Some(id),
                &me,
                true,
                Action::Assign { user, on: true },
            )?;
        }
        let (n, t) = found(&st, &store, &a.repo, &view::hex(&id))?;
        Ok(json::thread(n, &t))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// `GET .../issues/{number}`.
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, which)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let st = state.clone();
    let out = blocking(&state, move |store| {
        let a = access(&store, &caller, &owner, &name)?;
        let (n, t) = found(&st, &store, &a.repo, &which)?;
        Ok(json::thread(n, &t))
    })
    .await?;
    Ok(Json(out).into_response())
}

/// `PATCH .../issues/{number}` (and `.../pulls/{number}`).
pub(crate) async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, which)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let me = caller.with_scope(Perm::Write)?.user.clone();
    let b: EditBody = parse_json(&headers, &body)?;
    let st = state.clone();
    let out = blocking(&state, move |store| {
        let a = access(&store, &caller, &owner, &name)?;
        let (_, t) = found(&st, &store, &a.repo, &which)?;
        let mine = t.author == me;
        if !(mine || a.write) {
            return Err(ApiError::forbidden(
                "only its author or a collaborator may edit it",
            ));
        }
        if (b.labels.is_some() || b.assignees.is_some()) && !a.write {
            return Err(ApiError::forbidden(
                "labels and assignees need write access",
            ));
        }
        let state_action = match b.state.as_deref() {
            None => None,
            Some("closed") if t.state == ThreadState::Open => Some(Action::Close),
            Some("open") if t.state == ThreadState::Closed => Some(Action::Reopen),
            Some("open") if matches!(t.state, ThreadState::Merged { .. }) => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "a merged pull request cannot be reopened",
                ));
            }
            Some("open" | "closed") => None,
            Some(_) => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "state must be open or closed",
                ));
            }
        };
        let mut actions = Vec::new();
        if let Some(title) = b.title.filter(|x| *x != t.title) {
            actions.push(Action::EditTitle(title));
        }
        if let Some(body) = b.body.filter(|x| *x != t.body) {
            actions.push(Action::EditBody(body));
        }
        if let Some(want) = b.labels {
            let want: std::collections::BTreeSet<String> = want.into_iter().collect();
            for name in t.labels.difference(&want) {
                actions.push(Action::Label {
                    name: name.clone(),
                    on: false,
                });
            }
            for name in want.difference(&t.labels) {
                actions.push(Action::Label {
                    name: name.clone(),
                    on: true,
                });
            }
        }
        if let Some(want) = b.assignees {
            let want: std::collections::BTreeSet<String> = want.into_iter().collect();
            for user in t.assignees.difference(&want) {
                actions.push(Action::Assign {
                    user: user.clone(),
                    on: false,
                });
            }
            for user in want.difference(&t.assignees) {
                actions.push(Action::Assign {
                    user: user.clone(),
                    on: true,
                });
            }
        }
        actions.extend(state_action);
        // Checked all before any is kept: a bad one changes nothing.
        for action in &actions {
            let probe = Op {
                repo: a.repo.clone(),
                thread: Some(t.id),
                stamp: Stamp {
                    hlc: guts_net::Hlc::default(),
                    origin: st.replication().node_id(),
                },
                author: me.clone(),
                moderator: a.write,
                grant: Vec::new(),
                action: action.clone(),
            };
            probe
                .validate()
                .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
        }
        for action in actions {
            act(&st, &store, &a.repo, Some(t.id), &me, a.write, action)?;
        }
        let (n, t) = found(&st, &store, &a.repo, &view::hex(&t.id))?;
        Ok(json::thread(n, &t))
    })
    .await?;
    Ok(Json(out).into_response())
}

/// `GET .../issues/{number}/comments`.
async fn comments(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, which)): Path<(String, String, String)>,
    paged: Paged,
) -> Result<Response, ApiError> {
    let st = state.clone();
    let items = blocking(&state, move |store| {
        let a = access(&store, &caller, &owner, &name)?;
        let (_, t) = found(&st, &store, &a.repo, &which)?;
        Ok(t.comments
            .iter()
            .filter(|c| !c.deleted)
            .map(json::comment)
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(paged.page_of(items))
}

/// `POST .../issues/{number}/comments`.
pub(crate) async fn comment(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, which)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let me = caller.with_scope(Perm::Write)?.user.clone();
    let b: CommentBody = parse_json(&headers, &body)?;
    let st = state.clone();
    let out = blocking(&state, move |store| {
        let a = access(&store, &caller, &owner, &name)?;
        let (_, t) = found(&st, &store, &a.repo, &which)?;
        let op = act(
            &st,
            &store,
            &a.repo,
            Some(t.id),
            &me,
            false,
            Action::Comment(b.body),
        )?;
        let t = view::thread(&store, &a.repo, &t.id)?
            .ok_or_else(|| ApiError::not_found("issue", &which))?;
        let c = t
            .comments
            .iter()
            .find(|c| c.id == op.id())
            .ok_or_else(|| ApiError::internal(&"the comment just kept is missing"))?;
        Ok(json::comment(c))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// The thread holding comment `id` in `repo`.
fn thread_of_comment(store: &Store, repo: &str, id: &OpId) -> Result<Thread, ApiError> {
    for (_, t) in view::list(store, repo)? {
        if t.comments.iter().any(|c| c.id == *id) {
            return Ok(t);
        }
    }
    Err(ApiError::not_found("comment", &view::hex(id)))
}

async fn change_comment(
    state: AppState,
    caller: Caller,
    (owner, name, id): (String, String, String),
    body: Option<String>,
) -> Result<Option<serde_json::Value>, ApiError> {
    let me = caller.with_scope(Perm::Write)?.user.clone();
    let st = state.clone();
    blocking(&state, move |store| {
        let a = access(&store, &caller, &owner, &name)?;
        let cid = view::parse_id(&id).ok_or_else(|| ApiError::not_found("comment", &id))?;
        let t = thread_of_comment(&store, &a.repo, &cid)?;
        let c = t
            .comments
            .iter()
            .find(|c| c.id == cid && !c.deleted)
            .ok_or_else(|| ApiError::not_found("comment", &id))?;
        if c.author != me && !a.write {
            return Err(ApiError::forbidden(
                "only its author or a collaborator may change it",
            ));
        }
        let action = match &body {
            Some(b) => Action::EditComment {
                comment: cid,
                body: b.clone(),
            },
            None => Action::DeleteComment(cid),
        };
        act(&st, &store, &a.repo, Some(t.id), &me, a.write, action)?;
        let t = view::thread(&store, &a.repo, &t.id)?
            .ok_or_else(|| ApiError::not_found("comment", &id))?;
        Ok(t.comments
            .iter()
            .find(|c| c.id == cid && !c.deleted)
            .map(json::comment))
    })
    .await
}

/// `PATCH .../issues/comments/{id}`.
async fn edit_comment(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: CommentBody = parse_json(&headers, &body)?;
    let out = change_comment(state, caller, path, Some(b.body)).await?;
    Ok(Json(out).into_response())
}

/// `DELETE .../issues/comments/{id}`.
async fn delete_comment(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    change_comment(state, caller, path, None).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
