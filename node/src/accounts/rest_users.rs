//! `/user`, `/user/tokens`, `/users`: the caller, their tokens, and users (created and
//! deleted by site administrators, each created with a first token shown once).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use guts_net::accounts::{AccountView, Token, User, key};
use guts_net::{Entry, Perm};
use guts_store::{Store, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::tokens;
use super::view::StoreView;
use super::write::write;
use crate::error::ApiError;
use crate::paging::Paged;
use crate::replica::Replication;
use crate::rest::{blocking, parse_json};
use crate::state::AppState;

/// A user as the API shows it.
pub(super) fn user_json(u: &User) -> Value {
    json!({ "login": u.name, "name": u.name, "site_admin": u.admin, "created_at": u.created_at })
}

fn token_json(t: &Token) -> Value {
    json!({
        "id": t.id(),
        "name": t.name,
        "scopes": t.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "expires_at": t.expires_at,
        "created_at": t.created_at,
        "user": t.user,
    })
}

/// The user `name`, or 404.
pub(super) fn user(store: &Store, name: &str) -> Result<User, ApiError> {
    match StoreView(store).entry(&key::user(name))? {
        Some(Entry::User(u)) => Ok(u),
        _ => Err(ApiError::not_found("user", name)),
    }
}

/// True if repositories are stored under the owner `name` (or a name that differs from it
/// only in case).
pub(super) fn owns_repositories(store: &Store, name: &str) -> Result<bool, ApiError> {
    Ok(store.find_repo_ignoring_case(name, None)?.is_some())
}

/// The user or organization whose name equals `name` without regard to case, if any:
/// owner names are unique that way, as on GitHub.
pub(crate) fn owner_like(store: &Store, name: &str) -> Result<Option<String>, StoreError> {
    let view = StoreView(store);
    if view.has(&key::user(name))? || view.has(&key::org(name))? {
        return Ok(Some(name.to_string()));
    }
    for prefix in [key::USERS, key::ORGS] {
        let like = view.list(prefix, |(k, _)| {
            let other = k.strip_prefix(prefix)?;
            other.eq_ignore_ascii_case(name).then(|| other.to_string())
        })?;
        if let Some(other) = like.into_iter().next() {
            return Ok(Some(other));
        }
    }
    Ok(None)
}

/// True if `name` is taken by a user or an organization, without regard to case.
pub(super) fn name_taken(store: &Store, name: &str) -> Result<bool, StoreError> {
    Ok(owner_like(store, name)?.is_some())
}

fn parse_scopes(scopes: &[String], cap: Perm) -> Result<Vec<Perm>, ApiError> {
    let mut out = Vec::new();
    for s in scopes {
        let p = Perm::parse(s).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("unknown scope {s:?} (read, write, admin)"),
            )
        })?;
        if p > cap {
            return Err(ApiError::forbidden(&format!(
                "a token cannot grant the {} scope it lacks",
                p.as_str()
            )));
        }
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "at least one scope is needed",
        ));
    }
    out.sort();
    Ok(out)
}

/// Makes a token for `user` and keeps its hash (replicated); returns its JSON with the
/// secret, shown this once.
pub fn mint(
    replication: &Replication,
    store: &Store,
    user: &str,
    name: &str,
    scopes: Vec<Perm>,
    expires_at: Option<u64>,
) -> Result<Value, ApiError> {
    let secret = tokens::generate().map_err(|e| ApiError::internal(&e))?;
    let owner = self::user(store, user)?;
    let t = Token {
        hash: tokens::hash(&secret),
        user: user.to_string(),
        user_incarnation: owner.incarnation,
        name: name.to_string(),
        scopes,
        expires_at,
        created_at: replication.now_ms() / 1000,
    };
    let entry = Entry::Token(t.clone());
    entry
        .check()
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    replication.record_account(store, &entry.key(), Some(entry))?;
    let mut v = token_json(&t);
    v["token"] = json!(secret);
    Ok(v)
}

/// The tokens of `user`.
fn tokens_of(store: &Store, user: &str) -> Result<Vec<(String, Token)>, StoreError> {
    StoreView(store).list(key::TOKENS, |(k, e)| match e {
        Entry::Token(t) if t.user == user => Some((k, t)),
        _ => None,
    })
}

/// `GET /user`.
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let p = caller.signed_in()?.clone();
    let v = blocking(&state, move |store| {
        let u = user(&store, &p.user)?;
        let mut v = user_json(&u);
        v["token"] = json!({ "id": p.token, "scope": p.scope.as_str() });
        Ok(v)
    })
    .await?;
    Ok(Json(v).into_response())
}

/// `GET /user/tokens`.
pub async fn list_tokens(
    State(state): State<AppState>,
    paged: Paged,
    caller: Caller,
) -> Result<Response, ApiError> {
    let p = caller.with_scope(Perm::Admin)?.clone();
    let v = blocking(&state, move |store| {
        Ok(tokens_of(&store, &p.user)?
            .iter()
            .map(|(_, t)| token_json(t))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(paged.page_of(v))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    /// Seconds since the epoch.
    #[serde(default)]
    expires_at: Option<u64>,
}

fn check_new_token(b: &NewToken, now_secs: u64) -> Result<(), ApiError> {
    if b.name.trim().is_empty() || b.name.len() > guts_net::accounts::MAX_TITLE {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "name is required (at most 255 bytes)",
        ));
    }
    if b.expires_at.is_some_and(|e| e <= now_secs) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "expires_at is in the past",
        ));
    }
    Ok(())
}

