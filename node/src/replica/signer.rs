//! The node's key and hybrid logical clock, read from the node's [`Wall`] (injected: one
//! node can run on a clock that is not the machine's, and every part reads the same one).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use guts_net::{Clock, Hlc, NodeId, NodeKey, Stamp, Wall};

/// Signs and stamps what this node accepts.
#[derive(Debug)]
pub struct Signer {
    key: NodeKey,
    clock: Mutex<Clock>,
    wall: Wall,
}

impl Signer {
    /// A signer with `key`, stamping by `wall`.
    pub fn new(key: NodeKey, wall: Wall) -> Signer {
        Signer {
            clock: Mutex::new(Clock::new(key.id(), Hlc::default())),
            key,
            wall,
        }
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.key.id()
    }

    /// The key.
    pub fn key(&self) -> &NodeKey {
        &self.key
    }

    /// The node's wall clock.
    pub fn wall(&self) -> &Wall {
        &self.wall
    }

    /// Now, by the node's wall clock (ms since the epoch).
    pub fn now_ms(&self) -> u64 {
        self.wall.now_ms()
    }

    fn clock(&self) -> MutexGuard<'_, Clock> {
        guts_store::sync::lock(&self.clock)
    }

    /// Takes a stamp from elsewhere into account (one too far ahead is ignored).
    pub fn observe(&self, hlc: Hlc) {
        let now = self.now_ms();
        let _ = self.clock().observe(hlc, now);
    }

    /// A new stamp, greater than every stamp seen.
    pub fn stamp(&self) -> Stamp {
        let now = self.now_ms();
        self.clock().stamp(now)
    }
}

/// The nodes whose signed updates and records this node accepts: itself and the configured
/// ones.
#[derive(Debug, Clone)]
pub struct Trusted {
    me: NodeId,
    others: Arc<HashSet<NodeId>>,
}

impl Trusted {
    /// This node and `others`.
    pub fn new(me: NodeId, others: impl IntoIterator<Item = NodeId>) -> Trusted {
        Trusted {
            me,
            others: Arc::new(others.into_iter().collect()),
        }
    }

    /// True for this node and the nodes it trusts.
    pub fn contains(&self, node: &NodeId) -> bool {
        *node == self.me || self.others.contains(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_follow_the_injected_wall_clock() {
        let key = NodeKey::generate().expect("key");
        let behind = Signer::new(key.clone(), Wall::from_fn(|| 1_000_000));
        let s = behind.stamp();
        assert_eq!(s.hlc.wall_ms, 1_000_000);
        assert_eq!(s.origin, key.id());
        // A stamp seen from a node ahead (within the drift bound) moves ours past it.
        behind.observe(Hlc {
            wall_ms: 1_060_000,
            logical: 3,
        });
        let next = behind.stamp();
        assert_eq!((next.hlc.wall_ms, next.hlc.logical), (1_060_000, 4));
        // One beyond the drift bound does not.
        behind.observe(Hlc {
            wall_ms: 1_000_000 + guts_net::hlc::MAX_DRIFT_MS + 60_000,
            logical: 0,
        });
        assert_eq!(behind.stamp().hlc.wall_ms, 1_060_000);
    }

    #[test]
    fn trust_is_this_node_and_the_configured_ones() {
        let key = || NodeKey::generate().expect("key");
        let (me, other, stranger) = (key(), key(), key());
        let t = Trusted::new(me.id(), [other.id()]);
        assert!(t.contains(&me.id()));
        assert!(t.contains(&other.id()));
        assert!(!t.contains(&stranger.id()));
    }
}
