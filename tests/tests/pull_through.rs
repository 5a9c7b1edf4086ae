//! Pull-through: a node that does not seed a repository stores none of it, yet a clone or
//! fetch on that node takes it from a node that does (found in the DHT, or among its
//! peers), serves it as the seeder does, and keeps it up to date from then on. With no
//! seeder reachable the answer is a clear 404 and nothing is kept; a caller who may not
//! read the repository starts no pull.

use std::path::Path;
use std::time::Duration;

use guts_tests::cluster::{Cluster, Shape};
use guts_tests::{
    commit_files, git, git_output, http, master_repo, remote_refs, tmp, wait_for, with_token,
};
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(60);
const PROVIDING: &str = "guts_p2p{what=\"providing\"}";
const PULLS: &str = "guts_p2p{what=\"pulls\"}";
const ROUNDS: &str = "guts_p2p{what=\"anti_entropy_rounds\"}";

/// Waits for node `i` to finish a few more anti-entropy rounds (records arrive by gossip
/// at once, and by every round).
fn rounds_pass(c: &Cluster, i: usize) {
    let seen = c.node(i).metric(ROUNDS);
    wait_for("more rounds", DEADLINE, || {
        c.node(i).metric(ROUNDS) >= seen + 3.0
    });
}

/// Seeds for `n` nodes: node 0 all, the others only an unrelated owner.
fn only_node_0_seeds(n: usize) -> Vec<Vec<String>> {
    (0..n)
        .map(|i| {
            if i == 0 {
                vec![]
            } else {
                vec!["carol".to_string()]
            }
        })
        .collect()
}

/// Creates `owner/name` on node 0 as its admin (`private` or not) and pushes a `master`
/// history with branches and tags; returns master's tip.
fn seeded_repo(c: &Cluster, name: &str, private: bool, refs: usize) -> String {
    let n0 = c.node(0);
    let (status, body) = http(
        "POST",
        &format!("{}/api/v1/repos", n0.url),
        Some(json!({ "owner": "alice", "name": name, "private": private })),
    );
    assert_eq!(status, 201, "{body}");
    let src = tmp();
    let tip = master_repo(src.path(), refs);
    let url = format!("{}/alice/{name}.git", n0.url);
    git(
        src.path(),
        &[
            "push",
            "-q",
            &url,
            "refs/heads/*:refs/heads/*",
            "refs/tags/*:refs/tags/*",
        ],
    );
    tip
}

/// True if node `i` stores `alice/name` (its REST API shows it to node 0's admin token).
fn stores(c: &Cluster, i: usize, name: &str) -> bool {
    let url = with_token(
        &format!("{}/api/v1/repos/alice/{name}", c.node(i).anon_url),
        "admin0",
        &c.node(0).token,
    );
    http("GET", &url, None).0 == 200
}

fn clone_fsck(url: &str, proto: &str) -> tempfile::TempDir {
    let dest = tmp();
    let d = dest.path().join("c");
    let out = git_output(
        Path::new("."),
        &[
            "-c",
            &format!("protocol.version={proto}"),
            "clone",
            "-q",
            url,
            d.to_str().expect("utf-8"),
        ],
    );
    assert!(
        out.status.success(),
        "clone of {url} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    git(&d, &["fsck", "--full", "--strict"]);
    dest
}

#[test]
fn a_clone_from_a_node_that_does_not_seed_takes_it_from_a_seeder_found_in_the_dht() {
    // A line: node 3 reaches node 0 only through nodes that do not seed alice's work,
    // unless the DHT tells it who does.
    let c = Cluster::build(
        4,
        Duration::from_secs(1),
        Shape::Line,
        true,
        only_node_0_seeds(4),
    );
    let tip = seeded_repo(&c, "proj", false, 60);
    wait_for("node 0 to provide it", DEADLINE, || {
        c.node(0).metric(PROVIDING) >= 1.0
    });
    // Several rounds later node 3 has the repository's record, and stores nothing of it.
    rounds_pass(&c, 3);
    assert!(!stores(&c, 3, "proj"));
    assert_eq!(c.node(3).metric("guts_repositories"), 0.0);

    let far = format!("{}/alice/proj.git", c.node(3).anon_url);
    let near = format!("{}/alice/proj.git", c.node(0).anon_url);
    let dest = clone_fsck(&far, "2");
    let work = dest.path().join("c");
    assert_eq!(git(&work, &["rev-parse", "HEAD"]).trim(), tip);
    assert_eq!(
        git(&work, &["symbolic-ref", "HEAD"]).trim(),
        "refs/heads/master"
    );
    for proto in ["2", "0"] {
        assert_eq!(
            remote_refs(&far, proto),
            remote_refs(&near, proto),
            "v{proto}"
        );
    }
    assert_eq!(remote_refs(&far, "2").len(), 1 + 2 * 60);
    assert_eq!(
        c.node(3).metric(PULLS),
        1.0,
        "one pull, then served from the store"
    );
    assert!(
        c.node(3).metric("guts_p2p{what=\"providers_found\"}") >= 1.0,
        "the DHT named the seeder"
    );
    assert!(stores(&c, 3, "proj"));

    // From now on node 3 holds it and takes its updates like any repository it holds.
    let src = tmp();
    git(src.path(), &["clone", "-q", &near, "."]);
    commit_files(src.path(), "later", 100, 1);
    let later = git(src.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let push = with_token(&near, "admin0", &c.node(0).token);
    git(src.path(), &["push", "-q", &push, "master"]);
    wait_for("the new push to reach node 3", DEADLINE, || {
        remote_refs(&far, "2").iter().any(|l| l.starts_with(&later))
    });
}

#[test]
fn with_no_seeder_reachable_the_answer_is_a_clear_404_and_nothing_is_kept() {
    // No DHT: a node asks its own peers. Node 1 is next to the seeder; node 2 is not.
    let c = Cluster::build(
        3,
        Duration::from_secs(1),
        Shape::Line,
        false,
        only_node_0_seeds(3),
    );
    seeded_repo(&c, "far", false, 3);
    seeded_repo(&c, "secret", true, 3);
    rounds_pass(&c, 2);

    let info = |i: usize, name: &str| {
        format!(
            "{}/alice/{name}.git/info/refs?service=git-upload-pack",
            c.node(i).anon_url
        )
    };
    let (status, body) = http("GET", &info(2, "far"), None);
    assert_eq!(status, 404, "{body}");
    let message = body.to_string();
    assert!(
        message.contains("not stored on this node") && message.contains("could be reached"),
        "{message}"
    );
    assert!(!stores(&c, 2, "far"), "a failed pull leaves nothing behind");
    assert_eq!(c.node(2).metric("guts_repositories"), 0.0);

    // A caller who may not read it starts no pull.
    let (status, _) = http("GET", &info(1, "secret"), None);
    assert_eq!(status, 401);
    assert_eq!(c.node(1).metric(PULLS), 0.0);
    assert!(!stores(&c, 1, "secret"));

    // Next to the seeder, the same clone works (its peers are its sources).
    let url = format!("{}/alice/far.git", c.node(1).anon_url);
    clone_fsck(&url, "0");
    assert_eq!(
        remote_refs(&url, "0"),
        remote_refs(&format!("{}/alice/far.git", c.node(0).anon_url), "0")
    );
    // And a reader of the private one pulls it through with their credentials.
    let secret = with_token(
        &format!("{}/alice/secret.git", c.node(1).anon_url),
        "admin0",
        &c.node(0).token,
    );
    clone_fsck(&secret, "2");
    assert_eq!(c.node(1).metric(PULLS), 2.0);
}
