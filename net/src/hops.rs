//! How many hops updates travel: each node knows, per repository, how many transfers its
//! latest applied updates made from the node that accepted the push (0 there). A node
//! serving a pack says its count; the node that applies it counts one more, and keeps the
//! figures `/health` and `/metrics` show. The table is in memory and bounded: a repository
//! not in it (forgotten, or synced after a restart) has no count until its next push.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use crate::service::{NetStats, lock};

/// Repositories remembered at most.
const MAX_REPOS: usize = 4096;

/// Hop counts by repository.
#[derive(Debug, Default)]
pub(crate) struct Hops {
    by_repo: Mutex<HashMap<String, u8>>,
}

impl Hops {
    /// The count this node serves `repo` at.
    pub fn of(&self, repo: &str) -> Option<u8> {
        lock(&self.by_repo).get(repo).copied()
    }

    /// A push to `repo` was accepted here.
    pub fn pushed(&self, repo: &str) {
        self.set(repo, 0);
    }

    /// Updates of `repo` were applied from a pack a peer served at `served` hops.
    pub fn applied(&self, repo: &str, served: u8, stats: &NetStats) {
        let hops = served.saturating_add(1);
        self.set(repo, hops);
        let h = u64::from(hops);
        stats.hops_observed.fetch_add(1, Ordering::Relaxed);
        stats.hops_sum.fetch_add(h, Ordering::Relaxed);
        stats.hops_last.store(h, Ordering::Relaxed);
        stats.hops_max.fetch_max(h, Ordering::Relaxed);
    }

    fn set(&self, repo: &str, hops: u8) {
        let mut map = lock(&self.by_repo);
        if map.len() >= MAX_REPOS && !map.contains_key(repo) {
            // Any one goes: the figures are for operators, not for correctness.
            if let Some(k) = map.keys().next().cloned() {
                map.remove(&k);
            }
        }
        map.insert(repo.to_string(), hops);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_hop_counts_one_more_than_the_node_it_came_from() {
        let stats = NetStats::default();
        let origin = Hops::default();
        origin.pushed("a/b");
        let next = Hops::default();
        next.applied("a/b", origin.of("a/b").expect("pushed"), &stats);
        let far = Hops::default();
        far.applied("a/b", next.of("a/b").expect("applied"), &stats);
        assert_eq!(far.of("a/b"), Some(2));
        assert_eq!(stats.hops_max.load(Ordering::Relaxed), 2);
        assert_eq!(stats.hops_sum.load(Ordering::Relaxed), 3);
        assert_eq!(stats.hops_observed.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn the_table_stays_bounded() {
        let stats = NetStats::default();
        let hops = Hops::default();
        for i in 0..MAX_REPOS + 10 {
            hops.applied(&format!("o/r{i}"), 0, &stats);
        }
        assert_eq!(lock(&hops.by_repo).len(), MAX_REPOS);
    }
}
