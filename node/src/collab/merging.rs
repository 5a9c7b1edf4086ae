//! `PUT /api/v1/repos/{owner}/{name}/pulls/{number}/merge`: merges a pull request on the
//! node the user talks to. The new commits are made with guts-git's merge (`merge`: a
//! merge commit with both parents; `squash`: one commit on the base; `rebase`: each head
//! commit re-applied on the base; `fast-forward`: the base moves to the head when it can),
//! packed with what they need, and pushed to the base branch through the same path as a
//! client's push (write access, protected branches, the update log, replication, events);
//! a base branch under a required-reviews rule needs its approvals first (`approvals.rs`).
//! Then a `merge` operation is recorded: two nodes merging one pull request at once both
//! move the branch (the ref merge rule decides), and the pull request ends merged once.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use guts_git::merge::{ObjectWrite, merge_commits, merge_trees};
use guts_git::object::Commit;
use guts_git::object::CommitLinks;
use guts_git::odb::ObjectRead;
use guts_git::pack::PackWriter;
use guts_git::walk::{ObjectsWanted, commits_between, is_ancestor, objects_to_send};
use guts_git::{Kind, ObjectId};
use guts_net::Perm;
use guts_net::collab::{Action, MergeStrategy, Op, State as ThreadState};
use serde::Deserialize;
use serde_json::json;

use super::mergeability::Scratch;
use super::pulls::find_pull;
use super::{api, approvals};
use crate::accounts::Caller;
use crate::error::ApiError;
use crate::rest::{blocking, parse_json, readable};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeBody {
    #[serde(default)]
    merge_method: Option<String>,
    #[serde(default)]
    commit_title: Option<String>,
    #[serde(default)]
    commit_message: Option<String>,
}

fn refuse(status: StatusCode, msg: impl Into<String>) -> ApiError {
    ApiError::new(status, msg)
}

/// A commit's root tree.
fn tree_of(odb: &Scratch, id: &ObjectId) -> Result<ObjectId, ApiError> {
    let data = odb.read_kind(id, Kind::Commit)?;
    CommitLinks::parse(&data)
        .map(|c| c.tree)
        .map_err(|e| ApiError::internal(&e))
}

/// `user <user@guts> SECONDS +0000`.
fn ident(user: &str, secs: u64) -> Vec<u8> {
    format!("{user} <{user}@guts> {secs} +0000").into_bytes()
}

