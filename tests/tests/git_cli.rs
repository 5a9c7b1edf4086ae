//! The git CLI against a real node, under protocol v2 and v0: clone, fetch, pull, push
//! (create, update, delete, force, tags, atomic, options), shallow and partial clones,
//! ls-remote, many tags, large pushes. Results are checked with git itself.

use std::path::Path;

use guts_tests::{
    TestNode, all_objects, commit_files, git, git_fails, local_refs, make_repo, remote_refs, sub,
    tmp,
};

fn pv(proto: &str) -> String {
    format!("protocol.version={proto}")
}

/// Clones `url` into `dest` with extra args and checks it with fsck.
fn clone(proto: &str, url: &str, dest: &Path, extra: &[&str]) {
    let mut args = vec!["-c", &*Box::leak(pv(proto).into_boxed_str()), "clone", "-q"];
    args.extend_from_slice(extra);
    args.push(url);
    let d = dest.to_str().expect("utf-8 path");
    args.push(d);
    git(Path::new("."), &args);
    git(dest, &["fsck", "--strict", "--no-progress"]);
}

fn push(proto: &str, dir: &Path, args: &[&str]) -> String {
    let p = pv(proto);
    let mut a = vec!["-c", p.as_str(), "push"];
    a.extend_from_slice(args);
    git(dir, &a)
}

/// The remote's refs equal the local repository's refs (heads and tags).
fn same_refs(dir: &Path, url: &str, proto: &str) {
    let mut local = local_refs(dir, "refs/heads");
    local.extend(local_refs(dir, "refs/tags"));
    local.sort();
    assert_eq!(remote_refs(url, proto), local);
}

fn clone_push_fetch_pull(proto: &str) {
    let node = TestNode::start();
    let url = node.create_repo("alice", "app");
    let t = tmp();
    // An empty repository clones.
    let empty = sub(t.path(), "empty");
    clone(proto, &url, &empty, &[]);
    assert!(local_refs(&empty, "refs").is_empty());

    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 30);
    git(&src, &["checkout", "-q", "-b", "topic"]);
    commit_files(&src, "topic", 100, 5);
    git(&src, &["checkout", "-q", "main"]);
    git(&src, &["tag", "light"]);
    git(&src, &["tag", "-a", "v1", "-m", "annotated"]);
    git(&src, &["tag", "-a", "v1-of-v1", "-m", "tag of a tag", "v1"]);
    push(proto, &src, &["-q", &url, "main", "topic", "--tags"]);
    same_refs(&src, &url, proto);

    let a = sub(t.path(), "a");
    clone(proto, &url, &a, &[]);
    assert_eq!(
        git(&a, &["rev-parse", "HEAD"]),
        git(&src, &["rev-parse", "main"])
    );
    assert_eq!(
        git(&a, &["rev-parse", "v1-of-v1^{tag}"]),
        git(&src, &["rev-parse", "v1-of-v1"])
    );
    assert_eq!(
        all_objects(&a).len(),
        all_objects(&src).len(),
        "the clone has every object"
    );

    // Incremental: push more, fetch and pull.
    commit_files(&src, "main", 30, 4);
    push(proto, &src, &["-q", &url, "main"]);
    git(&a, &["-c", &pv(proto), "fetch", "-q", "origin"]);
    assert_eq!(
        git(&a, &["rev-parse", "origin/main"]),
        git(&src, &["rev-parse", "main"])
    );
    git(
        &a,
        &[
            "-c",
            &pv(proto),
            "pull",
            "-q",
            "--ff-only",
            "origin",
            "main",
        ],
    );
    assert_eq!(
        git(&a, &["rev-parse", "HEAD"]),
        git(&src, &["rev-parse", "main"])
    );
    git(&a, &["fsck", "--strict", "--no-progress"]);

    // Update from the clone, then force-push a rewritten history from src.
    commit_files(&a, "from-a", 200, 2);
    push(proto, &a, &["-q", "origin", "main"]);
    assert!(remote_refs(&url, proto).contains(&format!(
        "{} refs/heads/main",
        git(&a, &["rev-parse", "main"]).trim()
    )));
    git(&src, &["reset", "-q", "--hard", "HEAD~2"]);
    commit_files(&src, "rewrite", 300, 1);
    let err = git_fails(&src, &["-c", &pv(proto), "push", &url, "main"]);
    assert!(err.contains("rejected"), "{err}");
    push(proto, &src, &["-q", "--force", &url, "main"]);
    assert_eq!(
        remote_refs(&url, proto)
            .iter()
            .find(|l| l.ends_with(" refs/heads/main"))
            .cloned(),
        Some(format!(
            "{} refs/heads/main",
            git(&src, &["rev-parse", "main"]).trim()
        ))
    );

    // Delete a branch and a tag.
    push(proto, &src, &["-q", &url, ":topic", ":refs/tags/light"]);
    let refs = remote_refs(&url, proto);
    assert!(
        !refs
            .iter()
            .any(|l| l.ends_with("refs/heads/topic") || l.ends_with("refs/tags/light")),
        "{refs:?}"
    );
    let b = sub(t.path(), "b");
    clone(proto, &url, &b, &["--mirror"]);
    git(&b, &["fsck", "--strict", "--no-progress"]);
}

