//! Receiving a pack: index it from a stream into a spool file (in bounded memory), thicken
//! it if it is thin, let the caller check connectivity through an overlay that sees the new
//! objects, then commit it to the store in chunks with its objects indexed.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use flate2::Compression;
use flate2::write::ZlibEncoder;
use guts_git::odb::{ObjectRead, OdbError};
use guts_git::pack::{
    EntryKind, HEADER_LEN, IndexEntry, IndexOptions, PackLinks, TRAILER_LEN, encode_header,
    index_pack,
};
use guts_git::{Kind, ObjectId};
use sha1::{Digest, Sha1};

use crate::chunks::store_chunks;
use crate::keys::{self, tree};
use crate::odb::{BaseCache, RefBase, read_chain};
use crate::records::{PackRecord, now};
use crate::{ObjLoc, Repo, RepoOdb, StoreError, codec};

/// How packs are received.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Indexing limits and choices.
    pub index: IndexOptions,
}

/// Something told about progress while a pack is received.
pub trait IngestProgress {
    /// The pack has been indexed: `objects` in all, `deltas` of them resolved.
    fn indexed(&mut self, objects: u32, deltas: u32);
}

impl IngestProgress for () {
    fn indexed(&mut self, _: u32, _: u32) {}
}

/// A received, verified pack not yet part of the repository.
#[derive(Debug)]
pub struct Received {
    spool: File,
    entries: Vec<IndexEntry>,
    by_id: HashMap<ObjectId, usize>,
    len: u64,
    checksum: ObjectId,
    /// Bases appended to complete a thin pack.
    pub thin_bases: u32,
    /// Delta entries resolved.
    pub deltas: u32,
    links: Option<PackLinks>,
}

/// A pack committed to the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ingested {
    /// The pack id (none for an empty pack).
    pub pack: Option<u64>,
    /// Objects in the pack.
    pub objects: u32,
    /// Objects the repository did not have.
    pub new_objects: u64,
    /// Pack length in bytes.
    pub bytes: u64,
    /// The pack's trailing checksum (zero for an empty pack).
    pub checksum: ObjectId,
}

impl Received {
    /// Commits in the pack (a client sends only those the repository lacks).
    pub fn commits(&self) -> u64 {
        self.entries
            .iter()
            .filter(|e| e.kind == guts_git::object::Kind::Commit)
            .count() as u64
    }

    /// Objects in the pack (thin bases included).
    pub fn objects(&self) -> u32 {
        u32::try_from(self.entries.len()).unwrap_or(u32::MAX)
    }

    /// The pack's length.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Where the entries received end (and appended thin bases start).
    fn entries_end(&self) -> u64 {
        let first_base = self.entries.len().saturating_sub(self.thin_bases as usize);
        self.entries
            .get(first_base)
            .map_or(self.len.saturating_sub(TRAILER_LEN), |e| e.offset)
    }

    /// The ids of the pack's objects.
    pub fn ids(&self) -> impl Iterator<Item = &ObjectId> + '_ {
        self.entries.iter().map(|e| &e.id)
    }

    /// True when the pack is closed under links by itself (thin bases not counted): the
    /// whole closure of any of its objects is in it, so a tip it contains is connected.
    pub fn self_contained(&self) -> bool {
        self.thin_bases == 0 && self.links.as_ref().is_some_and(|l| l.self_contained)
    }

    /// The pack's objects that none of its objects references (when links were gathered).
    pub fn roots(&self) -> Option<&[ObjectId]> {
        self.links.as_ref().map(|l| l.roots.as_slice())
    }

    /// True when the pack (thin bases included) holds the object.
    pub fn contains(&self, id: &ObjectId) -> bool {
        self.by_id.contains_key(id)
    }

    /// True for a pack with no objects.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// An object database that sees this pack's objects on top of the repository's.
    pub fn overlay<'a>(&'a self, base: &'a RepoOdb) -> Overlay<'a> {
        Overlay {
            rx: self,
            base,
            cache: Mutex::new(BaseCache::new(32 << 20)),
        }
    }
}

impl Repo {
    /// Reads a pack from `input` and verifies it (checksum, every object's id, deltas, thin
    /// bases against this repository, strict object checks). Nothing is stored yet.
    pub fn receive_pack(
        &self,
        input: impl Read,
        opts: &IngestOptions,
        progress: &mut dyn IngestProgress,
    ) -> Result<Received, StoreError> {
        let odb = self.odb();
        let mut spool = tempfile::tempfile_in(&self.store.t.tmp)?;
        let idx = index_pack(input, &mut spool, &odb, &opts.index)?;
        let deltas = idx
            .entries
            .iter()
            .filter(|e| !matches!(e.packed, EntryKind::Whole(_)))
            .count();
        let deltas = u32::try_from(deltas).unwrap_or(u32::MAX);
        let objects = u32::try_from(idx.entries.len()).unwrap_or(u32::MAX);
        progress.indexed(objects, deltas);
        let thin_bases = u32::try_from(idx.external_bases.len()).unwrap_or(u32::MAX);
        let (entries, len, checksum) = if idx.external_bases.is_empty() {
            (idx.entries, idx.len, idx.checksum)
        } else {
            thicken(&mut spool, idx.entries, &idx.external_bases, idx.len, &odb)?
        };
        let by_id = entries.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
        Ok(Received {
            spool,
            entries,
            by_id,
            len,
            checksum,
            thin_bases,
            deltas,
            links: idx.links,
        })
    }

