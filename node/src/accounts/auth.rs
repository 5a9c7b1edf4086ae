//! Who a request comes from. Credentials are a token: as the password of HTTP Basic (any
//! user name, as git and credential helpers send it; the token as the user name with an
//! empty password works too), or `Authorization: Bearer TOKEN` (or `token TOKEN`). No
//! credentials: an anonymous caller. Wrong, expired or revoked ones: 401 with
//! `WWW-Authenticate: Basic realm="guts"`, counted against the address (see
//! `throttle.rs`).

use std::net::IpAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use base64::Engine;
use guts_net::accounts::{AccountView, key};
use guts_net::{Entry, Perm};
use guts_store::{Store, StoreError};

use super::tokens;
use super::view::StoreView;
use crate::error::ApiError;
use crate::state::AppState;

/// A caller who presented a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user.
    pub user: String,
    /// A site administrator.
    pub admin: bool,
    /// The token's greatest scope: caps everything the caller may do.
    pub scope: Perm,
    /// The token's id.
    pub token: u64,
}

/// The caller of a request: a user, or anonymous.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// Who, if anyone.
    pub who: Option<Principal>,
}

impl Caller {
    /// The user's name, if any.
    pub fn user(&self) -> Option<&str> {
        self.who.as_ref().map(|p| p.user.as_str())
    }

    /// The principal, or 401 if anonymous.
    pub fn signed_in(&self) -> Result<&Principal, ApiError> {
        self.who
            .as_ref()
            .ok_or_else(|| ApiError::unauthorized("authentication required"))
    }

    /// The principal if its token has at least `scope`; 401 if anonymous, 403 if not.
    pub fn with_scope(&self, scope: Perm) -> Result<&Principal, ApiError> {
        let p = self.signed_in()?;
        if p.scope < scope {
            return Err(ApiError::forbidden(&format!(
                "this token lacks the {} scope",
                scope.as_str()
            )));
        }
        Ok(p)
    }

    /// A site administrator with an admin-scoped token, or 403.
    pub fn site_admin(&self) -> Result<&Principal, ApiError> {
        let p = self.with_scope(Perm::Admin)?;
        if !p.admin {
            return Err(ApiError::forbidden("site administrators only"));
        }
        Ok(p)
    }
}

/// The token in the request's `Authorization` header, if any.
pub fn credentials(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || ApiError::unauthorized("malformed Authorization header");
    let value = value.to_str().map_err(|_| bad())?.trim();
    let (scheme, rest) = value.split_once(' ').ok_or_else(bad)?;
    let rest = rest.trim();
    let token = match scheme.to_ascii_lowercase().as_str() {
        "basic" => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .map_err(|_| bad())?;
            let text = String::from_utf8(raw).map_err(|_| bad())?;
            let (user, pass) = text.split_once(':').unwrap_or((&text, ""));
            if pass.is_empty() { user } else { pass }.to_string()
        }
        "bearer" | "token" => rest.to_string(),
        _ => return Err(bad()),
    };
    if token.is_empty() || token.len() > 256 {
        return Err(bad());
    }
    Ok(Some(token))
}

/// Why a token stands for nobody.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token is unknown, expired, or its user is gone.
    #[error("{0}")]
    Refused(&'static str),
    /// The account records could not be read (the request fails; nobody is let in).
    #[error("reading credentials: {0}")]
    Store(#[from] StoreError),
}

/// The principal a token stands for now, or why it does not. Reads sled: call it off the
/// async runtime.
pub fn authenticate(store: &Store, secret: &str, now_secs: u64) -> Result<Principal, AuthError> {
    let bad = || AuthError::Refused("bad credentials");
    let view = StoreView(store);
    let Some(Entry::Token(t)) = view.entry(&key::token(&tokens::hash(secret)))? else {
        return Err(bad());
    };
    if t.expires_at.is_some_and(|e| now_secs >= e) {
        return Err(AuthError::Refused("token expired"));
    }
    let Some(Entry::User(u)) = view.entry(&key::user(&t.user))? else {
        return Err(bad());
    };
    if u.incarnation != t.user_incarnation {
        return Err(bad());
    }
    Ok(Principal {
        user: u.name,
        admin: u.admin,
        scope: t.scope().ok_or_else(bad)?,
        token: t.id(),
    })
}

/// The address a request came from (none in tests without a socket).
fn peer_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<crate::server::PeerAddr>>()
        .map(|c| c.0.0.ip())
}

/// Checks the credentials of a request from `ip`, slowing down an address that failed
/// repeatedly.
pub async fn caller_of(
    state: &AppState,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
) -> Result<Caller, ApiError> {
    let Some(secret) = credentials(headers)? else {
        return Ok(Caller::default());
    };
    let throttle = state.throttle();
    let store = state.store()?.clone();
    let now = state.now_secs();
    let checked = tokio::task::spawn_blocking(move || authenticate(&store, &secret, now)).await?;
    match checked {
        // A good token is never slowed down: a guesser behind the same address (a NAT, an
        // office) slows only its own failures.
        Ok(p) => {
            if let Some(ip) = ip {
                throttle.succeeded(ip);
            }
            Ok(Caller { who: Some(p) })
        }
        Err(AuthError::Store(e)) => Err(ApiError::internal(&e)),
        Err(AuthError::Refused(why)) => {
            state.metrics().auth.failures.inc();
            if let Some(ip) = ip {
                let now = tokio::time::Instant::now();
                let n = throttle.failed(ip, now);
                tracing::info!(%ip, failures = n, why, "authentication failed");
                // The answer to a failure waits, longer the more an address failed.
                let wait = throttle.delay(ip, now);
                if !wait.is_zero() {
                    state.metrics().auth.throttled.inc();
                    tokio::time::sleep(wait).await;
                }
            }
            Err(ApiError::unauthorized(why))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(c) = parts.extensions.get::<Caller>() {
            return Ok(c.clone());
        }
        let ip = peer_ip(parts);
        let caller = caller_of(state, &parts.headers, ip).await?;
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("header"),
        );
        h
    }

    #[test]
    fn tokens_come_from_basic_passwords_user_names_and_bearer() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let got = |v: &str| credentials(&with(v)).ok().flatten();
        assert_eq!(
            got(&format!("Basic {}", b64("x:guts_1"))),
            Some("guts_1".into())
        );
        assert_eq!(
            got(&format!("Basic {}", b64("guts_2:"))),
            Some("guts_2".into())
        );
        assert_eq!(got("Bearer guts_3"), Some("guts_3".into()));
        assert_eq!(got("token guts_4"), Some("guts_4".into()));
        assert!(credentials(&HeaderMap::new()).expect("none").is_none());
        for bad in ["Basic !!!", "Digest x", "Bearer", "Basic"] {
            assert!(credentials(&with(bad)).is_err(), "{bad}");
        }
    }
}
