//! One module per command group.

pub mod api;
pub mod devnet;
pub mod events;
pub mod health;
pub mod node;
pub mod pack;
pub mod repo;
pub mod user;
