//! Why a replication step failed, typed so that the machine (and a reader of the logs) can
//! tell what may succeed later (a peer that did not answer, a node still opening its
//! store, a disk error) from what never will (a corrupt pack, objects that are missing, a
//! malformed name).

use guts_store::StoreError;

/// A replication step's failure.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    /// The node is stopping, or its store is not open yet.
    #[error("node not ready: {0}")]
    NotReady(&'static str),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A file operation failed (spooling or reading a pack).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A peer did not answer, answered something else, or refused.
    #[error("peer: {0}")]
    Peer(String),
    /// What arrived is refused: a bad pack, missing objects, a malformed name or record.
    #[error("refused: {0}")]
    Refused(String),
    /// A blocking task panicked or was cancelled.
    #[error("task failed: {0}")]
    Task(String),
}

impl From<guts_git::odb::OdbError> for ReplicaError {
    fn from(e: guts_git::odb::OdbError) -> Self {
        ReplicaError::Store(StoreError::Odb(e))
    }
}

impl ReplicaError {
    /// True when trying again later may succeed; false when the same data will be refused
    /// again.
    pub fn is_transient(&self) -> bool {
        match self {
            ReplicaError::Refused(_) => false,
            ReplicaError::Store(e) => !matches!(
                e,
                StoreError::Pack(_)
                    | StoreError::Odb(_)
                    | StoreError::InvalidName(_)
                    | StoreError::Invalid(_)
            ),
            ReplicaError::NotReady(_)
            | ReplicaError::Io(_)
            | ReplicaError::Peer(_)
            | ReplicaError::Task(_) => true,
        }
    }

    /// A refusal, with what was wrong.
    pub fn refused(why: impl Into<String>) -> Self {
        ReplicaError::Refused(why.into())
    }

    /// A peer's failure, with what went wrong.
    pub fn peer(why: impl Into<String>) -> Self {
        ReplicaError::Peer(why.into())
    }
}

#[cfg(test)]
mod tests {
    use super::ReplicaError;
    use guts_git::pack::PackError;
    use guts_store::StoreError;

    #[test]
    fn what_may_succeed_later_is_told_from_what_never_will() {
        assert!(ReplicaError::peer("timed out").is_transient());
        assert!(ReplicaError::NotReady("store not open").is_transient());
        assert!(ReplicaError::Store(StoreError::NotFound).is_transient());
        assert!(!ReplicaError::refused("objects missing").is_transient());
        let bad_pack = StoreError::Pack(PackError::Truncated { offset: 12 });
        assert!(!ReplicaError::Store(bad_pack).is_transient());
    }
}
