//! The values the store keeps, as they are encoded by [`crate::codec`].

use guts_git::{Kind, ObjectId};
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// A repository's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoRecord {
    /// Internal id: the prefix of all the repository's keys.
    pub id: u64,
    /// Owner (user or organization) name.
    pub owner: String,
    /// Repository name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Hidden from anonymous readers (enforced once accounts exist).
    pub private: bool,
    /// The branch HEAD points at, without `refs/heads/`.
    pub default_branch: String,
    /// Seconds since the epoch.
    pub created_at: u64,
    /// Seconds since the epoch.
    pub updated_at: u64,
}

impl RepoRecord {
    /// Its full name, `owner/name` (checked when the repository was created).
    pub fn full_name(&self) -> crate::RepoName {
        crate::RepoName::checked(&self.owner, &self.name)
    }
}

/// What a new repository is made of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRepo {
    /// Owner name.
    pub owner: String,
    /// Repository name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Private repository.
    pub private: bool,
    /// Default branch (`main` when empty).
    pub default_branch: String,
}

/// A partial update of a repository's metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoPatch {
    /// New description.
    pub description: Option<String>,
    /// New visibility.
    pub private: Option<bool>,
    /// New default branch.
    pub default_branch: Option<String>,
}

/// A stored pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackRecord {
    /// The pack's trailing checksum.
    pub checksum: [u8; 20],
    /// Length in bytes, trailer included.
    pub len: u64,
    /// Number of objects.
    pub objects: u32,
    /// How many of them are deltas.
    pub deltas: u32,
    /// How many of them are the repository's canonical copy (were new when stored).
    pub canonical: u32,
    /// Whole objects appended to complete a thin pack (copies of stored objects), at the end.
    pub thin_bases: u32,
    /// Where the entries received end and the appended thin bases (if any) start.
    pub entries_end: u64,
    /// Bytes per chunk (the last chunk may be shorter).
    pub chunk_size: u32,
    /// Seconds since the epoch.
    pub stored_at: u64,
}

/// Where the canonical copy of an object is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjLoc {
    /// The pack id.
    pub pack: u64,
    /// The entry's offset in the pack.
    pub offset: u64,
    /// Where its zlib data starts.
    pub data_offset: u64,
    /// Where the entry ends.
    pub end: u64,
    /// The object's kind (pack type number 1-4).
    pub kind: u8,
    /// The object's size.
    pub size: u64,
    /// For a delta entry: the id of its base object.
    pub base: Option<[u8; 20]>,
}

impl ObjLoc {
    /// The object's kind.
    pub fn kind(&self) -> Result<Kind, StoreError> {
        Kind::from_pack_type(self.kind).ok_or_else(|| StoreError::Corrupt {
            tree: crate::keys::tree::OBJECTS,
            reason: format!("object kind {}", self.kind),
        })
    }

    /// The delta base's id, for a delta entry.
    pub fn base_id(&self) -> Option<ObjectId> {
        self.base.map(ObjectId::from_bytes)
    }
}

/// A ref's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefValue {
    /// The object it points at.
    pub id: [u8; 20],
}

impl RefValue {
    /// The target as an object id.
    pub fn oid(&self) -> ObjectId {
        ObjectId::from_bytes(self.id)
    }
}

/// Seconds since the epoch, now.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
