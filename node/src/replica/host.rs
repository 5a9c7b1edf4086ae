//! The network's view of the node ([`guts_net::Host`]): update logs and their digests, what
//! an incoming set of updates needs, packs built by want/have for peers, and temp files.

use guts_net::ReplicaError;
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Seek, Write};

use guts_git::ObjectId;
use guts_git::odb::ObjectRead;
use guts_git::walk::{ObjectsWanted, objects_and_known};
use guts_net::proto::MAX_RECORDS;
use guts_net::{
    Announcement, Body, Host, NetEvent, RECORDS, RepoDigest, RepoMeta, RepoState, SignedRef, Stamp,
    SyncPlan,
};
use guts_store::{NewRepo, Repo, RepoName, RepoPatch, SendOptions, Store, send_pack};
use sha2::{Digest, Sha256};

use super::apply::Table;
use super::log::{self, log_key};
use super::signer::{Signer, Trusted};
use std::path::PathBuf;
use std::sync::Arc;

use crate::events::{Event, Hub, Publisher};
use crate::metrics::ReplicaMetrics;

/// The node, as the network sees it: the store and what replication needs beside it (the
/// key and clock, the trusted nodes, limits, counters, the event hub). It holds nothing
/// that holds the network, so no reference cycle keeps anything alive after shutdown.
#[derive(Debug, Clone)]
pub struct NodeHost {
    store: Store,
    signer: Arc<Signer>,
    trusted: Trusted,
    metrics: ReplicaMetrics,
    max_object_bytes: u64,
    spool_dir: PathBuf,
    hub: Arc<Hub>,
    seeding: super::Seeding,
    /// Publishes the network's own events off the event loop.
    publisher: Publisher,
}

/// What a [`NodeHost`] is made of.
#[derive(Debug)]
pub struct HostParts {
    /// The node's open store.
    pub store: Store,
    /// The node's key and clock.
    pub signer: Arc<Signer>,
    /// Whose updates and records are accepted.
    pub trusted: Trusted,
    /// Replication's counters.
    pub metrics: ReplicaMetrics,
    /// The largest object a fetched pack may hold (as for a push).
    pub max_object_bytes: u64,
    /// Where packs are spooled (the data dir's `tmp`).
    pub spool_dir: PathBuf,
    /// The event hub.
    pub hub: Arc<Hub>,
    /// Which repositories this node stores.
    pub seeding: super::Seeding,
}

/// What applying something a peer sent changed here, and the events to publish for it.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Updates (or records) applied.
    pub applied: usize,
    /// Updates refused (their objects were missing).
    pub refused: usize,
    /// For the event hub, in order (the store is already flushed).
    pub events: Vec<Event>,
}

impl Outcome {
    /// How many were applied, or why some were refused.
    fn result(&self) -> Result<usize, ReplicaError> {
        if self.refused > 0 {
            let total = self.applied + self.refused;
            return Err(ReplicaError::refused(format!(
                "{} of {total} updates refused: their objects are missing ({} applied)",
                self.refused, self.applied
            )));
        }
        Ok(self.applied)
    }
}

/// How a repository record changed this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Created,
    Updated,
    Deleted { private: bool },
}

