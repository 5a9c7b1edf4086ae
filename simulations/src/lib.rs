//! guts-sim: many Guts nodes in one process under a deterministic scheduler. Each node is
//! the real replication state machine (`guts_net::machine`) over a model of its store; the
//! scheduler delivers its actions' results, announcements and peer events with random
//! delays, and injects faults (lost announcements, failed requests, corrupt packs,
//! partitions, crashes). One seed fixes the whole run, so a failure replays exactly.
//!
//! Layout:
//! - [`rng`]: the seeded generator.
//! - [`world`]: every commit made, content-addressed, and ancestry over them.
//! - [`model`]: one node's store: update logs, refs under the merge rule, commits held;
//!   answers what a node's host answers.
//! - [`topology`]: who is linked to whom (mesh, random graph, line, ring, bridged clusters).
//! - [`sim`]: the scheduler, the nodes, gossip hop by hop and the faults ([`Config`],
//!   [`Report`]).
//! - [`plot`]: a small SVG chart of a sweep's measures (BENCHMARKS.md's plot).
//! - [`check`]: the verdict: same refs everywhere, equal to the merge rule over all
//!   accepted updates, every commit present.
//!
//! `cargo run --release -p guts-sim -- --help` runs many seeds from the command line.

pub mod check;
pub mod model;
pub mod plot;
pub mod rng;
pub mod sim;
pub mod topology;
pub mod world;

pub use check::{Divergence, check, run_checked};
pub use sim::{Config, Report, Sim};
pub use topology::Topology;
