//! Packs: the format git moves and stores objects in.
//!
//! - [`entry`]: entry headers (type, size, delta base).
//! - [`delta`]: applying and creating deltas.
//! - [`index_pack`]: reads a pack from any stream in bounded memory, spooling it to a
//!   [`PackSpool`], then resolves deltas (in parallel, with a bounded base cache), completes
//!   thin packs through [`BaseLookup`], verifies the trailer, and returns an index.
//! - [`PackLinks`]: what a pack's objects reference, gathered while indexing, so a receiver
//!   can tell a self-contained pack and its roots without walking the graph.
//! - [`read_object_at`]: random access to objects of a stored pack.
//! - [`PackWriter`]: writes packs entry by entry, copying stored compressed data as it is.
//! - [`write_pack`]: writes a pack from whole objects, searching for deltas like
//!   `git pack-objects` (window and depth).

mod build;
pub mod delta;
mod entry;
mod error;
mod index;
mod inflate;
mod links;
mod read;
mod resolve;
mod spool;
mod stream;
mod write;

pub use build::{DeltaOptions, PackObject, name_hash, write_pack};
pub use delta::{DeltaIndex, apply_delta, create_delta};
pub use entry::{EntryHeader, EntryKind, HeaderError, decode_header, encode_header};
pub use error::PackError;

/// The longest delta chain read (deltas above a whole object). Indexing refuses a pack with
/// a longer one, so what was accepted can be read back (git writes at most 4,095).
pub const MAX_DELTA_CHAIN: usize = 10_000;

/// The largest object accepted by default: 100 MiB, as on GitHub (a delta of a few bytes can
/// describe gigabytes; larger files belong in Git LFS).
pub const DEFAULT_MAX_OBJECT: u64 = 100 << 20;

/// The largest pack taken by default, in a push or from a peer (8 GiB).
pub const DEFAULT_MAX_PACK: u64 = 8 << 30;
pub use index::{BaseLookup, IndexEntry, IndexOptions, NoBases, PackIndex, index_pack};
pub use links::PackLinks;
pub use read::{read_entry_at, read_object_at};
pub use spool::{PackRead, PackSpool};
pub use write::PackWriter;

/// The four bytes every pack starts with.
pub const SIGNATURE: &[u8; 4] = b"PACK";
/// The 12-byte header: signature, version 2, object count.
pub const HEADER_LEN: u64 = 12;
/// The trailing SHA-1 of everything before it.
pub const TRAILER_LEN: u64 = 20;
