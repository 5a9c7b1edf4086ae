//! Packs made by `git pack-objects` index to exactly what `git index-pack` says.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::HashMap;

use guts_git::odb::MemoryOdb;
use guts_git::pack::{
    EntryKind, IndexOptions, NoBases, PackError, PackIndex, index_pack, read_object_at,
};
use guts_git::{Kind, ObjectId};

fn index(
    pack: &[u8],
    bases: &MemoryOdb,
    opts: &IndexOptions,
) -> Result<(PackIndex, Vec<u8>), PackError> {
    let mut spool = Vec::new();
    let idx = index_pack(pack, &mut spool, bases, opts)?;
    Ok((idx, spool))
}

fn assert_matches_git(pack: &[u8], idx: &PackIndex) {
    let ours: Vec<(u64, ObjectId, u32)> = idx
        .entries
        .iter()
        .map(|e| (e.offset, e.id, e.crc32))
        .collect();
    assert_eq!(ours, common::git_index(pack));
    assert_eq!(idx.len, pack.len() as u64);
    assert_eq!(
        idx.checksum,
        ObjectId::from_slice(&pack[pack.len() - 20..]).unwrap()
    );
}

#[test]
fn full_pack_with_ofs_deltas_indexes_like_git_index_pack() {
    let repo = common::fixture();
    let pack = common::pack_of(repo, "", &["--all", "--delta-base-offset"]);
    let (idx, spool) = index(&pack, &MemoryOdb::new(), &IndexOptions::default()).unwrap();
    assert_eq!(spool, pack, "the spool holds the pack as received");
    assert_matches_git(&pack, &idx);
    assert!(
        idx.entries
            .iter()
            .any(|e| matches!(e.packed, EntryKind::OfsDelta { .. }))
    );
    // Every object reads back by offset with git's content.
    let objects: HashMap<ObjectId, (Kind, Vec<u8>)> = common::all_objects(repo)
        .into_iter()
        .map(|(id, k, d)| (id, (k, d)))
        .collect();
    let by_id: HashMap<ObjectId, u64> = idx.entries.iter().map(|e| (e.id, e.offset)).collect();
    for e in &idx.entries {
        let (kind, data) =
            read_object_at(&spool, e.offset, &|id| by_id.get(id).copied(), u64::MAX).unwrap();
        assert_eq!(
            (kind, &data),
            (objects[&e.id].0, &objects[&e.id].1),
            "{}",
            e.id
        );
        assert_eq!((e.kind, e.size), (kind, data.len() as u64));
    }
}

#[test]
fn ref_delta_pack_with_deep_chains_indexes_like_git_on_one_thread_and_many() {
    let repo = common::fixture();
    let pack = common::pack_of(
        repo,
        "",
        &["--all", "--depth=4095", "--window=250", "--no-reuse-delta"],
    );
    let mut results = Vec::new();
    for (threads, cache_bytes) in [(1, 64 << 20), (4, 64 << 20), (3, 1)] {
        let opts = IndexOptions {
            threads,
            cache_bytes,
            ..IndexOptions::default()
        };
        let (idx, _) = index(&pack, &MemoryOdb::new(), &opts).unwrap();
        assert_matches_git(&pack, &idx);
        assert!(
            idx.entries
                .iter()
                .any(|e| matches!(e.packed, EntryKind::RefDelta { .. }))
        );
        assert!(
            idx.entries.iter().map(|e| e.depth).max().unwrap() >= 5,
            "chains are deep"
        );
        results.push(idx.entries);
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0], results[2]);
}

#[test]
fn thin_pack_is_completed_from_outside_bases_and_refused_without_them() {
    let repo = common::fixture();
    let pack = common::pack_of(repo, "main\n^main~20\n", &["--thin", "--delta-base-offset"]);
    let expected = common::id_lines(common::git(
        repo,
        &["rev-list", "--objects", "main", "^main~20"],
    ));
    let bases = common::odb_of(repo);
    let (idx, _) = index(&pack, &bases, &IndexOptions::default()).unwrap();
    assert!(!idx.external_bases.is_empty(), "git made a thin pack");
    let mut ids: Vec<ObjectId> = idx.entries.iter().map(|e| e.id).collect();
    ids.sort();
    assert_eq!(ids, expected);
    for b in &idx.external_bases {
        assert!(!ids.contains(b), "external base {b} is not in the pack");
    }
    match index(&pack, &MemoryOdb::new(), &IndexOptions::default()) {
        Err(PackError::MissingBase { base, .. }) => assert!(idx.external_bases.contains(&base)),
        other => panic!("expected MissingBase, got {other:?}"),
    }
}

#[test]
fn pack_spooled_to_a_file_indexes_the_same() {
    let repo = common::fixture();
    let pack = common::pack_of(repo, "", &["--all", "--delta-base-offset"]);
    let mut file = tempfile::tempfile().unwrap();
    let idx = index_pack(&pack[..], &mut file, &NoBases, &IndexOptions::default()).unwrap();
    assert_matches_git(&pack, &idx);
}

#[test]
fn a_600_deep_delta_chain_indexes_like_git_with_a_tiny_base_cache() {
    use guts_git::pack::{PackWriter, create_delta};
    // Each version is a delta against the previous one, in both OFS and REF form.
    let versions: Vec<Vec<u8>> = (0..600)
        .map(|i| {
            (0..200)
                .map(|j| format!("line {j} edited at {}\n", i * (j % 7 == i % 7) as usize))
                .collect::<String>()
                .into_bytes()
        })
        .collect();
    for ofs in [true, false] {
        let mut w = PackWriter::new(Vec::new(), versions.len() as u32).unwrap();
        let mut prev = (
            w.write_whole(Kind::Blob, &versions[0]).unwrap(),
            &versions[0],
        );
        for v in &versions[1..] {
            let delta = create_delta(prev.1, v);
            let at = if ofs {
                w.write_ofs_delta(prev.0, &delta).unwrap()
            } else {
                let base =
                    guts_git::hash_object(guts_git::HashMode::Fast, Kind::Blob, prev.1).unwrap();
                w.write_ref_delta(base, &delta).unwrap()
            };
            prev = (at, v);
        }
        let (_, pack) = w.finish().unwrap();
        let opts = IndexOptions {
            cache_bytes: 30_000,
            threads: 2,
            ..IndexOptions::default()
        };
        let (idx, _) = index(&pack, &MemoryOdb::new(), &opts).unwrap();
        assert_matches_git(&pack, &idx);
        assert_eq!(idx.entries.iter().map(|e| e.depth).max(), Some(599));
    }
}
