//! Ancestry and connectivity: fast-forward checks, and "is everything reachable from these
//! new tips present" before a ref may move.

use std::collections::{HashSet, VecDeque};

use super::{ObjectsWanted, commit_links, objects_to_send};
use crate::ObjectId;
use crate::odb::{ObjectRead, OdbError};

/// True when `ancestor` is reachable from `descendant` (or equal to it): moving a ref from
/// `ancestor` to `descendant` is a fast-forward.
pub fn is_ancestor(
    odb: &impl ObjectRead,
    ancestor: &ObjectId,
    descendant: &ObjectId,
) -> Result<bool, OdbError> {
    if ancestor == descendant {
        return Ok(true);
    }
    let mut seen = HashSet::new();
    let mut queue = VecDeque::from([*descendant]);
    while let Some(c) = queue.pop_front() {
        if !seen.insert(c) {
            continue;
        }
        for p in commit_links(odb, &c)?.parents {
            if p == *ancestor {
                return Ok(true);
            }
            if odb.contains(&p)? {
                queue.push_back(p);
            }
        }
    }
    Ok(false)
}

/// Checks that every object reachable from `tips` is present, stopping at what `complete`
/// (tips already known to be connected, such as the current refs) reaches.
pub fn check_connected(
    odb: &impl ObjectRead,
    tips: &[ObjectId],
    complete: &[ObjectId],
) -> Result<(), OdbError> {
    let cut = HashSet::new();
    objects_to_send(
        odb,
        &ObjectsWanted {
            wants: tips,
            haves: complete,
            cut: &cut,
            filter: None,
        },
    )
    .map(drop)
}
