//! Random access to the objects of a stored pack.

use flate2::Decompress;

use super::delta::apply_delta;
use super::entry::{EntryHeader, EntryKind, HeaderError, decode_header};
use super::inflate::inflate_at;
use super::{PackError, PackRead};
use crate::{Kind, ObjectId};

/// The longest delta chain followed before the data is declared corrupt.
use super::MAX_DELTA_CHAIN as MAX_CHAIN;

/// Reads the header of the entry at `offset` and inflates its data (an object or a delta).
pub fn read_entry_at(
    src: &(impl PackRead + ?Sized),
    offset: u64,
    max_size: u64,
    z: &mut Decompress,
) -> Result<(EntryHeader, Vec<u8>), PackError> {
    let mut buf = [0u8; 32];
    let n = src.read_at(offset, &mut buf)?;
    let header = decode_header(&buf[..n], offset).map_err(|e| match e {
        HeaderError::Incomplete => PackError::Truncated { offset },
        HeaderError::SelfBase => PackError::DeltaCycle { offset },
        _ => PackError::BadEntryHeader {
            offset,
            reason: "malformed entry header",
        },
    })?;
    if header.size > max_size {
        return Err(PackError::ObjectTooLarge {
            offset,
            size: header.size,
            max: max_size,
        });
    }
    let data = inflate_at(src, z, offset + header.header_len as u64, header.size)?;
    Ok((header, data))
}

/// Reads the object whose entry starts at `offset`, following its delta chain.
/// `find` maps a REF_DELTA base id to the offset of its entry in the same pack.
pub fn read_object_at(
    src: &(impl PackRead + ?Sized),
    offset: u64,
    find: &dyn Fn(&ObjectId) -> Option<u64>,
    max_size: u64,
) -> Result<(Kind, Vec<u8>), PackError> {
    let mut z = Decompress::new(true);
    let mut deltas: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut at = offset;
    let (kind, mut data) = loop {
        let (header, data) = read_entry_at(src, at, max_size, &mut z)?;
        let next = match header.kind {
            EntryKind::Whole(kind) => break (kind, data),
            EntryKind::OfsDelta { base_offset } => base_offset,
            EntryKind::RefDelta { base } => {
                find(&base).ok_or(PackError::MissingBase { offset: at, base })?
            }
        };
        deltas.push((at, data));
        if deltas.len() > MAX_CHAIN {
            return Err(PackError::DeltaCycle { offset });
        }
        at = next;
    };
    for (at, delta) in deltas.iter().rev() {
        data = apply_delta(&data, delta, max_size).map_err(|source| PackError::BadDelta {
            offset: *at,
            source,
        })?;
    }
    Ok((kind, data))
}
