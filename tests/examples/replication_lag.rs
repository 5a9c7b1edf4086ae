//! Replication lag on loopback (a benchmark, not a test): N nodes in this process, each on
//! its own runtime and real sockets. Small pushes: `git push` to node 0, then the time from
//! the push's acknowledgement (git exits) until every node advertises the new tip, polled
//! over HTTP; p50, p99 and max. Large push (with `--large DIR`, a repository of 100+ MB of
//! pack): the push's own time, and the time from its start until every node serves it.
//!
//! ```text
//! cargo run --release -p guts-tests --example replication_lag -- --nodes 3 --pushes 100
//! cargo run --release -p guts-tests --example replication_lag -- --nodes 3 --pushes 0 --large bench/work/corpus
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use guts_tests::cluster::Cluster;
use guts_tests::{commit_files, git, make_repo, tmp};

struct Args {
    nodes: usize,
    pushes: usize,
    large: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        nodes: 3,
        pushes: 100,
        large: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--nodes" => a.nodes = value.parse().expect("--nodes N"),
            "--pushes" => a.pushes = value.parse().expect("--pushes N"),
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

/// Polls every node until all serve `tip`; returns when the last one did.
fn wait_all(agent: &ureq::Agent, urls: &[String], repo: &str, tip: &str) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut pending: Vec<&String> = urls.iter().collect();
    while !pending.is_empty() {
        pending.retain(|u| !serves(agent, u, repo, tip));
        assert!(Instant::now() < deadline, "not replicated in 10 minutes");
        if !pending.is_empty() {
            std::thread::sleep(Duration::from_micros(500));
        }
    }
    Instant::now()
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
    for i in 0..n {
        commit_files(w, "small", 10 + i, 1);
        let tip = git(w, &["rev-parse", "HEAD"]).trim().to_string();
        git(w, &["push", "-q", &push, "main"]);
        let acked = Instant::now();
        let done = wait_all(agent, urls, "bench/small", &tip);
        lags.push(done.duration_since(acked).as_secs_f64() * 1000.0);
    }
    lags.sort_by(f64::total_cmp);
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
    let done = wait_all(agent, urls, "bench/large", &tip);
    let everywhere = done.duration_since(start).as_secs_f64();
    println!(
        "large push: nodes={} push_s={pushed:.2} served_everywhere_s={everywhere:.2} ratio={:.2}",
        urls.len(),
        everywhere / pushed
    );
}

fn main() {
    let a = args();
    let c = Cluster::start_with(a.nodes, Duration::from_secs(10));
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
