//! Property tests of the Git request parsers: arbitrary bytes, and pkt-lines made of the
//! words the parsers look for, never panic; errors shown to a client stay short.
//!
//! 2,000 cases each in the test suite; a longer fuzzing run sets `GUTS_FUZZ_CASES`:
//! `GUTS_FUZZ_CASES=1000000 cargo test --release -p guts-node parse_props`.

use proptest::prelude::*;

use super::{GitError, receive, upload_v0, upload_v2};
use guts_git::pktline::PktReader;

fn pkt(payload: &[u8]) -> Vec<u8> {
    let mut out = format!("{:04x}", payload.len() + 4).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A request of pkt-lines built from protocol words, ids, garbage and special packets.
fn request() -> impl Strategy<Value = Vec<u8>> {
    let word = prop_oneof![
        Just(b"command=fetch".to_vec()),
        Just(b"command=ls-refs".to_vec()),
        Just(b"want ".to_vec()),
        Just(b"have ".to_vec()),
        Just(b"deepen ".to_vec()),
        Just(b"deepen-not ".to_vec()),
        Just(b"deepen-since ".to_vec()),
        Just(b"shallow ".to_vec()),
        Just(b"filter blob:limit=".to_vec()),
        Just(b"done".to_vec()),
        Just(b"0000000000000000000000000000000000000000 ".to_vec()),
        Just(b"\0report-status side-band-64k atomic push-options".to_vec()),
        Just(b" refs/heads/main".to_vec()),
        prop::collection::vec(any::<u8>(), 0..300),
    ];
    let line = prop::collection::vec(word, 1..4).prop_map(|w| pkt(&w.concat()));
    let special = prop_oneof![
        Just(b"0000".to_vec()),
        Just(b"0001".to_vec()),
        Just(b"0002".to_vec()),
        Just(b"fff".to_vec()),
        Just(b"ffff".to_vec()),
    ];
    prop::collection::vec(prop_oneof![3 => line, 1 => special], 0..40).prop_map(|v| v.concat())
}

fn public_is_short(e: &GitError) {
    assert!(
        e.public().chars().count() <= super::MAX_PUBLIC + 3,
        "{}",
        e.public()
    );
}

/// Runs every request parser over `bytes`.
fn parse_all(bytes: &[u8]) {
    for parse in 0..3 {
        let mut r = PktReader::new(bytes);
        let e = match parse {
            0 => upload_v2::read_request(&mut r).err(),
            1 => upload_v0::read_request(&mut r).err(),
            _ => receive::read_commands(&mut r).err(),
        };
        if let Some(e) = e {
            public_is_short(&e);
        }
    }
}

/// Cases per property: 2,000, or `GUTS_FUZZ_CASES`.
fn cases() -> u32 {
    std::env::var("GUTS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn request_parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2_000)) {
        parse_all(&bytes);
    }

    #[test]
    fn structured_requests_never_panic(bytes in request()) {
        parse_all(&bytes);
    }
}
