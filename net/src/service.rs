//! The network as the node sees it: [`spawn`] starts the libp2p event loop and returns a
//! cloneable [`NetHandle`] that signs and announces accepted pushes, tells who is connected,
//! and counts what happened. Work that arrives (announcements, anti-entropy, requests from
//! peers) runs as bounded tasks (`drive.rs`, `serve.rs`), never inside the event loop.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};

use crate::announce::{Announcement, Body, PackRef};
use crate::behaviour::build_swarm;
use crate::error::ReplicaError;
use crate::event_loop::PullError;
use crate::event_loop::{Command, EventLoop};
use crate::host::Host;
use crate::identity::{NodeId, NodeKey};
use crate::machine::Pulled;
use crate::proto::{Request, Response};
use crate::serve::Sessions;
use crate::signed::SignedRef;

/// How a node takes part in the network.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Addresses to listen on (`/ip4/127.0.0.1/tcp/0` picks a port).
    pub listen: Vec<Multiaddr>,
    /// Peers to dial at start, and redial with backoff when the connection drops.
    pub bootstrap: Vec<Multiaddr>,
    /// Discover peers on the LAN.
    pub mdns: bool,
    /// Find peers through the DHT (Kademlia), starting from the bootstrap peers, and dial
    /// them while fewer than `peers_target` are connected.
    pub discovery: bool,
    /// Connections this node seeks (discovery and redials stop there).
    pub peers_target: usize,
    /// Established connections at most, in and out; more are refused.
    pub max_peers: u32,
    /// Nodes whose announcements and updates are accepted (this node always is).
    pub trusted: Vec<NodeId>,
    /// How often logs are compared with each connected peer.
    pub anti_entropy_every: Duration,
    /// How long a request to a peer may take.
    pub request_timeout: Duration,
    /// Repositories synchronised at once.
    pub max_fetches: usize,
    /// The largest pack fetched from a peer.
    pub max_pack: u64,
    /// The node's wall clock (stamps further ahead than the drift bound are refused).
    pub wall: crate::wall::Wall,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            listen: Vec::new(),
            bootstrap: Vec::new(),
            mdns: true,
            discovery: true,
            peers_target: DEFAULT_PEERS_TARGET,
            max_peers: DEFAULT_MAX_PEERS,
            trusted: Vec::new(),
            anti_entropy_every: Duration::from_secs(DEFAULT_ANTI_ENTROPY_SECS),
            request_timeout: Duration::from_secs(60),
            max_fetches: 4,
            max_pack: guts_git::pack::DEFAULT_MAX_PACK,
            wall: crate::wall::Wall::system(),
        }
    }
}

/// Seconds between anti-entropy rounds by default.
pub const DEFAULT_ANTI_ENTROPY_SECS: u64 = 10;
/// Connections a node seeks by default.
pub const DEFAULT_PEERS_TARGET: usize = 8;
/// Established connections at most by default.
pub const DEFAULT_MAX_PEERS: u32 = 64;

