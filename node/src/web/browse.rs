//! Reading a repository for pages (blocking): which ref and path a URL names, trees and
//! blobs at a path, commits in the order `git log` shows them, one page at a time.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use guts_git::object::{Commit, EntryMode, Tree};
use guts_git::odb::ObjectRead;
use guts_git::walk::peel;
use guts_git::{Kind, ObjectId};
use guts_store::{Repo, RepoOdb};

use crate::error::ApiError;

/// Commits a history page shows.
pub const PAGE: usize = 50;
/// Commits a history walk passes over at most to reach a page.
const MAX_SKIP: usize = 100_000;

/// What a URL's `REF/PATH` names: a ref (branch, tag or commit id) and a path under it.
#[derive(Debug, Clone)]
pub struct At {
    /// As in the URL: the branch or tag name, or the commit id.
    pub name: String,
    /// The commit.
    pub commit: ObjectId,
    /// The path inside its tree (`""`: the root), without leading or trailing `/`.
    pub path: String,
}

fn not_found(what: &str, which: &str) -> ApiError {
    ApiError::not_found(what, which)
}

/// The commit a branch, tag or full commit id names (tags peeled).
pub fn commit_of(repo: &Repo, name: &str) -> Result<Option<ObjectId>, ApiError> {
    let odb = repo.odb();
    for full in [format!("refs/heads/{name}"), format!("refs/tags/{name}")] {
        if guts_git::refname::check(&full).is_err() {
            continue;
        }
        if let Some(id) = repo.get_ref(&full)? {
            let (id, kind) = peel(&odb, &id).map_err(|e| ApiError::internal(&e))?;
            return Ok((kind == Kind::Commit).then_some(id));
        }
    }
    if name.len() == 40
        && let Ok(id) = name.parse::<ObjectId>()
        && matches!(odb.object_header(&id), Ok(Some((Kind::Commit, _))))
    {
        return Ok(Some(id));
    }
    Ok(None)
}

/// Splits `rest` (`REF/PATH`, the ref may hold slashes) at the longest ref that exists.
pub fn resolve(repo: &Repo, rest: &str) -> Result<At, ApiError> {
    let rest = rest.trim_matches('/');
    let mut cut = rest.len();
    loop {
        let (name, path) = (&rest[..cut], rest.get(cut + 1..).unwrap_or(""));
        if !name.is_empty()
            && let Some(commit) = commit_of(repo, name)?
        {
            return Ok(At {
                name: name.to_string(),
                commit,
                path: path.to_string(),
            });
        }
        match rest[..cut].rfind('/') {
            Some(i) => cut = i,
            None => return Err(not_found("ref", rest.split('/').next().unwrap_or(rest))),
        }
    }
}

/// A commit, parsed.
pub fn commit(odb: &RepoOdb, id: &ObjectId) -> Result<Commit, ApiError> {
    let data = odb.read_kind(id, Kind::Commit)?;
    Commit::parse(&data).map_err(|e| ApiError::internal(&e))
}

/// What a path is in a tree.
pub enum Node {
    /// A directory, with its entries in git's order.
    Dir(Vec<(EntryMode, String, ObjectId)>),
    /// A file (or symbolic link): its mode, id and size.
    File(EntryMode, ObjectId, u64),
    /// A submodule at a commit.
    Submodule(ObjectId),
}

/// What `path` is in the tree of `commit`.
pub fn node(odb: &RepoOdb, commit_id: &ObjectId, path: &str) -> Result<Node, ApiError> {
    let mut tree = commit(odb, commit_id)?.tree;
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        let entries = read_tree(odb, &tree)?;
        let Some((mode, _, id)) = entries.into_iter().find(|(_, n, _)| n == part) else {
            return Err(not_found("path", path));
        };
        let last = i + 1 == parts.len();
        if mode.is_tree() {
            tree = id;
        } else if !last {
            return Err(not_found("path", path));
        } else if mode.is_commit() {
            return Ok(Node::Submodule(id));
        } else {
            let size = odb
                .object_header(&id)?
                .map(|(_, s)| s)
                .ok_or_else(|| not_found("object", &id.to_hex()))?;
            return Ok(Node::File(mode, id, size));
        }
    }
    Ok(Node::Dir(read_tree(odb, &tree)?))
}

