//! Numbers (`#N`) without a central counter. The node that opens a thread proposes one
//! more than the greatest number it knows in the repository (issues and pull requests
//! share the sequence). Two nodes that open threads at once may propose the same number;
//! then, for the set of threads held:
//!
//! - the thread with the earliest stamp (ties: the smaller id) keeps the number;
//! - each other one, in stamp order, takes the smallest number above its proposal that no
//!   thread proposed and no earlier one took.
//!
//! Every node holding the same threads gives the same numbers. A thread whose proposal was
//! unique keeps its number for good, and so does every thread once the concurrent opens
//! have all arrived (seconds, on a connected network): only a thread that lost a
//! collision can move, and only while an even later concurrent open is still on its way.
//! Every thread can also be named by its id, which never changes.

use std::collections::{BTreeMap, BTreeSet};

use super::op::ThreadId;
use crate::hlc::Stamp;

/// The numbers of a repository's threads, each given as (id, proposed number, opening
/// stamp).
pub fn numbers(threads: &[(ThreadId, u64, Stamp)]) -> BTreeMap<ThreadId, u64> {
    let proposed: BTreeSet<u64> = threads.iter().map(|(_, n, _)| *n).collect();
    let mut order: Vec<&(ThreadId, u64, Stamp)> = threads.iter().collect();
    order.sort_by_key(|(id, _, stamp)| (*stamp, *id));
    let mut taken: BTreeSet<u64> = BTreeSet::new();
    let mut out = BTreeMap::new();
    let mut losers = Vec::new();
    for (id, n, _) in &order {
        if taken.insert(*n) {
            out.insert(*id, *n);
        } else {
            losers.push((*id, *n));
        }
    }
    for (id, n) in losers {
        let mut k = n + 1;
        while proposed.contains(&k) || taken.contains(&k) {
            k += 1;
        }
        taken.insert(k);
        out.insert(id, k);
    }
    out
}

/// The number a node proposes for a new thread: one more than the greatest it knows.
pub fn propose(known: impl IntoIterator<Item = u64>) -> u64 {
    known.into_iter().max().unwrap_or(0) + 1
}
