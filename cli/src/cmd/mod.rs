//! One module per command group.

pub mod api;
pub mod devnet;
pub mod events;
pub mod health;
pub mod issue;
pub mod node;
pub mod pack;
pub mod pr;
pub mod repo;
pub mod user;
