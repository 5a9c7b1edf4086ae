//! The one task that owns the swarm and the replication state machine: a `select!` over
//! swarm events, commands from the handle and tasks, and two timers (redialing lost
//! bootstrap peers with backoff, and anti-entropy rounds). Peer events, announcements,
//! timer ticks and task results go into the machine; its requests are sent from here and
//! its other actions are spawned as tasks (`drive.rs`). Nothing slow runs here.

mod pulling;

pub use pulling::PullError;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::gossipsub::{IdentTopic, MessageAcceptance};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::{Multiaddr, PeerId, Swarm, gossipsub, identify, kad, mdns};
use tokio::sync::{mpsc, oneshot};

use crate::announce::{AnnounceError, Announcement, Body};
use crate::behaviour::{Behaviour, BehaviourEvent, TOPIC};
use crate::drive::Fetched;
use crate::error::ReplicaError;
use crate::host::NetEvent;
use crate::machine::{Action, Input, Limits, Replicator, ReqId};
use crate::proto::{Request, Response};
use crate::service::{Shared, lock, peer_id_of};

/// What the handle and the tasks ask of the event loop.
pub(crate) enum Command {
    Publish(Vec<u8>),
    Request {
        peer: PeerId,
        req: Request,
        reply: oneshot::Sender<Result<Response, ReplicaError>>,
    },
    Respond {
        channel: ResponseChannel<Response>,
        res: Response,
    },
    /// A result for the state machine, from a task performing one of its actions.
    Input(Input<PeerId, Fetched>),
    /// Take a repository this node does not hold from a node that does.
    Pull {
        repo: String,
        reply: pulling::PullReply,
    },
    /// A push to this repository was accepted here: provide it.
    Provide(String),
    /// The repositories this node holds, read from the host.
    Held(Vec<String>),
    AntiEntropy,
    /// What this node accepts changed: forget settled differences, then a round.
    Resync,
    Dial(Multiaddr),
    Disconnect(PeerId),
    Redial,
    Shutdown,
}

/// A bootstrap address and when to dial it next.
struct Bootstrap {
    addr: Multiaddr,
    peer: Option<PeerId>,
    next: Instant,
    backoff: Duration,
}

/// A peer met before (its addresses from identify), redialled when its connection drops.
struct Known {
    addrs: Vec<Multiaddr>,
    next: Instant,
    backoff: Duration,
}

const MAX_BACKOFF: Duration = Duration::from_secs(30);
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Peers remembered for redialling at most.
const MAX_KNOWN: usize = 256;
/// Addresses remembered per peer at most.
const MAX_ADDRS: usize = 8;
/// How often the DHT is asked for more peers while fewer than the target are connected.
const LOOKUP_EVERY: Duration = Duration::from_secs(5);
/// Push announcements held back until their sync ends, at most; more are passed on at once
/// (gossip forgets a held message after its history window anyway: see `behaviour.rs`).
const MAX_HELD: usize = 1024;

/// A push announcement gossip holds until this node can serve what it announces: the
/// message, and the peer it came from (gossip's verdict names both).
struct Held {
    id: gossipsub::MessageId,
    source: PeerId,
    since: Instant,
    /// The repository it announces.
    repo: String,
    /// The node that accepted the push (it has what it announces).
    origin: Option<PeerId>,
    /// Its sync failed and a pull from the providers runs for it: its verdict is final.
    retried: bool,
}

/// Who waits for the answer to a request.
enum Waiter {
    /// A task (a download).
    Task(oneshot::Sender<Result<Response, ReplicaError>>),
    /// The state machine.
    Machine(ReqId),
}

pub(crate) struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    shared: Arc<Shared>,
    machine: Replicator<PeerId, Fetched>,
    pending: HashMap<OutboundRequestId, Waiter>,
    /// Push announcements waiting for their sync, by ticket.
    held: HashMap<u64, Held>,
    next_ticket: u64,
    /// When the DHT was last asked for peers.
    last_lookup: Option<Instant>,
    bootstrap: Vec<Bootstrap>,
    known: HashMap<PeerId, Known>,
    /// Repositories provided in the DHT.
    provided: HashSet<String>,
    /// This node's log digests, as of the last round that read them.
    held_digests: std::collections::BTreeMap<String, [u8; 32]>,
    /// The repositories this node holds, as of the last tick.
    held_repos: std::collections::BTreeSet<String>,
    /// The repository the last provider check was for.
    check_cursor: Option<String>,
    /// Pulls under way, by ticket.
    pulling: HashMap<u64, pulling::Pulling>,
    /// Providers found for a pull: requests to them go out even before they connect (the
    /// request dials them).
    dialable: HashSet<PeerId>,
    ready: Option<oneshot::Sender<()>>,
}

