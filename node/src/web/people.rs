//! `GET /{name}`: a user's page (their repositories the viewer may read, their
//! organizations) or an organization's (its repositories, members and teams, which the
//! REST API shows to anyone too).

use axum::extract::{Path, State};
use axum::response::Response;
use guts_net::Entry;
use guts_net::accounts::{AccountView, key};
use guts_store::{RepoRecord, Store};
use maud::{Markup, html};

use super::page::{WebError, page};
use super::session::Web;
use crate::accounts::{Caller, StoreView, repo_perm};
use crate::error::ApiError;
use crate::rest::blocking;
use crate::state::AppState;

/// Repositories, members or teams listed at most.
const MAX_LISTED: usize = 200;

/// The repositories of `owner` the caller may read.
fn repos_of(store: &Store, caller: &Caller, owner: &str) -> Result<Vec<RepoRecord>, ApiError> {
    let mut out = Vec::new();
    let mut after = (owner.to_string(), String::new());
    'outer: loop {
        let batch = store.list_repos(Some((after.0.as_str(), after.1.as_str())), 500)?;
        let Some(last) = batch.last() else {
            break;
        };
        after = (last.owner.clone(), last.name.clone());
        for r in batch {
            if r.owner != owner || out.len() == MAX_LISTED {
                break 'outer;
            }
            if repo_perm(store, caller, &r.owner, &r.name, r.private)?
                .0
                .is_some()
            {
                out.push(r);
            }
        }
    }
    Ok(out)
}

fn repo_list(repos: &[RepoRecord]) -> Markup {
    html! {
        @if repos.is_empty() { p.empty { "No repositories to show." } }
        ul.repo-list {
            @for r in repos {
                li {
                    a href={ "/" (r.owner) "/" (r.name) } { (r.owner) "/" (r.name) }
                    @if r.private { " " span.badge { "private" } }
                    @if !r.description.is_empty() { p.desc { (r.description) } }
                }
            }
        }
    }
}

/// `GET /{name}`.
pub async fn profile(
    State(state): State<AppState>,
    web: Web,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let Web { caller, viewer } = web;
    Ok(blocking(&state, move |store| {
        let view = StoreView(&store);
        let found = match view.entry(&key::user(&name))? {
            Some(u) => Some(u),
            None => view.entry(&key::org(&name))?,
        };
        let body = match found {
            Some(Entry::User(u)) => {
                let repos = repos_of(&store, &caller, &name)?;
                let suffix = format!("/{name}");
                let orgs: Vec<String> = view
                    .scan("member/")?
                    .into_iter()
                    .filter(|(k, _)| k.ends_with(&suffix))
                    .filter_map(|(_, e)| match e {
                        Entry::Member { org, .. } => Some(org),
                        _ => None,
                    })
                    .take(MAX_LISTED)
                    .collect();
                html! {
                    section.profile {
                        h1 { (u.name) @if u.admin { " " span.badge { "site administrator" } } }
                        h2 { "Repositories" }
                        (repo_list(&repos))
                        @if !orgs.is_empty() {
                            h2 { "Organizations" }
                            ul.orgs { @for o in &orgs { li { a href={ "/" (o) } { (o) } } } }
                        }
                    }
                }
            }
            Some(Entry::Org { name: org, description, .. }) => {
                let repos = repos_of(&store, &caller, &org)?;
                let members = view.list(&key::members_of(&org), |(_, e)| match e {
                    Entry::Member { user, role, .. } => Some((user, role.as_str())),
                    _ => None,
                })?;
                let teams = view.list(&key::teams_of(&org), |(_, e)| match e {
                    Entry::Team { name, description, .. } => Some((name, description)),
                    _ => None,
                })?;
                html! {
                    section.profile {
                        h1 { (org) " " span.badge { "organization" } }
                        @if !description.is_empty() { p.desc { (description) } }
                        h2 { "Repositories" }
                        (repo_list(&repos))
                        h2 { "Members" }
                        ul.members {
                            @for (user, role) in members.iter().take(MAX_LISTED) {
                                li { a href={ "/" (user) } { (user) } " " span.badge { (role) } }
                            }
                        }
                        h2 { "Teams" }
                        ul.teams {
                            @for (team, description) in teams.iter().take(MAX_LISTED) {
                                li { strong { (team) } @if !description.is_empty() { " · " (description) } }
                            }
                        }
                    }
                }
            }
            _ => return Err(ApiError::not_found("user or organization", &name)),
        };
        Ok(page(&name, &viewer, body))
    })
    .await?)
}