/// A tree's entries (names as UTF-8, lossily).
pub fn read_tree(
    odb: &RepoOdb,
    id: &ObjectId,
) -> Result<Vec<(EntryMode, String, ObjectId)>, ApiError> {
    let data = odb.read_kind(id, Kind::Tree)?;
    let tree = Tree::parse(&data).map_err(|e| ApiError::internal(&e))?;
    Ok(tree
        .entries
        .into_iter()
        .map(|e| (e.mode, String::from_utf8_lossy(&e.name).into_owned(), e.id))
        .collect())
}

/// The committer time of a commit (seconds), from its header.
pub fn time_of(ident: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(ident);
    s.rsplit(' ')
        .nth(1)
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}

/// The name in an identity (`Name <email> time zone`).
pub fn name_of(ident: &[u8]) -> String {
    let s = String::from_utf8_lossy(ident);
    match s.find(" <") {
        Some(i) => s[..i].to_string(),
        None => s.into_owned(),
    }
}

/// One page of history from `tip`, newest first by committer time (as `git log`): the
/// commits after the first `skip`, at most `n`, and whether more follow. With `path`, only
/// commits that change it (against their first parent).
pub fn log(
    odb: &RepoOdb,
    tip: &ObjectId,
    path: &str,
    skip: usize,
    n: usize,
) -> Result<(Vec<(ObjectId, Commit)>, bool), ApiError> {
    if skip > MAX_SKIP {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            format!("history pages reach back {MAX_SKIP} commits at most"),
        ));
    }
    // Newest first; equal times in the order they were met (as git's priority queue).
    // Each commit is read once: when it is met, kept until it comes out.
    let mut heap: BinaryHeap<(i64, Reverse<usize>, ObjectId)> = BinaryHeap::new();
    let mut met: HashMap<ObjectId, Commit> = HashMap::new();
    let mut seen: HashSet<ObjectId> = HashSet::new();
    let first = commit(odb, tip)?;
    heap.push((time_of(&first.committer), Reverse(0), *tip));
    met.insert(*tip, first);
    seen.insert(*tip);
    let mut order = 1;
    let (mut out, mut passed) = (Vec::new(), 0usize);
    let mut walked = 0usize;
    while let Some((_, _, id)) = heap.pop() {
        walked += 1;
        if walked > MAX_SKIP + n {
            break;
        }
        let Some(c) = met.remove(&id) else {
            continue;
        };
        for p in &c.parents {
            if seen.insert(*p) {
                let pc = commit(odb, p)?;
                heap.push((time_of(&pc.committer), Reverse(order), *p));
                met.insert(*p, pc);
                order += 1;
            }
        }
        if !path.is_empty() && !touches(odb, &c, path)? {
            continue;
        }
        if passed < skip {
            passed += 1;
            continue;
        }
        if out.len() == n {
            return Ok((out, true));
        }
        out.push((id, c));
    }
    Ok((out, false))
}

/// Whether commit `c` changes `path` (against its first parent; a root commit adds it).
fn touches(odb: &RepoOdb, c: &Commit, path: &str) -> Result<bool, ApiError> {
    let here = entry_at(odb, &c.tree, path)?;
    let before = match c.parents.first() {
        Some(p) => entry_at(odb, &commit(odb, p)?.tree, path)?,
        None => None,
    };
    Ok(here != before)
}

/// The entry at `path` in a tree (none: absent).
fn entry_at(
    odb: &RepoOdb,
    root: &ObjectId,
    path: &str,
) -> Result<Option<(EntryMode, ObjectId)>, ApiError> {
    let mut tree = *root;
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        let entries = read_tree(odb, &tree)?;
        let Some((mode, _, id)) = entries.into_iter().find(|(_, n, _)| n == part) else {
            return Ok(None);
        };
        if i + 1 == parts.len() {
            return Ok(Some((mode, id)));
        }
        if !mode.is_tree() {
            return Ok(None);
        }
        tree = id;
    }
    Ok(Some((EntryMode::TREE, tree)))
}
