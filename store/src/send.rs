//! Sending objects as a pack, reusing stored entries: whole objects and deltas are copied
//! as they are stored (still compressed, a large entry in bounded pieces), deltas
//! re-pointed at their base's new offset. A delta whose base the client will not have is
//! rebuilt and sent whole only when every object of its chain is small
//! ([`REBUILD_MAX`]); otherwise its base goes into the pack too, so serving never holds a
//! large object in memory, whatever deltas a pusher crafted.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use guts_git::odb::OdbError;
use guts_git::pack::{EntryKind, PackError, PackWriter, decode_header};
use guts_git::{Kind, ObjectId};

use crate::{ObjLoc, RepoOdb, StoreError};

/// The largest object rebuilt from its delta chain to be sent whole; larger ones (or ones
/// whose chain holds a larger object) travel as stored, with their bases.
pub const REBUILD_MAX: u64 = 1 << 20;

/// Stored entries up to this size are read whole (through the chunk cache); larger ones
/// are copied chunk by chunk.
const READ_WHOLE_MAX: u64 = 1 << 20;

/// How far a delta chain is followed to decide whether rebuilding it stays small.
const REBUILD_CHAIN_MAX: usize = 64;

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
    send_pack_with(odb, objects, &[], opts, out, progress)
}

/// An object that is not stored but sent all the same (a pull request's test merge):
/// its kind and content, written whole.
pub type Unstored<'a> = (Kind, &'a [u8]);

/// Writes `objects` (stored, each sent once) and `extra` (not stored) as one pack.
pub fn send_pack_with<W: Write>(
    odb: &RepoOdb,
    objects: impl IntoIterator<Item = ObjectId>,
    extra: &[Unstored<'_>],
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
    send_located(odb, locs, extra, opts, out, progress)
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
    send_located(odb, locs, &[], opts, out, progress)
}

/// Adds to `locs` the bases of the deltas that could not be rebuilt small and that the
/// client will neither receive nor have; returns which deltas are to be rebuilt instead.
fn add_bases(
    odb: &RepoOdb,
    locs: &mut Vec<(ObjLoc, ObjectId)>,
    opts: SendOptions<'_>,
) -> Result<HashSet<ObjectId>, StoreError> {
    let mut present: HashSet<ObjectId> = locs.iter().map(|(_, id)| *id).collect();
    let mut rebuild = HashSet::new();
    let mut i = 0;
    while let Some(&(loc, id)) = locs.get(i) {
        i += 1;
        let Some(base) = loc.base_id() else { continue };
        if present.contains(&base) || opts.thin.is_some_and(|known| known.contains(&base)) {
            continue;
        }
        if rebuilds_small(odb, &loc)? {
            rebuild.insert(id);
            continue;
        }
        let base_loc = odb.locate(&base)?.ok_or(OdbError::Missing { id: base })?;
        present.insert(base);
        locs.push((base_loc, base));
    }
    Ok(rebuild)
}

/// True when the object at `loc` and every object of its delta chain are at most
/// [`REBUILD_MAX`] bytes (so rebuilding it holds little).
fn rebuilds_small(odb: &RepoOdb, loc: &ObjLoc) -> Result<bool, StoreError> {
    let mut cur = *loc;
    for _ in 0..REBUILD_CHAIN_MAX {
        if cur.size > REBUILD_MAX {
            return Ok(false);
        }
        let Some(base) = cur.base_id() else {
            return Ok(true);
        };
        cur = odb.locate(&base)?.ok_or(OdbError::Missing { id: base })?;
    }
    Ok(false)
}

/// Copies the stored entry at `loc` into `w` as `kind` (its own kind, or a delta re-pointed
/// at its base in this pack): small entries read whole, large ones chunk by chunk.
fn copy_entry<W: Write>(
    odb: &RepoOdb,
    loc: &ObjLoc,
    kind: Option<EntryKind>,
    raw: &mut Vec<u8>,
    w: &mut PackWriter<W>,
) -> Result<u64, StoreError> {
    if loc.end.saturating_sub(loc.offset) <= READ_WHOLE_MAX {
        odb.read_raw(loc, raw)?;
        let (stored, size, data) = split_entry(raw, loc)?;
        return Ok(w.write_compressed(kind.unwrap_or(stored), size, data)?);
    }
    let header = ObjLoc {
        end: loc.data_offset,
        ..*loc
    };
    odb.read_raw(&header, raw)?;
    let (stored, size, _) = split_entry(raw, loc)?;
    let at = w.begin_compressed(kind.unwrap_or(stored), size)?;
    odb.view(loc.pack)?
        .for_each_slice(loc.data_offset, loc.end, |bytes| Ok(w.copy_raw(bytes)?))?;
    Ok(at)
}

fn send_located<W: Write>(
    odb: &RepoOdb,
    mut locs: Vec<(ObjLoc, ObjectId)>,
    extra: &[Unstored<'_>],
    opts: SendOptions<'_>,
    out: W,
    progress: &mut dyn SendProgress,
) -> Result<(SendStats, W), StoreError> {
    let rebuild = add_bases(odb, &mut locs, opts)?;
    // Stored order: good locality, and OFS bases before their deltas.
    locs.sort_unstable_by_key(|(l, _)| (l.pack, l.offset));
    let index: HashMap<ObjectId, usize> = locs
        .iter()
        .enumerate()
        .map(|(i, (_, id))| (*id, i))
        .collect();
    let total = u32::try_from(locs.len() + extra.len()).map_err(|_| PackError::TooManyObjects {
        count: u32::MAX,
        max: u32::MAX,
    })?;
    let mut w = PackWriter::new(out, total)?;
    let mut written: Vec<Option<u64>> = vec![None; locs.len()];
    let mut stats = SendStats::default();
    for (kind, data) in extra {
        w.write_whole(*kind, data)?;
        stats.objects += 1;
        progress.writing(stats.objects, total);
    }
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
                    stats.reused += 1;
                    copy_entry(odb, &loc, None, &mut raw, &mut w)?
                }
                (Some(_), Some((base, base_offset)), _) => {
                    stats.reused += 1;
                    stats.deltas += 1;
                    let kind = if opts.ofs_delta {
                        EntryKind::OfsDelta { base_offset }
                    } else {
                        EntryKind::RefDelta { base }
                    };
                    copy_entry(odb, &loc, Some(kind), &mut raw, &mut w)?
                }
                (Some(_), None, Some(base)) => {
                    stats.reused += 1;
                    stats.deltas += 1;
                    let kind = EntryKind::RefDelta { base };
                    copy_entry(odb, &loc, Some(kind), &mut raw, &mut w)?
                }
                (Some(base), None, None) => {
                    if !rebuild.contains(&id) {
                        // add_bases put every other base in the pack.
                        return Err(OdbError::Missing { id: base }.into());
                    }
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
