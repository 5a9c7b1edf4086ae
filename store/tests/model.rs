//! Model-based test: random operations (repositories, packs including thin ones, ref
//! compare-and-swap, atomic batches, close and reopen) applied to the store and to a plain
//! in-memory model, which must agree after every step.

use std::collections::{BTreeMap, HashMap, HashSet};

use guts_git::pack::{PackWriter, create_delta};
use guts_git::{HashMode, Kind, ObjectId, hash_object};
use guts_store::{IngestOptions, NewRepo, RefUpdate, Store, StoreOptions};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Create(u8),
    Delete(u8),
    /// Push blobs (seeds) to a repository; `thin` makes the last one a REF_DELTA against an
    /// object the repository already has.
    Push {
        repo: u8,
        seeds: Vec<u16>,
        thin: bool,
    },
    SetRef {
        repo: u8,
        name: u8,
        old: Option<u16>,
        new: Option<u16>,
    },
    Atomic {
        repo: u8,
        updates: Vec<(u8, Option<u16>, Option<u16>)>,
    },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0u8..3).prop_map(Op::Create),
        1 => (0u8..3).prop_map(Op::Delete),
        4 => (0u8..3, prop::collection::vec(0u16..40, 0..6), any::<bool>())
            .prop_map(|(repo, seeds, thin)| Op::Push { repo, seeds, thin }),
        4 => (0u8..3, 0u8..3, prop::option::of(0u16..40), prop::option::of(0u16..40))
            .prop_map(|(repo, name, old, new)| Op::SetRef { repo, name, old, new }),
        2 => (0u8..3, prop::collection::vec((0u8..3, prop::option::of(0u16..40), prop::option::of(0u16..40)), 1..4))
            .prop_map(|(repo, updates)| Op::Atomic { repo, updates }),
        1 => Just(Op::Reopen),
    ]
}

fn blob(seed: u16) -> Vec<u8> {
    // Similar contents, so that deltas between them make sense.
    let mut v =
        b"shared prefix of every blob in this test, long enough to delta against\n".repeat(8);
    v.extend_from_slice(format!("seed {seed}\n").as_bytes());
    v
}

fn blob_id(seed: u16) -> ObjectId {
    hash_object(HashMode::Fast, Kind::Blob, &blob(seed)).expect("hash")
}

fn oid(seed: Option<u16>) -> ObjectId {
    seed.map_or(ObjectId::ZERO, blob_id)
}

fn pack_of(seeds: &[u16], thin_base: Option<u16>) -> Vec<u8> {
    let mut uniq: Vec<u16> = Vec::new();
    for s in seeds {
        if !uniq.contains(s) {
            uniq.push(*s);
        }
    }
    let mut w = PackWriter::new(Vec::new(), uniq.len() as u32).expect("writer");
    let mut first: Option<(u64, u16)> = None;
    for (i, s) in uniq.iter().enumerate() {
        let data = blob(*s);
        match (i, thin_base, first) {
            (0, Some(b), _) => {
                w.write_ref_delta(blob_id(b), &create_delta(&blob(b), &data))
                    .expect("ref");
            }
            (_, _, Some((at, base))) if i % 2 == 1 => {
                w.write_ofs_delta(at, &create_delta(&blob(base), &data))
                    .expect("ofs");
            }
            _ => {
                let at = w.write_whole(Kind::Blob, &data).expect("whole");
                first.get_or_insert((at, *s));
            }
        }
    }
    w.finish().expect("finish").1
}

#[derive(Debug, Default, Clone)]
struct ModelRepo {
    objects: HashSet<ObjectId>,
    refs: BTreeMap<String, ObjectId>,
}

fn ref_name(n: u8) -> String {
    format!("refs/heads/b{n}")
}

