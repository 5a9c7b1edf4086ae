//! Trees: iterate entries without allocating, validate like `git fsck`, write byte-exactly.

use std::cmp::Ordering;

use super::ObjectError;
use crate::ObjectId;

/// A tree entry mode, as the octal number git writes (`100644`, `40000`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntryMode(pub u32);

impl EntryMode {
    /// A regular file.
    pub const BLOB: EntryMode = EntryMode(0o100644);
    /// An executable file.
    pub const BLOB_EXECUTABLE: EntryMode = EntryMode(0o100755);
    /// A symbolic link.
    pub const LINK: EntryMode = EntryMode(0o120000);
    /// A subdirectory.
    pub const TREE: EntryMode = EntryMode(0o40000);
    /// A submodule (a commit in another repository).
    pub const COMMIT: EntryMode = EntryMode(0o160000);

    /// A subdirectory.
    pub fn is_tree(self) -> bool {
        self.0 & 0o170000 == 0o040000
    }

    /// A submodule link: the id names a commit that this repository need not have.
    pub fn is_commit(self) -> bool {
        self.0 & 0o170000 == 0o160000
    }

    /// A file or symbolic link: the id names a blob.
    pub fn is_blob(self) -> bool {
        !self.is_tree() && !self.is_commit()
    }

    /// Modes `git fsck --strict` accepts (including the old group-writable `100664`).
    pub fn is_valid(self) -> bool {
        matches!(
            self.0,
            0o100644 | 0o100755 | 0o100664 | 0o120000 | 0o40000 | 0o160000
        )
    }

    fn write(self, out: &mut Vec<u8>) {
        let mut digits = [0u8; 11];
        let mut n = self.0;
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n & 7) as u8;
            n >>= 3;
            if n == 0 {
                break;
            }
        }
        out.extend_from_slice(&digits[i..]);
    }
}

/// A borrowed tree entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeEntryRef<'a> {
    /// The entry's mode.
    pub mode: EntryMode,
    /// The entry's name (one path component).
    pub name: &'a [u8],
    /// The object it names.
    pub id: ObjectId,
}

/// Iterates the entries of a tree's bytes. Stops with an error at the first malformed entry.
#[derive(Debug, Clone)]
pub struct TreeIter<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> TreeIter<'a> {
    /// Iterates `data`, the content of a tree object.
    pub fn new(data: &'a [u8]) -> Self {
        TreeIter { data, pos: 0 }
    }

    fn next_entry(&mut self) -> Result<TreeEntryRef<'a>, ObjectError> {
        let offset = self.pos;
        let rest = &self.data[offset..];
        let truncated = ObjectError::TreeTruncated { offset };
        let sp = memchr::memchr(b' ', rest).ok_or(truncated.clone())?;
        let mode_digits = &rest[..sp];
        if mode_digits.is_empty()
            || mode_digits.len() > 7
            || mode_digits[0] == b'0'
            || !mode_digits.iter().all(|d| (b'0'..=b'7').contains(d))
        {
            return Err(ObjectError::TreeBadMode { offset });
        }
        let mode = mode_digits
            .iter()
            .fold(0u32, |m, d| (m << 3) | u32::from(d - b'0'));
        let after = &rest[sp + 1..];
        let nul = memchr::memchr(0, after).ok_or(truncated.clone())?;
        let name = &after[..nul];
        let id = ObjectId::from_slice(&after[nul + 1..]).ok_or(truncated)?;
        self.pos = offset + sp + 1 + nul + 1 + 20;
        Ok(TreeEntryRef {
            mode: EntryMode(mode),
            name,
            id,
        })
    }
}

impl<'a> Iterator for TreeIter<'a> {
    type Item = Result<TreeEntryRef<'a>, ObjectError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.data.len() {
            return None;
        }
        let r = self.next_entry();
        if r.is_err() {
            self.pos = self.data.len();
        }
        Some(r)
    }
}

/// Git's tree order: names compare as bytes, with a directory's name followed by `/`.
pub fn entry_order(a: &[u8], a_tree: bool, b: &[u8], b_tree: bool) -> Ordering {
    let n = a.len().min(b.len());
    match a[..n].cmp(&b[..n]) {
        Ordering::Equal => {}
        other => return other,
    }
    let end = |name: &[u8], tree: bool| name.get(n).copied().unwrap_or(if tree { b'/' } else { 0 });
    end(a, a_tree).cmp(&end(b, b_tree))
}

