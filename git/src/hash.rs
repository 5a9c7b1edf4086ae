//! Hashing objects into ids.
//!
//! Objects that come from someone else (a push, a peer) are hashed with SHA-1 collision
//! detection, as git itself does, so a crafted collision is refused. Objects we made ourselves
//! can use the plain (hardware accelerated) SHA-1.

use sha1::Digest;

use crate::{Kind, ObjectId};

/// Which SHA-1 implementation hashes objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashMode {
    /// SHA-1 with collision detection: for data received from others.
    #[default]
    Checked,
    /// Plain SHA-1: for data this process produced or already verified.
    Fast,
}

/// The hash of an object that is part of a SHA-1 collision attack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("object {id} looks like part of a SHA-1 collision attack")]
pub struct CollisionError {
    /// The (colliding) id the data hashes to.
    pub id: ObjectId,
}

/// An incremental object hasher: the `kind size\0` header, then the content.
#[derive(Clone)]
pub struct ObjectHasher {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Fast(sha1::Sha1),
    Checked(Box<sha1_checked::Sha1>),
}

impl ObjectHasher {
    /// Starts hashing an object of `kind` whose content is `size` bytes long.
    pub fn new(mode: HashMode, kind: Kind, size: u64) -> Self {
        let mut h = Self::raw(mode);
        let mut header = [0u8; 32];
        let len = object_header(kind, size, &mut header);
        h.update(&header[..len]);
        h
    }

    /// A hasher with no header, for checksums over raw bytes.
    pub fn raw(mode: HashMode) -> Self {
        let inner = match mode {
            HashMode::Fast => Inner::Fast(sha1::Sha1::new()),
            HashMode::Checked => Inner::Checked(Box::new(sha1_checked::Sha1::new())),
        };
        ObjectHasher { inner }
    }

    /// Feeds more content.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.inner {
            Inner::Fast(h) => h.update(data),
            Inner::Checked(h) => sha1_checked::Digest::update(h.as_mut(), data),
        }
    }

    /// The id, or an error when collision detection fired.
    pub fn finish(self) -> Result<ObjectId, CollisionError> {
        match self.inner {
            Inner::Fast(h) => Ok(ObjectId::from_bytes(h.finalize().into())),
            Inner::Checked(h) => {
                let result = h.try_finalize();
                let id = ObjectId::from_bytes((*result.hash()).into());
                if result.has_collision() {
                    Err(CollisionError { id })
                } else {
                    Ok(id)
                }
            }
        }
    }
}

/// Writes `kind size\0` into `out` and returns its length.
pub fn object_header(kind: Kind, size: u64, out: &mut [u8; 32]) -> usize {
    let name = kind.name().as_bytes();
    out[..name.len()].copy_from_slice(name);
    let mut n = name.len();
    out[n] = b' ';
    n += 1;
    // Decimal digits without allocating (this runs once per object hashed).
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = size;
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let digits = &digits[i..];
    out[n..n + digits.len()].copy_from_slice(digits);
    n += digits.len();
    out[n] = 0;
    n + 1
}

/// Hashes a whole object in one call.
pub fn hash_object(mode: HashMode, kind: Kind, data: &[u8]) -> Result<ObjectId, CollisionError> {
    let mut h = ObjectHasher::new(mode, kind, data.len() as u64);
    h.update(data);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_blob_and_tree_have_gits_ids_in_both_modes() {
        for mode in [HashMode::Fast, HashMode::Checked] {
            assert_eq!(
                hash_object(mode, Kind::Blob, b"").unwrap().to_hex(),
                "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
            );
            assert_eq!(
                hash_object(mode, Kind::Tree, b"").unwrap().to_hex(),
                "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
            );
        }
    }
}
