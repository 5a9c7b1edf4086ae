//! Peer discovery through the DHT: nodes that were each given one bootstrap peer find the
//! others and connect to them, and replication uses the links they found.

use std::time::Duration;

use guts_tests::cluster::{Cluster, Shape};
use guts_tests::{git, make_repo, tmp, wait_for};

const DEADLINE: Duration = Duration::from_secs(60);

/// Four nodes, three of which know only node 0: every node ends up connected to every
/// other (the DHT's queries reach the peers it learns of), and the routing table shows in
/// `/metrics`.
#[test]
fn nodes_that_know_one_peer_find_the_others() {
    let c = Cluster::start_with_discovery(4, Duration::from_secs(3600), Shape::Star, true);
    wait_for("every node to find every other", DEADLINE, || {
        (0..4).all(|i| c.node(i).net().connected_peers().len() == 3)
    });
    wait_for("routing tables to fill", DEADLINE, || {
        (0..4).all(|i| c.node(i).metric("guts_p2p{what=\"routing_table\"}") >= 3.0)
    });
    assert_eq!(c.node(1).metric("guts_p2p{what=\"peers_connected\"}"), 3.0);
    // A push at one leaf reaches the others.
    let url = c.node(1).create_repo("alice", "found");
    let src = tmp();
    make_repo(src.path(), 2);
    git(src.path(), &["push", "-q", &url, "main"]);
    let tip = git(src.path(), &["rev-parse", "HEAD"]).trim().to_string();
    for i in [2, 3] {
        let there = format!("{}/alice/found.git", c.node(i).anon_url);
        wait_for("the push to reach every leaf", DEADLINE, || {
            guts_tests::remote_refs(&there, "2")
                .iter()
                .any(|l| l.starts_with(&tip))
        });
    }
}

/// Without discovery, a node keeps to the peers it was given.
#[test]
fn without_discovery_a_star_stays_a_star() {
    let c = Cluster::start_with_discovery(3, Duration::from_secs(3600), Shape::Star, false);
    // Connected as given; nothing else is looked for.
    assert_eq!(c.node(1).net().connected_peers().len(), 1);
    assert_eq!(c.node(1).metric("guts_p2p{what=\"routing_table\"}"), 0.0);
}
