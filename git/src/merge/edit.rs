//! Editing a tree by paths: each edit puts an entry at a path (making the directories on
//! the way) or removes it (dropping directories left empty). New trees go to the merge's
//! object store. A path through a file is refused: the edit would lose it.

use std::collections::BTreeMap;

use super::{MergeError, ObjectWrite};
use crate::object::{EntryMode, Tree, TreeEntry, entry_order};
use crate::odb::ObjectRead;
use crate::{Kind, ObjectId};

type Entry = (EntryMode, ObjectId);
/// Edits: a path, and what to put there (none: remove it).
pub(super) type Edits = Vec<(Vec<u8>, Option<Entry>)>;

/// Applies `edits` to `root` (none: empty). Returns the new root (`Some(None)`: empty), or
/// `None` when a path runs through a file.
pub(super) fn apply<O: ObjectRead + ObjectWrite>(
    odb: &O,
    root: Option<ObjectId>,
    edits: &[(Vec<u8>, Option<Entry>)],
) -> Result<Option<Option<ObjectId>>, MergeError> {
    let mut map: BTreeMap<Vec<u8>, Entry> = BTreeMap::new();
    if let Some(id) = root {
        let data = odb.read_kind(&id, Kind::Tree)?;
        let tree = Tree::parse(&data).map_err(|source| MergeError::Malformed { id, source })?;
        for e in tree.entries {
            map.insert(e.name, (e.mode, e.id));
        }
    }
    // Edits grouped by their first component.
    let mut deeper: BTreeMap<Vec<u8>, Edits> = BTreeMap::new();
    for (path, entry) in edits {
        match path.iter().position(|&c| c == b'/') {
            None => match entry {
                Some(e) => {
                    map.insert(path.clone(), *e);
                }
                None => {
                    map.remove(path);
                }
            },
            Some(i) => deeper
                .entry(path[..i].to_vec())
                .or_default()
                .push((path[i + 1..].to_vec(), *entry)),
        }
    }
    for (dir, sub) in deeper {
        let current = match map.get(&dir) {
            Some((m, id)) if m.is_tree() => Some(*id),
            Some(_) => return Ok(None),
            None => None,
        };
        match apply(odb, current, &sub)? {
            None => return Ok(None),
            Some(Some(id)) => {
                map.insert(dir, (EntryMode::TREE, id));
            }
            Some(None) => {
                map.remove(&dir);
            }
        }
    }
    if map.is_empty() {
        return Ok(Some(None));
    }
    let mut tree = Tree {
        entries: map
            .into_iter()
            .map(|(name, (mode, id))| TreeEntry { mode, name, id })
            .collect(),
    };
    tree.entries
        .sort_by(|x, y| entry_order(&x.name, x.mode.is_tree(), &y.name, y.mode.is_tree()));
    Ok(Some(Some(odb.write_object(Kind::Tree, &tree.write())?)))
}
