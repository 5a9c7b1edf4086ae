//! A file: `/blob/REF/PATH` shows it with line numbers and anchors (`#L10`, `#L10-L20`,
//! highlighted by the script), highlighted by language; `/raw/REF/PATH` serves its bytes.
//! A binary file or one over [`MAX_SHOWN`] is not put in the page: it links to the raw
//! file instead, so no page weighs megabytes.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use guts_git::Kind;
use guts_git::odb::ObjectRead;
use maud::html;

use super::browse::{self, Node};
use super::page::{WebError, page};
use super::repo::{breadcrumbs, find, header as repo_header};
use super::session::Web;
use crate::error::ApiError;
use crate::rest::blocking;
use crate::state::AppState;

/// Bytes of a file shown in a page at most.
pub const MAX_SHOWN: u64 = 1 << 20;
/// Bytes served raw at most (larger files are for git itself).
pub const MAX_RAW: u64 = 100 << 20;

/// `GET /{owner}/{repo}/blob/{*rest}`.
pub async fn blob(
    State(state): State<AppState>,
    web: Web,
    Path((owner, name, rest)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let Web { caller, viewer } = web;
    Ok(blocking(&state, move |store| {
        let repo = find(&store, &caller, &owner, &name)?;
        let at = browse::resolve(&repo, &rest)?;
        let odb = repo.odb();
        let (mode, id, size) = match browse::node(&odb, &at.commit, &at.path)? {
            Node::File(m, id, size) => (m, id, size),
            _ => return Err(ApiError::not_found("file", &at.path)),
        };
        let r = repo.record();
        let raw = format!("/{}/{}/raw/{}/{}", r.owner, r.name, at.name, at.path);
        let history = format!("/{}/{}/commits/{}/{}", r.owner, r.name, at.name, at.path);
        let data = if size <= MAX_SHOWN {
            Some(odb.read_kind(&id, Kind::Blob)?)
        } else {
            None
        };
        let binary = data
            .as_deref()
            .is_some_and(guts_git::merge::content::is_binary);
        let body = html! {
            (repo_header(&repo, &at.name))
            div.bar {
                span.path { (breadcrumbs(&repo, &at)) }
            }
            div.file-head {
                span.size { (size) " bytes" }
                @if mode == guts_git::object::EntryMode::BLOB_EXECUTABLE { " · executable" }
                " · " a href=(raw) { "Raw" }
                " · " a href=(history) { "History" }
            }
            @match (&data, binary) {
                (Some(d), false) => {
                    @let text = String::from_utf8_lossy(d);
                    table.code #code {
                        tbody {
                            @for (i, line) in super::highlight::lines(&at.path, &text).into_iter().enumerate() {
                                tr id={ "L" (i + 1) } {
                                    td.ln { a href={ "#L" (i + 1) } { (i + 1) } }
                                    td.src { code { (line) } }
                                }
                            }
                        }
                    }
                }
                (Some(_), true) => { p.notice { "A binary file. " a href=(raw) { "Download it" } "." } }
                (None, _) => { p.notice { "Too large to show here. " a href=(raw) { "Download it" } "." } }
            }
        };
        let title = format!("{} at {} · {}/{}", at.path, at.name, r.owner, r.name);
        Ok(page(&title, &viewer, body))
    })
    .await?)
}

/// `GET /{owner}/{repo}/raw/{*rest}`: the bytes, as text or a download, never as a page
/// of this site (a sandboxing policy and `nosniff`).
pub async fn raw(
    State(state): State<AppState>,
    web: Web,
    Path((owner, name, rest)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let caller = web.caller;
    Ok(blocking(&state, move |store| {
        let repo = find(&store, &caller, &owner, &name)?;
        let at = browse::resolve(&repo, &rest)?;
        let odb = repo.odb();
        let Node::File(_, id, size) = browse::node(&odb, &at.commit, &at.path)? else {
            return Err(ApiError::not_found("file", &at.path));
        };
        if size > MAX_RAW {
            return Err(ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                format!("{size} bytes: clone the repository for files over {MAX_RAW} bytes"),
            ));
        }
        let data = odb.read_kind(&id, Kind::Blob)?;
        let kind = if guts_git::merge::content::is_binary(&data) {
            "application/octet-stream"
        } else {
            "text/plain; charset=utf-8"
        };
        let mut resp = data.into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; sandbox"),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        Ok(resp)
    })
    .await?)
}
