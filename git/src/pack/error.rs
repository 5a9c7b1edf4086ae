//! The one error type for reading and writing packs.

use super::delta::DeltaError;
use crate::hash::CollisionError;
use crate::odb::OdbError;
use crate::{ObjectError, ObjectId};

/// Why a pack was refused. Offsets are pack offsets of the entry concerned.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Reading the input or the spool, or writing the output, failed.
    #[error("pack I/O failed")]
    Io(#[from] std::io::Error),
    /// The pack does not start with `PACK`.
    #[error("not a pack: bad signature")]
    BadSignature,
    /// Only version 2 (and the identical version 3) exist.
    #[error("unsupported pack version {version}")]
    UnsupportedVersion {
        /// The version in the header.
        version: u32,
    },
    /// The header announces more objects than allowed.
    #[error("pack has {count} objects, over the limit of {max}")]
    TooManyObjects {
        /// The announced count.
        count: u32,
        /// The limit.
        max: u32,
    },
    /// The pack is longer than allowed.
    #[error("pack is over the limit of {max} bytes")]
    TooLarge {
        /// The limit.
        max: u64,
    },
    /// The stream ended before the pack did.
    #[error("pack is truncated at offset {offset}")]
    Truncated {
        /// How far it got.
        offset: u64,
    },
    /// Bytes follow the trailer.
    #[error("pack has junk after its trailer")]
    TrailingData,
    /// An entry header is malformed.
    #[error("entry at offset {offset} has a malformed header: {reason}")]
    BadEntryHeader {
        /// The entry.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// An OFS_DELTA points at something that is not an earlier entry.
    #[error("entry at offset {offset} has a delta base offset {base_offset} that is not an entry")]
    BadBaseOffset {
        /// The entry.
        offset: u64,
        /// Where its base would be.
        base_offset: u64,
    },
    /// An entry is its own delta base.
    #[error("entry at offset {offset} is part of a delta cycle")]
    DeltaCycle {
        /// The entry.
        offset: u64,
    },
    /// A REF_DELTA's base is neither in the pack nor available outside it.
    #[error("entry at offset {offset} is a delta against {base}, which is missing")]
    MissingBase {
        /// The entry.
        offset: u64,
        /// The missing base.
        base: ObjectId,
    },
    /// The zlib stream of an entry is corrupt.
    #[error("entry at offset {offset} has corrupt compressed data")]
    Inflate {
        /// The entry.
        offset: u64,
    },
    /// An entry inflates to a different size than its header says.
    #[error("entry at offset {offset} inflates to a different size than its header's {expected}")]
    SizeMismatch {
        /// The entry.
        offset: u64,
        /// The size in the header.
        expected: u64,
    },
    /// An object (or delta) is larger than allowed.
    #[error("entry at offset {offset} is {size} bytes, over the limit of {max}")]
    ObjectTooLarge {
        /// The entry.
        offset: u64,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A delta chain is longer than [`super::MAX_DELTA_CHAIN`].
    #[error("entry at offset {offset} is a delta chain {depth} deep, over the limit of {max}")]
    ChainTooDeep {
        /// The entry.
        offset: u64,
        /// Its depth.
        depth: u32,
        /// The limit.
        max: usize,
    },
    /// A delta does not apply to its base.
    #[error("entry at offset {offset} has a bad delta")]
    BadDelta {
        /// The entry.
        offset: u64,
        /// Why.
        #[source]
        source: DeltaError,
    },
    /// An object failed validation.
    #[error("object {id} at offset {offset} is invalid")]
    InvalidObject {
        /// The entry.
        offset: u64,
        /// The object's id.
        id: ObjectId,
        /// Why.
        #[source]
        source: ObjectError,
    },
    /// An object hashes to a SHA-1 collision.
    #[error("entry at offset {offset} is a SHA-1 collision attack")]
    Collision {
        /// The entry.
        offset: u64,
        /// The collision.
        #[source]
        source: CollisionError,
    },
    /// The trailer does not match the pack's content.
    #[error("pack checksum mismatch: trailer says {expected}, content hashes to {actual}")]
    ChecksumMismatch {
        /// The trailer.
        expected: ObjectId,
        /// The computed checksum.
        actual: ObjectId,
    },
    /// Looking up a thin pack's external base failed.
    #[error("looking up a delta base outside the pack failed")]
    Lookup(#[source] OdbError),
    /// A writer was given a different number of entries than its header announced.
    #[error("pack header announced {announced} objects, {written} were written")]
    CountMismatch {
        /// The count in the header.
        announced: u32,
        /// The entries written.
        written: u32,
    },
    /// A worker thread panicked (a bug, reported rather than propagated).
    #[error("a delta resolution thread failed")]
    WorkerPanicked,
    /// Delta resolution reached a state its invariants exclude (a bug, reported as an error).
    #[error("delta resolution invariant broken: {reason}")]
    Internal {
        /// Which invariant.
        reason: &'static str,
    },
}