    /// Stores a received pack and indexes its objects, then flushes: once this returns,
    /// refs may point at its objects.
    pub fn commit_pack(&self, mut rx: Received) -> Result<Ingested, StoreError> {
        let t = &self.store.t;
        if rx.entries.is_empty() {
            return Ok(Ingested::default());
        }
        // One commit at a time: while an object's canonical copy is being chosen, no other
        // pack that could still be rolled back by recovery is half-indexed.
        let _guard = crate::sync::lock(&t.commit_lock);
        let repo = self.id();
        let pack = t.db.generate_id()?;
        let pk = keys::pack(repo, pack);
        t.pending.insert(pk, &[][..])?;
        t.db.flush()?;
        store_chunks(t, repo, pack, &mut rx.spool, rx.len)?;
        let deltas = rx
            .entries
            .iter()
            .filter(|e| !matches!(e.packed, EntryKind::Whole(_)))
            .count();
        // Readers that find an object need its pack's record: it goes first.
        let mut record = PackRecord {
            checksum: *rx.checksum.as_bytes(),
            len: rx.len,
            objects: rx.objects(),
            deltas: u32::try_from(deltas).unwrap_or(u32::MAX),
            canonical: 0,
            thin_bases: rx.thin_bases,
            entries_end: rx.entries_end(),
            chunk_size: t.opts.chunk_size,
            stored_at: now(),
        };
        t.packs.insert(pk, codec::encode(&record)?)?;
        let mut by_offset: Vec<(u64, ObjectId)> =
            rx.entries.iter().map(|e| (e.offset, e.id)).collect();
        by_offset.sort_unstable();
        // Plain inserts: a sled Batch of this size takes gigabytes of memory.
        let mut new_objects = 0u64;
        let mut whole_dups = Vec::new();
        for (i, e) in rx.entries.iter().enumerate() {
            let key = keys::object(repo, &e.id);
            if t.objects.contains_key(key)? {
                if matches!(e.packed, EntryKind::Whole(_)) {
                    whole_dups.push(i);
                }
                continue;
            }
            let base = match e.packed {
                EntryKind::Whole(_) => None,
                EntryKind::RefDelta { base } => Some(*base.as_bytes()),
                EntryKind::OfsDelta { base_offset } => {
                    let i = by_offset
                        .binary_search_by_key(&base_offset, |(o, _)| *o)
                        .map_err(|_| StoreError::Invalid("OFS_DELTA base not an entry".into()))?;
                    Some(*by_offset[i].1.as_bytes())
                }
            };
            t.objects
                .insert(key, codec::encode(&loc_of(pack, e, base))?)?;
            new_objects += 1;
        }
        record.canonical = u32::try_from(new_objects).unwrap_or(u32::MAX);
        t.packs.insert(pk, codec::encode(&record)?)?;
        t.pending.remove(pk)?;
        t.db.flush()?;
        repoint_to_whole(t, repo, pack, &rx, &whole_dups)?;
        let tt = &t.totals;
        tt.objects.fetch_add(new_objects, Ordering::Relaxed);
        tt.packs.fetch_add(1, Ordering::Relaxed);
        tt.pack_bytes.fetch_add(rx.len, Ordering::Relaxed);
        Ok(Ingested {
            pack: Some(pack),
            objects: rx.objects(),
            new_objects,
            bytes: rx.len,
            checksum: rx.checksum,
        })
    }
}

/// Where entry `e` of `pack` is, for the object index.
fn loc_of(pack: u64, e: &IndexEntry, base: Option<[u8; 20]>) -> ObjLoc {
    ObjLoc {
        pack,
        offset: e.offset,
        data_offset: e.data_offset,
        end: e.end,
        kind: e.kind.pack_type(),
        size: e.size,
        base,
    }
}

