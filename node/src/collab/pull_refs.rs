//! The refs a repository's pull requests add to what upload-pack advertises, as GitHub's:
//! `refs/pull/N/head` at the head branch's tip and, for an open pull request that merges
//! cleanly, `refs/pull/N/merge`, a test merge of the head into the base. So
//! `git fetch origin pull/N/head` and `pull/N/merge` work on every node.
//!
//! Nothing of this is stored: the test merge and, for a pull request from a fork, the
//! fork's objects the base lacks are made in memory and sent from there (the repository's
//! own objects stay exactly what its refs reach). The test merge is the same commit on
//! every node: guts' merge, a fixed committer, and the later of the two tips' committer
//! times. What was made is cached by (repositories, tips) and bounded in bytes; each
//! advertisement makes at most [`MAX_FRESH`] new ones (the rest follow in later ones).
//! A fork's head is advertised only when the fork is public and what it adds stays under
//! [`MAX_PART_BYTES`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use guts_git::merge::{ObjectWrite, merge_commits};
use guts_git::object::Commit;
use guts_git::odb::{ObjectRead, OdbError};
use guts_git::walk::{ObjectsWanted, objects_to_send};
use guts_git::{Kind, ObjectId};
use guts_net::collab::{Kind as ThreadKind, State as ThreadState};
use guts_store::{Repo, RepoName, StoreError, Unstored};

use super::cache::Listings;
use super::mergeability::Scratch;

/// New test merges (or fork heads) made per advertisement at most.
pub const MAX_FRESH: usize = 16;
/// Bytes one pull request may add (a fork's objects and its test merge) at most.
pub const MAX_PART_BYTES: u64 = 64 << 20;
/// Bytes the cache keeps at most.
const MAX_CACHE_BYTES: u64 = 256 << 20;

/// What one pull request adds, made once for its tips.
#[derive(Debug, Default)]
pub struct Made {
    /// The fork's head may be advertised (false: over the bound, or a private fork).
    head_ok: bool,
    /// The test merge, when the pull request is open and merges cleanly.
    merge: Option<ObjectId>,
    /// Objects the base repository does not store.
    objects: HashMap<ObjectId, (Kind, Vec<u8>)>,
    bytes: u64,
}

/// Which pull request state a [`Made`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    base_repo: u64,
    head_repo: u64,
    base_tip: Option<ObjectId>,
    head_tip: ObjectId,
    open: bool,
}

/// Test merges and fork heads already made, least recently made first out.
#[derive(Debug, Default)]
pub struct MergeCache {
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    map: HashMap<Key, Arc<Made>>,
    order: VecDeque<Key>,
    bytes: u64,
}

impl MergeCache {
    fn get(&self, k: &Key) -> Option<Arc<Made>> {
        guts_store::sync::lock(&self.inner).map.get(k).cloned()
    }

    fn put(&self, k: Key, m: Arc<Made>) {
        let mut c = guts_store::sync::lock(&self.inner);
        if c.map.contains_key(&k) {
            return;
        }
        c.bytes += m.bytes;
        c.map.insert(k, m);
        c.order.push_back(k);
        while c.bytes > MAX_CACHE_BYTES {
            let Some(old) = c.order.pop_front() else {
                break;
            };
            if let Some(gone) = c.map.remove(&old) {
                c.bytes -= gone.bytes;
            }
        }
    }
}

/// The pull request refs of one repository and the unstored objects they need.
#[derive(Debug, Default)]
pub struct PullRefs {
    /// `refs/pull/N/head` and `refs/pull/N/merge`, with their targets.
    pub refs: Vec<(String, ObjectId)>,
    parts: Vec<Arc<Made>>,
}

impl PullRefs {
    /// An unstored object (none: stored, or unknown).
    pub fn unstored(&self, id: &ObjectId) -> Option<Unstored<'_>> {
        self.parts
            .iter()
            .find_map(|p| p.objects.get(id))
            .map(|(k, d)| (*k, d.as_slice()))
    }
}

impl ObjectRead for PullRefs {
    fn read_object(&self, id: &ObjectId) -> Result<Option<(Kind, Vec<u8>)>, OdbError> {
        Ok(self.unstored(id).map(|(k, d)| (k, d.to_vec())))
    }

    fn object_header(&self, id: &ObjectId) -> Result<Option<(Kind, u64)>, OdbError> {
        Ok(self.unstored(id).map(|(k, d)| (k, d.len() as u64)))
    }
}

