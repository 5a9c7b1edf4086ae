//! Rename detection for merges, as git's merge-ort does it (`diffcore-rename.c`), and how
//! a detected rename changes what is merged.
//!
//! For each side, the files it deleted are sources and the files it added destinations
//! (empty files never rename). Renames are found in three passes, each pass only among
//! what is left:
//!
//! 1. exact: a destination with the same blob as a source (a source with the same
//!    basename preferred);
//! 2. by basename: a source and a destination whose basename is unique among what is
//!    left on each side, if at least 75% similar;
//! 3. the rest: every destination against every source, best pairs first, if at least
//!    50% similar.
//!
//! Passes 2 and 3 only look at sources the other side modified or deleted too
//! (merge-ort's "relevant" sources: a rename of a file the other side left alone would
//! not change the merge). Similarity is git's: both
//! files are cut in spans (a line, or 64 bytes), and the score is the bytes of the larger
//! file found again in the other.
//!
//! A rename of `a` to `b` on one side then merges the other side's `a` into `b`: the base's
//! and the other side's `a` are moved to `b` before the tree merge ([`super::edit`]).
//! When the other side deleted `a` (rename/delete), renamed it elsewhere
//! (rename/rename), or added its own `b` (rename/add), the paths conflict.
//! Not done: directory renames (merge-ort moves files the other side added into a
//! renamed directory), and renames inside the virtual merge base of a criss-cross merge
//! reported as git reports them.

use std::collections::{BTreeMap, HashMap};

use super::content::is_binary;
use super::edit::Edits;
use super::{Conflict, ConflictKind, MergeError};
use crate::object::EntryMode;
use crate::odb::ObjectRead;
use crate::treediff::{Status, diff_trees};
use crate::{Kind, ObjectId};

/// git's `MAX_SCORE` and default rename score (50%).
const MAX_SCORE: u64 = 60_000;
const MIN_SCORE: u64 = 30_000;
/// Score a basename match needs (75%).
const MIN_BASENAME_SCORE: u64 = MIN_SCORE + (MAX_SCORE - MIN_SCORE) / 2;
/// Candidates kept per destination.
const CANDIDATES: usize = 4;
/// Past this many sources times destinations (squared), no inexact detection.
const RENAME_LIMIT: usize = 7_000;

type Entry = (EntryMode, ObjectId);

/// The empty blob (`e69de29b...`): empty files never rename.
const EMPTY_BLOB: ObjectId = ObjectId::from_bytes([
    0xe6, 0x9d, 0xe2, 0x9b, 0xb2, 0xd1, 0xd6, 0x43, 0x4b, 0x8b, 0x29, 0xae, 0x77, 0x5a, 0xd8, 0xc2,
    0xe4, 0x8c, 0x53, 0x91,
]);

/// What a side did to the paths of the base: files it deleted and added, and modified.
struct SideChanges {
    deleted: BTreeMap<Vec<u8>, Entry>,
    added: BTreeMap<Vec<u8>, Entry>,
    modified: BTreeMap<Vec<u8>, Entry>,
}

