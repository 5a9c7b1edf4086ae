//! A repository's pages: the overview (`/{owner}/{repo}`: the default branch's tree, its
//! README rendered, clone URLs, the last commit), a directory at any branch, tag or commit
//! (`/tree/REF/PATH`), and the branches and tags.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use guts_git::odb::ObjectRead;
use guts_git::{Kind, ObjectId};
use guts_net::Perm;
use guts_store::Repo;
use maud::{Markup, PreEscaped, html};

use super::browse::{self, At, Node};
use super::page::{Viewer, WebError, page};
use super::session::Web;
use crate::accounts::Caller;
use crate::error::ApiError;
use crate::rest::{blocking, readable};
use crate::state::AppState;

/// README bytes read at most.
const MAX_README: u64 = 512 * 1024;

/// The repository a page is about, readable by the viewer (`name` may end in `.git`).
pub fn find(
    store: &guts_store::Store,
    caller: &Caller,
    owner: &str,
    name: &str,
) -> Result<Repo, ApiError> {
    let name = name.strip_suffix(".git").unwrap_or(name);
    readable(store, caller, owner, name, Perm::Read)
}

/// The header of every repository page: its name, description, tabs.
pub fn header(repo: &Repo, at: &str) -> Markup {
    let r = repo.record();
    let base = format!("/{}/{}", r.owner, r.name);
    html! {
        div.repo-head data-repo=(format!("{}/{}", r.owner, r.name)) {
            h1 {
                a href={ "/" (r.owner) } { (r.owner) } " / " a href=(base) { (r.name) }
                @if r.private { " " span.badge { "private" } }
            }
            @if !r.description.is_empty() { p.desc { (r.description) } }
            nav.tabs {
                a href=(base) { "Code" }
                a href={ (base) "/commits/" (at) } { "History" }
                a href={ (base) "/issues" } { "Issues" }
                a href={ (base) "/pulls" } { "Pull requests" }
                a href={ (base) "/branches" } { "Branches" }
                a href={ (base) "/tags" } { "Tags" }
            }
        }
    }
}

/// Clone URLs for the host the page was asked on.
fn clone_box(headers: &HeaderMap, repo: &Repo) -> Markup {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let r = repo.record();
    let url = format!("http://{host}/{}/{}.git", r.owner, r.name);
    html! {
        div.clone {
            label for="clone-url" { "Clone" }
            input #clone-url type="text" readonly value=(url);
            button.copy type="button" data-copy="clone-url" { "Copy" }
        }
    }
}

/// The last commit line: id, summary, author, time.
fn last_commit(repo: &Repo, at: &At) -> Result<Markup, ApiError> {
    let c = browse::commit(&repo.odb(), &at.commit)?;
    let r = repo.record();
    let msg = c
        .message
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let summary = msg.lines().next().unwrap_or("").to_string();
    Ok(html! {
        div.last-commit #last-commit {
            a.mono href={ "/" (r.owner) "/" (r.name) "/commit/" (at.commit) } { (&at.commit.to_hex()[..12]) }
            " " span.summary { (summary) }
            " · " span.author { (browse::name_of(&c.author)) }
            " · " time data-unix=(browse::time_of(&c.committer)) { (browse::time_of(&c.committer)) }
        }
    })
}

