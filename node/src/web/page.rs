//! The page shell every page shares (header, stylesheet, script), HTML responses with
//! their security headers, and error pages.
//!
//! The Content-Security-Policy allows scripts and styles from this node only (no inline
//! script runs, whatever a README or an issue holds), images from this node or `data:`,
//! and connections back to this node (the live updates over `/ws`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use crate::error::ApiError;

/// The policy every page is served with.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'";

/// Who is looking: the signed-in user, if any, and the CSRF value their forms carry.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    /// Their login.
    pub user: Option<String>,
    /// The value every form of the page echoes (the `guts_csrf` cookie's).
    pub csrf: String,
    /// The `Set-Cookie` value when the CSRF cookie is new.
    pub set_csrf: Option<String>,
}

/// A whole page: `title` (before " · Guts") around `body`.
pub fn page(title: &str, viewer: &Viewer, body: Markup) -> Response {
    let mut resp = html_response(StatusCode::OK, document(title, viewer, body));
    if let Some(c) = &viewer.set_csrf
        && let Ok(v) = HeaderValue::from_str(c)
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// The whole document around `body`.
pub fn document(title: &str, viewer: &Viewer, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Guts" }
                link rel="stylesheet" href="/static/guts.css";
                script src="/static/guts.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "Guts" }
                    nav {
                        @match &viewer.user {
                            Some(u) => {
                                span.who { "Signed in as " strong { (u) } }
                                form.logout method="post" action="/logout" {
                                    input type="hidden" name="csrf" value=(viewer.csrf);
                                    button type="submit" { "Sign out" }
                                }
                            }
                            None => { a.signin href="/login" { "Sign in" } }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// `doc` as an HTML response with the security headers.
pub fn html_response(status: StatusCode, doc: Markup) -> Response {
    let mut resp = (status, doc.into_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

/// An error as a page (what the REST API says in JSON).
#[derive(Debug)]
pub struct WebError(pub ApiError);

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        WebError(e)
    }
}

impl From<guts_store::StoreError> for WebError {
    fn from(e: guts_store::StoreError) -> Self {
        WebError(e.into())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.0.status;
        let message = if status.is_server_error() {
            // The cause goes to the log (as the API does), not to the page.
            let _ = self.0.into_response();
            "something went wrong on this node".to_string()
        } else {
            self.0.message
        };
        let reason = status.canonical_reason().unwrap_or("Error");
        let body = html! {
            section.error {
                h1 { (status.as_u16()) " " (reason) }
                p.message { (message) }
                p { a href="/" { "Back to the repositories" } }
            }
        };
        html_response(status, document(reason, &Viewer::default(), body))
    }
}

/// A 303 to `path` on this site, with every byte that may not stand in a `Location`
/// header percent-encoded (paths come from clients: never a panic on them).
pub fn redirect(path: &str) -> Response {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_graphic() && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    axum::response::Redirect::to(&out).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_redirect_to_any_path_is_a_valid_header() {
        for p in ["/a/b/tree/é", "/a/b/tree/x\ny", "/a/b/tree/%41 z"] {
            let r = super::redirect(p);
            let loc = r.headers()[axum::http::header::LOCATION]
                .to_str()
                .expect("ascii");
            assert!(loc.starts_with("/a/b/tree/"), "{loc}");
        }
    }
}
