//! The input side of indexing: a buffer over the incoming stream that hashes every byte it
//! consumes into the pack checksum, copies it to the spool, and counts the entry's CRC32.

use std::io::{self, Read, Write};

use super::PackError;
use crate::hash::{HashMode, ObjectHasher};

const BUF_LEN: usize = 128 * 1024;

pub(crate) struct PackStream<'s, R, W> {
    input: R,
    spool: &'s mut W,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    /// The pack offset of `buf[pos]`.
    pub offset: u64,
    /// The largest pack accepted.
    max_len: u64,
    checksum: ObjectHasher,
    crc: crc32fast::Hasher,
    eof: bool,
}

impl<'s, R: Read, W: Write> PackStream<'s, R, W> {
    pub fn new(input: R, spool: &'s mut W, max_len: u64) -> Self {
        PackStream {
            input,
            spool,
            buf: vec![0; BUF_LEN].into_boxed_slice(),
            pos: 0,
            len: 0,
            offset: 0,
            max_len,
            checksum: ObjectHasher::raw(HashMode::Fast),
            crc: crc32fast::Hasher::new(),
            eof: false,
        }
    }

    /// The unconsumed bytes in the buffer, reading more when it is empty. Empty at the end.
    pub fn available(&mut self) -> Result<&[u8], PackError> {
        if self.pos == self.len && !self.eof {
            self.pos = 0;
            self.len = 0;
            let n = loop {
                match self.input.read(&mut self.buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other?,
                }
            };
            if n == 0 {
                self.eof = true;
            }
            self.len = n;
        }
        Ok(&self.buf[self.pos..self.len])
    }

    /// Makes at least `n` bytes available (fewer only at the end of the stream).
    pub fn fill_at_least(&mut self, n: usize) -> Result<&[u8], PackError> {
        while self.len - self.pos < n && !self.eof {
            self.buf.copy_within(self.pos..self.len, 0);
            self.len -= self.pos;
            self.pos = 0;
            let got = loop {
                match self.input.read(&mut self.buf[self.len..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other?,
                }
            };
            if got == 0 {
                self.eof = true;
            }
            self.len += got;
        }
        Ok(&self.buf[self.pos..self.len])
    }

    /// Consumes `n` available bytes into the checksum (when `hashed`), the CRC and the spool.
    pub fn consume(&mut self, n: usize, hashed: bool) -> Result<(), PackError> {
        let bytes = &self.buf[self.pos..self.pos + n];
        if hashed {
            self.checksum.update(bytes);
        }
        self.crc.update(bytes);
        self.spool.write_all(bytes)?;
        self.pos += n;
        self.offset += n as u64;
        if self.offset > self.max_len {
            return Err(PackError::TooLarge { max: self.max_len });
        }
        Ok(())
    }

    /// Starts a new entry's CRC32.
    pub fn reset_crc(&mut self) {
        self.crc = crc32fast::Hasher::new();
    }

    /// The CRC32 of everything consumed since [`Self::reset_crc`].
    pub fn crc(&self) -> u32 {
        self.crc.clone().finalize()
    }

    /// The checksum of everything hashed so far.
    pub fn checksum(&self) -> crate::ObjectId {
        self.checksum
            .clone()
            .finish()
            .expect("the fast hasher never reports collisions")
    }

    /// True when the input has no more bytes.
    pub fn at_end(&mut self) -> Result<bool, PackError> {
        Ok(self.available()?.is_empty())
    }

    /// Flushes the spool.
    pub fn finish(self) -> Result<(), PackError> {
        self.spool.flush()?;
        Ok(())
    }
}
