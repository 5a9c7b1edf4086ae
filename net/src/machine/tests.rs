//! The machine driven by hand, one input at a time: what a round asks for when a peer's
//! log holds an update this node refuses.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Action, Input, Limits, Replicator};
use crate::hlc::{Hlc, Stamp};
use crate::host::SyncPlan;
use crate::identity::NodeKey;
use crate::proto::{RECORDS, RepoDigest, Request, Response};
use crate::service::NetStats;
use crate::signed::SignedRef;

const PEER: u8 = 1;
const REPO: &str = "alice/repo";

type Machine = Replicator<u8, ()>;

fn digest(repo: &str, byte: u8) -> RepoDigest {
    RepoDigest {
        repo: repo.into(),
        digest: [byte; 32],
        entries: 1,
    }
}

fn update(key: &NodeKey) -> SignedRef {
    let stamp = Stamp {
        hlc: Hlc {
            wall_ms: 1_000,
            logical: 0,
        },
        origin: key.id(),
    };
    SignedRef::sign(key, REPO, "refs/heads/main", [0; 20], [1; 20], stamp, None)
}

/// The one request in `actions`.
fn request(actions: Vec<Action<u8, ()>>) -> Option<(u64, Request)> {
    actions.into_iter().find_map(|a| match a {
        Action::Request { req, request, .. } => Some((req, request)),
        _ => None,
    })
}

/// Answers the round's page request `req` with one update of `key`; returns the sync's job.
fn page_with_one_update(m: &mut Machine, key: &NodeKey, req: u64) -> u64 {
    let planned = m.handle(Input::Answer {
        req,
        result: Ok(Response::Updates {
            updates: vec![update(key)],
            more: false,
        }),
    });
    plan_job(&planned)
}

/// `PEER` connects; the round that starts finds nothing to do.
fn connect(m: &mut Machine) {
    let started = m.handle(Input::Connected(PEER));
    assert!(matches!(started[..], [Action::Digests { peer: PEER }]));
    let (req, _) = request(m.handle(Input::Digests {
        peer: PEER,
        digests: vec![],
    }))
    .expect("digests sent");
    m.handle(Input::Answer {
        req,
        result: Ok(Response::Digest { repos: vec![] }),
    });
    assert!(m.idle());
}

/// One anti-entropy round with `PEER`, whose log of `REPO` holds one update that this
/// node's plan refuses. Returns whether the round read the peer's log.
fn round(m: &mut Machine, key: &NodeKey, mine: Vec<RepoDigest>, theirs: RepoDigest) -> bool {
    let started = m.handle(Input::Tick);
    assert!(matches!(started[..], [Action::Digests { peer: PEER }]));
    let (req, _) = request(m.handle(Input::Digests {
        peer: PEER,
        digests: mine,
    }))
    .expect("digests sent");
    let next = m.handle(Input::Answer {
        req,
        result: Ok(Response::Digest {
            repos: vec![theirs],
        }),
    });
    let Some((req, Request::Updates { .. })) = request(next) else {
        assert!(m.idle(), "the round ended");
        return false;
    };
    let job = page_with_one_update(m, key, req);
    // Verified, but refused by the plan (a grant this node does not accept).
    let rest = m.handle(Input::Planned {
        job,
        result: Ok((SyncPlan::default(), 1)),
    });
    assert!(rest.is_empty() && m.idle(), "the round ended: {rest:?}");
    true
}

