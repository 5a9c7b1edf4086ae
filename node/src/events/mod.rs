//! The realtime event hub (DESIGN section 6): every event gets the node's next sequence
//! number, is kept in the store's bounded event log (for clients resuming with `since`) and
//! is broadcast to the WebSocket subscribers.
//!
//! - `mod.rs`: [`Hub`]: publishing, in sequence order, into the log and a fixed-size
//!   broadcast ring.
//! - `event.rs`: [`Event`]: every event kind and its fields.
//! - `publisher.rs`: a thread that publishes for callers on the async runtime.
//! - `protocol.rs`: channels and the client and server messages.
//! - `ws.rs`: `GET /ws`: the connection cap, resuming, subscriptions, lag, heartbeats.

mod event;
mod protocol;
mod publisher;
mod ws;

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use guts_store::Store;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use serde_json::{Map, Value, json};
use tokio::sync::{Semaphore, broadcast, watch};

pub use event::{Event, MAX_EVENT_REFS, RefChange, Replicated, RepoMeta};
pub use publisher::Publisher;
pub use ws::upgrade;

/// One published event, ready to send.
#[derive(Debug)]
pub struct Published {
    /// Its sequence number.
    pub seq: u64,
    /// Its repository (`owner/name`), or none for node events.
    pub repo: Option<String>,
    /// The repository is private: only subscribers who may read it get the event.
    pub private: bool,
    /// The whole server message: `{"type":"event","event":{...}}`.
    pub frame: Utf8Bytes,
}

/// The frame that carries an event as the log holds it.
pub fn frame(event_json: &str) -> Utf8Bytes {
    Utf8Bytes::from(format!("{{\"type\":\"event\",\"event\":{event_json}}}"))
}

/// Counters the hub keeps for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct HubMetrics {
    /// WebSocket subscribers connected.
    pub subscribers: Gauge,
    /// Events published.
    pub published: Counter,
    /// Events a subscriber missed because it fell behind.
    pub dropped: Counter,
    /// Connections refused at the cap.
    pub refused: Counter,
}

/// WebSocket subscribers at once by default.
pub const DEFAULT_MAX_SUBSCRIBERS: usize = 2048;

/// Limits and timings of the hub.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// WebSocket subscribers at once; more are refused with 503.
    pub max_subscribers: usize,
    /// Events buffered for subscribers; one that falls further behind is told it lagged.
    pub buffer: usize,
    /// How often the server pings; a connection silent for two intervals is closed.
    pub ping_every: std::time::Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            max_subscribers: DEFAULT_MAX_SUBSCRIBERS,
            buffer: 1024,
            ping_every: std::time::Duration::from_secs(20),
        }
    }
}

/// The hub.
#[derive(Debug)]
pub struct Hub {
    node: String,
    tx: broadcast::Sender<Arc<Published>>,
    slots: Arc<Semaphore>,
    config: HubConfig,
    metrics: HubMetrics,
    /// Set when the node shuts down: connections close.
    closing: watch::Sender<bool>,
    /// Bumped when a token or user record changes: connections check their credentials
    /// again before anything else (a revocation closes them at once).
    credentials: Arc<watch::Sender<u64>>,
    /// Bumped when any account record changes: connections forget the access they cached.
    accounts: Arc<std::sync::atomic::AtomicU64>,
    /// The node's wall clock (each event's time).
    wall: guts_net::Wall,
}

impl Hub {
    /// A hub for the node `node` (its id, as events name it).
    pub fn new(node: String, config: HubConfig, metrics: HubMetrics, wall: guts_net::Wall) -> Hub {
        let (tx, _) = broadcast::channel(config.buffer.max(1));
        Hub {
            node,
            tx,
            slots: Arc::new(Semaphore::new(config.max_subscribers)),
            config,
            metrics,
            closing: watch::Sender::new(false),
            credentials: Arc::new(watch::Sender::new(0)),
            accounts: Arc::default(),
            wall,
        }
    }

