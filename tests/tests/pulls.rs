//! Pull requests across two nodes: opened on one, shown on the other with the tips of
//! head and base and whether they merge; the verdict and the conflicting paths are git's
//! own (`git merge-tree --write-tree`), and a conflict resolved by a push makes it
//! mergeable. Pull requests share issues' numbers; bad input is refused.

use std::path::Path;
use std::time::Duration;

use guts_tests::cluster::Cluster;
use guts_tests::{TestNode, git, git_output, http, new_user, tmp, wait_for, with_token};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(60);

fn url(node: &TestNode, path: &str, token: Option<&str>) -> String {
    guts_tests::api_url(node, path, token)
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
    guts_tests::commit_text(w, file, text, msg);
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
    let alice = new_user(c.node(0), "alice");
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

    // Its head is advertised as refs/pull/2/head: git fetches it, v2 and v0.
    for (i, proto) in [(1, "2"), (0, "0")] {
        let from = format!("{}/alice/app.git", c.node(i).anon_url);
        git(
            w,
            &[
                "-c",
                &format!("protocol.version={proto}"),
                "fetch",
                "-q",
                &from,
                "pull/2/head",
            ],
        );
        assert_eq!(
            git(w, &["rev-parse", "FETCH_HEAD"]).trim(),
            git(w, &["rev-parse", "topic"]).trim()
        );
    }

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

    // Its files: what `git diff --numstat main...topic` says.
    let (_, files) = http(
        "GET",
        &url(c.node(1), "/repos/alice/app/pulls/2/files", None),
        None,
    );
    let got: Vec<String> = files
        .as_array()
        .expect("list")
        .iter()
        .map(|f| {
            format!(
                "{}\t{}\t{}",
                f["additions"],
                f["deletions"],
                f["filename"].as_str().unwrap_or("")
            )
        })
        .collect();
    let want = git(w, &["diff", "--numstat", "main...topic"]);
    assert_eq!(got, want.lines().collect::<Vec<_>>());
    let a = files
        .as_array()
        .expect("list")
        .iter()
        .find(|f| f["filename"] == "a.txt")
        .expect("a.txt");
    let git_patch = git(w, &["diff", "main...topic", "--", "a.txt"]);
    let hunks = &git_patch[git_patch.find("@@").expect("a hunk")..];
    assert_eq!(a["patch"], hunks);
    assert_eq!(a["status"], "modified");

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

    // The conflict resolved by a push: mergeable now, on both nodes, and both nodes' hubs
    // say the pull request was updated (node 0 took the push, node 1 replicated it).
    let mut subscribers: Vec<_> = (0..2)
        .map(|i| {
            let mut ws = guts_tests::ws::WsClient::connect(&guts_tests::ws::ws_url(
                &c.node(i).anon_url,
                "channels=repo:alice/app",
            ))
            .expect("ws");
            ws.expect("subscribed", DEADLINE);
            ws
        })
        .collect();
    git(w, &["checkout", "-q", "clash"]);
    let out = git_output(w, &["merge", "-q", "main"]);
    assert!(!out.status.success(), "the merge conflicts");
    commit(w, "a.txt", &lines(10, Some((8, "both line 8s"))), "resolve");
    git(w, &["push", "-q", &push_url, "clash"]);
    assert!(git_says(w, "main", "clash").0);
    for ws in &mut subscribers {
        let e = ws.event("pull.updated", DEADLINE);
        assert_eq!(e["number"], 3, "{e}");
    }
    wait_for("the resolution on both nodes", DEADLINE, || {
        (0..2).all(|i| show(&c, i, 3).1["mergeable"] == true)
    });
    merges(&c, w, &alice);
}

/// Fetches `main` from node `i` into the work tree as `node-i`, checked by `git fsck`.
fn fetch_main(c: &Cluster, w: &Path, i: usize) -> String {
    let from = format!("{}/alice/app.git", c.node(i).anon_url);
    git(
        w,
        &[
            "fetch",
            "-q",
            &from,
            &format!("+main:refs/remotes/node{i}/main"),
        ],
    );
    git(w, &["fsck", "--strict"]);
    git(w, &["rev-parse", &format!("refs/remotes/node{i}/main")])
        .trim()
        .to_string()
}

