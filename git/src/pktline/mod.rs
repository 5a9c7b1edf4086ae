//! pkt-line framing (`gitprotocol-common`): four hex digits of length, then data; the special
//! packets flush `0000`, delim `0001` and response-end `0002`; at most 65520 bytes a packet.
//! Decoding is pure (complete or incomplete); the reader adds buffering over `std::io::Read`.

mod decode;
mod encode;
mod read;
mod sideband;

pub use decode::{Decoded, PacketLineRef, decode};
pub use encode::{
    write_data, write_delim, write_error, write_flush, write_response_end, write_text,
};
pub use read::PktReader;
pub use sideband::{Band, SidebandKind, encode_band, split_band};

/// The largest packet git sends or accepts, header included.
pub const MAX_PKT_LEN: usize = 65520;
/// The largest payload of one packet.
pub const MAX_DATA_LEN: usize = MAX_PKT_LEN - 4;

/// Why a pkt-line was refused.
#[derive(Debug, thiserror::Error)]
pub enum PktError {
    /// The four length digits are not hex.
    #[error("pkt-line length {header:?} is not four hex digits")]
    BadLength {
        /// The header bytes as received.
        header: [u8; 4],
    },
    /// A length of 3 is reserved, and anything above 65520 is too long.
    #[error("pkt-line length {len} is invalid (reserved, or over {MAX_PKT_LEN})")]
    InvalidLength {
        /// The decoded length.
        len: usize,
    },
    /// The payload would exceed the largest packet.
    #[error("pkt-line payload of {len} bytes is over the limit of {MAX_DATA_LEN}")]
    TooLong {
        /// The payload length.
        len: usize,
    },
    /// The stream ended inside a packet.
    #[error("stream ended inside a pkt-line ({needed} more bytes expected)")]
    Truncated {
        /// How many more bytes were expected.
        needed: usize,
    },
    /// Reading the underlying stream failed.
    #[error("reading pkt-lines failed")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Pkt {
        Data(Vec<u8>),
        Flush,
        Delim,
        End,
    }

    fn pkt() -> impl Strategy<Value = Pkt> {
        prop_oneof![
            8 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(Pkt::Data),
            1 => Just(Pkt::Flush),
            1 => Just(Pkt::Delim),
            1 => Just(Pkt::End),
        ]
    }

    proptest! {
        #[test]
        fn any_packet_sequence_round_trips_through_encode_and_the_reader(
            pkts in proptest::collection::vec(pkt(), 0..40),
            chunk in 1usize..64,
        ) {
            let mut wire = Vec::new();
            for p in &pkts {
                match p {
                    Pkt::Data(d) => write_data(&mut wire, d).unwrap(),
                    Pkt::Flush => write_flush(&mut wire).unwrap(),
                    Pkt::Delim => write_delim(&mut wire).unwrap(),
                    Pkt::End => write_response_end(&mut wire).unwrap(),
                }
            }
            // Feed the reader in small pieces to exercise partial frames.
            struct Trickle<'a>(&'a [u8], usize);
            impl std::io::Read for Trickle<'_> {
                fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                    let n = self.0.len().min(self.1).min(buf.len());
                    buf[..n].copy_from_slice(&self.0[..n]);
                    self.0 = &self.0[n..];
                    Ok(n)
                }
            }
            let mut r = PktReader::new(Trickle(&wire, chunk));
            for p in &pkts {
                let line = r.read_line().unwrap().unwrap();
                match (p, line) {
                    (Pkt::Data(d), PacketLineRef::Data(got)) => prop_assert_eq!(d.as_slice(), got),
                    (Pkt::Flush, PacketLineRef::Flush)
                    | (Pkt::Delim, PacketLineRef::Delimiter)
                    | (Pkt::End, PacketLineRef::ResponseEnd) => {}
                    (want, got) => prop_assert!(false, "want {:?}, got {:?}", want, got),
                }
            }
            prop_assert!(r.read_line().unwrap().is_none());
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics_and_never_overreads(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            if let Ok(Decoded::Complete { consumed, .. }) = decode(&bytes) {
                prop_assert!(consumed <= bytes.len());
            }
        }
    }
}
