//! `/api/v1/repos/{owner}/{name}/pulls...`: open a pull request from a branch of this
//! repository (`head: "topic"`) or of another one on the network (`head: "bob:topic"`, bob's
//! repository of the same name) into a base branch; list them; show one with its head and
//! base tips and whether it merges (guts-git's three-way merge, with the conflicting
//! paths); list its commits; review it (approve, request changes, comment). Pull
//! requests share issues' numbers, comments, labels and
//! edits (`PATCH .../pulls/{n}` is the issue edit).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use guts_git::ObjectId;
use guts_net::Perm;
use guts_net::collab::{Action, Head, Kind, Op, State as ThreadState, Thread, Verdict, propose};
use guts_store::{Repo, Store};
use serde::Deserialize;
use serde_json::{Value, json};

use super::mergeability::{Scratch, check};
use super::{api, approvals, json, view};
use crate::accounts::Caller;
use crate::error::ApiError;
use crate::paging::Paged;
use crate::rest::{blocking, parse_json, readable};
use crate::state::AppState;

/// Commits listed for a pull request at most.
const MAX_COMMITS: usize = 250;
/// Files listed for a pull request at most (GitHub's limit).
const MAX_FILES: usize = 3000;
/// Files larger than this get no patch or line counts in the files list.
const MAX_PATCHED: u64 = 1 << 20;

/// The routes under `prefix`.
pub fn routes(prefix: &str) -> Router<AppState> {
    let base = format!("{prefix}/repos/{{owner}}/{{name}}/pulls");
    Router::new()
        .route(&base, get(list).post(open))
        .route(&format!("{base}/{{number}}"), get(show).patch(api::edit))
        .route(&format!("{base}/{{number}}/commits"), get(commits))
        .route(
            &format!("{base}/{{number}}/merge"),
            axum::routing::put(super::merging::merge),
        )
        .route(
            &format!("{base}/{{number}}/reviews"),
            get(reviews).post(review),
        )
        .route(&format!("{base}/{{number}}/files"), get(files))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    title: String,
    #[serde(default)]
    body: String,
    head: String,
    base: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    event: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    commit_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    state: Option<String>,
}

/// A branch's tip, or 422 naming what is missing.
fn tip(repo: &Repo, branch: &str) -> Result<ObjectId, ApiError> {
    let name = format!("refs/heads/{branch}");
    guts_git::refname::check(&name).map_err(|_| unknown(repo, branch))?;
    repo.get_ref(&name)?.ok_or_else(|| unknown(repo, branch))
}

fn unknown(repo: &Repo, branch: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("{} has no branch {branch:?}", repo.full_name()),
    )
}

/// The repository a pull request's head is in (readable by the caller), or 404/422.
fn head_repo(store: &Store, caller: &Caller, base: &Repo, head: &Head) -> Result<Repo, ApiError> {
    let (owner, name) = head
        .repo
        .split_once('/')
        .ok_or_else(|| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "a bad head repository"))?;
    if head.repo == base.full_name().to_string() {
        return Ok(base.clone());
    }
    readable(store, caller, owner, name, Perm::Read)
}

/// A pull request as GitHub shows one; `merge` when it was computed.
fn pull_json(
    n: u64,
    t: &Thread,
    tips: Option<(ObjectId, ObjectId)>,
    merge: Option<&guts_git::merge::Merged>,
) -> Value {
    let mut v = json::thread(n, t);
    let Kind::Pull { base, head } = &t.kind else {
        return v;
    };
    let merged = matches!(t.state, ThreadState::Merged { .. });
    v["head"] = json!({
        "ref": head.branch,
        "repo": { "full_name": head.repo },
        "sha": tips.map(|(_, h)| h.to_hex()),
    });
    v["base"] = json!({ "ref": base, "sha": tips.map(|(b, _)| b.to_hex()) });
    v["merged"] = json!(merged);
    match merge {
        Some(m) => {
            v["mergeable"] = json!(m.is_clean());
            v["mergeable_state"] = json!(if m.is_clean() { "clean" } else { "dirty" });
            v["conflicts"] = m
                .conflicts
                .iter()
                .map(|c| {
                    json!({
                        "path": String::from_utf8_lossy(&c.path),
                        "kind": format!("{:?}", c.kind),
                    })
                })
                .collect();
        }
        None => {
            v["mergeable"] = Value::Null;
            v["mergeable_state"] = json!("unknown");
        }
    }
    v
}

