//! Prometheus metrics (prometheus-client), names prefixed `guts_`, and the middleware that
//! counts and times every request by route and status.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: String,
}

/// Every metric the node exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub durations: Family<RouteLabels, Histogram>,
    pub pushes: Family<ResultLabels, Counter>,
    pub fetches: Family<ResultLabels, Counter>,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    pub objects: Gauge,
    pub packs: Gauge,
    pub pack_bytes: Gauge,
    pub repositories: Gauge,
    /// Git requests holding a slot now.
    pub git_in_flight: Gauge,
    /// Git requests turned away (503): the node's slots, or the address's share, were taken.
    pub git_refused: Family<ResultLabels, Counter>,
    /// Replicated ref updates applied here.
    pub updates_replicated: Counter,
    /// Seconds from the origin's acceptance of an update to its application here.
    pub replication_lag: Histogram,
    /// The last such lag, in milliseconds (`u64::MAX`: none yet), for the web's node box.
    last_lag_ms: Arc<AtomicU64>,
    /// Conflict tips kept.
    pub conflicts: Counter,
    /// Network counters, copied from the network at each scrape.
    pub net: Family<NetLabels, Gauge>,
    /// The event hub's.
    pub hub: crate::events::HubMetrics,
    /// Authentication's.
    pub auth: AuthMetrics,
}

/// Replication's counters, shared with the network's host.
#[derive(Debug, Clone)]
pub struct ReplicaMetrics {
    updates_replicated: Counter,
    replication_lag: Histogram,
    last_lag_ms: Arc<AtomicU64>,
    conflicts: Counter,
    grants_refused: Counter,
}

impl ReplicaMetrics {
    /// An update was applied `lag_ms` after its origin accepted it.
    pub fn replicated(&self, lag_ms: u64) {
        self.updates_replicated.inc();
        self.replication_lag.observe(lag_ms as f64 / 1000.0);
        self.last_lag_ms.store(lag_ms, Ordering::Relaxed);
    }

    /// A conflict tip was kept.
    pub fn conflict(&self) {
        self.conflicts.inc();
    }

    /// A replicated update was refused: its pusher's grant did not hold.
    pub fn grant_refused(&self) {
        self.grants_refused.inc();
    }
}

