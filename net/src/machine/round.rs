//! Anti-entropy rounds, at most one per peer: read this node's log digests, send them, get
//! back the peer's digests that differ, then for each differing repository page through the
//! peer's signed log and sync it (one repository at a time, so one log is held at most),
//! and last fetch the repository records if they differ.
//!
//! A repository whose sync with a peer took nothing (every update left in the peer's log
//! was refused here, for reasons that stay true while the logs and this node's records stay
//! as they are) is *settled* with that peer: later rounds skip it until this node's digest
//! of it, the peer's, or this node's records digest changes, or [`SETTLE_TICKS`]
//! anti-entropy ticks have passed (some refusals depend on the clock: a stamp too far
//! ahead is accepted later). A permanently refused update is so fetched and refused once
//! in a while, not every round forever.

use std::collections::{HashMap, VecDeque};
use std::fmt::Debug;

use crate::error::ReplicaError;
use crate::proto::{RECORDS, RepoDigest, Request, Response};
use crate::signed::SignedRef;

use super::job::Owner;
use super::pull::{PageStep, add_page};
use super::{Action, Pending, Replicator, unexpected};

/// Settled differences remembered at most; the oldest-keyed go first.
const MAX_SETTLED: usize = 16_384;

/// Anti-entropy ticks a settled difference is skipped for (five minutes at the default
/// ten seconds between rounds).
pub(super) const SETTLE_TICKS: u64 = 30;

/// The digests under which a repository's difference with a peer was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Settled {
    /// This node's log digest (none: no log here).
    mine: Option<[u8; 32]>,
    /// The peer's.
    theirs: [u8; 32],
    /// This node's records digest: a grant or a deletion arriving changes what is refused.
    records: Option<[u8; 32]>,
}

/// One round with one peer.
#[derive(Debug, Default)]
pub(super) struct Round {
    /// This node's digests when the round began.
    mine: HashMap<String, [u8; 32]>,
    /// Differing repositories not synced yet, with the digests they would settle under.
    todo: VecDeque<(String, Settled)>,
    /// The log being paged through: its repository, digests, and the updates so far.
    paging: Option<(String, Settled, Vec<SignedRef>)>,
    /// The repository being synced and its digests, if its whole log was read.
    syncing: Option<(String, Settled)>,
    /// The records differ: fetch them at the end.
    records: bool,
    /// The cursor of the next page of records, while paging through them.
    records_after: Option<String>,
}

impl<P: Copy + Ord + Debug, K: Debug> Replicator<P, K> {
    /// Starts a round with `peer` unless one is running.
    pub(super) fn start_round(&mut self, peer: P) {
        if self.rounds.contains_key(&peer) {
            return;
        }
        self.rounds.insert(peer, Round::default());
        self.out.push(Action::Digests { peer });
    }

    pub(super) fn on_digests(&mut self, peer: P, digests: Vec<RepoDigest>) {
        if let Some(round) = self.rounds.get_mut(&peer) {
            round.mine = digests.iter().map(|d| (d.repo.clone(), d.digest)).collect();
            let request = Request::Digest { repos: digests };
            self.request(peer, request, Pending::Digest(peer));
        }
    }

    pub(super) fn on_differ(&mut self, peer: P, result: Result<Response, ReplicaError>) {
        let differ = match result {
            Ok(Response::Digest { repos }) => repos,
            Ok(other) => return self.fail_round(peer, &unexpected(&other)),
            Err(e) => return self.fail_round(peer, &e.to_string()),
        };
        let Some(round) = self.rounds.get_mut(&peer) else {
            return;
        };
        let mut skipped = 0;
        for d in differ {
            if d.repo == RECORDS {
                round.records = true;
                continue;
            }
            let under = Settled {
                mine: round.mine.get(&d.repo).copied(),
                theirs: d.digest,
                records: round.mine.get(RECORDS).copied(),
            };
            let ticks = self.ticks;
            if self
                .settled
                .get(&(peer, d.repo.clone()))
                .is_some_and(|(s, until)| *s == under && ticks < *until)
            {
                skipped += 1;
            } else if !round.todo.iter().any(|(r, _)| *r == d.repo) {
                round.todo.push_back((d.repo, under));
            }
        }
        self.count(|s| &s.differences_settled, skipped);
        self.next_step(peer);
    }

