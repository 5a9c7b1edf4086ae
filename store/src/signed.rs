//! Each repository's latest signed record (created or updated with its metadata, or
//! deleted), kept by name so it outlives a deletion: replication uses it to apply metadata
//! last-writer-wins and so that updates older than a deletion do not bring the repository
//! back. Keyed by `owner/name`; the value is opaque here (the network's signed record).

use crate::keys::tree;
use crate::{Store, StoreError};

impl Store {
    /// The latest signed record of `owner/name`.
    pub fn signed_record(&self, full: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.t.signed.get(full.as_bytes())?.map(|v| v.to_vec()))
    }

    /// Records (or replaces) the latest signed record of `owner/name`. Not flushed: the
    /// caller flushes before acknowledging.
    pub fn set_signed_record(&self, full: &str, record: &[u8]) -> Result<(), StoreError> {
        self.t.signed.insert(full.as_bytes(), record)?;
        Ok(())
    }

    /// Up to `limit` signed records, by name, after `after`.
    pub fn signed_records(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        let range = match after {
            Some(a) => self.t.signed.range::<&[u8], _>((
                std::ops::Bound::Excluded(a.as_bytes()),
                std::ops::Bound::Unbounded,
            )),
            None => self.t.signed.iter(),
        };
        for item in range.take(limit) {
            let (k, v) = item?;
            let name = String::from_utf8(k.to_vec()).map_err(|_| StoreError::Corrupt {
                tree: tree::SIGNED,
                reason: "name is not UTF-8".into(),
            })?;
            out.push((name, v.to_vec()));
        }
        Ok(out)
    }
}
