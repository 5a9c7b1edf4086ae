//! The web interface at `/` (issue 18): server-rendered pages of what this node holds,
//! with the same access rules as the REST API, templates checked at compile time (maud),
//! a small stylesheet and script compiled in, and no inline script (a strict
//! Content-Security-Policy).
//!
//! Layout:
//! - `page.rs`: the page shell, HTML responses with their security headers, error pages;
//!   `assets.rs`: `/static/guts.css` and `/static/guts.js` (files in `static/`).
//! - `browse.rs`: reading a repository for pages: which ref and path a URL names, trees,
//!   files, history pages.
//! - `home.rs`: `/`; `people.rs`: a user's or an organization's page; `repo.rs`: a repository's overview, directories, branches and tags;
//!   `blob.rs`: a file and its raw bytes; `history.rs`: commit history; `commit.rs`: a
//!   commit; `compare.rs`: two refs compared; `diff.rs`: a diff as a page section; `threads.rs`: issues and pull requests (lists, conversations,
//!   commits, files, whether it merges) and their forms.
//! - `session.rs`: signing in and out (a session cookie), the caller of a page, and the
//!   CSRF check every form passes.
//! - `markdown.rs`: README rendering, sanitized; `highlight.rs`: syntax highlighting.

mod assets;
mod blob;
pub mod browse;
mod commit;
mod compare;
mod diff;
mod highlight;
mod history;
mod home;
pub mod markdown;
pub mod page;
mod people;
mod repo;
pub mod session;
mod threads;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

/// Names a user or organization may not take: their page would be one of the node's own
/// routes (`/login`, `/static/...`, `/api/...`, ...).
pub const RESERVED_NAMES: &[&str] = &[
    "api", "git", "health", "login", "logout", "metrics", "repos", "static", "ws",
];

/// The pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/static/{file}", get(assets::asset))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", axum::routing::post(session::logout))
        .route("/{name}", get(people::profile))
        .route("/{owner}/{repo}", get(repo::overview))
        .route("/{owner}/{repo}/tree/{*rest}", get(repo::tree))
        .route("/{owner}/{repo}/blob/{*rest}", get(blob::blob))
        .route("/{owner}/{repo}/raw/{*rest}", get(blob::raw))
        .route("/{owner}/{repo}/commits/{*rest}", get(history::commits))
        .route("/{owner}/{repo}/commit/{sha}", get(commit::commit))
        .route("/{owner}/{repo}/compare/{*spec}", get(compare::compare))
        .route("/{owner}/{repo}/branches", get(repo::refs))
        .route("/{owner}/{repo}/tags", get(repo::refs))
        .route("/{owner}/{repo}/switch", get(repo::switch))
        .route(
            "/{owner}/{repo}/issues",
            get(threads::list).post(threads::create),
        )
        .route(
            "/{owner}/{repo}/pulls",
            get(threads::list).post(threads::create),
        )
        .route("/{owner}/{repo}/issues/new", get(threads::new_form))
        .route("/{owner}/{repo}/pulls/new", get(threads::new_form))
        .route("/{owner}/{repo}/issues/{n}", get(threads::issue))
        .route("/{owner}/{repo}/pull/{n}", get(threads::pull))
        .route(
            "/{owner}/{repo}/issues/{n}/{what}",
            axum::routing::post(threads::act),
        )
        .route(
            "/{owner}/{repo}/pull/{n}/{what}",
            axum::routing::post(threads::act),
        )
}
