//! Slowing down guessing: each address's recent failed authentications are counted, and
//! past a few, every further failure from that address is answered after a wait, twice as
//! long for each further failure up to a cap (a good token is never slowed down, so the
//! guesser is slowed, not the good users behind the same address). A success clears a count
//! still below that; a quiet spell forgets it. The table is bounded: when full, forgotten entries go
//! first, then all (an attacker filling it only resets counts, never grows memory).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How the throttle behaves.
#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    /// Failures allowed before requests wait.
    pub free: u32,
    /// The first wait.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
    /// Failures are forgotten this long after the last one.
    pub forget: Duration,
    /// Addresses tracked at most.
    pub capacity: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            free: 5,
            base: Duration::from_millis(200),
            max: Duration::from_secs(5),
            forget: Duration::from_secs(15 * 60),
            capacity: 65_536,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Failed authentications per address.
#[derive(Debug, Default)]
pub struct Throttle {
    config: ThrottleConfig,
    seen: Mutex<HashMap<IpAddr, Failures>>,
}

impl Throttle {
    /// A throttle with `config`.
    pub fn new(config: ThrottleConfig) -> Throttle {
        Throttle {
            config,
            seen: Mutex::new(HashMap::new()),
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Failures>> {
        guts_store::sync::lock(&self.seen)
    }

    /// How long a request from `ip` waits before its credentials are checked.
    pub fn delay(&self, ip: IpAddr, now: Instant) -> Duration {
        let Some(f) = self.seen().get(&ip).copied() else {
            return Duration::ZERO;
        };
        if now.duration_since(f.last) > self.config.forget || f.count < self.config.free {
            return Duration::ZERO;
        }
        let doublings = (f.count - self.config.free).min(16);
        self.config
            .base
            .saturating_mul(1 << doublings)
            .min(self.config.max)
    }

    /// Counts a failure from `ip`; returns the count.
    pub fn failed(&self, ip: IpAddr, now: Instant) -> u32 {
        let mut seen = self.seen();
        if seen.len() >= self.config.capacity && !seen.contains_key(&ip) {
            let forget = self.config.forget;
            seen.retain(|_, f| now.duration_since(f.last) <= forget);
            if seen.len() >= self.config.capacity {
                seen.clear();
            }
        }
        let f = seen.entry(ip).or_insert(Failures {
            count: 0,
            last: now,
        });
        if now.duration_since(f.last) > self.config.forget {
            f.count = 0;
        }
        f.count = f.count.saturating_add(1);
        f.last = now;
        f.count
    }

    /// Clears `ip`'s failures after a success, unless it is already being slowed down (or
    /// anyone holding one good token could reset the count between guesses).
    pub fn succeeded(&self, ip: IpAddr) {
        let mut seen = self.seen();
        if seen.get(&ip).is_some_and(|f| f.count < self.config.free) {
            seen.remove(&ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_after_the_free_failures_and_a_success_or_time_clears_them() {
        let t = Throttle::new(ThrottleConfig {
            capacity: 2,
            ..ThrottleConfig::default()
        });
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        let now = Instant::now();
        for _ in 0..5 {
            assert_eq!(t.delay(ip, now), Duration::ZERO);
            t.failed(ip, now);
        }
        assert_eq!(t.delay(ip, now), Duration::from_millis(200));
        t.failed(ip, now);
        assert_eq!(t.delay(ip, now), Duration::from_millis(400));
        for _ in 0..20 {
            t.failed(ip, now);
        }
        assert_eq!(t.delay(ip, now), Duration::from_secs(5));
        assert_eq!(
            t.delay(ip, now + Duration::from_secs(16 * 60)),
            Duration::ZERO
        );
        // Once slowed down, a success does not reset the count; below that, it does.
        t.succeeded(ip);
        assert_eq!(t.delay(ip, now), Duration::from_secs(5));
        let other: IpAddr = "10.0.0.2".parse().expect("ip");
        t.failed(other, now);
        t.succeeded(other);
        assert!(!t.seen().contains_key(&other));
        // Bounded: a third address fits by dropping the others.
        for i in 0..3u8 {
            t.failed(IpAddr::from([10, 0, 1, i]), now);
        }
        assert!(t.seen().len() <= 2);
    }
}
