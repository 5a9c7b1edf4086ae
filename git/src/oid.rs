//! Object ids: 20-byte SHA-1 names, their hex form and the all-zero id.

use std::fmt;

/// Why a hex object id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidError {
    /// The text was not 40 characters long.
    #[error("object id must be 40 hex digits, got {len} characters")]
    Length {
        /// How many characters were given.
        len: usize,
    },
    /// A character outside `0-9a-f` (upper case is accepted too).
    #[error("object id has a character that is not a hex digit at position {pos}")]
    NotHex {
        /// The position of the first bad character.
        pos: usize,
    },
}

/// A SHA-1 object id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ObjectId([u8; 20]);

impl ObjectId {
    /// The length of an id in bytes.
    pub const LEN: usize = 20;
    /// The length of an id in hex digits.
    pub const HEX_LEN: usize = 40;
    /// The all-zero id git uses for "no object" (a ref that does not exist yet, or is deleted).
    pub const ZERO: ObjectId = ObjectId([0; 20]);

    /// Wraps 20 raw bytes.
    pub const fn from_bytes(bytes: [u8; 20]) -> Self {
        ObjectId(bytes)
    }

    /// Reads an id from the first 20 bytes of `bytes`, or `None` when there are fewer.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let raw: [u8; 20] = bytes.get(..20)?.try_into().ok()?;
        Some(ObjectId(raw))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// True for the all-zero id.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 20]
    }

    /// Parses 40 hex digits (either case).
    pub fn from_hex(hex: &[u8]) -> Result<Self, OidError> {
        if hex.len() != Self::HEX_LEN {
            return Err(OidError::Length { len: hex.len() });
        }
        let mut out = [0u8; 20];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            let hi = nibble(pair[0]).ok_or(OidError::NotHex { pos: 2 * i })?;
            let lo = nibble(pair[1]).ok_or(OidError::NotHex { pos: 2 * i + 1 })?;
            out[i] = (hi << 4) | lo;
        }
        Ok(ObjectId(out))
    }

    /// Writes the 40 lower-case hex digits into `out`.
    pub fn write_hex(&self, out: &mut [u8; 40]) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        for (i, b) in self.0.iter().enumerate() {
            out[2 * i] = DIGITS[(b >> 4) as usize];
            out[2 * i + 1] = DIGITS[(b & 15) as usize];
        }
    }

    /// The 40 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        let mut buf = [0u8; 40];
        self.write_hex(&mut buf);
        buf.iter().map(|&b| b as char).collect()
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl std::str::FromStr for ObjectId {
    type Err = OidError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ObjectId::from_hex(s.as_bytes())
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 40];
        self.write_hex(&mut buf);
        // Hex digits are ASCII, so this cannot fail.
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

impl AsRef<[u8]> for ObjectId {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_bad_digits() {
        let hex = "0123456789abcdef0123456789ABCDEF01234567";
        let id: ObjectId = hex.parse().unwrap();
        assert_eq!(id.to_hex(), hex.to_lowercase());
        assert_eq!(
            ObjectId::from_hex(b"zz23456789abcdef0123456789abcdef01234567"),
            Err(OidError::NotHex { pos: 0 })
        );
        assert_eq!(ObjectId::from_hex(b"00"), Err(OidError::Length { len: 2 }));
        assert!(ObjectId::ZERO.is_zero());
    }
}
