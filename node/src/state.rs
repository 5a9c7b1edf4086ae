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
use crate::replica::{Replication, Seeding, Trusted};

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
    pub hub: Arc<Hub>,
    /// This node and the nodes whose replicated writes it accepts.
    pub trusted: Trusted,
    /// Which repositories this node stores.
    pub seeding: Seeding,
    /// Failed authentications per address.
    pub throttle: crate::accounts::Throttle,
    /// Repositories being pulled from the network (pull-through).
    pub pulls: crate::replica::pull_through::Pulls,
    /// Each repository's issues and pull requests, folded once per change.
    pub listings: crate::collab::cache::Listings,
    /// Test merges and fork heads of pull requests, made for upload-pack.
    pub pull_merges: crate::collab::pull_refs::MergeCache,
}

impl AppState {
    /// The pull request refs upload-pack advertises for `repo` (blocking: may merge).
    pub fn pull_refs(
        &self,
        repo: &guts_store::Repo,
    ) -> Result<crate::collab::pull_refs::PullRefs, guts_store::StoreError> {
        crate::collab::pull_refs::compute(&self.inner.listings, &self.inner.pull_merges, repo)
    }

    pub fn new(config: NodeConfig, replication: Replication, seeding: Seeding) -> Self {
        let metrics = Metrics::new();
        let trusted = Trusted::new(
            replication.node_id(),
            config.p2p.iter().flat_map(|p| p.trusted.iter().copied()),
        );
        let hub = Hub::new(
            replication.node_id().to_string(),
            config.hub.clone(),
            metrics.hub.clone(),
            config.wall.clone(),
        );
        let hub = Arc::new(hub);
        AppState {
            inner: Arc::new(Inner {
                store: OnceLock::new(),
                store_error: OnceLock::new(),
                metrics,
                hub,
                trusted,
                seeding,
                started: Instant::now(),
                git_slots: Arc::new(Semaphore::new(config.max_git_requests)),
                git_per_address: crate::limits::AddressLimiter::new(
                    config.max_git_requests_per_address,
                ),
                config,
                shutting_down: AtomicBool::new(false),
                throttle: crate::accounts::Throttle::default(),
                pulls: Default::default(),
                listings: Default::default(),
                pull_merges: Default::default(),
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

    pub fn hub(&self) -> &Arc<Hub> {
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
        self.inner.trusted.contains(node)
    }

    /// Which repositories this node stores.
    pub fn seeding(&self) -> &Seeding {
        &self.inner.seeding
    }

    /// Whose replicated writes this node accepts.
    pub fn trusted(&self) -> &Trusted {
        &self.inner.trusted
    }

    /// Now, in seconds since the epoch, by the node's wall clock.
    pub fn now_secs(&self) -> u64 {
        self.replication().now_ms() / 1000
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
