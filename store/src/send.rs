//! Sending objects as a pack, reusing stored entries: whole objects and deltas are copied
//! as they are stored (still compressed), deltas re-pointed at their base's new offset; only
//! a delta whose base the client will not have is rebuilt and sent whole.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use guts_git::odb::OdbError;
use guts_git::pack::{EntryKind, PackError, PackWriter, decode_header};
use guts_git::{Kind, ObjectId};

use crate::{ObjLoc, RepoOdb, StoreError};

/// What the client accepts.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendOptions<'a> {
    /// OFS_DELTA entries (`ofs-delta`); otherwise deltas name their base by id.
    pub ofs_delta: bool,
    /// A thin pack (`thin-pack`): objects the client is known to have, usable as delta
    /// bases without sending them.
    pub thin: Option<&'a HashSet<ObjectId>>,
}

/// Counts reported while a pack is written.
pub trait SendProgress {
    /// `done` of `total` objects written.
    fn writing(&mut self, done: u32, total: u32);
}

impl SendProgress for () {
    fn writing(&mut self, _: u32, _: u32) {}
}

/// What was sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendStats {
    /// Objects written.
    pub objects: u32,
    /// Of which deltas.
    pub deltas: u32,
    /// Entries copied as stored.
    pub reused: u32,
}

/// Writes `objects` (each sent once) as a pack to `out`.
pub fn send_pack<W: Write>(
    odb: &RepoOdb,
    objects: impl IntoIterator<Item = ObjectId>,
    opts: SendOptions<'_>,
    out: W,
    progress: &mut dyn SendProgress,
) -> Result<(SendStats, W), StoreError> {
    let mut locs: Vec<(ObjLoc, ObjectId)> = Vec::new();
    let mut seen = HashSet::new();
    for id in objects {
        if !seen.insert(id) {
            continue;
        }
        let loc = odb.locate(&id)?.ok_or(OdbError::Missing { id })?;
        locs.push((loc, id));
    }
    drop(seen);
    send_located(odb, locs, opts, out, progress)
}

/// Writes every object of the repository as a pack (a full clone of a repository whose
/// objects are all reachable: no walk needed).
pub fn send_all<W: Write>(
    odb: &RepoOdb,
    opts: SendOptions<'_>,
    out: W,
    progress: &mut dyn SendProgress,
) -> Result<(SendStats, W), StoreError> {
    let locs = odb
        .all_objects()
        .map(|r| r.map(|(id, loc)| (loc, id)))
        .collect::<Result<Vec<_>, _>>()?;
    send_located(odb, locs, opts, out, progress)
}

fn send_located<W: Write>(
    odb: &RepoOdb,
    mut locs: Vec<(ObjLoc, ObjectId)>,
    opts: SendOptions<'_>,
    out: W,
    progress: &mut dyn SendProgress,
) -> Result<(SendStats, W), StoreError> {
    // Stored order: good locality, and OFS bases before their deltas.
    locs.sort_unstable_by_key(|(l, _)| (l.pack, l.offset));
    let index: HashMap<ObjectId, usize> = locs
        .iter()
        .enumerate()
        .map(|(i, (_, id))| (*id, i))
        .collect();
    let total = u32::try_from(locs.len()).map_err(|_| PackError::TooManyObjects {
        count: u32::MAX,
        max: u32::MAX,
    })?;
    let mut w = PackWriter::new(out, total)?;
    let mut written: Vec<Option<u64>> = vec![None; locs.len()];
    let mut stats = SendStats::default();
    let mut raw = Vec::new();
    let mut stack = Vec::new();
    for start in 0..locs.len() {
        stack.push(start);
        while let Some(&i) = stack.last() {
            if written[i].is_some() {
                stack.pop();
                continue;
            }
            let (loc, id) = locs[i];
            // A base that is being sent goes first.
            if let Some(b) = loc.base_id().and_then(|b| index.get(&b).copied())
                && written[b].is_none()
                && !stack.contains(&b)
            {
                stack.push(b);
                continue;
            }
            let base_at = loc
                .base_id()
                .and_then(|b| index.get(&b).and_then(|&j| written[j].map(|at| (b, at))));
            // A base the client has (and that is not being sent): a thin pack may use it.
            let thin_base = loc.base_id().filter(|b| {
                !index.contains_key(b) && opts.thin.is_some_and(|known| known.contains(b))
            });
            let at = match (loc.base_id(), base_at, thin_base) {
                (None, _, _) => {
                    odb.read_raw(&loc, &mut raw)?;
                    stats.reused += 1;
                    let (kind, size, data) = split_entry(&raw, &loc)?;
                    w.write_compressed(kind, size, data)?
                }
                (Some(_), Some((base, base_offset)), _) => {
                    odb.read_raw(&loc, &mut raw)?;
                    stats.reused += 1;
                    stats.deltas += 1;
                    let (_, size, data) = split_entry(&raw, &loc)?;
                    let kind = if opts.ofs_delta {
                        EntryKind::OfsDelta { base_offset }
                    } else {
                        EntryKind::RefDelta { base }
                    };
                    w.write_compressed(kind, size, data)?
                }
                (Some(_), None, Some(base)) => {
                    odb.read_raw(&loc, &mut raw)?;
                    stats.reused += 1;
                    stats.deltas += 1;
                    let (_, size, data) = split_entry(&raw, &loc)?;
                    w.write_compressed(EntryKind::RefDelta { base }, size, data)?
                }
                (Some(_), None, None) => {
                    let (kind, data) = odb.read_loc(&loc)?;
                    check_kind(kind, &loc, id)?;
                    w.write_whole(kind, &data)?
                }
            };
            written[i] = Some(at);
            stack.pop();
            stats.objects += 1;
            progress.writing(stats.objects, total);
        }
    }
    let (_, out) = w.finish()?;
    Ok((stats, out))
}

fn split_entry<'a>(raw: &'a [u8], loc: &ObjLoc) -> Result<(EntryKind, u64, &'a [u8]), StoreError> {
    let h = decode_header(raw, loc.offset).map_err(|_| PackError::BadEntryHeader {
        offset: loc.offset,
        reason: "stored entry header",
    })?;
    let data = raw
        .get(h.header_len..)
        .ok_or(PackError::Truncated { offset: loc.offset })?;
    Ok((h.kind, h.size, data))
}

fn check_kind(kind: Kind, loc: &ObjLoc, id: ObjectId) -> Result<(), StoreError> {
    if kind.pack_type() != loc.kind {
        return Err(StoreError::Corrupt {
            tree: crate::keys::tree::OBJECTS,
            reason: format!("object {id} is indexed with another kind"),
        });
    }
    Ok(())
}
