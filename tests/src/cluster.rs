//! A network of in-process nodes on 127.0.0.1 that trust each other, for replication tests.
//! Keys are made before the nodes start so every node can trust every other from the start.

use std::time::Duration;

use guts_node::net::{Multiaddr, NodeId, NodeKey, PeerId};
use guts_node::{NetConfig, NodeConfig};

use crate::{TestNode, wait_for};

/// Who dials whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Every node connects to every other.
    Mesh,
    /// Node i connects only to nodes i-1 and i+1: what reaches the far end went through
    /// every node between.
    Line,
    /// Node 0 in the middle, every other node linked to it only.
    Star,
    /// A ring plus random chords: about `degree` links per node (fixed by `seed`).
    Random {
        /// Links per node, on average.
        degree: usize,
        /// Which random graph.
        seed: u64,
    },
}

/// The links of `shape` over `n` nodes, as (low, high) pairs.
fn edges(shape: Shape, n: usize) -> std::collections::BTreeSet<(usize, usize)> {
    let mut out = std::collections::BTreeSet::new();
    let mut link = |a: usize, b: usize| {
        if a != b {
            out.insert((a.min(b), a.max(b)));
        }
    };
    match shape {
        Shape::Mesh => (0..n).for_each(|a| (a + 1..n).for_each(|b| link(a, b))),
        Shape::Line => (1..n).for_each(|i| link(i - 1, i)),
        Shape::Star => (1..n).for_each(|i| link(0, i)),
        Shape::Random { degree, seed } => {
            (1..n).for_each(|i| link(i - 1, i));
            if n > 2 {
                link(n - 1, 0);
            }
            // splitmix64: the same graph for the same seed.
            let mut x = seed;
            let mut next = move || {
                x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^ (z >> 31)
            };
            for _ in 0..n * degree.saturating_sub(2) / 2 {
                let a = (next() % n as u64) as usize;
                let b = (next() % n as u64) as usize;
                link(a, b);
            }
        }
    }
    out
}

/// Nodes that replicate to each other.
pub struct Cluster {
    links: std::collections::BTreeSet<(usize, usize)>,
    /// What each node stores (missing or empty: all).
    seeds: Vec<Vec<String>>,
    /// Peer discovery through the DHT (off unless asked: the links are the shape's).
    discovery: bool,
    nodes: Vec<Option<TestNode>>,
    dirs: Vec<Option<tempfile::TempDir>>,
    ids: Vec<NodeId>,
    /// How often nodes run anti-entropy.
    pub anti_entropy: Duration,
}

impl Cluster {
    /// Starts `n` nodes, each trusting all, each dialling those started before it.
    pub fn start(n: usize) -> Cluster {
        Self::start_with(n, Duration::from_secs(2))
    }

    /// Same, with a given anti-entropy period.
    pub fn start_with(n: usize, anti_entropy: Duration) -> Cluster {
        Self::start_shaped(n, anti_entropy, Shape::Mesh)
    }

    /// `n` nodes in a line, each connected only to its neighbours.
    pub fn line(n: usize, anti_entropy: Duration) -> Cluster {
        Self::start_shaped(n, anti_entropy, Shape::Line)
    }

    /// `n` nodes linked as `shape` says.
    pub fn start_shaped(n: usize, anti_entropy: Duration, shape: Shape) -> Cluster {
        Self::start_with_discovery(n, anti_entropy, shape, false)
    }

    /// `n` nodes dialling as `shape` says, finding the others through the DHT when
    /// `discovery` is on.
    pub fn start_with_discovery(
        n: usize,
        anti_entropy: Duration,
        shape: Shape,
        discovery: bool,
    ) -> Cluster {
        Self::build(n, anti_entropy, shape, discovery, Vec::new())
    }

    /// A full mesh whose node `i` stores what `seeds[i]` says (`--seed`; missing or
    /// empty: all).
    pub fn start_seeding(n: usize, anti_entropy: Duration, seeds: Vec<Vec<String>>) -> Cluster {
        Self::build(n, anti_entropy, Shape::Mesh, false, seeds)
    }