/// Checks a tree the way `git fsck --strict` does: well-formed entries, valid modes, valid
/// names, git's sort order and no duplicate names.
pub fn validate_tree(data: &[u8]) -> Result<(), ObjectError> {
    let mut seen: Vec<(&[u8], bool)> = Vec::new();
    let mut iter = TreeIter::new(data);
    loop {
        let offset = iter.pos;
        let Some(entry) = iter.next() else {
            return Ok(());
        };
        let e = entry?;
        if !e.mode.is_valid() {
            return Err(ObjectError::TreeBadMode { offset });
        }
        let bad = |reason| ObjectError::TreeBadName { offset, reason };
        if e.name.is_empty() {
            return Err(bad("empty name"));
        }
        if e.name.contains(&b'/') {
            return Err(bad("contains a slash"));
        }
        if e.name == b"." || e.name == b".." {
            return Err(bad("is . or .."));
        }
        if e.name.eq_ignore_ascii_case(b".git") {
            return Err(bad("is .git"));
        }
        let is_tree = e.mode.is_tree();
        if let Some(&(prev, prev_tree)) = seen.last() {
            if prev == e.name {
                return Err(ObjectError::TreeDuplicate { offset });
            }
            if entry_order(prev, prev_tree, e.name, is_tree) != Ordering::Less {
                return Err(ObjectError::TreeUnsorted { offset });
            }
        }
        if is_tree {
            // A file "a" sorts before "a.c" before the directory "a/": look back past the
            // names that sort between them for a file with the same name.
            for &(prev, _) in seen.iter().rev() {
                if prev == e.name {
                    return Err(ObjectError::TreeDuplicate { offset });
                }
                let between = prev.len() > e.name.len()
                    && prev.starts_with(e.name)
                    && prev[e.name.len()] < b'/';
                if !between {
                    break;
                }
            }
        }
        seen.push((e.name, is_tree));
    }
}

/// An owned tree entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// The entry's mode.
    pub mode: EntryMode,
    /// The entry's name.
    pub name: Vec<u8>,
    /// The object it names.
    pub id: ObjectId,
}

/// An owned tree.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tree {
    /// Entries in git's order.
    pub entries: Vec<TreeEntry>,
}

impl Tree {
    /// Parses and validates a tree.
    pub fn parse(data: &[u8]) -> Result<Tree, ObjectError> {
        validate_tree(data)?;
        let entries = TreeIter::new(data)
            .map(|e| {
                e.map(|e| TreeEntry {
                    mode: e.mode,
                    name: e.name.to_vec(),
                    id: e.id,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Tree { entries })
    }

    /// Sorts the entries into git's order.
    pub fn sort(&mut self) {
        self.entries
            .sort_by(|a, b| entry_order(&a.name, a.mode.is_tree(), &b.name, b.mode.is_tree()));
    }

    /// Writes the tree in git's format (entries as they are; call [`Tree::sort`] first when
    /// building one).
    pub fn write(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * 40);
        for e in &self.entries {
            e.mode.write(&mut out);
            out.push(b' ');
            out.extend_from_slice(&e.name);
            out.push(0);
            out.extend_from_slice(e.id.as_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(mode: EntryMode, name: &str) -> TreeEntry {
        TreeEntry {
            mode,
            name: name.as_bytes().to_vec(),
            id: ObjectId::from_bytes([7; 20]),
        }
    }

    #[test]
    fn sorted_tree_round_trips_and_directories_sort_with_a_slash() {
        let mut t = Tree {
            entries: vec![
                entry(EntryMode::TREE, "a"),
                entry(EntryMode::BLOB, "a.c"),
                entry(EntryMode::BLOB_EXECUTABLE, "b"),
            ],
        };
        t.sort();
        let names: Vec<_> = t.entries.iter().map(|e| e.name.clone()).collect();
        assert_eq!(names, vec![b"a.c".to_vec(), b"a".to_vec(), b"b".to_vec()]);
        let bytes = t.write();
        assert_eq!(Tree::parse(&bytes).unwrap(), t);
    }

    #[test]
    fn file_and_directory_with_one_name_are_duplicates_even_when_not_adjacent() {
        let t = Tree {
            entries: vec![
                entry(EntryMode::BLOB, "a"),
                entry(EntryMode::BLOB, "a.c"),
                entry(EntryMode::TREE, "a"),
            ],
        };
        assert!(matches!(
            validate_tree(&t.write()),
            Err(ObjectError::TreeDuplicate { .. })
        ));
    }

    #[test]
    fn bad_names_modes_and_order_are_refused() {
        for (entries, want) in [
            (
                vec![entry(EntryMode::BLOB, "b"), entry(EntryMode::BLOB, "a")],
                "unsorted",
            ),
            (vec![entry(EntryMode::BLOB, ".git")], "name"),
            (vec![entry(EntryMode::BLOB, "..")], "name"),
            (vec![entry(EntryMode(0o100600), "x")], "mode"),
        ] {
            let err = validate_tree(&Tree { entries }.write()).unwrap_err();
            let ok = match want {
                "unsorted" => matches!(err, ObjectError::TreeUnsorted { .. }),
                "name" => matches!(err, ObjectError::TreeBadName { .. }),
                _ => matches!(err, ObjectError::TreeBadMode { .. }),
            };
            assert!(ok, "{err}");
        }
        assert!(matches!(
            validate_tree(b"100644 a\0short"),
            Err(ObjectError::TreeTruncated { .. })
        ));
        assert!(matches!(
            validate_tree(b"0100644 a\0aaaaaaaaaaaaaaaaaaaa"),
            Err(ObjectError::TreeBadMode { .. })
        ));
    }
}
