//! `/orgs`: organizations, their members (member or owner), teams, team members and the
//! teams' repository permissions. Reading is open; changes need an organization owner (or
//! a site administrator) with an admin-scoped token.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use guts_net::accounts::{AccountView, key};
use guts_net::{Entry, Perm, Role};
use guts_store::Store;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Caller, Principal};
use super::rest_users::{name_taken, owns_repositories, user};
use super::view::StoreView;
use super::write::{delete_all, forget, write};
use crate::error::ApiError;
use crate::paging::Paged;
use crate::rest::{blocking, parse_json};
use crate::state::AppState;

fn invalid(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
}

/// The organization's JSON, or 404.
fn org(store: &Store, login: &str) -> Result<Value, ApiError> {
    match StoreView(store).entry(&key::org(login))? {
        Some(Entry::Org {
            name,
            description,
            created_at,
        }) => Ok(
            json!({ "login": name, "name": name, "description": description, "created_at": created_at }),
        ),
        _ => Err(ApiError::not_found("organization", login)),
    }
}

/// A site administrator or an owner of `org`, with an admin-scoped token; 403 otherwise.
fn org_admin(store: &Store, p: &Principal, name: &str) -> Result<(), ApiError> {
    org(store, name)?;
    if p.scope < Perm::Admin {
        return Err(ApiError::forbidden("this token lacks the admin scope"));
    }
    let owner = matches!(
        StoreView(store).entry(&key::member(name, &p.user))?,
        Some(Entry::Member {
            role: Role::Owner,
            ..
        })
    );
    if p.admin || owner {
        Ok(())
    } else {
        Err(ApiError::forbidden("organization owners only"))
    }
}

