//! Indexing a pack read from a stream: the first pass (parse every entry, hash whole
//! objects, spool the bytes, verify the trailer), then delta resolution ([`super::resolve`]).

use std::io::{Read, Write};

use flate2::Decompress;

use super::entry::{EntryKind, HeaderError, decode_header};
use super::inflate::{Sink, inflate_from_stream};
use super::links::{LinkCollector, PackLinks};
use super::resolve::{Slot, resolve_deltas};
use super::stream::PackStream;
use super::{HEADER_LEN, PackError, PackRead, SIGNATURE};
use crate::hash::{HashMode, ObjectHasher};
use crate::odb::{ObjectRead, OdbError};
use crate::{Kind, ObjectId, object};

/// Limits and choices for indexing.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// How objects are hashed: with collision detection for data from others.
    pub hash: HashMode,
    /// Validate commits, trees and tags like `git fsck --strict`.
    pub strict: bool,
    /// The largest object or delta accepted, in bytes.
    pub max_object_size: u64,
    /// The most objects a pack may announce.
    pub max_objects: u32,
    /// The longest pack accepted, in bytes.
    pub max_pack_size: u64,
    /// Bytes of delta bases kept in memory per thread while resolving.
    pub cache_bytes: usize,
    /// Threads resolving deltas (at least 1).
    pub threads: usize,
    /// Gather what the objects reference, for [`PackIndex::links`].
    pub links: bool,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            hash: HashMode::Checked,
            strict: true,
            max_object_size: super::DEFAULT_MAX_OBJECT,
            max_objects: 50_000_000,
            max_pack_size: u64::MAX,
            cache_bytes: 64 << 20,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            links: true,
        }
    }
}

/// Objects outside the pack that a thin pack's deltas may use as bases.
pub trait BaseLookup: ObjectRead + Sync {}
impl<T: ObjectRead + Sync> BaseLookup for T {}

/// A [`BaseLookup`] with no objects: only self-contained packs are accepted.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBases;

impl ObjectRead for NoBases {
    fn read_object(&self, _: &ObjectId) -> Result<Option<(Kind, Vec<u8>)>, OdbError> {
        Ok(None)
    }
}

/// One object of an indexed pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    /// The object's id.
    pub id: ObjectId,
    /// Where its entry starts in the pack.
    pub offset: u64,
    /// Where its zlib data starts.
    pub data_offset: u64,
    /// Where its entry ends (the next entry or the trailer).
    pub end: u64,
    /// CRC32 of the entry's bytes, as in `.idx` files.
    pub crc32: u32,
    /// The object's kind (for deltas, the kind of the chain's base).
    pub kind: Kind,
    /// The object's size.
    pub size: u64,
    /// How it is stored: whole, or a delta and against what.
    pub packed: EntryKind,
    /// The length of its delta chain (0 for whole objects).
    pub depth: u32,
}

/// The result of indexing a pack.
#[derive(Debug, Clone)]
pub struct PackIndex {
    /// The pack's trailing checksum (its name).
    pub checksum: ObjectId,
    /// Every entry, in pack order.
    pub entries: Vec<IndexEntry>,
    /// Bases found outside the pack (a thin pack), sorted.
    pub external_bases: Vec<ObjectId>,
    /// The pack's length in bytes, trailer included.
    pub len: u64,
    /// How the pack's objects link to each other (when [`IndexOptions::links`] was set).
    pub links: Option<PackLinks>,
}

impl PackIndex {
    /// The entries sorted by id, as an `.idx` file lists them.
    pub fn sorted_by_id(&self) -> Vec<IndexEntry> {
        let mut v = self.entries.clone();
        v.sort_by_key(|e| e.id);
        v
    }
}

/// What the first pass knows of an entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawEntry {
    pub offset: u64,
    pub data_offset: u64,
    pub end: u64,
    pub crc32: u32,
    /// The size in the entry header (object or delta).
    pub size: u64,
    pub kind: EntryKind,
    /// For an OFS_DELTA: the index of its base entry.
    pub base_index: u32,
}

/// Reads a pack from `input`, copying its bytes to `spool`, and indexes it.
///
/// Memory stays bounded: whole objects are hashed as they stream past (only commits, trees
/// and tags are held, to validate them), and deltas are resolved afterwards from the spool
/// with at most `cache_bytes` of bases per thread.
pub fn index_pack<R: Read, S: Write + PackRead>(
    input: R,
    spool: &mut S,
    bases: &dyn BaseLookup,
    opts: &IndexOptions,
) -> Result<PackIndex, PackError> {
    let (raw, slots, checksum, len, links) = first_pass(input, spool, opts)?;
    let external_bases = resolve_deltas(&*spool, &raw, &slots, bases, opts, links.as_ref())?;
    let mut entries = Vec::with_capacity(raw.len());
    for (r, slot) in raw.iter().zip(&slots) {
        let Some(res) = slot.get() else {
            return Err(PackError::DeltaCycle { offset: r.offset });
        };
        entries.push(IndexEntry {
            id: res.id,
            offset: r.offset,
            data_offset: r.data_offset,
            end: r.end,
            crc32: r.crc32,
            kind: res.kind,
            size: res.size,
            packed: r.kind,
            depth: res.depth,
        });
    }
    let links = links.map(|l| l.finish(entries.iter().map(|e| e.id).collect()));
    Ok(PackIndex {
        checksum,
        entries,
        external_bases,
        len,
        links,
    })
}

