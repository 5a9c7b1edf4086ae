//! The replication state machine: what to synchronise, from whom, in what order, within
//! which limits, and what to do when a step fails. It does no I/O and reads no clock:
//! [`Replicator::handle`] takes one [`Input`] (a peer came or went, a timer fired, an
//! announcement arrived, a request or a host call finished) and returns the [`Action`]s to
//! perform. The libp2p event loop drives it in a node (`drive.rs` performs the actions);
//! `simulations/` drives many of them under a deterministic scheduler.
//!
//! - `round.rs`: anti-entropy rounds, one per peer at a time: compare log digests, page
//!   through each differing log, sync it, then the repository records; differences a sync
//!   found nothing to take from are settled until a digest changes.
//! - `job.rs`: repository syncs: plan, fetch the announced pack (else by want/have), apply;
//!   at most `max_syncs` at once, one per repository, the rest queued (bounded).
//! - `pull.rs`: pulls of a repository this node does not hold, from sources in turn.
//!
//! The peer type `P` is a libp2p `PeerId` in a node and a small number in simulations; the
//! pack type `K` is whatever holds a downloaded pack (a temp file in a node).

mod job;
mod pull;
mod round;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::announce::{Announcement, Body};
use crate::error::ReplicaError;
use crate::host::SyncPlan;
use crate::identity::NodeId;
use crate::proto::{MAX_RESPONSE, RepoDigest, Request, Response, UPDATES_PAGE};
use crate::service::NetStats;
use crate::signed::SignedRef;

use job::{Job, Owner};
use pull::Pull;
pub use pull::{PullKind, Pulled};
use round::{Round, Settled};

/// Names a repository sync.
pub type JobId = u64;
/// Names a request to a peer.
pub type ReqId = u64;

/// Bounds on what the machine asks for at once.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Repository syncs running at once.
    pub max_syncs: usize,
    /// Syncs waiting at most; announcements beyond this are dropped (anti-entropy repairs).
    pub max_queued: usize,
    /// The largest announced pack fetched as stored.
    pub max_pack: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_syncs: 4,
            max_queued: 4096,
            max_pack: guts_git::pack::DEFAULT_MAX_PACK,
        }
    }
}

/// Connected peers asked for an announced push's pack after its source and origin.
const EXTRA_SOURCES: usize = 3;

/// What happened.
#[derive(Debug)]
pub enum Input<P, K> {
    /// A peer's first connection opened: an anti-entropy round with it starts.
    Connected(P),
    /// A peer's last connection closed.
    Disconnected(P),
    /// Time for anti-entropy: a round with every connected peer not in one already.
    Tick,
    /// A validated announcement (see [`Announcement::validate`]) and its wire bytes.
    Announced {
        /// The peer that passed it on.
        source: P,
        /// The peer that accepted the push, if it is not `source`.
        origin: Option<P>,
        /// The announcement.
        announcement: Box<Announcement>,
        /// Its wire bytes (a repository record is kept as such).
        bytes: Vec<u8>,
        /// Set when the announcement waits to be passed on until its sync ends (a push:
        /// a node passes it on once it can serve what it announces); answered with
        /// [`Action::Forward`].
        ticket: Option<u64>,
    },
    /// Take `repo` now from the first of `sources` (in order) that has a log of it; ends
    /// with [`Action::Pulled`]. The host must accept its updates (it holds the repository,
    /// empty if need be).
    Pull {
        /// Names the pull in [`Action::Pulled`].
        ticket: u64,
        /// `owner/name`.
        repo: String,
        /// Whom to ask, in order.
        sources: Vec<P>,
        /// Take it, or check it against the sources.
        kind: PullKind,
    },
    /// The answer to [`Action::Request`].
    Answer {
        /// The request.
        req: ReqId,
        /// The peer's answer, or why there is none.
        result: Result<Response, ReplicaError>,
    },
    /// The answer to [`Action::Digests`].
    Digests {
        /// The round's peer.
        peer: P,
        /// This node's digests.
        digests: Vec<RepoDigest>,
    },
    /// The answer to [`Action::Plan`].
    Planned {
        /// The sync.
        job: JobId,
        /// The plan, and how many updates failed their signature check; or why not.
        result: Result<(SyncPlan, usize), ReplicaError>,
    },
    /// The answer to [`Action::Download`].
    Downloaded {
        /// The sync.
        job: JobId,
        /// The pack, or why not.
        result: Result<K, ReplicaError>,
    },
    /// The answer to [`Action::Apply`].
    Applied {
        /// The sync.
        job: JobId,
        /// Updates applied, or why not.
        result: Result<usize, ReplicaError>,
    },
    /// The answer to [`Action::ApplyRecords`].
    RecordsApplied {
        /// The round that asked, if any.
        round: Option<P>,
        /// Records applied and refused; or why applying failed.
        result: Result<(usize, usize), ReplicaError>,
    },
}

