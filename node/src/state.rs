//! The state every handler sees.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use guts_store::Store;
use tokio::sync::Semaphore;

use crate::NodeConfig;
use crate::error::ApiError;
use crate::events::Hub;
use crate::metrics::Metrics;
use crate::replica::Replication;

/// Shared by all handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    pub inner: Arc<Inner>,
}

#[derive(Debug)]
pub struct Inner {
    /// Set once the store is open and recovered.
    pub store: OnceLock<Store>,
    /// Set when opening the store failed.
    pub store_error: OnceLock<String>,
    pub metrics: Metrics,
    pub started: Instant,
    pub config: NodeConfig,
    pub shutting_down: AtomicBool,
    /// Git requests served at once.
    pub git_slots: Arc<Semaphore>,
    /// Git requests served at once per client address.
    pub git_per_address: crate::limits::AddressLimiter,
    /// Identity, clock, update log and network.
    pub replication: Replication,
    /// Realtime events.
    pub hub: Hub,
    /// Failed authentications per address.
    pub throttle: crate::accounts::Throttle,
}

impl AppState {
    pub fn new(config: NodeConfig, replication: Replication) -> Self {
        let metrics = Metrics::new();
        let hub = Hub::new(
            replication.node_id().to_string(),
            config.hub.clone(),
            metrics.hub.clone(),
        );
        AppState {
            inner: Arc::new(Inner {
                store: OnceLock::new(),
                store_error: OnceLock::new(),
                metrics,
                hub,
                started: Instant::now(),
                git_slots: Arc::new(Semaphore::new(config.max_git_requests)),
                git_per_address: crate::limits::AddressLimiter::new(
                    config.max_git_requests_per_address,
                ),
                config,
                shutting_down: AtomicBool::new(false),
                throttle: crate::accounts::Throttle::default(),
                replication,
            }),
        }
    }

    /// The store, or 503 while it is opening.
    pub fn store(&self) -> Result<&Store, ApiError> {
        self.inner.store.get().ok_or_else(ApiError::unavailable)
    }

    pub fn replication(&self) -> &Replication {
        &self.inner.replication
    }

    pub fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    /// Publishes an event if the store is open (see [`Hub::publish`]).
    pub fn publish(&self, event: crate::events::Event) {
        if let Some(store) = self.inner.store.get() {
            self.inner.hub.publish(store, &event);
        }
    }

    /// Failed authentications per address.
    pub fn throttle(&self) -> &crate::accounts::Throttle {
        &self.inner.throttle
    }

    /// True for this node and the nodes it accepts replicated writes from.
    pub fn is_trusted(&self, node: &guts_net::NodeId) -> bool {
        *node == self.replication().node_id()
            || self
                .config()
                .p2p
                .as_ref()
                .is_some_and(|p| p.trusted.contains(node))
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn config(&self) -> &NodeConfig {
        &self.inner.config
    }

    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::Relaxed)
    }
}
