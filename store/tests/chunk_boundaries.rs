//! Entries whose header or data straddle chunk boundaries read back intact, for every
//! chunk size from 1 byte up.

use guts_git::odb::ObjectRead;
use guts_git::pack::PackWriter;
use guts_git::{HashMode, Kind, hash_object};
use guts_store::{IngestOptions, NewRepo, Store, StoreOptions};

#[test]
fn every_object_reads_back_whatever_the_chunk_size() {
    let blobs: Vec<Vec<u8>> = (0..20u32)
        .map(|i| {
            format!("blob {i} ")
                .repeat(usize::try_from(i).expect("small") * 13 + 1)
                .into_bytes()
        })
        .collect();
    let mut w = PackWriter::new(Vec::new(), 20).expect("writer");
    for b in &blobs {
        w.write_whole(Kind::Blob, b).expect("write");
    }
    let pack = w.finish().expect("finish").1;
    for chunk_size in [1, 2, 3, 5, 7, 64, 4096] {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(
            dir.path(),
            StoreOptions {
                cache_bytes: 1 << 20,
                chunk_size,
                ..StoreOptions::default()
            },
        )
        .expect("open");
        store
            .create_repo(&NewRepo {
                owner: "o".into(),
                name: "r".into(),
                ..NewRepo::default()
            })
            .expect("create");
        let repo = store.repo("o", "r").expect("get").expect("exists");
        let rx = repo
            .receive_pack(&pack[..], &IngestOptions::default(), &mut ())
            .expect("receive");
        repo.commit_pack(rx).expect("commit");
        let odb = repo.odb();
        for b in &blobs {
            let id = hash_object(HashMode::Fast, Kind::Blob, b).expect("hash");
            let got = odb.read_object(&id).expect("read").expect("present");
            assert_eq!(got, (Kind::Blob, b.clone()), "chunk size {chunk_size}");
        }
    }
}
