//! Every sled key, as an ordered byte string. Integers are big-endian so that keys sort
//! numerically; a repository's keys share the 8-byte id prefix so one range scan finds them.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `repos` | owner `0x00` name | [`crate::RepoRecord`] |
//! | `refs` | repo id, ref name | [`crate::RefValue`] |
//! | `objects` | repo id, object id | [`crate::ObjLoc`] (the object's canonical copy) |
//! | `packs` | repo id, pack id | [`crate::PackRecord`] |
//! | `chunks` | repo id, pack id, chunk number | raw pack bytes |
//! | `pending` | repo id, pack id | empty: a pack being written (removed on recovery) |
//! | `deleting` | repo id | empty: a repository being deleted (finished on recovery) |
//! | `closed` | repo id | empty: every stored object is reachable from the refs |
//! | `updates` | repo id, caller's key | the replicated update log (opaque) |
//! | `accounts` | account key (`user/alice`, ...) | its latest signed record, kept after deletion (opaque) |
//! | `log_digests` | repo id | entry count, XOR of SHA-1 of each log key |
//! | `signed` | `owner/name` | the repository's latest signed record, kept after deletion (opaque) |

use guts_git::ObjectId;

/// Tree names.
pub mod tree {
    /// Repository metadata.
    pub const REPOS: &str = "repos";
    /// Refs.
    pub const REFS: &str = "refs";
    /// The object index.
    pub const OBJECTS: &str = "objects";
    /// Pack records.
    pub const PACKS: &str = "packs";
    /// Pack bytes in chunks.
    pub const CHUNKS: &str = "chunks";
    /// Packs being written.
    pub const PENDING: &str = "pending";
    /// Repositories being deleted.
    pub const DELETING: &str = "deleting";
    /// Repositories whose every stored object is reachable from their refs.
    pub const CLOSED: &str = "closed";
    /// Each repository's log of replicated ref updates (opaque to the store).
    pub const UPDATES: &str = "updates";
    /// Each repository's latest signed record (opaque to the store), kept after deletion.
    pub const SIGNED: &str = "signed";
    /// Account records (opaque to the store), kept after deletion.
    pub const ACCOUNTS: &str = "accounts";
    /// Each repository's update log digest: entry count and XOR of key hashes.
    pub const LOG_DIGESTS: &str = "log_digests";
    /// The node's bounded event log (see `events.rs`).
    pub const EVENTS: &str = "events";
    /// Operations on issues and pull requests (opaque to the store), by repository,
    /// thread and operation.
    pub const COLLAB: &str = "collab";
    /// Each repository's threads: its opening operation, by repository and thread.
    pub const THREADS: &str = "threads";
}

/// `repos` key.
pub fn repo(owner: &str, name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(owner.len() + name.len() + 1);
    k.extend_from_slice(owner.as_bytes());
    k.push(0);
    k.extend_from_slice(name.as_bytes());
    k
}

/// `updates` key: the repository, then the caller's key (ordered as the caller wants).
pub fn log_entry(repo: u64, key: &[u8]) -> Vec<u8> {
    let mut k = repo.to_be_bytes().to_vec();
    k.extend_from_slice(key);
    k
}

/// The prefix every key of a repository starts with.
pub fn repo_prefix(repo: u64) -> [u8; 8] {
    repo.to_be_bytes()
}

/// `refs` key.
pub fn ref_key(repo: u64, name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + name.len());
    k.extend_from_slice(&repo.to_be_bytes());
    k.extend_from_slice(name.as_bytes());
    k
}

/// The ref name of a `refs` key.
pub fn ref_name(key: &[u8]) -> Option<&str> {
    key.get(8..).and_then(|n| std::str::from_utf8(n).ok())
}

/// `objects` key.
pub fn object(repo: u64, id: &ObjectId) -> [u8; 28] {
    let mut k = [0u8; 28];
    k[..8].copy_from_slice(&repo.to_be_bytes());
    k[8..].copy_from_slice(id.as_bytes());
    k
}

/// The object id of an `objects` key.
pub fn object_id(key: &[u8]) -> Option<ObjectId> {
    key.get(8..).and_then(ObjectId::from_slice)
}

/// `packs` and `pending` key.
pub fn pack(repo: u64, pack: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&repo.to_be_bytes());
    k[8..].copy_from_slice(&pack.to_be_bytes());
    k
}

/// The (repo, pack) ids of a `packs` or `pending` key.
pub fn pack_ids(key: &[u8]) -> Option<(u64, u64)> {
    let repo = u64::from_be_bytes(key.get(..8)?.try_into().ok()?);
    let pack = u64::from_be_bytes(key.get(8..16)?.try_into().ok()?);
    Some((repo, pack))
}

/// `chunks` key.
pub fn chunk(repo: u64, pack: u64, n: u32) -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..16].copy_from_slice(&self::pack(repo, pack));
    k[16..].copy_from_slice(&n.to_be_bytes());
    k
}

/// The repository id of a `deleting` key.
pub fn repo_id(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.get(..8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_numerically_and_round_trip() {
        assert!(pack(1, 255) < pack(1, 256));
        assert!(pack(1, u64::MAX) < pack(2, 0));
        assert!(chunk(1, 2, 9) < chunk(1, 2, 10));
        assert_eq!(pack_ids(&pack(7, 9)), Some((7, 9)));
        assert_eq!(
            ref_name(&ref_key(3, "refs/heads/main")),
            Some("refs/heads/main")
        );
        let id = ObjectId::from_bytes([5; 20]);
        assert_eq!(object_id(&object(3, &id)), Some(id));
        assert!(
            repo("a", "b") < repo("a-", "a"),
            "owner ends before name starts"
        );
    }
}