type FirstPass = (
    Vec<RawEntry>,
    Vec<Slot>,
    ObjectId,
    u64,
    Option<LinkCollector>,
);

fn first_pass<R: Read, W: Write>(
    input: R,
    spool: &mut W,
    opts: &IndexOptions,
) -> Result<FirstPass, PackError> {
    let mut stream = PackStream::new(input, spool, opts.max_pack_size);
    let header = stream.fill_at_least(HEADER_LEN as usize)?;
    if header.len() < HEADER_LEN as usize {
        if header.len() >= 4 && &header[..4] != SIGNATURE {
            return Err(PackError::BadSignature);
        }
        return Err(PackError::Truncated { offset: 0 });
    }
    if &header[..4] != SIGNATURE {
        return Err(PackError::BadSignature);
    }
    let version = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    if version != 2 && version != 3 {
        return Err(PackError::UnsupportedVersion { version });
    }
    let count = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
    if count > opts.max_objects {
        return Err(PackError::TooManyObjects {
            count,
            max: opts.max_objects,
        });
    }
    stream.consume(HEADER_LEN as usize, true)?;

    let links = opts.links.then(|| LinkCollector::new(count));
    let mut link_buf = Vec::new();
    let mut raw: Vec<RawEntry> = Vec::with_capacity(count.min(1 << 20) as usize);
    let mut slots: Vec<Slot> = Vec::with_capacity(raw.capacity());
    let mut z = Decompress::new(true);
    let mut scratch = vec![0u8; 64 * 1024];
    let mut content = Vec::new();
    for _ in 0..count {
        let offset = stream.offset;
        stream.reset_crc();
        let buf = stream.fill_at_least(32)?;
        let header = match decode_header(buf, offset) {
            Ok(h) => h,
            Err(HeaderError::Incomplete) => return Err(PackError::Truncated { offset }),
            Err(HeaderError::SelfBase) => return Err(PackError::DeltaCycle { offset }),
            Err(e) => {
                let reason = match e {
                    HeaderError::BadType(_) => "unknown entry type",
                    HeaderError::Overflow => "size varint overflows",
                    _ => "delta base offset before the pack start",
                };
                return Err(PackError::BadEntryHeader { offset, reason });
            }
        };
        stream.consume(header.header_len, true)?;
        if header.size > opts.max_object_size {
            return Err(PackError::ObjectTooLarge {
                offset,
                size: header.size,
                max: opts.max_object_size,
            });
        }
        let data_offset = stream.offset;
        let mut base_index = u32::MAX;
        let slot = Slot::default();
        match header.kind {
            EntryKind::Whole(Kind::Blob) => {
                let mut h = ObjectHasher::new(opts.hash, Kind::Blob, header.size);
                inflate_from_stream(
                    &mut stream,
                    &mut z,
                    &mut scratch,
                    offset,
                    header.size,
                    Sink::Hash(&mut h),
                )?;
                let id = h
                    .finish()
                    .map_err(|source| PackError::Collision { offset, source })?;
                slot.set_whole(id, Kind::Blob, header.size);
            }
            EntryKind::Whole(kind) => {
                inflate_from_stream(
                    &mut stream,
                    &mut z,
                    &mut scratch,
                    offset,
                    header.size,
                    Sink::Collect(&mut content),
                )?;
                let id = crate::hash::hash_object(opts.hash, kind, &content)
                    .map_err(|source| PackError::Collision { offset, source })?;
                if opts.strict {
                    object::validate(kind, &content)
                        .map_err(|source| PackError::InvalidObject { offset, id, source })?;
                }
                if let Some(links) = &links {
                    links.record(kind, &content, &mut link_buf);
                }
                slot.set_whole(id, kind, header.size);
            }
            EntryKind::OfsDelta { base_offset } => {
                let found = raw.binary_search_by_key(&base_offset, |e| e.offset);
                base_index = match found {
                    Ok(i) => i as u32,
                    Err(_) => {
                        return Err(PackError::BadBaseOffset {
                            offset,
                            base_offset,
                        });
                    }
                };
                inflate_from_stream(
                    &mut stream,
                    &mut z,
                    &mut scratch,
                    offset,
                    header.size,
                    Sink::Discard,
                )?;
            }
            EntryKind::RefDelta { .. } => {
                inflate_from_stream(
                    &mut stream,
                    &mut z,
                    &mut scratch,
                    offset,
                    header.size,
                    Sink::Discard,
                )?;
            }
        }
        raw.push(RawEntry {
            offset,
            data_offset,
            end: stream.offset,
            crc32: stream.crc(),
            size: header.size,
            kind: header.kind,
            base_index,
        });
        slots.push(slot);
    }
    let trailer_at = stream.offset;
    let trailer = stream.fill_at_least(20)?;
    let Some(expected) = ObjectId::from_slice(trailer) else {
        return Err(PackError::Truncated { offset: trailer_at });
    };
    let actual = stream.checksum();
    stream.consume(20, false)?;
    if expected != actual {
        return Err(PackError::ChecksumMismatch { expected, actual });
    }
    if !stream.at_end()? {
        return Err(PackError::TrailingData);
    }
    let len = stream.offset;
    stream.finish()?;
    Ok((raw, slots, actual, len, links))
}
