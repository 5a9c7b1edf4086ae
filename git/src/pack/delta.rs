//! Git deltas: apply one to a base, and create one from a base and a target.
//!
//! A delta is the base size and result size (7-bit little-endian varints), then commands:
//! copy (`1xxxxxxx`, offset and size bytes selected by the low bits) or insert (`0nnnnnnn`,
//! n literal bytes follow; n = 0 is reserved).

/// Why a delta was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeltaError {
    /// The delta's header varints are cut off or overflow.
    #[error("delta header is truncated or overflows")]
    BadHeader,
    /// The base is not the size the delta says.
    #[error("delta expects a base of {expected} bytes, the base has {actual}")]
    BaseSizeMismatch {
        /// The size in the delta header.
        expected: u64,
        /// The base's real size.
        actual: u64,
    },
    /// The result would exceed the configured limit.
    #[error("delta result of {size} bytes is over the limit of {max}")]
    TooLarge {
        /// The declared result size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A command is reserved, runs past the delta, copies outside the base or overflows
    /// the declared result size.
    #[error("delta command at byte {at} is invalid: {reason}")]
    BadCommand {
        /// The command's position in the delta.
        at: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The commands produced fewer bytes than the header declared.
    #[error("delta produced {actual} bytes, its header declared {expected}")]
    ResultSizeMismatch {
        /// The declared size.
        expected: u64,
        /// What the commands produced.
        actual: u64,
    },
}

/// Reads one size varint from `data` at `*pos`.
fn read_varint(data: &[u8], pos: &mut usize) -> Result<u64, DeltaError> {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let byte = *data.get(*pos).ok_or(DeltaError::BadHeader)?;
        *pos += 1;
        if shift > 63 {
            return Err(DeltaError::BadHeader);
        }
        value |= u64::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
}

/// The base size, the result size and where the commands start.
pub fn delta_sizes(delta: &[u8]) -> Result<(u64, u64, usize), DeltaError> {
    let mut pos = 0;
    let base = read_varint(delta, &mut pos)?;
    let result = read_varint(delta, &mut pos)?;
    Ok((base, result, pos))
}

/// Applies `delta` to `base`, refusing results over `max_size` bytes.
pub fn apply_delta(base: &[u8], delta: &[u8], max_size: u64) -> Result<Vec<u8>, DeltaError> {
    let (base_size, result_size, mut pos) = delta_sizes(delta)?;
    if base_size != base.len() as u64 {
        return Err(DeltaError::BaseSizeMismatch {
            expected: base_size,
            actual: base.len() as u64,
        });
    }
    if result_size > max_size {
        return Err(DeltaError::TooLarge {
            size: result_size,
            max: max_size,
        });
    }
    let result_size = usize::try_from(result_size).map_err(|_| DeltaError::TooLarge {
        size: result_size,
        max: max_size,
    })?;
    let mut out = Vec::with_capacity(result_size);
    while pos < delta.len() {
        let at = pos;
        let cmd = delta[pos];
        pos += 1;
        let bad = |reason| DeltaError::BadCommand { at, reason };
        if cmd & 0x80 != 0 {
            let mut arg = |bit: u8, shift: u32| -> Result<usize, DeltaError> {
                if cmd & bit == 0 {
                    return Ok(0);
                }
                let b = *delta
                    .get(pos)
                    .ok_or(bad("copy arguments run past the delta"))?;
                pos += 1;
                Ok(usize::from(b) << shift)
            };
            let offset = arg(0x01, 0)? | arg(0x02, 8)? | arg(0x04, 16)? | arg(0x08, 24)?;
            let mut size = arg(0x10, 0)? | arg(0x20, 8)? | arg(0x40, 16)?;
            if size == 0 {
                size = 0x10000;
            }
            let end = offset
                .checked_add(size)
                .filter(|&e| e <= base.len())
                .ok_or(bad("copy outside the base"))?;
            if out.len() + size > result_size {
                return Err(bad("copy past the declared result size"));
            }
            out.extend_from_slice(&base[offset..end]);
        } else if cmd != 0 {
            let n = usize::from(cmd);
            let lit = delta
                .get(pos..pos + n)
                .ok_or(bad("insert runs past the delta"))?;
            if out.len() + n > result_size {
                return Err(bad("insert past the declared result size"));
            }
            out.extend_from_slice(lit);
            pos += n;
        } else {
            return Err(bad("reserved command 0"));
        }
    }
    if out.len() != result_size {
        return Err(DeltaError::ResultSizeMismatch {
            expected: result_size as u64,
            actual: out.len() as u64,
        });
    }
    Ok(out)
}

const BLOCK: usize = 16;
/// How many candidate positions are compared for one target position.
const MAX_CANDIDATES: usize = 48;
/// The largest single copy command git's own writer emits; every reader accepts it.
const MAX_COPY: usize = 0x10000;
const PRIME: u32 = 0x0100_0193;

fn block_hash(block: &[u8]) -> u32 {
    block.iter().fold(0u32, |h, &b| {
        h.wrapping_mul(PRIME).wrapping_add(u32::from(b))
    })
}

/// An index of a base's 16-byte blocks, reusable for deltas of many targets against it.
/// It does not keep the base: pass the same base to [`DeltaIndex::delta`].
#[derive(Debug)]
pub struct DeltaIndex {
    base_len: usize,
    shift: u32,
    head: Vec<u32>,
    next: Vec<u32>,
    /// PRIME^(BLOCK-1), to roll a byte out of the window.
    out_factor: u32,
}

impl DeltaIndex {
    /// Indexes `base`.
    pub fn new(base: &[u8]) -> Self {
        let blocks = base.len() / BLOCK;
        let bits = (blocks.max(1).next_power_of_two().trailing_zeros()).max(4);
        let mut head = vec![0u32; 1 << bits];
        let mut next = vec![0u32; blocks];
        // Insert from the end so that chains list earlier positions first.
        for b in (0..blocks).rev() {
            let pos = b * BLOCK;
            let slot = bucket(block_hash(&base[pos..pos + BLOCK]), 32 - bits);
            next[b] = head[slot];
            head[slot] = b as u32 + 1;
        }
        let out_factor = (1..BLOCK).fold(1u32, |f, _| f.wrapping_mul(PRIME));
        DeltaIndex {
            base_len: base.len(),
            shift: 32 - bits,
            head,
            next,
            out_factor,
        }
    }

    /// The size of the base this index was built from.
    pub fn base_len(&self) -> usize {
        self.base_len
    }

    /// A delta from `base` (the one indexed) to `target`, or `None` when it would be over
    /// `max_size` bytes.
    pub fn delta(&self, base: &[u8], target: &[u8], max_size: usize) -> Option<Vec<u8>> {
        if base.len() != self.base_len {
            return None;
        }
        let mut out = Vec::with_capacity((target.len() / 8).clamp(32, max_size.max(32)));
        write_varint(&mut out, base.len() as u64);
        write_varint(&mut out, target.len() as u64);
        let mut lit_start = 0;
        let mut i = 0;
        let mut h = if target.len() >= BLOCK {
            block_hash(&target[..BLOCK])
        } else {
            0
        };
        while i + BLOCK <= target.len() {
            let (best_off, best_len) = self.longest_match(base, h, &target[i..]);
            if best_len >= BLOCK {
                // Grow the match backwards over bytes not yet emitted.
                let mut back = 0;
                while i - back > lit_start
                    && best_off > back
                    && base[best_off - back - 1] == target[i - back - 1]
                {
                    back += 1;
                }
                write_literal(&mut out, &target[lit_start..i - back]);
                write_copy(&mut out, best_off - back, best_len + back);
                if out.len() > max_size {
                    return None;
                }
                i += best_len;
                lit_start = i;
                if i + BLOCK <= target.len() {
                    h = block_hash(&target[i..i + BLOCK]);
                }
            } else {
                if i + BLOCK < target.len() {
                    h = h
                        .wrapping_sub(u32::from(target[i]).wrapping_mul(self.out_factor))
                        .wrapping_mul(PRIME)
                        .wrapping_add(u32::from(target[i + BLOCK]));
                }
                i += 1;
                if i - lit_start > 4096 && out.len() + (i - lit_start) > max_size {
                    return None;
                }
            }
        }
        write_literal(&mut out, &target[lit_start..]);
        (out.len() <= max_size).then_some(out)
    }

    fn longest_match(&self, base: &[u8], h: u32, target: &[u8]) -> (usize, usize) {
        let (mut best_off, mut best_len) = (0, 0);
        let mut cand = self.head[bucket(h, self.shift)];
        let mut tried = 0;
        while cand != 0 && tried < MAX_CANDIDATES {
            let pos = (cand as usize - 1) * BLOCK;
            cand = self.next[cand as usize - 1];
            tried += 1;
            let len = common_prefix(&base[pos..], target);
            if len > best_len {
                best_len = len;
                best_off = pos;
                if pos + len == base.len() || len == target.len() {
                    break;
                }
            }
        }
        (best_off, best_len)
    }
}

fn bucket(h: u32, shift: u32) -> usize {
    (h.wrapping_mul(0x9E37_79B1) >> shift) as usize
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().unwrap_or([0; 8]));
        let y = u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        if x != y {
            return i + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn write_literal(out: &mut Vec<u8>, mut lit: &[u8]) {
    while !lit.is_empty() {
        let n = lit.len().min(127);
        out.push(n as u8);
        out.extend_from_slice(&lit[..n]);
        lit = &lit[n..];
    }
}

fn write_copy(out: &mut Vec<u8>, mut offset: usize, mut len: usize) {
    while len > 0 {
        let n = len.min(MAX_COPY);
        let cmd_at = out.len();
        out.push(0x80);
        let mut cmd = 0x80u8;
        for i in 0..4 {
            let b = (offset >> (8 * i)) as u8;
            if b != 0 {
                cmd |= 1 << i;
                out.push(b);
            }
        }
        // A size of 0x10000 is written as no size bytes.
        let size = if n == MAX_COPY { 0 } else { n };
        for i in 0..3 {
            let b = (size >> (8 * i)) as u8;
            if b != 0 {
                cmd |= 0x10 << i;
                out.push(b);
            }
        }
        out[cmd_at] = cmd;
        offset += n;
        len -= n;
    }
}

/// Creates a delta from `base` to `target` (no size limit).
pub fn create_delta(base: &[u8], target: &[u8]) -> Vec<u8> {
    DeltaIndex::new(base)
        .delta(base, target, usize::MAX)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn similar_texts_make_a_small_delta_that_applies() {
        let base: Vec<u8> = (0..2000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let mut target = base.clone();
        target.splice(5000..5010, b"CHANGED!".iter().copied());
        target.extend_from_slice(b"tail\n");
        let d = create_delta(&base, &target);
        assert!(d.len() < 100, "delta is {} bytes", d.len());
        assert_eq!(apply_delta(&base, &d, u64::MAX).unwrap(), target);
    }

    #[test]
    fn malformed_deltas_are_typed_errors() {
        let base = b"hello world";
        assert_eq!(apply_delta(base, &[], 100), Err(DeltaError::BadHeader));
        assert!(matches!(
            apply_delta(base, &[5, 5], 100),
            Err(DeltaError::BaseSizeMismatch { .. })
        ));
        // copy offset 8 size 10: outside an 11-byte base
        assert!(matches!(
            apply_delta(base, &[11, 10, 0x91, 8, 10], 100),
            Err(DeltaError::BadCommand { .. })
        ));
        assert!(matches!(
            apply_delta(base, &[11, 3, 0], 100),
            Err(DeltaError::BadCommand { .. })
        ));
        assert!(matches!(
            apply_delta(base, &[11, 3, 2, b'a', b'b'], 100),
            Err(DeltaError::ResultSizeMismatch { .. })
        ));
        assert!(matches!(
            apply_delta(base, &[11, 200, 1], 100),
            Err(DeltaError::TooLarge { .. })
        ));
    }

    proptest! {
        #[test]
        fn any_delta_we_create_reproduces_the_target(
            base in proptest::collection::vec(any::<u8>(), 0..3000),
            edits in proptest::collection::vec((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..8),
        ) {
            let mut target = base.clone();
            for (at, bytes) in edits {
                let at = usize::from(at) % (target.len() + 1);
                let end = (at + bytes.len() / 2).min(target.len());
                target.splice(at..end, bytes);
            }
            let d = create_delta(&base, &target);
            prop_assert_eq!(apply_delta(&base, &d, u64::MAX).unwrap(), target);
        }

        #[test]
        fn applying_arbitrary_bytes_never_panics(
            base in proptest::collection::vec(any::<u8>(), 0..64),
            delta in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let _ = apply_delta(&base, &delta, 1 << 20);
        }
    }
}
