//! Event latency (a benchmark, not a test): two nodes in this process on real sockets; N
//! WebSocket subscribers of one repository on the pushing node and N on its peer. For each
//! of P small `git push`es to the first node: the time from the push's acknowledgement (the
//! `git push` process exits) to each subscriber receiving its `push` event (pushing node)
//! or `ref.replicated` event (peer); p50, p99 and max over all pushes and subscribers. The
//! node publishes a push's event as soon as it has written the report, so it often arrives
//! before `git push` has exited: such latencies are negative (printed as they are).
//!
//! ```text
//! cargo run --release -p guts-tests --example events_latency -- --subscribers 1000 --pushes 100
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use guts_tests::cluster::Cluster;
use guts_tests::ws::{raise_fd_limit, ws_url};
use guts_tests::{commit_files, git, make_repo, tmp};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// When each subscriber received the event carrying each tip.
type Arrivals = Arc<Mutex<HashMap<String, Vec<Instant>>>>;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Opens `n` subscribers on `url`, each recording when an event of `kind` arrives, by tip.
fn subscribe(rt: &tokio::runtime::Runtime, url: &str, n: usize, kind: &'static str) -> Arrivals {
    let arrivals: Arrivals = Arc::default();
    for _ in 0..n {
        let (mut ws, _) = rt
            .block_on(tokio_tungstenite::connect_async(url))
            .expect("connect");
        let arrivals = arrivals.clone();
        rt.spawn(async move {
            while let Some(Ok(m)) = ws.next().await {
                let Message::Text(t) = m else { continue };
                let now = Instant::now();
                let Ok(v) = serde_json::from_str::<Value>(&t) else {
                    continue;
                };
                if v["type"] == "event" && v["event"]["type"] == kind {
                    let tip = v["event"]["refs"][0]["new"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    if let Ok(mut a) = arrivals.lock() {
                        a.entry(tip).or_default().push(now);
                    }
                }
            }
        });
    }
    arrivals
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(what: &str, n: usize, acks: &[(String, Instant)], arrivals: &Arrivals) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let complete = || {
        let a = arrivals.lock().expect("lock");
        acks.iter()
            .all(|(tip, _)| a.get(tip).is_some_and(|v| v.len() >= n))
    };
    while !complete() {
        assert!(Instant::now() < deadline, "{what}: not every event arrived");
        std::thread::sleep(Duration::from_millis(5));
    }
    let a = arrivals.lock().expect("lock");
    let mut ms: Vec<f64> = acks
        .iter()
        .flat_map(|(tip, acked)| {
            a.get(tip).into_iter().flatten().map(move |t| {
                if *t >= *acked {
                    t.duration_since(*acked).as_secs_f64() * 1000.0
                } else {
                    -(acked.duration_since(*t).as_secs_f64() * 1000.0)
                }
            })
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    println!(
        "{what}: subscribers={n} pushes={} deliveries={} latency_ms p50={:.2} p99={:.2} max={:.2}",
        acks.len(),
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(0.0)
    );
}

fn main() {
    let subscribers = arg("--subscribers", 100);
    // Both ends of every subscriber's connection are in this process.
    raise_fd_limit(2 * subscribers as u64 + 256);
    let pushes = arg("--pushes", 100);
    let c = Cluster::start_with(2, Duration::from_secs(10));
    let push_url = c.node(0).create_repo("bench", "events");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let query = "channels=repo:bench/events";
    let on_a = subscribe(&rt, &ws_url(&c.url(0), query), subscribers, "push");
    let on_b = subscribe(
        &rt,
        &ws_url(&c.url(1), query),
        subscribers,
        "ref.replicated",
    );
    let src = tmp();
    let w = src.path();
    make_repo(w, 1);
    git(w, &["push", "-q", &push_url, "main"]);
    let mut acks = Vec::with_capacity(pushes);
    for i in 0..pushes {
        commit_files(w, "ev", 10 + i, 1);
        let tip = git(w, &["rev-parse", "HEAD"]).trim().to_string();
        git(w, &["push", "-q", &push_url, "main"]);
        acks.push((tip, Instant::now()));
    }
    report("pushing node (push)", subscribers, &acks, &on_a);
    report("peer node (ref.replicated)", subscribers, &acks, &on_b);
}
