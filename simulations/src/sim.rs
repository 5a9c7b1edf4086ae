//! The scheduler: nodes (each a real [`Replicator`] over a [`Model`] store), the links
//! between them (a [`Topology`]), and one queue of timed events, all driven by one seed.
//! Announcements travel hop by hop as gossip does: the origin sends to every linked peer, a
//! node passes one on (to at most `fanout` linked peers, never back) only once its sync of
//! it has ended, and each node drops the copies it has seen. Faults: lost announcements,
//! failed requests, corrupt packs, partitions, crashes and restarts (with churn, a node may
//! come back with an empty store). After the active phase every link heals and every node
//! restarts; the run then goes on until all nodes hold the same logs, or a deadline passes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use guts_git::ObjectId;
use guts_net::machine::{Action, Input, Limits, PullKind, Replicator};
use guts_net::proto::Request;
use guts_net::{
    Announcement, Body, Clock, Hlc, NetStats, NodeId, NodeKey, PackRef, ReplicaError, SignedRef,
};
use sha2::{Digest, Sha256};

use crate::model::{Model, Pack};
use crate::rng::Rng;
use crate::topology::Topology;
use crate::world::World;

/// Wall clock at virtual time zero (a plausible epoch time in ms).
const EPOCH_MS: u64 = 1_790_000_000_000;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Config {
    /// Everything follows from it.
    pub seed: u64,
    /// Nodes, all trusting each other.
    pub nodes: usize,
    /// Repositories pushed to.
    pub repos: usize,
    /// Branches per repository.
    pub branches: usize,
    /// Pushes during the active phase.
    pub pushes: usize,
    /// Length of the active phase (virtual ms).
    pub active_ms: u64,
    /// Probability that an announcement is lost on a link.
    pub gossip_loss: f64,
    /// Probability that a request or a download fails.
    pub request_failure: f64,
    /// Probability that an announced pack fetched as stored lacks a commit, so applying it
    /// fails and the sync falls back to want/have.
    pub corrupt_packs: f64,
    /// Split the network in two now and then.
    pub partitions: bool,
    /// Crash and restart nodes now and then (their stores survive, their machines do not).
    pub crashes: bool,
    /// Anti-entropy period (virtual ms); 0: no periodic rounds (rounds still start when
    /// peers connect).
    pub anti_entropy_ms: u64,
    /// How long after the active phase convergence may take (virtual ms).
    pub settle_limit_ms: u64,
    /// The machines' limits.
    pub limits: Limits,
    /// Who is linked to whom.
    pub topology: Topology,
    /// Peers a node passes an announcement on to at most (gossip's mesh degree).
    pub fanout: usize,
    /// Probability that a node restarting after a crash comes back with an empty store (a
    /// node that left and a new one that joined), if every update it holds is held
    /// elsewhere too.
    pub churn: f64,
    /// The first this many repositories are seeded only by some nodes (`seeders`); the
    /// others store nothing of them (they still pass their announcements on).
    pub seeded_only: usize,
    /// The share of nodes that seed those repositories (node 0 always does).
    pub seeders: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 1,
            nodes: 5,
            repos: 3,
            branches: 3,
            pushes: 60,
            active_ms: 20_000,
            gossip_loss: 0.1,
            request_failure: 0.02,
            corrupt_packs: 0.02,
            partitions: true,
            crashes: true,
            anti_entropy_ms: 1_000,
            settle_limit_ms: 120_000,
            limits: Limits::default(),
            topology: Topology::Mesh,
            fanout: 6,
            churn: 0.0,
            seeded_only: 0,
            seeders: 1.0,
        }
    }
}

/// What happened in a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Pushes made.
    pub pushes: usize,
    /// Commits made.
    pub commits: u64,
    /// Events processed.
    pub events: u64,
    /// Virtual ms from the end of the active phase until every node held the same logs
    /// (none: not within the limit).
    pub settled_ms: Option<u64>,
    /// The counters of all nodes added up, by name.
    pub counters: BTreeMap<&'static str, u64>,
    /// Virtual ms from the last push until every node held the same logs.
    pub converged_after_push_ms: Option<u64>,
    /// Hops an announcement took to reach a node, at most and on average (first copies).
    pub hops_max: u32,
    /// See `hops_max`.
    pub hops_mean: f64,
    /// Messages each node sent (gossip copies, answers, packs): on average and at most.
    pub msgs_per_node: (f64, u64),
    /// Bytes each node sent (packs counted at 1,000 bytes per commit): on average and at
    /// most.
    pub bytes_per_node: (f64, u64),
    /// Announcement copies dropped as already seen, all nodes together.
    pub duplicates: u64,
    /// Restarts that came back with an empty store (churn).
    pub churned: u64,
    /// A hash of every event in order: equal runs have equal traces.
    pub trace: [u8; 32],
}

