//! Hybrid logical clocks and the stamps that order ref updates across nodes.
//!
//! A stamp is `(wall milliseconds, logical counter, origin node)`, compared in that order, so
//! any two stamps from different nodes are ordered the same way everywhere. The clock never
//! goes backwards, issues a stamp greater than every stamp it has seen, and refuses remote
//! stamps too far in the future (a wrong or hostile clock must not pin the order forever).
//! Time is passed in, never read here.

use serde::{Deserialize, Serialize};

use crate::identity::NodeId;

/// How far ahead of our wall clock a remote stamp may be.
pub const MAX_DRIFT_MS: u64 = 5 * 60 * 1000;

/// A point of hybrid logical time.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Hlc {
    /// Milliseconds since the Unix epoch (the largest seen, not necessarily ours).
    pub wall_ms: u64,
    /// Orders events within one millisecond.
    pub logical: u32,
}

/// When and where a ref update was accepted: the order every node agrees on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stamp {
    /// The hybrid logical time of acceptance.
    pub hlc: Hlc,
    /// The accepting node: breaks ties between equal times.
    pub origin: NodeId,
}

/// Why a remote stamp was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// The stamp is further ahead of our clock than [`MAX_DRIFT_MS`].
    #[error("stamp {stamp_ms} ms is {ahead_ms} ms ahead of this node's clock")]
    TooFarAhead {
        /// The stamp's wall time.
        stamp_ms: u64,
        /// How far ahead it is.
        ahead_ms: u64,
    },
}

/// A node's hybrid logical clock.
#[derive(Debug, Clone)]
pub struct Clock {
    /// The last time issued or observed.
    last: Hlc,
    /// This node, the origin of the stamps it issues.
    node: NodeId,
}

impl Clock {
    /// A clock for `node`, starting after `last` (what the node persisted, or zero).
    pub fn new(node: NodeId, last: Hlc) -> Clock {
        Clock { last, node }
    }

    /// The latest time issued or observed.
    pub fn last(&self) -> Hlc {
        self.last
    }

    /// A new stamp for a local event at wall time `now_ms`, greater than all seen.
    pub fn stamp(&mut self, now_ms: u64) -> Stamp {
        self.last = if now_ms > self.last.wall_ms {
            Hlc {
                wall_ms: now_ms,
                logical: 0,
            }
        } else if self.last.logical == u32::MAX {
            Hlc {
                wall_ms: self.last.wall_ms + 1,
                logical: 0,
            }
        } else {
            Hlc {
                wall_ms: self.last.wall_ms,
                logical: self.last.logical + 1,
            }
        };
        Stamp {
            hlc: self.last,
            origin: self.node,
        }
    }

    /// Takes a remote stamp into account, so later local stamps are greater than it.
    pub fn observe(&mut self, remote: Hlc, now_ms: u64) -> Result<(), ClockError> {
        check_drift(remote, now_ms)?;
        if remote > self.last {
            self.last = remote;
        }
        Ok(())
    }
}

/// Refuses a stamp further ahead of `now_ms` than [`MAX_DRIFT_MS`].
pub fn check_drift(remote: Hlc, now_ms: u64) -> Result<(), ClockError> {
    let ahead_ms = remote.wall_ms.saturating_sub(now_ms);
    if ahead_ms > MAX_DRIFT_MS {
        return Err(ClockError::TooFarAhead {
            stamp_ms: remote.wall_ms,
            ahead_ms,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u8) -> NodeId {
        NodeId([n; 32])
    }

    #[test]
    fn stamps_increase_even_when_the_wall_clock_goes_back() {
        let mut c = Clock::new(node(1), Hlc::default());
        let a = c.stamp(1000);
        let b = c.stamp(1000);
        let d = c.stamp(500);
        assert!(a < b && b < d);
        assert_eq!(d.hlc.wall_ms, 1000);
    }

    #[test]
    fn observed_stamps_are_exceeded_and_far_future_ones_refused() {
        let mut c = Clock::new(node(1), Hlc::default());
        let remote = Hlc {
            wall_ms: 2000,
            logical: 7,
        };
        c.observe(remote, 1000).expect("within drift");
        assert!(c.stamp(1000).hlc > remote);
        let far = Hlc {
            wall_ms: 1000 + MAX_DRIFT_MS + 1,
            logical: 0,
        };
        assert!(c.observe(far, 1000).is_err());
        assert!(c.last() < far);
    }

    #[test]
    fn equal_times_are_ordered_by_origin() {
        let h = Hlc {
            wall_ms: 5,
            logical: 0,
        };
        let a = Stamp {
            hlc: h,
            origin: node(1),
        };
        let b = Stamp {
            hlc: h,
            origin: node(2),
        };
        assert!(a < b);
    }
}