/// What to do.
#[derive(Debug)]
pub enum Action<P, K> {
    /// Send `request` to `peer`; answer with [`Input::Answer`].
    Request {
        /// Names it.
        req: ReqId,
        /// To whom.
        peer: P,
        /// What.
        request: Request,
    },
    /// Read this node's log digests; answer with [`Input::Digests`].
    Digests {
        /// The round's peer.
        peer: P,
    },
    /// Check the updates' signatures ([`verified`]), then ask the host which are new and
    /// what they need; answer with [`Input::Planned`].
    Plan {
        /// The sync.
        job: JobId,
        /// `owner/name`.
        repo: String,
        /// Well-formed updates from trusted writers, signatures not checked yet.
        updates: Vec<SignedRef>,
    },
    /// Download the pack `request` prepares ([`Request::Fetch`] or
    /// [`Request::FetchPack`]) from the first of `sources` that serves it; answer with
    /// [`Input::Downloaded`].
    Download {
        /// The sync.
        job: JobId,
        /// What to ask for.
        request: Request,
        /// Whom to ask, in order.
        sources: Vec<P>,
    },
    /// Verify the pack as a push, store it, apply the updates with the merge rule; answer
    /// with [`Input::Applied`].
    Apply {
        /// The sync.
        job: JobId,
        /// `owner/name`.
        repo: String,
        /// The downloaded pack, if objects were missing.
        pack: Option<K>,
        /// The new updates (signatures checked).
        updates: Vec<SignedRef>,
    },
    /// The sync an announcement started has ended: pass the announcement on (`accept`: it
    /// was applied here, or had nothing new, so this node serves what it announces) or
    /// not. No answer.
    Forward {
        /// The announcement's ticket ([`Input::Announced`]).
        ticket: u64,
        /// Pass it on.
        accept: bool,
    },
    /// A pull ([`Input::Pull`]) has ended: what it applied, or why it failed (each source
    /// failed; the last reason). No answer.
    Pulled {
        /// The pull's ticket.
        ticket: u64,
        /// What it did.
        result: Result<Pulled, ReplicaError>,
    },
    /// Validate each record (encoded [`Body::Repo`] announcements) and apply those newer
    /// than what is kept; answer with [`Input::RecordsApplied`].
    ApplyRecords {
        /// The round that asked, if any.
        round: Option<P>,
        /// The records.
        records: Vec<Vec<u8>>,
    },
}

/// What a request was for.
#[derive(Debug)]
enum Pending<P> {
    /// A round's digest comparison.
    Digest(P),
    /// A page of a round's current log.
    Updates(P),
    /// A round's repository records.
    Records(P),
    /// A page of a pull's source's log.
    Pull(u64),
}

/// The replication state of one node.
#[derive(Debug)]
pub struct Replicator<P, K> {
    trusted: BTreeSet<NodeId>,
    limits: Limits,
    stats: Arc<NetStats>,
    peers: BTreeSet<P>,
    rounds: BTreeMap<P, Round>,
    pending: HashMap<ReqId, Pending<P>>,
    jobs: BTreeMap<JobId, Job<P>>,
    /// Pulls under way, by ticket.
    pulls: BTreeMap<u64, Pull<P>>,
    queue: VecDeque<JobId>,
    /// Repositories with a sync running.
    busy: BTreeSet<String>,
    /// Differences with a peer that a sync found nothing to take from (see `round.rs`).
    /// Each with the tick until which it holds.
    settled: BTreeMap<(P, String), (Settled, u64)>,
    /// Anti-entropy ticks so far (the machine's only sense of time).
    ticks: u64,
    next: u64,
    out: Vec<Action<P, K>>,
}

impl<P: Copy + Ord + Debug, K: Debug> Replicator<P, K> {
    /// A machine that accepts updates written by `trusted` nodes (the node itself among
    /// them), counting into `stats`.
    pub fn new(trusted: BTreeSet<NodeId>, limits: Limits, stats: Arc<NetStats>) -> Self {
        Replicator {
            trusted,
            limits,
            stats,
            peers: BTreeSet::new(),
            rounds: BTreeMap::new(),
            pending: HashMap::new(),
            jobs: BTreeMap::new(),
            pulls: BTreeMap::new(),
            queue: VecDeque::new(),
            busy: BTreeSet::new(),
            settled: BTreeMap::new(),
            ticks: 0,
            next: 0,
            out: Vec::new(),
        }
    }

