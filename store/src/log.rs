//! Each repository's update log: the replicated ref updates it has applied, kept so peers
//! can compare and exchange them. The store keeps keys and values as given (the network
//! layer encodes them); keys order the log. Also the per-repository writer lock that makes
//! "move refs, then log" one step for local pushes and replicated updates alike.

use std::sync::{Arc, Mutex};

use crate::keys::{self, tree};
use crate::{Repo, StoreError};

/// A log entry: its key and its value.
pub type LogEntry = (Vec<u8>, Vec<u8>);

impl Repo {
    /// Adds an entry; false if one with this key was there already.
    pub fn log_insert(&self, key: &[u8], value: &[u8]) -> Result<bool, StoreError> {
        let k = keys::log_entry(self.id(), key);
        let t = &self.store.t.updates;
        Ok(t.compare_and_swap(k, None::<&[u8]>, Some(value))?.is_ok())
    }

    /// True if the log has an entry with this key.
    pub fn log_contains(&self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self
            .store
            .t
            .updates
            .contains_key(keys::log_entry(self.id(), key))?)
    }

    /// Every entry, in key order: `(key, value)`.
    pub fn log_entries(&self) -> Result<Vec<LogEntry>, StoreError> {
        let p = keys::repo_prefix(self.id());
        let mut out = Vec::new();
        for item in self.store.t.updates.scan_prefix(p) {
            let (k, v) = item?;
            let key = k.get(p.len()..).ok_or_else(|| StoreError::Corrupt {
                tree: tree::UPDATES,
                reason: "short key".into(),
            })?;
            out.push((key.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    /// Up to `limit` entries with keys after `after` (all: none), in key order.
    pub fn log_after(
        &self,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let p = keys::repo_prefix(self.id());
        let start = keys::log_entry(self.id(), after.unwrap_or_default());
        let mut out = Vec::new();
        for item in self.store.t.updates.range(start..) {
            let (k, v) = item?;
            if !k.starts_with(&p) {
                break;
            }
            let key = k.get(p.len()..).ok_or_else(|| StoreError::Corrupt {
                tree: tree::UPDATES,
                reason: "short key".into(),
            })?;
            if after.is_some_and(|a| key == a) {
                continue;
            }
            out.push((key.to_vec(), v.to_vec()));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// The lock held while this repository's refs move and its log grows.
    pub fn writer(&self) -> Arc<Mutex<()>> {
        let mut w = match self.store.t.writers.lock() {
            Ok(w) => w,
            Err(p) => p.into_inner(),
        };
        if w.len() > 4096 {
            w.retain(|_, l| Arc::strong_count(l) > 1);
        }
        w.entry(self.id()).or_default().clone()
    }
}