impl NodeHost {
    /// A host over `parts`; starts the thread that publishes network events.
    pub fn new(parts: HostParts) -> std::io::Result<NodeHost> {
        Ok(NodeHost {
            publisher: Publisher::spawn(parts.hub.clone(), parts.store.clone())?,
            store: parts.store,
            signer: parts.signer,
            trusted: parts.trusted,
            metrics: parts.metrics,
            max_object_bytes: parts.max_object_bytes,
            spool_dir: parts.spool_dir,
            hub: parts.hub,
            seeding: parts.seeding,
        })
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn signer(&self) -> &Signer {
        &self.signer
    }

    pub(crate) fn metrics(&self) -> &ReplicaMetrics {
        &self.metrics
    }

    pub(crate) fn max_object_bytes(&self) -> u64 {
        self.max_object_bytes
    }

    pub(crate) fn repo(&self, full: &RepoName) -> Result<Option<Repo>, ReplicaError> {
        Ok(self.store.repo(full.owner(), full.name())?)
    }

    /// Publishes what an outcome reports (from blocking code: the hub writes the store).
    fn publish(&self, events: &[Event]) {
        for e in events {
            self.hub.publish(&self.store, e);
        }
    }

    /// Which of `updates` are new here, allowed, and what objects they need.
    pub fn plan_updates(
        &self,
        full: &RepoName,
        updates: &[SignedRef],
    ) -> Result<SyncPlan, ReplicaError> {
        let repo = self.repo(full)?;
        // Not seeded here and not held from before: nothing is taken (the announcement is
        // still passed on). A repository this node holds keeps up to date, as its records
        // do (`apply_repo_record`).
        if repo.is_none() && !self.seeding.seeds(full) {
            return Ok(SyncPlan::default());
        }
        let name = full.to_string();
        let deleted = cutoff(&self.store, &name)?;
        let now = self.signer.now_ms();
        let accept = |u: &SignedRef| {
            // Made before the repository was deleted: gone with it.
            if deleted.is_some_and(|d| u.stamp <= d) {
                return false;
            }
            // The pusher's access, in the records the origin used when it accepted it.
            let trusted = |n: &guts_net::NodeId| self.trusted.contains(n);
            match guts_net::accounts::check_grant(&name, u.stamp, u.pusher.as_ref(), trusted, now) {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(repo = %name, r#ref = %u.name, error = %e, "replicated update refused");
                    self.metrics.grant_refused();
                    false
                }
            }
        };
        let table = repo.as_ref().map(Table::new);
        guts_net::updates::plan(table.as_ref(), updates, accept)
    }

    /// Applies a verified repository record if it is newer than the one kept.
    pub fn apply_repo_record(
        &self,
        full: &RepoName,
        stamp: Stamp,
        state: &RepoState,
        record: Vec<u8>,
    ) -> Result<Outcome, ReplicaError> {
        let store = &self.store;
        let name = full.to_string();
        if latest(store, &name)?.is_some_and(|(known, _)| known >= stamp) {
            return Ok(Outcome::default());
        }
        let (owner, repo_name) = (full.owner(), full.name());
        // What changed here, for the hub (a deletion says whether it was private).
        let mut change: Option<Change> = None;
        // Kept first, so a crash mid-way never leaves a deleted repository without it.
        store.set_signed_record(&name, &record)?;
        // Not seeded here (and not stored from before): only the record is kept, to pass on.
        if !self.seeding.seeds(full) && self.repo(full)?.is_none() {
            store.flush()?;
            self.signer.observe(stamp.hlc);
            return Ok(Outcome {
                applied: 1,
                ..Outcome::default()
            });
        }
        match state {
            RepoState::Deleted => {
                if let Some(repo) = self.repo(full)? {
                    let writer = repo.writer();
                    let _one = guts_store::sync::lock(&writer);
                    // Pushed to after the deletion: it stays.
                    let newest = repo.log_last_key()?;
                    if newest.is_none_or(|k| k <= log_key(&stamp)) {
                        let private = repo.record().private;
                        store.delete_repo(owner, repo_name)?;
                        change = Some(Change::Deleted { private });
                    }
                }
            }
            RepoState::Live(meta) => {
                change = Some(if materialize(store, full, meta)? {
                    Change::Created
                } else {
                    Change::Updated
                });
            }
        }
        store.flush()?;
        self.signer.observe(stamp.hlc);
        let event = match change {
            None => None,
            Some(Change::Deleted { private }) => Some(Event::RepoDeleted {
                repo: name,
                private,
            }),
            Some(c) => self.repo(full)?.map(|now| {
                let meta = now.record().into();
                if c == Change::Created {
                    Event::RepoCreated { repo: name, meta }
                } else {
                    Event::RepoUpdated { repo: name, meta }
                }
            }),
        };
        Ok(Outcome {
            applied: 1,
            refused: 0,
            events: event.into_iter().collect(),
        })
    }
}

impl NodeHost {
    /// Calls `f` with the record of every repository held, a page at a time (a failing
    /// store ends the listing, logged).
    fn each_repo(&self, mut f: impl FnMut(&guts_store::RepoRecord)) {
        let mut after: Option<(String, String)> = None;
        loop {
            let page = match self
                .store
                .list_repos(after.as_ref().map(|(o, n)| (o.as_str(), n.as_str())), 500)
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "listing repositories");
                    return;
                }
            };
            let Some(last) = page.last() else {
                return;
            };
            after = Some((last.owner.clone(), last.name.clone()));
            page.iter().for_each(&mut f);
        }
    }
}

