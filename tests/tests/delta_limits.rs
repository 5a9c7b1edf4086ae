//! Deltas that describe more than a node should build: a few kilobytes of delta that expand
//! to hundreds of megabytes (a delta bomb), and a chain of deltas deeper than the store reads
//! back. Both are refused at push time with a clear message, change nothing, and leave the
//! repository clonable. Packs are written by hand (guts-git's pack writer, raw deltas);
//! results are checked with git.

use std::path::Path;

use guts_git::Kind;
use guts_git::pack::PackWriter;
use guts_tests::{TestNode, git, make_repo, post_raw, random_bytes, remote_refs, sub, tmp};

const RP: &str = "application/x-git-receive-pack-request";

fn pkt(s: &str) -> String {
    format!("{:04x}{s}", s.len() + 4)
}

fn varint(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A delta that copies the first `n` (< 2^24) bytes of its base and appends `tail`.
fn copy_and_append(base: u64, n: u64, tail: &[u8], result: u64) -> Vec<u8> {
    let mut d = Vec::new();
    varint(base, &mut d);
    varint(result, &mut d);
    d.extend_from_slice(&[
        0x80 | 0x10 | 0x20 | 0x40,
        n as u8,
        (n >> 8) as u8,
        (n >> 16) as u8,
    ]);
    for chunk in tail.chunks(127) {
        d.push(chunk.len() as u8);
        d.extend_from_slice(chunk);
    }
    d
}

/// `git hash-object` of a blob.
fn blob_id(dir: &Path, data: &[u8]) -> String {
    let f = dir.join("blob.tmp");
    std::fs::write(&f, data).expect("write");
    git(dir, &["hash-object", f.to_str().expect("utf-8")])
        .trim()
        .to_string()
}

/// A pack of two entries: `base` whole, and a delta against it that copies all of `base`
/// (64 KiB) `copies` times, each copy a 1-byte command.
fn repeated_copies(base: &[u8], copies: u64) -> Vec<u8> {
    assert_eq!(base.len(), 1 << 16);
    let mut delta = Vec::new();
    varint(1 << 16, &mut delta);
    varint(copies << 16, &mut delta);
    // Each command copies 0x10000 bytes from offset 0 (size 0 means 0x10000).
    delta.extend(std::iter::repeat_n(0x80, copies as usize));
    let mut pack = Vec::new();
    let mut w = PackWriter::new(&mut pack, 2).expect("pack");
    let at = w.write_whole(Kind::Blob, base).expect("base");
    w.write_ofs_delta(at, &delta).expect("delta");
    w.finish().expect("finish");
    pack
}

/// Pushes `pack` creating `name` at `id`; returns the report.
fn push_raw(url: &str, name: &str, id: &str, pack: &[u8]) -> String {
    let zero = "0".repeat(40);
    let mut body = format!(
        "{}0000",
        pkt(&format!("{zero} {id} {name}\0report-status\n"))
    )
    .into_bytes();
    body.extend_from_slice(pack);
    let (status, _, out) = post_raw(&format!("{url}/git-receive-pack"), RP, &[], &body);
    assert_eq!(status, 200);
    String::from_utf8_lossy(&out).into_owned()
}

/// A repository with one ordinary commit on main.
fn repo_with_history(node: &TestNode, name: &str, dir: &Path) -> String {
    let url = node.create_repo("alice", name);
    std::fs::create_dir(dir).expect("mkdir");
    make_repo(dir, 3);
    git(dir, &["push", "-q", &url, "main"]);
    url
}

/// The repository still clones, and git finds it sound.
fn still_clones(url: &str, dest: &Path) {
    git(
        Path::new("."),
        &["clone", "-q", url, dest.to_str().expect("utf-8")],
    );
    git(dest, &["fsck", "--strict", "--no-progress"]);
}

#[test]
fn a_delta_bomb_is_refused_at_push_time() {
    let node = TestNode::start();
    let t = tmp();
    let src = sub(t.path(), "src");
    let url = repo_with_history(&node, "bomb", &src);
    let before = remote_refs(&url, "2");
    // A 64 KiB base and a delta of 3,200 one-byte copies: a few KB that build 200 MiB.
    let pack = repeated_copies(&[b'a'; 1 << 16], 3_200);
    assert!(pack.len() < 64 << 10);
    let report = push_raw(&url, "refs/tags/bomb", &"1".repeat(40), &pack);
    assert!(!report.contains("unpack ok"), "{report}");
    assert!(report.contains("over the limit of 104857600"), "{report}");
    assert_eq!(remote_refs(&url, "2"), before, "nothing changed");
    still_clones(&url, &sub(t.path(), "clone"));
}

#[test]
fn a_delta_chain_deeper_than_the_store_reads_is_refused() {
    let node = TestNode::start();
    let t = tmp();
    let src = sub(t.path(), "src");
    let url = repo_with_history(&node, "deep", &src);
    let before = remote_refs(&url, "0");
    // A blob, then 10,001 deltas each adding one byte to the one before.
    let depth = guts_git::pack::MAX_DELTA_CHAIN + 1;
    let mut content = b"x".to_vec();
    let mut pack = Vec::new();
    let mut w = PackWriter::new(&mut pack, depth as u32 + 1).expect("pack");
    let mut at = w.write_whole(Kind::Blob, &content).expect("base");
    for i in 0..depth {
        let n = content.len() as u64;
        let byte = b'a' + (i % 26) as u8;
        at = w
            .write_ofs_delta(at, &copy_and_append(n, n, &[byte], n + 1))
            .expect("delta");
        content.push(byte);
    }
    w.finish().expect("finish");
    // A tag may point at a blob: before the limit, this push was accepted and every later
    // clone failed.
    let tip = blob_id(t.path(), &content);
    let report = push_raw(&url, "refs/tags/deep", &tip, &pack);
    assert!(!report.contains("unpack ok"), "{report}");
    assert!(report.contains("delta chain 10001 deep"), "{report}");
    assert_eq!(remote_refs(&url, "0"), before, "nothing changed");
    still_clones(&url, &sub(t.path(), "clone"));
}

#[test]
fn a_large_object_built_by_a_delta_is_served_as_stored_with_its_base() {
    let node = TestNode::start();
    let t = tmp();
    let src = sub(t.path(), "src");
    let url = repo_with_history(&node, "served", &src);
    // 13 bytes of delta per 64 KiB copied: 6 KB of pack that build a 32 MiB blob, under
    // the object limit, so the push is accepted.
    let base: Vec<u8> = (0..1u32 << 16).map(|i| (i % 251) as u8).collect();
    let pack = repeated_copies(&base, 512);
    let big: Vec<u8> = base.iter().copied().cycle().take(32 << 20).collect();
    let big_id = blob_id(t.path(), &big);
    let report = push_raw(&url, "refs/tags/big", &big_id, &pack);
    assert!(report.contains("unpack ok"), "{report}");
    // Fetching only the big blob: its base is not wanted, and the client does not have
    // it. Rebuilding the blob would hold 32 MiB in the node and send it whole; the node
    // sends the stored delta and its base instead.
    for version in ["2", "0"] {
        let dst = sub(t.path(), &format!("fetch-v{version}"));
        std::fs::create_dir(&dst).expect("mkdir");
        git(&dst, &["init", "-q"]);
        git(
            &dst,
            &[
                "-c",
                &format!("protocol.version={version}"),
                "-c",
                "fetch.unpackLimit=1",
                "fetch",
                "-q",
                &url,
                "refs/tags/big:refs/tags/big",
            ],
        );
        assert_eq!(git(&dst, &["rev-parse", "refs/tags/big"]).trim(), big_id);
        assert_eq!(
            git(&dst, &["cat-file", "-s", &big_id]).trim(),
            (32u64 << 20).to_string()
        );
        git(&dst, &["fsck", "--strict", "--no-progress"]);
        // git's own view of the pack it received: the big blob is a delta of depth 1.
        let idx = std::fs::read_dir(dst.join(".git/objects/pack"))
            .expect("pack dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "idx"))
            .expect("a kept pack");
        let listing = git(&dst, &["verify-pack", "-v", idx.to_str().expect("utf-8")]);
        let line = listing
            .lines()
            .find(|l| l.starts_with(&big_id))
            .unwrap_or_else(|| panic!("{big_id} not in the pack:\n{listing}"));
        assert_eq!(
            line.split_whitespace().nth(5),
            Some("1"),
            "sent as a delta: {line}"
        );
    }

    // A large stored entry (3 MiB that do not compress) in an incremental fetch is copied
    // from the store piece by piece, and arrives intact.
    let copies: Vec<_> = ["2", "0"]
        .iter()
        .map(|version| {
            let copy = sub(t.path(), &format!("copy-v{version}"));
            git(
                Path::new("."),
                &["clone", "-q", &url, copy.to_str().expect("utf-8")],
            );
            (*version, copy)
        })
        .collect();
    let data = random_bytes(3 << 20);
    std::fs::write(src.join("random.bin"), &data).expect("write");
    git(&src, &["add", "random.bin"]);
    git(&src, &["commit", "-q", "-m", "large"]);
    git(&src, &["push", "-q", &url, "main"]);
    for (version, copy) in copies {
        git(
            &copy,
            &[
                "-c",
                &format!("protocol.version={version}"),
                "pull",
                "-q",
                "--ff-only",
                "origin",
                "main",
            ],
        );
        assert_eq!(std::fs::read(copy.join("random.bin")).expect("read"), data);
        git(&copy, &["fsck", "--strict", "--no-progress"]);
    }
}
