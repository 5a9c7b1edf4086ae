//! Issues and pull requests on the web: lists with filters (`?state=`, `?label=`), an
//! issue's conversation, a pull request's conversation, commits, files and whether it
//! merges, and the forms of signed-in users (open, comment, close and reopen, review,
//! merge with a strategy). Every form goes through the REST handler that does the same
//! thing, so the rules are the API's, after the page's CSRF check.

use axum::Form;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use guts_net::collab::{Kind, State as ThreadState, Thread};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::page::{WebError, page, redirect};
use super::repo::{find, header as repo_header};
use super::session::{Web, check_csrf};
use crate::accounts::Caller;
use crate::error::ApiError;
use crate::paging::Paged;
use crate::rest::blocking;
use crate::state::AppState;

/// Threads a list page shows at most.
const MAX_LISTED: usize = 200;

/// The JSON a REST handler answered, or its error as a page error.
async fn json_of(resp: Result<Response, ApiError>) -> Result<Value, WebError> {
    let resp = resp?;
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        Ok(v)
    } else {
        let msg = v["error"].as_str().unwrap_or("refused").to_string();
        Err(WebError(ApiError::new(status, msg)))
    }
}

fn json_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h
}

fn markdown(text: &str) -> Markup {
    html! { div.markdown { (PreEscaped(super::markdown::render(text))) } }
}

fn state_badge(t: &Thread) -> Markup {
    let (class, text) = match &t.state {
        ThreadState::Open => ("open", "Open"),
        ThreadState::Closed => ("closed", "Closed"),
        ThreadState::Merged { .. } => ("merged", "Merged"),
    };
    html! { span class={ "state " (class) } #thread-state { (text) } }
}

/// A list's filters.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    label: Option<String>,
    author: Option<String>,
    assignee: Option<String>,
}

/// `GET /{owner}/{repo}/issues` and `/pulls`.
pub async fn list(
    State(state): State<AppState>,
    web: Web,
    Path((owner, name)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
    uri: axum::http::Uri,
) -> Result<Response, WebError> {
    let pulls = uri.path().ends_with("/pulls");
    let Web { caller, viewer } = web;
    let st = state.clone();
    Ok(blocking(&state, move |store| {
        let repo = find(&store, &caller, &owner, &name)?;
        let r = repo.record();
        let full = r.full_name().to_string();
        let listing = st.inner.listings.get(&store, &full)?;
        let want = q.state.as_deref().unwrap_or("open");
        let label = q.label.clone().unwrap_or_default();
        let author = q.author.clone().unwrap_or_default();
        let assignee = q.assignee.clone().unwrap_or_default();
        let shown: Vec<&(u64, Thread)> = listing
            .threads
            .iter()
            .filter(|(_, t)| matches!(t.kind, Kind::Pull { .. }) == pulls)
            .filter(|(_, t)| match want {
                "open" => t.state == ThreadState::Open,
                "closed" => t.state != ThreadState::Open,
                _ => true,
            })
            .filter(|(_, t)| label.is_empty() || t.labels.contains(&label))
            .filter(|(_, t)| author.is_empty() || t.author == author)
            .filter(|(_, t)| assignee.is_empty() || t.assignees.contains(&assignee))
            .take(MAX_LISTED)
            .collect();
        let (what, one) = if pulls {
            ("Pull requests", "pull")
        } else {
            ("Issues", "issues")
        };
        let base = format!("/{}/{}", r.owner, r.name);
        let body = html! {
            (repo_header(&repo, &r.default_branch))
            div.bar {
                h2 { (what) }
                nav.filters {
                    @for s in ["open", "closed", "all"] {
                        a class=[(s == want).then_some("on")] href={ (uri.path()) "?state=" (s) } { (s) }
                    }
                }
                @if viewer.user.is_some() {
                    a.button href={ (base) "/" (if pulls { "pulls" } else { "issues" }) "/new" } { "New" }
                }
            }
            @if shown.is_empty() {
                p.empty { "Nothing here." }
            } @else {
                ul.threads #threads {
                    @for (n, t) in &shown {
                        li {
                            (state_badge(t))
                            " " a href={ (base) "/" (one) "/" (n) } { (t.title) }
                            " " span.num { "#" (n) }
                            @for l in &t.labels { " " a.label href={ (uri.path()) "?state=all&label=" (l) } { (l) } }
                            div.meta {
                                "by " a href={ (uri.path()) "?state=all&author=" (t.author) } { (t.author) }
                                @for a in &t.assignees { " · assigned to " a href={ (uri.path()) "?state=all&assignee=" (a) } { (a) } }
                            }
                        }
                    }
                }
            }
        };
        Ok(page(&format!("{what} · {full}"), &viewer, body))
    })
    .await?)
}

