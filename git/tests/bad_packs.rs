//! Corrupt, truncated, forged and oversized packs are typed errors, never panics.
#![allow(clippy::unwrap_used, missing_docs)]

use guts_git::hash::{HashMode, ObjectHasher};
use guts_git::odb::MemoryOdb;
use guts_git::pack::{IndexOptions, PackError, PackWriter, create_delta, index_pack};
use guts_git::{Kind, ObjectId, hash_object};
use sha1::Digest;

fn index(pack: &[u8], opts: &IndexOptions) -> Result<guts_git::pack::PackIndex, PackError> {
    index_pack(pack, &mut Vec::new(), &MemoryOdb::new(), opts)
}

fn good_pack() -> Vec<u8> {
    let base = b"hello hello hello hello hello hello hello hello world\n".repeat(20);
    let mut target = base.clone();
    target.extend_from_slice(b"more\n");
    let mut w = PackWriter::new(Vec::new(), 3).unwrap();
    let at = w.write_whole(Kind::Blob, &base).unwrap();
    w.write_ofs_delta(at, &create_delta(&base, &target))
        .unwrap();
    w.write_whole(Kind::Blob, b"tail object").unwrap();
    w.finish().unwrap().1
}

/// Recomputes the trailer after editing a pack's body.
fn reseal(mut pack: Vec<u8>) -> Vec<u8> {
    let n = pack.len() - 20;
    let sum: [u8; 20] = sha1::Sha1::digest(&pack[..n]).into();
    pack[n..].copy_from_slice(&sum);
    pack
}

/// A pack of raw entries (header bytes + zlib data) with a valid header and trailer.
fn raw_pack(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut p = b"PACK\0\0\0\x02".to_vec();
    p.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    for e in entries {
        p.extend_from_slice(e);
    }
    p.extend_from_slice(&[0; 20]);
    reseal(p)
}

fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

fn entry(header: &[u8], data: &[u8]) -> Vec<u8> {
    let mut e = header.to_vec();
    e.extend_from_slice(&zlib(data));
    e
}

#[test]
fn the_good_pack_indexes() {
    assert_eq!(
        index(&good_pack(), &IndexOptions::default())
            .unwrap()
            .entries
            .len(),
        3
    );
}

#[test]
fn every_truncation_of_a_pack_is_an_error() {
    let pack = good_pack();
    for cut in 0..pack.len() {
        let err = index(&pack[..cut], &IndexOptions::default()).unwrap_err();
        assert!(
            matches!(
                err,
                PackError::Truncated { .. } | PackError::ChecksumMismatch { .. }
            ),
            "cut at {cut}: {err:?}"
        );
    }
}

#[test]
fn wrong_checksum_bad_signature_version_and_trailing_junk_are_refused() {
    let mut pack = good_pack();
    let last = pack.len() - 1;
    pack[last] ^= 1;
    assert!(matches!(
        index(&pack, &IndexOptions::default()),
        Err(PackError::ChecksumMismatch { .. })
    ));
    let mut pack = good_pack();
    pack[0] = b'J';
    assert!(matches!(
        index(&pack, &IndexOptions::default()),
        Err(PackError::BadSignature)
    ));
    let mut pack = good_pack();
    pack[7] = 9;
    assert!(matches!(
        index(&pack, &IndexOptions::default()),
        Err(PackError::UnsupportedVersion { version: 9 })
    ));
    let mut pack = good_pack();
    pack.extend_from_slice(b"junk");
    assert!(matches!(
        index(&pack, &IndexOptions::default()),
        Err(PackError::TrailingData)
    ));
}

#[test]
fn corrupt_compressed_data_is_refused_even_with_a_valid_trailer() {
    let pack = good_pack();
    for at in 14..40 {
        let mut bad = pack.clone();
        bad[at] ^= 0x55;
        let err = index(&reseal(bad), &IndexOptions::default()).unwrap_err();
        assert!(
            matches!(
                err,
                PackError::Inflate { .. }
                    | PackError::SizeMismatch { .. }
                    | PackError::BadDelta { .. }
                    | PackError::BadEntryHeader { .. }
                    | PackError::Truncated { .. }
            ),
            "flip at {at}: {err:?}"
        );
    }
}

#[test]
fn declared_size_that_differs_from_the_data_is_refused() {
    // A blob entry claiming 10 bytes whose data is 5 (type 3, size 10).
    let pack = raw_pack(&[entry(&[0x3a], b"short")]);
    assert!(matches!(
        index(&pack, &IndexOptions::default()),
        Err(PackError::SizeMismatch { .. })
    ));
    // ... and one claiming 2 bytes whose data is longer.
    let pack = raw_pack(&[entry(&[0x32], b"longer data")]);
    assert!(matches!(
        index(&pack, &IndexOptions::default()),
        Err(PackError::SizeMismatch { .. })
    ));
}

