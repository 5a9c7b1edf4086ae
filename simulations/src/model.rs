//! One node's durable state, as the replication machine's host sees it: per repository the
//! signed update log, each ref's merge state, the refs served (conflict refs included) and
//! the commits held. It answers what `guts_net::Host` answers in a node (digests, pages,
//! plans, packs by want/have, apply), over the [`World`]'s commits. Plans and the merge
//! rule's moves are the node's own code ([`guts_net::updates`]), run over this store
//! through [`RefTable`]; what stays here is where commits live and the pack check.

use std::collections::{BTreeMap, BTreeSet};

use guts_git::ObjectId;
use guts_net::machine::{differing, page, verified};
use guts_net::proto::{RepoDigest, Request, Response, UPDATES_PAGE};
use guts_net::updates::{self, RefTable};
use guts_net::{RefState, SignedRef, Stamp, SyncPlan};
use sha2::{Digest, Sha256};

use crate::world::World;

/// A pack, as far as the simulation cares: the commits it carries.
pub type Pack = BTreeSet<ObjectId>;

/// One repository on one node.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RepoModel {
    /// Every signed update applied, by stamp.
    pub log: BTreeMap<Stamp, SignedRef>,
    /// Each ref's merge state.
    pub refs: BTreeMap<String, RefState>,
    /// The refs served: each ref's value, and the conflict refs.
    pub served: BTreeMap<String, ObjectId>,
    /// Commits held.
    pub objects: BTreeSet<ObjectId>,
    /// The log's digest, computed once after each change (rounds ask for it often).
    digest: std::cell::OnceCell<[u8; 32]>,
}

impl RepoModel {
    /// The refs the merge state gives: each ref's value, and a conflict ref per conflict tip.
    pub fn implied(&self, world: &World) -> BTreeMap<String, ObjectId> {
        let mut out = BTreeMap::new();
        for (name, state) in &self.refs {
            if let Some(w) = state.winner().filter(|w| !w.new.is_zero()) {
                out.insert(name.clone(), w.new);
            }
            for tip in state.conflicts(world) {
                out.insert(guts_net::conflict_ref(name, &tip), tip);
            }
        }
        out
    }
}

impl RefTable for RepoModel {
    type Error = std::convert::Infallible;

    fn logged(&self, u: &SignedRef) -> Result<bool, Self::Error> {
        Ok(self.log.contains_key(&u.stamp))
    }

    fn has_object(&self, id: &ObjectId) -> Result<bool, Self::Error> {
        Ok(self.objects.contains(id))
    }

    fn tips(&self) -> Result<Vec<ObjectId>, Self::Error> {
        Ok(self.served.values().copied().collect())
    }

    fn get_ref(&self, name: &str) -> Result<ObjectId, Self::Error> {
        Ok(self.served.get(name).copied().unwrap_or(ObjectId::ZERO))
    }

    fn set_ref(
        &mut self,
        name: &str,
        _old: ObjectId,
        new: ObjectId,
        _conflict: bool,
    ) -> Result<(), Self::Error> {
        if new.is_zero() {
            self.served.remove(name);
        } else {
            self.served.insert(name.to_string(), new);
        }
        Ok(())
    }

    fn log(&mut self, u: &SignedRef) -> Result<(), Self::Error> {
        self.log.insert(u.stamp, u.clone());
        self.digest = std::cell::OnceCell::new();
        Ok(())
    }
}

/// A node's store.
#[derive(Debug, Default, Clone)]
pub struct Model {
    /// Repositories by `owner/name`.
    pub repos: BTreeMap<String, RepoModel>,
    /// Repositories this node does not seed (its seeding policy leaves them out).
    pub unseeded: BTreeSet<String>,
}

/// What a node serves: ref values and conflict tips, per repository.
pub type Table = BTreeMap<String, BTreeMap<String, (ObjectId, BTreeSet<ObjectId>)>>;

impl Model {
    /// Every log's digest (a hash over its stamps), like the node's.
    pub fn digests(&self) -> Vec<RepoDigest> {
        self.repos
            .iter()
            .filter(|(_, r)| !r.log.is_empty())
            .map(|(name, r)| RepoDigest {
                repo: name.clone(),
                digest: *r.digest.get_or_init(|| {
                    let mut h = Sha256::new();
                    for s in r.log.keys() {
                        h.update(s.hlc.wall_ms.to_be_bytes());
                        h.update(s.hlc.logical.to_be_bytes());
                        h.update(s.origin.0);
                    }
                    h.finalize().into()
                }),
                entries: r.log.len() as u64,
            })
            .collect()
    }

