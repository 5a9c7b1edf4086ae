//! Writing a pack from whole objects with a delta search like `git pack-objects`: objects
//! sorted by kind, path-name hash and size; each tried against the previous `window`
//! objects; chains at most `depth` long; bases written before their deltas (OFS_DELTA).

use std::io::Write;

use super::delta::DeltaIndex;
use super::{PackError, PackWriter};
use crate::odb::ObjectRead;
use crate::{Kind, ObjectId};

/// An object to put in a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackObject {
    /// The object.
    pub id: ObjectId,
    /// Its kind.
    pub kind: Kind,
    /// Its size in bytes.
    pub size: u64,
    /// [`name_hash`] of the path it was found at (0 when unknown); groups similar files.
    pub name_hash: u32,
}

/// How hard to look for deltas.
#[derive(Debug, Clone)]
pub struct DeltaOptions {
    /// How many previous objects each object is tried against (0: no deltas).
    pub window: usize,
    /// The longest delta chain.
    pub depth: u32,
    /// Objects larger than this are stored whole.
    pub max_delta_size: u64,
    /// Threads searching for deltas.
    pub threads: usize,
    /// zlib level.
    pub level: u32,
}

impl Default for DeltaOptions {
    fn default() -> Self {
        DeltaOptions {
            window: 10,
            depth: 50,
            max_delta_size: 64 << 20,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            level: 6,
        }
    }
}

/// Git's path-name hash: the last sixteen non-space bytes, weighted towards the end, so
/// that files with the same name or extension sort together.
pub fn name_hash(path: &[u8]) -> u32 {
    path.iter()
        .filter(|c| !c.is_ascii_whitespace())
        .fold(0u32, |h, &c| (h >> 2).wrapping_add(u32::from(c) << 24))
}

/// A delta found for an object: its base (an index into the objects) and the delta bytes.
type Found = Option<(u32, Vec<u8>)>;

/// Writes `objects` (in the order given, bases moved before their deltas) as a pack.
pub fn write_pack<W: Write>(
    out: W,
    objects: &[PackObject],
    odb: &(impl ObjectRead + Sync),
    opts: &DeltaOptions,
) -> Result<(ObjectId, W), PackError> {
    let count = u32::try_from(objects.len()).map_err(|_| PackError::TooManyObjects {
        count: u32::MAX,
        max: u32::MAX,
    })?;
    let deltas = find_deltas(objects, odb, opts)?;
    let mut w = PackWriter::new(out, count)?.with_level(opts.level);
    let mut offsets: Vec<Option<u64>> = vec![None; objects.len()];
    for start in 0..objects.len() {
        // Write the chain's bases first, outermost base first.
        let mut chain = vec![start];
        while let Some((base, _)) = &deltas[*chain.last().unwrap_or(&start)] {
            let b = *base as usize;
            if offsets[b].is_some() || chain.contains(&b) {
                break;
            }
            chain.push(b);
        }
        for &i in chain.iter().rev() {
            if offsets[i].is_some() {
                continue;
            }
            let at = match &deltas[i] {
                Some((base, delta)) => match offsets[*base as usize] {
                    Some(base_offset) => w.write_ofs_delta(base_offset, delta)?,
                    None => w.write_ref_delta(objects[*base as usize].id, delta)?,
                },
                None => {
                    let data = read(odb, &objects[i])?;
                    w.write_whole(objects[i].kind, &data)?
                }
            };
            offsets[i] = Some(at);
        }
    }
    w.finish()
}

fn read(odb: &impl ObjectRead, o: &PackObject) -> Result<Vec<u8>, PackError> {
    odb.read_kind(&o.id, o.kind).map_err(PackError::Lookup)
}

/// Finds a delta for each object that has a good one.
fn find_deltas(
    objects: &[PackObject],
    odb: &(impl ObjectRead + Sync),
    opts: &DeltaOptions,
) -> Result<Vec<Found>, PackError> {
    let mut found: Vec<Found> = vec![None; objects.len()];
    if opts.window == 0 || opts.depth == 0 {
        return Ok(found);
    }
    let mut order: Vec<u32> = (0..objects.len() as u32)
        .filter(|&i| {
            let o = &objects[i as usize];
            o.size >= 64 && o.size <= opts.max_delta_size
        })
        .collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&objects[a as usize], &objects[b as usize]);
        (y.kind.pack_type(), y.name_hash, y.size, a).cmp(&(
            x.kind.pack_type(),
            x.name_hash,
            x.size,
            b,
        ))
    });
    let threads = opts.threads.clamp(1, 64);
    let chunk = order.len().div_ceil(threads).max(1);
    let results: Vec<Result<Vec<(u32, Found)>, PackError>> = std::thread::scope(|s| {
        let handles: Vec<_> = order
            .chunks(chunk)
            .map(|part| s.spawn(move || search(part, objects, odb, opts)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Err(PackError::WorkerPanicked)))
            .collect()
    });
    for r in results {
        for (i, f) in r? {
            found[i as usize] = f;
        }
    }
    Ok(found)
}

/// One window entry: an object that later objects may use as their base.
struct Candidate {
    index: u32,
    data: Vec<u8>,
    delta_index: DeltaIndex,
    depth: u32,
}

fn search(
    part: &[u32],
    objects: &[PackObject],
    odb: &impl ObjectRead,
    opts: &DeltaOptions,
) -> Result<Vec<(u32, Found)>, PackError> {
    let mut window: std::collections::VecDeque<Candidate> = Default::default();
    let mut out = Vec::with_capacity(part.len());
    for &i in part {
        let target = &objects[i as usize];
        let data = read(odb, target)?;
        let mut best: Found = None;
        let mut best_depth = 0;
        for cand in window.iter().rev() {
            let base = &objects[cand.index as usize];
            if base.kind != target.kind || cand.depth >= opts.depth {
                continue;
            }
            if base.size < target.size / 32 {
                continue;
            }
            let limit = match &best {
                Some((_, d)) => d.len().saturating_sub(1),
                None => (target.size as usize / 2).saturating_sub(20),
            };
            if limit < 16 {
                continue;
            }
            if let Some(d) = cand.delta_index.delta(&cand.data, &data, limit) {
                best = Some((cand.index, d));
                best_depth = cand.depth + 1;
            }
        }
        let depth = if best.is_some() { best_depth } else { 0 };
        out.push((i, best));
        if window.len() == opts.window {
            window.pop_front();
        }
        window.push_back(Candidate {
            index: i,
            delta_index: DeltaIndex::new(&data),
            data,
            depth,
        });
    }
    Ok(out)
}
