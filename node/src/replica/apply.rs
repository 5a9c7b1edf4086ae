//! Applying replicated updates: the fetched pack is verified exactly as a pushed one
//! (checksum, every object's id, thin bases, strict object checks), every update's objects
//! must be present and connected, then each update goes through the merge rule in stamp
//! order: the winner moves the ref, new conflict tips get `refs/guts/conflicts/...` refs
//! (dropped again once a later update covers them), and the update joins the log. Refs move before the log entry is written and the store is
//! flushed before returning, so a crash never leaves a logged update whose ref did not move.

use guts_net::ReplicaError;
use std::collections::{HashMap, HashSet};
use std::fs::File;

use guts_git::ObjectId;
use guts_git::odb::ObjectRead;
use guts_git::walk::{check_connected, is_ancestor};
use guts_net::{Ancestry, RefState, SignedRef, conflict_ref};
use guts_store::{IngestOptions, NewRepo, RefUpdate, Repo};

use super::host::NodeHost;
use super::log::{self, log_key, ref_state, seen};
use super::now_ms;
use crate::events::Event;

/// Ancestry over a repository's objects.
struct Odb<'a, O: ObjectRead>(&'a O);

impl<O: ObjectRead> Ancestry for Odb<'_, O> {
    fn contains(&self, tip: &ObjectId, ancestor: &ObjectId) -> bool {
        tip == ancestor || matches!(is_ancestor(self.0, ancestor, tip), Ok(true))
    }
}

fn open_or_create(host: &NodeHost, full: &str) -> Result<Repo, ReplicaError> {
    if let Some(r) = host.repo(full)? {
        return Ok(r);
    }
    let n = super::host::repo_name(full)?;
    let (owner, name) = (n.owner(), n.name());
    let store = host.store()?;
    let new = NewRepo {
        owner: owner.into(),
        name: name.into(),
        ..NewRepo::default()
    };
    match store.create_repo(&new) {
        Ok(_) => {}
        // Created meanwhile by someone else: fine.
        Err(guts_store::StoreError::Exists) => {}
        Err(e) => return Err(e.into()),
    }
    host.repo(full)?.ok_or(ReplicaError::NotReady(
        "the repository was deleted meanwhile",
    ))
}

