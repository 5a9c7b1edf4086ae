//! The realtime event hub (DESIGN section 6): every event gets the node's next sequence
//! number, is kept in the store's bounded event log (for clients resuming with `since`) and
//! is broadcast to the WebSocket subscribers.
//!
//! - `mod.rs`: [`Hub`]: publishing, in sequence order, into the log and a fixed-size
//!   broadcast ring; the event kinds and their fields.
//! - `protocol.rs`: channels and the client and server messages.
//! - `ws.rs`: `GET /ws`: the connection cap, resuming, subscriptions, lag, heartbeats.

mod protocol;
mod ws;

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use guts_git::ObjectId;
use guts_store::Store;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use serde_json::{Map, Value, json};
use tokio::sync::{Semaphore, broadcast, watch};

pub use ws::upgrade;

/// One published event, ready to send.
#[derive(Debug)]
pub struct Event {
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
            max_subscribers: 2048,
            buffer: 1024,
            ping_every: std::time::Duration::from_secs(20),
        }
    }
}

/// The hub.
#[derive(Debug)]
pub struct Hub {
    node: String,
    tx: broadcast::Sender<Arc<Event>>,
    slots: Arc<Semaphore>,
    config: HubConfig,
    metrics: HubMetrics,
    /// Set when the node shuts down: connections close.
    closing: watch::Sender<bool>,
    /// Bumped when a token or user record changes: connections check their credentials
    /// again before anything else (a revocation closes them at once).
    credentials: Arc<watch::Sender<u64>>,
}

impl Hub {
    /// A hub for the node `node` (its id, as events name it).
    pub fn new(node: String, config: HubConfig, metrics: HubMetrics) -> Hub {
        let (tx, _) = broadcast::channel(config.buffer.max(1));
        Hub {
            node,
            tx,
            slots: Arc::new(Semaphore::new(config.max_subscribers)),
            config,
            metrics,
            closing: watch::Sender::new(false),
            credentials: Arc::new(watch::Sender::new(0)),
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
        Box::new(move |key: &str| {
            if key.starts_with("token/") || key.starts_with("user/") {
                tx.send_modify(|g| *g = g.wrapping_add(1));
            }
        })
    }

    /// Closes every connection (the node is shutting down).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Publishes an event of `kind` about `repo` (none: about the node) with `fields`:
    /// numbered, logged in `store`, broadcast. Best effort: a failure is logged, never
    /// passed on (the change the event reports has happened either way).
    pub fn publish(&self, store: &Store, kind: &str, repo: Option<&str>, fields: Value) {
        let mut event = match fields {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let at = crate::replica::now_ms();
        // Visibility as it is now (a deletion's caller passes what it was).
        let private = repo.is_some_and(|full| {
            event
                .get("private")
                .and_then(Value::as_bool)
                .unwrap_or_else(|| is_private(store, full))
        });
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
                let _ = self.tx.send(Arc::new(Event {
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

    /// A repository was created, changed or deleted (here or by replication): `meta` is
    /// what it is now, or for a deletion what it was (for who may see the event).
    pub fn repo(
        &self,
        store: &Store,
        kind: &str,
        full: &str,
        meta: Option<&guts_store::RepoRecord>,
    ) {
        let fields = match meta {
            Some(r) if kind == "repo.deleted" => json!({ "private": r.private }),
            Some(r) => json!({
                "description": r.description,
                "private": r.private,
                "default_branch": r.default_branch,
            }),
            None => json!({}),
        };
        self.publish(store, kind, Some(full), fields);
    }

    /// A peer connected or disconnected.
    pub fn peer(&self, store: &Store, connected: bool, peer: &str) {
        let kind = if connected {
            "peer.connected"
        } else {
            "peer.disconnected"
        };
        self.publish(store, kind, None, json!({ "peer": peer }));
    }
}

/// True if `owner/name` is a private repository here.
fn is_private(store: &Store, full: &str) -> bool {
    let Some((owner, name)) = full.split_once('/') else {
        return false;
    };
    matches!(store.repo(owner, name), Ok(Some(r)) if r.record().private)
}

/// A ref update as events show it.
pub fn ref_json(name: &str, old: &ObjectId, new: &ObjectId) -> Value {
    json!({ "ref": name, "old": old.to_hex(), "new": new.to_hex() })
}

/// A replicated update as `ref.replicated` shows it: `moved` tells whether it became the
/// ref's value (an older concurrent update is logged but does not move the ref).
pub fn replicated_json(u: &guts_net::SignedRef, moved: bool) -> Value {
    json!({
        "ref": u.name,
        "old": ObjectId::from_bytes(u.old).to_hex(),
        "new": ObjectId::from_bytes(u.new).to_hex(),
        "origin": u.origin().to_string(),
        "stamp": { "ms": u.stamp.hlc.wall_ms, "logical": u.stamp.hlc.logical },
        "pusher": u.pusher.as_ref().map(|p| p.user.as_str()),
        "moved": moved,
    })
}

/// A `conflict` event's fields: a tip kept under `refs/guts/conflicts/...`, or settled.
pub fn conflict_json(name: &str, tip: &ObjectId, resolved: bool) -> Value {
    json!({
        "ref": name,
        "tip": tip.to_hex(),
        "conflict_ref": guts_net::conflict_ref(name, tip),
        "resolved": resolved,
    })
}

/// Publishes what a local push changed: a `push` event, and a `conflict` event for each
/// conflict it settled.
pub(crate) fn publish_push(
    state: &crate::state::AppState,
    full: &str,
    pushed: &crate::git::Pushed,
) {
    if pushed.changes.is_empty() {
        return;
    }
    let refs: Vec<Value> = pushed
        .changes
        .iter()
        .map(|(name, old, new)| ref_json(name, old, new))
        .collect();
    let origin = state.replication().node_id().to_string();
    state.publish(
        "push",
        Some(full),
        json!({
            "refs": refs,
            "commits": pushed.commits,
            "pusher": pushed.pusher,
            "origin": origin,
        }),
    );
    for (name, tip) in &pushed.settled {
        state.publish("conflict", Some(full), conflict_json(name, tip, true));
    }
}
