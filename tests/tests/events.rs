//! The WebSocket event hub, with a real WebSocket client (tokio-tungstenite) against real
//! nodes: pushes made with the git CLI and their replication to a peer, resuming with
//! `since`, channel filters, malformed messages, a slow subscriber, and closing connections
//! that stop answering pings. A thousand subscribers are in `ws_crowd.rs`.

use std::time::Duration;

use guts_node::NodeConfig;
use guts_node::events::HubConfig;
use guts_tests::cluster::Cluster;
use guts_tests::ws::{WsClient, refused_status, ws_url};
use guts_tests::{TestNode, commit_files, git, http, make_repo, tmp, wait_for};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

fn node_with(hub: HubConfig, event_log: u64) -> TestNode {
    let dir = tmp();
    let mut config = NodeConfig::new(dir.path(), "127.0.0.1:0".parse().expect("addr"));
    config.hub = hub;
    config.event_log = event_log;
    // The subscriber swarms all come from 127.0.0.1.
    config.max_connections_per_address = config.max_connections;
    TestNode::start_with(dir, config)
}

fn patch(node: &TestNode, repo: &str, description: &str) {
    let (status, body) = http(
        "PATCH",
        &format!("{}/api/v1/repos/{repo}", node.url),
        Some(json!({ "description": description })),
    );
    assert_eq!(status, 200, "{body}");
}

fn subscribe(c: &mut WsClient, channel: &str) {
    c.send_text(&json!({ "type": "subscribe", "channel": channel }).to_string());
    let ack = c.expect("subscribed", WAIT);
    assert_eq!(ack["channel"], channel);
}

#[test]
fn a_push_is_seen_on_the_pushing_node_and_as_replicated_on_its_peer() {
    let c = Cluster::start(2);
    let url = c.node(0).create_repo("alice", "app");
    wait_for("the repository on node 1", WAIT, || {
        http("GET", &format!("{}/api/v1/repos/alice/app", c.url(1)), None).0 == 200
    });
    let mut on_a = WsClient::connect(&ws_url(&c.url(0), "")).expect("connect A");
    let mut on_b = WsClient::connect(&ws_url(&c.url(1), "")).expect("connect B");
    subscribe(&mut on_a, "repo:alice/app");
    subscribe(&mut on_b, "repo:alice/app");

    let src = tmp();
    let w = src.path();
    make_repo(w, 3);
    git(w, &["-c", "protocol.version=2", "push", "-q", &url, "main"]);
    let tip = git(w, &["rev-parse", "main"]).trim().to_string();

    let push = on_a.event("push", WAIT);
    assert_eq!(push["repo"], "alice/app");
    assert_eq!(push["refs"][0]["ref"], "refs/heads/main");
    assert_eq!(push["refs"][0]["old"], "0".repeat(40));
    assert_eq!(push["refs"][0]["new"], tip);
    assert_eq!(push["commits"], 3);
    let a_id = c.ids()[0].to_string();
    assert_eq!(push["origin"], a_id);
    assert_eq!(push["node"], a_id);
    assert!(push["seq"].as_u64().is_some_and(|s| s > 0));

    let rep = on_b.event("ref.replicated", WAIT);
    assert_eq!(rep["repo"], "alice/app");
    assert_eq!(rep["refs"][0]["new"], tip);
    assert_eq!(rep["refs"][0]["origin"], a_id);
    assert_eq!(rep["refs"][0]["moved"], true);
    assert_eq!(rep["node"], c.ids()[1].to_string());

    // An incremental push over protocol v0: the old id is the previous tip.
    commit_files(w, "more", 10, 2);
    git(w, &["-c", "protocol.version=0", "push", "-q", &url, "main"]);
    let next = git(w, &["rev-parse", "main"]).trim().to_string();
    let push = on_a.event("push", WAIT);
    assert_eq!(push["refs"][0]["old"], tip);
    assert_eq!(push["refs"][0]["new"], next);
    assert_eq!(push["commits"], 2);
    assert_eq!(on_b.event("ref.replicated", WAIT)["refs"][0]["new"], next);

    // Node B's log also holds its peers coming: resume from the start on the node channel.
    let mut peers = WsClient::connect(&ws_url(&c.url(1), "since=0&channels=node")).expect("node");
    let up = peers.event("peer.connected", WAIT);
    assert_eq!(up["peer"], c.peer_id(0).to_string());
    assert_eq!(up["repo"], Value::Null);
}

