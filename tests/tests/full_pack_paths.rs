//! The two shortcuts a whole-repository transfer takes, checked with git: a first push of a
//! self-contained pack is accepted without a graph walk (but objects it holds that its tips
//! do not reach must still never be served), and a full clone copies the stored packs as
//! they are when they hold each object once (and only then).

use std::path::Path;

use guts_tests::{
    TestNode, all_objects, commit_files, git, git_output, make_repo, pack_objects, post_raw, sub,
    tmp,
};

fn pkt(s: &str) -> String {
    format!("{:04x}{s}", s.len() + 4)
}

/// A pack of exactly the objects listed (ids, one per line) in `dir`.
fn pack_of(dir: &Path, ids: &str) -> Vec<u8> {
    pack_objects(dir, ids, false)
}

/// Pushes `pack` for one ref creation over raw receive-pack; returns the report.
fn push_raw(url: &str, new: &str, name: &str, pack: &[u8]) -> String {
    let mut body = format!(
        "{}0000",
        pkt(&format!("{} {new} {name}\0report-status\n", "0".repeat(40)))
    )
    .into_bytes();
    body.extend_from_slice(pack);
    let (s, _, out) = post_raw(
        &format!("{url}/git-receive-pack"),
        "application/x-git-receive-pack-request",
        &[],
        &body,
    );
    assert_eq!(s, 200);
    String::from_utf8_lossy(&out).into_owned()
}

/// Clones (mirror) with progress under protocol `proto`; returns git's stderr.
fn clone_progress(proto: &str, url: &str, dir: &Path) -> String {
    let out = git_output(
        Path::new("."),
        &[
            "-c",
            &format!("protocol.version={proto}"),
            "clone",
            "--mirror",
            "--progress",
            url,
            dir.to_str().expect("utf-8"),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    git(dir, &["fsck", "--strict", "--no-progress"]);
    err
}

/// The `pack-reused N` count the server reported.
fn pack_reused(stderr: &str) -> u64 {
    let at = stderr.find("pack-reused ").expect("a pack-reused count") + "pack-reused ".len();
    stderr[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number")
}

#[test]
fn a_self_contained_first_push_keeps_unreachable_objects_out_of_clones() {
    let node = TestNode::start();
    let url = node.create_repo("alice", "selfcontained");
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 4);
    std::fs::write(src.join("stray.txt"), "never committed\n").expect("write");
    let stray = git(&src, &["hash-object", "-w", "stray.txt"])
        .trim()
        .to_string();
    let head = git(&src, &["rev-parse", "main"]).trim().to_string();
    // Every object main reaches, plus one it does not: closed under links by itself.
    let mut ids = git(&src, &["rev-list", "--objects", "main"])
        .lines()
        .map(|l| l.split(' ').next().unwrap_or("").to_string() + "\n")
        .collect::<String>();
    ids.push_str(&format!("{stray}\n"));
    let r = push_raw(&url, &head, "refs/heads/main", &pack_of(&src, &ids));
    assert!(
        r.contains("unpack ok") && r.contains("ok refs/heads/main"),
        "{r}"
    );

    for proto in ["2", "0"] {
        let c = sub(t.path(), &format!("c{proto}"));
        clone_progress(proto, &url, &c);
        let got = all_objects(&c);
        assert!(
            !got.contains(&stray),
            "an unreachable pushed object was served"
        );
        assert_eq!(git(&c, &["rev-parse", "main"]).trim(), head);
    }

    // A self-contained pack whose tip is not in it is still checked: refused.
    let lone = sub(t.path(), "lone");
    std::fs::create_dir(&lone).expect("mkdir");
    git(&lone, &["init", "-q", "-b", "main"]);
    guts_tests::commit_files(&lone, "lone", 0, 1);
    let lone_head = git(&lone, &["rev-parse", "main"]).trim().to_string();
    let blob = git(&lone, &["rev-parse", "main:file-0.txt"])
        .trim()
        .to_string();
    let r = push_raw(
        &url,
        &lone_head,
        "refs/heads/lone",
        &pack_of(&lone, &format!("{blob}\n")),
    );
    assert!(r.contains("ng refs/heads/lone"), "{r}");
}

#[test]
fn full_clones_copy_stored_packs_only_when_each_object_is_stored_once() {
    let node = TestNode::start();
    let url = node.create_repo("alice", "reuse");
    let t = tmp();
    let src = sub(t.path(), "src");
    std::fs::create_dir(&src).expect("mkdir");
    make_repo(&src, 5);
    // Three pushes: three stored packs, OFS deltas inside each.
    git(&src, &["push", "-q", &url, "main"]);
    guts_tests::commit_files(&src, "more", 5, 5);
    git(&src, &["tag", "-a", "-m", "release", "v1"]);
    git(&src, &["push", "-q", &url, "main", "v1"]);
    git(&src, &["checkout", "-q", "-b", "side"]);
    guts_tests::commit_files(&src, "side", 10, 4);
    git(&src, &["push", "-q", &url, "side"]);
    let expected = git(&src, &["rev-list", "--objects", "--all"])
        .lines()
        .map(|l| l.split(' ').next().unwrap_or("").to_string())
        .collect::<std::collections::BTreeSet<_>>();

    for proto in ["2", "0"] {
        let c = sub(t.path(), &format!("reused{proto}"));
        let err = clone_progress(proto, &url, &c);
        assert_eq!(pack_reused(&err), expected.len() as u64, "{err}");
        let got: std::collections::BTreeSet<String> = all_objects(&c).into_iter().collect();
        assert_eq!(got, expected);
        for r in ["main", "side", "v1"] {
            assert_eq!(
                git(&c, &["rev-parse", r]),
                git(&src, &["rev-parse", r]),
                "{r}"
            );
        }
    }

    // A pack of objects the repository already has: stored, but not canonical. A clone must
    // not send them twice, so it takes the entry-by-entry path.
    let head = git(&src, &["rev-parse", "side"]).trim().to_string();
    let all: String = expected.iter().map(|id| format!("{id}\n")).collect();
    let r = push_raw(&url, &head, "refs/heads/again", &pack_of(&src, &all));
    assert!(r.contains("ok refs/heads/again"), "{r}");
    let c = sub(t.path(), "again");
    let err = clone_progress("2", &url, &c);
    assert_eq!(pack_reused(&err), 0, "{err}");
    let got: std::collections::BTreeSet<String> = all_objects(&c).into_iter().collect();
    assert_eq!(got, expected);
    let count = git(&c, &["count-objects", "-v"]);
    assert!(
        count.contains(&format!("in-pack: {}\n", expected.len())),
        "objects sent twice: {count}"
    );
}

/// Each push of a one-line change is a thin pack deltified against the previous push's blob.
/// Reading must not chain through every earlier pack (it did, and failed past 64 pushes).
#[test]
fn a_hundred_small_pushes_to_one_file_stay_readable() {
    let node = TestNode::start();
    let url = node.create_repo("chain", "deep");
    let src = tmp();
    let w = src.path();
    make_repo(w, 1);
    git(w, &["push", "-q", &url, "main"]);
    for i in 0..100 {
        commit_files(w, "chain", 10 + i, 1);
        git(w, &["push", "-q", &url, "main"]);
    }
    let out = tmp();
    git(out.path(), &["clone", "-q", "--mirror", &url, "c"]);
    let c = out.path().join("c");
    git(&c, &["fsck", "--strict"]);
    assert_eq!(
        git(&c, &["rev-parse", "main"]),
        git(w, &["rev-parse", "main"])
    );
    assert_eq!(all_objects(&c), all_objects(w));
}