#[test]
fn clone_push_fetch_pull_v2() {
    clone_push_fetch_pull("2");
}

#[test]
fn clone_push_fetch_pull_v0() {
    clone_push_fetch_pull("0");
}

fn atomic_and_options(proto: &str) {
    let node = TestNode::start();
    let url = node.create_repo("alice", "atomic");
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 3);
    git(&src, &["branch", "other"]);
    push(proto, &src, &["-q", "--atomic", &url, "main", "other"]);
    same_refs(&src, &url, proto);

    // A second clone moves "other"; an atomic push of both from src then fails as a whole.
    let c = sub(t.path(), "c");
    clone(proto, &url, &c, &[]);
    git(&c, &["checkout", "-q", "other"]);
    commit_files(&c, "c", 50, 1);
    push(proto, &c, &["-q", "origin", "other"]);
    let before = remote_refs(&url, proto);
    git(&src, &["checkout", "-q", "main"]);
    commit_files(&src, "m", 60, 1);
    git(&src, &["checkout", "-q", "other"]);
    commit_files(&src, "o", 70, 1);
    let err = git_fails(
        &src,
        &["-c", &pv(proto), "push", "--atomic", &url, "main", "other"],
    );
    assert!(err.contains("rejected") || err.contains("atomic"), "{err}");
    assert_eq!(
        remote_refs(&url, proto),
        before,
        "a rejected atomic push changes nothing"
    );

    // Push options are accepted.
    git(&src, &["checkout", "-q", "main"]);
    push(
        proto,
        &src,
        &[
            "-q",
            "-o",
            "ci.skip",
            "-o",
            "note=hello world",
            &url,
            "main",
        ],
    );
    assert!(remote_refs(&url, proto).contains(&format!(
        "{} refs/heads/main",
        git(&src, &["rev-parse", "main"]).trim()
    )));
}

#[test]
fn atomic_and_push_options_v2() {
    atomic_and_options("2");
}

#[test]
fn atomic_and_push_options_v0() {
    atomic_and_options("0");
}