#[test]
fn a_refused_update_is_fetched_again_only_when_something_changed() {
    let key = NodeKey::generate().expect("key");
    let stats = Arc::new(NetStats::default());
    let mut m = Machine::new(BTreeSet::from([key.id()]), Limits::default(), stats.clone());
    connect(&mut m);

    let mine = vec![digest(REPO, 1), digest(RECORDS, 9)];
    assert!(
        round(&mut m, &key, mine.clone(), digest(REPO, 2)),
        "first time"
    );
    // Nothing changed: the difference is settled, the log is not read again.
    for _ in 0..3 {
        assert!(!round(&mut m, &key, mine.clone(), digest(REPO, 2)));
    }
    assert_eq!(stats.differences_settled.load(Ordering::Relaxed), 3);
    // The peer's log changed: read again, then settled again.
    assert!(round(&mut m, &key, mine.clone(), digest(REPO, 3)));
    assert!(!round(&mut m, &key, mine.clone(), digest(REPO, 3)));
    // This node's log changed.
    let mut moved = mine.clone();
    moved[0] = digest(REPO, 4);
    assert!(round(&mut m, &key, moved.clone(), digest(REPO, 3)));
    assert!(!round(&mut m, &key, moved.clone(), digest(REPO, 3)));
    // This node's records changed (a grant may have arrived): read again.
    let mut granted = moved.clone();
    granted[1] = digest(RECORDS, 10);
    assert!(round(&mut m, &key, granted.clone(), digest(REPO, 3)));
    assert!(!round(&mut m, &key, granted.clone(), digest(REPO, 3)));
    // And after a while in any case (some refusals depend on the clock).
    let mut rounds = 2;
    while !round(&mut m, &key, granted.clone(), digest(REPO, 3)) {
        rounds += 1;
        assert!(rounds <= super::round::SETTLE_TICKS, "never read again");
    }
    assert_eq!(rounds, super::round::SETTLE_TICKS);
}

#[test]
fn a_failed_sync_is_not_settled() {
    let key = NodeKey::generate().expect("key");
    let stats = Arc::new(NetStats::default());
    let mut m = Machine::new(BTreeSet::from([key.id()]), Limits::default(), stats);
    connect(&mut m);
    for _ in 0..2 {
        let _ = m.handle(Input::Tick);
        let (req, _) = request(m.handle(Input::Digests {
            peer: PEER,
            digests: vec![digest(REPO, 1)],
        }))
        .expect("asks");
        let (req, _) = request(m.handle(Input::Answer {
            req,
            result: Ok(Response::Digest {
                repos: vec![digest(REPO, 2)],
            }),
        }))
        .expect("reads the log every time");
        let job = page_with_one_update(&mut m, &key, req);
        m.handle(Input::Planned {
            job,
            result: Err(crate::error::ReplicaError::Io(std::io::Error::other(
                "disk busy",
            ))),
        });
        assert!(m.idle());
    }
}

/// An announcement of one update of `key`, from `source`.
fn announced_from(
    key: &NodeKey,
    source: u8,
    pack: Option<crate::announce::PackRef>,
    ticket: Option<u64>,
) -> Input<u8, ()> {
    let a = crate::announce::Announcement::sign(
        key,
        crate::announce::Body::Push {
            repo: REPO.into(),
            pack,
            updates: vec![update(key)],
        },
    );
    Input::Announced {
        source,
        origin: None,
        announcement: Box::new(a),
        bytes: Vec::new(),
        ticket,
    }
}

fn announced(key: &NodeKey, ticket: u64) -> Input<u8, ()> {
    announced_from(key, PEER, None, Some(ticket))
}

/// The sync job the first `Plan` in `actions` is for.
fn plan_job(actions: &[Action<u8, ()>]) -> u64 {
    actions
        .iter()
        .find_map(|a| match a {
            Action::Plan { job, .. } => Some(*job),
            _ => None,
        })
        .expect("a plan")
}

/// Answers `job`'s plan: one new update of `key`, one object missing.
fn plan_one_missing(m: &mut Machine, key: &NodeKey, job: u64) -> Vec<Action<u8, ()>> {
    let plan = SyncPlan {
        new: vec![update(key)],
        wants: vec![[1; 20]],
        haves: vec![],
    };
    m.handle(Input::Planned {
        job,
        result: Ok((plan, 0)),
    })
}

/// The sources of the first download in `actions`.
fn download_sources(actions: &[Action<u8, ()>]) -> Vec<u8> {
    actions
        .iter()
        .find_map(|a| match a {
            Action::Download { sources, .. } => Some(sources.clone()),
            _ => None,
        })
        .expect("a download")
}

fn forwards(actions: &[Action<u8, ()>]) -> Vec<(u64, bool)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Forward { ticket, accept } => Some((*ticket, *accept)),
            _ => None,
        })
        .collect()
}

