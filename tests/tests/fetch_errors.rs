//! A fetch that fails after its pack started: git shows the node's message (side-band 3)
//! instead of `protocol error: bad band #69`, under protocol v2 and v0.

use std::path::Path;

use guts_tests::{TestNode, git, git_output, random_bytes, sub, tmp};

#[test]
fn an_error_after_the_pack_started_reaches_git_as_a_message() {
    let node = TestNode::start();
    let url = node.create_repo("alice", "broken");
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    git(&src, &["init", "-q", "-b", "main"]);
    std::fs::write(src.join("big.bin"), random_bytes(600_000)).expect("write");
    git(&src, &["add", "-A"]);
    git(
        &src,
        &[
            "-c",
            "user.name=A",
            "-c",
            "user.email=a@example.com",
            "commit",
            "-qm",
            "big",
        ],
    );
    git(&src, &["push", "-q", &url, "main"]);
    let token_url = url.clone();

    // Lose the last stored chunk of the pack (a damaged disk), with the node stopped.
    let dir = node.stop();
    {
        let db = sled::open(dir.path().join("db")).expect("open sled");
        let chunks = db.open_tree("chunks").expect("chunks tree");
        assert!(chunks.len() > 100, "the pack spans many chunks");
        let (last, _) = chunks.last().expect("read").expect("a chunk");
        chunks.remove(last).expect("remove");
        db.flush().expect("flush");
    }
    let node = TestNode::start_in(dir);
    let url = token_url.replace(
        &token_url[token_url.find('@').expect("credentials") + 1..]
            .split('/')
            .next()
            .expect("host")
            .to_string(),
        &node.url[node.url.find('@').expect("credentials") + 1..],
    );
    for proto in ["2", "0"] {
        let dest = sub(t.path(), &format!("clone-v{proto}"));
        let out = git_output(
            Path::new("."),
            &[
                "-c",
                &format!("protocol.version={proto}"),
                "clone",
                &url,
                dest.to_str().expect("utf-8"),
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "v{proto}: the clone cannot succeed");
        assert!(!stderr.contains("bad band"), "v{proto}: {stderr}");
        assert!(
            stderr.contains("remote: internal error")
                || stderr.contains("remote error: internal error"),
            "v{proto}: git should show the node's message: {stderr}"
        );
    }
}