type Peer = usize;

#[derive(Debug)]
enum Ev {
    Input(Peer, u32, Input<Peer, Pack>),
    Gossip {
        to: Peer,
        inc: u32,
        from: Peer,
        bytes: Vec<u8>,
        hops: u32,
        /// Told by id (gossip's IHAVE to peers outside the mesh): sent on only if asked.
        lazy: bool,
    },
    Tick(Peer),
    Push,
    Partition,
    Heal,
    Crash,
    Restart(Peer),
    EndActive,
    Check,
    /// After the last push: notes when all nodes first hold the same logs.
    Measure,
}

struct Node {
    key: NodeKey,
    model: Model,
    machine: Replicator<Peer, Pack>,
    clock: Clock,
    skew_ms: u64,
    up: bool,
    /// Bumped at each crash: results addressed to an earlier run are dropped.
    inc: u32,
    stats: Arc<NetStats>,
    /// Announcements seen since the last start (gossip's duplicate cache).
    seen: HashSet<[u8; 32]>,
    /// Messages and bytes sent.
    sent: (u64, u64),
    /// Provider checks made (which repository is next).
    checked: usize,
}

/// An announcement a node holds until its sync ends, then passes on.
struct Held {
    node: Peer,
    from: Peer,
    bytes: Vec<u8>,
    hops: u32,
}

/// A simulation in progress.
pub struct Sim {
    config: Config,
    rng: Rng,
    world: World,
    nodes: Vec<Node>,
    trusted: BTreeSet<NodeId>,
    /// Linked peers of each node, sorted.
    adj: Vec<Vec<Peer>>,
    cut: BTreeSet<(Peer, Peer)>,
    queue: BTreeMap<(u64, u64), Ev>,
    seq: u64,
    now: u64,
    events: u64,
    trace: Sha256,
    /// Packs as stored at their origin, by announced checksum.
    packs: HashMap<[u8; 20], Pack>,
    /// Every update ever accepted.
    pub(crate) accepted: Vec<SignedRef>,
    active: bool,
    settled: Option<u64>,
    /// When all logs first agreed after the last push (virtual ms).
    converged_at: Option<u64>,
    /// When the last push was made.
    last_push: u64,
    held: HashMap<u64, Held>,
    next_ticket: u64,
    /// Which side of the partition each node is on, while the network is split.
    side: Option<Vec<bool>>,
    /// Peers a node reaches outside its links (a provider check dialled them), by the
    /// check's ticket.
    dialled: HashMap<u64, (Peer, Vec<Peer>)>,
    /// Announcements whose sync failed, held until the pull that retries it ends.
    retrying: HashMap<u64, Held>,
    /// First-copy hops: most, sum, count.
    hops: (u32, u64, u64),
    duplicates: u64,
    churned: u64,
    /// Things that must never happen, seen during the run.
    pub(crate) violations: Vec<String>,
}

