//! The repository a user brings: a `master` history with hundreds of branches and tags,
//! pushed into a repository created with HEAD at `main`. The first push sets the default
//! branch (preferring `main`, then `master`), every node agrees on it, and every client
//! checks it out; later pushes do not move it, and only a valid branch name can be set.

use std::path::Path;
use std::time::Duration;

use guts_tests::cluster::Cluster;
use guts_tests::{TestNode, git, git_output, http, master_repo, sub, tmp, wait_for};
use serde_json::json;

/// `git ls-remote --symref URL HEAD`: the branch HEAD names, if the remote says.
fn remote_head(url: &str, proto: &str) -> Option<String> {
    let out = git(
        Path::new("."),
        &[
            "-c",
            &format!("protocol.version={proto}"),
            "ls-remote",
            "--symref",
            url,
            "HEAD",
        ],
    );
    out.lines().find_map(|l| {
        l.strip_prefix("ref: ")?
            .split('\t')
            .next()
            .map(str::to_string)
    })
}

/// Clones `url` with the git CLI and checks that it checked out `branch` at `tip` with no
/// warning.
fn clone_checks_out(url: &str, proto: &str, dest: &Path, branch: &str, tip: &str) {
    let d = dest.to_str().expect("utf-8");
    let out = git_output(
        Path::new("."),
        &["-c", &format!("protocol.version={proto}"), "clone", url, d],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "clone failed: {stderr}");
    assert!(!stderr.contains("warning"), "clone warned: {stderr}");
    assert_eq!(
        git(dest, &["symbolic-ref", "HEAD"]).trim(),
        format!("refs/heads/{branch}")
    );
    assert_eq!(git(dest, &["rev-parse", "HEAD"]).trim(), tip);
    assert!(dest.join("file-0.txt").exists(), "nothing checked out");
    git(dest, &["fsck", "--strict", "--no-progress"]);
}

#[test]
fn a_master_repository_with_hundreds_of_refs_gets_its_default_branch_on_every_node() {
    let c = Cluster::start(2);
    let url0 = c.node(0).create_repo("alice", "rg");
    let url1 = format!("{}/alice/rg.git", c.url(1));
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    let tip = master_repo(&src, 150);
    git(&src, &["push", "-q", &url0, "--all"]);
    git(&src, &["push", "-q", &url0, "--tags"]);
    assert_eq!(
        remote_head(&url0, "2").as_deref(),
        Some("refs/heads/master")
    );

    // Node 1 agrees on HEAD and holds every ref (replicated record and updates).
    let want = git(&src, &["for-each-ref", "--format=%(objectname)", "refs"]);
    wait_for(
        "node 1 has every ref and HEAD",
        Duration::from_secs(90),
        || {
            let refs = guts_tests::remote_refs(&url1, "2");
            refs.len() == want.lines().count()
                && remote_head(&url1, "0").as_deref() == Some("refs/heads/master")
        },
    );
    let (_, body) = http("GET", &format!("{}/api/v1/repos/alice/rg", c.url(1)), None);
    assert_eq!(body["default_branch"], "master", "{body}");
    assert_eq!(body["head"]["id"], json!(tip));

    for (i, proto) in ["2", "0"].iter().enumerate() {
        clone_checks_out(
            &url1,
            proto,
            &sub(t.path(), &format!("c{i}")),
            "master",
            &tip,
        );
    }
    guts_tests::py_clients(&[
        "head",
        &url1,
        t.path().to_str().expect("utf-8"),
        "master",
        &tip,
    ]);
}

#[test]
fn one_push_of_several_branches_prefers_main_then_master_and_later_pushes_do_not_move_it() {
    let node = TestNode::start();
    let api = format!("{}/api/v1/repos", node.url);
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    let tip = master_repo(&src, 2);
    git(&src, &["branch", "dev"]);
    git(&src, &["branch", "main"]);

    // `dev` and `master` in one push (into a repository whose HEAD names `trunk`): master.
    let (s, _) = http(
        "POST",
        &api,
        Some(json!({"owner": "alice", "name": "two", "default_branch": "trunk"})),
    );
    assert_eq!(s, 201);
    let two = format!("{}/alice/two.git", node.url);
    git(&src, &["push", "-q", &two, "dev", "master", "feature/b000"]);
    assert_eq!(remote_head(&two, "2").as_deref(), Some("refs/heads/master"));

    // All three at once: main.
    let three = node.create_repo("alice", "three");
    git(&src, &["push", "-q", &three, "dev", "master", "main"]);
    assert_eq!(remote_head(&three, "0").as_deref(), Some("refs/heads/main"));

    // The default exists: a later push of another branch leaves it.
    let one = node.create_repo("alice", "one");
    git(&src, &["push", "-q", &one, "dev"]);
    assert_eq!(remote_head(&one, "2").as_deref(), Some("refs/heads/dev"));
    git(&src, &["push", "-q", &one, "main", "master"]);
    assert_eq!(remote_head(&one, "2").as_deref(), Some("refs/heads/dev"));
    clone_checks_out(&one, "2", &sub(t.path(), "one"), "dev", &tip);

    // A tag alone names no branch: HEAD stays where it was.
    let tags = node.create_repo("alice", "tags");
    git(&src, &["push", "-q", &tags, "v0.0"]);
    assert_eq!(remote_head(&tags, "2"), None);
    let (_, body) = http("GET", &format!("{api}/alice/tags"), None);
    assert_eq!(body["default_branch"], "main");

    // Only someone changes it after that, and only to a valid branch name.
    let (s, body) = http(
        "PATCH",
        &format!("{api}/alice/one"),
        Some(json!({"default_branch": "master"})),
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(remote_head(&one, "0").as_deref(), Some("refs/heads/master"));
    for bad in ["HEAD", "refs/heads/main", "-x", "a..b", ""] {
        let (s, body) = http(
            "PATCH",
            &format!("{api}/alice/one"),
            Some(json!({"default_branch": bad})),
        );
        assert_eq!(s, 422, "{bad:?}: {body}");
        assert!(body["error"].as_str().is_some(), "{body}");
    }
    let (s, _) = http(
        "POST",
        &api,
        Some(json!({"owner": "alice", "name": "bad", "default_branch": "HEAD"})),
    );
    assert_eq!(s, 422);
    assert_eq!(remote_head(&one, "2").as_deref(), Some("refs/heads/master"));
}
