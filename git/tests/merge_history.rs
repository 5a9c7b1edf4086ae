//! guts-git's merge against git's own on a real history: this workspace's (or, with
//! `GUTS_MERGE_REPO`, any repository's) first-parent commits, paired the way branches
//! meet. For commits `i < j < k` of the history:
//!
//! - two branches off `i`: one at `j`'s tree, the other at `k`'s (the same changes made
//!   twice, some of them changed again later: clean merges and real conflicts);
//! - the same with the sides swapped;
//! - two branches off `j`: one going back to `i`'s tree, the other on to `k`'s.
//!
//! `git merge-tree --write-tree` (with its defaults: renames found, as guts finds them)
//! must give the same tree when the merge is clean and the same conflicting paths when it
//! is not. `GUTS_MERGE_PAIRS` sets how many pairs (40); `GUTS_MERGE_CORPUS` keeps
//! the corpus (a bare repository and its pairs) for `bench/merge.sh`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{git, git_merge, odb_of, rev, text};
use guts_git::merge::merge_commits;

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n.max(1) as u64) as usize
    }
}

/// A commit with `tree` on top of `parent`.
fn on_top(repo: &Path, tree: &str, parent: &str, msg: &str) -> String {
    let out = git(
        repo,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit-tree",
            tree,
            "-p",
            parent,
            "-m",
            msg,
        ],
    );
    text(out).trim().to_string()
}

fn tree_of(repo: &Path, commit: &str) -> String {
    text(git(repo, &["rev-parse", &format!("{commit}^{{tree}}")]))
        .trim()
        .to_string()
}

#[test]
fn merges_of_a_real_history_agree_with_git_merge_tree() {
    let source = std::env::var("GUTS_MERGE_REPO").unwrap_or_else(|_| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        root.to_string_lossy().into_owned()
    });
    let source = Path::new(&source);
    let shallow = text(git(source, &["rev-parse", "--is-shallow-repository"]));
    let log = text(git(
        source,
        &["rev-list", "--first-parent", "--reverse", "HEAD"],
    ));
    let commits: Vec<&str> = log.lines().collect();
    if shallow.trim() == "true" || commits.len() < 30 {
        // A shallow or young clone has no history to pair: say so loudly.
        eprintln!(
            "SKIPPED: {} has {} first-parent commits (shallow: {}); a real history is needed",
            source.display(),
            commits.len(),
            shallow.trim()
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo.git");
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            "--bare",
            &source.to_string_lossy(),
            &repo.to_string_lossy(),
        ],
    );
    let count: usize = std::env::var("GUTS_MERGE_PAIRS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40);
    let mut rng = Rng(20_261_203);
    let n = commits.len();
    let mut pairs = Vec::new();
    for p in 0..count {
        let i = rng.below(n - 2);
        let j = i + 1 + rng.below((n - i - 2).min(4));
        let k = j + 1 + rng.below((n - j - 1).min(4));
        let (ci, cj, ck) = (commits[i], commits[j], commits[k]);
        let (ours, theirs) = match p % 3 {
            0 => (
                cj.to_string(),
                on_top(&repo, &tree_of(&repo, ck), ci, "theirs"),
            ),
            1 => (
                on_top(&repo, &tree_of(&repo, ck), ci, "ours"),
                cj.to_string(),
            ),
            _ => (
                on_top(&repo, &tree_of(&repo, ci), cj, "back"),
                on_top(&repo, &tree_of(&repo, ck), cj, "on"),
            ),
        };
        for (side, id) in [("a", &ours), ("b", &theirs)] {
            git(&repo, &["update-ref", &format!("refs/heads/{side}{p}"), id]);
        }
        pairs.push((format!("a{p}"), format!("b{p}")));
    }

    let odb = odb_of(&repo);
    let (mut clean, mut conflicted) = (0, 0);
    let mut disagree = Vec::new();
    for (a, b) in &pairs {
        let (ours, theirs) = (rev(&repo, a), rev(&repo, b));
        let (tree, git_paths, git_clean) = git_merge(&repo, a, b);
        let m = merge_commits(&odb, &ours, &theirs, (a, b)).expect("merge");
        let got: BTreeSet<String> = m
            .conflicts
            .iter()
            .map(|c| String::from_utf8_lossy(&c.path).into_owned())
            .collect();
        if git_clean {
            clean += 1;
            if !m.is_clean() || m.tree.to_string() != tree {
                disagree.push(format!(
                    "{a} {b}: git clean {tree}; guts {} {got:?}",
                    m.tree
                ));
            }
        } else {
            conflicted += 1;
            if got != git_paths {
                disagree.push(format!(
                    "{a} {b}: git conflicts {git_paths:?}; guts {got:?}"
                ));
            }
        }
    }
    eprintln!(
        "{} pairs from {} commits: {clean} clean, {conflicted} conflicted",
        pairs.len(),
        n
    );
    if let Ok(keep) = std::env::var("GUTS_MERGE_CORPUS") {
        let keep = Path::new(&keep);
        let list: String = pairs
            .iter()
            .map(|(a, b)| format!("refs/heads/{a} refs/heads/{b}\n"))
            .collect();
        git(
            dir.path(),
            &[
                "clone",
                "-q",
                "--bare",
                &repo.to_string_lossy(),
                &keep.join("repo.git").to_string_lossy(),
            ],
        );
        std::fs::write(keep.join("pairs.txt"), list).expect("write pairs");
    }
    assert!(
        disagree.is_empty(),
        "{} disagree:\n{}",
        disagree.len(),
        disagree.join("\n")
    );
    assert!(
        clean >= 3 && conflicted >= 3,
        "clean {clean}, conflicted {conflicted}: the corpus does not test both"
    );
}
