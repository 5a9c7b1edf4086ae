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
    Announcement, Body, Host, NetEvent, RECORDS, RepoDigest, RepoState, SignedRef, Stamp, SyncPlan,
};
use guts_store::{NewRepo, Repo, RepoName, RepoPatch, SendOptions, Store, send_pack};
use sha2::{Digest, Sha256};

use super::log::{self, log_key};
use std::sync::{Arc, Weak};

use crate::events::{Event, Publisher};
use crate::state::{AppState, Inner};

/// The node, as the network sees it. It holds the node's state weakly: the state holds the
/// network, which holds this, and a strong cycle would keep the store open after shutdown.
#[derive(Debug, Clone)]
pub struct NodeHost {
    state: Weak<Inner>,
    /// Publishes the network's events off the event loop.
    publisher: Publisher,
}

/// How a repository record changed this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Created,
    Updated,
    Deleted { private: bool },
}

/// Ids sent as haves at most.
const MAX_HAVES: usize = 10_000;

impl NodeHost {
    pub(crate) fn new(state: &AppState) -> std::io::Result<NodeHost> {
        let weak = Arc::downgrade(&state.inner);
        Ok(NodeHost {
            publisher: Publisher::spawn(weak.clone())?,
            state: weak,
        })
    }

    /// The node's state, while the node runs.
    pub(crate) fn state(&self) -> Result<AppState, ReplicaError> {
        self.state
            .upgrade()
            .map(|inner| AppState { inner })
            .ok_or(ReplicaError::NotReady("node stopped"))
    }

    pub(crate) fn store(&self) -> Result<Store, ReplicaError> {
        self.state()?
            .inner
            .store
            .get()
            .cloned()
            .ok_or(ReplicaError::NotReady("store not open"))
    }

