//! Operations on issues and pull requests, kept as the network's signed records (opaque
//! here). Each is stored once under its repository, thread and id (`collab`), and a
//! thread's opening operation is also indexed by repository (`threads`) so a repository's
//! threads list without reading every comment. Operations are never changed or removed:
//! a thread's state is a fold over them (guts-net's `collab`).

use crate::keys::tree;
use crate::{Store, StoreError};

/// An operation id or a thread id (the id of the operation that opened it).
pub type CollabId = [u8; 32];

/// A page of kept operations: each with its cursor (its key).
pub type CollabPage = Vec<(Vec<u8>, Vec<u8>)>;

fn key(repo: &str, thread: &CollabId, op: Option<&CollabId>) -> Vec<u8> {
    let mut k = Vec::with_capacity(repo.len() + 65);
    k.extend_from_slice(repo.as_bytes());
    k.push(0);
    k.extend_from_slice(thread);
    if let Some(op) = op {
        k.extend_from_slice(op);
    }
    k
}

fn repo_prefix(repo: &str) -> Vec<u8> {
    let mut k = repo.as_bytes().to_vec();
    k.push(0);
    k
}

impl Store {
    /// Keeps an operation (and indexes it if it opens its thread). False if it was kept
    /// already. Not flushed: the caller flushes before acknowledging.
    pub fn put_collab_op(
        &self,
        repo: &str,
        thread: &CollabId,
        op: &CollabId,
        opens: bool,
        record: &[u8],
    ) -> Result<bool, StoreError> {
        let new = self
            .t
            .collab
            .compare_and_swap(key(repo, thread, Some(op)), None::<&[u8]>, Some(record))?
            .is_ok();
        if new && opens {
            self.t.threads.insert(key(repo, thread, None), record)?;
        }
        if new {
            let mut v = crate::sync::lock(&self.t.collab_versions);
            *v.entry(repo.to_string()).or_default() += 1;
        }
        Ok(new)
    }

    /// A number that changes whenever a new operation of `repo` is kept (in this process):
    /// what a cache of its threads is checked against.
    pub fn collab_version(&self, repo: &str) -> u64 {
        crate::sync::lock(&self.t.collab_versions)
            .get(repo)
            .copied()
            .unwrap_or(0)
    }

    /// Every operation of a thread, by id.
    pub fn collab_ops(&self, repo: &str, thread: &CollabId) -> Result<Vec<Vec<u8>>, StoreError> {
        self.t
            .collab
            .scan_prefix(key(repo, thread, None))
            .map(|item| Ok(item?.1.to_vec()))
            .collect()
    }

    /// The opening operations of a repository's threads, by thread id.
    pub fn collab_threads(&self, repo: &str) -> Result<Vec<(CollabId, Vec<u8>)>, StoreError> {
        let prefix = repo_prefix(repo);
        self.t
            .threads
            .scan_prefix(&prefix)
            .map(|item| {
                let (k, v) = item?;
                let id: CollabId =
                    k[prefix.len()..]
                        .try_into()
                        .map_err(|_| StoreError::Corrupt {
                            tree: tree::THREADS,
                            reason: "a thread key of the wrong length".into(),
                        })?;
                Ok((id, v.to_vec()))
            })
            .collect()
    }

    /// Up to `limit` operations of any repository after the cursor `after` (an opaque key
    /// a previous page returned), with their cursors: for anti-entropy.
    pub fn collab_records(
        &self,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<CollabPage, StoreError> {
        let range = match after {
            Some(a) => self
                .t
                .collab
                .range::<&[u8], _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
            None => self.t.collab.range::<&[u8], _>(..),
        };
        range
            .take(limit)
            .map(|item| {
                let (k, v) = item?;
                Ok((k.to_vec(), v.to_vec()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::{Store, StoreOptions};

    #[test]
    fn operations_are_kept_once_and_listed_by_thread_and_repository() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
        let (t1, t2) = ([1u8; 32], [2u8; 32]);
        assert!(
            store
                .put_collab_op("a/b", &t1, &t1, true, b"open1")
                .expect("put")
        );
        assert!(
            !store
                .put_collab_op("a/b", &t1, &t1, true, b"open1")
                .expect("put")
        );
        assert!(
            store
                .put_collab_op("a/b", &t1, &[9; 32], false, b"c")
                .expect("put")
        );
        assert!(
            store
                .put_collab_op("a/b", &t2, &t2, true, b"open2")
                .expect("put")
        );
        assert!(
            store
                .put_collab_op("a/bc", &t1, &t1, true, b"other")
                .expect("put")
        );
        assert_eq!(
            store.collab_ops("a/b", &t1).expect("ops"),
            vec![b"open1".to_vec(), b"c".to_vec()]
        );
        let threads = store.collab_threads("a/b").expect("threads");
        assert_eq!(threads.len(), 2);
        let page = store.collab_records(None, 3).expect("page");
        assert_eq!(page.len(), 3);
        let rest = store.collab_records(Some(&page[2].0), 10).expect("page");
        assert_eq!(rest.len(), 1);
    }
}
