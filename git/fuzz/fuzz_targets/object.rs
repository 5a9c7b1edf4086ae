//! Object parsing never panics, and whatever parses writes back byte-exactly.
#![no_main]

use guts_git::{Kind, Object};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&k, body)) = data.split_first() else { return };
    let kind = [Kind::Commit, Kind::Tree, Kind::Blob, Kind::Tag][usize::from(k % 4)];
    if let Ok(obj) = Object::parse(kind, body) {
        assert_eq!(obj.write(), body);
    }
    for e in guts_git::object::TreeIter::new(body) {
        if e.is_err() {
            break;
        }
    }
    let _ = guts_git::object::CommitLinks::parse(body);
});