impl Sim {
    /// Sets up `config.nodes` connected nodes.
    pub fn new(config: Config) -> Sim {
        let mut rng = Rng::new(config.seed);
        let keys: Vec<NodeKey> = (0..config.nodes)
            .map(|_| {
                let mut secret = [0u8; 32];
                for chunk in secret.chunks_mut(8) {
                    chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
                }
                NodeKey::from_secret(secret)
            })
            .collect();
        let trusted: BTreeSet<NodeId> = keys.iter().map(NodeKey::id).collect();
        let nodes = keys
            .into_iter()
            .enumerate()
            .map(|(i, key)| {
                let stats = Arc::new(NetStats::default());
                let seeder = i == 0 || config.seeded_only == 0 || rng.chance(config.seeders);
                let unseeded = if seeder {
                    BTreeSet::new()
                } else {
                    (0..config.seeded_only).map(repo_name).collect()
                };
                Node {
                    clock: Clock::new(key.id(), Hlc::default()),
                    machine: Replicator::new(trusted.clone(), config.limits.clone(), stats.clone()),
                    key,
                    model: Model {
                        unseeded,
                        ..Model::default()
                    },
                    skew_ms: rng.below(1_000),
                    up: true,
                    inc: 0,
                    stats,
                    seen: HashSet::new(),
                    sent: (0, 0),
                    checked: 0,
                }
            })
            .collect();
        let adj = config.topology.build(config.nodes, &mut rng);
        Sim {
            rng,
            world: World::default(),
            nodes,
            trusted,
            adj,
            cut: BTreeSet::new(),
            queue: BTreeMap::new(),
            seq: 0,
            now: 0,
            events: 0,
            trace: Sha256::new(),
            packs: HashMap::new(),
            accepted: Vec::new(),
            active: true,
            settled: None,
            converged_at: None,
            last_push: 0,
            held: HashMap::new(),
            next_ticket: 0,
            side: None,
            dialled: HashMap::new(),
            retrying: HashMap::new(),
            hops: (0, 0, 0),
            duplicates: 0,
            churned: 0,
            violations: Vec::new(),
            config,
        }
    }

    /// Runs to the end and returns what happened (see [`crate::check`] for the verdict).
    pub fn run(mut self) -> (Report, Sim) {
        let n = self.config.nodes;
        for a in 0..n {
            for b in self.adj[a].clone() {
                self.deliver(a, Input::Connected(b));
            }
            if self.config.anti_entropy_ms > 0 {
                let first = self.rng.below(self.config.anti_entropy_ms);
                self.at(first, Ev::Tick(a));
            }
        }
        let mut last = 0;
        for _ in 0..self.config.pushes {
            let t = self.rng.below(self.config.active_ms);
            last = last.max(t);
            self.at(t, Ev::Push);
        }
        self.at(last + 1, Ev::Measure);
        if self.config.partitions {
            let t = self.rng.below(self.config.active_ms / 2);
            self.at(t, Ev::Partition);
        }
        if self.config.crashes {
            for _ in 0..n.max(2) / 2 {
                let t = self.rng.below(self.config.active_ms);
                self.at(t, Ev::Crash);
            }
        }
        self.at(self.config.active_ms, Ev::EndActive);
        let deadline = self.config.active_ms + self.config.settle_limit_ms;
        while let Some(((t, _), ev)) = self.queue.pop_first() {
            if t > deadline || self.settled.is_some() {
                break;
            }
            self.now = t;
            self.events += 1;
            self.trace.update(t.to_be_bytes());
            self.step(ev);
        }
        let mut counters = BTreeMap::new();
        for node in &self.nodes {
            for (what, v) in node.stats.snapshot() {
                *counters.entry(what).or_insert(0) += v;
            }
        }
        let sent: Vec<(u64, u64)> = self.nodes.iter().map(|n| n.sent).collect();
        let mean = |f: fn(&(u64, u64)) -> u64| {
            sent.iter().map(f).sum::<u64>() as f64 / sent.len().max(1) as f64
        };
        let report = Report {
            pushes: self.accepted.len(),
            commits: self.world.commits(),
            events: self.events,
            settled_ms: self.settled,
            counters,
            trace: self.trace.clone().finalize().into(),
            converged_after_push_ms: self.converged_at.map(|t| t.saturating_sub(self.last_push)),
            hops_max: self.hops.0,
            hops_mean: self.hops.1 as f64 / self.hops.2.max(1) as f64,
            msgs_per_node: (mean(|s| s.0), sent.iter().map(|s| s.0).max().unwrap_or(0)),
            bytes_per_node: (mean(|s| s.1), sent.iter().map(|s| s.1).max().unwrap_or(0)),
            duplicates: self.duplicates,
            churned: self.churned,
        };
        (report, self)
    }

    /// The world's commits.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Each node's store.
    pub fn models(&self) -> impl Iterator<Item = &Model> {
        self.nodes.iter().map(|n| &n.model)
    }

    fn at(&mut self, delay: u64, ev: Ev) {
        self.seq += 1;
        self.queue
            .insert((self.now.saturating_add(delay), self.seq), ev);
    }

