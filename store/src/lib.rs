//! guts-store: sled-backed repositories (DESIGN.md section 4).
//!
//! Layout:
//! - [`keys`]: every sled key, built in one place as ordered byte strings.
//! - [`codec`]: every stored value, encoded in one place (bincode 2 with serde).
//! - [`records`]: the stored value types (repositories, packs, object locations, refs).
//! - [`names`]: owner, repository and ref name validation, before anything touches storage;
//!   [`RepoName`] (`repo_name.rs`): `owner/name` parsed once and passed as a value.
//! - [`Store`] (`db.rs`): opening, crash recovery, flushing, repository metadata.
//! - [`Repo`] (`repo.rs`), a handle on one repository: its refs (`refs.rs`, compare-and-swap,
//!   atomic batches), its replicated update log and writer lock (`log.rs`), its objects
//!   ([`RepoOdb`] in `odb.rs`, which implements guts-git's
//!   `ObjectRead` over chunked packs in `chunks.rs`), pack ingestion (`ingest.rs`: index,
//!   thicken, store in chunks), pack sending that reuses stored entries (`send.rs`), and
//!   full clones sent as the stored packs themselves (`reuse.rs`).
//! - Each repository's latest signed record (`signed.rs`), kept after deletion so
//!   replication does not bring it back.
//! - Account records (`accounts.rs`): the latest signed record of each account key.
//! - Operations on issues and pull requests (`collab.rs`), each kept once, with an index
//!   of each repository's threads.
//! - The node's bounded event log for WebSocket resumption ([`EventLog`], `events.rs`).
//! - [`sync::lock`]: the one way locks are taken (a panic does not poison them for good).
//!
//! Durability: a pack is written under a pending marker, its objects indexed, and the store
//! flushed before any ref may point into it; refs move by compare-and-swap and are flushed
//! before a push is acknowledged. Recovery on open removes packs whose writing was cut short.

mod accounts;
mod chunks;
pub mod codec;
mod collab;
mod db;
mod error;
mod events;
mod ingest;
pub mod keys;
mod log;
pub mod names;
mod odb;
pub mod records;
mod refs;
mod repo;
mod repo_name;
mod reuse;
mod send;
mod signed;
pub mod sync;

pub use accounts::AccountWatcher;
pub use collab::CollabId;
pub use db::{DEFAULT_EVENT_LOG, MAX_DESCRIPTION, Store, StoreOptions, StoreTotals};
pub use error::StoreError;
pub use events::EventLog;
pub use ingest::{IngestOptions, IngestProgress, Ingested, Overlay, Received};
pub use log::{LogDigest, LogEntry};
pub use odb::RepoOdb;
pub use records::{NewRepo, ObjLoc, PackRecord, RefValue, RepoPatch, RepoRecord};
pub use refs::{RefError, RefUpdate};
pub use repo::Repo;
pub use repo_name::RepoName;
pub use reuse::{StoredPacks, send_stored_packs};
pub use send::{
    SendOptions, SendProgress, SendStats, Unstored, send_all, send_pack, send_pack_with,
};