pub(super) fn apply(
    host: &NodeHost,
    full: &str,
    pack: Option<File>,
    mut updates: Vec<SignedRef>,
) -> Result<usize, ReplicaError> {
    let repo = open_or_create(host, full)?;
    updates.sort_by_key(|u| u.stamp);
    let total = updates.len();
    let existing: Vec<ObjectId> = repo.list_refs()?.into_iter().map(|(_, id)| id).collect();
    // Verify the pack and which updates it makes complete.
    let usable: Vec<SignedRef> = match pack {
        Some(file) => {
            // The same bounds as a push.
            let mut opts = IngestOptions::default();
            opts.index.max_object_size = host.state()?.config().max_object_bytes;
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
    let anc = Odb(&odb);
    // The merge state of each ref these updates touch, from one pass over the log.
    let names: HashSet<&str> = usable.iter().map(|u| u.name.as_str()).collect();
    let mut states: HashMap<String, RefState> = HashMap::new();
    for (_, v) in repo.log_entries()? {
        let u = log::decode(&v)?;
        if names.contains(u.name.as_str()) {
            states.entry(u.name.clone()).or_default().insert(seen(&u));
        }
    }
    let mut applied = 0;
    // What the event hub reports once the store is flushed.
    let mut moved_refs = Vec::new();
    let mut conflicts = Vec::new();
    let state = host.state()?;
    let metrics = state.metrics();
    let replication = state.replication();
    for u in &usable {
        let key = log_key(&u.stamp);
        if repo.log_contains(&key)? {
            continue;
        }
        let state = states.entry(u.name.clone()).or_default();
        let outcome = state.apply(seen(u), &anc);
        moved_refs.push(crate::events::Replicated::of(u, outcome.wins));
        if outcome.wins {
            let target = ObjectId::from_bytes(u.new);
            let current = repo.get_ref(&u.name)?.unwrap_or(ObjectId::ZERO);
            if current != target {
                let ff =
                    current.is_zero() || (!target.is_zero() && anc.contains(&target, &current));
                if !ff && repo.is_closed()? {
                    repo.mark_open()?;
                }
                set_ref(&repo, &u.name, current, target)?;
            }
        }
        for tip in &outcome.new_conflicts {
            let name = conflict_ref(&u.name, tip);
            let current = repo.get_ref(&name)?.unwrap_or(ObjectId::ZERO);
            if current != *tip {
                set_ref(&repo, &name, current, *tip)?;
            }
            metrics.conflict();
            conflicts.push((u.name.clone(), *tip, false));
        }
        // A later update merged or knowingly replaced these: the tip lives on elsewhere.
        for tip in &outcome.resolved {
            let name = conflict_ref(&u.name, tip);
            if repo.get_ref(&name)? == Some(*tip) {
                set_ref(&repo, &name, *tip, ObjectId::ZERO)?;
                conflicts.push((u.name.clone(), *tip, true));
            }
        }
        repo.log_insert(&key, &log::encode(u)?)?;
        replication.observe(u.stamp.hlc);
        metrics.replicated(now_ms().saturating_sub(u.stamp.hlc.wall_ms));
        applied += 1;
    }
    repo.store_flush()?;
    drop(_one);
    if !moved_refs.is_empty() {
        state.publish(Event::RefReplicated {
            repo: full.to_string(),
            refs: moved_refs,
        });
    }
    for (name, tip, resolved) in conflicts {
        state.publish(Event::Conflict {
            repo: full.to_string(),
            name,
            tip,
            resolved,
        });
    }
    if refused > 0 {
        return Err(ReplicaError::refused(format!(
            "{refused} of {total} updates refused: their objects are missing ({applied} applied)"
        )));
    }
    Ok(applied)
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

fn set_ref(repo: &Repo, name: &str, old: ObjectId, new: ObjectId) -> Result<(), ReplicaError> {
    let u = RefUpdate {
        name: name.to_string(),
        old,
        new,
    };
    match repo.update_ref(&u)? {
        Ok(()) => Ok(()),
        Err(e) => Err(ReplicaError::Store(guts_store::StoreError::Internal(
            format!("ref {name} moved meanwhile: {e}"),
        ))),
    }
}

/// After a local push (its updates already logged): drops the conflict refs of the pushed
/// refs that the push covered (merged, or replaced after seeing them), as every peer will
/// when it applies the same updates. A local update is the newest, so it adds no conflict.
/// Returns the conflicts settled: each ref and tip.
pub(crate) fn settle_local(
    repo: &Repo,
    pushed: &[SignedRef],
) -> Result<Vec<(String, ObjectId)>, guts_store::StoreError> {
    let mut settled = Vec::new();
    let conflicts = repo.list_refs_under("refs/guts/conflicts/")?;
    if conflicts.is_empty() {
        return Ok(settled);
    }
    let names: HashSet<&str> = pushed.iter().map(|u| u.name.as_str()).collect();
    let logged: Vec<SignedRef> = repo
        .log_entries()?
        .iter()
        .map(|(_, v)| log::decode(v))
        .collect::<Result<_, _>>()?;
    let odb = repo.odb();
    let anc = Odb(&odb);
    for name in names {
        let prefix = conflict_ref(name, &ObjectId::ZERO);
        let prefix = prefix.trim_end_matches(&ObjectId::ZERO.to_hex());
        let mine: Vec<&(String, ObjectId)> = conflicts
            .iter()
            .filter(|(n, _)| {
                n.strip_prefix(prefix)
                    .is_some_and(|rest| !rest.contains('/'))
            })
            .collect();
        if mine.is_empty() {
            continue;
        }
        let keep = ref_state(logged.iter(), name, &anc).conflicts(&anc);
        for (n, tip) in mine {
            if !keep.contains(tip) {
                let u = RefUpdate {
                    name: n.clone(),
                    old: *tip,
                    new: ObjectId::ZERO,
                };
                // Moved meanwhile: left for the next update to settle.
                if repo.update_ref(&u)?.is_ok() {
                    settled.push((name.to_string(), *tip));
                }
            }
        }
    }
    Ok(settled)
}
