//! The libp2p stack: TCP + noise + yamux, and the behaviours a node runs: gossipsub for
//! announcements (one topic for all repositories, so the per-peer topic cap never matters),
//! request-response for sync (`/guts/sync/1`), identify, ping, and mDNS when enabled.

use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{Swarm, gossipsub, identify, mdns, noise, ping, request_response, tcp, yamux};

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
}

/// Why the stack could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A behaviour refused its configuration.
    #[error("libp2p setup: {0}")]
    Setup(String),
}

/// Builds the swarm for `key`.
pub fn build_swarm(
    key: Keypair,
    mdns_on: bool,
    request_timeout: Duration,
) -> Result<Swarm<Behaviour>, BuildError> {
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
            let mdns = if mdns_on {
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
            })
        })
        .map_err(|e| setup(&e))?
        // Peers stay connected while idle: announcements may be rare.
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(24 * 3600)))
        .build();
    Ok(swarm)
}
