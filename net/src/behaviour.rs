//! The libp2p stack: TCP + noise + yamux, and the behaviours a node runs: gossipsub for
//! announcements (one topic for all repositories, so the per-peer topic cap never matters),
//! request-response for sync (`/guts/sync/1`), identify, ping, Kademlia for discovery
//! (`/guts/kad/1`, our own DHT, not the public one; nodes provide the repositories they
//! hold under [`provider_key`]) when enabled, mDNS when enabled, and a bound on
//! established connections.

use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{
    StreamProtocol, Swarm, connection_limits, gossipsub, identify, kad, mdns, noise, ping,
    request_response, tcp, yamux,
};

use crate::announce::{Announcement, MAX_ANNOUNCEMENT};
use crate::proto::{PROTOCOL, SyncCodec};

/// Gossip's heartbeat, in ms.
const HEARTBEAT_MS: u64 = 500;
/// Heartbeats a message stays in gossip's history (60 s): how long a held announcement
/// can still be passed on.
const HISTORY_HEARTBEATS: usize = 120;
/// How long a held announcement can still be passed on.
pub(crate) const HISTORY: Duration =
    Duration::from_millis(HEARTBEAT_MS * HISTORY_HEARTBEATS as u64);

/// The gossip topic every announcement goes to.
pub const TOPIC: &str = "guts/announce/1";
/// The DHT's protocol: Guts nodes find each other, not other libp2p networks.
pub const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/guts/kad/1");
/// How often the DHT looks for peers again.
const KAD_BOOTSTRAP_EVERY: Duration = Duration::from_secs(60);
/// Repositories a node provides at most, and provider records it keeps for others (each
/// is a key and a few addresses).
pub(crate) const MAX_PROVIDED: usize = 65_536;

/// The DHT key under which the nodes that hold `repo` (`owner/name`) provide it.
pub(crate) fn provider_key(repo: &str) -> kad::RecordKey {
    kad::RecordKey::new(&format!("/guts/repo/{repo}"))
}

/// What the stack is built with.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// LAN discovery.
    pub mdns: bool,
    /// Peer discovery through the DHT.
    pub discovery: bool,
    /// Established connections at most (in and out).
    pub max_peers: u32,
    /// How long a request to a peer may take.
    pub request_timeout: Duration,
}

/// Every behaviour of a node.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    /// Announcements.
    pub gossipsub: gossipsub::Behaviour,
    /// Digests, updates and pack transfer.
    pub sync: request_response::Behaviour<SyncCodec>,
    /// Peers' addresses and protocols.
    pub identify: identify::Behaviour,
    /// Liveness of connections.
    pub ping: ping::Behaviour,
    /// LAN discovery (off in tests and when disabled).
    pub mdns: Toggle<mdns::tokio::Behaviour>,
    /// Peer discovery (off when disabled).
    pub kad: Toggle<kad::Behaviour<kad::store::MemoryStore>>,
    /// The bound on established connections.
    pub limits: connection_limits::Behaviour,
}

/// Why the stack could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A behaviour refused its configuration.
    #[error("libp2p setup: {0}")]
    Setup(String),
}

/// Builds the swarm for `key`.
pub fn build_swarm(key: Keypair, stack: &StackConfig) -> Result<Swarm<Behaviour>, BuildError> {
    let request_timeout = stack.request_timeout;
    let setup = |e: &dyn std::fmt::Display| BuildError::Setup(e.to_string());
    let swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| setup(&e))?
        .with_behaviour(|key| {
            let gossip_config = gossipsub::ConfigBuilder::default()
                .heartbeat_interval(Duration::from_millis(HEARTBEAT_MS))
                // A push announcement is held until its sync ends (`event_loop.rs`), and
                // gossip can only pass on what is still in its history.
                .history_length(HISTORY_HEARTBEATS)
                .validation_mode(gossipsub::ValidationMode::Strict)
                .validate_messages()
                // A frame carries one announcement (at most MAX_ANNOUNCEMENT, checked again
                // when it is decoded) plus gossip's envelope and any control messages sent
                // with it; a frame over the limit is dropped whole by the receiver, with
                // the stream it came on, so the limit leaves ample room.
                .max_transmit_size(2 * MAX_ANNOUNCEMENT)
                .message_id_fn(|m: &gossipsub::Message| {
                    gossipsub::MessageId::from(Announcement::id_of(&m.data).to_vec())
                })
                .build()
                .map_err(|e| e.to_string())?;
            let gossipsub = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Signed(key.clone()),
                gossip_config,
            )?;
            let sync = request_response::Behaviour::with_codec(
                SyncCodec,
                [(PROTOCOL, request_response::ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(request_timeout)
                    .with_max_concurrent_streams(64),
            );
            let identify =
                identify::Behaviour::new(identify::Config::new("/guts/1".into(), key.public()));
            let kad = if stack.discovery {
                let me = key.public().to_peer_id();
                let mut config = kad::Config::new(KAD_PROTOCOL);
                config.set_periodic_bootstrap_interval(Some(KAD_BOOTSTRAP_EVERY));
                let store = kad::store::MemoryStore::with_config(
                    me,
                    kad::store::MemoryStoreConfig {
                        max_records: MAX_PROVIDED,
                        max_provided_keys: MAX_PROVIDED,
                        ..Default::default()
                    },
                );
                let mut kad = kad::Behaviour::with_config(me, store, config);
                // Answer queries even before an external address is confirmed (nodes on
                // one host or LAN never get one confirmed).
                kad.set_mode(Some(kad::Mode::Server));
                Some(kad)
            } else {
                None
            };
            let limits = connection_limits::Behaviour::new(
                connection_limits::ConnectionLimits::default()
                    .with_max_established(Some(stack.max_peers)),
            );
            let mdns = if stack.mdns {
                Some(mdns::tokio::Behaviour::new(
                    mdns::Config::default(),
                    key.public().to_peer_id(),
                )?)
            } else {
                None
            };
            Ok(Behaviour {
                gossipsub,
                sync,
                identify,
                ping: ping::Behaviour::default(),
                mdns: Toggle::from(mdns),
                kad: Toggle::from(kad),
                limits,
            })
        })
        .map_err(|e| setup(&e))?
        // Peers stay connected while idle: announcements may be rare.
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(24 * 3600)))
        .build();
    Ok(swarm)
}
