//! One module per command group.

pub mod client;
pub mod devnet;
pub mod node;
pub mod pack;
