//! The second pass of indexing: resolve every delta against its base, depth first from each
//! whole object (and from thin-pack bases found outside the pack), in parallel across trees,
//! with a per-thread byte budget for the chain of bases being held.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use flate2::Decompress;

use super::delta::{DeltaError, apply_delta};
use super::entry::EntryKind;
use super::index::{BaseLookup, IndexOptions, RawEntry};
use super::inflate::inflate_region;
use super::links::LinkCollector;
use super::{PackError, PackRead};
use crate::{Kind, ObjectId, hash, object};

/// What is known of an object once resolved.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resolved {
    pub id: ObjectId,
    pub kind: Kind,
    pub size: u64,
    pub depth: u32,
}

/// An entry's result, set exactly once by whichever thread resolves it.
#[derive(Debug, Default)]
pub(crate) struct Slot(OnceLock<Resolved>);

impl Slot {
    pub fn set_whole(&self, id: ObjectId, kind: Kind, size: u64) {
        let _ = self.0.set(Resolved {
            id,
            kind,
            size,
            depth: 0,
        });
    }

    pub fn get(&self) -> Option<&Resolved> {
        self.0.get()
    }
}

/// Children of each entry: OFS_DELTA children by base index, REF_DELTA children by base id.
struct Children {
    ofs_start: Vec<u32>,
    ofs: Vec<u32>,
    by_id: HashMap<ObjectId, Vec<u32>>,
}

impl Children {
    fn build(raw: &[RawEntry]) -> Children {
        let mut counts = vec![0u32; raw.len() + 1];
        let mut by_id: HashMap<ObjectId, Vec<u32>> = HashMap::new();
        for (i, e) in raw.iter().enumerate() {
            match e.kind {
                EntryKind::OfsDelta { .. } => counts[e.base_index as usize + 1] += 1,
                EntryKind::RefDelta { base } => by_id.entry(base).or_default().push(i as u32),
                EntryKind::Whole(_) => {}
            }
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let mut fill = counts.clone();
        let mut ofs = vec![0u32; counts[raw.len()] as usize];
        for (i, e) in raw.iter().enumerate() {
            if let EntryKind::OfsDelta { .. } = e.kind {
                let b = e.base_index as usize;
                ofs[fill[b] as usize] = i as u32;
                fill[b] += 1;
            }
        }
        Children {
            ofs_start: counts,
            ofs,
            by_id,
        }
    }

    fn of(&self, index: Option<u32>, id: &ObjectId) -> Vec<u32> {
        let mut v = Vec::new();
        if let Some(i) = index {
            let (s, e) = (self.ofs_start[i as usize], self.ofs_start[i as usize + 1]);
            v.extend_from_slice(&self.ofs[s as usize..e as usize]);
        }
        if !self.by_id.is_empty()
            && let Some(more) = self.by_id.get(id)
        {
            v.extend_from_slice(more);
        }
        v
    }
}

/// Where a delta tree starts.
enum Root {
    /// A whole object in the pack.
    Entry(u32),
    /// A base outside the pack (thin pack completion).
    External(ObjectId, Kind, Vec<u8>),
}

/// Resolves every delta; returns the ids of the bases that came from outside the pack.
pub(crate) fn resolve_deltas(
    spool: &(impl PackRead + ?Sized),
    raw: &[RawEntry],
    slots: &[Slot],
    bases: &dyn BaseLookup,
    opts: &IndexOptions,
    links: Option<&LinkCollector>,
) -> Result<Vec<ObjectId>, PackError> {
    if raw.iter().all(|e| matches!(e.kind, EntryKind::Whole(_))) {
        return Ok(Vec::new());
    }
    let children = Children::build(raw);
    let ctx = Ctx {
        spool,
        raw,
        slots,
        children: &children,
        bases,
        opts,
        links,
    };
    let roots: Vec<Root> = raw
        .iter()
        .enumerate()
        .filter(|(i, e)| {
            matches!(e.kind, EntryKind::Whole(_))
                && (children.ofs_start[*i] != children.ofs_start[*i + 1]
                    || !children.by_id.is_empty())
        })
        .map(|(i, _)| Root::Entry(i as u32))
        .collect();
    ctx.run_parallel(roots)?;

    // Whatever REF_DELTA bases are still unresolved must come from outside the pack.
    let mut external = Vec::new();
    let mut missing: Vec<ObjectId> = children
        .by_id
        .iter()
        .filter(|(_, kids)| kids.iter().any(|&k| slots[k as usize].get().is_none()))
        .map(|(id, _)| *id)
        .collect();
    missing.sort();
    let mut roots = Vec::new();
    for id in missing {
        if let Some((kind, data)) = bases.read_object(&id).map_err(PackError::Lookup)? {
            external.push(id);
            roots.push(Root::External(id, kind, data));
        }
    }
    ctx.run_parallel(roots)?;

    for (e, slot) in raw.iter().zip(slots) {
        if let (None, EntryKind::RefDelta { base }) = (slot.get(), e.kind) {
            return Err(PackError::MissingBase {
                offset: e.offset,
                base,
            });
        }
    }
    if let Some((_, e)) = raw
        .iter()
        .enumerate()
        .find(|(i, _)| slots[*i].get().is_none())
    {
        return Err(PackError::DeltaCycle { offset: e.offset });
    }
    Ok(external)
}

struct Ctx<'a, S: ?Sized> {
    spool: &'a S,
    raw: &'a [RawEntry],
    slots: &'a [Slot],
    children: &'a Children,
    bases: &'a dyn BaseLookup,
    opts: &'a IndexOptions,
    links: Option<&'a LinkCollector>,
}