/// Objects this pack holds whole that were already stored (a thin pack's appended bases, or
/// a peer's pack that carries them): where the canonical copy is a delta in an older pack,
/// the whole copy becomes canonical. A REF_DELTA's base is then found whole or in its own
/// pack; otherwise each push that deltas against the previous one would add a pack to every
/// read's chain (a hundred small pushes to one file, a hundred packs deep). Runs once the
/// pack is committed, so recovery never rolls back a pack the index points into; before and
/// after each insert both copies are valid. The canonical counts (what full-clone reuse
/// checks) are unchanged.
fn repoint_to_whole(
    t: &crate::db::Trees,
    repo: u64,
    pack: u64,
    rx: &Received,
    whole_dups: &[usize],
) -> Result<(), StoreError> {
    let mut moved = false;
    for e in whole_dups.iter().filter_map(|&i| rx.entries.get(i)) {
        let key = keys::object(repo, &e.id);
        let Some(old) = t.objects.get(key)? else {
            continue;
        };
        let old: ObjLoc = codec::decode(tree::OBJECTS, &old)?;
        if old.base.is_none() || old.pack == pack {
            continue;
        }
        t.objects
            .insert(key, codec::encode(&loc_of(pack, e, None))?)?;
        moved = true;
    }
    if moved {
        t.db.flush()?;
    }
    Ok(())
}

/// Appends the external bases of a thin pack as whole objects, fixes the object count and
/// rewrites the trailer, so the stored pack is self-contained.
fn thicken(
    spool: &mut File,
    mut entries: Vec<IndexEntry>,
    bases: &[ObjectId],
    len: u64,
    odb: &RepoOdb,
) -> Result<(Vec<IndexEntry>, u64, ObjectId), StoreError> {
    let mut at = len - TRAILER_LEN;
    spool.set_len(at)?;
    spool.seek(SeekFrom::Start(at))?;
    let mut header = Vec::new();
    for id in bases {
        let (kind, data) = odb
            .read_shared(id)?
            .ok_or(StoreError::Odb(OdbError::Missing { id: *id }))?;
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&data)?;
        let compressed = z.finish()?;
        header.clear();
        encode_header(&mut header, &EntryKind::Whole(kind), data.len() as u64, at);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&header);
        crc.update(&compressed);
        spool.write_all(&header)?;
        spool.write_all(&compressed)?;
        let end = at + (header.len() + compressed.len()) as u64;
        entries.push(IndexEntry {
            id: *id,
            offset: at,
            data_offset: at + header.len() as u64,
            end,
            crc32: crc.finalize(),
            kind,
            size: data.len() as u64,
            packed: EntryKind::Whole(kind),
            depth: 0,
        });
        at = end;
    }
    let count =
        u32::try_from(entries.len()).map_err(|_| StoreError::Invalid("too many objects".into()))?;
    spool.write_all_at(&count.to_be_bytes(), 8)?;
    // The new trailer: SHA-1 over everything before it.
    let mut h = Sha1::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0u64;
    while off < at {
        let n = (at - off).min(buf.len() as u64) as usize;
        spool.read_exact_at(&mut buf[..n], off)?;
        h.update(&buf[..n]);
        off += n as u64;
    }
    let sum: [u8; 20] = h.finalize().into();
    spool.write_all_at(&sum, at)?;
    debug_assert!(at > HEADER_LEN);
    Ok((entries, at + TRAILER_LEN, ObjectId::from_bytes(sum)))
}

/// The repository's objects with a received pack's objects on top.
pub struct Overlay<'a> {
    rx: &'a Received,
    base: &'a RepoOdb,
    cache: Mutex<BaseCache>,
}

impl Overlay<'_> {
    fn read_new(&self, i: usize) -> Result<crate::odb::SharedObject, StoreError> {
        let e = &self.rx.entries[i];
        read_chain(
            &self.rx.spool,
            u64::MAX,
            e.offset,
            1 << 31,
            &self.cache,
            &|b| match self.rx.by_id.get(b) {
                Some(&j) => Ok(RefBase::InPack(self.rx.entries[j].offset)),
                None => match self.base.read_shared(b)? {
                    Some((k, d)) => Ok(RefBase::Object(k, d)),
                    None => Err(OdbError::Missing { id: *b }.into()),
                },
            },
        )
    }
}

impl ObjectRead for Overlay<'_> {
    fn read_object(&self, id: &ObjectId) -> Result<Option<(Kind, Vec<u8>)>, OdbError> {
        match self.rx.by_id.get(id) {
            Some(&i) => {
                let (k, d) = self.read_new(i)?;
                Ok(Some((k, Arc::unwrap_or_clone(d))))
            }
            None => self.base.read_object(id),
        }
    }

    fn object_header(&self, id: &ObjectId) -> Result<Option<(Kind, u64)>, OdbError> {
        match self.rx.by_id.get(id) {
            Some(&i) => Ok(Some((self.rx.entries[i].kind, self.rx.entries[i].size))),
            None => self.base.object_header(id),
        }
    }

    fn contains(&self, id: &ObjectId) -> Result<bool, OdbError> {
        Ok(self.rx.by_id.contains_key(id) || self.base.contains(id)?)
    }
}
