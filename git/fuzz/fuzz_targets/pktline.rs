//! pkt-line decoding and the buffered reader never panic, and what decodes re-encodes.
#![no_main]

use guts_git::pktline::{Decoded, PacketLineRef, PktReader, decode, write_data};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Decoded::Complete { line: PacketLineRef::Data(d), consumed }) = decode(data) {
        let mut out = Vec::new();
        write_data(&mut out, d).expect("a decoded payload fits a packet");
        assert_eq!(out.len(), consumed);
    }
    let mut r = PktReader::new(data);
    while let Ok(Some(_)) = r.read_line() {}
});