/// Counters, read by the node's metrics.
#[derive(Debug, Default)]
pub struct NetStats {
    /// Announcements published.
    pub announcements_sent: AtomicU64,
    /// Valid announcements received.
    pub announcements_received: AtomicU64,
    /// Announcements refused (malformed, forged, untrusted, too large).
    pub announcements_rejected: AtomicU64,
    /// Signed updates refused during sync (bad signature, untrusted origin).
    pub updates_rejected: AtomicU64,
    /// Packs fetched from peers.
    pub packs_fetched: AtomicU64,
    /// Bytes of those packs.
    pub pack_bytes: AtomicU64,
    /// Of the packs fetched, those fetched as stored at the origin (by announced checksum)
    /// and applied without a want/have round.
    pub stored_packs_applied: AtomicU64,
    /// Repository records (creations, metadata changes, deletions) applied from peers.
    pub records_applied: AtomicU64,
    /// Anti-entropy rounds completed.
    pub anti_entropy_rounds: AtomicU64,
    /// Repositories a round left alone because their difference with the peer was settled
    /// before (the rest of the peer's log is refused here) and nothing changed since.
    pub differences_settled: AtomicU64,
    /// Sync attempts that failed (retried by anti-entropy).
    pub sync_failures: AtomicU64,
    /// Announced syncs dropped because the queue was full (anti-entropy catches up).
    pub syncs_dropped: AtomicU64,
    /// Requests from peers that could not be served.
    pub requests_refused: AtomicU64,
    /// Incoming connections that failed before a peer was established (bad handshake,
    /// garbage bytes, refused).
    pub handshakes_failed: AtomicU64,
    /// Peers connected now (a gauge).
    pub peers_connected: AtomicU64,
    /// Peers in the DHT's routing table now (a gauge).
    pub routing_table: AtomicU64,
    /// Peers dialled because the DHT found them.
    pub peers_discovered: AtomicU64,
    /// Syncs whose pack came with a hop count (see `hops.rs`).
    pub hops_observed: AtomicU64,
    /// The sum of those hop counts (with `hops_observed`, the mean).
    pub hops_sum: AtomicU64,
    /// The latest of them.
    pub hops_last: AtomicU64,
    /// The largest of them.
    pub hops_max: AtomicU64,
    /// Repositories this node provides in the DHT now (a gauge).
    pub providing: AtomicU64,
    /// Pulls of a repository not held here that took it from a peer.
    pub pulls: AtomicU64,
    /// Pulls that found no peer able to serve the repository.
    pub pulls_failed: AtomicU64,
    /// Providers the DHT named for pulls.
    pub providers_found: AtomicU64,
    /// Checks of a held repository against its providers that are not connected (each
    /// anti-entropy tick, and after an announced sync found no source).
    pub provider_checks: AtomicU64,
}

impl NetStats {
    /// Every counter by the name `/metrics` and `/health` show it under.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        vec![
            ("announcements_sent", n(&self.announcements_sent)),
            ("announcements_received", n(&self.announcements_received)),
            ("announcements_rejected", n(&self.announcements_rejected)),
            ("updates_rejected", n(&self.updates_rejected)),
            ("packs_fetched", n(&self.packs_fetched)),
            ("pack_bytes_fetched", n(&self.pack_bytes)),
            ("stored_packs_applied", n(&self.stored_packs_applied)),
            ("anti_entropy_rounds", n(&self.anti_entropy_rounds)),
            ("differences_settled", n(&self.differences_settled)),
            ("records_applied", n(&self.records_applied)),
            ("sync_failures", n(&self.sync_failures)),
            ("syncs_dropped", n(&self.syncs_dropped)),
            ("requests_refused", n(&self.requests_refused)),
            ("handshakes_failed", n(&self.handshakes_failed)),
            ("peers_connected", n(&self.peers_connected)),
            ("routing_table", n(&self.routing_table)),
            ("peers_discovered", n(&self.peers_discovered)),
            ("hops_observed", n(&self.hops_observed)),
            ("hops_sum", n(&self.hops_sum)),
            ("hops_last", n(&self.hops_last)),
            ("hops_max", n(&self.hops_max)),
            ("providing", n(&self.providing)),
            ("pulls", n(&self.pulls)),
            ("pulls_failed", n(&self.pulls_failed)),
            ("providers_found", n(&self.providers_found)),
            ("provider_checks", n(&self.provider_checks)),
        ]
    }
}

/// Why the network could not start.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The key could not be used by libp2p.
    #[error("node key: {0}")]
    Key(String),
    /// Building the libp2p stack failed.
    #[error("libp2p setup: {0}")]
    Build(String),
    /// Listening failed.
    #[error("listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// Why.
        reason: String,
    },
}

/// State shared by the handle, the event loop and the tasks.
pub(crate) struct Shared {
    pub key: NodeKey,
    pub peer_id: PeerId,
    pub config: NetConfig,
    pub host: Arc<dyn Host>,
    pub commands: mpsc::Sender<Command>,
    pub stats: Arc<NetStats>,
    /// Repository syncs running now (kept by the event loop).
    pub syncs_running: AtomicUsize,
    pub trusted: HashSet<NodeId>,
    pub listen_addrs: Mutex<Vec<Multiaddr>>,
    pub peers: Mutex<HashSet<PeerId>>,
    pub blocked: Mutex<HashSet<PeerId>>,
    /// Packs prepared for peers, read back in chunks.
    pub sessions: Mutex<Sessions>,
    /// Tasks performing the machine's actions and answering peers: shutdown waits for them,
    /// so none touches the node's store after the node has stopped.
    pub tasks: tokio_util::task::TaskTracker,
    /// Set when the event loop has stopped (it spawns nothing more).
    pub stopped: tokio::sync::watch::Sender<bool>,
    /// How many hops each repository's latest updates travelled to here.
    pub hops: crate::hops::Hops,
}