/// Merges the pull requests: refused without write access, while conflicting, and twice;
/// a merge commit, a squash and a rebase made on node 1 are what git expects, on both
/// nodes.
fn merges(c: &Cluster, w: &Path, alice: &str) {
    let merge = |i: usize, t: &str, n: u64, body: Value| {
        http(
            "PUT",
            &url(
                c.node(i),
                &format!("/repos/alice/app/pulls/{n}/merge"),
                Some(t),
            ),
            Some(body),
        )
    };
    let carol = new_user(c.node(0), "carol");
    wait_for("carol on node 1", DEADLINE, || {
        http("GET", &url(c.node(1), "/user", Some(&carol)), None).0 == 200
    });
    // Reviews: the author does not approve their own; Carol approves on node 1, and node 0
    // lists it.
    let review = |i: usize, t: &str, n: u64, body: Value| {
        http(
            "POST",
            &url(
                c.node(i),
                &format!("/repos/alice/app/pulls/{n}/reviews"),
                Some(t),
            ),
            Some(body),
        )
    };
    assert_eq!(review(1, alice, 2, json!({ "event": "APPROVE" })).0, 422);
    assert_eq!(
        review(1, &carol, 2, json!({ "event": "REQUEST_CHANGES" })).0,
        422
    );
    assert_eq!(review(1, &carol, 2, json!({ "event": "MAYBE" })).0, 422);
    let (status, r) = review(1, &carol, 2, json!({ "event": "APPROVE", "body": "lgtm" }));
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["state"], "APPROVED");
    assert_eq!(r["commit_id"], git(w, &["rev-parse", "topic"]).trim());
    wait_for("the review on node 0", DEADLINE, || {
        let (_, v) = http(
            "GET",
            &url(c.node(0), "/repos/alice/app/pulls/2/reviews", None),
            None,
        );
        v.as_array()
            .is_some_and(|a| a.len() == 1 && a[0]["user"]["login"] == "carol")
    });
    assert_eq!(merge(1, &carol, 2, json!({})).0, 403);
    assert_eq!(
        merge(1, alice, 2, json!({ "merge_method": "octopus" })).0,
        422
    );

    approvals(c, w, alice, &merge);

    // A merge commit, made on node 1.
    let old_main = git(w, &["rev-parse", "main"]).trim().to_string();
    let topic = git(w, &["rev-parse", "topic"]).trim().to_string();
    let (status, merged) = merge(1, alice, 2, json!({ "merge_method": "merge" }));
    assert_eq!(status, 200, "{merged}");
    let sha = merged["sha"].as_str().expect("sha").to_string();
    wait_for("the merge on node 0", DEADLINE, || {
        fetch_main(c, w, 0) == sha
    });
    assert_eq!(fetch_main(c, w, 1), sha);
    let parents = git(w, &["rev-list", "--parents", "-n", "1", &sha]);
    assert_eq!(
        parents.split_whitespace().skip(1).collect::<Vec<_>>(),
        vec![old_main.as_str(), topic.as_str()]
    );
    let tree = git(w, &["rev-parse", &format!("{sha}^{{tree}}")]);
    let want = git(w, &["merge-tree", "--write-tree", &old_main, &topic]);
    assert_eq!(tree.trim(), want.lines().next().expect("tree"));
    wait_for("merged on both nodes", DEADLINE, || {
        (0..2).all(|i| show(c, i, 2).1["merged"] == true)
    });
    assert_eq!(merge(0, alice, 2, json!({})).0, 405, "merged once");
    drop_rule(c, alice);

    // The resolved clash, squashed on node 1: one commit on main with the merged tree.
    git(
        w,
        &[
            "fetch",
            "-q",
            &format!("{}/alice/app.git", c.node(0).anon_url),
            "+clash:refs/remotes/node0/clash",
        ],
    );
    let clash = git(w, &["rev-parse", "refs/remotes/node0/clash"])
        .trim()
        .to_string();
    let (status, squashed) = merge(1, alice, 3, json!({ "merge_method": "squash" }));
    assert_eq!(status, 200, "{squashed}");
    let sha2 = squashed["sha"].as_str().expect("sha").to_string();
    wait_for("the squash on node 0", DEADLINE, || {
        fetch_main(c, w, 0) == sha2
    });
    let parents = git(w, &["rev-list", "--parents", "-n", "1", &sha2]);
    assert_eq!(
        parents.split_whitespace().skip(1).collect::<Vec<_>>(),
        vec![sha.as_str()]
    );
    let tree = git(w, &["rev-parse", &format!("{sha2}^{{tree}}")]);
    let want = git(w, &["merge-tree", "--write-tree", &sha, &clash]);
    assert_eq!(tree.trim(), want.lines().next().expect("tree"));

    // A rebase: two commits re-applied on main, in order, with their messages.
    git(w, &["checkout", "-q", "-b", "rb", &old_main]);
    commit(w, "r1.txt", "one\n", "rb one");
    commit(w, "r2.txt", "two\n", "rb two");
    let push_url = with_token(
        &format!("{}/alice/app.git", c.node(0).anon_url),
        "alice",
        alice,
    );
    git(w, &["push", "-q", &push_url, "rb"]);
    let (status, pr) = http(
        "POST",
        &url(c.node(0), "/repos/alice/app/pulls", Some(alice)),
        Some(json!({ "title": "Rebase me", "head": "rb", "base": "main" })),
    );
    assert_eq!(status, 201, "{pr}");
    let n = pr["number"].as_u64().expect("number");
    wait_for("the pull request on node 1", DEADLINE, || {
        show(c, 1, n).1["mergeable"] == true
    });
    let (status, rebased) = merge(1, alice, n, json!({ "merge_method": "rebase" }));
    assert_eq!(status, 200, "{rebased}");
    let sha3 = rebased["sha"].as_str().expect("sha").to_string();
    wait_for("the rebase on node 0", DEADLINE, || {
        fetch_main(c, w, 0) == sha3
    });
    let log = git(w, &["log", "--format=%s %P", "-n", "3", &sha3]);
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines[0].starts_with("rb two "), "{log}");
    assert!(lines[1].starts_with("rb one "), "{log}");
    assert!(lines[1].ends_with(&sha2), "re-applied on main: {log}");
    for f in ["r1.txt", "r2.txt", "c.txt"] {
        git(w, &["cat-file", "-e", &format!("{sha3}:{f}")]);
    }
}

