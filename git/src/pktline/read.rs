//! A buffered pkt-line reader over any `std::io::Read`.

use std::io::{self, Read};

use super::{Decoded, MAX_PKT_LEN, PacketLineRef, PktError, decode};

/// Reads pkt-lines from a stream; what follows the packets (a pack) stays readable.
#[derive(Debug)]
pub struct PktReader<R> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl<R: Read> PktReader<R> {
    /// Wraps a stream.
    pub fn new(inner: R) -> Self {
        PktReader {
            inner,
            buf: vec![0; MAX_PKT_LEN * 2].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// The next packet, or `None` at a clean end of stream.
    pub fn read_line(&mut self) -> Result<Option<PacketLineRef<'_>>, PktError> {
        loop {
            match decode(&self.buf[self.start..self.end])? {
                Decoded::Complete { consumed, .. } => {
                    let at = self.start;
                    self.start += consumed;
                    // Decode again from the saved position to hand out a borrow of the buffer.
                    return match decode(&self.buf[at..at + consumed])? {
                        Decoded::Complete { line, .. } => Ok(Some(line)),
                        Decoded::Incomplete { needed } => Err(PktError::Truncated { needed }),
                    };
                }
                Decoded::Incomplete { needed } => {
                    if self.start > 0 {
                        self.buf.copy_within(self.start..self.end, 0);
                        self.end -= self.start;
                        self.start = 0;
                    }
                    let n = read_retrying(&mut self.inner, &mut self.buf[self.end..])?;
                    if n == 0 {
                        return if self.end == 0 {
                            Ok(None)
                        } else {
                            Err(PktError::Truncated { needed })
                        };
                    }
                    self.end += n;
                }
            }
        }
    }

    /// The bytes after the last packet read: buffered ones first, then the rest of the stream.
    pub fn into_rest(self) -> io::Chain<io::Cursor<Vec<u8>>, R> {
        let left = self.buf[self.start..self.end].to_vec();
        io::Cursor::new(left).chain(self.inner)
    }
}

fn read_retrying(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_packets_then_hands_over_the_rest() {
        let mut r = PktReader::new(&b"0009hello0000PACKdata"[..]);
        assert_eq!(r.read_line().unwrap(), Some(PacketLineRef::Data(b"hello")));
        assert_eq!(r.read_line().unwrap(), Some(PacketLineRef::Flush));
        let mut rest = Vec::new();
        r.into_rest().read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"PACKdata");
    }

    #[test]
    fn a_stream_cut_inside_a_packet_is_an_error() {
        let mut r = PktReader::new(&b"0009hel"[..]);
        assert!(matches!(r.read_line(), Err(PktError::Truncated { .. })));
        let mut r = PktReader::new(&b""[..]);
        assert_eq!(r.read_line().unwrap(), None);
    }
}
