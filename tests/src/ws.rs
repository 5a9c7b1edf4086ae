//! A WebSocket client for the event hub tests (tokio-tungstenite), synchronous to use: each
//! client runs on a small runtime of its own, or many share one ([`Swarm`]).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One subscriber.
pub struct WsClient {
    rt: tokio::runtime::Runtime,
    ws: Stream,
}

/// The `ws://` URL of a node's hub with a query (`""` for none).
pub fn ws_url(http_url: &str, query: &str) -> String {
    let (plain, _) = crate::split_credentials(http_url);
    let base = plain.replacen("http://", "ws://", 1);
    if query.is_empty() {
        format!("{base}/ws")
    } else {
        format!("{base}/ws?{query}")
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The HTTP status a refused handshake got, or the error.
pub fn refused_status(e: &tokio_tungstenite::tungstenite::Error) -> Option<u16> {
    match e {
        tokio_tungstenite::tungstenite::Error::Http(r) => Some(r.status().as_u16()),
        _ => None,
    }
}

impl WsClient {
    /// Connects (the handshake's HTTP error on refusal).
    pub fn connect(url: &str) -> Result<WsClient, tokio_tungstenite::tungstenite::Error> {
        let rt = runtime();
        let (ws, _) = rt.block_on(tokio_tungstenite::connect_async(url))?;
        Ok(WsClient { rt, ws })
    }

    /// Connects over a socket with a tiny receive buffer, so a client that does not read
    /// blocks the server's writes quickly (a slow subscriber).
    pub fn connect_slow(addr: SocketAddr, url: &str) -> WsClient {
        let rt = runtime();
        let ws = rt.block_on(async {
            let sock = TcpSocket::new_v4().expect("socket");
            sock.set_recv_buffer_size(4096).expect("rcvbuf");
            let tcp = sock.connect(addr).await.expect("connect");
            let (ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp))
                .await
                .expect("handshake");
            ws
        });
        WsClient { rt, ws }
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) {
        self.rt
            .block_on(self.ws.send(Message::Text(text.into())))
            .expect("send");
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, bytes: &[u8]) {
        self.rt
            .block_on(self.ws.send(Message::Binary(bytes.to_vec().into())))
            .expect("send");
    }

    /// The next JSON message within `timeout` (pings are answered on the way); none on
    /// timeout; panics if the connection closed.
    pub fn recv(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ws = &mut self.ws;
            let msg = self
                .rt
                .block_on(async { tokio::time::timeout(left, ws.next()).await })
                .ok()?;
            match msg {
                Some(Ok(Message::Text(t))) => {
                    return Some(serde_json::from_str(&t).expect("server sends JSON"));
                }
                Some(Ok(Message::Close(f))) => panic!("closed by the server: {f:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("connection failed: {e}"),
                None => panic!("connection ended"),
            }
        }
    }

    /// The next message of type `kind` within `timeout`, skipping others.
    pub fn expect(&mut self, kind: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left) {
                Some(m) if m["type"] == kind => return m,
                Some(_) => continue,
                None => panic!("no {kind} message within {timeout:?}"),
            }
        }
    }

    /// The next event (`{"type":"event"}` message) whose type is `kind`, skipping others.
    pub fn event(&mut self, kind: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left) {
                Some(m) if m["type"] == "event" && m["event"]["type"] == kind => {
                    return m["event"].clone();
                }
                Some(_) => continue,
                None => panic!("no {kind} event within {timeout:?}"),
            }
        }
    }

    /// The JSON messages received until the server closed the connection, or none if it
    /// did not within `timeout`.
    pub fn messages_until_closed(&mut self, timeout: Duration) -> Option<Vec<Value>> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ws = &mut self.ws;
            match self
                .rt
                .block_on(async { tokio::time::timeout(left, ws.next()).await })
            {
                Err(_) => return None,
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return Some(got),
                Ok(Some(Ok(Message::Text(t)))) => {
                    got.push(serde_json::from_str(&t).expect("server sends JSON"));
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The code of the close frame the server sends within `timeout` (reading until then);
    /// none if it closed without one or not at all.
    pub fn close_code(&mut self, timeout: Duration) -> Option<u16> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ws = &mut self.ws;
            match self
                .rt
                .block_on(async { tokio::time::timeout(left, ws.next()).await })
            {
                Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| f.code.into()),
                Err(_) | Ok(None | Some(Err(_))) => return None,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// True once the server has closed the connection (reading until then, up to
    /// `timeout`).
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        self.messages_until_closed(timeout).is_some()
    }
}

/// Many subscribers on one runtime.
pub struct Swarm {
    rt: tokio::runtime::Runtime,
    conns: Vec<Stream>,
}

impl Swarm {
    /// Opens `n` connections to `url`.
    pub fn connect(url: &str, n: usize) -> Swarm {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let conns = rt.block_on(async {
            let mut conns = Vec::with_capacity(n);
            for _ in 0..n {
                let (ws, _) = tokio_tungstenite::connect_async(url)
                    .await
                    .expect("connect");
                conns.push(ws);
            }
            conns
        });
        Swarm { rt, conns }
    }

    /// How many are open.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// True when none are.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Reads on every connection at once until each got an event of type `kind`; returns
    /// how many did within `timeout`.
    pub fn all_get(&mut self, kind: &str, timeout: Duration) -> usize {
        let conns = std::mem::take(&mut self.conns);
        let kind = kind.to_string();
        let (got, conns) = self.rt.block_on(async move {
            let tasks: Vec<_> = conns
                .into_iter()
                .map(|mut ws| {
                    let kind = kind.clone();
                    tokio::spawn(async move {
                        let found = tokio::time::timeout(timeout, async {
                            while let Some(Ok(m)) = ws.next().await {
                                if let Message::Text(t) = m
                                    && let Ok(v) = serde_json::from_str::<Value>(&t)
                                    && v["type"] == "event"
                                    && v["event"]["type"] == kind.as_str()
                                {
                                    return true;
                                }
                            }
                            false
                        })
                        .await
                        .unwrap_or(false);
                        (found, ws)
                    })
                })
                .collect();
            let mut got = 0;
            let mut conns = Vec::new();
            for t in tasks {
                if let Ok((found, ws)) = t.await {
                    got += usize::from(found);
                    conns.push(ws);
                }
            }
            (got, conns)
        });
        self.conns = conns;
        got
    }
}

/// Raises this process's open-file limit to its hard limit (a thousand sockets need more
/// than 1,024 fds) and checks that `need` descriptors fit, so a machine with a low hard
/// limit fails with that said rather than with a socket error in the middle of a test.
pub fn raise_fd_limit(need: u64) {
    let got = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    assert!(
        got >= need,
        "this test needs {need} open files; the hard limit here is {got} (raise `ulimit -Hn`)"
    );
}
