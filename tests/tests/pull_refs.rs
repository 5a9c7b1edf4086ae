//! `refs/pull/N/head` and `refs/pull/N/merge`, fetched with the real git over protocol v0
//! and v2 from both nodes of a network: the head of a pull request from the repository
//! itself and from a fork (another user's repository of the same name), the test merge of
//! each that merges cleanly (its tree is `git merge-tree --write-tree`'s, its parents the
//! two tips, the same commit on every node) and none for one that conflicts. A plain clone
//! carries none of the test merges' objects; a mirror clone carries every one, `git fsck`
//! clean.

use std::path::Path;
use std::time::Duration;

use guts_tests::cluster::Cluster;
use guts_tests::{
    api_url, commit_text, git, git_output, http, new_user, tmp, wait_for, with_token,
};
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(60);

fn lines(changed: Option<(usize, &str)>) -> String {
    (1..=10)
        .map(|i| match changed {
            Some((at, text)) if at == i => format!("{text}\n"),
            _ => format!("line {i}\n"),
        })
        .collect()
}

fn rev(w: &Path, what: &str) -> String {
    git(w, &["rev-parse", what]).trim().to_string()
}

fn create(c: &Cluster, owner: &str, token: &str) {
    let (status, body) = http(
        "POST",
        &api_url(c.node(0), "/repos", Some(token)),
        Some(json!({ "owner": owner, "name": "app" })),
    );
    assert_eq!(status, 201, "{body}");
}

fn open(c: &Cluster, token: &str, head: &str, title: &str) -> u64 {
    let (status, pr) = http(
        "POST",
        &api_url(c.node(0), "/repos/alice/app/pulls", Some(token)),
        Some(json!({ "title": title, "head": head, "base": "main" })),
    );
    assert_eq!(status, 201, "{pr}");
    pr["number"].as_u64().expect("number")
}

#[test]
fn pull_request_refs_are_fetched_with_git_from_every_node() {
    let c = Cluster::start(2);
    let alice = new_user(c.node(0), "alice");
    let bob = new_user(c.node(0), "bob");
    create(&c, "alice", &alice);
    create(&c, "bob", &bob);
    let push = |owner: &str, token: &str| {
        with_token(
            &format!("{}/{owner}/app.git", c.node(0).anon_url),
            owner,
            token,
        )
    };

    // main; topic changes line 2; clash changes line 8 as main does after; bob's fork
    // adds a file on its own branch.
    let src = tmp();
    let w = src.path();
    git(w, &["init", "-q", "-b", "main"]);
    git(w, &["config", "user.name", "a"]);
    git(w, &["config", "user.email", "a@example.com"]);
    commit_text(w, "a.txt", &lines(None), "base");
    git(w, &["checkout", "-q", "-b", "topic"]);
    commit_text(w, "a.txt", &lines(Some((2, "topic's"))), "topic");
    git(w, &["checkout", "-q", "-b", "clash", "main"]);
    commit_text(w, "a.txt", &lines(Some((8, "clash's"))), "clash");
    git(w, &["checkout", "-q", "-b", "feature", "main"]);
    commit_text(w, "b.txt", "bob's file\n", "feature");
    git(w, &["checkout", "-q", "main"]);
    commit_text(w, "a.txt", &lines(Some((8, "main's"))), "main moves");
    git(
        w,
        &[
            "push",
            "-q",
            &push("alice", &alice),
            "main",
            "topic",
            "clash",
        ],
    );
    git(w, &["push", "-q", &push("bob", &bob), "main", "feature"]);

    let topic = open(&c, &alice, "topic", "Topic");
    let feature = open(&c, &bob, "bob:feature", "From bob's fork");
    let clash = open(&c, &alice, "clash", "Clash");
    wait_for(
        "the pull requests and bob's fork on node 1",
        DEADLINE,
        || {
            let (status, v) = http(
                "GET",
                &api_url(c.node(1), &format!("/repos/alice/app/pulls/{clash}"), None),
                None,
            );
            let fork = git_output(
                w,
                &[
                    "ls-remote",
                    &format!("{}/bob/app.git", c.node(1).anon_url),
                    "refs/heads/feature",
                ],
            );
            status == 200
                && v["mergeable"] == false
                && String::from_utf8_lossy(&fork.stdout).contains(&rev(w, "feature"))
        },
    );

    let mut merges = Vec::new();
    for i in 0..2 {
        for v in ["0", "2"] {
            let dir = tmp();
            let d = dir.path();
            git(d, &["init", "-q"]);
            let from = format!("{}/alice/app.git", c.node(i).anon_url);
            git(
                d,
                &[
                    "-c",
                    &format!("protocol.version={v}"),
                    "fetch",
                    "-q",
                    &from,
                    "+refs/heads/*:refs/remotes/o/*",
                    "+refs/pull/*:refs/remotes/pr/*",
                ],
            );
            git(d, &["fsck", "--strict"]);
            let at = |r: &str| rev(d, &format!("refs/remotes/pr/{r}"));
            assert_eq!(at(&format!("{topic}/head")), rev(w, "topic"));
            assert_eq!(at(&format!("{feature}/head")), rev(w, "feature"));
            assert_eq!(at(&format!("{clash}/head")), rev(w, "clash"));
            let none = git_output(
                d,
                &[
                    "rev-parse",
                    "-q",
                    "--verify",
                    &format!("refs/remotes/pr/{clash}/merge"),
                ],
            );
            assert!(
                !none.status.success(),
                "a conflicting pull request has no merge ref"
            );
            let mut ids = Vec::new();
            for (n, head) in [(topic, "topic"), (feature, "feature")] {
                let merge = at(&format!("{n}/merge"));
                let parents = git(d, &["rev-list", "--parents", "-n", "1", &merge]);
                assert_eq!(
                    parents.split_whitespace().skip(1).collect::<Vec<_>>(),
                    vec![rev(w, "main"), rev(w, head)],
                    "node {i}, v{v}"
                );
                let tree = rev(d, &format!("{merge}^{{tree}}"));
                let want = git(w, &["merge-tree", "--write-tree", "main", head]);
                assert_eq!(tree, want.lines().next().expect("tree"));
                ids.push(merge);
            }
            merges.push(ids);
        }
    }
    assert!(
        merges.windows(2).all(|m| m[0] == m[1]),
        "one test merge on every node: {merges:?}"
    );

    // A plain clone has none of the test merges' objects; a mirror has them all.
    let plain = tmp();
    let p = plain.path().join("c");
    git(
        plain.path(),
        &[
            "clone",
            "-q",
            &format!("{}/alice/app.git", c.node(0).anon_url),
            "c",
        ],
    );
    for m in &merges[0] {
        let has = git_output(&p, &["cat-file", "-e", m]);
        assert!(!has.status.success(), "a plain clone holds test merge {m}");
    }
    let mirror = tmp();
    let m = mirror.path().join("m.git");
    git(
        mirror.path(),
        &[
            "clone",
            "-q",
            "--mirror",
            &format!("{}/alice/app.git", c.node(1).anon_url),
            "m.git",
        ],
    );
    git(&m, &["fsck", "--strict"]);
    for id in &merges[0] {
        git(&m, &["cat-file", "-e", id]);
    }
}
