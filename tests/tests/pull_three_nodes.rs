//! One pull request worked on from three nodes, under a rule that asks for an approval:
//! opened on A, commented on from B and C at once, its head branch pushed to on C,
//! approved on B at the new head, merged on A. Every node ends showing the same pull
//! request (both comments, the review, merged), and a clone from each node has the merge
//! commit on main with the old main and the new head as parents, `git fsck` clean.

use std::time::Duration;

use guts_tests::cluster::Cluster;
use guts_tests::{api_url, commit_text, git, http, new_user, tmp, wait_for, with_token};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(60);

fn pull(c: &Cluster, i: usize, token: &str) -> Value {
    http(
        "GET",
        &api_url(c.node(i), "/repos/alice/app/pulls/1", Some(token)),
        None,
    )
    .1
}

/// What every node must agree on: the pull request as shown, and its comments and reviews.
fn seen(c: &Cluster, i: usize, token: &str) -> (Value, Value, Value) {
    let mut p = pull(c, i, token);
    // Computed by each node from its refs at the time of asking.
    for k in ["mergeable", "mergeable_state", "conflicts", "updated_at"] {
        if let Some(o) = p.as_object_mut() {
            o.remove(k);
        }
    }
    let get = |path: &str| {
        http(
            "GET",
            &api_url(c.node(i), &format!("/repos/alice/app{path}"), Some(token)),
            None,
        )
        .1
    };
    (p, get("/issues/1/comments"), get("/pulls/1/reviews"))
}

#[test]
fn a_pull_request_worked_on_from_three_nodes_merges_once_the_same_everywhere() {
    let c = Cluster::start(3);
    let alice = new_user(c.node(0), "alice");
    let carol = new_user(c.node(0), "carol");
    let (status, body) = http(
        "POST",
        &api_url(c.node(0), "/repos", Some(&alice)),
        Some(json!({ "owner": "alice", "name": "app" })),
    );
    assert_eq!(status, 201, "{body}");
    let (status, _) = http(
        "PUT",
        &api_url(
            c.node(0),
            "/repos/alice/app/collaborators/carol",
            Some(&alice),
        ),
        Some(json!({ "permission": "write" })),
    );
    assert_eq!(status, 204);
    let (status, _) = http(
        "POST",
        &api_url(c.node(0), "/repos/alice/app/protections", Some(&alice)),
        Some(json!({ "pattern": "main", "required_approvals": 1 })),
    );
    assert_eq!(status, 201);
    let push_to = |i: usize| {
        with_token(
            &format!("{}/alice/app.git", c.node(i).anon_url),
            "alice",
            &alice,
        )
    };
    let src = tmp();
    let w = src.path();
    git(w, &["init", "-q", "-b", "main"]);
    git(w, &["config", "user.name", "a"]);
    git(w, &["config", "user.email", "a@example.com"]);
    commit_text(w, "a.txt", "one\ntwo\nthree\n", "base");
    git(w, &["checkout", "-q", "-b", "topic"]);
    commit_text(w, "b.txt", "topic\n", "topic");
    git(w, &["push", "-q", &push_to(0), "main", "topic"]);
    let old_main = git(w, &["rev-parse", "main"]).trim().to_string();

    // Opened on A.
    let (status, pr) = http(
        "POST",
        &api_url(c.node(0), "/repos/alice/app/pulls", Some(&alice)),
        Some(json!({ "title": "Topic", "head": "topic", "base": "main" })),
    );
    assert_eq!(status, 201, "{pr}");
    assert_eq!(pr["number"], 1);
    wait_for(
        "the pull request and carol's access on B and C",
        DEADLINE,
        || {
            (1..3).all(|i| pull(&c, i, &carol)["number"] == 1)
                && (1..3).all(|i| {
                    http(
                        "GET",
                        &api_url(
                            c.node(i),
                            "/repos/alice/app/collaborators/carol",
                            Some(&alice),
                        ),
                        None,
                    )
                    .0 == 200
                })
        },
    );

    // Commented on from B and C at once.
    std::thread::scope(|s| {
        for (i, token, text) in [(1, &carol, "from B"), (2, &alice, "from C")] {
            let node = c.node(i);
            s.spawn(move || {
                let (status, body) = http(
                    "POST",
                    &api_url(node, "/repos/alice/app/issues/1/comments", Some(token)),
                    Some(json!({ "body": text })),
                );
                assert_eq!(status, 201, "{body}");
            });
        }
    });

    // Its head branch pushed to on C.
    commit_text(w, "c.txt", "more\n", "topic goes on");
    git(w, &["push", "-q", &push_to(2), "topic"]);
    let head = git(w, &["rev-parse", "topic"]).trim().to_string();

    // Approved on B, at the new head.
    wait_for("the new head on B", DEADLINE, || {
        pull(&c, 1, &carol)["head"]["sha"] == head.as_str()
    });
    let (status, r) = http(
        "POST",
        &api_url(c.node(1), "/repos/alice/app/pulls/1/reviews", Some(&carol)),
        Some(json!({ "event": "APPROVE", "commit_id": head })),
    );
    assert_eq!(status, 201, "{r}");

    // Merged on A, once A has the approval and the new head.
    wait_for("the approval and the head on A", DEADLINE, || {
        let p = pull(&c, 0, &alice);
        p["approved_by"] == json!(["carol"]) && p["head"]["sha"] == head.as_str()
    });
    let (status, merged) = http(
        "PUT",
        &api_url(c.node(0), "/repos/alice/app/pulls/1/merge", Some(&alice)),
        Some(json!({ "merge_method": "merge" })),
    );
    assert_eq!(status, 200, "{merged}");
    let sha = merged["sha"].as_str().expect("sha").to_string();

    // The same pull request on every node.
    wait_for("one pull request on every node", DEADLINE, || {
        let all: Vec<_> = (0..3).map(|i| seen(&c, i, &alice)).collect();
        all[0].0["merged"] == true
            && all[0].1.as_array().map(Vec::len) == Some(2)
            && all[0].2.as_array().map(Vec::len) == Some(1)
            && all.windows(2).all(|p| p[0] == p[1])
    });
    // A clone from each node: the merge on main, git's parents, fsck clean.
    for i in 0..3 {
        let dir = tmp();
        let d = dir.path().join("c");
        git(
            dir.path(),
            &[
                "clone",
                "-q",
                &format!("{}/alice/app.git", c.node(i).anon_url),
                "c",
            ],
        );
        git(&d, &["fsck", "--strict"]);
        assert_eq!(git(&d, &["rev-parse", "HEAD"]).trim(), sha, "node {i}");
        let parents = git(&d, &["rev-list", "--parents", "-n", "1", "HEAD"]);
        assert_eq!(
            parents.split_whitespace().skip(1).collect::<Vec<_>>(),
            vec![old_main.as_str(), head.as_str()]
        );
        git(&d, &["cat-file", "-e", "HEAD:c.txt"]);
    }
}
