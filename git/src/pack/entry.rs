//! Pack entry headers: the type and size varint, and the OFS_DELTA / REF_DELTA base.

use crate::{Kind, ObjectId};

/// What a pack entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A whole object of this kind.
    Whole(Kind),
    /// A delta against the entry at this (absolute) pack offset.
    OfsDelta {
        /// The base entry's offset.
        base_offset: u64,
    },
    /// A delta against the object with this id (in the pack, or outside it in a thin pack).
    RefDelta {
        /// The base object's id.
        base: ObjectId,
    },
}

/// A decoded entry header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryHeader {
    /// Whole object or delta, and the base.
    pub kind: EntryKind,
    /// The inflated size of the entry's data (the object, or the delta).
    pub size: u64,
    /// How many bytes the header took; the zlib stream starts right after.
    pub header_len: usize,
}

/// Why an entry header could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// More bytes are needed.
    Incomplete,
    /// Type 0 or 5, which git never writes.
    BadType(u8),
    /// The size or offset varint overflows.
    Overflow,
    /// An OFS_DELTA base offset before the pack start.
    BadBaseOffset,
    /// An OFS_DELTA whose base is the entry itself.
    SelfBase,
}

/// Decodes the header of the entry at pack offset `offset` from the start of `buf`.
pub fn decode_header(buf: &[u8], offset: u64) -> Result<EntryHeader, HeaderError> {
    let mut pos = 0;
    let mut byte = *buf.first().ok_or(HeaderError::Incomplete)?;
    pos += 1;
    let ty = (byte >> 4) & 7;
    let mut size = u64::from(byte & 15);
    let mut shift = 4;
    while byte & 0x80 != 0 {
        byte = *buf.get(pos).ok_or(HeaderError::Incomplete)?;
        pos += 1;
        if shift > 57 {
            return Err(HeaderError::Overflow);
        }
        size |= u64::from(byte & 0x7f) << shift;
        shift += 7;
    }
    let kind = match ty {
        1..=4 => EntryKind::Whole(Kind::from_pack_type(ty).ok_or(HeaderError::BadType(ty))?),
        6 => {
            let mut byte = *buf.get(pos).ok_or(HeaderError::Incomplete)?;
            pos += 1;
            let mut rel = u64::from(byte & 0x7f);
            while byte & 0x80 != 0 {
                byte = *buf.get(pos).ok_or(HeaderError::Incomplete)?;
                pos += 1;
                rel = rel
                    .checked_add(1)
                    .and_then(|r| r.checked_mul(128))
                    .ok_or(HeaderError::Overflow)?
                    | u64::from(byte & 0x7f);
            }
            if rel == 0 {
                return Err(HeaderError::SelfBase);
            }
            if rel > offset {
                return Err(HeaderError::BadBaseOffset);
            }
            EntryKind::OfsDelta {
                base_offset: offset - rel,
            }
        }
        7 => {
            let base = ObjectId::from_slice(buf.get(pos..).ok_or(HeaderError::Incomplete)?)
                .ok_or(HeaderError::Incomplete)?;
            pos += 20;
            EntryKind::RefDelta { base }
        }
        other => return Err(HeaderError::BadType(other)),
    };
    Ok(EntryHeader {
        kind,
        size,
        header_len: pos,
    })
}

/// The pack type number of an entry kind.
pub fn type_number(kind: &EntryKind) -> u8 {
    match kind {
        EntryKind::Whole(k) => k.pack_type(),
        EntryKind::OfsDelta { .. } => 6,
        EntryKind::RefDelta { .. } => 7,
    }
}

/// Encodes an entry header for an entry written at `offset`.
pub fn encode_header(out: &mut Vec<u8>, kind: &EntryKind, size: u64, offset: u64) {
    let ty = type_number(kind);
    let mut byte = (ty << 4) | (size & 15) as u8;
    let mut rest = size >> 4;
    while rest != 0 {
        out.push(byte | 0x80);
        byte = (rest & 0x7f) as u8;
        rest >>= 7;
    }
    out.push(byte);
    match kind {
        EntryKind::Whole(_) => {}
        EntryKind::OfsDelta { base_offset } => {
            let mut rel = offset - base_offset;
            let mut buf = [0u8; 10];
            let mut i = buf.len() - 1;
            buf[i] = (rel & 0x7f) as u8;
            rel >>= 7;
            while rel != 0 {
                rel -= 1;
                i -= 1;
                buf[i] = 0x80 | (rel & 0x7f) as u8;
                rel >>= 7;
            }
            out.extend_from_slice(&buf[i..]);
        }
        EntryKind::RefDelta { base } => out.extend_from_slice(base.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn headers_round_trip(size in any::<u64>().prop_map(|s| s >> 4), rel in 1u64..1 << 40, ty in 0u8..6) {
            let offset = rel + 12;
            let kind = match ty {
                0..=3 => EntryKind::Whole(Kind::from_pack_type(ty + 1).unwrap()),
                4 => EntryKind::OfsDelta { base_offset: offset - rel },
                _ => EntryKind::RefDelta { base: ObjectId::from_bytes([9; 20]) },
            };
            let mut out = Vec::new();
            encode_header(&mut out, &kind, size, offset);
            let h = decode_header(&out, offset).unwrap();
            prop_assert_eq!(h, EntryHeader { kind, size, header_len: out.len() });
            for cut in 0..out.len() {
                prop_assert_eq!(decode_header(&out[..cut], offset), Err(HeaderError::Incomplete));
            }
        }
    }

    #[test]
    fn reserved_types_and_self_referencing_offsets_are_refused() {
        assert_eq!(decode_header(&[0x50], 12), Err(HeaderError::BadType(5)));
        assert_eq!(decode_header(&[0x00], 12), Err(HeaderError::BadType(0)));
        assert_eq!(decode_header(&[0x60, 0x00], 12), Err(HeaderError::SelfBase));
        assert_eq!(
            decode_header(&[0x60, 0x7f], 12),
            Err(HeaderError::BadBaseOffset)
        );
    }
}
