//! Repository syncs. A sync takes signed updates (from an announcement or a round's paged
//! log) and:
//! 1. plans: the host says which updates are new (signatures checked) and which objects
//!    they need;
//! 2. if an announced pack may hold them, downloads it as stored at the origin (no work for
//!    the server, usually exactly what is missing) and applies it;
//! 3. otherwise, or if that pack was not enough, downloads a pack by want/have and applies.
//!
//! At most `max_syncs` run at once and one per repository (the host applies in order);
//! the others wait in a FIFO queue bounded for announcements (a dropped one is repaired by
//! anti-entropy). A round's or a pull's sync is always queued: each has one at a time.

use std::fmt::Debug;

use crate::announce::PackRef;
use crate::error::ReplicaError;
use crate::host::SyncPlan;
use crate::proto::Request;
use crate::signed::SignedRef;

use super::pull::Pulled;
use super::{Action, JobId, Replicator};

/// Where a sync is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    Queued,
    /// First plan: the announced pack may be tried.
    Planning,
    /// Downloading the announced pack.
    Stored,
    /// Applying the announced pack.
    ApplyingStored,
    /// Planning again after the announced pack was not enough.
    Replanning,
    /// Downloading a pack by want/have.
    Fetching,
    /// Applying the updates (with that pack, or none if nothing was missing).
    Applying,
}

/// Who waits for a sync's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner<P> {
    /// An announcement, held back until the sync ends if it has a ticket.
    Announced(Option<u64>),
    /// An anti-entropy round, which goes on when the sync ends.
    Round(P),
    /// A pull, which ends with the sync.
    Pull(u64),
}

/// One repository sync.
#[derive(Debug)]
pub(super) struct Job<P> {
    repo: String,
    /// Until planned: well-formed updates from trusted writers.
    updates: Vec<SignedRef>,
    pack: Option<PackRef>,
    sources: Vec<P>,
    /// Who waits for its end.
    owner: Owner<P>,
    stage: Stage,
    plan: SyncPlan,
}

impl<P: Copy + Ord + Debug, K: Debug> Replicator<P, K> {
    /// Queues a sync of `repo` to `updates`. False if there is nothing to do or no room.
    pub(super) fn enqueue(
        &mut self,
        repo: String,
        updates: Vec<SignedRef>,
        pack: Option<PackRef>,
        sources: Vec<P>,
        owner: Owner<P>,
    ) -> bool {
        let total = updates.len();
        let updates: Vec<SignedRef> = updates
            .into_iter()
            .filter(|u| u.repo == repo && u.well_formed() && self.is_trusted(&u.origin()))
            .collect();
        self.count(|s| &s.updates_rejected, (total - updates.len()) as u64);
        if updates.is_empty() {
            return false;
        }
        // A round or a pull has one sync at a time: only announcements fill the queue.
        if matches!(owner, Owner::Announced(_)) && self.queue.len() >= self.limits.max_queued {
            self.count(|s| &s.syncs_dropped, 1);
            tracing::warn!(%repo, "sync queue full; anti-entropy will catch up");
            return false;
        }
        self.next += 1;
        let id = self.next;
        self.jobs.insert(
            id,
            Job {
                repo,
                updates,
                pack,
                sources,
                owner,
                stage: Stage::Queued,
                plan: SyncPlan::default(),
            },
        );
        self.queue.push_back(id);
        true
    }

    /// Starts queued syncs while there is room, oldest first, one per repository.
    pub(super) fn pump(&mut self) {
        let mut i = 0;
        while i < self.queue.len() && self.busy.len() < self.limits.max_syncs.max(1) {
            let id = self.queue[i];
            let Some(job) = self.jobs.get_mut(&id) else {
                self.queue.remove(i);
                continue;
            };
            if self.busy.contains(&job.repo) {
                i += 1;
                continue;
            }
            self.queue.remove(i);
            self.busy.insert(job.repo.clone());
            job.stage = Stage::Planning;
            self.out.push(Action::Plan {
                job: id,
                repo: job.repo.clone(),
                updates: std::mem::take(&mut job.updates),
            });
        }
    }

