//! Times guts-git's merges against `git merge-tree --write-tree --stdin` on the same
//! branch pairs of one repository, in one run, and checks that they agree (clean trees
//! equal, the same merges conflicting). Objects are loaded into memory first (not timed):
//! this measures merging, not object access. `bench/merge.sh` makes a corpus and runs it.
//!
//! Usage: `merge_bench REPO PAIRS_FILE [ROUNDS]` (a line `OURS THEIRS` per pair).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use guts_git::ObjectId;
use guts_git::merge::merge_commits;
use guts_git::odb::MemoryOdb;

fn git(repo: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("git runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("git output");
    let _ = writer.join();
    out.stdout
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (repo, pairs_file) = match (args.get(1), args.get(2)) {
        (Some(r), Some(p)) => (r.as_str(), p.as_str()),
        _ => {
            eprintln!("usage: merge_bench REPO PAIRS_FILE [ROUNDS]");
            std::process::exit(2);
        }
    };
    let rounds: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(3);
    let text = std::fs::read_to_string(pairs_file).expect("pairs file");
    let names: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let resolve = |r: &str| -> ObjectId {
        String::from_utf8(git(repo, &["rev-parse", r], b""))
            .expect("utf-8")
            .trim()
            .parse()
            .expect("an id")
    };
    let pairs: Vec<(ObjectId, ObjectId)> = names
        .iter()
        .map(|(a, b)| (resolve(a), resolve(b)))
        .collect();
    let odb = MemoryOdb::new();
    let batch = git(
        repo,
        &["cat-file", "--batch-all-objects", "--batch", "--unordered"],
        b"",
    );
    let objects = odb.insert_batch(&batch).expect("batch parses");
    let stdin: String = pairs.iter().map(|(a, b)| format!("{a} {b}\n")).collect();

    let mut best = (f64::MAX, f64::MAX);
    let mut git_results = Vec::new();
    let mut guts_results = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let out = git(
            repo,
            &[
                "merge-tree",
                "--write-tree",
                "--stdin",
                "-z",
                "--name-only",
                "--no-messages",
            ],
            stdin.as_bytes(),
        );
        best.0 = best.0.min(t.elapsed().as_secs_f64());
        // `-z --stdin`: per merge, "STATUS\0TREE\0[PATH\0...]\0" (status 1: clean).
        git_results = parse_git(&out);
        let t = Instant::now();
        guts_results = pairs
            .iter()
            .map(|(a, b)| {
                let m = merge_commits(&odb, a, b, ("ours", "theirs")).expect("merge");
                (m.is_clean(), m.tree.to_string())
            })
            .collect();
        best.1 = best.1.min(t.elapsed().as_secs_f64());
    }
    let agree = git_results
        .iter()
        .zip(&guts_results)
        .filter(|((gc, gt), (uc, ut))| gc == uc && (!gc || gt == ut))
        .count();
    let conflicted = git_results.iter().filter(|(c, _)| !c).count();
    println!(
        "{} pairs ({} conflicting) over {objects} objects; best of {rounds}: git merge-tree --stdin {:.3} s, guts {:.3} s, ratio guts/git {:.2}; {agree} of {} agree",
        pairs.len(),
        conflicted,
        best.0,
        best.1,
        best.1 / best.0,
        pairs.len()
    );
}

/// Each merge's cleanliness and tree from `git merge-tree --stdin -z --name-only`.
fn parse_git(out: &[u8]) -> Vec<(bool, String)> {
    let fields: Vec<&[u8]> = out.split(|&b| b == 0).collect();
    let mut results = Vec::new();
    let mut i = 0;
    while i + 1 < fields.len() {
        let clean = fields[i] == b"1";
        let tree = String::from_utf8_lossy(fields[i + 1]).into_owned();
        i += 2;
        // Conflicting paths, then an empty field ends the record.
        while i < fields.len() && !fields[i].is_empty() {
            i += 1;
        }
        i += 1;
        results.push((clean, tree));
    }
    results
}
