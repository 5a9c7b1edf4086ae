//! guts-net: replication between Guts nodes (DESIGN.md sections 2 and 3).
//!
//! Layout:
//! - [`identity`]: the node's ed25519 key (created once in the data dir) and [`NodeId`].
//! - [`hlc`]: hybrid logical clocks and the [`Stamp`]s that order ref updates everywhere.
//! - [`signed`]: [`SignedRef`], one ref update signed by the node that accepted it.
//! - [`announce`]: the small signed gossip [`Announcement`] of an accepted push, with its
//!   validation (size, encoding, names, trust, signatures, stamps).
//! - [`merge`]: the ref merge rule, a last-writer-wins register plus grow-only conflict tips,
//!   independent of delivery order.
//!
//! Still to come (issue 4): the libp2p event loop (gossipsub, request-response pack
//! transfer, identify, mDNS), anti-entropy, and the replication state machine that drives
//! them without I/O.

pub mod announce;
pub mod hlc;
pub mod identity;
pub mod merge;
pub mod signed;

pub use announce::{AnnounceError, Announcement, Body, PackRef};
pub use hlc::{Clock, Hlc, Stamp};
pub use identity::{IdentityError, NodeId, NodeKey};
pub use merge::{Ancestry, Applied, RefState, Seen, conflict_ref};
pub use signed::{Sig, SignedRef};
