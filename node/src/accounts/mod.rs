//! Accounts on the node (issue 6): who a request comes from, what they may do, and the
//! REST API that manages users, tokens, organizations, teams, permissions, SSH keys and
//! protected branches. Every account fact is a signed record replicated like repository
//! records (`guts_net::accounts`), the latest stamp per key winning.
//!
//! - `view.rs`: the store's account records as a [`guts_net::AccountView`], and keeping
//!   the record with the greatest stamp per key.
//! - `auth.rs`: credentials (HTTP Basic with the token as password, or Bearer), the
//!   [`Caller`] extractor, 401 with `WWW-Authenticate`.
//! - `throttle.rs`: repeated failed authentications from one address are slowed down.
//! - `access.rs`: what a caller may do on a repository (public read, the permission rule,
//!   the token's scope) and the 401/403/404 that follows; a pusher's grant.
//! - `write.rs`: changing entries from the API (checked, signed, replicated).
//! - `sshkey.rs`: OpenSSH public keys: parsing, validation, `SHA256:` fingerprints.
//! - `tokens.rs`: token secrets and their hashes.
//! - `rest_users.rs`, `rest_orgs.rs`, `rest_repo.rs`, `rest_keys.rs`: the REST API.

mod access;
mod auth;
mod rest_keys;
mod rest_orgs;
mod rest_repo;
mod rest_users;
pub mod sshkey;
mod throttle;
pub mod tokens;
mod view;
mod write;

pub use access::{
    Access, approvals_needed, grant_for, op_grant, protected_patterns, repo_perm, require,
    review_rules,
};
pub use auth::{AuthError, Caller, Principal, authenticate, caller_of, credentials};
pub use throttle::Throttle;
pub use view::{StoreView, decode, keep_newest};
pub use write::forget_repo;

use axum::Router;
use axum::routing::{delete, get, put};

use crate::state::AppState;

pub use rest_users::create_user_with_token;
pub(crate) use rest_users::owner_like;

/// Why a user could not be created against a data dir.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The node's key could not be read or made.
    #[error("node identity: {0}")]
    Identity(#[from] guts_net::IdentityError),
    /// The store could not be opened (is a node running on this data dir?).
    #[error("opening the store: {0}")]
    Store(#[from] guts_store::StoreError),
    /// The user could not be created.
    #[error("{0}")]
    Refused(String),
}

/// Creates a user (a site administrator with `admin`) in the store in `data_dir` while no
/// node runs on it, signed by that node's key so it replicates like any account record;
/// returns their first token (every scope), shown this once.
pub fn create_user_offline(
    data_dir: &std::path::Path,
    name: &str,
    admin: bool,
) -> Result<String, BootstrapError> {
    std::fs::create_dir_all(data_dir).map_err(guts_store::StoreError::from)?;
    let replication = crate::replica::Replication::load(data_dir, guts_net::Wall::system())?;
    let store = guts_store::Store::open(data_dir, guts_store::StoreOptions::default())?;
    let v = create_user_with_token(&replication, &store, name, admin)
        .map_err(|e| BootstrapError::Refused(e.message))?;
    store.flush()?;
    Ok(v["token"].as_str().unwrap_or_default().to_string())
}

/// The account routes under `prefix` (`/api` or `/api/v1`).
pub fn routes(prefix: &str) -> Router<AppState> {
    let p = |s: &str| format!("{prefix}{s}");
    Router::new()
        .route(&p("/user"), get(rest_users::me))
        .route(
            &p("/user/tokens"),
            get(rest_users::list_tokens).post(rest_users::create_token),
        )
        .route(&p("/user/tokens/{id}"), delete(rest_users::delete_token))
        .route(&p("/user/keys"), get(rest_keys::list).post(rest_keys::add))
        .route(
            &p("/user/keys/{id}"),
            get(rest_keys::get).delete(rest_keys::delete),
        )
        .route(
            &p("/users"),
            get(rest_users::list_users).post(rest_users::create_user),
        )
        .route(
            &p("/users/{name}"),
            get(rest_users::get_user).delete(rest_users::delete_user),
        )
        .route(
            &p("/users/{name}/tokens"),
            axum::routing::post(rest_users::create_token_for),
        )
        .route(&p("/users/{name}/keys"), get(rest_keys::list_for))
        .route(&p("/orgs"), get(rest_orgs::list).post(rest_orgs::create))
        .route(
            &p("/orgs/{org}"),
            get(rest_orgs::get).delete(rest_orgs::delete),
        )
        .route(&p("/orgs/{org}/members"), get(rest_orgs::members))
        .route(
            &p("/orgs/{org}/members/{user}"),
            put(rest_orgs::put_member).delete(rest_orgs::delete_member),
        )
        .route(
            &p("/orgs/{org}/teams"),
            get(rest_orgs::teams).post(rest_orgs::create_team),
        )
        .route(
            &p("/orgs/{org}/teams/{team}"),
            get(rest_orgs::get_team).delete(rest_orgs::delete_team),
        )
        .route(
            &p("/orgs/{org}/teams/{team}/members"),
            get(rest_orgs::team_members),
        )
        .route(
            &p("/orgs/{org}/teams/{team}/members/{user}"),
            put(rest_orgs::put_team_member).delete(rest_orgs::delete_team_member),
        )
        .route(
            &p("/orgs/{org}/teams/{team}/repos"),
            get(rest_orgs::team_repos),
        )
        .route(
            &p("/orgs/{org}/teams/{team}/repos/{owner}/{repo}"),
            put(rest_orgs::put_team_repo).delete(rest_orgs::delete_team_repo),
        )
        .route(
            &p("/repos/{owner}/{name}/collaborators"),
            get(rest_repo::collaborators),
        )
        .route(
            &p("/repos/{owner}/{name}/collaborators/{user}"),
            get(rest_repo::get_collaborator)
                .put(rest_repo::put_collaborator)
                .delete(rest_repo::delete_collaborator),
        )
        .route(
            &p("/repos/{owner}/{name}/protections"),
            get(rest_repo::protections).post(rest_repo::add_protection),
        )
        .route(
            &p("/repos/{owner}/{name}/protections/{*pattern}"),
            get(rest_repo::get_protection).delete(rest_repo::delete_protection),
        )
}
