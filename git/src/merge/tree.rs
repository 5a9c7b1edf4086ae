//! Three-way merge of trees, path by path, as git's merge machinery decides without rename
//! detection: what one side changed and the other did not is taken; the same change on both
//! sides is taken once; two different changes to a file are merged line by line
//! ([`super::content`]), to a directory recursively; anything else is a conflict, recorded
//! with its path. Empty directories vanish, as in git.

use std::collections::BTreeMap;

use super::content;
use super::{Conflict, ConflictKind, MergeError, ObjectWrite};
use crate::object::{EntryMode, Tree, TreeEntry, entry_order};
use crate::odb::ObjectRead;
use crate::{Kind, ObjectId};

/// One side's entry at a path.
type Entry = Option<(EntryMode, ObjectId)>;

/// A tree merge in progress: where results go and what it found.
pub(super) struct TreeMerge<'a, O> {
    pub odb: &'a O,
    /// Marker labels: ours, theirs.
    pub labels: (&'a str, &'a str),
    /// Merging merge bases into a virtual one: a conflict keeps the base's version where
    /// git's recursive merge does (modify/delete, binary), and nothing is reported.
    pub inner: bool,
    pub conflicts: Vec<Conflict>,
}

impl<O: ObjectRead + ObjectWrite> TreeMerge<'_, O> {
    /// Merges three trees (none: absent); returns the merged tree, or none if it is empty.
    pub fn trees(
        &mut self,
        base: Option<ObjectId>,
        ours: Option<ObjectId>,
        theirs: Option<ObjectId>,
        path: &[u8],
    ) -> Result<Option<ObjectId>, MergeError> {
        let (b, o, t) = (self.read(base)?, self.read(ours)?, self.read(theirs)?);
        let mut names: Vec<(&Vec<u8>, bool)> = Vec::new();
        for map in [&b, &o, &t] {
            for (name, (mode, _)) in map {
                names.push((name, mode.is_tree()));
            }
        }
        names.sort_by(|x, y| x.0.cmp(y.0));
        names.dedup_by(|x, y| x.0 == y.0);
        let mut out = Tree::default();
        for (name, _) in names {
            let full = join(path, name);
            let pick = |m: &BTreeMap<Vec<u8>, (EntryMode, ObjectId)>| m.get(name).copied();
            if let Some((mode, id)) = self.entry(pick(&b), pick(&o), pick(&t), &full)? {
                out.entries.push(TreeEntry {
                    mode,
                    name: name.clone(),
                    id,
                });
            }
        }
        if out.entries.is_empty() {
            return Ok(None);
        }
        out.entries
            .sort_by(|x, y| entry_order(&x.name, x.mode.is_tree(), &y.name, y.mode.is_tree()));
        Ok(Some(self.odb.write_object(Kind::Tree, &out.write())?))
    }

    fn read(
        &self,
        id: Option<ObjectId>,
    ) -> Result<BTreeMap<Vec<u8>, (EntryMode, ObjectId)>, MergeError> {
        let Some(id) = id else {
            return Ok(BTreeMap::new());
        };
        let data = self.odb.read_kind(&id, Kind::Tree)?;
        let tree = Tree::parse(&data).map_err(|source| MergeError::Malformed { id, source })?;
        Ok(tree
            .entries
            .into_iter()
            .map(|e| (e.name, (e.mode, e.id)))
            .collect())
    }

    /// The merged entry at `path` (none: absent).
    fn entry(&mut self, b: Entry, o: Entry, t: Entry, path: &[u8]) -> Result<Entry, MergeError> {
        if o == t {
            return Ok(o);
        }
        if b == o {
            return Ok(t);
        }
        if b == t {
            return Ok(o);
        }
        let tree = |e: Entry| e.filter(|(m, _)| m.is_tree()).map(|(_, id)| id);
        let file = |e: Entry| e.filter(|(m, _)| !m.is_tree() && !m.is_commit());
        match (o, t) {
            // Both are directories: merge inside (against the base's, if it was one).
            (Some((om, oid)), Some((tm, tid))) if om.is_tree() && tm.is_tree() => {
                let merged = self.trees(tree(b), Some(oid), Some(tid), path)?;
                Ok(merged.map(|id| (EntryMode::TREE, id)))
            }
            // Both are files.
            (Some(of), Some(tf)) if file(o).is_some() && file(t).is_some() => {
                self.files(file(b), of, tf, path)
            }
            // One side deleted what the other changed.
            (None, Some((pm, _))) | (Some((pm, _)), None) => {
                let base_tree = b.is_some_and(|(m, _)| m.is_tree());
                if base_tree && pm.is_tree() {
                    // A directory: file by file (each changed file is a modify/delete).
                    let merged = self.trees(tree(b), tree(o), tree(t), path)?;
                    return Ok(merged.map(|id| (EntryMode::TREE, id)));
                }
                if b.is_some() && base_tree != pm.is_tree() {
                    // The base's file (or directory) is gone on both sides: one deleted it,
                    // the other put a directory (or file) in its place.
                    return Ok(o.or(t));
                }
                self.conflict(path, ConflictKind::ModifyDelete);
                Ok(if self.inner { b } else { o.or(t) })
            }
            // A file against a directory, or a submodule changed two ways.
            (Some((om, _)), Some((tm, _))) => {
                let kind = if om.is_commit() && tm.is_commit() {
                    ConflictKind::Submodule
                } else {
                    ConflictKind::FileDirectory
                };
                self.conflict(path, kind);
                Ok(if self.inner { b } else { o })
            }
            (None, None) => Ok(None),
        }
    }

    /// Two different versions of a file: modes and contents merged apart.
    fn files(
        &mut self,
        b: Entry,
        (om, oid): (EntryMode, ObjectId),
        (tm, tid): (EntryMode, ObjectId),
        path: &[u8],
    ) -> Result<Entry, MergeError> {
        let link = EntryMode::LINK;
        let base_mode = b.map(|(m, _)| m);
        let mode = if om == tm || base_mode == Some(tm) {
            om
        } else if base_mode == Some(om) {
            tm
        } else {
            self.conflict(path, ConflictKind::Mode);
            om
        };
        if oid == tid {
            return Ok(Some((mode, oid)));
        }
        let base_id = b.map(|(_, id)| id);
        if base_id == Some(oid) {
            return Ok(Some((mode, tid)));
        }
        if base_id == Some(tid) {
            return Ok(Some((mode, oid)));
        }
        // Links are not merged line by line, nor a link with a file.
        let kind = if b.is_none() {
            ConflictKind::AddAdd
        } else {
            ConflictKind::Content
        };
        if om == link || tm == link {
            self.conflict(path, kind);
            return Ok(Some((
                mode,
                if self.inner {
                    base_id.unwrap_or(oid)
                } else {
                    oid
                },
            )));
        }
        let read = |id: Option<ObjectId>| -> Result<Vec<u8>, MergeError> {
            Ok(match id {
                Some(id) => self.odb.read_kind(&id, Kind::Blob)?,
                None => Vec::new(),
            })
        };
        let (base, ours, theirs) = (read(base_id)?, read(Some(oid))?, read(Some(tid))?);
        match content::merge(&base, &ours, &theirs, self.labels) {
            Some(merged) => {
                if merged.conflicts > 0 {
                    self.conflict(path, kind);
                }
                let id = self.odb.write_object(Kind::Blob, &merged.text)?;
                Ok(Some((mode, id)))
            }
            None => {
                self.conflict(path, ConflictKind::Binary);
                Ok(Some((
                    mode,
                    if self.inner {
                        base_id.unwrap_or(oid)
                    } else {
                        oid
                    },
                )))
            }
        }
    }

    fn conflict(&mut self, path: &[u8], kind: ConflictKind) {
        if !self.inner {
            self.conflicts.push(Conflict {
                path: path.to_vec(),
                kind,
            });
        }
    }
}

fn join(prefix: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(prefix.len() + 1 + name.len());
    if !prefix.is_empty() {
        p.extend_from_slice(prefix);
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}