/// `POST .../pulls`.
pub(crate) async fn open(
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
        let repo = readable(&store, &caller, &owner, &name, Perm::Read)?;
        let full = repo.full_name().to_string();
        let head = match b.head.split_once(':') {
            Some((fork_owner, branch)) => Head {
                repo: format!("{fork_owner}/{}", repo.record().name),
                branch: branch.to_string(),
            },
            None => Head {
                repo: full.clone(),
                branch: b.head.clone(),
            },
        };
        let from = head_repo(&store, &caller, &repo, &head)?;
        tip(&repo, &b.base)?;
        tip(&from, &head.branch)?;
        if head.repo == full && head.branch == b.base {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "the head and the base are the same branch",
            ));
        }
        let number = propose(view::numbered(&store, &full)?.values().copied());
        let op = st.replication().record_op(&store, |stamp| Op {
            repo: full.clone(),
            thread: None,
            stamp,
            author: me.clone(),
            moderator: false,
            grant: Vec::new(),
            action: Action::Open {
                kind: Kind::Pull {
                    base: b.base.clone(),
                    head,
                },
                title: b.title,
                body: b.body,
                number,
            },
        })?;
        api::publish(&st, &store, &op)?;
        let (n, t) = view::find(&store, &full, &view::hex(&op.id()))?
            .ok_or_else(|| ApiError::internal(&"the pull request just kept is missing"))?;
        Ok(pull_json(n, &t, None, None))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// `GET .../pulls`.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
    paged: Paged,
) -> Result<Response, ApiError> {
    let want = api::StateFilter::parse(q.state.as_deref())?;
    let st = state.clone();
    let page = paged.clone();
    let (items, more) = blocking(&state, move |store| {
        let repo = readable(&store, &caller, &owner, &name, Perm::Read)?;
        let listing = st
            .inner
            .listings
            .get(&store, &repo.full_name().to_string())?;
        let (items, more) = page.cut(
            listing
                .threads
                .iter()
                .filter(|(_, t)| matches!(t.kind, Kind::Pull { .. }))
                .filter(|(_, t)| want.admits(t)),
        );
        let items: Vec<_> = items
            .into_iter()
            .map(|(n, t)| pull_json(*n, t, None, None))
            .collect();
        Ok((items, more))
    })
    .await?;
    Ok(paged.respond(items, more))
}

/// The pull request `which` of the repository, its head repository, and both tips (none
/// if a branch is gone).
pub(super) struct Found {
    pub number: u64,
    pub thread: Thread,
    pub base: Repo,
    pub head: Repo,
    pub tips: Option<(ObjectId, ObjectId)>,
}

impl Found {
    /// The objects of the base repository, then of the head's if it is a fork, with what
    /// a merge writes kept in memory.
    pub fn scratch(&self) -> Scratch {
        let fork = (self.head.id() != self.base.id()).then(|| self.head.odb());
        Scratch::new(self.base.odb(), fork)
    }
}

pub(super) fn find_pull(
    st: &AppState,
    store: &Store,
    caller: &Caller,
    owner: &str,
    name: &str,
    which: &str,
) -> Result<Found, ApiError> {
    let repo = readable(store, caller, owner, name, Perm::Read)?;
    let full = repo.full_name().to_string();
    let (number, thread) = st
        .inner
        .listings
        .find(store, &full, which)?
        .filter(|(_, t)| matches!(t.kind, Kind::Pull { .. }))
        .ok_or_else(|| ApiError::not_found("pull request", which))?;
    let Kind::Pull { base, head } = &thread.kind else {
        return Err(ApiError::not_found("pull request", which));
    };
    let from = head_repo(store, caller, &repo, head)?;
    let tips = match (
        repo.get_ref(&format!("refs/heads/{base}"))?,
        from.get_ref(&format!("refs/heads/{}", head.branch))?,
    ) {
        (Some(b), Some(h)) => Some((b, h)),
        _ => None,
    };
    Ok(Found {
        number,
        thread,
        base: repo,
        head: from,
        tips,
    })
}