fn team(store: &Store, in_org: &str, slug: &str) -> Result<Value, ApiError> {
    match StoreView(store).entry(&key::team(in_org, slug))? {
        Some(Entry::Team {
            org,
            name,
            description,
        }) => Ok(json!({ "org": org, "name": name, "slug": name, "description": description })),
        _ => Err(ApiError::not_found("team", &format!("{in_org}/{slug}"))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrg {
    name: String,
    #[serde(default)]
    description: String,
}

/// `GET /orgs`.
pub async fn list(State(state): State<AppState>, paged: Paged) -> Result<Response, ApiError> {
    let v = blocking(&state, move |store| {
        let names: Vec<String> = StoreView(&store).list(key::ORGS, |(_, e)| match e {
            Entry::Org { name, .. } => Some(name),
            _ => None,
        })?;
        names
            .iter()
            .map(|n| org(&store, n))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(paged.page_of(v))
}

/// `POST /orgs`: the caller becomes its first owner.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = caller.with_scope(Perm::Admin)?.clone();
    let b: NewOrg = parse_json(&headers, &body)?;
    let st = state.clone();
    let v = blocking(&state, move |store| {
        guts_store::names::check_name("organization", &b.name)?;
        super::rest_users::reserved(&b.name)?;
        // Repositories already stored under the name (made by a site administrator, or
        // left by a deleted owner) are not handed to whoever claims it first.
        if name_taken(&store, &b.name)? || (!p.admin && owns_repositories(&store, &b.name)?) {
            return Err(ApiError::new(StatusCode::CONFLICT, "that name is taken"));
        }
        let o = Entry::Org {
            name: b.name.clone(),
            description: b.description,
            created_at: st.now_secs(),
        };
        write(&st, &store, &key::org(&b.name), Some(o))?;
        let m = Entry::Member {
            org: b.name.clone(),
            user: p.user.clone(),
            role: Role::Owner,
        };
        write(&st, &store, &key::member(&b.name, &p.user), Some(m))?;
        org(&store, &b.name)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// `GET /orgs/{org}`.
pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let v = blocking(&state, move |store| org(&store, &name)).await?;
    Ok(Json(v).into_response())
}

/// `DELETE /orgs/{org}`: with its members and teams.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let p = caller.signed_in()?.clone();
    let st = state.clone();
    blocking(&state, move |store| {
        org_admin(&store, &p, &name)?;
        if owns_repositories(&store, &name)? {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "the organization owns repositories: delete them first",
            ));
        }
        for prefix in ["member", "team", "tmember", "trepo"] {
            delete_all(&st, &store, &format!("{prefix}/{name}/"))?;
        }
        write(&st, &store, &key::org(&name), None)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /orgs/{org}/members`.
pub async fn members(
    State(state): State<AppState>,
    paged: Paged,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let v = blocking(&state, move |store| {
        org(&store, &name)?;
        Ok(
            StoreView(&store).list(&key::members_of(&name), |(_, e)| match e {
                Entry::Member { user, role, .. } => {
                    Some(json!({ "login": user, "role": role.as_str() }))
                }
                _ => None,
            })?,
        )
    })
    .await?;
    Ok(paged.page_of(v))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    #[serde(default)]
    role: Option<String>,
}

/// A JSON body, or the default when there is none.
fn optional<T: serde::de::DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, ApiError> {
    if body.is_empty() {
        Ok(T::default())
    } else {
        parse_json(headers, body)
    }
}

/// Refuses (409) a change that would leave organization `org` without an owner: `login`
/// stops being one, and nobody else is.
fn keeps_an_owner(store: &Store, org: &str, login: &str) -> Result<(), ApiError> {
    let others = StoreView(store).list(&key::members_of(org), |(_, e)| match e {
        Entry::Member {
            user,
            role: Role::Owner,
            ..
        } if user != login => Some(user),
        _ => None,
    })?;
    if others.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("{org} must keep at least one owner: make another member an owner first"),
        ));
    }
    Ok(())
}

/// `PUT /orgs/{org}/members/{user}`: `{"role": "member" | "owner"}`.
pub async fn put_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, login)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = caller.signed_in()?.clone();
    let b: RoleBody = optional(&headers, &body)?;
    let role = match b.role.as_deref() {
        None | Some("member") => Role::Member,
        Some("owner" | "admin") => Role::Owner,
        Some(other) => return Err(invalid(format!("unknown role {other:?} (member, owner)"))),
    };
    let st = state.clone();
    blocking(&state, move |store| {
        org_admin(&store, &p, &name)?;
        user(&store, &login)?;
        if role != Role::Owner {
            keeps_an_owner(&store, &name, &login)?;
        }
        let m = Entry::Member {
            org: name.clone(),
            user: login.clone(),
            role,
        };
        write(&st, &store, &key::member(&name, &login), Some(m))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /orgs/{org}/members/{user}`: by an owner, or the member leaving.
pub async fn delete_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, login)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let p = caller.signed_in()?.clone();
    let st = state.clone();
    blocking(&state, move |store| {
        if p.user != login || p.scope < Perm::Admin {
            org_admin(&store, &p, &name)?;
        }
        keeps_an_owner(&store, &name, &login)?;
        forget(&st, &store, &key::member(&name, &login), "member", &login)?;
        // Out of the organization, out of its teams.
        let teams =
            StoreView(&store).list(&key::team_members_of(&name, None), |(k, e)| match e {
                Entry::TeamMember { user, .. } if user == login => Some(k),
                _ => None,
            })?;
        for k in teams {
            write(&st, &store, &k, None)?;
        }
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTeam {
    name: String,
    #[serde(default)]
    description: String,
}

/// `GET /orgs/{org}/teams`.
pub async fn teams(
    State(state): State<AppState>,
    paged: Paged,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let v = blocking(&state, move |store| {
        org(&store, &name)?;
        let names: Vec<String> =
            StoreView(&store).list(&key::teams_of(&name), |(_, e)| match e {
                Entry::Team { name, .. } => Some(name),
                _ => None,
            })?;
        names
            .iter()
            .map(|t| team(&store, &name, t))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(paged.page_of(v))
}

/// `POST /orgs/{org}/teams`.
pub async fn create_team(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = caller.signed_in()?.clone();
    let b: NewTeam = parse_json(&headers, &body)?;
    let st = state.clone();
    let v = blocking(&state, move |store| {
        org_admin(&store, &p, &name)?;
        let k = key::team(&name, &b.name);
        if StoreView(&store).has(&k)? {
            return Err(ApiError::new(StatusCode::CONFLICT, "team already exists"));
        }
        let t = Entry::Team {
            org: name.clone(),
            name: b.name.clone(),
            description: b.description,
        };
        write(&st, &store, &k, Some(t))?;
        team(&store, &name, &b.name)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// `GET /orgs/{org}/teams/{team}`.
pub async fn get_team(
    State(state): State<AppState>,
    Path((name, t)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let v = blocking(&state, move |store| team(&store, &name, &t)).await?;
    Ok(Json(v).into_response())
}

/// `DELETE /orgs/{org}/teams/{team}`: with its members and permissions.
pub async fn delete_team(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, t)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let p = caller.signed_in()?.clone();
    let st = state.clone();
    blocking(&state, move |store| {
        org_admin(&store, &p, &name)?;
        team(&store, &name, &t)?;
        delete_all(&st, &store, &key::team_members_of(&name, Some(&t)))?;
        delete_all(&st, &store, &key::team_repos_of(&name, Some(&t)))?;
        write(&st, &store, &key::team(&name, &t), None)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /orgs/{org}/teams/{team}/members`.
pub async fn team_members(
    State(state): State<AppState>,
    paged: Paged,
    Path((name, t)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let v = blocking(&state, move |store| {
        team(&store, &name, &t)?;
        Ok(
            StoreView(&store).list(&key::team_members_of(&name, Some(&t)), |(_, e)| match e {
                Entry::TeamMember { user, .. } => Some(json!({ "login": user })),
                _ => None,
            })?,
        )
    })
    .await?;
    Ok(paged.page_of(v))
}

/// `PUT /orgs/{org}/teams/{team}/members/{user}`.
pub async fn put_team_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, t, login)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let p = caller.signed_in()?.clone();
    let st = state.clone();
    blocking(&state, move |store| {
        org_admin(&store, &p, &name)?;
        team(&store, &name, &t)?;
        user(&store, &login)?;
        // A team's members are members of the organization.
        let member = key::member(&name, &login);
        if !StoreView(&store).has(&member)? {
            let m = Entry::Member {
                org: name.clone(),
                user: login.clone(),
                role: Role::Member,
            };
            write(&st, &store, &member, Some(m))?;
        }
        let e = Entry::TeamMember {
            org: name.clone(),
            team: t.clone(),
            user: login.clone(),
        };
        write(&st, &store, &key::team_member(&name, &t, &login), Some(e))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /orgs/{org}/teams/{team}/members/{user}`.
pub async fn delete_team_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, t, login)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let p = caller.signed_in()?.clone();
    let st = state.clone();
    blocking(&state, move |store| {
        org_admin(&store, &p, &name)?;
        let k = key::team_member(&name, &t, &login);
        forget(&st, &store, &k, "team member", &login)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /orgs/{org}/teams/{team}/repos`.
pub async fn team_repos(
    State(state): State<AppState>,
    paged: Paged,
    Path((name, t)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let v = blocking(&state, move |store| {
        team(&store, &name, &t)?;
        Ok(
            StoreView(&store).list(&key::team_repos_of(&name, Some(&t)), |(_, e)| match e {
                Entry::TeamRepo { repo, perm, .. } => {
                    Some(json!({ "full_name": repo, "permission": perm.as_str() }))
                }
                _ => None,
            })?,
        )
    })
    .await?;
    Ok(paged.page_of(v))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PermBody {
    #[serde(default)]
    pub permission: Option<String>,
}

/// The permission in a body (`read`, `write`, `admin`; GitHub's `pull`/`push` too).
pub(super) fn permission(
    headers: &HeaderMap,
    body: &Bytes,
    default: Perm,
) -> Result<Perm, ApiError> {
    let b: PermBody = optional(headers, body)?;
    match b.permission {
        None => Ok(default),
        Some(s) => Perm::parse(&s)
            .ok_or_else(|| invalid(format!("unknown permission {s:?} (read, write, admin)"))),
    }
}

/// `PUT /orgs/{org}/teams/{team}/repos/{owner}/{repo}`: `{"permission"}`.
pub async fn put_team_repo(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, t, owner, repo)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = caller.signed_in()?.clone();
    let perm = permission(&headers, &body, Perm::Read)?;
    let st = state.clone();
    blocking(&state, move |store| {
        org_admin(&store, &p, &name)?;
        team(&store, &name, &t)?;
        if owner != name {
            return Err(invalid(
                "a team gets permissions on its organization's repositories",
            ));
        }
        let Some(full) = store.repo(&owner, &repo)?.map(|r| r.full_name()) else {
            return Err(ApiError::not_found(
                "repository",
                &format!("{owner}/{repo}"),
            ));
        };
        let e = Entry::TeamRepo {
            org: name.clone(),
            team: t.clone(),
            repo: full.to_string(),
            perm,
        };
        write(&st, &store, &key::team_repo(&name, &t, &full), Some(e))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /orgs/{org}/teams/{team}/repos/{owner}/{repo}`.
pub async fn delete_team_repo(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, t, owner, repo)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let p = caller.signed_in()?.clone();
    let st = state.clone();
    blocking(&state, move |store| {
        org_admin(&store, &p, &name)?;
        let full = format!("{owner}/{repo}");
        forget(
            &st,
            &store,
            &key::team_repo(&name, &t, &full),
            "team repository",
            &full,
        )
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
