//! Replication between real nodes on 127.0.0.1: pushes made with the git CLI to one node are
//! served by every node (checked with git: ls-remote, clone, fsck, rev-parse), including
//! incremental and force pushes and deletions; divergent pushes converge to the same tips and
//! the same conflict refs; a node that was down catches up by anti-entropy alone.

use std::path::Path;
use std::time::Duration;

use guts_tests::cluster::Cluster;
use guts_tests::{
    all_objects, commit_files, git, http, local_refs, make_repo, remote_refs, tmp, update_refs,
    wait_for,
};

const DEADLINE: Duration = Duration::from_secs(60);

fn repo_url(c: &Cluster, i: usize, repo: &str) -> String {
    format!("{}/{repo}.git", c.url(i))
}

/// Waits until every running node advertises exactly `want` for `repo`.
fn wait_refs(c: &Cluster, repo: &str, want: &[String]) {
    for i in c.running() {
        let url = repo_url(c, i, repo);
        let mut got: Vec<String> = Vec::new();
        let deadline = std::time::Instant::now() + DEADLINE;
        while got != want {
            if std::time::Instant::now() >= deadline {
                let missing: Vec<&String> = want.iter().filter(|w| !got.contains(w)).collect();
                let extra: Vec<&String> = got.iter().filter(|g| !want.contains(*g)).collect();
                panic!(
                    "node {i} serves {} refs, not the {} wanted; missing (first 5): {:?}; extra (first 5): {:?}",
                    got.len(),
                    want.len(),
                    &missing[..missing.len().min(5)],
                    &extra[..extra.len().min(5)]
                );
            }
            std::thread::sleep(Duration::from_millis(20));
            let out = guts_tests::git_output(Path::new("."), &["ls-remote", "--refs", &url]);
            if out.status.success() {
                got = String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(|l| l.replace('\t', " "))
                    .collect();
                got.sort();
            }
        }
    }
}

/// Clones `url` with a protocol version, fscks it and returns its refs as `id ref` lines
/// (remote branches renamed back to `refs/heads/`).
fn clone_check(url: &str, proto: &str) -> (tempfile::TempDir, Vec<String>) {
    let dir = tmp();
    git(
        dir.path(),
        &[
            "-c",
            &format!("protocol.version={proto}"),
            "clone",
            "-q",
            "--mirror",
            url,
            "c",
        ],
    );
    let c = dir.path().join("c");
    git(&c, &["fsck", "--strict", "--no-dangling"]);
    let refs = local_refs(&c, "refs/");
    (dir, refs)
}

fn source_refs(work: &Path) -> Vec<String> {
    let mut v: Vec<String> = local_refs(work, "refs/heads/")
        .into_iter()
        .chain(local_refs(work, "refs/tags/"))
        .collect();
    v.sort();
    v
}

#[test]
fn pushes_to_one_node_are_served_by_every_node() {
    let c = Cluster::start(3);
    let url_a = c.node(0).create_repo("alice", "proj");
    let src = tmp();
    let w = src.path();
    make_repo(w, 6);
    git(w, &["checkout", "-q", "-b", "feature"]);
    commit_files(w, "feature", 100, 3);
    git(w, &["tag", "-a", "v1", "-m", "release one"]);
    git(w, &["checkout", "-q", "main"]);
    git(w, &["tag", "light", "HEAD~2"]);
    git(w, &["push", "-q", &url_a, "--all"]);
    git(w, &["push", "-q", &url_a, "--tags"]);
    let want = source_refs(w);
    wait_refs(&c, "alice/proj", &want);
    for (i, proto) in [(1, "2"), (2, "0")] {
        let (clone, refs) = clone_check(&repo_url(&c, i, "alice/proj"), proto);
        assert_eq!(refs, want, "refs cloned from node {i}");
        let mut objects = all_objects(&clone.path().join("c"));
        objects.sort();
        let mut source = all_objects(w);
        source.sort();
        assert_eq!(objects, source, "objects cloned from node {i}");
    }

    // Incremental push.
    commit_files(w, "main", 6, 2);
    git(w, &["push", "-q", &url_a, "main"]);
    wait_refs(&c, "alice/proj", &source_refs(w));

    // Force push: feature rewritten.
    git(w, &["checkout", "-q", "feature"]);
    git(w, &["reset", "-q", "--hard", "HEAD~2"]);
    commit_files(w, "rewritten", 200, 1);
    git(w, &["push", "-q", "--force", &url_a, "feature"]);
    git(w, &["checkout", "-q", "main"]);
    wait_refs(&c, "alice/proj", &source_refs(w));

    // Deletions of a branch and a tag, pushed to node B this time.
    let url_b = repo_url(&c, 1, "alice/proj");
    git(w, &["push", "-q", &url_b, ":feature", ":refs/tags/light"]);
    git(w, &["branch", "-q", "-D", "feature"]);
    git(w, &["tag", "-d", "light"]);
    wait_refs(&c, "alice/proj", &source_refs(w));
    let (_clone, refs) = clone_check(&repo_url(&c, 2, "alice/proj"), "2");
    assert_eq!(refs, source_refs(w));
    assert!(c.node(2).metric("guts_replicated_updates_total") >= 1.0);
    // The fast path was taken: announced packs fetched as the origin stored them.
    let stored = "guts_p2p{what=\"stored_packs_applied\"}";
    assert!(c.node(1).metric(stored) + c.node(2).metric(stored) >= 1.0);
}

