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

/// Opens a raw HTTP/1.1 POST from `from` with headers only; the body follows later.
fn start_post(from: &str, to: SocketAddr, path: &str, auth: &str, headers: &str) -> TcpStream {
    let mut s = connect_from(from, to);
    s.write_all(
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n{headers}Connection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .expect("send");
    s
}

/// The whole answer on `s` (until the server closes), within `timeout`.
fn answer(s: &mut TcpStream, timeout: Duration) -> String {
    s.set_read_timeout(Some(timeout)).expect("timeout");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn pkt(s: &str) -> String {
    format!("{:04x}{s}", s.len() + 4)
}

#[test]
fn trickled_pushes_lose_their_slot_and_one_address_cannot_take_every_git_slot() {
    use base64::Engine;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = NodeConfig::new(dir.path(), "127.0.0.1:0".parse().expect("addr"));
    config.max_git_requests = 8;
    config.max_git_requests_per_address = 2;
    config.idle_timeout = Duration::from_secs(5);
    let node = TestNode::start_with(dir, config);
    node.create_repo("alice", "app");
    let addr = node.node().addr();
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("admin:{}", node.token))
    );
    let push_headers =
        "Content-Type: application/x-git-receive-pack-request\r\nContent-Length: 1000000\r\n";
    let rp = "/alice/app.git/git-receive-pack";

    // Two pushes from 127.0.0.3 whose bodies trickle in a byte at a time.
    let mut trickles: Vec<TcpStream> = (0..2)
        .map(|_| start_post("127.0.0.3", addr, rp, &auth, push_headers))
        .collect();
    let writers: Vec<_> = trickles
        .iter()
        .map(|s| {
            let mut w = s.try_clone().expect("clone");
            std::thread::spawn(move || {
                // A pkt-line of 256 bytes, sent a byte at a time.
                if w.write_all(b"0104").is_err() {
                    return;
                }
                for _ in 0..300 {
                    if w.write_all(b"x").is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        })
        .collect();
    // Both hold their slots: a third from that address is turned away ...
    guts_tests::wait_for(
        "both trickled pushes in flight",
        Duration::from_secs(10),
        || node.metric("guts_git_requests_in_flight") == 2.0,
    );
    let ls_refs = format!("{}0000", pkt("command=ls-refs\n"));
    let upload = |from: &str| {
        let mut s = start_post(
            from,
            addr,
            "/alice/app.git/git-upload-pack",
            &auth,
            &format!(
                "Content-Type: application/x-git-upload-pack-request\r\nGit-Protocol: version=2\r\nContent-Length: {}\r\n",
                ls_refs.len()
            ),
        );
        s.write_all(ls_refs.as_bytes()).expect("body");
        answer(&mut s, Duration::from_secs(10))
    };
    let a = upload("127.0.0.3");
    assert!(
        a.starts_with("HTTP/1.1 503") && a.contains("from your address"),
        "{a}"
    );
    assert_eq!(
        node.metric("guts_git_requests_refused_total{result=\"address\"}"),
        1.0
    );
    // ... while another address is served.
    assert!(upload("127.0.0.2").starts_with("HTTP/1.1 200"));

    // The trickled bodies are cut off with a clear answer ...
    for s in &mut trickles {
        let a = answer(s, Duration::from_secs(30));
        assert!(a.contains("too slow"), "{a}");
    }
    for w in writers {
        w.join().expect("writer");
    }
    // ... and the address is served again.
    assert!(upload("127.0.0.3").starts_with("HTTP/1.1 200"));
}