impl EventLoop {
    pub fn new(
        swarm: Swarm<Behaviour>,
        commands: mpsc::Receiver<Command>,
        shared: Arc<Shared>,
        ready: oneshot::Sender<()>,
    ) -> EventLoop {
        let now = Instant::now();
        let bootstrap = shared
            .config
            .bootstrap
            .iter()
            .map(|addr| Bootstrap {
                peer: addr.iter().find_map(|p| match p {
                    Protocol::P2p(id) => Some(id),
                    _ => None,
                }),
                addr: addr.clone(),
                next: now,
                backoff: FIRST_BACKOFF,
            })
            .collect();
        let mut trusted: std::collections::BTreeSet<_> = shared.trusted.iter().copied().collect();
        trusted.insert(shared.key.id());
        let limits = Limits {
            max_syncs: shared.config.max_fetches,
            max_pack: shared.config.max_pack,
            ..Limits::default()
        };
        let machine = Replicator::new(trusted, limits, shared.stats.clone());
        EventLoop {
            swarm,
            commands,
            shared,
            machine,
            pending: HashMap::new(),
            held: HashMap::new(),
            next_ticket: 0,
            last_lookup: None,
            bootstrap,
            known: HashMap::new(),
            provided: HashSet::new(),
            held_digests: Default::default(),
            held_repos: Default::default(),
            check_cursor: None,
            pulling: HashMap::new(),
            dialable: HashSet::new(),
            ready: Some(ready),
        }
    }