/// A directory listing.
fn listing(
    repo: &Repo,
    at: &At,
    entries: &[(guts_git::object::EntryMode, String, ObjectId)],
) -> Markup {
    let r = repo.record();
    let prefix = if at.path.is_empty() {
        String::new()
    } else {
        format!("{}/", at.path)
    };
    let mut sorted: Vec<_> = entries.iter().collect();
    // Directories first, then files, each by name.
    sorted.sort_by(|a, b| (!a.0.is_tree(), &a.1).cmp(&(!b.0.is_tree(), &b.1)));
    html! {
        table.tree {
            tbody {
                @if !at.path.is_empty() {
                    @let up = at.path.rsplit_once('/').map_or("", |(p, _)| p);
                    tr { td.icon { "↑" } td { a href={ "/" (r.owner) "/" (r.name) "/tree/" (at.name) "/" (up) } { ".." } } }
                }
                @for (mode, name, _) in sorted {
                    @let kind = if mode.is_tree() { "tree" } else if mode.is_commit() { "submodule" } else { "blob" };
                    tr class=(kind) {
                        td.icon { @if mode.is_tree() { "▸" } @else { "·" } }
                        td {
                            @if mode.is_commit() {
                                (name) " (submodule)"
                            } @else {
                                a href={ "/" (r.owner) "/" (r.name) "/" (kind) "/" (at.name) "/" (prefix) (name) } { (name) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The README of a directory, rendered (Markdown) or as text.
fn readme(
    repo: &Repo,
    entries: &[(guts_git::object::EntryMode, String, ObjectId)],
) -> Result<Option<Markup>, ApiError> {
    let found = entries
        .iter()
        .find(|(m, n, _)| !m.is_tree() && !m.is_commit() && n.to_lowercase().starts_with("readme"));
    let Some((_, name, id)) = found else {
        return Ok(None);
    };
    let odb = repo.odb();
    match odb.object_header(id)? {
        Some((Kind::Blob, size)) if size <= MAX_README => {}
        _ => return Ok(None),
    }
    let data = odb.read_kind(id, Kind::Blob)?;
    let text = String::from_utf8_lossy(&data);
    let lower = name.to_lowercase();
    let body = if lower.ends_with(".md") || lower.ends_with(".markdown") {
        html! { div.markdown { (PreEscaped(super::markdown::render(&text))) } }
    } else {
        html! { pre.readme-text { (text) } }
    };
    Ok(Some(html! {
        section.readme #readme { h2 { (name) } (body) }
    }))
}

fn tree_page(
    repo: &Repo,
    at: &At,
    headers: &HeaderMap,
    viewer: &Viewer,
) -> Result<Response, ApiError> {
    let odb = repo.odb();
    let Node::Dir(entries) = browse::node(&odb, &at.commit, &at.path)? else {
        return Err(ApiError::not_found("directory", &at.path));
    };
    let r = repo.record();
    let title = if at.path.is_empty() {
        format!("{}/{}", r.owner, r.name)
    } else {
        format!("{} at {} · {}/{}", at.path, at.name, r.owner, r.name)
    };
    let body = html! {
        (header(repo, &at.name))
        div.bar {
            (refs_select(repo, &at.name)?)
            @if !at.path.is_empty() { span.path { (breadcrumbs(repo, at)) } }
            (clone_box(headers, repo))
        }
        (last_commit(repo, at)?)
        (listing(repo, at, &entries))
        @if let Some(m) = readme(repo, &entries)? { (m) }
    };
    Ok(page(&title, viewer, body))
}

/// Links to each directory on a path.
pub fn breadcrumbs(repo: &Repo, at: &At) -> Markup {
    let r = repo.record();
    let parts: Vec<&str> = at.path.split('/').filter(|p| !p.is_empty()).collect();
    html! {
        a href={ "/" (r.owner) "/" (r.name) "/tree/" (at.name) } { (r.name) }
        @for (i, p) in parts.iter().enumerate() {
            " / "
            @if i + 1 == parts.len() { strong { (p) } } @else {
                a href={ "/" (r.owner) "/" (r.name) "/tree/" (at.name) "/" (parts[..=i].join("/")) } { (p) }
            }
        }
    }
}

/// A selector of branches and tags (a form: it works without JavaScript).
fn refs_select(repo: &Repo, current: &str) -> Result<Markup, ApiError> {
    let r = repo.record();
    let refs = repo.list_refs()?;
    let mut names: Vec<&str> = refs
        .iter()
        .filter_map(|(n, _)| {
            n.strip_prefix("refs/heads/")
                .or_else(|| n.strip_prefix("refs/tags/"))
        })
        .collect();
    names.truncate(500);
    Ok(html! {
        form.refs method="get" action={ "/" (r.owner) "/" (r.name) "/switch" } {
            select name="ref" aria-label="Branch or tag" {
                @if !names.contains(&current) { option selected value=(current) { (current) } }
                @for n in names {
                    option value=(n) selected[n == current] { (n) }
                }
            }
            button type="submit" { "Go" }
        }
    })
}

/// `GET /{owner}/{repo}`.
pub async fn overview(
    State(state): State<AppState>,
    web: Web,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let Web { caller, viewer } = web;
    Ok(blocking(&state, move |store| {
        let repo = find(&store, &caller, &owner, &name)?;
        let branch = repo.record().default_branch.clone();
        match browse::commit_of(&repo, &branch)? {
            Some(commit) => {
                let at = At {
                    name: branch,
                    commit,
                    path: String::new(),
                };
                tree_page(&repo, &at, &headers, &viewer)
            }
            None => Ok(empty(&repo, &headers, &viewer)),
        }
    })
    .await?)
}

fn empty(repo: &Repo, headers: &HeaderMap, viewer: &Viewer) -> Response {
    let r = repo.record();
    let body = html! {
        (header(repo, &r.default_branch))
        section.empty-repo {
            h2 { "This repository is empty" }
            p { "Push to it:" }
            (clone_box(headers, repo))
            pre { "git remote add origin URL\ngit push -u origin " (r.default_branch) }
        }
    };
    page(&format!("{}/{}", r.owner, r.name), viewer, body)
}

/// `GET /{owner}/{repo}/tree/{*rest}`.
pub async fn tree(
    State(state): State<AppState>,
    web: Web,
    headers: HeaderMap,
    Path((owner, name, rest)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let Web { caller, viewer } = web;
    Ok(blocking(&state, move |store| {
        let repo = find(&store, &caller, &owner, &name)?;
        let at = browse::resolve(&repo, &rest)?;
        tree_page(&repo, &at, &headers, &viewer)
    })
    .await?)
}

#[derive(Debug, serde::Deserialize)]
pub struct Switch {
    r#ref: String,
}

/// `GET /{owner}/{repo}/switch?ref=NAME`: the selector's target.
pub async fn switch(
    Path((owner, name)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<Switch>,
) -> Response {
    let target: String = q
        .r#ref
        .chars()
        .filter(|c| !c.is_control())
        .take(256)
        .collect();
    super::page::redirect(&format!(
        "/{owner}/{name}/tree/{}",
        target.trim_start_matches('/')
    ))
}

/// `GET /{owner}/{repo}/branches` and `/tags`.
pub async fn refs(
    State(state): State<AppState>,
    web: Web,
    Path((owner, name)): Path<(String, String)>,
    uri: axum::http::Uri,
) -> Result<Response, WebError> {
    let tags = uri.path().ends_with("/tags");
    let Web { caller, viewer } = web;
    Ok(blocking(&state, move |store| {
        let repo = find(&store, &caller, &owner, &name)?;
        let prefix = if tags { "refs/tags/" } else { "refs/heads/" };
        let refs = repo.list_refs_under(prefix)?;
        let r = repo.record();
        let what = if tags { "Tags" } else { "Branches" };
        let body = html! {
            (header(&repo, &r.default_branch))
            h2 { (what) " (" (refs.len()) ")" }
            ul.refs-list {
                @for (full, id) in &refs {
                    @let short = full.strip_prefix(prefix).unwrap_or(full);
                    li {
                        a href={ "/" (r.owner) "/" (r.name) "/tree/" (short) } { (short) }
                        " " a.mono href={ "/" (r.owner) "/" (r.name) "/commit/" (id) } { (&id.to_hex()[..12]) }
                        @if !tags && short == r.default_branch { " " span.badge { "default" } }
                    }
                }
            }
        };
        Ok(page(&format!("{what} · {}/{}", r.owner, r.name), &viewer, body))
    })
    .await?)
}
