//! What the network needs from the node it runs in: its signed update logs, packs built by
//! want/have, and a way to apply what arrived. Every method may block (sled, packs): the
//! network calls them off the async runtime.

use std::fs::File;

use crate::announce::RepoState;
use crate::error::ReplicaError;
use crate::hlc::Stamp;
use crate::proto::RepoDigest;
use crate::signed::SignedRef;

/// What to do with a repository's signed updates learned from a peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncPlan {
    /// The updates this node has not applied yet.
    pub new: Vec<SignedRef>,
    /// Objects they need that this node lacks.
    pub wants: Vec<[u8; 20]>,
    /// What this node has (its ref tips), to keep the pack small.
    pub haves: Vec<[u8; 20]>,
}

/// What happened on the network, for the node's hub and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetEvent {
    /// A peer connected.
    PeerConnected(String),
    /// A peer's last connection closed.
    PeerDisconnected(String),
}

/// The node side of replication.
pub trait Host: Send + Sync + 'static {
    /// Digests of every repository's signed update log.
    fn digests(&self) -> Vec<RepoDigest>;
    /// Every repository this node holds (`owner/name`), with a log or not: what it
    /// provides in the DHT and checks against other holders.
    fn held(&self) -> Vec<String>;
    /// A repository's signed updates stamped after `after` (all: none), oldest first, at
    /// most `limit`.
    fn updates(&self, repo: &str, after: Option<Stamp>, limit: usize) -> Vec<SignedRef>;
    /// Which of `updates` are new here and what objects they need.
    fn plan(&self, repo: &str, updates: &[SignedRef]) -> Result<SyncPlan, ReplicaError>;
    /// A pack of what `wants` reach that `haves` do not, in a temp file, and its length.
    fn build_pack(
        &self,
        repo: &str,
        wants: &[[u8; 20]],
        haves: &[[u8; 20]],
    ) -> Result<(File, u64), ReplicaError>;
    /// A stored pack named by its trailing checksum, copied to a temp file, and its length.
    fn stored_pack(&self, repo: &str, checksum: &[u8; 20]) -> Result<(File, u64), ReplicaError>;
    /// A temp file to download a pack into.
    fn spool(&self) -> std::io::Result<File>;
    /// Verifies `pack` exactly as a push, stores it, then applies `updates` with the merge
    /// rule. Returns how many updates were applied.
    fn apply(
        &self,
        repo: &str,
        pack: Option<File>,
        updates: Vec<SignedRef>,
    ) -> Result<usize, ReplicaError>;
    /// The latest signed records (encoded [`crate::Announcement`]s) this node keeps, of
    /// repositories and then of account keys, each with its cursor (cursors only grow):
    /// at most `limit` after `after`.
    fn records(&self, after: Option<&str>, limit: usize) -> Vec<(String, Vec<u8>)>;
    /// Applies a verified repository record (`record` is its signed announcement, to keep
    /// and pass on) if it is newer than the one kept: creates the repository or updates its
    /// metadata, or deletes it (unless it was pushed to after `stamp`). Returns false if it
    /// was not newer.
    fn apply_record(
        &self,
        repo: &str,
        stamp: Stamp,
        state: &RepoState,
        record: Vec<u8>,
    ) -> Result<bool, ReplicaError>;
    /// Applies a verified account record (`record`, to keep and pass on) if it is newer
    /// than the one kept for `key`. Returns false if it was not newer.
    fn apply_account(
        &self,
        key: &str,
        stamp: Stamp,
        entry: Option<&crate::accounts::Entry>,
        record: Vec<u8>,
    ) -> Result<bool, ReplicaError>;
    /// Keeps a verified operation on an issue or pull request (`record` is its signed
    /// announcement, to keep and pass on). Returns false if it was kept already.
    fn apply_op(&self, op: &crate::collab::Op, record: Vec<u8>) -> Result<bool, ReplicaError>;
    /// Something happened on the network.
    fn event(&self, event: NetEvent);
}
