//! guts-git's merge against git's own: `git merge-tree --write-tree` on the same commits
//! must give the same tree when it is clean, and the same conflicting paths when it is not.
//!
//! The corpus is made by the git CLI from real text (this workspace's own Rust sources):
//! branch pairs with edits scattered over many files (apart, touching, the same on both
//! sides, overlapping), added, deleted and re-moded files, files replaced by directories,
//! binary files, files moved (under their name or a new one, changed or not) while the
//! other side changes them, and criss-cross histories (two merge bases). git finds renames
//! (its default), and so must guts.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{git, git_merge, git_output, odb_of, rev};
use guts_git::merge::{Conflict, merge_bases, merge_commits};

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Real text: the sources of this crate, each cut to at most 120 lines.
fn sources() -> Vec<(String, Vec<String>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(d) = dirs.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&d)
            .expect("read_dir")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&p).expect("read");
                let lines: Vec<String> = text.lines().take(120).map(str::to_string).collect();
                let name = p
                    .strip_prefix(&root)
                    .expect("under src")
                    .to_string_lossy()
                    .replace('/', "_");
                out.push((name, lines));
            }
        }
    }
    out
}

fn write(dir: &Path, path: &str, lines: &[String]) {
    let p = dir.join(path);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(p, text).expect("write");
}

fn read(dir: &Path, path: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(path))
        .expect("read")
        .lines()
        .map(str::to_string)
        .collect()
}

/// Text files of the work tree (not under `.git`), sorted.
fn files(dir: &Path) -> Vec<String> {
    let out = git(dir, &["ls-files"]);
    String::from_utf8(out)
        .expect("utf-8")
        .lines()
        .map(str::to_string)
        .filter(|f| !f.ends_with(".bin"))
        .collect()
}

fn commit(dir: &Path, msg: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", msg]);
}

/// Edits of one branch: `hot` lines (shared by both branches of a pair) are where
/// conflicts come from.
fn edit(dir: &Path, rng: &mut Rng, tag: &str, hot: &[(String, usize)]) {
    let all = files(dir);
    for _ in 0..1 + rng.below(6) {
        let f = &all[rng.below(all.len())];
        let mut lines = read(dir, f);
        if lines.is_empty() {
            continue;
        }
        let at = rng.below(lines.len());
        match rng.below(4) {
            0 => lines[at] = format!("{} // {tag}", lines[at]),
            1 => lines.insert(at, format!("// added by {tag}")),
            2 => {
                lines.remove(at);
            }
            _ => {
                let n = 1 + rng.below(3);
                for k in 0..n.min(lines.len() - at) {
                    lines[at + k] = format!("changed {k} by {tag}");
                }
            }
        }
        write(dir, f, &lines);
    }
    // The hot spots: each branch touches some of the same lines.
    for (f, line) in hot {
        if rng.below(3) == 0 || !dir.join(f).exists() {
            continue;
        }
        let mut lines = read(dir, f);
        if *line < lines.len() {
            lines[*line] = if rng.below(4) == 0 {
                "// the same change on both sides".to_string()
            } else {
                format!("// hot spot changed by {tag}")
            };
            write(dir, f, &lines);
        }
    }
    match rng.below(10) {
        0 => write(
            dir,
            &format!("new_{tag}.txt"),
            &[format!("new file of {tag}")],
        ),
        1 => write(dir, "both_added.txt", &[format!("added by {tag}")]),
        2 => {
            let f = &all[rng.below(all.len())];
            std::fs::remove_file(dir.join(f)).expect("rm");
        }
        3 => {
            let f = &all[rng.below(all.len())];
            git(dir, &["update-index", "--chmod=+x", f]);
            git(dir, &["add", "-A"]);
            git(dir, &["update-index", "--chmod=+x", f]);
        }
        4 => std::fs::write(dir.join("data.bin"), format!("\0binary {tag}")).expect("write"),
        // A file both branches change, moved (the other side's change follows it when
        // git finds the rename): to another directory under its name, or to a new name
        // with a line changed on the way.
        5 | 6 if !hot.is_empty() => {
            let (f, _) = &hot[rng.below(hot.len())];
            if dir.join(f).exists() {
                let name = f.rsplit('/').next().unwrap_or(f);
                let to = if rng.below(2) == 0 {
                    format!("moved/{name}")
                } else {
                    format!("renamed_{tag}_{name}")
                };
                std::fs::create_dir_all(dir.join("moved")).expect("mkdir");
                git(dir, &["mv", f, &to]);
                let mut lines = read(dir, &to);
                if !lines.is_empty() && rng.below(2) == 0 {
                    let at = rng.below(lines.len());
                    lines[at] = format!("// moved by {tag}");
                    write(dir, &to, &lines);
                }
            }
        }
        _ => {}
    }
}

fn paths(conflicts: &[Conflict]) -> BTreeSet<String> {
    conflicts
        .iter()
        .map(|c| String::from_utf8_lossy(&c.path).into_owned())
        .collect()
}

