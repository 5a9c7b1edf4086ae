//! The object and ref database traits that the negotiation helpers and the pack writer read
//! through; `guts-store` implements them over sled, [`MemoryOdb`] in memory.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::{Kind, ObjectId};

/// A failure of the storage behind an object or ref database.
#[derive(Debug, thiserror::Error)]
pub enum OdbError {
    /// An object that must exist (because something reachable names it) is missing.
    #[error("object {id} is missing")]
    Missing {
        /// The missing object.
        id: ObjectId,
    },
    /// An object exists but is not of the kind the reference to it says.
    #[error("object {id} is a {actual}, expected a {expected}")]
    WrongKind {
        /// The object.
        id: ObjectId,
        /// What the reference expected.
        expected: Kind,
        /// What it is.
        actual: Kind,
    },
    /// An object's content could not be parsed.
    #[error("object {id} is malformed")]
    Malformed {
        /// The object.
        id: ObjectId,
        /// Why.
        #[source]
        source: crate::ObjectError,
    },
    /// The storage backend failed.
    #[error("object database backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Read access to objects.
pub trait ObjectRead {
    /// The kind and content of an object, or `None` when it is not here.
    fn read_object(&self, id: &ObjectId) -> Result<Option<(Kind, Vec<u8>)>, OdbError>;

    /// The kind and size of an object without necessarily reading its content.
    fn object_header(&self, id: &ObjectId) -> Result<Option<(Kind, u64)>, OdbError> {
        Ok(self.read_object(id)?.map(|(k, d)| (k, d.len() as u64)))
    }

    /// Whether the object is here.
    fn contains(&self, id: &ObjectId) -> Result<bool, OdbError> {
        Ok(self.object_header(id)?.is_some())
    }

    /// Reads an object that must exist and be of `kind`.
    fn read_kind(&self, id: &ObjectId, kind: Kind) -> Result<Vec<u8>, OdbError> {
        match self.read_object(id)? {
            Some((k, data)) if k == kind => Ok(data),
            Some((actual, _)) => Err(OdbError::WrongKind {
                id: *id,
                expected: kind,
                actual,
            }),
            None => Err(OdbError::Missing { id: *id }),
        }
    }
}

impl<T: ObjectRead + ?Sized> ObjectRead for &T {
    fn read_object(&self, id: &ObjectId) -> Result<Option<(Kind, Vec<u8>)>, OdbError> {
        (**self).read_object(id)
    }
    fn object_header(&self, id: &ObjectId) -> Result<Option<(Kind, u64)>, OdbError> {
        (**self).object_header(id)
    }
    fn contains(&self, id: &ObjectId) -> Result<bool, OdbError> {
        (**self).contains(id)
    }
}

/// Read access to refs.
pub trait RefRead {
    /// Every ref with its target, sorted by name.
    fn refs(&self) -> Result<Vec<(String, ObjectId)>, OdbError>;
    /// The ref HEAD points at (`refs/heads/main`), if any.
    fn head_target(&self) -> Result<Option<String>, OdbError>;
}

/// An object database in memory, for tests and small tools.
#[derive(Debug, Default)]
pub struct MemoryOdb {
    objects: RwLock<HashMap<ObjectId, (Kind, Vec<u8>)>>,
}

impl MemoryOdb {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores an object under its (fast-hashed) id and returns the id.
    pub fn insert(&self, kind: Kind, data: Vec<u8>) -> ObjectId {
        let id = crate::hash::hash_object(crate::HashMode::Fast, kind, &data)
            .expect("the fast hasher never reports collisions");
        self.insert_with_id(id, kind, data);
        id
    }

    /// Stores an object under an id the caller already computed.
    pub fn insert_with_id(&self, id: ObjectId, kind: Kind, data: Vec<u8>) {
        let mut map = self.objects.write().unwrap_or_else(|e| e.into_inner());
        map.insert(id, (kind, data));
    }

    /// How many objects are stored.
    pub fn len(&self) -> usize {
        self.objects.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds every object of `git cat-file --batch` output (`ID KIND SIZE\nDATA\n`...);
    /// returns how many, or `None` at the first malformed record.
    pub fn insert_batch(&self, mut out: &[u8]) -> Option<usize> {
        let mut n = 0;
        while !out.is_empty() {
            let nl = out.iter().position(|&b| b == b'\n')?;
            let header = std::str::from_utf8(&out[..nl]).ok()?;
            let mut parts = header.split(' ');
            let id: ObjectId = parts.next()?.parse().ok()?;
            let kind = Kind::from_name(parts.next()?.as_bytes())?;
            let size: usize = parts.next()?.parse().ok()?;
            let data = out.get(nl + 1..nl + 1 + size)?.to_vec();
            out = out.get(nl + 1 + size + 1..)?;
            self.insert_with_id(id, kind, data);
            n += 1;
        }
        Some(n)
    }

    /// All stored ids.
    pub fn ids(&self) -> Vec<ObjectId> {
        let map = self.objects.read().unwrap_or_else(|e| e.into_inner());
        map.keys().copied().collect()
    }
}

impl ObjectRead for MemoryOdb {
    fn read_object(&self, id: &ObjectId) -> Result<Option<(Kind, Vec<u8>)>, OdbError> {
        let map = self.objects.read().unwrap_or_else(|e| e.into_inner());
        Ok(map.get(id).cloned())
    }

    fn object_header(&self, id: &ObjectId) -> Result<Option<(Kind, u64)>, OdbError> {
        let map = self.objects.read().unwrap_or_else(|e| e.into_inner());
        Ok(map.get(id).map(|(k, d)| (*k, d.len() as u64)))
    }
}
