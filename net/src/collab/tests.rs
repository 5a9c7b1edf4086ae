//! The fold is a function of the set of operations: any order, any duplicates, one state.
//! And the numbering rule: unique, stable for proposals that did not collide.

use proptest::prelude::*;

use super::*;
use crate::hlc::{Hlc, Stamp};
use crate::identity::NodeId;

fn stamp(ms: u64, node: u8) -> Stamp {
    Stamp {
        hlc: Hlc {
            wall_ms: ms,
            logical: 0,
        },
        origin: NodeId([node; 32]),
    }
}

fn open(kind: Kind, ms: u64) -> Op {
    Op {
        repo: "alice/app".into(),
        thread: None,
        stamp: stamp(ms, 1),
        author: "alice".into(),
        moderator: false,
        grant: Vec::new(),
        action: Action::Open {
            kind,
            title: "a title".into(),
            body: "a body".into(),
            number: 1,
        },
    }
}

fn pull() -> Kind {
    Kind::Pull {
        base: "main".into(),
        head: Head {
            repo: "alice/app".into(),
            branch: "topic".into(),
        },
    }
}

/// A random operation on `thread` from one of three users at one of three nodes; comment
/// targets are picked among `comments`.
fn action(comments: Vec<OpId>) -> impl Strategy<Value = Action> {
    let pick = move |i: usize| comments.get(i % comments.len().max(1)).copied();
    let pick2 = pick.clone();
    prop_oneof![
        "[a-z]{1,8}".prop_map(Action::EditTitle),
        "[a-z ]{0,12}".prop_map(Action::EditBody),
        "[a-z]{1,12}".prop_map(Action::Comment),
        ("[a-z]{1,3}", any::<bool>()).prop_map(|(name, on)| Action::Label { name, on }),
        ("[a-c]", any::<bool>()).prop_map(|(user, on)| Action::Assign { user, on }),
        Just(Action::Close),
        Just(Action::Reopen),
        (any::<u8>(), any::<bool>()).prop_map(|(c, approve)| Action::Review {
            verdict: if approve {
                Verdict::Approve
            } else {
                Verdict::RequestChanges
            },
            body: String::new(),
            commit: [c; 20],
        }),
        any::<u8>().prop_map(|c| Action::Merge {
            commit: [c; 20],
            strategy: MergeStrategy::Merge,
        }),
        (any::<usize>(), "[a-z]{1,6}").prop_map(move |(i, body)| match pick(i) {
            Some(comment) => Action::EditComment { comment, body },
            None => Action::Close,
        }),
        any::<usize>().prop_map(move |i| match pick2(i) {
            Some(c) => Action::DeleteComment(c),
            None => Action::Reopen,
        }),
    ]
}

/// An opening operation and up to 40 others, each with a small (often equal) time.
fn thread_ops() -> impl Strategy<Value = Vec<Op>> {
    let first = open(pull(), 100);
    let id = first.id();
    // Comments the later edits and deletions may name: fixed ids made up front.
    let seeds: Vec<Op> = (0..3u8)
        .map(|i| Op {
            repo: "alice/app".into(),
            thread: Some(id),
            stamp: stamp(200 + u64::from(i), i % 3),
            author: ["alice", "bob", "carol"][i as usize].into(),
            moderator: false,
            grant: Vec::new(),
            action: Action::Comment(format!("seed {i}")),
        })
        .collect();
    let comments: Vec<OpId> = seeds.iter().map(Op::id).collect();
    prop::collection::vec(
        (
            action(comments),
            100u64..400,
            0u8..3,
            0usize..3,
            any::<bool>(),
        ),
        0..40,
    )
    .prop_map(move |raw| {
        let mut ops = vec![first.clone()];
        ops.extend(seeds.iter().cloned());
        for (action, ms, node, who, moderator) in raw {
            ops.push(Op {
                repo: "alice/app".into(),
                thread: Some(id),
                stamp: stamp(ms, node),
                author: ["alice", "bob", "carol"][who].into(),
                moderator,
                grant: Vec::new(),
                action,
            });
        }
        ops
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256)
    ))]

    #[test]
    fn any_order_and_any_duplicates_fold_to_one_state(
        ops in thread_ops(),
        order in prop::collection::vec(any::<prop::sample::Index>(), 0..120),
    ) {
        let want = fold(&ops).expect("the opening is there");
        // Another order, with some operations repeated.
        let mut shuffled: Vec<&Op> = ops.iter().collect();
        for (i, ix) in order.iter().enumerate() {
            let j = ix.index(shuffled.len());
            if i % 3 == 0 {
                let dup = shuffled[j];
                shuffled.push(dup);
            } else {
                let k = i % shuffled.len();
                shuffled.swap(j, k);
            }
        }
        prop_assert_eq!(fold(shuffled), Some(want));
    }
}

