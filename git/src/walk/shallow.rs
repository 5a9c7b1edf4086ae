//! Shallow boundaries: which commits become shallow on the client and which stop being
//! shallow, for `deepen N` (optionally relative), `deepen-since` and `deepen-not`.

use std::collections::{HashMap, HashSet, VecDeque};

use super::{commit_links, commits_between};
use crate::ObjectId;
use crate::odb::{ObjectRead, OdbError};

/// git's "infinite" depth, sent by `--unshallow`.
pub const INFINITE_DEPTH: u32 = 0x7fff_ffff;

/// How the client asked to limit history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deepen {
    /// `deepen N`: N commits from each want (or, relative, N more from the current boundary).
    Depth {
        /// The depth.
        depth: u32,
        /// `deepen-relative`: count from the client's current shallow commits.
        relative: bool,
    },
    /// `deepen-since` and/or `deepen-not`: commits older than `since` or reachable from
    /// `not` are left out.
    Exclude {
        /// Seconds since the epoch, if given.
        since: Option<i64>,
        /// Commits whose history is left out.
        not: Vec<ObjectId>,
    },
}

/// The result: what to tell the client, and how to cut the object walk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShallowUpdate {
    /// `shallow <id>` lines: new boundary commits the client did not already have as shallow.
    pub shallow: Vec<ObjectId>,
    /// `unshallow <id>` lines: client shallow commits whose parents will now be sent.
    pub unshallow: Vec<ObjectId>,
    /// Commits whose parents the object walk must not follow.
    pub cut: HashSet<ObjectId>,
    /// Extra wants: the parents of unshallowed commits.
    pub extra_wants: Vec<ObjectId>,
}

/// Computes the shallow update for `wants` (commits) given the client's shallow commits.
pub fn shallow_update(
    odb: &impl ObjectRead,
    wants: &[ObjectId],
    client_shallow: &[ObjectId],
    deepen: &Deepen,
) -> Result<ShallowUpdate, OdbError> {
    let client: HashSet<ObjectId> = client_shallow.iter().copied().collect();
    // Commits that end up included, and which of them are boundaries.
    let (included, boundary): (HashSet<ObjectId>, HashSet<ObjectId>) = match deepen {
        Deepen::Depth { depth, .. } if *depth >= INFINITE_DEPTH => {
            (all_reachable(odb, wants)?, HashSet::new())
        }
        Deepen::Depth { depth, relative } => {
            let (starts, depth) = if *relative {
                (client_shallow.to_vec(), depth.saturating_add(1))
            } else {
                (wants.to_vec(), *depth)
            };
            by_depth(odb, &starts, depth.max(1))?
        }
        Deepen::Exclude { since, not } => by_exclusion(odb, wants, *since, not)?,
    };
    let mut update = ShallowUpdate::default();
    for b in &boundary {
        if !client.contains(b) {
            update.shallow.push(*b);
        }
    }
    for s in client_shallow {
        if included.contains(s) && !boundary.contains(s) {
            update.unshallow.push(*s);
            update.extra_wants.extend(commit_links(odb, s)?.parents);
        }
    }
    update.shallow.sort();
    update.unshallow.sort();
    update.cut = boundary;
    for s in client_shallow {
        if !update.unshallow.contains(s) {
            update.cut.insert(*s);
        }
    }
    Ok(update)
}

fn all_reachable(odb: &impl ObjectRead, wants: &[ObjectId]) -> Result<HashSet<ObjectId>, OdbError> {
    let walk = commits_between(odb, wants, &[], &HashSet::new())?;
    Ok(walk.included.into_iter().collect())
}

/// Breadth first from `starts` (depth 1): commits at `depth` that have parents are the
/// boundary.
fn by_depth(
    odb: &impl ObjectRead,
    starts: &[ObjectId],
    depth: u32,
) -> Result<(HashSet<ObjectId>, HashSet<ObjectId>), OdbError> {
    let mut level: HashMap<ObjectId, u32> = HashMap::new();
    let mut queue = VecDeque::new();
    for s in starts {
        if odb.contains(s)? && level.insert(*s, 1).is_none() {
            queue.push_back(*s);
        }
    }
    let mut boundary = HashSet::new();
    while let Some(c) = queue.pop_front() {
        let d = level[&c];
        let parents = commit_links(odb, &c)?.parents;
        if d >= depth {
            if !parents.is_empty() {
                boundary.insert(c);
            }
            continue;
        }
        for p in parents {
            if !level.contains_key(&p) && odb.contains(&p)? {
                level.insert(p, d + 1);
                queue.push_back(p);
            }
        }
    }
    Ok((level.into_keys().collect(), boundary))
}

/// Commits reachable from `wants` that are not older than `since` nor reachable from `not`;
/// included commits with a parent left out are the boundary.
fn by_exclusion(
    odb: &impl ObjectRead,
    wants: &[ObjectId],
    since: Option<i64>,
    not: &[ObjectId],
) -> Result<(HashSet<ObjectId>, HashSet<ObjectId>), OdbError> {
    let excluded: HashSet<ObjectId> = if not.is_empty() {
        HashSet::new()
    } else {
        commits_between(odb, not, &[], &HashSet::new())?
            .included
            .into_iter()
            .collect()
    };
    let keep = |id: &ObjectId, time: i64| !excluded.contains(id) && since.is_none_or(|s| time >= s);
    let mut included = HashSet::new();
    let mut boundary = HashSet::new();
    let mut queue = VecDeque::new();
    for w in wants {
        let l = commit_links(odb, w)?;
        if keep(w, l.time) && included.insert(*w) {
            queue.push_back(*w);
        }
    }
    while let Some(c) = queue.pop_front() {
        for p in commit_links(odb, &c)?.parents {
            if included.contains(&p) || !odb.contains(&p)? {
                continue;
            }
            let l = commit_links(odb, &p)?;
            if keep(&p, l.time) {
                included.insert(p);
                queue.push_back(p);
            } else {
                boundary.insert(c);
            }
        }
    }
    Ok((included, boundary))
}
