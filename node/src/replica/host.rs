//! The network's view of the node ([`guts_net::Host`]): update logs and their digests, what
//! an incoming set of updates needs, packs built by want/have for peers, and temp files.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Seek, Write};

use guts_git::ObjectId;
use guts_git::odb::ObjectRead;
use guts_git::walk::{ObjectsWanted, objects_and_known};
use guts_net::proto::MAX_TOMBSTONES;
use guts_net::{
    Announcement, Body, Host, NetEvent, RepoDigest, SignedRef, Stamp, SyncPlan, TOMBSTONES,
};
use guts_store::{Repo, SendOptions, Store, send_pack};
use sha2::{Digest, Sha256};

use super::log::{self, log_key};
use std::sync::{Arc, Weak};

use crate::state::{AppState, Inner};

/// The node, as the network sees it. It holds the node's state weakly: the state holds the
/// network, which holds this, and a strong cycle would keep the store open after shutdown.
#[derive(Debug, Clone)]
pub struct NodeHost {
    state: Weak<Inner>,
}

/// Ids sent as haves at most.
const MAX_HAVES: usize = 10_000;

impl NodeHost {
    pub(crate) fn new(state: &AppState) -> NodeHost {
        NodeHost {
            state: Arc::downgrade(&state.inner),
        }
    }

    /// The node's state, while the node runs.
    pub(crate) fn state(&self) -> Result<AppState, String> {
        self.state
            .upgrade()
            .map(|inner| AppState { inner })
            .ok_or_else(|| "node stopped".to_string())
    }

    pub(crate) fn store(&self) -> Result<Store, String> {
        self.state()?
            .inner
            .store
            .get()
            .cloned()
            .ok_or_else(|| "store not open".to_string())
    }

    pub(crate) fn repo(&self, full: &str) -> Result<Option<Repo>, String> {
        let (owner, name) = full
            .split_once('/')
            .ok_or_else(|| format!("bad repository name {full:?}"))?;
        self.store()?.repo(owner, name).map_err(|e| e.to_string())
    }
}

/// The stamp of `full`'s tombstone, if it was deleted.
fn tombstone_stamp(store: &Store, full: &str) -> Result<Option<Stamp>, String> {
    let Some(record) = store.tombstone(full).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    match Announcement::decode(&record).map(|a| a.body) {
        Ok(Body::Delete { stamp, .. }) => Ok(Some(stamp)),
        _ => Err(format!("the tombstone of {full} is unreadable")),
    }
}

