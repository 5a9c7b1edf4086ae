//! The store's account records read as entries, and the rule that keeps the record with
//! the greatest stamp per key (local changes and replicated ones alike). Reads fail
//! closed: a store error or a record that does not decode is an error, never "no entry".

use guts_net::accounts::AccountView;
use guts_net::{Announcement, Body, Entry, Stamp};
use guts_store::{Store, StoreError};

/// The sled tree account records live in (named in errors).
const TREE: &str = "accounts";

/// Account records read per page while scanning.
const PAGE: usize = 1000;

/// A stored account record: its stamp and entry (none: deleted).
pub fn decode(bytes: &[u8]) -> Option<(Stamp, Option<Entry>)> {
    match Announcement::decode(bytes).ok()?.body {
        Body::Account { stamp, entry, .. } => Some((stamp, entry)),
        _ => None,
    }
}

/// Keeps `record` (stamped `stamp`) as the record of `key` unless the one kept is as new
/// or newer. Not flushed. True if it was kept.
pub fn keep_newest(
    store: &Store,
    key: &str,
    stamp: Stamp,
    record: &[u8],
) -> Result<bool, StoreError> {
    loop {
        let current = store.account_record(key)?;
        if let Some(cur) = &current
            && decode(cur).is_some_and(|(s, _)| s >= stamp)
        {
            return Ok(false);
        }
        if store.swap_account_record(key, current.as_deref(), record)? {
            return Ok(true);
        }
    }
}

/// The store's live account entries.
#[derive(Debug, Clone, Copy)]
pub struct StoreView<'a>(pub &'a Store);

impl StoreView<'_> {
    /// What `f` makes of each entry under `prefix` (none: skipped), by key.
    pub fn list<T>(
        &self,
        prefix: &str,
        f: impl FnMut((String, Entry)) -> Option<T>,
    ) -> Result<Vec<T>, StoreError> {
        Ok(self.scan(prefix)?.into_iter().filter_map(f).collect())
    }

    /// The signed record of `key`, as kept.
    pub fn record(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.account_record(key)
    }

    /// True if `key` has a live entry.
    pub fn has(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.entry(key)?.is_some())
    }
}

/// A kept record read back: one that does not decode is corrupt, not absent.
fn read(key: &str, bytes: &[u8]) -> Result<Option<Entry>, StoreError> {
    decode(bytes)
        .map(|(_, e)| e)
        .ok_or_else(|| StoreError::Corrupt {
            tree: TREE,
            reason: format!("the record of {key} does not decode"),
        })
}

impl AccountView for StoreView<'_> {
    type Error = StoreError;

    fn entry(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        match self.record(key)? {
            Some(bytes) => read(key, &bytes),
            None => Ok(None),
        }
    }

    fn scan(&self, prefix: &str) -> Result<Vec<(String, Entry)>, StoreError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.0.account_records(prefix, after.as_deref(), PAGE)?;
            let full = page.len() == PAGE;
            for (k, v) in page {
                if let Some(e) = read(&k, &v)? {
                    out.push((k.clone(), e));
                }
                after = Some(k);
            }
            if !full {
                return Ok(out);
            }
        }
    }
}
