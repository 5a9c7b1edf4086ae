//! The event loop's side of providing and pulling repositories.
//!
//! - Providing: the repositories this node holds (read from the host at every
//!   anti-entropy tick, and each push accepted here) are provided in the DHT under
//!   [`provider_key`]; one it no longer holds is withdrawn.
//! - Pulling ([`crate::NetHandle::pull`]): a repository this node does not hold is looked
//!   up in the DHT; the providers found are dialled at once (the lookup knows their
//!   addresses) and become the pull's sources, then the connected peers as a fallback. The
//!   lookup ends at its own end, when a provider is already connected, or after
//!   [`FIND_WAIT`]. The state machine then takes the repository from the first source that
//!   has it ([`Input::Pull`]). Pulls of one repository share one lookup; at most
//!   [`MAX_PULLS`] run at once.
//! - Checking: each anti-entropy tick, the next few repositories this node holds are
//!   compared with their providers that are not connected ([`PullKind::Check`]).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{PeerId, kad};
use tokio::sync::oneshot;

use super::EventLoop;
use crate::behaviour::{MAX_PROVIDED, provider_key};
use crate::error::ReplicaError;
use crate::machine::{Input, PullKind, Pulled};
use crate::proto::{RECORDS, RepoDigest};
use crate::service::lock;

/// How long a lookup waits for providers before the pull starts with what it found.
pub(crate) const FIND_WAIT: Duration = Duration::from_secs(5);
/// Pulls under way at most; more are refused as busy.
pub(crate) const MAX_PULLS: usize = 16;
/// Held repositories checked against their providers per anti-entropy tick.
pub(crate) const CHECKS_PER_TICK: usize = 4;
/// Providers asked per pull at most (then connected peers, as many).
const MAX_SOURCES: usize = 8;

/// Why a pull took nothing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PullError {
    /// No node that holds the repository could be found or reached.
    #[error("no node that stores {repo} could be reached")]
    NoSeeder {
        /// `owner/name`.
        repo: String,
    },
    /// Sources were found, and each failed (the last reason).
    #[error("pulling {repo} failed: {reason}")]
    Failed {
        /// `owner/name`.
        repo: String,
        /// Why the last source failed.
        reason: String,
    },
    /// Too many pulls are under way.
    #[error("too many repositories are being pulled; try again")]
    Busy,
    /// The pull took longer than its caller waits.
    #[error("pulling {repo} timed out")]
    TimedOut {
        /// `owner/name`.
        repo: String,
    },
    /// The network has stopped.
    #[error("the network has stopped")]
    Stopped,
}

/// Who waits for a pull.
pub(crate) type PullReply = oneshot::Sender<Result<Pulled, PullError>>;

/// A pull: looking for providers, then running in the state machine.
pub(crate) struct Pulling {
    repo: String,
    kind: PullKind,
    /// Asked for by the node (a clone waits), not started by the event loop itself.
    asked: bool,
    /// Announcements held until it ends (their sync failed; this pull retries it).
    tickets: Vec<u64>,
    replies: Vec<PullReply>,
    /// Providers found so far, in the order found.
    providers: Vec<PeerId>,
    /// The DHT lookup, while it runs.
    query: Option<kad::QueryId>,
    /// When the pull starts with what the lookup found.
    deadline: Instant,
    /// Handed to the state machine.
    started: bool,
}

impl EventLoop {
    /// Notes this node's log digests (read for a round), for the checks.
    pub(super) fn note_digests(&mut self, digests: &[RepoDigest]) {
        self.held_digests = digests
            .iter()
            .filter(|d| d.repo != RECORDS)
            .map(|d| (d.repo.clone(), d.digest))
            .collect();
    }

    /// Reads which repositories this node holds, off the event loop; the answer comes back
    /// as [`super::Command::Held`].
    pub(super) fn read_held(&self) {
        if !self.swarm.behaviour().kad.is_enabled() {
            return;
        }
        let shared = self.shared.clone();
        self.shared.tasks.spawn(async move {
            let host = shared.host.clone();
            if let Ok(held) = tokio::task::spawn_blocking(move || host.held()).await {
                let _ = shared.commands.send(super::Command::Held(held)).await;
            }
        });
    }

