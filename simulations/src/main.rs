//! Runs simulations over many seeds and prints one line per failing seed and a summary.

use clap::Parser;
use guts_sim::{Config, run_checked};

/// Simulate Guts networks: convergence under loss, partitions and crashes.
#[derive(Debug, Parser)]
struct Args {
    /// First seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many seeds to run.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// Nodes per run.
    #[arg(long, default_value_t = 5)]
    nodes: usize,
    /// Repositories.
    #[arg(long, default_value_t = 3)]
    repos: usize,
    /// Pushes per run.
    #[arg(long, default_value_t = 60)]
    pushes: usize,
    /// Probability an announcement is lost.
    #[arg(long, default_value_t = 0.1)]
    loss: f64,
    /// No partitions.
    #[arg(long)]
    no_partitions: bool,
    /// No crashes.
    #[arg(long)]
    no_crashes: bool,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mut failed = 0u64;
    let mut settle = Vec::new();
    for seed in args.seed..args.seed + args.seeds {
        let config = Config {
            seed,
            nodes: args.nodes,
            repos: args.repos,
            pushes: args.pushes,
            gossip_loss: args.loss,
            partitions: !args.no_partitions,
            crashes: !args.no_crashes,
            ..Config::default()
        };
        match run_checked(config) {
            (r, Ok(())) => settle.extend(r.settled_ms),
            (r, Err(e)) => {
                failed += 1;
                println!("seed {seed}: {e} ({} events)", r.events);
            }
        }
    }
    settle.sort_unstable();
    let at = |q: f64| {
        settle
            .get(((settle.len() as f64 - 1.0) * q) as usize)
            .copied()
    };
    println!(
        "{} seeds, {failed} failed; settled after the active phase in p50 {:?} ms, max {:?} ms (virtual)",
        args.seeds,
        at(0.5),
        settle.last()
    );
    if failed > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