/// Merges pull request N on node I as the user with token T, with a JSON body.
type MergeFn<'a> = dyn Fn(usize, &str, u64, Value) -> (u16, Value) + 'a;

/// A rule on main asking for one approval: a push straight to main is refused; the merge
/// is refused while the only approval comes from someone without write access, and once
/// Carol has it (granted on node 0) her approval lets the merge through on node 1 (the
/// merge itself is made by the caller). Then the rule goes again.
fn approvals(c: &Cluster, w: &Path, alice: &str, merge: &MergeFn<'_>) {
    let rule = url(c.node(0), "/repos/alice/app/protections", Some(alice));
    for bad in [
        json!({ "pattern": "main", "required_approvals": 11 }),
        json!({ "pattern": "main", "required_approvals": -1 }),
        json!({ "pattern": "main", "approvals": 1 }),
    ] {
        assert_eq!(http("POST", &rule, Some(bad.clone())).0, 422, "{bad}");
    }
    let (status, r) = http(
        "POST",
        &rule,
        Some(json!({ "pattern": "main", "required_approvals": 1 })),
    );
    assert_eq!(status, 201, "{r}");
    wait_for("the rule on node 1", DEADLINE, || {
        let (_, v) = http(
            "GET",
            &url(c.node(1), "/repos/alice/app/protections/main", Some(alice)),
            None,
        );
        v["required_approvals"] == 1
    });
    // Straight to main: refused, on either node.
    git(w, &["checkout", "-q", "-b", "direct", "main"]);
    commit(w, "d.txt", "direct\n", "straight to main");
    for i in 0..2 {
        let push_url = with_token(
            &format!("{}/alice/app.git", c.node(i).anon_url),
            "alice",
            alice,
        );
        let out = git_output(w, &["push", &push_url, "direct:main"]);
        assert!(!out.status.success(), "a push to main went through");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("changes need a pull request"), "{err}");
    }
    git(w, &["checkout", "-q", "main"]);
    // Carol's approval does not count while she cannot write.
    let (status, v) = merge(1, alice, 2, json!({}));
    assert_eq!(status, 405, "{v}");
    let msg = v["error"].as_str().unwrap_or_default();
    assert!(msg.contains("1 approving review"), "{msg}");
    assert_eq!(show(c, 1, 2).1["mergeable_state"], "blocked");
    let (status, _) = http(
        "PUT",
        &url(
            c.node(0),
            "/repos/alice/app/collaborators/carol",
            Some(alice),
        ),
        Some(json!({ "permission": "write" })),
    );
    assert_eq!(status, 204);
    wait_for("carol's approval counts on node 1", DEADLINE, || {
        show(c, 1, 2).1["approved_by"] == json!(["carol"])
    });
    assert_eq!(show(c, 1, 2).1["mergeable_state"], "clean");
    // Clean, but nobody approved it.
    assert_eq!(show(c, 1, 3).1["mergeable_state"], "blocked");
}