    fn linked(&self, a: Peer, b: Peer) -> bool {
        a != b
            && self.nodes[a].up
            && self.nodes[b].up
            && self.adj[a].binary_search(&b).is_ok()
            && !self.cut.contains(&(a.min(b), a.max(b)))
    }

    /// `a` can ask `b`: they are linked, or a provider check of `a`'s dialled `b` and no
    /// partition lies between them.
    fn reaches(&self, a: Peer, b: Peer) -> bool {
        self.linked(a, b)
            || (a != b
                && self.nodes[a].up
                && self.nodes[b].up
                && self.side.as_ref().is_none_or(|s| s[a] == s[b])
                && self
                    .dialled
                    .values()
                    .any(|(n, peers)| *n == a && peers.contains(&b)))
    }

    /// What a node does each anti-entropy tick besides its rounds when repositories are
    /// seeded selectively (as `event_loop/pulling.rs` does): the next repository it holds
    /// is checked against the other nodes that hold it (the DHT's providers) that it is
    /// not linked to.
    fn check_providers(&mut self, node: Peer) {
        // Every repository it holds or seeds (a node that seeds one knows of it from its
        // record, log or not), in turn.
        let model = &self.nodes[node].model;
        let held: Vec<String> = (0..self.config.repos)
            .map(repo_name)
            .filter(|r| model.seeds(r) || model.repos.contains_key(r))
            .collect();
        if held.is_empty() {
            return;
        }
        let n = &mut self.nodes[node];
        n.checked = n.checked.wrapping_add(1);
        let repo = held[n.checked % held.len()].clone();
        self.pull_from_providers(node, repo, None);
    }

    /// Checks `repo` at `node` against `first`, then up to 3 of the other nodes that hold
    /// it and that `node` is not linked to (the DHT's providers): compares digests, or
    /// takes it whole if `node` has no log of it.
    fn pull_from_providers(
        &mut self,
        node: Peer,
        repo: String,
        first: Option<Peer>,
    ) -> Option<u64> {
        let kind = match self.nodes[node]
            .model
            .digests()
            .into_iter()
            .find(|d| d.repo == repo)
        {
            Some(d) => PullKind::Check { digest: d.digest },
            None => PullKind::Take,
        };
        let mut providers: Vec<Peer> = (0..self.config.nodes)
            .filter(|&p| {
                p != node
                    && !self.linked(node, p)
                    && self.nodes[p]
                        .model
                        .repos
                        .get(&repo)
                        .is_some_and(|r| !r.log.is_empty())
            })
            .collect();
        // The DHT names a few of them (K closest, then the first answers).
        while providers.len() > 3 {
            let i = self.rng.below(providers.len() as u64) as usize;
            providers.swap_remove(i);
        }
        if let Some(f) = first.filter(|f| *f != node) {
            providers.retain(|p| *p != f);
            providers.insert(0, f);
        }
        if providers.is_empty() {
            return None;
        }
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        self.dialled.insert(ticket, (node, providers.clone()));
        self.deliver(
            node,
            Input::Pull {
                ticket,
                repo,
                sources: providers,
                kind,
            },
        );
        Some(ticket)
    }

    fn wall(&self, node: Peer) -> u64 {
        EPOCH_MS + self.now + self.nodes[node].skew_ms
    }