/// Authentication counters.
#[derive(Debug, Clone, Default)]
pub struct AuthMetrics {
    /// Requests with wrong, expired or revoked credentials.
    pub failures: Counter,
    /// Requests that waited because their address failed repeatedly.
    pub throttled: Counter,
    /// Replicated updates refused because their pusher's grant did not hold.
    pub grants_refused: Counter,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NetLabels {
    pub what: String,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("guts");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        let durations = Family::<RouteLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.0005, 2.0, 18))) as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request duration by route",
            durations.clone(),
        );
        let pushes = Family::<ResultLabels, Counter>::default();
        registry.register(
            "pushes",
            "Pushes (receive-pack requests) by result",
            pushes.clone(),
        );
        let fetches = Family::<ResultLabels, Counter>::default();
        registry.register(
            "fetches",
            "Clones and fetches that sent a pack, by result",
            fetches.clone(),
        );
        let bytes_in = Counter::default();
        registry.register(
            "git_received_bytes",
            "Pack bytes received by pushes",
            bytes_in.clone(),
        );
        let bytes_out = Counter::default();
        registry.register(
            "git_sent_bytes",
            "Bytes sent to Git clients",
            bytes_out.clone(),
        );
        let objects = Gauge::default();
        registry.register(
            "objects_stored",
            "Objects indexed over all repositories",
            objects.clone(),
        );
        let packs = Gauge::default();
        registry.register(
            "packs_stored",
            "Packs stored over all repositories",
            packs.clone(),
        );
        let pack_bytes = Gauge::default();
        registry.register(
            "pack_bytes_stored",
            "Bytes of stored packs",
            pack_bytes.clone(),
        );
        let repositories = Gauge::default();
        registry.register(
            "repositories",
            "Repositories on this node",
            repositories.clone(),
        );
        let git_in_flight = Gauge::default();
        registry.register(
            "git_requests_in_flight",
            "Git requests (clones, fetches, pushes) holding a slot",
            git_in_flight.clone(),
        );
        let git_refused = Family::<ResultLabels, Counter>::default();
        registry.register(
            "git_requests_refused",
            "Git requests turned away: result=node (every slot taken) or address (that address's share taken)",
            git_refused.clone(),
        );
        let updates_replicated = Counter::default();
        registry.register(
            "replicated_updates",
            "Ref updates received from peers and applied",
            updates_replicated.clone(),
        );
        let replication_lag = Histogram::new(exponential_buckets(0.001, 2.0, 20));
        registry.register(
            "replication_lag_seconds",
            "From the origin accepting a ref update to this node applying it",
            replication_lag.clone(),
        );
        let conflicts = Counter::default();
        registry.register(
            "ref_conflicts",
            "Divergent ref updates kept under refs/guts/conflicts",
            conflicts.clone(),
        );
        let net = Family::<NetLabels, Gauge>::default();
        registry.register(
            "p2p",
            "Peer-to-peer counters: peers connected, announcements sent, received and \
             rejected, updates rejected, packs fetched and their bytes, announced packs applied as stored, repository records applied, anti-entropy rounds, \
             sync failures, syncs dropped, requests refused, incoming handshakes failed",
            net.clone(),
        );
        let hub = crate::events::HubMetrics::default();
        registry.register(
            "ws_subscribers",
            "WebSocket subscribers connected",
            hub.subscribers.clone(),
        );
        registry.register(
            "events_published",
            "Events published (numbered, logged, broadcast)",
            hub.published.clone(),
        );
        registry.register(
            "events_dropped",
            "Events subscribers missed by falling behind (each told with a lagged message)",
            hub.dropped.clone(),
        );
        registry.register(
            "ws_refused",
            "WebSocket connections refused at the subscriber cap",
            hub.refused.clone(),
        );
        let auth = AuthMetrics::default();
        registry.register(
            "auth_failures",
            "Requests with wrong, expired or revoked credentials",
            auth.failures.clone(),
        );
        registry.register(
            "auth_throttled",
            "Requests slowed down after repeated failed authentications from their address",
            auth.throttled.clone(),
        );
        registry.register(
            "replicated_updates_refused",
            "Replicated ref updates refused: their pusher's grant did not give write access",
            auth.grants_refused.clone(),
        );
        Metrics {
            auth,
            hub,
            updates_replicated,
            replication_lag,
            last_lag_ms: Arc::new(AtomicU64::new(u64::MAX)),
            conflicts,
            net,
            registry,
            requests,
            durations,
            pushes,
            fetches,
            bytes_in,
            bytes_out,
            objects,
            packs,
            pack_bytes,
            repositories,
            git_in_flight,
            git_refused,
        }
    }

    pub fn push(&self, result: &str) {
        self.pushes
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
    }

    /// Replicated updates applied here, and the lag of the last one (ms).
    pub fn replication(&self) -> (u64, Option<u64>) {
        let last = self.last_lag_ms.load(Ordering::Relaxed);
        (
            self.updates_replicated.get(),
            (last != u64::MAX).then_some(last),
        )
    }

    /// Replication's counters, for the network's host.
    pub fn replica(&self) -> ReplicaMetrics {
        ReplicaMetrics {
            updates_replicated: self.updates_replicated.clone(),
            last_lag_ms: self.last_lag_ms.clone(),
            replication_lag: self.replication_lag.clone(),
            conflicts: self.conflicts.clone(),
            grants_refused: self.auth.grants_refused.clone(),
        }
    }

    pub fn fetch(&self, result: &str) {
        self.fetches
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn gauge(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let m = state.metrics();
    if let Some(store) = state.inner.store.get() {
        let t = store.totals();
        m.objects.set(gauge(t.objects));
        m.packs.set(gauge(t.packs));
        m.pack_bytes.set(gauge(t.pack_bytes));
        m.repositories.set(gauge(t.repos));
    }
    if let Some(net) = state.replication().net.get() {
        let peers = net.connected_peers().len() as u64;
        for (what, v) in std::iter::once(("peers", peers)).chain(net.stats().snapshot()) {
            m.net
                .get_or_create(&NetLabels { what: what.into() })
                .set(gauge(v));
        }
    }
    let mut out = String::new();
    encode(&mut out, &m.registry).map_err(|e| ApiError::internal(&e))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response())
}

/// A request method as a label value: the standard methods, and `other` for any other
/// string a client sends (labels come from a fixed set, or `/metrics` grows without bound).
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(k, _)| k == m)
        .map_or("other", |(_, name)| name)
}

/// Counts and times every request.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = method_label(req.method()).to_string();
    let start = Instant::now();
    let response = next.run(req).await;
    let m = state.metrics();
    m.requests
        .get_or_create(&RequestLabels {
            route: route.clone(),
            method,
            status: response.status().as_u16(),
        })
        .inc();
    m.durations
        .get_or_create(&RouteLabels { route })
        .observe(start.elapsed().as_secs_f64());
    response
}
