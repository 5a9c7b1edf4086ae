//! guts-git: Git's formats and protocol, pure and synchronous (no tokio, sled, axum, libp2p).
//!
//! Layout:
//! - [`oid`]: the SHA-1 [`ObjectId`], its hex form and the zero id.
//! - [`hash`]: hashing objects, with SHA-1 collision detection for data from others.
//! - [`object`]: blob, tree, commit, tag: parse, validate (like `git fsck`), write byte-exactly.
//! - [`pktline`]: pkt-line framing and side-band multiplexing.
//! - [`pack`]: pack entries, delta apply and create, streaming indexing in bounded memory,
//!   random access to stored packs, and pack writing with reuse and new deltas.
//! - [`odb`]: the object and ref database traits the store implements.
//! - [`refname`]: ref name rules (`git check-ref-format`).
//! - [`walk`]: negotiation helpers over an object database: reachability, what a client
//!   lacks, fast-forward checks, shallow boundaries and filters.
//! - [`merge`]: merge bases, and three-way merges of commits, trees and file contents.
//! - [`treediff`]: the files two trees differ in, with line counts and unified hunks.

pub mod hash;
pub mod merge;
pub mod object;
pub mod odb;
pub mod oid;
pub mod pack;
pub mod pktline;
pub mod refname;
pub mod treediff;
pub mod walk;

pub use hash::{HashMode, hash_object};
pub use object::{Kind, Object, ObjectError};
pub use oid::{ObjectId, OidError};
