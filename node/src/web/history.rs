//! `GET /{owner}/{repo}/commits/REF[/PATH]?page=N`: the history from a branch, tag or
//! commit, newest first as `git log` orders it, 50 commits a page; with a path, only the
//! commits that change it.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::browse::{self, PAGE};
use super::page::{WebError, page};
use super::repo::{find, header as repo_header};
use super::session::Web;
use crate::rest::blocking;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct LogQuery {
    page: Option<usize>,
}

/// `GET /{owner}/{repo}/commits/{*rest}`.
pub async fn commits(
    State(state): State<AppState>,
    web: Web,
    Path((owner, name, rest)): Path<(String, String, String)>,
    Query(q): Query<LogQuery>,
) -> Result<Response, WebError> {
    let n = q.page.unwrap_or(1).max(1);
    let Web { caller, viewer } = web;
    Ok(blocking(&state, move |store| {
        let repo = find(&store, &caller, &owner, &name)?;
        let at = browse::resolve(&repo, &rest)?;
        let odb = repo.odb();
        let (list, more) = browse::log(&odb, &at.commit, &at.path, (n - 1) * PAGE, PAGE)?;
        let r = repo.record();
        let base = format!("/{}/{}", r.owner, r.name);
        let here = if at.path.is_empty() {
            format!("{base}/commits/{}", at.name)
        } else {
            format!("{base}/commits/{}/{}", at.name, at.path)
        };
        let body = html! {
            (repo_header(&repo, &at.name))
            h2 {
                "History of " (at.name)
                @if !at.path.is_empty() { " · " span.path { (at.path) } }
            }
            ol.commits #commits {
                @for (id, c) in &list {
                    @let msg = c.message.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
                    li.commit {
                        a.summary href={ (base) "/commit/" (id) } { (msg.lines().next().unwrap_or("")) }
                        div.meta {
                            span.author { (browse::name_of(&c.author)) }
                            " · " time data-unix=(browse::time_of(&c.committer)) { (browse::time_of(&c.committer)) }
                            " · " a.mono href={ (base) "/commit/" (id) } { (&id.to_hex()[..12]) }
                            " · " a href={ (base) "/tree/" (id) } { "Browse" }
                        }
                    }
                }
            }
            nav.pages {
                @if n > 1 { a rel="prev" href={ (here) "?page=" (n - 1) } { "Newer" } }
                @if more { a rel="next" href={ (here) "?page=" (n + 1) } { "Older" } }
            }
        };
        Ok(page(&format!("History · {}/{}", r.owner, r.name), &viewer, body))
    })
    .await?)
}
