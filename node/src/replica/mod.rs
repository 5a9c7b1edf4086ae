//! Replication, node side: the node's identity and clock, the signed update log kept in the
//! store for every ref change (local pushes and replicated ones alike), and the
//! [`guts_net::Host`] the network calls to read logs, build packs and apply what arrived.
//!
//! - `mod.rs`: [`Replication`]: signing and logging local pushes, signing repository records
//!   (created, updated, deleted), then announcing them ([`Replication::announce_push`] once
//!   a push is flushed and reported).
//! - `signer.rs`: [`Signer`], the key and hybrid logical clock read from the node's injected
//!   wall clock; [`Trusted`], whose updates and records are accepted.
//! - `log.rs`: log keys and entries, and rebuilding a ref's merge state from the log.
//! - `host.rs`: [`NodeHost`], which holds only the store, the signer, the trusted set,
//!   limits, counters and the hub (no back reference to the node's state): digests, paged
//!   updates, plans, packs and stored packs for peers; applying repository records. Applying
//!   returns an [`Outcome`] with typed events, published once the store is flushed.
//! - `apply.rs`: verifying a fetched pack like a push, then the merge rule
//!   ([`guts_net::updates`], the simulator's code too) over the store's refs and log.
//! - `settle.rs`: the conflict refs a local push covered, dropped as peers will drop them.
//! - `seeding.rs`: [`Seeding`], which repositories this node stores.
//! - [`pull_through`]: a clone of a repository this node does not store takes it from a
//!   node that does, then serves it.

mod apply;
mod host;
mod log;
pub mod pull_through;
mod seeding;
mod settle;
mod signer;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use guts_git::ObjectId;
use guts_net::{
    Announcement, Body, NetHandle, NodeId, NodeKey, PackRef, RepoMeta, RepoState, SignedRef, Wall,
};
use guts_store::{Repo, RepoName, RepoRecord, Store, StoreError};

pub use host::{HostParts, NodeHost, Outcome};
pub use log::log_key;
pub use seeding::{Policy, SEEDING_FILE, Seeding};
pub use signer::{Signer, Trusted};

/// Conflicts a local push settled: each ref and the tip that is no longer a conflict.
pub type Settled = Vec<(String, ObjectId)>;

/// The file the node's key lives in, inside the data dir.
pub const KEY_FILE: &str = "node.key";

/// What a push accepted here leaves to announce once the store is flushed.
#[derive(Debug, Default)]
pub struct Accepted {
    /// The pushed pack, as stored (peers may fetch it as is).
    pub pack: Option<PackRef>,
    /// The signed, logged ref updates.
    pub signed: Vec<SignedRef>,
    /// The repository's new record, when the push gave it its default branch.
    pub record: Option<Vec<u8>>,
}

/// The node's replication state.
#[derive(Debug)]
pub struct Replication {
    signer: Arc<Signer>,
    /// Set once the network is up (never, with p2p off).
    pub net: OnceLock<NetHandle>,
    /// Set when the network failed to start.
    pub net_error: OnceLock<String>,
}

impl Replication {
    /// Loads (or creates) the node's key in `data_dir`; stamps by `wall`.
    pub fn load(data_dir: &Path, wall: Wall) -> Result<Replication, guts_net::IdentityError> {
        let key = NodeKey::load_or_create(&data_dir.join(KEY_FILE))?;
        Ok(Replication {
            signer: Arc::new(Signer::new(key, wall)),
            net: OnceLock::new(),
            net_error: OnceLock::new(),
        })
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.signer.node_id()
    }

    /// The key (for the network).
    pub fn key(&self) -> &NodeKey {
        self.signer.key()
    }

    /// The key and clock, shared with the network's host.
    pub fn signer(&self) -> &Arc<Signer> {
        &self.signer
    }

    /// Now, by the node's wall clock (ms since the epoch).
    pub fn now_ms(&self) -> u64 {
        self.signer.now_ms()
    }

    /// Signs and logs ref changes just made by a local push (call with the repository's
    /// writer lock held, before the store is flushed), then drops the conflict refs the
    /// push covered. Returns the signed updates and the conflicts settled (ref and tip).
    pub fn record_local(
        &self,
        repo: &Repo,
        changes: &[(String, ObjectId, ObjectId)],
        pusher: Option<&guts_net::Pusher>,
    ) -> Result<(Vec<SignedRef>, Settled), StoreError> {
        let full = repo.full_name().to_string();
        // Stamped after the records of the grant (peers check that), also when one came
        // from a node whose clock runs ahead and this node restarted since.
        for record in pusher.iter().flat_map(|p| &p.grant) {
            if let Some((s, _)) = crate::accounts::decode(record) {
                self.signer.observe(s.hlc);
            }
        }
        let mut signed = Vec::with_capacity(changes.len());
        for (name, old, new) in changes {
            let u = SignedRef::sign(
                self.signer.key(),
                &full,
                name,
                *old.as_bytes(),
                *new.as_bytes(),
                self.signer.stamp(),
                pusher.cloned(),
            );
            repo.log_insert(&log_key(&u.stamp), &log::encode(&u)?)?;
            signed.push(u);
        }
        let settled = settle::settle_local(repo, &signed)?;
        Ok((signed, settled))
    }

