//! `guts node`: run one node until Ctrl-C or SIGTERM. With `--p2p` (or `--bootstrap`) it
//! joins the network: it prints its node id, peer id and p2p addresses for others to use.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use guts_node::net::{Multiaddr, NodeId};
use guts_node::{NetConfig, Node, NodeConfig, config};

/// Run a node.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Where the node keeps its data (and its key, `node.key`).
    #[arg(long, env = "GUTS_DATA_DIR")]
    data_dir: PathBuf,
    /// HTTP listen address (Smart HTTP, REST, health, metrics).
    #[arg(long, env = "GUTS_HTTP", default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// Open connections at most (WebSocket subscribers included); more wait.
    #[arg(long, env = "GUTS_MAX_CONNECTIONS", default_value_t = config::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// WebSocket subscribers at once; more are refused with 503.
    #[arg(long, env = "GUTS_MAX_SUBSCRIBERS", default_value_t = guts_node::events::DEFAULT_MAX_SUBSCRIBERS)]
    max_subscribers: usize,
    /// Events kept for WebSocket clients resuming with `?since=`.
    #[arg(long, env = "GUTS_EVENT_LOG", default_value_t = guts_node::DEFAULT_EVENT_LOG)]
    event_log: u64,
    /// libp2p listen address, e.g. /ip4/0.0.0.0/tcp/9000 (repeatable; none: no replication
    /// unless --bootstrap is given, then a random port).
    #[arg(long, env = "GUTS_P2P", value_delimiter = ',')]
    p2p: Vec<Multiaddr>,
    /// A peer to dial at start and whenever the connection drops, e.g.
    /// /ip4/10.0.0.2/tcp/9000/p2p/12D3KooW... (repeatable).
    #[arg(long, env = "GUTS_BOOTSTRAP", value_delimiter = ',')]
    bootstrap: Vec<Multiaddr>,
    /// The node id (hex public key) of a node whose pushes this node accepts (repeatable).
    #[arg(long, env = "GUTS_TRUST", value_delimiter = ',')]
    trust: Vec<NodeId>,
    /// Do not discover peers on the LAN with mDNS.
    #[arg(long, env = "GUTS_NO_MDNS")]
    no_mdns: bool,
    /// Do not look for peers through the DHT: connect only to --bootstrap peers (and those
    /// that connect here).
    #[arg(long, env = "GUTS_NO_DISCOVERY")]
    no_discovery: bool,
    /// Connections to seek: peers found through the DHT are dialled until this many are
    /// connected.
    #[arg(long, env = "GUTS_PEERS_TARGET", default_value_t = guts_node::net::DEFAULT_PEERS_TARGET)]
    peers_target: usize,
    /// Repositories to store: `all` (the default), an owner, or `owner/name` (repeatable).
    /// Others are passed on to peers but not stored. A policy set at run time through
    /// `PUT /api/v1/node/seeding` is kept in the data dir and wins over this flag.
    #[arg(long, env = "GUTS_SEED", value_delimiter = ',', default_value = "all")]
    seed: Vec<String>,
    /// Established peer connections at most (in and out); more are refused.
    #[arg(long, env = "GUTS_MAX_PEERS", default_value_t = guts_node::net::DEFAULT_MAX_PEERS)]
    max_peers: u32,
    /// Seconds between anti-entropy rounds with each peer.
    #[arg(long, env = "GUTS_ANTI_ENTROPY_SECS", default_value_t = guts_node::net::DEFAULT_ANTI_ENTROPY_SECS)]
    anti_entropy_secs: u64,
    /// The largest object a push may hold (resolved from its deltas), in bytes; larger
    /// files belong in Git LFS.
    #[arg(long, env = "GUTS_MAX_OBJECT_BYTES", default_value_t = guts_node::DEFAULT_MAX_OBJECT)]
    max_object_bytes: u64,
    /// Open connections from one IP address at most (more are closed at once).
    #[arg(long, env = "GUTS_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = config::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS)]
    max_connections_per_address: usize,
    /// Git requests (clones, fetches, pushes) served at once for one client address.
    #[arg(long, env = "GUTS_MAX_GIT_PER_ADDRESS", default_value_t = config::DEFAULT_MAX_GIT_PER_ADDRESS)]
    max_git_per_address: usize,
    /// Seconds a connection may wait on its client (to send, or to read) before it is closed.
    #[arg(long, env = "GUTS_CONNECTION_IDLE_SECS", default_value_t = config::DEFAULT_CONNECTION_IDLE_SECS)]
    connection_idle_secs: u64,
}

impl NodeArgs {
    fn p2p(&self) -> Option<NetConfig> {
        if self.p2p.is_empty() && self.bootstrap.is_empty() {
            return None;
        }
        let listen = if self.p2p.is_empty() {
            vec!["/ip4/0.0.0.0/tcp/0".parse().ok()?]
        } else {
            self.p2p.clone()
        };
        Some(NetConfig {
            listen,
            bootstrap: self.bootstrap.clone(),
            mdns: !self.no_mdns,
            discovery: !self.no_discovery,
            peers_target: self.peers_target,
            max_peers: self.max_peers.max(1),
            trusted: self.trust.clone(),
            anti_entropy_every: Duration::from_secs(self.anti_entropy_secs.max(1)),
            ..NetConfig::default()
        })
    }
}

pub fn run(args: NodeArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
    rt.block_on(async move {
        let mut config = NodeConfig::new(&args.data_dir, args.http);
        config.max_connections = args.max_connections;
        config.hub.max_subscribers = args.max_subscribers;
        config.event_log = args.event_log.max(1);
        config.seed = args.seed.clone();
        config.max_object_bytes = args.max_object_bytes.max(1);
        config.max_connections_per_address = args.max_connections_per_address.max(1);
        config.max_git_requests_per_address = args.max_git_per_address.max(1);
        config.connection_idle_timeout = Duration::from_secs(args.connection_idle_secs.max(1));
        // Each connection is a file descriptor: allow as many as the hard limit does.
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(n) if (n as usize) < args.max_connections + 256 => tracing::warn!(
                limit = n,
                "open-file limit below --max-connections; connections may be refused"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
        }
        config.p2p = args.p2p();
        let node = Node::start(config).await?;
        // Printed for people and for scripts (`guts devnet` reads these lines).
        println!("guts node listening on {}", node.url());
        println!("node id {}", node.node_id());
        node.wait_started().await.map_err(|e| {
            anyhow::anyhow!("opening the store in {}: {e}", args.data_dir.display())
        })?;
        if args.p2p().is_some() {
            let net = node
                .wait_network()
                .await
                .context("the p2p network did not start (see the log)")?;
            println!("peer id {}", net.peer_id());
            for addr in net.listen_addrs() {
                println!("p2p listening on {addr}");
            }
        } else {
            println!("p2p off (no --p2p or --bootstrap)");
        }
        println!("guts node ready (data in {})", args.data_dir.display());
        shutdown_signal().await;
        tracing::info!("shutting down");
        node.shutdown().await?;
        Ok(())
    })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