/// The conversation: the opening post, then comments.
fn conversation(t: &Thread) -> Markup {
    html! {
        article.post {
            div.meta { strong { (t.author) } " opened this" }
            (markdown(&t.body))
        }
        div #comments {
            @for c in t.comments.iter().filter(|c| !c.deleted) {
                article.comment {
                    div.meta { strong { (c.author) } @if c.edited.is_some() { " (edited)" } }
                    (markdown(&c.body))
                }
            }
        }
    }
}

/// The forms under a conversation, for a signed-in viewer.
fn comment_forms(viewer: &super::page::Viewer, action: &str, t: &Thread) -> Markup {
    html! {
        @if viewer.user.is_some() {
            form.comment method="post" action={ (action) "/comment" } {
                input type="hidden" name="csrf" value=(viewer.csrf);
                textarea name="body" rows="5" required placeholder="Leave a comment" {}
                button type="submit" { "Comment" }
            }
            @match &t.state {
                ThreadState::Open => {
                    form.state method="post" action={ (action) "/state" } {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        input type="hidden" name="state" value="closed";
                        button type="submit" { "Close" }
                    }
                }
                ThreadState::Closed => {
                    form.state method="post" action={ (action) "/state" } {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        input type="hidden" name="state" value="open";
                        button type="submit" { "Reopen" }
                    }
                }
                ThreadState::Merged { .. } => {}
            }
        } @else {
            p.notice { a href="/login" { "Sign in" } " to comment." }
        }
    }
}

