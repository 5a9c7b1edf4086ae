//! How long a repository's issues take to number and to list (fold every thread) as their
//! count grows: N issues opened straight into a store (signed as a node would), then
//! `view::numbered`, `view::list` and the cached listing a list request reads timed, best
//! of 5. `cargo run --release -p guts-node
//! --example issues_list -- 10000`.

use std::time::{Duration, Instant};

use guts_net::collab::{Action, Kind, Op};
use guts_net::{Announcement, Body, Hlc, NodeKey, Stamp};
use guts_node::collab::view;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = guts_store::Store::open(dir.path(), Default::default()).expect("store");
    let key = NodeKey::generate().expect("key");
    for i in 0..n {
        let op = Op {
            repo: "alice/app".into(),
            thread: None,
            stamp: Stamp {
                hlc: Hlc {
                    wall_ms: 1_790_000_000_000 + i,
                    logical: 0,
                },
                origin: key.id(),
            },
            author: "alice".into(),
            moderator: false,
            grant: Vec::new(),
            action: Action::Open {
                kind: Kind::Issue,
                title: format!("issue {i}"),
                body: "a short description".into(),
                number: i + 1,
            },
        };
        let record = Announcement::sign(&key, Body::Collab { op: op.clone() })
            .encode()
            .expect("encode");
        let id = op.id().0;
        store
            .put_collab_op("alice/app", &id, &id, true, &record)
            .expect("put");
    }
    let (mut numbered, mut listed) = (Duration::MAX, Duration::MAX);
    for _ in 0..5 {
        let t = Instant::now();
        let numbers = view::numbered(&store, "alice/app").expect("numbered");
        numbered = numbered.min(t.elapsed());
        assert_eq!(numbers.len() as u64, n);
        let t = Instant::now();
        let all = view::list(&store, "alice/app").expect("list");
        listed = listed.min(t.elapsed());
        assert_eq!(all.len() as u64, n);
    }
    // What a list request reads: the cached listing, rebuilt only after a new operation.
    let cache = guts_node::collab::cache::Listings::default();
    cache.get(&store, "alice/app").expect("listing");
    let mut cached = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let l = cache.get(&store, "alice/app").expect("listing");
        cached = cached.min(t.elapsed());
        assert_eq!(l.threads.len() as u64, n);
    }
    // What showing `#N` reads: a lookup in the cached listing.
    let mut found = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let hit = cache
            .find(&store, "alice/app", &(n / 2).to_string())
            .expect("find");
        found = found.min(t.elapsed());
        assert!(hit.is_some());
    }
    println!(
        "{n} issues: numbered in {numbered:?}, listed (every thread folded) in {listed:?}, \
         cached listing in {cached:?}, #{} found in {found:?}",
        n / 2
    );
}
