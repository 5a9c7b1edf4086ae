//! The merge rule converges: any delivery order of any set of updates to a ref (concurrent,
//! divergent, forced, deletions) yields the same value and the same conflict tips, and
//! every pushed tip stays reachable from the value or a conflict tip unless a later update
//! knowingly replaced it.

use std::collections::HashMap;

use guts_git::ObjectId;
use guts_net::{Ancestry, Hlc, NodeId, RefState, Seen, Stamp};
use proptest::prelude::*;

struct Dag(HashMap<ObjectId, Vec<ObjectId>>);

impl Ancestry for Dag {
    fn contains(&self, tip: &ObjectId, ancestor: &ObjectId) -> bool {
        let mut stack = vec![*tip];
        let mut seen = std::collections::HashSet::new();
        while let Some(c) = stack.pop() {
            if c == *ancestor {
                return true;
            }
            if seen.insert(c) {
                stack.extend(self.0.get(&c).into_iter().flatten());
            }
        }
        false
    }
}

fn commit(i: usize) -> ObjectId {
    let mut b = [0u8; 20];
    b[0] = 1;
    b[1] = i as u8;
    ObjectId::from_bytes(b)
}

/// (parents of each commit, updates as (node, wall, old, new) with None for zero).
type Case = (
    Vec<Vec<usize>>,
    Vec<(u8, u64, Option<usize>, Option<usize>)>,
);

fn case() -> impl Strategy<Value = Case> {
    (2usize..14).prop_flat_map(|n| {
        let parents = (0..n)
            .map(|i| {
                if i == 0 {
                    Just(Vec::new()).boxed()
                } else {
                    proptest::collection::vec(0..i, 0..=2).boxed()
                }
            })
            .collect::<Vec<_>>();
        let update = (
            1u8..4,
            0u64..6,
            proptest::option::weighted(0.7, 0..n),
            proptest::option::weighted(0.85, 0..n),
        );
        (parents, proptest::collection::vec(update, 1..10))
    })
}

fn build(case: &Case) -> (Dag, Vec<Seen>) {
    let (parents, updates) = case;
    let dag = Dag(parents
        .iter()
        .enumerate()
        .map(|(i, ps)| (commit(i), ps.iter().map(|&p| commit(p)).collect()))
        .collect());
    let to_id = |c: &Option<usize>| c.map_or(ObjectId::ZERO, commit);
    let seen = updates
        .iter()
        .enumerate()
        .map(|(i, (node, wall, old, new))| Seen {
            stamp: Stamp {
                hlc: Hlc {
                    wall_ms: *wall,
                    logical: i as u32,
                },
                origin: NodeId([*node; 32]),
            },
            old: to_id(old),
            new: to_id(new),
        })
        .collect();
    (dag, seen)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_delivery_order_gives_the_same_ref_and_conflicts(
        c in case(),
        order_a in proptest::collection::vec(any::<u32>(), 10),
        order_b in proptest::collection::vec(any::<u32>(), 10),
        dup in any::<prop::sample::Index>(),
    ) {
        let (dag, updates) = build(&c);
        let deliver = |keys: &[u32], redeliver: Option<usize>| {
            let mut order: Vec<usize> = (0..updates.len()).collect();
            order.sort_by_key(|&i| keys[i]);
            if let Some(d) = redeliver {
                order.push(d);
            }
            let mut r = RefState::default();
            for i in order {
                r.apply(updates[i], &dag);
            }
            r
        };
        let a = deliver(&order_a, None);
        let b = deliver(&order_b, Some(dup.index(updates.len())));
        prop_assert_eq!(&a, &b);
        let conflicts = a.conflicts(&dag);
        prop_assert_eq!(&conflicts, &b.conflicts(&dag));

        // The value is the update with the greatest stamp.
        let max = updates.iter().max_by_key(|u| u.stamp).map(|u| u.new);
        prop_assert_eq!(a.winner().map(|w| w.new), max);

        // Nothing is lost: each tip is reachable from the value or a conflict tip, or
        // knowingly replaced (by a later update, or inside a later tip that was).
        let winner = a.winner().map_or(ObjectId::ZERO, |w| w.new);
        let kept = |t: &ObjectId| {
            (!winner.is_zero() && dag.contains(&winner, t))
                || conflicts.iter().any(|c| dag.contains(c, t))
        };
        let mut sorted = updates.clone();
        sorted.sort_by_key(|u| u.stamp);
        let mut safe = vec![false; sorted.len()];
        for i in (0..sorted.len()).rev() {
            let u = &sorted[i];
            safe[i] = u.new.is_zero()
                || kept(&u.new)
                || (i + 1..sorted.len()).any(|j| {
                    let v = &sorted[j];
                    (!v.old.is_zero() && dag.contains(&v.old, &u.new))
                        || (safe[j] && !v.new.is_zero() && dag.contains(&v.new, &u.new))
                });
            prop_assert!(safe[i], "tip {} lost", u.new);
        }
        // A conflict tip is never already inside the value.
        for c in &conflicts {
            prop_assert!(winner.is_zero() || !dag.contains(&winner, c));
        }
    }
}
