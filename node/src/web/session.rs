//! Signing in on the web, and the caller of a page.
//!
//! Signing in takes a token (and, if given, the user name it must belong to), checked as
//! the API checks it (slowed down per address after failures). The token is then kept in
//! a `guts_session` cookie: HttpOnly, SameSite=Lax, Secure when the page was asked over
//! HTTPS (`X-Forwarded-Proto: https` from a proxy). The cookie counts for pages and their
//! forms only, never for the REST API or Git, so no other site can act through it.
//!
//! Every form carries a CSRF token that must equal the `guts_csrf` cookie (HttpOnly,
//! SameSite=Strict; set with the first page): a page of another site can neither read nor
//! set it. Signing out clears the session cookie.

use axum::Form;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::page::{Viewer, WebError, html_response, page};
use crate::accounts::{Caller, caller_of};
use crate::error::ApiError;
use crate::state::AppState;

/// The session cookie: the signed-in user's token.
pub const SESSION: &str = "guts_session";
/// The CSRF cookie: the value every form must echo.
pub const CSRF: &str = "guts_csrf";
/// How long a session lasts (seconds).
const SESSION_SECS: u64 = 30 * 24 * 3600;

/// A page's caller (from an Authorization header or the session cookie) and its forms'
/// CSRF value.
pub struct Web {
    /// Who asks.
    pub caller: Caller,
    /// What the page shows of them, and its CSRF value.
    pub viewer: Viewer,
}

/// The cookies of a request, by name (the first of each).
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn valid_csrf(v: &str) -> bool {
    v.len() == 40 && v.bytes().all(|b| b.is_ascii_hexdigit())
}

fn new_csrf() -> Result<String, ApiError> {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(&e))?;
    Ok(guts_net::accounts::key::hex(&bytes))
}

fn peer_ip(parts: &Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<crate::server::PeerAddr>>()
        .map(|c| c.0.0.ip())
}

/// The caller a session token makes (anonymous if it no longer works).
async fn from_token(state: &AppState, token: &str, ip: Option<std::net::IpAddr>) -> Caller {
    let mut h = HeaderMap::new();
    let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) else {
        return Caller::default();
    };
    h.insert(header::AUTHORIZATION, v);
    caller_of(state, &h, ip).await.unwrap_or_default()
}

impl FromRequestParts<AppState> for Web {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let caller = if parts.headers.contains_key(header::AUTHORIZATION) {
            Caller::from_request_parts(parts, state).await?
        } else if let Some(token) = cookie(&parts.headers, SESSION) {
            let token = token.to_string();
            from_token(state, &token, peer_ip(parts)).await
        } else {
            Caller::default()
        };
        let (csrf, fresh) = match cookie(&parts.headers, CSRF) {
            Some(v) if valid_csrf(v) => (v.to_string(), false),
            _ => (new_csrf()?, true),
        };
        Ok(Web {
            viewer: Viewer {
                user: caller.user().map(str::to_string),
                csrf: csrf.clone(),
                set_csrf: fresh.then(|| {
                    format!(
                        "{CSRF}={csrf}; Path=/; HttpOnly; SameSite=Strict{}",
                        secure_flag(&parts.headers)
                    )
                }),
            },
            caller,
        })
    }
}

fn secure_flag(headers: &HeaderMap) -> &'static str {
    if https(headers) { "; Secure" } else { "" }
}

/// Refuses a form whose CSRF value is not the cookie's.
pub fn check_csrf(headers: &HeaderMap, sent: &str) -> Result<(), WebError> {
    match cookie(headers, CSRF) {
        Some(v) if valid_csrf(v) && v == sent => Ok(()),
        _ => Err(WebError(ApiError::forbidden(
            "the form is stale or did not come from this site: reload the page and try again",
        ))),
    }
}

fn login_form(viewer: &Viewer, error: Option<&str>) -> maud::Markup {
    html! {
        section.login {
            h1 { "Sign in" }
            @if let Some(e) = error { p.error-text { (e) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(viewer.csrf);
                label { "User name (optional)" input type="text" name="user" autocomplete="username"; }
                label { "Token" input type="password" name="token" autocomplete="current-password" required; }
                button type="submit" { "Sign in" }
            }
            p.desc { "Make a token with " code { "guts token create" } " or " code { "POST /api/v1/user/tokens" } "." }
        }
    }
}

/// `GET /login`.
pub async fn login_page(web: Web) -> Response {
    page("Sign in", &web.viewer, login_form(&web.viewer, None))
}

#[derive(Debug, Deserialize)]
/// The sign-in form.
pub struct LoginForm {
    #[serde(default)]
    user: String,
    token: String,
    csrf: String,
}

/// `POST /login`.
pub async fn login(
    State(state): State<AppState>,
    web: Web,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<crate::server::PeerAddr>,
    Form(f): Form<LoginForm>,
) -> Result<Response, WebError> {
    check_csrf(&headers, &f.csrf)?;
    let token = f.token.trim();
    let caller = if token.is_empty() || token.len() > 256 || token.contains(';') {
        Caller::default()
    } else {
        from_token(&state, token, Some(peer.0.ip())).await
    };
    let user = f.user.trim();
    let ok = caller
        .user()
        .is_some_and(|u| user.is_empty() || u.eq_ignore_ascii_case(user));
    if !ok {
        let doc = super::page::document(
            "Sign in",
            &web.viewer,
            login_form(
                &web.viewer,
                Some("That token does not sign anyone in here."),
            ),
        );
        return Ok(html_response(StatusCode::UNAUTHORIZED, doc));
    }
    let mut resp = Redirect::to("/").into_response();
    let cookie = format!(
        "{SESSION}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={SESSION_SECS}{}",
        secure_flag(&headers)
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

#[derive(Debug, Deserialize)]
/// A form that only carries its CSRF value.
pub struct CsrfForm {
    csrf: String,
}

/// `POST /logout`.
pub async fn logout(headers: HeaderMap, Form(f): Form<CsrfForm>) -> Result<Response, WebError> {
    check_csrf(&headers, &f.csrf)?;
    let mut resp = Redirect::to("/").into_response();
    let cookie = format!(
        "{SESSION}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        secure_flag(&headers)
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}