/// A committer's time (seconds) from a commit's header; 0 if unreadable.
fn commit_time(odb: &impl ObjectRead, id: &ObjectId) -> u64 {
    let Ok(data) = odb.read_kind(id, Kind::Commit) else {
        return 0;
    };
    let Ok(c) = Commit::parse(&data) else {
        return 0;
    };
    // `Name <email> SECONDS +ZONE`
    let line = String::from_utf8_lossy(&c.committer).into_owned();
    line.rsplit(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The pull request refs of `repo` (blocking: may merge).
pub fn compute(
    listings: &Listings,
    cache: &MergeCache,
    repo: &Repo,
) -> Result<PullRefs, StoreError> {
    let store = repo.store();
    let full = repo.full_name().to_string();
    let listing = listings.get(store, &full)?;
    let mut out = PullRefs::default();
    let mut fresh = 0;
    for (n, t) in &listing.threads {
        let ThreadKind::Pull { base, head } = &t.kind else {
            continue;
        };
        let fork = head.repo != full;
        let head_repo = if fork {
            let Ok(name) = RepoName::parse(&head.repo) else {
                continue;
            };
            match store.repo(name.owner(), name.name())? {
                Some(r) if !r.record().private => r,
                _ => continue,
            }
        } else {
            repo.clone()
        };
        let Some(head_tip) = head_repo.get_ref(&format!("refs/heads/{}", head.branch))? else {
            continue;
        };
        let open = t.state == ThreadState::Open;
        let head_ref = (format!("refs/pull/{n}/head"), head_tip);
        if !fork && !open {
            out.refs.push(head_ref);
            continue;
        }
        let key = Key {
            base_repo: repo.id(),
            head_repo: head_repo.id(),
            base_tip: repo.get_ref(&format!("refs/heads/{base}"))?,
            head_tip,
            open,
        };
        let made = match cache.get(&key) {
            Some(m) => m,
            None if fresh < MAX_FRESH => {
                fresh += 1;
                let m = Arc::new(make(repo, &head_repo, &key, fork));
                cache.put(key, m.clone());
                m
            }
            None => {
                if !fork {
                    out.refs.push(head_ref);
                }
                continue;
            }
        };
        if made.head_ok || !fork {
            out.refs.push(head_ref);
        }
        if let Some(id) = made.merge {
            out.refs.push((format!("refs/pull/{n}/merge"), id));
        }
        out.parts.push(made);
    }
    Ok(out)
}

/// Makes what a pull request adds; a failure (an unreadable object) leaves it out.
fn make(base: &Repo, head: &Repo, key: &Key, fork: bool) -> Made {
    match try_make(base, head, key, fork) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(repo = %base.full_name(), error = %e, "pull request refs left out");
            Made::default()
        }
    }
}

fn try_make(
    base: &Repo,
    head: &Repo,
    key: &Key,
    fork: bool,
) -> Result<Made, Box<dyn std::error::Error>> {
    let scratch = Scratch::new(base.odb(), fork.then(|| head.odb()));
    let mut made = Made {
        head_ok: true,
        ..Made::default()
    };
    let merge = match key.base_tip {
        Some(base_tip) if key.open => {
            let m = merge_commits(&scratch, &base_tip, &key.head_tip, ("base", "head"))?;
            if m.is_clean() {
                let t = commit_time(&scratch, &base_tip).max(commit_time(&scratch, &key.head_tip));
                let ident = format!("Guts <guts@localhost> {t} +0000").into_bytes();
                let c = Commit {
                    tree: m.tree,
                    parents: vec![base_tip, key.head_tip],
                    author: ident.clone(),
                    committer: ident,
                    extra_headers: Vec::new(),
                    message: Some(format!("Merge {} into {base_tip}\n", key.head_tip).into_bytes()),
                };
                Some(scratch.write_object(Kind::Commit, &c.write())?)
            } else {
                None
            }
        }
        _ => None,
    };
    // What the base lacks: a fork's commits, and the test merge's new commit and trees.
    let mut wants = Vec::new();
    if fork {
        wants.push(key.head_tip);
    }
    wants.extend(merge);
    // Objects either tip reaches are stored (a fork's: checked one by one below).
    let mut haves: Vec<ObjectId> = key.base_tip.into_iter().collect();
    if !fork {
        haves.push(key.head_tip);
    }
    let cut = Default::default();
    let needed = objects_to_send(
        &scratch,
        &ObjectsWanted {
            wants: &wants,
            haves: &haves,
            cut: &cut,
            filter: None,
        },
    )?;
    let stored = base.odb();
    for o in needed {
        if stored.contains(&o.id)? {
            continue;
        }
        let data = scratch.read_kind(&o.id, o.kind)?;
        made.bytes += data.len() as u64;
        if made.bytes > MAX_PART_BYTES {
            return Ok(Made::default());
        }
        made.objects.insert(o.id, (o.kind, data));
    }
    made.merge = merge;
    Ok(made)
}
