//! Packs we write are accepted by `git index-pack --strict` and `git verify-pack`, stay
//! within 1.5x of `git pack-objects`' size, and copying stored entries as they are works.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::HashMap;

use guts_git::odb::MemoryOdb;
use guts_git::pack::{
    DeltaOptions, EntryKind, IndexOptions, PackObject, PackWriter, index_pack, name_hash,
    write_pack,
};
use guts_git::{Kind, ObjectId};

/// Writes `pack` into a scratch repository and runs index-pack --strict and verify-pack -v.
fn git_accepts(pack: &[u8]) -> Vec<ObjectId> {
    let tmp = tempfile::tempdir().unwrap();
    common::git(tmp.path(), &["init", "-q", "--bare", "r"]);
    let repo = tmp.path().join("r");
    let path = tmp.path().join("ours.pack");
    std::fs::write(&path, pack).unwrap();
    common::git(&repo, &["index-pack", "--strict", path.to_str().unwrap()]);
    let verify = common::git(
        &repo,
        &[
            "verify-pack",
            "-v",
            tmp.path().join("ours.idx").to_str().unwrap(),
        ],
    );
    let text = String::from_utf8(verify).unwrap();
    assert!(text.contains(": ok"), "{text}");
    let idx = std::fs::read(tmp.path().join("ours.idx")).unwrap();
    let listing = String::from_utf8(common::git_stdin(&repo, &["show-index"], &idx)).unwrap();
    let mut ids: Vec<ObjectId> = listing
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect();
    ids.sort();
    ids
}

/// Every object reachable from all refs, with the path git found it at.
fn objects_with_paths(repo: &std::path::Path, odb: &MemoryOdb) -> Vec<PackObject> {
    use guts_git::odb::ObjectRead;
    let listing =
        String::from_utf8(common::git(repo, &["rev-list", "--objects", "--all"])).unwrap();
    listing
        .lines()
        .map(|l| {
            let (id, path) = l.split_once(' ').unwrap_or((l, ""));
            let id: ObjectId = id.parse().unwrap();
            let (kind, size) = odb.object_header(&id).unwrap().unwrap();
            PackObject {
                id,
                kind,
                size,
                name_hash: name_hash(path.as_bytes()),
            }
        })
        .collect()
}

#[test]
fn pack_written_with_new_deltas_is_accepted_by_git_and_close_to_its_size() {
    let repo = common::fixture();
    let odb = common::odb_of(repo);
    let objects = objects_with_paths(repo, &odb);
    let (_, ours) = write_pack(Vec::new(), &objects, &odb, &DeltaOptions::default()).unwrap();
    let mut ids: Vec<ObjectId> = objects.iter().map(|o| o.id).collect();
    ids.sort();
    assert_eq!(git_accepts(&ours), ids);
    let theirs = common::pack_of(
        repo,
        "",
        &["--all", "--no-reuse-delta", "--delta-base-offset"],
    );
    let ratio = ours.len() as f64 / theirs.len() as f64;
    eprintln!(
        "ours {} bytes, git {} bytes, ratio {ratio:.3}",
        ours.len(),
        theirs.len()
    );
    assert!(ratio <= 1.5, "our pack is {ratio:.2}x git's");
    // Without deltas the pack is much larger: the search is doing real work.
    let whole = DeltaOptions {
        window: 0,
        ..DeltaOptions::default()
    };
    let (_, plain) = write_pack(Vec::new(), &objects, &odb, &whole).unwrap();
    assert!(
        plain.len() > ours.len() * 2,
        "plain {} vs delta {}",
        plain.len(),
        ours.len()
    );
    git_accepts(&plain);
}

#[test]
fn entries_copied_compressed_from_a_git_pack_make_a_pack_git_accepts() {
    let repo = common::fixture();
    let theirs = common::pack_of(repo, "", &["--all", "--delta-base-offset"]);
    let mut spool = Vec::new();
    let idx = index_pack(
        &theirs[..],
        &mut spool,
        &MemoryOdb::new(),
        &IndexOptions::default(),
    )
    .unwrap();
    // Copy every entry's compressed bytes as they are, rewriting only OFS base offsets.
    let mut w = PackWriter::new(Vec::new(), idx.entries.len() as u32).unwrap();
    let mut moved: HashMap<u64, u64> = HashMap::new();
    let mut deltas = 0;
    for e in &idx.entries {
        let (kind, size) = match e.packed {
            EntryKind::OfsDelta { base_offset } => {
                deltas += 1;
                (
                    EntryKind::OfsDelta {
                        base_offset: moved[&base_offset],
                    },
                    delta_size(&spool, e.offset),
                )
            }
            EntryKind::RefDelta { base } => {
                (EntryKind::RefDelta { base }, delta_size(&spool, e.offset))
            }
            whole @ EntryKind::Whole(_) => (whole, e.size),
        };
        let compressed = &spool[e.data_offset as usize..e.end as usize];
        moved.insert(
            e.offset,
            w.write_compressed(kind, size, compressed).unwrap(),
        );
    }
    assert!(deltas > 100);
    let (_, copy) = w.finish().unwrap();
    let mut ids: Vec<ObjectId> = idx.entries.iter().map(|e| e.id).collect();
    ids.sort();
    assert_eq!(git_accepts(&copy), ids);
}

fn delta_size(pack: &[u8], offset: u64) -> u64 {
    guts_git::pack::decode_header(&pack[offset as usize..], offset)
        .unwrap()
        .size
}

#[test]
fn a_writer_given_the_wrong_number_of_entries_fails() {
    let mut w = PackWriter::new(Vec::new(), 2).unwrap();
    w.write_whole(Kind::Blob, b"one").unwrap();
    assert!(w.finish().is_err());
    let mut w = PackWriter::new(Vec::new(), 0).unwrap();
    assert!(w.write_whole(Kind::Blob, b"one").is_err());
}