/// Pushes `n` commits on `branch` of a fresh clone of `url` and returns the new tip.
fn push_commits(url: &str, branch: &str, tag: &str, n: usize, force: bool) -> String {
    let dir = tmp();
    git(dir.path(), &["clone", "-q", url, "w"]);
    let w = dir.path().join("w");
    git(&w, &["checkout", "-q", "-B", branch]);
    commit_files(&w, tag, 1000, n);
    let mut args = vec!["push", "-q"];
    if force {
        args.push("--force");
    }
    let spec = format!("HEAD:refs/heads/{branch}");
    args.extend([url, spec.as_str()]);
    git(&w, &args);
    git(&w, &["rev-parse", "HEAD"]).trim().to_string()
}

fn refs_of(c: &Cluster, i: usize, repo: &str) -> Vec<String> {
    remote_refs(&repo_url(c, i, repo), "2")
}

#[test]
fn divergent_pushes_in_a_partition_converge_with_conflict_refs() {
    let c = Cluster::start(3);
    let url_a = c.node(0).create_repo("team", "app");
    let src = tmp();
    make_repo(src.path(), 3);
    git(src.path(), &["push", "-q", &url_a, "main"]);
    wait_refs(&c, "team/app", &source_refs(src.path()));

    // A alone on one side, B and C on the other.
    c.partition(&[0], &[1, 2]);
    wait_for("the partition", DEADLINE, || {
        c.node(0).net().connected_peers().is_empty()
    });
    let tip_a = push_commits(&url_a, "main", "side-a", 2, false);
    let tip_b = push_commits(&repo_url(&c, 1, "team/app"), "main", "side-b", 1, false);
    let only_b = push_commits(&repo_url(&c, 2, "team/app"), "topic", "topic", 1, false);
    assert_ne!(tip_a, tip_b);
    c.heal(&[0], &[1, 2]);
    c.wait_connected();

    // Everyone agrees, and the loser is kept under refs/guts/conflicts/.
    wait_for("the same refs everywhere", DEADLINE, || {
        let a = refs_of(&c, 0, "team/app");
        a.iter()
            .any(|l| l.contains("refs/guts/conflicts/heads/main/"))
            && (1..3).all(|i| refs_of(&c, i, "team/app") == a)
    });
    let refs = refs_of(&c, 0, "team/app");
    let main = refs
        .iter()
        .find(|l| l.ends_with(" refs/heads/main"))
        .expect("main");
    let winner = main.split(' ').next().expect("id");
    let loser = if winner == tip_a { &tip_b } else { &tip_a };
    assert!(winner == tip_a || winner == tip_b, "{refs:?}");
    assert!(
        refs.contains(&format!("{loser} refs/guts/conflicts/heads/main/{loser}")),
        "{refs:?}"
    );
    assert!(
        refs.contains(&format!("{only_b} refs/heads/topic")),
        "{refs:?}"
    );
    // Nothing is lost: both tips are in a clone from C, and it is sound.
    let (clone, _) = clone_check(&repo_url(&c, 2, "team/app"), "0");
    for tip in [&tip_a, &tip_b, &only_b] {
        git(
            &clone.path().join("c"),
            &["cat-file", "-e", &format!("{tip}^{{commit}}")],
        );
    }
    assert!(
        c.node(1).metric("guts_ref_conflicts_total") + c.node(0).metric("guts_ref_conflicts_total")
            >= 1.0
    );

    // Merging the loser into main (pushed to C) settles the conflict on every node.
    let w = clone.path().join("w");
    git(
        clone.path(),
        &["clone", "-q", &repo_url(&c, 2, "team/app"), "w"],
    );
    git(
        &w,
        &[
            "fetch",
            "-q",
            "origin",
            "refs/guts/conflicts/*:refs/conflicts/*",
        ],
    );
    git(
        &w,
        &[
            "merge",
            "-q",
            "-s",
            "ours",
            "-m",
            "merge the conflict",
            loser,
        ],
    );
    git(&w, &["push", "-q", "origin", "main"]);
    let merged = git(&w, &["rev-parse", "HEAD"]).trim().to_string();
    wait_for("the conflict ref to go everywhere", DEADLINE, || {
        (0..3).all(|i| {
            let refs = refs_of(&c, i, "team/app");
            refs.contains(&format!("{merged} refs/heads/main"))
                && !refs.iter().any(|l| l.contains("refs/guts/conflicts/"))
        })
    });
    // Node C's event log tells the story: the conflict kept, then settled by the merge.
    let url = guts_tests::ws::ws_url(&c.url(2), "since=0&channels=repo:team/app");
    let mut events = guts_tests::ws::WsClient::connect(&url).expect("events");
    let kept = events.event("conflict", DEADLINE);
    assert_eq!(kept["tip"], loser.as_str());
    assert_eq!(kept["resolved"], false);
    assert_eq!(
        kept["conflict_ref"],
        format!("refs/guts/conflicts/heads/main/{loser}")
    );
    let push = events.event("push", DEADLINE);
    assert_eq!(push["refs"][0]["new"], merged);
    let settled = events.event("conflict", DEADLINE);
    assert_eq!(settled["tip"], loser.as_str());
    assert_eq!(settled["resolved"], true);
}

