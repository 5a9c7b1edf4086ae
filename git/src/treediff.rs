//! What changed between two trees, path by path (`git diff-tree -r` without rename
//! detection), and line counts and unified hunks for text files.

use std::collections::BTreeMap;

use crate::merge::content::is_binary;
use crate::merge::diff::{diff, lines};
use crate::object::{EntryMode, Tree};
use crate::odb::{ObjectRead, OdbError};
use crate::{Kind, ObjectId};

/// How a path changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Only in the new tree.
    Added,
    /// Only in the old tree.
    Removed,
    /// In both, different.
    Modified,
}

/// One changed path (files only: directories are walked into).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The path, `/`-separated.
    pub path: Vec<u8>,
    /// How it changed.
    pub status: Status,
    /// Mode and id before.
    pub old: Option<(EntryMode, ObjectId)>,
    /// Mode and id after.
    pub new: Option<(EntryMode, ObjectId)>,
}

type Entries = BTreeMap<Vec<u8>, (EntryMode, ObjectId)>;

fn entries(odb: &impl ObjectRead, id: Option<ObjectId>) -> Result<Entries, OdbError> {
    let Some(id) = id else {
        return Ok(BTreeMap::new());
    };
    let data = odb.read_kind(&id, Kind::Tree)?;
    let tree = Tree::parse(&data).map_err(|source| OdbError::Malformed { id, source })?;
    Ok(tree
        .entries
        .into_iter()
        .map(|e| (e.name, (e.mode, e.id)))
        .collect())
}

/// The files that differ between `old` and `new` (none: empty), in path order, at most
/// `limit` of them.
pub fn diff_trees(
    odb: &impl ObjectRead,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
    limit: usize,
) -> Result<Vec<Change>, OdbError> {
    let mut out = Vec::new();
    walk(odb, old, new, b"", limit, &mut out)?;
    Ok(out)
}

fn walk(
    odb: &impl ObjectRead,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
    prefix: &[u8],
    limit: usize,
    out: &mut Vec<Change>,
) -> Result<(), OdbError> {
    if old == new {
        return Ok(());
    }
    let (a, b) = (entries(odb, old)?, entries(odb, new)?);
    let mut names: Vec<&Vec<u8>> = a.keys().chain(b.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        if out.len() >= limit {
            return Ok(());
        }
        let mut path = prefix.to_vec();
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(name);
        let (x, y) = (a.get(name).copied(), b.get(name).copied());
        if x == y {
            continue;
        }
        let tree =
            |e: Option<(EntryMode, ObjectId)>| e.filter(|(m, _)| m.is_tree()).map(|(_, id)| id);
        let file = |e: Option<(EntryMode, ObjectId)>| e.filter(|(m, _)| !m.is_tree());
        // Directories on either side are walked; a file on either side is a change.
        if tree(x).is_some() || tree(y).is_some() {
            walk(odb, tree(x), tree(y), &path, limit, out)?;
        }
        let (fx, fy) = (file(x), file(y));
        if fx != fy {
            let status = match (fx, fy) {
                (None, Some(_)) => Status::Added,
                (Some(_), None) => Status::Removed,
                _ => Status::Modified,
            };
            if fx.is_some() || fy.is_some() {
                out.push(Change {
                    path: path.clone(),
                    status,
                    old: fx,
                    new: fy,
                });
            }
        }
    }
    Ok(())
}

