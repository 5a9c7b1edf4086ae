//! The one error type for object parsing and validation.

use crate::Kind;

/// Why an object's bytes were refused (in the spirit of `git fsck`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// A tree entry is cut off.
    #[error("tree entry at byte {offset} is truncated")]
    TreeTruncated {
        /// Where the entry starts.
        offset: usize,
    },
    /// A tree entry's mode is not one git writes.
    #[error("tree entry at byte {offset} has an invalid mode")]
    TreeBadMode {
        /// Where the entry starts.
        offset: usize,
    },
    /// A tree entry's name is empty, `.`, `..`, `.git`, or has a slash.
    #[error("tree entry at byte {offset} has an invalid name: {reason}")]
    TreeBadName {
        /// Where the entry starts.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Tree entries are not in git's order.
    #[error("tree entry at byte {offset} is out of order")]
    TreeUnsorted {
        /// Where the entry starts.
        offset: usize,
    },
    /// Two tree entries have the same name.
    #[error("tree entry at byte {offset} duplicates an earlier name")]
    TreeDuplicate {
        /// Where the entry starts.
        offset: usize,
    },
    /// A required header is missing or out of place.
    #[error("{kind} is missing its `{header}` header")]
    MissingHeader {
        /// The object kind.
        kind: Kind,
        /// The header git requires at this position.
        header: &'static str,
    },
    /// A header's value is malformed.
    #[error("{kind} has a malformed `{header}` header: {reason}")]
    BadHeader {
        /// The object kind.
        kind: Kind,
        /// The header name.
        header: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The header block has no terminating newline or contains a NUL byte.
    #[error("{kind} header block is malformed: {reason}")]
    BadHeaderBlock {
        /// The object kind.
        kind: Kind,
        /// What is wrong with it.
        reason: &'static str,
    },
}
