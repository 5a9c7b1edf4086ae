//! Writing a pack entry by entry: whole objects, deltas, or entries copied compressed as they
//! are stored (reuse), with the header count and trailing checksum.

use std::io::Write;

use flate2::Compression;
use flate2::write::ZlibEncoder;
use sha1::Digest;

use super::entry::{EntryKind, encode_header};
use super::{HEADER_LEN, PackError, SIGNATURE};
use crate::{Kind, ObjectId};

/// Writes a version 2 pack to `out`.
pub struct PackWriter<W: Write> {
    out: W,
    checksum: sha1::Sha1,
    offset: u64,
    announced: u32,
    written: u32,
    level: Compression,
    header: Vec<u8>,
}

impl<W: Write> PackWriter<W> {
    /// Starts a pack that will hold exactly `count` entries.
    pub fn new(out: W, count: u32) -> Result<Self, PackError> {
        let mut w = PackWriter {
            out,
            checksum: sha1::Sha1::new(),
            offset: 0,
            announced: count,
            written: 0,
            level: Compression::default(),
            header: Vec::with_capacity(32),
        };
        let mut head = [0u8; HEADER_LEN as usize];
        head[..4].copy_from_slice(SIGNATURE);
        head[4..8].copy_from_slice(&2u32.to_be_bytes());
        head[8..].copy_from_slice(&count.to_be_bytes());
        w.emit(&head)?;
        Ok(w)
    }

    /// Sets the zlib level for entries compressed from now on.
    pub fn with_level(mut self, level: u32) -> Self {
        self.level = Compression::new(level.min(9));
        self
    }

    /// The offset the next entry will start at.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Writes a whole object; returns its entry's offset.
    pub fn write_whole(&mut self, kind: Kind, data: &[u8]) -> Result<u64, PackError> {
        self.write_deflated(EntryKind::Whole(kind), data)
    }

    /// Writes a delta against the entry at `base_offset` (written earlier in this pack).
    pub fn write_ofs_delta(&mut self, base_offset: u64, delta: &[u8]) -> Result<u64, PackError> {
        self.write_deflated(EntryKind::OfsDelta { base_offset }, delta)
    }

    /// Writes a delta against the object `base`.
    pub fn write_ref_delta(&mut self, base: ObjectId, delta: &[u8]) -> Result<u64, PackError> {
        self.write_deflated(EntryKind::RefDelta { base }, delta)
    }

    /// Copies an entry whose data is already compressed (`size` is its inflated size).
    pub fn write_compressed(
        &mut self,
        kind: EntryKind,
        size: u64,
        compressed: &[u8],
    ) -> Result<u64, PackError> {
        let at = self.begin_entry(&kind, size)?;
        self.emit(compressed)?;
        Ok(at)
    }

    /// Starts an entry whose compressed data follows through [`PackWriter::copy_raw`], in
    /// as many pieces as the caller likes (`size` is its inflated size): a large stored
    /// entry is copied without holding it whole.
    pub fn begin_compressed(&mut self, kind: EntryKind, size: u64) -> Result<u64, PackError> {
        self.begin_entry(&kind, size)
    }

    /// Copies bytes of entries taken verbatim from a stored pack. A stored pack's whole entry
    /// region, copied contiguously, stays valid: OFS_DELTA offsets are relative. Account for
    /// the entries copied with [`PackWriter::count_copied`].
    pub fn copy_raw(&mut self, bytes: &[u8]) -> Result<(), PackError> {
        self.emit(bytes)
    }

    /// Counts `entries` entries written by [`PackWriter::copy_raw`].
    pub fn count_copied(&mut self, entries: u32) -> Result<(), PackError> {
        let written = self.written.saturating_add(entries);
        if written > self.announced {
            return Err(PackError::CountMismatch {
                announced: self.announced,
                written,
            });
        }
        self.written = written;
        Ok(())
    }

    fn write_deflated(&mut self, kind: EntryKind, data: &[u8]) -> Result<u64, PackError> {
        let mut z = ZlibEncoder::new(Vec::with_capacity(data.len() / 2 + 64), self.level);
        z.write_all(data)?;
        let compressed = z.finish()?;
        self.write_compressed(kind, data.len() as u64, &compressed)
    }

    fn begin_entry(&mut self, kind: &EntryKind, size: u64) -> Result<u64, PackError> {
        if self.written == self.announced {
            return Err(PackError::CountMismatch {
                announced: self.announced,
                written: self.written + 1,
            });
        }
        let at = self.offset;
        if let EntryKind::OfsDelta { base_offset } = kind
            && (*base_offset >= at || *base_offset < HEADER_LEN)
        {
            return Err(PackError::BadBaseOffset {
                offset: at,
                base_offset: *base_offset,
            });
        }
        let mut header = std::mem::take(&mut self.header);
        header.clear();
        encode_header(&mut header, kind, size, at);
        self.emit(&header)?;
        self.header = header;
        self.written += 1;
        Ok(at)
    }

    fn emit(&mut self, bytes: &[u8]) -> Result<(), PackError> {
        self.checksum.update(bytes);
        self.out.write_all(bytes)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Writes the trailer; returns the pack's checksum and the output.
    pub fn finish(mut self) -> Result<(ObjectId, W), PackError> {
        if self.written != self.announced {
            return Err(PackError::CountMismatch {
                announced: self.announced,
                written: self.written,
            });
        }
        let sum: [u8; 20] = self.checksum.finalize().into();
        self.out.write_all(&sum)?;
        self.out.flush()?;
        Ok((ObjectId::from_bytes(sum), self.out))
    }
}