    /// Updates stamped after `after`, oldest first, at most `limit`.
    pub fn updates(&self, repo: &str, after: Option<Stamp>, limit: usize) -> Vec<SignedRef> {
        let Some(r) = self.repos.get(repo) else {
            return Vec::new();
        };
        r.log
            .iter()
            .filter(|(s, _)| after.is_none_or(|a| **s > a))
            .take(limit)
            .map(|(_, u)| u.clone())
            .collect()
    }

    /// Answers a peer's request (digests, pages, records).
    pub fn serve(&self, request: Request) -> Response {
        match request {
            Request::Digest { repos } => Response::Digest {
                repos: differing(self.digests(), repos),
            },
            Request::Updates { repo, after } => page(self.updates(&repo, after, UPDATES_PAGE + 1)),
            Request::Compare { repo, digest } => {
                guts_net::proto::compare(self.digests(), &repo, digest)
            }
            Request::Records { .. } => Response::Records {
                records: Vec::new(),
                next: None,
            },
            _ => Response::Error {
                message: "packs travel by download".into(),
            },
        }
    }

    /// True if this node's policy seeds `repo`.
    pub fn seeds(&self, repo: &str) -> bool {
        !self.unseeded.contains(repo)
    }

    /// Checks signatures, then which updates are new and which commits they need. As in
    /// the node (`replica/host.rs`): a repository not seeded and not held takes nothing.
    pub fn plan(&self, repo: &str, updates: Vec<SignedRef>) -> (SyncPlan, usize) {
        if !self.repos.contains_key(repo) && !self.seeds(repo) {
            return (SyncPlan::default(), 0);
        }
        let (good, refused) = verified(updates);
        let Ok(plan) = updates::plan(self.repos.get(repo), &good, |_| true);
        (plan, refused)
    }

    /// What `wants` reach that `haves` do not; every want must be here.
    pub fn build_pack(
        &self,
        world: &World,
        repo: &str,
        wants: &[[u8; 20]],
        haves: &[[u8; 20]],
    ) -> Result<Pack, String> {
        let r = self.repos.get(repo).ok_or("no such repository")?;
        let wants: Vec<ObjectId> = wants.iter().map(|w| ObjectId::from_bytes(*w)).collect();
        if let Some(w) = wants.iter().find(|w| !r.objects.contains(w)) {
            return Err(format!("object {w} is not here"));
        }
        let haves = haves
            .iter()
            .map(|h| ObjectId::from_bytes(*h))
            .filter(|h| r.objects.contains(h));
        let known = world.closure(haves);
        Ok(world
            .closure(wants)
            .into_iter()
            .filter(|c| !known.contains(c))
            .collect())
    }

    /// A stored pack, if every commit of it is here.
    pub fn stored_pack(&self, repo: &str, pack: &Pack) -> Result<Pack, String> {
        let r = self.repos.get(repo).ok_or("no such repository")?;
        if pack.iter().all(|c| r.objects.contains(c)) {
            Ok(pack.clone())
        } else {
            Err("no such pack here".into())
        }
    }

    /// Stores the pack and applies the updates with the merge rule, all or nothing: every
    /// update's commits must be here with all their history. Returns how many were new.
    pub fn apply(
        &mut self,
        world: &World,
        repo: &str,
        pack: Option<Pack>,
        updates: Vec<SignedRef>,
    ) -> Result<usize, String> {
        let r = self.repos.entry(repo.to_string()).or_default();
        let mut objects = r.objects.clone();
        objects.extend(pack.into_iter().flatten());
        for u in &updates {
            let tips = [u.new, u.old].map(ObjectId::from_bytes);
            if let Some(c) = world
                .closure(tips)
                .into_iter()
                .find(|c| !objects.contains(c))
            {
                return Err(format!("missing object {c}"));
            }
        }
        r.objects = objects;
        let mut states = std::mem::take(&mut r.refs);
        let steps = updates::apply(r, &mut states, &updates, world);
        r.refs = states;
        let Ok(steps) = steps;
        Ok(steps.len())
    }

    /// The refs this node serves: each ref's value and conflict tips (deleted refs with no
    /// conflicts are absent).
    pub fn table(&self, world: &World) -> Table {
        self.repos
            .iter()
            .map(|(name, r)| {
                let refs = r
                    .refs
                    .iter()
                    .filter_map(|(n, s)| {
                        let value = s.winner().map_or(ObjectId::ZERO, |w| w.new);
                        let conflicts = s.conflicts(world);
                        (!value.is_zero() || !conflicts.is_empty())
                            .then(|| (n.clone(), (value, conflicts)))
                    })
                    .collect();
                (name.clone(), refs)
            })
            .collect()
    }

    /// The value of a ref here (zero if absent or deleted).
    pub fn value(&self, repo: &str, name: &str) -> ObjectId {
        self.repos
            .get(repo)
            .and_then(|r| r.refs.get(name))
            .and_then(RefState::winner)
            .map_or(ObjectId::ZERO, |w| w.new)
    }
}