#[test]
fn concurrent_pushes_to_two_nodes_end_identical() {
    let c = Cluster::start(3);
    let url_a = c.node(0).create_repo("race", "r");
    let src = tmp();
    make_repo(src.path(), 2);
    git(src.path(), &["push", "-q", &url_a, "main"]);
    wait_refs(&c, "race/r", &source_refs(src.path()));
    let url_b = repo_url(&c, 1, "race/r");
    // Both pushes may be accepted (then one tip becomes a conflict ref) or one may be
    // refused as non-fast-forward if the other arrived first; either way all nodes agree.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| try_push(&url_a, "left"));
        let b = s.spawn(|| try_push(&url_b, "right"));
        (a.join().expect("a"), b.join().expect("b"))
    });
    assert!(a.is_some() || b.is_some());
    wait_for("the same refs everywhere", DEADLINE, || {
        let first = refs_of(&c, 0, "race/r");
        let main = first.iter().any(|l| {
            a.as_ref().is_some_and(|t| l.starts_with(t.as_str()))
                || b.as_ref().is_some_and(|t| l.starts_with(t.as_str()))
        });
        main && (1..3).all(|i| refs_of(&c, i, "race/r") == first)
    });
    let refs = refs_of(&c, 2, "race/r");
    for tip in [&a, &b].into_iter().flatten() {
        assert!(
            refs.iter().any(|l| l.starts_with(tip.as_str())),
            "{tip} kept: {refs:?}"
        );
    }
}

/// Pushes one commit on main; the new tip if the push was accepted.
fn try_push(url: &str, tag: &str) -> Option<String> {
    let dir = tmp();
    git(dir.path(), &["clone", "-q", url, "w"]);
    let w = dir.path().join("w");
    commit_files(&w, tag, 500, 1);
    let out = guts_tests::git_output(&w, &["push", "-q", url, "main"]);
    out.status
        .success()
        .then(|| git(&w, &["rev-parse", "HEAD"]).trim().to_string())
}

