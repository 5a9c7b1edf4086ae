//! Locks that a panic does not poison for good. Every lock of the store (and of the node,
//! which uses this too) guards either nothing (writer locks order work whose data is in
//! sled, written by compare-and-swap or in transactions) or caches of immutable data (pack
//! chunks, resolved delta bases, pack records): a panic while one is held leaves nothing
//! torn, so the next caller takes the lock as it is instead of failing forever.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `m`, recovering it if a panic poisoned it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
