//! Replication, node side: the node's identity and clock, the signed update log kept in the
//! store for every ref change (local pushes and replicated ones alike), and the
//! [`guts_net::Host`] the network calls to read logs, build packs and apply what arrived.
//!
//! - `mod.rs`: [`Replication`]: signing and logging local pushes, signing repository records
//!   (created, updated, deleted), then announcing them.
//! - `log.rs`: log keys and entries, and rebuilding a ref's merge state from the log.
//! - `host.rs`: digests, paged updates, plans, packs and stored packs for peers; applying
//!   repository records.
//! - `apply.rs`: verifying a fetched pack like a push and applying updates by the merge rule;
//!   settling conflict refs after a local push.

mod apply;
mod host;
mod log;

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use guts_git::ObjectId;
use guts_net::{
    Announcement, Body, Clock, Hlc, NetHandle, NodeId, NodeKey, PackRef, RepoMeta, RepoState,
    SignedRef,
};
use guts_store::{Repo, RepoRecord, Store, StoreError};

pub use host::NodeHost;
pub use log::log_key;

/// Conflicts a local push settled: each ref and the tip that is no longer a conflict.
pub type Settled = Vec<(String, ObjectId)>;

/// The file the node's key lives in, inside the data dir.
pub const KEY_FILE: &str = "node.key";

/// The node's replication state.
#[derive(Debug)]
pub struct Replication {
    key: NodeKey,
    clock: Mutex<Clock>,
    /// Set once the network is up (never, with p2p off).
    pub net: OnceLock<NetHandle>,
    /// Set when the network failed to start.
    pub net_error: OnceLock<String>,
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Replication {
    /// Loads (or creates) the node's key in `data_dir`.
    pub fn load(data_dir: &Path) -> Result<Replication, guts_net::IdentityError> {
        let key = NodeKey::load_or_create(&data_dir.join(KEY_FILE))?;
        Ok(Replication {
            clock: Mutex::new(Clock::new(key.id(), Hlc::default())),
            key,
            net: OnceLock::new(),
            net_error: OnceLock::new(),
        })
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.key.id()
    }

    /// The key (for the network).
    pub fn key(&self) -> &NodeKey {
        &self.key
    }

    fn clock(&self) -> std::sync::MutexGuard<'_, Clock> {
        guts_store::sync::lock(&self.clock)
    }

    /// Takes a stamp from elsewhere into account.
    pub fn observe(&self, hlc: Hlc) {
        let _ = self.clock().observe(hlc, now_ms());
    }

    /// Signs and logs ref changes just made by a local push (call with the repository's
    /// writer lock held, before the store is flushed). Returns the signed updates and the
    /// conflicts the push settled (ref and tip).
    pub fn record_local(
        &self,
        repo: &Repo,
        changes: &[(String, ObjectId, ObjectId)],
        pusher: Option<&guts_net::Pusher>,
    ) -> Result<(Vec<SignedRef>, Settled), StoreError> {
        let full = format!("{}/{}", repo.record().owner, repo.record().name);
        // Stamped after the records of the grant (peers check that), also when one came
        // from a node whose clock runs ahead and this node restarted since.
        for record in pusher.iter().flat_map(|p| &p.grant) {
            if let Some((s, _)) = crate::accounts::decode(record) {
                self.observe(s.hlc);
            }
        }
        let mut signed = Vec::with_capacity(changes.len());
        for (name, old, new) in changes {
            let stamp = self.clock().stamp(now_ms());
            let u = SignedRef::sign(
                &self.key,
                &full,
                name,
                *old.as_bytes(),
                *new.as_bytes(),
                stamp,
                pusher.cloned(),
            );
            repo.log_insert(&log_key(&u.stamp), &log::encode(&u)?)?;
            signed.push(u);
        }
        let settled = apply::settle_local(repo, &signed)?;
        Ok((signed, settled))
    }