    fn step(&mut self, ev: Ev) {
        match ev {
            Ev::Input(node, inc, input) => {
                self.trace.update([1, node as u8]);
                if self.nodes[node].inc == inc {
                    self.deliver(node, input);
                }
            }
            Ev::Gossip {
                to,
                inc,
                from,
                bytes,
                hops,
                lazy,
            } => {
                self.trace.update([2, to as u8]);
                let id = Announcement::id_of(&bytes);
                if self.nodes[to].inc == inc && self.nodes[to].up {
                    if lazy {
                        if self.nodes[to].seen.contains(&id) {
                            return;
                        }
                        // Asked for it (IWANT): now the message itself travels.
                        self.nodes[from].sent.0 += 1;
                        self.nodes[from].sent.1 += bytes.len() as u64;
                    }
                    self.gossip(to, from, bytes, hops);
                }
            }
            Ev::Tick(node) => {
                self.deliver(node, Input::Tick);
                if self.config.seeded_only > 0 && self.nodes[node].up {
                    // As many as a node checks per tick (`event_loop/pulling.rs`).
                    for _ in 0..4 {
                        self.check_providers(node);
                    }
                }
                let next = self.config.anti_entropy_ms + self.rng.below(100);
                self.at(next, Ev::Tick(node));
            }
            Ev::Push => self.push(),
            Ev::Partition => {
                let before = self.links();
                let n = self.config.nodes;
                // Bridged clusters split at their bridges; other shapes at random.
                let side: Vec<bool> = match self.config.topology {
                    Topology::Bridge { clusters } => {
                        let size = n.div_ceil(clusters.clamp(1, n.max(1)));
                        (0..n).map(|a| (a / size) % 2 == 1).collect()
                    }
                    _ => (0..n).map(|_| self.rng.chance(0.5)).collect(),
                };
                for a in 0..n {
                    for &b in &self.adj[a] {
                        if a < b && side[a] != side[b] {
                            self.cut.insert((a, b));
                        }
                    }
                }
                self.side = Some(side);
                self.relink(before);
                let heal = self.rng.between(500, 5_000);
                self.at(heal, Ev::Heal);
            }
            Ev::Heal => {
                let before = self.links();
                self.cut.clear();
                self.side = None;
                self.relink(before);
                if self.active {
                    let next = self.rng.between(1_000, self.config.active_ms / 2 + 1_000);
                    self.at(next, Ev::Partition);
                }
            }
            Ev::Crash => {
                let node = self.rng.below(self.config.nodes as u64) as usize;
                if self.nodes[node].up {
                    let before = self.links();
                    let n = &mut self.nodes[node];
                    n.up = false;
                    n.inc += 1;
                    n.seen.clear();
                    self.held.retain(|_, h| h.node != node);
                    self.dialled.retain(|_, (n, _)| *n != node);
                    self.retrying.retain(|_, h| h.node != node);
                    self.relink(before);
                    let back = self.rng.between(200, 3_000);
                    self.at(back, Ev::Restart(node));
                }
            }
            Ev::Restart(node) => self.restart(node),
            Ev::EndActive => {
                self.active = false;
                for node in 0..self.config.nodes {
                    self.restart(node);
                }
                let before = self.links();
                self.cut.clear();
                self.side = None;
                self.relink(before);
                self.at(100, Ev::Check);
            }
            Ev::Check => {
                if self.agree() {
                    self.settled = Some(self.now - self.config.active_ms);
                    self.converged_at.get_or_insert(self.now);
                } else {
                    self.at(100, Ev::Check);
                }
            }
            Ev::Measure => {
                if self.agree() {
                    self.converged_at.get_or_insert(self.now);
                } else {
                    self.at(10, Ev::Measure);
                }
            }
        }
    }

    fn restart(&mut self, node: Peer) {
        if self.nodes[node].up {
            return;
        }
        let before = self.links();
        let limits = self.config.limits.clone();
        let churned =
            self.active && self.rng.chance(self.config.churn) && self.held_elsewhere(node);
        let n = &mut self.nodes[node];
        // The store and the clock survived (unless the node left and a new one took its
        // place); the machine starts empty.
        n.machine = Replicator::new(self.trusted.clone(), limits, n.stats.clone());
        if churned {
            n.model = Model {
                unseeded: std::mem::take(&mut n.model.unseeded),
                ..Model::default()
            };
            self.churned += 1;
        }
        n.up = true;
        self.relink(before);
    }

    /// True if every node holds the same logs of what it seeds (node 0 seeds everything;
    /// lengths compared first: cheap).
    fn agree(&self) -> bool {
        let first = &self.nodes[0].model;
        let sizes = |m: &Model| -> Vec<usize> {
            first
                .repos
                .iter()
                .filter(|(name, _)| m.seeds(name))
                .map(|(_, r)| r.log.len())
                .collect()
        };
        let own = |m: &Model| -> Vec<usize> { m.repos.values().map(|r| r.log.len()).collect() };
        self.nodes.iter().all(|n| own(&n.model) == sizes(&n.model)) && {
            let digests = first.digests();
            self.nodes.iter().all(|n| {
                let want: Vec<_> = digests
                    .iter()
                    .filter(|d| n.model.seeds(&d.repo))
                    .cloned()
                    .collect();
                n.model.digests() == want
            })
        }
    }

