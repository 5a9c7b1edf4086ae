//! guts-net: replication between Guts nodes (DESIGN.md sections 2 and 3).
//!
//! Layout:
//! - [`identity`]: the node's ed25519 key (created once in the data dir) and [`NodeId`].
//! - [`hlc`]: hybrid logical clocks and the [`Stamp`]s that order ref updates everywhere.
//! - [`signed`]: [`SignedRef`], one ref update signed by the node that accepted it.
//! - [`announce`]: the small signed gossip [`Announcement`] of an accepted push or of a
//!   repository record (created, updated, deleted), with its validation (size, encoding,
//!   names, trust, signatures, stamps).
//! - [`accounts`]: account records (users, token hashes, organizations, teams,
//!   permissions, SSH keys, protected branches), the permission rule, and the grant a
//!   pushed update carries to show its pusher could write.
//! - [`collab`]: issues and pull requests as sets of operations, folded the same on
//!   every node.
//! - [`merge`]: the ref merge rule, a last-writer-wins register plus the conflict tips no
//!   later update covers, a function of the set of updates (not of delivery order).
//! - [`updates`]: planning and applying a repository's signed updates by the merge rule,
//!   over any store behind [`updates::RefTable`] (the node's, the simulator's).
//! - [`wall`]: [`Wall`], the node's wall clock as a value (read in one place, injectable).
//! - [`proto`]: the `/guts/sync/1` request-response messages and their bounded codec.
//! - [`codec`]: every bincode encoding and decoding of the network, in one place.
//! - [`host`]: the [`Host`] trait, what the network needs from the node (logs, packs, apply).
//! - [`error`]: [`ReplicaError`], why a replication step failed (transient or not).
//! - `hops.rs`: how many hops each repository's updates travelled (for `/health`).
//! - `behaviour.rs`: the libp2p stack (TCP, noise, yamux, gossipsub, request-response,
//!   identify, ping, mDNS).
//! - [`machine`]: the replication state machine (no I/O: inputs in, actions out): which
//!   repositories to sync from whom, anti-entropy rounds, limits and fallbacks.
//! - [`service`]: [`spawn`] and the [`NetHandle`] the node uses; `event_loop.rs` owns the
//!   swarm and drives the machine (`event_loop/pulling.rs`: providing held repositories
//!   in the DHT, and pulls of repositories not held, [`NetHandle::pull`]); `drive.rs`
//!   performs its actions (host calls, chunked downloads); `serve.rs` answers peers.

pub mod accounts;
pub mod announce;
mod behaviour;
pub mod codec;
pub mod collab;
mod drive;
pub mod error;
mod event_loop;
pub mod hlc;
mod hops;
pub mod host;
pub mod identity;
pub mod machine;
pub mod merge;
pub mod proto;
mod serve;
pub mod service;
pub mod signed;
pub mod updates;
pub mod wall;

pub use accounts::{AccountView, Entry, Perm, Pusher, Role};
pub use announce::{AnnounceError, Announcement, Body, PackRef, RepoMeta, RepoState};
pub use error::ReplicaError;
pub use event_loop::PullError;
pub use hlc::{Clock, Hlc, Stamp};
pub use host::{Host, NetEvent, SyncPlan};
pub use identity::{IdentityError, NodeId, NodeKey};
pub use libp2p::multiaddr::Protocol;
pub use libp2p::{Multiaddr, PeerId};
pub use machine::Pulled;
pub use merge::{Ancestry, Applied, RefState, Seen, conflict_ref};
pub use proto::{RECORDS, RepoDigest};
pub use service::{
    DEFAULT_ANTI_ENTROPY_SECS, DEFAULT_MAX_PEERS, DEFAULT_PEERS_TARGET, NetConfig, NetError,
    NetHandle, NetStats, peer_id_of, spawn,
};
pub use signed::{Sig, SignedRef};
pub use wall::Wall;