    /// Signs a record of what repository `full` now is, stamped after everything this node
    /// has seen, and keeps it (not flushed). A live record carries the deletion it follows.
    fn sign_record(
        &self,
        store: &Store,
        full: &str,
        state: RepoState,
    ) -> Result<Vec<u8>, StoreError> {
        if let Ok(Some((s, _))) = host::latest(store, full) {
            self.observe(s.hlc);
        }
        let state = match state {
            RepoState::Live(mut meta) => {
                meta.since = match host::latest(store, full) {
                    Ok(Some((d, RepoState::Deleted))) => Some(d),
                    Ok(Some((_, RepoState::Live(prev)))) => prev.since,
                    _ => None,
                };
                RepoState::Live(meta)
            }
            RepoState::Deleted => RepoState::Deleted,
        };
        let stamp = self.clock().stamp(now_ms());
        let body = Body::Repo {
            repo: full.to_string(),
            stamp,
            state,
        };
        let record = Announcement::sign(&self.key, body)
            .encode()
            .map_err(|e| StoreError::Encode(e.to_string()))?;
        store.set_signed_record(full, &record)?;
        Ok(record)
    }

    fn announce_record(&self, record: Vec<u8>) {
        self.on_net(|net| async move { net.announce_record(record).await });
    }

    /// Runs `f` with the network on the runtime, if the network is up (from blocking code).
    fn on_net<F, Fut>(&self, f: F)
    where
        F: FnOnce(NetHandle) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        if let (Some(net), Ok(rt)) = (
            self.net.get().cloned(),
            tokio::runtime::Handle::try_current(),
        ) {
            rt.spawn(f(net));
        }
    }

    /// After a repository was created or its metadata changed here: signs, keeps, flushes
    /// and announces its record.
    pub fn record_meta(&self, store: &Store, rec: &RepoRecord) -> Result<(), StoreError> {
        let full = format!("{}/{}", rec.owner, rec.name);
        let meta = RepoMeta {
            description: rec.description.clone(),
            private: rec.private,
            default_branch: rec.default_branch.clone(),
            since: None,
        };
        let record = self.sign_record(store, &full, RepoState::Live(meta))?;
        store.flush()?;
        self.announce_record(record);
        Ok(())
    }

    /// Sets (or, with no entry, deletes) an account fact here: signs a record stamped after
    /// everything this node has seen, keeps it, flushes and announces it.
    pub fn record_account(
        &self,
        store: &Store,
        key: &str,
        entry: Option<guts_net::Entry>,
    ) -> Result<(), StoreError> {
        // What peers will check, checked here first: a record they refuse would diverge.
        guts_net::accounts::check_key(key).map_err(StoreError::Invalid)?;
        if let Some(e) = &entry {
            e.check().map_err(StoreError::Invalid)?;
            if e.key() != key {
                return Err(StoreError::Invalid(format!("an entry filed under {key:?}")));
            }
        }
        // Newer than what is kept for the key, even if that came from a clock ahead of ours
        // (a concurrent write may still win the race: then stamp again).
        for _ in 0..8 {
            if let Some(cur) = store.account_record(key)?
                && let Some((s, _)) = crate::accounts::decode(&cur)
            {
                self.observe(s.hlc);
            }
            let stamp = self.clock().stamp(now_ms());
            let body = Body::Account {
                stamp,
                key: key.to_string(),
                entry: entry.clone(),
            };
            let record = Announcement::sign(&self.key, body)
                .encode()
                .map_err(|e| StoreError::Encode(e.to_string()))?;
            if crate::accounts::keep_newest(store, key, stamp, &record)? {
                store.flush()?;
                self.announce_record(record);
                return Ok(());
            }
        }
        Err(StoreError::Internal(format!(
            "{key} kept changing; not written"
        )))
    }

    /// Deletes a repository here, keeping a signed record of the deletion, and announces it.
    /// False if there was no such repository.
    pub fn delete_local(&self, store: &Store, owner: &str, name: &str) -> Result<bool, StoreError> {
        let Some(repo) = store.repo(owner, name)? else {
            return Ok(false);
        };
        let full = format!("{owner}/{name}");
        let writer = repo.writer();
        let _one = guts_store::sync::lock(&writer);
        let record = self.sign_record(store, &full, RepoState::Deleted)?;
        // Flushes the record with the deletion.
        let gone = store.delete_repo(owner, name)?;
        self.announce_record(record);
        Ok(gone)
    }

    /// Announces logged changes (after the store is flushed). Call from blocking code.
    pub fn announce(&self, repo: &Repo, pack: Option<PackRef>, signed: Vec<SignedRef>) {
        if signed.is_empty() {
            return;
        }
        let full = format!("{}/{}", repo.record().owner, repo.record().name);
        self.on_net(|net| async move { net.announce(&full, pack, signed).await });
    }
}
