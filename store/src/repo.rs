//! A handle on one repository.

use guts_git::ObjectId;
use guts_git::odb::{OdbError, RefRead};

use crate::keys::{self, tree};
use crate::{PackRecord, RepoOdb, RepoRecord, Store, StoreError, codec};

/// One repository: its metadata as read when the handle was made, its refs, its objects.
#[derive(Debug, Clone)]
pub struct Repo {
    pub(crate) store: Store,
    record: RepoRecord,
}

impl Repo {
    pub(crate) fn new(store: Store, record: RepoRecord) -> Self {
        Repo { store, record }
    }

    /// The metadata.
    pub fn record(&self) -> &RepoRecord {
        &self.record
    }

    /// Its full name, `owner/name`.
    pub fn full_name(&self) -> crate::RepoName {
        self.record.full_name()
    }

    /// The store the repository lives in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The internal id.
    pub fn id(&self) -> u64 {
        self.record.id
    }

    /// A reader for the repository's objects (each reader has its own caches).
    pub fn odb(&self) -> RepoOdb {
        RepoOdb::new(self.store.clone(), self.record.id)
    }

    /// The full name HEAD points at.
    pub fn head_ref(&self) -> String {
        format!("refs/heads/{}", self.record.default_branch)
    }

    /// The stored packs, oldest first.
    pub fn packs(&self) -> Result<Vec<(u64, PackRecord)>, StoreError> {
        let mut out = Vec::new();
        for item in self
            .store
            .t
            .packs
            .scan_prefix(keys::repo_prefix(self.record.id))
        {
            let (k, v) = item?;
            let (_, pack) = keys::pack_ids(&k).ok_or_else(|| StoreError::Corrupt {
                tree: tree::PACKS,
                reason: "short key".into(),
            })?;
            out.push((pack, codec::decode(tree::PACKS, &v)?));
        }
        Ok(out)
    }

    /// True while every stored object is reachable from the refs: a full clone may then
    /// send every stored object without walking the history.
    pub fn is_closed(&self) -> Result<bool, StoreError> {
        Ok(self
            .store
            .t
            .closed
            .contains_key(keys::repo_prefix(self.id()))?)
    }

    /// Records that objects may have become unreachable (a deleted or rewritten ref, or a
    /// pack with objects no ref reaches). Call before the change that causes it.
    pub fn mark_open(&self) -> Result<(), StoreError> {
        self.store.t.closed.remove(keys::repo_prefix(self.id()))?;
        Ok(())
    }

    /// Makes everything written so far durable.
    pub fn store_flush(&self) -> Result<(), StoreError> {
        self.store.flush()
    }

    /// Bytes of stored packs.
    pub fn size(&self) -> Result<u64, StoreError> {
        Ok(self.packs()?.iter().map(|(_, p)| p.len).sum())
    }
}

impl RefRead for Repo {
    fn refs(&self) -> Result<Vec<(String, ObjectId)>, OdbError> {
        Ok(self.list_refs()?)
    }

    fn head_target(&self) -> Result<Option<String>, OdbError> {
        Ok(Some(self.head_ref()))
    }
}
