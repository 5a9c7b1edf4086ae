//! Applying replicated updates: the fetched pack is verified exactly as a pushed one
//! (checksum, every object's id, thin bases, strict object checks), every update's objects
//! must be present and connected, then the updates go through the merge rule in stamp order
//! ([`guts_net::updates::apply`], the same code the simulator runs) over this repository's
//! refs and log ([`Table`]). Refs move before the log entry is written and the store is
//! flushed before returning, so a crash never leaves a logged update whose ref did not move.

use guts_net::ReplicaError;
use std::collections::{BTreeMap, HashSet};
use std::fs::File;

use guts_git::ObjectId;
use guts_git::odb::ObjectRead;
use guts_git::walk::{check_connected, is_ancestor};
use guts_net::updates::{self, RefTable, seen};
use guts_net::{Ancestry, RefState, SignedRef};
use guts_store::{IngestOptions, NewRepo, RefUpdate, Repo, RepoName, RepoOdb};

use super::host::{NodeHost, Outcome};
use super::log::{self, log_key};
use crate::events::{Event, Replicated};

/// Ancestry over a repository's objects.
pub(super) struct Odb<'a, O: ObjectRead>(pub(super) &'a O);

impl<O: ObjectRead> Ancestry for Odb<'_, O> {
    fn contains(&self, tip: &ObjectId, ancestor: &ObjectId) -> bool {
        tip == ancestor || matches!(is_ancestor(self.0, ancestor, tip), Ok(true))
    }
}

/// A repository's refs, log and objects in the store, as the merge rule reads and moves them.
pub(super) struct Table<'a> {
    repo: &'a Repo,
    odb: RepoOdb,
}

impl<'a> Table<'a> {
    pub(super) fn new(repo: &'a Repo) -> Table<'a> {
        Table {
            odb: repo.odb(),
            repo,
        }
    }
}

impl RefTable for Table<'_> {
    type Error = ReplicaError;

    fn logged(&self, u: &SignedRef) -> Result<bool, ReplicaError> {
        Ok(self.repo.log_contains(&log_key(&u.stamp))?)
    }

    fn has_object(&self, id: &ObjectId) -> Result<bool, ReplicaError> {
        Ok(self.odb.contains(id)?)
    }

    fn tips(&self) -> Result<Vec<ObjectId>, ReplicaError> {
        Ok(self
            .repo
            .list_refs()?
            .into_iter()
            .map(|(_, id)| id)
            .collect())
    }

    fn get_ref(&self, name: &str) -> Result<ObjectId, ReplicaError> {
        Ok(self.repo.get_ref(name)?.unwrap_or(ObjectId::ZERO))
    }

    fn set_ref(
        &mut self,
        name: &str,
        old: ObjectId,
        new: ObjectId,
        conflict: bool,
    ) -> Result<(), ReplicaError> {
        // A branch moved other than forward may leave objects reachable from nothing.
        if !conflict {
            let ff = old.is_zero() || (!new.is_zero() && Odb(&self.odb).contains(&new, &old));
            if !ff && self.repo.is_closed()? {
                self.repo.mark_open()?;
            }
        }
        let u = RefUpdate {
            name: name.to_string(),
            old,
            new,
        };
        match self.repo.update_ref(&u)? {
            Ok(()) => Ok(()),
            Err(e) => Err(ReplicaError::Store(guts_store::StoreError::Internal(
                format!("ref {name} moved meanwhile: {e}"),
            ))),
        }
    }

    fn log(&mut self, u: &SignedRef) -> Result<(), ReplicaError> {
        self.repo.log_insert(&log_key(&u.stamp), &log::encode(u)?)?;
        Ok(())
    }
}

fn open_or_create(host: &NodeHost, full: &RepoName) -> Result<Repo, ReplicaError> {
    if let Some(r) = host.repo(full)? {
        return Ok(r);
    }
    let new = NewRepo {
        owner: full.owner().into(),
        name: full.name().into(),
        ..NewRepo::default()
    };
    match host.store().create_repo(&new) {
        Ok(_) => {}
        // Created meanwhile by someone else: fine.
        Err(guts_store::StoreError::Exists) => {}
        Err(e) => return Err(e.into()),
    }
    host.repo(full)?.ok_or(ReplicaError::NotReady(
        "the repository was deleted meanwhile",
    ))
}

