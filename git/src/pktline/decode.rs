//! Pure pkt-line decoding: is a frame complete, and what is in it.

use super::{MAX_PKT_LEN, PktError};

/// One decoded packet, borrowing its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketLineRef<'a> {
    /// A data packet's payload.
    Data(&'a [u8]),
    /// `0000`: end of a section or message.
    Flush,
    /// `0001`: separates sections of a protocol v2 command.
    Delimiter,
    /// `0002`: end of a protocol v2 response in stateless mode.
    ResponseEnd,
}

impl<'a> PacketLineRef<'a> {
    /// The payload of a data packet.
    pub fn as_data(&self) -> Option<&'a [u8]> {
        match self {
            PacketLineRef::Data(d) => Some(d),
            _ => None,
        }
    }

    /// The payload without one trailing newline (text packets end with `\n` by convention).
    pub fn as_text(&self) -> Option<&'a [u8]> {
        self.as_data().map(|d| d.strip_suffix(b"\n").unwrap_or(d))
    }

    /// The message of an `ERR ` packet.
    pub fn as_error(&self) -> Option<&'a [u8]> {
        self.as_text().and_then(|t| t.strip_prefix(b"ERR "))
    }
}

/// The result of looking at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A whole packet, and how many bytes of the buffer it used.
    Complete {
        /// The packet.
        line: PacketLineRef<'a>,
        /// Bytes used from the start of the buffer.
        consumed: usize,
    },
    /// The buffer holds only part of a packet; at least `needed` more bytes are required.
    Incomplete {
        /// The minimum number of further bytes.
        needed: usize,
    },
}

/// Decodes the packet at the start of `buf`. Lengths are checked before anything is read.
pub fn decode(buf: &[u8]) -> Result<Decoded<'_>, PktError> {
    let Some(header) = buf.get(..4) else {
        return Ok(Decoded::Incomplete {
            needed: 4 - buf.len(),
        });
    };
    let mut len = 0usize;
    for &c in header {
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => {
                return Err(PktError::BadLength {
                    header: [header[0], header[1], header[2], header[3]],
                });
            }
        };
        len = (len << 4) | usize::from(digit);
    }
    let special = |line| Ok(Decoded::Complete { line, consumed: 4 });
    match len {
        0 => return special(PacketLineRef::Flush),
        1 => return special(PacketLineRef::Delimiter),
        2 => return special(PacketLineRef::ResponseEnd),
        3 => return Err(PktError::InvalidLength { len }),
        l if l > MAX_PKT_LEN => return Err(PktError::InvalidLength { len }),
        _ => {}
    }
    if buf.len() < len {
        return Ok(Decoded::Incomplete {
            needed: len - buf.len(),
        });
    }
    Ok(Decoded::Complete {
        line: PacketLineRef::Data(&buf[4..len]),
        consumed: len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_packets_data_and_partial_frames_decode() {
        assert_eq!(
            decode(b"0000rest").unwrap(),
            Decoded::Complete {
                line: PacketLineRef::Flush,
                consumed: 4
            }
        );
        assert_eq!(
            decode(b"0009hello").unwrap(),
            Decoded::Complete {
                line: PacketLineRef::Data(b"hello"),
                consumed: 9
            }
        );
        assert_eq!(
            decode(b"0009he").unwrap(),
            Decoded::Incomplete { needed: 3 }
        );
        assert_eq!(decode(b"00").unwrap(), Decoded::Incomplete { needed: 2 });
        assert!(matches!(
            decode(b"0003"),
            Err(PktError::InvalidLength { len: 3 })
        ));
        assert!(matches!(
            decode(b"fff1"),
            Err(PktError::InvalidLength { .. })
        ));
        assert!(matches!(decode(b"00g0"), Err(PktError::BadLength { .. })));
        let err = decode(b"000dERR nope\n").unwrap();
        let Decoded::Complete { line, .. } = err else {
            panic!()
        };
        assert_eq!(line.as_error(), Some(&b"nope"[..]));
    }
}
