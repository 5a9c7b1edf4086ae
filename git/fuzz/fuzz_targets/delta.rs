//! Applying arbitrary deltas never panics; deltas we create always apply.
#![no_main]

use guts_git::pack::{apply_delta, create_delta};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let (a, b) = data.split_at(split);
    let _ = apply_delta(a, b, 1 << 20);
    let d = create_delta(a, b);
    assert_eq!(apply_delta(a, &d, u64::MAX).expect("our delta applies"), b);
});