impl Shared {
    pub fn is_trusted(&self, node: &NodeId) -> bool {
        *node == self.key.id() || self.trusted.contains(node)
    }

    /// Sends a request to `peer` through the event loop and waits for the answer.
    pub async fn request(&self, peer: PeerId, req: Request) -> Result<Response, ReplicaError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Request { peer, req, reply })
            .await
            .map_err(|_| ReplicaError::NotReady("network stopped"))?;
        let limit = self.config.request_timeout + Duration::from_secs(5);
        match tokio::time::timeout(limit, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(ReplicaError::NotReady("network stopped")),
            Err(_) => Err(ReplicaError::peer(format!("request to {peer} timed out"))),
        }
    }
}

/// How long shutdown waits for the event loop, then for its tasks.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(30);

/// The node's handle on the network.
#[derive(Clone)]
pub struct NetHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for NetHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NetHandle({})", self.shared.peer_id)
    }
}

/// The libp2p peer id of a node id (both come from the same ed25519 key).
pub fn peer_id_of(node: &NodeId) -> Option<PeerId> {
    let pk = libp2p::identity::ed25519::PublicKey::try_from_bytes(&node.0).ok()?;
    Some(libp2p::identity::PublicKey::from(pk).to_peer_id())
}

/// Starts the network (inside a tokio runtime) and returns once it listens.
pub async fn spawn(
    config: NetConfig,
    key: NodeKey,
    host: Arc<dyn Host>,
) -> Result<NetHandle, NetError> {
    let keypair = libp2p::identity::Keypair::ed25519_from_bytes(key.secret())
        .map_err(|e| NetError::Key(e.to_string()))?;
    let peer_id = keypair.public().to_peer_id();
    let stack = crate::behaviour::StackConfig {
        mdns: config.mdns,
        discovery: config.discovery,
        max_peers: config.max_peers,
        request_timeout: config.request_timeout,
    };
    let mut swarm = build_swarm(keypair, &stack).map_err(|e| NetError::Build(e.to_string()))?;
    for addr in &config.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| NetError::Listen {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
    }
    let (tx, rx) = mpsc::channel(256);
    let shared = Arc::new(Shared {
        peer_id,
        trusted: config.trusted.iter().copied().collect(),
        key,
        config,
        host,
        commands: tx,
        stats: Arc::new(NetStats::default()),
        syncs_running: AtomicUsize::new(0),
        listen_addrs: Mutex::new(Vec::new()),
        peers: Mutex::new(HashSet::new()),
        blocked: Mutex::new(HashSet::new()),
        sessions: Mutex::new(Sessions::default()),
        tasks: tokio_util::task::TaskTracker::new(),
        stopped: tokio::sync::watch::Sender::new(false),
        hops: crate::hops::Hops::default(),
    });
    let (ready_tx, ready_rx) = oneshot::channel();
    let event_loop = EventLoop::new(swarm, rx, shared.clone(), ready_tx);
    tokio::spawn(event_loop.run());
    // The first listen address (or an error) arrives quickly; without listeners, at once.
    let _ = tokio::time::timeout(Duration::from_secs(10), ready_rx).await;
    Ok(NetHandle { shared })
}

impl NetHandle {
    /// This node's id (its public key).
    pub fn node_id(&self) -> NodeId {
        self.shared.key.id()
    }

    /// This node's libp2p peer id.
    pub fn peer_id(&self) -> PeerId {
        self.shared.peer_id
    }

