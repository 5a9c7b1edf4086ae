//! What a pack's objects reference, gathered while indexing (the objects are inflated and
//! parsed then anyway). From it, as git's `index-pack --check-self-contained-and-connected`
//! does, a receiver learns without a graph walk whether the pack is closed under links, and
//! which of its objects no other object of the pack references (its roots).

use std::collections::HashSet;
use std::sync::Mutex;

use crate::object::{CommitLinks, TreeIter, tag_target};
use crate::{Kind, ObjectId};

/// What indexing found out about the links between a pack's objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackLinks {
    /// Every object that a commit, tree or tag of the pack references (gitlinks aside) is
    /// itself in the pack: each object's whole closure is in the pack.
    pub self_contained: bool,
    /// The pack's objects that no object of the pack references, sorted and deduplicated.
    /// In a self-contained pack every object is reachable from these.
    pub roots: Vec<ObjectId>,
}

/// Collects referenced ids from any number of threads, up to a cap: more distinct
/// referenced ids than the pack has objects (plus `slack`) means it cannot be
/// self-contained, so collecting stops there and memory stays proportional to the pack.
#[derive(Debug)]
pub(crate) struct LinkCollector {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    referenced: HashSet<ObjectId>,
    cap: usize,
    overflow: bool,
    /// An object's links could not be read (only when validation is off).
    unreadable: bool,
}

impl LinkCollector {
    pub fn new(objects: u32) -> LinkCollector {
        let objects = objects as usize;
        LinkCollector {
            state: Mutex::new(State {
                referenced: HashSet::with_capacity(objects.min(1 << 20)),
                cap: objects.saturating_add(1024),
                overflow: false,
                unreadable: false,
            }),
        }
    }

    /// Records what the object `data` of `kind` references.
    pub fn record(&self, kind: Kind, data: &[u8], buf: &mut Vec<ObjectId>) {
        buf.clear();
        let readable = links_of(kind, data, buf);
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        if !readable {
            s.unreadable = true;
        }
        if s.overflow {
            return;
        }
        for id in buf.drain(..) {
            s.referenced.insert(id);
        }
        if s.referenced.len() > s.cap {
            s.overflow = true;
            s.referenced = HashSet::new();
        }
    }

    /// The summary, given the ids of every object of the pack.
    pub fn finish(self, mut ids: Vec<ObjectId>) -> PackLinks {
        ids.sort_unstable();
        ids.dedup();
        let s = match self.state.into_inner() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let self_contained = !s.overflow
            && !s.unreadable
            && s.referenced.iter().all(|r| ids.binary_search(r).is_ok());
        let roots = if s.overflow {
            Vec::new()
        } else {
            ids.into_iter()
                .filter(|id| !s.referenced.contains(id))
                .collect()
        };
        PackLinks {
            self_contained,
            roots,
        }
    }
}

/// Appends the ids `data` references to `out`; false if they cannot be read.
fn links_of(kind: Kind, data: &[u8], out: &mut Vec<ObjectId>) -> bool {
    match kind {
        Kind::Blob => true,
        Kind::Tree => {
            for entry in TreeIter::new(data) {
                match entry {
                    // A gitlink names a commit of another repository: not a link.
                    Ok(e) if e.mode.is_commit() => {}
                    Ok(e) => out.push(e.id),
                    Err(_) => return false,
                }
            }
            true
        }
        Kind::Commit => match CommitLinks::parse(data) {
            Ok(c) => {
                out.push(c.tree);
                out.extend(c.parents);
                true
            }
            Err(_) => false,
        },
        Kind::Tag => match tag_target(data) {
            Some((id, _)) => {
                out.push(id);
                true
            }
            None => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_bytes([n; 20])
    }

    fn tree(entries: &[(&str, &str, ObjectId)]) -> Vec<u8> {
        let mut t = Vec::new();
        for (mode, name, id) in entries {
            t.extend_from_slice(format!("{mode} {name}\0").as_bytes());
            t.extend_from_slice(id.as_bytes());
        }
        t
    }

    #[test]
    fn closed_pack_has_its_top_objects_as_roots() {
        let c = LinkCollector::new(3);
        let mut buf = Vec::new();
        c.record(Kind::Tree, &tree(&[("100644", "a", id(1))]), &mut buf);
        let commit = format!(
            "tree {}\nauthor A <a> 1 +0000\ncommitter A <a> 1 +0000\n\nm\n",
            id(2)
        );
        c.record(Kind::Commit, commit.as_bytes(), &mut buf);
        c.record(Kind::Blob, b"x", &mut buf);
        let links = c.finish(vec![id(3), id(2), id(1)]);
        assert!(links.self_contained);
        assert_eq!(links.roots, vec![id(3)]);
    }

    #[test]
    fn a_link_outside_the_pack_is_not_self_contained_but_gitlinks_are_ignored() {
        let c = LinkCollector::new(1);
        let mut buf = Vec::new();
        c.record(Kind::Tree, &tree(&[("160000", "sub", id(9))]), &mut buf);
        assert!(c.finish(vec![id(1)]).self_contained);
        let c = LinkCollector::new(1);
        c.record(Kind::Tree, &tree(&[("40000", "d", id(9))]), &mut buf);
        let links = c.finish(vec![id(1)]);
        assert!(!links.self_contained);
        assert_eq!(links.roots, vec![id(1)]);
    }

    #[test]
    fn too_many_distinct_links_stop_collecting() {
        let c = LinkCollector::new(0);
        let mut buf = Vec::new();
        let entries: Vec<(String, ObjectId)> = (0..2000u32)
            .map(|i| {
                let mut b = [0u8; 20];
                b[..4].copy_from_slice(&i.to_be_bytes());
                (format!("f{i}"), ObjectId::from_bytes(b))
            })
            .collect();
        let refs: Vec<(&str, &str, ObjectId)> = entries
            .iter()
            .map(|(n, i)| ("100644", n.as_str(), *i))
            .collect();
        c.record(Kind::Tree, &tree(&refs), &mut buf);
        let links = c.finish(vec![id(1)]);
        assert!(!links.self_contained);
        assert!(links.roots.is_empty());
    }
}