#[test]
fn merges_agree_with_git_merge_tree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = dir.path();
    git(w, &["init", "-q", "-b", "main"]);
    git(w, &["config", "user.name", "t"]);
    git(w, &["config", "user.email", "t@example.com"]);
    let src = sources();
    for (name, lines) in src.iter().take(40) {
        let dir = if name.len() % 3 == 0 { "a/" } else { "" };
        write(w, &format!("{dir}{name}"), lines);
    }
    write(w, "both_added.txt", &["base".to_string()]);
    std::fs::remove_file(w.join("both_added.txt")).expect("rm");
    commit(w, "base");

    let mut rng = Rng(20_261_203);
    let mut pairs = Vec::new();
    // `bench/merge.sh` asks for a bigger corpus and keeps it.
    let count: usize = std::env::var("GUTS_MERGE_PAIRS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(60);
    for i in 0..count {
        let all = files(w);
        let hot: Vec<(String, usize)> = (0..3)
            .map(|_| (all[rng.below(all.len())].clone(), rng.below(60)))
            .collect();
        let (a, b) = (format!("a{i}"), format!("b{i}"));
        let cross = i % 3 == 2;
        for side in [&a, &b] {
            git(w, &["checkout", "-q", "-b", side, "main"]);
            // Before a criss-cross, no hot spots: the cross merges must be clean.
            edit(w, &mut rng, side, if cross { &[] } else { &hot });
            commit(w, side);
        }
        if cross {
            // Criss-cross: each side merges the other's first commit, then goes on.
            let (a1, b1) = (rev(w, &a), rev(w, &b));
            git(w, &["checkout", "-q", &a]);
            let merged = git_output(w, &["merge", "-q", "--no-edit", &b1.to_string()], &[]);
            if !merged.status.success() {
                git(w, &["merge", "--abort"]);
            } else {
                git(w, &["checkout", "-q", &b]);
                let merged = git_output(w, &["merge", "-q", "--no-edit", &a1.to_string()], &[]);
                if merged.status.success() {
                    for side in [&a, &b] {
                        git(w, &["checkout", "-q", side]);
                        edit(w, &mut rng, &format!("{side}x"), &hot);
                        commit(w, &format!("{side} again"));
                    }
                } else {
                    git(w, &["merge", "--abort"]);
                }
            }
        }
        pairs.push((a, b));
        git(w, &["checkout", "-q", "main"]);
    }

    let odb = odb_of(w);
    let (mut clean, mut conflicted, mut criss_cross, mut moved) = (0, 0, 0, 0);
    let mut disagree = Vec::new();
    for (a, b) in &pairs {
        let (ours, theirs) = (rev(w, a), rev(w, b));
        let (tree, git_paths, git_clean) = git_merge(w, a, b);
        let bases = merge_bases(&odb, &ours, &theirs).expect("bases");
        let mut want: Vec<String> = String::from_utf8(git(w, &["merge-base", "--all", a, b]))
            .expect("utf-8")
            .lines()
            .map(str::to_string)
            .collect();
        want.sort();
        let mut got: Vec<String> = bases.iter().map(ToString::to_string).collect();
        got.sort();
        assert_eq!(got, want, "merge bases of {a} and {b}");
        if bases.len() > 1 {
            criss_cross += 1;
        }
        let m = merge_commits(&odb, &ours, &theirs, (a, b)).expect("merge");
        // Pairs where git finds a rename on either side.
        let base = &bases[0].to_string();
        if [a, b].iter().any(|side| {
            !git(
                w,
                &["diff", "-M", "--diff-filter=R", "--name-only", base, side],
            )
            .is_empty()
        }) {
            moved += 1;
        }
        if git_clean {
            clean += 1;
            if !m.is_clean() || m.tree.to_string() != tree {
                disagree.push(format!(
                    "{a} {b}: git clean {tree}; guts {} {:?}",
                    m.tree, m.conflicts
                ));
            }
        } else {
            conflicted += 1;
            if paths(&m.conflicts) != git_paths {
                disagree.push(format!(
                    "{a} {b}: git conflicts {git_paths:?}; guts {:?}",
                    paths(&m.conflicts)
                ));
            }
        }
    }
    eprintln!(
        "{clean} clean, {conflicted} conflicted, {criss_cross} criss-cross, {moved} with renames"
    );
    if let Ok(keep) = std::env::var("GUTS_MERGE_CORPUS") {
        let keep = Path::new(&keep);
        let list: String = pairs
            .iter()
            .map(|(a, b)| format!("refs/heads/{a} refs/heads/{b}\n"))
            .collect();
        git(
            w,
            &[
                "clone",
                "-q",
                "--bare",
                ".",
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
        clean >= 5 && conflicted >= 5,
        "clean {clean}, conflicted {conflicted}"
    );
    assert!(criss_cross >= 2, "criss-cross pairs: {criss_cross}");
    assert!(moved >= 5, "pairs with renames: {moved}");
}
