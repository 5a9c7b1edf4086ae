//! Each repository's update log: the replicated ref updates it has applied, kept so peers
//! can compare and exchange them. The store keeps keys and values as given (the network
//! layer encodes them); keys order the log. Also the per-repository writer lock that makes
//! "move refs, then log" one step for local pushes and replicated updates alike.

use std::sync::{Arc, Mutex};

use sha1::{Digest, Sha1};
use sled::Transactional;
use sled::transaction::TransactionError;

use crate::keys::{self, tree};
use crate::{Repo, Store, StoreError};

/// A log's digest record: the entry count, then the XOR of the SHA-1 of every key.
const DIGEST_LEN: usize = 28;

/// A log's digest: entries, and a hash of the set of keys (order-free, so it is kept up to
/// date with each insert instead of rereading the log).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogDigest {
    /// Entries in the log.
    pub entries: u64,
    /// XOR of SHA-1 over each key.
    pub hash: [u8; 20],
}

impl LogDigest {
    fn decode(v: &[u8]) -> LogDigest {
        let mut d = LogDigest::default();
        if v.len() == DIGEST_LEN {
            let mut n = [0u8; 8];
            n.copy_from_slice(&v[..8]);
            d.entries = u64::from_be_bytes(n);
            d.hash.copy_from_slice(&v[8..]);
        }
        d
    }

    fn encode(&self) -> [u8; DIGEST_LEN] {
        let mut v = [0u8; DIGEST_LEN];
        v[..8].copy_from_slice(&self.entries.to_be_bytes());
        v[8..].copy_from_slice(&self.hash);
        v
    }

    fn add(&mut self, key: &[u8]) {
        let h: [u8; 20] = Sha1::digest(key).into();
        for (a, b) in self.hash.iter_mut().zip(h) {
            *a ^= b;
        }
        self.entries += 1;
    }
}

impl Store {
    /// Builds the digests of logs written before digests were kept (once, at open).
    pub(crate) fn rebuild_log_digests(&self) -> Result<(), StoreError> {
        let t = &self.t;
        if !t.log_digests.is_empty() || t.updates.is_empty() {
            return Ok(());
        }
        let mut current: Option<([u8; 8], LogDigest)> = None;
        for item in t.updates.iter() {
            let (k, _) = item?;
            let (Some(repo), Some(key)) = (k.get(..8), k.get(8..)) else {
                continue;
            };
            let mut id = [0u8; 8];
            id.copy_from_slice(repo);
            match &mut current {
                Some((r, d)) if *r == id => d.add(key),
                _ => {
                    if let Some((r, d)) = current.take() {
                        t.log_digests.insert(r, &d.encode()[..])?;
                    }
                    let mut d = LogDigest::default();
                    d.add(key);
                    current = Some((id, d));
                }
            }
        }
        if let Some((r, d)) = current {
            t.log_digests.insert(r, &d.encode()[..])?;
        }
        t.db.flush()?;
        Ok(())
    }
}

/// A log entry: its key and its value.
pub type LogEntry = (Vec<u8>, Vec<u8>);

impl Repo {
    /// Adds an entry; false if one with this key was there already.
    /// The log and its digest change together.
    pub fn log_insert(&self, key: &[u8], value: &[u8]) -> Result<bool, StoreError> {
        let k = keys::log_entry(self.id(), key);
        let dk = keys::repo_prefix(self.id());
        let t = &self.store.t;
        let r = (&t.updates, &t.log_digests).transaction(|(u, d)| {
            if u.get(&k)?.is_some() {
                return Ok(false);
            }
            u.insert(k.as_slice(), value)?;
            let mut digest = d
                .get(dk)?
                .map_or_else(LogDigest::default, |v| LogDigest::decode(&v));
            digest.add(key);
            d.insert(&dk[..], &digest.encode()[..])?;
            Ok(true)
        });
        match r {
            Ok(inserted) => Ok(inserted),
            Err(TransactionError::Storage(e)) => Err(e.into()),
            Err(TransactionError::Abort(())) => {
                Err(StoreError::Internal("log insert aborted".into()))
            }
        }
    }

    /// The newest entry's key (the greatest), without reading the log.
    pub fn log_last_key(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let p = keys::repo_prefix(self.id());
        match self.store.t.updates.scan_prefix(p).next_back() {
            Some(item) => Ok(item?.0.get(p.len()..).map(<[u8]>::to_vec)),
            None => Ok(None),
        }
    }

    /// The log's digest, without reading the log.
    pub fn log_digest(&self) -> Result<LogDigest, StoreError> {
        let v = self.store.t.log_digests.get(keys::repo_prefix(self.id()))?;
        Ok(v.map_or_else(LogDigest::default, |v| LogDigest::decode(&v)))
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
        let mut w = crate::sync::lock(&self.store.t.writers);
        if w.len() > 4096 {
            w.retain(|_, l| Arc::strong_count(l) > 1);
        }
        w.entry(self.id()).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use crate::{NewRepo, Store, StoreOptions};

    fn repo(store: &Store, name: &str) -> crate::Repo {
        store
            .create_repo(&NewRepo {
                owner: "o".into(),
                name: name.into(),
                ..NewRepo::default()
            })
            .expect("create");
        store.repo("o", name).expect("open").expect("exists")
    }

    #[test]
    fn digests_follow_the_set_of_keys_and_survive_a_rebuild() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
        let (a, b) = (repo(&store, "a"), repo(&store, "b"));
        let keys: Vec<Vec<u8>> = (0..50u32).map(|i| i.to_be_bytes().to_vec()).collect();
        for k in &keys {
            assert!(a.log_insert(k, b"v").expect("insert"));
        }
        for k in keys.iter().rev() {
            assert!(b.log_insert(k, b"w").expect("insert"));
        }
        assert!(!a.log_insert(&keys[3], b"again").expect("insert"));
        assert_eq!(a.log_last_key().expect("last"), keys.last().cloned());
        let da = a.log_digest().expect("digest");
        assert_eq!(da.entries, 50);
        assert_eq!(da, b.log_digest().expect("digest"));
        assert!(b.log_insert(b"one more", b"x").expect("insert"));
        assert_ne!(da, b.log_digest().expect("digest"));
        // Logs written before digests were kept get them at open.
        let db = b.log_digest().expect("digest");
        store.t.log_digests.clear().expect("clear");
        store.rebuild_log_digests().expect("rebuild");
        assert_eq!(a.log_digest().expect("digest"), da);
        assert_eq!(b.log_digest().expect("digest"), db);
    }
}