/// `PUT .../pulls/{number}/merge`.
pub async fn merge(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name, which)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let me = caller.with_scope(Perm::Write)?.user.clone();
    let b: MergeBody = if body.is_empty() {
        MergeBody {
            merge_method: None,
            commit_title: None,
            commit_message: None,
        }
    } else {
        parse_json(&headers, &body)?
    };
    let strategy = match b.merge_method.as_deref().unwrap_or("merge") {
        "merge" => MergeStrategy::Merge,
        "squash" => MergeStrategy::Squash,
        "rebase" => MergeStrategy::Rebase,
        "fast-forward" | "ff" => MergeStrategy::FastForward,
        other => {
            return Err(refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("merge_method {other:?}: use merge, squash, rebase or fast-forward"),
            ));
        }
    };
    let st = state.clone();
    let out = blocking(&state, move |store| {
        let repo = readable(&store, &caller, &owner, &name, Perm::Write)?;
        let f = find_pull(&st, &store, &caller, &owner, &name, &which)?;
        match f.thread.state {
            ThreadState::Open => {}
            ThreadState::Merged { .. } => {
                return Err(refuse(StatusCode::METHOD_NOT_ALLOWED, "already merged"));
            }
            ThreadState::Closed => {
                return Err(refuse(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "the pull request is closed",
                ));
            }
        }
        let Some((base_tip, head_tip)) = f.tips else {
            return Err(refuse(
                StatusCode::CONFLICT,
                "its head or base branch is gone",
            ));
        };
        let guts_net::collab::Kind::Pull { base, head } = &f.thread.kind else {
            return Err(ApiError::not_found("pull request", &which));
        };
        let full = repo.full_name();
        if let Some(why) = approvals::count(&store, &full, base, &f.thread)?.refusal() {
            return Err(refuse(StatusCode::METHOD_NOT_ALLOWED, why));
        }
        let scratch = f.scratch();
        let now = st.now_secs();
        let title = b.commit_title.unwrap_or_else(|| {
            format!(
                "Merge pull request #{} from {}:{}",
                f.number, head.repo, head.branch
            )
        });
        let message = match b.commit_message {
            Some(m) => format!("{title}\n\n{m}\n"),
            None => format!("{title}\n\n{}\n", f.thread.title),
        };
        let make =
            |tree: ObjectId, parents: Vec<ObjectId>, msg: &str| -> Result<ObjectId, ApiError> {
                let c = Commit {
                    tree,
                    parents,
                    author: ident(&me, now),
                    committer: ident(&me, now),
                    extra_headers: Vec::new(),
                    message: Some(msg.as_bytes().to_vec()),
                };
                Ok(scratch.write_object(Kind::Commit, &c.write())?)
            };
        let conflicted = |m: &guts_git::merge::Merged| -> ApiError {
            let paths: Vec<String> = m
                .conflicts
                .iter()
                .map(|c| String::from_utf8_lossy(&c.path).into_owned())
                .collect();
            refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "the pull request does not merge: conflicts in {}",
                    paths.join(", ")
                ),
            )
        };
        let internal = |e: &dyn std::fmt::Display| ApiError::internal(e);
        let new = match strategy {
            MergeStrategy::FastForward => {
                if !is_ancestor(&scratch, &base_tip, &head_tip).map_err(|e| internal(&e))? {
                    return Err(refuse(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "the base is not an ancestor of the head: no fast-forward",
                    ));
                }
                head_tip
            }
            MergeStrategy::Merge | MergeStrategy::Squash => {
                let m = merge_commits(&scratch, &base_tip, &head_tip, ("base", "head"))
                    .map_err(|e| internal(&e))?;
                if !m.is_clean() {
                    return Err(conflicted(&m));
                }
                let parents = if strategy == MergeStrategy::Merge {
                    vec![base_tip, head_tip]
                } else {
                    vec![base_tip]
                };
                make(m.tree, parents, &message)?
            }
            MergeStrategy::Rebase => {
                let walk = commits_between(&scratch, &[head_tip], &[base_tip], &Default::default())
                    .map_err(|e| internal(&e))?;
                let mut tip = base_tip;
                for c in walk.included.iter().rev() {
                    let data = scratch.read_kind(c, Kind::Commit)?;
                    let commit = Commit::parse(&data).map_err(|e| internal(&e))?;
                    let [parent] = commit.parents[..] else {
                        return Err(refuse(
                            StatusCode::METHOD_NOT_ALLOWED,
                            "the head has merge commits: it cannot be rebased",
                        ));
                    };
                    let parent_tree = tree_of(&scratch, &parent)?;
                    let ours = tree_of(&scratch, &tip)?;
                    let m = merge_trees(
                        &scratch,
                        Some(parent_tree),
                        ours,
                        commit.tree,
                        ("base", "head"),
                    )
                    .map_err(|e| internal(&e))?;
                    if !m.is_clean() {
                        return Err(conflicted(&m));
                    }
                    let re = Commit {
                        tree: m.tree,
                        parents: vec![tip],
                        committer: ident(&me, now),
                        ..commit
                    };
                    tip = scratch.write_object(Kind::Commit, &re.write())?;
                }
                tip
            }
        };
        // What the base lacks: the new commits and trees, and a fork's objects.
        let cut = Default::default();
        let objects = objects_to_send(
            &scratch,
            &ObjectsWanted {
                wants: &[new],
                haves: &[base_tip],
                cut: &cut,
                filter: None,
            },
        )
        .map_err(|e| internal(&e))?;
        let count = u32::try_from(objects.len())
            .map_err(|_| refuse(StatusCode::PAYLOAD_TOO_LARGE, "too many objects to merge"))?;
        let mut writer = PackWriter::new(Vec::new(), count).map_err(|e| internal(&e))?;
        for o in &objects {
            let data = scratch.read_kind(&o.id, o.kind)?;
            writer
                .write_whole(o.kind, &data)
                .map_err(|e| internal(&e))?;
        }
        let (_, pack) = writer.finish().map_err(|e| internal(&e))?;
        let mut who = crate::git::who_pushes(&store, Some(&me), &full)?;
        who.merging = true;
        let name = format!("refs/heads/{base}");
        if let Err(why) = crate::git::push_here(&st, &repo, &who, (&name, base_tip, new), pack)? {
            return Err(refuse(
                StatusCode::CONFLICT,
                format!("the base branch refused the merge: {why}"),
            ));
        }
        let full = full.to_string();
        let thread = f.thread.id;
        let op = st.replication().record_op(&store, |stamp| Op {
            repo: full.clone(),
            thread: Some(thread),
            stamp,
            author: me.clone(),
            moderator: true,
            grant: Vec::new(),
            action: Action::Merge {
                commit: *new.as_bytes(),
                strategy,
            },
        })?;
        api::publish(&st, &store, &op)?;
        Ok(json!({
            "merged": true,
            "sha": new.to_hex(),
            "message": "Pull Request successfully merged",
        }))
    })
    .await?;
    Ok((StatusCode::OK, Json(out)).into_response())
}