    pub async fn run(mut self) {
        let topic = IdentTopic::new(TOPIC);
        if let Err(e) = self.swarm.behaviour_mut().gossipsub.subscribe(&topic) {
            tracing::error!(error = %e, "cannot subscribe to announcements");
        }
        if self.shared.config.listen.is_empty()
            && let Some(r) = self.ready.take()
        {
            let _ = r.send(());
        }
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut rounds = tokio::time::interval(self.shared.config.anti_entropy_every);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm(event),
                cmd = self.commands.recv() => match cmd {
                    None | Some(Command::Shutdown) => break,
                    Some(cmd) => self.on_command(cmd, &topic),
                },
                _ = tick.tick() => {
                    self.redial();
                    self.discover();
                    self.pulls_due();
                }
                _ = rounds.tick() => {
                    self.feed(Input::Tick);
                    self.read_held();
                    self.check_provided();
                }
            }
        }
        for (_, waiter) in self.pending.drain() {
            if let Waiter::Task(reply) = waiter {
                let _ = reply.send(Err(ReplicaError::NotReady("network stopped")));
            }
        }
        self.shared.stopped.send_replace(true);
    }

    /// Passes an input to the state machine and carries out what it asks: requests are
    /// sent from here, the rest runs in tasks that answer with [`Command::Input`].
    fn feed(&mut self, input: Input<PeerId, Fetched>) {
        let mut inputs = VecDeque::from([input]);
        while let Some(input) = inputs.pop_front() {
            for action in self.machine.handle(input) {
                match action {
                    Action::Request { req, peer, request } => {
                        if self.reachable(&peer) {
                            let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
                            self.pending.insert(id, Waiter::Machine(req));
                        } else {
                            inputs.push_back(Input::Answer {
                                req,
                                result: Err(ReplicaError::peer(format!("not connected to {peer}"))),
                            });
                        }
                    }
                    Action::Forward { ticket, accept } => self.release(ticket, accept),
                    Action::Pulled { ticket, result } => self.pulled(ticket, result),
                    other => crate::drive::spawn(self.shared.clone(), other),
                }
            }
        }
        self.shared
            .syncs_running
            .store(self.machine.running(), Ordering::Relaxed);
    }

    /// Requests go out to a connected peer, or to a provider a pull is dialling.
    fn reachable(&self, peer: &PeerId) -> bool {
        self.swarm.is_connected(peer) || self.dialable.contains(peer)
    }

    /// Hands an answer to whoever waits for it.
    fn answer(&mut self, id: OutboundRequestId, result: Result<Response, ReplicaError>) {
        match self.pending.remove(&id) {
            Some(Waiter::Task(reply)) => {
                let _ = reply.send(result);
            }
            Some(Waiter::Machine(req)) => self.feed(Input::Answer { req, result }),
            None => {}
        }
    }

    fn on_command(&mut self, cmd: Command, topic: &IdentTopic) {
        match cmd {
            Command::Publish(bytes) => {
                if let Err(e) = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(topic.clone(), bytes)
                {
                    // No subscribed peer yet: anti-entropy repairs it.
                    tracing::debug!(error = %e, "announcement not published");
                }
            }
            Command::Request { peer, req, reply } => {
                if !self.reachable(&peer) {
                    let _ = reply.send(Err(ReplicaError::peer(format!("not connected to {peer}"))));
                    return;
                }
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, req);
                self.pending.insert(id, Waiter::Task(reply));
            }
            Command::Respond { channel, res } => {
                let _ = self.swarm.behaviour_mut().sync.send_response(channel, res);
            }
            Command::Input(input) => {
                if let Input::Digests { digests, .. } = &input {
                    self.note_digests(digests);
                }
                self.feed(input)
            }
            Command::Pull { repo, reply } => self.pull(repo, reply),
            Command::Provide(repo) => self.provide(&repo),
            Command::Held(held) => self.provide_held(held),
            Command::AntiEntropy => self.feed(Input::Tick),
            Command::Resync => {
                self.machine.forget_settled();
                self.feed(Input::Tick);
            }
            Command::Dial(addr) => {
                if let Err(e) = self.swarm.dial(addr.clone()) {
                    tracing::debug!(%addr, error = %e, "dial failed");
                }
            }
            Command::Disconnect(peer) => {
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            Command::Redial => {
                let now = Instant::now();
                for b in &mut self.bootstrap {
                    b.next = now;
                    b.backoff = FIRST_BACKOFF;
                }
                for k in self.known.values_mut() {
                    k.next = now;
                    k.backoff = FIRST_BACKOFF;
                }
                self.redial();
            }
            Command::Shutdown => {}
        }
    }

    /// Dials bootstrap and known peers that are not connected, each on its own backoff.
    fn redial(&mut self) {
        let now = Instant::now();
        let blocked = lock(&self.shared.blocked).clone();
        for b in &mut self.bootstrap {
            let connected = match b.peer {
                Some(p) => self.swarm.is_connected(&p) || blocked.contains(&p),
                None => self.swarm.connected_peers().next().is_some(),
            };
            if connected {
                b.backoff = FIRST_BACKOFF;
                continue;
            }
            if now < b.next {
                continue;
            }
            if let Err(e) = self.swarm.dial(b.addr.clone()) {
                tracing::debug!(addr = %b.addr, error = %e, "dial failed");
            }
            b.next = now + b.backoff;
            b.backoff = (b.backoff * 2).min(MAX_BACKOFF);
        }
        // Known peers are dialled again only while fewer than the target are connected.
        let wanted = self.swarm.connected_peers().count() < self.shared.config.peers_target;
        for (peer, k) in &mut self.known {
            if !wanted || self.swarm.is_connected(peer) || blocked.contains(peer) {
                k.backoff = FIRST_BACKOFF;
                continue;
            }
            if now < k.next {
                continue;
            }
            let opts = DialOpts::peer_id(*peer).addresses(k.addrs.clone()).build();
            if let Err(e) = self.swarm.dial(opts) {
                tracing::debug!(%peer, error = %e, "redial failed");
            }
            k.next = now + k.backoff;
            k.backoff = (k.backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// While fewer peers than the target are connected, asks the DHT now and then for the
    /// peers closest to a random id (what it finds is dialled as it comes in), and keeps the
    /// routing table's size for `/metrics`.
    fn discover(&mut self) {
        let connected = self.swarm.connected_peers().count();
        self.shared
            .stats
            .peers_connected
            .store(connected as u64, Ordering::Relaxed);
        let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() else {
            return;
        };
        let size: usize = kad.kbuckets().map(|b| b.num_entries()).sum();
        self.shared
            .stats
            .routing_table
            .store(size as u64, Ordering::Relaxed);
        if connected == 0 || connected >= self.shared.config.peers_target {
            return;
        }
        if self.last_lookup.is_some_and(|t| t.elapsed() < LOOKUP_EVERY) {
            return;
        }
        self.last_lookup = Some(Instant::now());
        kad.get_closest_peers(PeerId::random());
    }

    /// A peer the DHT told of: dialled if fewer peers than the target are connected.
    fn found(&mut self, peer: PeerId, addrs: Vec<Multiaddr>) {
        if peer == self.shared.peer_id
            || addrs.is_empty()
            || self.swarm.is_connected(&peer)
            || lock(&self.shared.blocked).contains(&peer)
            || self.swarm.connected_peers().count() >= self.shared.config.peers_target
        {
            return;
        }
        self.shared
            .stats
            .peers_discovered
            .fetch_add(1, Ordering::Relaxed);
        let opts = DialOpts::peer_id(peer).addresses(addrs).build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(%peer, error = %e, "dialling a discovered peer failed");
        }
    }

    /// Remembers where a peer listens, to redial it if the connection drops.
    fn remember(&mut self, peer: PeerId, addrs: Vec<Multiaddr>) {
        let addrs: Vec<Multiaddr> = addrs.into_iter().take(MAX_ADDRS).collect();
        if addrs.is_empty() {
            return;
        }
        if self.known.len() >= MAX_KNOWN && !self.known.contains_key(&peer) {
            // Forget a peer that is not connected now to make room.
            let gone = self
                .known
                .keys()
                .find(|p| !self.swarm.is_connected(p))
                .copied();
            match gone {
                Some(p) => {
                    self.known.remove(&p);
                }
                None => return,
            }
        }
        let k = self.known.entry(peer).or_insert(Known {
            addrs: Vec::new(),
            next: Instant::now(),
            backoff: FIRST_BACKOFF,
        });
        k.addrs = addrs;
    }

    fn on_swarm(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "p2p listening");
                lock(&self.shared.listen_addrs).push(address);
                if let Some(r) = self.ready.take() {
                    let _ = r.send(());
                }
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                num_established,
                ..
            } => {
                if lock(&self.shared.blocked).contains(&peer_id) {
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                }
                if num_established.get() == 1 {
                    lock(&self.shared.peers).insert(peer_id);
                    tracing::info!(peer = %peer_id, "peer connected");
                    self.shared
                        .host
                        .event(NetEvent::PeerConnected(peer_id.to_string()));
                    self.feed(Input::Connected(peer_id));
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                lock(&self.shared.peers).remove(&peer_id);
                tracing::info!(peer = %peer_id, "peer disconnected");
                self.shared
                    .host
                    .event(NetEvent::PeerDisconnected(peer_id.to_string()));
                self.feed(Input::Disconnected(peer_id));
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                ..
            } => {
                self.shared
                    .stats
                    .handshakes_failed
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!(from = %send_back_addr, %error, "incoming connection failed");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.on_announcement(propagation_source, &message_id, &message.data),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync(event),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                for addr in &info.listen_addrs {
                    self.swarm.add_peer_address(peer_id, addr.clone());
                }
                let speaks_kad = info.protocols.contains(&crate::behaviour::KAD_PROTOCOL);
                if speaks_kad && let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                    for addr in &info.listen_addrs {
                        kad.add_address(&peer_id, addr.clone());
                    }
                }
                self.remember(peer_id, info.listen_addrs);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::RoutingUpdated {
                peer,
                addresses,
                ..
            })) => self.found(peer, addresses.into_vec()),
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
                id,
                result: kad::QueryResult::GetProviders(result),
                step,
                ..
            })) => self.on_providers(id, result, step.last),
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
                result: kad::QueryResult::GetClosestPeers(Ok(ok)),
                ..
            })) => {
                for p in ok.peers {
                    self.found(p.peer_id, p.addrs);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                for (peer, addr) in found {
                    if !self.swarm.is_connected(&peer) {
                        let _ = self.swarm.dial(addr);
                    }
                }
            }
            _ => {}
        }
    }

    /// Validates an announcement and leaves the fetching to a task. A record is passed on
    /// at once; a valid push is held until its sync ends, so the peers this node passes it
    /// to can fetch what it announces from this node (a line of nodes relays it hop by
    /// hop, each fetching from the one before). An invalid one is dropped at once.
    fn on_announcement(&mut self, source: PeerId, id: &gossipsub::MessageId, data: &[u8]) {
        let shared = self.shared.clone();
        let checked = Announcement::decode(data).and_then(|a| {
            a.validate(|n| shared.is_trusted(n), shared.config.wall.now_ms())?;
            Ok(a)
        });
        if self.held.len() >= MAX_HELD {
            // Gossip has forgotten these: holding them helps no one.
            self.held
                .retain(|_, h| h.since.elapsed() < crate::behaviour::HISTORY);
        }
        let hold = matches!(&checked, Ok(a) if matches!(a.body, Body::Push { .. }))
            && self.held.len() < MAX_HELD;
        let verdict = match &checked {
            Ok(_) => MessageAcceptance::Accept,
            Err(AnnounceError::Clock(_)) => MessageAcceptance::Ignore,
            Err(_) => MessageAcceptance::Reject,
        };
        let ticket = if hold {
            self.next_ticket += 1;
            self.held.insert(
                self.next_ticket,
                Held {
                    id: id.clone(),
                    source,
                    since: Instant::now(),
                    repo: match &checked {
                        Ok(Announcement {
                            body: Body::Push { repo, .. },
                            ..
                        }) => repo.clone(),
                        _ => String::new(),
                    },
                    origin: checked
                        .as_ref()
                        .ok()
                        .and_then(|a| peer_id_of(&a.origin))
                        .filter(|o| *o != self.shared.peer_id),
                    retried: false,
                },
            );
            Some(self.next_ticket)
        } else {
            self.swarm
                .behaviour_mut()
                .gossipsub
                .report_message_validation_result(id, &source, verdict);
            None
        };
        match checked {
            Ok(announcement) => {
                shared
                    .stats
                    .announcements_received
                    .fetch_add(1, Ordering::Relaxed);
                let origin = peer_id_of(&announcement.origin);
                self.feed(Input::Announced {
                    source,
                    origin,
                    announcement: Box::new(announcement),
                    bytes: data.to_vec(),
                    ticket,
                });
            }
            Err(e) => {
                shared
                    .stats
                    .announcements_rejected
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = %source, error = %e, "announcement refused");
            }
        }
    }

    /// Passes a held push announcement on (its sync applied it, or there was nothing new),
    /// or lets gossip drop it without blaming its source (the sync failed here). A failed
    /// sync means no peer at hand had what this node wants: with the DHT, the origin (dialled
    /// by its id) and the nodes that provide the repository are asked, not left to
    /// anti-entropy, which only asks connected peers.
    fn release(&mut self, ticket: u64, accept: bool) {
        let Some(held) = self.held.remove(&ticket) else {
            return;
        };
        if !accept
            && !held.retried
            && self.swarm.behaviour().kad.is_enabled()
            && !held.repo.is_empty()
        {
            let kind = match self.held_digests.get(&held.repo) {
                Some(&digest) => crate::machine::PullKind::Check { digest },
                None => crate::machine::PullKind::Take,
            };
            let (repo, origin) = (held.repo.clone(), held.origin);
            self.held.insert(
                ticket,
                Held {
                    retried: true,
                    ..held
                },
            );
            // Still held: passed on once the pull has it (the nodes after this one may
            // have no other way to hear of it).
            if self.pull_in_background(repo, kind, origin, Some(ticket)) {
                return;
            }
            let Some(held) = self.held.remove(&ticket) else {
                return;
            };
            return self.verdict(held, false);
        }
        self.verdict(held, accept);
    }

    /// Tells gossip to pass a held announcement on, or to drop it.
    fn verdict(&mut self, held: Held, accept: bool) {
        let verdict = if accept {
            MessageAcceptance::Accept
        } else {
            MessageAcceptance::Ignore
        };
        let forwarded = self
            .swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(&held.id, &held.source, verdict);
        if accept && !forwarded {
            tracing::debug!(peer = %held.source, "announcement left gossip's history before its sync ended; not passed on");
        }
    }

    fn on_sync(&mut self, event: request_response::Event<Request, Response>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => crate::serve::spawn_serve(self.shared.clone(), peer, request, channel),
                request_response::Message::Response {
                    request_id,
                    response,
                } => self.answer(request_id, Ok(response)),
            },
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => self.answer(request_id, Err(ReplicaError::peer(error.to_string()))),
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "inbound sync request failed");
            }
            _ => {}
        }
    }
}
