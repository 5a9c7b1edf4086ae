//! Replication lag on loopback (a benchmark, not a test): N nodes in this process, each on
//! its own runtime and real sockets. Small pushes: `git push` to node 0, then the time from
//! the push's acknowledgement (git exits) until every node advertises the new tip, polled
//! over HTTP; p50, p99 and max. Large push (with `--large DIR`, a repository of 100+ MB of
//! pack): the push's own time, and the time from its start until every node serves it.
//!
//! ```text
//! cargo run --release -p guts-tests --example replication_lag -- --nodes 3 --pushes 100
//! cargo run --release -p guts-tests --example replication_lag -- --nodes 8 --line --pushes 100
//! cargo run --release -p guts-tests --example replication_lag -- --nodes 16 --degree 3 --pushes 100
//! cargo run --release -p guts-tests --example replication_lag -- --nodes 3 --pushes 0 --large bench/work/corpus
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use guts_tests::cluster::{Cluster, Shape};
use guts_tests::{commit_files, git, make_repo, tmp};

struct Args {
    nodes: usize,
    /// How the nodes are linked: a full mesh, `--line`, or `--degree D` (a random graph).
    shape: Shape,
    pushes: usize,
    large: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        nodes: 3,
        shape: Shape::Mesh,
        pushes: 100,
        large: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--line" {
            a.shape = Shape::Line;
            continue;
        }
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--nodes" => a.nodes = value.parse().expect("--nodes N"),
            "--pushes" => a.pushes = value.parse().expect("--pushes N"),
            "--degree" => {
                a.shape = Shape::Random {
                    degree: value.parse().expect("--degree D"),
                    seed: 1,
                }
            }
            "--large" => a.large = Some(PathBuf::from(value)),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

/// True when the node at `url` advertises `tip` for `repo`.
fn serves(agent: &ureq::Agent, url: &str, repo: &str, tip: &str) -> bool {
    let u = format!("{url}/{repo}.git/info/refs?service=git-upload-pack");
    match agent.get(&u).call() {
        Ok(mut r) => r
            .body_mut()
            .read_to_string()
            .is_ok_and(|body| body.contains(tip)),
        Err(_) => false,
    }
}

/// Polls every node until all serve `tip`; returns when the last one did, and when node 1
/// (one hop from node 0) did.
fn wait_all(agent: &ureq::Agent, urls: &[String], repo: &str, tip: &str) -> (Instant, Instant) {
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut pending: Vec<(usize, &String)> = urls.iter().enumerate().collect();
    let mut first_hop = Instant::now();
    while !pending.is_empty() {
        pending.retain(|(i, u)| {
            let done = serves(agent, u, repo, tip);
            if done && *i == 1 {
                first_hop = Instant::now();
            }
            !done
        });
        assert!(Instant::now() < deadline, "not replicated in 10 minutes");
        if !pending.is_empty() {
            std::thread::sleep(Duration::from_micros(500));
        }
    }
    (Instant::now(), first_hop)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn small_pushes(c: &Cluster, urls: &[String], agent: &ureq::Agent, n: usize) {
    let push = c.node(0).create_repo("bench", "small");
    let src = tmp();
    let w = src.path();
    make_repo(w, 1);
    git(w, &["push", "-q", &push, "main"]);
    let tip = git(w, &["rev-parse", "HEAD"]).trim().to_string();
    wait_all(agent, urls, "bench/small", &tip);
    let mut lags = Vec::with_capacity(n);
    let mut hop = Vec::with_capacity(n);
    for i in 0..n {
        commit_files(w, "small", 10 + i, 1);
        let tip = git(w, &["rev-parse", "HEAD"]).trim().to_string();
        git(w, &["push", "-q", &push, "main"]);
        let acked = Instant::now();
        let (done, first) = wait_all(agent, urls, "bench/small", &tip);
        lags.push(done.duration_since(acked).as_secs_f64() * 1000.0);
        hop.push(first.duration_since(acked).as_secs_f64() * 1000.0);
    }
    lags.sort_by(f64::total_cmp);
    hop.sort_by(f64::total_cmp);
    println!(
        "to node 1: p50={:.1} p99={:.1} ms",
        percentile(&hop, 0.5),
        percentile(&hop, 0.99)
    );
    println!(
        "small pushes: nodes={} pushes={} lag_ms p50={:.1} p99={:.1} max={:.1}",
        urls.len(),
        n,
        percentile(&lags, 0.5),
        percentile(&lags, 0.99),
        lags.last().copied().unwrap_or(0.0)
    );
}

fn large_push(c: &Cluster, urls: &[String], agent: &ureq::Agent, repo: &Path) {
    let push = c.node(0).create_repo("bench", "large");
    let tip = git(repo, &["rev-parse", "HEAD"]).trim().to_string();
    let branch = git(repo, &["symbolic-ref", "--short", "HEAD"])
        .trim()
        .to_string();
    let start = Instant::now();
    git(
        repo,
        &["push", "-q", &push, &format!("{branch}:refs/heads/main")],
    );
    let pushed = start.elapsed().as_secs_f64();
    let (done, _) = wait_all(agent, urls, "bench/large", &tip);
    let everywhere = done.duration_since(start).as_secs_f64();
    println!(
        "large push: nodes={} push_s={pushed:.2} served_everywhere_s={everywhere:.2} ratio={:.2}",
        urls.len(),
        everywhere / pushed
    );
}

fn main() {
    let a = args();
    let c = Cluster::start_shaped(a.nodes, Duration::from_secs(10), a.shape);
    let urls: Vec<String> = (0..a.nodes).map(|i| c.url(i)).collect();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    if a.pushes > 0 {
        small_pushes(&c, &urls, &agent, a.pushes);
    }
    if let Some(repo) = &a.large {
        large_push(&c, &urls, &agent, repo);
    }
}