/// Makes the store hold `full` as `meta` describes it: creates it (true), or updates its
/// metadata if it exists (false). Does not flush.
pub(crate) fn materialize(
    store: &Store,
    full: &RepoName,
    meta: &RepoMeta,
) -> Result<bool, ReplicaError> {
    let (owner, name) = (full.owner(), full.name());
    let patch = RepoPatch {
        description: Some(meta.description.clone()),
        private: Some(meta.private),
        default_branch: Some(meta.default_branch.clone()),
    };
    if store.repo(owner, name)?.is_some() {
        store.update_repo(owner, name, &patch)?;
        return Ok(false);
    }
    let new = NewRepo {
        owner: owner.into(),
        name: name.into(),
        description: meta.description.clone(),
        private: meta.private,
        default_branch: meta.default_branch.clone(),
    };
    match store.create_repo(&new) {
        Ok(_) => Ok(true),
        Err(guts_store::StoreError::Exists) => {
            store.update_repo(owner, name, &patch)?;
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// A peer's `owner/name`, checked.
pub(crate) fn repo_name(full: &str) -> Result<RepoName, ReplicaError> {
    RepoName::parse(full).map_err(|e| ReplicaError::refused(e.to_string()))
}

/// The latest signed record of `full`: its stamp and state.
pub(crate) fn latest(
    store: &Store,
    full: &str,
) -> Result<Option<(Stamp, RepoState)>, ReplicaError> {
    let Some(record) = store.signed_record(full)? else {
        return Ok(None);
    };
    match Announcement::decode(&record).map(|a| a.body) {
        Ok(Body::Repo { stamp, state, .. }) => Ok(Some((stamp, state))),
        _ => Err(ReplicaError::Store(guts_store::StoreError::Corrupt {
            tree: guts_store::keys::tree::SIGNED,
            reason: format!("the record of {full} is unreadable"),
        })),
    }
}

/// Updates stamped at or before this belong to a deleted incarnation of `full`.
fn cutoff(store: &Store, full: &str) -> Result<Option<Stamp>, ReplicaError> {
    Ok(match latest(store, full)? {
        Some((d, RepoState::Deleted)) => Some(d),
        Some((_, RepoState::Live(meta))) => meta.since,
        None => None,
    })
}

impl Host for NodeHost {
    fn held(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.each_repo(|rec| out.push(rec.full_name().to_string()));
        out
    }

    fn digests(&self) -> Vec<RepoDigest> {
        let store = &self.store;
        let mut out = Vec::new();
        self.each_repo(|rec| {
            let Ok(Some(repo)) = store.repo(&rec.owner, &rec.name) else {
                return;
            };
            // Kept up to date with each insert: no log is read here.
            let Ok(d) = repo.log_digest() else {
                return;
            };
            if d.entries == 0 {
                return;
            }
            let mut digest = [0u8; 32];
            digest[..20].copy_from_slice(&d.hash);
            digest[20..28].copy_from_slice(&d.entries.to_be_bytes());
            out.push(RepoDigest {
                repo: rec.full_name().to_string(),
                digest,
                entries: d.entries,
            });
        });
        // The repository and account records, as one entry.
        let mut h = Sha256::new();
        let mut entries = 0u64;
        let mut after: Option<String> = None;
        loop {
            let page = self.records(after.as_deref(), MAX_RECORDS);
            let Some((last, _)) = page.last() else {
                break;
            };
            after = Some(last.clone());
            for (cursor, record) in &page {
                h.update(cursor.as_bytes());
                h.update(Sha256::digest(record));
                entries += 1;
            }
        }
        if entries > 0 {
            out.push(RepoDigest {
                repo: RECORDS.into(),
                digest: h.finalize().into(),
                entries,
            });
        }
        out
    }

    fn updates(&self, full: &str, after: Option<Stamp>, limit: usize) -> Vec<SignedRef> {
        let read = || -> Result<Vec<SignedRef>, ReplicaError> {
            let Some(repo) = self.repo(&repo_name(full)?)? else {
                return Ok(Vec::new());
            };
            let entries = repo.log_after(after.map(|s| log_key(&s)).as_deref(), limit)?;
            Ok(entries
                .iter()
                .map(|(_, v)| log::decode(v))
                .collect::<Result<_, _>>()?)
        };
        // A peer asking gets nothing rather than part of a log that cannot be read.
        read().unwrap_or_else(|e| {
            tracing::error!(repo = full, error = %e, "reading an update log for a peer");
            Vec::new()
        })
    }

    fn plan(&self, full: &str, updates: &[SignedRef]) -> Result<SyncPlan, ReplicaError> {
        self.plan_updates(&repo_name(full)?, updates)
    }

    fn build_pack(
        &self,
        full: &str,
        wants: &[[u8; 20]],
        haves: &[[u8; 20]],
    ) -> Result<(File, u64), ReplicaError> {
        let repo = self
            .repo(&repo_name(full)?)?
            .ok_or_else(|| ReplicaError::refused(format!("no repository {full} here")))?;
        let odb = repo.odb();
        let wants: Vec<ObjectId> = wants.iter().map(|w| ObjectId::from_bytes(*w)).collect();
        for w in &wants {
            if !odb.contains(w)? {
                return Err(ReplicaError::refused(format!("object {w} is not here")));
            }
        }
        let mut present = Vec::new();
        for h in haves {
            let h = ObjectId::from_bytes(*h);
            if odb.contains(&h)? {
                present.push(h);
            }
        }
        let cut = HashSet::new();
        let (objects, known) = objects_and_known(
            &odb,
            &ObjectsWanted {
                wants: &wants,
                haves: &present,
                cut: &cut,
                filter: None,
            },
        )?;
        let file = self.spool()?;
        let opts = SendOptions {
            ofs_delta: true,
            thin: Some(&known),
        };
        let (_, out) = send_pack(
            &odb,
            objects.into_iter().map(|o| o.id),
            opts,
            BufWriter::new(file),
            &mut (),
        )?;
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        file.flush()?;
        let len = file.stream_position()?;
        Ok((file, len))
    }

    fn stored_pack(&self, full: &str, checksum: &[u8; 20]) -> Result<(File, u64), ReplicaError> {
        let repo = self
            .repo(&repo_name(full)?)?
            .ok_or_else(|| ReplicaError::refused(format!("no repository {full} here")))?;
        let file = self.spool()?;
        let mut out = BufWriter::new(file);
        let len = repo
            .copy_pack(checksum, &mut out)?
            .ok_or_else(|| ReplicaError::refused("no such pack here"))?;
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        file.flush()?;
        file.rewind()?;
        Ok((file, len))
    }

    fn records(&self, after: Option<&str>, limit: usize) -> Vec<(String, Vec<u8>)> {
        // Cursors: `r:` and the repository, then `s:` and the account key (in that order).
        let store = &self.store;
        let mut out = Vec::new();
        let read = |r: Result<Vec<(String, Vec<u8>)>, guts_store::StoreError>| {
            r.unwrap_or_else(|e| {
                tracing::error!(error = %e, "reading records for a peer");
                Vec::new()
            })
        };
        // Then `u:` and the hex of an operation's key (issues and pull requests).
        let (repo_after, account_after, op_after) = match after {
            None => (None, None, None),
            Some(c) => match c.split_at_checked(2) {
                Some(("r:", name)) => (Some(name), None, None),
                Some(("s:", key)) => (None, Some(key), None),
                Some(("u:", hex)) => match crate::hex::decode(hex) {
                    Some(k) => (None, None, Some(k)),
                    None => return Vec::new(),
                },
                _ => return Vec::new(),
            },
        };
        if account_after.is_none() && op_after.is_none() {
            for (name, record) in read(store.signed_records(repo_after, limit)) {
                out.push((format!("r:{name}"), record));
            }
        }
        if out.len() < limit && op_after.is_none() {
            let left = limit - out.len();
            for (key, record) in read(store.account_records("", account_after, left)) {
                out.push((format!("s:{key}"), record));
            }
        }
        if out.len() < limit {
            let left = limit - out.len();
            let page = store
                .collab_records(op_after.as_deref(), left)
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, "reading operations for a peer");
                    Vec::new()
                });
            for (key, record) in page {
                out.push((format!("u:{}", crate::hex::encode(&key)), record));
            }
        }
        out
    }

    fn apply_op(&self, op: &guts_net::collab::Op, record: Vec<u8>) -> Result<bool, ReplicaError> {
        // Made by a user allowed to make it, by the records it carries: a moderator's
        // write access; anyone else's existence, and read access to a private repository.
        let private = matches!(
            latest(&self.store, &op.repo)?,
            Some((_, RepoState::Live(meta))) if meta.private
        );
        let need = if op.moderator {
            Some(guts_net::Perm::Write)
        } else {
            private.then_some(guts_net::Perm::Read)
        };
        let made = guts_net::accounts::Made {
            repo: &op.repo,
            stamp: op.stamp,
            user: &op.author,
        };
        let trusted = |n: &guts_net::NodeId| self.trusted.contains(n);
        let now = self.signer.now_ms();
        if let Err(e) = guts_net::accounts::check_access(&made, &op.grant, need, trusted, now) {
            tracing::warn!(repo = %op.repo, author = %op.author, error = %e, "replicated operation refused");
            self.metrics.grant_refused();
            return Ok(false);
        }
        let (id, thread) = (op.id(), op.thread_id());
        let new =
            self.store
                .put_collab_op(&op.repo, &thread.0, &id.0, op.thread.is_none(), &record)?;
        if new {
            self.store.flush()?;
            self.signer.observe(op.stamp.hlc);
            // Published once kept (an operation whose thread has not arrived yet shows
            // with it).
            let numbers = crate::collab::view::numbered(&self.store, &op.repo)?;
            if let Some(t) = crate::collab::view::thread(&self.store, &op.repo, &thread)? {
                let n = numbers.get(&thread).copied().unwrap_or(0);
                self.publish(&[crate::collab::events::of(op, &t, n)]);
            }
        }
        Ok(new)
    }

    fn apply_account(
        &self,
        key: &str,
        stamp: Stamp,
        _entry: Option<&guts_net::Entry>,
        record: Vec<u8>,
    ) -> Result<bool, ReplicaError> {
        let kept = crate::accounts::keep_newest(&self.store, key, stamp, &record)?;
        if kept {
            self.store.flush()?;
            self.signer.observe(stamp.hlc);
        }
        Ok(kept)
    }

    fn apply_record(
        &self,
        full: &str,
        stamp: Stamp,
        state: &RepoState,
        record: Vec<u8>,
    ) -> Result<bool, ReplicaError> {
        let out = self.apply_repo_record(&repo_name(full)?, stamp, state, record)?;
        self.publish(&out.events);
        Ok(out.applied > 0)
    }

    fn spool(&self) -> std::io::Result<File> {
        tempfile::tempfile_in(&self.spool_dir)
    }

    fn apply(
        &self,
        full: &str,
        pack: Option<File>,
        updates: Vec<SignedRef>,
    ) -> Result<usize, ReplicaError> {
        let out = super::apply::apply(self, &repo_name(full)?, pack, updates)?;
        self.publish(&out.events);
        out.result()
    }

    fn event(&self, event: NetEvent) {
        let event = match event {
            NetEvent::PeerConnected(peer) => Event::PeerConnected { peer },
            NetEvent::PeerDisconnected(peer) => Event::PeerDisconnected { peer },
        };
        // Called on the libp2p event loop: the store write happens on the publisher's
        // own thread, in order.
        self.publisher.send(event);
    }
}