    /// The hub as `/health` shows it.
    pub fn health(&self, store: Option<&Store>) -> Value {
        let mut v = json!({
            "status": "ok",
            "subscribers": self.metrics.subscribers.get(),
            "max_subscribers": self.config.max_subscribers,
        });
        if let Some(log) = store.map(Store::events) {
            v["last_seq"] = json!(log.last());
            v["log_events"] = json!(log.len());
            v["log_trimmed_through"] = json!(log.trimmed());
        }
        v
    }

    /// What tells connections that credentials changed: called with the key of every
    /// account record the store writes (holds no handle on the store or the hub).
    pub fn credentials_watcher(&self) -> guts_store::AccountWatcher {
        let tx = self.credentials.clone();
        let accounts = self.accounts.clone();
        Box::new(move |key: &str| {
            accounts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if key.starts_with(guts_net::accounts::key::TOKENS)
                || key.starts_with(guts_net::accounts::key::USERS)
            {
                tx.send_modify(|g| *g = g.wrapping_add(1));
            }
        })
    }

    /// Changes whenever an account record is written (what cached access depends on).
    pub fn accounts_generation(&self) -> u64 {
        self.accounts.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Closes every connection (the node is shutting down).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Publishes `what`: numbered, logged in `store`, broadcast. Called once the change it
    /// reports is durable. Best effort: a failure is logged, never passed on (the change
    /// has happened either way). Writes the store: call it off the async runtime.
    pub fn publish(&self, store: &Store, what: &Event) {
        let kind = what.kind();
        let repo = what.repo();
        let mut event = match what.fields() {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let at = self.wall.now_ms();
        // Visibility as it is now (a deletion says what it was).
        let private =
            repo.is_some_and(|full| what.private().unwrap_or_else(|| is_private(store, full)));
        let made = store.events().append(
            |seq| {
                event.insert("seq".into(), json!(seq));
                event.insert("type".into(), json!(kind));
                event.insert("repo".into(), json!(repo));
                event.insert("node".into(), json!(self.node));
                event.insert("at".into(), json!(at));
                if repo.is_some() {
                    event.insert("private".into(), json!(private));
                }
                serde_json::to_vec(&event).unwrap_or_default()
            },
            // Sent under the log's lock: subscribers see events in sequence order.
            |seq, bytes| {
                let json = String::from_utf8_lossy(bytes);
                let _ = self.tx.send(Arc::new(Published {
                    seq,
                    repo: repo.map(str::to_string),
                    private,
                    frame: frame(&json),
                }));
            },
        );
        match made {
            Ok(_) => {
                self.metrics.published.inc();
            }
            Err(e) => tracing::warn!(error = %e, kind, "event not published"),
        }
    }
}

/// True if `owner/name` is a private repository here.
fn is_private(store: &Store, full: &str) -> bool {
    let Ok(n) = guts_store::RepoName::parse(full) else {
        return false;
    };
    matches!(store.repo(n.owner(), n.name()), Ok(Some(r)) if r.record().private)
}

/// Publishes what a push accepted here changed (after it was flushed): the push, the
/// conflicts it settled, and the repository's new record when it set the default branch.
pub(crate) fn publish_push(
    state: &crate::state::AppState,
    full: &guts_store::RepoName,
    pushed: &crate::git::Pushed,
) {
    if pushed.changes.is_empty() {
        return;
    }
    let refs = pushed
        .changes
        .iter()
        .map(|(name, old, new)| RefChange {
            name: name.clone(),
            old: *old,
            new: *new,
        })
        .collect();
    state.publish(Event::Push {
        repo: full.to_string(),
        refs,
        commits: pushed.commits,
        pusher: pushed.pusher.clone(),
        origin: state.replication().node_id().to_string(),
    });
    for (name, tip) in &pushed.settled {
        state.publish(Event::Conflict {
            repo: full.to_string(),
            name: name.clone(),
            tip: *tip,
            resolved: true,
        });
    }
    if let Some(rec) = &pushed.new_head {
        state.publish(Event::RepoUpdated {
            repo: full.to_string(),
            meta: rec.into(),
        });
    }
    if let Some(store) = state.inner.store.get() {
        let moved = pushed.changes.iter().map(|(name, _, _)| name.clone());
        for e in crate::collab::events::heads_moved(store, &full.to_string(), moved) {
            state.publish(e);
        }
    }
}
