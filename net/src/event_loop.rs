//! The one task that owns the swarm: a `select!` over swarm events, commands from the
//! handle and tasks, and two timers (redialing lost bootstrap peers with backoff, and
//! anti-entropy rounds). It only routes: anything slow is spawned as a task.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::gossipsub::{IdentTopic, MessageAcceptance};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::{Multiaddr, PeerId, Swarm, gossipsub, identify, mdns};
use tokio::sync::{mpsc, oneshot};

use crate::announce::{AnnounceError, Announcement, Body};
use crate::behaviour::{Behaviour, BehaviourEvent, TOPIC};
use crate::host::NetEvent;
use crate::proto::{Request, Response};
use crate::service::{Shared, lock, now_ms, peer_id_of};

/// What the handle and the tasks ask of the event loop.
pub(crate) enum Command {
    Publish(Vec<u8>),
    Request {
        peer: PeerId,
        req: Request,
        reply: oneshot::Sender<Result<Response, String>>,
    },
    Respond {
        channel: ResponseChannel<Response>,
        res: Response,
    },
    AntiEntropy,
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

pub(crate) struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    shared: Arc<Shared>,
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<Response, String>>>,
    bootstrap: Vec<Bootstrap>,
    known: HashMap<PeerId, Known>,
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
        EventLoop {
            swarm,
            commands,
            shared,
            pending: HashMap::new(),
            bootstrap,
            known: HashMap::new(),
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
                _ = tick.tick() => self.redial(),
                _ = rounds.tick() => self.start_rounds(),
            }
        }
        for (_, reply) in self.pending.drain() {
            let _ = reply.send(Err("network stopped".into()));
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
                if !self.swarm.is_connected(&peer) {
                    let _ = reply.send(Err(format!("not connected to {peer}")));
                    return;
                }
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, req);
                self.pending.insert(id, reply);
            }
            Command::Respond { channel, res } => {
                let _ = self.swarm.behaviour_mut().sync.send_response(channel, res);
            }
            Command::AntiEntropy => self.start_rounds(),
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
        for (peer, k) in &mut self.known {
            if self.swarm.is_connected(peer) || blocked.contains(peer) {
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

    fn start_rounds(&mut self) {
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        for peer in peers {
            crate::sync::spawn_round(self.shared.clone(), peer);
        }
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
                    crate::sync::spawn_round(self.shared.clone(), peer_id);
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
                self.remember(peer_id, info.listen_addrs);
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

    /// Validates an announcement, reports the verdict to gossip at once (so it is forwarded
    /// or dropped), and leaves the fetching to a task.
    fn on_announcement(&mut self, source: PeerId, id: &gossipsub::MessageId, data: &[u8]) {
        let shared = &self.shared;
        let checked = Announcement::decode(data).and_then(|a| {
            a.validate(|n| shared.is_trusted(n), now_ms())?;
            Ok(a)
        });
        let verdict = match &checked {
            Ok(_) => MessageAcceptance::Accept,
            Err(AnnounceError::Clock(_)) => MessageAcceptance::Ignore,
            Err(_) => MessageAcceptance::Reject,
        };
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(id, &source, verdict);
        match checked {
            Ok(a) => {
                shared
                    .stats
                    .announcements_received
                    .fetch_add(1, Ordering::Relaxed);
                let record = data.to_vec();
                let (repo, updates, pack) = match a.body {
                    Body::Push {
                        repo,
                        updates,
                        pack,
                    } => (repo, updates, pack),
                    Body::Repo { repo, stamp, state } => {
                        crate::sync::spawn_record(shared.clone(), repo, stamp, state, record);
                        return;
                    }
                };
                let mut sources = vec![source];
                if let Some(origin) = peer_id_of(&a.origin)
                    && origin != source
                {
                    sources.push(origin);
                }
                crate::sync::spawn_sync(shared.clone(), repo, updates, pack, sources);
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

    fn on_sync(&mut self, event: request_response::Event<Request, Response>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => crate::serve::spawn_serve(self.shared.clone(), peer, request, channel),
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some(reply) = self.pending.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "inbound sync request failed");
            }
            _ => {}
        }
    }
}
