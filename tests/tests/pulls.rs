//! Pull requests across two nodes: opened on one, shown on the other with the tips of
//! head and base and whether they merge; the verdict and the conflicting paths are git's
//! own (`git merge-tree --write-tree`), and a conflict resolved by a push makes it
//! mergeable. Pull requests share issues' numbers; bad input is refused.

use std::path::Path;
use std::time::Duration;

use guts_tests::cluster::Cluster;
use guts_tests::{TestNode, git, git_output, http, tmp, wait_for, with_token};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(60);

fn url(node: &TestNode, path: &str, token: Option<&str>) -> String {
    let u = format!("{}/api/v1{path}", node.anon_url);
    match token {
        Some(t) => with_token(&u, "x", t),
        None => u,
    }
}

fn lines(n: usize, changed: Option<(usize, &str)>) -> String {
    (1..=n)
        .map(|i| match changed {
            Some((at, text)) if at == i => format!("{text}\n"),
            _ => format!("line {i}\n"),
        })
        .collect()
}

fn commit(w: &Path, file: &str, text: &str, msg: &str) {
    std::fs::write(w.join(file), text).expect("write");
    git(w, &["add", "."]);
    git(w, &["commit", "-q", "-m", msg]);
}

/// What git says of merging `head` into `base`: clean, and the conflicting paths.
fn git_says(w: &Path, base: &str, head: &str) -> (bool, Vec<String>) {
    let out = git_output(
        w,
        &[
            "merge-tree",
            "--write-tree",
            "--name-only",
            "--no-messages",
            base,
            head,
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let paths = text
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    (out.status.success(), paths)
}

fn show(c: &Cluster, i: usize, n: u64) -> (u16, Value) {
    http(
        "GET",
        &url(c.node(i), &format!("/repos/alice/app/pulls/{n}"), None),
        None,
    )
}

fn conflicts(v: &Value) -> Vec<String> {
    v["conflicts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| c["path"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn pull_requests_merge_or_conflict_as_git_says_on_every_node() {
    let c = Cluster::start(2);
    let (status, body) = http(
        "POST",
        &format!("{}/api/v1/users", c.node(0).url),
        Some(json!({ "name": "alice" })),
    );
    assert_eq!(status, 201, "{body}");
    let alice = body["token"].as_str().expect("token").to_string();
    let (status, body) = http(
        "POST",
        &url(c.node(0), "/repos", Some(&alice)),
        Some(json!({ "owner": "alice", "name": "app" })),
    );
    assert_eq!(status, 201, "{body}");
    let push_url = with_token(
        &format!("{}/alice/app.git", c.node(0).anon_url),
        "alice",
        &alice,
    );

    // main, topic (changes line 2, adds a file), main moves (line 8), clash (line 8 too).
    let src = tmp();
    let w = src.path();
    git(w, &["init", "-q", "-b", "main"]);
    git(w, &["config", "user.name", "a"]);
    git(w, &["config", "user.email", "a@example.com"]);
    commit(w, "a.txt", &lines(10, None), "base");
    git(w, &["checkout", "-q", "-b", "topic"]);
    commit(w, "a.txt", &lines(10, Some((2, "topic's line 2"))), "topic");
    commit(w, "c.txt", "new\n", "topic adds c");
    git(w, &["checkout", "-q", "-b", "clash", "main"]);
    commit(w, "a.txt", &lines(10, Some((8, "clash's line 8"))), "clash");
    git(w, &["checkout", "-q", "main"]);
    commit(
        w,
        "a.txt",
        &lines(10, Some((8, "main's line 8"))),
        "main moves",
    );
    git(w, &["push", "-q", &push_url, "main", "topic", "clash"]);

    // An issue first: pull requests share its numbers.
    let (status, _) = http(
        "POST",
        &url(c.node(0), "/repos/alice/app/issues", Some(&alice)),
        Some(json!({ "title": "an issue" })),
    );
    assert_eq!(status, 201);

    let pulls = url(c.node(0), "/repos/alice/app/pulls", Some(&alice));
    for (bad, want) in [
        (
            json!({ "title": "x", "head": "topic", "base": "nope" }),
            422,
        ),
        (json!({ "title": "x", "head": "nope", "base": "main" }), 422),
        (json!({ "title": "x", "head": "main", "base": "main" }), 422),
        (json!({ "title": "", "head": "topic", "base": "main" }), 422),
    ] {
        let (status, body) = http("POST", &pulls, Some(bad));
        assert_eq!(status, want, "{body}");
    }
    let anon = url(c.node(0), "/repos/alice/app/pulls", None);
    assert_eq!(
        http(
            "POST",
            &anon,
            Some(json!({ "title": "x", "head": "topic", "base": "main" }))
        )
        .0,
        401
    );
    let (status, clean) = http(
        "POST",
        &pulls,
        Some(json!({ "title": "Topic", "head": "topic", "base": "main" })),
    );
    assert_eq!(status, 201, "{clean}");
    assert_eq!(clean["number"], 2);
    let (status, clash) = http(
        "POST",
        &pulls,
        Some(json!({ "title": "Clash", "head": "clash", "base": "main" })),
    );
    assert_eq!(status, 201, "{clash}");
    assert_eq!(clash["number"], 3);

    // Node 1 shows both, with git's verdicts.
    wait_for(
        "both pull requests and their branches on node 1",
        DEADLINE,
        || {
            let (s2, v2) = show(&c, 1, 2);
            let (s3, v3) = show(&c, 1, 3);
            s2 == 200 && s3 == 200 && v2["mergeable"].is_boolean() && v3["mergeable"].is_boolean()
        },
    );
    let main_tip = git(w, &["rev-parse", "main"]).trim().to_string();
    let (_, v) = show(&c, 1, 2);
    assert_eq!(v["head"]["sha"], git(w, &["rev-parse", "topic"]).trim());
    assert_eq!(v["base"]["sha"], main_tip.as_str());
    let (git_clean, _) = git_says(w, "main", "topic");
    assert!(git_clean);
    assert_eq!(v["mergeable"], true, "{v}");
    assert_eq!(v["mergeable_state"], "clean");
    let (git_clean, git_paths) = git_says(w, "main", "clash");
    assert!(!git_clean);
    let (_, v) = show(&c, 1, 3);
    assert_eq!(v["mergeable"], false, "{v}");
    assert_eq!(conflicts(&v), git_paths);

    // Its commits: the head's that main lacks, oldest first.
    let (_, commits) = http(
        "GET",
        &url(c.node(1), "/repos/alice/app/pulls/2/commits", None),
        None,
    );
    let shas: Vec<&str> = commits
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["sha"].as_str().expect("sha"))
        .collect();
    let want = git(w, &["rev-list", "--reverse", "main..topic"]);
    assert_eq!(shas, want.lines().collect::<Vec<_>>());

    // Lists: pulls has the two; issues has all three, the pull requests marked.
    let (_, list) = http("GET", &url(c.node(1), "/repos/alice/app/pulls", None), None);
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    let (_, list) = http(
        "GET",
        &url(c.node(1), "/repos/alice/app/issues", None),
        None,
    );
    let marked: Vec<bool> = list
        .as_array()
        .expect("list")
        .iter()
        .map(|i| i.get("pull_request").is_some())
        .collect();
    assert_eq!(marked, vec![true, true, false]);

    // The conflict resolved by a push: mergeable now, on both nodes.
    git(w, &["checkout", "-q", "clash"]);
    let out = git_output(w, &["merge", "-q", "main"]);
    assert!(!out.status.success(), "the merge conflicts");
    commit(w, "a.txt", &lines(10, Some((8, "both line 8s"))), "resolve");
    git(w, &["push", "-q", &push_url, "clash"]);
    assert!(git_says(w, "main", "clash").0);
    wait_for("the resolution on both nodes", DEADLINE, || {
        (0..2).all(|i| show(&c, i, 3).1["mergeable"] == true)
    });
}