/// Drops the rule and Carol's write access again, on node 0, and waits for node 1.
fn drop_rule(c: &Cluster, alice: &str) {
    let (status, _) = http(
        "DELETE",
        &url(c.node(0), "/repos/alice/app/protections/main", Some(alice)),
        None,
    );
    assert_eq!(status, 204);
    let (status, _) = http(
        "DELETE",
        &url(
            c.node(0),
            "/repos/alice/app/collaborators/carol",
            Some(alice),
        ),
        None,
    );
    assert_eq!(status, 204);
    wait_for("the rule gone on node 1", DEADLINE, || {
        http(
            "GET",
            &url(c.node(1), "/repos/alice/app/protections/main", Some(alice)),
            None,
        )
        .0 == 404
    });
}

/// Two nodes cut off from each other merge the same pull request: each moves its main; once
/// they meet, the ref merge rule decides main (the same on both, the other tip kept as a
/// conflict ref), and the pull request is merged once, by the same merge on both.
#[test]
fn a_pull_request_merged_on_two_cut_off_nodes_ends_merged_once() {
    let c = Cluster::start(2);
    let alice = new_user(c.node(0), "alice");
    let (status, _) = http(
        "POST",
        &url(c.node(0), "/repos", Some(&alice)),
        Some(json!({ "owner": "alice", "name": "app" })),
    );
    assert_eq!(status, 201);
    let src = tmp();
    let w = src.path();
    git(w, &["init", "-q", "-b", "main"]);
    git(w, &["config", "user.name", "a"]);
    git(w, &["config", "user.email", "a@example.com"]);
    commit(w, "a.txt", &lines(4, None), "base");
    git(w, &["checkout", "-q", "-b", "topic"]);
    commit(w, "b.txt", "b\n", "topic");
    let push_url = with_token(
        &format!("{}/alice/app.git", c.node(0).anon_url),
        "alice",
        &alice,
    );
    git(w, &["push", "-q", &push_url, "main", "topic"]);
    let (status, pr) = http(
        "POST",
        &url(c.node(0), "/repos/alice/app/pulls", Some(&alice)),
        Some(json!({ "title": "Topic", "head": "topic", "base": "main" })),
    );
    assert_eq!(status, 201, "{pr}");
    wait_for("the pull request on node 1", DEADLINE, || {
        show(&c, 1, 1).1["mergeable"] == true
    });
    wait_for("alice on node 1", DEADLINE, || {
        http("GET", &url(c.node(1), "/user", Some(&alice)), None).0 == 200
    });

    c.partition(&[0], &[1]);
    let mut shas = Vec::new();
    for (i, method) in [(0, "merge"), (1, "squash")] {
        let (status, v) = http(
            "PUT",
            &url(c.node(i), "/repos/alice/app/pulls/1/merge", Some(&alice)),
            Some(json!({ "merge_method": method })),
        );
        assert_eq!(status, 200, "node {i}: {v}");
        shas.push(v["sha"].as_str().expect("sha").to_string());
    }
    assert_ne!(shas[0], shas[1]);
    c.heal(&[0], &[1]);
    let main_of = |i: usize| {
        let out = git(
            w,
            &[
                "ls-remote",
                &format!("{}/alice/app.git", c.node(i).anon_url),
                "refs/heads/main",
            ],
        );
        out.split_whitespace().next().unwrap_or("").to_string()
    };
    wait_for("one main and one merge on both nodes", DEADLINE, || {
        let (a, b) = (show(&c, 0, 1).1, show(&c, 1, 1).1);
        let (ma, mb) = (main_of(0), main_of(1));
        a["merged"] == true
            && a["pull_request"]["merge_commit_sha"] == b["pull_request"]["merge_commit_sha"]
            && ma == mb
            && shas.contains(&ma)
    });
    // The other merge is not lost: a conflict ref keeps it.
    let all = git(
        w,
        &[
            "ls-remote",
            &format!("{}/alice/app.git", c.node(0).anon_url),
        ],
    );
    let kept: Vec<&str> = all
        .lines()
        .filter(|l| l.contains("refs/guts/conflicts/"))
        .collect();
    assert!(
        shas.iter().all(|s| all.contains(s.as_str())),
        "both merges are still reachable: {all}"
    );
    assert_eq!(kept.len(), 1, "{all}");
}