/// A digest over a log's keys (its updates' stamps), in order.
pub fn digest(entries: &[(Vec<u8>, Vec<u8>)]) -> [u8; 32] {
    let mut h = Sha256::new();
    for (k, _) in entries {
        h.update(k);
    }
    h.finalize().into()
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
                let Ok(entries) = repo.log_entries() else {
                    continue;
                };
                if entries.is_empty() {
                    continue;
                }
                out.push(RepoDigest {
                    repo: format!("{}/{}", rec.owner, rec.name),
                    digest: digest(&entries),
                    entries: entries.len() as u64,
                });
            }
        }
        // The tombstones, as one entry.
        if let Ok(tombs) = store.tombstones(MAX_TOMBSTONES)
            && !tombs.is_empty()
        {
            let mut h = Sha256::new();
            for (name, record) in &tombs {
                h.update(name.as_bytes());
                h.update(Sha256::digest(record));
            }
            out.push(RepoDigest {
                repo: TOMBSTONES.into(),
                digest: h.finalize().into(),
                entries: tombs.len() as u64,
            });
        }
        out
    }

    fn updates(&self, full: &str) -> Vec<SignedRef> {
        match self.repo(full) {
            Ok(Some(repo)) => repo
                .log_entries()
                .unwrap_or_default()
                .iter()
                .filter_map(|(_, v)| log::decode(v))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn plan(&self, full: &str, updates: &[SignedRef]) -> Result<SyncPlan, String> {
        let repo = self.repo(full)?;
        let deleted = tombstone_stamp(&self.store()?, full)?;
        let mut new: Vec<SignedRef> = Vec::new();
        for u in updates {
            // Made before the repository was deleted: gone with it.
            if deleted.is_some_and(|d| u.stamp <= d) {
                continue;
            }
            let known = match &repo {
                Some(r) => r
                    .log_contains(&log_key(&u.stamp))
                    .map_err(|e| e.to_string())?,
                None => false,
            };
            if !known {
                new.push(u.clone());
            }
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
                    Some(o) => o.contains(&oid).map_err(|e| e.to_string())?,
                    None => false,
                };
                if !present {
                    plan.wants.push(id);
                }
            }
        }
        if let Some(r) = &repo {
            let mut haves: Vec<[u8; 20]> = r
                .list_refs()
                .map_err(|e| e.to_string())?
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
    ) -> Result<(File, u64), String> {
        let repo = self.repo(full)?.ok_or("no such repository")?;
        let odb = repo.odb();
        let wants: Vec<ObjectId> = wants.iter().map(|w| ObjectId::from_bytes(*w)).collect();
        for w in &wants {
            if !odb.contains(w).map_err(|e| e.to_string())? {
                return Err(format!("object {w} is not here"));
            }
        }
        let mut present = Vec::new();
        for h in haves {
            let h = ObjectId::from_bytes(*h);
            if odb.contains(&h).map_err(|e| e.to_string())? {
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
        )
        .map_err(|e| e.to_string())?;
        let file = self.spool().map_err(|e| e.to_string())?;
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
        )
        .map_err(|e| e.to_string())?;
        let mut file = out.into_inner().map_err(|e| e.to_string())?;
        file.flush().map_err(|e| e.to_string())?;
        let len = file.stream_position().map_err(|e| e.to_string())?;
        Ok((file, len))
    }

    fn stored_pack(&self, full: &str, checksum: &[u8; 20]) -> Result<(File, u64), String> {
        let repo = self.repo(full)?.ok_or("no such repository")?;
        let file = self.spool().map_err(|e| e.to_string())?;
        let mut out = BufWriter::new(file);
        let len = repo
            .copy_pack(checksum, &mut out)
            .map_err(|e| e.to_string())?
            .ok_or("no such pack here")?;
        let mut file = out.into_inner().map_err(|e| e.to_string())?;
        file.flush().map_err(|e| e.to_string())?;
        file.rewind().map_err(|e| e.to_string())?;
        Ok((file, len))
    }

    fn tombstones(&self, limit: usize) -> Vec<Vec<u8>> {
        self.store()
            .and_then(|s| s.tombstones(limit).map_err(|e| e.to_string()))
            .map(|t| t.into_iter().map(|(_, record)| record).collect())
            .unwrap_or_default()
    }

    fn apply_delete(&self, full: &str, stamp: Stamp, record: Vec<u8>) -> Result<bool, String> {
        let store = self.store()?;
        let err = |e: guts_store::StoreError| e.to_string();
        if tombstone_stamp(&store, full)?.is_some_and(|known| known >= stamp) {
            return Ok(false);
        }
        // Kept first, so a crash mid-way never leaves a deleted repository without one.
        store.set_tombstone(full, &record).map_err(err)?;
        if let Some(repo) = self.repo(full)? {
            let writer = repo.writer();
            let _one = writer
                .lock()
                .map_err(|_| "writer lock poisoned".to_string())?;
            // Updated after the deletion (pushed again since): it stays.
            let newest = repo.log_entries().map_err(err)?.pop().map(|(k, _)| k);
            if newest.is_none_or(|k| k <= log_key(&stamp)) {
                let (owner, name) = full
                    .split_once('/')
                    .ok_or_else(|| format!("bad repository name {full:?}"))?;
                store.delete_repo(owner, name).map_err(err)?;
            }
        }
        store.flush().map_err(err)?;
        let state = self.state()?;
        state.replication().observe(stamp.hlc);
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
    ) -> Result<usize, String> {
        super::apply::apply(self, full, pack, updates)
    }

    fn event(&self, event: NetEvent) {
        match event {
            NetEvent::PeerConnected(peer) => tracing::debug!(%peer, "peer up"),
            NetEvent::PeerDisconnected(peer) => tracing::debug!(%peer, "peer down"),
        }
    }
}