/// A push announcement is passed on only once its sync has ended, accepted when it
/// applied (this node now serves what it announces), not when it failed.
#[test]
fn a_held_announcement_is_passed_on_when_its_sync_ends() {
    let key = NodeKey::generate().expect("key");
    let stats = Arc::new(NetStats::default());
    let mut m = Machine::new(BTreeSet::from([key.id()]), Limits::default(), stats);
    for (ticket, ok) in [(7, true), (8, false)] {
        let out = m.handle(announced(&key, ticket));
        assert!(forwards(&out).is_empty(), "held while it syncs");
        let job = plan_job(&out);
        let plan = SyncPlan {
            new: vec![update(&key)],
            ..SyncPlan::default()
        };
        let out = m.handle(Input::Planned {
            job,
            result: Ok((plan, 0)),
        });
        assert!(forwards(&out).is_empty(), "still held while it applies");
        let result = if ok {
            Ok(1)
        } else {
            Err(crate::error::ReplicaError::refused("objects missing"))
        };
        let out = m.handle(Input::Applied { job, result });
        assert_eq!(forwards(&out), vec![(ticket, ok)]);
    }
    // Nothing new in it: passed on at once.
    let out = m.handle(announced(&key, 9));
    let job = plan_job(&out);
    let out = m.handle(Input::Planned {
        job,
        result: Ok((SyncPlan::default(), 0)),
    });
    assert_eq!(forwards(&out), vec![(9, true)]);
}

/// An announced pack is asked of the peer that passed the announcement on, then of a few
/// other connected peers (which may have applied it too), never of one peer twice.
#[test]
fn an_announced_pack_is_asked_of_its_source_then_of_other_peers() {
    let key = NodeKey::generate().expect("key");
    let stats = Arc::new(NetStats::default());
    let mut m = Machine::new(BTreeSet::from([key.id()]), Limits::default(), stats);
    for peer in [1u8, 2, 3, 4, 5] {
        m.handle(Input::Connected(peer));
    }
    let pack = crate::announce::PackRef {
        checksum: [7; 20],
        len: 10,
    };
    let out = m.handle(announced_from(&key, 3, Some(pack), None));
    let job = plan_job(&out);
    let out = plan_one_missing(&mut m, &key, job);
    let sources = download_sources(&out);
    assert_eq!(sources[0], 3, "the source first");
    assert_eq!(sources.len(), 4, "then three others: {sources:?}");
    let mut unique = sources.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), sources.len());
}

fn pulled(
    actions: &[Action<u8, ()>],
) -> Option<&Result<super::Pulled, crate::error::ReplicaError>> {
    actions.iter().find_map(|a| match a {
        Action::Pulled { ticket: 5, result } => Some(result),
        _ => None,
    })
}

/// A pull asks its sources in turn for their log: one that fails or has none is passed
/// over; the first with a log is synced from, the sources after it as fallbacks.
#[test]
fn a_pull_takes_the_repository_from_the_first_source_that_has_it() {
    let key = NodeKey::generate().expect("key");
    let stats = Arc::new(NetStats::default());
    let mut m = Machine::new(BTreeSet::from([key.id()]), Limits::default(), stats);
    let out = m.handle(Input::Pull {
        ticket: 5,
        repo: REPO.into(),
        sources: vec![1, 2, 3, 4],
        kind: super::PullKind::Take,
    });
    let asked = |out: Vec<Action<u8, ()>>| -> (u64, u8) {
        out.into_iter()
            .find_map(|a| match a {
                Action::Request {
                    req,
                    peer,
                    request: Request::Updates { repo, after: None },
                } if repo == REPO => Some((req, peer)),
                _ => None,
            })
            .expect("a source asked for its log")
    };
    let (req, peer) = asked(out);
    assert_eq!(peer, 1);
    let out = m.handle(Input::Answer {
        req,
        result: Err(crate::error::ReplicaError::peer("unreachable")),
    });
    let (req, peer) = asked(out);
    assert_eq!(peer, 2, "a failed source is passed over");
    let out = m.handle(Input::Answer {
        req,
        result: Ok(Response::Updates {
            updates: vec![],
            more: false,
        }),
    });
    let (req, peer) = asked(out);
    assert_eq!(peer, 3, "a source without a log is passed over");
    let out = m.handle(Input::Answer {
        req,
        result: Ok(Response::Updates {
            updates: vec![update(&key)],
            more: false,
        }),
    });
    let job = plan_job(&out);
    let out = plan_one_missing(&mut m, &key, job);
    let sources = download_sources(&out);
    assert_eq!(
        sources,
        vec![3, 4],
        "the source with the log, then the rest"
    );
    assert!(pulled(&out).is_none(), "not ended before it applied");
    let out = m.handle(Input::Downloaded {
        job,
        result: Ok(()),
    });
    assert!(pulled(&out).is_none());
    let out = m.handle(Input::Applied { job, result: Ok(1) });
    match pulled(&out) {
        Some(Ok(p)) => assert_eq!((p.applied, p.found), (1, true)),
        other => panic!("the pull ends when its sync does: {other:?}"),
    }
    assert!(m.idle());
}

