//! The ref merge rule of DESIGN section 3, the same on every node: a last-writer-wins
//! register ordered by stamp, plus the set of conflict tips.
//!
//! Every update a node has seen for a ref is kept as `(stamp, old, new)`. The ref's value is
//! the update with the greatest stamp. An earlier update `u` is *covered* by a later update
//! `v` when `u.new` is contained in `v.new` (a fast-forward or merge over it) or in `v.old`
//! (what `v` knowingly replaced: a force push or delete made after seeing it). An update that
//! no later update covers, and that did not delete the ref, is a conflict: its tip is kept at
//! `refs/guts/conflicts/...`. Value and conflicts are functions of the *set* of updates, not
//! of their arrival order, so all nodes that have seen the same updates hold the same refs.
//! Nothing is lost: by induction from the newest update, every pushed tip is reachable from
//! the value or a conflict tip, or was knowingly replaced. A conflict tip stops being one
//! only when a later update covers it (someone merged it, or replaced it after seeing it).

use std::collections::BTreeSet;

use guts_git::ObjectId;

use crate::hlc::Stamp;

/// Answers ancestry questions about commits the node has.
pub trait Ancestry {
    /// True when `ancestor` is `tip` or reachable from it.
    fn contains(&self, tip: &ObjectId, ancestor: &ObjectId) -> bool;
}

/// One update of a ref, as far as the rule is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seen {
    /// Orders updates (unique per update).
    pub stamp: Stamp,
    /// What its origin replaced (zero: created).
    pub old: ObjectId,
    /// Its new value (zero: deleted).
    pub new: ObjectId,
}

/// What applying an update changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// It was seen before: nothing changed.
    pub duplicate: bool,
    /// It is now the ref's value.
    pub wins: bool,
    /// Tips that became conflicts.
    pub new_conflicts: Vec<ObjectId>,
    /// Tips that are no longer conflicts (a later update covers them).
    pub resolved: Vec<ObjectId>,
}

/// Everything a node knows about one ref.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefState {
    /// Every update seen, sorted by stamp.
    seen: Vec<Seen>,
}

impl RefState {
    /// The current value: the update with the greatest stamp.
    pub fn winner(&self) -> Option<&Seen> {
        self.seen.last()
    }

    /// Every update seen, oldest first.
    pub fn seen(&self) -> &[Seen] {
        &self.seen
    }

    /// Adds an update without working out conflicts; false if it was there already.
    pub fn insert(&mut self, u: Seen) -> bool {
        match self.seen.binary_search_by(|s| s.stamp.cmp(&u.stamp)) {
            Ok(_) => false,
            Err(at) => {
                self.seen.insert(at, u);
                true
            }
        }
    }

    /// The conflict tips: updates no later update covers (objects must be present).
    pub fn conflicts(&self, anc: &impl Ancestry) -> BTreeSet<ObjectId> {
        let mut out = BTreeSet::new();
        let Some((_, earlier)) = self.seen.split_last() else {
            return out;
        };
        for (i, u) in earlier.iter().enumerate() {
            // The next update usually covers it (a fast-forward has `old == u.new`).
            if !u.new.is_zero() && !self.seen[i + 1..].iter().any(|v| covers(u, v, anc)) {
                out.insert(u.new);
            }
        }
        out
    }

    /// Applies an update whose objects are all present (so `anc` can answer about them).
    pub fn apply(&mut self, u: Seen, anc: &impl Ancestry) -> Applied {
        let before = self.conflicts(anc);
        if !self.insert(u) {
            return Applied {
                duplicate: true,
                ..Applied::default()
            };
        }
        let after = self.conflicts(anc);
        Applied {
            duplicate: false,
            wins: self.winner() == Some(&u),
            new_conflicts: after.difference(&before).copied().collect(),
            resolved: before.difference(&after).copied().collect(),
        }
    }
}

/// True when the later update `v` covers the earlier `u`: `u`'s tip is contained in what `v`
/// wrote or in what `v` knowingly replaced.
fn covers(u: &Seen, v: &Seen, anc: &impl Ancestry) -> bool {
    (!v.old.is_zero() && anc.contains(&v.old, &u.new))
        || (!v.new.is_zero() && anc.contains(&v.new, &u.new))
}

/// Where a conflict tip of `name` is kept.
pub fn conflict_ref(name: &str, tip: &ObjectId) -> String {
    let short = name.strip_prefix("refs/").unwrap_or(name);
    format!("refs/guts/conflicts/{short}/{}", tip.to_hex())
}