#[test]
fn without_its_opening_a_thread_waits() {
    let first = open(Kind::Issue, 1);
    let comment = Op {
        thread: Some(first.id()),
        stamp: stamp(2, 2),
        action: Action::Comment("hi".into()),
        ..first.clone()
    };
    assert!(fold([&comment]).is_none());
    let t = fold([&comment, &first]).expect("now whole");
    assert_eq!(t.comments.len(), 1);
}

#[test]
fn a_pull_request_is_merged_once_and_stays_merged() {
    let first = open(pull(), 1);
    let op = |ms: u64, node: u8, who: &str, action: Action| Op {
        thread: Some(first.id()),
        stamp: stamp(ms, node),
        author: who.into(),
        action,
        ..first.clone()
    };
    let merge = |ms, node, c| Op {
        moderator: true,
        ..op(
            ms,
            node,
            "alice",
            Action::Merge {
                commit: [c; 20],
                strategy: MergeStrategy::Merge,
            },
        )
    };
    // Two nodes merge at once; someone closes after; a reopen after that.
    let ops = [
        first.clone(),
        merge(10, 2, 2),
        merge(10, 3, 3),
        op(11, 1, "bob", Action::Close),
        op(12, 1, "bob", Action::Reopen),
    ];
    let t = fold(&ops).expect("thread");
    match t.state {
        State::Merged { commit, .. } => assert_eq!(commit, [2; 20], "the first by stamp"),
        other => panic!("not merged: {other:?}"),
    }
    // An issue cannot be merged.
    let issue = open(Kind::Issue, 1);
    let m = Op {
        thread: Some(issue.id()),
        ..merge(5, 1, 1)
    };
    assert_eq!(fold([&issue, &m]).expect("issue").state, State::Open);
}

/// Without write access (no moderator flag), a user edits, closes and reopens only their
/// own threads, and never labels, assigns or merges.
#[test]
fn others_threads_need_write_access() {
    let first = open(pull(), 1);
    let op = |ms: u64, who: &str, moderator: bool, action: Action| Op {
        thread: Some(first.id()),
        stamp: stamp(ms, 2),
        author: who.into(),
        moderator,
        action,
        ..first.clone()
    };
    let attempts = |moderator: bool| {
        vec![
            first.clone(),
            op(2, "bob", moderator, Action::EditTitle("bob's".into())),
            op(3, "bob", moderator, Action::EditBody("bob's".into())),
            op(
                4,
                "bob",
                moderator,
                Action::Label {
                    name: "bug".into(),
                    on: true,
                },
            ),
            op(
                5,
                "bob",
                moderator,
                Action::Assign {
                    user: "bob".into(),
                    on: true,
                },
            ),
            op(6, "bob", moderator, Action::Close),
        ]
    };
    let t = fold(&attempts(false)).expect("thread");
    assert_eq!(
        (t.title.as_str(), t.body.as_str(), t.state.clone()),
        ("a title", "a body", State::Open)
    );
    assert!(t.labels.is_empty() && t.assignees.is_empty());
    let mut ops = attempts(false);
    ops.push(op(
        7,
        "bob",
        false,
        Action::Merge {
            commit: [1; 20],
            strategy: MergeStrategy::Merge,
        },
    ));
    assert_eq!(fold(&ops).expect("thread").state, State::Open);
    // The author closes their own; a moderator does all of it.
    let own = [first.clone(), op(2, "alice", false, Action::Close)];
    assert_eq!(fold(&own).expect("thread").state, State::Closed);
    let t = fold(&attempts(true)).expect("thread");
    assert_eq!(t.title, "bob's");
    assert_eq!(t.state, State::Closed);
    assert!(t.labels.contains("bug") && t.assignees.contains("bob"));
}

