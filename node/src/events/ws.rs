//! `GET /ws`: one task per connection. New connections over the cap get 503. With
//! `?since=SEQ` the client first gets every event after SEQ from the store's log (told with
//! `lagged` if the log no longer reaches back that far), then live events; the live
//! subscription is taken before the log is read and events already sent are skipped, so
//! nothing is missed or repeated. `?channels=a,b` subscribes at once (with `since` and no
//! channels: every channel). A subscriber that falls behind the broadcast ring is told it
//! lagged and goes on from the newest events; one that does not answer pings for two
//! intervals, or whose socket stays blocked that long, is closed.

use guts_store::RepoName;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{OwnedSemaphorePermit, watch};

use super::protocol::{self, Channel, ClientMsg, MAX_CHANNELS, wanted};
use super::{Hub, frame};
use crate::error::ApiError;
use crate::state::AppState;

/// Events read from the log per page while resuming.
const REPLAY_PAGE: usize = 512;
/// The largest client message.
const MAX_CLIENT_MESSAGE: usize = 4096;

/// The query of `GET /ws`.
#[derive(Debug, Deserialize)]
pub struct WsQuery {
    since: Option<u64>,
    channels: Option<String>,
    /// A token, for clients that cannot set headers (browsers).
    access_token: Option<String>,
}

/// `GET /ws`.
pub async fn upgrade(
    State(state): State<AppState>,
    ConnectInfoOpt(ip): ConnectInfoOpt,
    headers: axum::http::HeaderMap,
    query: Result<Query<WsQuery>, axum::extract::rejection::QueryRejection>,
    ws: WebSocketUpgrade,
) -> Response {
    // The caller: from the Authorization header, or an access_token query parameter.
    let mut headers = headers;
    if let Ok(Query(q)) = &query
        && let Some(t) = &q.access_token
        && !headers.contains_key(header::AUTHORIZATION)
        && let Ok(v) = header::HeaderValue::from_str(&format!("Bearer {t}"))
    {
        headers.insert(header::AUTHORIZATION, v);
    }
    let caller = match crate::accounts::caller_of(&state, &headers, ip).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    // Kept to check again at every ping: a revoked token stops its subscription.
    let secret = crate::accounts::credentials(&headers).ok().flatten();
    match accept(&state, query) {
        Ok((subs, since, permit)) => ws
            .max_message_size(MAX_CLIENT_MESSAGE)
            .max_frame_size(MAX_CLIENT_MESSAGE)
            .on_upgrade(move |socket| async move {
                Conn::new(state, socket, subs, permit, (caller, secret))
                    .run(since)
                    .await;
            }),
        Err(resp) => *resp,
    }
}

/// The peer's address when the server has it.
pub struct ConnectInfoOpt(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ConnectInfoOpt {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ConnectInfoOpt(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<crate::server::PeerAddr>>()
                .map(|c| c.0.0.ip()),
        ))
    }
}

type Accepted = (BTreeSet<Channel>, Option<u64>, OwnedSemaphorePermit);

fn accept(
    state: &AppState,
    query: Result<Query<WsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Accepted, Box<Response>> {
    let bad = |m: String| Box::new(ApiError::new(StatusCode::BAD_REQUEST, m).into_response());
    let Query(q) = query.map_err(|e| bad(format!("invalid query: {e}")))?;
    state
        .store()
        .map_err(|e| Box::new(IntoResponse::into_response(e)))?;
    let mut subs = BTreeSet::new();
    for part in q.channels.iter().flat_map(|c| c.split(',')) {
        subs.insert(Channel::parse(part.trim()).map_err(bad)?);
    }
    if subs.len() > MAX_CHANNELS {
        return Err(bad(format!("at most {MAX_CHANNELS} channels")));
    }
    if q.since.is_some() && subs.is_empty() {
        subs = BTreeSet::from([Channel::AllRepos, Channel::Node]);
    }
    let hub = state.hub();
    let Ok(permit) = hub.slots.clone().try_acquire_owned() else {
        hub.metrics.refused.inc();
        let mut resp = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "too many WebSocket subscribers (at most {}); try again later",
                hub.config.max_subscribers
            ),
        )
        .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        return Err(Box::new(resp));
    };
    Ok((subs, q.since, permit))
}

/// Why a connection ends.
enum End {
    /// The client left or the socket failed.
    Gone,
    /// Close with this code and reason.
    Close(u16, &'static str),
}

struct Conn {
    state: AppState,
    socket: WebSocket,
    subs: BTreeSet<Channel>,
    /// The last event this connection has passed (sent or filtered out).
    last_seq: u64,
    last_heard: Instant,
    /// Who subscribed: private repositories' events reach only those who may read them.
    caller: crate::accounts::Caller,
    /// Their token, checked again at every ping and whenever credentials change.
    secret: Option<String>,
    /// Changes when a token or user record is written.
    credentials: watch::Receiver<u64>,
    /// Whether the caller may read each private repository seen so far, as of the hub's
    /// accounts generation `access_of` (so an event costs no store read).
    access: HashMap<String, bool>,
    access_of: u64,
    _permit: OwnedSemaphorePermit,
}

/// Repositories whose access a connection remembers at most.
const MAX_CACHED_ACCESS: usize = 1024;

impl Conn {
    fn new(
        state: AppState,
        socket: WebSocket,
        subs: BTreeSet<Channel>,
        permit: OwnedSemaphorePermit,
        (caller, secret): (crate::accounts::Caller, Option<String>),
    ) -> Conn {
        state.hub().metrics.subscribers.inc();
        let credentials = state.hub().credentials.subscribe();
        Conn {
            state,
            socket,
            subs,
            last_seq: 0,
            last_heard: Instant::now(),
            caller,
            secret,
            credentials,
            access: HashMap::new(),
            access_of: 0,
            _permit: permit,
        }
    }