    /// Provides each repository held not provided yet, and withdraws those no longer held.
    pub(super) fn provide_held(&mut self, held: Vec<String>) {
        self.held_repos = held.into_iter().collect();
        let gone: Vec<String> = self
            .provided
            .iter()
            .filter(|r| !self.held_repos.contains(*r))
            .cloned()
            .collect();
        if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
            for repo in gone {
                kad.stop_providing(&provider_key(&repo));
                self.provided.remove(&repo);
            }
        }
        let held: Vec<String> = self.held_repos.iter().cloned().collect();
        for repo in &held {
            self.provide(repo);
        }
    }

    /// One anti-entropy tick's checks against the DHT: the next [`CHECKS_PER_TICK`]
    /// repositories this node holds (in turn) are each compared with those of their
    /// providers this node is not connected to, and taken from one that differs. Rounds
    /// reach connected peers only; this reaches the other holders, so nodes that store a
    /// repository catch up with each other even when only nodes that do not store it lie
    /// between them.
    pub(super) fn check_provided(&mut self) {
        for _ in 0..CHECKS_PER_TICK.min(self.held_repos.len()) {
            self.check_next_provided();
        }
    }

    fn check_next_provided(&mut self) {
        if !self.swarm.behaviour().kad.is_enabled() || self.pulling.len() >= MAX_PULLS / 2 {
            return;
        }
        let next = self
            .held_repos
            .range::<String, _>((
                std::ops::Bound::Excluded(self.check_cursor.clone().unwrap_or_default()),
                std::ops::Bound::Unbounded,
            ))
            .next()
            .or_else(|| self.held_repos.iter().next())
            .cloned();
        let Some(repo) = next else {
            return;
        };
        self.check_cursor = Some(repo.clone());
        if self.pulling.values().any(|p| p.repo == repo) {
            return;
        }
        // Held with no log yet (created here, or its record arrived): taken whole.
        let kind = match self.held_digests.get(&repo) {
            Some(&digest) => PullKind::Check { digest },
            None => PullKind::Take,
        };
        self.pull_in_background(repo, kind, None, None);
    }

    /// Provides `repo` in the DHT, once.
    pub(super) fn provide(&mut self, repo: &str) {
        if self.provided.contains(repo) || self.provided.len() >= MAX_PROVIDED {
            return;
        }
        let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() else {
            return;
        };
        match kad.start_providing(provider_key(repo)) {
            Ok(_) => {
                self.provided.insert(repo.to_string());
            }
            Err(e) => tracing::warn!(%repo, error = %e, "cannot provide a repository"),
        }
        self.shared
            .stats
            .providing
            .store(self.provided.len() as u64, Ordering::Relaxed);
    }

    /// A pull asked for by the node (`reply` waits for it).
    pub(super) fn pull(&mut self, repo: String, reply: PullReply) {
        self.start_lookup(repo, PullKind::Take, Some(reply), None, None);
    }

    /// A pull or check the event loop starts by itself (nobody waits), asking `first`
    /// before the providers the DHT names; `ticket` names an announcement held until it
    /// ends. False if it could not start (too many under way).
    pub(super) fn pull_in_background(
        &mut self,
        repo: String,
        kind: PullKind,
        first: Option<PeerId>,
        ticket: Option<u64>,
    ) -> bool {
        self.start_lookup(repo, kind, None, first, ticket)
    }

    /// Looks up `repo`'s providers, then pulls or checks it. False if it could not start.
    fn start_lookup(
        &mut self,
        repo: String,
        kind: PullKind,
        reply: Option<PullReply>,
        first: Option<PeerId>,
        held: Option<u64>,
    ) -> bool {
        if let Some(p) = self.pulling.values_mut().find(|p| p.repo == repo) {
            if let Some(reply) = reply {
                p.replies.push(reply);
                p.asked = true;
            }
            p.tickets.extend(held);
            return true;
        }
        let asked = reply.is_some();
        if self.pulling.len() >= MAX_PULLS {
            if let Some(reply) = reply {
                let _ = reply.send(Err(PullError::Busy));
            }
            return false;
        }
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        let query = self
            .swarm
            .behaviour_mut()
            .kad
            .as_mut()
            .map(|kad| kad.get_providers(provider_key(&repo)));
        self.pulling.insert(
            ticket,
            Pulling {
                repo,
                kind,
                asked,
                tickets: held.into_iter().collect(),
                replies: reply.into_iter().collect(),
                providers: Vec::new(),
                query,
                deadline: Instant::now() + FIND_WAIT,
                started: false,
            },
        );
        if let Some(peer) = first {
            self.add_provider(ticket, peer);
        }
        if query.is_none() {
            // No DHT: the connected peers are the only sources.
            self.start_pull(ticket);
        }
        true
    }

    /// Progress of a provider lookup.
    pub(super) fn on_providers(
        &mut self,
        id: kad::QueryId,
        result: Result<kad::GetProvidersOk, kad::GetProvidersError>,
        last: bool,
    ) {
        let Some((&ticket, _)) = self.pulling.iter().find(|(_, p)| p.query == Some(id)) else {
            return;
        };
        let mut connected = false;
        if let Ok(kad::GetProvidersOk::FoundProviders { providers, .. }) = result {
            for peer in providers {
                if peer != self.shared.peer_id {
                    self.shared
                        .stats
                        .providers_found
                        .fetch_add(1, Ordering::Relaxed);
                }
                connected |= self.add_provider(ticket, peer);
            }
        }
        if last || connected {
            self.start_pull(ticket);
        }
    }

    /// Adds a source to a pull, dialling it if it is not connected (now, while the lookup
    /// still knows its addresses). True if it is connected already.
    fn add_provider(&mut self, ticket: u64, peer: PeerId) -> bool {
        if peer == self.shared.peer_id || lock(&self.shared.blocked).contains(&peer) {
            return false;
        }
        let Some(p) = self.pulling.get_mut(&ticket) else {
            return false;
        };
        if p.providers.contains(&peer) || p.providers.len() >= MAX_SOURCES {
            return false;
        }
        p.providers.push(peer);
        self.dialable.insert(peer);
        if self.swarm.is_connected(&peer) {
            return true;
        }
        let opts = DialOpts::peer_id(peer)
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(%peer, error = %e, "dialling a provider failed");
        }
        false
    }

    /// Starts the pulls whose lookup has waited long enough.
    pub(super) fn pulls_due(&mut self) {
        let now = Instant::now();
        let due: Vec<u64> = self
            .pulling
            .iter()
            .filter(|(_, p)| !p.started && now >= p.deadline)
            .map(|(t, _)| *t)
            .collect();
        for ticket in due {
            self.start_pull(ticket);
        }
    }

    /// Hands a pull to the state machine: the providers found, then connected peers.
    fn start_pull(&mut self, ticket: u64) {
        let Some(p) = self.pulling.get_mut(&ticket) else {
            return;
        };
        if p.started {
            return;
        }
        p.started = true;
        if let Some(id) = p.query.take()
            && let Some(kad) = self.swarm.behaviour_mut().kad.as_mut()
            && let Some(mut q) = kad.query_mut(&id)
        {
            q.finish();
        }
        let Some(p) = self.pulling.get(&ticket) else {
            return;
        };
        let mut sources = p.providers.clone();
        // A check is for the holders this node is not in rounds with; a pull falls back
        // on connected peers.
        if p.kind == PullKind::Take {
            let others: Vec<PeerId> = self
                .swarm
                .connected_peers()
                .filter(|peer| !sources.contains(peer))
                .take(MAX_SOURCES)
                .copied()
                .collect();
            sources.extend(others);
        } else {
            sources.retain(|peer| !self.swarm.is_connected(peer));
        }
        let (repo, kind) = (p.repo.clone(), p.kind);
        tracing::debug!(%repo, ?kind, providers = p.providers.len(), sources = sources.len(), "pulling");
        self.feed(Input::Pull {
            ticket,
            repo,
            sources,
            kind,
        });
    }

    /// The state machine ended a pull: answers whoever waits.
    pub(super) fn pulled(&mut self, ticket: u64, result: Result<Pulled, ReplicaError>) {
        let Some(p) = self.pulling.remove(&ticket) else {
            return;
        };
        for peer in &p.providers {
            if !self.pulling.values().any(|o| o.providers.contains(peer)) {
                self.dialable.remove(peer);
            }
        }
        // Passed on if the pull took something from a source (this node now serves it).
        let took = matches!(&result, Ok(done) if done.found);
        for held in &p.tickets {
            self.release(*held, took);
        }
        let stats = &self.shared.stats;
        if !p.asked {
            stats.provider_checks.fetch_add(1, Ordering::Relaxed);
            match &result {
                Ok(done) if done.applied > 0 => {
                    tracing::info!(repo = %p.repo, applied = done.applied, "caught up from a provider")
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(repo = %p.repo, error = %e, "checking providers failed"),
            }
            return;
        }
        let result = match result {
            Ok(Pulled { found: false, .. }) => Err(PullError::NoSeeder {
                repo: p.repo.clone(),
            }),
            Ok(done) => Ok(done),
            Err(e) if p.providers.is_empty() => {
                tracing::debug!(repo = %p.repo, error = %e, "pull: no peer could serve it");
                Err(PullError::NoSeeder {
                    repo: p.repo.clone(),
                })
            }
            Err(e) => Err(PullError::Failed {
                repo: p.repo.clone(),
                reason: e.to_string(),
            }),
        };
        match &result {
            Ok(done) => {
                stats.pulls.fetch_add(1, Ordering::Relaxed);
                tracing::info!(repo = %p.repo, applied = done.applied, "repository pulled");
                if done.applied > 0 {
                    self.provide(&p.repo);
                }
            }
            Err(e) => {
                stats.pulls_failed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(repo = %p.repo, error = %e, "pull failed");
            }
        }
        for reply in p.replies {
            let _ = reply.send(result.clone());
        }
    }
}