#[test]
fn only_its_author_or_a_moderator_edits_a_comment() {
    let first = open(Kind::Issue, 1);
    let op = |ms: u64, who: &str, moderator: bool, action: Action| Op {
        thread: Some(first.id()),
        stamp: stamp(ms, 1),
        author: who.into(),
        moderator,
        grant: Vec::new(),
        action,
        ..first.clone()
    };
    let c = op(2, "bob", false, Action::Comment("bob's".into()));
    let edit = |ms, who, moderator, body: &str| {
        op(
            ms,
            who,
            moderator,
            Action::EditComment {
                comment: c.id(),
                body: body.into(),
            },
        )
    };
    let ops = [
        first.clone(),
        c.clone(),
        edit(3, "carol", false, "carol's"),
        edit(4, "bob", false, "bob's again"),
    ];
    assert_eq!(fold(&ops).expect("t").comments[0].body, "bob's again");
    let ops = [
        first.clone(),
        c.clone(),
        edit(5, "carol", true, "moderated"),
    ];
    assert_eq!(fold(&ops).expect("t").comments[0].body, "moderated");
}

#[test]
fn limits_are_checked() {
    let mut o = open(Kind::Issue, 1);
    assert_eq!(o.validate(), Ok(()));
    o.action = Action::Open {
        kind: Kind::Issue,
        title: "x".repeat(MAX_TITLE + 1),
        body: String::new(),
        number: 1,
    };
    assert!(matches!(o.validate(), Err(OpError::TooLong { .. })));
    let c = Op {
        thread: Some(o.id()),
        action: Action::Comment("y".repeat(MAX_BODY + 1)),
        ..open(Kind::Issue, 2)
    };
    assert!(matches!(c.validate(), Err(OpError::TooLong { .. })));
    let orphan = Op {
        thread: None,
        action: Action::Close,
        ..open(Kind::Issue, 3)
    };
    assert!(matches!(orphan.validate(), Err(OpError::Shape(_))));
}

#[test]
fn concurrent_opens_get_distinct_numbers_by_one_rule() {
    let id = |b: u8| OpId([b; 32]);
    // Nodes 1 and 2 both proposed 7; a later thread proposed 8 knowing only #7.
    let threads = [
        (id(1), 7, stamp(100, 1)),
        (id(2), 7, stamp(101, 2)),
        (id(3), 8, stamp(102, 3)),
        (id(4), 3, stamp(10, 1)),
    ];
    let n = numbers(&threads);
    assert_eq!(n[&id(1)], 7, "the earliest keeps it");
    assert_eq!(n[&id(3)], 8, "a unique proposal is kept");
    assert_eq!(
        n[&id(2)],
        9,
        "the other takes the next number nobody proposed"
    );
    assert_eq!(n[&id(4)], 3);
    // Any order of the input gives the same numbers.
    let mut rev = threads;
    rev.reverse();
    assert_eq!(numbers(&rev), n);
    // All distinct.
    let distinct: std::collections::BTreeSet<u64> = n.values().copied().collect();
    assert_eq!(distinct.len(), n.len());
    assert_eq!(propose(n.values().copied()), 10);
}

#[test]
fn the_latest_stamp_wins_concurrent_edits() {
    let first = open(Kind::Issue, 1);
    let edit = |ms: u64, node: u8, title: &str| Op {
        thread: Some(first.id()),
        stamp: stamp(ms, node),
        action: Action::EditTitle(title.into()),
        ..first.clone()
    };
    // Whatever their ids, the later stamp wins; at one time, the node id decides.
    for (a, b) in [("zzz", "aaa"), ("aaa", "zzz"), ("m", "n"), ("n", "m")] {
        let ops = [first.clone(), edit(20, 1, a), edit(10, 1, b)];
        assert_eq!(fold(&ops).expect("t").title, a);
        let ops = [first.clone(), edit(30, 2, a), edit(30, 1, b)];
        assert_eq!(fold(&ops).expect("t").title, a);
    }
}