/// One level of the depth-first walk: an object whose children are being resolved.
struct Frame {
    index: Option<u32>,
    id: ObjectId,
    kind: Kind,
    depth: u32,
    data: Option<Vec<u8>>,
    children: Vec<u32>,
    next: usize,
}

/// Per-thread buffers.
struct Scratch {
    z: Decompress,
    compressed: Vec<u8>,
    delta: Vec<u8>,
    links: Vec<ObjectId>,
}

impl<S: PackRead + ?Sized> Ctx<'_, S> {
    fn run_parallel(&self, roots: Vec<Root>) -> Result<(), PackError> {
        if roots.is_empty() {
            return Ok(());
        }
        let threads = self.opts.threads.clamp(1, roots.len());
        let next = AtomicUsize::new(0);
        let roots: Vec<std::sync::Mutex<Option<Root>>> = roots
            .into_iter()
            .map(|r| std::sync::Mutex::new(Some(r)))
            .collect();
        let work = || -> Result<(), PackError> {
            let mut scratch = Scratch {
                z: Decompress::new(true),
                compressed: Vec::new(),
                delta: Vec::new(),
                links: Vec::new(),
            };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(cell) = roots.get(i) else {
                    return Ok(());
                };
                let root = cell.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(root) = root {
                    self.resolve_tree(root, &mut scratch)?;
                }
            }
        };
        if threads == 1 {
            return work();
        }
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
            let mut result = Ok(());
            for h in handles {
                let r = h.join().unwrap_or(Err(PackError::WorkerPanicked));
                if result.is_ok() {
                    result = r;
                }
            }
            result
        })
    }

    fn resolve_tree(&self, root: Root, scratch: &mut Scratch) -> Result<(), PackError> {
        let frame = match root {
            Root::Entry(i) => {
                let Some(res) = self.slots[i as usize].get() else {
                    return Ok(());
                };
                Frame {
                    index: Some(i),
                    id: res.id,
                    kind: res.kind,
                    depth: 0,
                    data: None,
                    children: self.children.of(Some(i), &res.id),
                    next: 0,
                }
            }
            Root::External(id, kind, data) => Frame {
                index: None,
                id,
                kind,
                depth: 0,
                children: self.children.of(None, &id),
                data: Some(data),
                next: 0,
            },
        };
        if frame.children.is_empty() {
            return Ok(());
        }
        let mut stack = vec![frame];
        let mut held = stack[0].data.as_ref().map_or(0, Vec::len);
        while let Some(top) = stack.last_mut() {
            if top.next == top.children.len() {
                held -= top.data.as_ref().map_or(0, Vec::len);
                stack.pop();
                continue;
            }
            let child = top.children[top.next];
            top.next += 1;
            let last = top.next == top.children.len();
            let (kind, depth) = (top.kind, top.depth + 1);
            if stack.last().is_some_and(|f| f.data.is_none()) {
                let top = stack.len() - 1;
                held += self.materialize(&mut stack, top, scratch)?;
            }
            let Some(base) = stack.last().and_then(|f| f.data.as_deref()) else {
                return Err(PackError::Internal {
                    reason: "base data missing after rebuilding it",
                });
            };
            let entry = &self.raw[child as usize];
            if depth as usize > super::MAX_DELTA_CHAIN {
                return Err(PackError::ChainTooDeep {
                    offset: entry.offset,
                    depth,
                    max: super::MAX_DELTA_CHAIN,
                });
            }
            let result = self.apply(entry, base, scratch)?;
            let id = hash::hash_object(self.opts.hash, kind, &result).map_err(|source| {
                PackError::Collision {
                    offset: entry.offset,
                    source,
                }
            })?;
            if self.opts.strict && kind != Kind::Blob {
                object::validate(kind, &result).map_err(|source| PackError::InvalidObject {
                    offset: entry.offset,
                    id,
                    source,
                })?;
            }
            let fresh = self.slots[child as usize]
                .0
                .set(Resolved {
                    id,
                    kind,
                    size: result.len() as u64,
                    depth,
                })
                .is_ok();
            if last {
                // The parent has no more children: free its data before going deeper. The
                // frame stays, so that evicted descendants can be rebuilt through it.
                if let Some(d) = stack.last_mut().and_then(|f| f.data.take()) {
                    held -= d.len();
                }
            }
            if !fresh {
                continue;
            }
            if let Some(links) = self.links {
                links.record(kind, &result, &mut scratch.links);
            }
            let grandchildren = self.children.of(Some(child), &id);
            if grandchildren.is_empty() {
                continue;
            }
            held += result.len();
            stack.push(Frame {
                index: Some(child),
                id,
                kind,
                depth,
                data: Some(result),
                children: grandchildren,
                next: 0,
            });
            // Over budget: forget the bases furthest from the top; they are rebuilt if needed.
            let mut k = 0;
            while held > self.opts.cache_bytes && k + 1 < stack.len() {
                if let Some(d) = stack[k].data.take() {
                    held -= d.len();
                }
                k += 1;
            }
        }
        Ok(())
    }

    /// Rebuilds `stack[k].data` from the nearest frame below that still has data (or from the
    /// pack) and returns how many bytes it now holds.
    fn materialize(
        &self,
        stack: &mut [Frame],
        k: usize,
        scratch: &mut Scratch,
    ) -> Result<usize, PackError> {
        let from = (0..=k).rev().find(|&j| stack[j].data.is_some());
        let (mut data, start) = match from {
            Some(j) => (stack[j].data.clone().unwrap_or_default(), j + 1),
            None => (self.load_root(&stack[0], scratch)?, 1),
        };
        for frame in stack.iter().take(k + 1).skip(start) {
            let Some(i) = frame.index else {
                return Err(PackError::Internal {
                    reason: "an outside base above the root of a delta chain",
                });
            };
            data = self.apply(&self.raw[i as usize], &data, scratch)?;
        }
        let n = data.len();
        stack[k].data = Some(data);
        Ok(n)
    }

    fn load_root(&self, root: &Frame, scratch: &mut Scratch) -> Result<Vec<u8>, PackError> {
        match root.index {
            Some(i) => {
                let e = &self.raw[i as usize];
                let mut out = Vec::new();
                inflate_region(
                    self.spool,
                    &mut scratch.z,
                    &mut scratch.compressed,
                    e.data_offset,
                    e.end,
                    e.size,
                    &mut out,
                )?;
                Ok(out)
            }
            None => match self
                .bases
                .read_object(&root.id)
                .map_err(PackError::Lookup)?
            {
                Some((_, data)) => Ok(data),
                None => Err(PackError::MissingBase {
                    offset: 0,
                    base: root.id,
                }),
            },
        }
    }

    fn apply(
        &self,
        entry: &RawEntry,
        base: &[u8],
        scratch: &mut Scratch,
    ) -> Result<Vec<u8>, PackError> {
        inflate_region(
            self.spool,
            &mut scratch.z,
            &mut scratch.compressed,
            entry.data_offset,
            entry.end,
            entry.size,
            &mut scratch.delta,
        )?;
        apply_delta(base, &scratch.delta, self.opts.max_object_size).map_err(
            |source| match source {
                // A few bytes of delta can describe gigabytes: say which limit it hit.
                DeltaError::TooLarge { size, max } => PackError::ObjectTooLarge {
                    offset: entry.offset,
                    size,
                    max,
                },
                source => PackError::BadDelta {
                    offset: entry.offset,
                    source,
                },
            },
        )
    }
}