/// `GET .../pulls/{number}`: with whether it merges, computed now.
pub(crate) async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, which)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let st = state.clone();
    let out = blocking(&state, move |store| {
        let f = find_pull(&st, &store, &caller, &owner, &name, &which)?;
        let open = f.thread.state == ThreadState::Open;
        let merge = match f.tips {
            Some((b, h)) if open => {
                let scratch = f.scratch();
                Some(check(&scratch, &b, &h).map_err(|e| ApiError::internal(&e))?)
            }
            _ => None,
        };
        let mut v = pull_json(f.number, &f.thread, f.tips, merge.as_ref());
        if let Kind::Pull { base, .. } = &f.thread.kind {
            let a = approvals::count(&store, &f.base.full_name(), base, &f.thread)?;
            if a.required > 0 {
                v["required_approvals"] = json!(a.required);
                v["approved_by"] = json!(a.approved_by);
                v["changes_requested_by"] = json!(a.changes_requested_by);
                if open && !a.satisfied() && merge.as_ref().is_some_and(|m| m.is_clean()) {
                    v["mergeable_state"] = json!("blocked");
                }
            }
        }
        Ok(v)
    })
    .await?;
    Ok(Json(out).into_response())
}

/// `GET .../pulls/{number}/commits`: the head's commits the base lacks, oldest first.
pub(crate) async fn commits(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, which)): Path<(String, String, String)>,
    paged: Paged,
) -> Result<Response, ApiError> {
    let st = state.clone();
    let items = blocking(&state, move |store| {
        let f = find_pull(&st, &store, &caller, &owner, &name, &which)?;
        let Some((b, h)) = f.tips else {
            return Ok(Vec::new());
        };
        let scratch = f.scratch();
        let walk = guts_git::walk::commits_between(&scratch, &[h], &[b], &Default::default())
            .map_err(|e| ApiError::internal(&e))?;
        let mut out = Vec::new();
        for id in walk.included.iter().take(MAX_COMMITS) {
            let data = guts_git::odb::ObjectRead::read_kind(&scratch, id, guts_git::Kind::Commit)?;
            let c = guts_git::object::Commit::parse(&data).map_err(|e| ApiError::internal(&e))?;
            let ident = |raw: &[u8]| {
                let s = String::from_utf8_lossy(raw).into_owned();
                let name = s.split(" <").next().unwrap_or("").to_string();
                let secs: u64 = s.rsplit(' ').nth(1).and_then(|t| t.parse().ok()).unwrap_or(0);
                json!({ "name": name, "date": json::iso8601(secs.saturating_mul(1000)) })
            };
            out.push(json!({
                "sha": id.to_hex(),
                "commit": {
                    "message": String::from_utf8_lossy(c.message.as_deref().unwrap_or_default()),
                    "author": ident(&c.author),
                    "committer": ident(&c.committer),
                },
                "parents": c.parents.iter().map(|p| json!({ "sha": p.to_hex() })).collect::<Vec<_>>(),
            }));
        }
        out.reverse();
        Ok(out)
    })
    .await?;
    Ok(paged.page_of(items))
}

