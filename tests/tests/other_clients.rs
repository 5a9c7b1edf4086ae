//! dulwich and pygit2 (libgit2) clone, push and fetch against a real node; `.ci/run`
//! installs both. The Python side checks its results with the git CLI.

use std::path::Path;
use std::process::Command;

use guts_tests::{TestNode, git, make_repo, sub, tmp};

fn run(client: &str) {
    let node = TestNode::start();
    let url = node.create_repo("alice", client);
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 5);
    git(&src, &["push", "-q", &url, "main"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("py/clients.py");
    let out = Command::new("python3")
        .arg(&script)
        .args([client, &url, t.path().to_str().expect("utf-8")])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{client} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn dulwich_clone_push_fetch() {
    run("dulwich");
}

#[test]
fn pygit2_clone_push_fetch() {
    run("pygit2");
}