    /// Where it listens, each with `/p2p/<peer id>`.
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        let addrs = lock(&self.shared.listen_addrs).clone();
        addrs
            .into_iter()
            .map(|a| a.with(libp2p::multiaddr::Protocol::P2p(self.shared.peer_id)))
            .collect()
    }

    /// Peers connected now.
    pub fn connected_peers(&self) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.shared.peers)
            .iter()
            .map(ToString::to_string)
            .collect();
        v.sort();
        v
    }

    /// Repository syncs running now.
    pub fn syncs_running(&self) -> usize {
        self.shared.syncs_running.load(Ordering::Relaxed)
    }

    /// The counters.
    pub fn stats(&self) -> &NetStats {
        &self.shared.stats
    }

    /// Takes `repo`, which this node does not hold, from a node that does (found in the
    /// DHT, else among connected peers), waiting at most `wait`. The host must accept the
    /// repository's updates (it holds it, empty if need be). Blocks nothing: the work runs
    /// in the event loop and its tasks.
    pub async fn pull(&self, repo: &str, wait: Duration) -> Result<Pulled, PullError> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Pull {
            repo: repo.to_string(),
            reply,
        };
        if self.shared.commands.send(cmd).await.is_err() {
            return Err(PullError::Stopped);
        }
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(PullError::Stopped),
            Err(_) => Err(PullError::TimedOut {
                repo: repo.to_string(),
            }),
        }
    }

    /// Announces updates already applied and logged here (split to stay small).
    pub async fn announce(&self, repo: &str, pack: Option<PackRef>, updates: Vec<SignedRef>) {
        self.shared.hops.pushed(repo);
        let _ = self
            .shared
            .commands
            .send(Command::Provide(repo.to_string()))
            .await;
        for part in crate::announce::split(updates) {
            let a = Announcement::sign(
                &self.shared.key,
                Body::Push {
                    repo: repo.to_string(),
                    pack,
                    updates: part,
                },
            );
            // Too many long names to fit: anti-entropy carries these.
            match a.encode() {
                Ok(bytes) => self.publish(bytes).await,
                Err(e) => tracing::error!(%repo, error = %e, "announcement not published"),
            }
        }
    }

    /// Publishes an encoded announcement if it is within the size limit.
    async fn publish(&self, bytes: Vec<u8>) {
        if bytes.len() > crate::announce::MAX_ANNOUNCEMENT {
            return;
        }
        if self
            .shared
            .commands
            .send(Command::Publish(bytes))
            .await
            .is_ok()
        {
            self.shared
                .stats
                .announcements_sent
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Announces a repository record already applied here: `record` is the encoded,
    /// signed [`Body::Repo`] announcement the node kept.
    pub async fn announce_record(&self, record: Vec<u8>) {
        self.publish(record).await;
    }

    /// Starts an anti-entropy round with every connected peer now.
    pub async fn sync_now(&self) {
        let _ = self.shared.commands.send(Command::AntiEntropy).await;
    }

    /// Drops and refuses connections to `peer` (a partition, for tests and operators).
    pub async fn block(&self, peer: PeerId) {
        lock(&self.shared.blocked).insert(peer);
        let _ = self.shared.commands.send(Command::Disconnect(peer)).await;
    }

    /// After what this node accepts changed (say, the repositories it seeds): forgets the
    /// differences with peers it had settled, and starts a round with every peer.
    pub async fn resync(&self) {
        let _ = self.shared.commands.send(Command::Resync).await;
    }

    /// Allows `peer` again and dials it.
    pub async fn unblock(&self, peer: PeerId) {
        lock(&self.shared.blocked).remove(&peer);
        let _ = self.shared.commands.send(Command::Redial).await;
    }

    /// Dials an address.
    pub async fn dial(&self, addr: Multiaddr) {
        let _ = self.shared.commands.send(Command::Dial(addr)).await;
    }

    /// Stops the event loop (connections close), then waits for the tasks it started
    /// (an apply in progress finishes; nothing starts after), at most [`SHUTDOWN_WAIT`].
    pub async fn shutdown(&self) {
        let _ = self.shared.commands.send(Command::Shutdown).await;
        let mut stopped = self.shared.stopped.subscribe();
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, stopped.wait_for(|s| *s)).await;
        self.shared.tasks.close();
        if tokio::time::timeout(SHUTDOWN_WAIT, self.shared.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("network tasks still running after shutdown");
        }
    }
}

/// Locks a mutex, recovering from poisoning (the data are plain sets and counters).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}
