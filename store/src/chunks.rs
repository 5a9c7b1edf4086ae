//! Packs stored in bounded chunks: writing a spooled pack into sled, and reading any byte
//! range back through a small cache of recently used chunks.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Mutex;

use guts_git::pack::PackRead;
use sled::IVec;

use crate::db::Trees;
use crate::{StoreError, keys};

/// Chunks kept per reader (4 MiB with the default 16 KiB chunks).
const CACHED_CHUNKS: usize = 256;

/// Copies `len` bytes of `file` (from its start) into the chunks of `(repo, pack)`.
pub(crate) fn store_chunks(
    t: &Trees,
    repo: u64,
    pack: u64,
    file: &mut std::fs::File,
    len: u64,
) -> io::Result<()> {
    file.seek(SeekFrom::Start(0))?;
    let size = t.opts.chunk_size as usize;
    let mut buf = vec![0u8; size];
    let mut n = 0u32;
    let mut left = len;
    while left > 0 {
        let want = size.min(usize::try_from(left).unwrap_or(size));
        file.read_exact(&mut buf[..want])?;
        t.chunks
            .insert(keys::chunk(repo, pack, n), &buf[..want])
            .map_err(io::Error::other)?;
        left -= want as u64;
        n += 1;
    }
    Ok(())
}

/// Recently read chunks, shared by the readers of one repository handle.
#[derive(Debug, Default)]
pub(crate) struct ChunkCache {
    map: HashMap<(u64, u32), IVec>,
    order: VecDeque<(u64, u32)>,
}

impl ChunkCache {
    fn get(&mut self, key: (u64, u32)) -> Option<IVec> {
        self.map.get(&key).cloned()
    }

    fn put(&mut self, key: (u64, u32), v: IVec) {
        if self.map.insert(key, v).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > CACHED_CHUNKS {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}

/// One stored pack, readable at any offset.
pub(crate) struct PackView<'a> {
    pub t: &'a Trees,
    pub repo: u64,
    pub pack: u64,
    pub chunk_size: u32,
    pub len: u64,
    pub cache: &'a Mutex<ChunkCache>,
}

impl PackView<'_> {
    fn chunk(&self, n: u32) -> io::Result<IVec> {
        let key = (self.pack, n);
        if let Some(c) = crate::sync::lock(self.cache).get(key) {
            return Ok(c);
        }
        let c = self
            .t
            .chunks
            .get(keys::chunk(self.repo, self.pack, n))
            .map_err(io::Error::other)?
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("pack {} chunk {n} is missing", self.pack),
                )
            })?;
        crate::sync::lock(self.cache).put(key, c.clone());
        Ok(c)
    }
}

impl PackRead for PackView<'_> {
    /// Fills `buf` across chunk boundaries; short only at the end of the pack.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let size = u64::from(self.chunk_size);
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done as u64;
            if at >= self.len {
                break;
            }
            let n = u32::try_from(at / size).map_err(io::Error::other)?;
            let chunk = self.chunk(n)?;
            let within = usize::try_from(at % size).map_err(io::Error::other)?;
            let avail = chunk.get(within..).unwrap_or(&[]);
            if avail.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("pack {} chunk {n} is shorter than recorded", self.pack),
                ));
            }
            let k = avail.len().min(buf.len() - done);
            buf[done..done + k].copy_from_slice(&avail[..k]);
            done += k;
        }
        Ok(done)
    }
}

fn corrupt(reason: String) -> StoreError {
    StoreError::Corrupt {
        tree: crate::keys::tree::CHUNKS,
        reason,
    }
}

impl PackView<'_> {
    /// Hands the bytes `start..end` of the pack to `f` in stored chunks, in order, bypassing
    /// the cache (a sequential read of a whole pack would only evict what others use).
    pub fn for_each_slice(
        &self,
        start: u64,
        end: u64,
        mut f: impl FnMut(&[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let size = u64::from(self.chunk_size.max(1));
        let end = end.min(self.len);
        let mut at = start;
        while at < end {
            let n = u32::try_from(at / size)
                .map_err(|_| StoreError::Internal("chunk offset out of range".into()))?;
            let chunk = self
                .t
                .chunks
                .get(keys::chunk(self.repo, self.pack, n))?
                .ok_or_else(|| corrupt(format!("pack {} chunk {n} is missing", self.pack)))?;
            let from = usize::try_from(at % size)
                .map_err(|_| StoreError::Internal("chunk offset out of range".into()))?;
            let to = usize::try_from((end - u64::from(n) * size).min(size))
                .map_err(|_| StoreError::Internal("chunk offset out of range".into()))?;
            let part = chunk.get(from..to).ok_or_else(|| {
                corrupt(format!(
                    "pack {} chunk {n} is shorter than recorded",
                    self.pack
                ))
            })?;
            f(part)?;
            at += part.len() as u64;
        }
        Ok(())
    }
}