#[test]
fn missing_base_and_self_referencing_delta_are_refused() {
    let missing = ObjectId::from_bytes([0xab; 20]);
    let mut w = PackWriter::new(Vec::new(), 1).unwrap();
    w.write_ref_delta(
        missing,
        &create_delta(b"base data here", b"base data there"),
    )
    .unwrap();
    let (_, pack) = w.finish().unwrap();
    match index(&pack, &IndexOptions::default()) {
        Err(PackError::MissingBase { base, .. }) => assert_eq!(base, missing),
        other => panic!("{other:?}"),
    }
    // An OFS_DELTA whose base offset is the entry itself (type 6, relative offset 0).
    let pack = raw_pack(&[entry(&[0x6f, 0x00], b"x")]);
    assert!(matches!(
        index(&pack, &IndexOptions::default()),
        Err(PackError::DeltaCycle { .. })
    ));
    // An OFS_DELTA pointing into the middle of the previous entry.
    let first = entry(&[0x35], b"hello");
    let rel = (first.len() - 2) as u8;
    let pack = raw_pack(&[first, entry(&[0x65, rel], b"x")]);
    assert!(matches!(
        index(&pack, &IndexOptions::default()),
        Err(PackError::BadBaseOffset { .. })
    ));
    // Reserved entry type 5.
    let pack = raw_pack(&[entry(&[0x55], b"hello")]);
    assert!(matches!(
        index(&pack, &IndexOptions::default()),
        Err(PackError::BadEntryHeader { .. })
    ));
}

#[test]
fn a_delta_that_does_not_fit_its_base_is_refused() {
    let mut w = PackWriter::new(Vec::new(), 2).unwrap();
    let at = w.write_whole(Kind::Blob, b"tiny").unwrap();
    // Copies 100 bytes from a 4-byte base.
    w.write_ofs_delta(at, &[4, 100, 0x90, 100]).unwrap();
    let (_, pack) = w.finish().unwrap();
    assert!(matches!(
        index(&pack, &IndexOptions::default()),
        Err(PackError::BadDelta { .. })
    ));
}

#[test]
fn oversized_objects_and_object_counts_are_refused_before_allocating() {
    let opts = IndexOptions {
        max_object_size: 100,
        ..IndexOptions::default()
    };
    let mut w = PackWriter::new(Vec::new(), 1).unwrap();
    w.write_whole(Kind::Blob, &[7u8; 1000]).unwrap();
    let (_, pack) = w.finish().unwrap();
    assert!(matches!(
        index(&pack, &opts),
        Err(PackError::ObjectTooLarge { size: 1000, .. })
    ));
    // A header announcing four billion objects.
    let mut pack = b"PACK\0\0\0\x02\xff\xff\xff\xff".to_vec();
    pack.extend_from_slice(&[0; 20]);
    assert!(matches!(
        index(&pack, &IndexOptions::default()),
        Err(PackError::TooManyObjects { .. })
    ));
    // A pack longer than allowed.
    let opts = IndexOptions {
        max_pack_size: 50,
        ..IndexOptions::default()
    };
    assert!(matches!(
        index(&good_pack(), &opts),
        Err(PackError::TooLarge { max: 50 })
    ));
}

#[test]
fn an_invalid_tree_is_refused_when_strict() {
    let id = hash_object(HashMode::Fast, Kind::Blob, b"x").unwrap();
    let mut tree = Vec::new();
    for name in ["b", "a"] {
        tree.extend_from_slice(format!("100644 {name}\0").as_bytes());
        tree.extend_from_slice(id.as_bytes());
    }
    let mut w = PackWriter::new(Vec::new(), 1).unwrap();
    w.write_whole(Kind::Tree, &tree).unwrap();
    let (_, pack) = w.finish().unwrap();
    assert!(matches!(
        index(&pack, &IndexOptions::default()),
        Err(PackError::InvalidObject { .. })
    ));
    let lax = IndexOptions {
        strict: false,
        ..IndexOptions::default()
    };
    assert!(index(&pack, &lax).is_ok());
}

#[test]
fn collision_detection_flags_the_shattered_prefix_and_plain_sha1_does_not() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let a = std::fs::read(dir.join("shattered-1-prefix.bin")).unwrap();
    let b = std::fs::read(dir.join("shattered-2-prefix.bin")).unwrap();
    assert_ne!(a, b);
    let hash = |mode, data: &[u8]| {
        let mut h = ObjectHasher::raw(mode);
        h.update(data);
        h.finish()
    };
    // Plain SHA-1 happily reports the same id for different data: the attack works on it.
    assert_eq!(
        hash(HashMode::Fast, &a).unwrap(),
        hash(HashMode::Fast, &b).unwrap()
    );
    assert!(hash(HashMode::Checked, &a).is_err());
    assert!(hash(HashMode::Checked, &b).is_err());
    assert!(hash(HashMode::Checked, b"ordinary data").is_ok());
}
