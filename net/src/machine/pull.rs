//! Pulls: a repository this node does not hold, wanted now (a clone or fetch on a node that
//! does not seed it). Its sources (nodes that provide it in the DHT, then other peers) are
//! asked in turn for their signed log of it; the first that has one is synced from as an
//! anti-entropy round's sync is (the other sources as fallbacks for the pack), and the end
//! is reported with [`Action::Pulled`]. A source that fails or has no log is passed over.
//!
//! A check ([`PullKind::Check`]) is the same for a repository this node holds, against
//! nodes it may not be connected to: each source is first asked whether its log differs
//! ([`Request::Compare`]), and only one that differs is read.

use std::collections::VecDeque;
use std::fmt::Debug;

use crate::error::ReplicaError;
use crate::proto::{MAX_SYNC_UPDATES, Request, Response};
use crate::signed::SignedRef;

use super::job::Owner;
use super::{Action, Pending, Replicator, unexpected};

/// How a pull ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pulled {
    /// Updates applied.
    pub applied: usize,
    /// A source had a log of the repository (false: no source holds any of it).
    pub found: bool,
}

/// What a pull is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullKind {
    /// Take the repository (this node holds none of its log): read a source's whole log.
    Take,
    /// Check a repository this node holds against sources it may not be connected to (the
    /// nodes that provide it): compare digests with each in turn, and read the log of the
    /// first that differs.
    Check {
        /// This node's digest of its log.
        digest: [u8; 32],
    },
}

/// One pull under way.
#[derive(Debug)]
pub(super) struct Pull<P> {
    repo: String,
    kind: PullKind,
    /// Sources not asked yet, in order.
    left: VecDeque<P>,
    /// The source being asked, and its log so far.
    asking: Option<(P, Vec<SignedRef>)>,
    /// The last reason a source failed.
    failure: Option<ReplicaError>,
}

/// What a page of a peer's log means for the reading of it.
pub(super) enum PageStep {
    /// Ask for the next page, after this update.
    More(crate::hlc::Stamp),
    /// The log is read (`whole`: to its end, not cut at [`MAX_SYNC_UPDATES`]).
    Done { whole: bool },
}

/// Adds a page of a peer's log to what was read of it. Each page must move forward, or a
/// peer could keep the reader paging forever.
pub(super) fn add_page(
    all: &mut Vec<SignedRef>,
    page: Vec<SignedRef>,
    more: bool,
) -> Result<PageStep, &'static str> {
    if let (Some(last), Some(first)) = (all.last(), page.first())
        && first.stamp <= last.stamp
    {
        return Err("a page of updates that does not move forward");
    }
    let empty = page.is_empty();
    all.extend(page);
    match all.last() {
        Some(last) if more && !empty && all.len() < MAX_SYNC_UPDATES => {
            Ok(PageStep::More(last.stamp))
        }
        _ => Ok(PageStep::Done {
            whole: !more || empty,
        }),
    }
}

impl<P: Copy + Ord + Debug, K: Debug> Replicator<P, K> {
    /// Starts pulling `repo` from `sources` (in order); ends with [`Action::Pulled`] for
    /// `ticket`.
    pub(super) fn start_pull(
        &mut self,
        ticket: u64,
        repo: String,
        sources: Vec<P>,
        kind: PullKind,
    ) {
        let pull = Pull {
            repo,
            kind,
            left: sources.into_iter().collect(),
            asking: None,
            failure: None,
        };
        self.pulls.insert(ticket, pull);
        self.ask_next_source(ticket);
    }

    /// Asks the next source for its log, or ends the pull when none is left.
    fn ask_next_source(&mut self, ticket: u64) {
        let Some(pull) = self.pulls.get_mut(&ticket) else {
            return;
        };
        let Some(peer) = pull.left.pop_front() else {
            let result = match self.pulls.remove(&ticket).and_then(|p| p.failure) {
                Some(e) => Err(e),
                None => Ok(Pulled {
                    applied: 0,
                    found: false,
                }),
            };
            self.out.push(Action::Pulled { ticket, result });
            return;
        };
        pull.asking = Some((peer, Vec::new()));
        let request = match pull.kind {
            PullKind::Take => Request::Updates {
                repo: pull.repo.clone(),
                after: None,
            },
            PullKind::Check { digest } => Request::Compare {
                repo: pull.repo.clone(),
                digest: Some(digest),
            },
        };
        self.request(peer, request, Pending::Pull(ticket));
    }

    pub(super) fn on_pull_page(&mut self, ticket: u64, result: Result<Response, ReplicaError>) {
        let Some(pull) = self.pulls.get_mut(&ticket) else {
            return;
        };
        let Some((peer, mut all)) = pull.asking.take() else {
            return;
        };
        let step = match result {
            // A check: the source's log is the same as this node's; the next one may not be.
            Ok(Response::Digest { repos }) if repos.is_empty() => {
                return self.ask_next_source(ticket);
            }
            // It differs: read its log.
            Ok(Response::Digest { .. }) => {
                let request = Request::Updates {
                    repo: pull.repo.clone(),
                    after: None,
                };
                pull.asking = Some((peer, all));
                return self.request(peer, request, Pending::Pull(ticket));
            }
            Ok(Response::Updates { updates, more }) => {
                add_page(&mut all, updates, more).map_err(ReplicaError::peer)
            }
            Ok(other) => Err(ReplicaError::peer(unexpected(&other))),
            Err(e) => Err(e),
        };
        match step {
            Err(e) => {
                tracing::debug!(repo = %pull.repo, ?peer, error = %e, "pull: source failed");
                pull.failure = Some(e);
                self.ask_next_source(ticket);
            }
            Ok(PageStep::More(after)) => {
                let request = Request::Updates {
                    repo: pull.repo.clone(),
                    after: Some(after),
                };
                pull.asking = Some((peer, all));
                self.request(peer, request, Pending::Pull(ticket));
            }
            // This source holds none of it: the next.
            Ok(PageStep::Done { .. }) if all.is_empty() => self.ask_next_source(ticket),
            Ok(PageStep::Done { .. }) => {
                let Some(pull) = self.pulls.remove(&ticket) else {
                    return;
                };
                let mut sources = vec![peer];
                sources.extend(pull.left);
                let queued = self.enqueue(pull.repo, all, None, sources, Owner::Pull(ticket));
                if !queued {
                    // Every update was refused before planning (untrusted, malformed).
                    self.out.push(Action::Pulled {
                        ticket,
                        result: Ok(Pulled {
                            applied: 0,
                            found: true,
                        }),
                    });
                }
            }
        }
    }
}
