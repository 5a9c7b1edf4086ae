//! Merging commits natively, checked against `git merge-tree --write-tree`.
//!
//! - `base.rs`: [`merge_bases`], the best common ancestors (`git merge-base --all`).
//! - `diff.rs`: line diffs as xdiff makes them (Myers, and the change compaction);
//!   `histogram.rs`: xdiff's histogram diff, which git's merges use.
//! - `content.rs`: three-way merge of file contents (xdiff's merge) with git's markers.
//! - `tree.rs`: three-way merge of trees, path by path; `renames.rs`: rename detection
//!   (merge-ort's) and what renames change, applied with `edit.rs` before the tree merge.
//! - here: [`merge_commits`]: the merge base (several, as in a criss-cross history, are
//!   first merged into a virtual one, recursively, as git does), then the trees.
//!
//! Not yet like git: directory renames (see `renames.rs`).

mod base;
pub mod content;
pub mod diff;
mod edit;
mod histogram;
mod renames;
mod tree;

pub use base::merge_bases;

use crate::object::Commit;
use crate::odb::{MemoryOdb, ObjectRead, OdbError};
use crate::walk::commit_links;
use crate::{Kind, ObjectError, ObjectId};

/// Where merge results (blobs, trees, virtual commits) are written.
pub trait ObjectWrite {
    /// Stores an object and returns its id.
    fn write_object(&self, kind: Kind, data: &[u8]) -> Result<ObjectId, OdbError>;
}

impl ObjectWrite for MemoryOdb {
    fn write_object(&self, kind: Kind, data: &[u8]) -> Result<ObjectId, OdbError> {
        Ok(self.insert(kind, data.to_vec()))
    }
}

/// Why a merge could not be computed (a conflict is not an error: see [`Merged`]).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Reading or writing objects failed.
    #[error(transparent)]
    Odb(#[from] OdbError),
    /// A tree could not be parsed.
    #[error("tree {id} is malformed")]
    Malformed {
        /// The tree.
        id: ObjectId,
        /// Why.
        #[source]
        source: ObjectError,
    },
    /// Merge bases nest deeper than a merge will follow.
    #[error("merge bases nest deeper than {0} levels")]
    TooDeep(usize),
}

/// What kind of conflict a path has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConflictKind {
    /// Both sides changed the same lines differently.
    Content,
    /// Both sides added the path with different contents that do not merge.
    AddAdd,
    /// One side deleted what the other changed.
    ModifyDelete,
    /// Both sides changed the mode differently.
    Mode,
    /// A file on one side, a directory on the other.
    FileDirectory,
    /// Binary contents changed on both sides.
    Binary,
    /// A submodule moved two ways.
    Submodule,
    /// One side renamed what the other deleted.
    RenameDelete,
    /// The two sides renamed one file to different paths.
    RenameRename,
}

/// A conflicting path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Conflict {
    /// The path, `/`-separated.
    pub path: Vec<u8>,
    /// What conflicts there.
    pub kind: ConflictKind,
}

/// A computed merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// The merged tree (conflicting files hold conflict markers).
    pub tree: ObjectId,
    /// The conflicting paths, sorted (empty: the merge is clean).
    pub conflicts: Vec<Conflict>,
    /// The merge bases used.
    pub bases: Vec<ObjectId>,
}

impl Merged {
    /// True if nothing conflicts.
    pub fn is_clean(&self) -> bool {
        self.conflicts.is_empty()
    }
}

/// How deep virtual merge bases may nest.
const MAX_DEPTH: usize = 32;

/// The git hash of the empty tree.
fn empty_tree(odb: &impl ObjectWrite) -> Result<ObjectId, OdbError> {
    odb.write_object(Kind::Tree, &[])
}

/// Merges commit `theirs` into commit `ours`. `labels` name the sides in conflict markers
/// (git names them after the branches). Results are written to `odb`.
pub fn merge_commits<O: ObjectRead + ObjectWrite>(
    odb: &O,
    ours: &ObjectId,
    theirs: &ObjectId,
    labels: (&str, &str),
) -> Result<Merged, MergeError> {
    merge_at(odb, ours, theirs, labels, 0)
}

