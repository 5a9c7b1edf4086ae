//! dulwich and pygit2 (libgit2) clone, push and fetch against a real node; `.ci/run`
//! installs both. The Python side checks its results with the git CLI.

use guts_tests::{TestNode, git, make_repo, sub, tmp};

fn run(client: &str) {
    let node = TestNode::start();
    let url = node.create_repo("alice", client);
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 5);
    git(&src, &["push", "-q", &url, "main"]);
    guts_tests::py_clients(&[client, &url, t.path().to_str().expect("utf-8")]);
}

#[test]
fn dulwich_clone_push_fetch() {
    run("dulwich");
}

#[test]
fn pygit2_clone_push_fetch() {
    run("pygit2");
}