#[test]
fn resuming_with_since_gets_exactly_the_missed_events_in_order() {
    let node = TestNode::start();
    let mut c = WsClient::connect(&ws_url(&node.url, "channels=repo:*")).expect("connect");
    c.expect("subscribed", WAIT);
    node.create_repo("bob", "lib");
    let created = c.event("repo.created", WAIT);
    patch(&node, "bob/lib", "one");
    let seen = c.event("repo.updated", WAIT);
    assert!(seen["seq"].as_u64() > created["seq"].as_u64());
    assert_eq!(seen["description"], "one");
    let last = seen["seq"].as_u64().expect("seq");
    drop(c);

    // Missed while away: five updates and a deletion.
    for i in 0..5 {
        patch(&node, "bob/lib", &format!("missed {i}"));
    }
    let (status, _) = http(
        "DELETE",
        &format!("{}/api/v1/repos/bob/lib", node.url),
        None,
    );
    assert_eq!(status, 204);

    let mut c = WsClient::connect(&ws_url(&node.url, &format!("since={last}"))).expect("resume");
    let mut got: Vec<Value> = Vec::new();
    while got.len() < 6 {
        let m = c.recv(WAIT).expect("a missed event");
        if m["type"] == "event" {
            got.push(m["event"].clone());
        }
    }
    let kinds: Vec<&str> = got.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        kinds,
        ["repo.updated"; 5]
            .iter()
            .copied()
            .chain(["repo.deleted"])
            .collect::<Vec<_>>()
    );
    let descriptions: Vec<&str> = got[..5]
        .iter()
        .filter_map(|e| e["description"].as_str())
        .collect();
    assert_eq!(
        descriptions,
        ["missed 0", "missed 1", "missed 2", "missed 3", "missed 4"]
    );
    let seqs: Vec<u64> = got.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(seqs[0] > last);
    // Then live, once each: nothing replayed comes again.
    node.create_repo("bob", "next");
    let live = c.event("repo.created", WAIT);
    let (_, health) = http("GET", &format!("{}/health", node.url), None);
    let events = &health["components"]["events"];
    assert_eq!(events["last_seq"], live["seq"], "{health}");
    assert_eq!(events["subscribers"], 1);
    assert_eq!(live["repo"], "bob/next");
    assert!(live["seq"].as_u64() > seqs.last().copied());
    c.send_text(r#"{"type":"ping"}"#);
    loop {
        let m = c.recv(WAIT).expect("pong");
        if m["type"] == "pong" {
            break;
        }
        assert_ne!(m["type"], "event", "a repeated or unexpected event: {m}");
    }
}

#[test]
fn resuming_from_before_what_the_log_holds_is_told_so() {
    let node = node_with(HubConfig::default(), 5);
    node.create_repo("carol", "x");
    for i in 0..10 {
        patch(&node, "carol/x", &format!("v{i}"));
    }
    let mut c = WsClient::connect(&ws_url(&node.url, "since=0")).expect("resume");
    // The subscriptions (every channel, with `since` and none named), then the news.
    for channel in ["repo:*", "node"] {
        assert_eq!(c.expect("subscribed", WAIT)["channel"], channel);
    }
    let first = c.recv(WAIT).expect("a message");
    assert_eq!(first["type"], "lagged", "{first}");
    assert_eq!(first["missed"], Value::Null);
    // Then what the log holds: the newest five.
    let mut descriptions = Vec::new();
    while descriptions.len() < 5 {
        let e = c.event("repo.updated", WAIT);
        descriptions.push(e["description"].as_str().unwrap_or_default().to_string());
    }
    assert_eq!(descriptions, ["v5", "v6", "v7", "v8", "v9"]);

    // A number from the future (another node's, or a replaced store): told, then live.
    let mut c = WsClient::connect(&ws_url(&node.url, "since=1000000")).expect("resume");
    let e = c.expect("error", WAIT);
    assert!(
        e["message"].as_str().is_some_and(|m| m.contains("ahead")),
        "{e}"
    );
    patch(&node, "carol/x", "after");
    assert_eq!(c.event("repo.updated", WAIT)["description"], "after");
}