    /// Takes one input; returns what to do, in order.
    pub fn handle(&mut self, input: Input<P, K>) -> Vec<Action<P, K>> {
        match input {
            Input::Connected(peer) => {
                self.peers.insert(peer);
                self.start_round(peer);
            }
            Input::Disconnected(peer) => {
                self.peers.remove(&peer);
            }
            Input::Tick => {
                self.ticks += 1;
                let peers: Vec<P> = self.peers.iter().copied().collect();
                for peer in peers {
                    self.start_round(peer);
                }
            }
            Input::Announced {
                source,
                origin,
                announcement,
                bytes,
                ticket,
            } => match announcement.body {
                Body::Push {
                    repo,
                    updates,
                    pack,
                } => {
                    // The peer that passed it on has applied it; then the origin; then a
                    // few other peers, which may have it too (each answers at once if not).
                    let mut sources = vec![source];
                    sources.extend(origin.filter(|o| *o != source));
                    let others: Vec<P> = self
                        .peers
                        .iter()
                        .copied()
                        .filter(|p| !sources.contains(p))
                        .take(EXTRA_SOURCES)
                        .collect();
                    sources.extend(others);
                    let queued =
                        self.enqueue(repo, updates, pack, sources, Owner::Announced(ticket));
                    if let (false, Some(ticket)) = (queued, ticket) {
                        // Nothing to fetch, or no room: held back, it would help no one.
                        self.out.push(Action::Forward {
                            ticket,
                            accept: true,
                        });
                    }
                }
                Body::Repo { .. } | Body::Account { .. } | Body::Collab { .. } => {
                    self.out.push(Action::ApplyRecords {
                        round: None,
                        records: vec![bytes],
                    })
                }
            },
            Input::Pull {
                ticket,
                repo,
                sources,
                kind,
            } => self.start_pull(ticket, repo, sources, kind),
            Input::Answer { req, result } => match self.pending.remove(&req) {
                Some(Pending::Digest(peer)) => self.on_differ(peer, result),
                Some(Pending::Updates(peer)) => self.on_page(peer, result),
                Some(Pending::Records(peer)) => self.on_records(peer, result),
                Some(Pending::Pull(ticket)) => self.on_pull_page(ticket, result),
                None => {}
            },
            Input::Digests { peer, digests } => self.on_digests(peer, digests),
            Input::Planned { job, result } => self.on_planned(job, result),
            Input::Downloaded { job, result } => self.on_downloaded(job, result),
            Input::Applied { job, result } => self.on_applied(job, result),
            Input::RecordsApplied { round, result } => self.on_records_applied(round, result),
        }
        self.pump();
        std::mem::take(&mut self.out)
    }

    /// Forgets which differences with peers were settled (what this node accepts changed:
    /// updates refused before may be taken now).
    pub fn forget_settled(&mut self) {
        self.settled.clear();
    }

    /// Connected peers.
    pub fn peers(&self) -> impl Iterator<Item = &P> {
        self.peers.iter()
    }

    /// Syncs running now.
    pub fn running(&self) -> usize {
        self.busy.len()
    }

    /// Syncs waiting for a slot.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Anti-entropy rounds running.
    pub fn rounds(&self) -> usize {
        self.rounds.len()
    }

    /// True when nothing is running, queued or awaited.
    pub fn idle(&self) -> bool {
        self.jobs.is_empty()
            && self.rounds.is_empty()
            && self.pending.is_empty()
            && self.pulls.is_empty()
    }

    fn is_trusted(&self, node: &NodeId) -> bool {
        self.trusted.contains(node)
    }

    fn request(&mut self, peer: P, request: Request, what: Pending<P>) {
        self.next += 1;
        let req = self.next;
        self.pending.insert(req, what);
        self.out.push(Action::Request { req, peer, request });
    }

    fn count(&self, counter: impl Fn(&NetStats) -> &std::sync::atomic::AtomicU64, n: u64) {
        counter(&self.stats).fetch_add(n, Ordering::Relaxed);
    }
}

/// The updates whose signatures check out, and how many did not. CPU work: run it off the
/// async runtime.
pub fn verified(updates: Vec<SignedRef>) -> (Vec<SignedRef>, usize) {
    let total = updates.len();
    let good: Vec<SignedRef> = updates.into_iter().filter(SignedRef::verify).collect();
    let refused = total - good.len();
    (good, refused)
}

/// The answer to [`Request::Digest`]: `mine` where it differs from `theirs` (or they lack
/// it), within the frame limit (the rest comes in later rounds).
pub fn differing(mine: Vec<RepoDigest>, theirs: Vec<RepoDigest>) -> Vec<RepoDigest> {
    let theirs: HashMap<String, [u8; 32]> =
        theirs.into_iter().map(|d| (d.repo, d.digest)).collect();
    let mut differ: Vec<RepoDigest> = mine
        .into_iter()
        .filter(|d| theirs.get(&d.repo) != Some(&d.digest))
        .collect();
    differ.truncate(MAX_RESPONSE / 256);
    differ
}

/// The answer to [`Request::Updates`] from at most `UPDATES_PAGE + 1` updates read after
/// the asked stamp.
pub fn page(mut updates: Vec<SignedRef>) -> Response {
    let mut more = updates.len() > UPDATES_PAGE;
    updates.truncate(UPDATES_PAGE);
    // Within the frame limit too (a pusher's grant makes an update up to a few KiB).
    let mut size = 0usize;
    if let Some(cut) = updates.iter().position(|u| {
        size += crate::codec::encoded_len(u).unwrap_or(0);
        size > MAX_RESPONSE / 2
    }) {
        updates.truncate(cut.max(1));
        more = true;
    }
    Response::Updates { updates, more }
}

/// A short reason for an answer that is not the one expected.
pub(crate) fn unexpected(r: &Response) -> String {
    match r {
        Response::Error { message } => format!("peer refused: {message}"),
        _ => "unexpected response".into(),
    }
}
