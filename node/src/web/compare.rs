//! `GET /{owner}/{repo}/compare/BASE...HEAD`: what HEAD has that BASE lacks, as GitHub
//! shows it: the commits, and the diff from their merge base to HEAD.

use axum::extract::{Path, State};
use axum::response::Response;
use guts_git::merge::merge_bases;
use guts_git::walk::commits_between;
use maud::html;

use super::browse;
use super::page::{WebError, page};
use super::repo::{find, header as repo_header};
use super::session::Web;
use crate::error::ApiError;
use crate::rest::blocking;
use crate::state::AppState;

/// Commits listed at most.
const MAX_COMMITS: usize = 250;

/// `GET /{owner}/{repo}/compare/{*spec}`.
pub async fn compare(
    State(state): State<AppState>,
    web: Web,
    Path((owner, name, spec)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let Web { caller, viewer } = web;
    Ok(blocking(&state, move |store| {
        let repo = find(&store, &caller, &owner, &name)?;
        let Some((b, h)) = spec.split_once("...") else {
            return Err(ApiError::not_found("comparison", &spec));
        };
        let base_id = browse::commit_of(&repo, b)?.ok_or_else(|| ApiError::not_found("ref", b))?;
        let head_id = browse::commit_of(&repo, h)?.ok_or_else(|| ApiError::not_found("ref", h))?;
        let odb = repo.odb();
        let bases = merge_bases(&odb, &base_id, &head_id).map_err(|e| ApiError::internal(&e))?;
        let walk = commits_between(&odb, &[head_id], &[base_id], &Default::default())
            .map_err(|e| ApiError::internal(&e))?;
        let from = match bases.first() {
            Some(m) => Some(browse::commit(&odb, m)?.tree),
            None => None,
        };
        let head_tree = browse::commit(&odb, &head_id)?.tree;
        let r = repo.record();
        let url = format!("/{}/{}", r.owner, r.name);
        let mut commits = Vec::new();
        for id in walk.included.iter().take(MAX_COMMITS) {
            commits.push((*id, browse::commit(&odb, id)?));
        }
        let body = html! {
            (repo_header(&repo, h))
            h2 { "Comparing " code { (b) } " with " code { (h) } }
            p.stats { (walk.included.len()) " commits" }
            ol.commits #commits {
                @for (id, c) in &commits {
                    @let msg = c.message.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
                    li.commit {
                        a.summary href={ (url) "/commit/" (id) } { (msg.lines().next().unwrap_or("")) }
                        div.meta { span.author { (browse::name_of(&c.author)) } " · " a.mono href={ (url) "/commit/" (id) } { (&id.to_hex()[..12]) } }
                    }
                }
            }
            (super::diff::section(&odb, from, head_tree, &url, &head_id.to_hex())?)
        };
        Ok(page(&format!("{b}...{h} · {}/{}", r.owner, r.name), &viewer, body))
    })
    .await?)
}