/// Commits as a parent map, for tests of the rule and of what applies it.
#[cfg(test)]
pub(crate) struct Dag(pub(crate) std::collections::HashMap<ObjectId, Vec<ObjectId>>);

#[cfg(test)]
impl Ancestry for Dag {
    fn contains(&self, tip: &ObjectId, ancestor: &ObjectId) -> bool {
        let mut stack = vec![*tip];
        while let Some(c) = stack.pop() {
            if c == *ancestor {
                return true;
            }
            stack.extend(self.0.get(&c).into_iter().flatten());
        }
        false
    }
}

/// A test id: twenty times `n`.
#[cfg(test)]
pub(crate) fn id(n: u8) -> ObjectId {
    ObjectId::from_bytes([n; 20])
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::hlc::Hlc;
    use crate::identity::NodeId;

    fn seen(t: u64, node: u8, old: u8, new: u8) -> Seen {
        let z = |n: u8| if n == 0 { ObjectId::ZERO } else { id(n) };
        Seen {
            stamp: Stamp {
                hlc: Hlc {
                    wall_ms: t,
                    logical: 0,
                },
                origin: NodeId([node; 32]),
            },
            old: z(old),
            new: z(new),
        }
    }

    /// A merge of 2 and 4 over the divergent state resolves the conflict.
    fn d_merge(d: &Dag) {
        let mut m = Dag(d.0.clone());
        m.0.insert(id(5), vec![id(4), id(2)]);
        let mut r = RefState::default();
        r.apply(seen(1, 1, 0, 1), &m);
        r.apply(seen(5, 1, 1, 2), &m);
        assert_eq!(r.apply(seen(6, 2, 1, 4), &m).new_conflicts, vec![id(2)]);
        let merged = r.apply(seen(7, 2, 4, 5), &m);
        assert_eq!(merged.resolved, vec![id(2)]);
        assert!(r.conflicts(&m).is_empty());
    }

    /// 1 <- 2 <- 3, and 1 <- 4 (diverged from 2).
    fn dag() -> Dag {
        Dag(HashMap::from([
            (id(2), vec![id(1)]),
            (id(3), vec![id(2)]),
            (id(4), vec![id(1)]),
        ]))
    }

    #[test]
    fn fast_forwards_and_force_pushes_are_not_conflicts() {
        let mut r = RefState::default();
        let d = dag();
        assert!(r.apply(seen(1, 1, 0, 1), &d).wins);
        assert!(r.apply(seen(2, 1, 1, 2), &d).new_conflicts.is_empty());
        // Forced over 2 after seeing it: not a conflict.
        let a = r.apply(seen(3, 1, 2, 4), &d);
        assert!(a.wins && a.new_conflicts.is_empty());
        assert!(r.apply(seen(3, 1, 2, 4), &d).duplicate);
    }

    #[test]
    fn a_force_push_then_a_delete_leaves_no_conflict() {
        let d = dag();
        let mut r = RefState::default();
        r.apply(seen(1, 1, 0, 2), &d);
        r.apply(seen(2, 1, 2, 4), &d);
        let del = r.apply(seen(3, 2, 4, 0), &d);
        assert!(del.wins && del.new_conflicts.is_empty());
        assert!(r.conflicts(&d).is_empty());
    }

    #[test]
    fn concurrent_divergent_updates_keep_the_loser_in_either_order() {
        let d = dag();
        let a = seen(5, 1, 1, 2);
        let b = seen(6, 2, 1, 4);
        let mut x = RefState::default();
        x.apply(seen(1, 1, 0, 1), &d);
        let mut y = x.clone();
        x.apply(a, &d);
        assert_eq!(x.apply(b, &d).new_conflicts, vec![id(2)]);
        assert!(!y.apply(b, &d).duplicate);
        let late = y.apply(a, &d);
        assert!(!late.wins);
        assert_eq!(late.new_conflicts, vec![id(2)]);
        assert_eq!(x, y);
        assert_eq!(x.winner().map(|w| w.new), Some(id(4)));
        // Merged later: no longer a conflict.
        d_merge(&d);
        assert_eq!(
            conflict_ref("refs/heads/main", &id(2)),
            format!("refs/guts/conflicts/heads/main/{}", id(2).to_hex())
        );
    }
}
