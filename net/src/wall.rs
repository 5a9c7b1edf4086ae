//! The node's wall clock as a value: read through [`Wall`], so one node (or one test) can
//! run on a clock that is not the machine's, and every part of the node reads the same one.

use std::fmt;
use std::sync::Arc;

/// Milliseconds since the Unix epoch, from somewhere.
#[derive(Clone)]
pub struct Wall {
    read: Arc<dyn Fn() -> u64 + Send + Sync>,
    offset_ms: i64,
}

impl Wall {
    /// The machine's clock.
    pub fn system() -> Wall {
        Wall {
            read: Arc::new(system_ms),
            offset_ms: 0,
        }
    }

    /// The machine's clock shifted by `offset_ms` (negative: behind).
    pub fn offset(offset_ms: i64) -> Wall {
        Wall {
            offset_ms,
            ..Wall::system()
        }
    }

    /// A clock read from `f` (simulations, tests).
    pub fn from_fn(f: impl Fn() -> u64 + Send + Sync + 'static) -> Wall {
        Wall {
            read: Arc::new(f),
            offset_ms: 0,
        }
    }

    /// Now, in milliseconds since the epoch.
    pub fn now_ms(&self) -> u64 {
        let now = (self.read)();
        if self.offset_ms >= 0 {
            now.saturating_add(self.offset_ms.unsigned_abs())
        } else {
            now.saturating_sub(self.offset_ms.unsigned_abs())
        }
    }

    /// Now, in whole seconds since the epoch.
    pub fn now_secs(&self) -> u64 {
        self.now_ms() / 1000
    }
}

impl Default for Wall {
    fn default() -> Self {
        Wall::system()
    }
}

impl fmt::Debug for Wall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Wall(offset {} ms)", self.offset_ms)
    }
}

fn system_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_clock_runs_beside_the_machine_clock() {
        let fixed = Wall::from_fn(|| 1_000_000);
        assert_eq!(fixed.now_ms(), 1_000_000);
        assert_eq!(fixed.now_secs(), 1_000);
        let ahead = Wall {
            offset_ms: 600_000,
            ..fixed.clone()
        };
        let behind = Wall {
            offset_ms: -600_000,
            ..fixed.clone()
        };
        assert_eq!(ahead.now_ms(), 1_600_000);
        assert_eq!(behind.now_ms(), 400_000);
        let far_behind = Wall {
            offset_ms: i64::MIN,
            ..fixed
        };
        assert_eq!(far_behind.now_ms(), 0);
        let sys = Wall::system().now_ms();
        let off = Wall::offset(-60_000).now_ms();
        assert!(off + 50_000 < sys && sys < off + 70_000, "{sys} vs {off}");
    }
}