    /// True if every update `node` holds is held by another node too.
    fn held_elsewhere(&self, node: Peer) -> bool {
        self.nodes[node].model.repos.iter().all(|(repo, r)| {
            r.log.keys().all(|stamp| {
                self.nodes.iter().enumerate().any(|(i, other)| {
                    i != node
                        && other
                            .model
                            .repos
                            .get(repo)
                            .is_some_and(|o| o.log.contains_key(stamp))
                })
            })
        })
    }

    fn links(&self) -> BTreeSet<(Peer, Peer)> {
        let mut out = BTreeSet::new();
        for (a, peers) in self.adj.iter().enumerate() {
            for &b in peers {
                if self.linked(a, b) {
                    out.insert((a, b));
                }
            }
        }
        out
    }

    /// Sends an announcement to `node`'s linked peers but `except`: to all of them from its
    /// origin (gossip publishes to every peer); when passed on, to at most `fanout` of them
    /// (the mesh), and by id only to the others at the next heartbeat (IHAVE), who ask for
    /// it if they lack it.
    fn send_gossip(&mut self, node: Peer, except: Option<Peer>, bytes: &[u8], hops: u32) {
        let mut peers: Vec<Peer> = self.adj[node]
            .iter()
            .copied()
            .filter(|&p| Some(p) != except && self.linked(node, p))
            .collect();
        let mut lazy = Vec::new();
        if except.is_some() {
            while peers.len() > self.config.fanout.max(1) {
                let drop = self.rng.below(peers.len() as u64) as usize;
                lazy.push(peers.swap_remove(drop));
            }
        }
        let sends = peers
            .into_iter()
            .map(|p| (p, false))
            .chain(lazy.into_iter().map(|p| (p, true)));
        for (peer, by_id) in sends {
            self.nodes[node].sent.0 += 1;
            self.nodes[node].sent.1 += if by_id { 32 } else { bytes.len() as u64 };
            if self.rng.chance(self.config.gossip_loss) {
                continue;
            }
            let delay = if by_id {
                self.rng.between(250, 750)
            } else {
                self.rng.between(1, 20)
            };
            let inc = self.nodes[peer].inc;
            self.at(
                delay,
                Ev::Gossip {
                    to: peer,
                    inc,
                    from: node,
                    bytes: bytes.to_vec(),
                    hops,
                    lazy: by_id,
                },
            );
        }
    }

    /// Tells both ends about links that came up or went down.
    fn relink(&mut self, before: BTreeSet<(Peer, Peer)>) {
        let after = self.links();
        for &(a, b) in before.difference(&after) {
            self.deliver(a, Input::Disconnected(b));
        }
        for &(a, b) in after.difference(&before) {
            self.deliver(a, Input::Connected(b));
        }
    }

    fn deliver(&mut self, node: Peer, input: Input<Peer, Pack>) {
        if !self.nodes[node].up {
            return;
        }
        let actions = self.nodes[node].machine.handle(input);
        let m = &self.nodes[node].machine;
        let limits = &self.config.limits;
        if m.running() > limits.max_syncs.max(1) || m.queued() > limits.max_queued + m.rounds() {
            self.violations.push(format!(
                "node {node}: {} syncs running, {} queued: over the limits",
                m.running(),
                m.queued()
            ));
        }
        for action in actions {
            self.perform(node, action);
        }
    }

    fn reply(&mut self, node: Peer, delay: u64, input: Input<Peer, Pack>) {
        let inc = self.nodes[node].inc;
        self.at(delay, Ev::Input(node, inc, input));
    }

