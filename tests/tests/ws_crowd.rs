//! A thousand idle WebSocket subscribers and the hub's cap. Alone in its own test binary:
//! the node runs in this process, so the swarm takes two descriptors per connection, and
//! tests running beside it in one process would be starved of file descriptors.

use std::time::Duration;

use guts_node::NodeConfig;
use guts_node::events::HubConfig;
use guts_tests::ws::{Swarm, WsClient, raise_fd_limit, refused_status, ws_url};
use guts_tests::{TestNode, tmp, wait_for};

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn a_thousand_idle_subscribers_and_the_cap() {
    // Both ends of every connection are in this process.
    raise_fd_limit(2 * 1001 + 256);
    let hub = HubConfig {
        max_subscribers: 1000,
        ..HubConfig::default()
    };
    let dir = tmp();
    let mut config = NodeConfig::new(dir.path(), "127.0.0.1:0".parse().expect("addr"));
    config.hub = hub;
    // The swarm all comes from 127.0.0.1.
    config.max_connections_per_address = config.max_connections;
    let node = TestNode::start_with(dir, config);
    let url = ws_url(&node.url, "channels=repo:gus/x");
    let mut swarm = Swarm::connect(&url, 1000);
    assert_eq!(swarm.len(), 1000);
    wait_for("1,000 subscribers counted", WAIT, || {
        node.metric("guts_ws_subscribers") == 1000.0
    });
    let e = WsClient::connect(&url).err().expect("over the cap");
    assert_eq!(refused_status(&e), Some(503));
    assert_eq!(node.metric("guts_ws_refused_total"), 1.0);
    node.create_repo("gus", "x");
    assert_eq!(swarm.all_get("repo.created", WAIT), 1000);
    drop(swarm);
    wait_for("subscribers gone", WAIT, || {
        node.metric("guts_ws_subscribers") == 0.0
    });
    // Room again.
    let mut c = WsClient::connect(&url).expect("room again");
    c.expect("subscribed", WAIT);
}