    /// `n` nodes dialling as `shape` says, with discovery on or off, node `i` storing what
    /// `seeds[i]` says.
    pub fn build(
        n: usize,
        anti_entropy: Duration,
        shape: Shape,
        discovery: bool,
        seeds: Vec<Vec<String>>,
    ) -> Cluster {
        let mut dirs = Vec::new();
        let mut ids = Vec::new();
        for _ in 0..n {
            let dir = tempfile::tempdir().expect("tempdir");
            let key = NodeKey::load_or_create(&dir.path().join(guts_node::replica::KEY_FILE))
                .expect("node key");
            ids.push(key.id());
            dirs.push(Some(dir));
        }
        let mut c = Cluster {
            links: edges(shape, n),
            discovery,
            seeds,
            nodes: (0..n).map(|_| None).collect(),
            dirs,
            ids,
            anti_entropy,
        };
        for i in 0..n {
            c.restart(i);
        }
        c.wait_connected();
        c
    }

    /// Node `i` (panics if stopped).
    pub fn node(&self, i: usize) -> &TestNode {
        self.nodes[i].as_ref().expect("node running")
    }

    /// Node `i`'s base URL.
    pub fn url(&self, i: usize) -> String {
        self.node(i).url.clone()
    }

    /// Node ids, in order.
    pub fn ids(&self) -> &[NodeId] {
        &self.ids
    }

    /// Indices of running nodes.
    pub fn running(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].is_some())
            .collect()
    }

    /// The peer id of node `i`.
    pub fn peer_id(&self, i: usize) -> PeerId {
        guts_node::net::peer_id_of(&self.ids[i]).expect("peer id")
    }

    /// The addresses node `i` listens on for peers.
    pub fn p2p_addrs(&self, i: usize) -> Vec<Multiaddr> {
        self.node(i).net().listen_addrs()
    }

    /// Stops node `i` gracefully, keeping its data.
    pub fn stop(&mut self, i: usize) {
        if let Some(n) = self.nodes[i].take() {
            self.dirs[i] = Some(n.stop());
        }
    }

    /// True if nodes `i` and `j` connect to each other in this shape.
    fn linked(&self, i: usize, j: usize) -> bool {
        self.links.contains(&(i.min(j), i.max(j)))
    }

    /// Starts node `i` again (or for the first time) on its data dir, dialling the running
    /// nodes it links to.
    pub fn restart(&mut self, i: usize) {
        let dir = self.dirs[i].take().expect("node stopped");
        let bootstrap = self
            .running()
            .into_iter()
            .filter(|&j| self.linked(i, j))
            .flat_map(|j| self.p2p_addrs(j))
            .collect();
        let mut config = NodeConfig::new(dir.path(), "127.0.0.1:0".parse().expect("addr"));
        if let Some(seed) = self.seeds.get(i).filter(|s| !s.is_empty()) {
            config.seed = seed.clone();
        }
        config.p2p = Some(NetConfig {
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")],
            bootstrap,
            mdns: false,
            // Only the links of the shape: nodes must not find the others by themselves.
            discovery: self.discovery,
            trusted: self.ids.clone(),
            anti_entropy_every: self.anti_entropy,
            request_timeout: Duration::from_secs(20),
            ..NetConfig::default()
        });
        let node = TestNode::start_as(dir, config, &format!("admin{i}"));
        node.net();
        self.nodes[i] = Some(node);
    }

    /// Waits until every running node is connected to every running node it links to, and
    /// to no other.
    pub fn wait_connected(&self) {
        let running = self.running();
        wait_for("nodes to connect", Duration::from_secs(30), || {
            running.iter().all(|&i| {
                let peers = self.node(i).net().connected_peers();
                running.iter().filter(|&&j| j != i).all(|&j| {
                    let connected = peers.contains(&self.peer_id(j).to_string());
                    // With discovery, more links than the shape's may appear.
                    connected == self.linked(i, j) || (self.discovery && connected)
                })
            })
        });
    }

    /// Cuts the links between the two groups (both sides refuse each other).
    pub fn partition(&self, left: &[usize], right: &[usize]) {
        for &a in left {
            for &b in right {
                let (na, nb) = (self.node(a), self.node(b));
                na.block_on(na.net().block(self.peer_id(b)));
                nb.block_on(nb.net().block(self.peer_id(a)));
            }
        }
    }

    /// Restores the links between the two groups.
    pub fn heal(&self, left: &[usize], right: &[usize]) {
        for &a in left {
            for &b in right {
                let (na, nb) = (self.node(a), self.node(b));
                na.block_on(na.net().unblock(self.peer_id(b)));
                nb.block_on(nb.net().unblock(self.peer_id(a)));
            }
        }
    }
}