/// A pull whose sources hold nothing says so; one whose sources all fail says why.
#[test]
fn a_pull_no_source_can_serve_ends_with_the_reason() {
    let key = NodeKey::generate().expect("key");
    let stats = Arc::new(NetStats::default());
    let mut m = Machine::new(BTreeSet::from([key.id()]), Limits::default(), stats);
    for fail in [false, true] {
        let mut out = m.handle(Input::Pull {
            ticket: 5,
            repo: REPO.into(),
            sources: vec![1, 2],
            kind: super::PullKind::Take,
        });
        loop {
            let Some((req, _)) = request(out) else {
                panic!("ended without an answer")
            };
            let result = if fail {
                Err(crate::error::ReplicaError::peer("unreachable"))
            } else {
                Ok(Response::Updates {
                    updates: vec![],
                    more: false,
                })
            };
            out = m.handle(Input::Answer { req, result });
            if let Some(r) = pulled(&out) {
                match (fail, r) {
                    (false, Ok(p)) => assert!(!p.found, "nothing found"),
                    (true, Err(e)) => assert!(e.to_string().contains("unreachable")),
                    (_, other) => panic!("unexpected end: {other:?}"),
                }
                break;
            }
        }
        assert!(m.idle());
    }
    // No sources at all: ends at once.
    let out = m.handle(Input::Pull {
        ticket: 5,
        repo: REPO.into(),
        sources: vec![],
        kind: super::PullKind::Take,
    });
    assert!(matches!(pulled(&out), Some(Ok(p)) if !p.found));
}

/// A check compares digests with each source first: one in step ends it at once; one that
/// differs has its log read and synced.
#[test]
fn a_check_reads_only_a_log_that_differs() {
    let key = NodeKey::generate().expect("key");
    let stats = Arc::new(NetStats::default());
    let mut m = Machine::new(BTreeSet::from([key.id()]), Limits::default(), stats);
    let check = super::PullKind::Check { digest: [9; 32] };
    let out = m.handle(Input::Pull {
        ticket: 5,
        repo: REPO.into(),
        sources: vec![1, 2],
        kind: check,
    });
    let Some((mut req, Request::Compare { digest: mine, .. })) = request(out) else {
        panic!("a compare first")
    };
    assert_eq!(mine, Some([9; 32]));
    for peer in [1, 2] {
        let out = m.handle(Input::Answer {
            req,
            result: Ok(Response::Digest { repos: vec![] }),
        });
        if peer == 1 {
            let Some((next, Request::Compare { .. })) = request(out) else {
                panic!("one in step: the next is compared")
            };
            req = next;
        } else {
            assert!(matches!(pulled(&out), Some(Ok(p)) if p.applied == 0));
        }
    }
    assert!(m.idle(), "all in step: no log read");

    let out = m.handle(Input::Pull {
        ticket: 5,
        repo: REPO.into(),
        sources: vec![1, 2],
        kind: check,
    });
    let (req, _) = request(out).expect("a compare");
    let out = m.handle(Input::Answer {
        req,
        result: Ok(Response::Digest {
            repos: vec![digest(REPO, 3)],
        }),
    });
    let Some((req, Request::Updates { after: None, .. })) = request(out) else {
        panic!("the log is read where it differs")
    };
    let job = page_with_one_update(&mut m, &key, req);
    let out = m.handle(Input::Planned {
        job,
        result: Ok((
            SyncPlan {
                new: vec![update(&key)],
                ..SyncPlan::default()
            },
            0,
        )),
    });
    let out = match pulled(&out) {
        Some(_) => out,
        None => m.handle(Input::Applied { job, result: Ok(1) }),
    };
    assert!(matches!(pulled(&out), Some(Ok(p)) if p.applied == 1));
}
