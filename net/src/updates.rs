//! Planning and applying a repository's signed updates: one piece of code for every store
//! that holds them (the node's sled store, the simulator's model). What differs between
//! stores (where objects and refs live, how a pack is verified, whose pushes are allowed)
//! sits behind [`RefTable`] and the caller's `accept`.
//!
//! - [`plan`]: which updates are new here, which objects they need, what to offer as haves.
//! - [`apply`]: the merge rule in stamp order: the winner moves the ref, new conflict tips
//!   get a `refs/guts/conflicts/...` ref, covered ones lose it, each update joins the log.

use std::collections::{BTreeMap, HashSet};

use guts_git::ObjectId;

use crate::host::SyncPlan;
use crate::merge::{Ancestry, RefState, Seen, conflict_ref};
use crate::signed::SignedRef;

/// Ids offered as haves at most.
pub const MAX_HAVES: usize = 10_000;

/// One repository's log, refs and objects, as replication reads and writes them.
pub trait RefTable {
    /// Why a read or write failed.
    type Error;
    /// True if the update stamped `u.stamp` is in the log.
    fn logged(&self, u: &SignedRef) -> Result<bool, Self::Error>;
    /// True if the object is here.
    fn has_object(&self, id: &ObjectId) -> Result<bool, Self::Error>;
    /// The values of the refs here, to offer as haves.
    fn tips(&self) -> Result<Vec<ObjectId>, Self::Error>;
    /// A ref's value (zero when absent).
    fn get_ref(&self, name: &str) -> Result<ObjectId, Self::Error>;
    /// Moves a ref from `old` to `new` (zero deletes it). `conflict` tells a conflict ref
    /// from a ref the merge rule's winner moves.
    fn set_ref(
        &mut self,
        name: &str,
        old: ObjectId,
        new: ObjectId,
        conflict: bool,
    ) -> Result<(), Self::Error>;
    /// Appends an applied update to the log.
    fn log(&mut self, u: &SignedRef) -> Result<(), Self::Error>;
}

/// The merge state of a ref from an update.
pub fn seen(u: &SignedRef) -> Seen {
    Seen {
        stamp: u.stamp,
        old: ObjectId::from_bytes(u.old),
        new: ObjectId::from_bytes(u.new),
    }
}

