//! `GET /{owner}/{repo}/commit/SHA`: a commit, its message, parents, and its diff against
//! its first parent (unified, with per-file counts). A large diff is cut: at most
//! [`MAX_FILES`] files and [`MAX_LINES`] lines of patches, with a note and links.

use axum::extract::{Path, State};
use axum::response::Response;
use guts_git::Kind;
use guts_git::odb::ObjectRead;
use guts_git::treediff::{Status, diff_trees, text_patch};
use maud::html;

use super::browse;
use super::page::{WebError, page};
use super::repo::{find, header as repo_header};
use super::session::Web;
use crate::error::ApiError;
use crate::rest::blocking;
use crate::state::AppState;

/// Files listed at most.
pub const MAX_FILES: usize = 300;
/// Patch lines shown at most, over all files.
pub const MAX_LINES: usize = 5_000;
/// A file's sides read for its patch at most.
const MAX_PATCHED: u64 = 1 << 20;

/// `GET /{owner}/{repo}/commit/{sha}`.
pub async fn commit(
    State(state): State<AppState>,
    web: Web,
    Path((owner, name, sha)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let Web { caller, viewer } = web;
    Ok(blocking(&state, move |store| {
        let repo = find(&store, &caller, &owner, &name)?;
        let id = browse::commit_of(&repo, &sha)?.ok_or_else(|| ApiError::not_found("commit", &sha))?;
        let odb = repo.odb();
        let c = browse::commit(&odb, &id)?;
        let parent_tree = match c.parents.first() {
            Some(p) => Some(browse::commit(&odb, p)?.tree),
            None => None,
        };
        let changes = diff_trees(&odb, parent_tree, Some(c.tree), MAX_FILES + 1)
            .map_err(|e| ApiError::internal(&e))?;
        let cut = changes.len() > MAX_FILES;
        let mut budget = MAX_LINES;
        let mut files = Vec::new();
        for ch in changes.iter().take(MAX_FILES) {
            let read = |e: Option<(guts_git::object::EntryMode, guts_git::ObjectId)>| -> Result<Option<Vec<u8>>, ApiError> {
                match e {
                    Some((m, id)) if !m.is_commit() && !m.is_tree() => {
                        match odb.object_header(&id)? {
                            Some((Kind::Blob, s)) if s <= MAX_PATCHED => Ok(Some(odb.read_kind(&id, Kind::Blob)?)),
                            _ => Ok(None),
                        }
                    }
                    _ => Ok(Some(Vec::new())),
                }
            };
            let patch = match (read(ch.old)?, read(ch.new)?) {
                (Some(a), Some(b)) => text_patch(&a, &b),
                _ => None,
            };
            let shown = match &patch {
                Some((_, _, text)) if budget > 0 => {
                    let lines: Vec<&str> = text.lines().take(budget).collect();
                    budget -= lines.len();
                    Some((lines.len() < text.lines().count(), lines.join("\n")))
                }
                _ => None,
            };
            files.push((ch, patch.map(|(a, d, _)| (a, d)), shown));
        }
        let r = repo.record();
        let base = format!("/{}/{}", r.owner, r.name);
        let msg = c.message.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
        let (summary, rest) = msg.split_once('\n').unwrap_or((&msg, ""));
        let body = html! {
            (repo_header(&repo, &id.to_hex()))
            section.commit-head {
                h2 { (summary) }
                @if !rest.trim().is_empty() { pre.message { (rest.trim()) } }
                dl {
                    dt { "Commit" } dd.mono { (id) }
                    dt { "Author" } dd { (browse::name_of(&c.author)) " · " time data-unix=(browse::time_of(&c.author)) { (browse::time_of(&c.author)) } }
                    dt { "Parents" } dd {
                        @for p in &c.parents { a.mono href={ (base) "/commit/" (p) } { (&p.to_hex()[..12]) } " " }
                    }
                }
                p { a href={ (base) "/tree/" (id) } { "Browse the files" } }
            }
            section.diff #diff {
                p.stats { (files.len()) " files changed" @if cut { " (the first " (MAX_FILES) " shown)" } }
                @for (ch, counts, shown) in &files {
                    @let path = String::from_utf8_lossy(&ch.path);
                    div.file {
                        div.file-head {
                            span.status { (match ch.status { Status::Added => "added", Status::Removed => "deleted", Status::Modified => "modified" }) }
                            " " strong.path { (path) }
                            @if let Some((a, d)) = counts { " " span.add { "+" (a) } " " span.del { "−" (d) } }
                        }
                        @match shown {
                            Some((truncated, text)) => {
                                pre.patch {
                                    @for line in text.lines() {
                                        @let class = if line.starts_with('+') { "add" } else if line.starts_with('-') { "del" } else if line.starts_with("@@") { "hunk" } else { "ctx" };
                                        span class=(class) { (line) } "\n"
                                    }
                                }
                                @if *truncated { p.notice { "The diff is cut here. " a href={ (base) "/blob/" (id) "/" (path) } { "See the file" } "." } }
                            }
                            None => { p.notice { "No diff shown (binary, large, or past the page's limit)." } }
                        }
                    }
                }
            }
        };
        Ok(page(&format!("{} · {}/{}", summary, r.owner, r.name), &viewer, body))
    })
    .await?)
}
