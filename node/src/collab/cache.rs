//! Each repository's threads, folded and numbered once per change rather than on every
//! request: the store bumps a repository's operation version whenever it keeps a new
//! operation (made here or replicated), and a cached listing of an older version is rebuilt.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use guts_net::collab::Thread;
use guts_store::{Store, StoreError};

use super::view;

/// Repositories whose listing is kept at most (the least useful one goes first).
const MAX_REPOS: usize = 1024;

/// One repository's threads, newest number first, as of `version`.
#[derive(Debug)]
pub struct Listing {
    version: u64,
    /// Each thread with its number.
    pub threads: Vec<(u64, Thread)>,
}

/// The cached listings.
#[derive(Debug, Default)]
pub struct Listings {
    by_repo: Mutex<HashMap<String, Arc<Listing>>>,
}

impl Listings {
    /// `repo`'s threads as the store holds them now (blocking when rebuilt).
    pub fn get(&self, store: &Store, repo: &str) -> Result<Arc<Listing>, StoreError> {
        let version = store.collab_version(repo);
        if let Some(l) = guts_store::sync::lock(&self.by_repo).get(repo)
            && l.version == version
        {
            return Ok(l.clone());
        }
        // Built outside the lock: a write meanwhile bumps the version, and the next read
        // rebuilds.
        let listing = Arc::new(Listing {
            version,
            threads: view::list(store, repo)?,
        });
        let mut map = guts_store::sync::lock(&self.by_repo);
        if map.len() >= MAX_REPOS
            && !map.contains_key(repo)
            && let Some(k) = map.keys().next().cloned()
        {
            map.remove(&k);
        }
        map.insert(repo.to_string(), listing.clone());
        Ok(listing)
    }

    /// The thread `#n` (or named by its id in hex) of `repo`, with its number, from the
    /// listing: a lookup, not a fold of every opening operation.
    pub fn find(
        &self,
        store: &Store,
        repo: &str,
        which: &str,
    ) -> Result<Option<(u64, Thread)>, StoreError> {
        let listing = self.get(store, repo)?;
        let hit = match which.parse::<u64>() {
            Ok(n) => listing.threads.iter().find(|(k, _)| *k == n),
            Err(_) => match view::parse_id(which) {
                Some(id) => listing.threads.iter().find(|(_, t)| t.id == id),
                None => None,
            },
        };
        Ok(hit.cloned())
    }
}

#[cfg(test)]
mod tests {
    use guts_net::collab::{Action, Kind, Op};
    use guts_net::{Announcement, Body, Hlc, NodeKey, Stamp};

    use super::Listings;

    fn open(key: &NodeKey, store: &guts_store::Store, ms: u64, title: &str) {
        let op = Op {
            repo: "a/b".into(),
            thread: None,
            stamp: Stamp {
                hlc: Hlc {
                    wall_ms: ms,
                    logical: 0,
                },
                origin: key.id(),
            },
            author: "alice".into(),
            moderator: false,
            grant: Vec::new(),
            action: Action::Open {
                kind: Kind::Issue,
                title: title.into(),
                body: String::new(),
                number: ms,
            },
        };
        let record = Announcement::sign(key, Body::Collab { op: op.clone() })
            .encode()
            .expect("encode");
        let id = op.id().0;
        store
            .put_collab_op("a/b", &id, &id, true, &record)
            .expect("put");
    }

    #[test]
    fn a_listing_is_reused_until_a_new_operation_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = guts_store::Store::open(dir.path(), Default::default()).expect("store");
        let key = NodeKey::generate().expect("key");
        let cache = Listings::default();
        open(&key, &store, 1, "first");
        let a = cache.get(&store, "a/b").expect("listing");
        let b = cache.get(&store, "a/b").expect("listing");
        assert!(std::sync::Arc::ptr_eq(&a, &b), "reused");
        open(&key, &store, 2, "second");
        let c = cache.get(&store, "a/b").expect("listing");
        let titles: Vec<&str> = c.threads.iter().map(|(_, t)| t.title.as_str()).collect();
        assert_eq!(titles, ["second", "first"], "rebuilt, newest first");
        assert!(
            cache
                .get(&store, "x/y")
                .expect("listing")
                .threads
                .is_empty()
        );
    }
}
