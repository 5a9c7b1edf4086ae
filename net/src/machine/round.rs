//! Anti-entropy rounds, at most one per peer: read this node's log digests, send them, get
//! back the peer's digests that differ, then for each differing repository page through the
//! peer's signed log and sync it (one repository at a time, so one log is held at most),
//! and last fetch the repository records if they differ.

use std::collections::VecDeque;
use std::fmt::Debug;

use crate::proto::{MAX_SYNC_UPDATES, RECORDS, RepoDigest, Request, Response};
use crate::signed::SignedRef;

use super::{Action, Pending, Replicator, unexpected};

/// One round with one peer.
#[derive(Debug, Default)]
pub(super) struct Round {
    /// Differing repositories not synced yet.
    todo: VecDeque<String>,
    /// The log being paged through: its repository and the updates so far.
    paging: Option<(String, Vec<SignedRef>)>,
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
        if self.rounds.contains_key(&peer) {
            let request = Request::Digest { repos: digests };
            self.request(peer, request, Pending::Digest(peer));
        }
    }

    pub(super) fn on_differ(&mut self, peer: P, result: Result<Response, String>) {
        let differ = match result {
            Ok(Response::Digest { repos }) => repos,
            Ok(other) => return self.fail_round(peer, &unexpected(&other)),
            Err(e) => return self.fail_round(peer, &e),
        };
        let Some(round) = self.rounds.get_mut(&peer) else {
            return;
        };
        for d in differ {
            if d.repo == RECORDS {
                round.records = true;
            } else if !round.todo.contains(&d.repo) {
                round.todo.push_back(d.repo);
            }
        }
        self.next_step(peer);
    }

    pub(super) fn on_page(&mut self, peer: P, result: Result<Response, String>) {
        let (page, more) = match result {
            Ok(Response::Updates { updates, more }) => (updates, more),
            Ok(other) => return self.fail_round(peer, &unexpected(&other)),
            Err(e) => return self.fail_round(peer, &e),
        };
        let Some((repo, mut all)) = self.rounds.get_mut(&peer).and_then(|r| r.paging.take()) else {
            return;
        };
        // Each page must move forward, or a peer could keep us here.
        if let (Some(last), Some(first)) = (all.last(), page.first())
            && first.stamp <= last.stamp
        {
            return self.fail_round(peer, "a page of updates that does not move forward");
        }
        let empty = page.is_empty();
        all.extend(page);
        if more && !empty && all.len() < MAX_SYNC_UPDATES {
            let after = all.last().map(|u| u.stamp);
            let request = Request::Updates {
                repo: repo.clone(),
                after,
            };
            if let Some(round) = self.rounds.get_mut(&peer) {
                round.paging = Some((repo, all));
            }
            return self.request(peer, request, Pending::Updates(peer));
        }
        if more && !empty {
            tracing::warn!(%repo, ?peer, "update log over the per-round limit; the rest next time");
        }
        // The round goes on when the sync finishes.
        if !self.enqueue(repo, all, None, vec![peer], Some(peer)) {
            self.next_step(peer);
        }
    }

    pub(super) fn on_records(&mut self, peer: P, result: Result<Response, String>) {
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
            Err(e) => self.fail_round(peer, &e),
        }
    }

    pub(super) fn on_records_applied(
        &mut self,
        round: Option<P>,
        result: Result<(usize, usize), String>,
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

    /// The next repository of the round, then the records, then the end.
    pub(super) fn next_step(&mut self, peer: P) {
        let Some(round) = self.rounds.get_mut(&peer) else {
            return;
        };
        if let Some(after) = round.records_after.clone() {
            let request = Request::Records { after: Some(after) };
            self.request(peer, request, Pending::Records(peer));
        } else if let Some(repo) = round.todo.pop_front() {
            let request = Request::Updates {
                repo: repo.clone(),
                after: None,
            };
            round.paging = Some((repo, Vec::new()));
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
