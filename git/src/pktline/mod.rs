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