#[test]
fn a_node_that_was_down_catches_up_by_anti_entropy() {
    let mut c = Cluster::start(3);
    let url_a = c.node(0).create_repo("late", "comer");
    let src = tmp();
    let w = src.path();
    make_repo(w, 2);
    git(w, &["push", "-q", &url_a, "main"]);
    wait_refs(&c, "late/comer", &source_refs(w));

    c.stop(2);
    for round in 0..3 {
        commit_files(w, "while-down", 10 + round * 2, 2);
        git(w, &["push", "-q", &url_a, "main"]);
    }
    git(w, &["checkout", "-q", "-b", "new-branch"]);
    commit_files(w, "branch", 50, 1);
    git(w, &["push", "-q", &url_a, "new-branch"]);
    git(w, &["tag", "-a", "t-late", "-m", "tag while down"]);
    git(w, &["push", "-q", &url_a, "t-late"]);
    let other = c.node(0).create_repo("late", "other");
    git(w, &["push", "-q", &other, "main"]);
    wait_refs(&c, "late/comer", &source_refs(w));

    c.restart(2);
    wait_refs(&c, "late/comer", &source_refs(w));
    let (_clone, refs) = clone_check(&repo_url(&c, 2, "late/comer"), "2");
    assert_eq!(refs, source_refs(w));
    let (_clone, refs) = clone_check(&repo_url(&c, 2, "late/other"), "0");
    assert!(refs.iter().any(|l| l.ends_with(" refs/heads/main")));
    assert!(c.node(2).metric("guts_p2p{what=\"anti_entropy_rounds\"}") >= 1.0);
}

/// Many quick small pushes: each peer receives packs that delta against the previous push
/// (fetched as stored, or by want/have while a parent is still missing) and must still read
/// every object (this once failed past 64 pushes, chaining through every earlier pack).
#[test]
fn a_hundred_quick_small_pushes_replicate_readably() {
    let c = Cluster::start(2);
    let url = c.node(0).create_repo("quick", "pushes");
    let src = tmp();
    let w = src.path();
    make_repo(w, 1);
    git(w, &["push", "-q", &url, "main"]);
    for i in 0..100 {
        commit_files(w, "quick", 10 + i, 1);
        git(w, &["push", "-q", &url, "main"]);
    }
    wait_refs(&c, "quick/pushes", &source_refs(w));
    let (clone, refs) = clone_check(&repo_url(&c, 1, "quick/pushes"), "2");
    assert_eq!(refs, source_refs(w));
    let mut objects = all_objects(&clone.path().join("c"));
    objects.sort();
    let mut source = all_objects(w);
    source.sort();
    assert_eq!(objects, source);
}

fn repo_status(c: &Cluster, i: usize, repo: &str) -> u16 {
    guts_tests::http("GET", &format!("{}/api/v1/repos/{repo}", c.url(i)), None).0
}

