//! Starting and stopping a node: the listener (with a connection limit), the router, the
//! store opened in the background, graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use guts_store::{Store, StoreOptions};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::limits::{AddressLimiter, AddressSlot};
use crate::replica::{HostParts, NodeHost, Replication};
use crate::state::AppState;
use crate::{NodeConfig, git, health, metrics, rest};

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Binding the HTTP listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: io::Error,
    },
    /// The server failed.
    #[error("server: {0}")]
    Serve(#[from] io::Error),
    /// The node's key could not be read or made.
    #[error("node identity: {0}")]
    Identity(#[from] guts_net::IdentityError),
    /// The seeding policy is invalid, or the one kept in the data dir cannot be read.
    #[error("seeding policy: {0}")]
    Seeding(guts_store::StoreError),
}

/// A running node.
#[derive(Debug)]
pub struct Node {
    addr: SocketAddr,
    state: AppState,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), io::Error>>,
}

impl Node {
    /// Binds the listener and starts serving; the store opens in the background.
    pub async fn start(config: NodeConfig) -> Result<Node, NodeError> {
        let listener = TcpListener::bind(config.http)
            .await
            .map_err(|source| NodeError::Bind {
                addr: config.http,
                source,
            })?;
        let addr = listener.local_addr()?;
        std::fs::create_dir_all(&config.data_dir)?;
        let replication = Replication::load(&config.data_dir, config.wall.clone())?;
        let seeding = crate::replica::Policy::parse(&config.seed)
            .and_then(|p| crate::replica::Seeding::load(&config.data_dir, p))
            .map_err(NodeError::Seeding)?;
        let state = AppState::new(config.clone(), replication, seeding);

        let opening = state.clone();
        let rt = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let opts = StoreOptions {
                event_log: opening.config().event_log,
                ..StoreOptions::default()
            };
            match Store::open(&opening.config().data_dir, opts) {
                Ok(store) => {
                    store.watch_accounts(opening.hub().credentials_watcher());
                    let _ = opening.inner.store.set(store);
                    tracing::debug!("store open");
                    if let Some(p2p) = opening.config().p2p.clone() {
                        rt.spawn(start_network(opening.clone(), p2p));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot open the store");
                    let _ = opening.inner.store_error.set(e.to_string());
                }
            }
        });

        let app = router(state.clone(), &config);
        let (stop, mut stopped) = watch::channel(false);
        let limited = Limited {
            inner: listener,
            slots: Arc::new(Semaphore::new(config.max_connections)),
            per_address: AddressLimiter::new(config.max_connections_per_address),
            idle: config.connection_idle_timeout,
        };
        let task = tokio::spawn(async move {
            axum::serve(
                limited,
                app.into_make_service_with_connect_info::<PeerAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
        });
        tracing::debug!(%addr, "listening");
        Ok(Node {
            addr,
            state,
            stop,
            task,
        })
    }

    /// This node's id (its public key, what `--trust` names).
    pub fn node_id(&self) -> guts_net::NodeId {
        self.state.replication().node_id()
    }

    /// The network, once it is up.
    pub fn net(&self) -> Option<guts_net::NetHandle> {
        self.state.replication().net.get().cloned()
    }

