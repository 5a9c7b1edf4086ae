//! Starting and stopping a node: the listener (with a connection limit), the router, the
//! store opened in the background, graceful shutdown.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use guts_store::{Store, StoreOptions};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

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
        let state = AppState::new(config.clone());

        let opening = state.clone();
        tokio::task::spawn_blocking(move || {
            match Store::open(&opening.config().data_dir, StoreOptions::default()) {
                Ok(store) => {
                    let _ = opening.inner.store.set(store);
                    tracing::info!("store open");
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
        };
        let task = tokio::spawn(async move {
            axum::serve(limited, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
        });
        tracing::info!(%addr, "listening");
        Ok(Node {
            addr,
            state,
            stop,
            task,
        })
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
        let served = self.task.await.map_err(io::Error::other)?;
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
    };
    let short = Router::new()
        .route("/health", get(health::health))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/health/startup", get(health::startup))
        .route("/metrics", get(metrics::metrics))
        .merge(api("/api"))
        .merge(api("/api/v1"))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(DefaultBodyLimit::max(1 << 20));
    Router::new()
        .merge(short)
        .merge(git::routes())
        .fallback(|| async { crate::error::ApiError::not_found("route") })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// A listener that holds a permit per open connection: at most `max_connections` at once;
/// more wait in the accept queue.
struct Limited {
    inner: TcpListener,
    slots: Arc<Semaphore>,
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
                    let _ = stream.set_nodelay(true);
                    return (
                        LimitedStream {
                            stream,
                            _permit: permit,
                        },
                        addr,
                    );
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection and its permit.
struct LimitedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
