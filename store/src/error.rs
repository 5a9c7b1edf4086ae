//! The store's error type.

use guts_git::odb::OdbError;
use guts_git::pack::PackError;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed (I/O, corruption).
    #[error("database: {0}")]
    Db(#[from] sled::Error),
    /// Another process (a running node) has the store open.
    #[error(
        "the store in {0} is in use by a running node: stop that node first, or go through \
         its API (--node URL --token TOKEN)"
    )]
    InUse(String),
    /// A file operation failed (spooling a pack).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A stored value could not be decoded.
    #[error("corrupt record under {tree}: {reason}")]
    Corrupt {
        /// The sled tree.
        tree: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A value could not be encoded.
    #[error("encoding: {0}")]
    Encode(String),
    /// The pack was refused.
    #[error("{0}")]
    Pack(#[from] PackError),
    /// An object lookup failed.
    #[error("{0}")]
    Odb(#[from] OdbError),
    /// The repository does not exist.
    #[error("repository not found")]
    NotFound,
    /// The repository already exists.
    #[error("repository already exists")]
    Exists,
    /// A name was refused.
    #[error("invalid name: {0}")]
    InvalidName(String),
    /// A value given by a client was refused (answered 422 with this text).
    #[error("invalid value: {0}")]
    Invalid(String),
    /// A fault of this node, not of the request (answered 500; the text goes to the log).
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for OdbError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Odb(e) => e,
            other => OdbError::Backend(Box::new(other)),
        }
    }
}