/// `GET /{owner}/{repo}/issues/{n}`.
pub async fn issue(
    State(state): State<AppState>,
    web: Web,
    Path((owner, name, which)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let Web { caller, viewer } = web;
    let st = state.clone();
    Ok(blocking(&state, move |store| {
        let repo = find(&store, &caller, &owner, &name)?;
        let r = repo.record();
        let full = r.full_name().to_string();
        let (n, t) = st
            .inner
            .listings
            .find(&store, &full, &which)?
            .ok_or_else(|| ApiError::not_found("issue", &which))?;
        if matches!(t.kind, Kind::Pull { .. }) {
            return Ok(redirect(&format!("/{full}/pull/{n}")));
        }
        let action = format!("/{full}/issues/{n}");
        let body = html! {
            (repo_header(&repo, &r.default_branch))
            h1 #thread-title { (t.title) " " span.num { "#" (n) } }
            div.bar { (state_badge(&t)) @for l in &t.labels { " " span.label { (l) } } }
            (conversation(&t))
            (comment_forms(&viewer, &action, &t))
        };
        Ok(page(&format!("{} · #{n} · {full}", t.title), &viewer, body))
    })
    .await?)
}

/// `GET /{owner}/{repo}/pull/{n}`: the conversation, whether it merges, its commits and
/// files, and the review and merge forms.
pub async fn pull(
    State(state): State<AppState>,
    web: Web,
    Path((owner, name, which)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let Web { caller, viewer } = web;
    let path = (
        owner.clone(),
        name.trim_end_matches(".git").to_string(),
        which.clone(),
    );
    let show = json_of(
        crate::collab::pulls::show(State(state.clone()), caller.clone(), Path(path.clone())).await,
    )
    .await?;
    let commits = json_of(
        crate::collab::pulls::commits(
            State(state.clone()),
            caller.clone(),
            Path(path.clone()),
            Paged::first(100),
        )
        .await,
    )
    .await?;
    let files = json_of(
        crate::collab::pulls::files(
            State(state.clone()),
            caller.clone(),
            Path(path.clone()),
            Paged::first(100),
        )
        .await,
    )
    .await?;
    let st = state.clone();
    Ok(blocking(&state, move |store| {
        let repo = find(&store, &caller, &owner, &name)?;
        let r = repo.record();
        let full = r.full_name().to_string();
        let (n, t) = st
            .inner
            .listings
            .find(&store, &full, &which)?
            .ok_or_else(|| ApiError::not_found("pull request", &which))?;
        let action = format!("/{full}/pull/{n}");
        let open = t.state == ThreadState::Open;
        let empty = Vec::new();
        let body = html! {
            (repo_header(&repo, &r.default_branch))
            h1 #thread-title { (t.title) " " span.num { "#" (n) } }
            div.bar {
                (state_badge(&t))
                " " span.refs {
                    code { (show["head"]["repo"]["full_name"].as_str().unwrap_or("")) ":" (show["head"]["ref"].as_str().unwrap_or("")) }
                    " into " code { (show["base"]["ref"].as_str().unwrap_or("")) }
                }
            }
            @if open {
                div.mergeable #mergeable data-state=(show["mergeable_state"].as_str().unwrap_or("unknown")) {
                    @match show["mergeable_state"].as_str().unwrap_or("unknown") {
                        "clean" => { "This pull request merges cleanly." }
                        "blocked" => { "It merges, but the base branch needs approving reviews first." }
                        "dirty" => {
                            "It conflicts in: "
                            @for c in show["conflicts"].as_array().unwrap_or(&empty) { code { (c["path"].as_str().unwrap_or("")) } " " }
                        }
                        _ => { "Whether it merges is not known (its head or base is gone)." }
                    }
                }
            }
            (conversation(&t))
            section.reviews {
                @for rv in &t.reviews {
                    div.review { strong { (rv.author) } " " (format!("{:?}", rv.verdict)) @if !rv.body.is_empty() { (markdown(&rv.body)) } }
                }
            }
            section.pr-commits #pr-commits {
                h2 { "Commits" }
                ol.commits {
                    @for c in commits.as_array().unwrap_or(&empty) {
                        li { a.mono href={ "/" (full) "/commit/" (c["sha"].as_str().unwrap_or("")) } { (c["sha"].as_str().unwrap_or("").get(..12).unwrap_or("")) } " " (c["commit"]["message"].as_str().unwrap_or("").lines().next().unwrap_or("")) }
                    }
                }
            }
            section.pr-files #pr-files {
                h2 { "Files" }
                @for f in files.as_array().unwrap_or(&empty) {
                    div.file {
                        div.file-head { strong.path { (f["filename"].as_str().unwrap_or("")) } " " span.add { "+" (f["additions"]) } " " span.del { "−" (f["deletions"]) } }
                        @if let Some(p) = f["patch"].as_str() {
                            pre.patch { @for line in p.lines() {
                                @let class = if line.starts_with('+') { "add" } else if line.starts_with('-') { "del" } else if line.starts_with("@@") { "hunk" } else { "ctx" };
                                span class=(class) { (line) } "\n"
                            } }
                        }
                    }
                }
            }
            @if viewer.user.is_some() && open {
                form.review method="post" action={ (action) "/review" } {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    select name="event" aria-label="Review" {
                        option value="APPROVE" { "Approve" }
                        option value="REQUEST_CHANGES" { "Request changes" }
                        option value="COMMENT" { "Comment" }
                    }
                    textarea name="body" rows="3" placeholder="Review" {}
                    button type="submit" { "Review" }
                }
                form.merge method="post" action={ (action) "/merge" } {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    select name="method" aria-label="Merge method" {
                        option value="merge" { "Merge commit" }
                        option value="squash" { "Squash" }
                        option value="rebase" { "Rebase" }
                        option value="fast-forward" { "Fast-forward" }
                    }
                    button #merge-button type="submit" { "Merge" }
                }
            }
            (comment_forms(&viewer, &format!("/{full}/issues/{n}"), &t))
        };
        Ok(page(&format!("{} · #{n} · {full}", t.title), &viewer, body))
    })
    .await?)
}