    fn perform(&mut self, node: Peer, action: Action<Peer, Pack>) {
        match action {
            Action::Request { req, peer, request } => {
                let delay = self.rng.between(1, 10);
                let result = if !self.reaches(node, peer) {
                    Err(format!("not connected to {peer}"))
                } else if self.rng.chance(self.config.request_failure) {
                    Err("request timed out".into())
                } else {
                    let answer = self.nodes[peer].model.serve(request);
                    let len = guts_net::codec::encoded_len(&answer).unwrap_or(0);
                    self.nodes[peer].sent.0 += 1;
                    self.nodes[peer].sent.1 += len as u64;
                    Ok(answer)
                };
                let result = result.map_err(ReplicaError::Peer);
                self.reply(node, delay, Input::Answer { req, result });
            }
            Action::Digests { peer } => {
                let digests = self.nodes[node].model.digests();
                self.reply(node, 0, Input::Digests { peer, digests });
            }
            Action::Plan { job, repo, updates } => {
                let result = Ok(self.nodes[node].model.plan(&repo, updates));
                self.reply(node, 1, Input::Planned { job, result });
            }
            Action::Download {
                job,
                request,
                sources,
            } => {
                let result = self
                    .download(node, &request, &sources)
                    .map_err(ReplicaError::Peer);
                let delay = self.rng.between(2, 40);
                self.reply(node, delay, Input::Downloaded { job, result });
            }
            Action::Apply {
                job,
                repo,
                pack,
                updates,
            } => {
                let stamps: Vec<Hlc> = updates.iter().map(|u| u.stamp.hlc).collect();
                let result = self.nodes[node]
                    .model
                    .apply(&self.world, &repo, pack, updates)
                    .map_err(ReplicaError::Refused);
                if result.is_ok() {
                    let wall = self.wall(node);
                    for h in stamps {
                        let _ = self.nodes[node].clock.observe(h, wall);
                    }
                }
                self.trace.update([3, node as u8, result.is_ok() as u8]);
                self.reply(node, 1, Input::Applied { job, result });
            }
            Action::Forward { ticket, accept } => {
                let Some(h) = self.held.remove(&ticket) else {
                    return;
                };
                if h.node != node {
                    return;
                }
                if accept {
                    self.send_gossip(node, Some(h.from), &h.bytes, h.hops + 1);
                } else if self.config.seeded_only > 0
                    && let Ok(Announcement {
                        body: Body::Push { repo, .. },
                        origin,
                        ..
                    }) = Announcement::decode(&h.bytes)
                {
                    // As the node does: no peer at hand had it; ask the origin, then the
                    // providers, and pass the announcement on if that takes it.
                    let origin = self.nodes.iter().position(|n| n.key.id() == origin);
                    if let Some(pull) = self.pull_from_providers(node, repo, origin) {
                        self.retrying.insert(pull, h);
                    }
                }
            }
            Action::Pulled { ticket, result } => {
                self.dialled.remove(&ticket);
                if let Some(h) = self.retrying.remove(&ticket)
                    && matches!(result, Ok(p) if p.found)
                    && self.nodes[node].up
                {
                    self.send_gossip(node, Some(h.from), &h.bytes, h.hops + 1);
                }
            }
            Action::ApplyRecords { round, .. } => {
                self.reply(
                    node,
                    1,
                    Input::RecordsApplied {
                        round,
                        result: Ok((0, 0)),
                    },
                );
            }
        }
    }