/// Lines added and removed, and the unified hunks (3 lines of context, `@@ -a,b +c,d @@`
/// headers), of a text file's change; none for binary contents.
pub fn text_patch(old: &[u8], new: &[u8]) -> Option<(usize, usize, String)> {
    if is_binary(old) || is_binary(new) {
        return None;
    }
    let (a, b) = (lines(old), lines(new));
    let hunks = diff(&a, &b);
    let added: usize = hunks.iter().map(|h| h.b_len).sum();
    let removed: usize = hunks.iter().map(|h| h.a_len).sum();
    const CONTEXT: usize = 3;
    let mut patch = String::new();
    let mut i = 0;
    while i < hunks.len() {
        // Hunks closer than twice the context share one header.
        let mut j = i;
        while j + 1 < hunks.len() && hunks[j + 1].a <= hunks[j].a + hunks[j].a_len + 2 * CONTEXT {
            j += 1;
        }
        let start_a = hunks[i].a.saturating_sub(CONTEXT);
        let start_b = hunks[i].b.saturating_sub(hunks[i].a - start_a);
        let end_a = (hunks[j].a + hunks[j].a_len + CONTEXT).min(a.len());
        let end_b =
            (hunks[j].b + hunks[j].b_len + (end_a - (hunks[j].a + hunks[j].a_len))).min(b.len());
        patch.push_str(&format!(
            "@@ -{},{} +{},{} @@\n",
            start_a + usize::from(end_a > start_a),
            end_a - start_a,
            start_b + usize::from(end_b > start_b),
            end_b - start_b
        ));
        let mut pos = start_a;
        for h in &hunks[i..=j] {
            for l in &a[pos..h.a] {
                push_line(&mut patch, ' ', l);
            }
            for l in &a[h.a..h.a + h.a_len] {
                push_line(&mut patch, '-', l);
            }
            for l in &b[h.b..h.b + h.b_len] {
                push_line(&mut patch, '+', l);
            }
            pos = h.a + h.a_len;
        }
        for l in &a[pos..end_a] {
            push_line(&mut patch, ' ', l);
        }
        i = j + 1;
    }
    Some((added, removed, patch))
}

fn push_line(out: &mut String, mark: char, line: &[u8]) {
    out.push(mark);
    out.push_str(&String::from_utf8_lossy(line));
    if !line.ends_with(b"\n") {
        out.push_str("\n\\ No newline at end of file\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odb::MemoryOdb;

    #[test]
    fn counts_and_hunks_of_a_change() {
        let old = b"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";
        let new = b"1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n11\n";
        let (added, removed, patch) = text_patch(old, new).expect("text");
        assert_eq!((added, removed), (2, 1));
        // As `git diff` prints it.
        let want =
            "@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+three\n 4\n 5\n 6\n@@ -8,3 +8,4 @@\n 8\n 9\n 10\n+11\n";
        assert_eq!(patch, want);
        assert!(text_patch(b"\0", b"x").is_none());
    }

    #[test]
    fn tree_changes_are_listed_by_path() {
        let odb = MemoryOdb::new();
        let blob = |s: &str| odb.insert(Kind::Blob, s.as_bytes().to_vec());
        let tree = |entries: Vec<(&str, EntryMode, ObjectId)>| {
            let mut t = Tree {
                entries: entries
                    .into_iter()
                    .map(|(n, mode, id)| crate::object::TreeEntry {
                        mode,
                        name: n.as_bytes().to_vec(),
                        id,
                    })
                    .collect(),
            };
            t.sort();
            odb.insert(Kind::Tree, t.write())
        };
        let sub_a = tree(vec![("x", EntryMode::BLOB, blob("x"))]);
        let sub_b = tree(vec![
            ("x", EntryMode::BLOB, blob("x2")),
            ("y", EntryMode::BLOB, blob("y")),
        ]);
        let a = tree(vec![
            ("d", EntryMode::TREE, sub_a),
            ("gone", EntryMode::BLOB, blob("g")),
            ("same", EntryMode::BLOB, blob("s")),
        ]);
        let b = tree(vec![
            ("d", EntryMode::TREE, sub_b),
            ("same", EntryMode::BLOB, blob("s")),
        ]);
        let changes = diff_trees(&odb, Some(a), Some(b), 100).expect("diff");
        let got: Vec<(String, Status)> = changes
            .iter()
            .map(|c| (String::from_utf8_lossy(&c.path).into_owned(), c.status))
            .collect();
        assert_eq!(
            got,
            vec![
                ("d/x".into(), Status::Modified),
                ("d/y".into(), Status::Added),
                ("gone".into(), Status::Removed),
            ]
        );
    }
}