    pub(crate) fn repo(&self, full: &str) -> Result<Option<Repo>, ReplicaError> {
        let n = repo_name(full)?;
        Ok(self.store()?.repo(n.owner(), n.name())?)
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
    fn digests(&self) -> Vec<RepoDigest> {
        let Ok(store) = self.store() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut after: Option<(String, String)> = None;
        loop {
            let page = match store
                .list_repos(after.as_ref().map(|(o, n)| (o.as_str(), n.as_str())), 500)
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "listing repositories for a digest");
                    return out;
                }
            };
            let Some(last) = page.last() else {
                break;
            };
            after = Some((last.owner.clone(), last.name.clone()));
            for rec in &page {
                let Ok(Some(repo)) = store.repo(&rec.owner, &rec.name) else {
                    continue;
                };
                // Kept up to date with each insert: no log is read here.
                let Ok(d) = repo.log_digest() else {
                    continue;
                };
                if d.entries == 0 {
                    continue;
                }
                let mut digest = [0u8; 32];
                digest[..20].copy_from_slice(&d.hash);
                digest[20..28].copy_from_slice(&d.entries.to_be_bytes());
                out.push(RepoDigest {
                    repo: format!("{}/{}", rec.owner, rec.name),
                    digest,
                    entries: d.entries,
                });
            }
        }
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
            let Some(repo) = self.repo(full)? else {
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
        let repo = self.repo(full)?;
        let deleted = cutoff(&self.store()?, full)?;
        let mut new: Vec<SignedRef> = Vec::new();
        for u in updates {
            // Made before the repository was deleted: gone with it.
            if deleted.is_some_and(|d| u.stamp <= d) {
                continue;
            }
            let known = match &repo {
                Some(r) => r.log_contains(&log_key(&u.stamp))?,
                None => false,
            };
            if known {
                continue;
            }
            // The pusher's access, in the records the origin used when it accepted it.
            let state = self.state()?;
            let trusted = |n: &guts_net::NodeId| state.is_trusted(n);
            if let Err(e) = guts_net::accounts::check_grant(
                full,
                u.stamp,
                u.pusher.as_ref(),
                trusted,
                super::now_ms(),
            ) {
                tracing::warn!(repo = %full, r#ref = %u.name, error = %e, "replicated update refused");
                state.metrics().auth.grants_refused.inc();
                continue;
            }
            new.push(u.clone());
        }
        new.sort_by_key(|u| u.stamp);
        new.dedup_by_key(|u| u.stamp);
        let mut plan = SyncPlan {
            new,
            ..SyncPlan::default()
        };
        let mut wanted = HashSet::new();
        let odb = repo.as_ref().map(Repo::odb);
        for u in &plan.new {
            for id in [u.new, u.old] {
                let oid = ObjectId::from_bytes(id);
                if oid.is_zero() || !wanted.insert(id) {
                    continue;
                }
                let present = match &odb {
                    Some(o) => o.contains(&oid)?,
                    None => false,
                };
                if !present {
                    plan.wants.push(id);
                }
            }
        }
        if let Some(r) = &repo {
            let mut haves: Vec<[u8; 20]> = r
                .list_refs()?
                .into_iter()
                .map(|(_, id)| *id.as_bytes())
                .collect();
            haves.sort_unstable();
            haves.dedup();
            haves.truncate(MAX_HAVES);
            plan.haves = haves;
        }
        Ok(plan)
    }

    fn build_pack(
        &self,
        full: &str,
        wants: &[[u8; 20]],
        haves: &[[u8; 20]],
    ) -> Result<(File, u64), ReplicaError> {
        let repo = self
            .repo(full)?
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
            .repo(full)?
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
        let Ok(store) = self.store() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let read = |r: Result<Vec<(String, Vec<u8>)>, guts_store::StoreError>| {
            r.unwrap_or_else(|e| {
                tracing::error!(error = %e, "reading records for a peer");
                Vec::new()
            })
        };
        let (repo_after, account_after) = match after {
            None => (None, None),
            Some(c) => match c.split_at_checked(2) {
                Some(("r:", name)) => (Some(name), None),
                Some(("s:", key)) => (None, Some(key)),
                _ => return Vec::new(),
            },
        };
        if account_after.is_none() {
            for (name, record) in read(store.signed_records(repo_after, limit)) {
                out.push((format!("r:{name}"), record));
            }
        }
        if out.len() < limit {
            let left = limit - out.len();
            for (key, record) in read(store.account_records("", account_after, left)) {
                out.push((format!("s:{key}"), record));
            }
        }
        out
    }

    fn apply_account(
        &self,
        key: &str,
        stamp: Stamp,
        _entry: Option<&guts_net::Entry>,
        record: Vec<u8>,
    ) -> Result<bool, ReplicaError> {
        let store = self.store()?;
        let kept = crate::accounts::keep_newest(&store, key, stamp, &record)?;
        if kept {
            store.flush()?;
            self.state()?.replication().observe(stamp.hlc);
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
        let store = self.store()?;
        if latest(&store, full)?.is_some_and(|(known, _)| known >= stamp) {
            return Ok(false);
        }
        let n = repo_name(full)?;
        let (owner, name) = (n.owner(), n.name());
        // What changed here, for the hub (a deletion says whether it was private).
        let mut change: Option<Change> = None;
        // Kept first, so a crash mid-way never leaves a deleted repository without it.
        store.set_signed_record(full, &record)?;
        match state {
            RepoState::Deleted => {
                if let Some(repo) = self.repo(full)? {
                    let writer = repo.writer();
                    let _one = guts_store::sync::lock(&writer);
                    // Pushed to after the deletion: it stays.
                    let newest = repo.log_last_key()?;
                    if newest.is_none_or(|k| k <= log_key(&stamp)) {
                        let private = repo.record().private;
                        store.delete_repo(owner, name)?;
                        change = Some(Change::Deleted { private });
                    }
                }
            }
            RepoState::Live(meta) => {
                let patch = RepoPatch {
                    description: Some(meta.description.clone()),
                    private: Some(meta.private),
                    default_branch: Some(meta.default_branch.clone()),
                };
                if store.repo(owner, name)?.is_some() {
                    store.update_repo(owner, name, &patch)?;
                    change = Some(Change::Updated);
                } else {
                    let new = NewRepo {
                        owner: owner.into(),
                        name: name.into(),
                        description: meta.description.clone(),
                        private: meta.private,
                        default_branch: meta.default_branch.clone(),
                    };
                    match store.create_repo(&new) {
                        Ok(_) => change = Some(Change::Created),
                        Err(guts_store::StoreError::Exists) => {
                            store.update_repo(owner, name, &patch)?;
                            change = Some(Change::Updated);
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        store.flush()?;
        let state = self.state()?;
        state.replication().observe(stamp.hlc);
        let repo = full.to_string();
        let event = match change {
            None => None,
            Some(Change::Deleted { private }) => Some(Event::RepoDeleted { repo, private }),
            Some(c) => store.repo(owner, name)?.map(|now| {
                let meta = now.record().into();
                if c == Change::Created {
                    Event::RepoCreated { repo, meta }
                } else {
                    Event::RepoUpdated { repo, meta }
                }
            }),
        };
        if let Some(event) = event {
            state.hub().publish(&store, &event);
        }
        Ok(true)
    }

    fn spool(&self) -> std::io::Result<File> {
        let dir = self
            .state()
            .map_err(std::io::Error::other)?
            .config()
            .data_dir
            .join("tmp");
        tempfile::tempfile_in(dir)
    }

    fn apply(
        &self,
        full: &str,
        pack: Option<File>,
        updates: Vec<SignedRef>,
    ) -> Result<usize, ReplicaError> {
        super::apply::apply(self, full, pack, updates)
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