/// An operation with every text at its limit, and a grant of the most records with the
/// longest names, still fits one announcement.
#[test]
fn the_largest_operation_fits_one_announcement() {
    let key = crate::identity::NodeKey::generate().expect("key");
    let entry = crate::accounts::Entry::TeamRepo {
        org: "o".repeat(MAX_NAME),
        team: "t".repeat(MAX_NAME),
        repo: format!("{}/{}", "o".repeat(MAX_NAME), "r".repeat(MAX_NAME)),
        perm: crate::accounts::Perm::Admin,
    };
    let record = crate::announce::Announcement::sign(
        &key,
        crate::announce::Body::Account {
            stamp: stamp(1, 1),
            key: entry.key(),
            entry: Some(entry),
        },
    )
    .encode()
    .expect("encodes");
    let op = Op {
        repo: format!("{}/{}", "o".repeat(39), "r".repeat(100)),
        thread: None,
        stamp: stamp(1, 1),
        author: "u".repeat(MAX_NAME),
        moderator: true,
        grant: vec![record; crate::accounts::MAX_GRANT],
        action: Action::Open {
            kind: Kind::Pull {
                base: "b".repeat(MAX_TITLE),
                head: Head {
                    repo: "h".repeat(MAX_TITLE),
                    branch: "x".repeat(MAX_TITLE),
                },
            },
            title: "t".repeat(MAX_TITLE),
            body: "é".repeat(MAX_BODY / 2),
            number: u64::MAX,
        },
    };
    assert_eq!(op.validate(), Ok(()));
    let bytes = crate::announce::Announcement::sign(&key, crate::announce::Body::Collab { op })
        .encode()
        .expect("encodes");
    assert!(
        bytes.len() <= crate::announce::MAX_ANNOUNCEMENT,
        "{}",
        bytes.len()
    );
}

/// Forged operations are refused before anything is kept: from an untrusted node, stamped
/// as another node, altered after signing, or over the limits.
#[test]
fn forged_operations_are_refused() {
    use crate::announce::{AnnounceError, Announcement, Body};
    let trusted = crate::identity::NodeKey::generate().expect("key");
    let stranger = crate::identity::NodeKey::generate().expect("key");
    let ok = |n: &crate::identity::NodeId| *n == trusted.id();
    let op_of = |key: &crate::identity::NodeKey| Op {
        stamp: Stamp {
            hlc: Hlc {
                wall_ms: 1_000,
                logical: 0,
            },
            origin: key.id(),
        },
        ..open(Kind::Issue, 1)
    };
    let now = 2_000;
    let good = Announcement::sign(
        &trusted,
        Body::Collab {
            op: op_of(&trusted),
        },
    );
    assert_eq!(good.validate(ok, now), Ok(()));
    let untrusted = Announcement::sign(
        &stranger,
        Body::Collab {
            op: op_of(&stranger),
        },
    );
    assert!(matches!(
        untrusted.validate(ok, now),
        Err(AnnounceError::Untrusted(_))
    ));
    // Signed by the trusted node, but claiming another node accepted it.
    let posing = Announcement::sign(
        &trusted,
        Body::Collab {
            op: op_of(&stranger),
        },
    );
    assert!(matches!(
        posing.validate(ok, now),
        Err(AnnounceError::Invalid(_))
    ));
    // Altered after signing.
    let mut altered = good.clone();
    if let Body::Collab { op } = &mut altered.body {
        op.author = "mallory".into();
    }
    assert!(matches!(
        altered.validate(ok, now),
        Err(AnnounceError::BadSignature(_))
    ));
    // Over the limits, though signed by a trusted node.
    let mut big = op_of(&trusted);
    big.action = Action::Open {
        kind: Kind::Issue,
        title: "t".repeat(MAX_TITLE + 1),
        body: String::new(),
        number: 1,
    };
    let big = Announcement::sign(&trusted, Body::Collab { op: big });
    assert!(matches!(
        big.validate(ok, now),
        Err(AnnounceError::Invalid(_))
    ));
    // Stamped further ahead than the drift bound.
    let far = Op {
        stamp: Stamp {
            hlc: Hlc {
                wall_ms: now + crate::hlc::MAX_DRIFT_MS + 1,
                logical: 0,
            },
            origin: trusted.id(),
        },
        ..op_of(&trusted)
    };
    let far = Announcement::sign(&trusted, Body::Collab { op: far });
    assert!(matches!(
        far.validate(ok, now),
        Err(AnnounceError::Clock(_))
    ));
}