/// `GET /{owner}/{repo}/issues/new` and `/pulls/new`.
pub async fn new_form(
    State(state): State<AppState>,
    web: Web,
    Path((owner, name)): Path<(String, String)>,
    uri: axum::http::Uri,
) -> Result<Response, WebError> {
    let pulls = uri.path().ends_with("/pulls/new");
    let Web { caller, viewer } = web;
    if viewer.user.is_none() {
        return Ok(redirect("/login"));
    }
    Ok(blocking(&state, move |store| {
        let repo = find(&store, &caller, &owner, &name)?;
        let r = repo.record();
        let body = html! {
            (repo_header(&repo, &r.default_branch))
            h2 { @if pulls { "New pull request" } @else { "New issue" } }
            form.new method="post" action={ "/" (r.owner) "/" (r.name) (if pulls { "/pulls" } else { "/issues" }) } {
                input type="hidden" name="csrf" value=(viewer.csrf);
                label { "Title" input type="text" name="title" required maxlength="1024"; }
                @if pulls {
                    label { "Head branch (or owner:branch)" input type="text" name="head" required; }
                    label { "Base branch" input type="text" name="base" value=(r.default_branch) required; }
                }
                label { "Description" textarea name="body" rows="8" {} }
                button type="submit" { "Open" }
            }
        };
        Ok(page("New", &viewer, body))
    })
    .await?)
}

/// Any form of these pages: its fields.
#[derive(Debug, Deserialize)]
pub struct ThreadForm {
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    head: String,
    #[serde(default)]
    base: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    event: String,
    #[serde(default)]
    method: String,
}

fn json_body(v: Value) -> Bytes {
    Bytes::from(v.to_string())
}

/// `POST /{owner}/{repo}/issues` and `/pulls`: opens one, then shows it.
pub async fn create(
    State(state): State<AppState>,
    web: Web,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
    uri: axum::http::Uri,
    Form(f): Form<ThreadForm>,
) -> Result<Response, WebError> {
    check_csrf(&headers, &f.csrf)?;
    let caller: Caller = web.caller;
    let path = Path((owner.clone(), name.clone()));
    let v = if uri.path().ends_with("/pulls") {
        let body = json!({ "title": f.title, "body": f.body, "head": f.head, "base": f.base });
        json_of(
            crate::collab::pulls::open(State(state), caller, path, json_headers(), json_body(body))
                .await,
        )
        .await?
    } else {
        let body = json!({ "title": f.title, "body": f.body });
        json_of(
            crate::collab::api::create(State(state), caller, path, json_headers(), json_body(body))
                .await,
        )
        .await?
    };
    let n = v["number"].as_u64().unwrap_or(0);
    let one = if uri.path().ends_with("/pulls") {
        "pull"
    } else {
        "issues"
    };
    Ok(redirect(&format!("/{owner}/{name}/{one}/{n}")))
}

/// `POST /{owner}/{repo}/issues/{n}/comment` and `.../state`, and
/// `POST /{owner}/{repo}/pull/{n}/review` and `.../merge`: each through its REST handler,
/// then back to the page.
pub async fn act(
    State(state): State<AppState>,
    web: Web,
    headers: HeaderMap,
    Path((owner, name, which, what)): Path<(String, String, String, String)>,
    uri: axum::http::Uri,
    Form(f): Form<ThreadForm>,
) -> Result<Response, WebError> {
    check_csrf(&headers, &f.csrf)?;
    let pull = uri.path().contains("/pull/");
    let (st, caller, h) = (State(state), web.caller, json_headers());
    let path = Path((owner.clone(), name.clone(), which.clone()));
    let answer = match (pull, what.as_str()) {
        (false, "comment") => {
            let body = json_body(json!({ "body": f.body }));
            crate::collab::api::comment(st, caller, path, h, body).await
        }
        (false, "state") => {
            let body = json_body(json!({ "state": f.state }));
            crate::collab::api::edit(st, caller, path, h, body).await
        }
        (true, "review") => {
            let body = json_body(json!({ "event": f.event, "body": f.body }));
            crate::collab::pulls::review(st, caller, path, h, body).await
        }
        (true, "merge") => {
            let body = json_body(json!({ "merge_method": f.method }));
            crate::collab::merging::merge(st, caller, path, h, body).await
        }
        _ => return Err(WebError(ApiError::not_found("action", &what))),
    };
    json_of(answer).await?;
    let page = if pull { "pull" } else { "issues" };
    Ok(redirect(&format!("/{owner}/{name}/{page}/{which}")))
}
