//! The commit walk: commits reachable from `include` and not from `exclude`, newest first,
//! stopping as soon as only excluded commits are left to look at (like `git rev-list`).

use std::collections::{BinaryHeap, HashMap, HashSet};

use super::commit_links;
use crate::ObjectId;
use crate::odb::{ObjectRead, OdbError};

/// The result of a commit walk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitWalk {
    /// Commits to send, newest first.
    pub included: Vec<ObjectId>,
    /// Excluded commits met at the edge of the walk (parents of included commits and the
    /// excluded tips): their trees are what the other side already has.
    pub edges: Vec<ObjectId>,
    /// The root tree of each included commit, in the same order.
    pub trees: Vec<ObjectId>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    excluded: bool,
    /// Pushed on the queue at some point.
    queued: bool,
    /// Popped from the queue.
    done: bool,
}

/// Walks from `include`, excluding what `exclude` reaches. Parents of commits in `cut`
/// (shallow commits) are not followed. Excluded ids that are not here are ignored.
pub fn commits_between(
    odb: &impl ObjectRead,
    include: &[ObjectId],
    exclude: &[ObjectId],
    cut: &HashSet<ObjectId>,
) -> Result<CommitWalk, OdbError> {
    let mut flags: HashMap<ObjectId, Flags> = HashMap::new();
    let mut info: HashMap<ObjectId, (ObjectId, Vec<ObjectId>)> = HashMap::new();
    let mut heap: BinaryHeap<(i64, u64, ObjectId)> = BinaryHeap::new();
    let mut seq = u64::MAX;
    let mut interesting_queued = 0usize;
    let mut push = |heap: &mut BinaryHeap<_>, time: i64, id: ObjectId| {
        heap.push((time, seq, id));
        seq -= 1;
    };
    for id in exclude {
        if !odb.contains(id)? {
            continue;
        }
        let links = commit_links(odb, id)?;
        let f = flags.entry(*id).or_default();
        f.excluded = true;
        if !f.queued {
            f.queued = true;
            push(&mut heap, links.time, *id);
        }
        info.insert(*id, (links.tree, links.parents));
    }
    for id in include {
        let links = commit_links(odb, id)?;
        let f = flags.entry(*id).or_default();
        if !f.queued {
            f.queued = true;
            if !f.excluded {
                interesting_queued += 1;
            }
            push(&mut heap, links.time, *id);
        }
        info.insert(*id, (links.tree, links.parents));
    }
    let mut included = Vec::new();
    let mut edges = HashSet::new();
    // Keep going a few steps past the point where only excluded commits remain, for skew.
    let mut slop = 5;
    while let Some((_, _, id)) = heap.pop() {
        let f = flags.entry(id).or_default();
        f.done = true;
        let excluded = f.excluded;
        if !excluded {
            interesting_queued = interesting_queued.saturating_sub(1);
        }
        let parents = match info.get(&id) {
            Some((_, p)) => p.clone(),
            None => {
                let l = commit_links(odb, &id)?;
                info.insert(id, (l.tree, l.parents.clone()));
                l.parents
            }
        };
        if excluded {
            edges.insert(id);
        } else {
            included.push(id);
        }
        if cut.contains(&id) {
            continue;
        }
        for p in parents {
            if excluded {
                mark_excluded(odb, &mut flags, &mut info, &p, cut, &mut interesting_queued)?;
            }
            let f = flags.entry(p).or_default();
            if f.queued {
                if !excluded && f.excluded {
                    edges.insert(p);
                }
                continue;
            }
            if !excluded && !odb.contains(&p)? {
                return Err(OdbError::Missing { id: p });
            }
            if excluded && !odb.contains(&p)? {
                continue;
            }
            f.queued = true;
            let pexcluded = f.excluded;
            if !pexcluded {
                interesting_queued += 1;
            } else if !excluded {
                edges.insert(p);
            }
            let l = commit_links(odb, &p)?;
            info.insert(p, (l.tree, l.parents));
            push(&mut heap, l.time, p);
        }
        if interesting_queued == 0 {
            if slop == 0 {
                break;
            }
            slop -= 1;
        } else {
            slop = 5;
        }
    }
    included.retain(|id| !flags.get(id).is_some_and(|f| f.excluded));
    let trees = included
        .iter()
        .map(|id| info.get(id).map(|(t, _)| *t).unwrap_or_default())
        .collect();
    let mut edges: Vec<ObjectId> = edges
        .into_iter()
        .filter(|id| flags.get(id).is_some_and(|f| f.excluded))
        .collect();
    edges.sort();
    Ok(CommitWalk {
        included,
        edges,
        trees,
    })
}

/// Marks `id` and every already-queued ancestor excluded (git's mark_parents_uninteresting).
fn mark_excluded(
    odb: &impl ObjectRead,
    flags: &mut HashMap<ObjectId, Flags>,
    info: &mut HashMap<ObjectId, (ObjectId, Vec<ObjectId>)>,
    id: &ObjectId,
    cut: &HashSet<ObjectId>,
    interesting_queued: &mut usize,
) -> Result<(), OdbError> {
    let mut stack = vec![*id];
    while let Some(c) = stack.pop() {
        let f = flags.entry(c).or_default();
        if f.excluded {
            continue;
        }
        f.excluded = true;
        if !f.queued {
            // Not reached yet: it will be queued as excluded by the caller.
            continue;
        }
        if !f.done {
            *interesting_queued = interesting_queued.saturating_sub(1);
        }
        if cut.contains(&c) {
            continue;
        }
        let parents = match info.get(&c) {
            Some((_, p)) => p.clone(),
            None => match odb.contains(&c)? {
                true => commit_links(odb, &c)?.parents,
                false => Vec::new(),
            },
        };
        stack.extend(parents);
    }
    Ok(())
}
