//! Tombstones: the record of a repository deletion, kept after the repository is gone so
//! that updates older than it (still held by peers that had not heard of it) do not bring it
//! back. Keyed by `owner/name`; the value is opaque here (the network's signed record).

use crate::keys::tree;
use crate::{Store, StoreError};

impl Store {
    /// The tombstone of `owner/name`, if it was deleted.
    pub fn tombstone(&self, full: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.t.tombstones.get(full.as_bytes())?.map(|v| v.to_vec()))
    }

    /// Records (or replaces) the tombstone of `owner/name`. Not flushed: the caller flushes
    /// before acknowledging.
    pub fn set_tombstone(&self, full: &str, record: &[u8]) -> Result<(), StoreError> {
        self.t.tombstones.insert(full.as_bytes(), record)?;
        Ok(())
    }

    /// Up to `limit` tombstones, by name.
    pub fn tombstones(&self, limit: usize) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for item in self.t.tombstones.iter().take(limit) {
            let (k, v) = item?;
            let name = String::from_utf8(k.to_vec()).map_err(|_| StoreError::Corrupt {
                tree: tree::TOMBSTONES,
                reason: "name is not UTF-8".into(),
            })?;
            out.push((name, v.to_vec()));
        }
        Ok(out)
    }
}