/// `GET .../pulls/{number}/reviews`.
async fn reviews(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, which)): Path<(String, String, String)>,
    paged: Paged,
) -> Result<Response, ApiError> {
    let st = state.clone();
    let items = blocking(&state, move |store| {
        let f = find_pull(&st, &store, &caller, &owner, &name, &which)?;
        Ok(f.thread
            .reviews
            .iter()
            .map(json::review)
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(paged.page_of(items))
}

/// `POST .../pulls/{number}/reviews`: approve, request changes or comment, on the head as
/// it is now (an author does not approve their own pull request).
pub(crate) async fn review(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, which)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let me = caller.with_scope(Perm::Write)?.user.clone();
    let b: ReviewBody = parse_json(&headers, &body)?;
    let unprocessable = |m: &str| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m.to_string());
    let verdict = match b.event.as_str() {
        "APPROVE" => Verdict::Approve,
        "REQUEST_CHANGES" => Verdict::RequestChanges,
        "COMMENT" => Verdict::Comment,
        _ => {
            return Err(unprocessable(
                "event must be APPROVE, REQUEST_CHANGES or COMMENT",
            ));
        }
    };
    if verdict != Verdict::Approve && b.body.trim().is_empty() {
        return Err(unprocessable("this review needs a body"));
    }
    let st = state.clone();
    let out = blocking(&state, move |store| {
        let f = find_pull(&st, &store, &caller, &owner, &name, &which)?;
        if f.thread.state != ThreadState::Open {
            return Err(unprocessable("the pull request is not open"));
        }
        if verdict == Verdict::Approve && f.thread.author == me {
            return Err(unprocessable("you cannot approve your own pull request"));
        }
        let Some((_, head)) = f.tips else {
            return Err(unprocessable("its head branch is gone"));
        };
        if b.commit_id.as_ref().is_some_and(|c| *c != head.to_hex()) {
            return Err(unprocessable(
                "commit_id is not the head of the pull request",
            ));
        }
        let full = f.base.full_name().to_string();
        let op = st.replication().record_op(&store, |stamp| Op {
            repo: full.clone(),
            thread: Some(f.thread.id),
            stamp,
            author: me.clone(),
            moderator: false,
            grant: Vec::new(),
            action: Action::Review {
                verdict,
                body: b.body.clone(),
                commit: *head.as_bytes(),
            },
        })?;
        api::publish(&st, &store, &op)?;
        let t = view::thread(&store, &full, &f.thread.id)?
            .ok_or_else(|| ApiError::not_found("pull request", &which))?;
        let r = t
            .reviews
            .iter()
            .find(|r| r.id == op.id())
            .ok_or_else(|| ApiError::internal(&"the review just kept is missing"))?;
        Ok(json::review(r))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// `GET .../pulls/{number}/files`: the files the head changed since its merge base with the
/// base (as `git diff base...head`), each with line counts and a unified patch (none for
/// binary or very large files).
pub(crate) async fn files(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, which)): Path<(String, String, String)>,
    paged: Paged,
) -> Result<Response, ApiError> {
    use guts_git::odb::ObjectRead;
    use guts_git::treediff::{Status, diff_trees, text_patch};
    let st = state.clone();
    let items = blocking(&state, move |store| {
        let f = find_pull(&st, &store, &caller, &owner, &name, &which)?;
        let Some((b, h)) = f.tips else {
            return Ok(Vec::new());
        };
        let odb = f.scratch();
        let internal = |e: &dyn std::fmt::Display| ApiError::internal(e);
        let tree_of = |c: &ObjectId| -> Result<ObjectId, ApiError> {
            let data = odb.read_kind(c, guts_git::Kind::Commit)?;
            guts_git::object::CommitLinks::parse(&data)
                .map(|l| l.tree)
                .map_err(|e| internal(&e))
        };
        let bases = guts_git::merge::merge_bases(&odb, &b, &h).map_err(|e| internal(&e))?;
        let from = match bases.first() {
            Some(base) => Some(tree_of(base)?),
            None => None,
        };
        let changes = diff_trees(&odb, from, Some(tree_of(&h)?), MAX_FILES)?;
        let mut out = Vec::with_capacity(changes.len());
        for c in changes {
            let read = |e: Option<(guts_git::object::EntryMode, ObjectId)>| -> Result<Option<Vec<u8>>, ApiError> {
                let Some((_, id)) = e.filter(|(m, _)| !m.is_commit()) else {
                    return Ok(Some(Vec::new()));
                };
                match odb.object_header(&id)? {
                    Some((_, size)) if size > MAX_PATCHED => Ok(None),
                    _ => Ok(Some(odb.read_kind(&id, guts_git::Kind::Blob)?)),
                }
            };
            let patch = match (read(c.old)?, read(c.new)?) {
                (Some(x), Some(y)) => text_patch(&x, &y),
                _ => None,
            };
            let status = match c.status {
                Status::Added => "added",
                Status::Removed => "removed",
                Status::Modified => "modified",
            };
            let mut v = json!({
                "filename": String::from_utf8_lossy(&c.path),
                "status": status,
                "sha": c.new.map(|(_, id)| id.to_hex()),
            });
            if let Some((added, removed, text)) = patch {
                v["additions"] = json!(added);
                v["deletions"] = json!(removed);
                v["changes"] = json!(added + removed);
                v["patch"] = json!(text);
            }
            out.push(v);
        }
        Ok(out)
    })
    .await?;
    Ok(paged.page_of(items))
}