    pub(super) fn on_planned(
        &mut self,
        id: JobId,
        result: Result<(SyncPlan, usize), ReplicaError>,
    ) {
        let (plan, refused) = match result {
            Ok(p) => p,
            Err(e) => return self.finish(id, Err(e)),
        };
        self.count(|s| &s.updates_rejected, refused as u64);
        if plan.new.is_empty() {
            return self.finish(id, Ok(0));
        }
        let max_pack = self.limits.max_pack;
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        tracing::debug!(repo = %job.repo, new = plan.new.len(), wants = plan.wants.len(), stage = ?job.stage, "syncing");
        let stored = job.pack.filter(|p| {
            job.stage == Stage::Planning && !plan.wants.is_empty() && p.len <= max_pack
        });
        job.plan = plan;
        match stored {
            Some(p) => {
                job.stage = Stage::Stored;
                let request = Request::FetchPack {
                    repo: job.repo.clone(),
                    checksum: p.checksum,
                };
                let sources = job.sources.clone();
                self.out.push(Action::Download {
                    job: id,
                    request,
                    sources,
                });
            }
            None => self.fetch_or_apply(id),
        }
    }

    /// Downloads what the plan wants by want/have, or applies at once if nothing is missing.
    fn fetch_or_apply(&mut self, id: JobId) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        if job.plan.wants.is_empty() {
            job.stage = Stage::Applying;
            self.out.push(Action::Apply {
                job: id,
                repo: job.repo.clone(),
                pack: None,
                updates: std::mem::take(&mut job.plan.new),
            });
        } else {
            job.stage = Stage::Fetching;
            let request = Request::Fetch {
                repo: job.repo.clone(),
                wants: std::mem::take(&mut job.plan.wants),
                haves: std::mem::take(&mut job.plan.haves),
            };
            let sources = job.sources.clone();
            self.out.push(Action::Download {
                job: id,
                request,
                sources,
            });
        }
    }

    pub(super) fn on_downloaded(&mut self, id: JobId, result: Result<K, ReplicaError>) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        match (job.stage, result) {
            (Stage::Stored, Ok(pack)) => {
                job.stage = Stage::ApplyingStored;
                self.out.push(Action::Apply {
                    job: id,
                    repo: job.repo.clone(),
                    pack: Some(pack),
                    updates: job.plan.new.clone(),
                });
            }
            (Stage::Stored, Err(e)) => {
                tracing::debug!(repo = %job.repo, error = %e, "announced pack not fetched");
                self.fetch_or_apply(id);
            }
            (Stage::Fetching, Ok(pack)) => {
                job.stage = Stage::Applying;
                self.out.push(Action::Apply {
                    job: id,
                    repo: job.repo.clone(),
                    pack: Some(pack),
                    updates: std::mem::take(&mut job.plan.new),
                });
            }
            (Stage::Fetching, Err(e)) => self.finish(id, Err(e)),
            _ => {}
        }
    }

    pub(super) fn on_applied(&mut self, id: JobId, result: Result<usize, ReplicaError>) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        match (job.stage, result) {
            (Stage::ApplyingStored, Ok(n)) => {
                self.count(|s| &s.stored_packs_applied, 1);
                self.finish(id, Ok(n));
            }
            (Stage::ApplyingStored, Err(e)) => {
                // It lacked older objects too: what is new now, and by want/have.
                tracing::debug!(repo = %job.repo, error = %e, "the announced pack was not enough");
                job.stage = Stage::Replanning;
                self.out.push(Action::Plan {
                    job: id,
                    repo: job.repo.clone(),
                    updates: std::mem::take(&mut job.plan.new),
                });
            }
            (Stage::Applying, r) => self.finish(id, r),
            _ => {}
        }
    }

    /// Ends a sync: frees its repository, and lets whoever waits for it go on.
    fn finish(&mut self, id: JobId, result: Result<usize, ReplicaError>) {
        let Some(job) = self.jobs.remove(&id) else {
            return;
        };
        self.busy.remove(&job.repo);
        match &result {
            Ok(n) if *n > 0 => tracing::debug!(repo = %job.repo, applied = n, "synced"),
            Ok(_) => {}
            Err(e) if e.is_transient() => {
                self.count(|s| &s.sync_failures, 1);
                tracing::warn!(repo = %job.repo, error = %e, "sync failed; anti-entropy will retry");
            }
            Err(e) => {
                self.count(|s| &s.sync_failures, 1);
                tracing::warn!(repo = %job.repo, error = %e, "sync refused what the peer sent");
            }
        }
        match job.owner {
            Owner::Announced(Some(ticket)) => self.out.push(Action::Forward {
                ticket,
                accept: result.is_ok(),
            }),
            Owner::Announced(None) => {}
            Owner::Pull(ticket) => self.out.push(Action::Pulled {
                ticket,
                result: result.map(|applied| Pulled {
                    applied,
                    found: true,
                }),
            }),
            Owner::Round(peer) => {
                if matches!(result, Ok(0)) {
                    self.sync_took_nothing(peer);
                }
                self.next_step(peer);
            }
        }
    }
}
