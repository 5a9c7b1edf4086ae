//! Merge bases: the best common ancestors of two commits (`git merge-base --all`). Both
//! histories are painted down from the tips newest first, as git does without commit-graph
//! generation numbers, until only commits reached from both sides (stale) remain queued;
//! then any result that is an ancestor of another is dropped.

use std::collections::{BinaryHeap, HashMap};

use crate::ObjectId;
use crate::odb::{ObjectRead, OdbError};
use crate::walk::{commit_links, is_ancestor};

const ONE: u8 = 1;
const TWO: u8 = 2;
const STALE: u8 = 4;
const RESULT: u8 = 8;

/// The best common ancestors of `a` and `b`, newest first (none: unrelated histories).
pub fn merge_bases(
    odb: &impl ObjectRead,
    a: &ObjectId,
    b: &ObjectId,
) -> Result<Vec<ObjectId>, OdbError> {
    if a == b {
        return Ok(vec![*a]);
    }
    let mut flags: HashMap<ObjectId, u8> = HashMap::new();
    // By committer time, newest first; ties by id for a fixed order.
    let mut queue: BinaryHeap<(i64, ObjectId)> = BinaryHeap::new();
    for (id, f) in [(a, ONE), (b, TWO)] {
        *flags.entry(*id).or_default() |= f;
        queue.push((commit_links(odb, id)?.time, *id));
    }
    let mut found = Vec::new();
    while queue
        .iter()
        .any(|(_, id)| flags.get(id).is_some_and(|f| f & STALE == 0))
    {
        let Some((_, c)) = queue.pop() else {
            break;
        };
        let f = flags.get(&c).copied().unwrap_or(0);
        let mut paint = f & (ONE | TWO | STALE);
        if paint & (ONE | TWO) == ONE | TWO {
            if f & RESULT == 0 {
                flags.insert(c, f | RESULT);
                found.push(c);
            }
            paint |= STALE;
        }
        for p in commit_links(odb, &c)?.parents {
            let pf = flags.entry(p).or_default();
            if *pf & paint == paint {
                continue;
            }
            *pf |= paint;
            queue.push((commit_links(odb, &p)?.time, p));
        }
    }
    // Results can still be ancestors of one another (a clock that went back): keep those
    // no other result reaches.
    let mut best = Vec::new();
    for (i, c) in found.iter().enumerate() {
        let mut redundant = false;
        for (j, other) in found.iter().enumerate() {
            if i != j && is_ancestor(odb, c, other)? {
                redundant = true;
                break;
            }
        }
        if !redundant {
            best.push(*c);
        }
    }
    Ok(best)
}
