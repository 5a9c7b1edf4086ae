//! Side-band multiplexing: band 1 carries data (a pack), band 2 progress, band 3 a fatal error.

use std::io::Write;

use super::{MAX_PKT_LEN, PktError, write_data};

/// Which side-band flavour the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SidebandKind {
    /// `side-band`: packets of at most 1000 bytes.
    Small,
    /// `side-band-64k`: packets of at most 65520 bytes.
    Large,
}

impl SidebandKind {
    /// The largest payload one packet carries, band byte excluded.
    pub fn max_payload(self) -> usize {
        match self {
            SidebandKind::Small => 1000 - 5,
            SidebandKind::Large => MAX_PKT_LEN - 5,
        }
    }
}

/// A demultiplexed side-band packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Band<'a> {
    /// Band 1: payload data.
    Data(&'a [u8]),
    /// Band 2: progress text for the user.
    Progress(&'a [u8]),
    /// Band 3: a fatal error message.
    Error(&'a [u8]),
}

/// Splits a data packet into its band. `None` for an empty packet or an unknown band.
pub fn split_band(payload: &[u8]) -> Option<Band<'_>> {
    let (&band, rest) = payload.split_first()?;
    match band {
        1 => Some(Band::Data(rest)),
        2 => Some(Band::Progress(rest)),
        3 => Some(Band::Error(rest)),
        _ => None,
    }
}

/// Writes `data` on `band` (1, 2 or 3), split into as many packets as the flavour needs.
pub fn encode_band(
    out: &mut impl Write,
    kind: SidebandKind,
    band: u8,
    data: &[u8],
) -> Result<(), PktError> {
    let mut packet = Vec::with_capacity(kind.max_payload().min(data.len()) + 1);
    for chunk in data.chunks(kind.max_payload()) {
        packet.clear();
        packet.push(band);
        packet.extend_from_slice(chunk);
        write_data(out, &packet)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pktline::PktReader;

    #[test]
    fn long_data_is_split_and_reassembles_per_band() {
        let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let mut out = Vec::new();
        encode_band(&mut out, SidebandKind::Small, 1, &data).unwrap();
        encode_band(&mut out, SidebandKind::Small, 2, b"Counting objects\r").unwrap();
        let mut r = PktReader::new(&out[..]);
        let (mut got, mut progress) = (Vec::new(), Vec::new());
        while let Some(line) = r.read_line().unwrap() {
            let payload = line.as_data().unwrap();
            assert!(payload.len() <= 1000 - 4);
            match split_band(payload).unwrap() {
                Band::Data(d) => got.extend_from_slice(d),
                Band::Progress(p) => progress.extend_from_slice(p),
                Band::Error(_) => panic!("no error band was written"),
            }
        }
        assert_eq!(got, data);
        assert_eq!(progress, b"Counting objects\r");
    }
}