fn changes(
    odb: &impl ObjectRead,
    base: Option<ObjectId>,
    side: ObjectId,
) -> Result<SideChanges, MergeError> {
    let mut out = SideChanges {
        deleted: BTreeMap::new(),
        added: BTreeMap::new(),
        modified: BTreeMap::new(),
    };
    for c in diff_trees(odb, base, Some(side), usize::MAX)? {
        match (c.status, c.old, c.new) {
            (Status::Added, _, Some(n)) => {
                out.added.insert(c.path, n);
            }
            (Status::Removed, Some(o), _) => {
                out.deleted.insert(c.path, o);
            }
            (Status::Modified, _, Some(n)) => {
                out.modified.insert(c.path, n);
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The renames of one side: (old path, new path).
type Renames = Vec<(Vec<u8>, Vec<u8>)>;

/// Path edits of the three trees before the tree merge, and conflicts the renames make.
#[derive(Default)]
pub(super) struct Plan {
    pub base: Edits,
    pub ours: Edits,
    pub theirs: Edits,
    pub conflicts: Vec<Conflict>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.base.is_empty()
            && self.ours.is_empty()
            && self.theirs.is_empty()
            && self.conflicts.is_empty()
    }
}

/// Detects both sides' renames and plans what they change.
pub(super) fn plan(
    odb: &impl ObjectRead,
    base: Option<ObjectId>,
    ours: ObjectId,
    theirs: ObjectId,
) -> Result<Plan, MergeError> {
    let mut out = Plan::default();
    if base.is_none() {
        return Ok(out);
    }
    let (co, ct) = (changes(odb, base, ours)?, changes(odb, base, theirs)?);
    let ro = detect(odb, &co, &ct)?;
    let rt = detect(odb, &ct, &co)?;
    let theirs_to: HashMap<&[u8], &[u8]> = rt
        .iter()
        .map(|(a, b)| (a.as_slice(), b.as_slice()))
        .collect();
    let ours_to: HashMap<&[u8], &[u8]> = ro
        .iter()
        .map(|(a, b)| (a.as_slice(), b.as_slice()))
        .collect();
    let conflict = |out: &mut Plan, path: &[u8], kind| {
        out.conflicts.push(Conflict {
            path: path.to_vec(),
            kind,
        });
    };
    // Ours renamed `a` to `b`.
    for (a, b) in &ro {
        let base_a = co.deleted[a.as_slice()];
        match theirs_to.get(a.as_slice()) {
            // Both renamed it to `b`: the base's `a` is merged at `b`.
            Some(c) if *c == b.as_slice() => {
                out.base.push((a.clone(), None));
                out.base.push((b.clone(), Some(base_a)));
            }
            // Renamed two ways: both kept, both conflict.
            Some(c) => {
                let (ob, tc) = (co.added[b.as_slice()], ct.added[*c]);
                out.theirs.push((b.clone(), Some(ob)));
                out.ours.push((c.to_vec(), Some(tc)));
                conflict(&mut out, a, ConflictKind::RenameRename);
                conflict(&mut out, b, ConflictKind::RenameRename);
                conflict(&mut out, c, ConflictKind::RenameRename);
            }
            None if ct.deleted.contains_key(a.as_slice()) => {
                // rename/delete: ours' `b` stays, and conflicts.
                out.theirs.push((b.clone(), Some(co.added[b.as_slice()])));
                conflict(&mut out, b, ConflictKind::RenameDelete);
            }
            None if ct.added.contains_key(b.as_slice()) => {
                // rename/add: they added their own `b`.
                conflict(&mut out, b, ConflictKind::AddAdd);
            }
            None => {
                // Their `a` (changed or not) is merged into our `b`.
                let their_a = ct.modified.get(a.as_slice()).copied().unwrap_or(base_a);
                out.base.push((a.clone(), None));
                out.base.push((b.clone(), Some(base_a)));
                out.theirs.push((a.clone(), None));
                out.theirs.push((b.clone(), Some(their_a)));
            }
        }
    }
    // Theirs renamed `a` to `b` (both renaming it was handled above).
    for (a, b) in &rt {
        if ours_to.contains_key(a.as_slice()) {
            continue;
        }
        let base_a = ct.deleted[a.as_slice()];
        if co.deleted.contains_key(a.as_slice()) {
            out.ours.push((b.clone(), Some(ct.added[b.as_slice()])));
            conflict(&mut out, b, ConflictKind::RenameDelete);
        } else if co.added.contains_key(b.as_slice()) {
            conflict(&mut out, b, ConflictKind::AddAdd);
        } else {
            let our_a = co.modified.get(a.as_slice()).copied().unwrap_or(base_a);
            out.base.push((a.clone(), None));
            out.base.push((b.clone(), Some(base_a)));
            out.ours.push((a.clone(), None));
            out.ours.push((b.clone(), Some(our_a)));
        }
    }
    Ok(out)
}

/// One side's renames: its deletions against its additions, as `diffcore_rename`.
fn detect(
    odb: &impl ObjectRead,
    side: &SideChanges,
    other: &SideChanges,
) -> Result<Renames, MergeError> {
    let empty = EMPTY_BLOB;
    let sources: Vec<(&Vec<u8>, Entry)> = side
        .deleted
        .iter()
        .filter(|(_, (m, id))| !m.is_tree() && *id != empty)
        .map(|(p, e)| (p, *e))
        .collect();
    let dests: Vec<(&Vec<u8>, Entry)> = side
        .added
        .iter()
        .filter(|(_, (m, id))| !m.is_tree() && *id != empty)
        .map(|(p, e)| (p, *e))
        .collect();
    if sources.is_empty() || dests.is_empty() {
        return Ok(Vec::new());
    }
    let mut used = vec![false; sources.len()];
    let mut renamed: Vec<Option<usize>> = vec![None; dests.len()];
    // 1. Exact.
    for (d, (dpath, (dmode, did))) in dests.iter().enumerate() {
        let mut best: Option<(usize, u8)> = None;
        for (s, (spath, (smode, sid))) in sources.iter().enumerate() {
            if sid != did || used[s] {
                continue;
            }
            if (!regular(*smode) || !regular(*dmode)) && smode != dmode {
                continue;
            }
            let score = 1 + u8::from(basename_same(spath, dpath));
            if best.is_none_or(|(_, b)| score > b) {
                best = Some((s, score));
                if score == 2 {
                    break;
                }
            }
        }
        if let Some((s, _)) = best {
            used[s] = true;
            renamed[d] = Some(s);
        }
    }
    // Sources the other side did not leave as they were: the only ones an inexact rename
    // changes (merge-ort's content relevance: modified or deleted there too).
    let relevant: Vec<bool> = sources
        .iter()
        .map(|(p, _)| {
            other.modified.contains_key(p.as_slice()) || other.deleted.contains_key(p.as_slice())
        })
        .collect();
    let mut spans = SpanCache::default();
    // 2. By unique basename.
    let mut src_by_name: HashMap<&[u8], Option<usize>> = HashMap::new();
    for (s, (p, _)) in sources.iter().enumerate() {
        if used[s] {
            continue;
        }
        src_by_name
            .entry(basename(p))
            .and_modify(|v| *v = None)
            .or_insert(Some(s));
    }
    let mut dst_by_name: HashMap<&[u8], Option<usize>> = HashMap::new();
    for (d, (p, _)) in dests.iter().enumerate() {
        if renamed[d].is_some() {
            continue;
        }
        dst_by_name
            .entry(basename(p))
            .and_modify(|v| *v = None)
            .or_insert(Some(d));
    }
    for s in 0..sources.len() {
        if used[s] || !relevant[s] {
            continue;
        }
        let name = basename(sources[s].0);
        let (Some(Some(si)), Some(Some(d))) = (src_by_name.get(name), dst_by_name.get(name)) else {
            continue;
        };
        if *si != s || renamed[*d].is_some() {
            continue;
        }
        let score = similarity(
            odb,
            &mut spans,
            sources[s].1,
            dests[*d].1,
            MIN_BASENAME_SCORE,
        )?;
        if score >= MIN_BASENAME_SCORE {
            used[s] = true;
            renamed[*d] = Some(s);
        }
    }
    // 3. The rest, best pairs first.
    let left: Vec<usize> = (0..sources.len())
        .filter(|&s| !used[s] && relevant[s])
        .collect();
    let open: Vec<usize> = (0..dests.len()).filter(|&d| renamed[d].is_none()).collect();
    if !left.is_empty()
        && !open.is_empty()
        && left.len() * open.len() <= RENAME_LIMIT * RENAME_LIMIT
    {
        // (score, same basename, dest, source); per dest the best CANDIDATES.
        let mut all: Vec<(u64, bool, usize, usize)> = Vec::new();
        for &d in &open {
            let mut best: Vec<(u64, bool, usize, usize)> = Vec::new();
            for &s in &left {
                let score = similarity(odb, &mut spans, sources[s].1, dests[d].1, MIN_SCORE)?;
                let c = (score, basename_same(sources[s].0, dests[d].0), d, s);
                if best.len() < CANDIDATES {
                    best.push(c);
                } else if let Some(w) = worst(&best)
                    && better(&c, &best[w])
                {
                    best[w] = c;
                }
            }
            all.extend(best);
        }
        // Stable: equal pairs keep their order (git's STABLE_QSORT).
        all.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
        for (score, _, d, s) in all {
            if score < MIN_SCORE {
                break;
            }
            if renamed[d].is_some() || used[s] {
                continue;
            }
            used[s] = true;
            renamed[d] = Some(s);
        }
    }
    Ok(renamed
        .iter()
        .enumerate()
        .filter_map(|(d, s)| s.map(|s| (sources[s].0.clone(), dests[d].0.clone())))
        .collect())
}

/// The index of the worst of `m` (git's `record_if_better`: the last of equals).
fn worst(m: &[(u64, bool, usize, usize)]) -> Option<usize> {
    let mut w = 0;
    for i in 1..m.len() {
        if better(&m[w], &m[i]) {
            w = i;
        }
    }
    (!m.is_empty()).then_some(w)
}

/// True when `a` sorts before `b` (a higher score, then a same basename).
fn better(a: &(u64, bool, usize, usize), b: &(u64, bool, usize, usize)) -> bool {
    (a.0, a.1) > (b.0, b.1)
}

fn regular(m: EntryMode) -> bool {
    m == EntryMode::BLOB || m == EntryMode::BLOB_EXECUTABLE
}

fn basename(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&c| c == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

fn basename_same(a: &[u8], b: &[u8]) -> bool {
    basename(a) == basename(b)
}

/// Span counts of blobs already read.
#[derive(Default)]
struct SpanCache {
    by_blob: HashMap<ObjectId, (u64, HashMap<u32, u64>)>,
}

impl SpanCache {
    fn get(
        &mut self,
        odb: &impl ObjectRead,
        id: ObjectId,
    ) -> Result<&(u64, HashMap<u32, u64>), MergeError> {
        if let std::collections::hash_map::Entry::Vacant(e) = self.by_blob.entry(id) {
            let data = odb.read_kind(&id, Kind::Blob)?;
            e.insert((data.len() as u64, spans(&data)));
        }
        Ok(&self.by_blob[&id])
    }
}

/// git's `hash_chars`: bytes per span hash (a span ends at a newline or after 64 bytes;
/// a CR before a LF is skipped in text).
fn spans(data: &[u8]) -> HashMap<u32, u64> {
    const HASHBASE: u32 = 107_927;
    let text = !is_binary(data);
    let mut out: HashMap<u32, u64> = HashMap::new();
    let (mut accum1, mut accum2, mut n) = (0u32, 0u32, 0u64);
    let mut i = 0;
    while i < data.len() {
        let c = data[i];
        i += 1;
        if text && c == b'\r' && data.get(i) == Some(&b'\n') {
            continue;
        }
        let old1 = accum1;
        accum1 = (accum1 << 7) ^ (accum2 >> 25);
        accum2 = (accum2 << 7) ^ (old1 >> 25);
        accum1 = accum1.wrapping_add(u32::from(c));
        n += 1;
        if n < 64 && c != b'\n' {
            continue;
        }
        let h = accum1.wrapping_add(accum2.wrapping_mul(0x61)) % HASHBASE;
        *out.entry(h).or_default() += n;
        n = 0;
        accum1 = 0;
        accum2 = 0;
    }
    if n > 0 {
        let h = accum1.wrapping_add(accum2.wrapping_mul(0x61)) % HASHBASE;
        *out.entry(h).or_default() += n;
    }
    out
}

/// git's `estimate_similarity`: 0 to [`MAX_SCORE`], 0 for anything but regular files and
/// for sizes too far apart to reach `min`.
fn similarity(
    odb: &impl ObjectRead,
    cache: &mut SpanCache,
    (sm, sid): Entry,
    (dm, did): Entry,
    min: u64,
) -> Result<u64, MergeError> {
    if !regular(sm) || !regular(dm) {
        return Ok(0);
    }
    let ssize = cache.get(odb, sid)?.0;
    let dsize = cache.get(odb, did)?.0;
    let (max, base) = (ssize.max(dsize), ssize.min(dsize));
    if max * (MAX_SCORE - min) < (max - base) * MAX_SCORE {
        return Ok(0);
    }
    if dsize == 0 {
        return Ok(0);
    }
    let src = cache.get(odb, sid)?.1.clone();
    let dst = &cache.get(odb, did)?.1;
    let copied: u64 = src
        .iter()
        .map(|(h, n)| (*n).min(dst.get(h).copied().unwrap_or(0)))
        .sum();
    Ok(copied * MAX_SCORE / max)
}