    fn hub(&self) -> &Hub {
        self.state.hub()
    }

    async fn run(mut self, since: Option<u64>) {
        let end = self.serve(since).await;
        if let End::Close(code, reason) = end {
            let close = CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            };
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                self.socket.send(Message::Close(Some(close))),
            )
            .await;
        }
        self.hub().metrics.subscribers.dec();
    }

    /// Sends a frame, giving up (a stalled client) after two ping intervals. Credentials
    /// that changed are checked first: nothing goes out after a revocation was applied.
    async fn send(&mut self, text: Utf8Bytes) -> Result<(), End> {
        if self.credentials.has_changed().unwrap_or(false) {
            self.recheck().await?;
        }
        let limit = self.hub().config.ping_every * 2;
        match tokio::time::timeout(limit, self.socket.send(Message::Text(text))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Gone),
            Err(_) => Err(End::Close(1008, "stalled: not reading")),
        }
    }

    async fn serve(&mut self, since: Option<u64>) -> End {
        // Live first, so nothing published while the log is read is missed.
        let mut live = self.hub().tx.subscribe();
        for c in self.subs.clone() {
            if let Err(end) = self.send(protocol::ack("subscribed", &c).into()).await {
                return end;
            }
        }
        if let Some(since) = since
            && let Err(end) = self.replay(since).await
        {
            return end;
        }
        let every = self.hub().config.ping_every;
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let mut closing = self.hub().closing.subscribe();
        if *closing.borrow_and_update() {
            return End::Close(1001, "node shutting down");
        }
        loop {
            let step = tokio::select! {
                event = live.recv() => self.on_event(event).await,
                msg = self.socket.recv() => self.on_message(msg).await,
                _ = ping.tick() => self.on_ping().await,
                Ok(()) = self.credentials.changed() => self.recheck().await,
                _ = closing.changed() => Err(End::Close(1001, "node shutting down")),
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// Sends the logged events after `since` that the subscriptions want.
    async fn replay(&mut self, since: u64) -> Result<(), End> {
        let Ok(store) = self.state.store().cloned() else {
            return Err(End::Close(1011, "store unavailable"));
        };
        let log = store.events().clone();
        if since < log.trimmed() {
            self.send(protocol::lagged(None, since).into()).await?;
        }
        let last = log.last();
        if since > last {
            // Another node's number, or this node's store was replaced: from now on.
            let msg = format!(
                "since={since} is ahead of this node's events (last {last}); going on from now"
            );
            self.send(protocol::error(&msg).into()).await?;
            self.last_seq = last;
            return Ok(());
        }
        self.last_seq = since;
        loop {
            let after = self.last_seq;
            let l = log.clone();
            let page = tokio::task::spawn_blocking(move || l.after(after, REPLAY_PAGE))
                .await
                .map_err(|_| End::Close(1011, "internal error"))?
                .map_err(|_| End::Close(1011, "event log unreadable"))?;
            let full = page.len() == REPLAY_PAGE;
            for (seq, bytes) in page {
                self.last_seq = seq;
                let (repo, private) = head_of(&bytes);
                // Logged events say what the repository was then; it may be private now.
                let private = private || self.private_now(repo.as_deref());
                if wanted(&self.subs, repo.as_deref()) && self.visible(repo.as_deref(), private) {
                    let json = String::from_utf8_lossy(&bytes);
                    self.send(frame(&json)).await?;
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    async fn on_event(
        &mut self,
        event: Result<Arc<super::Published>, RecvError>,
    ) -> Result<(), End> {
        match event {
            Ok(e) => {
                // Already sent while resuming.
                if e.seq <= self.last_seq {
                    return Ok(());
                }
                self.last_seq = e.seq;
                if wanted(&self.subs, e.repo.as_deref())
                    && self.visible(e.repo.as_deref(), e.private)
                {
                    self.send(e.frame.clone()).await?;
                }
                Ok(())
            }
            Err(RecvError::Lagged(n)) => {
                self.hub().metrics.dropped.inc_by(n);
                self.send(protocol::lagged(Some(n), self.last_seq).into())
                    .await
            }
            Err(RecvError::Closed) => Err(End::Close(1001, "node shutting down")),
        }
    }

    async fn on_message(&mut self, msg: Option<Result<Message, axum::Error>>) -> Result<(), End> {
        let msg = match msg {
            Some(Ok(msg)) => msg,
            Some(Err(e)) if too_big(&e) => {
                return Err(End::Close(
                    1009,
                    "message too big: at most 4096 bytes (a subscribe is a few dozen)",
                ));
            }
            _ => return Err(End::Gone),
        };
        self.last_heard = Instant::now();
        let text = match msg {
            Message::Text(t) => t,
            Message::Binary(_) => {
                return self
                    .send(
                        protocol::error("binary messages are not understood; send JSON text")
                            .into(),
                    )
                    .await;
            }
            Message::Close(_) => return Err(End::Gone),
            // Pings are answered by the library; pongs only prove the client is there.
            Message::Ping(_) | Message::Pong(_) => return Ok(()),
        };
        let reply = match protocol::parse(&text) {
            Ok(ClientMsg::Ping) => protocol::pong(),
            Ok(ClientMsg::Subscribe(c)) => {
                if !self.subs.contains(&c) && self.subs.len() >= MAX_CHANNELS {
                    protocol::error(&format!("at most {MAX_CHANNELS} channels"))
                } else {
                    let ack = protocol::ack("subscribed", &c);
                    self.subs.insert(c);
                    ack
                }
            }
            Ok(ClientMsg::Unsubscribe(c)) => {
                let ack = protocol::ack("unsubscribed", &c);
                self.subs.remove(&c);
                ack
            }
            Err(e) => protocol::error(&e),
        };
        self.send(reply.into()).await
    }

    /// True if this subscriber may see an event about `repo`. What it may read is read
    /// once per repository and kept until an account record changes.
    fn visible(&mut self, repo: Option<&str>, private: bool) -> bool {
        let (Some(full), true) = (repo, private) else {
            return true;
        };
        let generation = self.hub().accounts_generation();
        if generation != self.access_of || self.access.len() >= MAX_CACHED_ACCESS {
            self.access.clear();
            self.access_of = generation;
        }
        if let Some(may) = self.access.get(full) {
            return *may;
        }
        let may = self.may_read_private(full);
        self.access.insert(full.to_string(), may);
        may
    }

    fn may_read_private(&self, full: &str) -> bool {
        let (Ok(store), Ok(n)) = (self.state.store(), RepoName::parse(full)) else {
            return false;
        };
        // Fails closed: an account record that cannot be read shows nothing.
        match crate::accounts::repo_perm(store, &self.caller, n.owner(), n.name(), true) {
            Ok(access) => access.0.is_some(),
            Err(e) => {
                tracing::error!(error = %e, repo = full, "reading access for a subscriber");
                false
            }
        }
    }

    /// True if `repo` exists here and is private now.
    fn private_now(&self, repo: Option<&str>) -> bool {
        let (Ok(store), Some(Ok(n))) = (self.state.store(), repo.map(RepoName::parse)) else {
            return false;
        };
        matches!(store.repo(n.owner(), n.name()), Ok(Some(r)) if r.record().private)
    }

    /// Authenticates the token again (revoked, expired, or its user deleted: closed). The
    /// store is read on a blocking thread.
    async fn recheck(&mut self) -> Result<(), End> {
        self.credentials.borrow_and_update();
        if let (Some(secret), Ok(store)) = (&self.secret, self.state.store()) {
            let (store, secret) = (store.clone(), secret.clone());
            let now = self.state.now_secs();
            let checked = tokio::task::spawn_blocking(move || {
                crate::accounts::authenticate(&store, &secret, now)
            })
            .await
            .map_err(|_| End::Close(1011, "internal error"))?;
            match checked {
                Ok(p) => self.caller.who = Some(p),
                Err(crate::accounts::AuthError::Refused(_)) => {
                    return Err(End::Close(1008, "credentials no longer valid"));
                }
                // Fails closed: credentials that cannot be read keep nothing open.
                Err(crate::accounts::AuthError::Store(e)) => {
                    tracing::error!(error = %e, "rechecking a subscriber's credentials");
                    return Err(End::Close(1011, "internal error"));
                }
            }
        }
        Ok(())
    }

    async fn on_ping(&mut self) -> Result<(), End> {
        self.recheck().await?;
        let every = self.hub().config.ping_every;
        if self.last_heard.elapsed() > every * 2 {
            return Err(End::Close(1008, "no answer to pings"));
        }
        let limit = every * 2;
        match tokio::time::timeout(limit, self.socket.send(Message::Ping(Default::default()))).await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Gone),
            Err(_) => Err(End::Close(1008, "stalled: not reading")),
        }
    }
}

/// True when the client sent a frame or message over the size limit (closed with 1009).
fn too_big(e: &axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error;
    matches!(
        std::error::Error::source(e).and_then(|s| s.downcast_ref::<Error>()),
        Some(Error::Capacity(_))
    )
}

/// The repository a logged event is about (none: a node event), and whether it is private.
fn head_of(event: &[u8]) -> (Option<String>, bool) {
    #[derive(Deserialize)]
    struct Head {
        repo: Option<String>,
        #[serde(default)]
        private: bool,
    }
    serde_json::from_slice::<Head>(event).map_or((None, true), |h| (h.repo, h.private))
}