    fn download(
        &mut self,
        node: Peer,
        request: &Request,
        sources: &[Peer],
    ) -> Result<Pack, String> {
        let mut last = "no peer to fetch from".to_string();
        for &src in sources {
            if !self.reaches(node, src) {
                last = format!("not connected to {src}");
                continue;
            }
            if self.rng.chance(self.config.request_failure) {
                last = "download timed out".into();
                continue;
            }
            let model = &self.nodes[src].model;
            let got = match request {
                Request::Fetch { repo, wants, haves } => {
                    model.build_pack(&self.world, repo, wants, haves)
                }
                Request::FetchPack { repo, checksum } => match self.packs.get(checksum) {
                    Some(p) => model.stored_pack(repo, p),
                    None => Err("no such pack".into()),
                },
                _ => Err("not a pack request".into()),
            };
            match got {
                Ok(mut pack) => {
                    self.nodes[src].sent.0 += 1;
                    self.nodes[src].sent.1 += pack.len() as u64 * 1_000;
                    let stored = matches!(request, Request::FetchPack { .. });
                    if stored
                        && self.rng.chance(self.config.corrupt_packs)
                        && let Some(c) = pack.iter().next().copied()
                    {
                        pack.remove(&c);
                    }
                    return Ok(pack);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn gossip(&mut self, to: Peer, from: Peer, bytes: Vec<u8>, hops: u32) {
        if !self.nodes[to].seen.insert(Announcement::id_of(&bytes)) {
            self.duplicates += 1;
            return;
        }
        self.hops.0 = self.hops.0.max(hops);
        self.hops.1 += u64::from(hops);
        self.hops.2 += 1;
        let wall = self.wall(to);
        let trusted = &self.trusted;
        let checked = Announcement::decode(&bytes)
            .and_then(|a| a.validate(|n| trusted.contains(n), wall).map(|()| a));
        match checked {
            Ok(a) => {
                self.next_ticket += 1;
                let ticket = self.next_ticket;
                self.held.insert(
                    ticket,
                    Held {
                        node: to,
                        from,
                        bytes: bytes.clone(),
                        hops,
                    },
                );
                self.deliver(
                    to,
                    Input::Announced {
                        source: from,
                        origin: None,
                        announcement: Box::new(a),
                        bytes,
                        ticket: Some(ticket),
                    },
                );
            }
            Err(_) => {
                self.nodes[to]
                    .stats
                    .announcements_rejected
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// A push to a random live node: a fast-forward, a force push, a deletion, or a merge
    /// of a conflict tip; applied there, then announced to the peers it is linked to.
    fn push(&mut self) {
        let repo = repo_name(self.rng.below(self.config.repos as u64) as usize);
        // Pushed where it is seeded (elsewhere, a push would pull it through first).
        let up: Vec<Peer> = (0..self.config.nodes)
            .filter(|&n| self.nodes[n].up && self.nodes[n].model.seeds(&repo))
            .collect();
        let Some(&node) = self.rng.pick(&up) else {
            return;
        };
        let name = format!(
            "refs/heads/b{}",
            self.rng.below(self.config.branches as u64)
        );
        let value = self.nodes[node].model.value(&repo, &name);
        let conflicts: Vec<ObjectId> = self.nodes[node]
            .model
            .repos
            .get(&repo)
            .and_then(|r| r.refs.get(&name))
            .map(|s| s.conflicts(&self.world).into_iter().collect())
            .unwrap_or_default();
        let held: Vec<ObjectId> = self.nodes[node]
            .model
            .repos
            .get(&repo)
            .map(|r| r.objects.iter().copied().collect())
            .unwrap_or_default();
        let roll = self.rng.below(100);
        let tips: Vec<ObjectId> = [value].into_iter().filter(|v| !v.is_zero()).collect();
        let new = if !conflicts.is_empty() && roll < 50 {
            let c = conflicts[self.rng.below(conflicts.len() as u64) as usize];
            let mut parents = tips;
            parents.push(c);
            Some(parents)
        } else if roll < 80 || value.is_zero() {
            Some(tips)
        } else if roll < 92 {
            Some(self.rng.pick(&held).copied().into_iter().collect())
        } else {
            None
        };
        let new = new.map_or(ObjectId::ZERO, |parents| self.world.commit(parents));
        let wall = self.wall(node);
        let n = &mut self.nodes[node];
        let stamp = n.clock.stamp(wall);
        let update = SignedRef::sign(
            &n.key,
            &repo,
            &name,
            *value.as_bytes(),
            *new.as_bytes(),
            stamp,
            None,
        );
        let pack: Pack = [new].into_iter().filter(|c| !c.is_zero()).collect();
        if let Err(e) = n
            .model
            .apply(&self.world, &repo, Some(pack.clone()), vec![update.clone()])
        {
            self.violations
                .push(format!("a local push on node {node} failed: {e}"));
            return;
        }
        self.accepted.push(update.clone());
        let pack_ref = (!pack.is_empty()).then(|| {
            let mut checksum = [0u8; 20];
            checksum[..8].copy_from_slice(&self.seq.to_be_bytes());
            checksum[8] = 0xfa;
            self.packs.insert(checksum, pack);
            PackRef {
                checksum,
                len: 1_000,
            }
        });
        let bytes = Announcement::sign(
            &self.nodes[node].key,
            Body::Push {
                repo,
                pack: pack_ref,
                updates: vec![update],
            },
        )
        .encode()
        .expect("an announcement encodes");
        self.last_push = self.now;
        self.nodes[node].seen.insert(Announcement::id_of(&bytes));
        self.send_gossip(node, None, &bytes, 1);
    }
}

/// The name of the `i`th simulated repository.
fn repo_name(i: usize) -> String {
    format!("sim/r{i}")
}