/// A deletion on one node reaches every node, including one that was down at the time, and
/// peers that still held the repository's updates do not bring it back. Created and pushed
/// again afterwards, it is back everywhere.
#[test]
fn a_deleted_repository_stays_deleted_everywhere() {
    let mut c = Cluster::start_with(3, Duration::from_secs(1));
    let url_a = c.node(0).create_repo("gone", "soon");
    let src = tmp();
    let w = src.path();
    make_repo(w, 2);
    git(w, &["push", "-q", &url_a, "main"]);
    wait_refs(&c, "gone/soon", &source_refs(w));

    c.stop(2);
    let url_b = format!("{}/api/v1/repos/gone/soon", c.url(1));
    assert_eq!(guts_tests::http("DELETE", &url_b, None).0, 204);
    wait_for("node 0 to delete it", DEADLINE, || {
        repo_status(&c, 0, "gone/soon") == 404
    });
    c.restart(2);
    c.wait_connected();
    wait_for("node 2 to learn of the deletion", DEADLINE, || {
        repo_status(&c, 2, "gone/soon") == 404
    });
    // Several anti-entropy rounds later it is still gone everywhere.
    let rounds = "guts_p2p{what=\"anti_entropy_rounds\"}";
    let before: Vec<f64> = (0..3).map(|i| c.node(i).metric(rounds)).collect();
    wait_for("three more rounds on every node", DEADLINE, || {
        (0..3).all(|i| c.node(i).metric(rounds) >= before[i] + 3.0)
    });
    for i in 0..3 {
        assert_eq!(
            repo_status(&c, i, "gone/soon"),
            404,
            "node {i} brought it back"
        );
        let out = guts_tests::git_output(
            Path::new("."),
            &["ls-remote", &repo_url(&c, i, "gone/soon")],
        );
        assert!(!out.status.success(), "node {i} still serves it");
    }
    assert!(c.node(2).metric("guts_p2p{what=\"records_applied\"}") >= 1.0);

    // Made again and pushed: back on every node, with only the new history.
    let url = c.node(2).create_repo("gone", "soon");
    let again = tmp();
    make_repo(again.path(), 1);
    git(again.path(), &["push", "-q", &url, "main"]);
    wait_refs(&c, "gone/soon", &source_refs(again.path()));
}

/// Creation (without any push) and metadata changes replicate: the last change wins on
/// every node, whichever node made it.
#[test]
fn creation_and_metadata_changes_replicate() {
    let c = Cluster::start(3);
    let (status, _) = guts_tests::http(
        "POST",
        &format!("{}/api/v1/repos", c.url(0)),
        Some(serde_json::json!({
            "owner": "meta", "name": "repo", "description": "first words", "default_branch": "trunk"
        })),
    );
    assert_eq!(status, 201);
    let field = |i: usize, f: &str| {
        let (status, body) =
            guts_tests::http("GET", &format!("{}/api/v1/repos/meta/repo", c.url(i)), None);
        (status == 200).then(|| body[f].clone())
    };
    wait_for("the repository on every node", DEADLINE, || {
        (0..3).all(|i| field(i, "description") == Some("first words".into()))
    });
    assert_eq!(field(2, "default_branch"), Some("trunk".into()));

    let (status, _) = guts_tests::http(
        "PATCH",
        &format!("{}/api/v1/repos/meta/repo", c.url(2)),
        Some(serde_json::json!({ "description": "second words", "private": true })),
    );
    assert_eq!(status, 200);
    wait_for("the change on every node", DEADLINE, || {
        (0..3).all(|i| {
            field(i, "description") == Some("second words".into())
                && field(i, "private") == Some(true.into())
        })
    });
    // An empty repository clones from any node, HEAD on the replicated default branch.
    let out = guts_tests::git_output(
        Path::new("."),
        &[
            "ls-remote",
            "--symref",
            &repo_url(&c, 1, "meta/repo"),
            "HEAD",
        ],
    );
    assert!(out.status.success());
}

/// A log longer than one page of updates (8,192) reaches a node that was down, page by page.
#[test]
fn a_long_update_log_converges_by_pages() {
    let mut c = Cluster::start_with(2, Duration::from_secs(1));
    let url = c.node(0).create_repo("many", "tags");
    let src = tmp();
    let w = src.path();
    make_repo(w, 2);
    git(w, &["push", "-q", &url, "main"]);
    wait_refs(&c, "many/tags", &source_refs(w));
    c.stop(1);
    let head = git(w, &["rev-parse", "HEAD"]).trim().to_string();
    let input: String = (0..8300)
        .map(|i| format!("create refs/tags/t{i:05} {head}\n"))
        .collect();
    update_refs(w, &input);
    git(w, &["push", "-q", &url, "--tags"]);
    c.restart(1);
    wait_refs(&c, "many/tags", &source_refs(w));
}

