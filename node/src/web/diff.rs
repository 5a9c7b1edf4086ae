//! A diff between two trees as a page section: each changed file with its status and
//! line counts, and its unified patch. A large diff is cut: at most [`MAX_FILES`] files
//! and [`MAX_LINES`] lines of patches, with a note and a link to the file.

use guts_git::object::EntryMode;
use guts_git::odb::ObjectRead;
use guts_git::treediff::{Status, diff_trees, text_patch};
use guts_git::{Kind, ObjectId};
use guts_store::RepoOdb;
use maud::{Markup, html};

use crate::error::ApiError;

/// Files listed at most.
pub const MAX_FILES: usize = 300;
/// Patch lines shown at most, over all files.
pub const MAX_LINES: usize = 5_000;
/// A file's sides read for its patch at most.
const MAX_PATCHED: u64 = 1 << 20;

/// The diff from `old` (none: empty) to `new`; files link to `BASE/blob/AT/PATH`.
pub fn section(
    odb: &RepoOdb,
    old: Option<ObjectId>,
    new: ObjectId,
    base: &str,
    at: &str,
) -> Result<Markup, ApiError> {
    let changes =
        diff_trees(odb, old, Some(new), MAX_FILES + 1).map_err(|e| ApiError::internal(&e))?;
    let cut = changes.len() > MAX_FILES;
    let read = |e: Option<(EntryMode, ObjectId)>| -> Result<Option<Vec<u8>>, ApiError> {
        match e {
            Some((m, id)) if !m.is_commit() && !m.is_tree() => match odb.object_header(&id)? {
                Some((Kind::Blob, s)) if s <= MAX_PATCHED => {
                    Ok(Some(odb.read_kind(&id, Kind::Blob)?))
                }
                _ => Ok(None),
            },
            _ => Ok(Some(Vec::new())),
        }
    };
    let mut budget = MAX_LINES;
    let mut files = Vec::new();
    for ch in changes.iter().take(MAX_FILES) {
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
    Ok(html! {
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
                            @if *truncated { p.notice { "The diff is cut here. " a href={ (base) "/blob/" (at) "/" (path) } { "See the file" } "." } }
                        }
                        None => { p.notice { "No diff shown (binary, large, or past the page's limit)." } }
                    }
                }
            }
        }
    })
}