fn check(store: &Store, model: &HashMap<u8, ModelRepo>) {
    let listed: Vec<String> = store
        .list_repos(None, 100)
        .expect("list")
        .into_iter()
        .map(|r| r.name)
        .collect();
    let mut expected: Vec<String> = model.keys().map(|r| format!("r{r}")).collect();
    expected.sort();
    assert_eq!(listed, expected);
    for (r, m) in model {
        let repo = store
            .repo("o", &format!("r{r}"))
            .expect("get")
            .expect("exists");
        let refs: BTreeMap<String, ObjectId> =
            repo.list_refs().expect("refs").into_iter().collect();
        assert_eq!(refs, m.refs);
        let odb = repo.odb();
        for seed in 0..40u16 {
            let id = blob_id(seed);
            let has = guts_git::odb::ObjectRead::contains(&odb, &id).expect("contains");
            assert_eq!(has, m.objects.contains(&id), "object {seed} in r{r}");
            if has {
                let (kind, data) = guts_git::odb::ObjectRead::read_object(&odb, &id)
                    .expect("read")
                    .expect("present");
                assert_eq!((kind, data), (Kind::Blob, blob(seed)));
            }
        }
    }
    assert_eq!(store.totals().repos, model.len() as u64);
    assert_eq!(
        store.totals().objects,
        model.values().map(|m| m.objects.len() as u64).sum::<u64>()
    );
}

fn opts() -> StoreOptions {
    // Tiny chunks, so entries straddle chunk boundaries.
    StoreOptions {
        cache_bytes: 4 << 20,
        chunk_size: 97,
        ..StoreOptions::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn store_agrees_with_model(ops in prop::collection::vec(op(), 1..30)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(dir.path(), opts()).expect("open");
        let mut model: HashMap<u8, ModelRepo> = HashMap::new();
        for op in ops {
            match op {
                Op::Create(r) => {
                    let res = store.create_repo(&NewRepo {
                        owner: "o".into(),
                        name: format!("r{r}"),
                        ..NewRepo::default()
                    });
                    prop_assert_eq!(res.is_ok(), !model.contains_key(&r));
                    model.entry(r).or_default();
                }
                Op::Delete(r) => {
                    let deleted = store.delete_repo("o", &format!("r{r}")).expect("delete");
                    prop_assert_eq!(deleted, model.remove(&r).is_some());
                }
                Op::Push { repo, seeds, thin } => {
                    let Some(handle) = store.repo("o", &format!("r{repo}")).expect("get") else {
                        continue;
                    };
                    let m = model.get_mut(&repo).expect("model repo");
                    let base = if thin {
                        (0..40u16).find(|s| m.objects.contains(&blob_id(*s)) && !seeds.contains(s))
                    } else {
                        None
                    };
                    if seeds.is_empty() && base.is_some() {
                        continue;
                    }
                    let pack = pack_of(&seeds, base);
                    let rx = handle
                        .receive_pack(&pack[..], &IngestOptions::default(), &mut ())
                        .expect("receive");
                    handle.commit_pack(rx).expect("commit");
                    m.objects.extend(seeds.iter().map(|s| blob_id(*s)));
                    if let Some(b) = base {
                        m.objects.insert(blob_id(b));
                    }
                }
                Op::SetRef { repo, name, old, new } => {
                    let Some(handle) = store.repo("o", &format!("r{repo}")).expect("get") else {
                        continue;
                    };
                    let m = model.get_mut(&repo).expect("model repo");
                    let u = RefUpdate { name: ref_name(name), old: oid(old), new: oid(new) };
                    let ok = handle.update_ref(&u).expect("update").is_ok();
                    let current = m.refs.get(&u.name).copied().unwrap_or(ObjectId::ZERO);
                    prop_assert_eq!(ok, current == u.old);
                    if ok {
                        if u.new.is_zero() { m.refs.remove(&u.name); } else { m.refs.insert(u.name, u.new); }
                    }
                }
                Op::Atomic { repo, updates } => {
                    let Some(handle) = store.repo("o", &format!("r{repo}")).expect("get") else {
                        continue;
                    };
                    let m = model.get_mut(&repo).expect("model repo");
                    let mut names = HashSet::new();
                    let us: Vec<RefUpdate> = updates
                        .iter()
                        .filter(|(n, _, _)| names.insert(*n))
                        .map(|(n, o, v)| RefUpdate { name: ref_name(*n), old: oid(*o), new: oid(*v) })
                        .collect();
                    let ok = handle.update_refs_atomic(&us).expect("atomic").is_ok();
                    let all = us.iter().all(|u| m.refs.get(&u.name).copied().unwrap_or(ObjectId::ZERO) == u.old);
                    prop_assert_eq!(ok, all);
                    if ok {
                        for u in us {
                            if u.new.is_zero() { m.refs.remove(&u.name); } else { m.refs.insert(u.name, u.new); }
                        }
                    }
                }
                Op::Reopen => {
                    drop(store);
                    store = Store::open(dir.path(), opts()).expect("reopen");
                }
            }
            check(&store, &model);
        }
    }
}