/// A pack of several 1 MiB chunks, fetched by two peers at once as the origin stored it:
/// chunks are asked for a few at a time and may be served in any order (the session used
/// to end at the last offset, failing chunks still in flight).
#[test]
fn multi_chunk_packs_are_fetched_as_stored_by_every_peer() {
    let c = Cluster::start(3);
    let url = c.node(0).create_repo("big", "blobs");
    let src = tmp();
    let w = src.path();
    git(w, &["init", "-q", "-b", "main"]);
    let data = guts_tests::random_bytes(5 << 20);
    for (f, part) in data.chunks(1 << 20).enumerate() {
        std::fs::write(w.join(format!("blob-{f}.bin")), part).expect("write");
    }
    commit_files(w, "big", 0, 1);
    git(w, &["push", "-q", &url, "main"]);
    wait_refs(&c, "big/blobs", &source_refs(w));
    let stored = "guts_p2p{what=\"stored_packs_applied\"}";
    for i in [1, 2] {
        assert!(
            c.node(i).metric(stored) >= 1.0,
            "node {i} fetched by want/have"
        );
    }
    let (_clone, refs) = clone_check(&repo_url(&c, 2, "big/blobs"), "2");
    assert_eq!(refs, source_refs(w));
}

/// Four nodes in a line, anti-entropy as good as off: a push at either end reaches the other
/// end by gossip alone, each node fetching from the one before it (which passes the
/// announcement on only once it can serve what it announces).
#[test]
fn a_push_travels_a_line_of_nodes_by_gossip_alone() {
    let c = Cluster::line(4, Duration::from_secs(3600));
    let url_a = c.node(0).create_repo("alice", "line");
    let src = tmp();
    let w = src.path();
    make_repo(w, 3);
    git(w, &["push", "-q", &url_a, "--all"]);
    wait_refs(&c, "alice/line", &source_refs(w));
    // Each node counts the hops the push took to reach it (`/metrics` and `/health`).
    let hops = |i: usize| c.node(i).metric("guts_p2p{what=\"hops_last\"}");
    for i in 1..4 {
        assert_eq!(hops(i), i as f64, "node {i}");
    }
    let (_, health) = http("GET", &format!("{}/health", c.node(3).url), None);
    assert_eq!(
        health["components"]["p2p"]["replication"]["hops_max"], 3,
        "{health}"
    );
    // The other way, from the far end.
    commit_files(w, "main", 50, 2);
    git(w, &["tag", "far", "HEAD"]);
    let url_d = repo_url(&c, 3, "alice/line");
    git(w, &["push", "-q", &url_d, "main", "far"]);
    wait_refs(&c, "alice/line", &source_refs(w));
    assert_eq!(hops(0), 3.0);
    let (_clone, refs) = clone_check(&repo_url(&c, 0, "alice/line"), "2");
    assert_eq!(refs, source_refs(w));
    // Nothing came by anti-entropy after the start: every update came by announcement.
    for i in 1..3 {
        let node = c.node(i);
        assert!(node.metric("guts_p2p{what=\"announcements_received\"}") >= 2.0);
    }
}

/// A push of 2,000 branches and tags replicates by announcements alone (anti-entropy as
/// good as off): every part of the split push is accepted by the peer, none is refused as
/// malformed.
#[test]
fn a_push_of_two_thousand_refs_replicates_by_announcements_alone() {
    let c = Cluster::start_with(2, Duration::from_secs(3600));
    let url = c.node(0).create_repo("alice", "many");
    let src = tmp();
    let w = src.path();
    make_repo(w, 4);
    let commits: Vec<String> = git(w, &["rev-list", "HEAD"])
        .lines()
        .map(str::to_string)
        .collect();
    let mut script = String::new();
    for i in 0..1000 {
        let id = &commits[i % commits.len()];
        script.push_str(&format!("create refs/heads/topic/branch-{i:04} {id}\n"));
        script.push_str(&format!("create refs/tags/v{i}.0.0 {id}\n"));
    }
    update_refs(w, &script);
    git(w, &["push", "-q", &url, "--all"]);
    git(w, &["push", "-q", &url, "--tags"]);
    let want = source_refs(w);
    assert_eq!(want.len(), 2001);
    wait_refs(&c, "alice/many", &want);
    let rejected = c
        .node(1)
        .metric("guts_p2p{what=\"announcements_rejected\"}");
    assert_eq!(rejected, 0.0, "an honest announcement was refused");
    assert!(
        c.node(1)
            .metric("guts_p2p{what=\"announcements_received\"}")
            >= 16.0
    );
}
