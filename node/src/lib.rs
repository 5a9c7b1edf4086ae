//! guts-node: one Guts node's HTTP surface (DESIGN.md section 5) and its wiring.
//!
//! Layout:
//! - [`config`]: what a node is started with.
//! - [`Node`] (`server.rs`): binds the listener, opens the store in the background (the
//!   startup probe answers 503 until it is open and recovered), serves with a connection
//!   limit and graceful shutdown.
//! - `state.rs`: the shared state handlers see; `error.rs`: JSON errors that never leak
//!   internals; `metrics.rs`: the Prometheus registry and the request middleware.
//! - `health.rs`: `/health` and the live, ready and startup probes.
//! - `limits.rs`: shares per client address (connections, Git requests); `hex.rs`: hex.
//! - `rest.rs`: `/api/repos` and `/api/v1/repos`; `paging.rs`: the one pagination scheme
//!   (`?page`, `?per_page`, `Link`) of every list.
//! - `seeding_api.rs`: `/api/v1/node/seeding`, which repositories this node stores.
//! - [`accounts`]: users, tokens, organizations, teams, permissions, SSH keys and
//!   protected branches: authentication, the access checks every route makes, and their
//!   REST API.
//! - [`events`]: the realtime event hub and `GET /ws`.
//! - [`collab`]: issues and pull requests: operations kept and folded into threads,
//!   merges, pull request refs, and their REST API.
//! - [`web`]: the web interface at `/` (server-rendered pages, a stylesheet, a script).
//! - `replica/`: replication: the node's key and clock, the signed update log of every ref
//!   change, and the network's [`guts_net::Host`] (logs, packs, applying what arrived).
//! - `git/`: Git Smart HTTP: routes and path forms (`mod.rs`), body streaming between async
//!   and blocking code (`body.rs`), ref advertisements (`advertise.rs`), upload-pack v2
//!   (`upload_v2.rs`) and v0 (`upload_v0.rs`) over shared negotiation and pack sending
//!   (`upload.rs`), and receive-pack (`receive.rs`).

pub mod accounts;
pub mod collab;
pub mod config;
mod error;
pub mod events;
mod git;
mod health;
mod hex;
mod limits;
mod metrics;
mod paging;
pub mod replica;
mod rest;
mod seeding_api;
mod server;
mod state;
pub mod web;

pub use config::NodeConfig;
pub use guts_git::pack::{DEFAULT_MAX_OBJECT, DEFAULT_MAX_PACK};
pub use guts_net as net;
pub use guts_net::{NetConfig, NetHandle};
pub use guts_store::DEFAULT_EVENT_LOG;
pub use server::{Node, NodeError};

/// The agent string sent to clients.
pub const AGENT: &str = concat!("guts/", env!("CARGO_PKG_VERSION"));