    /// Signs a record of what repository `full` now is, stamped after everything this node
    /// has seen, and keeps it (not flushed). A live record carries the deletion it follows.
    fn sign_record(
        &self,
        store: &Store,
        full: &RepoName,
        state: RepoState,
    ) -> Result<Vec<u8>, StoreError> {
        let full = full.to_string();
        let latest = host::latest(store, &full).map_err(|e| match e {
            guts_net::ReplicaError::Store(e) => e,
            other => StoreError::Internal(other.to_string()),
        })?;
        if let Some((s, _)) = &latest {
            self.signer.observe(s.hlc);
        }
        let state = match state {
            RepoState::Live(mut meta) => {
                meta.since = match latest {
                    Some((d, RepoState::Deleted)) => Some(d),
                    Some((_, RepoState::Live(prev))) => prev.since,
                    None => None,
                };
                RepoState::Live(meta)
            }
            RepoState::Deleted => RepoState::Deleted,
        };
        let body = Body::Repo {
            repo: full.clone(),
            stamp: self.signer.stamp(),
            state,
        };
        let record = Announcement::sign(self.signer.key(), body)
            .encode()
            .map_err(|e| StoreError::Encode(e.to_string()))?;
        store.set_signed_record(&full, &record)?;
        Ok(record)
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

    /// Announces a signed record this node kept and flushed.
    fn announce_record(&self, record: Vec<u8>) {
        self.on_net(|net| async move { net.announce_record(record).await });
    }

    /// Signs and keeps (not flushed) the record of what a repository now is, after its
    /// metadata changed here; returns it, to announce once flushed.
    pub fn sign_meta(&self, store: &Store, rec: &RepoRecord) -> Result<Vec<u8>, StoreError> {
        let meta = RepoMeta {
            description: rec.description.clone(),
            private: rec.private,
            default_branch: rec.default_branch.clone(),
            since: None,
        };
        self.sign_record(store, &rec.full_name(), RepoState::Live(meta))
    }

    /// After a repository was created or its metadata changed here: signs, keeps, flushes
    /// and announces its record.
    pub fn record_meta(&self, store: &Store, rec: &RepoRecord) -> Result<(), StoreError> {
        let record = self.sign_meta(store, rec)?;
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
                self.signer.observe(s.hlc);
            }
            let stamp = self.signer.stamp();
            let body = Body::Account {
                stamp,
                key: key.to_string(),
                entry: entry.clone(),
            };
            let record = Announcement::sign(self.signer.key(), body)
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

    /// Records an operation on an issue or pull request made here: gives it its author's
    /// grant (the signed records their access rests on), stamps it after everything this
    /// node has seen (those records too), checks it as peers will, signs, keeps and
    /// flushes it, then announces it. Returns it.
    pub fn record_op(
        &self,
        store: &Store,
        make: impl FnOnce(guts_net::Stamp) -> guts_net::collab::Op,
    ) -> Result<guts_net::collab::Op, StoreError> {
        let mut op = make(self.signer.stamp());
        let full = RepoName::parse(&op.repo).map_err(|e| StoreError::Invalid(e.to_string()))?;
        op.grant = crate::accounts::op_grant(store, &op.author, full.owner(), full.name())?;
        op.stamp = self.signer.stamp();
        op.validate()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let made = guts_net::accounts::Made {
            repo: &op.repo,
            stamp: op.stamp,
            user: &op.author,
        };
        // The records in this store were checked when they were kept.
        let need = op.moderator.then_some(guts_net::Perm::Write);
        guts_net::accounts::check_access(&made, &op.grant, need, |_| true, self.signer.now_ms())
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let record = Announcement::sign(self.signer.key(), Body::Collab { op: op.clone() })
            .encode()
            .map_err(|e| StoreError::Encode(e.to_string()))?;
        let id = op.id();
        let thread = op.thread_id();
        store.put_collab_op(&op.repo, &thread.0, &id.0, op.thread.is_none(), &record)?;
        store.flush()?;
        self.announce_record(record);
        Ok(op)
    }

    /// Deletes a repository here, keeping a signed record of the deletion, and announces it.
    /// False if there was no such repository.
    pub fn delete_local(&self, store: &Store, full: &RepoName) -> Result<bool, StoreError> {
        let Some(repo) = store.repo(full.owner(), full.name())? else {
            return Ok(false);
        };
        let writer = repo.writer();
        let _one = guts_store::sync::lock(&writer);
        let record = self.sign_record(store, full, RepoState::Deleted)?;
        // Flushes the record with the deletion.
        let gone = store.delete_repo(full.owner(), full.name())?;
        self.announce_record(record);
        Ok(gone)
    }

    /// Announces what a push accepted (after the store is flushed): the repository's new
    /// record first, then the signed updates with their pack. Call from blocking code.
    pub fn announce_push(&self, repo: &RepoName, accepted: Accepted) {
        if let Some(record) = accepted.record {
            self.announce_record(record);
        }
        if accepted.signed.is_empty() {
            return;
        }
        let full = repo.to_string();
        let (pack, signed) = (accepted.pack, accepted.signed);
        self.on_net(|net| async move { net.announce(&full, pack, signed).await });
    }
}
