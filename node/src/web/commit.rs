//! `GET /{owner}/{repo}/commit/SHA`: a commit, its message, parents, and its diff against
//! its first parent (`diff.rs`).

use axum::extract::{Path, State};
use axum::response::Response;
use maud::html;

use super::browse;
use super::page::{WebError, page};
use super::repo::{find, header as repo_header};
use super::session::Web;
use crate::error::ApiError;
use crate::rest::blocking;
use crate::state::AppState;

/// `GET /{owner}/{repo}/commit/{sha}`.
pub async fn commit(
    State(state): State<AppState>,
    web: Web,
    Path((owner, name, sha)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let Web { caller, viewer } = web;
    Ok(blocking(&state, move |store| {
        let repo = find(&store, &caller, &owner, &name)?;
        let id = browse::commit_of(&repo, &sha)?.ok_or_else(|| ApiError::not_found("commit", &sha))?;
        let odb = repo.odb();
        let c = browse::commit(&odb, &id)?;
        let parent_tree = match c.parents.first() {
            Some(p) => Some(browse::commit(&odb, p)?.tree),
            None => None,
        };
        let r = repo.record();
        let base = format!("/{}/{}", r.owner, r.name);
        let msg = c.message.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
        let (summary, rest) = msg.split_once('\n').unwrap_or((&msg, ""));
        let body = html! {
            (repo_header(&repo, &id.to_hex()))
            section.commit-head {
                h2 { (summary) }
                @if !rest.trim().is_empty() { pre.message { (rest.trim()) } }
                dl {
                    dt { "Commit" } dd.mono { (id) }
                    dt { "Author" } dd { (browse::name_of(&c.author)) " · " time data-unix=(browse::time_of(&c.author)) { (browse::time_of(&c.author)) } }
                    dt { "Parents" } dd {
                        @for p in &c.parents { a.mono href={ (base) "/commit/" (p) } { (&p.to_hex()[..12]) } " " }
                    }
                }
                p { a href={ (base) "/tree/" (id) } { "Browse the files" } }
            }
            (super::diff::section(&odb, parent_tree, c.tree, &base, &id.to_hex())?)
        };
        Ok(page(&format!("{} · {}/{}", summary, r.owner, r.name), &viewer, body))
    })
    .await?)
}
