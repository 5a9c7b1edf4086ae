//! Whether a pull request merges, computed with guts-git's own three-way merge over the
//! store's objects: the base repository's, then the head repository's (a fork), with what
//! the merge writes kept in memory and dropped (nothing is stored until a merge is made).

use guts_git::merge::{MergeError, Merged, ObjectWrite, merge_commits};
use guts_git::odb::{MemoryOdb, ObjectRead, OdbError};
use guts_git::{Kind, ObjectId};
use guts_store::RepoOdb;

/// Reads the repositories' objects and keeps what a merge writes in memory.
pub struct Scratch {
    written: MemoryOdb,
    base: RepoOdb,
    head: Option<RepoOdb>,
}

impl Scratch {
    /// Over the base repository and, for a pull request from a fork, the head's.
    pub fn new(base: RepoOdb, head: Option<RepoOdb>) -> Scratch {
        Scratch {
            written: MemoryOdb::new(),
            base,
            head,
        }
    }
}

impl ObjectRead for Scratch {
    fn read_object(&self, id: &ObjectId) -> Result<Option<(Kind, Vec<u8>)>, OdbError> {
        if let Some(o) = self.written.read_object(id)? {
            return Ok(Some(o));
        }
        if let Some(o) = self.base.read_object(id)? {
            return Ok(Some(o));
        }
        match &self.head {
            Some(h) => h.read_object(id),
            None => Ok(None),
        }
    }
}

impl ObjectWrite for Scratch {
    fn write_object(&self, kind: Kind, data: &[u8]) -> Result<ObjectId, OdbError> {
        self.written.write_object(kind, data)
    }
}

/// The merge of `head` into `base` (blocking: reads and merges whole trees).
pub fn check(scratch: &Scratch, base: &ObjectId, head: &ObjectId) -> Result<Merged, MergeError> {
    merge_commits(scratch, base, head, ("base", "head"))
}
