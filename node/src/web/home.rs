//! `GET /`: the repositories this node holds that the viewer may read (searchable by
//! name), and the node itself: its id, its peers, whether it is ready.

use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::page::{WebError, page};
use super::session::Web;
use crate::accounts::repo_perm;
use crate::rest::blocking;
use crate::state::AppState;

/// Repositories listed at most.
const MAX_LISTED: usize = 200;

#[derive(Debug, Deserialize)]
pub struct HomeQuery {
    q: Option<String>,
}

/// `GET /`.
pub async fn home(
    State(state): State<AppState>,
    web: Web,
    Query(query): Query<HomeQuery>,
) -> Result<Response, WebError> {
    let Web { caller, viewer } = web;
    let q = query.q.unwrap_or_default().trim().to_lowercase();
    let needle = q.clone();
    let (repos, more) = blocking(&state, move |store| {
        let mut out = Vec::new();
        let mut after: Option<(String, String)> = None;
        loop {
            let batch =
                store.list_repos(after.as_ref().map(|(o, n)| (o.as_str(), n.as_str())), 500)?;
            let Some(last) = batch.last() else {
                return Ok((out, false));
            };
            after = Some((last.owner.clone(), last.name.clone()));
            for r in batch {
                let full = r.full_name().to_string();
                if !needle.is_empty() && !full.to_lowercase().contains(&needle) {
                    continue;
                }
                if repo_perm(&store, &caller, &r.owner, &r.name, r.private)?
                    .0
                    .is_none()
                {
                    continue;
                }
                if out.len() == MAX_LISTED {
                    return Ok((out, true));
                }
                out.push(r);
            }
        }
    })
    .await?;
    let net = crate::health::p2p(&state);
    let (ready, reason) = crate::health::readiness(&state).await;
    let (replicated, lag) = state.metrics().replication();
    let body = html! {
        section.repos {
            h1 { "Repositories" }
            form.search method="get" action="/" {
                input type="search" name="q" value=(q) placeholder="Find a repository";
                button type="submit" { "Search" }
            }
            @if repos.is_empty() {
                p.empty { "No repositories here yet." }
            } @else {
                ul.repo-list {
                    @for r in &repos {
                        li {
                            a href={ "/" (r.owner) "/" (r.name) } { (r.owner) "/" (r.name) }
                            @if r.private { " " span.badge { "private" } }
                            @if !r.description.is_empty() { p.desc { (r.description) } }
                        }
                    }
                }
                @if more { p.more { "More repositories match: narrow the search." } }
            }
        }
        aside.node {
            h2 { "This node" }
            dl {
                dt { "Node id" } dd.mono { (net["node_id"].as_str().unwrap_or("")) }
                dt { "Network" } dd { (net["status"].as_str().unwrap_or("")) }
                dt { "Peers" } dd #peers { (net["peers"]) }
                dt { "Replication" } dd #replication {
                    (replicated) " updates from other nodes"
                    @if let Some(ms) = lag { "; the last arrived " (ms) " ms after its origin took it" }
                }
                dt { "Ready" } dd { @if ready { "yes" } @else { "no: " (reason) } }
            }
        }
    };
    Ok(page("Repositories", &viewer, body))
}