fn merge_at<O: ObjectRead + ObjectWrite>(
    odb: &O,
    ours: &ObjectId,
    theirs: &ObjectId,
    labels: (&str, &str),
    depth: usize,
) -> Result<Merged, MergeError> {
    if depth > MAX_DEPTH {
        return Err(MergeError::TooDeep(MAX_DEPTH));
    }
    let bases = merge_bases(odb, ours, theirs)?;
    let base_tree = match bases.as_slice() {
        [] => None,
        [one] => Some(commit_links(odb, one)?.tree),
        [first, rest @ ..] => Some(virtual_base(odb, *first, rest, depth)?),
    };
    let (o, t) = (
        commit_links(odb, ours)?.tree,
        commit_links(odb, theirs)?.tree,
    );
    let mut merged = trees_at(odb, base_tree, o, t, labels, depth > 0)?;
    merged.bases = bases;
    Ok(merged)
}

/// Merges trees `ours` and `theirs` against `base` (none: empty), as one step of a
/// cherry-pick or rebase does. Results are written to `odb`.
pub fn merge_trees<O: ObjectRead + ObjectWrite>(
    odb: &O,
    base: Option<ObjectId>,
    ours: ObjectId,
    theirs: ObjectId,
    labels: (&str, &str),
) -> Result<Merged, MergeError> {
    trees_at(odb, base, ours, theirs, labels, false)
}

/// The tree merge itself; `inner` when merging merge bases into a virtual one.
fn trees_at<O: ObjectRead + ObjectWrite>(
    odb: &O,
    base: Option<ObjectId>,
    ours: ObjectId,
    theirs: ObjectId,
    labels: (&str, &str),
    inner: bool,
) -> Result<Merged, MergeError> {
    // Renames first: the base's and the other side's versions move to the new paths.
    let plan = renames::plan(odb, base, ours, theirs)?;
    let (mut b, mut o, mut t) = (base, Some(ours), Some(theirs));
    let mut forced = Vec::new();
    if !plan.is_empty()
        && let (Some(nb), Some(no), Some(nt)) = (
            edit::apply(odb, base, &plan.base)?,
            edit::apply(odb, Some(ours), &plan.ours)?,
            edit::apply(odb, Some(theirs), &plan.theirs)?,
        )
    {
        (b, o, t) = (nb, no, nt);
        forced = plan.conflicts;
    }
    let mut m = tree::TreeMerge {
        odb,
        labels,
        inner,
        conflicts: Vec::new(),
    };
    let tree = match m.trees(b, o, t, b"")? {
        Some(id) => id,
        None => empty_tree(odb)?,
    };
    let mut conflicts = m.conflicts;
    if !inner {
        conflicts.extend(forced);
    }
    conflicts.sort();
    conflicts.dedup();
    Ok(Merged {
        tree,
        conflicts,
        bases: Vec::new(),
    })
}

/// Merges several merge bases into one virtual commit, pairwise (as git's recursive merge
/// does); returns its tree.
fn virtual_base<O: ObjectRead + ObjectWrite>(
    odb: &O,
    first: ObjectId,
    rest: &[ObjectId],
    depth: usize,
) -> Result<ObjectId, MergeError> {
    let mut merged = first;
    let mut tree = commit_links(odb, &first)?.tree;
    for next in rest {
        let inner = merge_at(
            odb,
            &merged,
            next,
            ("Temporary merge branch 1", "Temporary merge branch 2"),
            depth + 1,
        )?;
        tree = inner.tree;
        // A commit of the merged tree over both, so the next merge finds its bases.
        let commit = Commit {
            tree,
            parents: vec![merged, *next],
            author: b"guts <guts@localhost> 0 +0000".to_vec(),
            committer: b"guts <guts@localhost> 0 +0000".to_vec(),
            extra_headers: Vec::new(),
            message: Some(b"merged common ancestors\n".to_vec()),
        };
        merged = odb.write_object(Kind::Commit, &commit.write())?;
    }
    Ok(tree)
}