/// Which of `updates` are new in `table` (absent: no such repository here yet) and allowed
/// by `accept`, oldest first without duplicates; the objects they name that are not here;
/// and the ref values here as haves (sorted, at most [`MAX_HAVES`]).
pub fn plan<T: RefTable>(
    table: Option<&T>,
    updates: &[SignedRef],
    mut accept: impl FnMut(&SignedRef) -> bool,
) -> Result<SyncPlan, T::Error> {
    let mut new = Vec::new();
    for u in updates {
        let known = match table {
            Some(t) => t.logged(u)?,
            None => false,
        };
        if !known && accept(u) {
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
    for u in &plan.new {
        for id in [u.new, u.old] {
            let oid = ObjectId::from_bytes(id);
            if oid.is_zero() || !wanted.insert(id) {
                continue;
            }
            let present = match table {
                Some(t) => t.has_object(&oid)?,
                None => false,
            };
            if !present {
                plan.wants.push(id);
            }
        }
    }
    if let Some(t) = table {
        let mut haves: Vec<[u8; 20]> = t
            .tips()?
            .into_iter()
            .filter(|id| !id.is_zero())
            .map(|id| *id.as_bytes())
            .collect();
        haves.sort_unstable();
        haves.dedup();
        haves.truncate(MAX_HAVES);
        plan.haves = haves;
    }
    Ok(plan)
}

/// What applying one update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The update (now in the log).
    pub update: SignedRef,
    /// It is now its ref's value.
    pub wins: bool,
    /// Tips that became conflicts (each now at its conflict ref).
    pub new_conflicts: Vec<ObjectId>,
    /// Conflict tips a later update covers whose conflict ref was dropped.
    pub resolved: Vec<ObjectId>,
}

/// Applies `updates` (their objects all here) to `table` by the merge rule, in stamp order,
/// skipping those already logged. `states` holds the merge state of each ref they touch (as
/// rebuilt from the log) and is updated. Returns what each applied update did.
pub fn apply<T: RefTable>(
    table: &mut T,
    states: &mut BTreeMap<String, RefState>,
    updates: &[SignedRef],
    anc: &impl Ancestry,
) -> Result<Vec<Step>, T::Error> {
    let mut order: Vec<&SignedRef> = updates.iter().collect();
    order.sort_by_key(|u| u.stamp);
    let mut steps = Vec::new();
    for u in order {
        if table.logged(u)? {
            continue;
        }
        let outcome = states
            .entry(u.name.clone())
            .or_default()
            .apply(seen(u), anc);
        if outcome.wins {
            let target = ObjectId::from_bytes(u.new);
            let current = table.get_ref(&u.name)?;
            if current != target {
                table.set_ref(&u.name, current, target, false)?;
            }
        }
        for tip in &outcome.new_conflicts {
            let name = conflict_ref(&u.name, tip);
            let current = table.get_ref(&name)?;
            if current != *tip {
                table.set_ref(&name, current, *tip, true)?;
            }
        }
        let mut resolved = Vec::new();
        for tip in &outcome.resolved {
            let name = conflict_ref(&u.name, tip);
            if table.get_ref(&name)? == *tip {
                table.set_ref(&name, *tip, ObjectId::ZERO, true)?;
                resolved.push(*tip);
            }
        }
        table.log(u)?;
        steps.push(Step {
            update: u.clone(),
            wins: outcome.wins,
            new_conflicts: outcome.new_conflicts,
            resolved,
        });
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use super::*;
    use crate::hlc::{Hlc, Stamp};
    use crate::identity::NodeKey;
    use crate::merge::{Dag, id};

    #[derive(Default)]
    struct Mem {
        log: BTreeSet<Stamp>,
        refs: BTreeMap<String, ObjectId>,
        objects: BTreeSet<ObjectId>,
    }

    impl RefTable for Mem {
        type Error = String;
        fn logged(&self, u: &SignedRef) -> Result<bool, String> {
            Ok(self.log.contains(&u.stamp))
        }
        fn has_object(&self, id: &ObjectId) -> Result<bool, String> {
            Ok(self.objects.contains(id))
        }
        fn tips(&self) -> Result<Vec<ObjectId>, String> {
            Ok(self.refs.values().copied().collect())
        }
        fn get_ref(&self, name: &str) -> Result<ObjectId, String> {
            Ok(self.refs.get(name).copied().unwrap_or(ObjectId::ZERO))
        }
        fn set_ref(
            &mut self,
            name: &str,
            old: ObjectId,
            new: ObjectId,
            _: bool,
        ) -> Result<(), String> {
            if self.get_ref(name)? != old {
                return Err(format!("{name} moved"));
            }
            if new.is_zero() {
                self.refs.remove(name);
            } else {
                self.refs.insert(name.into(), new);
            }
            Ok(())
        }
        fn log(&mut self, u: &SignedRef) -> Result<(), String> {
            self.log.insert(u.stamp);
            Ok(())
        }
    }

    fn update(key: &NodeKey, ms: u64, old: ObjectId, new: ObjectId) -> SignedRef {
        let stamp = Stamp {
            hlc: Hlc {
                wall_ms: ms,
                logical: 0,
            },
            origin: key.id(),
        };
        SignedRef::sign(
            key,
            "o/r",
            "refs/heads/main",
            *old.as_bytes(),
            *new.as_bytes(),
            stamp,
            None,
        )
    }

    #[test]
    fn concurrent_updates_give_the_same_refs_in_either_order_and_a_merge_settles_them() {
        let key = NodeKey::generate().expect("key");
        // base <- a, base <- b, merge(a, b).
        let dag = Dag(HashMap::from([
            (id(2), vec![id(1)]),
            (id(3), vec![id(1)]),
            (id(4), vec![id(2), id(3)]),
        ]));
        let (a, b) = (
            update(&key, 10, id(1), id(2)),
            update(&key, 11, id(1), id(3)),
        );
        let run = |order: Vec<SignedRef>| {
            let mut t = Mem::default();
            t.refs.insert("refs/heads/main".into(), id(1));
            let mut states = BTreeMap::new();
            for u in order {
                apply(&mut t, &mut states, &[u], &dag).expect("applies");
            }
            (t, states)
        };
        let (one, _) = run(vec![a.clone(), b.clone()]);
        let (two, mut states) = run(vec![b.clone(), a.clone()]);
        assert_eq!(one.refs, two.refs);
        let conflict = conflict_ref("refs/heads/main", &id(2));
        assert_eq!(one.refs.get("refs/heads/main"), Some(&id(3)));
        assert_eq!(one.refs.get(&conflict), Some(&id(2)));
        // A merge of both covers the conflict: its ref goes.
        let mut t = two;
        let m = update(&key, 12, id(3), id(4));
        let steps = apply(&mut t, &mut states, &[m.clone(), m], &dag).expect("applies");
        assert_eq!(steps.len(), 1, "a duplicate is applied once");
        assert_eq!(steps[0].resolved, vec![id(2)]);
        assert_eq!(t.refs.get(&conflict), None);
        assert_eq!(t.refs.get("refs/heads/main"), Some(&id(4)));
        // Applied again: already logged, nothing happens.
        assert!(
            apply(&mut t, &mut states, &[a], &dag)
                .expect("ok")
                .is_empty()
        );
    }

    #[test]
    fn a_plan_keeps_new_allowed_updates_once_and_wants_only_what_is_missing() {
        let key = NodeKey::generate().expect("key");
        let mut t = Mem::default();
        t.objects.insert(id(1));
        t.refs.insert("refs/heads/main".into(), id(1));
        let old = update(&key, 5, ObjectId::ZERO, id(1));
        t.log.insert(old.stamp);
        let new = update(&key, 10, id(1), id(2));
        let banned = update(&key, 11, id(2), id(3));
        let updates = [new.clone(), old, new.clone(), banned.clone()];
        let plan = plan(Some(&t), &updates, |u| u.stamp != banned.stamp).expect("plans");
        assert_eq!(plan.new, vec![new]);
        assert_eq!(plan.wants, vec![*id(2).as_bytes()]);
        assert_eq!(plan.haves, vec![*id(1).as_bytes()]);
        // No repository here yet: everything is new and wanted, nothing is had.
        let none = super::plan::<Mem>(None, &updates, |_| true).expect("plans");
        assert_eq!(none.new.len(), 3);
        assert_eq!(none.wants.len(), 3);
        assert!(none.haves.is_empty());
    }
}