fn shallow(proto: &str) {
    let node = TestNode::start();
    let url = node.create_repo("alice", "shallow");
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 20);
    push(proto, &src, &["-q", &url, "main"]);
    let count = |d: &Path| {
        git(d, &["rev-list", "--count", "HEAD"])
            .trim()
            .parse::<u32>()
            .expect("count")
    };

    let s = sub(t.path(), "s");
    clone(proto, &url, &s, &["--depth", "3"]);
    assert_eq!(count(&s), 3);
    assert_eq!(
        git(&s, &["rev-parse", "--is-shallow-repository"]).trim(),
        "true"
    );
    git(&s, &["-c", &pv(proto), "fetch", "-q", "--deepen", "4"]);
    assert_eq!(count(&s), 7);
    git(&s, &["fsck", "--no-progress"]);

    // Commit dates are one hour apart from 1,700,000,000: keep the last 5.
    let since = format!("--shallow-since={}", 1_700_000_000 + 15 * 3600);
    let d = sub(t.path(), "d");
    clone(proto, &url, &d, &[&since]);
    assert_eq!(count(&d), 5);

    git(&s, &["-c", &pv(proto), "fetch", "-q", "--unshallow"]);
    assert_eq!(count(&s), 20);
    assert_eq!(
        git(&s, &["rev-parse", "--is-shallow-repository"]).trim(),
        "false"
    );
    git(&s, &["fsck", "--strict", "--no-progress"]);

    // New commits reach a shallow clone by fetch.
    let e = sub(t.path(), "e");
    clone(proto, &url, &e, &["--depth", "1"]);
    commit_files(&src, "main", 20, 2);
    push(proto, &src, &["-q", &url, "main"]);
    git(&e, &["-c", &pv(proto), "fetch", "-q", "origin"]);
    assert_eq!(
        git(&e, &["rev-parse", "origin/main"]),
        git(&src, &["rev-parse", "main"])
    );
    git(&e, &["fsck", "--no-progress"]);
}

#[test]
fn shallow_v2() {
    shallow("2");
}

#[test]
fn shallow_v0() {
    shallow("0");
}

fn partial(proto: &str) {
    let node = TestNode::start();
    let url = node.create_repo("alice", "partial");
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 10);
    push(proto, &src, &["-q", &url, "main"]);
    let full = all_objects(&src).len();

    for filter in ["--filter=blob:none", "--filter=tree:0"] {
        let p = sub(t.path(), &format!("p{}", filter.len()));
        let pc = pv(proto);
        let args = [
            "-c",
            pc.as_str(),
            "clone",
            "-q",
            "--no-checkout",
            filter,
            &url,
            p.to_str().expect("utf-8"),
        ];
        git(Path::new("."), &args);
        let fewer = all_objects(&p).len();
        assert!(fewer < full, "{filter}: {fewer} objects of {full}");
        // Checking out fetches what is missing, lazily, by id.
        git(&p, &["-c", &pc, "checkout", "-q", "main"]);
        git(&p, &["-c", &pc, "checkout", "-q", "HEAD~5"]);
        assert_eq!(std::fs::read(p.join("file-4.txt")).ok(), {
            git(&src, &["show", "HEAD~5:file-4.txt"])
                .into_bytes()
                .into()
        });
        git(&p, &["fsck", "--no-progress"]);
    }
}

#[test]
fn partial_clone_v2() {
    partial("2");
}

#[test]
fn partial_clone_v0() {
    partial("0");
}

fn many_tags_and_large_push(proto: &str) {
    let node = TestNode::start();
    let url = node.create_repo("alice", "big");
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 2);
    // 2 MiB of incompressible data: the push body is sent chunked.
    let data = guts_tests::random_bytes(2 << 20);
    std::fs::write(src.join("random.bin"), &data).expect("write");
    git(&src, &["add", "random.bin"]);
    git(&src, &["commit", "-q", "-m", "big file"]);
    let mut refs = String::new();
    let head = git(&src, &["rev-parse", "HEAD"]);
    for i in 0..2000 {
        refs.push_str(&format!("create refs/tags/t{i:04} {}", head.trim()));
        refs.push('\n');
    }
    guts_tests::update_refs(&src, &refs);
    push(proto, &src, &["-q", &url, "main", "--tags"]);
    assert_eq!(remote_refs(&url, proto).len(), 2001);
    same_refs(&src, &url, proto);
    let c = sub(t.path(), "c");
    clone(proto, &url, &c, &[]);
    assert_eq!(std::fs::read(c.join("random.bin")).expect("read"), data);
    assert_eq!(local_refs(&c, "refs/tags").len(), 2000);
}

#[test]
fn many_tags_and_large_push_v2() {
    many_tags_and_large_push("2");
}

#[test]
fn many_tags_and_large_push_v0() {
    many_tags_and_large_push("0");
}

