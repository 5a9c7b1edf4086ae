//! Shares per client address: how many connections, or Git requests, one IP address may
//! hold at once, so a few addresses cannot take what everyone needs.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

/// Counts what each address holds, up to `max` each.
#[derive(Debug, Clone)]
pub struct AddressLimiter {
    held: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max: usize,
}

impl AddressLimiter {
    /// At most `max` (at least 1) per address.
    pub fn new(max: usize) -> Self {
        AddressLimiter {
            held: Arc::new(Mutex::new(HashMap::new())),
            max: max.max(1),
        }
    }

    fn table(held: &Mutex<HashMap<IpAddr, usize>>) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        guts_store::sync::lock(held)
    }

    /// One more for `ip`, held until the slot is dropped; `None` when `ip` has its share.
    pub fn admit(&self, ip: IpAddr) -> Option<AddressSlot> {
        let mut map = Self::table(&self.held);
        let n = map.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            ip,
            held: self.held.clone(),
        })
    }
}

/// One unit of an address's share.
#[derive(Debug)]
pub struct AddressSlot {
    ip: IpAddr,
    held: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut map = AddressLimiter::table(&self.held);
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// The address a request came from (none without a socket).
#[derive(Debug, Clone, Copy)]
pub struct PeerIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerIp(
            parts
                .extensions
                .get::<ConnectInfo<crate::server::PeerAddr>>()
                .map(|c| c.0.0.ip()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_share_and_gets_it_back() {
        let l = AddressLimiter::new(2);
        let a: IpAddr = [127, 0, 0, 3].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let one = l.admit(a).expect("first");
        let _two = l.admit(a).expect("second");
        assert!(l.admit(a).is_none(), "third");
        assert!(l.admit(b).is_some(), "another address");
        drop(one);
        assert!(l.admit(a).is_some(), "freed");
    }
}