    pub(super) fn on_page(&mut self, peer: P, result: Result<Response, ReplicaError>) {
        let (page, more) = match result {
            Ok(Response::Updates { updates, more }) => (updates, more),
            Ok(other) => return self.fail_round(peer, &unexpected(&other)),
            Err(e) => return self.fail_round(peer, &e.to_string()),
        };
        let Some((repo, under, mut all)) = self.rounds.get_mut(&peer).and_then(|r| r.paging.take())
        else {
            return;
        };
        let whole = match add_page(&mut all, page, more) {
            Err(why) => return self.fail_round(peer, why),
            Ok(PageStep::More(after)) => {
                let request = Request::Updates {
                    repo: repo.clone(),
                    after: Some(after),
                };
                if let Some(round) = self.rounds.get_mut(&peer) {
                    round.paging = Some((repo, under, all));
                }
                return self.request(peer, request, Pending::Updates(peer));
            }
            Ok(PageStep::Done { whole }) => whole,
        };
        if !whole {
            tracing::warn!(%repo, ?peer, "update log over the per-round limit; the rest next time");
        }
        if let Some(round) = self.rounds.get_mut(&peer) {
            round.syncing = whole.then(|| (repo.clone(), under));
        }
        // The round goes on when the sync finishes.
        if !self.enqueue(repo, all, None, vec![peer], Owner::Round(peer)) {
            self.sync_took_nothing(peer);
            self.next_step(peer);
        }
    }

    pub(super) fn on_records(&mut self, peer: P, result: Result<Response, ReplicaError>) {
        match result {
            Ok(Response::Records { records, next }) => {
                if let Some(round) = self.rounds.get_mut(&peer) {
                    // Each page must move forward, or a peer could keep us here.
                    round.records_after = match (next, round.records_after.take()) {
                        (Some(n), Some(prev)) if n <= prev => None,
                        (n, _) => n,
                    };
                }
                self.out.push(Action::ApplyRecords {
                    round: Some(peer),
                    records,
                })
            }
            Ok(other) => self.fail_round(peer, &unexpected(&other)),
            Err(e) => self.fail_round(peer, &e.to_string()),
        }
    }

    pub(super) fn on_records_applied(
        &mut self,
        round: Option<P>,
        result: Result<(usize, usize), ReplicaError>,
    ) {
        match result {
            Ok((applied, refused)) => {
                self.count(|s| &s.records_applied, applied as u64);
                self.count(|s| &s.updates_rejected, refused as u64);
            }
            Err(e) => {
                self.count(|s| &s.sync_failures, 1);
                tracing::warn!(error = %e, "applying repository records failed");
            }
        }
        if let Some(peer) = round {
            self.next_step(peer);
        }
    }

    /// The round's sync took nothing: its repository is settled with `peer` (if the whole
    /// log was read).
    pub(super) fn sync_took_nothing(&mut self, peer: P) {
        let Some((repo, under)) = self.rounds.get_mut(&peer).and_then(|r| r.syncing.take()) else {
            return;
        };
        if self.settled.len() >= MAX_SETTLED {
            self.settled.pop_first();
        }
        let until = self.ticks + SETTLE_TICKS;
        self.settled.insert((peer, repo), (under, until));
    }

    /// The next repository of the round, then the records, then the end.
    pub(super) fn next_step(&mut self, peer: P) {
        let Some(round) = self.rounds.get_mut(&peer) else {
            return;
        };
        if let Some(after) = round.records_after.clone() {
            let request = Request::Records { after: Some(after) };
            self.request(peer, request, Pending::Records(peer));
        } else if let Some((repo, under)) = round.todo.pop_front() {
            let request = Request::Updates {
                repo: repo.clone(),
                after: None,
            };
            round.syncing = None;
            round.paging = Some((repo, under, Vec::new()));
            self.request(peer, request, Pending::Updates(peer));
        } else if round.records {
            round.records = false;
            self.request(
                peer,
                Request::Records { after: None },
                Pending::Records(peer),
            );
        } else {
            self.rounds.remove(&peer);
            self.count(|s| &s.anti_entropy_rounds, 1);
        }
    }

    fn fail_round(&mut self, peer: P, why: &str) {
        self.rounds.remove(&peer);
        self.count(|s| &s.sync_failures, 1);
        tracing::debug!(?peer, error = %why, "anti-entropy round failed");
    }
}