fn default_scopes() -> Vec<String> {
    vec!["read".into(), "write".into()]
}

/// `POST /user/tokens`: `{"name", "scopes": ["read","write","admin"], "expires_at"}`.
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = caller.with_scope(Perm::Admin)?.clone();
    let b: NewToken = parse_json(&headers, &body)?;
    check_new_token(&b, state.now_secs())?;
    let scopes = parse_scopes(&b.scopes.clone().unwrap_or_else(default_scopes), p.scope)?;
    let st = state.clone();
    let v = blocking(&state, move |store| {
        mint(
            st.replication(),
            &store,
            &p.user,
            &b.name,
            scopes,
            b.expires_at,
        )
    })
    .await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// `POST /users/{name}/tokens`: a site administrator makes a token for a user.
pub async fn create_token_for(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.site_admin()?;
    let b: NewToken = parse_json(&headers, &body)?;
    check_new_token(&b, state.now_secs())?;
    let scopes = parse_scopes(
        &b.scopes.clone().unwrap_or_else(default_scopes),
        Perm::Admin,
    )?;
    let st = state.clone();
    let v = blocking(&state, move |store| {
        user(&store, &name)?;
        mint(
            st.replication(),
            &store,
            &name,
            &b.name,
            scopes,
            b.expires_at,
        )
    })
    .await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// `DELETE /user/tokens/{id}`: revokes a token (everywhere, once replicated).
pub async fn delete_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    let p = caller.with_scope(Perm::Admin)?.clone();
    let st = state.clone();
    blocking(&state, move |store| {
        let (k, _) = tokens_of(&store, &p.user)?
            .into_iter()
            .find(|(_, t)| t.id() == id)
            .ok_or_else(|| ApiError::not_found("token", &id.to_string()))?;
        st.replication().record_account(&store, &k, None)?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /users`.
pub async fn list_users(State(state): State<AppState>, paged: Paged) -> Result<Response, ApiError> {
    let v = blocking(&state, move |store| {
        Ok(StoreView(&store).list(key::USERS, |(_, e)| match e {
            Entry::User(u) => Some(user_json(&u)),
            _ => None,
        })?)
    })
    .await?;
    Ok(paged.page_of(v))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    #[serde(default)]
    admin: bool,
}

/// Refuses a user or organization name that is one of the web interface's routes.
pub(super) fn reserved(name: &str) -> Result<(), ApiError> {
    if crate::web::RESERVED_NAMES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{name:?} is reserved (a page of the node has that name)"),
        ));
    }
    Ok(())
}

/// Creates a user and a first token with every scope (as `guts user create` does).
pub fn create_user_with_token(
    replication: &Replication,
    store: &Store,
    name: &str,
    admin: bool,
) -> Result<Value, ApiError> {
    guts_store::names::check_name("user", name).map_err(ApiError::from)?;
    reserved(name)?;
    if name_taken(store, name)? {
        return Err(ApiError::new(StatusCode::CONFLICT, "that name is taken"));
    }
    let u = User {
        name: name.to_string(),
        admin,
        created_at: replication.now_ms() / 1000,
        incarnation: tokens::random_u64().map_err(|e| ApiError::internal(&e))?,
    };
    replication.record_account(store, &key::user(name), Some(Entry::User(u.clone())))?;
    let scopes = vec![Perm::Read, Perm::Write, Perm::Admin];
    let token = mint(replication, store, name, "first token", scopes, None)?;
    let mut v = user_json(&u);
    v["token"] = token["token"].clone();
    Ok(v)
}

/// `POST /users`: `{"name", "admin"}`, by a site administrator.
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.site_admin()?;
    let b: NewUser = parse_json(&headers, &body)?;
    let st = state.clone();
    let v = blocking(&state, move |store| {
        create_user_with_token(st.replication(), &store, &b.name, b.admin)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// `GET /users/{name}`.
pub async fn get_user(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let v = blocking(&state, move |store| Ok(user_json(&user(&store, &name)?))).await?;
    Ok(Json(v).into_response())
}

/// `DELETE /users/{name}`: by a site administrator; their tokens and keys go too.
pub async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.site_admin()?;
    let st = state.clone();
    blocking(&state, move |store| {
        user(&store, &name)?;
        if owns_repositories(&store, &name)? {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "the user owns repositories: delete them first",
            ));
        }
        // Everything that names the user goes with them (a user created again under the
        // name starts with nothing).
        let view = StoreView(&store);
        let theirs = view.list("", |(k, e)| {
            let mine = match &e {
                Entry::Token(t) => t.user == name,
                Entry::SshKey(s) => s.user == name,
                Entry::Member { user, .. }
                | Entry::TeamMember { user, .. }
                | Entry::Collaborator { user, .. } => *user == name,
                _ => false,
            };
            mine.then_some(k)
        })?;
        for k in theirs {
            write(&st, &store, &k, None)?;
        }
        write(&st, &store, &key::user(&name), None)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