    /// Waits until the network is up (or a minute passed): only with p2p configured.
    pub async fn wait_network(&self) -> Option<guts_net::NetHandle> {
        for _ in 0..6000 {
            if let Some(n) = self.net() {
                return Some(n);
            }
            if self.state.inner.store_error.get().is_some()
                || self.state.replication().net_error.get().is_some()
                || self.state.config().p2p.is_none()
            {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        None
    }

    /// The address the node listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until the store is open (or failed to open).
    pub async fn wait_started(&self) -> Result<(), String> {
        loop {
            if self.state.inner.store.get().is_some() {
                return Ok(());
            }
            if let Some(e) = self.state.inner.store_error.get() {
                return Err(e.clone());
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Stops accepting, lets requests in progress finish, flushes the store.
    pub async fn shutdown(self) -> Result<(), NodeError> {
        self.state
            .inner
            .shutting_down
            .store(true, Ordering::Relaxed);
        let _ = self.stop.send(true);
        self.state.hub().close();
        let net = self.net();
        let served = self.task.await.map_err(io::Error::other)?;
        if let Some(net) = net {
            net.shutdown().await;
        }
        if let Some(store) = self.state.inner.store.get().cloned() {
            tokio::task::spawn_blocking(move || store.flush())
                .await
                .map_err(io::Error::other)?
                .map_err(io::Error::other)?;
        }
        served?;
        Ok(())
    }
}

/// Starts replication once the store is open.
async fn start_network(state: AppState, mut config: guts_net::NetConfig) {
    // One clock for the node and its network.
    config.wall = state.config().wall.clone();
    let Ok(store) = state.store().cloned() else {
        return;
    };
    let parts = HostParts {
        store,
        signer: state.replication().signer().clone(),
        trusted: state.trusted().clone(),
        metrics: state.metrics().replica(),
        max_object_bytes: state.config().max_object_bytes,
        spool_dir: state.config().data_dir.join("tmp"),
        hub: state.hub().clone(),
        seeding: state.seeding().clone(),
    };
    let host = match NodeHost::new(parts) {
        Ok(h) => std::sync::Arc::new(h),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the event publisher for p2p");
            let _ = state.replication().net_error.set(e.to_string());
            return;
        }
    };
    let key = state.replication().key().clone();
    match guts_net::spawn(config, key, host).await {
        Ok(net) => {
            tracing::debug!(peer = %net.peer_id(), node = %net.node_id(), "p2p up");
            let _ = state.replication().net.set(net);
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot start p2p");
            let _ = state.replication().net_error.set(e.to_string());
        }
    }
}

fn router(state: AppState, config: &NodeConfig) -> Router {
    let api = |prefix: &str| {
        Router::new()
            .route(
                &format!("{prefix}/repos"),
                get(rest::list).post(rest::create),
            )
            .route(
                &format!("{prefix}/repos/{{owner}}/{{name}}"),
                get(rest::get).patch(rest::update).delete(rest::delete),
            )
            .route(
                &format!("{prefix}/node/seeding"),
                get(crate::seeding_api::get).put(crate::seeding_api::put),
            )
    };
    let short = Router::new()
        .route("/health", get(health::health))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/health/startup", get(health::startup))
        .route("/metrics", get(metrics::metrics))
        .merge(api("/api"))
        .merge(api("/api/v1"))
        .merge(crate::accounts::routes("/api"))
        .merge(crate::accounts::routes("/api/v1"))
        .merge(crate::collab::api::routes("/api"))
        .merge(crate::collab::api::routes("/api/v1"))
        .merge(crate::collab::pulls::routes("/api"))
        .merge(crate::collab::pulls::routes("/api/v1"))
        .merge(crate::collab::labels::routes("/api"))
        .merge(crate::collab::labels::routes("/api/v1"))
        .merge(crate::web::routes())
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(DefaultBodyLimit::max(1 << 20));
    Router::new()
        .merge(short)
        .route("/ws", get(crate::events::upgrade))
        .merge(git::routes())
        .fallback(|uri: axum::http::Uri| async move {
            crate::error::ApiError::not_found("route", uri.path())
        })
        .layer(axum::middleware::from_fn(crate::error::json_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The address a connection comes from, for handlers (`ConnectInfo<PeerAddr>`).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl<'a> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, Limited>>
    for PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'a, Limited>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

/// A listener that holds a permit per open connection: at most `max_connections` at once
/// (more wait in the accept queue), and at most `max_per_address` from one IP address (more
/// are closed at once, so one address cannot take every slot). Every connection is closed
/// when it waits longer than `idle` for its client to send or to read.
pub struct Limited {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    per_address: AddressLimiter,
    idle: Duration,
}

impl axum::serve::Listener for Limited {
    type Io = LimitedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok(permit) = self.slots.clone().acquire_owned().await else {
                continue;
            };
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let Some(slot) = self.per_address.admit(addr.ip()) else {
                        tracing::debug!(%addr, "connection refused: too many from this address");
                        drop(stream);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    return (
                        LimitedStream {
                            stream,
                            _permit: permit,
                            _slot: slot,
                            idle: self.idle,
                            read_wait: Waiting::default(),
                            write_wait: Waiting::default(),
                        },
                        addr,
                    );
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// How long one direction of a connection has been waiting on the client.
#[derive(Default)]
struct Waiting {
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Waiting {
    /// After a poll: progress clears the wait; the first `Pending` starts the clock; a
    /// wait past `idle` is an error (the connection closes).
    fn check<T>(
        &mut self,
        cx: &mut Context<'_>,
        idle: Duration,
        poll: Poll<io::Result<T>>,
        what: &'static str,
    ) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.timer = None;
            return poll;
        }
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.timer = None;
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A connection, its permits, and its idle clocks.
pub struct LimitedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    _slot: AddressSlot,
    idle: Duration,
    read_wait: Waiting,
    write_wait: Waiting,
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_read(cx, buf);
        this.read_wait
            .check(cx, this.idle, poll, "the client sent nothing for too long")
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(_))) {
            // The server is answering: time spent on the request is not the client idling.
            this.read_wait.timer = None;
        }
        this.write_wait
            .check(cx, this.idle, poll, "the client read nothing for too long")
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_flush(cx);
        this.write_wait
            .check(cx, this.idle, poll, "the client read nothing for too long")
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
