//! Account records (users, token hashes, organizations, teams, permissions, SSH keys,
//! protected branches), each the latest signed record of its key, kept after a deletion
//! as for repositories. Keyed by the account key (`user/alice`, `token/<hex>`, ...); the
//! value is opaque here (the network's signed record). Every change is a compare-and-swap
//! so concurrent writers of one key cannot lose an update.

use crate::keys::tree;
use crate::{Store, StoreError};

/// Told the key of each account record written.
pub type AccountWatcher = Box<dyn Fn(&str) + Send + Sync>;

/// The watcher, in the store.
pub(crate) struct Watcher(pub AccountWatcher);

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watcher")
    }
}

impl Store {
    /// The latest signed record of an account key.
    pub fn account_record(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.t.accounts.get(key.as_bytes())?.map(|v| v.to_vec()))
    }

    /// Replaces the record of `key` with `record` if it still is `expected` (none: absent).
    /// False if it changed meanwhile. Not flushed: the caller flushes before acknowledging.
    /// The watcher, if one is set, is told the key after a write.
    pub fn swap_account_record(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        record: &[u8],
    ) -> Result<bool, StoreError> {
        let swapped = self
            .t
            .accounts
            .compare_and_swap(key.as_bytes(), expected, Some(record))?
            .is_ok();
        if swapped && let Some(watch) = self.t.account_watcher.get() {
            (watch.0)(key);
        }
        Ok(swapped)
    }

    /// Sets the function told the key of every account record written from now on (local
    /// writes and replicated ones alike): how a revocation reaches open connections at once.
    /// Only the first call takes effect.
    pub fn watch_accounts(&self, watcher: AccountWatcher) {
        let _ = self.t.account_watcher.set(Watcher(watcher));
    }

    /// Up to `limit` account records with keys starting with `prefix`, after `after`.
    pub fn account_records(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let range = match after {
            Some(a) => self.t.accounts.range::<&[u8], _>((
                std::ops::Bound::Excluded(a.as_bytes()),
                std::ops::Bound::Unbounded,
            )),
            None => self.t.accounts.range::<&[u8], _>(prefix.as_bytes()..),
        };
        let mut out = Vec::new();
        for item in range {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item?;
            if !k.starts_with(prefix.as_bytes()) {
                if k.as_ref() > prefix.as_bytes() {
                    break;
                }
                continue;
            }
            let key = String::from_utf8(k.to_vec()).map_err(|_| StoreError::Corrupt {
                tree: tree::ACCOUNTS,
                reason: "key is not UTF-8".into(),
            })?;
            out.push((key, v.to_vec()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Store, StoreOptions};

    #[test]
    fn records_swap_and_page_by_prefix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
        assert!(
            store
                .swap_account_record("user/a", None, b"1")
                .expect("swap")
        );
        assert!(
            !store
                .swap_account_record("user/a", None, b"2")
                .expect("swap")
        );
        assert!(
            store
                .swap_account_record("user/a", Some(b"1"), b"2")
                .expect("swap")
        );
        for k in ["user/b", "user/c", "token/x", "org/z"] {
            store.swap_account_record(k, None, b"v").expect("swap");
        }
        let users = store.account_records("user/", None, 10).expect("scan");
        let keys: Vec<&str> = users.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["user/a", "user/b", "user/c"]);
        let page = store
            .account_records("user/", Some("user/a"), 1)
            .expect("page");
        assert_eq!(page[0].0, "user/b");
        let all = store.account_records("", None, 100).expect("all");
        assert_eq!(all.len(), 5);
        assert_eq!(
            store.account_record("user/a").expect("get"),
            Some(b"2".to_vec())
        );
    }
}
