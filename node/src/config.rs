//! What a node is started with.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A node's settings.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Where the store lives.
    pub data_dir: PathBuf,
    /// The HTTP listen address (port 0 picks one).
    pub http: SocketAddr,
    /// Open connections at most; more wait until one closes.
    pub max_connections: usize,
    /// Open connections from one IP address at most; more are closed at once.
    pub max_connections_per_address: usize,
    /// A connection whose client sends nothing (while the node waits for a request or its
    /// body) or reads nothing (while the node answers) for this long is closed.
    pub connection_idle_timeout: Duration,
    /// Time limit for REST, health and metrics requests.
    pub request_timeout: Duration,
    /// A Git request body must bring 64 KiB in each window of this length (or end): a
    /// stalled or trickled body is cut off.
    pub idle_timeout: Duration,
    /// The largest pack a push may send.
    pub max_pack_bytes: u64,
    /// The largest object a push (or a replicated pack) may hold, as resolved from its
    /// deltas; also what one request may hold in memory for an object.
    pub max_object_bytes: u64,
    /// Git requests (clones, fetches, pushes) served at once; more get 503.
    pub max_git_requests: usize,
    /// Git requests served at once for one client address; more get 503.
    pub max_git_requests_per_address: usize,
    /// Replication over libp2p (none: this node keeps to itself).
    pub p2p: Option<guts_net::NetConfig>,
    /// The WebSocket event hub's limits.
    pub hub: crate::events::HubConfig,
    /// Events kept in the store for clients resuming with `since`.
    pub event_log: u64,
    /// The node's wall clock: stamps, token expiry, the drift bound (the network's too).
    pub wall: guts_net::Wall,
    /// Which repositories to store: `all`, `OWNER`, `OWNER/NAME` (a policy set at run time
    /// through the API and kept in the data dir takes precedence).
    pub seed: Vec<String>,
}

/// Open connections at most by default (WebSocket subscribers hold one each).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Open connections from one IP address at most by default.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 256;
/// Seconds a connection may wait on its client by default.
pub const DEFAULT_CONNECTION_IDLE_SECS: u64 = 60;
/// Git requests served at once by default.
pub const DEFAULT_MAX_GIT_REQUESTS: usize = 64;
/// Git requests from one IP address at once by default.
pub const DEFAULT_MAX_GIT_PER_ADDRESS: usize = 8;

impl NodeConfig {
    /// Defaults for a node storing its data in `data_dir` and listening on `http`.
    pub fn new(data_dir: impl Into<PathBuf>, http: SocketAddr) -> Self {
        NodeConfig {
            data_dir: data_dir.into(),
            http,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            connection_idle_timeout: Duration::from_secs(DEFAULT_CONNECTION_IDLE_SECS),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            max_pack_bytes: guts_git::pack::DEFAULT_MAX_PACK,
            max_object_bytes: guts_git::pack::DEFAULT_MAX_OBJECT,
            max_git_requests: DEFAULT_MAX_GIT_REQUESTS,
            max_git_requests_per_address: DEFAULT_MAX_GIT_PER_ADDRESS,
            p2p: None,
            hub: crate::events::HubConfig::default(),
            event_log: guts_store::DEFAULT_EVENT_LOG,
            wall: guts_net::Wall::system(),
            seed: vec!["all".to_string()],
        }
    }
}
