//! Every object git lists in the fixture parses, validates, and writes back byte-exactly.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use guts_git::{HashMode, Kind, Object, hash_object};

#[test]
fn every_object_in_the_fixture_round_trips_byte_exactly_with_the_same_id() {
    let objects = common::all_objects(common::fixture());
    assert!(
        objects.len() > 1500,
        "fixture has {} objects",
        objects.len()
    );
    let mut kinds = std::collections::HashMap::new();
    for (id, kind, data) in &objects {
        let parsed = Object::parse(*kind, data).unwrap_or_else(|e| panic!("{id} {kind}: {e}"));
        let written = parsed.write();
        assert_eq!(&written, data, "{id} does not round-trip");
        assert_eq!(
            hash_object(HashMode::Checked, *kind, &written).unwrap(),
            *id
        );
        *kinds.entry(*kind).or_insert(0) += 1;
    }
    for k in [Kind::Blob, Kind::Tree, Kind::Commit, Kind::Tag] {
        assert!(
            kinds.get(&k).copied().unwrap_or(0) > 0,
            "no {k} in the fixture"
        );
    }
}

#[test]
fn objects_that_git_fsck_rejects_are_typed_errors() {
    let repo = common::fixture();
    let head = common::rev(repo, "main");
    let commit = common::git(repo, &["cat-file", "commit", &head.to_hex()]);
    // A commit without an author line.
    let text = String::from_utf8(commit).unwrap();
    let no_author: String = text
        .lines()
        .filter(|l| !l.starts_with("author "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(Object::parse(Kind::Commit, no_author.as_bytes()).is_err());
    // A tag whose type names no kind.
    let tag = b"object 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ntype bogus\ntag x\n\n";
    assert!(Object::parse(Kind::Tag, tag).is_err());
    // A tree with an unterminated entry.
    assert!(Object::parse(Kind::Tree, b"100644 file").is_err());
}