fn progress(proto: &str) {
    let node = TestNode::start();
    let url = node.create_repo("alice", "progress");
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 12);
    let pc = pv(proto);
    let out = guts_tests::git_output(&src, &["-c", &pc, "push", "--progress", &url, "main"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("remote: Resolving deltas: 100%"), "{err}");
    let dest = sub(t.path(), "c");
    let out = guts_tests::git_output(
        Path::new("."),
        &[
            "-c",
            &pc,
            "clone",
            "--progress",
            &url,
            dest.to_str().expect("utf-8"),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    for line in [
        "remote: Enumerating objects:",
        "remote: Counting objects: 100%",
        "remote: Total ",
    ] {
        assert!(err.contains(line), "missing {line:?} in {err}");
    }
    // Quiet: no remote progress at all.
    let dest = sub(t.path(), "q");
    let out = guts_tests::git_output(
        Path::new("."),
        &[
            "-c",
            &pc,
            "clone",
            "-q",
            &url,
            dest.to_str().expect("utf-8"),
        ],
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("remote:"));
}

#[test]
fn progress_v2() {
    progress("2");
}

#[test]
fn progress_v0() {
    progress("0");
}

fn shallow_exclude(proto: &str) {
    let node = TestNode::start();
    let url = node.create_repo("alice", "exclude");
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 10);
    git(&src, &["tag", "old", "HEAD~4"]);
    push(proto, &src, &["-q", &url, "main", "old"]);
    let d = sub(t.path(), "d");
    clone(
        proto,
        &url,
        &d,
        &[
            "--shallow-exclude=old",
            "--single-branch",
            "--branch",
            "main",
        ],
    );
    assert_eq!(git(&d, &["rev-list", "--count", "HEAD"]).trim(), "4");
}

#[test]
fn shallow_exclude_v2() {
    shallow_exclude("2");
}

#[test]
fn shallow_exclude_v0() {
    shallow_exclude("0");
}

/// Objects that no ref reaches any more (a force-push, a deleted branch, a refused atomic
/// push) are never sent to a cloner, fast path or not.
fn orphans_are_not_served(proto: &str) {
    let node = TestNode::start();
    let url = node.create_repo("alice", "orphans");
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 3);
    push(proto, &src, &["-q", &url, "main"]);
    let clean = sub(t.path(), "clean");
    clone(proto, &url, &clean, &[]);
    let expected = all_objects(&clean);

    // A secret committed and pushed on a branch, then the branch deleted.
    git(&src, &["checkout", "-q", "-b", "leak"]);
    std::fs::write(src.join("secret.txt"), "password=hunter2\n").expect("write");
    git(&src, &["add", "secret.txt"]);
    git(&src, &["commit", "-q", "-m", "oops"]);
    let secret = git(&src, &["rev-parse", "HEAD:secret.txt"])
        .trim()
        .to_string();
    push(proto, &src, &["-q", &url, "leak"]);
    push(proto, &src, &["-q", &url, ":leak"]);
    // And the same on main, force-pushed away.
    git(&src, &["checkout", "-q", "main"]);
    std::fs::write(src.join("secret2.txt"), "token=abc\n").expect("write");
    git(&src, &["add", "secret2.txt"]);
    git(&src, &["commit", "-q", "-m", "oops again"]);
    let secret2 = git(&src, &["rev-parse", "HEAD:secret2.txt"])
        .trim()
        .to_string();
    push(proto, &src, &["-q", &url, "main"]);
    git(&src, &["reset", "-q", "--hard", "HEAD~1"]);
    push(proto, &src, &["-q", "--force", &url, "main"]);

    let c = sub(t.path(), "c");
    clone(proto, &url, &c, &["--mirror"]);
    let got = all_objects(&c);
    assert!(
        !got.contains(&secret) && !got.contains(&secret2),
        "an orphaned blob was served"
    );
    assert_eq!(got, expected);
}

#[test]
fn orphans_are_not_served_v2() {
    orphans_are_not_served("2");
}

#[test]
fn orphans_are_not_served_v0() {
    orphans_are_not_served("0");
}
