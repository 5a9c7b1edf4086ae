//! Clients that hold connections without using them: connections that send nothing or half
//! a header are closed once idle, one address cannot hold more than its share, and a client
//! from another address is served all the while. Real sockets on loopback addresses.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use guts_node::NodeConfig;
use guts_tests::TestNode;

/// Connects to `to` from the loopback address `from` (127.0.0.2, ...).
fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let s = rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        sock.bind(format!("{from}:0").parse().expect("addr"))
            .expect("bind");
        sock.connect(to).await.expect("connect")
    });
    let s = s.into_std().expect("std stream");
    s.set_nonblocking(false).expect("blocking");
    s
}

/// True once the server closed `s` (EOF or reset), waiting at most `deadline`.
fn closed_within(s: &mut TcpStream, deadline: Duration) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let start = Instant::now();
    let mut buf = [0u8; 64];
    while start.elapsed() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

/// `GET /health/live` over `s`: the status line.
fn live(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn idle_and_greedy_connections_do_not_starve_other_clients() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = NodeConfig::new(dir.path(), "127.0.0.1:0".parse().expect("addr"));
    config.max_connections = 64;
    config.max_connections_per_address = 16;
    config.connection_idle_timeout = Duration::from_secs(2);
    let node = TestNode::start_with(dir, config);
    let addr = node.node().addr();

    // 16 connections from 127.0.0.3: nothing sent on half of them, half a header on the rest.
    let mut idle: Vec<TcpStream> = (0..16).map(|_| connect_from("127.0.0.3", addr)).collect();
    for s in idle.iter_mut().skip(8) {
        s.write_all(b"GET /health/live HTTP/1.1\r\nHo")
            .expect("send");
    }
    // A 17th from that address is closed at once, without an answer.
    let mut extra = connect_from("127.0.0.3", addr);
    assert!(
        closed_within(&mut extra, Duration::from_secs(5)),
        "an address past its share is closed"
    );
    // Another address is served meanwhile.
    assert!(live(&mut connect_from("127.0.0.2", addr)).starts_with("HTTP/1.1 200"));

    // The node closes the idle ones by itself ...
    for (i, s) in idle.iter_mut().enumerate() {
        assert!(
            closed_within(s, Duration::from_secs(30)),
            "idle connection {i} stayed open"
        );
    }
    // ... and the address is served again.
    assert!(live(&mut connect_from("127.0.0.3", addr)).starts_with("HTTP/1.1 200"));
}
