//! Deterministic simulations of whole networks, each node the real replication state
//! machine. Each test states what must converge, under which faults, and checks the
//! result against the merge rule applied to every accepted update at once.

use guts_net::machine::Limits;
use guts_sim::{Config, Divergence, Sim, Topology, check, run_checked};

fn converges(config: Config) -> guts_sim::Report {
    let seed = config.seed;
    match run_checked(config) {
        (r, Ok(())) => r,
        (r, Err(e)) => panic!("seed {seed}: {e} after {} events", r.events),
    }
}

#[test]
fn many_seeds_converge_under_loss_partitions_and_crashes() {
    for seed in 1..=40 {
        let r = converges(Config {
            seed,
            ..Config::default()
        });
        assert!(r.pushes > 0, "seed {seed} made no pushes");
    }
}

#[test]
fn the_same_seed_replays_exactly() {
    let config = Config {
        seed: 7,
        ..Config::default()
    };
    let a = converges(config.clone());
    let b = converges(config);
    assert_eq!(a, b);
    let other = converges(Config {
        seed: 8,
        ..Config::default()
    });
    assert_ne!(a.trace, other.trace);
}

/// No periodic anti-entropy and nothing lost: announcements alone converge, including
/// when an announced pack is not enough (the sync falls back to want/have).
#[test]
fn announcements_alone_converge_and_fall_back_to_want_have() {
    for seed in 1..=10 {
        let r = converges(Config {
            seed,
            anti_entropy_ms: 0,
            gossip_loss: 0.0,
            request_failure: 0.0,
            corrupt_packs: 0.5,
            partitions: false,
            crashes: false,
            ..Config::default()
        });
        assert_eq!(r.counters["sync_failures"], 0, "seed {seed}");
        assert!(r.counters["stored_packs_applied"] > 0, "seed {seed}");
        assert_eq!(
            r.counters["anti_entropy_rounds"], 20,
            "seed {seed}: only the rounds at connect"
        );
    }
}

/// Every announcement lost: anti-entropy alone converges; without it, nothing does (so
/// the check above can fail).
#[test]
fn with_every_announcement_lost_anti_entropy_alone_converges() {
    let lossy = Config {
        seed: 3,
        gossip_loss: 1.0,
        ..Config::default()
    };
    let r = converges(lossy.clone());
    assert_eq!(r.counters["stored_packs_applied"], 0);
    assert!(r.counters["anti_entropy_rounds"] > 0);

    let (report, sim) = Sim::new(Config {
        anti_entropy_ms: 0,
        partitions: false,
        crashes: false,
        settle_limit_ms: 10_000,
        ..lossy
    })
    .run();
    assert_eq!(check(&sim, &report), Err(Divergence::NotSettled));
}

/// A tiny sync queue overflows under a burst of announcements: the dropped syncs are
/// counted and anti-entropy repairs them.
#[test]
fn a_full_sync_queue_drops_announcements_and_still_converges() {
    let r = converges(Config {
        seed: 11,
        nodes: 6,
        repos: 12,
        pushes: 400,
        active_ms: 2_000,
        partitions: false,
        crashes: false,
        limits: Limits {
            max_syncs: 1,
            max_queued: 2,
            ..Limits::default()
        },
        ..Config::default()
    });
    assert!(r.counters["syncs_dropped"] > 0);
}

/// Thirty nodes, many repositories, heavy loss, partitions and crashes.
#[test]
fn thirty_nodes_converge() {
    converges(Config {
        seed: 5,
        nodes: 30,
        repos: 10,
        pushes: 300,
        gossip_loss: 0.3,
        ..Config::default()
    });
}

/// Nothing lost, no failures, no anti-entropy: announcements alone, passed on hop by hop.
fn gossip_only(seed: u64, nodes: usize, topology: Topology) -> Config {
    Config {
        seed,
        nodes,
        repos: 4,
        pushes: 60,
        active_ms: 5_000,
        gossip_loss: 0.0,
        request_failure: 0.0,
        partitions: false,
        crashes: false,
        anti_entropy_ms: 0,
        topology,
        ..Config::default()
    }
}

