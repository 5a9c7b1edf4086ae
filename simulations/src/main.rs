//! Runs simulations over many seeds and prints one line per failing seed and a summary; or,
//! with `--sweep`, one run per network size and a table of what each cost (and an SVG of
//! it with `--svg`).

use clap::Parser;
use guts_sim::plot::{Series, svg};
use guts_sim::{Config, Report, Topology, run_checked};

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
    /// Probability a request or download fails.
    #[arg(long, default_value_t = 0.02)]
    request_failure: f64,
    /// No partitions.
    #[arg(long)]
    no_partitions: bool,
    /// No crashes.
    #[arg(long)]
    no_crashes: bool,
    /// mesh, random:DEGREE, line, ring or bridge:CLUSTERS.
    #[arg(long, default_value = "mesh")]
    topology: Topology,
    /// Anti-entropy period in virtual ms (0: rounds only when peers connect).
    #[arg(long, default_value_t = 1_000)]
    anti_entropy_ms: u64,
    /// Probability a restarting node comes back with an empty store.
    #[arg(long, default_value_t = 0.0)]
    churn: f64,
    /// The first this many repositories are seeded only by some nodes (`--seeders`).
    #[arg(long, default_value_t = 0)]
    seeded_only: usize,
    /// The share of nodes that seed those repositories.
    #[arg(long, default_value_t = 1.0)]
    seeders: f64,
    /// Instead of many seeds: one run per node count (comma separated), as a table.
    #[arg(long, value_delimiter = ',')]
    sweep: Vec<usize>,
    /// With --sweep: also write an SVG chart of the table here.
    #[arg(long)]
    svg: Option<std::path::PathBuf>,
}

impl Args {
    fn config(&self, seed: u64, nodes: usize) -> Config {
        Config {
            seed,
            nodes,
            repos: self.repos,
            pushes: self.pushes,
            gossip_loss: self.loss,
            request_failure: self.request_failure,
            partitions: !self.no_partitions,
            crashes: !self.no_crashes,
            topology: self.topology,
            anti_entropy_ms: self.anti_entropy_ms,
            churn: self.churn,
            seeded_only: self.seeded_only,
            seeders: self.seeders,
            ..Config::default()
        }
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if !args.sweep.is_empty() {
        return sweep(&args);
    }
    let mut failed = 0u64;
    let mut settle = Vec::new();
    for seed in args.seed..args.seed + args.seeds {
        match run_checked(args.config(seed, args.nodes)) {
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
    exit(failed == 0)
}

fn exit(ok: bool) -> std::process::ExitCode {
    if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// One run per size; a Markdown table, and the chart.
fn sweep(args: &Args) -> std::process::ExitCode {
    println!(
        "topology {}, {} pushes to {} repositories, loss {}, anti-entropy {} ms (virtual time)\n",
        args.topology, args.pushes, args.repos, args.loss, args.anti_entropy_ms
    );
    println!(
        "| nodes | converged after last push (ms) | hops (max / mean) | messages per node (mean / max) | KB per node (mean / max) | duplicate copies per node | wall s |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut ok = true;
    let mut rows: Vec<(usize, Report)> = Vec::new();
    for &nodes in &args.sweep {
        let started = std::time::Instant::now();
        let (r, verdict) = run_checked(args.config(args.seed, nodes));
        let wall = started.elapsed().as_secs_f64();
        if let Err(e) = &verdict {
            ok = false;
            println!("| {nodes} | did not converge: {e} | | | | | {wall:.1} |");
            continue;
        }
        println!(
            "| {nodes} | {} | {} / {:.1} | {:.0} / {} | {:.0} / {:.0} | {:.1} | {wall:.1} |",
            r.converged_after_push_ms
                .map_or("-".to_string(), |v| v.to_string()),
            r.hops_max,
            r.hops_mean,
            r.msgs_per_node.0,
            r.msgs_per_node.1,
            r.bytes_per_node.0 / 1000.0,
            r.bytes_per_node.1 as f64 / 1000.0,
            r.duplicates as f64 / nodes as f64,
        );
        rows.push((nodes, r));
    }
    if let Some(path) = &args.svg {
        let xs: Vec<f64> = rows.iter().map(|(n, _)| *n as f64).collect();
        let series = [
            Series {
                title: "KB sent per node (mean)".into(),
                values: rows
                    .iter()
                    .map(|(_, r)| r.bytes_per_node.0 / 1000.0)
                    .collect(),
            },
            Series {
                title: "messages per node (mean)".into(),
                values: rows.iter().map(|(_, r)| r.msgs_per_node.0).collect(),
            },
            Series {
                title: "converged after last push (ms)".into(),
                values: rows
                    .iter()
                    .map(|(_, r)| r.converged_after_push_ms.unwrap_or(0) as f64)
                    .collect(),
            },
        ];
        if let Err(e) = std::fs::write(path, svg(&xs, "nodes", &series)) {
            eprintln!("cannot write {}: {e}", path.display());
            ok = false;
        }
    }
    exit(ok)
}
