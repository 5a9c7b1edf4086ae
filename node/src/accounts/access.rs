//! What a caller may do on a repository: read if it is public; otherwise what the
//! permission rule gives their account; capped by their token's scope. A request that
//! falls short gets 401 when anonymous (so git asks for credentials), 403 when the caller
//! may read but not do this, and 404 when they may not even read it: a private repository
//! is indistinguishable from a missing one. Git requests from anonymous callers get 401
//! for a missing repository too, so that answer reveals nothing either. An account record
//! that cannot be read fails the request (500), never grants or drops a permission.

use guts_net::accounts::{key, repo_access};
use guts_net::{Perm, Pusher};
use guts_store::{RepoName, RepoRecord, Store, StoreError};

use super::auth::Caller;
use super::view::StoreView;
use crate::error::ApiError;

/// What a caller may do on a repository, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access(pub Option<Perm>);

/// The caller's permission on `owner/name` (private or not).
pub fn repo_perm(
    store: &Store,
    caller: &Caller,
    owner: &str,
    name: &str,
    private: bool,
) -> Result<Access, StoreError> {
    let public = (!private).then_some(Perm::Read);
    let Some(p) = &caller.who else {
        return Ok(Access(public));
    };
    let account = if p.admin {
        Some(Perm::Admin)
    } else {
        repo_access(&StoreView(store), &p.user, owner, name)?.perm
    };
    Ok(Access(account.max(public).map(|perm| perm.min(p.scope))))
}

/// Checks that the caller may do `need` on the repository (none: it does not exist here).
pub fn require(
    store: &Store,
    caller: &Caller,
    full: &str,
    repo: Option<&RepoRecord>,
    need: Perm,
    git: bool,
) -> Result<Perm, ApiError> {
    let anonymous = caller.who.is_none();
    let hidden = || {
        if anonymous && git {
            ApiError::unauthorized("authentication required")
        } else {
            ApiError::not_found("repository", full)
        }
    };
    let Some(rec) = repo else {
        return Err(hidden());
    };
    let Access(perm) = repo_perm(store, caller, &rec.owner, &rec.name, rec.private)?;
    match perm {
        None => Err(hidden()),
        Some(p) if p >= need => Ok(p),
        Some(_) if anonymous => Err(ApiError::unauthorized("authentication required")),
        Some(_) => Err(ApiError::forbidden(&format!(
            "{} access to {}/{} is required",
            need.as_str(),
            rec.owner,
            rec.name
        ))),
    }
}

/// The pusher of an update to `owner/name` and the signed records that give them write
/// access (none if the rule gives them none).
pub fn grant_for(
    store: &Store,
    user: &str,
    owner: &str,
    name: &str,
) -> Result<Option<Pusher>, StoreError> {
    let view = StoreView(store);
    let access = repo_access(&view, user, owner, name)?;
    if access.perm < Some(Perm::Write) {
        return Ok(None);
    }
    let mut grant = Vec::with_capacity(access.basis.len());
    for k in &access.basis {
        match view.record(k)? {
            Some(r) => grant.push(r),
            // Changed since the rule read it: no grant to show.
            None => return Ok(None),
        }
    }
    Ok(Some(Pusher {
        user: user.to_string(),
        grant,
    }))
}

/// The signed records an operation by `user` on `owner/name` carries as its grant (see
/// `guts_net::collab::Op::grant`): those their access rests on, or their user record alone
/// when the rule gives them none (a public repository's reader). Empty if the user is gone.
pub fn op_grant(
    store: &Store,
    user: &str,
    owner: &str,
    name: &str,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let view = StoreView(store);
    let access = repo_access(&view, user, owner, name)?;
    let basis = if access.basis.is_empty() {
        vec![key::user(user)]
    } else {
        access.basis
    };
    let mut grant = Vec::with_capacity(basis.len());
    for k in &basis {
        if let Some(r) = view.record(k)? {
            grant.push(r);
        }
    }
    Ok(grant)
}

/// The protected-branch patterns of `owner/name`.
pub fn protected_patterns(store: &Store, full: &RepoName) -> Result<Vec<String>, StoreError> {
    StoreView(store).list(&key::protections_of(full), |(_, e)| match e {
        guts_net::Entry::Protection { pattern, .. } => Some(pattern),
        _ => None,
    })
}

/// The required-reviews rules of `owner/name`: pattern and approvals.
pub fn review_rules(store: &Store, full: &RepoName) -> Result<Vec<(String, u32)>, StoreError> {
    StoreView(store).list(&key::reviews_of(full), |(_, e)| match e {
        guts_net::Entry::Reviews {
            pattern, approvals, ..
        } => Some((pattern, approvals)),
        _ => None,
    })
}

/// The approvals a merge into `branch` needs (the most any matching rule asks), 0 if none.
pub fn approvals_needed(rules: &[(String, u32)], branch: &str) -> u32 {
    rules
        .iter()
        .filter(|(p, _)| guts_net::accounts::pattern_matches(p, branch))
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0)
}