/// 200 nodes, each linked to about 6 others: every push reaches every node by gossip
/// alone, over several hops, and no node carries much more than its share.
#[test]
fn a_200_node_random_graph_of_degree_6_converges_by_gossip_alone() {
    let r = converges(gossip_only(11, 200, Topology::Random { degree: 6 }));
    assert!(r.hops_max >= 3, "hops: {}", r.hops_max);
    let (mean, max) = r.msgs_per_node;
    assert!(max as f64 <= 6.0 * mean, "mean {mean}, max {max}");
    assert!(r.duplicates > 0, "copies beyond the first are dropped");
}

/// 50 nodes in a line: what reaches the far end went through every node between.
#[test]
fn a_50_node_line_converges_by_gossip_alone() {
    let r = converges(gossip_only(12, 50, Topology::Line));
    assert!(r.hops_max >= 25, "hops: {}", r.hops_max);
}

/// Two clusters joined by one link, cut now and then while both sides take pushes (and
/// lose some announcements): anti-entropy heals them once the bridge is back.
#[test]
fn a_partitioned_bridge_heals_with_anti_entropy() {
    let r = converges(Config {
        seed: 13,
        nodes: 40,
        repos: 4,
        pushes: 120,
        topology: Topology::Bridge { clusters: 2 },
        crashes: false,
        ..Config::default()
    });
    assert!(r.hops_max >= 2);
}

/// Nodes crash, and some come back as new nodes with empty stores: they catch up.
#[test]
fn nodes_that_leave_and_join_empty_catch_up() {
    let r = converges(Config {
        seed: 14,
        nodes: 30,
        repos: 4,
        pushes: 120,
        topology: Topology::Random { degree: 4 },
        churn: 0.5,
        ..Config::default()
    });
    assert!(r.churned > 0);
}

/// Two of four repositories are seeded by about a third of the nodes of a sparse random
/// graph: those converge on every seeder (seeders with only non-seeders around them reach
/// the others as providers), while the other nodes pass their announcements on and store
/// nothing of them, through loss, partitions and crashes.
#[test]
fn non_seeding_nodes_never_store_a_seeded_only_repository() {
    let config = Config {
        seed: 15,
        nodes: 30,
        repos: 4,
        pushes: 150,
        seeded_only: 2,
        seeders: 0.35,
        topology: Topology::Random { degree: 4 },
        ..Config::default()
    };
    let r = converges(config.clone());
    assert!(r.pushes > 100);
    // The check above found no node storing what it does not seed; and it is not that
    // nobody got anything: every seeder holds the seeded-only repositories.
    let (_, sim) = Sim::new(config).run();
    let models: Vec<_> = sim.models().collect();
    let seeders = models.iter().filter(|m| m.seeds("sim/r0")).count();
    assert!(
        seeders >= 3 && seeders < models.len() - 3,
        "seeders: {seeders}"
    );
    for m in &models {
        assert_eq!(m.repos.contains_key("sim/r0"), m.seeds("sim/r0"));
        assert!(m.repos.contains_key("sim/r3"));
    }
}

/// Gossip alone (no anti-entropy), 200 nodes of degree 6, half the repositories seeded by
/// 30 % of the nodes: a seeder that hears of a push only through nodes that do not store
/// it fetches it from the origin or the repository's providers, then passes the
/// announcement on, so every seeder converges.
#[test]
fn seeders_among_non_seeders_converge_by_gossip_alone() {
    let r = converges(Config {
        seeded_only: 2,
        seeders: 0.3,
        ..gossip_only(16, 200, Topology::Random { degree: 6 })
    });
    assert!(r.pushes >= 50);
}
