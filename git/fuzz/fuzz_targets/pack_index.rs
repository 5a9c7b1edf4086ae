//! Indexing arbitrary bytes as a pack never panics and never allocates past its limits.
#![no_main]

use guts_git::pack::{IndexOptions, NoBases, index_pack};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = IndexOptions {
        max_object_size: 1 << 20,
        max_objects: 1 << 12,
        threads: 1,
        ..IndexOptions::default()
    };
    let _ = index_pack(data, &mut Vec::new(), &NoBases, &opts);
});
