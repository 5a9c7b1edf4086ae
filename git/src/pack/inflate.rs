//! Inflating entry data: from the incoming stream (size known, end unknown), from a stored
//! region (both known), or from a stored pack at an offset (end unknown).

use std::io::{Read, Write};

use flate2::{Decompress, FlushDecompress, Status};

use super::stream::PackStream;
use super::{PackError, PackRead};
use crate::hash::ObjectHasher;

/// Where inflated bytes go during the first pass.
pub(crate) enum Sink<'a> {
    /// Into an object hasher, in chunks: nothing is kept.
    Hash(&'a mut ObjectHasher),
    /// Into a buffer of exactly the entry's size.
    Collect(&'a mut Vec<u8>),
    /// Nowhere: only the stream's end and size are checked.
    Discard,
}

/// Inflates one entry's zlib stream from `stream`, which must produce exactly `size` bytes.
pub(crate) fn inflate_from_stream<R: Read, W: Write>(
    stream: &mut PackStream<'_, R, W>,
    z: &mut Decompress,
    scratch: &mut [u8],
    entry_offset: u64,
    size: u64,
    mut sink: Sink<'_>,
) -> Result<(), PackError> {
    z.reset(true);
    let mismatch = PackError::SizeMismatch {
        offset: entry_offset,
        expected: size,
    };
    if let Sink::Collect(v) = &mut sink {
        v.clear();
        v.resize(usize::try_from(size).map_err(|_| mismatch)?, 0);
    }
    loop {
        let input = stream.available()?;
        if input.is_empty() {
            return Err(PackError::Truncated {
                offset: stream.offset,
            });
        }
        let (in0, out0) = (z.total_in(), z.total_out());
        let status = match &mut sink {
            Sink::Collect(v) => {
                let done = out0 as usize;
                // One spare byte so that output past the declared size is noticed.
                if done == v.len() {
                    z.decompress(input, &mut scratch[..1], FlushDecompress::None)
                } else {
                    z.decompress(input, &mut v[done..], FlushDecompress::None)
                }
            }
            _ => z.decompress(input, scratch, FlushDecompress::None),
        }
        .map_err(|_| PackError::Inflate {
            offset: entry_offset,
        })?;
        let consumed = (z.total_in() - in0) as usize;
        let produced = (z.total_out() - out0) as usize;
        if z.total_out() > size {
            return Err(PackError::SizeMismatch {
                offset: entry_offset,
                expected: size,
            });
        }
        if let Sink::Hash(h) = &mut sink {
            h.update(&scratch[..produced]);
        }
        stream.consume(consumed, true)?;
        match status {
            Status::StreamEnd => break,
            Status::Ok | Status::BufError => {
                if consumed == 0 && produced == 0 {
                    // zlib wants more input than the buffer holds.
                    let have = stream.available()?.len();
                    let more = stream.fill_at_least(have + 1)?;
                    if more.len() <= have {
                        return Err(PackError::Truncated {
                            offset: stream.offset,
                        });
                    }
                }
            }
        }
    }
    if z.total_out() != size {
        return Err(PackError::SizeMismatch {
            offset: entry_offset,
            expected: size,
        });
    }
    Ok(())
}

/// Inflates the zlib stream stored at `start..end` of `src` into `out` (exactly `size` bytes).
pub(crate) fn inflate_region(
    src: &(impl PackRead + ?Sized),
    z: &mut Decompress,
    compressed: &mut Vec<u8>,
    start: u64,
    end: u64,
    size: u64,
    out: &mut Vec<u8>,
) -> Result<(), PackError> {
    let bad = PackError::Inflate { offset: start };
    let len = usize::try_from(end - start).map_err(|_| PackError::Inflate { offset: start })?;
    compressed.clear();
    compressed.resize(len, 0);
    src.read_exact_at(start, compressed)?;
    out.clear();
    out.resize(usize::try_from(size).map_err(|_| bad)?, 0);
    z.reset(true);
    let mut spare = [0u8; 1];
    let status = z
        .decompress(compressed, out, FlushDecompress::Finish)
        .map_err(|_| PackError::Inflate { offset: start })?;
    let full = z.total_out() == size;
    let status = if status != Status::StreamEnd && full {
        // Make zlib see the end of stream (or notice output beyond the declared size).
        let at = z.total_in() as usize;
        z.decompress(&compressed[at..], &mut spare, FlushDecompress::Finish)
            .map_err(|_| PackError::Inflate { offset: start })?
    } else {
        status
    };
    if status != Status::StreamEnd || z.total_out() != size {
        return Err(PackError::SizeMismatch {
            offset: start,
            expected: size,
        });
    }
    Ok(())
}

/// Inflates the zlib stream that starts at `start` of `src` when its end is not known.
pub(crate) fn inflate_at(
    src: &(impl PackRead + ?Sized),
    z: &mut Decompress,
    start: u64,
    size: u64,
) -> Result<Vec<u8>, PackError> {
    let bad = |_| PackError::Inflate { offset: start };
    let mut out =
        vec![0u8; usize::try_from(size).map_err(|_| PackError::Inflate { offset: start })?];
    let mut chunk = vec![0u8; (size as usize / 2).clamp(512, 64 * 1024)];
    let mut at = start;
    let mut spare = [0u8; 1];
    z.reset(true);
    loop {
        let n = src.read_at(at, &mut chunk)?;
        if n == 0 {
            return Err(PackError::Truncated { offset: at });
        }
        let in0 = z.total_in();
        let done = z.total_out() as usize;
        let target: &mut [u8] = if done < out.len() {
            &mut out[done..]
        } else {
            &mut spare
        };
        let status = z
            .decompress(&chunk[..n], target, FlushDecompress::None)
            .map_err(bad)?;
        if z.total_out() > size {
            return Err(PackError::SizeMismatch {
                offset: start,
                expected: size,
            });
        }
        at += z.total_in() - in0;
        if status == Status::StreamEnd {
            break;
        }
        if z.total_in() == in0 && z.total_out() as usize == done {
            return Err(PackError::Inflate { offset: start });
        }
    }
    if z.total_out() != size {
        return Err(PackError::SizeMismatch {
            offset: start,
            expected: size,
        });
    }
    Ok(out)
}
