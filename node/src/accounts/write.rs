//! Changing account entries from the API: each change is one signed record (see
//! `Replication::record_account`), checked first so that peers never refuse it.

use axum::http::StatusCode;
use guts_net::Entry;
use guts_net::accounts::{AccountView, key};
use guts_store::{RepoName, Store};

use super::view::StoreView;
use crate::error::ApiError;
use crate::state::AppState;

/// Sets (or with none, deletes) the entry under `key`.
pub fn write(state: &AppState, store: &Store, key: &str, e: Option<Entry>) -> Result<(), ApiError> {
    if let Some(e) = &e {
        e.check()
            .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m))?;
    }
    state.replication().record_account(store, key, e)?;
    Ok(())
}

/// Deletes the entry under `key`; 404 (naming `what` and `name`) if there is none.
pub fn forget(
    state: &AppState,
    store: &Store,
    key: &str,
    what: &str,
    name: &str,
) -> Result<(), ApiError> {
    if !StoreView(store).has(key)? {
        return Err(ApiError::not_found(what, name));
    }
    write(state, store, key, None)
}

/// Deletes everything keyed by repository `owner/name`: its collaborators, protection and review rules
/// and the team permissions on it (a cascade, signed and replicated like any deletion), so
/// that a new repository of the same name inherits nothing.
pub fn forget_repo(state: &AppState, store: &Store, full: &RepoName) -> Result<(), ApiError> {
    delete_all(state, store, &key::collaborators_of(full))?;
    delete_all(state, store, &key::protections_of(full))?;
    delete_all(state, store, &key::reviews_of(full))?;
    // trepo/{org}/{team}/{owner}/{name}: teams hold permissions on their org's repositories.
    let suffix = format!("/{full}");
    for (k, _) in StoreView(store).scan(&key::team_repos_of(full.owner(), None))? {
        if k.ends_with(&suffix) {
            write(state, store, &k, None)?;
        }
    }
    Ok(())
}

/// Deletes every entry under `prefix` (a cascade).
pub fn delete_all(state: &AppState, store: &Store, prefix: &str) -> Result<(), ApiError> {
    for (k, _) in StoreView(store).scan(prefix)? {
        write(state, store, &k, None)?;
    }
    Ok(())
}
