//! Every object a client lacks: the commits of the commit walk, then the trees and blobs they
//! reach that the client's side (the trees of the walk's edges) does not already reach.

use std::collections::HashSet;

use super::{Filter, commits_between, peel};
use crate::object::TreeIter;
use crate::odb::{ObjectRead, OdbError};
use crate::pack::{PackObject, name_hash};
use crate::{Kind, ObjectId};

/// What the client asked for.
#[derive(Debug, Clone, Copy)]
pub struct ObjectsWanted<'a> {
    /// Objects the client wants (tips of any kind; blobs for lazy partial-clone fetches).
    pub wants: &'a [ObjectId],
    /// Objects the client has (commits, usually).
    pub haves: &'a [ObjectId],
    /// Commits whose parents are not followed (shallow boundaries, both sides).
    pub cut: &'a HashSet<ObjectId>,
    /// A partial clone filter. Explicitly wanted objects are always sent.
    pub filter: Option<Filter>,
}

/// Lists the objects to send, commits first, each with its kind, size and path hash.
pub fn objects_to_send(
    odb: &impl ObjectRead,
    req: &ObjectsWanted<'_>,
) -> Result<Vec<PackObject>, OdbError> {
    objects_and_known(odb, req).map(|(out, _)| out)
}

/// Like [`objects_to_send`], also returning every object the walk found on the client's
/// side (the trees and blobs of the edge commits, and non-commit haves), plus the objects
/// to send: a thin pack may use any of the former as delta bases.
pub fn objects_and_known(
    odb: &impl ObjectRead,
    req: &ObjectsWanted<'_>,
) -> Result<(Vec<PackObject>, HashSet<ObjectId>), OdbError> {
    let mut out = Vec::new();
    let mut seen: HashSet<ObjectId> = HashSet::new();
    let header = |id: &ObjectId| -> Result<(Kind, u64), OdbError> {
        odb.object_header(id)?.ok_or(OdbError::Missing { id: *id })
    };

    // What the client has: commits to exclude in the walk, and trees/blobs it holds.
    let mut have_commits = Vec::new();
    for h in req.haves {
        if !odb.contains(h)? {
            continue;
        }
        // A have that peels to something missing tells us nothing: ignore it.
        let (id, kind) = match peel(odb, h) {
            Ok(peeled) => peeled,
            Err(OdbError::Missing { .. }) => continue,
            Err(e) => return Err(e),
        };
        match kind {
            Kind::Commit => have_commits.push(id),
            _ => {
                seen.insert(id);
            }
        }
    }

    // Wants: tags are sent and peeled; commits walked; trees and blobs sent as asked.
    let mut want_commits = Vec::new();
    let mut want_trees = Vec::new();
    for w in req.wants {
        let mut id = *w;
        loop {
            let (kind, size) = header(&id)?;
            match kind {
                Kind::Tag => {
                    if seen.insert(id) {
                        out.push(PackObject {
                            id,
                            kind,
                            size,
                            name_hash: 0,
                        });
                    }
                    let data = odb.read_kind(&id, Kind::Tag)?;
                    let Some((target, _)) = crate::object::tag_target(&data) else {
                        return Err(OdbError::Missing { id });
                    };
                    id = target;
                }
                Kind::Commit => {
                    want_commits.push(id);
                    break;
                }
                Kind::Tree => {
                    want_trees.push(id);
                    break;
                }
                Kind::Blob => {
                    if seen.insert(id) {
                        out.push(PackObject {
                            id,
                            kind,
                            size,
                            name_hash: 0,
                        });
                    }
                    break;
                }
            }
        }
    }

    let walk = commits_between(odb, &want_commits, &have_commits, req.cut)?;
    for edge in &walk.edges {
        let links = super::commit_links(odb, edge)?;
        mark_tree_seen(odb, links.tree, &mut seen)?;
    }
    for c in &walk.included {
        if seen.insert(*c) {
            let (_, size) = header(c)?;
            out.push(PackObject {
                id: *c,
                kind: Kind::Commit,
                size,
                name_hash: 0,
            });
        }
    }
    let roots = walk.trees.iter().copied().chain(want_trees);
    for root in roots {
        add_tree(odb, root, req, &mut seen, &mut out)?;
    }
    Ok((out, seen))
}

/// Marks a tree and everything below it as already on the client's side.
fn mark_tree_seen(
    odb: &impl ObjectRead,
    root: ObjectId,
    seen: &mut HashSet<ObjectId>,
) -> Result<(), OdbError> {
    let mut stack = vec![root];
    while let Some(t) = stack.pop() {
        if !seen.insert(t) {
            continue;
        }
        let data = odb.read_kind(&t, Kind::Tree)?;
        for e in TreeIter::new(&data) {
            let e = e.map_err(|source| OdbError::Malformed { id: t, source })?;
            if e.mode.is_tree() {
                stack.push(e.id);
            } else if e.mode.is_blob() {
                seen.insert(e.id);
            }
        }
    }
    Ok(())
}

fn add_tree(
    odb: &impl ObjectRead,
    root: ObjectId,
    req: &ObjectsWanted<'_>,
    seen: &mut HashSet<ObjectId>,
    out: &mut Vec<PackObject>,
) -> Result<(), OdbError> {
    let mut stack: Vec<(ObjectId, u64, u32)> = vec![(root, 0, 0)];
    while let Some((t, depth, hash)) = stack.pop() {
        if seen.contains(&t) {
            continue;
        }
        if let Some(f) = &req.filter
            && !f.wants_tree(depth)
        {
            continue;
        }
        seen.insert(t);
        let data = odb.read_kind(&t, Kind::Tree)?;
        out.push(PackObject {
            id: t,
            kind: Kind::Tree,
            size: data.len() as u64,
            name_hash: hash,
        });
        let first_child = stack.len();
        for e in TreeIter::new(&data) {
            let e = e.map_err(|source| OdbError::Malformed { id: t, source })?;
            if e.mode.is_tree() {
                stack.push((e.id, depth + 1, name_hash(e.name)));
            } else if e.mode.is_blob() && !seen.contains(&e.id) {
                let size = match odb.object_header(&e.id)? {
                    Some((Kind::Blob, size)) => size,
                    Some((actual, _)) => {
                        return Err(OdbError::WrongKind {
                            id: e.id,
                            expected: Kind::Blob,
                            actual,
                        });
                    }
                    None => return Err(OdbError::Missing { id: e.id }),
                };
                if let Some(f) = &req.filter
                    && !f.wants_blob(size, depth + 1)
                {
                    continue;
                }
                seen.insert(e.id);
                out.push(PackObject {
                    id: e.id,
                    kind: Kind::Blob,
                    size,
                    name_hash: name_hash(e.name),
                });
            }
        }
        // Visit subdirectories in tree order.
        stack[first_child..].reverse();
    }
    Ok(())
}
