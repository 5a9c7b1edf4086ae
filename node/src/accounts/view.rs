//! The store's account records read as entries, and the rule that keeps the record with
//! the greatest stamp per key (local changes and replicated ones alike).

use guts_net::accounts::AccountView;
use guts_net::{Announcement, Body, Entry, Stamp};
use guts_store::{Store, StoreError};

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
    pub fn list<T>(&self, prefix: &str, f: impl FnMut((String, Entry)) -> Option<T>) -> Vec<T> {
        self.scan(prefix).into_iter().filter_map(f).collect()
    }

    /// The signed record of `key`, as kept.
    pub fn record(&self, key: &str) -> Option<Vec<u8>> {
        self.0.account_record(key).ok().flatten()
    }
}

impl AccountView for StoreView<'_> {
    fn entry(&self, key: &str) -> Option<Entry> {
        let bytes = self.record(key)?;
        decode(&bytes)?.1
    }

    fn scan(&self, prefix: &str) -> Vec<(String, Entry)> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = match self.0.account_records(prefix, after.as_deref(), PAGE) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, prefix, "reading account records");
                    return out;
                }
            };
            let full = page.len() == PAGE;
            for (k, v) in page {
                if let Some((_, Some(e))) = decode(&v) {
                    out.push((k.clone(), e));
                }
                after = Some(k);
            }
            if !full {
                return out;
            }
        }
    }
}