/// Verifies `pack`, then applies the updates it makes complete; those it does not are
/// counted as refused. Returns what changed and the events to publish.
pub(super) fn apply(
    host: &NodeHost,
    full: &RepoName,
    pack: Option<File>,
    mut updates: Vec<SignedRef>,
) -> Result<Outcome, ReplicaError> {
    let repo = open_or_create(host, full)?;
    updates.sort_by_key(|u| u.stamp);
    let total = updates.len();
    let existing: Vec<ObjectId> = repo.list_refs()?.into_iter().map(|(_, id)| id).collect();
    // Verify the pack and which updates it makes complete.
    let usable: Vec<SignedRef> = match pack {
        Some(file) => {
            // The same bounds as a push.
            let mut opts = IngestOptions::default();
            opts.index.max_object_size = host.max_object_bytes();
            let rx = repo.receive_pack(file, &opts, &mut ()).map_err(|e| {
                ReplicaError::refused(format!("pack refused: {}", crate::error::chain(&e)))
            })?;
            let odb = repo.odb();
            let overlay = rx.overlay(&odb);
            // A self-contained pack holds everything its objects reference: tips inside it
            // are connected without a walk (as for a first push).
            let closed = rx.self_contained();
            let usable = complete(&overlay, &existing, &updates, |id| {
                closed && rx.contains(id)
            });
            let tips: HashSet<ObjectId> = usable
                .iter()
                .flat_map(|u| [ObjectId::from_bytes(u.new), ObjectId::from_bytes(u.old)])
                .collect();
            let dangling = !rx.self_contained()
                || rx
                    .roots()
                    .unwrap_or_default()
                    .iter()
                    .any(|r| !tips.contains(r) && !matches!(odb.contains(r), Ok(true)));
            drop(overlay);
            if dangling && repo.is_closed()? {
                repo.mark_open()?;
            }
            if !usable.is_empty() {
                repo.commit_pack(rx)?;
            }
            usable
        }
        None => complete(&repo.odb(), &existing, &updates, |_| false),
    };
    let refused = total - usable.len();
    let writer = repo.writer();
    let _one = guts_store::sync::lock(&writer);
    let odb = repo.odb();
    // The merge state of each ref these updates touch, from one pass over the log.
    let names: HashSet<&str> = usable.iter().map(|u| u.name.as_str()).collect();
    let mut states: BTreeMap<String, RefState> = BTreeMap::new();
    for (_, v) in repo.log_entries()? {
        let u = log::decode(&v)?;
        if names.contains(u.name.as_str()) {
            states.entry(u.name.clone()).or_default().insert(seen(&u));
        }
    }
    let steps = updates::apply(&mut Table::new(&repo), &mut states, &usable, &Odb(&odb))?;
    repo.store_flush()?;
    drop(_one);
    // Published once the store is flushed.
    let mut events = Vec::new();
    let now = host.signer().now_ms();
    for s in &steps {
        host.signer().observe(s.update.stamp.hlc);
        host.metrics()
            .replicated(now.saturating_sub(s.update.stamp.hlc.wall_ms));
        for _ in &s.new_conflicts {
            host.metrics().conflict();
        }
    }
    if !steps.is_empty() {
        let moved = steps
            .iter()
            .filter(|s| s.wins)
            .map(|s| s.update.name.clone());
        events.extend(crate::collab::events::heads_moved(
            host.store(),
            &full.to_string(),
            moved,
        ));
        events.push(Event::RefReplicated {
            repo: full.to_string(),
            refs: steps
                .iter()
                .map(|s| Replicated::of(&s.update, s.wins))
                .collect(),
        });
    }
    for s in &steps {
        let conflicts = s.new_conflicts.iter().map(|t| (t, false));
        for (tip, resolved) in conflicts.chain(s.resolved.iter().map(|t| (t, true))) {
            events.push(Event::Conflict {
                repo: full.to_string(),
                name: s.update.name.clone(),
                tip: *tip,
                resolved,
            });
        }
    }
    Ok(Outcome {
        applied: steps.len(),
        refused,
        events,
    })
}

/// The updates whose objects are all present and connected to what is already here.
fn complete(
    odb: &impl ObjectRead,
    existing: &[ObjectId],
    updates: &[SignedRef],
    connected: impl Fn(&ObjectId) -> bool,
) -> Vec<SignedRef> {
    // Usually all are: one walk over every tip at once (one walk per tip would be quadratic
    // for many refs on a long history).
    let tips: Vec<ObjectId> = updates
        .iter()
        .flat_map(|u| [u.new, u.old])
        .map(ObjectId::from_bytes)
        .filter(|id| !id.is_zero() && !connected(id))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if check_connected(odb, &tips, existing).is_ok() {
        return updates.to_vec();
    }
    let mut ok = Vec::new();
    let mut checked: HashSet<ObjectId> = HashSet::new();
    for u in updates {
        let mut good = true;
        for id in [u.new, u.old] {
            let id = ObjectId::from_bytes(id);
            if id.is_zero() || connected(&id) || checked.contains(&id) {
                continue;
            }
            if check_connected(odb, &[id], existing).is_ok() {
                checked.insert(id);
            } else {
                tracing::warn!(r#ref = %u.name, %id, "replicated update refused: objects missing");
                good = false;
            }
        }
        if good {
            ok.push(u.clone());
        }
    }
    ok
}