#[test]
fn a_subscriber_of_one_repository_never_gets_another_ones_events() {
    let node = TestNode::start();
    let mut one = WsClient::connect(&ws_url(&node.url, "channels=repo:dora/a")).expect("one");
    let mut all = WsClient::connect(&ws_url(&node.url, "channels=repo:*")).expect("all");
    let mut peers = WsClient::connect(&ws_url(&node.url, "channels=node")).expect("node");
    for c in [&mut one, &mut all, &mut peers] {
        c.expect("subscribed", WAIT);
    }
    node.create_repo("dora", "a");
    node.create_repo("dora", "b");
    patch(&node, "dora/b", "b changed");
    patch(&node, "dora/a", "a changed");
    // `one` gets exactly a's two events, in order, and nothing of b in between.
    let e1 = one.recv(WAIT).expect("event");
    let e2 = one.recv(WAIT).expect("event");
    for (e, kind) in [(&e1, "repo.created"), (&e2, "repo.updated")] {
        assert_eq!(e["type"], "event");
        assert_eq!(e["event"]["repo"], "dora/a", "{e}");
        assert_eq!(e["event"]["type"], kind);
    }
    // `all` gets all four, in sequence order.
    let mut repos = Vec::new();
    let mut last = 0;
    for _ in 0..4 {
        let e = all.recv(WAIT).expect("event");
        let seq = e["event"]["seq"].as_u64().expect("seq");
        assert!(seq > last);
        last = seq;
        repos.push(e["event"]["repo"].as_str().unwrap_or_default().to_string());
    }
    assert_eq!(repos, ["dora/a", "dora/b", "dora/b", "dora/a"]);
    // `node` got none of them: its next message is the answer to a ping.
    peers.send_text(r#"{"type":"ping"}"#);
    assert_eq!(peers.recv(WAIT).expect("pong")["type"], "pong");
    // Unsubscribed, `one` gets nothing more of a.
    one.send_text(r#"{"type":"unsubscribe","channel":"repo:dora/a"}"#);
    assert_eq!(one.expect("unsubscribed", WAIT)["channel"], "repo:dora/a");
    patch(&node, "dora/a", "again");
    all.event("repo.updated", WAIT);
    one.send_text(r#"{"type":"ping"}"#);
    assert_eq!(one.recv(WAIT).expect("pong")["type"], "pong");
}

#[test]
fn malformed_messages_get_errors_and_the_connection_stays_open() {
    let node = TestNode::start();
    let mut c = WsClient::connect(&ws_url(&node.url, "")).expect("connect");
    for bad in [
        "{",
        "not json",
        r#"{"type":"dance"}"#,
        r#"{"type":"subscribe"}"#,
        r#"{"type":"subscribe","channel":"repo:../etc"}"#,
        r#"{"type":"subscribe","channel":"everything"}"#,
        r#"[1,2,3]"#,
    ] {
        c.send_text(bad);
        let e = c.recv(WAIT).expect("an answer");
        assert_eq!(e["type"], "error", "{bad}: {e}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    c.send_binary(&[0, 1, 2]);
    assert_eq!(c.recv(WAIT).expect("an answer")["type"], "error");
    // A message over the size limit is answered with a close frame: 1009, too big.
    let mut big = WsClient::connect(&ws_url(&node.url, "")).expect("connect");
    big.send_text(&format!(
        r#"{{"type":"ping","pad":"{}"}}"#,
        "x".repeat(10_000)
    ));
    assert_eq!(big.close_code(WAIT), Some(1009));
    // Still open and working.
    subscribe(&mut c, "repo:erin/z");
    node.create_repo("erin", "z");
    assert_eq!(c.event("repo.created", WAIT)["repo"], "erin/z");
    // Bad queries are refused before upgrading.
    let e = WsClient::connect(&ws_url(&node.url, "channels=repo:nope"))
        .err()
        .expect("refused");
    assert_eq!(refused_status(&e), Some(400));
    let e = WsClient::connect(&ws_url(&node.url, "since=minus"))
        .err()
        .expect("refused");
    assert_eq!(refused_status(&e), Some(400));
}

#[test]
fn a_slow_subscriber_is_told_it_lagged_while_others_keep_up() {
    let hub = HubConfig {
        buffer: 16,
        ..HubConfig::default()
    };
    let node = node_with(hub, 100_000);
    node.create_repo("fay", "big");
    let addr = node.node().addr();
    let mut slow = WsClient::connect_slow(addr, &ws_url(&node.url, "channels=repo:fay/big"));
    let mut fast = WsClient::connect(&ws_url(&node.url, "channels=repo:fay/big")).expect("fast");
    // 20 MB of events, 4 KiB each: more than the socket buffers between the node and the
    // slow subscriber hold, so its writes block and the ring (16) runs past it.
    const EVENTS: usize = 5000;
    // The fast one reads everything as it comes, on its own thread.
    let reader = std::thread::spawn(move || {
        fast.expect("subscribed", WAIT);
        let mut seqs = Vec::new();
        while seqs.len() < EVENTS {
            let e = fast.event("repo.updated", WAIT);
            seqs.push(e["seq"].as_u64().unwrap_or(0));
        }
        seqs
    });
    let filler = "x".repeat(4000);
    for i in 0..EVENTS {
        patch(&node, "fay/big", &format!("{i} {filler}"));
    }
    // The fast one got every event, in order, none missing.
    let seqs = reader.join().expect("the fast subscriber keeps up");
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "gaps for the fast subscriber"
    );
    // The slow one, reading at last, is told it lagged and goes on with newer events.
    let lagged = slow.expect("lagged", WAIT);
    assert!(lagged["missed"].as_u64().is_some_and(|n| n > 0), "{lagged}");
    assert!(lagged["last_seq"].as_u64().is_some());
    patch(&node, "fay/big", "the newest");
    loop {
        let e = slow.event("repo.updated", WAIT);
        if e["description"] == "the newest" {
            break;
        }
    }
    assert!(node.metric("guts_events_dropped_total") > 0.0);
}

#[test]
fn a_connection_that_stops_answering_pings_is_closed() {
    let hub = HubConfig {
        ping_every: Duration::from_millis(200),
        ..HubConfig::default()
    };
    let node = node_with(hub, 1000);
    // Never reads, so never answers a ping.
    let _silent = WsClient::connect(&ws_url(&node.url, "")).expect("silent");
    let mut alive = WsClient::connect(&ws_url(&node.url, "")).expect("alive");
    wait_for("two subscribers", WAIT, || {
        node.metric("guts_ws_subscribers") == 2.0
    });
    // Reading answers pings: this one stays while the silent one is closed.
    let deadline = std::time::Instant::now() + WAIT;
    while node.metric("guts_ws_subscribers") != 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the silent one was never closed"
        );
        assert!(alive.recv(Duration::from_millis(100)).is_none());
    }
    // And the live one still works.
    alive.send_text(r#"{"type":"ping"}"#);
    assert_eq!(alive.recv(WAIT).expect("pong")["type"], "pong");
    assert!(!alive.closed_within(Duration::from_millis(600)));
}

#[test]
fn a_push_of_thousands_of_refs_makes_one_bounded_event_that_says_how_many() {
    let node = TestNode::start();
    let url = node.create_repo("erin", "many");
    let mut c = WsClient::connect(&ws_url(&node.url, "channels=repo:erin/many")).expect("ws");
    c.expect("subscribed", WAIT);
    let t = tmp();
    make_repo(t.path(), 1);
    let head = git(t.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let refs: String = (0..1500)
        .map(|i| format!("create refs/heads/b{i:04} {head}\n"))
        .collect();
    guts_tests::update_refs(t.path(), &refs);
    git(t.path(), &["push", "-q", &url, "--all"]);
    let e = c.event("push", WAIT);
    assert_eq!(e["refs_total"], 1501, "{}", e["refs_total"]);
    let listed = e["refs"].as_array().expect("refs");
    assert_eq!(listed.len(), guts_node::events::MAX_EVENT_REFS);
    assert!(listed.iter().all(|r| r["new"] == head.as_str()));
    // A small push's event lists everything and has no total.
    commit_files(t.path(), "more", 1, 1);
    git(t.path(), &["push", "-q", &url, "main"]);
    let e = c.event("push", WAIT);
    assert_eq!(e["refs"].as_array().map(Vec::len), Some(1));
    assert!(e.get("refs_total").is_none(), "{e}");
}
