//! Helpers shared by the guts-git integration tests: the fixture repository (made by the
//! git CLI), running git, and reading git's own view of objects and packs.
#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use guts_git::odb::MemoryOdb;
use guts_git::{Kind, ObjectId};

/// Runs git in `dir` and returns stdout; panics with stderr on failure.
pub fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    git_stdin(dir, args, &[])
}

/// Runs git in `dir` with `input` on stdin.
pub fn git_stdin(dir: &Path, args: &[&str], input: &[u8]) -> Vec<u8> {
    let out = git_output(dir, args, input);
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs git and returns the whole output, successful or not.
pub fn git_output(dir: &Path, args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("git runs");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

pub fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap().trim().to_string()
}

/// The fixture repository, built once per test binary.
pub fn fixture() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/make-repo.sh");
        let status = Command::new("bash")
            .arg(script)
            .arg(&repo)
            .arg("300")
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "fixture script failed");
        (tmp, repo)
    })
    .1
}

/// Every object in the repository, as `git cat-file --batch-all-objects --batch` gives them.
pub fn all_objects(repo: &Path) -> Vec<(ObjectId, Kind, Vec<u8>)> {
    let odb = odb_of(repo);
    odb.ids()
        .into_iter()
        .map(|id| {
            let (kind, data) = guts_git::odb::ObjectRead::read_object(&odb, &id)
                .unwrap()
                .unwrap();
            (id, kind, data)
        })
        .collect()
}

/// A MemoryOdb holding every object of the repository.
pub fn odb_of(repo: &Path) -> MemoryOdb {
    let out = git(
        repo,
        &["cat-file", "--batch-all-objects", "--batch", "--unordered"],
    );
    let odb = MemoryOdb::new();
    odb.insert_batch(&out).expect("git's batch output parses");
    odb
}

/// `git rev-parse REV`.
pub fn rev(repo: &Path, rev: &str) -> ObjectId {
    text(git(repo, &["rev-parse", rev])).parse().unwrap()
}

/// Ids printed one a line (first word of each line), as a sorted list.
pub fn id_lines(out: Vec<u8>) -> Vec<ObjectId> {
    let mut ids: Vec<ObjectId> = String::from_utf8(out)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(|w| w.trim_start_matches('-').parse().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// `git pack-objects --stdout` of the objects `rev-list --objects ARGS` lists.
pub fn pack_of(repo: &Path, revs: &str, extra: &[&str]) -> Vec<u8> {
    let mut args = vec!["pack-objects", "--stdout", "-q", "--revs"];
    args.extend_from_slice(extra);
    git_stdin(repo, &args, revs.as_bytes())
}

/// `git show-index` of the `.idx` that `git index-pack` makes for `pack`:
/// (offset, id, crc32) sorted by offset.
pub fn git_index(pack: &[u8]) -> Vec<(u64, ObjectId, u32)> {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("p.pack");
    std::fs::write(&path, pack).unwrap();
    git(tmp.path(), &["init", "-q", "--bare", "scratch"]);
    git(
        &tmp.path().join("scratch"),
        &[
            "index-pack",
            "--strict",
            "-o",
            tmp.path().join("p.idx").to_str().unwrap(),
            path.to_str().unwrap(),
        ],
    );
    let idx = std::fs::read(tmp.path().join("p.idx")).unwrap();
    let out = git_stdin(&tmp.path().join("scratch"), &["show-index"], &idx);
    let mut rows: Vec<(u64, ObjectId, u32)> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            let mut w = l.split_whitespace();
            let off = w.next().unwrap().parse().unwrap();
            let id = w.next().unwrap().parse().unwrap();
            let crc =
                u32::from_str_radix(w.next().unwrap().trim_matches(|c| c == '(' || c == ')'), 16)
                    .unwrap();
            (off, id, crc)
        })
        .collect();
    rows.sort();
    rows
}

/// What `git merge-tree --write-tree` (git's defaults) says of `ours` and `theirs`: the
/// tree, the conflicting paths, and whether it is clean.
pub fn git_merge(repo: &Path, ours: &str, theirs: &str) -> (String, BTreeSet<String>, bool) {
    let out = git_output(
        repo,
        &[
            "merge-tree",
            "--write-tree",
            "--name-only",
            "--no-messages",
            ours,
            theirs,
        ],
        &[],
    );
    let clean = out.status.success();
    assert!(
        clean || out.status.code() == Some(1),
        "merge-tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = text(out.stdout);
    let mut lines = t.lines();
    let tree = lines.next().expect("a tree").to_string();
    let paths = lines
        .take_while(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    (tree, paths, clean)
}
